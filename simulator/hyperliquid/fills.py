"""Hyperliquid's fills of one simulated coin: its liquidations and some ordinary trades.

Liquidations derive from the leader's forced orders scaled to Hyperliquid's share: each of
Binance's forced orders becomes a Hyperliquid liquidation with probability 0.15, of size
``qty × 0.25 / 0.15 × lognormal`` (mean 1), so liquidated notional is on average a quarter of
Binance's; it happens up to 2 s after Binance's, at Binance's fill shifted by the two venues'
premium gap. A liquidation is a trade: two lines with the same ``tid`` (the liquidated user's
fill, crossing, and a counterparty's), both carrying ``"liquidation": {"liquidatedUser",
"markPx", "method"}``. The liquidated user's side is ``"A"`` (sold: a long liquidated, ``dir``
"Close Long") or ``"B"`` (bought: a short, "Close Short"). 8% of liquidations fill in 2–4
partial fills in the same block (distinct ``tid``\\ s, one ``oid``, each a step worse in price,
each with its own counterparty), and 3% are taken over by the liquidator vault
(``method`` "backstop", counterparty :data:`LIQUIDATOR_VAULT`). Ordinary trades, ~6 an hour per
coin, are written too, without a ``liquidation`` object, so a reader must filter. Fill times sit
on 100 ms blocks (:mod:`simulator.hyperliquid.clock`; ``local_time`` 50–400 ms after
``block_time``); a block holds every fill of that instant, all coins; a few blocks per hour have
no events.
"""

from typing import Final

import numpy as np
import polars as pl

from simulator.hyperliquid.clock import (
    MS_PER_HOUR,
    MS_PER_MINUTE,
    TIMESTAMP,
    block_times,
    day_ms,
    timestamps,
)
from simulator.hyperliquid.contexts import Contexts
from simulator.hyperliquid.model import HyperliquidModel
from simulator.hyperliquid.ticks import decimal_text, hl_price
from simulator.model import MINUTES_PER_DAY, Tape
from simulator.randomness import seeded_stream

LIQUIDATOR_VAULT: Final = "0x6b7d3c1a94e0f2b85a4c9d7e1f3a2b6c8d0e4f51"
"""The (made-up) address of the vault that takes over backstop liquidations."""
ZERO_HASH: Final = "0x" + "0" * 64
LIQUIDATIONS_SCHEMA: Final = pl.Schema(
    {
        "ts": TIMESTAMP,
        "coin": pl.String(),
        "liquidated_side": pl.String(),
        "price": pl.Float64(),
        "qty_base": pl.Float64(),
        "notional_usd": pl.Float64(),
        "tid": pl.Int64(),
        "liquidated_user": pl.String(),
        "method": pl.String(),
        "mark_px": pl.Float64(),
    }
)
"""``truth/hyperliquid_liquidations.parquet``: one row per liquidation fill."""


def coin_fills(
    tape: Tape,
    coin: str,
    szd: int,
    seed: int,
    ctx: Contexts,
    model: HyperliquidModel,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """The coin's fill lines (liquidations and ordinary trades) and its liquidation truth.

    Vectorised: one row per trade, then one JSON line per side of it (``_lines``).
    """
    rng = seeded_stream(seed, f"hyperliquid:fills:{coin}")
    minutes = tape.days * MINUTES_PER_DAY
    start_ms = day_ms(tape.start)
    end_ms = start_ms + minutes * MS_PER_MINUTE
    scale = 10**szd
    makers = _hex(rng, 20, model.makers)

    # Liquidations: a thinned, scaled copy of the leader's forced orders.
    orders = tape.liquidations
    n = len(orders)
    ts = np.fromiter((o.ts_ms for o in orders), np.int64, n)
    is_long = np.fromiter((o.is_long for o in orders), bool, n)
    entry = np.fromiter((o.entry for o in orders), float, n)
    fill = np.fromiter((o.fill for o in orders), float, n)
    qty = np.fromiter((o.qty for o in orders), float, n)
    sd = model.liquidation_size_sd
    units = np.round(
        qty * model.oi_share / model.liquidation_keep * rng.lognormal(-sd * sd / 2, sd, n) * scale
    ).astype(np.int64)
    chosen = np.flatnonzero((rng.random(n) < model.liquidation_keep) & (units > 0))
    n_liq = chosen.size
    units = units[chosen]
    is_long = is_long[chosen]
    delay = rng.integers(0, model.liquidation_delay_ms, n_liq)
    when = block_times(np.minimum(ts[chosen] + delay, end_ms - 1))
    minute = np.minimum((when - start_ms) // MS_PER_MINUTE, minutes - 1)
    ratio = (1 + ctx.premium[minute]) / (1 + tape.premium_ohlc[minute, 0])
    mark = ctx.mark[minute]
    backstop = rng.random(n_liq) < model.backstop_share
    parts = np.where(rng.random(n_liq) < model.partial_share, rng.integers(2, 5, n_liq), 1)
    parts = np.minimum(parts, units)
    users = _hex(rng, 20, n_liq)
    oids = rng.integers(10**10, 10**11, n_liq)
    entry_hl = entry[chosen] * ratio

    # Partial fills: every part gets at least one size step, the rest split at random.
    group = np.repeat(np.arange(n_liq), parts)
    weights = rng.gamma(1.0, 1.0, group.size)
    weights /= np.bincount(group, weights, n_liq)[group]
    last = np.cumsum(parts) - 1
    cuts = 1 + np.floor(weights * (units - parts)[group]).astype(np.int64)
    cuts[last] = units - (np.bincount(group, cuts, n_liq).astype(np.int64) - cuts[last])
    part = np.arange(group.size) - (last - parts + 1)[group]
    filled_before = np.cumsum(cuts) - cuts
    remaining = units[group] - (filled_before - filled_before[(last - parts + 1)][group])
    longs = is_long[group]
    tick = np.where(longs, 1 - 0.0001 * part, 1 + 0.0001 * part)
    px = hl_price(fill[chosen][group] * ratio[group] * tick, szd)
    sz = cuts / scale
    n_fills = group.size
    method = np.where(backstop, "backstop", "market")
    liq_maker = np.where(
        backstop[group], LIQUIDATOR_VAULT, makers[rng.integers(0, model.makers, n_fills)]
    )
    liq_maker_opens = rng.random(n_fills) < 0.6
    liq_maker_held = np.round(rng.lognormal(np.log(sz * 5), 1.0) * scale) / scale
    liq_maker_pnl = np.where(liq_maker_opens, 0.0, rng.normal(0.0, 0.002, n_fills) * px * sz)
    liq_maker_oids = rng.integers(10**10, 10**11, n_fills)

    # Ordinary trades, ~trades_per_hour an hour.
    hours = minutes // 60
    per_hour = rng.poisson(model.trades_per_hour, hours)
    n_trades = int(per_hour.sum())
    trade_ms = block_times(
        np.sort(
            start_ms
            + np.repeat(np.arange(hours, dtype=np.int64) * MS_PER_HOUR, per_hour)
            + rng.integers(0, MS_PER_HOUR, n_trades)
        )
    )
    trade_minute = np.minimum((trade_ms - start_ms) // MS_PER_MINUTE, minutes - 1)
    trade_px = hl_price(ctx.mark[trade_minute] * (1 + rng.normal(0.0, 0.0002, n_trades)), szd)
    trade_sz = (
        np.maximum(
            1, np.round(rng.lognormal(np.log(model.trade_notional_usd / trade_px), 1.0) * scale)
        )
        / scale
    )
    taker_buys = rng.random(n_trades) < 0.5
    takers = _hex(rng, 20, n_trades)
    trade_makers = makers[rng.integers(0, model.makers, n_trades)]
    hashes = _hex(rng, 32, n_trades)
    opens = rng.random((2, n_trades)) < 0.5
    held = np.round(rng.lognormal(np.log(trade_sz * 3), 1.0, (2, n_trades)) * scale) / scale
    trade_pnl = np.where(opens, 0.0, rng.normal(0.0, 0.003, (2, n_trades)) * trade_px * trade_sz)
    trade_oids = rng.integers(10**10, 10**11, (2, n_trades))
    tids = _unique_ids(rng, n_fills + n_trades)

    liquidation = (
        pl.DataFrame({"user": users[group], "mark": mark[group], "method": method[group]})
        .select(
            pl.concat_str(
                pl.lit(',"liquidation":{"liquidatedUser":"'),
                "user",
                pl.lit('","markPx":"'),
                decimal_text("mark", 7),
                pl.lit('","method":"'),
                "method",
                pl.lit('"}'),
            )
        )
        .to_series()
    )
    position = remaining / scale
    liquidated = _side_rows(
        users[group],
        np.where(longs, "A", "B"),
        np.where(longs, position, -position),
        np.where(longs, "Close Long", "Close Short"),
        np.where(longs, px - entry_hl[group], entry_hl[group] - px) * sz,
        oids[group],
        True,
        px * sz * 0.00045,
    )
    counterparty = _side_rows(
        liq_maker,
        np.where(longs, "B", "A"),
        _position_before(longs, liq_maker_opens, liq_maker_held, sz),
        _direction(longs, liq_maker_opens),
        liq_maker_pnl,
        liq_maker_oids,
        False,
        px * sz * 0.00015,
    )
    liquidation_trades = {
        "time_ms": when[group],
        "px": px,
        "sz": sz,
        "tid": tids[:n_fills],
        "hash": np.full(n_fills, ZERO_HASH),
        "liquidation": liquidation,
    }
    ordinary_trades = {
        "time_ms": trade_ms,
        "px": trade_px,
        "sz": trade_sz,
        "tid": tids[n_fills:],
        "hash": hashes,
        "liquidation": np.full(n_trades, ""),
    }
    sides = []
    for j, trades, first, second in (
        (0, liquidation_trades, liquidated, counterparty),
        (
            1,
            ordinary_trades,
            _side_rows(
                takers,
                np.where(taker_buys, "B", "A"),
                _position_before(taker_buys, opens[0], held[0], trade_sz),
                _direction(taker_buys, opens[0]),
                trade_pnl[0],
                trade_oids[0],
                True,
                trade_px * trade_sz * 0.00045,
            ),
            _side_rows(
                trade_makers,
                np.where(taker_buys, "A", "B"),
                _position_before(~taker_buys, opens[1], held[1], trade_sz),
                _direction(~taker_buys, opens[1]),
                trade_pnl[1],
                trade_oids[1],
                False,
                trade_px * trade_sz * 0.00015,
            ),
        ),
    ):
        trade = pl.DataFrame(trades)
        count = trade.height
        offset = 0 if j == 0 else 2 * n_fills
        for k, rows in enumerate((first, second)):
            sides.append(
                pl.concat([trade, rows], how="horizontal").with_columns(
                    (offset + 2 * pl.int_range(count, dtype=pl.Int64) + k).alias("seq")
                )
            )
    events = _lines(pl.concat(sides, how="vertical_relaxed"), coin, szd)

    truth = pl.DataFrame(
        {
            "ts": timestamps(when[group]),
            "coin": [coin] * n_fills,
            "liquidated_side": np.where(longs, "long", "short"),
            "price": px,
            "qty_base": sz,
            "notional_usd": px * sz,
            "tid": tids[:n_fills],
            "liquidated_user": users[group],
            "method": method[group],
            "mark_px": mark[group],
        },
        schema=LIQUIDATIONS_SCHEMA,
    )
    counts = {
        "liquidations": int(n_liq),
        "liquidation_fills": int(n_fills),
        "partial_liquidations": int((parts > 1).sum()),
        "backstop_liquidations": int(backstop.sum()),
        "ordinary_trades": n_trades,
    }
    return events, truth, counts


def _position_before(
    buys: np.ndarray, opens: np.ndarray, held: np.ndarray, sz: np.ndarray
) -> np.ndarray:
    """The position before the fill of a user who buys (``buys``) or sells, opening or closing."""
    return np.where(buys, np.where(opens, held, -held - sz), np.where(opens, -held, held + sz))


def _direction(buys: np.ndarray, opens: np.ndarray) -> np.ndarray:
    return np.where(
        buys,
        np.where(opens, "Open Long", "Close Short"),
        np.where(opens, "Open Short", "Close Long"),
    )


def _side_rows(
    user: np.ndarray,
    side: np.ndarray,
    start_position: np.ndarray,
    direction: np.ndarray,
    closed_pnl: np.ndarray,
    oid: np.ndarray,
    crossed: bool,
    fee: np.ndarray,
) -> pl.DataFrame:
    """One user's side of each trade."""
    return pl.DataFrame(
        {
            "user": user,
            "side": side,
            "start_position": start_position,
            "dir": direction,
            "closed_pnl": closed_pnl,
            "oid": np.asarray(oid, dtype=np.int64),
            "crossed": np.full(len(user), crossed),
            "fee": fee,
        },
        schema_overrides={"user": pl.String, "side": pl.String, "dir": pl.String},
    )


def _lines(fills: pl.DataFrame, coin: str, szd: int) -> pl.DataFrame:
    """``time_ms``, ``seq`` and the ``["0xUSER",{fill}]`` line, compact JSON in the API's order."""
    return fills.select(
        "time_ms",
        "seq",
        pl.concat_str(
            pl.lit('["'),
            "user",
            pl.lit(f'",{{"coin":"{coin}","px":"'),
            decimal_text("px", 7),
            pl.lit('","sz":"'),
            decimal_text("sz", szd),
            pl.lit('","side":"'),
            "side",
            pl.lit('","time":'),
            pl.col("time_ms").cast(pl.String),
            pl.lit(',"startPosition":"'),
            decimal_text("start_position", szd),
            pl.lit('","dir":"'),
            "dir",
            pl.lit('","closedPnl":"'),
            decimal_text("closed_pnl", 6),
            pl.lit('","hash":"'),
            "hash",
            pl.lit('","oid":'),
            pl.col("oid").cast(pl.String),
            pl.lit(',"crossed":'),
            pl.when("crossed").then(pl.lit("true")).otherwise(pl.lit("false")),
            pl.lit(',"fee":"'),
            decimal_text("fee", 6),
            pl.lit('","tid":'),
            pl.col("tid").cast(pl.String),
            pl.lit(',"feeToken":"USDC"'),
            "liquidation",
            pl.lit("}]"),
        ).alias("line"),
    ).sort("time_ms", "seq")


def _unique_ids(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` distinct trade ids (15–16 digits), in draw order."""
    ids = np.empty(0, dtype=np.int64)
    while ids.size < count:
        draw = np.concatenate([ids, rng.integers(10**14, 2**53, 2 * count + 16, dtype=np.int64)])
        _, first = np.unique(draw, return_index=True)
        ids = draw[np.sort(first)]
    return ids[:count]


def _hex(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    """``count`` random ``0x…`` strings of ``size`` bytes (addresses: 20, hashes: 32)."""
    raw = rng.bytes(size * count).hex()
    width = 2 * size
    return np.array(
        ["0x" + raw[i : i + width] for i in range(0, width * count, width)], dtype=np.str_
    )

"""Hyperliquid's S3 archive for the simulated coins: per-minute asset contexts and hourly fills.

Binance stopped publishing liquidation snapshots in 2024; Hyperliquid's archive still shows every
liquidation (its fills carry a ``liquidation`` object) next to per-minute funding, open interest
and prices. The simulator writes that archive for every simulated USDⓈ-M coin, under
``<out>/hyperliquid/`` laid out exactly as the two S3 buckets (so ``<out>/hyperliquid`` is a
mirror root the warehouse reads over ``file://`` or HTTP), in the formats of FORMATS.md §5:

- ``hyperliquid-archive/asset_ctxs/YYYYMMDD.csv.lz4``: one LZ4 frame per UTC day holding a CSV
  of every coin's context at every minute (header :data:`ASSET_CTXS_HEADER`), rows sorted by
  time then coin.
- ``hl-mainnet-node-data/node_fills/hourly/YYYYMMDD/H.lz4`` (hours before
  :data:`FILLS_BY_BLOCK_FROM`, 2025-07-27T08:00Z) of JSON lines ``["0xUSER",{fill}]``, and
  ``hl-mainnet-node-data/node_fills_by_block/hourly/YYYYMMDD/H.lz4`` from it on, one JSON line
  per block ``{"local_time","block_time","block_number","events":[["0xUSER",{fill}],…]}``.
  ``H`` is 0…23, not zero padded. Every hour of the range has its file, empty or not. The real
  fills archive starts in 2025-05; the simulator writes fills for whatever dates it simulates,
  choosing the layout by the cutover, so tests can straddle it (2025-07-26…2025-07-28).

**The model.** Hyperliquid is one more venue of the same coin as the simulated Binance USDⓈ-M
perpetual (the *leader*, :class:`simulator.model.Tape`), like :mod:`simulator.venues`: its
numbers derive from the leader's tape plus a small deviation drawn from its own seeded streams
(``[seed, crc32("hyperliquid:<part>:<coin>")]`` with part ``ctxs``, ``quirks``, ``fills``), so
the output is byte-for-byte the same for a seed whatever the number of workers, and switching a
quirk on or off never moves a price or a fill.

- *Oracle* (``oracle_px``) is the leader's index at the instant (the open of the minute: a row
  stamped T is a snapshot at T).
- *Premium.* Hyperliquid's crowd leans like Binance's, a bit harder and a bit more long: the
  leader's premium at the instant × 1.2, plus 0.003%, plus an hourly AR(1) spread (sd 0.01%) and
  per-minute noise (sd 0.003%). The impact prices are placed so that the published ``premium``
  is exactly Binance's definition over them, ``[max(0, impact_bid − oracle) − max(0, oracle −
  impact_ask)] / oracle``, computed from the printed (rounded) prices; ``mid_px`` is their
  middle and ``mark_px`` the oracle times (1 + premium) with a hair of noise.
- *Funding* settles hourly with Hyperliquid's rule: Binance's 8-hour formula
  (:func:`simulator.rules.funding_rate` with an 8-hour interval: mean premium plus the clamp of
  (0.01% − mean) to ±0.05%) paid one eighth each hour, over the mean of the published premiums
  of the hour. Most hours therefore settle at the 0.00125% anchor (0.0000125). The row at H:00
  carries the rate settled at H (the hour ending at H; the first hour of the range, whose hour
  lies before it, takes the premium at that instant); the rows inside the hour carry the running
  estimate over the hour's minutes so far. Rates on 8 decimals.
- *Open interest* (coins) is a share of Binance's book (~0.25, ``exp`` of a slow per-minute
  AR(1) of sd 2% on it): the leader's 5-minute snapshots interpolated to the minute. It is one
  number per coin, comparable to Binance's (DOMAIN.md §1.2 warns that Hyperliquid's *reported*
  open interest may be two-sided; the simulator does not double it, and its truth is the
  published number).
- ``prev_day_px`` is the mark 24 hours earlier (before the range: the leader's burn-in index);
  ``day_ntl_vlm`` the trailing 24-hour USD volume, 15% of the leader's.
- Prices follow Hyperliquid's tick rule: at most 5 significant figures and at most
  ``6 − szDecimals`` decimals (whole numbers always allowed); sizes on ``szDecimals`` (BTC 5,
  ETH 4, SOL 2, BNB 3).

**Fills.** Liquidations derive from the leader's forced orders scaled to Hyperliquid's share:
each of Binance's forced orders becomes a Hyperliquid liquidation with probability 0.15, of size
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
on 100 ms blocks (``block_number`` = 100 ms slots since an origin placing 2025-07-27T08:00Z near
block 700,000,000; ``block_time`` with nanoseconds, ``local_time`` 50–400 ms later); a block
holds every fill of that instant, all coins; a few blocks per hour have no events.

**Quirks** (:class:`HyperliquidQuirks`, mild by default, every one counted in truth): rows
whose ``mark_px`` is ``0.0`` (the archive never writes NULL), rows whose ``premium``, ``mid_px``
and ``impact_*`` are empty (no book), rows with a negative ``open_interest`` (the true value,
negated), extra off-grid rows inside a minute (``00:07:31``: the oracle and the book at that
second, every other field as the minute's row), and funding on the 8-hour scale (× 8) for rows
before :data:`HOURLY_FUNDING_FROM` (2023-06-08T00:05Z; only for ranges that early).

**Ground truth** (``<out>/truth/``):

- ``hyperliquid_liquidations.parquet``: one row per liquidation fill, i.e. per (tid,
  liquidatedUser): ts (UTC, ms), coin, liquidated_side ('long'/'short'), price, qty_base,
  notional_usd (= price × qty_base, of the printed numbers), tid, liquidated_user, method,
  mark_px.
- ``hyperliquid_funding.parquet``: coin, funding_time (the settlement instant H:00), funding_rate
  (hourly scale, whatever the file's scale).
- ``hyperliquid_open_interest.parquet``: coin, ts (every on-grid minute), oi_base (the true,
  non-negative published value), oi_usd (oi_base × the true mark).
- ``hyperliquid_asset_ctxs.parquet``: coin, ts, funding (hourly scale: settled at H:00, running
  estimate otherwise), open_interest, mark_px, oracle_px, premium; the true on-grid values.
- ``hyperliquid_quirks.json``: the count of every injected quirk, the rates used, every injected
  row (coin, time, quirk) and fill counts.
"""

import json
import math
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

import lz4.frame
import numpy as np
import polars as pl

from simulator.model import MINUTES_PER_DAY, Tape
from simulator.rules import FUNDING_ANCHOR, FUNDING_CAP, FUNDING_CLAMP
from simulator.venues import coin_of

HYPERLIQUID_DIR: Final = "hyperliquid"
"""The mirror root under the simulation's ``out``: it holds both buckets."""
ARCHIVE_BUCKET: Final = "hyperliquid-archive"
NODE_BUCKET: Final = "hl-mainnet-node-data"
NODE_FILLS: Final = "node_fills"
NODE_FILLS_BY_BLOCK: Final = "node_fills_by_block"

ASSET_CTXS_HEADER: Final = (
    "time",
    "coin",
    "funding",
    "open_interest",
    "prev_day_px",
    "day_ntl_vlm",
    "premium",
    "oracle_px",
    "mark_px",
    "mid_px",
    "impact_bid_px",
    "impact_ask_px",
)

MS_PER_MINUTE: Final = 60_000
MS_PER_HOUR: Final = 3_600_000
MS_PER_DAY: Final = 86_400_000
FILLS_BY_BLOCK_FROM: Final = datetime(2025, 7, 27, 8, tzinfo=UTC)
"""The first hour written in the ``node_fills_by_block`` layout."""
HOURLY_FUNDING_FROM: Final = datetime(2023, 6, 8, 0, 5, tzinfo=UTC)
"""Before this instant the archive's ``funding`` column is on the 8-hour scale."""
BLOCK_MS: Final = 100
BLOCK_SLOT_ORIGIN: Final = int(FILLS_BY_BLOCK_FROM.timestamp() * 1000) // BLOCK_MS - 700_000_000
LIQUIDATOR_VAULT: Final = "0x6b7d3c1a94e0f2b85a4c9d7e1f3a2b6c8d0e4f51"
"""The (made-up) address of the vault that takes over backstop liquidations."""
ZERO_HASH: Final = "0x" + "0" * 64

SZ_DECIMALS: Final = {"BTC": 5, "ETH": 4, "SOL": 2, "BNB": 3}
"""Hyperliquid's ``szDecimals``; other coins: by price (see :func:`sz_decimals`)."""

TIMESTAMP: Final = pl.Datetime("ms", "UTC")
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
FUNDING_SCHEMA: Final = pl.Schema(
    {"coin": pl.String(), "funding_time": TIMESTAMP, "funding_rate": pl.Float64()}
)
OPEN_INTEREST_SCHEMA: Final = pl.Schema(
    {"coin": pl.String(), "ts": TIMESTAMP, "oi_base": pl.Float64(), "oi_usd": pl.Float64()}
)
ASSET_CTXS_TRUTH_SCHEMA: Final = pl.Schema(
    {
        "coin": pl.String(),
        "ts": TIMESTAMP,
        "funding": pl.Float64(),
        "open_interest": pl.Float64(),
        "mark_px": pl.Float64(),
        "oracle_px": pl.Float64(),
        "premium": pl.Float64(),
    }
)
QUIRK_NAMES: Final = (
    "zero_mark_px",
    "empty_book",
    "negative_open_interest",
    "off_grid_rows",
    "eight_hour_funding",
)


@dataclass(frozen=True)
class HyperliquidQuirks:
    """Per-row probabilities of the archive's known traps (mild by default, ``off()`` for none)."""

    zero_mark_px: float = 0.0003
    """``mark_px`` written ``0.0``."""
    empty_book: float = 0.0005
    """``premium``, ``mid_px``, ``impact_bid_px`` and ``impact_ask_px`` written empty."""
    negative_open_interest: float = 0.0002
    """``open_interest`` written negated."""
    off_grid_rows: float = 0.0008
    """An extra row at a random second inside the minute (real BTC: 1,242 of 1.66 M rows)."""
    eight_hour_funding: bool = True
    """``funding`` × 8 for rows before :data:`HOURLY_FUNDING_FROM`."""

    @classmethod
    def off(cls) -> "HyperliquidQuirks":
        return cls(0.0, 0.0, 0.0, 0.0, False)


@dataclass(frozen=True)
class HyperliquidModel:
    """How Hyperliquid deviates from the simulated Binance market (see the module docstring)."""

    premium_scale: float = 1.2
    premium_offset: float = 0.00003
    spread_sd: float = 0.0001
    spread_persistence: float = 0.9
    premium_noise_sd: float = 0.00003
    impact_width: float = 0.00004
    """Typical relative distance between the impact bid and ask."""
    mark_noise_sd: float = 0.00001
    oi_share: float = 0.25
    oi_noise_sd: float = 0.02
    oi_persistence: float = 0.9995
    volume_share: float = 0.15
    liquidation_keep: float = 0.15
    """Probability that one of Binance's forced orders has a Hyperliquid counterpart."""
    liquidation_size_sd: float = 0.5
    liquidation_delay_ms: int = 2_000
    partial_share: float = 0.08
    backstop_share: float = 0.03
    trades_per_hour: float = 6.0
    """Ordinary (non-liquidation) trades per coin and hour."""
    trade_notional_usd: float = 20_000.0
    makers: int = 40
    """Distinct counterparty addresses per coin."""


MODEL: Final = HyperliquidModel()


@dataclass(frozen=True)
class HyperliquidCoin:
    """One coin's Hyperliquid output, computed in its worker, written by :func:`write_hyperliquid`.

    ``ctxs`` are the asset-context rows as printed (``time_ms`` and ``coin`` plus the CSV's
    string columns, nulls for empty fields); ``events`` the fill lines (``time_ms``, ``seq``,
    ``line``: the order of a coin's lines at the same instant).
    """

    coin: str
    ctxs: pl.DataFrame
    events: pl.DataFrame
    liquidations: pl.DataFrame
    funding: pl.DataFrame
    asset_ctxs: pl.DataFrame
    """The true on-grid contexts (the open-interest truth derives from them)."""
    injected: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


# Paths


def hyperliquid_root(out: Path) -> Path:
    """The mirror root of both buckets: ``out/hyperliquid``."""
    return out / HYPERLIQUID_DIR


def asset_ctxs_key(day: date) -> str:
    """``hyperliquid-archive/asset_ctxs/YYYYMMDD.csv.lz4`` (bucket/key)."""
    return f"{ARCHIVE_BUCKET}/asset_ctxs/{day:%Y%m%d}.csv.lz4"


def fills_layout(hour: datetime) -> str:
    """``node_fills`` before :data:`FILLS_BY_BLOCK_FROM`, ``node_fills_by_block`` from it."""
    return NODE_FILLS_BY_BLOCK if hour >= FILLS_BY_BLOCK_FROM else NODE_FILLS


def fills_key(hour: datetime) -> str:
    """``hl-mainnet-node-data/<layout>/hourly/YYYYMMDD/H.lz4`` of the UTC ``hour``."""
    hour = hour.astimezone(UTC)
    return f"{NODE_BUCKET}/{fills_layout(hour)}/hourly/{hour:%Y%m%d}/{hour.hour}.lz4"


def sz_decimals(coin: str, price: float) -> int:
    """Hyperliquid's size decimals of ``coin`` (by its price when not a known coin)."""
    if coin in SZ_DECIMALS:
        return SZ_DECIMALS[coin]
    return min(5, max(0, math.floor(math.log10(price)))) if price > 0 else 0


def hl_price(px: np.ndarray, sz_dec: int, extra: int = 0) -> np.ndarray:
    """Round to Hyperliquid's tick: ≤ 5 significant figures, ≤ ``6 − sz_dec`` decimals."""
    magnitude = np.floor(np.log10(np.where(px > 0, px, 1.0)))
    decimals = np.clip(4 - magnitude, 0, max(0, 6 - sz_dec)) + extra
    factor = 10.0**decimals
    return np.asarray(np.round(px * factor) / factor, dtype=float)


# The model


def hyperliquid_coin(
    tape: Tape, seed: int, quirks: HyperliquidQuirks, model: HyperliquidModel = MODEL
) -> HyperliquidCoin | None:
    """Hyperliquid's rows for the leader ``tape``'s coin; None unless a USDⓈ-M perpetual."""
    coin = coin_of(tape.spec.symbol)
    if coin is None:
        return None
    szd = sz_decimals(coin, tape.spec.base_price)
    ctx = _contexts(tape, coin, szd, seed, quirks, model)
    events, liquidations, counts = _fills(tape, coin, szd, seed, ctx, model)
    counts.update(ctx.counts)
    return HyperliquidCoin(
        coin,
        ctx.rows,
        events,
        liquidations,
        ctx.funding,
        ctx.truth,
        ctx.injected,
        counts,
    )


@dataclass
class _Contexts:
    rows: pl.DataFrame
    truth: pl.DataFrame
    funding: pl.DataFrame
    injected: list[dict[str, str]]
    counts: dict[str, int]
    premium: np.ndarray
    """Hyperliquid's premium at each minute's instant (unrounded model value)."""
    mark: np.ndarray
    """The true, rounded mark at each minute's instant."""


def _contexts(
    tape: Tape,
    coin: str,
    szd: int,
    seed: int,
    quirks: HyperliquidQuirks,
    model: HyperliquidModel,
) -> _Contexts:
    rng = _rng(seed, "ctxs", coin)
    minutes = tape.days * MINUTES_PER_DAY
    hours = minutes // 60
    start_ms = _day_ms(tape.start)
    oracle = tape.index_ohlc[:, 0]
    premium = (
        model.premium_scale * tape.premium_ohlc[:, 0]
        + model.premium_offset
        + np.repeat(_ar1(rng, hours, model.spread_persistence, model.spread_sd), 60)
        + rng.normal(0.0, model.premium_noise_sd, minutes)
    )
    width = model.impact_width * rng.lognormal(0.0, 0.3, minutes)
    mark_noise = rng.normal(0.0, model.mark_noise_sd, minutes)
    share = np.exp(_ar1(rng, minutes, model.oi_persistence, model.oi_noise_sd))
    book = _book(oracle, premium, width, mark_noise, szd)

    # Funding: the running mean of the hour's published premiums, Hyperliquid's rule.
    by_hour = book["premium"].reshape(hours, 60)
    running = _hourly_rate(np.cumsum(by_hour, axis=1) / np.arange(1, 61))
    settled = np.concatenate([_hourly_rate(by_hour[:1, 0]), running[:-1, 59]])
    funding = running.copy()
    funding[:, 0] = settled
    funding = funding.reshape(minutes)

    # Open interest: a wandering share of the leader's, interpolated between its 5-minute
    # snapshots (snapshot k is the state at the end of minute 5k + 4).
    snapshots = 5 * np.arange(1, tape.metrics.shape[0] + 1)
    leader_oi = np.interp(np.arange(minutes), snapshots, tape.metrics[:, 0])
    # Hyperliquid publishes open interest two-sided (longs plus shorts, DOMAIN.md §1.2): twice
    # the one-sided book a CEX reports.
    open_interest = np.round(2 * leader_oi * model.oi_share * share, szd)

    prev_index = tape.burn_in_ohlc[-MINUTES_PER_DAY:, 0] * (1 + model.premium_offset)
    prev_day = np.concatenate([prev_index, book["mark"]])[:minutes]
    prev_day = hl_price(prev_day, szd)
    volume = np.cumsum(np.concatenate([[0.0], tape.volume * model.volume_share * book["mark"]]))
    idx = np.arange(minutes)
    trailing = volume[idx] - volume[np.maximum(idx - MINUTES_PER_DAY, 0)]
    first = tape.volume[0] * model.volume_share * book["mark"][0]
    day_volume = np.where(
        idx >= MINUTES_PER_DAY,
        trailing,
        np.where(idx > 0, trailing * MINUTES_PER_DAY / np.maximum(idx, 1), first * MINUTES_PER_DAY),
    )
    day_volume = np.round(day_volume, 2)

    time_ms = start_ms + idx.astype(np.int64) * MS_PER_MINUTE
    truth = pl.DataFrame(
        {
            "coin": [coin] * minutes,
            "ts": _timestamps(time_ms),
            "funding": funding,
            "open_interest": open_interest,
            "mark_px": book["mark"],
            "oracle_px": book["oracle"],
            "premium": book["premium"],
        }
    )
    funding_truth = pl.DataFrame(
        {
            "coin": [coin] * hours,
            "funding_time": _timestamps(start_ms + np.arange(hours, dtype=np.int64) * MS_PER_HOUR),
            "funding_rate": settled,
        }
    )
    # Quirks, from their own stream: the same draws whatever the rates.
    qrng = _rng(seed, "quirks", coin)
    draw = qrng.random(minutes)
    extra = qrng.random(minutes)
    seconds = qrng.integers(1, 60, minutes)
    cut_zero = quirks.zero_mark_px
    cut_empty = cut_zero + quirks.empty_book
    cut_negative = cut_empty + quirks.negative_open_interest
    zero_mark = draw < cut_zero
    empty = (draw >= cut_zero) & (draw < cut_empty)
    negative = (draw >= cut_empty) & (draw < cut_negative)
    off_grid = np.flatnonzero(extra < quirks.off_grid_rows)

    columns = {
        "time_ms": time_ms,
        "funding": funding,
        "open_interest": np.where(negative, -open_interest, open_interest),
        "prev_day_px": prev_day,
        "day_ntl_vlm": day_volume,
        "premium": book["premium"],
        "oracle_px": book["oracle"],
        "mark_px": np.where(zero_mark, 0.0, book["mark"]),
        "mid_px": book["mid"],
        "impact_bid_px": book["bid"],
        "impact_ask_px": book["ask"],
    }
    grid = pl.DataFrame(columns).with_columns(
        pl.when(pl.lit(pl.Series(empty))).then(None).otherwise(pl.col(name)).alias(name)
        for name in ("premium", "mid_px", "impact_bid_px", "impact_ask_px")
    )
    if off_grid.size:
        # The oracle and the book at that second; every other field as the minute's row.
        frac = seconds[off_grid] / 60
        index = tape.index_ohlc[off_grid]
        inside = _book(
            index[:, 0] + frac * (index[:, 3] - index[:, 0]),
            premium[off_grid],
            width[off_grid],
            mark_noise[off_grid],
            szd,
        )
        extra_rows = pl.DataFrame(
            {
                "time_ms": time_ms[off_grid] + seconds[off_grid].astype(np.int64) * 1_000,
                "funding": funding[off_grid],
                "open_interest": open_interest[off_grid],
                "prev_day_px": prev_day[off_grid],
                "day_ntl_vlm": day_volume[off_grid],
                "premium": inside["premium"],
                "oracle_px": inside["oracle"],
                "mark_px": inside["mark"],
                "mid_px": inside["mid"],
                "impact_bid_px": inside["bid"],
                "impact_ask_px": inside["ask"],
            }
        )
        grid = pl.concat([grid, extra_rows], how="vertical_relaxed")
    eight_hour = (
        pl.col("time_ms") < int(HOURLY_FUNDING_FROM.timestamp() * 1000)
        if quirks.eight_hour_funding
        else pl.lit(False)
    )
    grid = grid.with_columns(
        pl.when(eight_hour)
        .then((pl.col("funding") * 8).round(8))
        .otherwise(pl.col("funding"))
        .alias("funding"),
        eight_hour.alias("eight_hour"),
    ).sort("time_ms")
    eight_hour_rows = int(grid["eight_hour"].sum())
    price_decimals = 7
    rows = grid.select(
        "time_ms",
        pl.lit(coin).alias("coin"),
        _fixed("funding", 8),
        _fixed("open_interest", szd),
        _fixed("prev_day_px", price_decimals),
        _fixed("day_ntl_vlm", 2),
        _fixed("premium", 8),
        *(
            _fixed(name, price_decimals)
            for name in ("oracle_px", "mark_px", "mid_px", "impact_bid_px", "impact_ask_px")
        ),
    )

    injected: list[dict[str, str]] = []
    for name, mask in (
        ("zero_mark_px", zero_mark),
        ("empty_book", empty),
        ("negative_open_interest", negative),
    ):
        injected += [
            {"coin": coin, "time": _iso(int(time_ms[m])), "quirk": name}
            for m in np.flatnonzero(mask)
        ]
    injected += [
        {
            "coin": coin,
            "time": _iso(int(time_ms[m]) + int(seconds[m]) * 1_000),
            "quirk": "off_grid_rows",
        }
        for m in off_grid
    ]
    counts = {
        "zero_mark_px": int(zero_mark.sum()),
        "empty_book": int(empty.sum()),
        "negative_open_interest": int(negative.sum()),
        "off_grid_rows": int(off_grid.size),
        "eight_hour_funding": eight_hour_rows,
    }
    return _Contexts(
        rows,
        truth,
        funding_truth,
        injected,
        counts,
        premium,
        book["mark"],
    )


def _book(
    oracle: np.ndarray,
    premium: np.ndarray,
    width: np.ndarray,
    mark_noise: np.ndarray,
    szd: int,
) -> dict[str, np.ndarray]:
    """Printed oracle, impact bid/ask, mid, mark and the premium Binance's definition gives.

    The impact side facing the oracle sits at ``oracle × (1 + premium)``, the other ``width``
    beyond it, so ``[max(0, bid − oracle) − max(0, oracle − ask)] / oracle`` is the premium.
    """
    fair = oracle * (1 + premium)
    bid = hl_price(np.where(premium >= 0, fair, fair * (1 - width)), szd)
    ask = hl_price(np.where(premium >= 0, fair * (1 + width), fair), szd)
    ask = np.maximum(ask, bid)
    printed_oracle = hl_price(oracle, szd)
    published = np.round(
        (np.maximum(0.0, bid - printed_oracle) - np.maximum(0.0, printed_oracle - ask))
        / printed_oracle,
        8,
    )
    return {
        "oracle": printed_oracle,
        "bid": bid,
        "ask": ask,
        "mid": hl_price((bid + ask) / 2, szd, extra=1),
        "mark": hl_price(oracle * (1 + premium + mark_noise), szd),
        "premium": published,
    }


def _hourly_rate(mean_premium: np.ndarray) -> np.ndarray:
    """Hyperliquid's hourly rate: Binance's 8-hour formula (:func:`simulator.rules.funding_rate`,
    vectorised) over the mean premium, divided by 8; on 8 decimals."""
    rate = mean_premium + np.clip(FUNDING_ANCHOR - mean_premium, -FUNDING_CLAMP, FUNDING_CLAMP)
    return np.asarray(np.round(np.clip(rate, -FUNDING_CAP, FUNDING_CAP) / 8, 8), dtype=float)


def _fills(
    tape: Tape,
    coin: str,
    szd: int,
    seed: int,
    ctx: _Contexts,
    model: HyperliquidModel,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """The coin's fill lines (liquidations and ordinary trades) and its liquidation truth.

    Vectorised: one row per trade, then one JSON line per side of it (``_lines``).
    """
    rng = _rng(seed, "fills", coin)
    minutes = tape.days * MINUTES_PER_DAY
    start_ms = _day_ms(tape.start)
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
    when = _block_times(np.minimum(ts[chosen] + delay, end_ms - 1))
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
    trade_ms = _block_times(
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
                _fixed("mark", 7),
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
            "ts": _timestamps(when[group]),
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
            _fixed("px", 7),
            pl.lit('","sz":"'),
            _fixed("sz", szd),
            pl.lit('","side":"'),
            "side",
            pl.lit('","time":'),
            pl.col("time_ms").cast(pl.String),
            pl.lit(',"startPosition":"'),
            _fixed("start_position", szd),
            pl.lit('","dir":"'),
            "dir",
            pl.lit('","closedPnl":"'),
            _fixed("closed_pnl", 6),
            pl.lit('","hash":"'),
            "hash",
            pl.lit('","oid":'),
            pl.col("oid").cast(pl.String),
            pl.lit(',"crossed":'),
            pl.when("crossed").then(pl.lit("true")).otherwise(pl.lit("false")),
            pl.lit(',"fee":"'),
            _fixed("fee", 6),
            pl.lit('","tid":'),
            pl.col("tid").cast(pl.String),
            pl.lit(',"feeToken":"USDC"'),
            "liquidation",
            pl.lit("}]"),
        ).alias("line"),
    ).sort("time_ms", "seq")


# Writing


def write_hyperliquid(
    out: Path,
    coins: Iterable[HyperliquidCoin],
    start: date,
    end: date,
    quirks: HyperliquidQuirks,
) -> dict[str, int]:
    """Write ``out/hyperliquid/…`` for ``start``…``end`` (every day and hour) and the truth.

    Returns the number of files written per kind (``asset_ctxs``, ``node_fills``,
    ``node_fills_by_block``).
    """
    collected = sorted(coins, key=lambda c: c.coin)
    root = hyperliquid_root(out)
    written = {"asset_ctxs": 0, NODE_FILLS: 0, NODE_FILLS_BY_BLOCK: 0}
    days = (end - start).days + 1

    ctxs = (
        pl.concat([c.ctxs for c in collected]).sort("time_ms", "coin")
        if collected
        else pl.DataFrame(schema={"time_ms": pl.Int64, "coin": pl.String})
    )
    ctxs = ctxs.with_columns((pl.col("time_ms") // MS_PER_DAY).alias("epoch_day"))
    by_day = {key[0]: frame for key, frame in ctxs.partition_by("epoch_day", as_dict=True).items()}
    for offset in range(days):
        day = start + timedelta(days=offset)
        frame = by_day.get(_day_ms(day) // MS_PER_DAY)
        if frame is None or frame.height == 0:
            text = ",".join(ASSET_CTXS_HEADER) + "\n"
        else:
            text = frame.select(
                pl.from_epoch("time_ms", time_unit="ms")
                .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
                .alias("time"),
                *ASSET_CTXS_HEADER[1:],
            ).write_csv(line_terminator="\n")
        _write_lz4(root / asset_ctxs_key(day), text.encode())
        written["asset_ctxs"] += 1

    events = (
        pl.concat([c.events.with_columns(pl.lit(c.coin).alias("coin")) for c in collected])
        if collected
        else pl.DataFrame(
            schema={"time_ms": pl.Int64, "seq": pl.Int64, "line": pl.String, "coin": pl.String}
        )
    )
    events = events.sort("time_ms", "coin", "seq").with_columns(
        (pl.col("time_ms") // MS_PER_HOUR).alias("hour")
    )
    by_hour = {key[0]: frame for key, frame in events.partition_by("hour", as_dict=True).items()}
    first_hour = _day_ms(start) // MS_PER_HOUR
    empty = events.clear()
    for hour in range(first_hour, first_hour + days * 24):
        instant = datetime.fromtimestamp(hour * 3600, UTC)
        frame = by_hour.get(hour, empty)
        layout = fills_layout(instant)
        if layout == NODE_FILLS:
            text = "".join(line + "\n" for line in frame["line"])
        else:
            text = _blocks(hour, frame)
        _write_lz4(root / fills_key(instant), text.encode())
        written[layout] += 1

    _write_truth(out, collected, quirks)
    return written


def _blocks(hour: int, events: pl.DataFrame) -> str:
    """One ``node_fills_by_block`` line per block (every event of one instant, all coins, in
    order), plus a few blocks of the hour with no events."""
    grouped = events.group_by("time_ms", maintain_order=True).agg(pl.col("line").str.join(","))
    blocks = dict(zip(grouped["time_ms"].to_list(), grouped["line"].to_list(), strict=True))
    slots = {when // BLOCK_MS: when for when in blocks}
    first_slot = hour * MS_PER_HOUR // BLOCK_MS
    for k in range(2):
        slot = first_slot + _mix(hour * 7 + k) % (MS_PER_HOUR // BLOCK_MS)
        if slot not in slots:
            slots[slot] = slot * BLOCK_MS + int(_jitter(np.array([slot]))[0])
    out = []
    for slot in sorted(slots):
        when = slots[slot]
        block_ns = when * 1_000_000 + _mix(slot) % 1_000_000
        local_ns = block_ns + 50_000_000 + _mix(slot + 1) % 350_000_000
        out.append(
            f'{{"local_time":"{_ns_time(local_ns)}","block_time":"{_ns_time(block_ns)}",'
            f'"block_number":{slot - BLOCK_SLOT_ORIGIN},"events":[{blocks.get(when, "")}]}}\n'
        )
    return "".join(out)


def _write_truth(out: Path, coins: list[HyperliquidCoin], quirks: HyperliquidQuirks) -> None:
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    _concat([c.liquidations for c in coins], LIQUIDATIONS_SCHEMA).sort(
        "ts", "coin", "tid", "liquidated_user"
    ).write_parquet(truth / "hyperliquid_liquidations.parquet")
    _concat([c.funding for c in coins], FUNDING_SCHEMA).sort("coin", "funding_time").write_parquet(
        truth / "hyperliquid_funding.parquet"
    )
    contexts = _concat([c.asset_ctxs for c in coins], ASSET_CTXS_TRUTH_SCHEMA).sort("coin", "ts")
    contexts.select(
        "coin",
        "ts",
        # The one-sided book, as the warehouse reports every venue's.
        (pl.col("open_interest") / 2).alias("oi_base"),
        (pl.col("open_interest") / 2 * pl.col("mark_px")).alias("oi_usd"),
    ).cast(OPEN_INTEREST_SCHEMA).write_parquet(truth / "hyperliquid_open_interest.parquet")
    contexts.write_parquet(truth / "hyperliquid_asset_ctxs.parquet")
    counts = {name: sum(c.counts.get(name, 0) for c in coins) for name in QUIRK_NAMES}
    fills = {
        name: sum(c.counts.get(name, 0) for c in coins)
        for name in (
            "liquidations",
            "liquidation_fills",
            "partial_liquidations",
            "backstop_liquidations",
            "ordinary_trades",
        )
    }
    injected = sorted(
        (row for c in coins for row in c.injected), key=lambda r: (r["time"], r["coin"], r["quirk"])
    )
    (truth / "hyperliquid_quirks.json").write_text(
        json.dumps(
            {
                **counts,
                "by_coin": {
                    c.coin: {name: c.counts.get(name, 0) for name in QUIRK_NAMES} for c in coins
                },
                "rates": asdict(quirks),
                "fills": fills,
                "injected": injected,
            },
            indent=2,
        )
        + "\n"
    )


# Helpers


def _rng(seed: int, part: str, coin: str) -> np.random.Generator:
    name = f"hyperliquid:{part}:{coin}"
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


def _ar1(rng: np.random.Generator, steps: int, persistence: float, sd: float) -> np.ndarray:
    """A stationary AR(1) path with standard deviation ``sd``, started from its stationary law."""
    shocks = rng.standard_normal(steps).tolist()
    scale = sd * (1 - persistence**2) ** 0.5
    path = [0.0] * steps
    value = sd * shocks[0] if steps else 0.0
    for step in range(steps):
        if step:
            value = persistence * value + scale * shocks[step]
        path[step] = value
    return np.array(path, dtype=float)


def _unique_ids(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` distinct trade ids (15–16 digits), in draw order."""
    ids = np.empty(0, dtype=np.int64)
    while ids.size < count:
        draw = np.concatenate([ids, rng.integers(10**14, 2**53, 2 * count + 16, dtype=np.int64)])
        _, first = np.unique(draw, return_index=True)
        ids = draw[np.sort(first)]
    return ids[:count]


def _mix(value: int) -> int:
    """A cheap deterministic 64-bit hash (splitmix64's finaliser)."""
    z = (value + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def _jitter(slots: np.ndarray) -> np.ndarray:
    """The millisecond within its 100 ms slot at which a block lands (0…60)."""
    return np.asarray((slots * 7919) % 61, dtype=np.int64)


def _block_times(ms: np.ndarray) -> np.ndarray:
    """The time of the block holding an event at ``ms``: its 100 ms slot's instant."""
    slots = np.asarray(ms, dtype=np.int64) // BLOCK_MS
    return slots * BLOCK_MS + _jitter(slots)


def _hex(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    """``count`` random ``0x…`` strings of ``size`` bytes (addresses: 20, hashes: 32)."""
    raw = rng.bytes(size * count).hex()
    width = 2 * size
    return np.array(
        ["0x" + raw[i : i + width] for i in range(0, width * count, width)], dtype=np.str_
    )


def _ns_time(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{rest:09d}"


def _num(value: float, decimals: int) -> str:
    """A plain decimal (never an exponent) on at most ``decimals`` places, at least one."""
    text = f"{value:.{decimals}f}".rstrip("0")
    text = text + "0" if text.endswith(".") else text
    return "0.0" if text in ("-0.0", "-0") else text


def _fixed(column: str, decimals: int) -> pl.Expr:
    """Polars' version of :func:`_num` (nulls stay null, written as empty fields)."""
    scale = 10**decimals
    scaled = (pl.col(column) * scale).round(0).cast(pl.Int64)
    whole = (scaled.abs() // scale).cast(pl.String)
    fraction = (
        (scaled.abs() % scale).cast(pl.String).str.zfill(decimals).str.strip_chars_end("0")
        if decimals
        else pl.lit("")
    )
    fraction = pl.when(fraction == "").then(pl.lit("0")).otherwise(fraction)
    sign = pl.when(scaled < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(sign, whole, pl.lit("."), fraction).alias(column)


def _iso(ms: int) -> str:
    return f"{datetime.fromtimestamp(ms / 1000, UTC):%Y-%m-%dT%H:%M:%SZ}"


def _write_lz4(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lz4.frame.compress(data))


def _timestamps(ms: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(ms, dtype=np.int64)).cast(TIMESTAMP)


def _day_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * MS_PER_DAY


def _concat(frames: list[pl.DataFrame], schema: pl.Schema) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat([f.cast(schema) for f in frames]).select(schema.names())

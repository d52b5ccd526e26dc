"""The simulated market's forced orders as the venues' live liquidation streams push them.

The recorder (:mod:`transforms.recorder`) listens to three public WebSocket streams; this module
turns a simulation's forced orders into the exact messages those streams would have sent, in the
order they would have arrived, with the ground truth of what each message carries, so that
:mod:`simulator.stream_server` can replay them on 127.0.0.1 and tests can check the recorder (and
the ingest after it) end to end.

The Binance USDⓈ-M perpetual of each coin is the *leader* (``truth/liquidations.parquet``, rows
of ``exchange == "binance_um"``: the orders :func:`simulator.run._orders` publishes). As in
:mod:`simulator.venues`, the other venues hold a share of the same coin's leveraged book (Bybit
~0.55, OKX ~0.35 of Binance's), so a cascade on Binance is a cascade on them too: every leader
order becomes one Bybit and one OKX forced order of that share of its size, times a lognormal
factor (σ 0.25; venues' crowds differ), a few hundred milliseconds apart (their engines reach
the level at slightly different moments), at the leader's bankruptcy price. Draws come from
a stream seeded ``[seed, crc32("stream:<venue>:<coin>")]``: the same seed gives the same
messages.

Message shapes (the issue's spec, section B):

- **Binance** ``!forceOrder@arr``: ``{"e":"forceOrder","E":…,"o":{"s","S","o":"LIMIT","f":"IOC",
  "q","p","ap","X":"FILLED","l","z","T"}}``; ``S`` SELL = a long was liquidated; ``p`` the order
  (bankruptcy) price, ``ap`` the average fill, ``q = l = z`` the quantity in base coin. Binance
  pushes **at most one order per symbol per second**: the last order of each symbol's 1000 ms
  window, so the stream is a lower bound of what was liquidated (the truth lists only what was
  pushed; the leader's file holds the rest). ``E`` is the order's ``T`` plus a few ms.
- **Bybit** ``allLiquidation.<symbol>``: every liquidation, pushed every 500 ms per symbol as
  ``{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":…,"data":[{"T","s","S","v","p"}]}``
  with ``ts`` the end of the window; ``S`` **Buy = a long was liquidated** (inverted vs Binance);
  ``v`` in base coin, ``p`` the bankruptcy price.
- **OKX** ``liquidation-orders`` (SWAP): per instrument and second, ``{"arg":{"channel":
  "liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx","ccy":"",
  "posSide","side","sz","ts"}],"instFamily","instId","instType":"SWAP","uly"}]}``; ``sz`` in
  **contracts** of ``ctVal`` base coin (BTC 0.01, ETH 0.1, SOL 1), whole contracts;
  ``posSide`` long (``side`` sell) = a long was liquidated.

Every message has a ``send_ms`` (Binance ``E``, Bybit ``ts``, OKX the end of its second) and the
three venues' messages are merged in ``send_ms`` order. Truth (:func:`write_stream_truth`,
``truth/stream_liquidations.parquet``): one row per liquidation a message carries: exchange,
venue symbol, coin, ts_ms (the order's time), send_ms, side (``long``/``short``: the side
liquidated), price, qty_base, notional_usd (= qty_base × price; Binance: ``z × ap``),
venue_qty (the venue's unit: base coin, OKX contracts) and venue_side (the raw field).

:func:`synthetic_messages` makes any number of well-formed messages fast (about a microsecond
each), with ``T`` / ``ts`` = ``start_ms + index`` as a sequence number, for the recorder's
benchmark and tests that count.
"""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

import numpy as np
import polars as pl

from simulator.markets import market_spec
from simulator.randomness import seeded_stream
from simulator.venues import VENUE_MODELS, coin_of, okx_contract_value

STREAM_VENUES: Final = ("binance_um", "bybit", "okx")
BINANCE_WINDOW_MS: Final = 1_000
"""Binance pushes the last order of each symbol's second."""
BYBIT_WINDOW_MS: Final = 500
"""Bybit pushes every liquidation of a symbol's half second in one message."""
OKX_WINDOW_MS: Final = 1_000
SIZE_NOISE_SD: Final = 0.25
MAX_VENUE_DELAY_MS: Final = 400
TRUTH_FILE: Final = "stream_liquidations.parquet"

TRUTH_SCHEMA: Final = pl.Schema(
    {
        "exchange": pl.String(),
        "symbol": pl.String(),
        "coin": pl.String(),
        "ts_ms": pl.Int64(),
        "send_ms": pl.Int64(),
        "side": pl.String(),
        "price": pl.Float64(),
        "qty_base": pl.Float64(),
        "notional_usd": pl.Float64(),
        "venue_qty": pl.Float64(),
        "venue_side": pl.String(),
    }
)


class StreamMessage(NamedTuple):
    """One message a venue pushes: when it left the venue, and its exact text."""

    venue: str
    send_ms: int
    text: str


@dataclass(frozen=True)
class StreamSet:
    """The three venues' messages, merged in time order, and what they carry."""

    messages: list[StreamMessage]
    truth: pl.DataFrame

    def texts(self, venue: str) -> list[str]:
        """One venue's messages, in order: what its stream server feed replays."""
        return [m.text for m in self.messages if m.venue == venue]


def leader_orders(
    out: Path, start_ms: int | None = None, end_ms: int | None = None
) -> pl.DataFrame:
    """A simulation's Binance USDⓈ-M forced orders (``out/truth/liquidations.parquet``), in
    ``[start_ms, end_ms)`` when given, ordered by time."""
    frame = pl.read_parquet(out / "truth" / "liquidations.parquet").filter(
        pl.col("exchange") == "binance_um"
    )
    if start_ms is not None:
        frame = frame.filter(pl.col("ts_ms") >= start_ms)
    if end_ms is not None:
        frame = frame.filter(pl.col("ts_ms") < end_ms)
    return frame.sort("ts_ms", "symbol", maintain_order=True)


def simulated_streams(
    out: Path, *, seed: int = 7, start_ms: int | None = None, end_ms: int | None = None
) -> StreamSet:
    """The streams of a simulation written to ``out`` (see :func:`stream_messages`)."""
    return stream_messages(leader_orders(out, start_ms, end_ms), seed=seed)


def stream_messages(orders: pl.DataFrame, *, seed: int = 7) -> StreamSet:
    """Binance's, Bybit's and OKX's messages for the leader ``orders`` (rows of
    ``liquidations.parquet``: symbol, ts_ms, side, bankruptcy, fill, qty_archive, qty_base)."""
    messages: list[StreamMessage] = []
    truth: list[dict[str, object]] = []
    for (symbol,), group in orders.sort("ts_ms", maintain_order=True).group_by(
        "symbol", maintain_order=True
    ):
        assert isinstance(symbol, str)
        coin = coin_of(symbol)
        if coin is None:
            continue  # only USDⓈ-M perpetuals lead other venues
        spec = market_spec(symbol)
        rows = group.select("ts_ms", "side", "bankruptcy", "fill", "qty_archive", "qty_base")
        _binance(symbol, coin, spec.price_decimals, spec.qty_decimals, rows, messages, truth)
        _bybit(symbol, coin, spec.price_decimals, spec.qty_decimals, rows, seed, messages, truth)
        _okx(coin, spec.price_decimals, rows, seed, messages, truth)
    # Stable: a venue's own messages keep their order at equal send_ms.
    messages.sort(key=lambda m: (m.send_ms, STREAM_VENUES.index(m.venue)))
    frame = pl.DataFrame(truth, schema=TRUTH_SCHEMA).sort("exchange", "symbol", "ts_ms")
    return StreamSet(messages, frame)


def write_stream_truth(out: Path, streams: StreamSet) -> Path:
    """``out/truth/stream_liquidations.parquet``."""
    path = out / "truth" / TRUTH_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    streams.truth.write_parquet(path)
    return path


def _compact(message: object) -> str:
    return json.dumps(message, separators=(",", ":"))


def _binance(
    symbol: str,
    coin: str,
    price_decimals: int,
    qty_decimals: int,
    rows: pl.DataFrame,
    messages: list[StreamMessage],
    truth: list[dict[str, object]],
) -> None:
    """The last order of each second (Binance's sampling), pushed a few ms after it."""
    pushed = (
        rows.with_columns((pl.col("ts_ms") // BINANCE_WINDOW_MS).alias("window"))
        .group_by("window", maintain_order=True)
        .last()
    )
    for row in pushed.iter_rows(named=True):
        t = int(row["ts_ms"])
        event = t + 2 + t % 7
        side = "SELL" if row["side"] == "long" else "BUY"
        qty = f"{row['qty_archive']:.{qty_decimals}f}"
        fill = round(float(row["fill"]), price_decimals)
        text = _compact(
            {
                "e": "forceOrder",
                "E": event,
                "o": {
                    "s": symbol,
                    "S": side,
                    "o": "LIMIT",
                    "f": "IOC",
                    "q": qty,
                    "p": f"{row['bankruptcy']:.{price_decimals}f}",
                    "ap": f"{fill:.{price_decimals}f}",
                    "X": "FILLED",
                    "l": qty,
                    "z": qty,
                    "T": t,
                },
            }
        )
        messages.append(StreamMessage("binance_um", event, text))
        truth.append(
            {
                "exchange": "binance_um",
                "symbol": symbol,
                "coin": coin,
                "ts_ms": t,
                "send_ms": event,
                "side": row["side"],
                "price": fill,
                "qty_base": float(qty),
                "notional_usd": float(qty) * fill,
                "venue_qty": float(qty),
                "venue_side": side,
            }
        )


def _venue_orders(
    exchange: str, coin: str, rows: pl.DataFrame, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The venue's size factor (share × noise) and its delay for each leader order."""
    rng = seeded_stream(seed, f"stream:{exchange}:{coin}")
    share = VENUE_MODELS[exchange].oi_share
    factor = share * np.exp(rng.normal(0.0, SIZE_NOISE_SD, rows.height))
    delay = rng.integers(0, MAX_VENUE_DELAY_MS, rows.height)
    return factor, delay


def _bybit(
    symbol: str,
    coin: str,
    price_decimals: int,
    qty_decimals: int,
    rows: pl.DataFrame,
    seed: int,
    messages: list[StreamMessage],
    truth: list[dict[str, object]],
) -> None:
    """Every order, grouped per half second; ``S`` Buy means a long was liquidated."""
    factor, delay = _venue_orders("bybit", coin, rows, seed)
    orders = []
    for row, size, late in zip(rows.iter_rows(named=True), factor, delay, strict=True):
        qty = round(float(row["qty_base"]) * float(size), qty_decimals)
        if qty <= 0:
            continue
        orders.append((int(row["ts_ms"]) + int(late), row["side"], qty, float(row["bankruptcy"])))
    orders.sort(key=lambda order: order[0])
    window: list[tuple[int, str, float, float]] = []
    for index, order in enumerate(orders):
        window.append(order)
        following = orders[index + 1][0] if index + 1 < len(orders) else None
        if following is not None and following // BYBIT_WINDOW_MS == order[0] // BYBIT_WINDOW_MS:
            continue
        ts = (order[0] // BYBIT_WINDOW_MS + 1) * BYBIT_WINDOW_MS
        data = []
        for t, side, qty, price in window:
            venue_side = "Buy" if side == "long" else "Sell"
            v, p = f"{qty:.{qty_decimals}f}", f"{price:.{price_decimals}f}"
            data.append({"T": t, "s": symbol, "S": venue_side, "v": v, "p": p})
            truth.append(
                {
                    "exchange": "bybit",
                    "symbol": symbol,
                    "coin": coin,
                    "ts_ms": t,
                    "send_ms": ts,
                    "side": side,
                    "price": float(p),
                    "qty_base": float(v),
                    "notional_usd": float(v) * float(p),
                    "venue_qty": float(v),
                    "venue_side": venue_side,
                }
            )
        text = _compact(
            {"topic": f"allLiquidation.{symbol}", "type": "snapshot", "ts": ts, "data": data}
        )
        messages.append(StreamMessage("bybit", ts, text))
        window = []


def _okx(
    coin: str,
    price_decimals: int,
    rows: pl.DataFrame,
    seed: int,
    messages: list[StreamMessage],
    truth: list[dict[str, object]],
) -> None:
    """Every order in whole contracts of ``ctVal``, grouped per instrument and second."""
    ct_val = okx_contract_value(coin)
    inst_id, family = f"{coin}-USDT-SWAP", f"{coin}-USDT"
    factor, delay = _venue_orders("okx", coin, rows, seed)
    orders = []
    for row, size, late in zip(rows.iter_rows(named=True), factor, delay, strict=True):
        contracts = round(float(row["qty_base"]) * float(size) / ct_val)
        if contracts <= 0:
            continue
        orders.append(
            (int(row["ts_ms"]) + int(late), row["side"], contracts, float(row["bankruptcy"]))
        )
    orders.sort(key=lambda order: order[0])
    window: list[tuple[int, str, int, float]] = []
    for index, order in enumerate(orders):
        window.append(order)
        following = orders[index + 1][0] if index + 1 < len(orders) else None
        if following is not None and following // OKX_WINDOW_MS == order[0] // OKX_WINDOW_MS:
            continue
        send = (order[0] // OKX_WINDOW_MS + 1) * OKX_WINDOW_MS
        details = []
        for t, side, contracts, price in window:
            venue_side = "sell" if side == "long" else "buy"
            px = f"{price:.{price_decimals}f}"
            details.append(
                {
                    "bkLoss": "0",
                    "bkPx": px,
                    "ccy": "",
                    "posSide": side,
                    "side": venue_side,
                    "sz": str(contracts),
                    "ts": str(t),
                }
            )
            qty_base = round(contracts * ct_val, 8)
            truth.append(
                {
                    "exchange": "okx",
                    "symbol": inst_id,
                    "coin": coin,
                    "ts_ms": t,
                    "send_ms": send,
                    "side": side,
                    "price": float(px),
                    "qty_base": qty_base,
                    "notional_usd": qty_base * float(px),
                    "venue_qty": float(contracts),
                    "venue_side": venue_side,
                }
            )
        text = _compact(
            {
                "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
                "data": [
                    {
                        "details": details,
                        "instFamily": family,
                        "instId": inst_id,
                        "instType": "SWAP",
                        "uly": family,
                    }
                ],
            }
        )
        messages.append(StreamMessage("okx", send, text))
        window = []


# Synthetic load

SYNTHETIC_START_MS: Final = 1_735_689_600_000
"""2025-01-01T00:00:00Z: synthetic messages count milliseconds from here."""
_SYNTHETIC_PRICES: Final = {"BTC": 95_000.0, "ETH": 3_300.0, "SOL": 190.0}


def synthetic_messages(
    venue: str,
    count: int,
    *,
    symbols: Sequence[str] = ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
    start_ms: int = SYNTHETIC_START_MS,
) -> Iterator[str]:
    """``count`` well-formed messages of ``venue``'s stream, cheaply (no JSON encoder, no RNG).

    Message ``i`` carries ``T`` (Binance, Bybit) or ``ts`` (OKX) = ``start_ms + i``, a sequence
    number a test can check order and completeness with; symbols rotate, sizes and prices vary
    deterministically with ``i``.
    """
    if venue not in STREAM_VENUES:
        raise ValueError(f"unknown stream venue {venue!r}; known: {STREAM_VENUES}")
    coins = [coin_of(symbol) or symbol for symbol in symbols]
    bases = [_SYNTHETIC_PRICES.get(coin, 10.0) for coin in coins]
    n = len(symbols)
    for i in range(count):
        k = i % n
        symbol, coin = symbols[k], coins[k]
        t = start_ms + i
        price = bases[k] * (1 + ((i * 7919) % 2001 - 1000) / 100_000)
        qty = ((i * 31) % 997 + 1) / 1000
        long = i % 3 != 0
        if venue == "binance_um":
            yield (
                f'{{"e":"forceOrder","E":{t + 3},"o":{{"s":"{symbol}","S":"'
                f'{"SELL" if long else "BUY"}","o":"LIMIT","f":"IOC","q":"{qty:.3f}","p":"'
                f'{price:.2f}","ap":"{price * 1.0002:.2f}","X":"FILLED","l":"{qty:.3f}","z":"'
                f'{qty:.3f}","T":{t}}}}}'
            )
        elif venue == "bybit":
            yield (
                f'{{"topic":"allLiquidation.{symbol}","type":"snapshot","ts":{t + 200},"data":'
                f'[{{"T":{t},"s":"{symbol}","S":"{"Buy" if long else "Sell"}","v":"{qty:.3f}",'
                f'"p":"{price:.2f}"}}]}}'
            )
        else:
            yield (
                '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":'
                f'[{{"bkLoss":"0","bkPx":"{price:.1f}","ccy":"","posSide":'
                f'"{"long" if long else "short"}","side":"{"sell" if long else "buy"}","sz":'
                f'"{i % 50 + 1}","ts":"{t}"}}],"instFamily":"{coin}-USDT","instId":'
                f'"{coin}-USDT-SWAP","instType":"SWAP","uly":"{coin}-USDT"}}]}}'
            )

"""Liquidation streams that ``treadmill record`` records: Binance, Bybit and OKX, as datasets.

Binance stopped publishing liquidation snapshots in 2024; the venues' public WebSocket streams
are what remains, and only for the moment they are sent, so the warehouse records them itself
(:mod:`transforms.recorder`). The recorder writes every message verbatim, with its receive time,
into hourly files ``raw/recorder/<exchange>/<YYYY-MM-DD>/HH.jsonl`` and the intervals it was not
connected into ``gaps.jsonl`` beside them (the format: :mod:`transforms.hour_files`). A daily
asset per venue reads the closed hours of the day (:func:`parse_recorded`).

Each venue's message, and what a forced order becomes (staged ``side`` in Binance's convention:
``SELL`` closed a long):

- Binance ``forceOrder`` (``!forceOrder@arr``): ``o.S`` as is; quantity ``o.z`` (filled, else
  ``o.q``); price ``o.p``, average ``o.ap``; instant ``o.T``. The event comes bare or, from a
  combined-stream address, wrapped as ``{"stream": "!forceOrder@arr", "data": {…}}``. At most one
  order per symbol per second is sent: coverage ``sampled``.
- Bybit ``allLiquidation.<symbol>``: ``S = Buy`` means a long was liquidated (the inverse of
  Binance, DOMAIN.md §1.3), so it becomes ``SELL``; quantity ``v`` (base coin), price ``p``,
  instant ``T``. Coverage ``sampled`` (pushed every 500 ms, documented as all liquidations, but
  unverified).
- OKX ``liquidation-orders``: ``posSide = long`` (``side = sell``) was a long; ``sz`` is in
  contracts, converted with the contract value of :data:`OKX_CONTRACT_VALUES`; price ``bkPx``
  (the bankruptcy price); instant ``ts``. Coverage ``sampled``.

Control frames (subscribe acknowledgements, pongs) are recorded and skipped. A line that is not
the recorder's JSON, a message that is not JSON, or JSON of an unknown shape is counted
(``messages_of_unknown_shape``, with an example) and skipped; nothing else is lost. An
instrument the universe does not list is skipped.
"""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pyarrow as pa

from transforms.dataset import Cadence, Dataset, ParsedFile, Source
from transforms.hour_files import closed_hours, frame_text, gap_intervals, numbered_lines
from transforms.schemas import LIQUIDATION, Kind

STREAM_FIRST_DAY: Final = date(2024, 1, 1)
"""The recorder can only hold days it ran on; the window opens well before any of them."""
OKX_CONTRACT_VALUES: Final = {
    "BTC-USDT-SWAP": 0.01,
    "ETH-USDT-SWAP": 0.1,
    "SOL-USDT-SWAP": 1.0,
    "XRP-USDT-SWAP": 100.0,
    "DOGE-USDT-SWAP": 1000.0,
}
"""OKX USDT swaps' contract values in the base coin (``ctVal`` of ``/api/v5/public/instruments``),
by instrument: the channel also carries inverse swaps (``BTC-USD-SWAP``, 100 USD a contract), so
a value is never taken from the coin alone. A universe instrument not listed here is counted as a
message of unknown shape, not guessed."""

Order = dict[str, Any]


def _binance(message: Any, wanted: set[str]) -> list[Order] | None:
    if (
        isinstance(message, dict)
        and isinstance(message.get("stream"), str)
        and isinstance(message.get("data"), dict)
    ):
        message = message["data"]  # the combined-stream form
    if not isinstance(message, dict) or message.get("e") != "forceOrder":
        return None
    order = message.get("o")
    if not isinstance(order, dict):
        return None
    filled = order.get("z") or order.get("q")
    if filled is None:
        return None
    return [
        {
            "symbol": order["s"],
            "ts": int(order["T"]),
            "side": order["S"],
            "order_type": order.get("o"),
            "time_in_force": order.get("f"),
            "order_status": order.get("X"),
            "price": float(order["p"]),
            "avg_price": float(order.get("ap") or 0.0) or None,
            "original_qty": float(order.get("q") or filled),
            "last_fill_qty": float(order.get("l") or 0.0),
            "filled_qty": float(filled),
        }
    ]


def _bybit(message: Any, wanted: set[str]) -> list[Order] | None:
    if isinstance(message, dict) and "op" in message and "topic" not in message:
        return []  # subscribe acknowledgement or pong
    if not isinstance(message, dict) or not str(message.get("topic", "")).startswith(
        "allLiquidation."
    ):
        return None
    orders = []
    for item in message.get("data") or ():
        size = float(item["v"])
        orders.append(
            {
                "symbol": item["s"],
                "ts": int(item["T"]),
                # Bybit names the liquidated position's side: Buy = a long was liquidated.
                "side": {"Buy": "SELL", "Sell": "BUY"}[item["S"]],
                "order_type": "LIQUIDATION",
                "time_in_force": None,
                "order_status": "FILLED",
                "price": float(item["p"]),
                "avg_price": None,
                "original_qty": size,
                "last_fill_qty": size,
                "filled_qty": size,
            }
        )
    return orders


def _okx(message: Any, wanted: set[str]) -> list[Order] | None:
    if message == "pong" or (isinstance(message, dict) and "event" in message):
        return []
    if not isinstance(message, dict):
        return None
    if (message.get("arg") or {}).get("channel") != "liquidation-orders":
        return None
    orders = []
    for instrument in message.get("data") or ():
        symbol = instrument["instId"]
        # Converted only for the universe: an instrument left out needs no contract value.
        if symbol not in wanted:
            continue
        value = OKX_CONTRACT_VALUES.get(symbol)
        for detail in instrument.get("details") or ():
            if value is None:
                raise KeyError(f"no contract value for {symbol}")
            size = float(detail["sz"]) * value
            long_closed = detail.get("posSide") == "long" or detail.get("side") == "sell"
            orders.append(
                {
                    "symbol": symbol,
                    "ts": int(detail["ts"]),
                    "side": "SELL" if long_closed else "BUY",
                    "order_type": "LIQUIDATION",
                    "time_in_force": None,
                    "order_status": "FILLED",
                    "price": float(detail["bkPx"]),
                    "avg_price": None,
                    "original_qty": size,
                    "last_fill_qty": size,
                    "filled_qty": size,
                }
            )
    return orders


READERS: Final[dict[str, Callable[[Any, set[str]], list[Order] | None]]] = {
    "binance_um": _binance,
    "bybit": _bybit,
    "okx": _okx,
}
"""Each venue's message and the universe's symbols → its forced orders ([] for a control frame,
None for an unknown shape); the caller keeps the universe's orders."""


def gap_seconds(folder: Path, day: date) -> int:
    """Seconds of ``day`` the recorder was not connected, from the gap records of the day and of
    every earlier day (a gap is written in the folder of the day it starts, when it ends, so an
    outage over a weekend is filed days before the day it also covers)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    covered: list[tuple[int, int]] = []
    for from_ms, to_ms in gap_intervals(folder.parent, day):
        low, high = max(from_ms, start_ms), min(to_ms, end_ms)
        if high > low:
            covered.append((low, high))
    total, reach = 0, start_ms
    for low, high in sorted(covered):
        low = max(low, reach)
        if high > low:
            total += high - low
            reach = high
    return total // 1000


def parse_recorded(
    dataset: Dataset, symbols: tuple[str, ...], folder: Path, source_file: str, day: date
) -> ParsedFile:
    """The forced orders of ``symbols`` in a recorded day's closed hours (see the module)."""

    read = READERS[dataset.exchange]
    wanted = set(symbols)
    orders: list[Order] = []
    unknown = 0
    example = ""
    messages = 0
    for where, line in numbered_lines(folder):
        if not line.strip():
            continue
        messages += 1
        try:
            text = frame_text(line)
            message = json.loads(text) if text != "pong" else text
            found = read(message, wanted)
        except (ValueError, KeyError, TypeError) as exc:
            found, problem = None, f"{type(exc).__name__}: {exc}"
        else:
            problem = "unknown shape"
        if found is None:
            unknown += 1
            example = example or f"{dataset.exchange} {source_file}/{where}: {problem}"
            continue
        orders += [order for order in found if order["symbol"] in wanted]
    orders.sort(key=lambda o: (o["symbol"], o["ts"]))
    count = len(orders)

    def column(name: str, kind: pa.DataType) -> pa.Array:
        return pa.array([o[name] for o in orders], kind)

    table = pa.table(
        {
            "exchange": pa.array([dataset.exchange] * count, pa.string()),
            "symbol": column("symbol", pa.string()),
            "ts": column("ts", pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "side": column("side", pa.string()),
            "order_type": column("order_type", pa.string()),
            "time_in_force": column("time_in_force", pa.string()),
            "order_status": column("order_status", pa.string()),
            "price": column("price", pa.float64()),
            "avg_price": column("avg_price", pa.float64()),
            "original_qty_base": column("original_qty", pa.float64()),
            "last_fill_qty_base": column("last_fill_qty", pa.float64()),
            "filled_qty_base": column("filled_qty", pa.float64()),
            "source_file": pa.array([source_file] * count, pa.string()),
        }
    ).cast(LIQUIDATION)
    repairs = (("messages_of_unknown_shape", unknown, example),) if unknown else ()
    return ParsedFile(
        table=table,
        rows_read=messages,
        duplicates_dropped=0,
        had_header=False,
        timestamp_unit="ms",
        repairs=repairs,
        hours_covered=len(closed_hours(folder)),
        gap_seconds=gap_seconds(folder, day),
        messages=messages,
    )


def _stream_dataset(exchange: str) -> Dataset:
    return Dataset(
        exchange,
        "liquidation_stream",
        Kind.LIQUIDATION,
        Cadence.DAILY,
        STREAM_FIRST_DAY,
        None,
        lambda _, day: day.isoformat(),
        description=(
            "Forced orders recorded from the venue's public liquidation stream by `treadmill "
            "record`, one day of closed hourly files: a sample where the venue samples."
        ),
        origin="the recorder's closed hourly files of the day",
        source=Source.RECORDER,
        parse=parse_recorded,
    )


STREAM_DATASETS: tuple[Dataset, ...] = tuple(_stream_dataset(e) for e in READERS)

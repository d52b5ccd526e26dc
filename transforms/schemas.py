"""Canonical Arrow schemas of the staged tables, defined once.

Every instant is ``timestamp[us, UTC]``; rates, prices and sizes are float64; quantities are in
base units (COIN-M contracts are converted, see :mod:`transforms.parse`). Each staged row keeps
``source_file``, the archive-relative path it came from.
"""

from typing import Final

import pyarrow as pa

from transforms.sources import Kind

TIMESTAMP: Final = pa.timestamp("us", tz="UTC")

_KEYS = [
    pa.field("exchange", pa.string(), nullable=False),
    pa.field("symbol", pa.string(), nullable=False),
]
_SOURCE = pa.field("source_file", pa.string(), nullable=False)

KLINE = pa.schema(
    [
        *_KEYS,
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("open", pa.float64()),
        pa.field("high", pa.float64()),
        pa.field("low", pa.float64()),
        pa.field("close", pa.float64()),
        pa.field("volume_base", pa.float64()),
        pa.field("volume_quote", pa.float64()),
        pa.field("trade_count", pa.int64()),
        pa.field("taker_buy_base", pa.float64()),
        pa.field("taker_buy_quote", pa.float64()),
        _SOURCE,
    ]
)

METRICS = pa.schema(
    [
        *_KEYS,
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("oi_base", pa.float64()),
        pa.field("oi_usd", pa.float64()),
        pa.field("top_account_ls_ratio", pa.float64()),
        pa.field("top_position_ls_ratio", pa.float64()),
        pa.field("account_ls_ratio", pa.float64()),
        pa.field("taker_buy_sell_ratio", pa.float64()),
        _SOURCE,
    ]
)

FUNDING_RATE = pa.schema(
    [
        *_KEYS,
        pa.field("funding_time", TIMESTAMP, nullable=False),
        pa.field("calc_time", TIMESTAMP, nullable=False),
        pa.field("funding_interval_hours", pa.int32()),
        pa.field("funding_rate", pa.float64()),
        _SOURCE,
    ]
)

LIQUIDATION = pa.schema(
    [
        *_KEYS,
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("side", pa.string()),
        pa.field("order_type", pa.string()),
        pa.field("time_in_force", pa.string()),
        pa.field("order_status", pa.string()),
        pa.field("price", pa.float64()),
        pa.field("avg_price", pa.float64()),
        pa.field("original_qty_base", pa.float64()),
        pa.field("last_fill_qty_base", pa.float64()),
        pa.field("filled_qty_base", pa.float64()),
        _SOURCE,
    ]
)

STAGED_SCHEMAS: Final[dict[Kind, pa.Schema]] = {
    Kind.KLINE: KLINE,
    Kind.METRICS: METRICS,
    Kind.FUNDING_RATE: FUNDING_RATE,
    Kind.LIQUIDATION: LIQUIDATION,
}

TIME_COLUMN: Final[dict[Kind, str]] = {
    Kind.KLINE: "ts",
    Kind.METRICS: "ts",
    Kind.FUNDING_RATE: "funding_time",
    Kind.LIQUIDATION: "ts",
}
"""The instant each staged row is about, used for sorting and for the partition window."""

"""Canonical Arrow schemas of the staged tables, defined once.

Every instant is ``timestamp[us, UTC]``; rates, prices and sizes are float64; quantities are in
base units (COIN-M contracts are converted, see :mod:`transforms.sources.binance_csv`). Each
staged row keeps ``source_file``, the archive-relative path it came from.
"""

import enum
from typing import Final

import pyarrow as pa


class Kind(enum.StrEnum):
    """The canonical schema family a dataset parses into."""

    KLINE = "kline"
    METRICS = "metrics"
    FUNDING_RATE = "funding_rate"
    LIQUIDATION = "liquidation"
    COT = "cot"
    """A weekly Commitments of Traders report: positions by trader category (CFTC)."""


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

COT_CATEGORIES: Final = ("dealer", "asset_manager", "leveraged_funds", "other_reportable")
"""The trader categories of the Traders in Financial Futures report, in the report's order."""
COT_POSITIONS: Final = (
    *(
        f"{category}_{side}"
        for category in COT_CATEGORIES
        for side in ("long", "short", "spreading")
    ),
    "total_reportable_long",
    "total_reportable_short",
    "nonreportable_long",
    "nonreportable_short",
)
"""Position columns of a COT row, in contracts."""

COT = pa.schema(
    [
        *_KEYS,
        pa.field("as_of", TIMESTAMP, nullable=False),
        pa.field("report_date", pa.date32()),
        pa.field("market_name", pa.string()),
        pa.field("contract_size", pa.float64()),
        pa.field("open_interest", pa.float64()),
        *(pa.field(name, pa.float64()) for name in COT_POSITIONS),
        _SOURCE,
    ]
)
"""One market's weekly Commitments of Traders row (``symbol`` is CFTC's contract market code):
``as_of`` is the Tuesday the positions are as of (00:00 UTC), ``report_date`` the Friday it is
released, ``contract_size`` the coins per contract; open interest and positions in contracts."""

STAGED_SCHEMAS: Final[dict[Kind, pa.Schema]] = {
    Kind.KLINE: KLINE,
    Kind.METRICS: METRICS,
    Kind.FUNDING_RATE: FUNDING_RATE,
    Kind.LIQUIDATION: LIQUIDATION,
    Kind.COT: COT,
}

TIME_COLUMN: Final[dict[Kind, str]] = {
    Kind.KLINE: "ts",
    Kind.METRICS: "ts",
    Kind.FUNDING_RATE: "funding_time",
    Kind.LIQUIDATION: "ts",
    Kind.COT: "as_of",
}
"""The instant each staged row is about, used for sorting and for the partition window."""

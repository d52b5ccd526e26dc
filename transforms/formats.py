"""The raw CSV layouts of the Binance archive, exactly as published.

These are facts about the files (FORMATS.md §1.3), shared by the parsers and by the simulator
that writes archives in the same formats.
"""

from typing import Final

KLINE_COLUMNS: Final = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)

METRICS_COLUMNS: Final = (
    "create_time",
    "symbol",
    "sum_open_interest",
    "sum_open_interest_value",
    "count_toptrader_long_short_ratio",
    "sum_toptrader_long_short_ratio",
    "count_long_short_ratio",
    "sum_taker_long_short_vol_ratio",
)

FUNDING_RATE_COLUMNS: Final = ("calc_time", "funding_interval_hours", "last_funding_rate")

LIQUIDATION_SNAPSHOT_COLUMNS: Final = (
    "time",
    "side",
    "order_type",
    "time_in_force",
    "original_quantity",
    "price",
    "average_price",
    "order_status",
    "last_fill_quantity",
    "accumulated_fill_quantity",
)

METRICS_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"

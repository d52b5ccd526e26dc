"""The raw layouts of the archives, exactly as published: Binance's CSV columns, Hyperliquid's
S3 keys and columns.

These are facts about the files (FORMATS.md §1.3, §5), shared by the parsers and by the
simulator that writes archives in the same formats.
"""

from datetime import UTC, date, datetime
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

HYPERLIQUID_ARCHIVE_BUCKET: Final = "hyperliquid-archive"
"""The bucket of the per-minute asset contexts."""
HYPERLIQUID_NODE_BUCKET: Final = "hl-mainnet-node-data"
"""The bucket of the node's hourly fills."""
HYPERLIQUID_NODE_FILLS: Final = "node_fills"
"""The fills layout before :data:`HYPERLIQUID_FILLS_BY_BLOCK_FROM`: ``["0xUSER",{fill}]`` lines."""
HYPERLIQUID_NODE_FILLS_BY_BLOCK: Final = "node_fills_by_block"
"""The fills layout from :data:`HYPERLIQUID_FILLS_BY_BLOCK_FROM` on: one JSON line per block."""
HYPERLIQUID_FILLS_BY_BLOCK_FROM: Final = datetime(2025, 7, 27, 8, tzinfo=UTC)
"""The first hour written in the ``node_fills_by_block`` layout."""
HYPERLIQUID_HOURLY_FUNDING_FROM: Final = datetime(2023, 6, 8, 0, 5, tzinfo=UTC)
"""Before this instant the asset contexts' ``funding`` is on the 8-hour scale."""
HYPERLIQUID_ASSET_CTXS_COLUMNS: Final = (
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
"""The asset contexts' CSV header, in order."""


def hyperliquid_asset_ctxs_key(day: date) -> str:
    """``hyperliquid-archive/asset_ctxs/YYYYMMDD.csv.lz4``: the day's contexts, one LZ4 frame of
    CSV (bucket/key)."""
    return f"{HYPERLIQUID_ARCHIVE_BUCKET}/asset_ctxs/{day:%Y%m%d}.csv.lz4"


def hyperliquid_fills_layout(hour: datetime) -> str:
    """The layout of ``hour``'s fills: ``node_fills`` before
    :data:`HYPERLIQUID_FILLS_BY_BLOCK_FROM`, ``node_fills_by_block`` from it on."""
    by_block = hour >= HYPERLIQUID_FILLS_BY_BLOCK_FROM
    return HYPERLIQUID_NODE_FILLS_BY_BLOCK if by_block else HYPERLIQUID_NODE_FILLS


def hyperliquid_fills_key(hour: datetime) -> str:
    """``hl-mainnet-node-data/<layout>/hourly/YYYYMMDD/H.lz4``: the fills of the UTC ``hour``
    (``H`` 0…23, not zero padded), one LZ4 frame of JSON lines (bucket/key)."""
    hour = hour.astimezone(UTC)
    layout = hyperliquid_fills_layout(hour)
    return f"{HYPERLIQUID_NODE_BUCKET}/{layout}/hourly/{hour:%Y%m%d}/{hour.hour}.lz4"

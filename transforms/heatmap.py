"""The daily liquidation heatmap: the estimator of :mod:`transforms.liquidation` run day by day.

Each day starts from the level book published for the day before (``feat_liquidation_levels``),
consumes that day's 5-minute bars (mark high/low, close, open interest and its change, taker-buy
share), and publishes the book it ends with, the heatmap binned around the day's last close, and
the hot zones above and below it. Only the day and the days before it are read: no look-ahead.
The first day built starts from an empty book, so the estimate warms up over the first days of a
warehouse.

Everything here is an estimate (DOMAIN.md §1.5) and every row says so in ``method``.
"""

from datetime import date, timedelta
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from transforms import storage
from transforms.facts import FCT_OPEN_INTEREST, FCT_PRICE_1M, FactModel, Input, build_fact
from transforms.liquidation.assumptions import HeatmapConfig
from transforms.liquidation.book import LEVEL_BOOK_SCHEMA, Bars, LevelBook, advance
from transforms.liquidation.zones import HEATMAP_SCHEMA, HOT_ZONES_SCHEMA, heatmap, hot_zones
from transforms.schemas import TIMESTAMP

HEATMAP_BARS: Final = FactModel(
    "heatmap_bars",
    (
        Input(FCT_PRICE_1M.name, (FCT_PRICE_1M.name,), FCT_PRICE_1M.schema),
        Input(FCT_OPEN_INTEREST.name, (FCT_OPEN_INTEREST.name,), FCT_OPEN_INTEREST.schema, 1),
    ),
    pa.schema(
        [
            pa.field("exchange", pa.string(), False),
            pa.field("symbol", pa.string(), False),
            pa.field("ts", TIMESTAMP),
            *(pa.field(c, pa.float64()) for c in ("high", "low", "close")),
            pa.field("oi_base", pa.float64()),
            pa.field("delta_oi_base", pa.float64()),
            pa.field("taker_buy_share", pa.float64()),
        ]
    ),
    layer="features",
)

_KEYS = [
    pa.field("exchange", pa.string(), False),
    pa.field("symbol", pa.string(), False),
    pa.field("ts", TIMESTAMP),
]
LEVELS_SCHEMA: Final = pa.schema([*_KEYS, *LEVEL_BOOK_SCHEMA])
HEATMAP_TABLE_SCHEMA: Final = pa.schema([*_KEYS, *HEATMAP_SCHEMA])
HOT_ZONES_TABLE_SCHEMA: Final = pa.schema([*_KEYS, *HOT_ZONES_SCHEMA])
LEVELS_TABLE: Final = "feat_liquidation_levels"


def _with_keys(table: pa.Table, exchange: str, symbol: str, ts: object) -> pa.Table:
    rows = table.num_rows
    keyed = pa.table(
        {
            "exchange": pa.repeat(pa.scalar(exchange), rows),
            "symbol": pa.repeat(pa.scalar(symbol), rows),
            "ts": pa.repeat(pa.scalar(ts, TIMESTAMP), rows),
        }
    )
    for name in table.column_names:
        keyed = keyed.append_column(name, table[name])
    return keyed


def _previous_book(lake_root: Path, day: date, exchange: str, symbol: str) -> LevelBook:
    levels = storage.read_partition(lake_root, LEVELS_TABLE, day - timedelta(days=1), LEVELS_SCHEMA)
    if levels is None:
        return LevelBook.empty()
    mine = levels.filter(
        pc.and_(pc.equal(levels["exchange"], exchange), pc.equal(levels["symbol"], symbol))
    )
    return LevelBook.from_arrow(mine.select(LEVEL_BOOK_SCHEMA.names))


def build_heatmap_day(
    day: date, lake_root: Path, config: HeatmapConfig | None = None
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """The day's level book, heatmap and hot zones for every perpetual with bars that day."""
    config = config or HeatmapConfig()
    bars = build_fact(HEATMAP_BARS, day, lake_root)
    levels, maps, zones = [], [], []
    pairs = sorted(set(zip(bars["exchange"].to_pylist(), bars["symbol"].to_pylist(), strict=True)))
    for exchange, symbol in pairs:
        mine = bars.filter(
            pc.and_(pc.equal(bars["exchange"], exchange), pc.equal(bars["symbol"], symbol))
        )
        book = advance(
            _previous_book(lake_root, day, exchange, symbol), Bars.from_arrow(mine), config
        )
        close = mine["close"][-1].as_py()
        as_of = mine["ts"][-1].as_py()
        levels.append(_with_keys(book.to_arrow(), exchange, symbol, as_of))
        if close:
            maps.append(_with_keys(heatmap(book, close, config), exchange, symbol, as_of))
            zones.append(_with_keys(hot_zones(book, close, config), exchange, symbol, as_of))

    def combine(parts: list[pa.Table], schema: pa.Schema) -> pa.Table:
        return pa.concat_tables([p.cast(schema) for p in parts]) if parts else schema.empty_table()

    return (
        combine(levels, LEVELS_SCHEMA),
        combine(maps, HEATMAP_TABLE_SCHEMA),
        combine(zones, HOT_ZONES_TABLE_SCHEMA),
    )

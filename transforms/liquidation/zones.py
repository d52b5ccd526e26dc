"""What the level book is published as: the heatmap binned around a close, and its hot zones.

Both are estimates and relative (DOMAIN.md §1.5): every row carries the config's ``method``.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from transforms.liquidation.assumptions import HeatmapConfig
from transforms.liquidation.book import LevelBook

HEATMAP_SCHEMA: Final = pa.schema(
    [
        pa.field("bin", pa.int32(), nullable=False),
        pa.field("price_low", pa.float64(), nullable=False),
        pa.field("price_high", pa.float64(), nullable=False),
        pa.field("side", pa.string(), nullable=False),
        pa.field("est_notional_usd", pa.float64(), nullable=False),
        pa.field("share", pa.float64(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
    ]
)

HOT_ZONES_SCHEMA: Final = pa.schema(
    [
        pa.field("position", pa.string(), nullable=False),
        pa.field("rank", pa.int32(), nullable=False),
        pa.field("price_low", pa.float64(), nullable=False),
        pa.field("price_high", pa.float64(), nullable=False),
        pa.field("distance_pct", pa.float64(), nullable=False),
        pa.field("est_notional_usd", pa.float64(), nullable=False),
        pa.field("share", pa.float64(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
    ]
)


def _bins(book: LevelBook, close: float, config: HeatmapConfig) -> npt.NDArray[np.int64]:
    if not (math.isfinite(close) and close > 0):
        raise ValueError("the reference close must be finite and positive")
    bins: npt.NDArray[np.int64] = np.floor((book.price / close - 1.0) / config.bin_width).astype(
        np.int64
    )
    return bins


def heatmap(book: LevelBook, close: float, config: HeatmapConfig) -> pa.Table:
    """Bin the active levels relative to ``close``: the estimated liquidation heatmap.

    Bin ``k`` spans ``[close·(1 + k·w), close·(1 + (k+1)·w))`` for bin width ``w``, so bins
    below the close have negative ``k`` and none straddles it. One row per non-empty (bin,
    side), sorted by price then side; ``est_notional_usd`` sums to the book's total and
    ``share`` is its fraction of the book. The numbers are an estimate and relative: the
    ``method`` column says so.
    """
    bins = _bins(book, close, config)
    if bins.size == 0:
        return HEATMAP_SCHEMA.empty_table()
    side_key = np.where(book.is_long, 0, 1)
    order = np.lexsort((side_key, bins))
    bins, side_key = bins[order], side_key[order]
    starts = np.flatnonzero(
        np.concatenate([[True], (bins[1:] != bins[:-1]) | (side_key[1:] != side_key[:-1])])
    )
    sums = np.add.reduceat(book.notional_usd[order], starts)
    k = bins[starts]
    width = config.bin_width
    return pa.table(
        {
            "bin": pa.array(k, pa.int32()),
            "price_low": pa.array(close * (1.0 + k * width), pa.float64()),
            "price_high": pa.array(close * (1.0 + (k + 1) * width), pa.float64()),
            "side": pa.array(np.where(side_key[starts] == 0, "long", "short"), pa.string()),
            "est_notional_usd": pa.array(sums, pa.float64()),
            "share": pa.array(sums / book.total_usd, pa.float64()),
            "method": pa.array([config.method] * k.size, pa.string()),
        },
        schema=HEATMAP_SCHEMA,
    )


def hot_zones(book: LevelBook, close: float, config: HeatmapConfig, top_n: int = 1) -> pa.Table:
    """The ``top_n`` largest estimated clusters below and above ``close``. An estimate.

    A cluster is one heatmap bin (both sides summed). Rows: ``position`` 'below' or 'above',
    ``rank`` from 1 by size (ties go to the bin nearer the close), the bin's prices,
    ``distance_pct`` from the close to the bin's midpoint in percent (negative below), the
    estimated notional and its share of the book. A side with no levels has no row.
    """
    if top_n < 1:
        raise ValueError("top_n must be at least 1")
    bins = _bins(book, close, config)
    if bins.size == 0:
        return HOT_ZONES_SCHEMA.empty_table()
    unique, inverse = np.unique(bins, return_inverse=True)
    sizes = np.bincount(inverse, weights=book.notional_usd)
    width = config.bin_width
    rows: dict[str, list[object]] = {name: [] for name in HOT_ZONES_SCHEMA.names}
    for position, mask in (("below", unique < 0), ("above", unique >= 0)):
        k, size = unique[mask], sizes[mask]
        midpoint = k + 0.5
        ranked = np.lexsort((np.abs(midpoint), -size))[:top_n]
        for rank, i in enumerate(ranked, start=1):
            rows["position"].append(position)
            rows["rank"].append(rank)
            rows["price_low"].append(close * (1.0 + float(k[i]) * width))
            rows["price_high"].append(close * (1.0 + float(k[i] + 1) * width))
            rows["distance_pct"].append(float(midpoint[i]) * width * 100.0)
            rows["est_notional_usd"].append(float(size[i]))
            rows["share"].append(float(size[i]) / book.total_usd)
            rows["method"].append(config.method)
    return pa.table(rows, schema=HOT_ZONES_SCHEMA)

"""The estimated liquidation level book, carried through a day's bars (DOMAIN.md §1.5).

New open interest in a bar is taken to be new positions, split into longs and shorts by the
bar's taker-buy share, spread over assumed leverage tiers, and parked at each tier's exact
liquidation price until the mark price crosses it or open interest falls. An estimate, a
relative intensity, not USD that will be liquidated. Pure functions over numpy and Arrow,
deterministic; the book is carried from one day to the next by the caller
(:meth:`LevelBook.to_arrow` / :meth:`LevelBook.from_arrow`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from transforms.liquidation.assumptions import HeatmapConfig
from transforms.liquidation.prices import BoolArray, FloatArray, IntArray, Side

_SIDES: Final[tuple[Side, Side]] = ("long", "short")

LEVEL_BOOK_SCHEMA: Final = pa.schema(
    [
        pa.field("side", pa.string(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),
        pa.field("est_notional_usd", pa.float64(), nullable=False),
    ]
)


@dataclass(frozen=True, eq=False)
class LevelBook:
    """The estimated liquidation levels still active after some bars: side, price, USD.

    Each level is the estimated notional of positions assumed opened since tracking began
    whose liquidation price is ``price`` and which price has not crossed yet. An estimate, not
    observed positions.
    """

    is_long: BoolArray
    price: FloatArray
    notional_usd: FloatArray

    def __post_init__(self) -> None:
        is_long = np.asarray(self.is_long, dtype=np.bool_)
        price = np.asarray(self.price, dtype=np.float64)
        notional = np.asarray(self.notional_usd, dtype=np.float64)
        if not is_long.shape == price.shape == notional.shape or is_long.ndim != 1:
            raise ValueError("level book columns must be 1-d arrays of one length")
        object.__setattr__(self, "is_long", is_long)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "notional_usd", notional)

    @classmethod
    def empty(cls) -> LevelBook:
        """No levels: the state before the first day of history."""
        return cls(np.zeros(0, np.bool_), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return int(self.price.size)

    @property
    def total_usd(self) -> float:
        """Estimated notional of all active levels."""
        return float(self.notional_usd.sum())

    def to_arrow(self) -> pa.Table:
        """The book as a table (to carry it to the next day through the lake)."""
        return pa.table(
            {
                "side": pa.array(np.where(self.is_long, "long", "short"), pa.string()),
                "price": pa.array(self.price, pa.float64()),
                "est_notional_usd": pa.array(self.notional_usd, pa.float64()),
            },
            schema=LEVEL_BOOK_SCHEMA,
        )

    @classmethod
    def from_arrow(cls, table: pa.Table) -> LevelBook:
        """Read a book written by :meth:`to_arrow`."""
        sides = table.column("side").to_pylist()
        if any(s not in ("long", "short") for s in sides):
            raise ValueError("level book side must be 'long' or 'short'")
        return cls(
            np.array([s == "long" for s in sides], dtype=np.bool_),
            table.column("price").to_numpy(zero_copy_only=False).astype(np.float64),
            table.column("est_notional_usd").to_numpy(zero_copy_only=False).astype(np.float64),
        )


@dataclass(frozen=True, eq=False)
class Bars:
    """One symbol's bars in strictly increasing time, the heatmap's input.

    ``high``/``low``/``close`` are of the mark price where available (liquidation triggers on
    the mark), else of the trade price. ``delta_oi_base`` is the change in open interest during
    the bar in base units (5-minute OI changes spread over the bars they cover) and ``oi_base``
    the whole market's open interest the change reached, so ``oi_base − delta_oi_base`` is the
    open interest before it. ``taker_buy_share`` is taker-buy volume over total volume in
    [0, 1]. NaN is allowed everywhere but ``ts``: a NaN high/low crosses nothing, a NaN close
    places nothing, a NaN ΔOI places and removes nothing, a fall in OI with no positive open
    interest before it removes nothing, a NaN share falls back to the configured split.
    """

    ts: npt.NDArray[np.datetime64]
    high: FloatArray
    low: FloatArray
    close: FloatArray
    oi_base: FloatArray
    delta_oi_base: FloatArray
    taker_buy_share: FloatArray

    def __post_init__(self) -> None:
        ts = np.asarray(self.ts, dtype="datetime64[us]")
        object.__setattr__(self, "ts", ts)
        for name in ("high", "low", "close", "oi_base", "delta_oi_base", "taker_buy_share"):
            column = np.asarray(getattr(self, name), dtype=np.float64)
            if column.shape != ts.shape or column.ndim != 1:
                raise ValueError(f"bars column {name} must be 1-d and as long as ts")
            object.__setattr__(self, name, column)
        if np.any(np.diff(ts) <= np.timedelta64(0, "us")):
            raise ValueError("bars must be in strictly increasing time")

    def __len__(self) -> int:
        return int(self.ts.size)

    @classmethod
    def from_arrow(cls, table: pa.Table) -> Bars:
        """Bars from a table with columns ts, high, low, close, oi_base, delta_oi_base and
        taker_buy_share.

        Rows are sorted by ``ts`` first.
        """
        table = table.sort_by("ts")

        def column(name: str) -> FloatArray:
            values: FloatArray = (
                table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
            )
            return values

        return cls(
            table.column("ts").to_numpy(),
            column("high"),
            column("low"),
            column("close"),
            column("oi_base"),
            column("delta_oi_base"),
            column("taker_buy_share"),
        )


def _first_crossing(
    prices: FloatArray, is_long: BoolArray, lows: FloatArray, highs: FloatArray, start: int
) -> IntArray:
    """Index of the first bar at or after ``start`` whose range reaches each level, else len.

    A long level at ``p`` is reached when a bar's low ≤ p, a short one when a bar's high ≥ p.
    Running extremes are monotone, so each answer is one binary search.
    """
    total = lows.size
    result = np.full(prices.size, total, dtype=np.intp)
    if start >= total:
        return result
    running_low = np.minimum.accumulate(lows[start:])
    running_high = np.maximum.accumulate(highs[start:])
    result[is_long] = start + np.searchsorted(-running_low, -prices[is_long], side="left")
    result[~is_long] = start + np.searchsorted(running_high, prices[~is_long], side="left")
    return result


def advance(book: LevelBook, bars: Bars, config: HeatmapConfig) -> LevelBook:
    """Carry the estimated level book through a day's bars (DOMAIN §1.5). An estimate.

    Each bar, in time order:

    1. consume: drop every long level with ``low ≤ price`` and every short level with
       ``high ≥ price`` (positions assumed liquidated);
    2. add, if ΔOI > 0: the new notional ``ΔOI × close`` is split into longs (taker-buy share)
       and shorts, spread over the leverage tiers by weight, and added at each tier's exact
       liquidation price for entry = close (a bar's own range never consumes its new levels);
    3. remove, if ΔOI < 0: the market's open interest fell from ``OI_before`` to ``OI_after``,
       so every active level keeps ``OI_after / OI_before`` of its notional (positions assumed
       closed at the market's rate, whichever side and leverage). A 20% fall in OI removes 20%
       of the book, whatever the book's USD size: the book holds only positions opened since
       tracking began, a small part of the market's OI, so taking the fall's USD from it
       (``|ΔOI| × close``) would empty it at every flush. OI falling to zero or below empties
       the book; a fall with no positive ``OI_before`` to measure it against (missing or
       inconsistent open interest) removes nothing, as a missing ΔOI does.

    Then levels are merged and pruned as configured. All levels a day can create are known
    from its bars alone, so the bar at which each level is crossed is found with binary searches
    over running extremes, and removal is one cumulative factor: no step runs bar by bar.
    """
    count = len(bars)
    if count == 0:
        return _compact(book.is_long, book.price, book.notional_usd, config)
    lows = np.where(np.isnan(bars.low), np.inf, bars.low)
    highs = np.where(np.isnan(bars.high), -np.inf, bars.high)
    valid_close = np.isfinite(bars.close) & (bars.close > 0)
    delta = np.nan_to_num(bars.delta_oi_base, nan=0.0)
    opened = np.where(valid_close, delta, 0.0)
    share = np.clip(
        np.where(np.isnan(bars.taker_buy_share), config.fallback_long_share, bars.taker_buy_share),
        0.0,
        1.0,
    )

    adding = np.flatnonzero(opened > 0)
    entries = bars.close[adding]
    added_usd = opened[adding] * entries
    side_share = {"long": share[adding], "short": 1.0 - share[adding]}
    # Level layout per adding bar: one row, columns (side, tier); row-major ravel keeps levels in
    # time order, which makes the book deterministic.
    tier_count = len(config.tiers)
    new_price = np.empty((adding.size, 2, tier_count))
    new_usd = np.empty((adding.size, 2, tier_count))
    for s, side in enumerate(_SIDES):
        for k, tier in enumerate(config.tiers):
            new_price[:, s, k] = config.liquidation_prices(entries, tier, side)
            new_usd[:, s, k] = added_usd * side_share[side] * tier.weight
    new_long = np.zeros((adding.size, 2, tier_count), dtype=np.bool_)
    new_long[:, 0, :] = True
    new_bar = np.broadcast_to(adding[:, None, None], new_price.shape)
    new_death = np.empty(new_price.shape, dtype=np.intp)
    for row, born in enumerate(adding):
        new_death[row] = _first_crossing(
            new_price[row].ravel(), new_long[row].ravel(), lows, highs, int(born) + 1
        ).reshape(2, tier_count)

    keep = (new_usd.ravel() > 0) & (new_price.ravel() > 0)
    # Carried levels sit before the first bar (birth −1); new ones are born at their bar.
    is_long = np.concatenate([book.is_long, new_long.ravel()[keep]])
    price = np.concatenate([book.price, new_price.ravel()[keep]])
    usd = np.concatenate([book.notional_usd, new_usd.ravel()[keep]])
    birth = np.concatenate([np.full(len(book), -1, np.intp), new_bar.ravel()[keep]])
    death = np.concatenate(
        [_first_crossing(book.price, book.is_long, lows, highs, 0), new_death.ravel()[keep]]
    )

    # The fraction of open interest each falling bar closed, |ΔOI| / OI_before; 0 where OI did
    # not fall or there is no positive OI_before to measure the fall against.
    oi_before = bars.oi_base - delta
    falling = (delta < 0) & np.isfinite(oi_before) & (oi_before > 0)
    closed = np.zeros(count)
    closed[falling] = -delta[falling] / oi_before[falling]
    # Every active level keeps the same factor 1 − closed, so a level's value is its initial
    # notional times exp(log_scale[count] − log_scale[birth + 1]); log_scale[b + 1] holds the
    # cumulative log factor after bar b. A bar that closes all of OI (factor 0) is a reset
    # instead: levels born before the last one are gone. A falling bar adds nothing, so no level
    # is born at a reset.
    wiped = closed >= 1.0
    log_scale = np.concatenate([[0.0], np.cumsum(np.log1p(-np.where(wiped, 0.0, closed)))])
    reset = int(np.flatnonzero(wiped)[-1]) if wiped.any() else -1

    survives = (death == count) & (birth >= reset)
    value = usd[survives] * np.exp(log_scale[count] - log_scale[birth[survives] + 1])
    return _compact(is_long[survives], price[survives], value, config)


def _compact(
    is_long: BoolArray, price: FloatArray, usd: FloatArray, config: HeatmapConfig
) -> LevelBook:
    """Merge same-side levels within ``merge_tolerance`` and drop those below ``min_level_usd``.

    Merged levels sit at their notional-weighted price; the result is sorted by side (longs
    first), then price.
    """
    positive = usd > 0
    is_long, price, usd = is_long[positive], price[positive], usd[positive]
    if price.size == 0:
        return LevelBook.empty()
    tolerance = config.merge_tolerance
    cell = np.floor(np.log(price) / math.log1p(tolerance)) if tolerance > 0 else price
    side_key = np.where(is_long, 0, 1)
    order = np.lexsort((price, cell, side_key))
    side_key, cell = side_key[order], cell[order]
    starts = np.flatnonzero(
        np.concatenate([[True], (side_key[1:] != side_key[:-1]) | (cell[1:] != cell[:-1])])
    )
    merged_usd = np.add.reduceat(usd[order], starts)
    merged_price = np.add.reduceat(usd[order] * price[order], starts) / merged_usd
    # A level merged with nothing keeps its exact price, not usd·price/usd with its rounding.
    merged_price = np.where(
        np.add.reduceat(np.ones(order.size), starts) == 1, price[order][starts], merged_price
    )
    kept = merged_usd >= config.min_level_usd
    return LevelBook(side_key[starts][kept] == 0, merged_price[kept], merged_usd[kept])

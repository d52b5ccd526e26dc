"""Liquidation prices and the estimated liquidation heatmap.

Two layers, both written from ``reference/DOMAIN.md``:

- the *exact* liquidation price of a Binance USDⓈ-M position in isolated margin, one-way mode,
  under the maintenance brackets of a dated snapshot (DOMAIN §1.4). It is not the naive
  ``entry × (1 ∓ 1/L)`` most open code uses: at 100x the exact level sits 0.60% from entry, not
  1.0%;
- the liquidation *heatmap*, an **estimate** built the way every vendor builds one (DOMAIN
  §1.5): new open interest in a bar is taken to be new positions, split into longs and shorts
  by the bar's taker-buy share, spread over assumed leverage tiers, and parked at each tier's
  exact liquidation price until the mark price crosses it or open interest falls. No public data
  says how much leverage traders use, so the result is a relative intensity, not USD that will
  be liquidated; every table built here says so in its ``method`` column.

Pure functions over numpy and Arrow, deterministic, no Dagster. The book of active levels is
carried from one day to the next by the caller (:meth:`LevelBook.to_arrow` /
:meth:`LevelBook.from_arrow`).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Side = Literal["long", "short"]
_SIDES: Final[tuple[Side, Side]] = ("long", "short")
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

BRACKETS_PATH: Final = (
    Path(__file__).resolve().parent / "data" / "binance_um_leverage_brackets_2024-10-24.json"
)
"""The bracket snapshot used for every symbol until per-symbol snapshots are added."""

DEFAULT_NOTIONAL_USD: Final = 10_000.0
"""A small position, inside tier 1 (cum = 0), where LP/entry depends only on L and MMR."""


@dataclass(frozen=True)
class Bracket:
    """One maintenance-margin bracket: positions with ``notional_floor ≤ notional < notional_cap``.

    The maintenance margin of a position of notional ``N`` in this bracket is ``N·mmr − cum``.
    """

    tier: int
    notional_floor: float
    notional_cap: float
    mmr: float
    cum: float
    max_leverage: float

    def maintenance_margin(self, notional: float) -> float:
        return notional * self.mmr - self.cum


@dataclass(frozen=True)
class BracketSnapshot:
    """A dated copy of an exchange's bracket table, with where it was taken from."""

    symbol: str
    snapshot_date: date
    source: str
    note: str
    brackets: tuple[Bracket, ...]


@lru_cache(maxsize=8)
def load_bracket_snapshot(path: Path = BRACKETS_PATH) -> BracketSnapshot:
    """Read and validate a bracket snapshot file.

    Brackets must start at 0, be contiguous, have rising MMR and satisfy the recurrence
    ``cum_n = cum_{n−1} + floor_n·(MMR_n − MMR_{n−1})``, which keeps the maintenance margin
    continuous across bracket edges; a transcription error breaks one of these.
    """
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    brackets = tuple(
        Bracket(
            tier=int(b["tier"]),
            notional_floor=float(b["notional_floor"]),
            notional_cap=float(b["notional_cap"]),
            mmr=float(b["mmr"]),
            cum=float(b["cum"]),
            max_leverage=float(b["max_leverage"]),
        )
        for b in raw["brackets"]
    )
    _validate_brackets(brackets, str(path))
    return BracketSnapshot(
        symbol=str(raw["symbol"]),
        snapshot_date=date.fromisoformat(raw["snapshot_date"]),
        source=str(raw["source"]),
        note=str(raw.get("note", "")),
        brackets=brackets,
    )


def _validate_brackets(brackets: Sequence[Bracket], origin: str) -> None:
    if not brackets or brackets[0].notional_floor != 0.0 or brackets[0].cum != 0.0:
        raise ValueError(f"{origin}: brackets must start at notional 0 with cum 0")
    for previous, current in itertools.pairwise(brackets):
        if current.notional_floor != previous.notional_cap:
            raise ValueError(f"{origin}: tier {current.tier} does not start where the last ends")
        if current.mmr <= previous.mmr:
            raise ValueError(f"{origin}: MMR must rise from tier {previous.tier} to {current.tier}")
        expected = previous.cum + current.notional_floor * (current.mmr - previous.mmr)
        if not math.isclose(current.cum, expected, rel_tol=1e-9, abs_tol=1e-6):
            raise ValueError(f"{origin}: tier {current.tier} cum {current.cum} != {expected}")


def load_brackets(path: Path = BRACKETS_PATH) -> tuple[Bracket, ...]:
    """The maintenance brackets of a snapshot file (by default the bundled 2024-10-24 one)."""
    return load_bracket_snapshot(path).brackets


def _resolve(brackets: Sequence[Bracket] | None) -> tuple[Bracket, ...]:
    return load_brackets() if brackets is None else tuple(brackets)


def _bracket_index(notional: FloatArray, brackets: Sequence[Bracket]) -> IntArray:
    floors = np.array([b.notional_floor for b in brackets])
    if np.any(notional < 0) or np.any(notional >= brackets[-1].notional_cap):
        raise ValueError(
            f"notional outside the bracket snapshot [0, {brackets[-1].notional_cap:,.0f}) USDT"
        )
    return np.searchsorted(floors, notional, side="right") - 1


def bracket_for(notional: float, brackets: Sequence[Bracket] | None = None) -> Bracket:
    """The bracket a position of ``notional`` USDT falls in (floor inclusive, cap exclusive)."""
    table = _resolve(brackets)
    return table[int(_bracket_index(np.array([notional], dtype=np.float64), table)[0])]


def liquidation_prices(
    entry: npt.ArrayLike,
    leverage: npt.ArrayLike,
    side: Side,
    notional: npt.ArrayLike | None = None,
    brackets: Sequence[Bracket] | None = None,
) -> FloatArray:
    """Exact Binance USDⓈ-M liquidation prices, vectorised (isolated margin, one-way mode).

    A position of notional ``N = Q·EP`` opened at leverage ``L`` with no extra margin
    (``WB = N/L``) is liquidated when the mark reaches (DOMAIN §1.4)::

        LP_long  = EP · (1 − 1/L − cum/N) / (1 − MMR)
        LP_short = EP · (1 + 1/L + cum/N) / (1 + MMR)

    with ``MMR``/``cum`` of the bracket of ``N``. If the notional at the liquidation price,
    ``Q·LP``, falls in another bracket, the price is recomputed with that bracket until the two
    agree. Because the maintenance margin is continuous and convex in the notional, this
    converges (monotonically, in at most one pass per bracket) to the unique price at which
    margin equals maintenance margin. A long that cannot be liquidated (LP ≤ 0) gets 0.

    ``entry``, ``leverage`` and ``notional`` broadcast; ``notional`` defaults to a small tier-1
    position. Raises ``ValueError`` for a leverage the bracket of ``N`` does not allow.
    """
    table = _resolve(brackets)
    default = DEFAULT_NOTIONAL_USD if notional is None else notional
    ep, lev, size = np.broadcast_arrays(
        np.asarray(entry, dtype=np.float64),
        np.asarray(leverage, dtype=np.float64),
        np.asarray(default, dtype=np.float64),
    )
    if not (np.all(np.isfinite(ep)) and np.all(ep > 0)):
        raise ValueError("entry prices must be finite and positive")
    if not np.all(size > 0):
        raise ValueError("position notional must be positive")
    if not np.all(lev >= 1):
        raise ValueError("leverage must be at least 1")
    mmr = np.array([b.mmr for b in table])
    cum = np.array([b.cum for b in table])
    max_leverage = np.array([b.max_leverage for b in table])

    index = _bracket_index(size, table)
    if np.any(lev > max_leverage[index]):
        raise ValueError("leverage above the bracket's maximum for this position notional")
    sign = 1.0 if side == "long" else -1.0

    def solve(bracket: IntArray) -> FloatArray:
        result: FloatArray = (
            ep * (1.0 - sign / lev - sign * cum[bracket] / size) / (1.0 - sign * mmr[bracket])
        )
        return result

    price = solve(index)
    for _ in range(len(table)):
        at_liquidation = _bracket_index(np.maximum(size * price / ep, 0.0), table)
        if np.array_equal(at_liquidation, index):
            break
        index = at_liquidation
        price = solve(index)
    result: FloatArray = np.maximum(price, 0.0)
    return result


def liquidation_price(
    entry: float,
    leverage: float,
    side: Side,
    notional: float | None = None,
    brackets: Sequence[Bracket] | None = None,
) -> float:
    """Exact Binance USDⓈ-M liquidation price of one position; see :func:`liquidation_prices`."""
    return float(liquidation_prices(entry, leverage, side, notional, brackets))


def naive_liquidation_prices(
    entry: npt.ArrayLike, leverage: npt.ArrayLike, side: Side
) -> FloatArray:
    """``entry × (1 ∓ 1/L)``: the maintenance-free level most open code uses, for comparison."""
    sign = 1.0 if side == "long" else -1.0
    prices: FloatArray = np.asarray(entry, dtype=np.float64) * (
        1.0 - sign / np.asarray(leverage, dtype=np.float64)
    )
    return prices


def naive_liquidation_price(entry: float, leverage: float, side: Side) -> float:
    """One naive level; see :func:`naive_liquidation_prices`."""
    return float(naive_liquidation_prices(entry, leverage, side))


@dataclass(frozen=True)
class LeverageTier:
    """An assumed share (``weight``) of new positions opened at ``leverage``.

    ``position_notional_usd`` is the typical position size assumed for the tier; it picks the
    maintenance bracket, and must be one whose maximum leverage allows ``leverage``.
    """

    leverage: float
    weight: float
    position_notional_usd: float = DEFAULT_NOTIONAL_USD


DEFAULT_TIERS: Final = (
    LeverageTier(10.0, 0.30),
    LeverageTier(25.0, 0.25),
    LeverageTier(50.0, 0.20),
    LeverageTier(75.0, 0.15),
    LeverageTier(100.0, 0.10),
)
"""CoinGlass's displayed tiers (10/25/50/75/100x); the weights are a guess no public data backs."""


@dataclass(frozen=True)
class HeatmapConfig:
    """Assumptions of the heatmap estimate (DOMAIN §1.5); every one is a modelling choice.

    - ``tiers``: leverage tiers and weights (weights sum to 1). The defaults follow CoinGlass's
      displayed tiers; the weights are unsupported by public data.
    - ``bin_width``: heatmap bin width as a fraction of the reference close (0.0025 = 0.25%).
    - ``fallback_long_share``: share of new OI taken as longs when a bar has no taker-buy share.
      Otherwise the side split is the bar's taker-buy share: aggressive buying is read as longs
      opening, aggressive selling as shorts opening.
    - ``merge_tolerance``: after each :func:`advance`, levels of one side closer than this
      relative distance are merged (notional-weighted price), so the carried book stays bounded
      over years of history; 0 keeps exact prices (only identical prices merge).
    - ``min_level_usd``: levels shrunk below this estimated notional are dropped.
    - ``brackets``: maintenance brackets; ``None`` is the bundled snapshot.
    - ``formula``: ``"exact"`` (Binance's formula with maintenance brackets, the default) or
      ``"naive"`` (``entry × (1 ∓ 1/L)``), kept to measure what the exact formula buys.

    Entry is the bar close.
    """

    tiers: tuple[LeverageTier, ...] = DEFAULT_TIERS
    bin_width: float = 0.0025
    fallback_long_share: float = 0.5
    merge_tolerance: float = 0.0001
    min_level_usd: float = 1.0
    brackets: tuple[Bracket, ...] | None = None
    formula: Literal["exact", "naive"] = "exact"

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError("at least one leverage tier is needed")
        if any(t.weight <= 0 for t in self.tiers):
            raise ValueError("tier weights must be positive")
        if not math.isclose(sum(t.weight for t in self.tiers), 1.0, abs_tol=1e-9):
            raise ValueError("tier weights must sum to 1 so that all new OI is placed")
        for tier in self.tiers:
            bracket = bracket_for(tier.position_notional_usd, self.brackets)
            if not 1 <= tier.leverage <= bracket.max_leverage:
                raise ValueError(
                    f"{tier.leverage:g}x is not allowed for a {tier.position_notional_usd:,.0f}"
                    f" USDT position (bracket {bracket.tier} caps at {bracket.max_leverage:g}x)"
                )
        if not 0 < self.bin_width < 1:
            raise ValueError("bin_width is a fraction of price in (0, 1)")
        if not 0 <= self.fallback_long_share <= 1:
            raise ValueError("fallback_long_share is a fraction in [0, 1]")
        if self.formula not in ("exact", "naive"):
            raise ValueError(f"formula must be 'exact' or 'naive', not {self.formula!r}")
        if self.merge_tolerance < 0 or self.min_level_usd < 0:
            raise ValueError("merge_tolerance and min_level_usd must not be negative")

    @property
    def method(self) -> str:
        """The label every heatmap row carries: what the numbers are and are not."""
        tiers = "/".join(f"{t.leverage:g}" for t in self.tiers)
        levels = {
            "exact": "Binance exact liquidation prices",
            "naive": "naive entry×(1∓1/L) levels",
        }[self.formula]
        return (
            f"estimate: ΔOI over leverage tiers {tiers}x at {levels}"
            " (DOMAIN §1.5); relative intensity, not USD to be liquidated"
        )

    def liquidation_prices(self, entry: FloatArray, tier: LeverageTier, side: Side) -> FloatArray:
        """Where a tier's positions opened at ``entry`` are liquidated, by this config's formula."""
        if self.formula == "naive":
            return naive_liquidation_prices(entry, tier.leverage, side)
        return liquidation_prices(
            entry, tier.leverage, side, tier.position_notional_usd, self.brackets
        )


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

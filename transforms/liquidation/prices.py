"""Exact liquidation prices of Binance USDⓈ-M positions, from dated maintenance brackets.

The liquidation price of a position in isolated margin, one-way mode, under the maintenance
brackets of a dated snapshot (``reference/DOMAIN.md`` §1.4). It is not the naive
``entry × (1 ∓ 1/L)`` most open code uses (kept here for comparison): at 100x the exact level
sits 0.60% from entry, not 1.0%. The snapshot is a JSON file in ``transforms/data/``.
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

Side = Literal["long", "short"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

BRACKETS_PATH: Final = (
    Path(__file__).resolve().parents[1] / "data" / "binance_um_leverage_brackets_2024-10-24.json"
)
"""The bracket snapshot in ``transforms/data/``, used for every symbol until per-symbol snapshots
are added."""

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

"""Exchange rules the simulated market obeys: maintenance brackets, liquidation price, funding.

This is the simulator's own implementation, written from DOMAIN.md §1.1 and §1.4, and kept
independent of the warehouse's estimation code on purpose: the simulator is the oracle the
warehouse is scored against, so the two must not share a bug.
"""

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Bracket:
    """One maintenance-margin bracket: positions with notional in [floor, cap) use it."""

    floor: float
    cap: float
    mmr: float
    cum: float
    max_leverage: int


# Binance BTCUSDT brackets 1–8 (freqtrade's binance_leverage_tiers.json, 2024-10-24, quoted in
# DOMAIN.md §1.4). ETHUSDT shares tiers 1–4; the simulator uses this table for every symbol.
BRACKETS: Final = (
    Bracket(0.0, 50e3, 0.004, 0.0, 125),
    Bracket(50e3, 600e3, 0.005, 50.0, 100),
    Bracket(600e3, 3e6, 0.0065, 950.0, 75),
    Bracket(3e6, 12e6, 0.01, 11_450.0, 50),
    Bracket(12e6, 70e6, 0.02, 131_450.0, 25),
    Bracket(70e6, 100e6, 0.025, 481_450.0, 20),
    Bracket(100e6, 230e6, 0.05, 2_981_450.0, 10),
    Bracket(230e6, 480e6, 0.10, 14_481_450.0, 5),
)

FUNDING_ANCHOR: Final = 0.0001
"""Binance's interest component: 0.01% per 8 hours."""
FUNDING_CLAMP: Final = 0.0005
"""The clamp on (anchor − average premium): ±0.05%."""
FUNDING_CAP: Final = 0.003
"""The cap on any settled rate: ±0.75 × the 0.4% tier-1 maintenance rate."""


def bracket_for(notional: float) -> Bracket:
    for bracket in BRACKETS:
        if notional < bracket.cap:
            return bracket
    return BRACKETS[-1]


def liquidation_price(entry: float, leverage: float, notional: float, is_long: bool) -> float:
    """Exact isolated-margin liquidation price of a position opened at ``leverage``.

    ``LP = EP·(1 − 1/L − cum/N)/(1 − MMR)`` for a long and ``EP·(1 + 1/L + cum/N)/(1 + MMR)``
    for a short, with the bracket of the position's notional ``N``. If the notional at that
    price falls in another bracket, the formula is applied again with that bracket.
    """
    bracket = bracket_for(notional)
    for _ in range(len(BRACKETS)):
        if is_long:
            price = entry * (1 - 1 / leverage - bracket.cum / notional) / (1 - bracket.mmr)
        else:
            price = entry * (1 + 1 / leverage + bracket.cum / notional) / (1 + bracket.mmr)
        at_price = bracket_for(notional * price / entry)
        if at_price == bracket:
            break
        bracket = at_price
    return price


def bankruptcy_price(entry: float, leverage: float, is_long: bool) -> float:
    """The price at which the position's margin is exactly lost: the forced order's limit."""
    return entry * (1 - 1 / leverage) if is_long else entry * (1 + 1 / leverage)


def funding_rate(mean_premium: float, interval_hours: int) -> float:
    """Binance's rate: average premium plus the clamped interest term, capped.

    The interest anchor scales with the interval (0.01% per 8h), as Binance applies it.
    """
    anchor = FUNDING_ANCHOR * interval_hours / 8
    rate = mean_premium + min(max(anchor - mean_premium, -FUNDING_CLAMP), FUNDING_CLAMP)
    return min(max(rate, -FUNDING_CAP), FUNDING_CAP)

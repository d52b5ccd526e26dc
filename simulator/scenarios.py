"""Scripted scenarios: a cycle of phases that sets the mood; prices and cascades emerge.

A phase fixes the drift and volatility of the spot index, how eagerly traders open longs versus
shorts, how much leverage they take, how fast they close, and how spot takers lean. Its name is
the regime the warehouse should recognise there, and is the hour's ground-truth label. What
actually happens (whether a drop cascades, how far OI falls) comes from the positions.
"""

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Phase:
    """One scripted stretch of market behaviour."""

    name: str
    hours: int
    move: float = 0.0
    """Log-price drift of the index over the whole phase (0.05 ≈ +5%)."""
    vol: float = 0.015
    """Daily volatility of the index's log returns."""
    long_bias: float = 0.0
    """Skew of new positions toward longs (+) or shorts (−), in −1…1."""
    open_mult: float = 1.0
    """Multiplier of the rate at which new positions open."""
    close_mult: float = 1.0
    """Multiplier of the rate at which open positions are closed voluntarily."""
    leverage_skew: float = 0.0
    """Tilt of the leverage mix toward high (+) or low (−) leverage tiers."""
    spot_flow: float = 0.0
    """Lean of spot takers toward buying (+) or selling (−), in −1…1."""
    trigger: float = 0.0
    """A one-off log jump of the index at the phase's first minute (a flush's first drop)."""


@dataclass(frozen=True)
class Scenario:
    """A named cycle of phases, repeated to fill the simulated range."""

    name: str
    description: str
    phases: tuple[Phase, ...]
    center: float = 1.0
    """The level, relative to each symbol's base price, that prices revert to between phases."""

    @property
    def cycle_hours(self) -> int:
        return sum(phase.hours for phase in self.phases)

    def phase_at(self, hour: int) -> Phase:
        offset = hour % self.cycle_hours
        for phase in self.phases:
            if offset < phase.hours:
                return phase
            offset -= phase.hours
        raise AssertionError("unreachable: offsets are within the cycle")


_BUILD = Phase(
    "leverage_build",
    96,
    move=0.05,
    vol=0.016,
    long_bias=0.45,
    open_mult=1.3,
    close_mult=0.85,
    leverage_skew=0.8,
)
_FRAGILE = Phase(
    "latent_fragility",
    24,
    move=-0.02,
    vol=0.014,
    long_bias=0.3,
    open_mult=1.0,
    close_mult=0.7,
    leverage_skew=0.6,
)
_FLUSH = Phase(
    "flush",
    12,
    move=-0.02,
    vol=0.045,
    long_bias=-0.4,
    open_mult=0.7,
    close_mult=1.8,
    leverage_skew=0.0,
    spot_flow=-0.3,
    trigger=-0.015,
)
_RESET = Phase(
    "reset",
    96,
    move=0.0,
    vol=0.012,
    long_bias=0.0,
    open_mult=0.6,
    close_mult=1.6,
    leverage_skew=-0.8,
)
_NEUTRAL = Phase("neutral", 48, vol=0.013, leverage_skew=-0.3)

SCENARIOS: Final[dict[str, Scenario]] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "treadmill",
            "The article's episode: BTC chopping in an $80–88k band while leverage builds on "
            "bounces, cascades flush it, traders re-lever and it flushes again, then a reset. "
            "A 15-day cycle: build-up 4d, fragility 1d, flush 12h, re-lever 3d, flush 12h, "
            "reset 4d, neutral 2d.",
            (
                _BUILD,
                _FRAGILE,
                _FLUSH,
                Phase(
                    "leverage_build",
                    72,
                    move=0.045,
                    vol=0.017,
                    long_bias=0.5,
                    open_mult=1.35,
                    close_mult=0.8,
                    leverage_skew=1.0,
                ),
                _FLUSH,
                _RESET,
                _NEUTRAL,
            ),
            center=0.99,
        ),
        Scenario(
            "calm",
            "A quiet market: balanced positioning, low volatility, modest leverage.",
            (Phase("neutral", 24, vol=0.009, open_mult=0.8, leverage_skew=-0.6),),
        ),
        Scenario(
            "squeeze",
            "Shorts pile in on a grind lower, a jump squeezes them, then a reset.",
            (
                Phase(
                    "short_build",
                    96,
                    move=-0.04,
                    vol=0.015,
                    long_bias=-0.45,
                    open_mult=1.7,
                    close_mult=0.6,
                    leverage_skew=0.8,
                ),
                Phase(
                    "squeeze",
                    12,
                    move=0.03,
                    vol=0.05,
                    long_bias=0.4,
                    open_mult=0.5,
                    close_mult=3.0,
                    spot_flow=0.3,
                    trigger=0.02,
                ),
                _RESET,
                _NEUTRAL,
            ),
        ),
        Scenario(
            "spot_bid",
            "Leverage builds, perp traders sell hard, and a spot bid absorbs it: no cascade.",
            (
                _BUILD,
                Phase(
                    "spot_absorption",
                    48,
                    move=0.01,
                    vol=0.013,
                    long_bias=-0.5,
                    open_mult=1.2,
                    close_mult=1.4,
                    spot_flow=0.7,
                ),
                _RESET,
                _NEUTRAL,
            ),
        ),
    )
}

DEFAULT_SCENARIO: Final = "treadmill"

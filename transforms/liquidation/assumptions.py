"""The liquidation heatmap's modelling assumptions: leverage tiers, bins, side split, formula.

No public data says how much leverage traders use, so every field of :class:`HeatmapConfig` is
a choice (``reference/DOMAIN.md`` §1.5), and :attr:`HeatmapConfig.method` says so on every row
the estimate writes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from transforms.liquidation.prices import (
    DEFAULT_NOTIONAL_USD,
    Bracket,
    FloatArray,
    Side,
    bracket_for,
    liquidation_prices,
    naive_liquidation_prices,
)


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
    - ``merge_tolerance``: after each :func:`transforms.liquidation.book.advance`, levels of one
      side closer than this relative distance are merged (notional-weighted price), so the
      carried book stays bounded over years of history; 0 keeps exact prices (only identical
      prices merge).
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

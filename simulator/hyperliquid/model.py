"""How the simulated Hyperliquid deviates from the simulated Binance market, and which of its
archive's traps it injects.

**Quirks** (:class:`HyperliquidQuirks`, mild by default, every one counted in truth): rows
whose ``mark_px`` is ``0.0`` (the archive never writes NULL), rows whose ``premium``, ``mid_px``
and ``impact_*`` are empty (no book), rows with a negative ``open_interest`` (the true value,
negated), extra off-grid rows inside a minute (``00:07:31``: the oracle and the book at that
second, every other field as the minute's row), and funding on the 8-hour scale (× 8) for rows
before :data:`~transforms.formats.HYPERLIQUID_HOURLY_FUNDING_FROM` (2023-06-08T00:05Z; only for
ranges that early).
"""

from dataclasses import dataclass
from typing import Final

QUIRK_NAMES: Final = (
    "zero_mark_px",
    "empty_book",
    "negative_open_interest",
    "off_grid_rows",
    "eight_hour_funding",
)


@dataclass(frozen=True)
class HyperliquidQuirks:
    """Per-row probabilities of the archive's known traps (mild by default, ``off()`` for none)."""

    zero_mark_px: float = 0.0003
    """``mark_px`` written ``0.0``."""
    empty_book: float = 0.0005
    """``premium``, ``mid_px``, ``impact_bid_px`` and ``impact_ask_px`` written empty."""
    negative_open_interest: float = 0.0002
    """``open_interest`` written negated."""
    off_grid_rows: float = 0.0008
    """An extra row at a random second inside the minute (real BTC: 1,242 of 1.66 M rows)."""
    eight_hour_funding: bool = True
    """``funding`` × 8 for rows before
    :data:`~transforms.formats.HYPERLIQUID_HOURLY_FUNDING_FROM`."""

    @classmethod
    def off(cls) -> "HyperliquidQuirks":
        return cls(0.0, 0.0, 0.0, 0.0, False)


@dataclass(frozen=True)
class HyperliquidModel:
    """How Hyperliquid deviates from the simulated Binance market: its contexts
    (:mod:`simulator.hyperliquid.contexts`) and its fills (:mod:`simulator.hyperliquid.fills`)."""

    premium_scale: float = 1.2
    premium_offset: float = 0.00003
    spread_sd: float = 0.0001
    spread_persistence: float = 0.9
    premium_noise_sd: float = 0.00003
    impact_width: float = 0.00004
    """Typical relative distance between the impact bid and ask."""
    mark_noise_sd: float = 0.00001
    oi_share: float = 0.25
    oi_noise_sd: float = 0.02
    oi_persistence: float = 0.9995
    volume_share: float = 0.15
    liquidation_keep: float = 0.15
    """Probability that one of Binance's forced orders has a Hyperliquid counterpart."""
    liquidation_size_sd: float = 0.5
    liquidation_delay_ms: int = 2_000
    partial_share: float = 0.08
    backstop_share: float = 0.03
    trades_per_hour: float = 6.0
    """Ordinary (non-liquidation) trades per coin and hour."""
    trade_notional_usd: float = 20_000.0
    makers: int = 40
    """Distinct counterparty addresses per coin."""


MODEL: Final = HyperliquidModel()

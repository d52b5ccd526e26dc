"""One simulated coin's Hyperliquid output: its asset contexts, then its fills."""

from dataclasses import dataclass, field

import polars as pl

from simulator.hyperliquid.contexts import asset_contexts
from simulator.hyperliquid.fills import coin_fills
from simulator.hyperliquid.model import MODEL, HyperliquidModel, HyperliquidQuirks
from simulator.hyperliquid.ticks import sz_decimals
from simulator.model import Tape
from simulator.venues import coin_of


@dataclass(frozen=True)
class HyperliquidCoin:
    """One coin's Hyperliquid output, computed in its worker, written by
    :func:`simulator.hyperliquid.writer.write_hyperliquid`.

    ``ctxs`` are the asset-context rows as printed (``time_ms`` and ``coin`` plus the CSV's
    string columns, nulls for empty fields); ``events`` the fill lines (``time_ms``, ``seq``,
    ``line``: the order of a coin's lines at the same instant).
    """

    coin: str
    ctxs: pl.DataFrame
    events: pl.DataFrame
    liquidations: pl.DataFrame
    funding: pl.DataFrame
    asset_ctxs: pl.DataFrame
    """The true on-grid contexts (the open-interest truth derives from them)."""
    injected: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def hyperliquid_coin(
    tape: Tape, seed: int, quirks: HyperliquidQuirks, model: HyperliquidModel = MODEL
) -> HyperliquidCoin | None:
    """Hyperliquid's rows for the leader ``tape``'s coin; None unless a USDⓈ-M perpetual."""
    coin = coin_of(tape.spec.symbol)
    if coin is None:
        return None
    szd = sz_decimals(coin, tape.spec.base_price)
    ctx = asset_contexts(tape, coin, szd, seed, quirks, model)
    events, liquidations, counts = coin_fills(tape, coin, szd, seed, ctx, model)
    counts.update(ctx.counts)
    return HyperliquidCoin(
        coin,
        ctx.rows,
        events,
        liquidations,
        ctx.funding,
        ctx.truth,
        ctx.injected,
        counts,
    )

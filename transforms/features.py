"""Regime features: the liquidation treadmill, hour by hour, from trailing windows only.

``feat_regime_1h`` (``sql/features/feat_regime_1h.sql``) scores each perpetual's hour on the
trifecta (price, open interest, funding) and its context, then gives it one ``regime`` label in
DESIGN.md §7's priority. Every threshold lives in :class:`RegimeThresholds`, bound into the SQL.
Features of day D read the facts of D−29..D, never later ones: adding data never changes an
earlier value.
"""

from dataclasses import astuple, dataclass, fields
from typing import Final

import duckdb
import pyarrow as pa

from transforms.catalog import DUCKDB_CONFIG
from transforms.facts import (
    FCT_FUNDING,
    FCT_LIQUIDATIONS_COIN_1H,
    FCT_MARKET_1H,
    FCT_OPEN_INTEREST_CROSS_VENUE,
    FactModel,
    Input,
)
from transforms.schemas import TIMESTAMP

TRAILING_DAYS: Final = 29
"""Days before the partition a feature reads: 30 days in all, the windows of its z-scores."""


@dataclass(frozen=True)
class RegimeThresholds:
    """The named thresholds of the regime label, with the reason for each default."""

    trend_hours: int = 12
    """Flushes and squeezes are measured over 12 hours: a cascade unfolds over half a day, and
    shorter windows split it into drops and rebounds (on the simulator's treadmill scenario,
    4 hours found 31% of the flush hours, 12 hours 84%)."""
    build_hours: int = 36
    """Build-ups and fragility are judged over 36 hours: leverage accumulates over days, and
    over half a day the noise of price hides the drift of a build-up (on the treadmill
    scenario, leverage_build recall 0.36 at 12 hours, 0.45 at 36). A flush's fall is taken
    over either window, since its rebound can undo the 12-hour move while longs still burn."""
    price_move: float = 0.003
    """±0.3% over 12 hours is a move; calmer than that is flat."""
    oi_move: float = 0.005
    """±0.5% of open interest over 12 hours is traders opening or closing, not drift."""
    funding_anchor: float = 0.0001
    """Binance's resting rate: 0.01% per 8 hours; crowding is measured against it, not zero."""
    funding_clamp: float = 0.0005
    """Binance's clamp on (anchor − premium), used to estimate the running interval's rate."""
    funding_tolerance: float = 0.00001
    """A rate within 0.001%/8h of the anchor is at the anchor (rounding of the premium)."""
    premium_crowding: float = 0.0002
    """While the clamp pins the rate to the anchor, a premium 0.02%/8h beyond it is crowding:
    perps trading that rich (or cheap) mean one side pays up to hold leverage."""
    burst_z: float = 2.0
    """Liquidation intensity 2 standard deviations above its 30-day mean is a burst. The
    30-day window already holds earlier cascades, which inflate the deviation, so a higher bar
    misses the smaller flushes (on the treadmill scenario, 2.0 keeps 84% of flush hours)."""
    burst_hours: int = 12
    """A burst in the last 12 hours still marks the hour: a cascade comes in waves, and the
    rebounds between them belong to the same flush."""
    flow_imbalance: float = 0.1
    """Taker imbalance beyond ±0.1 (55% of volume on one side) is one side dominating."""
    coin_level_liquidations: bool = False
    """Whether liquidation intensity, the burst flags and which side the recent flow hit read
    the coin's liquidations across venues (``fct_liquidations_coin_1h``) over the coin's open
    interest across venues (``fct_open_interest_cross_venue``), instead of the perpetual's own
    over its own open interest. Off by default, because the venues behind a coin's totals change
    within a 30-day window and the z-score reads that change as a market event: Binance's
    snapshot archive ends (USDⓈ-M 2024-03-31, COIN-M 2024-10-14), a stream recorder starts on the
    day it was started, and each joining venue looks like a burst, each leaving one like calm.
    The kinds also mix: Hyperliquid's complete count beside Binance's one-order-per-second
    sample weighs venues by how fully they are observed, not by their size. The thresholds
    above, and the accuracy tests, were set on one perpetual's own liquidations. Turn it on
    when the coin's liquidation venues have been stable for 30 days (``coin_liq_venues`` says
    which they were each hour); the perpetual's own stand in for any hour the coin-level
    tables lack. ``coin_long_liq_usd`` and ``coin_short_liq_usd`` are published either way."""

    def bound(self) -> tuple[tuple[str, float], ...]:
        return _bound(self)


@dataclass(frozen=True)
class FlushEventRules:
    """How flush hours become events, and how long an event waits for its outcome."""

    merge_hours: int = 6
    """Flush hours at most 6 hours apart are one event: a cascade pauses between waves, and a
    rebound of a few hours is not the end of it."""
    relever_share: float = 0.5
    """Traders have re-levered once open interest is back above half of the flush's drop."""
    relever_horizon_hours: int = 168
    """A re-lever is looked for over 7 days; an event with none by then has ``relever_hours``
    null (the flush became a reset)."""
    treadmill_window_hours: int = 168
    """Another flush starting within 7 days of an event's end makes it a treadmill: the
    article's week of repeated long flushes (the simulator's treadmill re-flushes after 3)."""

    def bound(self) -> tuple[tuple[str, float], ...]:
        return _bound(self)


def _bound(rules: RegimeThresholds | FlushEventRules) -> tuple[tuple[str, float], ...]:
    return tuple(zip((f.name for f in fields(rules)), astuple(rules), strict=True))


def _schema(*columns: tuple[str, pa.DataType]) -> pa.Schema:
    keys = [pa.field("exchange", pa.string(), False), pa.field("symbol", pa.string(), False)]
    return pa.schema([*keys, *(pa.field(name, kind) for name, kind in columns)])


F64 = pa.float64()

FEAT_REGIME_1H = FactModel(
    "feat_regime_1h",
    tuple(
        Input(model.name, (model.name,), model.schema, days_before=TRAILING_DAYS)
        for model in (
            FCT_MARKET_1H,
            FCT_FUNDING,
            FCT_LIQUIDATIONS_COIN_1H,
            FCT_OPEN_INTEREST_CROSS_VENUE,
        )
    ),
    _schema(
        ("ts", TIMESTAMP),
        *(
            (name, F64)
            for name in (
                "close",
                "return_1h",
                "return_trend",
                "realized_vol",
                "vol_percentile_30d",
                "oi_base",
                "oi_usd",
                "oi_change_pct_1h",
                "oi_change_pct_trend",
                "oi_zscore_30d",
                "oi_percentile_30d",
                "funding_last_8h",
                "funding_estimate_8h",
                "funding_minus_anchor",
                "funding_zscore_30d",
                "premium_mean",
                "long_liq_usd",
                "short_liq_usd",
                "liq_intensity",
            )
        ),
        ("liq_burst", pa.bool_()),
        ("spot_taker_imbalance", F64),
        ("perp_taker_imbalance", F64),
        ("spot_perp_volume_ratio", F64),
        ("regime", pa.string()),
        ("coin_long_liq_usd", F64),
        ("coin_short_liq_usd", F64),
        ("coin_liq_venues", pa.string()),
        ("coin_liq_coverages", pa.string()),
    ),
    layer="features",
    params=RegimeThresholds().bound(),
    description=(
        "Each perpetual's hour scored on the liquidation treadmill's trifecta: price, open "
        "interest (base units) and funding against its 0.01%/8h anchor, with volatility, "
        "liquidation bursts and spot-versus-perp flow, and one regime label: flush, squeeze, "
        "leverage_build, latent_fragility, short_build, spot_absorption, reset or neutral. "
        "Beside the perpetual's own liquidations, the coin's across venues, with the venues and "
        "coverage kinds behind them. Trailing 30-day windows only."
    ),
)

FEAT_REGIME_1D = FactModel(
    "feat_regime_1d",
    (Input(FEAT_REGIME_1H.name, (FEAT_REGIME_1H.name,), FEAT_REGIME_1H.schema),),
    _schema(
        ("ts", TIMESTAMP),
        *(
            (name, F64)
            for name in (
                "close",
                "return_1d",
                "realized_vol_1d",
                "oi_base",
                "oi_usd",
                "oi_change_pct_1d",
                "funding_last_8h",
                "funding_estimate_8h_mean",
                "long_liq_usd",
                "short_liq_usd",
            )
        ),
        *(
            (name, pa.int64())
            for name in (
                "burst_hours",
                "flush_hours",
                "squeeze_hours",
                "leverage_build_hours",
                "latent_fragility_hours",
                "reset_hours",
            )
        ),
        ("regime", pa.string()),
    ),
    layer="features",
    description=(
        "Each perpetual's day at a glance: closing price, open interest and funding, the day's "
        "long and short liquidations, liquidation-burst hours, the hours spent in each regime, "
        "and the day's label (its most frequent hourly regime, the more severe on a tie)."
    ),
)

FEAT_FLUSH_EVENTS = FactModel(
    "feat_flush_events",
    (
        Input(
            FEAT_REGIME_1H.name,
            (FEAT_REGIME_1H.name,),
            FEAT_REGIME_1H.schema,
            days_before=TRAILING_DAYS,
        ),
    ),
    _schema(
        *((name, TIMESTAMP) for name in ("resolved_ts", "start_ts", "end_ts")),
        ("duration_hours", pa.int64()),
        ("flush_hours", pa.int64()),
        *(
            (name, F64)
            for name in (
                "price_peak",
                "price_low",
                "drawdown_pct",
                "oi_peak_base",
                "oi_trough_base",
                "oi_drop_pct",
                "long_liq_usd",
                "short_liq_usd",
                "funding_before_8h",
                "funding_after_8h",
            )
        ),
        ("relever_ts", TIMESTAMP),
        *(
            (name, pa.int64())
            for name in ("relever_hours", "hours_since_previous_flush", "hours_to_next_flush")
        ),
        ("treadmill", pa.bool_()),
    ),
    time_column="resolved_ts",
    layer="features",
    params=RegimeThresholds().bound() + FlushEventRules().bound(),
    description=(
        "Each flush as one event: consecutive flush hours grouped, with the drawdown from the "
        "prior peak, the drop in open interest (base units), long and short liquidations, "
        "funding before and after, the hours until open interest rebuilt half its drop "
        "(re-lever), and `treadmill` when another flush followed within the window. An event "
        "is published once, on the day it resolves (`resolved_ts`), so no value ever changes."
    ),
)

FEATURE_MODELS: Final = (FEAT_REGIME_1H, FEAT_REGIME_1D, FEAT_FLUSH_EVENTS)


def funding_estimate_errors(features: pa.Table, settled: pa.Table) -> tuple[float, int]:
    """How far the premium-based estimate was from each rate Binance then settled.

    The estimate of the hour that ends on a settlement covers that settlement's whole interval,
    so the two are compared per 8 hours. Returns the sum of absolute errors and the count.
    """
    with duckdb.connect(config=DUCKDB_CONFIG) as connection:
        connection.register("features", features)
        connection.register("settled", settled)
        total, count = connection.sql(
            """
            select coalesce(sum(abs(features.funding_estimate_8h - settled.funding_rate_8h)), 0),
                   count(*)
            from features
            join settled
                on settled.exchange = features.exchange
                and settled.symbol = features.symbol
                and settled.funding_time = features.ts + interval 1 hour
            where features.funding_estimate_8h is not null
            """
        ).fetchall()[0]
    return float(total), int(count)

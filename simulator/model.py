"""The minute-by-minute market: index, premium, leveraged cohorts, liquidations, funding.

Positions are held as cohorts: every minute, the longs and shorts opened at that minute's mark
are split over leverage tiers, and each (minute, side, tier) cohort carries its exact
liquidation price (:func:`simulator.rules.liquidation_price`). Cohorts sit in two heaps keyed
by that price, so each minute only the cohorts the mark crossed are touched. Voluntary closing
shrinks every cohort by the same fraction, applied lazily through one survival factor.

A liquidated cohort becomes one forced market order. Its notional moves the price (impact),
which may cross the next cohorts' prices within the same minute: cascades are emergent, not
scripted. COIN-M markets follow the index of their USDⓈ-M sibling and do not move it.
"""

import heapq
import math
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from typing import NamedTuple

import numpy as np

from simulator.markets import MarketSpec
from simulator.rules import bankruptcy_price, funding_rate, liquidation_price
from simulator.scenarios import Scenario

MINUTES_PER_DAY = 1440
LEVERAGE_TIERS = (5, 10, 20, 25, 50, 100)
BASE_TIER_WEIGHTS = (0.35, 0.30, 0.15, 0.10, 0.06, 0.04)
# A typical position's notional per tier: high leverage is only allowed on small positions.
TIER_NOTIONAL_USD = (2e6, 5e5, 2e5, 1e5, 4e4, 2e4)

COHORT_MINUTES = 5
"""Positions opened within five minutes form one cohort at their volume-weighted entry."""
HEDGED_OI_SHARE = 0.8
"""Share of open interest held by hedged, unlevered traders (basis and market makers), never
liquidated; the leveraged crowd holds the rest."""
HOLDING_MINUTES = 2 * MINUTES_PER_DAY
"""Mean holding time of a position: half the book turns over each day."""
COMMON_FACTOR_WEIGHT = 0.8
"""Correlation of every symbol's index returns with the market-wide factor."""
REVERSION_MINUTES = 4 * MINUTES_PER_DAY
"""Time scale on which the index reverts to the scenario's centre between phases."""
IMPACT_DEPTH_SHARE = 8.0
"""Forced selling of this many times the target open interest would move the log price by 1:
liquidating 1% of the book moves the price by about 0.13%."""
IMPACT_RETAINED = 0.6
"""Share of a forced order's impact that stays in the close; the rest is the wick."""
PREMIUM_CROWDING = 0.0016
"""Premium per unit of long/short crowding ((L − S)/(L + S)) of the leveraged book."""
PREMIUM_PERSISTENCE = 0.97
BACKGROUND_TURNOVER = 0.0012
"""Per-minute volume of market makers and other unlevered flow, as a share of target OI."""
BURN_IN_DAYS = 5
"""Days simulated before the first output day so the book starts populated."""
MAX_CASCADE_STEPS = 40
FILL_SLIPPAGE = 0.0005
"""A forced order fills this far beyond the liquidation level, within the minute's range."""
COMPACT_MINUTES = 7 * MINUTES_PER_DAY
"""How often closed-down cohorts are swept out of the book."""
LEVEL_BIN = 0.0005
"""Width, in log price, of the bins the ground truth sums open positions' levels into."""


class LiquidationOrder(NamedTuple):
    """One forced order: a whole cohort, closed at the market."""

    ts_ms: int
    is_long: bool
    leverage: int
    entry: float
    level: float
    bankruptcy: float
    fill: float
    qty: float


@dataclass
class Tape:
    """Everything one simulated perpetual produced, at the minute grid from the first day."""

    spec: MarketSpec
    start: date
    days: int
    index_ohlc: np.ndarray
    mark_ohlc: np.ndarray
    trade_ohlc: np.ndarray
    premium_ohlc: np.ndarray
    volume: np.ndarray
    taker_buy: np.ndarray
    metrics: np.ndarray
    """Per 5-minute window, at its end: open interest (base), the leveraged crowd's long and
    short size, mark price, and taker buy and sell volume over the window."""
    funding: list[tuple[int, int, float]] = field(default_factory=list)
    """(settlement ms, interval hours, rate)."""
    liquidations: list[LiquidationOrder] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)
    """Per output day at 00:00 UTC, the open book by side, leverage and level bin (see
    :func:`_snapshot`)."""
    phases: list[str] = field(default_factory=list)
    """The scripted phase of every output hour."""
    burn_in_ohlc: np.ndarray = field(default_factory=lambda: np.empty((0, 4)))
    """The index during the burn-in, so that markets following this one start where it did."""


def tier_weights(skew: float) -> tuple[float, ...]:
    """Leverage mix: the base weights tilted toward high (skew > 0) or low leverage."""
    tilted = [
        w * math.exp(skew * math.log(lev / 20))
        for w, lev in zip(BASE_TIER_WEIGHTS, LEVERAGE_TIERS, strict=True)
    ]
    total = sum(tilted)
    return tuple(w / total for w in tilted)


def _level_ratios(is_long: bool) -> tuple[float, ...]:
    return tuple(
        liquidation_price(1.0, lev, notional, is_long)
        for lev, notional in zip(LEVERAGE_TIERS, TIER_NOTIONAL_USD, strict=True)
    )


LONG_LEVEL_RATIO = _level_ratios(True)
SHORT_LEVEL_RATIO = _level_ratios(False)


def simulate_market(
    spec: MarketSpec,
    scenario: Scenario,
    start: date,
    days: int,
    common: np.ndarray,
    rng: np.random.Generator,
    leader: Tape | None = None,
) -> Tape:
    """Simulate one perpetual for ``days`` days from ``start`` (after a burn-in).

    ``common`` is the market-wide return factor per minute (burn-in included). With a
    ``leader``, the index is the leader's and this market's liquidations do not move it.
    """
    burn = BURN_IN_DAYS * MINUTES_PER_DAY
    total = burn + days * MINUTES_PER_DAY
    hours = total // 60
    phase_of_hour = [
        scenario.phase_at(h - BURN_IN_DAYS * 24) if h >= BURN_IN_DAYS * 24 else None
        for h in range(hours)
    ]
    # Burn-in runs as a neutral market so the first day starts from an ordinary book.
    neutral = scenario.phases[0].__class__("neutral", 24)
    phases = [p or neutral for p in phase_of_hour]
    minutes_of = np.arange(total) // 60
    per_hour = {
        name: np.array([getattr(p, name) for p in phases], dtype=float)
        for name in ("vol", "long_bias", "open_mult", "close_mult", "leverage_skew", "spot_flow")
    }
    hours_of_phase = np.array([p.hours for p in phases], dtype=float)
    move = (np.array([p.move for p in phases]) / (hours_of_phase * 60))[minutes_of]
    sigma = (per_hour["vol"] * spec.vol_mult / math.sqrt(MINUTES_PER_DAY))[minutes_of]
    trigger = np.zeros(total)
    for h in range(1, hours):
        if phases[h] is not phases[h - 1] and phases[h].trigger:
            trigger[h * 60] = phases[h].trigger
    idio = rng.standard_normal(total)
    shocks = COMMON_FACTOR_WEIGHT * common[:total] + math.sqrt(1 - COMMON_FACTOR_WEIGHT**2) * idio
    weights_of_hour = [tier_weights(p.leverage_skew) for p in phases]

    # Hot loop inputs as Python lists: indexing them is several times faster than numpy.
    move_l, sigma_l, trigger_l, shock_l = (
        move.tolist(),
        sigma.tolist(),
        trigger.tolist(),
        shocks.tolist(),
    )
    bias_l = per_hour["long_bias"].tolist()
    open_l = per_hour["open_mult"].tolist()
    close_l = per_hour["close_mult"].tolist()
    wick_hi = np.abs(rng.standard_normal(total)).tolist()
    wick_lo = np.abs(rng.standard_normal(total)).tolist()
    flow_long = rng.lognormal(0.0, 0.35, total).tolist()
    flow_short = rng.lognormal(0.0, 0.35, total).tolist()
    premium_noise = (rng.standard_normal(total) * 0.00008).tolist()
    trade_noise = (rng.standard_normal(total) * 0.00005).tolist()
    background_noise = rng.lognormal(0.0, 0.3, total).tolist()
    taker_noise = (rng.standard_normal(total) * 0.04).tolist()
    fill_offsets = rng.integers(50, 900, total).tolist()

    exp, log, tanh = math.exp, math.log, math.tanh
    heappush = heapq.heappush

    center = log(spec.base_price * scenario.center)
    x = log(spec.base_price)
    premium = 0.0002
    mark_close = spec.base_price * (1 + premium)
    survival = 1.0
    long_units = short_units = 0.0
    long_heap: list[list[float]] = []
    short_heap: list[list[float]] = []
    sequence = 0
    momentum = 0.0
    last_funding = 0.0001
    interval = spec.funding_interval_hours
    premium_sum = 0.0
    premium_count = 0
    crowd_target = spec.oi_target * (1 - HEDGED_OI_SHARE)
    hedged = spec.oi_target * HEDGED_OI_SHARE
    gross_open = crowd_target / HOLDING_MINUTES / 2
    close_rate = 1 / HOLDING_MINUTES
    depth_qty = spec.oi_target * IMPACT_DEPTH_SHARE
    background = spec.oi_target * BACKGROUND_TURNOVER
    min_qty = 10.0**-spec.qty_decimals

    out_index = np.empty((days * MINUTES_PER_DAY, 4))
    out_mark = np.empty_like(out_index)
    out_trade = np.empty_like(out_index)
    out_premium = np.empty_like(out_index)
    out_volume = np.empty(days * MINUTES_PER_DAY)
    out_buy = np.empty_like(out_volume)
    metrics_rows: list[tuple[float, ...]] = []
    tape = Tape(
        spec,
        start,
        days,
        out_index,
        out_mark,
        out_trade,
        out_premium,
        out_volume,
        out_buy,
        np.empty(0),
    )
    window_buy = window_sell = 0.0
    pending_long = pending_short = pending_long_value = pending_short_value = 0.0
    first_ms = _minute_ms(start, 0)
    leader_index = (
        np.vstack([leader.burn_in_ohlc, leader.index_ohlc]) if leader is not None else None
    )
    burn_in_ohlc = np.empty((burn, 4))

    for t in range(total):
        out_t = t - burn
        hour = t // 60
        if t % COMPACT_MINUTES == 0:
            survival, long_units, short_units = _compact(long_heap, short_heap, survival, min_qty)
        if t % MINUTES_PER_DAY == 0 and out_t >= 0:
            tape.positions.append(
                _snapshot(long_heap, short_heap, survival, out_t // MINUTES_PER_DAY, min_qty)
            )

        # The index: the leader's, or our own walk with drift, reversion and shocks.
        if leader_index is not None:
            index_open, index_high, index_low, index_close = leader_index[t]
            x = log(index_close)
        else:
            index_open = exp(x)
            x += (
                move_l[t]
                + (center - x) / REVERSION_MINUTES
                + sigma_l[t] * shock_l[t]
                + trigger_l[t]
            )
            index_close = exp(x)
            index_high = max(index_open, index_close) * exp(0.5 * sigma_l[t] * wick_hi[t])
            index_low = min(index_open, index_close) * exp(-0.5 * sigma_l[t] * wick_lo[t])

        units = long_units + short_units
        crowding = (long_units - short_units) / units if units > 0 else 0.0
        premium_open = premium
        premium = (
            PREMIUM_PERSISTENCE * premium
            + (1 - PREMIUM_PERSISTENCE) * PREMIUM_CROWDING * crowding
            + premium_noise[t]
        )
        mark_open = mark_close
        mark_close = index_close * (1 + premium)
        high = max(mark_open, mark_close) * exp(0.7 * sigma_l[t] * wick_hi[t])
        low = min(mark_open, mark_close) * exp(-0.7 * sigma_l[t] * wick_lo[t])

        # Forced orders: every cohort whose level the mark crossed, then the cohorts their
        # impact pushes the price through, until the book holds.
        long_liq = short_liq = 0.0
        orders = tape.liquidations if out_t >= 0 else None
        for step in range(MAX_CASCADE_STEPS):
            order_ms = first_ms + out_t * 60_000 + min(59_999, fill_offsets[t] + 1_200 * step)
            units_l, qty_l, batch_long = _liquidate(
                long_heap, True, low, survival, orders, order_ms
            )
            units_s, qty_s, batch_short = _liquidate(
                short_heap, False, high, survival, orders, order_ms
            )
            long_units -= units_l
            short_units -= units_s
            long_liq += qty_l
            short_liq += qty_s
            if batch_long == 0.0 and batch_short == 0.0:
                break
            mark = mark_close
            impact_down = batch_long / mark / depth_qty
            impact_up = batch_short / mark / depth_qty
            low *= exp(-impact_down)
            high *= exp(impact_up)
            shift = IMPACT_RETAINED * (impact_up - impact_down)
            mark_close *= exp(shift)
            if leader_index is None:
                x += shift
                index_close *= exp(shift)
                index_high = max(index_high, index_close)
                index_low = min(index_low, index_close)
        high = max(high, mark_open, mark_close)
        low = min(low, mark_open, mark_close)

        # Voluntary closes shrink every cohort alike; new positions open at the close.
        closing = close_rate * close_l[hour]
        long_close = long_units * survival * closing
        short_close = short_units * survival * closing
        survival *= 1 - closing
        bias = bias_l[hour] + 0.15 * tanh(momentum * 50) + 0.1 * tanh(last_funding / 0.0001 - 1)
        bias = min(max(bias, -0.9), 0.9)
        gross = gross_open * open_l[hour]
        new_long = gross * (1 + bias) * flow_long[t]
        new_short = gross * (1 - bias) * flow_short[t]
        pending_long += new_long
        pending_short += new_short
        pending_long_value += new_long * mark_close
        pending_short_value += new_short * mark_close
        if (t + 1) % COHORT_MINUTES == 0:
            weights = weights_of_hour[hour]
            long_entry = pending_long_value / pending_long if pending_long > 0 else mark_close
            short_entry = pending_short_value / pending_short if pending_short > 0 else mark_close
            for tier in range(len(LEVERAGE_TIERS)):
                share = weights[tier]
                units_long = pending_long * share / survival
                units_short = pending_short * share / survival
                sequence += 1
                heappush(
                    long_heap,
                    [-long_entry * LONG_LEVEL_RATIO[tier], sequence, units_long, long_entry, tier],
                )
                heappush(
                    short_heap,
                    [
                        short_entry * SHORT_LEVEL_RATIO[tier],
                        sequence,
                        units_short,
                        short_entry,
                        tier,
                    ],
                )
                long_units += units_long
                short_units += units_short
            pending_long = pending_short = pending_long_value = pending_short_value = 0.0

        flow = background * background_noise[t] * (sigma_l[t] / sigma_l[burn - 1 if burn else 0])
        lean = 0.5 + taker_noise[t] + 0.1 * bias
        buy = new_long + short_close + short_liq + flow * lean
        sell = new_short + long_close + long_liq + flow * (1 - lean)
        window_buy += buy
        window_sell += sell
        ret = log(mark_close / mark_open) if mark_open > 0 else 0.0
        momentum = 0.995 * momentum + 0.005 * ret * 60

        premium_sum += premium
        premium_count += 1
        minute_of_day = (t + 1) % MINUTES_PER_DAY
        if minute_of_day % (interval * 60) == 0:
            last_funding = funding_rate(premium_sum / premium_count, interval)
            premium_sum, premium_count = 0.0, 0
            # The settlement at the end of this minute, when it falls inside the output range.
            if 0 <= out_t + 1 < days * MINUTES_PER_DAY:
                settle_ms = _minute_ms(start, out_t + 1)
                tape.funding.append((settle_ms, interval, last_funding))

        if out_t >= 0:
            out_index[out_t] = (index_open, index_high, index_low, index_close)
            out_mark[out_t] = (mark_open, high, low, mark_close)
            trade_open = mark_open * (1 + trade_noise[t - 1] if t else 1)
            trade_close = mark_close * (1 + trade_noise[t])
            out_trade[out_t] = (
                trade_open,
                max(high, trade_open, trade_close),
                min(low, trade_open, trade_close),
                trade_close,
            )
            out_premium[out_t] = (
                premium_open,
                max(premium_open, premium) + abs(premium_noise[t]) / 2,
                min(premium_open, premium) - abs(premium_noise[t]) / 2,
                premium,
            )
            out_volume[out_t] = buy + sell
            out_buy[out_t] = buy
            if (out_t + 1) % 5 == 0:
                longs, shorts = long_units * survival, short_units * survival
                metrics_rows.append(
                    (longs + shorts + hedged, longs, shorts, mark_close, window_buy, window_sell)
                )
        else:
            burn_in_ohlc[t] = (index_open, index_high, index_low, index_close)
        if (t + 1) % 5 == 0:
            window_buy = window_sell = 0.0
        if out_t >= 0 and out_t % 60 == 0:
            tape.phases.append(phases[hour].name)

    tape.metrics = np.array(metrics_rows, dtype=float)
    tape.burn_in_ohlc = burn_in_ohlc
    return tape


def _liquidate(
    heap: list[list[float]],
    is_long: bool,
    bound: float,
    survival: float,
    orders: list[LiquidationOrder] | None,
    order_ms: int,
) -> tuple[float, float, float]:
    """Close every cohort of one side whose liquidation level the mark's range reached.

    ``bound`` is the minute's low for longs and its high for shorts. Each cohort becomes one
    forced order filled at the market, at or beyond its level but never past ``bound``.
    Returns the units removed, the base quantity and the USD notional liquidated.
    """
    # Long keys are −level (a max-heap by level), short keys +level: both pop while key ≤ this.
    threshold = -bound if is_long else bound
    units = quantity = notional = 0.0
    while heap and heap[0][0] <= threshold:
        key, _, cohort_units, entry, tier = heapq.heappop(heap)
        level = abs(key)
        qty = cohort_units * survival
        fill = (
            max(bound, level * (1 - FILL_SLIPPAGE))
            if is_long
            else min(bound, level * (1 + FILL_SLIPPAGE))
        )
        units += cohort_units
        quantity += qty
        notional += qty * fill
        if orders is not None:
            leverage = LEVERAGE_TIERS[int(tier)]
            orders.append(
                LiquidationOrder(
                    order_ms,
                    is_long,
                    leverage,
                    entry,
                    level,
                    bankruptcy_price(entry, leverage, is_long),
                    fill,
                    qty,
                )
            )
    return units, quantity, notional


def _minute_ms(start: date, minute: int) -> int:
    epoch_day = (start - date(1970, 1, 1)).days
    return (epoch_day * MINUTES_PER_DAY + minute) * 60_000


def _compact(
    long_heap: list[list[float]],
    short_heap: list[list[float]],
    survival: float,
    min_qty: float,
) -> tuple[float, float, float]:
    """Fold the survival factor into the cohorts and drop those closed down to dust.

    Dust cohorts (below one quantity step) count as closed voluntarily, as they would be.
    Returns the new survival factor (1) and the long and short totals in units.
    """
    totals = []
    for heap in (long_heap, short_heap):
        kept = []
        for entry in heap:
            entry[2] *= survival
            if entry[2] >= min_qty:
                kept.append(entry)
        heap[:] = kept
        heapq.heapify(heap)
        totals.append(sum(entry[2] for entry in heap))
    return 1.0, totals[0], totals[1]


def _snapshot(
    long_heap: list[list[float]],
    short_heap: list[list[float]],
    survival: float,
    day: int,
    min_qty: float,
) -> np.ndarray:
    """Open positions at midnight, summed per side, leverage and level bin.

    Rows: day, is_long, leverage, quantity-weighted exact liquidation level, quantity (base),
    entry notional (USD).
    """
    parts = []
    for heap, is_long in ((long_heap, 1.0), (short_heap, 0.0)):
        if not heap:
            continue
        book = np.fromiter(chain.from_iterable(heap), float, count=5 * len(heap)).reshape(-1, 5)
        qty = book[:, 2] * survival
        keep = qty >= min_qty
        level, qty, entry, tier = np.abs(book[keep, 0]), qty[keep], book[keep, 3], book[keep, 4]
        level_bin = np.round(np.log(level) / LEVEL_BIN).astype(np.int64)
        # One integer key per (tier, level bin): tiers are < 16 and bins fit in 40 bits.
        key = (tier.astype(np.int64) << 40) | (level_bin + (1 << 39))
        keys, index = np.unique(key, return_inverse=True)
        weight = np.bincount(index, qty)
        parts.append(
            np.column_stack(
                [
                    np.full(weight.size, day, dtype=float),
                    np.full(weight.size, is_long),
                    np.asarray(LEVERAGE_TIERS, dtype=float)[keys >> 40],
                    np.bincount(index, level * qty) / weight,
                    weight,
                    np.bincount(index, entry * qty),
                ]
            )
        )
    return np.vstack(parts) if parts else np.empty((0, 6))

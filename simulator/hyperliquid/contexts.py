"""Hyperliquid's per-minute asset contexts of one simulated coin, derived from the leader's tape.

Hyperliquid is one more venue of the same coin as the simulated Binance USDⓈ-M perpetual (the
*leader*, :class:`simulator.model.Tape`), like :mod:`simulator.venues`: its numbers derive from
the leader's tape plus a small deviation drawn from its own seeded streams
(:func:`simulator.randomness.seeded_stream` of ``"hyperliquid:<part>:<coin>"`` with part
``ctxs``, ``quirks``, ``fills``), so the output is byte-for-byte the same for a seed whatever the
number of workers, and switching a quirk on or off never moves a price or a fill.

- *Oracle* (``oracle_px``) is the leader's index at the instant (the open of the minute: a row
  stamped T is a snapshot at T).
- *Premium.* Hyperliquid's crowd leans like Binance's, a bit harder and a bit more long: the
  leader's premium at the instant × 1.2, plus 0.003%, plus an hourly AR(1) spread (sd 0.01%) and
  per-minute noise (sd 0.003%). The impact prices are placed so that the published ``premium``
  is exactly Binance's definition over them, ``[max(0, impact_bid − oracle) − max(0, oracle −
  impact_ask)] / oracle``, computed from the printed (rounded) prices; ``mid_px`` is their
  middle and ``mark_px`` the oracle times (1 + premium) with a hair of noise.
- *Funding* settles hourly with Hyperliquid's rule: Binance's 8-hour formula
  (:func:`simulator.rules.funding_rate` with an 8-hour interval: mean premium plus the clamp of
  (0.01% − mean) to ±0.05%) paid one eighth each hour, over the mean of the published premiums
  of the hour. Most hours therefore settle at the 0.00125% anchor (0.0000125). The row at H:00
  carries the rate settled at H (the hour ending at H; the first hour of the range, whose hour
  lies before it, takes the premium at that instant); the rows inside the hour carry the running
  estimate over the hour's minutes so far. Rates on 8 decimals.
- *Open interest* (coins) is a share of Binance's book (~0.25, ``exp`` of a slow per-minute
  AR(1) of sd 2% on it): the leader's 5-minute snapshots interpolated to the minute. Hyperliquid
  publishes it two-sided (longs plus shorts, DOMAIN.md §1.2), so the file holds twice that
  one-sided share; the truth is the one-sided book, comparable to Binance's.
- ``prev_day_px`` is the mark 24 hours earlier (before the range: the leader's burn-in index);
  ``day_ntl_vlm`` the trailing 24-hour USD volume, 15% of the leader's.
- Prices and sizes follow Hyperliquid's tick rules (:mod:`simulator.hyperliquid.ticks`).
"""

from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl

from simulator.hyperliquid.clock import (
    MS_PER_HOUR,
    MS_PER_MINUTE,
    TIMESTAMP,
    day_ms,
    iso_second,
    timestamps,
)
from simulator.hyperliquid.model import HyperliquidModel, HyperliquidQuirks
from simulator.hyperliquid.ticks import decimal_text, hl_price
from simulator.model import MINUTES_PER_DAY, Tape
from simulator.randomness import ar1_path, seeded_stream
from simulator.rules import FUNDING_ANCHOR, FUNDING_CAP, FUNDING_CLAMP
from transforms.formats import HYPERLIQUID_HOURLY_FUNDING_FROM

FUNDING_SCHEMA: Final = pl.Schema(
    {"coin": pl.String(), "funding_time": TIMESTAMP, "funding_rate": pl.Float64()}
)
"""``truth/hyperliquid_funding.parquet``: every hourly settlement, on the hourly scale."""
ASSET_CTXS_TRUTH_SCHEMA: Final = pl.Schema(
    {
        "coin": pl.String(),
        "ts": TIMESTAMP,
        "funding": pl.Float64(),
        "open_interest": pl.Float64(),
        "mark_px": pl.Float64(),
        "oracle_px": pl.Float64(),
        "premium": pl.Float64(),
    }
)
"""``truth/hyperliquid_asset_ctxs.parquet``: the true on-grid contexts."""


@dataclass
class Contexts:
    """One coin's asset contexts: the rows as printed, their truth, and what its fills need."""

    rows: pl.DataFrame
    """The rows as printed: ``time_ms``, ``coin`` and the CSV's string columns."""
    truth: pl.DataFrame
    """The true on-grid contexts (:data:`ASSET_CTXS_TRUTH_SCHEMA`)."""
    funding: pl.DataFrame
    """The hourly settlements (:data:`FUNDING_SCHEMA`)."""
    injected: list[dict[str, str]]
    """Every injected quirk: coin, time, quirk."""
    counts: dict[str, int]
    """The count of each injected quirk."""
    premium: np.ndarray
    """Hyperliquid's premium at each minute's instant (unrounded model value)."""
    mark: np.ndarray
    """The true, rounded mark at each minute's instant."""


def asset_contexts(
    tape: Tape,
    coin: str,
    szd: int,
    seed: int,
    quirks: HyperliquidQuirks,
    model: HyperliquidModel,
) -> Contexts:
    """The coin's per-minute contexts derived from the leader ``tape`` (see the module)."""
    rng = seeded_stream(seed, f"hyperliquid:ctxs:{coin}")
    minutes = tape.days * MINUTES_PER_DAY
    hours = minutes // 60
    start_ms = day_ms(tape.start)
    oracle = tape.index_ohlc[:, 0]
    premium = (
        model.premium_scale * tape.premium_ohlc[:, 0]
        + model.premium_offset
        + np.repeat(ar1_path(rng, hours, model.spread_persistence, model.spread_sd), 60)
        + rng.normal(0.0, model.premium_noise_sd, minutes)
    )
    width = model.impact_width * rng.lognormal(0.0, 0.3, minutes)
    mark_noise = rng.normal(0.0, model.mark_noise_sd, minutes)
    share = np.exp(ar1_path(rng, minutes, model.oi_persistence, model.oi_noise_sd))
    book = _book(oracle, premium, width, mark_noise, szd)

    # Funding: the running mean of the hour's published premiums, Hyperliquid's rule.
    by_hour = book["premium"].reshape(hours, 60)
    running = _hourly_rate(np.cumsum(by_hour, axis=1) / np.arange(1, 61))
    settled = np.concatenate([_hourly_rate(by_hour[:1, 0]), running[:-1, 59]])
    funding = running.copy()
    funding[:, 0] = settled
    funding = funding.reshape(minutes)

    # Open interest: a wandering share of the leader's, interpolated between its 5-minute
    # snapshots (snapshot k is the state at the end of minute 5k + 4).
    snapshots = 5 * np.arange(1, tape.metrics.shape[0] + 1)
    leader_oi = np.interp(np.arange(minutes), snapshots, tape.metrics[:, 0])
    # Hyperliquid publishes open interest two-sided (longs plus shorts, DOMAIN.md §1.2): twice
    # the one-sided book a CEX reports.
    open_interest = np.round(2 * leader_oi * model.oi_share * share, szd)

    prev_index = tape.burn_in_ohlc[-MINUTES_PER_DAY:, 0] * (1 + model.premium_offset)
    prev_day = np.concatenate([prev_index, book["mark"]])[:minutes]
    prev_day = hl_price(prev_day, szd)
    volume = np.cumsum(np.concatenate([[0.0], tape.volume * model.volume_share * book["mark"]]))
    idx = np.arange(minutes)
    trailing = volume[idx] - volume[np.maximum(idx - MINUTES_PER_DAY, 0)]
    first = tape.volume[0] * model.volume_share * book["mark"][0]
    day_volume = np.where(
        idx >= MINUTES_PER_DAY,
        trailing,
        np.where(idx > 0, trailing * MINUTES_PER_DAY / np.maximum(idx, 1), first * MINUTES_PER_DAY),
    )
    day_volume = np.round(day_volume, 2)

    time_ms = start_ms + idx.astype(np.int64) * MS_PER_MINUTE
    truth = pl.DataFrame(
        {
            "coin": [coin] * minutes,
            "ts": timestamps(time_ms),
            "funding": funding,
            "open_interest": open_interest,
            "mark_px": book["mark"],
            "oracle_px": book["oracle"],
            "premium": book["premium"],
        }
    )
    funding_truth = pl.DataFrame(
        {
            "coin": [coin] * hours,
            "funding_time": timestamps(start_ms + np.arange(hours, dtype=np.int64) * MS_PER_HOUR),
            "funding_rate": settled,
        }
    )
    # Quirks, from their own stream: the same draws whatever the rates.
    qrng = seeded_stream(seed, f"hyperliquid:quirks:{coin}")
    draw = qrng.random(minutes)
    extra = qrng.random(minutes)
    seconds = qrng.integers(1, 60, minutes)
    cut_zero = quirks.zero_mark_px
    cut_empty = cut_zero + quirks.empty_book
    cut_negative = cut_empty + quirks.negative_open_interest
    zero_mark = draw < cut_zero
    empty = (draw >= cut_zero) & (draw < cut_empty)
    negative = (draw >= cut_empty) & (draw < cut_negative)
    off_grid = np.flatnonzero(extra < quirks.off_grid_rows)

    columns = {
        "time_ms": time_ms,
        "funding": funding,
        "open_interest": np.where(negative, -open_interest, open_interest),
        "prev_day_px": prev_day,
        "day_ntl_vlm": day_volume,
        "premium": book["premium"],
        "oracle_px": book["oracle"],
        "mark_px": np.where(zero_mark, 0.0, book["mark"]),
        "mid_px": book["mid"],
        "impact_bid_px": book["bid"],
        "impact_ask_px": book["ask"],
    }
    grid = pl.DataFrame(columns).with_columns(
        pl.when(pl.lit(pl.Series(empty))).then(None).otherwise(pl.col(name)).alias(name)
        for name in ("premium", "mid_px", "impact_bid_px", "impact_ask_px")
    )
    if off_grid.size:
        # The oracle and the book at that second; every other field as the minute's row.
        frac = seconds[off_grid] / 60
        index = tape.index_ohlc[off_grid]
        inside = _book(
            index[:, 0] + frac * (index[:, 3] - index[:, 0]),
            premium[off_grid],
            width[off_grid],
            mark_noise[off_grid],
            szd,
        )
        extra_rows = pl.DataFrame(
            {
                "time_ms": time_ms[off_grid] + seconds[off_grid].astype(np.int64) * 1_000,
                "funding": funding[off_grid],
                "open_interest": open_interest[off_grid],
                "prev_day_px": prev_day[off_grid],
                "day_ntl_vlm": day_volume[off_grid],
                "premium": inside["premium"],
                "oracle_px": inside["oracle"],
                "mark_px": inside["mark"],
                "mid_px": inside["mid"],
                "impact_bid_px": inside["bid"],
                "impact_ask_px": inside["ask"],
            }
        )
        grid = pl.concat([grid, extra_rows], how="vertical_relaxed")
    eight_hour = (
        pl.col("time_ms") < int(HYPERLIQUID_HOURLY_FUNDING_FROM.timestamp() * 1000)
        if quirks.eight_hour_funding
        else pl.lit(False)
    )
    grid = grid.with_columns(
        pl.when(eight_hour)
        .then((pl.col("funding") * 8).round(8))
        .otherwise(pl.col("funding"))
        .alias("funding"),
        eight_hour.alias("eight_hour"),
    ).sort("time_ms")
    eight_hour_rows = int(grid["eight_hour"].sum())
    price_decimals = 7
    rows = grid.select(
        "time_ms",
        pl.lit(coin).alias("coin"),
        decimal_text("funding", 8),
        decimal_text("open_interest", szd),
        decimal_text("prev_day_px", price_decimals),
        decimal_text("day_ntl_vlm", 2),
        decimal_text("premium", 8),
        *(
            decimal_text(name, price_decimals)
            for name in ("oracle_px", "mark_px", "mid_px", "impact_bid_px", "impact_ask_px")
        ),
    )

    injected: list[dict[str, str]] = []
    for name, mask in (
        ("zero_mark_px", zero_mark),
        ("empty_book", empty),
        ("negative_open_interest", negative),
    ):
        injected += [
            {"coin": coin, "time": iso_second(int(time_ms[m])), "quirk": name}
            for m in np.flatnonzero(mask)
        ]
    injected += [
        {
            "coin": coin,
            "time": iso_second(int(time_ms[m]) + int(seconds[m]) * 1_000),
            "quirk": "off_grid_rows",
        }
        for m in off_grid
    ]
    counts = {
        "zero_mark_px": int(zero_mark.sum()),
        "empty_book": int(empty.sum()),
        "negative_open_interest": int(negative.sum()),
        "off_grid_rows": int(off_grid.size),
        "eight_hour_funding": eight_hour_rows,
    }
    return Contexts(
        rows,
        truth,
        funding_truth,
        injected,
        counts,
        premium,
        book["mark"],
    )


def _book(
    oracle: np.ndarray,
    premium: np.ndarray,
    width: np.ndarray,
    mark_noise: np.ndarray,
    szd: int,
) -> dict[str, np.ndarray]:
    """Printed oracle, impact bid/ask, mid, mark and the premium Binance's definition gives.

    The impact side facing the oracle sits at ``oracle × (1 + premium)``, the other ``width``
    beyond it, so ``[max(0, bid − oracle) − max(0, oracle − ask)] / oracle`` is the premium.
    """
    fair = oracle * (1 + premium)
    bid = hl_price(np.where(premium >= 0, fair, fair * (1 - width)), szd)
    ask = hl_price(np.where(premium >= 0, fair * (1 + width), fair), szd)
    ask = np.maximum(ask, bid)
    printed_oracle = hl_price(oracle, szd)
    published = np.round(
        (np.maximum(0.0, bid - printed_oracle) - np.maximum(0.0, printed_oracle - ask))
        / printed_oracle,
        8,
    )
    return {
        "oracle": printed_oracle,
        "bid": bid,
        "ask": ask,
        "mid": hl_price((bid + ask) / 2, szd, extra=1),
        "mark": hl_price(oracle * (1 + premium + mark_noise), szd),
        "premium": published,
    }


def _hourly_rate(mean_premium: np.ndarray) -> np.ndarray:
    """Hyperliquid's hourly rate: Binance's 8-hour formula (:func:`simulator.rules.funding_rate`,
    vectorised) over the mean premium, divided by 8; on 8 decimals."""
    rate = mean_premium + np.clip(FUNDING_ANCHOR - mean_premium, -FUNDING_CLAMP, FUNDING_CLAMP)
    return np.asarray(np.round(np.clip(rate, -FUNDING_CAP, FUNDING_CAP) / 8, 8), dtype=float)

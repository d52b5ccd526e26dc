"""Long ranges drawn at coarser points: 4-hour or daily buckets instead of hours.

A report over more than :data:`BUCKETING_AFTER_DAYS` days would draw more than 1,440 points per
hourly line (a year: 8,760, each with its tooltip, in the PNGs and in the page). The rule,
:func:`resolution_for`: the finest of hourly, 4-hourly and daily at which the range's hours
make at most :data:`MAX_POINTS` points: up to 60 days hourly, up to 240 days 4-hourly, longer
ranges daily. Series already daily or weekly (daily liquidations, volume shares, coverage, CME's
weekly open interest) and the heatmap (one instant and its last week) are drawn as they are.

Each measure is aggregated by what it is, in polars over the report queries' hourly rows:

- levels (open interest, the price, the summed open interest, the venues behind them): the
  bucket's last reading, as an hourly point is already the hour's last reading;
- funding settlements, per venue: the mean rate per 8 hours weighted by each settlement's
  interval (a day of Hyperliquid's hourly settlements and of Binance's 8-hourly ones average
  over the same 24 hours), the funding paid over the bucket (the sum of the rates per
  interval), and the number of settlements;
- the open-interest-weighted funding across venues (an hourly rate): the bucket's mean;
- regimes: the bucket's most frequent label (ties to the higher priority, in the order given)
  and how many of its hours had it; the close is the last.

A bucket starts at a multiple of its width from midnight UTC and is labelled by its start, as an
hour is; buckets without a row are absent, as hours are.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
"""How the report queries spell an instant (``2024-03-01T04:00:00Z``)."""


@dataclass(frozen=True)
class Resolution:
    """How finely a report draws its hourly series."""

    hours: int
    label: str
    """The adjective in titles: ``hourly``, ``4-hourly``, ``daily``."""
    every: str
    """The bucket's width as a polars duration (``1h``, ``4h``, ``1d``)."""
    span: str
    """What one point stands for, in prose: ``hour``, ``4 hours``, ``day``."""

    @property
    def bucketed(self) -> bool:
        return self.hours > 1


HOURLY: Final = Resolution(1, "hourly", "1h", "hour")
FOUR_HOURLY: Final = Resolution(4, "4-hourly", "4h", "4 hours")
DAILY: Final = Resolution(24, "daily", "1d", "day")
RESOLUTIONS: Final = (HOURLY, FOUR_HOURLY, DAILY)

BUCKETING_AFTER_DAYS: Final = 60
"""Ranges up to this many days are drawn hourly."""
MAX_POINTS: Final = BUCKETING_AFTER_DAYS * 24
"""At most this many points per line: 60 days of hours."""


def resolution_for(days: int) -> Resolution:
    """The finest resolution drawing ``days`` days in at most :data:`MAX_POINTS` points:
    hourly up to 60 days, 4-hourly up to 240, daily beyond."""
    for resolution in RESOLUTIONS:
        if days * 24 <= MAX_POINTS * resolution.hours:
            return resolution
    return DAILY


def _bucket(column: str, resolution: Resolution) -> pl.Expr:
    """The start of the bucket holding each instant of ``column`` (a :data:`TIME_FORMAT` text)."""
    return pl.col(column).str.strptime(pl.Datetime("us"), TIME_FORMAT).dt.truncate(resolution.every)


def _as_text(column: str) -> pl.Expr:
    return pl.col(column).dt.strftime(TIME_FORMAT)


def _like(frame: pl.DataFrame, bucketed: pl.DataFrame) -> pl.DataFrame:
    """``bucketed`` with ``frame``'s columns, in its order and types, then any new ones (the
    bucket's ``start``, a datetime the charts do not read, left out)."""
    extra = [name for name in bucketed.columns if name not in frame.schema and name != "start"]
    return bucketed.select(
        *(pl.col(name).cast(kind) for name, kind in frame.schema.items()), *extra
    )


def _last(column: str) -> pl.Expr:
    """The bucket's last non-null value of ``column`` (rows sorted by time)."""
    return pl.col(column).drop_nulls().last()


OPEN_INTEREST_LEVELS: Final = (
    "oi_base",
    "oi_usd",
    "close",
    "all_oi_base",
    "all_oi_usd",
    "all_venues",
    "all_venue_count",
)


def bucket_open_interest(frame: pl.DataFrame, resolution: Resolution) -> pl.DataFrame:
    """``report_open_interest``'s hours as buckets: each level's last reading in the bucket."""
    if not resolution.bucketed:
        return frame
    bucketed = (
        frame.sort("hour")
        .group_by(_bucket("hour", resolution).alias("start"), maintain_order=True)
        .agg(*(_last(name) for name in OPEN_INTEREST_LEVELS))
        .with_columns(hour=_as_text("start"))
    )
    return _like(frame, bucketed)


def bucket_open_interest_by_type(frame: pl.DataFrame, resolution: Resolution) -> pl.DataFrame:
    """``report_open_interest_by_type``'s hours as buckets: each contract type's last hour."""
    if not resolution.bucketed:
        return frame
    bucketed = (
        frame.sort("hour")
        .group_by(_bucket("hour", resolution).alias("start"), "contract_type", maintain_order=True)
        .agg(_last("oi_usd"), _last("instruments"), _last("symbols"))
        .with_columns(hour=_as_text("start"))
        .sort(["hour", "contract_type"], descending=[False, True])
    )
    return _like(frame, bucketed)


def bucket_funding(frame: pl.DataFrame, resolution: Resolution) -> pl.DataFrame:
    """``report_funding``'s settlements as one point per venue and bucket.

    ``rate_8h_pct`` and ``apr_pct`` are the bucket's means weighted by each settlement's
    interval (a plain mean where no interval is known); ``rate_pct`` the funding paid over the
    bucket (the rates per interval summed); ``interval_hours`` the last settlement's;
    ``settlements`` how many there were.
    """
    if not resolution.bucketed:
        return frame
    weight = pl.col("interval_hours").cast(pl.Float64)

    def weighted(column: str) -> pl.Expr:
        known = pl.col(column).is_not_null() & weight.is_not_null()
        total = weight.filter(known).sum()
        return (
            pl.when(total > 0)
            .then((pl.col(column) * weight).filter(known).sum() / total)
            .otherwise(pl.col(column).mean())
            .alias(column)
        )

    bucketed = (
        frame.sort("venue", "settled_at")
        .group_by("venue", _bucket("settled_at", resolution).alias("start"), maintain_order=True)
        .agg(
            _last("interval_hours"),
            pl.col("rate_pct").sum(),
            weighted("rate_8h_pct"),
            weighted("apr_pct"),
            settlements=pl.len(),
        )
        .with_columns(settled_at=_as_text("start"))
        .sort("venue", "settled_at")
    )
    return _like(frame, bucketed)


CROSS_VENUE_RATES: Final = ("rate_8h_pct", "apr_pct", "mean_8h_pct")
CROSS_VENUE_LEVELS: Final = ("venues", "venue_count", "oi_weighted_venue_count", "oi_usd_weight")


def bucket_funding_cross_venue(frame: pl.DataFrame, resolution: Resolution) -> pl.DataFrame:
    """``report_funding_cross_venue``'s hours as buckets: the rates' means over the bucket's
    hours, the venues and open interest weighed at its last hour, and ``hours`` counted."""
    if not resolution.bucketed:
        return frame
    bucketed = (
        frame.sort("hour")
        .group_by(_bucket("hour", resolution).alias("start"), maintain_order=True)
        .agg(
            *(pl.col(name).mean() for name in CROSS_VENUE_RATES),
            *(_last(name) for name in CROSS_VENUE_LEVELS),
            hours=pl.len(),
        )
        .with_columns(hour=_as_text("start"))
    )
    return _like(frame, bucketed)


def bucket_regimes(
    frame: pl.DataFrame, resolution: Resolution, priority: Sequence[str]
) -> pl.DataFrame:
    """``report_regimes``' hours as buckets from ``hour`` to ``hour_end``: the most frequent
    regime (a tie goes to the one earlier in ``priority``), ``regime_hours`` of the bucket's
    ``hours`` had it, and the last close."""
    if not resolution.bucketed:
        return frame
    ranks = {regime: rank for rank, regime in enumerate(priority)}
    hours = frame.sort("hour").with_columns(start=_bucket("hour", resolution))
    modes = (
        hours.filter(pl.col("regime").is_not_null())
        .group_by("start", "regime")
        .agg(regime_hours=pl.len())
        .with_columns(rank=pl.col("regime").replace_strict(ranks, default=len(ranks)))
        .sort(["start", "regime_hours", "rank"], descending=[False, True, False])
        .group_by("start", maintain_order=True)
        .first()
        .select("start", "regime", "regime_hours")
    )
    bucketed = (
        hours.group_by("start", maintain_order=True)
        .agg(_last("close"), hours=pl.len())
        .join(modes, on="start", how="left")
        .with_columns(
            hour=_as_text("start"),
            hour_end=pl.col("start").dt.offset_by(resolution.every).dt.strftime(TIME_FORMAT),
        )
        .sort("hour")
    )
    return _like(frame, bucketed)

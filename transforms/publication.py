"""When a source's data for a day is due: the publication delays, defined once.

A day's data can exist only once its period has ended (the day, or the month of a monthly file);
it is *due* a publication delay later. Until then an absent file is ``pending`` in coverage and
the late-data sensor watches the archive for it; from then on it is ``missing``, the sensor stops
looking, and the day's run record asks for one more build (:mod:`transforms.resume`). Coverage,
resume and the sensor all read :func:`due_at`, so they never disagree about a file.

Binance publishes a day's files from about 06:00 UTC the next day, sometimes much later, and a
month's funding file between the 1st and the first Monday of the next month (FORMATS.md §1.2).
"""

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from transforms.dataset import Cadence, Dataset
from transforms.errors import ConfigError

DAILY_DELAY_ENV: Final = "TREADMILL_PUBLICATION_DELAY_DAYS"
MONTHLY_DELAY_ENV: Final = "TREADMILL_MONTHLY_PUBLICATION_DELAY_DAYS"


@dataclass(frozen=True)
class PublicationDelays:
    """How long after its period ends a source's data is due."""

    daily: timedelta = timedelta(days=2)
    """A daily dump file: two days' slack over Binance's next-morning publication."""
    monthly: timedelta = timedelta(days=7)
    """A monthly file: out by the first Monday of the next month at the latest."""
    weekly: timedelta = timedelta(days=6)
    """A weekly report (CFTC's, as of a Tuesday, out that Friday): by the next Tuesday, which a
    holiday week's Monday release still meets."""
    rest: timedelta = timedelta(hours=2)
    """A venue's REST history holds a day's rows as soon as the day ends; the slack covers a
    settlement published late."""

    @classmethod
    def from_env(cls) -> "PublicationDelays":
        """``TREADMILL_PUBLICATION_DELAY_DAYS`` and ``TREADMILL_MONTHLY_PUBLICATION_DELAY_DAYS``,
        whole days, defaulting to 2 and 7."""
        return cls(
            daily=timedelta(days=_days_from_env(DAILY_DELAY_ENV, cls.daily.days)),
            monthly=timedelta(days=_days_from_env(MONTHLY_DELAY_ENV, cls.monthly.days)),
        )

    def after_period(self, dataset: Dataset) -> timedelta:
        """The delay that applies to ``dataset``'s files."""
        if dataset.is_rest:
            return self.rest
        if dataset.weekday is not None:
            return self.weekly
        if dataset.cadence is Cadence.MONTHLY:
            return self.monthly
        return self.daily


def _days_from_env(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ConfigError(f"{name} must be a whole number of days, got {text!r}")
    return int(text)


def period_end(dataset: Dataset, day: date) -> datetime:
    """When the period of the file holding ``day`` ends: before that it cannot exist.

    REST history is asked for day by day, whatever period its chunks span.
    """
    end = day + timedelta(days=1) if dataset.is_rest else dataset.period_end(day)
    return datetime.combine(end, time(), tzinfo=UTC)


def due_at(dataset: Dataset, day: date, delays: PublicationDelays) -> datetime:
    """When the data holding ``day`` is due: its period's end plus the dataset's delay."""
    return period_end(dataset, day) + delays.after_period(dataset)

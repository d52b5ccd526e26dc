"""Late data: which staged days still wait for an archive file, and when to build them again.

Binance publishes a day's files from about 06:00 UTC the next day, sometimes much later, and a
month's funding file only after the month ends (FORMATS.md §1.2). The daily run stages what
exists at its hour; a file still absent (404) or whose download failed is recorded as such in
the day's manifest. This module reads the manifests, finds those files while they are still
within their publication delay, and, given what the archive's ``.CHECKSUM`` says now, decides
which days to build again:

- a **daily** file is awaited until ``publication delay`` (default 2 days) after its day ends;
- a **monthly** funding file is awaited once its month has ended (it cannot exist before), for
  up to ``monthly publication delay`` (default 31 days); when it appears, the month's days that
  were staged without it are built again, as one range.

Days never staged at all are not this module's business: the schedule and ``treadmill
materialize`` stage them. A request names the files it expects, with their published sha256, so
the same appearance is acted on once; a file re-published with another checksum is acted on
again.
"""

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from transforms.errors import ConfigError
from transforms.settings import Settings
from transforms.sources import DATASETS, Cadence, Dataset
from transforms.staging import read_manifest

DAILY_DELAY_ENV: Final = "TREADMILL_PUBLICATION_DELAY_DAYS"
MONTHLY_DELAY_ENV: Final = "TREADMILL_MONTHLY_PUBLICATION_DELAY_DAYS"
AWAITED_STATUSES: Final = frozenset({"not_published", "failed"})
"""Manifest statuses of a file the day was staged without: absent (404), or download failed."""


@dataclass(frozen=True)
class PublicationDelays:
    """How long after its period ends a file is still worth waiting for."""

    daily: timedelta = timedelta(days=2)
    monthly: timedelta = timedelta(days=31)

    @classmethod
    def from_env(cls) -> "PublicationDelays":
        """``TREADMILL_PUBLICATION_DELAY_DAYS`` and ``TREADMILL_MONTHLY_PUBLICATION_DELAY_DAYS``,
        whole days, defaulting to 2 and 31."""
        return cls(
            daily=timedelta(days=_days_from_env(DAILY_DELAY_ENV, cls.daily.days)),
            monthly=timedelta(days=_days_from_env(MONTHLY_DELAY_ENV, cls.monthly.days)),
        )


def _days_from_env(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ConfigError(f"{name} must be a whole number of days, got {text!r}")
    return int(text)


@dataclass(frozen=True)
class AwaitedFile:
    """An archive file that staged days went without, still within its publication delay."""

    exchange: str
    relpath: str
    days: tuple[date, ...]


@dataclass(frozen=True)
class LateRun:
    """Days to build again, as one run, because the files they waited for are published now."""

    first: date
    last: date
    files: tuple[tuple[str, str], ...]
    """The (archive path, published sha256) pairs that appeared for these days."""

    @property
    def run_key(self) -> str:
        """Same days and same files: same key, so a sensor requests it once."""
        digest = hashlib.sha256(repr(self.files).encode()).hexdigest()[:16]
        return f"late:{self.first}..{self.last}:{digest}"


def watch_window(
    dataset: Dataset, day: date, delays: PublicationDelays
) -> tuple[datetime, datetime]:
    """From when to until when a file holding ``day`` is worth looking for.

    From the end of the file's period (its day, or its month), until that plus the delay.
    """
    period_end = datetime.combine(dataset.period_end(day), time(), tzinfo=UTC)
    delay = delays.monthly if dataset.cadence is Cadence.MONTHLY else delays.daily
    return period_end, period_end + delay


def awaited_files(
    settings: Settings, now: datetime, delays: PublicationDelays
) -> list[AwaitedFile]:
    """Files that staged days of the universe went without and may still appear.

    Reads the manifests of the days whose window (:func:`watch_window`) contains ``now``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    longest = max(delays.daily, delays.monthly) + timedelta(days=32)
    earliest = (now - longest).date()
    days = [earliest + timedelta(days=n) for n in range((now.date() - earliest).days)]
    waiting: dict[tuple[str, str], list[date]] = {}
    for dataset in DATASETS:
        universe = settings.symbols(dataset.exchange)
        # REST history has no late files to watch for: the next run asks the venue again.
        if not universe or dataset.source != "archive":
            continue
        for day in days:
            opens, closes = watch_window(dataset, day, delays)
            if not opens <= now < closes or not dataset.is_available(day):
                continue
            symbols = set(dataset.symbols_on(universe, day))
            manifest = read_manifest(settings.manifest_root, dataset.table, day)
            for entry in manifest["symbols"] if manifest else ():
                if entry["symbol"] in symbols and entry["status"] in AWAITED_STATUSES:
                    relpath = dataset.archive_path(entry["symbol"], day)
                    waiting.setdefault((dataset.exchange, relpath), []).append(day)
    return [
        AwaitedFile(exchange, relpath, tuple(sorted(set(found))))
        for (exchange, relpath), found in sorted(waiting.items())
    ]


def late_runs(
    awaited: Iterable[AwaitedFile], published: Mapping[str, str | Exception | None]
) -> list[LateRun]:
    """The runs to request, given each awaited file's published sha256 now.

    ``published`` maps archive paths to the sha256 of their ``.CHECKSUM``, None while the
    archive answers 404, or the error it gave (the file is looked for again next time). Days
    whose files appeared are grouped into runs of consecutive days.
    """
    appeared: dict[date, set[tuple[str, str]]] = {}
    for item in awaited:
        sha256 = published.get(item.relpath)
        if isinstance(sha256, str):
            for day in item.days:
                appeared.setdefault(day, set()).add((item.relpath, sha256))
    runs: list[LateRun] = []
    for day in sorted(appeared):
        previous = runs[-1] if runs else None
        if previous is not None and previous.last + timedelta(days=1) == day:
            files = tuple(sorted(set(previous.files) | appeared[day]))
            runs[-1] = LateRun(previous.first, day, files)
        else:
            runs.append(LateRun(day, day, tuple(sorted(appeared[day]))))
    return runs

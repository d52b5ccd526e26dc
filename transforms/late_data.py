"""Late data: which staged days still wait for an archive file, and when to build them again.

Binance publishes a day's files from about 06:00 UTC the next day, sometimes much later, and a
month's funding file only after the month ends (FORMATS.md §1.2). The daily run stages what
exists at its hour; a file still absent (404) or whose download failed is recorded as such in
the day's manifest. This module reads the manifests, finds those files while they are still
within their publication delay, and, given what the archive's ``.CHECKSUM`` says now, decides
which days to build again:

- a **daily** file is awaited from the end of its day until it is due (by default 2 days later);
- a **monthly** funding file is awaited once its month has ended (it cannot exist before) until
  it is due (by default 7 days later); when it appears, the month's days that were staged
  without it are built again, as one range.

"Due" is :func:`transforms.publication.due_at`, the moment coverage turns ``pending`` into
``missing``: the sensor stops looking exactly when coverage starts asking someone to.

Days never staged at all are not this module's business: the schedule and ``treadmill
materialize`` stage them. A request names the files it expects, with their published sha256, so
the same appearance is acted on once; a file re-published with another checksum is acted on
again.
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from transforms.dataset import Dataset
from transforms.manifests import read_manifest
from transforms.publication import PublicationDelays, due_at, period_end
from transforms.settings import Settings
from transforms.sources import DATASETS

AWAITED_STATUSES: Final = frozenset({"not_published", "failed"})
"""Manifest statuses of a file the day was staged without: absent (404), or download failed."""


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
    """From when to until when a file holding ``day`` is worth looking for: from the end of its
    period (its day, or its month) until it is due, when coverage calls it ``missing``."""
    return period_end(dataset, day), due_at(dataset, day, delays)


def awaited_files(settings: Settings, now: datetime) -> list[AwaitedFile]:
    """Files that staged days of the universe went without and may still appear.

    Reads the manifests of the days whose window (:func:`watch_window`) contains ``now``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    delays = settings.publication_delays
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

"""Which client reaches each kind of source, and how resume reads what it landed: one table.

A dataset says how its files reach ``raw/`` (its :class:`~transforms.dataset.Source`); this
module maps each source to the client that lands them and to the local reading that tells resume
what a landed input holds without asking the source again. The staged assets (through
:func:`source_client`) and resume look a dataset's source up in :data:`ACCESS`, so a new kind of
source is one row here. (An object store's venue is still chosen by exchange below: Hyperliquid's
buckets or CFTC's files, each with its own URL setting and layout.)

It sits with orchestration, not with the clients, because it names the plug-ins' layouts
(CFTC's weekly files, Hyperliquid's hourly keys) and the quarantine's rejected pages.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Final

from transforms.dataset import Dataset, Source
from transforms.endpoints import RateLimit
from transforms.errors import FetchError
from transforms.fetch import ArchiveClient
from transforms.history import HistoryClient, Pacer, landed_digest
from transforms.objects import ObjectStoreClient, WeeklyFiles, landed_object_digest
from transforms.quarantine import rejected_pages_root
from transforms.recorded import RecordedClient, recorded_digest
from transforms.settings import Settings
from transforms.sources import cftc
from transforms.sources.hyperliquid import fills_hour_key

Client = ArchiveClient | HistoryClient | RecordedClient
"""A client of any source: each fetches the files (chunks, days of hours) a dataset wants."""

LocalDigest = Callable[[Dataset, Settings, str, date, datetime], str | FetchError | None]
"""(dataset, settings, archive path, day, now) → what a landed input holds now (its digest), a
:class:`FetchError` when only fetching can tell, or None when the source is taken not to have
it."""


@dataclass(frozen=True)
class SourceRoot:
    """The URL a dataset's files are asked for under, and the setting that names it."""

    name: str
    """What a person calls the source: ``Binance archive``, ``bybit REST API``."""
    setting: str
    """The variable that sets :attr:`url`: ``TREADMILL_BINANCE_URL``."""
    url: str
    """The root, ending with ``/``: every file's archive path is asked for under it."""

    def url_of(self, relpath: str) -> str:
        """The full URL of an archive path, as the source's client asks for it."""
        return self.url + relpath


@dataclass(frozen=True)
class SourceAccess:
    """How the warehouse reaches one kind of source."""

    client: Callable[[Dataset, Settings], Client]
    """The client that lands a dataset's files under ``raw/``."""
    local_digest: LocalDigest | None
    """What a landed input holds, read locally, for resume; None for a source that publishes
    a checksum for each file (resume asks it instead)."""
    root: Callable[[Dataset, Settings], SourceRoot | None]
    """Where the client asks for a dataset's files; None for a source on this machine (a
    recorded stream) or a fallback that asks no one."""


_PACERS: dict[tuple[str, RateLimit], Pacer] = {}

CFTC_WEEKLY: Final = WeeklyFiles(
    files=cftc.files_for,
    holds=cftc.holds,
    next_release=cftc.next_release,
    release_of=cftc.release_of,
    closed_at=cftc.closed_at,
)
"""CFTC's year and current-week files: where a Tuesday's report is and when to re-fetch."""


def _raw_folder(dataset: Dataset, settings: Settings) -> Path:
    return settings.raw_root / dataset.exchange


def _recorded_folder(dataset: Dataset, settings: Settings) -> Path:
    return settings.recorder_root / dataset.exchange


def _archive_client(dataset: Dataset, settings: Settings) -> Client:
    return ArchiveClient(
        settings.binance_url, _raw_folder(dataset, settings), settings.limits, settings.temp_root
    )


def _history_client(dataset: Dataset, settings: Settings) -> Client:
    """REST clients of one venue share one :class:`Pacer` per process, so that the venue's rate
    limit holds across its datasets."""
    if dataset.endpoint is None:
        raise ValueError(f"{dataset.table} is a REST dataset without an endpoint")
    venue = dataset.endpoint.venue
    rate = settings.venue_rates[venue.key]
    pacer = _PACERS.setdefault((venue.key, rate), Pacer(rate))
    return HistoryClient(
        dataset,
        settings.venue_urls[venue.key],
        _raw_folder(dataset, settings),
        settings.limits,
        pacer=pacer,
        temp_dir=settings.temp_root,
        rejected_root=rejected_pages_root(settings, dataset.exchange),
    )


def _object_client(dataset: Dataset, settings: Settings) -> Client:
    raw_folder = _raw_folder(dataset, settings)
    if dataset.exchange == cftc.EXCHANGE:
        return ObjectStoreClient(
            settings.cftc_url, raw_folder, settings.limits, settings.temp_root, weekly=CFTC_WEEKLY
        )
    return ObjectStoreClient(
        settings.hyperliquid_url,
        raw_folder,
        settings.limits,
        settings.temp_root,
        hour_key=fills_hour_key,
    )


def _recorded_client(dataset: Dataset, settings: Settings) -> Client:
    return RecordedClient(_recorded_folder(dataset, settings))


def _rest_digest(
    dataset: Dataset, settings: Settings, relpath: str, day: date, now: datetime
) -> str | FetchError | None:
    """A closed REST chunk never changes at the venue: its landed digest stands for it."""
    return landed_digest(dataset, _raw_folder(dataset, settings), relpath, now)


def _object_digest(
    dataset: Dataset, settings: Settings, relpath: str, day: date, now: datetime
) -> str | FetchError | None:
    """A landed Hyperliquid object never changes at the store: its landed digest stands."""
    return landed_object_digest(_raw_folder(dataset, settings), relpath, day, now)


def _recorded_day_digest(
    dataset: Dataset, settings: Settings, relpath: str, day: date, now: datetime
) -> str | FetchError | None:
    """A recorded day is whatever the recorder has closed so far."""
    return recorded_digest(_recorded_folder(dataset, settings) / relpath)


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _archive_root(dataset: Dataset, settings: Settings) -> SourceRoot:
    return SourceRoot("Binance archive", "TREADMILL_BINANCE_URL", _with_slash(settings.binance_url))


def _rest_root(dataset: Dataset, settings: Settings) -> SourceRoot | None:
    if dataset.endpoint is None:
        raise ValueError(f"{dataset.table} is a REST dataset without an endpoint")
    venue = dataset.endpoint.venue
    url = (
        settings.venue_urls[venue.key]
        if dataset.fallback_for is None
        else settings.fallback_url(venue.key, venue.default_url)
    )
    if url is None:
        return None
    return SourceRoot(f"{venue.key} REST API", venue.url_env, _with_slash(url))


def _object_root(dataset: Dataset, settings: Settings) -> SourceRoot:
    if dataset.exchange == cftc.EXCHANGE:
        return SourceRoot("CFTC reports", "TREADMILL_CFTC_URL", _with_slash(settings.cftc_url))
    return SourceRoot(
        "Hyperliquid buckets", "TREADMILL_HYPERLIQUID_URL", _with_slash(settings.hyperliquid_url)
    )


def _no_root(dataset: Dataset, settings: Settings) -> None:
    """A recorded stream is read from this machine's disk: no URL to get wrong."""
    return None


ACCESS: Final[Mapping[Source, SourceAccess]] = {
    Source.ARCHIVE: SourceAccess(_archive_client, None, _archive_root),
    Source.REST: SourceAccess(_history_client, _rest_digest, _rest_root),
    Source.OBJECTS: SourceAccess(_object_client, _object_digest, _object_root),
    Source.RECORDER: SourceAccess(_recorded_client, _recorded_day_digest, _no_root),
}


def source_client(dataset: Dataset, settings: Settings) -> Client:
    """The client that fetches ``dataset``'s files, chunks or recorded hours."""
    return ACCESS[dataset.source].client(dataset, settings)


def source_root(dataset: Dataset, settings: Settings) -> SourceRoot | None:
    """Where ``dataset``'s files are asked for, or None when no URL is asked."""
    return ACCESS[dataset.source].root(dataset, settings)

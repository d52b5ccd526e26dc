"""What a dataset is: the shape every dataset of every source has, and what parsing one yields.

The plug-ins of :mod:`transforms.sources` declare their datasets in these words; everything above
them (configuration, clients, orchestration) reads datasets through them and never needs to
know which venue declared one.
"""

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Final, Protocol

import pyarrow as pa

from transforms.endpoints import Endpoint
from transforms.schemas import TIMESTAMP, Kind


class Source(enum.StrEnum):
    """How a dataset's files reach ``raw/``."""

    ARCHIVE = "archive"
    """Binance's archive: a file and its ``.CHECKSUM`` per symbol and period."""
    REST = "rest"
    """Paged REST history: a chunk of pages per symbol and period."""
    OBJECTS = "objects"
    """An object store without checksums (Hyperliquid's S3 buckets): one file, or the hourly
    files of a day, holding every symbol."""
    RECORDER = "recorder"
    """What ``treadmill record`` wrote from a live stream: the closed hourly files of a day."""


@dataclass(frozen=True)
class SourceTraits:
    """What quality and coverage must know of a kind of source (how a client reaches it is
    :data:`transforms.clients.ACCESS`, a layer above)."""

    cut_by_receipt: bool
    """Files are cut by when a row was received, not when it happened (the recorder's hours):
    a file may hold rows up to an hour before its period, and its window allows for that."""
    begins_when_recorded: bool
    """The source exists only from the first day the warehouse recorded it: a day before that
    is not published (nothing to miss), not missing."""


SOURCE_TRAITS: Final[Mapping[Source, SourceTraits]] = {
    Source.ARCHIVE: SourceTraits(cut_by_receipt=False, begins_when_recorded=False),
    Source.REST: SourceTraits(cut_by_receipt=False, begins_when_recorded=False),
    Source.OBJECTS: SourceTraits(cut_by_receipt=False, begins_when_recorded=False),
    Source.RECORDER: SourceTraits(cut_by_receipt=True, begins_when_recorded=True),
}


@dataclass(frozen=True)
class ParsedFile:
    """One archive file in canonical form, with what parsing noticed about it."""

    table: pa.Table
    rows_read: int
    duplicates_dropped: int
    had_header: bool
    timestamp_unit: str
    label_convention: str | None = None
    extra_columns: tuple[str, ...] = field(default_factory=tuple)
    dropped_instants: pa.Array = field(default_factory=lambda: pa.array([], TIMESTAMP))
    """The instant of every exact duplicate dropped, so each can be charged to its day."""
    dropped_symbols: pa.Array | None = None
    """For a file holding every symbol: the symbol of each dropped duplicate, so each is
    charged to its symbol too."""
    repairs: tuple[tuple[str, int, str], ...] = ()
    """What parsing repaired or left out, counted: (what, how many, an example), e.g. absent
    values written as 0.0 read as null, or a corrupt hourly file skipped."""
    hours_covered: int | None = None
    """For sources made of hourly files: the hours of the period the source covered."""
    gap_seconds: int | None = None
    """For a recorded stream: seconds of the period the recorder was not connected."""
    messages: int | None = None
    """For a recorded stream: messages recorded in the period (control frames included)."""


Parse = Callable[["Dataset", tuple[str, ...], Path, str, date], ParsedFile]
"""(dataset, symbols, landed path, source path, period start) → the canonical table of a landed
file that holds every symbol (``Dataset.shared_file``)."""


class SymbolRule(Protocol):
    """How a dataset whose symbols vary by day derives them (Binance's delivery contracts:
    :class:`transforms.sources.delivery.DeliveryContracts`)."""

    def symbols_on(self, universe_symbols: Iterable[str], day: date) -> tuple[str, ...]:
        """The symbols to fetch on ``day`` for the exchange's universe symbols."""
        ...

    def hours_on(self, symbol: str, day: date) -> int:
        """Hours of ``day`` that ``symbol`` trades (fewer on a contract's expiry day)."""
        ...


class Cadence(enum.StrEnum):
    """How often the archive publishes a file: one per day or one per month."""

    DAILY = "daily"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class Dataset:
    """One dataset of one exchange: where its files live and what they hold.

    ``available_from``/``available_until`` bound the dates the archive publishes; outside that
    window nothing is fetched and coverage says ``not_published``. ``until`` of ``None`` means the
    dataset is still published.
    """

    exchange: str
    name: str
    kind: Kind
    cadence: Cadence
    available_from: date
    available_until: date | None
    archive_path: Callable[[str, date], str]
    """Archive-relative path of the file that holds ``day`` for ``symbol``; for a REST dataset,
    the folder of the chunk of pages that holds it."""
    description: str
    """What the dataset's rows mean to the business, in the words of the plug-in declaring it:
    the first paragraph of its staged table's description."""
    origin: str
    """Where its files come from, in words that complete "`<exchange>` `<name>`, …, published
    for …": ``daily archive files``, the REST path and its chunks, the recorder's hourly files."""
    endpoint: Endpoint | None = None
    """The paged REST endpoint the dataset comes from; None for an archive of files."""
    fallback_for: str | None = None
    """The archive dataset of the same exchange this one stands in for: it is fetched only for
    days whose archive file is not published, and the archive wins once it is."""
    source: Source = Source.ARCHIVE
    parse: Parse | None = None
    """How a shared file (every symbol in one file) parses; None for per-symbol files."""
    coverage: str = "sampled"
    """For liquidations: ``complete`` when every forced order is published (Hyperliquid's
    fills), ``sampled`` when a stream samples them (Binance: one per symbol per second)."""
    weekday: int | None = None
    """The one weekday (Monday 0) the source reports for, when it is weekly: CFTC's positions
    are as of Tuesdays, so every other day is outside the window (``not_published``)."""
    contracts: SymbolRule | None = None
    """For a dataset whose symbols vary by day (delivery contracts): the rule deriving them
    from the universe's symbols; None when the dataset's symbols are the universe's."""

    def symbols_on(self, universe_symbols: Iterable[str], day: date) -> tuple[str, ...]:
        """The symbols staged on ``day``: the exchange's universe symbols, or what
        :attr:`contracts` derives from them for that day. Everything that asks which symbols a
        dataset has (staging, coverage, resume, late files) asks this."""
        if self.contracts is None:
            return tuple(universe_symbols)
        return self.contracts.symbols_on(universe_symbols, day)

    def hours_on(self, symbol: str, day: date) -> int:
        """Hours of ``day`` that ``symbol`` trades: 24, or up to a contract's expiry."""
        return 24 if self.contracts is None else self.contracts.hours_on(symbol, day)

    def __post_init__(self) -> None:
        # The client is chosen by source and the parser by endpoint: they must agree.
        if (self.source is Source.REST) != (self.endpoint is not None):
            raise ValueError(
                f"{self.exchange}/{self.name}: a REST dataset has an endpoint, and only it"
            )

    @property
    def is_rest(self) -> bool:
        return self.source is Source.REST

    @property
    def traits(self) -> SourceTraits:
        """What quality and coverage must know of this dataset's kind of source."""
        return SOURCE_TRAITS[self.source]

    @property
    def shared_file(self) -> bool:
        """Whether one file holds every symbol of the period (its path ignores the symbol)."""
        return self.parse is not None

    @property
    def table(self) -> str:
        """Name of the staged table, also the lake directory and the Dagster asset."""
        return f"stg_{self.exchange}_{self.name}"

    def is_available(self, day: date) -> bool:
        """Whether the archive publishes this dataset for ``day`` at all."""
        if day < self.available_from:
            return False
        if self.weekday is not None and day.weekday() != self.weekday:
            return False
        return self.available_until is None or day <= self.available_until

    def period_end(self, day: date) -> date:
        """The first day after the file period that holds ``day`` (its day, or its month)."""
        if self.cadence is Cadence.MONTHLY:
            return (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        return day + timedelta(days=1)

    def period_key(self, day: date) -> str:
        """The file period that holds ``day``: the day itself, or its month for monthly files."""
        if self.cadence is Cadence.MONTHLY:
            return f"{day:%Y-%m}"
        return day.isoformat()

"""Stage a dataset for a range of days: fetch every symbol's file, parse it, publish the day.

One file per symbol and day (per month for funding) is fetched and parsed once; a day's
partition gathers every symbol that parsed. A symbol whose file is bad is left out of that day
with its error recorded, and every other symbol and day goes on. Each partition gets a manifest
(``<warehouse>/manifests/<table>/date=YYYY-MM-DD.json``) that says, per symbol, what happened:
the basis of coverage reporting and of skipping unchanged inputs.
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms.dataset import Cadence, Dataset, ParsedFile, Source
from transforms.endpoints import RateLimit
from transforms.errors import FetchError, ParseError
from transforms.fetch import ArchiveClient, FetchOutcome, Landed, NotPublished
from transforms.history import HistoryClient, Pacer, parse_chunk
from transforms.objects import ObjectStoreClient, WeeklyFiles
from transforms.publish import (
    PARTITION_FILE,
    partition_dir,
    publish_file,
    publish_partition,
    write_json_atomically,
)
from transforms.quality import ARCHIVE_FAILED, Failure, structural_failures
from transforms.recorded import RecordedClient
from transforms.schemas import STAGED_SCHEMAS, TIME_COLUMN
from transforms.settings import Settings
from transforms.sources import DATASETS, cftc
from transforms.sources.binance_csv import parse_zip
from transforms.sources.hyperliquid import fills_hour_key
from transforms.sources.streams import RECORDER_FOLDER
from transforms.validation import expectation_failures

FILES_PER_BATCH: Final = 1000
"""Files a staging call fetches, parses and validates together before publishing their days.
Great Expectations costs ~0.05–0.1 s a validation whatever its size, so a batch spreads that
over many files; bounding it keeps a year's backfill from holding every parsed file (and one
pandas copy of them all) in memory at once: 1000 kline files are ~0.5 GB, a year of 20
symbols' 7300 would be ~4 GB."""

Status = Literal["ok", "quarantined", "not_published", "failed", "outside_window", "superseded"]
"""``ok``: published; ``quarantined``: failed a quality gate, kept out of the partition and
written to ``quarantine/``; ``not_published``: the archive answered 404; ``failed``: the download
failed for good (checksum mismatch, bad body, retries exhausted); ``outside_window``: the dataset
does not exist for that day; ``superseded``: a fallback dataset (REST funding) was not fetched
because the archive serves the day."""

FALLBACK_WHEN: Final = frozenset({"not_published", "failed"})
"""Statuses of an archive dataset's symbol-day for which its REST fallback is fetched."""


@dataclass(frozen=True)
class SymbolDay:
    """What happened to one symbol of one staged partition."""

    symbol: str
    status: Status
    source_file: str | None = None
    sha256: str | None = None
    origin: str | None = None
    rows: int = 0
    duplicates_dropped: int = 0
    label_convention: str | None = None
    timestamp_unit: str | None = None
    had_header: bool | None = None
    error: str | None = None
    rows_in_day: int = 0
    """Rows whose instant falls on the partition's day (a metrics file may carry one more)."""
    checks_failed: tuple[str, ...] = ()
    """Quality gates that quarantined the file."""
    warnings: tuple[str, ...] = ()
    """Quality checks that failed without quarantining (an unknown extra column, say)."""
    report: tuple[dict[str, Any], ...] = ()
    """Every failed check with its observed values: unexpected count and a sample."""
    retryable: bool = False
    """A ``failed`` download that the archive may not repeat (it kept answering 5xx or timing
    out): worth another attempt later, unlike a file that arrived wrong."""
    hours_covered: int | None = None
    """Sources of hourly files (Hyperliquid's fills, a recorded stream): hours of the day held."""
    gap_seconds: int | None = None
    """A recorded stream: seconds of the day the recorder was not connected."""
    messages: int | None = None
    """A recorded stream: messages recorded that day (every symbol's, control frames too)."""


@dataclass(frozen=True)
class StagedPartition:
    """One published (or skipped) partition of a staged table."""

    table: str
    day: date
    path: Path | None
    rows: int
    symbols: tuple[SymbolDay, ...]
    min_ts: datetime | None
    max_ts: datetime | None
    gate_seconds: float = 0.0
    """This day's share of the time the quality gates took (measured, for observability)."""

    @property
    def failures(self) -> tuple[SymbolDay, ...]:
        return tuple(s for s in self.symbols if s.status == "failed")

    @property
    def duplicates_dropped(self) -> int:
        return sum(s.duplicates_dropped for s in self.symbols)


@dataclass(frozen=True)
class _FileResult:
    relpath: str
    landed: Landed | None = None
    parsed: ParsedFile | None = None
    error: str | None = None
    failed_check: str | None = None
    """The gate a file that did not parse broke; None for a download that failed."""
    transient: bool = False
    """The download failed only because the archive did not answer in time."""


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def stage_dataset(
    dataset: Dataset,
    days: Sequence[date],
    settings: Settings,
    client: ArchiveClient | HistoryClient | RecordedClient,
) -> list[StagedPartition]:
    """Fetch, parse and publish ``dataset`` for every day in ``days``.

    Returns one :class:`StagedPartition` per day; an exchange outside the universe stages
    nothing. Never raises for a bad file: the error lands in that symbol's record. Days go in
    batches of :data:`FILES_PER_BATCH` files: each batch is fetched, parsed, validated and
    published before the next is read, so memory does not grow with the range.
    """
    symbols = sorted(settings.symbols(dataset.exchange))
    if not symbols:
        return []
    # A dataset whose symbols vary by day (delivery contracts) derives each day's from these.
    if dataset.endpoint is not None and dataset.fallback_for is not None:
        venue = dataset.endpoint.venue
        if settings.fallback_url(venue.key, venue.default_url) is None:
            return []
    partitions = []
    per_day = len(dataset.symbols_on(symbols, days[0])) if days else len(symbols)
    for batch in day_batches(days, max(len(symbols), per_day)):
        wanted = wanted_files(dataset, batch, symbols)
        superseded: set[tuple[str, date]] = set()
        if dataset.fallback_for is not None:
            superseded = archive_served(dataset, settings, wanted)
            wanted = {key: path for key, path in wanted.items() if key not in superseded}
        files = _fetch_and_parse(dataset, wanted, settings, client)
        began = perf_counter()
        failures = _gate(dataset, wanted, files)
        gate_seconds = (perf_counter() - began) / len(batch)
        partitions += [
            replace(
                _publish_day(
                    dataset,
                    day,
                    sorted(dataset.symbols_on(symbols, day)),
                    wanted,
                    files,
                    failures,
                    settings,
                    superseded,
                ),
                gate_seconds=gate_seconds,
            )
            for day in batch
        ]
    return partitions


def archive_served(
    fallback: Dataset, settings: Settings, wanted: dict[tuple[str, date], str]
) -> set[tuple[str, date]]:
    """The (symbol, day)s whose archive file the fallback dataset need not stand in for.

    The archive dataset is staged first (the fallback's asset depends on it); a symbol-day it
    published, or quarantined, is the archive's. One it never staged, found unpublished, or
    could not download is the fallback's to fetch.
    """
    primary = next(
        d for d in DATASETS if d.exchange == fallback.exchange and d.name == fallback.fallback_for
    )
    served = set()
    for day in {day for _, day in wanted}:
        manifest = read_manifest(settings.manifest_root, primary.table, day)
        for entry in manifest["symbols"] if manifest else ():
            if entry["status"] not in FALLBACK_WHEN:
                served.add((entry["symbol"], day))
    return served & set(wanted)


_PACERS: dict[tuple[str, RateLimit], Pacer] = {}
CFTC_WEEKLY: Final = WeeklyFiles(
    files=cftc.files_for,
    holds=cftc.holds,
    next_release=cftc.next_release,
    release_of=cftc.release_of,
    closed_at=cftc.closed_at,
)
"""CFTC's year and current-week files: where a Tuesday's report is and when to re-fetch."""


def source_client(
    dataset: Dataset, settings: Settings
) -> ArchiveClient | HistoryClient | RecordedClient:
    """The client that fetches ``dataset``'s files (an archive) or chunks (a REST endpoint).

    REST clients of one venue share one :class:`Pacer` per process, so that the venue's rate
    limit holds across its datasets.
    """
    raw_root = settings.raw_root / dataset.exchange
    if dataset.source is Source.OBJECTS and dataset.exchange == cftc.EXCHANGE:
        return ObjectStoreClient(
            settings.cftc_url, raw_root, settings.limits, settings.temp_root, weekly=CFTC_WEEKLY
        )
    if dataset.source is Source.OBJECTS:
        return ObjectStoreClient(
            settings.hyperliquid_url,
            raw_root,
            settings.limits,
            settings.temp_root,
            hour_key=fills_hour_key,
        )
    if dataset.source is Source.RECORDER:
        return RecordedClient(settings.raw_root / RECORDER_FOLDER / dataset.exchange)
    if dataset.endpoint is None:
        return ArchiveClient(settings.binance_url, raw_root, settings.limits, settings.temp_root)
    venue = dataset.endpoint.venue
    rate = settings.venue_rates[venue.key]
    pacer = _PACERS.setdefault((venue.key, rate), Pacer(rate))
    return HistoryClient(
        dataset,
        settings.venue_urls[venue.key],
        raw_root,
        settings.limits,
        pacer=pacer,
        temp_dir=settings.temp_root,
        rejected_root=settings.warehouse / "quarantine" / dataset.exchange / "rejected_pages",
    )


def day_batches(days: Sequence[date], symbol_count: int) -> Iterator[list[date]]:
    """``days`` in consecutive runs of at most :data:`FILES_PER_BATCH` files' worth."""
    size = max(1, FILES_PER_BATCH // max(symbol_count, 1))
    for first in range(0, len(days), size):
        yield list(days[first : first + size])


def wanted_files(
    dataset: Dataset, days: Iterable[date], symbols: Iterable[str]
) -> dict[tuple[str, date], str]:
    """The archive file each (symbol, day) needs, for the days the dataset is published.

    ``symbols`` are the exchange's universe symbols; a dataset whose symbols vary by day
    (delivery contracts) wants the ones :meth:`Dataset.symbols_on` derives for each day."""
    symbols = list(symbols)
    return {
        (symbol, day): dataset.archive_path(symbol, day)
        for day in days
        if dataset.is_available(day)
        for symbol in dataset.symbols_on(symbols, day)
    }


def _period_start(dataset: Dataset, day: date) -> date:
    return day.replace(day=1) if dataset.cadence is Cadence.MONTHLY else day


def _gate(
    dataset: Dataset, wanted: dict[tuple[str, date], str], files: dict[str, _FileResult]
) -> dict[tuple[str, date], list[Failure]]:
    """Quality failures of every parsed file, keyed by (file, day) for the days staged."""
    days_of_file: dict[str, list[date]] = defaultdict(list)
    for (_, day), relpath in wanted.items():
        # A file holding every symbol is wanted once per symbol: gate it once per day.
        if day not in days_of_file[relpath]:
            days_of_file[relpath].append(day)
    failures: dict[tuple[str, date], list[Failure]] = defaultdict(list)
    parsed = {r: f.parsed for r, f in files.items() if f.parsed is not None}
    for relpath, table in parsed.items():
        found = structural_failures(
            dataset, table, _period_start(dataset, min(days_of_file[relpath]))
        )
        for day in days_of_file[relpath]:
            failures[relpath, day].extend(found)
    frames = {
        relpath: (table.table, _row_days(dataset, table.table, min(days_of_file[relpath])))
        for relpath, table in parsed.items()
    }
    for key, found in expectation_failures(dataset, frames).items():
        if key[1] in days_of_file[key[0]]:
            failures[key].extend(found)
    return failures


def _row_days(dataset: Dataset, table: pa.Table, day: date) -> pa.Array:
    """The day each row of a file counts for: its file's day, or its settlement's day."""
    if dataset.cadence is Cadence.DAILY:
        return pa.repeat(pa.scalar(day, pa.date32()), table.num_rows)
    return pc.cast(table[TIME_COLUMN[dataset.kind]], pa.date32()).combine_chunks()


def _fetch_and_parse(
    dataset: Dataset,
    wanted: dict[tuple[str, date], str],
    settings: Settings,
    client: ArchiveClient | HistoryClient | RecordedClient,
) -> dict[str, _FileResult]:
    universe = tuple(sorted(settings.symbols(dataset.exchange)))
    first_day: dict[str, tuple[str, date]] = {}
    for (symbol, day), relpath in wanted.items():
        key = first_day.get(relpath)
        if key is None or day < key[1]:
            first_day[relpath] = (symbol, day)

    def parse(relpath: str, outcome: FetchOutcome | FetchError) -> _FileResult:
        if isinstance(outcome, FetchError):
            # A bad REST page is bad input (quarantined), not a failed download.
            check = getattr(outcome, "check", None)
            return _FileResult(
                relpath, error=str(outcome), transient=outcome.transient, failed_check=check
            )
        if isinstance(outcome, NotPublished):
            return _FileResult(relpath)
        symbol, day = first_day[relpath]
        period_start = day.replace(day=1) if dataset.cadence is Cadence.MONTHLY else day
        # The bytes fetched and verified are parsed; the result keeps only the record of them.
        body, outcome = outcome.body, replace(outcome, body=None)
        try:
            if dataset.parse is not None:
                parsed = dataset.parse(dataset, universe, outcome.path, relpath, period_start)
            elif dataset.is_rest:
                parsed = parse_chunk(dataset, symbol, outcome.path, relpath)
                if parsed.table.num_rows == 0:
                    # The venue has nothing for the range (not listed yet, or out of its
                    # retention): like an archive's 404, not a bad file.
                    return _FileResult(relpath, landed=outcome)
            else:
                parsed = parse_zip(
                    dataset,
                    symbol,
                    outcome.path,
                    relpath,
                    period_start,
                    settings.limits.max_uncompressed_bytes,
                    body,
                )
        except ParseError as exc:
            return _FileResult(relpath, landed=outcome, error=str(exc), failed_check=exc.check)
        except Exception as exc:  # an unforeseen fault of one file quarantines that file only
            problem = f"{relpath}: {type(exc).__name__}: {exc}"
            return _FileResult(relpath, landed=outcome, error=problem, failed_check="file_parses")
        return _FileResult(relpath, landed=outcome, parsed=parsed)

    return client.map_fetched(first_day, parse)


def _rows_of_day(
    dataset: Dataset, parsed: ParsedFile, day: date, symbol: str
) -> tuple[pa.Table, int]:
    """The rows a partition takes from a file for ``symbol``, and the duplicates dropped.

    A daily file belongs whole to its day (facts apply the time window). A monthly funding
    file gives each day the settlements whose ``funding_time`` falls on it. A file holding every
    symbol gives each its own rows.
    """
    if dataset.shared_file:
        return parsed.table.filter(pc.equal(parsed.table["symbol"], symbol)), 0
    if dataset.cadence is Cadence.DAILY:
        return parsed.table, parsed.duplicates_dropped
    in_day = _on_day(parsed.table[TIME_COLUMN[dataset.kind]], day)
    duplicates = _count(_on_day(parsed.dropped_instants, day))
    return parsed.table.filter(in_day), duplicates


def _on_day(instants: pa.Array | pa.ChunkedArray, day: date) -> pa.ChunkedArray:
    """Which instants fall on the UTC ``day``."""
    start, end = day_bounds(day)
    return pc.and_(
        pc.greater_equal(instants, pa.scalar(start, instants.type)),
        pc.less(instants, pa.scalar(end, instants.type)),
    )


def _count(mask: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _publish_day(
    dataset: Dataset,
    day: date,
    symbols: Iterable[str],
    wanted: dict[tuple[str, date], str],
    files: dict[str, _FileResult],
    failures: dict[tuple[str, date], list[Failure]],
    settings: Settings,
    superseded: AbstractSet[tuple[str, date]] = frozenset(),
) -> StagedPartition:
    records: list[SymbolDay] = []
    tables: list[pa.Table] = []
    held = quarantine_held(settings, dataset, day)
    for symbol in symbols:
        relpath = wanted.get((symbol, day))
        if (symbol, day) in superseded:
            records.append(SymbolDay(symbol, "superseded"))
            continue
        if relpath is None:
            records.append(SymbolDay(symbol, "outside_window"))
            continue
        result = files[relpath]
        landed = result.landed
        sha256, origin = (landed.sha256, landed.origin) if landed else (None, None)
        if result.error is not None and result.failed_check is None:
            record = SymbolDay(
                symbol,
                "failed",
                relpath,
                sha256,
                origin,
                error=result.error,
                retryable=result.transient,
            )
            quarantine(settings, dataset, day, record, None, held)
            records.append(record)
        elif result.error is not None:
            check = result.failed_check or "file_parses"
            failure = Failure(check, "error", 1, (result.error,))
            record = SymbolDay(
                symbol,
                "quarantined",
                relpath,
                sha256,
                origin,
                error=result.error,
                checks_failed=(check,),
                report=(failure.as_dict(),),
            )
            quarantine(settings, dataset, day, record, None, held)
            records.append(record)
        elif result.parsed is None:
            records.append(SymbolDay(symbol, "not_published", relpath))
        else:
            rows, duplicates = _rows_of_day(dataset, result.parsed, day, symbol)
            found = list(failures.get((relpath, day), []))
            if landed is not None and landed.problem:
                # The archive failed this time; the verified copy landed earlier stands in.
                found.append(Failure(ARCHIVE_FAILED, "warn", 1, (landed.problem,)))
            errors = tuple(dict.fromkeys(f.check for f in found if f.severity == "error"))
            record = SymbolDay(
                symbol,
                "quarantined" if errors else "ok",
                relpath,
                sha256,
                origin,
                rows=rows.num_rows,
                duplicates_dropped=duplicates,
                label_convention=result.parsed.label_convention,
                timestamp_unit=result.parsed.timestamp_unit,
                had_header=result.parsed.had_header,
                rows_in_day=_count_in_day(dataset, rows, day),
                hours_covered=result.parsed.hours_covered,
                gap_seconds=result.parsed.gap_seconds,
                messages=result.parsed.messages,
                checks_failed=errors,
                warnings=tuple(dict.fromkeys(f.check for f in found if f.severity == "warn")),
                report=tuple(f.as_dict() for f in found),
            )
            quarantine(settings, dataset, day, record, rows if errors else None, held)
            if not errors:
                tables.append(rows)
            records.append(record)
    if not dataset.is_available(day):
        return StagedPartition(dataset.table, day, None, 0, tuple(records), None, None)
    carried_rows, carried_records = _carried_over(
        dataset, day, settings, {r.symbol for r in records}
    )
    table = pa.concat_tables([*tables, carried_rows]) if tables else carried_rows
    if carried_records:
        records = sorted([*records, *carried_records], key=lambda r: r.symbol)
        table = table.sort_by([("symbol", "ascending"), (TIME_COLUMN[dataset.kind], "ascending")])
    path = publish_partition(table, settings.lake_root, dataset.table, day)
    bounds = pc.min_max(table[TIME_COLUMN[dataset.kind]]) if table.num_rows else None
    partition = StagedPartition(
        dataset.table,
        day,
        path,
        table.num_rows,
        tuple(records),
        bounds["min"].as_py() if bounds else None,
        bounds["max"].as_py() if bounds else None,
    )
    write_json_atomically(
        manifest_path(settings, dataset, day), manifest_payload(partition), settings.temp_root
    )
    return partition


def _carried_over(
    dataset: Dataset, day: date, settings: Settings, processed: set[str]
) -> tuple[pa.Table, list[SymbolDay]]:
    """Rows and records of symbols this run did not process, kept from the published partition.

    A run over a narrower universe (``--universe binance_um:BTCUSDT`` to refresh one symbol)
    replaces those symbols only; it never deletes the others.
    """
    schema = STAGED_SCHEMAS[dataset.kind]
    path = partition_dir(settings.lake_root, dataset.table, day) / PARTITION_FILE
    manifest = read_manifest(settings.manifest_root, dataset.table, day)
    if not path.exists() or manifest is None:
        return schema.empty_table(), []
    kept = [entry for entry in manifest["symbols"] if entry["symbol"] not in processed]
    if not kept:
        return schema.empty_table(), []
    existing = pq.read_table(path, schema=schema)
    symbols = pa.array([entry["symbol"] for entry in kept])
    rows = existing.filter(pc.is_in(existing["symbol"], value_set=symbols))
    records = [
        SymbolDay(
            **{
                **entry,
                "checks_failed": tuple(entry.get("checks_failed") or ()),
                "warnings": tuple(entry.get("warnings") or ()),
                "report": tuple(entry.get("report") or ()),
            }
        )
        for entry in kept
    ]
    return rows, records


def _count_in_day(dataset: Dataset, rows: pa.Table, day: date) -> int:
    return _count(_on_day(rows[TIME_COLUMN[dataset.kind]], day))


def quarantine_held(settings: Settings, dataset: Dataset, day: date) -> frozenset[str]:
    """The names of the files in a day's quarantine folder (none when there is no folder)."""
    try:
        return frozenset(path.name for path in quarantine_folder(settings, dataset, day).iterdir())
    except FileNotFoundError:
        return frozenset()


def quarantine_folder(settings: Settings, dataset: Dataset, day: date) -> Path:
    """Where a day's quarantined symbols of ``dataset`` go."""
    return settings.warehouse / "quarantine" / dataset.exchange / dataset.name / day.isoformat()


def quarantine_paths(
    settings: Settings, dataset: Dataset, day: date, symbol: str
) -> tuple[Path, Path]:
    """Where a quarantined symbol-day's rows and report go."""
    folder = quarantine_folder(settings, dataset, day)
    return folder / f"{symbol}.parquet", folder / f"{symbol}.json"


def quarantine(
    settings: Settings,
    dataset: Dataset,
    day: date,
    record: SymbolDay,
    rows: pa.Table | None,
    held: AbstractSet[str],
) -> None:
    """Write (or clear) the quarantine of one symbol-day.

    A quarantined symbol-day leaves its rows (when it has any) and a JSON report of the failed
    checks with what they observed; one that now passes has any old quarantine removed.
    ``held`` names the files the day's quarantine folder holds (:func:`quarantine_held`): only
    those are removed (one listing a day instead of two removals per symbol).
    """
    data_path, report_path = quarantine_paths(settings, dataset, day, record.symbol)
    if record.status != "quarantined":
        for path in (data_path, report_path):
            if path.name in held:
                path.unlink(missing_ok=True)
        return
    if rows is not None and rows.num_rows:
        publish_file(rows, data_path, settings.temp_root)
    elif data_path.name in held:
        data_path.unlink(missing_ok=True)
    write_json_atomically(
        report_path,
        {
            "table": dataset.table,
            "date": day.isoformat(),
            "symbol": record.symbol,
            "source_file": record.source_file,
            "sha256": record.sha256,
            "checks_failed": list(record.checks_failed),
            "failures": list(record.report),
        },
        settings.temp_root,
    )


def manifest_path(settings: Settings, dataset: Dataset, day: date) -> Path:
    return settings.manifest_root / dataset.table / f"date={day.isoformat()}.json"


def read_manifest(manifest_root: Path, table: str, day: date) -> dict[str, Any] | None:
    """The manifest of a staged partition, or None when the day was never staged."""
    path = manifest_root / table / f"date={day.isoformat()}.json"
    if not path.exists():
        return None
    payload: dict[str, Any] = json.loads(path.read_text())
    return payload


def quarantined_symbols(
    manifest_root: Path, datasets: Iterable[Dataset], day: date
) -> set[tuple[str, str]]:
    """(exchange, symbol) pairs quarantined on ``day`` in any of ``datasets``.

    Facts of that symbol and day are not built, in this run or any later one, until a re-run
    publishes the file.
    """
    quarantined = set()
    for dataset in datasets:
        manifest = read_manifest(manifest_root, dataset.table, day)
        if manifest:
            quarantined |= {
                (dataset.exchange, entry["symbol"])
                for entry in manifest["symbols"]
                if entry["status"] == "quarantined"
            }
    return quarantined


def manifest_payload(partition: StagedPartition) -> dict[str, object]:
    return {
        "table": partition.table,
        "date": partition.day.isoformat(),
        "rows": partition.rows,
        "min_ts": partition.min_ts,
        "max_ts": partition.max_ts,
        "symbols": [asdict(s) for s in partition.symbols],
    }

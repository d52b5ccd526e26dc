"""Stage a dataset for a range of days: fetch every symbol's file, parse it, publish the day.

One file per symbol and day (per month for funding) is fetched and parsed once; a day's
partition gathers every symbol that parsed. A symbol whose file is bad is left out of that day
with its error recorded, and every other symbol and day goes on. Each partition gets a manifest
(``<warehouse>/manifests/<table>/date=YYYY-MM-DD.json``) that says, per symbol, what happened:
the basis of coverage reporting and of skipping unchanged inputs.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import date
from time import perf_counter
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from transforms import storage
from transforms.dataset import Cadence, Dataset, ParsedFile
from transforms.errors import FetchError, ParseError, printable
from transforms.fetch import ArchiveClient, FetchOutcome, Landed, NotPublished
from transforms.history import HistoryClient, parse_chunk
from transforms.manifests import StagedPartition, SymbolDay, read_manifest, write_manifest
from transforms.publish import day_bounds
from transforms.quality import ARCHIVE_FAILED, Failure, structural_failures
from transforms.quarantine import quarantine, quarantine_held
from transforms.recorded import RecordedClient
from transforms.schemas import STAGED_SCHEMAS, TIME_COLUMN
from transforms.settings import Settings
from transforms.sources import DATASETS
from transforms.sources.binance_csv import parse_zip
from transforms.validation import expectation_failures

FILES_PER_BATCH: Final = 1000
"""Files a staging call fetches, parses and validates together before publishing their days.
Great Expectations costs ~0.05–0.1 s a validation whatever its size, so a batch spreads that
over many files; bounding it keeps a year's backfill from holding every parsed file (and one
pandas copy of them all) in memory at once: 1000 kline files are ~0.5 GB, a year of 20
symbols' 7300 would be ~4 GB."""


FALLBACK_WHEN: Final = frozenset({"not_published", "failed"})
"""Statuses of an archive dataset's symbol-day for which its REST fallback is fetched."""


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
        # Plug-in parsers read local files: the storage seam says which local path holds the
        # landed unit (on the local backend, the landed path itself).
        local = storage.local_path(outcome.path)
        try:
            if dataset.parse is not None:
                parsed = dataset.parse(dataset, universe, local, relpath, period_start)
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
                    local,
                    relpath,
                    period_start,
                    settings.limits.max_uncompressed_bytes,
                    body,
                )
        except ParseError as exc:
            return _FileResult(relpath, landed=outcome, error=str(exc), failed_check=exc.check)
        except Exception as exc:  # an unforeseen fault of one file quarantines that file only
            problem = f"{relpath}: {type(exc).__name__}: {printable(str(exc))}"
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
    path = storage.publish_partition(table, settings.lake_root, dataset.table, day)
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
    write_manifest(settings, dataset, partition)
    return partition


def _carried_over(
    dataset: Dataset, day: date, settings: Settings, processed: set[str]
) -> tuple[pa.Table, list[SymbolDay]]:
    """Rows and records of symbols this run did not process, kept from the published partition.

    A run over a narrower universe (``--universe binance_um:BTCUSDT`` to refresh one symbol)
    replaces those symbols only; it never deletes the others.
    """
    schema = STAGED_SCHEMAS[dataset.kind]
    manifest = read_manifest(settings.manifest_root, dataset.table, day)
    if manifest is None:
        return schema.empty_table(), []
    kept = [entry for entry in manifest["symbols"] if entry["symbol"] not in processed]
    if not kept:
        return schema.empty_table(), []
    existing = storage.read_partition(settings.lake_root, dataset.table, day, schema)
    if existing is None:
        return schema.empty_table(), []
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

"""``dq_coverage``: what the warehouse holds for every exchange × dataset × symbol × day.

One row per dataset and symbol for each day (the universe's, and any staged for the day by a run
over a wider universe, which a narrower run keeps), built from the staging manifests
(``<warehouse>/manifests/<table>/date=YYYY-MM-DD.json``), the dataset registry (availability
windows, cadence) and the wall clock at check time. ``status`` is one of:

``ok``
    published, with at least the expected rows of the day (liquidation snapshots, an event
    stream, have no expected count: published is ``ok``);
``partial``
    published with fewer rows in the day than expected, or, for sources of hourly files
    (Hyperliquid's fills, a recorded stream), with fewer than 24 hours or with recorder gaps
    (``hours_covered``, ``gap_seconds`` and ``messages`` say how much);
``pending``
    not in the archive yet and not yet due (:mod:`transforms.publication`): by default a daily
    file is due two days after its day ends, a monthly funding file seven days after its month;
``missing``
    past due and not in the archive (404), not staged, or its download failed for good;
``quarantined``
    the file failed a quality gate and was kept out of the partition;
``not_published``
    outside the dataset's availability window: the archive never publishes it; and a delivery
    contract's file past due and still 404 (its symbol is derived from the calendar, so a 404
    says the contract was not listed, not that a file was lost).

A dataset whose symbols vary by day (Binance's delivery contracts, derived from the universe's
coins by :mod:`transforms.sources.delivery`) has rows for that day's contracts only; on a
contract's expiry day a complete day is the rows until 08:00.

``source`` says where the day's rows came from: ``archive`` (dump files) or ``rest`` (paged REST
history: the venues that publish no files, and Binance's current month of funding before its
monthly file exists, whose row then says ``ok`` with ``source = 'rest'``). A REST dataset is due
two hours after its day ends.

``checked_at`` is the only wall-clock column: a ``pending`` day turns ``missing`` when a later
check finds it still absent past its due time.
"""

from calendar import day_name
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Literal, get_args

import pyarrow as pa

from transforms import storage
from transforms.dataset import Dataset
from transforms.errors import printable
from transforms.manifests import read_manifest
from transforms.publication import PublicationDelays, due_at
from transforms.schemas import TIMESTAMP, Kind
from transforms.settings import Settings
from transforms.sources import DATASETS

COVERAGE_TABLE: Final = "dq_coverage"

CoverageStatus = Literal["ok", "partial", "pending", "missing", "quarantined", "not_published"]
STATUSES: Final[tuple[CoverageStatus, ...]] = get_args(CoverageStatus)
PROBLEM_STATUSES: Final[frozenset[str]] = frozenset({"missing", "quarantined"})
"""Statuses that need someone to act; ``treadmill coverage`` exits 1 on them."""

COVERAGE_SCHEMA: Final = pa.schema(
    [
        pa.field("exchange", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("symbol", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("expected_rows", pa.int64()),
        pa.field("rows", pa.int64()),
        pa.field("duplicates_dropped", pa.int64()),
        pa.field("label_convention", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("checked_at", TIMESTAMP, nullable=False),
        pa.field("source_file", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("source", pa.string()),
        pa.field("hours_covered", pa.int64()),
        pa.field("gap_seconds", pa.int64()),
        pa.field("messages", pa.int64()),
    ]
)
"""The partition file's columns; the day is the hive directory ``date=YYYY-MM-DD``.

``expected_rows`` is null outside the window and for event-grain datasets; ``rows`` and
``duplicates_dropped`` are null unless the day published rows for the symbol (``ok`` or
``partial``); ``sha256``, ``label_convention`` and ``source_file`` describe the archive file
whenever one was read; ``detail`` says why a day is not ``ok`` (or which warnings it raised).
"""

DEFAULT_FUNDING_INTERVAL_HOURS: Final = 8
HOURS_IN_DAY: Final = 24
EXPECTED_ROWS: Final[dict[Kind, int | None]] = {
    Kind.KLINE: 24 * 60,
    Kind.METRICS: 24 * 12,
    Kind.LIQUIDATION: None,
    Kind.COT: 1,
}


def expected_rows(dataset: Dataset, funding_intervals: Sequence[int | None] = ()) -> int | None:
    """Rows a complete day holds for one symbol; ``None`` for event-grain datasets.

    Funding settles every ``funding_interval_hours``: 24 / interval a day, 3 when the interval
    is unknown (8h). ``funding_intervals`` are the intervals of the day's published settlements;
    when they change within the day, the day needs its settlements plus enough of the shortest
    interval to cover what the published ones leave uncovered.
    """
    if dataset.kind is not Kind.FUNDING_RATE:
        return EXPECTED_ROWS[dataset.kind]
    hours = [h if h and h > 0 else DEFAULT_FUNDING_INTERVAL_HOURS for h in funding_intervals]
    if not hours:
        return 24 // DEFAULT_FUNDING_INTERVAL_HOURS
    if len(set(hours)) == 1:
        return max(1, 24 // hours[0])
    uncovered = max(0, 24 - sum(hours))
    return len(hours) + -(-uncovered // min(hours))


def coverage_rows(settings: Settings, day: date, now: datetime) -> pa.Table:
    """The ``dq_coverage`` rows of ``day`` for every dataset and symbol of the universe, and
    every symbol staged for the day before (a run over a narrower universe keeps them).

    ``now`` (timezone-aware) is the check time: it decides ``pending`` against ``missing`` and
    is written as ``checked_at``. Rows are sorted by (exchange, symbol, dataset), the lake's
    (exchange, symbol, …) order.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    checked_at = now.astimezone(UTC)
    rows: list[dict[str, Any]] = []
    for dataset in DATASETS:
        if dataset.fallback_for is not None:
            continue
        entries, intervals = _staged(settings, dataset, day)
        # A narrower universe deletes nothing staged (its run carries the other symbols over):
        # coverage goes on describing what the lake holds, as well as what the universe asks.
        symbols = sorted({*dataset.symbols_on(settings.symbols(dataset.exchange), day), *entries})
        if not symbols:
            continue
        fallback = next(
            (
                d
                for d in DATASETS
                if d.exchange == dataset.exchange and d.fallback_for == dataset.name
            ),
            None,
        )
        stand_ins, stand_in_intervals = (
            _staged(settings, fallback, day) if fallback is not None else ({}, {})
        )
        not_recording = _not_recording(settings, dataset, day)
        for symbol in symbols:
            cell = not_recording or _cell(
                dataset,
                day,
                entries.get(symbol),
                checked_at,
                settings.publication_delays,
                intervals.get(symbol, []),
                dataset.hours_on(symbol, day),
            )
            source = "rest" if dataset.is_rest else "archive"
            stand_in = stand_ins.get(symbol)
            if (
                cell["status"] in ("pending", "missing")
                and stand_in is not None
                and stand_in["status"] == "ok"
                and fallback is not None
            ):
                served = _cell(
                    fallback,
                    day,
                    stand_in,
                    checked_at,
                    settings.publication_delays,
                    stand_in_intervals.get(symbol, []),
                )
                served["detail"] = "; ".join(
                    filter(None, [f"served by REST history ({cell['detail']})", served["detail"]])
                )
                cell, source = served, "rest"
            rows.append(
                {
                    "exchange": dataset.exchange,
                    "dataset": dataset.name,
                    "symbol": symbol,
                    "checked_at": checked_at,
                    "source": source,
                    **cell,
                }
            )
    rows.sort(key=lambda r: (r["exchange"], r["symbol"], r["dataset"]))
    return pa.Table.from_pylist(rows, schema=COVERAGE_SCHEMA)


def _not_recording(settings: Settings, dataset: Dataset, day: date) -> dict[str, Any] | None:
    """The cell of a recorded stream's day before the recorder first ran for its venue.

    A stream exists only where ``treadmill record`` recorded it: before its first recorded day
    there is nothing to miss. From that day on, a day without closed hours is pending, then
    missing, like any file.
    """
    if not dataset.traits.begins_when_recorded:
        return None
    venue = settings.recorder_root / dataset.exchange
    days = [folder.name for folder in storage.listing(venue, "????-??-??")]
    if days and days[0] <= day.isoformat():
        return None
    started = f"it started on {days[0]}" if days else "it has not run"
    return {"status": "not_published", "detail": f"not recorded: {started}"}


def _staged(
    settings: Settings, dataset: Dataset, day: date
) -> tuple[dict[str, dict[str, Any]], dict[str, list[int | None]]]:
    """Each symbol's manifest entry of a staged day, and its funding intervals (funding only)."""
    manifest = read_manifest(settings.manifest_root, dataset.table, day)
    entries = {e["symbol"]: e for e in manifest["symbols"]} if manifest else {}
    intervals = (
        _funding_intervals(settings.lake_root, dataset, day)
        if dataset.kind is Kind.FUNDING_RATE and manifest
        else {}
    )
    return entries, intervals


def _cell(
    dataset: Dataset,
    day: date,
    entry: dict[str, Any] | None,
    now: datetime,
    delays: PublicationDelays,
    funding_intervals: Sequence[int | None],
    trading_hours: int = HOURS_IN_DAY,
) -> dict[str, Any]:
    """Status and observations of one symbol's day, ``trading_hours`` of which trade (a
    delivery contract trades until 08:00 on its expiry day: a complete day then holds that many
    hours' rows)."""
    manifest_status = entry["status"] if entry else None
    if dataset.weekday is not None and day.weekday() != dataset.weekday:
        return {
            "status": "not_published",
            "detail": f"not a report day: reports are as of {day_name[dataset.weekday]}s",
        }
    if not dataset.is_available(day) or manifest_status == "outside_window":
        until = dataset.available_until or "today"
        return {
            "status": "not_published",
            "detail": f"outside the archive's window {dataset.available_from}…{until}",
        }
    expected = expected_rows(dataset, funding_intervals)
    if expected is not None and trading_hours < HOURS_IN_DAY:
        expected = expected * trading_hours // HOURS_IN_DAY
    file_facts = {
        "expected_rows": expected,
        "source_file": entry.get("source_file") if entry else None,
        "sha256": entry.get("sha256") if entry else None,
        "label_convention": entry.get("label_convention") if entry else None,
    }
    if manifest_status == "ok":
        assert entry is not None
        in_day = rows_in_day(entry)
        hours, gaps = entry.get("hours_covered"), entry.get("gap_seconds")
        complete = _complete(in_day, expected, entry.get("label_convention"))
        notes = [] if complete else [f"{in_day} of {expected} rows in the day"]
        # Hourly sources (Hyperliquid's fills, a recorded stream) are events: no row count
        # says they are whole, the hours they cover and the recorder's gaps do.
        if hours is not None and hours < HOURS_IN_DAY:
            notes.append(f"{hours} of {HOURS_IN_DAY} hours")
        if gaps:
            notes.append(f"recorder not connected for {gaps} s")
        status = "ok" if not notes else "partial"
        # A short grid is what ``partial`` already says; other warnings are worth a note.
        notes += [f"warning: {w}" for w in entry.get("warnings") or () if w != "rows_on_grid"]
        return {
            **file_facts,
            "status": status,
            "rows": in_day,
            "duplicates_dropped": entry.get("duplicates_dropped", 0),
            "hours_covered": hours,
            "gap_seconds": gaps,
            "messages": entry.get("messages"),
            "detail": "; ".join(notes) or None,
        }
    if manifest_status == "quarantined":
        assert entry is not None
        checks = ", ".join(entry.get("checks_failed") or ()) or "a quality gate"
        # Manifests written before errors were made printable may quote a file's raw bytes.
        error = entry.get("error")
        detail = f"failed {checks}" + (f": {printable(error)}" if error else "")
        return {**file_facts, "status": "quarantined", "detail": detail}
    if manifest_status == "failed":
        error = printable((entry or {}).get("error") or "unknown error")
        return {**file_facts, "status": "missing", "detail": f"download failed: {error}"}
    due = due_at(dataset, day, delays)
    # No manifest entry: never staged, or staged before the symbol joined the universe.
    absent = "not in the archive (404)" if manifest_status == "not_published" else "not staged"
    if now >= due and manifest_status == "not_published" and dataset.contracts is not None:
        # A derived contract the archive has no file for was not listed (yet, or for this coin).
        return {
            **file_facts,
            "status": "not_published",
            "detail": f"{absent}: the derived contract was not listed",
        }
    if now < due:
        return {**file_facts, "status": "pending", "detail": f"{absent}; due {_stamp(due)}"}
    return {**file_facts, "status": "missing", "detail": f"{absent}; was due {_stamp(due)}"}


def rows_in_day(entry: dict[str, Any]) -> int:
    """Rows of a published manifest entry whose instant falls on the partition's day.

    Manifests written before staging counted rows in the day carry 0 there; their ``rows``
    (the file's rows) stand in.
    """
    in_day = int(entry.get("rows_in_day") or 0)
    rows = int(entry.get("rows") or 0)
    return in_day if in_day or not rows else rows


def _complete(in_day: int, expected: int | None, label_convention: str | None) -> bool:
    if expected is None:
        return True
    # A metrics file labelled by period end (00:05…next 00:00) leaves its day's 00:00 row to the
    # previous day's file, by convention rather than by loss.
    allowance = 1 if label_convention == "period_end" else 0
    return in_day + allowance >= expected


def _funding_intervals(lake_root: Path, dataset: Dataset, day: date) -> dict[str, list[int | None]]:
    """``funding_interval_hours`` of each symbol's settlements in the staged partition."""
    table = storage.read_partition(
        lake_root, dataset.table, day, columns=["symbol", "funding_interval_hours"]
    )
    if table is None:
        return {}
    intervals: dict[str, list[int | None]] = defaultdict(list)
    for symbol, hours in zip(
        table["symbol"].to_pylist(), table["funding_interval_hours"].to_pylist(), strict=True
    ):
        intervals[symbol].append(hours)
    return intervals


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    """Counts of every coverage status, zeros included, in :data:`STATUSES` order."""
    counts = Counter(statuses)
    return {status: counts.get(status, 0) for status in STATUSES}


def coverage_days(lake_root: Path) -> list[date]:
    """Days with a published ``dq_coverage`` partition, in order."""
    return storage.partition_days(lake_root, COVERAGE_TABLE)


def read_coverage(lake_root: Path, days: Iterable[date]) -> dict[date, pa.Table]:
    """The published ``dq_coverage`` partition of each of ``days`` that has one."""
    tables = {}
    for day in days:
        table = storage.read_partition(lake_root, COVERAGE_TABLE, day)
        if table is not None:
            tables[day] = table
    return tables


@dataclass(frozen=True)
class CoverageCell:
    """One symbol's day as ``dq_coverage`` recorded it."""

    status: str
    detail: str | None


@dataclass(frozen=True)
class CoverageLine:
    """One exchange × dataset × symbol of the coverage grid: its cell on each day of the grid,
    ``None`` on a day whose ``dq_coverage`` has no row for it (not checked)."""

    exchange: str
    dataset: str
    symbol: str
    cells: tuple[CoverageCell | None, ...]

    @property
    def counts(self) -> dict[str, int]:
        """How many of the line's checked days have each status."""
        return status_counts(cell.status for cell in self.cells if cell is not None)


def coverage_grid(
    tables: Mapping[date, pa.Table],
    days: Sequence[date],
    universe: Mapping[str, Sequence[str]] | None = None,
) -> list[CoverageLine]:
    """The grid ``treadmill coverage`` draws from the ``dq_coverage`` partitions of ``days``
    (``tables``, by day): one line per exchange × dataset × symbol, datasets in registry order,
    then exchange, dataset and symbol.

    Without ``universe`` the lines are every symbol the partitions hold. With it they are
    exactly that universe's symbols on those days, those never checked included (all ``None``).
    """
    by_key: dict[tuple[str, str, str], dict[date, CoverageCell]] = {}
    for day, table in tables.items():
        for row in table.select(["exchange", "dataset", "symbol", "status", "detail"]).to_pylist():
            key = (row["exchange"], row["dataset"], row["symbol"])
            by_key.setdefault(key, {})[day] = CoverageCell(row["status"], row["detail"])
    if universe is not None:
        wanted = {
            (d.exchange, d.name, symbol)
            for d in DATASETS
            for day in days
            for symbol in d.symbols_on(universe.get(d.exchange, ()), day)
        }
        by_key = {key: by_key.get(key, {}) for key in wanted}
    order = {(d.exchange, d.name): index for index, d in enumerate(DATASETS)}
    keys = sorted(by_key, key=lambda k: (order.get(k[:2], len(order)), k[0], k[1], k[2]))
    return [CoverageLine(*key, tuple(by_key[key].get(day) for day in days)) for key in keys]

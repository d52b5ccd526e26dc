"""What happened to each staged partition: per-symbol records, and the manifest each day keeps.

Each staged partition gets a manifest (``<warehouse>/manifests/<table>/date=YYYY-MM-DD.json``)
that says, per symbol, what happened: published, quarantined, not published, failed. It is the
basis of coverage reporting, of the REST fallback's choice of days, of facts leaving quarantined
symbols out, and of resume skipping unchanged inputs; all of them read it here, never through
the staging orchestrator.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from transforms import storage
from transforms.dataset import Dataset
from transforms.settings import Settings

Status = Literal["ok", "quarantined", "not_published", "failed", "outside_window", "superseded"]
"""``ok``: published; ``quarantined``: failed a quality gate, kept out of the partition and
written to ``quarantine/``; ``not_published``: the archive answered 404; ``failed``: the download
failed for good (checksum mismatch, bad body, retries exhausted); ``outside_window``: the dataset
does not exist for that day; ``superseded``: a fallback dataset (REST funding) was not fetched
because the archive serves the day."""


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


def manifest_path(settings: Settings, dataset: Dataset, day: date) -> Path:
    """Where the manifest of ``dataset``'s partition for ``day`` is kept."""
    return _path(settings.manifest_root, dataset.table, day)


def _path(manifest_root: Path, table: str, day: date) -> Path:
    return manifest_root / table / f"date={day.isoformat()}.json"


def read_manifest(manifest_root: Path, table: str, day: date) -> dict[str, Any] | None:
    """The manifest of a staged partition, or None when the day was never staged."""
    payload: dict[str, Any] | None = storage.read_json_if_exists(_path(manifest_root, table, day))
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


def write_manifest(settings: Settings, dataset: Dataset, partition: StagedPartition) -> None:
    """Replace the manifest of a staged partition with what this run did."""
    storage.write_json(
        manifest_path(settings, dataset, partition.day),
        manifest_payload(partition),
        settings.temp_root,
    )

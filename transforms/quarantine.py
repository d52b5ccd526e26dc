"""The quarantine: what failed a gate, kept out of the lake with the report that says why.

- A staged symbol-day that fails a quality gate leaves its rows (when it has any) and a JSON
  report at ``<quarantine>/<exchange>/<dataset>/<YYYY-MM-DD>/<symbol>.parquet|.json``; one that
  passes again has its old quarantine removed.
- A fact partition that fails an error check leaves the table as built and the outcome of every
  check at ``<quarantine>/facts/<table>/<YYYY-MM-DD>.parquet|.json``; nothing in the lake is
  touched, and a later publication of the day clears it.
- REST pages whose body is not the documented shape are kept at
  ``<quarantine>/<exchange>/rejected_pages/`` by the paging client.

Every path comes from :attr:`Settings.quarantine_root`; every write goes through the storage seam.
"""

from collections.abc import Set as AbstractSet
from datetime import date
from pathlib import Path
from typing import Final

import pyarrow as pa

from transforms import storage
from transforms.dataset import Dataset
from transforms.fact_checks import CheckOutcome
from transforms.manifests import SymbolDay
from transforms.settings import Settings

FACTS_FOLDER: Final = "facts"
REJECTED_PAGES_FOLDER: Final = "rejected_pages"


def rejected_pages_root(settings: Settings, exchange: str) -> Path:
    """Where the paging client keeps the pages of ``exchange`` it could not read."""
    return settings.quarantine_root / exchange / REJECTED_PAGES_FOLDER


def quarantine_held(settings: Settings, dataset: Dataset, day: date) -> frozenset[str]:
    """The names of the files in a day's quarantine folder (none when there is no folder)."""
    return storage.names_in(quarantine_folder(settings, dataset, day))


def quarantine_folder(settings: Settings, dataset: Dataset, day: date) -> Path:
    """Where a day's quarantined symbols of ``dataset`` go."""
    return settings.quarantine_root / dataset.exchange / dataset.name / day.isoformat()


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
                storage.delete(path)
        return
    if rows is not None and rows.num_rows:
        storage.write_table(rows, data_path, settings.temp_root)
    elif data_path.name in held:
        storage.delete(data_path)
    storage.write_json(
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


def fact_quarantine_folder(settings: Settings, table_name: str) -> Path:
    """Where the fact partitions of ``table_name`` that failed an error check go."""
    return settings.quarantine_root / FACTS_FOLDER / table_name


def quarantine_fact(
    table: pa.Table,
    outcomes: list[CheckOutcome],
    settings: Settings,
    table_name: str,
    day: date,
) -> Path:
    """Write a partition that failed an error check, and its report, to the quarantine.

    ``<quarantine>/facts/<table>/<date>.parquet`` holds the table as built and
    ``<date>.json`` beside it the failed checks with their violation counts and samples (and
    every other check's outcome). Nothing in the lake is touched.
    """
    folder = fact_quarantine_folder(settings, table_name)
    target = storage.write_table(table, folder / f"{day.isoformat()}.parquet", settings.temp_root)
    failed = [o for o in outcomes if o.blocks_publication]
    storage.write_json(
        folder / f"{day.isoformat()}.json",
        {
            "table": table_name,
            "date": day.isoformat(),
            "rows": table.num_rows,
            "failed_checks": [o.name for o in failed],
            "violations": {o.name: o.violations for o in failed},
            "checks": [o.to_json() for o in outcomes],
        },
        settings.temp_root,
    )
    return target


def clear_fact_quarantine(settings: Settings, table_name: str, day: date) -> None:
    """Remove a day's quarantined fact partition and report once the day has been published."""
    folder = fact_quarantine_folder(settings, table_name)
    for suffix in ("parquet", "json"):
        storage.delete(folder / f"{day.isoformat()}.{suffix}")

"""Whether each lake partition is still the file that was published.

Every publish records the new file's sha256 and size (:func:`transforms.storage.publish_partition`,
under ``<warehouse>/state/published/``). A partition is then:

- ``ok``: its size and sha256 are those recorded (the size is compared first; the file is
  hashed only when it matches);
- ``missing``: a file was published and is gone;
- ``damaged``: it differs from what was published and does not read as Parquet (truncated, say);
- ``replaced``: it differs from what was published yet reads as Parquet (another day's file
  copied over it, say): queries would answer from data the warehouse never built there;
- ``unrecorded``: published before treadmill recorded files, so only checked to read as Parquet.

``treadmill coverage --verify`` reports the partitions that are not ``ok``, and resume
(:mod:`transforms.resume`) rebuilds a day whose partition is missing, damaged or replaced.
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal

import pyarrow as pa

from transforms import storage
from transforms.catalog import lake_tables
from transforms.errors import printable
from transforms.publish import PARTITION_FILE, partition_dir

Verdict = Literal["ok", "unrecorded", "missing", "damaged", "replaced"]
BAD: Final[frozenset[Verdict]] = frozenset({"missing", "damaged", "replaced"})
"""Verdicts whose partition must be rebuilt: queries over it fail or answer wrongly."""
VERDICT_TEXT: Final[dict[Verdict, str]] = {
    "ok": "as published",
    "unrecorded": "published before files were recorded",
    "missing": "missing from the lake",
    "damaged": "damaged",
    "replaced": "not the file published",
}


@dataclass(frozen=True)
class PartitionCheck:
    """What one partition's file is, compared with the file published there."""

    table: str
    day: date
    path: Path
    verdict: Verdict
    detail: str = ""

    @property
    def bad(self) -> bool:
        return self.verdict in BAD

    def describe(self) -> str:
        """``<verdict in words>: <why>``, e.g. ``damaged: not readable as Parquet (...)``."""
        text = VERDICT_TEXT[self.verdict]
        return f"{text}: {self.detail}" if self.detail else text


def check_partition(lake_root: Path, table: str, day: date) -> PartitionCheck:
    """Compare ``table``'s partition for ``day`` with the record of the file published there."""
    path = partition_dir(lake_root, table, day) / PARTITION_FILE
    record = _published(lake_root, table, day)
    if not storage.is_file(path):
        published = f"published {record['published_at']}" if record else "published"
        return PartitionCheck(table, day, path, "missing", f"{published}, now gone")
    if record is None:
        problem = _unreadable(path)
        if problem is not None:
            return PartitionCheck(table, day, path, "damaged", problem)
        return PartitionCheck(
            table, day, path, "unrecorded", "no sha256 recorded; it reads as Parquet"
        )
    size = storage.size_of(path)
    if size == record["bytes"]:
        sha256 = storage.sha256_of(path)
        if sha256 == record["sha256"]:
            return PartitionCheck(table, day, path, "ok")
    else:
        sha256 = None
    problem = _unreadable(path)
    if problem is not None:
        return PartitionCheck(
            table,
            day,
            path,
            "damaged",
            f"{problem}; {size:,} bytes where {record['bytes']:,} were published",
        )
    sha256 = sha256 or storage.sha256_of(path)
    return PartitionCheck(
        table,
        day,
        path,
        "replaced",
        f"it reads as Parquet, but its sha256 is {sha256[:12]}… where the file published "
        f"{record['published_at']} had {record['sha256'][:12]}…",
    )


def verify_lake(
    lake_root: Path, first: date | None = None, last: date | None = None
) -> list[PartitionCheck]:
    """Check every partition in the lake or recorded as published, between ``first`` and
    ``last`` when given, by table then day."""
    places = {
        (table, day)
        for table in lake_tables(lake_root)
        for day in storage.partition_days(lake_root, table)
    }
    for folder in storage.listing(storage.publication_root(lake_root)):
        for record in storage.listing(folder, "date=*.json"):
            try:
                day = date.fromisoformat(record.stem.removeprefix("date="))
            except ValueError:
                continue
            places.add((folder.name, day))
    return [
        check_partition(lake_root, table, day)
        for table, day in sorted(places)
        if (first is None or day >= first) and (last is None or day <= last)
    ]


def _published(lake_root: Path, table: str, day: date) -> dict[str, Any] | None:
    record: dict[str, Any] | None = storage.read_json_if_exists(
        storage.publication_record_path(lake_root, table, day)
    )
    return record


def _unreadable(path: Path) -> str | None:
    """Why ``path`` does not read as Parquet (every page decoded), or None when it does."""
    try:
        storage.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        return f"not readable as Parquet ({printable(str(exc))})"
    return None

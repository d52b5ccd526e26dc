"""Publish one Parquet file per partition, swapped in atomically.

A partition is ``<lake>/<table>/date=YYYY-MM-DD/data.parquet``. The new file is written beside
it under a dot-name that no ``*.parquet`` glob matches, flushed, and ``os.replace``d over the
old one: a reader sees the old partition or the new one, never a mix, and a crash leaves the
old one. Files are zstd-compressed and rows arrive sorted by ``(exchange, symbol, instant)``.
"""

import json
import os
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

PARTITION_FILE = "data.parquet"


def partition_dir(lake_root: Path, table: str, day: date) -> Path:
    return lake_root / table / f"date={day.isoformat()}"


def partition_days(lake_root: Path, table: str) -> list[date]:
    """The days ``table`` has a published partition for, in order."""
    root = lake_root / table
    if not root.is_dir():
        return []
    days = []
    for directory in root.glob("date=*"):
        try:
            day = date.fromisoformat(directory.name.removeprefix("date="))
        except ValueError:
            continue
        if (directory / PARTITION_FILE).exists():
            days.append(day)
    return sorted(days)


def publish_partition(table: pa.Table, lake_root: Path, table_name: str, day: date) -> Path:
    """Atomically replace ``table_name``'s partition for ``day`` with ``table``."""
    directory = partition_dir(lake_root, table_name, day)
    target = publish_file(table, directory / PARTITION_FILE)
    for stale in directory.glob("*.parquet"):
        if stale.name != PARTITION_FILE:
            stale.unlink()
    _fsync_dir(directory)
    return target


def publish_file(table: pa.Table, target: Path) -> Path:
    """Write ``table`` to ``target`` as zstd Parquet through a temp file and ``os.replace``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temp.open("wb") as sink:
            pq.write_table(
                table,
                sink,
                compression="zstd",
                row_group_size=1_000_000,
                # Dictionaries pay off for the few-valued text columns only; trying them on
                # prices and sizes doubles the write time for a larger file.
                use_dictionary=[f.name for f in table.schema if pa.types.is_string(f.type)],
            )
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target


def write_json_atomically(path: Path, payload: Any) -> None:
    """Write a JSON document with the same temp-then-replace discipline as partitions."""
    text = json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n"
    write_bytes_atomically(path, text.encode())


def write_bytes_atomically(path: Path, content: bytes) -> Path:
    """Write a file through a temp file and ``os.replace``: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        temp.write_bytes(content)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

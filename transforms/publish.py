"""Publish one Parquet file per partition, swapped in atomically.

A partition is ``<lake>/<table>/date=YYYY-MM-DD/data.parquet``. The new file is written to the
warehouse's temporary directory (``<warehouse>/tmp``, outside the lake and on the same
filesystem), flushed, and ``os.replace``d over the old one: a reader sees the old partition or
the new one, never a mix, and a process killed mid-write leaves the old partition and a stray
file under ``tmp/`` only, which no reader looks at and the next writer sweeps away (see
:mod:`transforms.lock`). Files are zstd-compressed and rows arrive sorted by
``(exchange, symbol, instant)``.
"""

import json
import os
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.settings import TEMP_DIR

PARTITION_FILE = "data.parquet"


def partition_dir(lake_root: Path, table: str, day: date) -> Path:
    return lake_root / table / f"date={day.isoformat()}"


def temp_dir(warehouse: Path) -> Path:
    """``<warehouse>/tmp``: where every file is written before it is renamed into place."""
    return warehouse / TEMP_DIR


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
    """Atomically replace ``table_name``'s partition for ``day`` with ``table``.

    The lake is ``<warehouse>/lake``, so the temporary file goes to ``<warehouse>/tmp``.
    """
    directory = partition_dir(lake_root, table_name, day)
    target = publish_file(table, directory / PARTITION_FILE, temp_dir(lake_root.parent))
    for stale in directory.glob("*.parquet"):
        if stale.name != PARTITION_FILE:
            stale.unlink()
    _fsync_dir(directory)
    return target


def publish_file(table: pa.Table, target: Path, temp_root: Path | None = None) -> Path:
    """Write ``table`` to ``target`` as zstd Parquet through a temp file and ``os.replace``.

    The temporary file goes to ``temp_root`` (default: beside ``target``), which must be on the
    same filesystem as ``target`` for the rename to be atomic.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_path(target, temp_root)
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


def write_json_atomically(path: Path, payload: Any, temp_root: Path | None = None) -> None:
    """Write a JSON document with the same temp-then-replace discipline as partitions."""
    text = json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n"
    write_bytes_atomically(path, text.encode(), temp_root)


def write_bytes_atomically(path: Path, content: bytes, temp_root: Path | None = None) -> Path:
    """Write a file through a temp file and ``os.replace``: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_path(path, temp_root)
    try:
        temp.write_bytes(content)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def _temp_path(target: Path, temp_root: Path | None) -> Path:
    folder = temp_root or target.parent
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f".{target.name}.{uuid.uuid4().hex}.tmp"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

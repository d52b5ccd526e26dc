"""Publish one Parquet file per partition, swapped in atomically.

A partition is ``<lake>/<table>/date=YYYY-MM-DD/data.parquet``. The new file is written to the
warehouse's temporary directory (``<warehouse>/tmp``, outside the lake and on the same
filesystem), flushed, and ``os.replace``d over the old one: a reader sees the old partition or
the new one, never a mix, and a process killed mid-write leaves the old partition and a stray
file under ``tmp/`` only, which no reader looks at and the next writer sweeps away (see
:mod:`transforms.lock`). Files are zstd-compressed and rows arrive sorted by
``(exchange, symbol, instant)``.
"""

import os
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import BinaryIO, Final

import pyarrow as pa
import pyarrow.parquet as pq

PARTITION_FILE = "data.parquet"
TEMP_FOLDER: Final = "tmp"
"""The warehouse's folder for files being written, on the same filesystem as their targets."""


def partition_dir(lake_root: Path, table: str, day: date) -> Path:
    return lake_root / table / f"date={day.isoformat()}"


def temp_dir(warehouse: Path) -> Path:
    """``<warehouse>/tmp``: where every file is written before it is renamed into place."""
    return warehouse / TEMP_FOLDER


def publish_partition(table: pa.Table, lake_root: Path, table_name: str, day: date) -> Path:
    """Atomically replace ``table_name``'s partition for ``day`` with ``table``.

    The lake is ``<warehouse>/lake``, so the temporary file goes to ``<warehouse>/tmp``.
    """
    directory = partition_dir(lake_root, table_name, day)
    target = publish_file(table, directory / PARTITION_FILE, temp_dir(lake_root.parent))
    for stale in directory.glob("*.parquet"):
        if stale.name != PARTITION_FILE:
            stale.unlink()
    fsync_dir(directory)
    return target


def publish_file(table: pa.Table, target: Path, temp_root: Path | None = None) -> Path:
    """Write ``table`` to ``target`` as zstd Parquet through a temp file and ``os.replace``.

    The temporary file goes to ``temp_root`` (default: beside ``target``), which must be on the
    same filesystem as ``target`` for the rename to be atomic.
    """
    temp = _temp_path(target, temp_root)
    try:
        with _create(temp) as sink:
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
        move_into_place(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def write_bytes_atomically(path: Path, content: bytes, temp_root: Path | None = None) -> Path:
    """Write a file through a temp file and ``os.replace``: readers see old or new, never half."""
    temp = _temp_path(path, temp_root)
    try:
        with _create(temp) as sink:
            sink.write(content)
        move_into_place(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def link_atomically(
    source: Path, path: Path, same_as: os.stat_result, temp_root: Path | None = None
) -> bool:
    """Put a hard link to ``source`` at ``path``, through a temp name and ``os.replace``.

    Only while ``source`` is still the file ``same_as`` (its ``fstat`` when it was read)
    describes: the same inode, size and modification time, so the link holds the bytes that
    were read. False, with nothing changed, when it is not or when it cannot be linked (another
    filesystem, links not permitted there): the caller writes the bytes instead.

    The two names share one inode, so neither may be written in place. Nothing here does: every
    file is replaced (:func:`write_bytes_atomically`, :func:`publish_file`), which points the
    name at a new inode and leaves the other name's bytes as they were.
    """
    temp = _temp_path(path, temp_root)
    try:
        try:
            os.link(source, temp)
        except FileNotFoundError:
            _make_missing(temp.parent)
            os.link(source, temp)
    except OSError:
        return False
    try:
        if _identity(temp.stat()) != _identity(same_as):
            temp.unlink()
            return False
        move_into_place(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return True


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _temp_path(target: Path, temp_root: Path | None) -> Path:
    folder = temp_root or target.parent
    return folder / f".{target.name}.{uuid.uuid4().hex}.tmp"


# Folders are made only when an operation finds one missing: they nearly always exist, so a
# file costs no mkdir (nor the stat that follows a mkdir of an existing folder).


def _create(temp: Path) -> BinaryIO:
    """A new temporary file, open for writing."""
    try:
        return temp.open("wb")
    except FileNotFoundError:
        _make_missing(temp.parent)
    return temp.open("wb")


def move_into_place(temp: Path, target: Path) -> None:
    """Rename a finished file over ``target`` (same filesystem), making its folder if missing."""
    try:
        os.replace(temp, target)
    except FileNotFoundError:
        _make_missing(target.parent)
        os.replace(temp, target)


def _make_missing(folder: Path) -> None:
    """Make ``folder`` (and its parents) after an operation in it found no such file.

    Another writer may have made it in the meantime, so an existing folder is no error: the
    caller tries once more, and a failure then (the missing file was another) is raised.
    """
    folder.mkdir(parents=True, exist_ok=True)


def fsync_dir(directory: Path) -> None:
    """Make a rename into ``directory`` durable: fsync the directory itself."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The instants a daily partition covers: ``[day 00:00 UTC, next day 00:00 UTC)``."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)

"""The one seam between the warehouse and where it is kept.

Every read, write, listing and delete of the warehouse (raw, lake, quarantine, manifests,
coverage, reports, build and publication records, temp, the catalog file, the recorder's hours)
goes through the functions here, by the path :class:`transforms.settings.Settings` gives it.
Nothing else in ``transforms/`` opens, lists or removes a warehouse file itself
(``tests/test_architecture.py`` holds it to that), so where the warehouse lives is decided here
alone.

Today there is one backend, :class:`LocalFolder`: the warehouse is a folder on a local
filesystem, and every file is written to a temp file (under ``<warehouse>/tmp`` where the
caller gives that root, as for partitions and landed files; beside the target otherwise), then
renamed over its target (:mod:`transforms.publish`); files that grow in place
(:func:`open_stream`) and finished local files (:func:`put_file`) are the exceptions their names
say. A backend for an object store (:class:`transforms.object_store.ObjectStore`) implements
:class:`Backend` beside it and, once :func:`mount`ed, :func:`backend_for` hands it the paths under
its root; no caller changes.

What a caller may rely on, whatever the backend:

- a reader sees a file whole or not at all, never half-written (:func:`write_bytes`,
  :func:`write_table` and :func:`publish_partition` replace a file in one step);
- a missing file reads as ``None`` where absence is an answer (:func:`read_json_if_exists`,
  :func:`read_partition`, :func:`exists` is ``False``) and raises :class:`FileNotFoundError`
  where the file must be there (:func:`read_bytes`, :func:`read_json`); a missing folder lists
  as empty;
- scratch work (unzipping, building a partition, a parser reading a landed file) runs on local
  files: :func:`local_path` gives the local path that holds a warehouse file (or a landed unit:
  a day's folder of hours reads the files its record names beside it).
"""

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, Final, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from transforms import publish
from transforms.publish import PARTITION_FILE, partition_dir, temp_dir
from transforms.settings import STATE_FOLDER

PUBLISHED_FOLDER: Final = "published"
"""Under ``<warehouse>/state``: what each partition's file was when it was published."""


class Backend(Protocol):
    """Where a warehouse is kept: the operations every caller's path goes through."""

    def exists(self, path: Path) -> bool: ...
    def is_file(self, path: Path) -> bool: ...
    def read_bytes(self, path: Path) -> bytes | None: ...
    def read_table(
        self, path: Path, schema: pa.Schema | None, columns: list[str] | None
    ) -> pa.Table | None: ...
    def list(self, folder: Path, pattern: str) -> list[Path]: ...
    def write_bytes(self, path: Path, content: bytes, temp_root: Path | None) -> Path: ...
    def write_table(self, table: pa.Table, path: Path, temp_root: Path | None) -> Path: ...
    def publish_partition(
        self, table: pa.Table, lake_root: Path, table_name: str, day: date
    ) -> Path: ...
    def link(
        self, source: Path, path: Path, same_as: os.stat_result, temp_root: Path | None
    ) -> bool: ...
    def rename(self, source: Path, target: Path) -> None: ...
    def put_file(self, local: Path, path: Path) -> None: ...
    def uri(self, path: Path) -> str: ...
    def delete(self, path: Path) -> None: ...
    def delete_tree(self, folder: Path) -> None: ...
    def open_stream(self, path: Path, mode: str, buffering: int) -> IO[Any]: ...
    def local_path(self, path: Path) -> Path: ...
    def modified_at(self, path: Path) -> datetime: ...
    def free_bytes(self, path: Path) -> int | None: ...
    def size_of(self, path: Path) -> int: ...


class LocalFolder:
    """The warehouse as a folder on a local filesystem (the default, nothing to set up)."""

    def exists(self, path: Path) -> bool:
        return path.exists()

    def is_file(self, path: Path) -> bool:
        return path.is_file()

    def read_bytes(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def read_table(
        self, path: Path, schema: pa.Schema | None, columns: list[str] | None
    ) -> pa.Table | None:
        try:
            return pq.read_table(path, schema=schema, columns=columns)
        except FileNotFoundError:
            return None

    def list(self, folder: Path, pattern: str) -> list[Path]:
        # A missing folder globs as nothing: absence is an answer.
        return sorted(folder.glob(pattern))

    def write_bytes(self, path: Path, content: bytes, temp_root: Path | None) -> Path:
        return publish.write_bytes_atomically(path, content, temp_root)

    def write_table(self, table: pa.Table, path: Path, temp_root: Path | None) -> Path:
        return publish.publish_file(table, path, temp_root)

    def publish_partition(
        self, table: pa.Table, lake_root: Path, table_name: str, day: date
    ) -> Path:
        return publish.publish_partition(table, lake_root, table_name, day)

    def link(
        self, source: Path, path: Path, same_as: os.stat_result, temp_root: Path | None
    ) -> bool:
        return publish.link_atomically(source, path, same_as, temp_root)

    def rename(self, source: Path, target: Path) -> None:
        os.replace(source, target)
        publish.fsync_dir(target.parent)

    def put_file(self, local: Path, path: Path) -> None:
        publish.move_into_place(local, path)

    def uri(self, path: Path) -> str:
        return str(path.resolve())

    def delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def delete_tree(self, folder: Path) -> None:
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)
        else:
            folder.unlink(missing_ok=True)

    def open_stream(self, path: Path, mode: str, buffering: int) -> IO[Any]:
        if "r" not in mode:
            path.parent.mkdir(parents=True, exist_ok=True)
        if "b" in mode:
            return path.open(mode, buffering=buffering)
        return path.open(mode, buffering=buffering, encoding="utf-8", newline="")

    def local_path(self, path: Path) -> Path:
        return path

    def modified_at(self, path: Path) -> datetime:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)

    def free_bytes(self, path: Path) -> int | None:
        existing = next(folder for folder in (path, *path.parents) if folder.exists())
        return shutil.disk_usage(existing).free

    def size_of(self, path: Path) -> int:
        return path.stat().st_size


LOCAL_FOLDER = LocalFolder()
_MOUNTED: dict[Path, Backend] = {}


def mount(root: Path, backend: Backend) -> None:
    """Keep every path under ``root`` on ``backend`` from now on (an object store's bucket:
    :mod:`transforms.object_store`); every other path stays on the local folder."""
    _MOUNTED[root] = backend


def unmount(root: Path) -> None:
    """Give the paths under ``root`` back to the local folder."""
    _MOUNTED.pop(root, None)


def backend_for(path: Path) -> Backend:
    """The backend that keeps ``path``: the one mounted at a root above it, else the local
    folder."""
    for root, backend in _MOUNTED.items():
        if path.is_relative_to(root):
            return backend
    return LOCAL_FOLDER


def exists(path: Path) -> bool:
    """Whether the warehouse holds a file (or folder) at ``path``."""
    return backend_for(path).exists(path)


def is_file(path: Path) -> bool:
    """Whether ``path`` is a file (not a folder, and not absent)."""
    return backend_for(path).is_file(path)


def read_bytes(path: Path) -> bytes:
    """A warehouse file's bytes; :class:`FileNotFoundError` when there is no such file."""
    content = backend_for(path).read_bytes(path)
    if content is None:
        raise FileNotFoundError(f"no such file in the warehouse: {path}")
    return content


def read_bytes_if_exists(path: Path) -> bytes | None:
    """A warehouse file's bytes; None when there is no such file."""
    return backend_for(path).read_bytes(path)


def read_json(path: Path) -> Any:
    """A warehouse JSON document; :class:`FileNotFoundError` when there is no such file."""
    return json.loads(read_bytes(path))


def read_json_if_exists(path: Path) -> Any:
    """A warehouse JSON document; None when there is no such file."""
    content = read_bytes_if_exists(path)
    return None if content is None else json.loads(content)


def read_table(
    path: Path, schema: pa.Schema | None = None, columns: list[str] | None = None
) -> pa.Table | None:
    """A warehouse Parquet file as a table (cast to ``schema``, only ``columns``, when given);
    None when there is no such file."""
    return backend_for(path).read_table(path, schema, columns)


def sha256_of(path: Path) -> str:
    """The sha256 of a warehouse file's bytes (it must exist)."""
    return fingerprint(path)[0]


def fingerprint(path: Path) -> tuple[str, int]:
    """The sha256 of a warehouse file's bytes and how many there are (it must exist)."""
    digest = hashlib.sha256()
    size = 0
    with local_path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def size_of(path: Path) -> int:
    """How many bytes a warehouse file holds (it must exist)."""
    return backend_for(path).size_of(path)


def modified_at(path: Path) -> datetime:
    """When a warehouse file was last written (UTC)."""
    return backend_for(path).modified_at(path)


def free_bytes(path: Path) -> int | None:
    """Room left for writing at ``path``: its filesystem's free space (the nearest existing
    folder's, when ``path`` does not exist yet); None where the backend sets no such limit."""
    return backend_for(path).free_bytes(path)


def listing(folder: Path, pattern: str = "*") -> list[Path]:
    """The entries of ``folder`` whose names match ``pattern`` (a glob), sorted; empty when
    there is no such folder."""
    return backend_for(folder).list(folder, pattern)


def names_in(folder: Path) -> frozenset[str]:
    """The names of the entries of ``folder``; empty when there is no such folder."""
    return frozenset(path.name for path in listing(folder))


def partition_days(lake_root: Path, table: str) -> list[date]:
    """The days ``table`` has a published partition for, in order."""
    days = []
    for folder in listing(lake_root / table, "date=*"):
        try:
            day = date.fromisoformat(folder.name.removeprefix("date="))
        except ValueError:
            continue
        if exists(folder / PARTITION_FILE):
            days.append(day)
    return sorted(days)


def partition_exists(lake_root: Path, table: str, day: date) -> bool:
    """Whether ``table`` has a published partition for ``day``."""
    return exists(partition_dir(lake_root, table, day) / PARTITION_FILE)


def read_partition(
    lake_root: Path,
    table: str,
    day: date,
    schema: pa.Schema | None = None,
    columns: list[str] | None = None,
) -> pa.Table | None:
    """A published partition of ``table``; None when the day has none."""
    return read_table(partition_dir(lake_root, table, day) / PARTITION_FILE, schema, columns)


def write_bytes(path: Path, content: bytes, temp_root: Path | None = None) -> Path:
    """Replace the file at ``path`` with ``content`` in one step: readers see old or new.

    ``temp_root`` is where the local backend writes before it renames (default: beside
    ``path``); it must be on the same filesystem as ``path``."""
    return backend_for(path).write_bytes(path, content, temp_root)


def write_json(path: Path, payload: Any, temp_root: Path | None = None) -> None:
    """Replace a JSON document in one step (sorted keys, indented, instants as text)."""
    text = json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n"
    write_bytes(path, text.encode(), temp_root)


def write_table(table: pa.Table, path: Path, temp_root: Path | None = None) -> Path:
    """Replace the Parquet file at ``path`` with ``table`` (zstd) in one step."""
    return backend_for(path).write_table(table, path, temp_root)


def publish_partition(table: pa.Table, lake_root: Path, table_name: str, day: date) -> Path:
    """Replace ``table_name``'s partition for ``day`` with ``table`` in one step (the lake is
    ``<warehouse>/lake``; the file is written under ``<warehouse>/tmp`` first), and record the
    new file's sha256 and size (:func:`publication_record_path`), so that a file damaged or
    replaced afterwards is told from the one published."""
    path = backend_for(lake_root).publish_partition(table, lake_root, table_name, day)
    sha256, size = fingerprint(path)
    write_json(
        publication_record_path(lake_root, table_name, day),
        {
            "table": table_name,
            "date": day.isoformat(),
            "sha256": sha256,
            "bytes": size,
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        temp_dir(lake_root.parent),
    )
    return path


def publication_record_path(lake_root: Path, table_name: str, day: date) -> Path:
    """``<warehouse>/state/published/<table>/date=YYYY-MM-DD.json``: the sha256 and size of the
    file last published as ``table_name``'s partition for ``day``, and when.

    It is written right after the file is renamed into place: a process killed between the two
    leaves the previous file's record, and the partition then reads as replaced until the day
    is built again, as a killed run's days are anyway."""
    return publication_root(lake_root) / table_name / f"date={day.isoformat()}.json"


def publication_root(lake_root: Path) -> Path:
    """``<warehouse>/state/published``: a folder per table of what each partition was when
    published (:func:`publication_record_path`)."""
    return lake_root.parent / STATE_FOLDER / PUBLISHED_FOLDER


def link(source: Path, path: Path, same_as: os.stat_result, temp_root: Path | None = None) -> bool:
    """Put ``source`` (a local file, read when it was ``same_as``) at ``path`` without copying
    its bytes, when the backend can; False, with nothing changed, when it cannot (the caller
    writes the bytes instead). See :func:`transforms.publish.link_atomically`."""
    return backend_for(path).link(source, path, same_as, temp_root)


def rename(source: Path, target: Path) -> None:
    """Move a warehouse file to another name in one step (a recorder's hour, closed)."""
    backend_for(target).rename(source, target)


def put_file(local: Path, path: Path) -> None:
    """Publish a finished local file (built under ``<warehouse>/tmp``, such as the catalog) at
    ``path`` in one step; the local file is consumed."""
    backend_for(path).put_file(local, path)


def uri(path: Path) -> str:
    """How DuckDB and pyarrow name ``path`` when they read it themselves (an absolute local
    path here; an object store's URL on such a backend). Globs pass through unchanged."""
    return backend_for(path).uri(path)


def delete(path: Path) -> None:
    """Remove a warehouse file; nothing happens when there is none."""
    backend_for(path).delete(path)


def delete_tree(folder: Path) -> None:
    """Remove a warehouse folder and everything in it (or the file of that name); nothing
    happens when there is none."""
    backend_for(folder).delete_tree(folder)


def open_stream(path: Path, mode: str, buffering: int = -1) -> IO[Any]:
    """A warehouse file open as a stream, for the files that grow in place: the recorder's open
    hour and gap log (appended, fsynced through the handle, repaired after a crash) and its
    venue locks. ``mode`` is :func:`open`'s; text is UTF-8 with newlines as written. Writing
    makes the folder when missing. (A backend without files that grow keeps these on local
    disk and publishes a closed hour with :func:`put_file`.)"""
    return backend_for(path).open_stream(path, mode, buffering)


@contextmanager
def scratch_file(temp_root: Path, name: str) -> Iterator[Path]:
    """A fresh local file path under ``temp_root`` for a tool that builds a file by name
    (DuckDB's catalog); whatever is left under that name, or beside it with a suffix such as
    ``.wal``, is removed when the block ends."""
    scratch = temp_root / f".{name}.{uuid.uuid4().hex}.tmp"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield scratch
    finally:
        for leftover in scratch.parent.glob(f"{scratch.name}*"):
            leftover.unlink(missing_ok=True)


def local_path(path: Path) -> Path:
    """A local path the warehouse's readers (DuckDB's ``read_parquet``, a parser) can open for
    ``path``: the path itself on the local backend."""
    return backend_for(path).local_path(path)

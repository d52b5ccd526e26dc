"""One writer per warehouse: an exclusive lock held for a whole run, across processes.

Every run that writes the lake, the manifests or the catalog holds ``<warehouse>/writer.lock``
(an ``flock``) from start to end: the daemon's scheduled and sensor runs, ``treadmill
materialize`` and ``treadmill demo``, and ad-hoc runs from the UI. Dagster's run queue
(``max_concurrent_runs: 1``) only orders the runs it launches itself; a CLI run executes in its
own process, outside the queue, so the queue alone cannot keep it from overlapping a scheduled
run. A second writer waits for the first to finish.

The kernel drops the lock when its holder exits, however it exits (``kill -9`` included), so a
crashed writer never blocks the next one. Whoever takes the lock owns ``<warehouse>/tmp``:
anything left there was being written by a writer that died, and is removed.
"""

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from transforms import storage
from transforms.publish import temp_dir

LOCK_FILE: Final = "writer.lock"

_held: dict[tuple[Path, int], int] = {}
"""How deep each (warehouse, thread) holds the lock: a run inside the CLI's hold re-enters."""
_held_guard = threading.Lock()


@contextmanager
def writer_lock(warehouse: Path, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the warehouse's writer lock; wait (calling ``on_wait`` with the holder) if taken.

    Re-entrant within a thread: the CLI holds it around planning, the run and the resume
    records, and the run's own resource takes it again without waiting for itself.
    """
    key = (warehouse.resolve(), threading.get_ident())
    with _held_guard:
        depth = _held.get(key, 0)
        _held[key] = depth + 1
    try:
        if depth:
            yield
            return
        with storage.open_stream(warehouse / LOCK_FILE, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                if on_wait is not None:
                    on_wait(f"waiting for {holder} to finish writing {warehouse}")
                fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} (since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)\n")
            handle.flush()
            sweep_temp(warehouse)
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        with _held_guard:
            if _held[key] == 1:
                del _held[key]
            else:
                _held[key] -= 1


def sweep_temp(warehouse: Path) -> list[Path]:
    """Remove what dead writers left in ``<warehouse>/tmp``; only the lock holder may call it."""
    removed = storage.listing(temp_dir(warehouse))
    for entry in removed:
        storage.delete_tree(entry)
    return removed

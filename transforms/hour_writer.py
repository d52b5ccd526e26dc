"""Writing a venue's hour files, and putting them in order after a crash.

The format is :mod:`transforms.hour_files`'; this module is what keeps it true while frames
arrive and after a process dies mid-write. :class:`HourFiles` appends frames to the open hour
through a large buffer, flushes it to the operating system once a second (so a ``kill -9``
loses at most the last second), fsyncs and renames it ``HH.jsonl`` when the hour ends, and
fsyncs each gap record as it is written. :func:`recover_venue` runs before recording: it closes
the ``.open`` files of hours that ended while no recorder ran, after dropping a torn last line,
and finds the last instant a previous run recorded (where the not-running gap starts).
"""

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from transforms import storage
from transforms.hour_files import (
    HOUR_MS,
    binary_line,
    gap_line,
    gaps_path,
    hour_of,
    hour_path,
    is_day_folder,
    is_open,
    line_recv_ms,
    text_line,
)

logger = logging.getLogger(__name__)

WRITE_BUFFER_BYTES = 1024 * 1024
"""An hour file's write buffer: a frame costs a string format and a memory copy, not a write."""


class RecorderError(Exception):
    """The recorder cannot go on (its files cannot be written, or the venue is taken)."""


def _last_newline(handle: IO[bytes], end: int) -> int:
    """The offset of the last ``\\n`` before ``end``, -1 if none; read backwards in chunks."""
    chunk = 64 * 1024
    position = end
    while position > 0:
        start = max(0, position - chunk)
        handle.seek(start)
        found = handle.read(position - start).rfind(b"\n")
        if found >= 0:
            return start + found
        position = start
    return -1


def _last_recv_ms(path: Path, *, repair: bool) -> tuple[int | None, int]:
    """The ``recv_ms`` of the file's last complete line, and how many torn lines were dropped.

    With ``repair``, a torn tail (a line a kill -9 cut short: no newline, or not JSON) is
    truncated away and the file fsynced, so the ingest only ever reads whole lines.
    """
    dropped = 0
    with storage.open_stream(path, "r+b" if repair else "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        keep = _last_newline(handle, size) + 1
        if keep < size:
            dropped += 1
        last: int | None = None
        while keep > 0:
            start = _last_newline(handle, keep - 1) + 1
            handle.seek(start)
            last = line_recv_ms(handle.read(keep - start))
            if last is not None:
                break
            dropped += 1
            keep = start
        if repair and keep < size:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
    return last, dropped


@dataclass
class Recovery:
    """What :func:`recover_venue` found and did in one venue's folder."""

    finalized: list[Path] = field(default_factory=list)
    current: Path | None = None
    """An ``.open`` file of the current (or a later) hour, repaired, to append to."""
    current_hour: int | None = None
    last_recv_ms: int | None = None
    """The last frame any previous run recorded (None: there was no previous run)."""
    newest_closed_hour: int | None = None
    torn_lines_dropped: int = 0


def recover_venue(venue_dir: Path, now_ms: int) -> Recovery:
    """Put a venue's folder in order before recording: finalise ``.open`` files of past hours.

    A previous run killed mid-hour leaves ``HH.jsonl.open``, possibly with a torn last line.
    Files of hours that have ended are repaired, fsynced and renamed ``HH.jsonl`` so the ingest
    gets them; the current hour's file is repaired and left for the new run to append to. Also
    finds the last ``recv_ms`` any run recorded, where the not-running gap starts.
    """
    recovery = Recovery()
    if not storage.exists(venue_dir):
        return recovery
    now_hour = now_ms // HOUR_MS
    open_files: list[tuple[int, Path]] = []
    newest_closed: tuple[int, Path] | None = None
    for day in (p for p in storage.listing(venue_dir) if is_day_folder(p.name)):
        for path in storage.listing(day):
            hour = hour_of(path)
            if hour is None:
                continue
            if is_open(path):
                open_files.append((hour, path))
            elif newest_closed is None or hour > newest_closed[0]:
                newest_closed = (hour, path)
    lasts: list[int] = []
    if newest_closed is not None:
        recovery.newest_closed_hour = newest_closed[0]
        last, _ = _last_recv_ms(newest_closed[1], repair=False)
        if last is not None:
            lasts.append(last)
    for hour, path in sorted(open_files):
        last, dropped = _last_recv_ms(path, repair=True)
        recovery.torn_lines_dropped += dropped
        if last is not None:
            lasts.append(last)
        if hour < now_hour:
            recovery.finalized.append(_finalize(path, hour, venue_dir))
        else:
            if recovery.current is not None:
                # Two open files of the current or later hours cannot come from one recorder
                # (hours only move forward); keep the latest and close the earlier.
                recovery.finalized.append(
                    _finalize(recovery.current, recovery.current_hour or hour, venue_dir)
                )
            recovery.current, recovery.current_hour = path, hour
    recovery.last_recv_ms = max(lasts) if lasts else None
    return recovery


def _finalize(path: Path, hour: int, venue_dir: Path) -> Path:
    """fsync ``HH.jsonl.open`` and rename it ``HH.jsonl``; never overwrite a closed hour."""
    target = hour_path(venue_dir, hour, closed=True)
    with storage.open_stream(path, "rb") as handle:
        os.fsync(handle.fileno())
    if storage.exists(target):
        # Only an outside hand (or two recorders without the lock) can get here: keep both
        # rather than overwrite an hour the ingest may have read.
        conflict = path.with_name(f"{path.name}.conflict-{os.getpid()}")
        logger.error("%s: %s already exists; left the open file as %s", path, target, conflict)
        storage.rename(path, conflict)
        return conflict
    storage.rename(path, target)
    return target


class HourFiles:
    """One venue's open hour file and its gap log; hours only move forward.

    Writes go through a large buffer and are flushed to the operating system by :meth:`tick`
    once a second.
    """

    def __init__(self, venue_dir: Path, hour: int, existing: Path | None) -> None:
        self.venue_dir = venue_dir
        self.last_recv_ms: int | None = None
        self._hour = hour
        self._next_hour_ms = (hour + 1) * HOUR_MS
        self._file = self._open(existing or hour_path(venue_dir, hour, closed=False))

    @property
    def hour(self) -> int:
        return self._hour

    @property
    def path(self) -> Path:
        return hour_path(self.venue_dir, self._hour, closed=False)

    def _open(self, path: Path) -> IO[str]:
        try:
            # Lines are ASCII (json.dumps escapes the rest), so UTF-8 writes the same bytes.
            return storage.open_stream(path, "a", buffering=WRITE_BUFFER_BYTES)
        except OSError as exc:
            raise RecorderError(f"cannot open {path}: {exc}") from exc

    def write_text(self, recv_ms: int, text: str) -> None:
        """One received text frame, verbatim (JSON-escaped) with its receive instant."""
        self._write(recv_ms, text_line(recv_ms, text))

    def write_binary(self, recv_ms: int, data: bytes) -> None:
        """A binary frame, base64 (JSON text cannot hold raw bytes)."""
        self._write(recv_ms, binary_line(recv_ms, data))

    def _write(self, recv_ms: int, line: str) -> None:
        """Append a frame's line to the hour it was received in, rotating first at an hour's end."""
        if recv_ms >= self._next_hour_ms:
            self._rotate(recv_ms // HOUR_MS)
        try:
            self._file.write(line)
        except OSError as exc:
            raise RecorderError(f"cannot write {self.path}: {exc}") from exc
        self.last_recv_ms = recv_ms

    def tick(self, now_ms: int) -> None:
        """Flush to the OS (a kill -9 then loses nothing written so far); close an ended hour."""
        if now_ms >= self._next_hour_ms:
            self._rotate(now_ms // HOUR_MS)
            return
        try:
            self._file.flush()
        except OSError as exc:
            raise RecorderError(f"cannot write {self.path}: {exc}") from exc

    def _seal(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def _rotate(self, hour: int) -> None:
        """Close the ended hour as ``HH.jsonl`` (fsync, then an atomic rename) and open ``hour``."""
        try:
            self._seal()
            _finalize(self.path, self._hour, self.venue_dir)
        except OSError as exc:
            raise RecorderError(f"cannot close {self.path}: {exc}") from exc
        self._hour = hour
        self._next_hour_ms = (hour + 1) * HOUR_MS
        self._file = self._open(self.path)

    def close(self, now_ms: int) -> Path:
        """Stop: fsync; close the file as ``HH.jsonl`` only if its hour has ended."""
        try:
            if now_ms >= self._next_hour_ms:
                self._seal()
                return _finalize(self.path, self._hour, self.venue_dir)
            self._seal()
        except OSError as exc:
            raise RecorderError(f"cannot close {self.path}: {exc}") from exc
        return self.path

    def append_gap(self, from_ms: int, to_ms: int, reason: str) -> None:
        """One not-recorded interval, in the folder of the day it starts, fsynced at once."""
        path = gaps_path(self.venue_dir, from_ms)
        try:
            with storage.open_stream(path, "a") as handle:
                handle.write(gap_line(from_ms, to_ms, reason))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise RecorderError(f"cannot write {path}: {exc}") from exc
        logger.warning("%s: gap %s → %s: %s", self.venue_dir.name, from_ms, to_ms, reason)

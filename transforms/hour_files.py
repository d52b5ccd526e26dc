"""The recorder's hour files: what ``treadmill record`` leaves on disk and the daily ingest reads.

This is the contract between the two. The recorder (:mod:`transforms.recorder`) writes it; the
stream datasets (:mod:`transforms.sources.streams`) and the recorded-day client
(:mod:`transforms.recorded`) read it; neither spells a name or a line shape of its own.

Layout (``<warehouse>/raw/recorder/`` is the raw root), one folder per venue (``binance_um``,
``bybit``, ``okx``) and UTC day::

    <raw_root>/<venue>/<YYYY-MM-DD>/HH.jsonl.open   the hour being recorded (HH = 00..23)
    <raw_root>/<venue>/<YYYY-MM-DD>/HH.jsonl        a closed hour: never written again
    <raw_root>/<venue>/<YYYY-MM-DD>/gaps.jsonl      intervals not recorded, by the day they start
    <raw_root>/.state/<venue>.lock                   held by the recorder of that venue
    <raw_root>/.state/<venue>.json                   {"stopped_ms": …}: left by a clean stop

- **Lines.** An hour file holds one line per frame received, control frames (subscription acks,
  pongs) included, in arrival order: ``{"recv_ms": 1706745600123, "raw": "<the text frame>"}``
  (``json.dumps``' ASCII escaping, so ``json.loads(line)["raw"]`` is exactly the frame's text);
  a binary frame is ``{"recv_ms": …, "raw_b64": "<base64>"}``. ``recv_ms`` is the recorder's
  UTC clock when the frame was read, in epoch milliseconds.
- **Names.** A file is named by the hour it was opened for and only ever moves forward: a frame
  stamped earlier than the open hour (the system clock stepped back) goes into the open hour's
  file with its true ``recv_ms``. Readers take each line's instant from ``recv_ms``, never from
  the name.
- **Closing.** When the clock passes the top of the hour the open file is flushed, fsynced and
  renamed ``HH.jsonl.open`` → ``HH.jsonl`` (an atomic rename; the folder is fsynced too), and the
  next hour's ``.open`` file is created at once, so every hour the recorder was running has a
  file, empty when nothing was said. The ingest reads only ``HH.jsonl``: it never sees a file
  that is still growing. Every line of a closed file is whole (a line torn by a kill is dropped
  before the file is closed).
- **Gaps.** ``gaps.jsonl`` gets one line per interval a venue was not recorded,
  ``{"from_ms": …, "to_ms": …, "reason": …}`` (``to_ms`` never before ``from_ms``), appended and
  fsynced as soon as the interval is known, in the folder of the day it *starts*: a gap spanning
  days is written once, so a reader of a day also reads the gap files of the days before it.
"""

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

HOUR_MS: Final = 3_600_000
OPEN_SUFFIX: Final = ".jsonl.open"
CLOSED_SUFFIX: Final = ".jsonl"
GAPS_FILE: Final = "gaps.jsonl"
STATE_DIR: Final = ".state"
"""The recorder's own folder in the raw root (locks and stop markers); readers never need it."""

_DAY_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")
_HOUR_FILE = re.compile(r"(\d{2})\.jsonl(\.open)?")
CLOSED_HOUR_GLOB: Final = "[0-2][0-9]" + CLOSED_SUFFIX
"""The names of a day's closed hours, as a glob (the ingest reads only these)."""
_encode = json.encoder.encode_basestring_ascii


def hour_path(venue_dir: Path, hour: int, *, closed: bool) -> Path:
    """``<venue_dir>/<YYYY-MM-DD>/HH.jsonl[.open]`` of ``hour`` (hours since the epoch)."""
    start = datetime.fromtimestamp(hour * 3600, UTC)
    suffix = CLOSED_SUFFIX if closed else OPEN_SUFFIX
    return venue_dir / f"{start:%Y-%m-%d}" / f"{start:%H}{suffix}"


def hour_of(path: Path) -> int | None:
    """The hour (since the epoch) an hour file is named for, None for any other file."""
    match = _HOUR_FILE.fullmatch(path.name)
    if match is None or not _DAY_FOLDER.fullmatch(path.parent.name):
        return None
    day = datetime.strptime(path.parent.name, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(day.timestamp()) // 3600 + int(match.group(1))


def is_open(path: Path) -> bool:
    """Whether an hour file is still being recorded (``HH.jsonl.open``)."""
    return path.name.endswith(OPEN_SUFFIX)


def is_day_folder(name: str) -> bool:
    """Whether a folder name is a recorded day's (``YYYY-MM-DD``)."""
    return _DAY_FOLDER.fullmatch(name) is not None


def closed_hours(folder: Path) -> list[Path]:
    """A recorded day's closed hourly files (``HH.jsonl``), in hour order."""
    return sorted(folder.glob(CLOSED_HOUR_GLOB))


def gaps_path(venue_dir: Path, from_ms: int) -> Path:
    """The gap file a gap starting at ``from_ms`` is written to: the day it starts."""
    day = datetime.fromtimestamp(from_ms / 1000, UTC)
    return venue_dir / f"{day:%Y-%m-%d}" / GAPS_FILE


def text_line(recv_ms: int, text: str) -> str:
    """The line of a text frame received at ``recv_ms``, newline included."""
    return f'{{"recv_ms": {recv_ms}, "raw": {_encode(text)}}}\n'


def binary_line(recv_ms: int, data: bytes) -> str:
    """The line of a binary frame: base64 in ``raw_b64`` (JSON text cannot hold raw bytes)."""
    return f'{{"recv_ms": {recv_ms}, "raw_b64": "{base64.b64encode(data).decode("ascii")}"}}\n'


def gap_line(from_ms: int, to_ms: int, reason: str) -> str:
    """The gap record of an interval not recorded, newline included."""
    return json.dumps({"from_ms": from_ms, "to_ms": max(from_ms, to_ms), "reason": reason}) + "\n"


def line_recv_ms(line: bytes) -> int | None:
    """A line's ``recv_ms``; None when the line is not a whole record (torn, or not ours)."""
    try:
        value = json.loads(line)["recv_ms"]
    except (ValueError, KeyError, TypeError):
        return None
    return value if type(value) is int else None


def frame_text(line: str) -> str:
    """The text frame a line recorded. Raises ``ValueError`` (not JSON), ``KeyError`` (no
    ``raw``: a binary frame) or ``TypeError`` (not a record) for a line that holds none."""
    text = json.loads(line)["raw"]
    if not isinstance(text, str):
        raise TypeError(f"raw is {type(text).__name__}, not text")
    return text


def numbered_lines(folder: Path) -> Iterator[tuple[str, str]]:
    """Every line of a recorded day's closed hours, in order, with where it is
    (``"HH.jsonl line N"``)."""
    for hour in closed_hours(folder):
        for number, line in enumerate(hour.read_text().splitlines(), start=1):
            yield f"{hour.name} line {number}", line


def gap_intervals(venue_dir: Path, through: date) -> Iterator[tuple[int, int]]:
    """``(from_ms, to_ms)`` of every gap record filed in the venue's days up to ``through``
    (a gap is filed on the day it starts, so one that covers ``through`` may be filed days
    earlier); a line that is not a gap record is skipped."""
    last = through.isoformat()
    for gaps in venue_dir.glob(f"*/{GAPS_FILE}"):
        if gaps.parent.name > last:
            continue
        for line in gaps.read_text().splitlines():
            try:
                record = json.loads(line)
                interval = int(record["from_ms"]), int(record["to_ms"])
            except (ValueError, KeyError, TypeError):
                continue
            yield interval

"""The recorder of public liquidation streams: Binance, Bybit and OKX, verbatim, into hourly files.

**Why it exists.** Binance stopped publishing its daily liquidation snapshots after 2024-03-31
and no venue offers a liquidation *history*: what the venues publish is a live WebSocket push
(Binance's all-market ``!forceOrder@arr``, Bybit's ``allLiquidation.<symbol>`` topics, OKX's
``liquidation-orders`` channel). A warehouse that wants liquidations after March 2024 must listen
and keep what it heard. The recorder does only that, and does it so that a daily ingest can trust
what it reads: every frame is kept byte for byte with the instant it arrived, and every interval
in which the recorder was *not* listening is written down as a gap, so a quiet hour and a
missing hour can never be confused.

Raw layout (``<warehouse>/raw/recorder/`` is ``raw_root``), one folder per venue
(``binance_um``, ``bybit``, ``okx``) and UTC day::

    <raw_root>/<venue>/<YYYY-MM-DD>/HH.jsonl.open   the hour being recorded (HH = 00..23)
    <raw_root>/<venue>/<YYYY-MM-DD>/HH.jsonl        a closed hour: never written again
    <raw_root>/<venue>/<YYYY-MM-DD>/gaps.jsonl      intervals not recorded, by the day they start
    <raw_root>/.state/<venue>.lock                   held by the recorder of that venue
    <raw_root>/.state/<venue>.json                   {"stopped_ms": …}: left by a clean stop

- An hour file holds one line per frame received, control frames (subscription acks, pongs)
  included, in arrival order: ``{"recv_ms": 1706745600123, "raw": "<the text frame>"}``
  (``json.dumps``' ASCII escaping, so ``json.loads(line)["raw"]`` is exactly the frame's text);
  a binary frame is ``{"recv_ms": …, "raw_b64": "<base64>"}``. ``recv_ms`` is the recorder's
  UTC clock when the frame was read, in epoch milliseconds.
- A file is named by the hour it was opened for and only ever moves forward: a frame stamped
  earlier than the open hour (the system clock stepped back) goes into the open hour's file with
  its true ``recv_ms``. Readers take each line's instant from ``recv_ms``, never from the name.
- **Rotation.** When the clock passes the top of the hour the open file is flushed, fsynced and
  renamed ``HH.jsonl.open`` → ``HH.jsonl`` (an atomic rename; the folder is fsynced too), and the
  next hour's ``.open`` file is created at once, so every hour the recorder was running has a
  file, empty when nothing was said. The ingest reads only ``HH.jsonl``: it never sees a file
  that is still growing.
- **Durability.** The open file is flushed to the operating system at least every second
  (``flush_seconds``), so a ``kill -9`` loses at most the last second; it is fsynced at rotation
  and on stop (an operating-system crash or power cut may lose more of the open hour: the restart
  gap covers it from the last line that survived).
- **Gaps.** ``gaps.jsonl`` gets one line per interval a venue was not recorded,
  ``{"from_ms": …, "to_ms": …, "reason": …}``, appended and fsynced as soon as the interval is
  known, in the folder of the day it *starts* (a gap spanning days is written once). Reasons:

  * ``disconnected: <why>``: the connection failed or could not be opened. ``from_ms`` is the
    last frame received before (anything after it may have been lost), ``to_ms`` the moment the
    new connection was recording again (subscriptions acknowledged). Written when recording
    resumes, or on stop if it never did.
  * ``stalled: no message for 60 s``: the connection stayed open but nothing arrived for the
    stall limit (Bybit and OKX answer the recorder's pings, so a silent socket is a dead one; on
    Binance, where nothing but liquidations arrives, a market with none anywhere for a minute
    costs a needless reconnect: the recorder cannot tell that silence from a stuck stream, and
    says so rather than claim coverage it cannot prove).
  * ``garbage frame: …``: frames that were not JSON, or JSON of a shape the venue does not send
    (binary frames too). They are still written verbatim; the gap spans the first to the last
    such frame in a burst (one line per second at most), because a frame the recorder cannot
    read may have been a liquidation the ingest will not see.
  * ``recorder not running (restart after crash)``: written on start, from the last line the
    previous run left (after dropping a torn last line) to the start.
  * ``recorder not running (stopped)``: written on start after a clean stop, from the instant it
    stopped (``.state/<venue>.json``) to the start. A first start ever writes no gap: there is
    nothing to have missed.

- **Stop and crash.** SIGINT/SIGTERM stop the recorder cleanly: connections are closed, a gap
  still open is written up to the stop, the open file is fsynced and, **when its hour has
  ended**, closed as ``HH.jsonl``; an hour still running stays ``HH.jsonl.open``, because a
  recorder restarted within the hour appends to it (a closed file never changes, and an hour the
  recorder is still recording is not finished). On start, ``.open`` files of past hours left by
  a crash or a stop are finalised (a torn last line dropped, fsynced, renamed ``HH.jsonl``) and
  the not-running gap is written; an ``.open`` file of the current hour is repaired the same way
  and appended to.

**Connections.** Each venue runs its own connection loop: connect (10 s handshake limit),
subscribe (Bybit: ``{"op":"subscribe","args":["allLiquidation.BTCUSDT",…]}``, ten topics per
request; OKX: ``{"op":"subscribe","args":[{"channel":"liquidation-orders","instType":"SWAP"}]}``;
Binance's URL is the subscription), wait for every acknowledgement (10 s), then record. Bybit
wants ``{"op":"ping"}`` every 20 s and OKX the text ``ping`` every 25 s or they drop the socket;
Binance pings the client itself and the WebSocket library answers. After any failure the loop
waits a random delay between 0 and ``min(cap, base × 2^attempt)`` (exponential backoff with full
jitter: thousands of recorders cut off at once do not come back in step) and resubscribes on the
new connection; the attempt count resets after a connection that recorded for a minute.

**Bounded memory.** Nothing is queued between the socket and the file: a frame is written to the
hour file as it is read, the WebSocket library holds at most ``max_queue`` (512) frames of at
most ``max_frame_bytes`` (1 MiB; the venues' messages are a few hundred bytes, a frame over the
limit closes the connection and shows as a gap) and stops reading the socket beyond that, each
hour file has a 1 MiB write buffer, and counters are integers: memory stays flat over millions
of messages (about 33 MiB resident in the benchmark, ``benchmarks/recorder.py``). The queue is
deep rather than short because a short one makes the reader and the sender take turns, frame
batch by frame batch: with 64 frames the benchmark ran at less than half the rate.

Running it for as long as it is left running (``treadmill record`` on the default public URLs,
``TREADMILL_{BINANCE,BYBIT,OKX}_WS_URL`` override them). A systemd unit,
``/etc/systemd/system/treadmill-recorder.service``::

    [Unit]
    Description=treadmill: record Binance, Bybit and OKX liquidation streams
    Wants=network-online.target
    After=network-online.target
    # Never give up restarting: every minute not recorded is lost for good.
    StartLimitIntervalSec=0

    [Service]
    Type=exec
    User=treadmill
    WorkingDirectory=/opt/treadmill
    Environment=TREADMILL_WAREHOUSE=/srv/treadmill/warehouse
    ExecStart=/opt/treadmill/.venv/bin/treadmill record --venues binance_um,bybit,okx
    Restart=always
    RestartSec=5
    KillSignal=SIGTERM
    TimeoutStopSec=30

    [Install]
    WantedBy=multi-user.target

(``systemctl enable --now treadmill-recorder``; logs: ``journalctl -u treadmill-recorder``).
In a container, with the warehouse on a volume::

    docker run -d --name treadmill-recorder --restart=always --init --stop-timeout 30 \\
        -e TREADMILL_WAREHOUSE=/warehouse -v /srv/treadmill/warehouse:/warehouse \\
        treadmill:latest treadmill record --venues binance_um,bybit,okx

``--init`` reaps and forwards signals, ``--stop-timeout`` gives the clean stop time to fsync.
Only one recorder may record a venue into a warehouse at a time (``.state/<venue>.lock``); a
second one exits with an error instead of interleaving lines.
"""

import asyncio
import base64
import contextlib
import fcntl
import json
import logging
import os
import random
import re
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import IO, Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from transforms.publish import fsync_dir

logger = logging.getLogger(__name__)

VENUES: Final = ("binance_um", "bybit", "okx")
"""The venues the recorder knows, by the warehouse's exchange ids (their folder names)."""

WS_URL_ENV: Final = {
    "binance_um": "TREADMILL_BINANCE_WS_URL",
    "bybit": "TREADMILL_BYBIT_WS_URL",
    "okx": "TREADMILL_OKX_WS_URL",
}
DEFAULT_WS_URLS: Final = {
    "binance_um": "wss://fstream.binance.com/ws/!forceOrder@arr",
    "bybit": "wss://stream.bybit.com/v5/public/linear",
    "okx": "wss://ws.okx.com:8443/ws/v5/public",
}

HOUR_MS: Final = 3_600_000
OPEN_SUFFIX: Final = ".jsonl.open"
CLOSED_SUFFIX: Final = ".jsonl"
GAPS_FILE: Final = "gaps.jsonl"
STATE_DIR: Final = ".state"
STALL_SECONDS: Final = 60.0
"""No frame for this long on an open connection is a stall (the spec's "no message for 60 s")."""
BYBIT_PING_SECONDS: Final = 20.0
OKX_PING_SECONDS: Final = 25.0
BYBIT_TOPICS_PER_REQUEST: Final = 10
"""Bybit refuses subscribe requests with more than ten topics."""
CRASH_REASON: Final = "recorder not running (restart after crash)"
STOPPED_REASON: Final = "recorder not running (stopped)"

_DAY_DIR = re.compile(r"\d{4}-\d{2}-\d{2}")
_HOUR_FILE = re.compile(r"(\d{2})\.jsonl(\.open)?")
_GARBAGE_LOGGED = 5
"""Garbage frames logged per venue per run (then every thousandth), to keep logs bounded."""

Clock = Callable[[], int]
"""The recorder's wall clock: UTC epoch milliseconds (injectable, for tests of rotation)."""


def epoch_ms() -> int:
    """Now, as UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000


class RecorderError(Exception):
    """The recorder cannot go on (its files cannot be written, or the venue is taken)."""


class RecorderBusyError(RecorderError):
    """Another recorder holds a venue's lock in the same raw root."""


class Frame(IntEnum):
    """What a received frame is, for the counters (every kind is written verbatim)."""

    DATA = 0
    """A liquidation message of the venue's documented shape."""
    CONTROL = 1
    """A pong, a notice, an answer to something the recorder sent."""
    ACK = 2
    """A subscription acknowledgement: recording counts as resumed when all have come."""
    REJECTED = 3
    """A refused subscription: the venue answered, but will send nothing for it."""
    NOT_JSON = 4
    UNKNOWN_SHAPE = 5
    BINARY = 6


GARBAGE_KINDS: Final = {
    Frame.NOT_JSON: "not JSON",
    Frame.UNKNOWN_SHAPE: "JSON of an unknown shape",
    Frame.BINARY: "a binary frame",
}

_loads = json.loads
_encode = json.encoder.encode_basestring_ascii


def classify_binance(text: str) -> Frame:
    """``{"e":"forceOrder","E":…,"o":{…}}`` is data; ``{"result":…,"id":…}`` answers a request."""
    try:
        message = _loads(text)
    except ValueError:
        return Frame.NOT_JSON
    if type(message) is dict:
        if message.get("e") == "forceOrder" and type(message.get("o")) is dict:
            return Frame.DATA
        if "result" in message and "id" in message:
            return Frame.CONTROL
    return Frame.UNKNOWN_SHAPE


def classify_bybit(text: str) -> Frame:
    """``{"topic":"allLiquidation.X","data":[…]}`` is data; ``{"op":…}`` answers the client."""
    try:
        message = _loads(text)
    except ValueError:
        return Frame.NOT_JSON
    if type(message) is dict:
        topic = message.get("topic")
        if topic is not None:
            if (
                type(topic) is str
                and topic.startswith("allLiquidation.")
                and type(message.get("data")) is list
            ):
                return Frame.DATA
            return Frame.UNKNOWN_SHAPE
        op = message.get("op")
        if op == "subscribe":
            return Frame.ACK if message.get("success") is True else Frame.REJECTED
        if op in ("ping", "pong", "unsubscribe"):
            return Frame.CONTROL
    return Frame.UNKNOWN_SHAPE


def classify_okx(text: str) -> Frame:
    """``{"arg":{"channel":"liquidation-orders",…},"data":[…]}`` is data; ``pong`` and
    ``{"event":…}`` are control (``subscribe`` acknowledges, ``error`` refuses)."""
    if text == "pong":
        return Frame.CONTROL
    try:
        message = _loads(text)
    except ValueError:
        return Frame.NOT_JSON
    if type(message) is dict:
        event = message.get("event")
        if event is not None:
            if event == "subscribe":
                return Frame.ACK
            return Frame.REJECTED if event == "error" else Frame.CONTROL
        arg = message.get("arg")
        if (
            type(arg) is dict
            and arg.get("channel") == "liquidation-orders"
            and type(message.get("data")) is list
        ):
            return Frame.DATA
    return Frame.UNKNOWN_SHAPE


@dataclass(frozen=True)
class VenueStream:
    """One venue's stream: where it is, what to send on connecting, how to keep it alive."""

    venue: str
    """The folder and exchange id: ``binance_um``, ``bybit`` or ``okx``."""
    url: str
    classify: Callable[[str], Frame]
    subscribe: tuple[str, ...] = ()
    """Text frames sent right after connecting, on every connection."""
    acks: int = 0
    """Acknowledgements to wait for before the connection counts as recording."""
    ping: str | None = None
    """The text frame the venue wants as a heartbeat, None when it pings the client itself."""
    ping_seconds: float = 20.0
    stall_seconds: float = STALL_SECONDS


def binance_stream(url: str | None = None, *, stall_seconds: float = STALL_SECONDS) -> VenueStream:
    """Binance USDⓈ-M's all-market force orders: the URL is the subscription; Binance sends at
    most one order per symbol per second (a lower bound of what was liquidated)."""
    return VenueStream(
        "binance_um",
        url or DEFAULT_WS_URLS["binance_um"],
        classify_binance,
        stall_seconds=stall_seconds,
    )


def bybit_stream(
    symbols: Sequence[str],
    url: str | None = None,
    *,
    ping_seconds: float = BYBIT_PING_SECONDS,
    stall_seconds: float = STALL_SECONDS,
) -> VenueStream:
    """Bybit linear ``allLiquidation.<symbol>`` topics (every liquidation, pushed every 500 ms).

    Bybit has no all-market topic: the symbols must be listed, ten per subscribe request.
    """
    if not symbols:
        raise ValueError("Bybit's allLiquidation needs at least one symbol")
    topics = [f"allLiquidation.{symbol}" for symbol in dict.fromkeys(symbols)]
    requests = tuple(
        json.dumps(
            {"op": "subscribe", "args": topics[i : i + BYBIT_TOPICS_PER_REQUEST]},
            separators=(",", ":"),
        )
        for i in range(0, len(topics), BYBIT_TOPICS_PER_REQUEST)
    )
    return VenueStream(
        "bybit",
        url or DEFAULT_WS_URLS["bybit"],
        classify_bybit,
        subscribe=requests,
        acks=len(requests),
        ping='{"op":"ping"}',
        ping_seconds=ping_seconds,
        stall_seconds=stall_seconds,
    )


def okx_stream(
    url: str | None = None,
    *,
    ping_seconds: float = OKX_PING_SECONDS,
    stall_seconds: float = STALL_SECONDS,
) -> VenueStream:
    """OKX's ``liquidation-orders`` channel for every USDT/USD swap (``instType`` SWAP)."""
    request = '{"op":"subscribe","args":[{"channel":"liquidation-orders","instType":"SWAP"}]}'
    return VenueStream(
        "okx",
        url or DEFAULT_WS_URLS["okx"],
        classify_okx,
        subscribe=(request,),
        acks=1,
        ping="ping",
        ping_seconds=ping_seconds,
        stall_seconds=stall_seconds,
    )


def venue_streams(
    venues: Sequence[str],
    bybit_symbols: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> list[VenueStream]:
    """The streams of ``venues`` at the URLs ``TREADMILL_<VENUE>_WS_URL`` names, else public."""
    env = os.environ if environ is None else environ
    unknown = [venue for venue in venues if venue not in VENUES]
    if unknown:
        raise ValueError(f"unknown venue(s) {unknown}; known: {', '.join(VENUES)}")
    streams = []
    for venue in dict.fromkeys(venues):
        url = env.get(WS_URL_ENV[venue]) or DEFAULT_WS_URLS[venue]
        if not url.startswith(("ws://", "wss://")):
            raise ValueError(f"{WS_URL_ENV[venue]} {url!r} must start with ws:// or wss://")
        if venue == "binance_um":
            streams.append(binance_stream(url))
        elif venue == "bybit":
            streams.append(bybit_stream(bybit_symbols, url))
        else:
            streams.append(okx_stream(url))
    return streams


@dataclass(frozen=True)
class RecorderOptions:
    """Timings and limits; the defaults are for the real venues, tests shorten them."""

    flush_seconds: float = 1.0
    """How often open files are flushed (the most a kill -9 can lose) and hours rotated."""
    open_timeout: float = 10.0
    ack_timeout: float = 10.0
    close_timeout: float = 1.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    healthy_seconds: float = 60.0
    """A connection that recorded this long resets the backoff."""
    max_frame_bytes: int = 1024 * 1024
    max_queue: int = 512
    """Frames the WebSocket library may hold unread (the only buffer between socket and file)."""
    report_seconds: float = 60.0
    """How often a progress line is logged."""


@dataclass
class VenueStats:
    """What one venue's stream did during a run."""

    frames: int = 0
    data: int = 0
    """Liquidation messages (the ``messages`` of the venue)."""
    control: int = 0
    garbage: int = 0
    rejected: int = 0
    """Refused subscriptions (and other error answers)."""
    bytes: int = 0
    connections: int = 0
    reconnects: int = 0
    gaps: int = 0
    last_error: str | None = None


@dataclass
class RecorderStats:
    """Counters of a run, per venue, plus what the start repaired."""

    venues: dict[str, VenueStats] = field(default_factory=dict)
    started_ms: int = 0
    stopped_ms: int = 0
    finalized_files: list[str] = field(default_factory=list)
    """``.open`` files of past hours the start closed (relative to the raw root)."""
    torn_lines_dropped: int = 0

    @property
    def messages(self) -> int:
        return sum(v.data for v in self.venues.values())

    @property
    def garbage(self) -> int:
        return sum(v.garbage for v in self.venues.values())

    @property
    def reconnects(self) -> int:
        return sum(v.reconnects for v in self.venues.values())

    @property
    def gaps(self) -> int:
        return sum(v.gaps for v in self.venues.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "started_ms": self.started_ms,
            "stopped_ms": self.stopped_ms,
            "messages": self.messages,
            "garbage": self.garbage,
            "reconnects": self.reconnects,
            "gaps": self.gaps,
            "finalized_files": list(self.finalized_files),
            "torn_lines_dropped": self.torn_lines_dropped,
            "venues": {name: dict(vars(stats)) for name, stats in self.venues.items()},
        }


# Files


def hour_path(venue_dir: Path, hour: int, *, closed: bool) -> Path:
    """``<venue_dir>/<YYYY-MM-DD>/HH.jsonl[.open]`` of ``hour`` (hours since the epoch)."""
    start = datetime.fromtimestamp(hour * 3600, UTC)
    suffix = CLOSED_SUFFIX if closed else OPEN_SUFFIX
    return venue_dir / f"{start:%Y-%m-%d}" / f"{start:%H}{suffix}"


def _hour_of(path: Path) -> int | None:
    """The hour (since the epoch) a recorder file is named for, None for other files."""
    match = _HOUR_FILE.fullmatch(path.name)
    if match is None or not _DAY_DIR.fullmatch(path.parent.name):
        return None
    day = datetime.strptime(path.parent.name, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(day.timestamp()) // 3600 + int(match.group(1))


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
    with path.open("r+b" if repair else "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        keep = _last_newline(handle, size) + 1
        if keep < size:
            dropped += 1
        last: int | None = None
        while keep > 0:
            start = _last_newline(handle, keep - 1) + 1
            handle.seek(start)
            try:
                value = json.loads(handle.read(keep - start))["recv_ms"]
                if type(value) is int:
                    last = value
                    break
            except (ValueError, KeyError, TypeError):
                pass
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
    if not venue_dir.is_dir():
        return recovery
    now_hour = now_ms // HOUR_MS
    open_files: list[tuple[int, Path]] = []
    newest_closed: tuple[int, Path] | None = None
    for day in sorted(p for p in venue_dir.iterdir() if _DAY_DIR.fullmatch(p.name)):
        for path in day.iterdir():
            hour = _hour_of(path)
            if hour is None:
                continue
            if path.name.endswith(OPEN_SUFFIX):
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
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
    if target.exists():
        # Only an outside hand (or two recorders without the lock) can get here: keep both
        # rather than overwrite an hour the ingest may have read.
        conflict = path.with_name(f"{path.name}.conflict-{os.getpid()}")
        logger.error("%s: %s already exists; left the open file as %s", path, target, conflict)
        path.rename(conflict)
        return conflict
    path.rename(target)
    fsync_dir(target.parent)
    return target


class HourFiles:
    """One venue's open hour file and its gap log; hours only move forward.

    Writes go through a large buffer (a frame costs a string format and a memory copy) and are
    flushed to the operating system by :meth:`tick` once a second.
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
            path.parent.mkdir(parents=True, exist_ok=True)
            return path.open("a", encoding="ascii", newline="", buffering=1024 * 1024)
        except OSError as exc:
            raise RecorderError(f"cannot open {path}: {exc}") from exc

    def write_text(self, recv_ms: int, text: str) -> None:
        """One received text frame, verbatim (JSON-escaped) with its receive instant."""
        if recv_ms >= self._next_hour_ms:
            self._rotate(recv_ms // HOUR_MS)
        try:
            self._file.write(f'{{"recv_ms": {recv_ms}, "raw": {_encode(text)}}}\n')
        except OSError as exc:
            raise RecorderError(f"cannot write {self.path}: {exc}") from exc
        self.last_recv_ms = recv_ms

    def write_binary(self, recv_ms: int, data: bytes) -> None:
        """A binary frame, base64 in ``raw_b64`` (JSON text cannot hold raw bytes)."""
        if recv_ms >= self._next_hour_ms:
            self._rotate(recv_ms // HOUR_MS)
        encoded = base64.b64encode(data).decode("ascii")
        try:
            self._file.write(f'{{"recv_ms": {recv_ms}, "raw_b64": "{encoded}"}}\n')
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
        day = datetime.fromtimestamp(from_ms / 1000, UTC)
        path = self.venue_dir / f"{day:%Y-%m-%d}" / GAPS_FILE
        line = json.dumps({"from_ms": from_ms, "to_ms": max(from_ms, to_ms), "reason": reason})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise RecorderError(f"cannot write {path}: {exc}") from exc
        logger.warning("%s: gap %s → %s: %s", self.venue_dir.name, from_ms, to_ms, reason)


# Recording


@dataclass
class _Outage:
    from_ms: int
    reason: str
    attempts: int = 1

    def describe(self) -> str:
        """The gap's reason: the first failure, and how many connection attempts failed."""
        return self.reason + (f" ({self.attempts} attempts)" if self.attempts > 1 else "")


@dataclass
class _GarbageRun:
    first_ms: int
    last_ms: int
    count: int
    kind: str
    sample: str


@dataclass
class _Session:
    """One connection's state, shared by its reader and its keeper."""

    opened_at: float
    resumed_at: float | None = None
    acks: int = 0
    failure: str | None = None
    """Why the keeper cut the connection (a stall, no acknowledgement)."""


@dataclass
class _VenueState:
    stream: VenueStream
    files: HourFiles
    stats: VenueStats
    started_ms: int
    outage: _Outage | None = None
    garbage: _GarbageRun | None = None


class Recorder:
    """Record ``venues`` into ``raw_root`` until stopped (see the module's documentation)."""

    def __init__(
        self,
        venues: Sequence[VenueStream],
        raw_root: Path,
        *,
        clock: Clock = epoch_ms,
        options: RecorderOptions | None = None,
    ) -> None:
        names = [venue.venue for venue in venues]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"record each venue once, at least one: {names}")
        unknown = [name for name in names if name not in VENUES]
        if unknown:
            raise ValueError(f"unknown venue(s) {unknown}; known: {', '.join(VENUES)}")
        self.venues = list(venues)
        self.raw_root = raw_root
        self.options = options or RecorderOptions()
        self.stats = RecorderStats(venues={name: VenueStats() for name in names})
        self._clock = clock
        self._states: dict[str, _VenueState] = {}
        self._locks: list[IO[str]] = []
        self._stop: asyncio.Event | None = None
        self._max_messages: int | None = None
        self._data_total = 0

    def stop(self) -> None:
        """Ask the run to stop (from the event loop's thread, e.g. a signal handler)."""
        if self._stop is not None:
            self._stop.set()

    async def run(
        self, *, duration: float | None = None, max_messages: int | None = None
    ) -> RecorderStats:
        """Record until :meth:`stop`, ``duration`` seconds, or ``max_messages`` liquidation
        messages (over all venues); then close cleanly and return the counters."""
        self._stop = asyncio.Event()
        self._max_messages = max_messages
        self._prepare()
        loop = asyncio.get_running_loop()
        tasks = [
            loop.create_task(self._venue_loop(state), name=f"record-{name}")
            for name, state in self._states.items()
        ]
        ticker = loop.create_task(self._ticker(), name="record-ticker")
        stopper = loop.create_task(self._stop.wait())
        failure: BaseException | None = None
        try:
            done, _ = await asyncio.wait(
                [stopper, ticker, *tasks], timeout=duration, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                if task is not stopper and not task.cancelled() and task.exception() is not None:
                    failure = task.exception()
        finally:
            for task in (*tasks, ticker, stopper):
                task.cancel()
            await asyncio.gather(*tasks, ticker, stopper, return_exceptions=True)
            self._shutdown()
        if failure is not None:
            raise failure
        return self.stats

    # Start and stop

    def _prepare(self) -> None:
        """Lock each venue, finalise what a previous run left, write the not-running gaps."""
        now = self._clock()
        self.stats.started_ms = now
        state_dir = self.raw_root / STATE_DIR
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecorderError(f"cannot create {state_dir}: {exc}") from exc
        try:
            for stream in self.venues:
                self._lock(state_dir, stream.venue)
            for stream in self.venues:
                self._states[stream.venue] = self._open_venue(stream, state_dir, now)
        except BaseException:
            for state in self._states.values():
                with contextlib.suppress(RecorderError):
                    state.files.close(now)
            self._unlock()
            raise

    def _lock(self, state_dir: Path, venue: str) -> None:
        handle = (state_dir / f"{venue}.lock").open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            self._unlock()
            raise RecorderBusyError(
                f"another recorder is recording {venue} into {self.raw_root}"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._locks.append(handle)

    def _unlock(self) -> None:
        for handle in self._locks:
            with contextlib.suppress(OSError):
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
        self._locks.clear()

    def _open_venue(self, stream: VenueStream, state_dir: Path, now: int) -> _VenueState:
        venue_dir = self.raw_root / stream.venue
        try:
            recovery = recover_venue(venue_dir, now)
        except OSError as exc:
            raise RecorderError(f"cannot repair {venue_dir}: {exc}") from exc
        self.stats.finalized_files += [
            str(p.relative_to(self.raw_root)) for p in recovery.finalized
        ]
        self.stats.torn_lines_dropped += recovery.torn_lines_dropped
        hour = now // HOUR_MS
        if recovery.current_hour is not None:
            hour = max(hour, recovery.current_hour)
        if recovery.newest_closed_hour is not None and recovery.newest_closed_hour >= hour:
            # The clock is behind an hour already closed: never reopen a closed hour.
            hour = recovery.newest_closed_hour + 1
        current = recovery.current if recovery.current_hour == hour else None
        files = HourFiles(venue_dir, hour, current)
        state = _VenueState(stream, files, self.stats.venues[stream.venue], now)
        marker = state_dir / f"{stream.venue}.json"
        stopped: int | None = None
        if marker.exists():
            with contextlib.suppress(ValueError, KeyError, TypeError, OSError):
                stopped = int(json.loads(marker.read_text())["stopped_ms"])
        if stopped is not None:
            start, reason = stopped, STOPPED_REASON
        else:
            start, reason = recovery.last_recv_ms or now, CRASH_REASON
        if start < now:
            files.append_gap(start, now, reason)
            state.stats.gaps += 1
        marker.unlink(missing_ok=True)
        if recovery.finalized:
            logger.info("%s: finalised %d open file(s)", stream.venue, len(recovery.finalized))
        return state

    def _shutdown(self) -> None:
        """Write what is still open (an outage, a garbage burst), close files, leave a marker."""
        now = self._clock()
        self.stats.stopped_ms = now
        errors: list[str] = []
        for venue, state in self._states.items():
            try:
                self._flush_garbage(state)
                if state.outage is not None:
                    outage, state.outage = state.outage, None
                    state.files.append_gap(
                        outage.from_ms, now, f"{outage.describe()} (the recorder stopped first)"
                    )
                    state.stats.gaps += 1
                state.files.close(now)
                marker = self.raw_root / STATE_DIR / f"{venue}.json"
                temporary = marker.with_suffix(".json.tmp")
                temporary.write_text(json.dumps({"stopped_ms": now}) + "\n")
                os.replace(temporary, marker)
            except (RecorderError, OSError) as exc:
                errors.append(f"{venue}: {exc}")
        self._unlock()
        for error in errors:
            logger.error("stopping: %s", error)

    # The loops

    async def _ticker(self) -> None:
        """Once a second: flush every open file, close ended hours, write garbage bursts."""
        period = self.options.flush_seconds
        next_report = self.options.report_seconds
        elapsed = 0.0
        while True:
            await asyncio.sleep(period)
            now = self._clock()
            for state in self._states.values():
                state.files.tick(now)
                self._flush_garbage(state)
            elapsed += period
            if elapsed >= next_report:
                next_report += self.options.report_seconds
                logger.info(
                    "recording: %s",
                    ", ".join(
                        f"{name} {s.data:,} messages, {s.reconnects} reconnects, {s.gaps} gaps"
                        for name, s in self.stats.venues.items()
                    ),
                )

    async def _venue_loop(self, state: _VenueState) -> None:
        """Connect, record, and after any failure back off and reconnect, for ever."""
        loop = asyncio.get_running_loop()
        options = self.options
        attempt = 0
        while True:
            session = _Session(opened_at=loop.time())
            try:
                await self._connection(state, session)
                reason = "disconnected: the venue closed the connection"
            except RecorderError:
                raise  # the files cannot be written: stop, and let the supervisor restart us
            except (OSError, TimeoutError, WebSocketException) as exc:
                reason = session.failure or f"disconnected: {_describe(exc)}"
            except Exception as exc:
                # Not a network failure: a bug or a frame nobody foresaw. Keep the other venues
                # recording and this one retrying, but leave the traceback in the log.
                logger.exception("%s: unexpected failure", state.stream.venue)
                reason = f"disconnected: {_describe(exc)}"
            state.stats.last_error = reason
            if state.outage is None:
                last = state.files.last_recv_ms
                since = max(last, state.started_ms) if last is not None else state.started_ms
                state.outage = _Outage(since, reason)
            else:
                state.outage.attempts += 1
            state.stats.reconnects += 1
            if (
                session.resumed_at is not None
                and loop.time() - session.resumed_at >= options.healthy_seconds
            ):
                attempt = 0
            delay = random.uniform(0, min(options.backoff_cap, options.backoff_base * 2**attempt))
            attempt += 1
            logger.warning("%s: %s; reconnecting in %.2f s", state.stream.venue, reason, delay)
            await asyncio.sleep(delay)

    async def _connection(self, state: _VenueState, session: _Session) -> None:
        stream, options = state.stream, self.options
        async with connect(
            stream.url,
            open_timeout=options.open_timeout,
            ping_interval=None,  # Bybit and OKX want their own text pings; Binance pings us
            close_timeout=options.close_timeout,
            max_size=options.max_frame_bytes,
            max_queue=options.max_queue,
        ) as ws:
            state.stats.connections += 1
            for request in stream.subscribe:
                await ws.send(request)
            if stream.acks == 0:
                self._resume(state, session)
            keeper = asyncio.get_running_loop().create_task(self._keep(ws, state, session))
            try:
                await self._receive(ws, state, session)
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper

    def _resume(self, state: _VenueState, session: _Session) -> None:
        """The connection is recording: the outage that preceded it becomes a gap."""
        now = self._clock()
        session.resumed_at = asyncio.get_running_loop().time()
        outage, state.outage = state.outage, None
        if outage is not None:
            state.files.append_gap(outage.from_ms, now, outage.describe())
            state.stats.gaps += 1
            state.stats.last_error = None

    async def _receive(self, ws: ClientConnection, state: _VenueState, session: _Session) -> None:
        """The hot path: read a frame, stamp it, write it, count it. Nothing is queued."""
        recv, clock = ws.recv, self._clock
        files, stats, stream = state.files, state.stats, state.stream
        classify, write_text = stream.classify, files.write_text
        data_kind = Frame.DATA
        while True:
            frame = await recv()
            now = clock()
            stats.frames += 1
            if type(frame) is str:
                write_text(now, frame)
                stats.bytes += len(frame)
                kind = classify(frame)
            else:
                assert isinstance(frame, bytes)
                files.write_binary(now, frame)
                stats.bytes += len(frame)
                kind = Frame.BINARY
            if kind is data_kind:
                stats.data += 1
                self._data_total += 1
                if self._max_messages is not None and self._data_total >= self._max_messages:
                    self.stop()
            elif kind is Frame.CONTROL:
                stats.control += 1
            elif kind is Frame.ACK or kind is Frame.REJECTED:
                stats.control += 1
                if kind is Frame.REJECTED:
                    stats.rejected += 1
                    logger.error("%s: the venue refused: %s", stream.venue, frame)
                session.acks += 1
                if session.resumed_at is None and session.acks >= stream.acks:
                    self._resume(state, session)
            else:
                self._garbage(state, now, kind, frame)

    def _garbage(self, state: _VenueState, now: int, kind: Frame, frame: str | bytes) -> None:
        """Count and report a frame the recorder cannot read; it is already written verbatim."""
        state.stats.garbage += 1
        sample = repr(frame[:80])
        count = state.stats.garbage
        if count <= _GARBAGE_LOGGED or count % 1000 == 0:
            logger.warning(
                "%s: garbage frame #%d (%s): %s",
                state.stream.venue,
                count,
                GARBAGE_KINDS[kind],
                sample,
            )
        run = state.garbage
        if run is None:
            state.garbage = _GarbageRun(now, now, 1, GARBAGE_KINDS[kind], sample)
        else:
            run.last_ms, run.count = now, run.count + 1

    def _flush_garbage(self, state: _VenueState) -> None:
        run, state.garbage = state.garbage, None
        if run is not None:
            state.files.append_gap(
                run.first_ms,
                run.last_ms,
                f"garbage frame: {run.count} frame(s) the recorder could not read "
                f"(first: {run.kind}, {run.sample})",
            )
            state.stats.gaps += 1

    async def _keep(self, ws: ClientConnection, state: _VenueState, session: _Session) -> None:
        """Ping as the venue wants, and cut a connection that stalls or is never acknowledged.

        Liveness is judged by the frame counter (no per-frame timer): a connection whose count
        has not moved for ``stall_seconds`` is aborted, and the reader sees it close.
        """
        loop = asyncio.get_running_loop()
        stream, stats, options = state.stream, state.stats, self.options
        step = min(1.0, stream.stall_seconds / 4, options.ack_timeout / 4)
        if stream.ping is not None:
            step = min(step, stream.ping_seconds / 2)
        frames, changed = stats.frames, loop.time()
        next_ping = loop.time() + stream.ping_seconds
        try:
            while True:
                await asyncio.sleep(step)
                now = loop.time()
                if stats.frames != frames:
                    frames, changed = stats.frames, now
                elif now - changed >= stream.stall_seconds:
                    session.failure = f"stalled: no message for {stream.stall_seconds:g} s"
                    ws.transport.abort()
                    return
                if session.resumed_at is None and now - session.opened_at >= options.ack_timeout:
                    session.failure = (
                        "disconnected: subscription not acknowledged within "
                        f"{options.ack_timeout:g} s"
                    )
                    ws.transport.abort()
                    return
                if stream.ping is not None and now >= next_ping:
                    next_ping = now + stream.ping_seconds
                    await ws.send(stream.ping)
        except ConnectionClosed:
            return


def _describe(exc: BaseException) -> str:
    if isinstance(exc, InvalidStatus):
        return f"the venue refused the connection: HTTP {exc.response.status_code}"
    if isinstance(exc, TimeoutError):
        return "the opening handshake timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def record(
    venues: Sequence[VenueStream],
    raw_root: Path,
    *,
    duration: float | None = None,
    max_messages: int | None = None,
    clock: Clock = epoch_ms,
    options: RecorderOptions | None = None,
) -> RecorderStats:
    """Record ``venues`` into ``raw_root`` for ``duration`` seconds / ``max_messages``
    liquidation messages (None: until cancelled); the run's counters."""
    recorder = Recorder(venues, raw_root, clock=clock, options=options)
    return await recorder.run(duration=duration, max_messages=max_messages)


def run_recorder(
    venues: Sequence[VenueStream],
    raw_root: Path,
    *,
    duration: float | None = None,
    max_messages: int | None = None,
    clock: Clock = epoch_ms,
    options: RecorderOptions | None = None,
    on_start: Callable[[Recorder], None] | None = None,
) -> RecorderStats:
    """:func:`record` in its own event loop, stopping cleanly on SIGINT or SIGTERM."""

    async def main() -> RecorderStats:
        recorder = Recorder(venues, raw_root, clock=clock, options=options)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, recorder.stop)
        if on_start is not None:
            on_start(recorder)
        try:
            return await recorder.run(duration=duration, max_messages=max_messages)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)

    return asyncio.run(main())

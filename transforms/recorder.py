"""The recorder of public liquidation streams: Binance, Bybit and OKX, verbatim, into hourly files.

**Why it exists.** Binance stopped publishing its daily liquidation snapshots after 2024-03-31
and no venue offers a liquidation *history*: what the venues publish is a live WebSocket push
(Binance's all-market ``!forceOrder@arr``, Bybit's ``allLiquidation.<symbol>`` topics, OKX's
``liquidation-orders`` channel; :mod:`transforms.stream_protocols`). A warehouse that wants
liquidations after March 2024 must listen and keep what it heard. The recorder does only that,
and does it so that a daily ingest can trust what it reads: every frame is kept byte for byte
with the instant it arrived, and every interval in which the recorder was *not* listening is
written down as a gap, so a quiet hour and a missing hour can never be confused. What it leaves
on disk, and how the ingest may read it, is :mod:`transforms.hour_files`; how it is run as a
service is ``docs/recorder.md``.

**Gaps**, by reason:

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

**Stop and crash.** SIGINT/SIGTERM stop the recorder cleanly: connections are closed, a gap
still open is written up to the stop, the open file is fsynced and, **when its hour has ended**,
closed as ``HH.jsonl``; an hour still running stays ``HH.jsonl.open``, because a recorder
restarted within the hour appends to it (a closed file never changes, and an hour the recorder
is still recording is not finished). On start, ``.open`` files of past hours left by a crash or
a stop are finalised (:func:`transforms.hour_writer.recover_venue`) and the not-running gap is
written; an ``.open`` file of the current hour is repaired the same way and appended to. Only
one recorder may record a venue into a raw root at a time (``.state/<venue>.lock``); a second
one exits with an error instead of interleaving lines.

**Connections.** Each venue runs its own connection loop: connect (10 s handshake limit),
subscribe, wait for every acknowledgement (10 s), then record, pinging as the venue wants.
After any failure the loop waits a random delay between 0 and ``min(cap, base × 2^attempt)``
(exponential backoff with full jitter: thousands of recorders cut off at once do not come back
in step) and resubscribes on the new connection; the attempt count resets after a connection
that recorded for a minute.

**Bounded memory.** Nothing is queued between the socket and the file: a frame is written to the
hour file as it is read, the WebSocket library holds at most ``max_queue`` (512) frames of at
most ``max_frame_bytes`` (1 MiB; the venues' messages are a few hundred bytes, a frame over the
limit closes the connection and shows as a gap) and stops reading the socket beyond that, each
hour file has a 1 MiB write buffer, and counters are integers: memory stays flat over millions
of messages (about 33 MiB resident in the benchmark, ``benchmarks/recorder.py``). The queue is
deep rather than short because a short one makes the reader and the sender take turns, frame
batch by frame batch: with 64 frames the benchmark ran at less than half the rate.
"""

import asyncio
import contextlib
import fcntl
import logging
import os
import random
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from transforms import storage
from transforms.hour_files import HOUR_MS, STATE_DIR
from transforms.hour_writer import HourFiles, RecorderError, recover_venue
from transforms.stream_protocols import GARBAGE_KINDS, VENUES, Frame, VenueStream

logger = logging.getLogger(__name__)

CRASH_REASON: Final = "recorder not running (restart after crash)"
STOPPED_REASON: Final = "recorder not running (stopped)"
_GARBAGE_LOGGED = 5
"""Garbage frames logged per venue per run (then every thousandth), to keep logs bounded."""

Clock = Callable[[], int]
"""The recorder's wall clock: UTC epoch milliseconds (injectable, for tests of rotation)."""


def epoch_ms() -> int:
    """Now, as UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000


class RecorderBusyError(RecorderError):
    """Another recorder holds a venue's lock in the same raw root."""


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

    def _prepare(self) -> None:
        """Lock each venue, finalise what a previous run left, write the not-running gaps."""
        now = self._clock()
        self.stats.started_ms = now
        state_dir = self.raw_root / STATE_DIR
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
        try:
            handle = storage.open_stream(state_dir / f"{venue}.lock", "a+")
        except OSError as exc:
            raise RecorderError(f"cannot create {state_dir}: {exc}") from exc
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
        with contextlib.suppress(ValueError, KeyError, TypeError, OSError):
            stopped = int(storage.read_json(marker)["stopped_ms"])
        if stopped is not None:
            start, reason = stopped, STOPPED_REASON
        else:
            start, reason = recovery.last_recv_ms or now, CRASH_REASON
        if start < now:
            files.append_gap(start, now, reason)
            state.stats.gaps += 1
        storage.delete(marker)
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
                storage.write_json(marker, {"stopped_ms": now})
            except (RecorderError, OSError) as exc:
                errors.append(f"{venue}: {exc}")
        self._unlock()
        for error in errors:
            logger.error("stopping: %s", error)

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

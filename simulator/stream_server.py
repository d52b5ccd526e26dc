"""A real WebSocket server for the venues' liquidation streams, on 127.0.0.1.

It replays messages (:mod:`simulator.streams`: a simulation's, or synthetic load) the way the
three venues push them, so the recorder (:mod:`transforms.recorder`) runs offline, in tests and
benchmarks, through the same code as against the real hosts. One port serves every venue under
its own path:

==============  =========================  =====================================================
venue           path                       protocol (the issue's spec, section B)
==============  =========================  =====================================================
``binance_um``  ``/market/ws/``            no subscription: messages flow once connected; a
                ``!forceOrder@arr``        ``{"method":…,"id":N}`` request is answered
                                           ``{"result":null,"id":N}``. The combined-stream
                                           address ``/market/stream?streams=!forceOrder@arr``
                                           sends each message wrapped as ``{"stream":
                                           "!forceOrder@arr","data":<message>}``, as Binance does
``bybit``       ``/v5/public/linear``      ``{"op":"subscribe","args":["allLiquidation.X",…]}``
                                           → ``{"success":true,"ret_msg":"","conn_id":"…",
                                           "op":"subscribe"}`` (a topic that is not
                                           ``allLiquidation.<SYMBOL>`` → ``"success":false``);
                                           ``{"op":"ping"}`` → ``{"success":true,"ret_msg":
                                           "pong","op":"ping"}``; only subscribed topics are sent
``okx``         ``/ws/v5/public``          ``{"op":"subscribe","args":[{"channel":
                                           "liquidation-orders","instType":"SWAP"}]}`` →
                                           ``{"event":"subscribe","arg":{…},"connId":"…"}`` per
                                           argument (anything else → ``{"event":"error",…}``);
                                           the text ``ping`` → the text ``pong``
==============  =========================  =====================================================

Any other path is refused with HTTP 404. Each venue has one **feed**, an iterable of message
texts, consumed by whichever connection of the venue is sending: a connection starts sending once
it is subscribed (Binance: at once), as fast as the socket takes them or at ``rate`` messages per
second, and a new connection continues where the previous one stopped (the feed waits while no
client listens, so a test can account for every message). When the feed is exhausted the
connection stays open, answering pings. ``require_ping`` closes a connection whose client sent
nothing for that many seconds, as Bybit and OKX do without heartbeats; ``ping_interval`` is how
often the server sends WebSocket pings (Binance's heartbeat), closing a client that does not
answer within the same interval.

**Fault injection**, keyed to the venue's count of messages sent (over all its connections), so
a test can place a fault exactly: :meth:`StreamServer.drop` closes the TCP connection without a
WebSocket close frame (after flushing what was sent), :meth:`StreamServer.garbage` sends the given
frames (text, or bytes as binary frames), :meth:`StreamServer.stall` stops sending and answering
on that connection for some seconds, :meth:`StreamServer.refuse` answers the next handshakes with
HTTP 503. **Counters**: connections, subscribe requests (their arguments), pings, messages sent.

``python -m simulator.stream_server --synthetic 1000000`` serves synthetic load until stopped,
printing the venues' URLs as a JSON line first.
"""

import argparse
import asyncio
import contextlib
import json
import secrets
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Final

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from simulator.streams import STREAM_VENUES, simulated_streams, synthetic_messages

VENUE_PATHS: Final = {
    "binance_um": "/market/ws/!forceOrder@arr",
    "bybit": "/v5/public/linear",
    "okx": "/ws/v5/public",
}
BINANCE_STREAM: Final = "!forceOrder@arr"
BINANCE_COMBINED_PATH: Final = f"/market/stream?streams={BINANCE_STREAM}"
"""Binance's combined-stream address: the same messages, each wrapped with its stream's name."""
PATH_VENUES: Final = {
    **{path: venue for venue, path in VENUE_PATHS.items()},
    BINANCE_COMBINED_PATH: "binance_um",
}
URL_ENV: Final = {
    "binance_um": "TREADMILL_BINANCE_WS_URL",
    "bybit": "TREADMILL_BYBIT_WS_URL",
    "okx": "TREADMILL_OKX_WS_URL",
}
OKX_CHANNEL: Final = {"channel": "liquidation-orders", "instType": "SWAP"}
_TOPIC_PREFIX: Final = '{"topic":"'


def _compact(message: object) -> str:
    return json.dumps(message, separators=(",", ":"))


@dataclass
class Fault:
    """Something to do to the venue's sending connection once ``after`` messages were sent."""

    kind: str
    """``drop``, ``garbage`` or ``stall``."""
    after: int
    seconds: float = 0.0
    frames: tuple[str | bytes, ...] = ()


@dataclass
class _Feed:
    venue: str
    messages: Iterator[str]
    sent: int = 0
    skipped: int = 0
    exhausted: bool = False
    faults: list[Fault] = field(default_factory=list)
    refuse: int = 0


@dataclass
class _Connection:
    ws: ServerConnection
    venue: str
    conn_id: str
    topics: set[str] = field(default_factory=set)
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    frozen: bool = False
    combined: bool = False
    """Connected at Binance's combined-stream address: messages go out wrapped."""


class StreamServer:
    """The three venues' streams on ``host:port`` (0: a free port), in a background thread."""

    def __init__(
        self,
        feeds: Mapping[str, Iterable[str]],
        *,
        rate: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        require_ping: Mapping[str, float] | None = None,
        ping_interval: float | None = 20.0,
    ) -> None:
        unknown = set(feeds) - set(STREAM_VENUES)
        if unknown:
            raise ValueError(f"unknown stream venue(s) {sorted(unknown)}; known: {STREAM_VENUES}")
        self.host, self.port = host, port
        self.rate = rate
        self.require_ping = dict(require_ping or {})
        self.ping_interval = ping_interval
        self._feeds = {venue: _Feed(venue, iter(feeds.get(venue, ()))) for venue in STREAM_VENUES}
        self.connections: dict[str, int] = dict.fromkeys(STREAM_VENUES, 0)
        self.subscriptions: dict[str, list[list[object]]] = {v: [] for v in STREAM_VENUES}
        """Each subscribe request's ``args``, per venue, in arrival order."""
        self.pings: dict[str, int] = dict.fromkeys(STREAM_VENUES, 0)
        self.refused: dict[str, int] = dict.fromkeys(STREAM_VENUES, 0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None

    # Control, from any thread

    def start(self) -> "StreamServer":
        """Serve in a background thread; return once listening."""
        self._thread = threading.Thread(target=self._thread_main, name="stream-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the stream server did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"the stream server failed to start: {self._error}")
        return self

    def close(self) -> None:
        """Stop serving (open connections are closed) and join the thread."""
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "StreamServer":
        return self.start() if self._thread is None else self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def url(self, venue: str, *, combined: bool = False) -> str:
        """``ws://127.0.0.1:PORT`` + the venue's path; ``combined``: Binance's combined-stream
        address, whose messages come wrapped as ``{"stream":…,"data":…}``."""
        if combined:
            if venue != "binance_um":
                raise ValueError(f"only Binance has a combined-stream address, not {venue}")
            return self.base_url + BINANCE_COMBINED_PATH
        return self.base_url + VENUE_PATHS[venue]

    def recorder_env(self) -> dict[str, str]:
        """``TREADMILL_<VENUE>_WS_URL`` for every venue, pointing here."""
        return {URL_ENV[venue]: self.url(venue) for venue in STREAM_VENUES}

    def sent(self, venue: str) -> int:
        """Messages of the venue's feed sent so far (garbage frames not included)."""
        return self._feeds[venue].sent

    def exhausted(self, venue: str) -> bool:
        """Whether the venue's feed has nothing left to send."""
        return self._feeds[venue].exhausted

    def drop(self, venue: str, after: int) -> None:
        """Cut the sending connection once ``after`` messages were sent: TCP closed, no close
        frame (what a venue's load balancer or a network fault does)."""
        self._add_fault(venue, Fault("drop", after))

    def garbage(self, venue: str, after: int, frames: Iterable[str | bytes]) -> None:
        """Send ``frames`` (bytes as binary frames) once ``after`` messages were sent."""
        self._add_fault(venue, Fault("garbage", after, frames=tuple(frames)))

    def stall(self, venue: str, after: int, seconds: float) -> None:
        """Freeze the sending connection for ``seconds`` once ``after`` messages were sent: it
        sends nothing and answers nothing, but stays open."""
        self._add_fault(venue, Fault("stall", after, seconds=seconds))

    def refuse(self, venue: str, count: int = 1) -> None:
        """Answer the venue's next ``count`` handshakes with HTTP 503."""

        def apply() -> None:
            self._feeds[venue].refuse += count

        self._apply(apply)

    def _add_fault(self, venue: str, fault: Fault) -> None:
        feed = self._feeds[venue]

        def apply() -> None:
            feed.faults = sorted([*feed.faults, fault], key=lambda f: f.after)

        self._apply(apply)

    def _apply(self, change: Callable[[], None]) -> None:
        """Run ``change`` on the server's loop (state is only touched there) and wait for it."""
        loop = self._loop
        if loop is None or loop.is_closed():
            change()
            return
        done = threading.Event()

        def run() -> None:
            try:
                change()
            finally:
                done.set()

        loop.call_soon_threadsafe(run)
        done.wait(timeout=10)

    # The server

    def _thread_main(self) -> None:
        try:
            asyncio.run(self.serve_forever())
        except BaseException as exc:  # reported to start(); a thread cannot raise to its caller
            self._error = exc
            self._ready.set()

    async def serve_forever(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve on the running loop until :meth:`close` (or the task is cancelled)."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        async with serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            compression=None,
            max_size=2**20,
            # WebSocket pings to the client, as Binance sends them (every 3 minutes); a client
            # that does not answer within the interval is disconnected.
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_interval,
        ) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            if on_ready is not None:
                on_ready()
            await self._stopped.wait()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        venue = PATH_VENUES.get(request.path)
        if venue is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "no such stream\n")
        feed = self._feeds[venue]
        if feed.refuse > 0:
            feed.refuse -= 1
            self.refused[venue] += 1
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "try again later\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request else ""
        venue = PATH_VENUES[path]
        connection = _Connection(
            ws, venue, secrets.token_hex(4), combined=path == BINANCE_COMBINED_PATH
        )
        self.connections[venue] += 1
        if venue == "binance_um":
            connection.subscribed.set()
        sender = asyncio.get_running_loop().create_task(self._send(connection))
        try:
            await self._read(connection)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender

    async def _read(self, connection: _Connection) -> None:
        """Answer what the client sends: subscriptions and pings, exactly as the venue does."""
        ws, venue = connection.ws, connection.venue
        idle = self.require_ping.get(venue)
        while True:
            try:
                if idle is None:
                    message = await ws.recv()
                else:
                    message = await asyncio.wait_for(ws.recv(), timeout=idle)
            except TimeoutError:
                await ws.close(1000, "no heartbeat")
                return
            except ConnectionClosed:
                return
            if connection.frozen or not isinstance(message, str):
                continue
            if venue == "bybit":
                await self._bybit(connection, message)
            elif venue == "okx":
                await self._okx(connection, message)
            else:
                await self._binance(connection, message)

    async def _bybit(self, connection: _Connection, message: str) -> None:
        ws = connection.ws
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        op = request.get("op") if isinstance(request, dict) else None
        if op == "ping":
            self.pings["bybit"] += 1
            await ws.send('{"success":true,"ret_msg":"pong","op":"ping"}')
            return
        if op == "subscribe" and isinstance(request, dict):
            args = request.get("args")
            args = args if isinstance(args, list) else []
            self.subscriptions["bybit"].append(list(args))
            bad = [
                a
                for a in args
                if not isinstance(a, str)
                or not a.startswith("allLiquidation.")
                or not a.removeprefix("allLiquidation.").isalnum()
            ]
            if bad or not args:
                ret_msg = f"error:handler not found,topic:{bad[0] if bad else ''}"
                await ws.send(
                    _compact(
                        {
                            "success": False,
                            "ret_msg": ret_msg,
                            "conn_id": connection.conn_id,
                            "op": "subscribe",
                        }
                    )
                )
                return
            connection.topics.update(str(a) for a in args)
            await ws.send(
                _compact(
                    {
                        "success": True,
                        "ret_msg": "",
                        "conn_id": connection.conn_id,
                        "op": "subscribe",
                    }
                )
            )
            connection.subscribed.set()
            return
        await ws.send(
            _compact(
                {
                    "success": False,
                    "ret_msg": f"error:unsupported op {op!r}",
                    "conn_id": connection.conn_id,
                    "op": op if isinstance(op, str) else "",
                }
            )
        )

    async def _okx(self, connection: _Connection, message: str) -> None:
        ws = connection.ws
        if message == "ping":
            self.pings["okx"] += 1
            await ws.send("pong")
            return
        try:
            request = json.loads(message)
        except ValueError:
            request = None
        if isinstance(request, dict) and request.get("op") == "subscribe":
            args = request.get("args")
            args = args if isinstance(args, list) else []
            self.subscriptions["okx"].append(list(args))
            for arg in args or [None]:
                if arg == OKX_CHANNEL:
                    await ws.send(
                        _compact({"event": "subscribe", "arg": arg, "connId": connection.conn_id})
                    )
                    connection.subscribed.set()
                else:
                    await ws.send(
                        _compact(
                            {
                                "event": "error",
                                "msg": f"Illegal request: {message}",
                                "code": "60018",
                                "connId": connection.conn_id,
                            }
                        )
                    )
            return
        await ws.send(
            _compact(
                {
                    "event": "error",
                    "msg": f"Illegal request: {message}",
                    "code": "60012",
                    "connId": connection.conn_id,
                }
            )
        )

    async def _binance(self, connection: _Connection, message: str) -> None:
        with contextlib.suppress(ValueError):
            request = json.loads(message)
            if isinstance(request, dict) and "method" in request and "id" in request:
                await connection.ws.send(_compact({"result": None, "id": request["id"]}))

    async def _send(self, connection: _Connection) -> None:
        """Feed the connection: faults due first, then the next message (subscribed topics)."""
        ws, venue = connection.ws, connection.venue
        feed = self._feeds[venue]
        await connection.subscribed.wait()
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.rate if self.rate else 0.0
        next_at = loop.time()
        topics = connection.topics
        bybit = venue == "bybit"
        wrap = f'{{"stream":"{BINANCE_STREAM}","data":' if connection.combined else None
        send = ws.send
        while True:
            while feed.faults and feed.sent >= feed.faults[0].after:
                fault = feed.faults.pop(0)
                if fault.kind == "drop":
                    # close(), not abort(): what was sent is flushed, then FIN with no close
                    # frame, so the client sees an abnormal closure but loses nothing sent.
                    ws.transport.close()
                    return
                if fault.kind == "garbage":
                    for frame in fault.frames:
                        await send(frame)
                elif fault.kind == "stall":
                    connection.frozen = True
                    await asyncio.sleep(fault.seconds)
                    connection.frozen = False
            text = next(feed.messages, None)
            if text is None:
                feed.exhausted = True
                await ws.wait_closed()
                return
            if bybit and text.startswith(_TOPIC_PREFIX):
                topic = text[len(_TOPIC_PREFIX) : text.find('"', len(_TOPIC_PREFIX))]
                if topic not in topics:
                    feed.skipped += 1
                    continue
            if interval:
                next_at += interval
                delay = next_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            if ws.protocol.state is not State.OPEN:
                await ws.wait_closed()
                return
            if wrap is not None:
                text = wrap + text + "}"
            # broadcast() writes the frame at once, without send()'s per-message coroutine and
            # locking (it triples the server's rate, so a benchmark measures the recorder, not
            # the server); drain() then holds the feed while the client is behind.
            broadcast((ws,), text)
            feed.sent += 1
            if ws.paused:
                await ws.drain()
            elif feed.sent % 64 == 0:
                await asyncio.sleep(0)  # let the other venues and the reader run


@contextmanager
def serve_streams(
    feeds: Mapping[str, Iterable[str]],
    *,
    rate: float | None = None,
    require_ping: Mapping[str, float] | None = None,
    ping_interval: float | None = 20.0,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[StreamServer]:
    """A :class:`StreamServer` of ``feeds`` for the ``with`` block."""
    server = StreamServer(
        feeds,
        rate=rate,
        host=host,
        port=port,
        require_ping=require_ping,
        ping_interval=ping_interval,
    )
    server.start()
    try:
        yield server
    finally:
        server.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m simulator.stream_server (--synthetic N | --simulation OUT)``: serve until
    SIGINT/SIGTERM, after printing ``{"port": …, "urls": {venue: url}}`` on one line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--synthetic", type=int, help="messages in all, split over the venues")
    source.add_argument("--simulation", type=Path, help="a simulation's out folder")
    parser.add_argument("--venues", default=",".join(STREAM_VENUES))
    parser.add_argument("--symbols", default="BTCUSDT,ETHUSDT,SOLUSDT")
    parser.add_argument("--rate", type=float, default=None, help="messages per second per venue")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--binance-combined",
        action="store_true",
        help="print Binance's combined-stream address (messages wrapped with the stream's name)",
    )
    args = parser.parse_args(argv)
    venues = [v for v in args.venues.split(",") if v]
    feeds: dict[str, Iterable[str]]
    if args.synthetic is not None:
        share, extra = divmod(args.synthetic, len(venues))
        symbols = tuple(s for s in args.symbols.split(",") if s)
        feeds = {
            venue: synthetic_messages(venue, share + (i < extra), symbols=symbols)
            for i, venue in enumerate(venues)
        }
    else:
        streams = simulated_streams(args.simulation)
        feeds = {venue: streams.texts(venue) for venue in venues}
    server = StreamServer(feeds, rate=args.rate, host=args.host, port=args.port)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)

        def ready() -> None:
            urls = {
                venue: server.url(venue, combined=args.binance_combined and venue == "binance_um")
                for venue in venues
            }
            print(json.dumps({"port": server.port, "urls": urls}), flush=True)

        with contextlib.suppress(asyncio.CancelledError):
            await server.serve_forever(on_ready=ready)

    asyncio.run(run())


if __name__ == "__main__":
    main()

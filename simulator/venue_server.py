"""A real HTTP server for the simulated venues' REST histories, on 127.0.0.1.

It serves the files :mod:`simulator.venues` writes (``<out>/venues/…``) the way the venues'
history endpoints answer (:mod:`simulator.venue_endpoints`: the endpoints, their paging and
their bodies), so the warehouse's paged REST client runs offline (tests, ``make demo``) through
the same code as against the real hosts. One port serves every venue under a path prefix:
``http://127.0.0.1:PORT/<exchange>/`` + the venue's own endpoint path.

**Rate limits.** Each venue has a sliding window of N requests per W seconds
(:data:`DEFAULT_RATE_LIMITS`, the venues' documented limits; ``rate_limits=None`` switches them
off). A key ``"<exchange>:<dataset>"`` (``okx:open_interest``) gives one endpoint its own window,
as OKX limits per endpoint; otherwise the venue's endpoints share the ``"<exchange>"`` window.
Over the limit the answer is HTTP 429 with ``Retry-After`` (seconds, fractional: when the oldest
request in the window leaves it) and ``{"error":"rate limited"}``; a refused request does not
count toward the window. A request leaves the window 25 ms early (at most 5% of it), so a client
spacing its requests exactly at the limit is not refused for the jitter of their arrival.
(Bybit's real API answers HTTP 200 with retCode 10006 instead of 429.)

**Counters and log.** :attr:`VenueServer.served`, :attr:`VenueServer.refused` (429 by the rate
limiter) and :attr:`VenueServer.injected` count requests per venue; :meth:`VenueServer.log`
lists every request (endpoint path, query string and decoded parameters, status, outcome) so
tests can assert how a client paged.

**Fault injection** (for client tests): :meth:`VenueServer.fail_next` answers the next request(s)
to a venue (optionally only those whose endpoint path starts with ``path``) with an error status;
:meth:`VenueServer.override_next` answers them with a given body. Injected answers bypass the
rate limiter (they neither consume nor check the window) and count as ``injected``.
"""

import argparse
import json
import math
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

from simulator.venue_endpoints import ROUTES, Query, answer, load_venues, plain_decimal
from simulator.venues import EXCHANGES

RateLimits = Mapping[str, tuple[int, float]]
"""``exchange`` or ``exchange:dataset`` → (requests, window seconds)."""

DEFAULT_RATE_LIMITS: Final[RateLimits] = MappingProxyType(
    {
        "bitmex": (30, 60.0),
        "bybit": (600, 5.0),
        "okx:funding": (10, 2.0),
        "okx:open_interest": (5, 2.0),
        "binance_um": (500, 300.0),
    }
)
"""The venues' documented unauthenticated limits."""
WINDOW_GRACE_SECONDS: Final = 0.025
"""How much earlier than its window's length an admitted request stops counting (see _Window)."""


@dataclass(frozen=True)
class LoggedRequest:
    """One request the server answered."""

    exchange: str
    path: str
    """The endpoint path under the venue's prefix, e.g. ``v5/market/open-interest``."""
    query: str
    """The query string as received (``category=linear&symbol=BTCUSDT&…``)."""
    params: dict[str, str]
    """The query parameters, decoded (the first value of each)."""
    status: int
    outcome: str
    """``served``, ``refused`` (429 by the rate limiter) or ``injected``."""


@dataclass
class _Injection:
    status: int
    body: bytes
    headers: dict[str, str]
    path: str | None
    remaining: int


@dataclass
class _Window:
    """A sliding window of at most ``requests`` admitted requests per ``seconds``.

    A request leaves the window :data:`WINDOW_GRACE_SECONDS` early (at most 5% of it): the
    server stamps arrivals, and a client that spaces its requests exactly at the limit sees its
    first request arrive a little late (connection setup) and the next ones a little early.
    """

    requests: int
    seconds: float
    admitted: deque[float] = field(default_factory=deque)

    @property
    def span(self) -> float:
        return self.seconds - min(WINDOW_GRACE_SECONDS, 0.05 * self.seconds)

    def admit(self, now: float) -> float | None:
        """None when admitted (and counted); else the seconds until a slot frees."""
        while self.admitted and self.admitted[0] <= now - self.span:
            self.admitted.popleft()
        if len(self.admitted) < self.requests:
            self.admitted.append(now)
            return None
        return self.admitted[0] + self.span - now


def _json(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


class VenueServer:
    """Every simulated venue's history endpoints on one 127.0.0.1 port (see the module doc).

    Use :func:`serve_venues`; or :meth:`start` and :meth:`close` by hand.
    """

    def __init__(
        self,
        root: Path,
        rate_limits: RateLimits | None = DEFAULT_RATE_LIMITS,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.root = root
        self._data = load_venues(root)
        if not any(self._data.values()):
            raise FileNotFoundError(f"no venue files under {root} (simulate with venues=True)")
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._limits: dict[str, tuple[int, float]] = {}
        self.set_rate_limits(rate_limits)
        self._log: list[LoggedRequest] = []
        self._served = dict.fromkeys(EXCHANGES, 0)
        self._refused = dict.fromkeys(EXCHANGES, 0)
        self._injected = dict.fromkeys(EXCHANGES, 0)
        self._injections: dict[str, list[_Injection]] = {name: [] for name in EXCHANGES}
        self._httpd = _HTTPServer((host, port), _RequestHandler)
        self._httpd.venues = self
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="venue-server",
            daemon=True,
        )

    # Lifecycle

    def start(self) -> "VenueServer":
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # Addresses

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return f"http://{self.host}:{self.port}/"

    def url(self, exchange: str) -> str:
        """The venue's base URL, ending with ``/``: ``http://127.0.0.1:PORT/bitmex/``."""
        if exchange not in EXCHANGES:
            raise ValueError(f"unknown venue {exchange!r}; known: {list(EXCHANGES)}")
        return f"{self.base_url}{exchange}/"

    def treadmill_urls(self) -> dict[str, str]:
        """Base URLs by the warehouse's venue keys, as ``Settings.venue_urls`` takes them."""
        return {key: self.url(prefix) for key, prefix in VENUE_PREFIXES.items()}

    def symbols(self, exchange: str, dataset: str) -> list[str]:
        """The symbols the venue serves for ``dataset`` (``funding`` / ``open_interest``)."""
        return sorted(self._data.get((exchange, dataset), {}))

    # Rate limits, counters, log

    def set_rate_limits(self, rate_limits: RateLimits | None) -> None:
        """Replace the limits (None: no limits) and start every window afresh."""
        with self._lock:
            self._limits = dict(rate_limits or {})
            self._windows = {
                key: _Window(int(requests), float(seconds))
                for key, (requests, seconds) in self._limits.items()
            }

    @property
    def rate_limits(self) -> dict[str, tuple[int, float]]:
        return dict(self._limits)

    @property
    def served(self) -> dict[str, int]:
        """Requests answered by the venue (any status but a rate-limit 429), per venue."""
        with self._lock:
            return dict(self._served)

    @property
    def refused(self) -> dict[str, int]:
        """Requests refused with 429 by the rate limiter, per venue."""
        with self._lock:
            return dict(self._refused)

    @property
    def injected(self) -> dict[str, int]:
        """Requests answered by :meth:`fail_next` / :meth:`override_next`, per venue."""
        with self._lock:
            return dict(self._injected)

    def log(self, exchange: str | None = None) -> list[LoggedRequest]:
        """Every answered request (of ``exchange``, or all), in the order they arrived."""
        with self._lock:
            return [r for r in self._log if exchange is None or r.exchange == exchange]

    def reset(self) -> None:
        """Forget the log, the counters, pending injections and the rate windows."""
        with self._lock:
            self._log.clear()
            for counter in (self._served, self._refused, self._injected):
                counter.update(dict.fromkeys(counter, 0))
            for pending in self._injections.values():
                pending.clear()
            for window in self._windows.values():
                window.admitted.clear()

    # Fault injection

    def fail_next(
        self,
        exchange: str,
        status: int = 500,
        times: int = 1,
        *,
        path: str | None = None,
        retry_after: float | None = None,
        body: bytes | None = None,
    ) -> None:
        """Answer the next ``times`` requests to ``exchange`` with HTTP ``status``.

        ``path`` restricts it to requests whose endpoint path (after the venue prefix, e.g.
        ``v5/market/open-interest``) starts with it. ``retry_after`` adds a ``Retry-After``
        header (sent only when given). The body defaults to ``{"error":"injected <status>"}``.
        """
        headers = {} if retry_after is None else {"Retry-After": _seconds(retry_after)}
        payload = body if body is not None else _json({"error": f"injected {status}"})
        self._inject(exchange, _Injection(status, payload, headers, path, times))

    def override_next(
        self,
        exchange: str,
        body: bytes,
        times: int = 1,
        *,
        path: str | None = None,
        status: int = 200,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next ``times`` requests to ``exchange`` with ``body`` instead of the real
        page (a malformed or truncated page, a venue-side error shape…); ``path`` as in
        :meth:`fail_next`."""
        injection = _Injection(status, body, {"Content-Type": content_type}, path, times)
        self._inject(exchange, injection)

    def _inject(self, exchange: str, injection: _Injection) -> None:
        self.url(exchange)
        if injection.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._injections[exchange].append(injection)

    # Answering (called from the handler threads)

    def _take_injection(self, exchange: str, endpoint: str) -> _Injection | None:
        with self._lock:
            for injection in self._injections[exchange]:
                if injection.path is None or endpoint.startswith(injection.path.strip("/")):
                    injection.remaining -= 1
                    if injection.remaining == 0:
                        self._injections[exchange].remove(injection)
                    return injection
        return None

    def _admit(self, exchange: str, dataset: str | None) -> float | None:
        key = f"{exchange}:{dataset}"
        with self._lock:
            window = self._windows.get(key) or self._windows.get(exchange)
            return None if window is None else window.admit(time.monotonic())

    def _record(self, request: LoggedRequest) -> None:
        with self._lock:
            self._log.append(request)
            if request.outcome == "injected":
                self._injected[request.exchange] += 1
            elif request.outcome == "refused":
                self._refused[request.exchange] += 1
            else:
                self._served[request.exchange] += 1

    def _answer(self, exchange: str, endpoint: str, query: Query) -> tuple[int, object]:
        """The status and JSON body of a request the rate limiter admitted."""
        return answer(self._data, exchange, endpoint, query)


VENUE_PREFIXES: Final[Mapping[str, str]] = MappingProxyType(
    {"binance_api": "binance_um", "bitmex": "bitmex", "bybit": "bybit", "okx": "okx"}
)
"""The warehouse's REST venue keys (``TREADMILL_<VENUE>_URL``) → this server's path prefixes."""


def _seconds(value: float) -> str:
    """A ``Retry-After`` value: seconds, rounded up to the millisecond, no trailing zeros."""
    return plain_decimal(math.ceil(max(value, 0.001) * 1000) / 1000, 3)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    venues: VenueServer

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up mid-answer is not worth a traceback."""


class _RequestHandler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 30
    # Headers and body go out in two writes: without this, Nagle's algorithm holds the body
    # until the client's delayed ACK, 40 ms a request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: :meth:`VenueServer.log` records requests."""

    def do_GET(self) -> None:
        venues = self.server.venues
        target = urlsplit(self.path)
        parts = [part for part in target.path.split("/") if part]
        exchange = parts[0] if parts else ""
        endpoint = "/".join(parts[1:])
        if exchange not in EXCHANGES:
            self._send(404, _json({"error": f"no venue {exchange!r}"}))
            return
        query = Query(target.query)

        def record(status: int, outcome: str) -> None:
            venues._record(
                LoggedRequest(exchange, endpoint, target.query, query.values, status, outcome)
            )

        injection = venues._take_injection(exchange, endpoint)
        if injection is not None:
            record(injection.status, "injected")
            self._send(injection.status, injection.body, injection.headers)
            return
        retry = venues._admit(exchange, ROUTES.get((exchange, endpoint)))
        if retry is not None:
            record(429, "refused")
            self._send(429, _json({"error": "rate limited"}), {"Retry-After": _seconds(retry)})
            return
        status, body = venues._answer(exchange, endpoint, query)
        record(status, "served")
        self._send(status, _json(body))

    def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        extra = dict(headers or {})
        self.send_response(status)
        self.send_header("Content-Type", extra.pop("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve_venues(
    root: Path,
    rate_limits: RateLimits | None = DEFAULT_RATE_LIMITS,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[VenueServer]:
    """Serve the venue files under ``root`` (a simulation's out folder, or its ``venues/``) on
    ``host:port`` (0: a free port) in a background thread, for the ``with`` block.

    ``rate_limits``: exchange (or ``exchange:dataset``) → (requests, seconds); the default is the
    venues' documented limits, None switches limiting off.
    """
    server = VenueServer(root, rate_limits, host, port).start()
    try:
        yield server
    finally:
        server.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m simulator.venue_server OUT [--port N] [--no-rate-limits]``: serve until ^C."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("root", type=Path, help="a simulation's out folder (holding venues/)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-rate-limits", action="store_true")
    args = parser.parse_args(argv)
    limits = None if args.no_rate_limits else DEFAULT_RATE_LIMITS
    with serve_venues(args.root, limits, args.host, args.port) as server:
        for exchange in EXCHANGES:
            print(f"{exchange:<11} {server.url(exchange)}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

"""A real HTTP server for the simulated venues' REST histories, on 127.0.0.1.

It serves the files :mod:`simulator.venues` writes (``<out>/venues/…``) the way the venues'
history endpoints answer, so the warehouse's paged REST client runs offline (tests, ``make
demo``) through the same code as against the real hosts. One port serves every venue under a
path prefix: ``http://127.0.0.1:PORT/<exchange>/`` + the venue's own endpoint path.

======================  ======================================================  ===========
exchange                endpoint                                                order
======================  ======================================================  ===========
``bitmex``              ``api/v1/funding`` (startTime/endTime ISO, inclusive;   oldest first
                        ``count`` ≤ 500, ``start`` offset, ``reverse``)         (``reverse``:
                                                                                newest)
``bybit``               ``v5/market/funding/history`` (``limit`` ≤ 200)         newest first
``bybit``               ``v5/market/open-interest`` (``intervalTime``,          newest first
                        ``limit`` ≤ 200, opaque ``cursor``)
``okx``                 ``api/v5/public/funding-rate-history`` (``after`` /     newest first
                        ``before`` strictly exclusive, ``limit`` ≤ 100)
``okx``                 ``api/v5/rubik/stat/contracts/open-interest-history``   newest first
                        (``begin``/``end`` inclusive, ``period``, ≤ 100)
``binance_um``          ``fapi/v1/fundingRate`` (``limit`` ≤ 1000)              oldest first
======================  ======================================================  ===========

Time bounds are epoch ms and inclusive unless said otherwise. Bodies are the venues' exact
shapes (numbers as strings where the venue sends strings). A page holds the ``limit`` rows at
the venue's end of the range: the oldest for BitMEX and Binance (Binance without ``startTime``:
the newest, listed oldest first), the newest for Bybit and OKX (also when OKX gets only
``before``). A symbol the venue does not list answers an empty page.
Bad or missing parameters, or a limit over the venue's maximum, answer HTTP 400 with the
venue's error body; an unknown path answers 404.

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
import base64
import binascii
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import numpy as np
import polars as pl

from simulator.venues import DATASETS, EXCHANGES, FUNDING, OPEN_INTEREST, VENUES_DIR

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

ROUTES: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {
        ("bitmex", "api/v1/funding"): FUNDING,
        ("bybit", "v5/market/funding/history"): FUNDING,
        ("bybit", "v5/market/open-interest"): OPEN_INTEREST,
        ("okx", "api/v5/public/funding-rate-history"): FUNDING,
        ("okx", "api/v5/rubik/stat/contracts/open-interest-history"): OPEN_INTEREST,
        ("binance_um", "fapi/v1/fundingRate"): FUNDING,
    }
)
"""(exchange, endpoint path) → the dataset it serves."""

MAX_LIMITS: Final[Mapping[tuple[str, str], int]] = MappingProxyType(
    {
        ("bitmex", FUNDING): 500,
        ("bybit", FUNDING): 200,
        ("bybit", OPEN_INTEREST): 200,
        ("okx", FUNDING): 100,
        ("okx", OPEN_INTEREST): 100,
        ("binance_um", FUNDING): 1000,
    }
)
DEFAULT_LIMITS: Final[Mapping[tuple[str, str], int]] = MappingProxyType(
    {
        ("bitmex", FUNDING): 100,
        ("bybit", FUNDING): 200,
        ("bybit", OPEN_INTEREST): 50,
        ("okx", FUNDING): 100,
        ("okx", OPEN_INTEREST): 100,
        ("binance_um", FUNDING): 100,
    }
)

WINDOW_GRACE_SECONDS: Final = 0.025
"""How much earlier than its window's length an admitted request stops counting (see _Window)."""
MS_PER_MINUTE: Final = 60_000
BYBIT_INTERVALS: Final = {"5min": 5, "15min": 15, "30min": 30, "1h": 60, "4h": 240, "1d": 1440}
OKX_PERIODS: Final = {
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1H": 60,
    "2H": 120,
    "4H": 240,
    "6H": 360,
    "12H": 720,
    "1D": 1440,
}
BITMEX_INTERVAL_ORIGIN_MS: Final = 946_684_800_000
"""2000-01-01T00:00:00Z: BitMEX writes an interval of 8 hours as the instant 8 hours after it."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# What the server holds


@dataclass(frozen=True)
class _Rows:
    """One venue file: ``ts`` (ms, ascending) and its other columns by name."""

    ts: np.ndarray
    columns: dict[str, list[Any]]


def load_venues(root: Path) -> dict[tuple[str, str], dict[str, _Rows]]:
    """Every venue file under ``root/venues`` (or ``root`` itself when it is that folder).

    Returns (exchange, dataset) → symbol → rows, for every dataset the venues publish.
    """
    base = root / VENUES_DIR if (root / VENUES_DIR).is_dir() else root
    loaded: dict[tuple[str, str], dict[str, _Rows]] = {}
    for exchange in EXCHANGES:
        for dataset in DATASETS[exchange]:
            tables: dict[str, _Rows] = {}
            for path in sorted((base / exchange / dataset).glob("*.parquet")):
                frame = pl.read_parquet(path).sort("ts")
                ts = frame["ts"].dt.epoch("ms").to_numpy().astype(np.int64)
                columns = {name: frame[name].to_list() for name in frame.columns if name != "ts"}
                tables[path.stem] = _Rows(ts, columns)
            loaded[(exchange, dataset)] = tables
    return loaded


# Requests and answers


class _BadRequestError(Exception):
    """A parameter the venue would refuse: answered 400 with the venue's error body."""


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


class _Query:
    """A request's query parameters, read the way the venues validate them."""

    def __init__(self, raw: str) -> None:
        self.values = {key: values[0] for key, values in parse_qs(raw, True).items()}

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if value else None

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise _BadRequestError(f"missing required parameter {name!r}")
        return value

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise _BadRequestError(
                f"parameter {name!r} must be an integer, got {value!r}"
            ) from None

    def limit(self, name: str, default: int, maximum: int) -> int:
        value = self.integer(name)
        if value is None:
            return default
        if not 1 <= value <= maximum:
            raise _BadRequestError(
                f"parameter {name!r} must be between 1 and {maximum}, got {value}"
            )
        return value


def _span(ts: np.ndarray, first: int | None, last: int | None) -> tuple[int, int]:
    """Indices [i, j) of the rows with first ≤ ts ≤ last (None: unbounded)."""
    i = 0 if first is None else int(np.searchsorted(ts, first, "left"))
    j = ts.size if last is None else int(np.searchsorted(ts, last, "right"))
    return i, max(i, j)


def _newest(i: int, j: int, limit: int) -> list[int]:
    """The ``limit`` newest of rows [i, j), newest first."""
    return list(range(j - 1, max(i, j - limit) - 1, -1))


def _plain(value: float, decimals: int) -> str:
    """A decimal string without exponent or trailing zeros: ``0.0001``, ``-0.00002345``."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _iso(ms: int) -> str:
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _parse_iso(name: str, text: str | None) -> int | None:
    """Epoch ms of a BitMEX time parameter (ISO 8601; a naive one is UTC)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _BadRequestError(f"parameter {name!r} is not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _check_order(first: int | None, last: int | None) -> None:
    if first is not None and last is not None and first > last:
        raise _BadRequestError("the start of the range is after its end")


# The venues' endpoints: (rows of the symbol or None, query) → JSON body


def _bitmex_funding(rows: _Rows | None, query: _Query) -> object:
    query.required("symbol")
    count = query.limit(
        "count", DEFAULT_LIMITS[("bitmex", FUNDING)], MAX_LIMITS[("bitmex", FUNDING)]
    )
    offset = query.integer("start") or 0
    if offset < 0:
        raise _BadRequestError("parameter 'start' must not be negative")
    reverse = (query.text("reverse") or "false").lower()
    if reverse not in ("true", "false"):
        raise _BadRequestError(f"parameter 'reverse' must be true or false, got {reverse!r}")
    first = _parse_iso("startTime", query.text("startTime"))
    last = _parse_iso("endTime", query.text("endTime"))
    _check_order(first, last)
    if rows is None:
        return []
    i, j = _span(rows.ts, first, last)
    order = range(j - 1, i - 1, -1) if reverse == "true" else range(i, j)
    picked = list(order)[offset : offset + count]
    columns = rows.columns
    return [
        {
            "timestamp": _iso(int(rows.ts[k])),
            "symbol": columns["symbol"][k],
            "fundingInterval": _iso(
                BITMEX_INTERVAL_ORIGIN_MS + columns["funding_interval_hours"][k] * 3_600_000
            ),
            "fundingRate": columns["funding_rate"][k],
            "fundingRateDaily": columns["funding_rate_daily"][k],
        }
        for k in picked
    ]


def _bybit_category(query: _Query) -> None:
    category = query.required("category")
    if category != "linear":
        raise _BadRequestError(f"category {category!r} is not served (only 'linear')")


def _bybit_body(result: dict[str, object]) -> dict[str, object]:
    return {
        "retCode": 0,
        "retMsg": "OK",
        "result": result,
        "retExtInfo": {},
        "time": int(time.time() * 1000),
    }


def _bybit_funding(rows: _Rows | None, query: _Query) -> object:
    _bybit_category(query)
    symbol = query.required("symbol")
    limit = query.limit("limit", DEFAULT_LIMITS[("bybit", FUNDING)], MAX_LIMITS[("bybit", FUNDING)])
    first, last = query.integer("startTime"), query.integer("endTime")
    _check_order(first, last)
    listed: list[dict[str, str]] = []
    if rows is not None:
        i, j = _span(rows.ts, first, last)
        listed = [
            {
                "symbol": symbol,
                "fundingRate": _plain(rows.columns["funding_rate"][k], 8),
                "fundingRateTimestamp": str(int(rows.ts[k])),
            }
            for k in _newest(i, j, limit)
        ]
    return _bybit_body({"category": "linear", "list": listed})


def _bybit_cursor(symbol: str, interval: str, before_ms: int) -> str:
    """An opaque page token: the page's symbol, interval and the instant it resumes below."""
    raw = f"{symbol}|{interval}|{before_ms}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bybit_resume(token: str, symbol: str, interval: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        token_symbol, token_interval, before = raw.split("|")
        before_ms = int(before)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _BadRequestError(f"invalid cursor {token!r}") from None
    if (token_symbol, token_interval) != (symbol, interval):
        raise _BadRequestError("the cursor belongs to another symbol or interval")
    return before_ms


def _bybit_open_interest(rows: _Rows | None, query: _Query) -> object:
    _bybit_category(query)
    symbol = query.required("symbol")
    interval = query.required("intervalTime")
    if interval not in BYBIT_INTERVALS:
        raise _BadRequestError(f"intervalTime {interval!r} must be one of {list(BYBIT_INTERVALS)}")
    limit = query.limit(
        "limit", DEFAULT_LIMITS[("bybit", OPEN_INTEREST)], MAX_LIMITS[("bybit", OPEN_INTEREST)]
    )
    first, last = query.integer("startTime"), query.integer("endTime")
    _check_order(first, last)
    cursor = query.text("cursor")
    below = _bybit_resume(cursor, symbol, interval) if cursor else None
    listed: list[dict[str, str]] = []
    next_cursor = ""
    if rows is not None:
        i, j = _span(rows.ts, first, last)
        if below is not None:
            j = min(j, int(np.searchsorted(rows.ts, below, "left")))
        candidates = np.arange(i, max(i, j))
        step = BYBIT_INTERVALS[interval] * MS_PER_MINUTE
        candidates = candidates[rows.ts[candidates] % step == 0]
        page = candidates[::-1][:limit]
        listed = [
            {
                "openInterest": f"{rows.columns['open_interest'][k]:.8f}",
                "timestamp": str(int(rows.ts[k])),
            }
            for k in page.tolist()
        ]
        if candidates.size > limit:
            next_cursor = _bybit_cursor(symbol, interval, int(rows.ts[page[-1]]))
    return _bybit_body(
        {"symbol": symbol, "category": "linear", "list": listed, "nextPageCursor": next_cursor}
    )


def _okx_funding(rows: _Rows | None, query: _Query) -> object:
    inst_id = query.required("instId")
    limit = query.limit("limit", DEFAULT_LIMITS[("okx", FUNDING)], MAX_LIMITS[("okx", FUNDING)])
    after, before = query.integer("after"), query.integer("before")
    data: list[dict[str, str]] = []
    if rows is not None:
        # after: strictly earlier than it; before: strictly later than it.
        i = 0 if before is None else int(np.searchsorted(rows.ts, before, "right"))
        j = rows.ts.size if after is None else int(np.searchsorted(rows.ts, after, "left"))
        data = [
            {
                "instType": "SWAP",
                "instId": inst_id,
                "formulaType": "noRate",
                "fundingRate": _plain(rows.columns["funding_rate"][k], 8),
                "realizedRate": _plain(rows.columns["realized_rate"][k], 8),
                "fundingTime": str(int(rows.ts[k])),
                "method": "current_period",
            }
            for k in _newest(i, max(i, j), limit)
        ]
    return {"code": "0", "msg": "", "data": data}


def _okx_open_interest(rows: _Rows | None, query: _Query) -> object:
    query.required("instId")
    period = query.text("period") or "5m"
    if period not in OKX_PERIODS:
        raise _BadRequestError(f"period {period!r} must be one of {list(OKX_PERIODS)}")
    limit = query.limit(
        "limit", DEFAULT_LIMITS[("okx", OPEN_INTEREST)], MAX_LIMITS[("okx", OPEN_INTEREST)]
    )
    first, last = query.integer("begin"), query.integer("end")
    _check_order(first, last)
    data: list[list[str]] = []
    if rows is not None:
        i, j = _span(rows.ts, first, last)
        candidates = np.arange(i, j)
        step = OKX_PERIODS[period] * MS_PER_MINUTE
        candidates = candidates[rows.ts[candidates] % step == 0]
        columns = rows.columns
        data = [
            [
                str(int(rows.ts[k])),
                _plain(columns["oi_contracts"][k], 2),
                _plain(columns["oi_ccy"][k], 6),
                _plain(columns["oi_usd"][k], 2),
            ]
            for k in candidates[::-1][:limit].tolist()
        ]
    return {"code": "0", "msg": "", "data": data}


def _binance_funding(rows: _Rows | None, query: _Query) -> object:
    query.required("symbol")
    limit = query.limit(
        "limit", DEFAULT_LIMITS[("binance_um", FUNDING)], MAX_LIMITS[("binance_um", FUNDING)]
    )
    first, last = query.integer("startTime"), query.integer("endTime")
    _check_order(first, last)
    if rows is None:
        return []
    i, j = _span(rows.ts, first, last)
    # From startTime: the oldest rows; without it, the newest (still listed oldest first).
    picked = range(i, min(j, i + limit)) if first is not None else range(max(i, j - limit), j)
    columns = rows.columns
    return [
        {
            "symbol": columns["symbol"][k],
            "fundingTime": int(rows.ts[k]),
            "fundingRate": f"{columns['funding_rate'][k]:.8f}",
            "markPrice": f"{columns['mark_price'][k]:.8f}",
        }
        for k in picked
    ]


Handler = Callable[[_Rows | None, _Query], object]

_HANDLERS: Final[Mapping[tuple[str, str], Handler]] = MappingProxyType(
    {
        ("bitmex", FUNDING): _bitmex_funding,
        ("bybit", FUNDING): _bybit_funding,
        ("bybit", OPEN_INTEREST): _bybit_open_interest,
        ("okx", FUNDING): _okx_funding,
        ("okx", OPEN_INTEREST): _okx_open_interest,
        ("binance_um", FUNDING): _binance_funding,
    }
)
_SYMBOL_PARAM: Final = {
    "bitmex": "symbol",
    "bybit": "symbol",
    "okx": "instId",
    "binance_um": "symbol",
}


def _error_body(exchange: str, message: str) -> object:
    """The venue's own shape of a 400 answer."""
    if exchange == "bitmex":
        return {"error": {"message": message, "name": "HTTPError"}}
    if exchange == "bybit":
        return {
            "retCode": 10001,
            "retMsg": message,
            "result": {},
            "retExtInfo": {},
            "time": int(time.time() * 1000),
        }
    if exchange == "okx":
        return {"code": "51000", "msg": message, "data": []}
    return {"code": -1130, "msg": message}


def _json(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


# The server


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

    def _answer(self, exchange: str, endpoint: str, query: _Query) -> tuple[int, object]:
        """The status and JSON body of a request the rate limiter admitted."""
        dataset = ROUTES.get((exchange, endpoint))
        if dataset is None:
            return 404, {"error": f"no endpoint {endpoint!r} at {exchange}"}
        symbol = query.text(_SYMBOL_PARAM[exchange])
        rows = self._data.get((exchange, dataset), {}).get(symbol or "")
        try:
            return 200, _HANDLERS[(exchange, dataset)](rows, query)
        except _BadRequestError as exc:
            return 400, _error_body(exchange, str(exc))


VENUE_PREFIXES: Final[Mapping[str, str]] = MappingProxyType(
    {"binance_api": "binance_um", "bitmex": "bitmex", "bybit": "bybit", "okx": "okx"}
)
"""The warehouse's REST venue keys (``TREADMILL_<VENUE>_URL``) → this server's path prefixes."""


def _seconds(value: float) -> str:
    """A ``Retry-After`` value: seconds, rounded up to the millisecond, no trailing zeros."""
    return _plain(math.ceil(max(value, 0.001) * 1000) / 1000, 3)


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
        query = _Query(target.query)

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

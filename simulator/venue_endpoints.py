"""What each simulated venue's REST history endpoint answers, from the files
:mod:`simulator.venues` writes (``<out>/venues/…``); :mod:`simulator.venue_server` serves it.

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
"""

import base64
import binascii
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import parse_qs

import numpy as np
import polars as pl

from simulator.venues import DATASETS, EXCHANGES, FUNDING, OPEN_INTEREST, VENUES_DIR

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


@dataclass(frozen=True)
class VenueRows:
    """One venue file: ``ts`` (ms, ascending) and its other columns by name."""

    ts: np.ndarray
    columns: dict[str, list[Any]]


VenueFiles = dict[tuple[str, str], dict[str, VenueRows]]
"""(exchange, dataset) → symbol → rows."""


def load_venues(root: Path) -> VenueFiles:
    """Every venue file under ``root/venues`` (or ``root`` itself when it is that folder).

    Returns (exchange, dataset) → symbol → rows, for every dataset the venues publish.
    """
    base = root / VENUES_DIR if (root / VENUES_DIR).is_dir() else root
    loaded: VenueFiles = {}
    for exchange in EXCHANGES:
        for dataset in DATASETS[exchange]:
            tables: dict[str, VenueRows] = {}
            for path in sorted((base / exchange / dataset).glob("*.parquet")):
                frame = pl.read_parquet(path).sort("ts")
                ts = frame["ts"].dt.epoch("ms").to_numpy().astype(np.int64)
                columns = {name: frame[name].to_list() for name in frame.columns if name != "ts"}
                tables[path.stem] = VenueRows(ts, columns)
            loaded[(exchange, dataset)] = tables
    return loaded


class _BadRequestError(Exception):
    """A parameter the venue would refuse: answered 400 with the venue's error body."""


class Query:
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


def plain_decimal(value: float, decimals: int) -> str:
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


def _bitmex_funding(rows: VenueRows | None, query: Query) -> object:
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


def _bybit_category(query: Query) -> None:
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


def _bybit_funding(rows: VenueRows | None, query: Query) -> object:
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
                "fundingRate": plain_decimal(rows.columns["funding_rate"][k], 8),
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


def _bybit_open_interest(rows: VenueRows | None, query: Query) -> object:
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


def _okx_funding(rows: VenueRows | None, query: Query) -> object:
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
                "fundingRate": plain_decimal(rows.columns["funding_rate"][k], 8),
                "realizedRate": plain_decimal(rows.columns["realized_rate"][k], 8),
                "fundingTime": str(int(rows.ts[k])),
                "method": "current_period",
            }
            for k in _newest(i, max(i, j), limit)
        ]
    return {"code": "0", "msg": "", "data": data}


def _okx_open_interest(rows: VenueRows | None, query: Query) -> object:
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
                plain_decimal(columns["oi_contracts"][k], 2),
                plain_decimal(columns["oi_ccy"][k], 6),
                plain_decimal(columns["oi_usd"][k], 2),
            ]
            for k in candidates[::-1][:limit].tolist()
        ]
    return {"code": "0", "msg": "", "data": data}


def _binance_funding(rows: VenueRows | None, query: Query) -> object:
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


Handler = Callable[[VenueRows | None, Query], object]

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


def answer(venues: VenueFiles, exchange: str, endpoint: str, query: Query) -> tuple[int, object]:
    """The status and JSON body ``exchange``'s ``endpoint`` (the path after the venue's prefix)
    answers ``query`` with, from the loaded ``venues``."""
    dataset = ROUTES.get((exchange, endpoint))
    if dataset is None:
        return 404, {"error": f"no endpoint {endpoint!r} at {exchange}"}
    symbol = query.text(_SYMBOL_PARAM[exchange])
    rows = venues.get((exchange, dataset), {}).get(symbol or "")
    try:
        return 200, _HANDLERS[(exchange, dataset)](rows, query)
    except _BadRequestError as exc:
        return 400, _error_body(exchange, str(exc))

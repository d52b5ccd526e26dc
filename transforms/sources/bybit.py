"""Bybit (linear USDT perpetuals): funding and open-interest history from the v5 market API.

- ``GET /v5/market/funding/history``: settlements newest first, at most 200 a page, paged
  backward by ``endTime``. The history does not carry the interval; it is the gap between
  settlements (:func:`transforms.sources.rest.settlement_intervals`).
- ``GET /v5/market/open-interest`` (``intervalTime=5min``): open interest newest first, at most
  200 a page, paged by ``nextPageCursor``. For linear contracts ``openInterest`` is in the base
  coin (BTC for BTCUSDT). Bybit publishes no USD value with it, so the staged ``oi_usd`` is null
  and ``fct_open_interest`` values it at the coin's minute close (see its SQL).
- Every number and instant is a JSON string; ``retCode`` other than 0 is an error (10006: the
  rate limit, retried like an HTTP 429).
- Symbols are Bybit's (``BTCUSDT``), the same tickers as Binance USDⓈ-M.
"""

import functools
from collections.abc import Sequence
from datetime import date
from typing import Any

import pyarrow as pa

from transforms.dataset import Cadence, Dataset
from transforms.endpoints import (
    Endpoint,
    PageContent,
    PageShapeError,
    Paging,
    RateLimit,
    RateLimitedError,
    Venue,
)
from transforms.schemas import Kind
from transforms.sources import descriptions
from transforms.sources.rest import (
    MS_PER_HOUR,
    as_float,
    as_int,
    field_of,
    field_rate,
    open_interest_table,
    rest_dataset,
    settlements_table,
)

VENUE = Venue("bybit", "https://api.bybit.com/", RateLimit(600, 5))
LINEAR_LAUNCH = date(2020, 3, 1)
RATE_LIMITED = 10006


def _result_list(body: Any) -> tuple[list[Any], dict[str, Any]]:
    if not isinstance(body, dict) or "retCode" not in body:
        raise PageShapeError("expected a v5 response object with retCode")
    if body["retCode"] == RATE_LIMITED:
        raise RateLimitedError(f"retCode {RATE_LIMITED}: {body.get('retMsg')}")
    if body["retCode"] != 0:
        raise PageShapeError(f"retCode {body['retCode']}: {body.get('retMsg')}")
    result = body.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("list"), list):
        raise PageShapeError("result.list is missing")
    return result["list"], result


def _funding_query(
    symbol: str, start_ms: int, end_ms: int, limit: int, _: str | None
) -> dict[str, str]:
    return {
        "category": "linear",
        "symbol": symbol,
        "startTime": str(start_ms),
        "endTime": str(end_ms),
        "limit": str(limit),
    }


def _funding_unpack(body: Any) -> PageContent:
    rows, _ = _result_list(body)
    instants = [
        as_int(field_of(row, "fundingRateTimestamp"), "fundingRateTimestamp") for row in rows
    ]
    return PageContent(rows, instants)


_funding_table = functools.partial(
    settlements_table, instant_field="fundingRateTimestamp", rate_of=field_rate("fundingRate")
)


def _oi_query(
    symbol: str, start_ms: int, end_ms: int, limit: int, cursor: str | None
) -> dict[str, str]:
    query = {
        "category": "linear",
        "symbol": symbol,
        "intervalTime": "5min",
        "startTime": str(start_ms),
        "endTime": str(end_ms),
        "limit": str(limit),
    }
    if cursor:
        query["cursor"] = cursor
    return query


def _oi_unpack(body: Any) -> PageContent:
    rows, result = _result_list(body)
    instants = [as_int(field_of(row, "timestamp"), "timestamp") for row in rows]
    token = result.get("nextPageCursor")
    if token is not None and not isinstance(token, str):
        raise PageShapeError(f"nextPageCursor is {token!r}, not a string")
    return PageContent(rows, instants, token or None)


def _oi_table(records: Sequence[Any], exchange: str, symbol: str, source_file: str) -> pa.Table:
    rows = sorted(records, key=lambda row: int(row["timestamp"]))
    return open_interest_table(
        exchange,
        symbol,
        source_file,
        [int(row["timestamp"]) for row in rows],
        [as_float(field_of(row, "openInterest"), "openInterest") for row in rows],
        [None] * len(rows),
    )


FUNDING = Endpoint(
    VENUE,
    "funding",
    "v5/market/funding/history",
    page_limit=200,
    paging=Paging.BACKWARD_TIME,
    query=_funding_query,
    unpack=_funding_unpack,
    to_table=_funding_table,
    step_ms=8 * MS_PER_HOUR,
)

OPEN_INTEREST = Endpoint(
    VENUE,
    "open_interest",
    "v5/market/open-interest",
    page_limit=200,
    paging=Paging.PAGE_TOKEN,
    query=_oi_query,
    unpack=_oi_unpack,
    to_table=_oi_table,
    step_ms=5 * 60_000,
)

BYBIT_DATASETS: tuple[Dataset, ...] = (
    rest_dataset(
        "bybit",
        "funding_rate",
        Kind.FUNDING_RATE,
        Cadence.MONTHLY,
        LINEAR_LAUNCH,
        FUNDING,
        description=descriptions.FUNDING_RATE,
    ),
    rest_dataset(
        "bybit",
        "open_interest",
        Kind.METRICS,
        Cadence.DAILY,
        LINEAR_LAUNCH,
        OPEN_INTEREST,
        description=descriptions.OPEN_INTEREST,
    ),
)

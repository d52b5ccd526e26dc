"""BitMEX: funding history from ``GET /api/v1/funding`` (no dump files carry funding).

- Symbols are BitMEX's own (``XBTUSD`` for bitcoin, ``ETHUSD``, ``SOLUSD``); the warehouse keeps
  them and derives the coin (``XBT`` is BTC).
- Instants are ISO-8601 strings (``2024-02-01T04:00:00.000Z``), requested and returned alike;
  ``startTime`` and ``endTime`` are inclusive. Rows come oldest first, at most 500 a page.
- ``fundingInterval`` is a duration written as an instant after 2000-01-01
  (``2000-01-01T08:00:00.000Z`` is 8 hours); ``fundingRate`` is the rate of that interval.
  XBTUSD settles at 04:00, 12:00 and 20:00 UTC, four hours off Binance's grid.
- Unauthenticated requests are limited to 30 a minute.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from transforms.dataset import Cadence, Dataset
from transforms.endpoints import Endpoint, PageContent, PageShapeError, Paging, RateLimit, Venue
from transforms.schemas import Kind
from transforms.sources import descriptions
from transforms.sources.rest import (
    MS_PER_HOUR,
    as_float,
    field_of,
    funding_table,
    iso_ms,
    ms,
    parse_iso_ms,
    rest_dataset,
)

VENUE = Venue("bitmex", "https://www.bitmex.com/", RateLimit(30, 60))
XBTUSD_LAUNCH = date(2016, 5, 14)
_INTERVAL_EPOCH_MS = ms(datetime(2000, 1, 1, tzinfo=UTC))


def _query(symbol: str, start_ms: int, end_ms: int, limit: int, _: str | None) -> dict[str, str]:
    return {
        "symbol": symbol,
        "startTime": iso_ms(start_ms),
        "endTime": iso_ms(end_ms),
        "count": str(limit),
        "reverse": "false",
    }


def _unpack(body: Any) -> PageContent:
    if not isinstance(body, list):
        raise PageShapeError(f"expected a JSON array of funding rows, got {type(body).__name__}")
    instants = [parse_iso_ms(str(field_of(row, "timestamp"))) for row in body]
    return PageContent(body, instants)


def _interval_hours(row: Any) -> int:
    duration = parse_iso_ms(str(field_of(row, "fundingInterval"))) - _INTERVAL_EPOCH_MS
    if duration <= 0 or duration % MS_PER_HOUR:
        raise PageShapeError(f"fundingInterval {row['fundingInterval']!r} is not whole hours")
    return duration // MS_PER_HOUR


def _to_table(records: Sequence[Any], exchange: str, symbol: str, source_file: str) -> pa.Table:
    rows = sorted(records, key=lambda row: parse_iso_ms(str(row["timestamp"])))
    return funding_table(
        exchange,
        symbol,
        source_file,
        [parse_iso_ms(str(row["timestamp"])) for row in rows],
        [as_float(field_of(row, "fundingRate"), "fundingRate") for row in rows],
        [_interval_hours(row) for row in rows],
    )


FUNDING = Endpoint(
    VENUE,
    "funding",
    "api/v1/funding",
    page_limit=500,
    paging=Paging.FORWARD_TIME,
    query=_query,
    unpack=_unpack,
    to_table=_to_table,
    step_ms=8 * MS_PER_HOUR,
)

BITMEX_DATASETS: tuple[Dataset, ...] = (
    rest_dataset(
        "bitmex",
        "funding_rate",
        Kind.FUNDING_RATE,
        Cadence.MONTHLY,
        XBTUSD_LAUNCH,
        FUNDING,
        description=descriptions.FUNDING_RATE,
    ),
)

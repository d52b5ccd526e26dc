"""OKX (USDT-margined swaps): funding and open-interest history from the v5 API.

- ``GET /api/v5/public/funding-rate-history``: settlements newest first, at most 100 a page,
  paged backward with ``after`` (strictly earlier than) and ``before`` (strictly later than).
  The rate taken is ``realizedRate``, what was actually paid, falling back to ``fundingRate``;
  the interval is the gap between settlements. The live API keeps about three months.
- ``GET /api/v5/rubik/stat/contracts/open-interest-history`` (``period=5m``): rows
  ``[ts, oi (contracts), oiCcy (base coin), oiUsd]`` newest first, at most 100 a page, paged
  backward by ``end``. ``oi_base`` is ``oiCcy`` and ``oi_usd`` is ``oiUsd``, both as OKX reports
  them, so no contract value is needed.
- Numbers and millisecond instants are JSON strings; ``code`` other than ``"0"`` is an error
  (``50011``: the rate limit, retried like an HTTP 429).
- Symbols are OKX instrument ids (``BTC-USDT-SWAP``).
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
    open_interest_table,
    rest_dataset,
    settlements_table,
)

VENUE = Venue("okx", "https://www.okx.com/", RateLimit(5, 2))
"""The stricter of the two endpoints' limits (funding 10 per 2 s, open interest 5 per 2 s):
both share one pacer."""
SWAP_LAUNCH = date(2019, 12, 1)
RATE_LIMITED = "50011"


def _data(body: Any) -> list[Any]:
    if not isinstance(body, dict) or "code" not in body:
        raise PageShapeError("expected a v5 response object with code")
    if str(body["code"]) == RATE_LIMITED:
        raise RateLimitedError(f"code {RATE_LIMITED}: {body.get('msg')}")
    if str(body["code"]) != "0":
        raise PageShapeError(f"code {body['code']}: {body.get('msg')}")
    data = body.get("data")
    if not isinstance(data, list):
        raise PageShapeError("data is missing")
    return data


def _funding_query(
    symbol: str, start_ms: int, end_ms: int, limit: int, _: str | None
) -> dict[str, str]:
    # after/before are exclusive: widen the inclusive range by a millisecond on each side.
    return {
        "instId": symbol,
        "after": str(end_ms + 1),
        "before": str(start_ms - 1),
        "limit": str(limit),
    }


def _funding_unpack(body: Any) -> PageContent:
    rows = _data(body)
    return PageContent(rows, [as_int(field_of(row, "fundingTime"), "fundingTime") for row in rows])


def _rate(row: Any) -> float:
    realized = row.get("realizedRate") if isinstance(row, dict) else None
    if realized not in (None, ""):
        return as_float(realized, "realizedRate")
    return as_float(field_of(row, "fundingRate"), "fundingRate")


_funding_table = functools.partial(settlements_table, instant_field="fundingTime", rate_of=_rate)


def _oi_query(symbol: str, start_ms: int, end_ms: int, limit: int, _: str | None) -> dict[str, str]:
    return {
        "instId": symbol,
        "period": "5m",
        "begin": str(start_ms),
        "end": str(end_ms),
        "limit": str(limit),
    }


def _oi_row(row: Any) -> list[Any]:
    if not isinstance(row, list) or len(row) < 4:
        raise PageShapeError(f"row {str(row)[:80]} is not [ts, oi, oiCcy, oiUsd]")
    return row


def _oi_unpack(body: Any) -> PageContent:
    rows = [_oi_row(row) for row in _data(body)]
    return PageContent(rows, [as_int(row[0], "ts") for row in rows])


def _oi_table(records: Sequence[Any], exchange: str, symbol: str, source_file: str) -> pa.Table:
    rows = sorted(records, key=lambda row: int(row[0]))
    return open_interest_table(
        exchange,
        symbol,
        source_file,
        [int(row[0]) for row in rows],
        [as_float(row[2], "oiCcy") for row in rows],
        [as_float(row[3], "oiUsd") for row in rows],
    )


FUNDING = Endpoint(
    VENUE,
    "funding",
    "api/v5/public/funding-rate-history",
    page_limit=100,
    paging=Paging.BACKWARD_TIME,
    query=_funding_query,
    unpack=_funding_unpack,
    to_table=_funding_table,
    step_ms=8 * MS_PER_HOUR,
)

OPEN_INTEREST = Endpoint(
    VENUE,
    "open_interest",
    "api/v5/rubik/stat/contracts/open-interest-history",
    page_limit=100,
    paging=Paging.BACKWARD_TIME,
    query=_oi_query,
    unpack=_oi_unpack,
    to_table=_oi_table,
    step_ms=5 * 60_000,
)

OKX_DATASETS: tuple[Dataset, ...] = (
    rest_dataset(
        "okx",
        "funding_rate",
        Kind.FUNDING_RATE,
        Cadence.MONTHLY,
        SWAP_LAUNCH,
        FUNDING,
        description=descriptions.FUNDING_RATE,
    ),
    rest_dataset(
        "okx",
        "open_interest",
        Kind.METRICS,
        Cadence.DAILY,
        SWAP_LAUNCH,
        OPEN_INTEREST,
        description=descriptions.OPEN_INTEREST,
    ),
)

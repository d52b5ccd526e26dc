"""Binance USDⓈ-M funding from ``GET /fapi/v1/fundingRate``, for months not yet archived.

The archive publishes funding only as monthly files, some days into the next month, so the
current month's settlements exist only on the REST API. This dataset (``funding_rate_rest``)
stands in for ``binance_um`` ``funding_rate`` on the days whose monthly file is not published;
once it is, the archive is the source of record and the REST rows are not used
(``fct_funding`` prefers archive rows, and coverage says which source served each day).

- Rows come oldest first, at most 1000 a page, paged forward by ``startTime``.
- ``fundingTime`` is epoch ms with a few ms of jitter past the settlement (floored to the
  second, as the archive's ``calc_time`` is); ``fundingRate`` is a decimal string.
- The history does not carry the interval: it is the gap between settlements.
- 500 requests per 5 minutes per IP, shared with ``/fapi/v1/fundingInfo``.
"""

import functools
from typing import Any

from transforms.dataset import Cadence, Dataset
from transforms.endpoints import Endpoint, PageContent, PageShapeError, Paging, RateLimit, Venue
from transforms.schemas import Kind
from transforms.sources.binance import UM_LAUNCH
from transforms.sources.rest import (
    MS_PER_HOUR,
    as_int,
    field_of,
    field_rate,
    rest_dataset,
    settlements_table,
)

VENUE = Venue("binance_api", "https://fapi.binance.com/", RateLimit(500, 300))


def _query(symbol: str, start_ms: int, end_ms: int, limit: int, _: str | None) -> dict[str, str]:
    return {
        "symbol": symbol,
        "startTime": str(start_ms),
        "endTime": str(end_ms),
        "limit": str(limit),
    }


def _unpack(body: Any) -> PageContent:
    if not isinstance(body, list):
        raise PageShapeError(f"expected a JSON array of funding rows, got {type(body).__name__}")
    return PageContent(body, [as_int(field_of(row, "fundingTime"), "fundingTime") for row in body])


_to_table = functools.partial(
    settlements_table, instant_field="fundingTime", rate_of=field_rate("fundingRate")
)


FUNDING = Endpoint(
    VENUE,
    "fapi_funding",
    "fapi/v1/fundingRate",
    page_limit=1000,
    paging=Paging.FORWARD_TIME,
    query=_query,
    unpack=_unpack,
    to_table=_to_table,
    step_ms=8 * MS_PER_HOUR,
)

BINANCE_API_DATASETS: tuple[Dataset, ...] = (
    rest_dataset(
        "binance_um",
        "funding_rate_rest",
        Kind.FUNDING_RATE,
        Cadence.MONTHLY,
        UM_LAUNCH,
        FUNDING,
        description=(
            "Funding settlements from the REST history for days whose monthly archive file is "
            "not published yet (the current month): fetched only for those days; the archive "
            "is the source of record once it exists."
        ),
        fallback_for="funding_rate",
    ),
)

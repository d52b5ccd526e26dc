"""Paged REST history: the helpers the venue plug-ins share to declare and read endpoints.

Each REST venue's plug-in declares its :class:`~transforms.endpoints.Endpoint` (where, how it
pages, how fast, how to read a page) and turns a range's records into the canonical table with
the helpers here: reading numbers and instants the way venues send them, the staged funding and
open-interest tables, and the settlement interval of venues whose history does not carry it.

A dataset backed by an endpoint fetches one **chunk** per symbol and period (a month for funding,
a day for 5-minute open interest): every page covering ``[period start, period end)``, landed
verbatim under ``raw/<exchange>/<endpoint>/<symbol>/<period>/`` (:func:`rest_dataset`).
"""

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any, Final

import pyarrow as pa

from transforms.dataset import Cadence, Dataset, Source
from transforms.endpoints import Endpoint, PageShapeError
from transforms.schemas import FUNDING_RATE, METRICS, Kind

MS_PER_HOUR = 3_600_000


def ms(moment: datetime) -> int:
    """Epoch milliseconds of a timezone-aware instant."""
    return int(moment.timestamp() * 1000)


def iso_ms(instant_ms: int) -> str:
    """``2024-02-01T04:00:00.000Z``: how BitMEX writes (and reads) instants."""
    moment = datetime.fromtimestamp(instant_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant_ms % 1000:03d}Z"


def parse_iso_ms(text: str) -> int:
    """Epoch ms of an ISO-8601 UTC instant such as ``2024-02-01T04:00:00.000Z``."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise PageShapeError(f"instant {text!r} has no time zone")
    return ms(moment)


def as_int(value: Any, field: str) -> int:
    """An integer that a venue may send as a number or as a string of digits."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PageShapeError(f"{field} is {value!r}, not an integer")
    try:
        return int(value)
    except ValueError as exc:
        raise PageShapeError(f"{field} is {value!r}, not an integer") from exc


def as_float(value: Any, field: str) -> float:
    """A number that a venue may send as a JSON number or as a decimal string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PageShapeError(f"{field} is {value!r}, not a number")
    try:
        return float(value)
    except ValueError as exc:
        raise PageShapeError(f"{field} is {value!r}, not a number") from exc


def field_of(record: Any, name: str) -> Any:
    """``record[name]`` of a JSON object, or a shape error naming the field."""
    if not isinstance(record, dict) or name not in record:
        raise PageShapeError(f"record {str(record)[:80]} has no {name!r}")
    return record[name]


def settlement_intervals(instants_ms: Sequence[int], allowed: Sequence[int]) -> list[int]:
    """Each settlement's interval in hours, for venues whose history does not carry it.

    A settlement's interval is the gap to the settlement before it; the first of a range, or a
    gap that is not a settlement interval (a missing settlement doubles it), takes the gap to
    the next one; when neither is one, the interval of the settlement before (8 hours for the
    first). ``instants_ms`` must be ascending.
    """
    # Venues stamp settlements a few ms late (or early): the nearest whole hour is the gap.
    gaps = [round((later - earlier) / MS_PER_HOUR) for earlier, later in pairwise(instants_ms)]
    intervals: list[int] = []
    for index in range(len(instants_ms)):
        before = gaps[index - 1] if index > 0 else None
        after = gaps[index] if index < len(gaps) else None
        fallback = intervals[-1] if intervals else 8
        chosen = next((gap for gap in (before, after) if gap is not None and gap in allowed), None)
        intervals.append(int(chosen) if chosen is not None else fallback)
    return intervals


def funding_table(
    exchange: str,
    symbol: str,
    source_file: str,
    instants_ms: Sequence[int],
    rates: Sequence[float],
    intervals: Sequence[int],
) -> pa.Table:
    """The staged funding table of a range: ``funding_time`` is the settlement floored to the
    second (venues stamp a few ms late), ``calc_time`` the instant as published."""
    published = pa.array(instants_ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
    settled = pa.array([t - t % 1000 for t in instants_ms], pa.int64())
    return pa.table(
        {
            "exchange": pa.array([exchange] * len(rates), pa.string()),
            "symbol": pa.array([symbol] * len(rates), pa.string()),
            "funding_time": settled.cast(pa.timestamp("ms", tz="UTC")),
            "calc_time": published,
            "funding_interval_hours": pa.array(intervals, pa.int32()),
            "funding_rate": pa.array(rates, pa.float64()),
            "source_file": pa.array([source_file] * len(rates), pa.string()),
        }
    ).cast(FUNDING_RATE)


def open_interest_table(
    exchange: str,
    symbol: str,
    source_file: str,
    instants_ms: Sequence[int],
    oi_base: Sequence[float],
    oi_usd: Sequence[float | None],
) -> pa.Table:
    """The staged open-interest table of a range (the metrics schema; venues without Binance's
    long/short and taker ratios leave them null)."""
    rows = len(instants_ms)
    nulls = pa.nulls(rows, pa.float64())
    return pa.table(
        {
            "exchange": pa.array([exchange] * rows, pa.string()),
            "symbol": pa.array([symbol] * rows, pa.string()),
            "ts": pa.array(instants_ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "oi_base": pa.array(oi_base, pa.float64()),
            "oi_usd": pa.array(oi_usd, pa.float64()),
            "top_account_ls_ratio": nulls,
            "top_position_ls_ratio": nulls,
            "account_ls_ratio": nulls,
            "taker_buy_sell_ratio": nulls,
            "source_file": pa.array([source_file] * rows, pa.string()),
        }
    ).cast(METRICS)


def rest_dataset(
    exchange: str,
    name: str,
    kind: Kind,
    cadence: Cadence,
    available_from: date,
    endpoint: Endpoint,
    description: str,
    fallback_for: str | None = None,
) -> Dataset:
    """A dataset fetched from ``endpoint``: one chunk of pages per symbol and period.

    Its "archive path" is the chunk's folder under ``raw/<exchange>/``:
    ``<endpoint>/<symbol>/<YYYY-MM or YYYY-MM-DD>``; its origin names the endpoint's path and
    the chunk's period.
    """
    chunk_span = "month" if cadence is Cadence.MONTHLY else "day"

    def chunk_path(symbol: str, day: date) -> str:
        period = f"{day:%Y-%m}" if cadence is Cadence.MONTHLY else day.isoformat()
        return f"{endpoint.name}/{symbol}/{period}"

    return Dataset(
        exchange,
        name,
        kind,
        cadence,
        available_from,
        None,
        chunk_path,
        description=description,
        origin=(
            f"paged REST history (`{endpoint.path}`, one chunk of pages per symbol and "
            f"{chunk_span})"
        ),
        endpoint=endpoint,
        fallback_for=fallback_for,
        source=Source.REST,
    )


SETTLEMENT_INTERVALS: Final = (1, 2, 4, 8)
"""The funding intervals venues use, in hours."""


def settlements_table(
    records: Sequence[Any],
    exchange: str,
    symbol: str,
    source_file: str,
    *,
    instant_field: str,
    rate_of: Callable[[Any], float],
) -> pa.Table:
    """The staged funding of a venue whose history carries no interval (Bybit, OKX, Binance's
    REST): records sorted by ``instant_field`` (epoch ms), each rate from ``rate_of``, each
    interval from the gaps between settlements (:func:`settlement_intervals`)."""
    rows = sorted(records, key=lambda row: int(row[instant_field]))
    instants = [int(row[instant_field]) for row in rows]
    rates = [rate_of(row) for row in rows]
    intervals = settlement_intervals(instants, SETTLEMENT_INTERVALS)
    return funding_table(exchange, symbol, source_file, instants, rates, intervals)


def field_rate(name: str) -> Callable[[Any], float]:
    """The rate in a record's field ``name``, a number or a decimal string."""
    return lambda row: as_float(field_of(row, name), name)

"""Hyperliquid's archive: per-minute asset contexts and hourly fills, in requester-pays S3.

Paths (FORMATS.md §5), ``<bucket>/<key>`` under the base URL (``s3://`` or a mirror):

- ``hyperliquid-archive/asset_ctxs/YYYYMMDD.csv.lz4``: every perp's context each minute, one LZ4
  frame of CSV per day (header ``time,coin,funding,open_interest,prev_day_px,day_ntl_vlm,premium,
  oracle_px,mark_px,mid_px,impact_bid_px,impact_ask_px``). One file feeds five staged tables:
  funding (hourly settlements), open interest (5-minute grid), mark, oracle (the index) and
  premium, and a trade-price proxy (the mid, else the mark) as 1-minute bars.
- ``hl-mainnet-node-data/node_fills/hourly/YYYYMMDD/H.lz4`` (``[user, fill]`` lines) until
  2025-07-27 07:00, then ``node_fills_by_block/hourly/YYYYMMDD/H.lz4`` (``{"block_time", …,
  "events": [[user, fill], …]}`` lines): every fill, a liquidation fill with its
  ``liquidation`` object. Staged as forced orders with coverage ``complete``.

Symbols are Hyperliquid's coins (``BTC``); one file holds every coin, so a file is fetched and
parsed once for the universe. The archive's traps, each handled and counted in the file's
``values_repaired`` warning (FORMATS.md §5):

- the archive never writes NULL: an absent price is ``0.0``, read as null; a negative open
  interest is impossible: that reading is left out;
- off-grid rows (extra rows inside a minute, ``00:07:31``) are dropped: the minute's on-grid row
  stands;
- ``open_interest`` is two-sided (longs plus shorts, DOMAIN.md §1.2): staged ``oi_base`` is half
  of it, the one-sided book every other venue reports;
- ``funding`` is an 8-hour-scale rate until 2023-06-08T00:05Z, hourly after: earlier values are
  divided by 8. A settlement at H is the row at H:00 (it covers the hour ending at H);
- late or missing days and hours: a day not uploaded is not published (coverage pending, then
  missing); a missing or corrupt hourly fills file is counted and the day is ``partial``.

**Liquidations.** Every trade appears once per side's user, with the same ``tid``; a
liquidation fill carries ``liquidation.liquidatedUser`` on both lines. One forced order is kept
per (``tid``, liquidated user); its side is the liquidated user's own fill side (``A``, a forced
sell, liquidated a long; ``B`` a short), and when only the counterparty's line is present, the
opposite of the counterparty's side. Staged ``side`` follows Binance's convention (``SELL``
closes a long). ``sz`` is in coins and ``px`` in USD.
"""

import functools
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import lz4.frame
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from transforms.dataset import Cadence, Dataset, ParsedFile, Source
from transforms.errors import ParseError
from transforms.formats import (
    HYPERLIQUID_ASSET_CTXS_COLUMNS,
    HYPERLIQUID_HOURLY_FUNDING_FROM,
    HYPERLIQUID_NODE_BUCKET,
    hyperliquid_asset_ctxs_key,
    hyperliquid_fills_key,
)
from transforms.landed import landed_hours, missing_hours
from transforms.schemas import FUNDING_RATE, KLINE, LIQUIDATION, METRICS, Kind
from transforms.sources import descriptions

EXCHANGE: Final = "hyperliquid"
ASSET_CTXS_FIRST_DAY: Final = date(2023, 5, 20)
FILLS_FIRST_DAY: Final = date(2025, 5, 25)
MAX_INFLATED_BYTES: Final = 4 * 1024**3
_NUMERIC: Final = HYPERLIQUID_ASSET_CTXS_COLUMNS[2:]
_PRICES: Final = ("oracle_px", "mark_px", "mid_px")
_MS = pa.timestamp("ms", tz="UTC")
ORIGIN: Final = "Hyperliquid's archive (one file a day, or its hourly files, for every coin)"
LIQUIDATIONS: Final = (
    "Every liquidation fill of Hyperliquid's archive, once per forced order (each appears "
    "from both sides of the trade): complete coverage, not a sample."
)


def _asset_ctxs_path(_: str, day: date) -> str:
    return hyperliquid_asset_ctxs_key(day)


FILLS_DAYS: Final = f"{HYPERLIQUID_NODE_BUCKET}/fills_days"
"""Where a day's fills are tracked under ``raw/hyperliquid/``: ``hours.json`` lists the hourly
objects of the day (each landed at its own key) and the hours the archive did not have."""


def fills_path(_: str, day: date) -> str:
    """The day's unit of hourly fills: ``hl-mainnet-node-data/fills_days/YYYYMMDD``."""
    return f"{FILLS_DAYS}/{day:%Y%m%d}"


def fills_hour_key(day: date, hour: int) -> str:
    """The object holding an hour's fills, in the layout of that hour: the cutover day
    (2025-07-27) has hours 0–7 in ``node_fills`` and 8–23 in ``node_fills_by_block``."""
    return hyperliquid_fills_key(datetime(day.year, day.month, day.day, hour, tzinfo=UTC))


def inflate(path: Path, source_file: str, cap: int = MAX_INFLATED_BYTES) -> bytes:
    """The bytes of one LZ4 frame, refusing a corrupt frame or one that inflates past ``cap``."""
    decompressor = lz4.frame.LZ4FrameDecompressor()
    try:
        data: bytes = decompressor.decompress(path.read_bytes(), max_length=cap + 1)
    except RuntimeError as exc:
        raise ParseError(source_file, f"corrupt LZ4 frame: {exc}", "zip_member") from exc
    if len(data) > cap:
        raise ParseError(source_file, f"inflates past the cap of {cap} bytes", "zip_member")
    if not decompressor.eof:
        raise ParseError(source_file, "truncated LZ4 frame", "zip_member")
    return data


@functools.lru_cache(maxsize=2)
def _asset_ctxs(path: Path, size: int, mtime_ns: int, source_file: str) -> pa.Table:
    """The day's contexts, read once for the five tables that take from them."""
    data = inflate(path, source_file)
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            convert_options=pacsv.ConvertOptions(
                column_types={"time": pa.string(), "coin": pa.string()}
                | dict.fromkeys(_NUMERIC, pa.float64()),
                include_columns=["time", "coin", *_NUMERIC],
            ),
        )
    except (pa.ArrowInvalid, KeyError) as exc:
        raise ParseError(
            source_file, f"asset_ctxs CSV does not parse: {exc}", "csv_columns"
        ) from exc
    # '2025-01-01T00:00:00Z' and '2025-10-24 20:00:00.000' both appear: the first 19 characters
    # with the T made a space are the same instant to the second.
    text = pc.replace_substring(pc.utf8_slice_codeunits(table["time"], 0, 19), "T", " ")
    try:
        ts = pc.strptime(text, format="%Y-%m-%d %H:%M:%S", unit="ms").cast(_MS)
    except pa.ArrowInvalid as exc:
        raise ParseError(source_file, f"time is not ISO-8601: {exc}", "timestamp_unit") from exc
    return table.drop_columns(["time"]).append_column("ts", ts)


def parse_asset_ctxs(
    dataset: Dataset, symbols: tuple[str, ...], path: Path, source_file: str, _: date
) -> ParsedFile:
    """One staged table of the day's asset contexts, for ``symbols`` (see the module)."""

    stat = path.stat()
    every = _asset_ctxs(path, stat.st_size, stat.st_mtime_ns, source_file)
    rows = every.filter(pc.is_in(every["coin"], value_set=pa.array(symbols)))
    read = rows.num_rows
    on_grid = pc.equal(pc.second(rows["ts"]), 0)
    off_grid = read - int(pc.sum(on_grid.cast(pa.int64())).as_py() or 0)
    rows = rows.filter(on_grid)
    # The minute's first on-grid row stands; any repeat of it is an exact-instant duplicate.
    rows = _first_per_coin_minute(rows)
    repairs: list[tuple[str, int, str]] = []
    if off_grid:
        repairs.append(("off_grid_rows_dropped", off_grid, "rows between minutes"))
    for column in _PRICES:
        zero = pc.equal(rows[column], 0.0)
        count = int(pc.sum(zero.cast(pa.int64())).as_py() or 0)
        if count:
            repairs.append((f"{column}_0.0_read_as_null", count, "the archive writes 0.0"))
            rows = rows.set_column(
                rows.schema.get_field_index(column),
                column,
                pc.if_else(zero, pa.scalar(None, pa.float64()), rows[column]),
            )
    negative = pc.less(rows["open_interest"], 0.0)
    negatives = int(pc.sum(negative.cast(pa.int64())).as_py() or 0)
    if negatives:
        repairs.append(("negative_open_interest_left_out", negatives, "coins < 0"))
        rows = rows.set_column(
            rows.schema.get_field_index("open_interest"),
            "open_interest",
            pc.if_else(negative, pa.scalar(None, pa.float64()), rows["open_interest"]),
        )
    count = rows.num_rows
    strings = {
        "exchange": pa.array([EXCHANGE] * count, pa.string()),
        "symbol": rows["coin"],
        "source_file": pa.array([source_file] * count, pa.string()),
    }
    if dataset.kind is Kind.FUNDING_RATE:
        settles = pc.and_(pc.equal(pc.minute(rows["ts"]), 0), pc.is_valid(rows["funding"]))
        rows, strings = _take(rows, strings, settles)
        eight_hour = pc.less(rows["ts"], pa.scalar(HYPERLIQUID_HOURLY_FUNDING_FROM, _MS))
        rate = pc.if_else(eight_hour, pc.divide(rows["funding"], 8.0), rows["funding"])
        table = pa.table(
            {
                "exchange": strings["exchange"],
                "symbol": strings["symbol"],
                "funding_time": rows["ts"],
                "calc_time": rows["ts"],
                "funding_interval_hours": pa.array([1] * rows.num_rows, pa.int32()),
                "funding_rate": rate,
                "source_file": strings["source_file"],
            }
        ).cast(FUNDING_RATE)
    elif dataset.kind is Kind.METRICS:
        five = pc.equal(pc.floor_temporal(rows["ts"], 5, "minute"), rows["ts"])
        rows, strings = _take(rows, strings, pc.and_(five, pc.is_valid(rows["open_interest"])))
        nulls = pa.nulls(rows.num_rows, pa.float64())
        table = pa.table(
            {
                "exchange": strings["exchange"],
                "symbol": strings["symbol"],
                "ts": rows["ts"],
                # Hyperliquid's open interest is two-sided (longs plus shorts, DOMAIN.md §1.2):
                # halved to the one-sided book every other venue reports.
                "oi_base": pc.divide(rows["open_interest"], 2.0),
                "oi_usd": pc.multiply(pc.divide(rows["open_interest"], 2.0), rows["mark_px"]),
                "top_account_ls_ratio": nulls,
                "top_position_ls_ratio": nulls,
                "account_ls_ratio": nulls,
                "taker_buy_sell_ratio": nulls,
                "source_file": strings["source_file"],
            }
        ).cast(METRICS)
    else:
        value = KLINE_VALUE[dataset.name](rows)
        present = pc.is_valid(value)
        dropped = rows.num_rows - int(pc.sum(present.cast(pa.int64())).as_py() or 0)
        if dropped:
            repairs.append((f"minutes_without_{dataset.name}", dropped, "no value that minute"))
        rows, strings = _take(rows, strings, present)
        value = value.filter(present)
        nulls = pa.nulls(rows.num_rows, pa.float64())
        table = pa.table(
            {
                "exchange": strings["exchange"],
                "symbol": strings["symbol"],
                "ts": rows["ts"],
                "open": value,
                "high": value,
                "low": value,
                "close": value,
                "volume_base": nulls,
                "volume_quote": nulls,
                "trade_count": pa.nulls(rows.num_rows, pa.int64()),
                "taker_buy_base": nulls,
                "taker_buy_quote": nulls,
                "source_file": strings["source_file"],
            }
        ).cast(KLINE)
    table = table.sort_by([("symbol", "ascending"), (table.schema.names[2], "ascending")])
    return ParsedFile(
        table=table,
        rows_read=read,
        duplicates_dropped=0,
        had_header=True,
        timestamp_unit="text",
        repairs=tuple(repairs),
    )


KLINE_VALUE: Final = {
    # The archive has no trade bars: the mid (else the mark) stands for the minute's price.
    "klines": lambda rows: pc.coalesce(rows["mid_px"], rows["mark_px"]),
    "mark_price_klines": lambda rows: rows["mark_px"],
    "index_price_klines": lambda rows: rows["oracle_px"],
    "premium_index_klines": lambda rows: rows["premium"],
}


def _take(
    rows: pa.Table, strings: dict[str, pa.Array], mask: pa.ChunkedArray | pa.Array
) -> tuple[pa.Table, dict[str, pa.Array]]:
    return rows.filter(mask), {name: values.filter(mask) for name, values in strings.items()}


def _first_per_coin_minute(rows: pa.Table) -> pa.Table:
    index = pa.array(range(rows.num_rows), pa.int64())
    keyed = rows.append_column("_row", index)
    first = keyed.group_by(["coin", "ts"]).aggregate([("_row", "min")])["_row_min"]
    # The first row number of each (coin, minute), in row order: the rows to keep.
    return keyed.take(pc.take(first, pc.sort_indices(first))).drop_columns(["_row"])


def parse_fills(
    dataset: Dataset, symbols: tuple[str, ...], folder: Path, source_file: str, day: date
) -> ParsedFile:
    """The day's forced orders of ``symbols`` from its hourly fills (see the module)."""

    # <raw>/hyperliquid/hl-mainnet-node-data/fills_days/YYYYMMDD: hours land at their own keys.
    raw_root = folder.parents[2]
    wanted = set(symbols)
    orders: dict[tuple[int, str], dict[str, Any]] = {}
    repairs: dict[str, tuple[int, str]] = {}

    def count(what: str, example: str) -> None:
        seen, first = repairs.get(what, (0, example))
        repairs[what] = (seen + 1, first)

    corrupt = 0
    lines_read = 0
    for hour_file in landed_hours(folder, raw_root):
        where = f"{source_file}/{hour_file.name}"
        try:
            data = inflate(hour_file, where)
        except ParseError as exc:
            corrupt += 1
            count("corrupt_hour_files_skipped", str(exc))
            continue
        for number, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            lines_read += 1
            try:
                record = json.loads(line)
            except ValueError:
                count("lines_not_json", f"{where} line {number}")
                continue
            events = _events(record)
            if events is None:
                count("lines_of_unknown_shape", f"{where} line {number}")
                continue
            for user, fill in events:
                if not isinstance(fill, dict) or not fill.get("liquidation"):
                    continue
                order = _liquidation(user, fill)
                if order is None:
                    count("liquidation_fills_incomplete", f"{where} line {number}")
                    continue
                if order["coin"] not in wanted:
                    continue
                key = (order["tid"], order["liquidated_user"])
                # The liquidated user's own line is authoritative; the counterparty's is the
                # same forced order seen from the other side.
                if key not in orders or order["own_line"]:
                    orders[key] = order
    hours = 24 - len(missing_hours(folder)) - corrupt
    rows = sorted(orders.values(), key=lambda o: (o["coin"], o["ts"], o["tid"]))
    sizes = [o["size"] for o in rows]
    prices = [o["price"] for o in rows]
    table = pa.table(
        {
            "exchange": pa.array([EXCHANGE] * len(rows), pa.string()),
            "symbol": pa.array([o["coin"] for o in rows], pa.string()),
            "ts": pa.array([o["ts"] for o in rows], pa.int64()).cast(_MS),
            "side": pa.array([o["side"] for o in rows], pa.string()),
            "order_type": pa.array([o["method"] for o in rows], pa.string()),
            "time_in_force": pa.nulls(len(rows), pa.string()),
            "order_status": pa.array(["FILLED"] * len(rows), pa.string()),
            "price": pa.array(prices, pa.float64()),
            "avg_price": pa.array(prices, pa.float64()),
            "original_qty_base": pa.array(sizes, pa.float64()),
            "last_fill_qty_base": pa.array(sizes, pa.float64()),
            "filled_qty_base": pa.array(sizes, pa.float64()),
            "source_file": pa.array([source_file] * len(rows), pa.string()),
        }
    ).cast(LIQUIDATION)
    return ParsedFile(
        table=table,
        rows_read=lines_read,
        duplicates_dropped=0,
        had_header=False,
        timestamp_unit="ms",
        repairs=tuple((what, seen, example) for what, (seen, example) in repairs.items()),
        hours_covered=hours,
    )


def _events(record: Any) -> list[Any] | None:
    """The ``[user, fill]`` pairs of a line in either layout; None for an unknown shape."""
    if isinstance(record, list) and len(record) == 2:
        return [record]
    if isinstance(record, dict) and isinstance(record.get("events"), list):
        return [e for e in record["events"] if isinstance(e, list) and len(e) == 2]
    return None


def _liquidation(user: Any, fill: dict[str, Any]) -> dict[str, Any] | None:
    """A liquidation fill as a forced order; None when a field it needs is missing or bad."""
    liquidation = fill["liquidation"]
    try:
        liquidated = str(liquidation["liquidatedUser"])
        own_line = str(user) == liquidated
        side = fill["side"]
        if side not in ("A", "B"):
            return None
        # The liquidated user sold (A) to close a long, bought (B) to close a short; the
        # counterparty's side is the opposite of the liquidated user's.
        closed_long = (side == "A") == own_line
        return {
            "coin": str(fill["coin"]),
            "tid": int(fill["tid"]),
            "ts": int(fill["time"]),
            "price": float(fill["px"]),
            "size": float(fill["sz"]),
            "liquidated_user": liquidated,
            "own_line": own_line,
            "side": "SELL" if closed_long else "BUY",
            "method": str(liquidation.get("method") or "market").upper(),
        }
    except (KeyError, TypeError, ValueError):
        return None


def _objects_dataset(
    name: str,
    kind: Kind,
    first_day: date,
    path: Any,
    parse: Any,
    description: str,
    coverage: str = "sampled",
) -> Dataset:
    return Dataset(
        EXCHANGE,
        name,
        kind,
        Cadence.DAILY,
        first_day,
        None,
        path,
        description=description,
        origin=ORIGIN,
        source=Source.OBJECTS,
        parse=parse,
        coverage=coverage,
    )


HYPERLIQUID_DATASETS: tuple[Dataset, ...] = (
    *(
        _objects_dataset(
            name, kind, ASSET_CTXS_FIRST_DAY, _asset_ctxs_path, parse_asset_ctxs, description
        )
        for name, kind, description in (
            ("klines", Kind.KLINE, descriptions.KLINES),
            ("mark_price_klines", Kind.KLINE, descriptions.MARK_PRICE_KLINES),
            ("index_price_klines", Kind.KLINE, descriptions.INDEX_PRICE_KLINES),
            ("premium_index_klines", Kind.KLINE, descriptions.PREMIUM_INDEX_KLINES),
            ("open_interest", Kind.METRICS, descriptions.OPEN_INTEREST),
            ("funding_rate", Kind.FUNDING_RATE, descriptions.FUNDING_RATE),
        )
    ),
    _objects_dataset(
        "liquidations",
        Kind.LIQUIDATION,
        FILLS_FIRST_DAY,
        fills_path,
        parse_fills,
        LIQUIDATIONS,
        "complete",
    ),
)

"""Parse Binance archive CSVs into the canonical staged schemas.

Rules, each from a quirk documented in FORMATS.md:

- The header row is detected, never assumed: a first field that looks like an identifier is a
  header (futures klines gained headers in 2022, spot klines never have one). With a header,
  columns are matched by name; without one, the column count must match the layout.
- Epoch timestamps are ms (13 digits) or µs (16 digits, spot from 2025-01-01); the unit is taken
  from the digit count of each file, not from its date. ``metrics`` uses text datetimes (UTC).
- Decimal strings such as ``0E-8`` parse as numbers; empty fields become null.
- Exact duplicate rows are dropped and counted; rows are sorted by their instant.
- The ``metrics`` row-label convention is detected per file and reported.
- COIN-M (inverse) contracts are converted to base units with the contract size
  (:func:`transforms.sources.binance.contract_size_usd`, 100 USD for BTC, 10 USD otherwise):
  klines — the archive's ``quote_volume`` and ``taker_buy_quote_volume`` columns already hold
  base-asset volume, and the USD volumes are contracts × size; metrics — ``oi_base`` is
  ``sum_open_interest_value`` (Binance reports it in the base asset) and ``oi_usd`` is
  contracts × size; liquidations — base quantity is contracts × size ÷ average fill price
  (the order price when no fill price is given), so that qty × price is the USD face value.
"""

import io
import re
import zipfile
import zlib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from transforms import formats
from transforms.dataset import Dataset, ParsedFile
from transforms.errors import ParseError
from transforms.schemas import STAGED_SCHEMAS, TIME_COLUMN, TIMESTAMP, Kind
from transforms.sources.binance import COIN_MARGINED_EXCHANGES, contract_size_usd

_HEADER_FIELD = re.compile(rb"\s*\"?[A-Za-z_][A-Za-z0-9_ ]*\"?\s*")

_RAW_COLUMNS: Final[dict[Kind, tuple[str, ...]]] = {
    Kind.KLINE: formats.KLINE_COLUMNS,
    Kind.METRICS: formats.METRICS_COLUMNS,
    Kind.FUNDING_RATE: formats.FUNDING_RATE_COLUMNS,
    Kind.LIQUIDATION: formats.LIQUIDATION_SNAPSHOT_COLUMNS,
}

_F64, _I64, _STR = pa.float64(), pa.int64(), pa.string()
_RAW_TYPES: Final[dict[Kind, dict[str, pa.DataType]]] = {
    Kind.KLINE: {
        "open_time": _I64,
        "open": _F64,
        "high": _F64,
        "low": _F64,
        "close": _F64,
        "volume": _F64,
        "quote_volume": _F64,
        "count": _I64,
        "taker_buy_volume": _F64,
        "taker_buy_quote_volume": _F64,
    },
    Kind.METRICS: {
        "create_time": _STR,
        "sum_open_interest": _F64,
        "sum_open_interest_value": _F64,
        "count_toptrader_long_short_ratio": _F64,
        "sum_toptrader_long_short_ratio": _F64,
        "count_long_short_ratio": _F64,
        "sum_taker_long_short_vol_ratio": _F64,
    },
    Kind.FUNDING_RATE: {
        "calc_time": _I64,
        "funding_interval_hours": _I64,
        "last_funding_rate": _F64,
    },
    Kind.LIQUIDATION: {
        "time": _I64,
        "side": _STR,
        "order_type": _STR,
        "time_in_force": _STR,
        "original_quantity": _F64,
        "price": _F64,
        "average_price": _F64,
        "order_status": _STR,
        "last_fill_quantity": _F64,
        "accumulated_fill_quantity": _F64,
    },
}

_PER_FILE_COLUMNS: Final = frozenset({"exchange", "symbol", "source_file"})

MS_RANGE: Final = (10**12, 10**13)
US_RANGE: Final = (10**15, 10**16)


def read_zip_member(
    path: Path, source_file: str, max_uncompressed_bytes: int, body: bytes | None = None
) -> bytes:
    """The single CSV inside a landed zip, read with a hard cap on its inflated size.

    ``body`` is the zip's bytes when they are in memory already (fetched and verified): they
    are inflated straight away and ``path`` only names the member. Errors name ``source_file``
    (the archive path), not this machine's copy of it.
    """
    member = path.with_suffix(".csv").name
    try:
        with zipfile.ZipFile(path if body is None else io.BytesIO(body)) as archive:
            if archive.namelist() != [member]:
                raise ParseError(
                    source_file,
                    f"zip holds {archive.namelist()}, expected [{member!r}]",
                    "zip_member",
                )
            with archive.open(member) as fh:
                data = fh.read(max_uncompressed_bytes + 1)
    # A zip whose index is sound can still hold corrupt, encrypted or unsupported data.
    except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError) as exc:
        raise ParseError(source_file, f"corrupt zip ({exc})", "zip_member") from exc
    if len(data) > max_uncompressed_bytes:
        raise ParseError(
            source_file, f"inflates past the cap of {max_uncompressed_bytes} bytes", "zip_member"
        )
    return data


def parse_zip(
    dataset: Dataset,
    symbol: str,
    path: Path,
    source_file: str,
    period_start: date,
    max_uncompressed_bytes: int = 2 * 1024**3,
    body: bytes | None = None,
) -> ParsedFile:
    """Parse a landed archive zip (``body``: its bytes, when already read); errors name
    ``source_file``."""
    data = read_zip_member(path, source_file, max_uncompressed_bytes, body)
    return parse_csv(dataset, symbol, data, source_file, period_start)


def parse_csv(
    dataset: Dataset, symbol: str, data: bytes, source_file: str, period_start: date
) -> ParsedFile:
    """Parse the bytes of one archive CSV into ``dataset``'s canonical schema.

    ``period_start`` is the first day the file covers; it is used only to report the metrics
    label convention, never to assign rows to days.
    """
    kind = dataset.kind
    expected = _RAW_COLUMNS[kind]
    raw_types = _RAW_TYPES[kind]
    end_of_line = data.find(b"\n")
    first_line = (data if end_of_line < 0 else data[:end_of_line]).rstrip(b"\r")
    if not first_line.strip():
        if not data.strip():
            return _empty(dataset, had_header=False)
        raise ParseError(source_file, "first line is blank", "csv_columns")
    had_header = bool(_HEADER_FIELD.fullmatch(first_line.split(b",", 1)[0]))
    extra: tuple[str, ...] = ()
    if had_header:
        names = [n.strip().strip('"') for n in first_line.decode("utf-8", "replace").split(",")]
        missing = [c for c in raw_types if c not in names]
        if missing:
            raise ParseError(
                source_file, f"header lacks column(s) {missing}; header is {names}", "csv_columns"
            )
        extra = tuple(n for n in names if n not in expected)
    else:
        width = first_line.count(b",") + 1
        if width != len(expected):
            raise ParseError(
                source_file,
                f"headerless file has {width} columns, expected {len(expected)} {list(expected)}",
                "csv_columns",
            )
        names = list(expected)
    try:
        raw = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(
                column_names=names, skip_rows=1 if had_header else 0, use_threads=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=raw_types,
                include_columns=list(raw_types),
                # Only an empty field is null; "NA" or "null" in a price is an error to report.
                null_values=[""],
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ParseError(source_file, f"malformed CSV: {exc}", "csv_values") from exc
    try:
        table, unit = _canonical(dataset, symbol, raw, source_file)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ParseError(source_file, f"value out of range: {exc}", "csv_values") from exc
    rows_read = table.num_rows
    time_column = TIME_COLUMN[kind]
    # Exact duplicates share their instant, so a file with unique instants (nearly every
    # file) skips the full-row comparison.
    dropped_instants = pa.array([], TIMESTAMP)
    has_duplicates = rows_read > 0 and (pc.count_distinct(table[time_column]).as_py() != rows_read)
    if kind is Kind.LIQUIDATION or has_duplicates:
        # Ordering by every column makes identical rows neighbours, and gives distinct orders
        # of the same millisecond a stable order.
        # exchange, symbol and source_file are one value per file: nothing to order by.
        varying = [c for c in table.column_names if c not in _PER_FILE_COLUMNS]
        keys = [time_column, *(c for c in varying if c != time_column)]
        table = table.sort_by([(column, "ascending") for column in keys])
        if has_duplicates:
            repeated = _repeats_previous_row(table.select(varying))
            dropped_instants = table[time_column].filter(repeated).combine_chunks()
            table = table.filter(pc.invert(repeated))
    elif not _is_sorted(table[time_column]):
        table = table.sort_by(time_column)
    convention = _metrics_convention(table, period_start) if kind is Kind.METRICS else None
    return ParsedFile(
        table,
        rows_read,
        len(dropped_instants),
        had_header,
        unit,
        convention,
        extra,
        dropped_instants,
    )


def _repeats_previous_row(table: pa.Table) -> pa.Array:
    """True where a row equals the row before it in every column (null equal to null)."""
    if table.num_rows < 2:
        return pa.array([False] * table.num_rows, pa.bool_())
    equal: pa.ChunkedArray | None = None
    for column in table.itercolumns():
        current, previous = column[1:], column[:-1]
        both_null = pc.and_(pc.is_null(current), pc.is_null(previous))
        column_equal = pc.fill_null(pc.or_kleene(pc.equal(current, previous), both_null), False)
        equal = column_equal if equal is None else pc.and_(equal, column_equal)
    assert equal is not None
    return pa.concat_arrays([pa.array([False]), *equal.chunks])


def _is_sorted(values: pa.ChunkedArray) -> bool:
    if len(values) < 2:
        return True
    return bool(pc.all(pc.greater_equal(values[1:], values[:-1])).as_py())


def _constant(value: str, rows: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), rows)


def _empty(dataset: Dataset, had_header: bool) -> ParsedFile:
    empty = STAGED_SCHEMAS[dataset.kind].empty_table()
    convention = "empty" if dataset.kind is Kind.METRICS else None
    return ParsedFile(empty, 0, 0, had_header, "none", convention)


def epoch_to_timestamp(
    values: pa.ChunkedArray, source_file: str, column: str
) -> tuple[pa.Array, str]:
    """Epoch integers of ms or µs (told apart by digit count) as ``timestamp[us, UTC]``."""
    if values.null_count:
        raise ParseError(
            source_file, f"{values.null_count} empty value(s) in {column}", "timestamp_unit"
        )
    if len(values) == 0:
        return pa.array([], pa.timestamp("us", tz="UTC")), "none"
    bounds = pc.min_max(values)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if MS_RANGE[0] <= low and high < MS_RANGE[1]:
        micros, unit = pc.multiply(values, 1000), "ms"
    elif US_RANGE[0] <= low and high < US_RANGE[1]:
        micros, unit = values, "us"
    else:
        raise ParseError(
            source_file,
            f"{column} is neither all 13-digit ms nor all 16-digit µs epochs (range {low}..{high})",
            "timestamp_unit",
        )
    return micros.cast(pa.int64()).cast(pa.timestamp("us", tz="UTC")), unit


def _text_to_timestamp(
    values: pa.ChunkedArray, source_file: str, column: str
) -> tuple[pa.Array, str]:
    if values.null_count:
        raise ParseError(
            source_file, f"{values.null_count} empty value(s) in {column}", "timestamp_unit"
        )
    if len(values) and pc.all(pc.match_substring_regex(values, r"^\d+$")).as_py():
        return epoch_to_timestamp(values.cast(pa.int64()), source_file, column)
    try:
        parsed = pc.strptime(values, format=formats.METRICS_TIME_FORMAT, unit="us")
    except pa.ArrowInvalid as exc:
        raise ParseError(
            source_file, f"{column} is not 'YYYY-MM-DD HH:MM:SS': {exc}", "timestamp_unit"
        ) from exc
    return parsed.cast(pa.timestamp("us", tz="UTC")), "text"


def _canonical(
    dataset: Dataset, symbol: str, raw: pa.Table, source_file: str
) -> tuple[pa.Table, str]:
    """The raw columns renamed, converted to base units and typed as the staged schema."""
    kind = dataset.kind
    inverse = dataset.exchange in COIN_MARGINED_EXCHANGES
    size = contract_size_usd(symbol) if inverse else 1.0
    rows = raw.num_rows
    if kind is Kind.METRICS:
        ts, unit = _text_to_timestamp(raw["create_time"], source_file, "create_time")
    elif kind is Kind.FUNDING_RATE:
        ts, unit = epoch_to_timestamp(raw["calc_time"], source_file, "calc_time")
    else:
        time_column = "open_time" if kind is Kind.KLINE else "time"
        ts, unit = epoch_to_timestamp(raw[time_column], source_file, time_column)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "exchange": _constant(dataset.exchange, rows),
        "symbol": _constant(symbol, rows),
    }
    if kind is Kind.KLINE:
        columns |= {
            "ts": ts,
            "open": raw["open"],
            "high": raw["high"],
            "low": raw["low"],
            "close": raw["close"],
        }
        if inverse:
            columns |= {
                "volume_base": raw["quote_volume"],
                "volume_quote": pc.multiply(raw["volume"], size),
                "trade_count": raw["count"],
                "taker_buy_base": raw["taker_buy_quote_volume"],
                "taker_buy_quote": pc.multiply(raw["taker_buy_volume"], size),
            }
        else:
            columns |= {
                "volume_base": raw["volume"],
                "volume_quote": raw["quote_volume"],
                "trade_count": raw["count"],
                "taker_buy_base": raw["taker_buy_volume"],
                "taker_buy_quote": raw["taker_buy_quote_volume"],
            }
    elif kind is Kind.METRICS:
        columns["ts"] = ts
        if inverse:
            columns |= {
                "oi_base": raw["sum_open_interest_value"],
                "oi_usd": pc.multiply(raw["sum_open_interest"], size),
            }
        else:
            columns |= {
                "oi_base": raw["sum_open_interest"],
                "oi_usd": raw["sum_open_interest_value"],
            }
        columns |= {
            "top_account_ls_ratio": raw["count_toptrader_long_short_ratio"],
            "top_position_ls_ratio": raw["sum_toptrader_long_short_ratio"],
            "account_ls_ratio": raw["count_long_short_ratio"],
            "taker_buy_sell_ratio": raw["sum_taker_long_short_vol_ratio"],
        }
    elif kind is Kind.FUNDING_RATE:
        # calc_time lands a few ms after the settlement; the settlement itself is on the second.
        columns |= {
            "funding_time": pc.floor_temporal(ts, unit="second"),
            "calc_time": ts,
            "funding_interval_hours": raw["funding_interval_hours"].cast(pa.int32()),
            "funding_rate": raw["last_funding_rate"],
        }
    else:
        if inverse:
            fill_price = pc.if_else(
                pc.greater(raw["average_price"], 0.0), raw["average_price"], raw["price"]
            )
            to_base = pc.divide(size, fill_price)
        else:
            to_base = pa.scalar(1.0)
        columns |= {
            "ts": ts,
            "side": raw["side"],
            "order_type": raw["order_type"],
            "time_in_force": raw["time_in_force"],
            "order_status": raw["order_status"],
            "price": raw["price"],
            "avg_price": raw["average_price"],
            "original_qty_base": pc.multiply(raw["original_quantity"], to_base),
            "last_fill_qty_base": pc.multiply(raw["last_fill_quantity"], to_base),
            "filled_qty_base": pc.multiply(raw["accumulated_fill_quantity"], to_base),
        }
    columns["source_file"] = _constant(source_file, rows)
    schema = STAGED_SCHEMAS[kind]
    return pa.table([columns[name] for name in schema.names], schema=schema), unit


def _metrics_convention(table: pa.Table, period_start: date) -> str:
    """Which row-label convention a metrics file follows (FORMATS.md §1.3, bpd#491).

    ``period_start`` — labels 00:00…23:55 (the day's 00:00 row, no next-day 00:00);
    ``period_end`` — labels 00:05…00:00 of the next day; ``both_midnights`` — it carries both;
    ``irregular`` — neither midnight; ``empty`` — no rows.
    """
    if table.num_rows == 0:
        return "empty"
    midnight = datetime.combine(period_start, time(), tzinfo=UTC)
    stamps = table["ts"]
    has_start = pc.any(pc.equal(stamps, pa.scalar(midnight, stamps.type))).as_py()
    next_midnight = midnight + timedelta(days=1)
    has_next = pc.any(pc.equal(stamps, pa.scalar(next_midnight, stamps.type))).as_py()
    if has_start and has_next:
        return "both_midnights"
    if has_start:
        return "period_start"
    if has_next:
        return "period_end"
    return "irregular"

"""Parsing Binance archive files into the canonical staged schemas.

Real files (``tests/data/real-dumps``) pin the parser to what Binance actually publishes; small
hand-made files cover each documented quirk (FORMATS.md §1.1-1.8) and each error path.
"""

import csv
import hashlib
import random
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from simulator.archive import csv_bytes, write_archive_file, zip_bytes
from tests.conftest import REAL_DUMPS
from transforms import formats, schemas
from transforms.dataset import Dataset, ParsedFile
from transforms.errors import ParseError, printable
from transforms.sources import dataset
from transforms.sources.binance_csv import parse_csv, parse_zip

UM_KLINE_CSV = REAL_DUMPS / "binance-um" / "klines-1m" / "BTCUSDT-1m-2023-04-15.csv"
SPOT_KLINE_DIR = REAL_DUMPS / "binance-spot" / "klines-1m"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = date(2024, 1, 1)
MIDNIGHT = datetime(2024, 1, 1, tzinfo=UTC)
SOURCE = "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip"


def epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def epoch_us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def kline_row(
    open_time: int,
    *,
    close_time: int | None = None,
    volume: float = 1.5,
    quote_volume: float = 150.75,
    count: int = 10,
    taker_buy_volume: float = 0.75,
    taker_buy_quote_volume: float = 75.375,
    close: float = 100.5,
) -> list[object]:
    """One raw kline row in the archive's 12-column layout."""
    return [
        open_time,
        100.0,
        101.0,
        99.0,
        close,
        volume,
        open_time + 59_999 if close_time is None else close_time,
        quote_volume,
        count,
        taker_buy_volume,
        taker_buy_quote_volume,
        0,
    ]


def minute_rows(minutes: int, start: datetime = MIDNIGHT) -> list[list[object]]:
    return [
        kline_row(epoch_ms(start + timedelta(minutes=m)), close=100.0 + m, count=m)
        for m in range(minutes)
    ]


def metrics_row(
    moment: datetime,
    symbol: str = "BTCUSDT",
    oi: object = 1000.0,
    oi_value: object = 42_000_000.0,
    ratios: tuple[object, object, object, object] = (1.1, 1.2, 0.9, 1.05),
) -> list[object]:
    return [moment.strftime(formats.METRICS_TIME_FORMAT), symbol, oi, oi_value, *ratios]


def metrics_day(slots: range, day: date = DAY) -> list[list[object]]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return [metrics_row(start + timedelta(minutes=5 * slot), oi=1000.0 + slot) for slot in slots]


def liquidation_row(
    time_ms: int,
    side: str = "SELL",
    quantity: float = 0.5,
    price: float = 30000.0,
    average_price: float = 29950.0,
) -> list[object]:
    return [
        time_ms,
        side,
        "LIMIT",
        "IOC",
        quantity,
        price,
        average_price,
        "FILLED",
        quantity,
        quantity,
    ]


def parse(
    ds: Dataset,
    body: bytes,
    symbol: str = "BTCUSDT",
    source_file: str = SOURCE,
    period_start: date = DAY,
) -> ParsedFile:
    return parse_csv(ds, symbol, body, source_file, period_start)


def column(parsed: ParsedFile, name: str) -> list[Any]:
    values: list[Any] = parsed.table.column(name).to_pylist()
    return values


# 1. The real UM kline day (LevBeta copy of BTCUSDT-1m-2023-04-15)


@pytest.fixture(scope="module")
def real_um_klines() -> ParsedFile:
    return parse_csv(
        dataset("binance_um", "klines"),
        "BTCUSDT",
        UM_KLINE_CSV.read_bytes(),
        "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-04-15.zip",
        date(2023, 4, 15),
    )


def test_real_um_klines_shape(real_um_klines: ParsedFile) -> None:
    parsed = real_um_klines
    assert parsed.table.num_rows == 1440
    assert parsed.rows_read == 1440
    assert parsed.duplicates_dropped == 0
    assert parsed.dropped_instants.to_pylist() == []
    assert parsed.had_header is True
    assert parsed.timestamp_unit == "ms"
    assert parsed.extra_columns == ()
    assert parsed.label_convention is None
    assert parsed.table.schema == schemas.KLINE


def test_real_um_klines_first_row(real_um_klines: ParsedFile) -> None:
    first = real_um_klines.table.slice(0, 1).to_pylist()[0]
    assert first == {
        "exchange": "binance_um",
        "symbol": "BTCUSDT",
        "ts": utc(2023, 4, 15, 0, 0),
        "open": 30453.0,
        "high": 30455.0,
        "low": 30446.4,
        "close": 30452.4,
        "volume_base": 174.12,
        "volume_quote": 5301913.5752,
        "trade_count": 1884,
        "taker_buy_base": 83.714,
        "taker_buy_quote": 2549037.2502,
        "source_file": "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-04-15.zip",
    }


def test_real_um_klines_last_row(real_um_klines: ParsedFile) -> None:
    # Last CSV line: 1681603140000,30284.80,30284.90,30280.30,30280.40,26.381,1681603199999,
    #                798864.20060,588,9.539,288853.36330,0
    last = real_um_klines.table.slice(1439, 1).to_pylist()[0]
    assert last["ts"] == utc(2023, 4, 15, 23, 59)
    assert last["open"] == 30284.8
    assert last["high"] == 30284.9
    assert last["low"] == 30280.3
    assert last["close"] == 30280.4
    assert last["volume_base"] == 26.381
    assert last["volume_quote"] == 798864.2006
    assert last["trade_count"] == 588
    assert last["taker_buy_base"] == 9.539
    assert last["taker_buy_quote"] == 288853.3633


def test_real_um_klines_contiguous_minute_grid(real_um_klines: ParsedFile) -> None:
    stamps = column(real_um_klines, "ts")
    expected = [utc(2023, 4, 15) + timedelta(minutes=m) for m in range(1440)]
    assert stamps == expected


def test_real_um_klines_trade_count_matches_csv_module(real_um_klines: ParsedFile) -> None:
    with UM_KLINE_CSV.open(newline="") as fh:
        reader = csv.DictReader(fh)
        expected_total = sum(int(row["count"]) for row in reader)
        assert reader.line_num == 1441
    total = sum(int(v) for v in column(real_um_klines, "trade_count"))
    assert expected_total > 0
    assert total == expected_total


def test_real_um_klines_every_value_matches_csv_module(real_um_klines: ParsedFile) -> None:
    with UM_KLINE_CSV.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    table = real_um_klines.table
    assert column(real_um_klines, "open") == [float(r["open"]) for r in rows]
    assert column(real_um_klines, "close") == [float(r["close"]) for r in rows]
    assert column(real_um_klines, "volume_quote") == [float(r["quote_volume"]) for r in rows]
    assert [int(t.timestamp() * 1000) for t in table.column("ts").to_pylist()] == [
        int(r["open_time"]) for r in rows
    ]


def test_real_um_klines_zipped_parses_the_same(tmp_path: Path, real_um_klines: ParsedFile) -> None:
    relpath = "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-04-15.zip"
    path = write_archive_file(tmp_path, relpath, UM_KLINE_CSV.read_bytes())
    zipped = parse_zip(dataset("binance_um", "klines"), "BTCUSDT", path, relpath, date(2023, 4, 15))
    assert zipped.table.equals(real_um_klines.table)


def test_zip_bytes_in_memory_parse_without_reading_the_file(
    tmp_path: Path, real_um_klines: ParsedFile
) -> None:
    """Staging parses the bytes it fetched and verified: ``path`` then only names the member."""
    relpath = "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-04-15.zip"
    path = write_archive_file(tmp_path, relpath, UM_KLINE_CSV.read_bytes())
    body = path.read_bytes()
    path.unlink()

    parsed = parse_zip(
        dataset("binance_um", "klines"), "BTCUSDT", path, relpath, date(2023, 4, 15), body=body
    )

    assert parsed.table.equals(real_um_klines.table)
    with pytest.raises(ParseError, match=re.escape(relpath)) as caught:
        parse_zip(
            dataset("binance_um", "klines"),
            "BTCUSDT",
            path,
            relpath,
            date(2023, 4, 15),
            body=b"PK\x03\x04 this is not really a zip",
        )
    assert caught.value.check == "zip_member"


# 2. The real spot zips (lostleaf copies, headerless, 8 dp)

SPOT_FIRST_ROWS = {
    date(2020, 1, 1): (7195.24, 7196.25, 7183.14, 7186.68, 51.642812, 493),
    date(2020, 1, 2): (7200.77, 7200.99, 7193.11, 7194.87, 13.109715, 220),
    date(2020, 1, 3): (6965.49, 6965.71, 6960.51, 6961.42, 11.291589, 162),
}


@pytest.mark.parametrize("day", sorted(SPOT_FIRST_ROWS))
def test_real_spot_zip_matches_its_checksum(day: date) -> None:
    zip_path = SPOT_KLINE_DIR / f"BTCUSDT-1m-{day.isoformat()}.zip"
    checksum_text = (SPOT_KLINE_DIR / f"{zip_path.name}.CHECKSUM").read_text()
    assert not checksum_text.endswith("\n")  # these older files have no trailing newline
    digest, name = checksum_text.split()
    assert name == zip_path.name
    assert hashlib.sha256(zip_path.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("day", sorted(SPOT_FIRST_ROWS))
def test_real_spot_zip_parses(day: date) -> None:
    zip_path = SPOT_KLINE_DIR / f"BTCUSDT-1m-{day.isoformat()}.zip"
    relpath = f"data/spot/daily/klines/BTCUSDT/1m/{zip_path.name}"
    parsed = parse_zip(dataset("binance_spot", "klines"), "BTCUSDT", zip_path, relpath, day)
    assert parsed.table.num_rows == 1440
    assert parsed.had_header is False
    assert parsed.timestamp_unit == "ms"
    assert parsed.duplicates_dropped == 0
    assert parsed.table.schema == schemas.KLINE
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert column(parsed, "ts") == [midnight + timedelta(minutes=m) for m in range(1440)]
    assert set(column(parsed, "source_file")) == {relpath}
    assert set(column(parsed, "exchange")) == {"binance_spot"}
    first = parsed.table.slice(0, 1).to_pylist()[0]
    open_, high, low, close, volume, trades = SPOT_FIRST_ROWS[day]
    assert first["ts"] == midnight
    assert (first["open"], first["high"], first["low"], first["close"]) == (
        open_,
        high,
        low,
        close,
    )
    assert first["volume_base"] == volume
    assert first["trade_count"] == trades


def test_real_spot_first_day_full_first_row() -> None:
    zip_path = SPOT_KLINE_DIR / "BTCUSDT-1m-2020-01-01.zip"
    parsed = parse_zip(
        dataset("binance_spot", "klines"), "BTCUSDT", zip_path, "x.zip", date(2020, 1, 1)
    )
    # 1577836800000,7195.24000000,7196.25000000,7183.14000000,7186.68000000,51.64281200,
    # 1577836859999,371233.51835535,493,19.59823000,140888.41428273,0
    assert parsed.table.slice(0, 1).to_pylist()[0] == {
        "exchange": "binance_spot",
        "symbol": "BTCUSDT",
        "ts": utc(2020, 1, 1),
        "open": 7195.24,
        "high": 7196.25,
        "low": 7183.14,
        "close": 7186.68,
        "volume_base": 51.642812,
        "volume_quote": 371233.51835535,
        "trade_count": 493,
        "taker_buy_base": 19.59823,
        "taker_buy_quote": 140888.41428273,
        "source_file": "x.zip",
    }


# 3. Hand-made files, one per quirk


def test_header_and_headerless_klines_give_identical_tables() -> None:
    klines = dataset("binance_um", "klines")
    rows = minute_rows(5)
    with_header = parse(klines, csv_bytes(formats.KLINE_COLUMNS, rows))
    without = parse(klines, csv_bytes(None, rows))
    assert with_header.had_header is True
    assert without.had_header is False
    assert with_header.table.num_rows == 5
    assert with_header.table.equals(without.table)
    assert column(without, "close") == [100.0, 101.0, 102.0, 103.0, 104.0]


def test_header_columns_are_matched_by_name_not_position() -> None:
    klines = dataset("binance_um", "klines")
    rows = minute_rows(3)
    order = list(reversed(formats.KLINE_COLUMNS))
    index = {name: i for i, name in enumerate(formats.KLINE_COLUMNS)}
    shuffled = [[row[index[name]] for name in order] for row in rows]
    reordered = parse(klines, csv_bytes(order, shuffled))
    plain = parse(klines, csv_bytes(None, rows))
    assert reordered.table.equals(plain.table)


def test_extra_header_columns_are_ignored_and_reported() -> None:
    klines = dataset("binance_um", "klines")
    rows = minute_rows(3)
    header = [*formats.KLINE_COLUMNS[:4], "mystery", *formats.KLINE_COLUMNS[4:], "later_added"]
    widened = [[*row[:4], "zzz", *row[4:], 7] for row in rows]
    parsed = parse(klines, csv_bytes(header, widened))
    assert parsed.extra_columns == ("mystery", "later_added")
    assert parsed.table.equals(parse(klines, csv_bytes(None, rows)).table)
    assert parsed.table.schema == schemas.KLINE


def test_microsecond_timestamps_give_the_same_instants_as_milliseconds() -> None:
    spot = dataset("binance_spot", "klines")
    day = date(2025, 1, 1)
    start = utc(2025, 1, 1)
    moments = [start + timedelta(minutes=m) for m in range(3)]
    ms_rows = [kline_row(epoch_ms(t)) for t in moments]
    us_rows = [kline_row(epoch_us(t), close_time=epoch_us(t) + 59_999_999) for t in moments]
    assert len(str(us_rows[0][0])) == 16
    assert len(str(ms_rows[0][0])) == 13
    as_ms = parse(spot, csv_bytes(None, ms_rows), period_start=day)
    as_us = parse(spot, csv_bytes(None, us_rows), period_start=day)
    assert as_ms.timestamp_unit == "ms"
    assert as_us.timestamp_unit == "us"
    assert column(as_us, "ts") == moments
    assert as_us.table.equals(as_ms.table)


def test_file_mixing_ms_and_us_is_rejected() -> None:
    spot = dataset("binance_spot", "klines")
    relpath = "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-01-01.zip"
    start = utc(2025, 1, 1)
    rows = [
        kline_row(epoch_ms(start)),
        kline_row(epoch_us(start + timedelta(minutes=1))),
    ]
    with pytest.raises(ParseError, match=re.escape(relpath)) as caught:
        parse(spot, csv_bytes(None, rows), source_file=relpath)
    assert caught.value.location == relpath
    assert "open_time" in caught.value.problem


def test_exponent_decimal_parses_as_zero() -> None:
    metrics = dataset("binance_um", "metrics")
    body = (
        b"create_time,symbol,sum_open_interest,sum_open_interest_value,"
        b"count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,"
        b"count_long_short_ratio,sum_taker_long_short_vol_ratio\n"
        b"2024-01-01 00:00:00,BTCUSDT,0E-8,0E-8,1.5,2.5,0.75,1.25\n"
        b"2024-01-01 00:05:00,BTCUSDT,74006.26600000,3120000000.5,1.5,2.5,0.75,1.25\n"
    )
    parsed = parse(metrics, body)
    assert column(parsed, "oi_base") == [0.0, 74006.266]
    assert column(parsed, "oi_usd") == [0.0, 3120000000.5]
    assert column(parsed, "top_account_ls_ratio") == [1.5, 1.5]
    assert column(parsed, "top_position_ls_ratio") == [2.5, 2.5]
    assert column(parsed, "account_ls_ratio") == [0.75, 0.75]
    assert column(parsed, "taker_buy_sell_ratio") == [1.25, 1.25]


def test_empty_fields_become_null() -> None:
    metrics = dataset("binance_cm", "metrics")
    rows = [
        metrics_row(MIDNIGHT, "BTCUSD_PERP", 10000.0, 350.5, (None, None, 1.3, 0.8)),
        metrics_row(
            MIDNIGHT + timedelta(minutes=5), "BTCUSD_PERP", 10100.0, 351.0, (None, None, None, 0.9)
        ),
    ]
    body = csv_bytes(formats.METRICS_COLUMNS, rows)
    assert b",,,0.9" in body
    parsed = parse(metrics, body, symbol="BTCUSD_PERP")
    assert column(parsed, "top_account_ls_ratio") == [None, None]
    assert column(parsed, "top_position_ls_ratio") == [None, None]
    assert column(parsed, "account_ls_ratio") == [1.3, None]
    assert column(parsed, "taker_buy_sell_ratio") == [0.8, 0.9]


def test_empty_numeric_kline_field_becomes_null() -> None:
    klines = dataset("binance_um", "klines")
    row = kline_row(epoch_ms(MIDNIGHT))
    row[9] = None  # taker_buy_volume
    parsed = parse(klines, csv_bytes(formats.KLINE_COLUMNS, [row]))
    assert column(parsed, "taker_buy_base") == [None]
    assert column(parsed, "volume_base") == [1.5]


def test_exact_duplicate_metrics_day_is_deduplicated_and_counted() -> None:
    metrics = dataset("binance_um", "metrics")
    day_rows = metrics_day(range(288))
    parsed = parse(metrics, csv_bytes(formats.METRICS_COLUMNS, day_rows + day_rows))
    instants = [MIDNIGHT + timedelta(minutes=5 * slot) for slot in range(288)]
    assert parsed.rows_read == 576
    assert parsed.duplicates_dropped == 288
    assert parsed.table.num_rows == 288
    assert column(parsed, "ts") == instants
    assert column(parsed, "oi_base") == [1000.0 + slot for slot in range(288)]
    assert len(parsed.dropped_instants) == 288
    assert Counter(parsed.dropped_instants.to_pylist()) == Counter(instants)
    assert parsed.label_convention == "period_start"


def test_partial_duplicates_are_counted_per_instant() -> None:
    klines = dataset("binance_um", "klines")
    rows = minute_rows(4)
    body = csv_bytes(None, [*rows, rows[2], rows[2], rows[0]])
    parsed = parse(klines, body)
    assert parsed.rows_read == 7
    assert parsed.duplicates_dropped == 3
    assert parsed.table.num_rows == 4
    assert Counter(parsed.dropped_instants.to_pylist()) == Counter(
        [MIDNIGHT + timedelta(minutes=2), MIDNIGHT + timedelta(minutes=2), MIDNIGHT]
    )


def test_rows_with_same_instant_but_different_values_are_not_exact_duplicates() -> None:
    klines = dataset("binance_um", "klines")
    first = kline_row(epoch_ms(MIDNIGHT), close=100.5)
    second = kline_row(epoch_ms(MIDNIGHT), close=100.6)
    parsed = parse(klines, csv_bytes(None, [first, second]))
    assert parsed.duplicates_dropped == 0
    assert parsed.table.num_rows == 2
    assert column(parsed, "close") == [100.5, 100.6]


def test_unsorted_rows_come_out_sorted() -> None:
    klines = dataset("binance_um", "klines")
    rows = minute_rows(30)
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    assert shuffled != rows
    parsed = parse(klines, csv_bytes(None, shuffled))
    assert column(parsed, "ts") == [MIDNIGHT + timedelta(minutes=m) for m in range(30)]
    assert column(parsed, "trade_count") == list(range(30))
    assert parsed.table.equals(parse(klines, csv_bytes(None, rows)).table)


@pytest.mark.parametrize(
    ("slots", "convention"),
    [
        (range(288), "period_start"),  # 00:00 … 23:55
        (range(1, 289), "period_end"),  # 00:05 … next-day 00:00
        (range(289), "both_midnights"),  # 00:00 … next-day 00:00
        (range(1, 288), "irregular"),  # 00:05 … 23:55
        (range(0), "empty"),
    ],
)
def test_metrics_label_convention(slots: range, convention: str) -> None:
    metrics = dataset("binance_um", "metrics")
    parsed = parse(metrics, csv_bytes(formats.METRICS_COLUMNS, metrics_day(slots)))
    assert parsed.label_convention == convention
    assert parsed.table.num_rows == len(slots)
    assert column(parsed, "ts") == [MIDNIGHT + timedelta(minutes=5 * s) for s in slots]


def test_metrics_label_convention_is_relative_to_period_start() -> None:
    metrics = dataset("binance_um", "metrics")
    body = csv_bytes(formats.METRICS_COLUMNS, metrics_day(range(1, 289)))
    # The same file read as if it covered the next day: its last row is that day's 00:00.
    assert parse(metrics, body, period_start=DAY).label_convention == "period_end"
    assert parse(metrics, body, period_start=date(2024, 1, 2)).label_convention == "period_start"
    assert parse(metrics, body, period_start=date(2023, 12, 1)).label_convention == "irregular"


def test_metrics_text_create_time_is_utc() -> None:
    metrics = dataset("binance_um", "metrics")
    body = csv_bytes(
        formats.METRICS_COLUMNS,
        [metrics_row(utc(2024, 1, 1, 13, 45)), metrics_row(utc(2024, 1, 1, 23, 55))],
    )
    parsed = parse(metrics, body)
    assert parsed.timestamp_unit == "text"
    stamps = column(parsed, "ts")
    assert stamps == [utc(2024, 1, 1, 13, 45), utc(2024, 1, 1, 23, 55)]
    assert [t.timestamp() for t in stamps] == [1704116700.0, 1704153300.0]
    assert parsed.table.schema.field("ts").type == pa.timestamp("us", tz="UTC")


def test_funding_calc_time_jitter_floors_funding_time_to_the_second() -> None:
    funding = dataset("binance_um", "funding_rate")
    rows = [
        [1685606400005, 8, -0.00005],  # 2023-06-01 08:00:00.005, listed out of order
        [1685577600011, 8, 0.0001],  # 2023-06-01 00:00:00.011
        [1685635200999, 8, 0.00012359],  # 2023-06-01 16:00:00.999
    ]
    parsed = parse(
        funding, csv_bytes(formats.FUNDING_RATE_COLUMNS, rows), period_start=date(2023, 6, 1)
    )
    assert parsed.timestamp_unit == "ms"
    assert column(parsed, "funding_time") == [
        utc(2023, 6, 1, 0),
        utc(2023, 6, 1, 8),
        utc(2023, 6, 1, 16),
    ]
    assert column(parsed, "calc_time") == [
        datetime(2023, 6, 1, 0, 0, 0, 11_000, tzinfo=UTC),
        datetime(2023, 6, 1, 8, 0, 0, 5_000, tzinfo=UTC),
        datetime(2023, 6, 1, 16, 0, 0, 999_000, tzinfo=UTC),
    ]
    assert column(parsed, "funding_rate") == [0.0001, -0.00005, 0.00012359]
    assert column(parsed, "funding_interval_hours") == [8, 8, 8]
    assert parsed.table.schema == schemas.FUNDING_RATE


def test_liquidation_exact_duplicates_dropped_but_same_millisecond_orders_kept() -> None:
    liquidations = dataset("binance_um", "liquidation_snapshot")
    t = epoch_ms(utc(2023, 6, 25, 3, 14, 15)) + 926
    long_liq = liquidation_row(t, "SELL", 0.5, 30000.0, 29950.0)
    short_liq = liquidation_row(t, "BUY", 0.2, 30010.0, 30020.0)
    later = liquidation_row(t + 1, "SELL", 1.0, 29900.0, 29890.0)
    body = csv_bytes(
        formats.LIQUIDATION_SNAPSHOT_COLUMNS,
        [later, long_liq, short_liq, later, long_liq, short_liq],
    )
    parsed = parse(liquidations, body, period_start=date(2023, 6, 25))
    assert parsed.rows_read == 6
    assert parsed.duplicates_dropped == 3
    assert parsed.table.num_rows == 3
    instant = datetime(2023, 6, 25, 3, 14, 15, 926_000, tzinfo=UTC)
    assert column(parsed, "ts") == [instant, instant, instant + timedelta(milliseconds=1)]
    assert column(parsed, "side") == ["BUY", "SELL", "SELL"]
    assert column(parsed, "filled_qty_base") == [0.2, 0.5, 1.0]
    assert column(parsed, "avg_price") == [30020.0, 29950.0, 29890.0]
    assert Counter(parsed.dropped_instants.to_pylist()) == Counter(
        [instant, instant, instant + timedelta(milliseconds=1)]
    )


def test_liquidation_order_is_stable_whatever_the_file_order() -> None:
    liquidations = dataset("binance_cm", "liquidation_snapshot")
    t = epoch_ms(utc(2023, 6, 25, 12))
    rows = [
        liquidation_row(t, "SELL", 3, 30000.0, 29900.0),
        liquidation_row(t, "BUY", 1, 30100.0, 30110.0),
        liquidation_row(t, "SELL", 2, 30000.0, 29950.0),
        liquidation_row(t - 5, "BUY", 4, 30200.0, 0),
    ]
    tables = []
    for seed in range(4):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        body = csv_bytes(formats.LIQUIDATION_SNAPSHOT_COLUMNS, shuffled)
        tables.append(parse(liquidations, body, symbol="BTCUSD_PERP").table)
    assert all(table.equals(tables[0]) for table in tables[1:])


@pytest.mark.parametrize(("symbol", "size"), [("BTCUSD_PERP", 100.0), ("ETHUSD_PERP", 10.0)])
def test_cm_kline_volumes_are_converted(symbol: str, size: float) -> None:
    klines = dataset("binance_cm", "klines")
    row = kline_row(
        epoch_ms(MIDNIGHT),
        volume=1234.0,  # contracts
        quote_volume=4.5,  # base asset, despite the name
        taker_buy_volume=600.0,  # contracts
        taker_buy_quote_volume=2.25,  # base asset
    )
    parsed = parse(klines, csv_bytes(formats.KLINE_COLUMNS, [row]), symbol=symbol)
    got = parsed.table.to_pylist()[0]
    assert got["symbol"] == symbol
    assert got["exchange"] == "binance_cm"
    assert got["volume_base"] == 4.5
    assert got["volume_quote"] == 1234.0 * size
    assert got["taker_buy_base"] == 2.25
    assert got["taker_buy_quote"] == 600.0 * size
    assert (got["open"], got["high"], got["low"], got["close"]) == (100.0, 101.0, 99.0, 100.5)
    assert got["trade_count"] == 10


def test_cm_index_kline_keeps_universe_symbol_and_converts() -> None:
    index = dataset("binance_cm", "index_price_klines")
    row = kline_row(epoch_ms(MIDNIGHT), volume=0.0, quote_volume=0.0, count=60)
    parsed = parse(index, csv_bytes(None, [row]), symbol="BTCUSD_PERP")
    assert column(parsed, "symbol") == ["BTCUSD_PERP"]
    assert column(parsed, "volume_quote") == [0.0]
    assert column(parsed, "trade_count") == [60]


@pytest.mark.parametrize(("symbol", "size"), [("BTCUSD_PERP", 100.0), ("ETHUSD_PERP", 10.0)])
def test_cm_metrics_open_interest_is_converted(symbol: str, size: float) -> None:
    metrics = dataset("binance_cm", "metrics")
    rows = [metrics_row(MIDNIGHT, symbol, 10000.0, 350.5, (None, None, 1.3, 0.8))]
    parsed = parse(metrics, csv_bytes(formats.METRICS_COLUMNS, rows), symbol=symbol)
    assert column(parsed, "oi_base") == [350.5]
    assert column(parsed, "oi_usd") == [10000.0 * size]


def test_cm_liquidation_quantities_are_converted_with_average_price() -> None:
    liquidations = dataset("binance_cm", "liquidation_snapshot")
    t = epoch_ms(utc(2023, 6, 25, 1))
    row = [t, "SELL", "LIMIT", "IOC", 12, 25500.0, 25000.0, "FILLED", 4, 10]
    parsed = parse(
        liquidations,
        csv_bytes(formats.LIQUIDATION_SNAPSHOT_COLUMNS, [row]),
        symbol="BTCUSD_PERP",
        period_start=date(2023, 6, 25),
    )
    got = parsed.table.to_pylist()[0]
    assert got["price"] == 25500.0
    assert got["avg_price"] == 25000.0
    assert got["original_qty_base"] == pytest.approx(12 * 100 / 25000.0, rel=1e-12)
    assert got["last_fill_qty_base"] == pytest.approx(4 * 100 / 25000.0, rel=1e-12)
    assert got["filled_qty_base"] == pytest.approx(10 * 100 / 25000.0, rel=1e-12)
    # qty × average price is the USD face value: 10 contracts × 100 USD.
    assert got["filled_qty_base"] * got["avg_price"] == pytest.approx(1000.0, rel=1e-12)


def test_cm_liquidation_falls_back_to_order_price_without_fill_price() -> None:
    liquidations = dataset("binance_cm", "liquidation_snapshot")
    t = epoch_ms(utc(2023, 6, 25, 1))
    row = [t, "BUY", "LIMIT", "IOC", 5, 20000.0, 0, "NEW", 0, 5]
    parsed = parse(
        liquidations,
        csv_bytes(formats.LIQUIDATION_SNAPSHOT_COLUMNS, [row]),
        symbol="ETHUSD_PERP",
        period_start=date(2023, 6, 25),
    )
    got = parsed.table.to_pylist()[0]
    assert got["avg_price"] == 0.0
    assert got["filled_qty_base"] == pytest.approx(5 * 10 / 20000.0, rel=1e-12)
    assert got["original_qty_base"] == pytest.approx(5 * 10 / 20000.0, rel=1e-12)
    assert got["last_fill_qty_base"] == 0.0


def test_um_conversions_are_identity() -> None:
    klines = parse(
        dataset("binance_um", "klines"),
        csv_bytes(
            None,
            [
                kline_row(
                    epoch_ms(MIDNIGHT),
                    volume=1234.0,
                    quote_volume=4.5,
                    taker_buy_volume=600.0,
                    taker_buy_quote_volume=2.25,
                )
            ],
        ),
    ).table.to_pylist()[0]
    assert (
        klines["volume_base"],
        klines["volume_quote"],
        klines["taker_buy_base"],
        klines["taker_buy_quote"],
    ) == (1234.0, 4.5, 600.0, 2.25)

    metrics = parse(
        dataset("binance_um", "metrics"),
        csv_bytes(formats.METRICS_COLUMNS, [metrics_row(MIDNIGHT, "BTCUSDT", 10000.0, 350.5)]),
    ).table.to_pylist()[0]
    assert (metrics["oi_base"], metrics["oi_usd"]) == (10000.0, 350.5)

    t = epoch_ms(utc(2023, 6, 25, 1))
    liquidation = parse(
        dataset("binance_um", "liquidation_snapshot"),
        csv_bytes(
            formats.LIQUIDATION_SNAPSHOT_COLUMNS,
            [[t, "SELL", "LIMIT", "IOC", 0.012, 25500.0, 25000.0, "FILLED", 0.004, 0.01]],
        ),
        period_start=date(2023, 6, 25),
    ).table.to_pylist()[0]
    assert (
        liquidation["original_qty_base"],
        liquidation["last_fill_qty_base"],
        liquidation["filled_qty_base"],
    ) == (0.012, 0.004, 0.01)


def test_spot_conversions_are_identity() -> None:
    row = kline_row(epoch_ms(MIDNIGHT), volume=3.0, quote_volume=301.5)
    got = parse(
        dataset("binance_spot", "klines"), csv_bytes(None, [row]), symbol="BTCUSDT"
    ).table.to_pylist()[0]
    assert (got["volume_base"], got["volume_quote"]) == (3.0, 301.5)


def test_headerless_file_with_wrong_column_count_is_rejected() -> None:
    row = kline_row(epoch_ms(MIDNIGHT))[:11]
    with pytest.raises(ParseError, match=re.escape(SOURCE)) as caught:
        parse(dataset("binance_um", "klines"), csv_bytes(None, [row]))
    assert caught.value.location == SOURCE
    assert "11 columns" in caught.value.problem


def test_header_missing_a_required_column_is_rejected() -> None:
    header = [c for c in formats.KLINE_COLUMNS if c != "count"]
    row = kline_row(epoch_ms(MIDNIGHT))
    del row[formats.KLINE_COLUMNS.index("count")]
    with pytest.raises(ParseError, match=re.escape(SOURCE)) as caught:
        parse(dataset("binance_um", "klines"), csv_bytes(header, [row]))
    assert caught.value.location == SOURCE
    assert "'count'" in caught.value.problem


def test_metrics_header_missing_create_time_is_rejected() -> None:
    header = ["time", *formats.METRICS_COLUMNS[1:]]
    with pytest.raises(ParseError, match="create_time") as caught:
        parse(dataset("binance_um", "metrics"), csv_bytes(header, [metrics_row(MIDNIGHT)]))
    assert caught.value.location == SOURCE


def test_non_numeric_value_in_numeric_column_is_rejected() -> None:
    rows = minute_rows(3)
    rows[2][2] = "abc"  # high
    with pytest.raises(ParseError, match=re.escape(SOURCE)) as caught:
        parse(dataset("binance_um", "klines"), csv_bytes(formats.KLINE_COLUMNS, rows))
    assert caught.value.location == SOURCE


@pytest.mark.parametrize("token", ["n/a", "NA", "null", "NULL", "#N/A"])
def test_null_like_text_in_numeric_column_is_rejected_not_nulled(token: str) -> None:
    """Only an empty field is null (FORMATS.md, the sources/binance_csv.py docstring); other text
    is an error."""
    rows = minute_rows(3)
    rows[2][formats.KLINE_COLUMNS.index("close")] = token
    with pytest.raises(ParseError, match=re.escape(SOURCE)):
        parse(dataset("binance_um", "klines"), csv_bytes(formats.KLINE_COLUMNS, rows))


def test_unparseable_metrics_time_is_rejected() -> None:
    rows = [metrics_row(MIDNIGHT)]
    rows[0][0] = "01/01/2024 00:00"
    with pytest.raises(ParseError, match="create_time") as caught:
        parse(dataset("binance_um", "metrics"), csv_bytes(formats.METRICS_COLUMNS, rows))
    assert caught.value.location == SOURCE


@pytest.mark.parametrize(
    ("name", "columns"),
    [
        ("klines", formats.KLINE_COLUMNS),
        ("metrics", formats.METRICS_COLUMNS),
        ("funding_rate", formats.FUNDING_RATE_COLUMNS),
        ("liquidation_snapshot", formats.LIQUIDATION_SNAPSHOT_COLUMNS),
    ],
)
def test_header_only_file_gives_zero_rows(name: str, columns: tuple[str, ...]) -> None:
    ds = dataset("binance_um", name)
    parsed = parse(ds, csv_bytes(columns, []))
    assert parsed.table.num_rows == 0
    assert parsed.rows_read == 0
    assert parsed.had_header is True
    assert parsed.table.schema == schemas.STAGED_SCHEMAS[ds.kind]


@pytest.mark.parametrize("body", [b"", b"\n", b"  \n\n"])
def test_empty_file_gives_zero_rows(body: bytes) -> None:
    ds = dataset("binance_um", "metrics")
    parsed = parse(ds, body)
    assert parsed.table.num_rows == 0
    assert parsed.duplicates_dropped == 0
    assert parsed.label_convention == "empty"
    assert parsed.table.schema == schemas.METRICS


def test_zip_with_wrong_member_name_is_rejected(tmp_path: Path) -> None:
    relpath = "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip"
    landed = tmp_path / relpath
    landed.parent.mkdir(parents=True)
    landed.write_bytes(zip_bytes("BTCUSDT-1m-2023-12-31.csv", csv_bytes(None, minute_rows(2))))
    with pytest.raises(ParseError, match=re.escape(relpath)) as caught:
        parse_zip(dataset("binance_spot", "klines"), "BTCUSDT", landed, relpath, DAY)
    assert "BTCUSDT-1m-2023-12-31.csv" in caught.value.problem


def test_zip_errors_name_the_source_file_not_the_local_path(tmp_path: Path) -> None:
    """parse_zip's contract: "errors name ``source_file``", as parse_csv's errors do."""
    relpath = "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip"
    landed = tmp_path / "raw" / relpath
    landed.parent.mkdir(parents=True)
    landed.write_bytes(zip_bytes("wrong.csv", csv_bytes(None, minute_rows(2))))
    with pytest.raises(ParseError) as caught:
        parse_zip(dataset("binance_spot", "klines"), "BTCUSDT", landed, relpath, DAY)
    assert caught.value.location == relpath
    assert str(tmp_path) not in str(caught.value)


def test_corrupt_zip_is_rejected(tmp_path: Path) -> None:
    relpath = "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip"
    landed = tmp_path / relpath
    landed.parent.mkdir(parents=True)
    landed.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ParseError, match=re.escape(relpath)):
        parse_zip(dataset("binance_spot", "klines"), "BTCUSDT", landed, relpath, DAY)


def test_zip_inflating_past_the_cap_is_rejected(tmp_path: Path) -> None:
    relpath = "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip"
    body = csv_bytes(None, minute_rows(10))
    path = write_archive_file(tmp_path, relpath, body)
    with pytest.raises(ParseError, match="cap"):
        parse_zip(dataset("binance_spot", "klines"), "BTCUSDT", path, relpath, DAY, len(body) - 1)
    exact = parse_zip(dataset("binance_spot", "klines"), "BTCUSDT", path, relpath, DAY, len(body))
    assert exact.table.num_rows == 10


# 4. Determinism and provenance columns


@pytest.mark.parametrize(
    ("exchange", "name", "symbol", "body"),
    [
        ("binance_um", "klines", "BTCUSDT", csv_bytes(formats.KLINE_COLUMNS, minute_rows(20))),
        (
            "binance_cm",
            "metrics",
            "BTCUSD_PERP",
            csv_bytes(formats.METRICS_COLUMNS, metrics_day(range(1, 289))),
        ),
        (
            "binance_um",
            "funding_rate",
            "ETHUSDT",
            csv_bytes(formats.FUNDING_RATE_COLUMNS, [[1685577600011, 8, 0.0001]]),
        ),
        (
            "binance_cm",
            "liquidation_snapshot",
            "BTCUSD_PERP",
            csv_bytes(
                formats.LIQUIDATION_SNAPSHOT_COLUMNS,
                [liquidation_row(1687651200123), liquidation_row(1687651200123, "BUY")],
            ),
        ),
    ],
)
def test_parsing_is_deterministic_and_sets_provenance(
    exchange: str, name: str, symbol: str, body: bytes
) -> None:
    ds = dataset(exchange, name)
    relpath = ds.archive_path(symbol, DAY)
    first = parse(ds, body, symbol=symbol, source_file=relpath)
    second = parse(ds, body, symbol=symbol, source_file=relpath)
    assert first.table.num_rows > 0
    assert first.table.equals(second.table)
    assert first == second
    assert set(column(first, "source_file")) == {relpath}
    assert set(column(first, "exchange")) == {exchange}
    assert set(column(first, "symbol")) == {symbol}
    assert first.table.schema == schemas.STAGED_SCHEMAS[ds.kind]


def test_a_junk_file_gives_a_printable_error_whatever_its_bytes() -> None:
    """An error quoting a junk file's bytes is safe to put in a chart, a page, JSON or a log:
    control characters are escaped and the quote is bounded."""
    controls = [byte for byte in range(32) if byte not in (10, 13)]  # valid UTF-8, unprintable
    junk = bytes(random.Random(7).choice(controls) for _ in range(50_000))
    body = b"1706745600000,1,2,0.5,1.5,10,1706745659999,15,3,5,7,0\n" + junk + b",1\n"
    with pytest.raises(ParseError) as raised:
        parse(dataset("binance_um", "klines"), body)
    message = str(raised.value)
    assert message.startswith(SOURCE)
    assert message.isprintable(), message[:200]
    assert re.search(r"\\x[0-9a-f]{2}", message), "the junk is quoted, escaped"
    assert len(message) < 3000


def test_printable_escapes_what_cannot_be_shown_and_keeps_the_rest() -> None:
    assert printable("bad \x1c byte\tand é, 中") == "bad \\x1c byte\\tand é, 中"
    long = printable("x" * 2500)
    assert long.startswith("x" * 2000)
    assert long.endswith("… (500 more characters)")

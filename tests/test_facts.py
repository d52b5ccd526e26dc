"""The fact layer: each SQL model over tiny hand-made staged partitions, values computed by hand.

Staged partitions are written with :func:`transforms.publish.publish_partition` in the exact
staged schemas (COIN-M ones through the real parser, so its contract conversion is covered end
to end); :func:`transforms.facts.build_fact` then reads them back from the lake as it does in
production. Every expected number is written literally, with its arithmetic in a comment.
"""

import math
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from simulator.archive import csv_bytes
from transforms import formats
from transforms.facts import (
    FACT_MODELS,
    FCT_FUNDING,
    FCT_LIQUIDATIONS,
    FCT_LIQUIDATIONS_5M,
    FCT_LIQUIDATIONS_COIN_1H,
    FCT_MARKET_1H,
    FCT_OPEN_INTEREST,
    FCT_PRICE_1M,
    FactModel,
    build_fact,
    build_facts,
    read_input,
)
from transforms.publish import publish_partition
from transforms.schemas import (
    COT,
    COT_POSITIONS,
    FUNDING_RATE,
    KLINE,
    LIQUIDATION,
    METRICS,
    TIMESTAMP,
)
from transforms.sources import dataset
from transforms.sources.binance_csv import parse_csv

D = date(2024, 1, 2)
PREV, NEXT = D - timedelta(days=1), D + timedelta(days=1)

UM_METRICS = "stg_binance_um_metrics"
CM_METRICS = "stg_binance_cm_metrics"
UM_KLINES = "stg_binance_um_klines"
SPOT_KLINES = "stg_binance_spot_klines"
UM_MARK = "stg_binance_um_mark_price_klines"
UM_INDEX = "stg_binance_um_index_price_klines"
UM_PREMIUM = "stg_binance_um_premium_index_klines"
UM_FUNDING = "stg_binance_um_funding_rate"
UM_LIQUIDATIONS = "stg_binance_um_liquidation_snapshot"

Row = dict[str, Any]


def at(
    day: date, hour: int = 0, minute: int = 0, second: int = 0, millisecond: int = 0
) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, millisecond * 1000, UTC)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def source(exchange: str, name: str, symbol: str, day: date) -> str:
    """The archive path a staged row of ``symbol`` on ``day`` would carry as ``source_file``."""
    return dataset(exchange, name).archive_path(symbol, day)


def publish(schema: pa.Schema, rows: list[Row], lake: Path, table: str, day: date) -> None:
    publish_partition(pa.Table.from_pylist(rows, schema=schema), lake, table, day)


def metrics_file(day: date) -> str:
    """The archive path of binance_um BTCUSDT's metrics file for ``day``."""
    return source("binance_um", "metrics", "BTCUSDT", day)


def metrics(
    ts: datetime,
    oi_base: float,
    oi_usd: float,
    file_day: date,
    symbol: str = "BTCUSDT",
    exchange: str = "binance_um",
) -> Row:
    return {
        "exchange": exchange,
        "symbol": symbol,
        "ts": ts,
        "oi_base": oi_base,
        "oi_usd": oi_usd,
        "top_account_ls_ratio": 1.1,
        "top_position_ls_ratio": 1.2,
        "account_ls_ratio": 0.9,
        "taker_buy_sell_ratio": 1.05,
        "source_file": source(exchange, "metrics", symbol, file_day),
    }


def kline(
    ts: datetime,
    close: float,
    source_file: str,
    symbol: str = "BTCUSDT",
    exchange: str = "binance_um",
) -> Row:
    return {
        "exchange": exchange,
        "symbol": symbol,
        "ts": ts,
        "open": close - 1.0,
        "high": close + 2.0,
        "low": close - 3.0,
        "close": close,
        "volume_base": 1.5,
        "volume_quote": 1.5 * close,
        "trade_count": 10,
        "taker_buy_base": 0.75,
        "taker_buy_quote": 0.75 * close,
        "source_file": source_file,
    }


def liquidation(
    ts: datetime,
    side: str,
    qty: float,
    avg_price: float,
    symbol: str = "BTCUSDT",
    price: float | None = None,
    day: date = D,
) -> Row:
    return {
        "exchange": "binance_um",
        "symbol": symbol,
        "ts": ts,
        "side": side,
        "order_type": "LIMIT",
        "time_in_force": "IOC",
        "order_status": "FILLED",
        "price": avg_price if price is None else price,
        "avg_price": avg_price,
        "original_qty_base": qty,
        "last_fill_qty_base": qty,
        "filled_qty_base": qty,
        "source_file": source("binance_um", "liquidation_snapshot", symbol, day),
    }


def funding(
    funding_time: datetime,
    interval_hours: int,
    rate: float,
    symbol: str = "BTCUSDT",
    calc_ms: int = 2,
) -> Row:
    return {
        "exchange": "binance_um",
        "symbol": symbol,
        "funding_time": funding_time,
        "calc_time": funding_time + timedelta(milliseconds=calc_ms),
        "funding_interval_hours": interval_hours,
        "funding_rate": rate,
        "source_file": source("binance_um", "funding_rate", symbol, funding_time.date()),
    }


def columns(table: pa.Table, *names: str) -> list[tuple[Any, ...]]:
    return list(zip(*(table[name].to_pylist() for name in names), strict=True))


def test_next_day_midnight_comes_from_the_previous_days_file(tmp_path: Path) -> None:
    # D−1's file follows the period-end convention: 00:05 of D−1 … 00:00 of D.
    publish(
        METRICS,
        [
            metrics(at(PREV, 0, 5), 900.0, 37_800_000.0, PREV),
            metrics(at(D), 1000.0, 42_000_000.0, PREV),
        ],
        tmp_path,
        UM_METRICS,
        PREV,
    )
    # D's file has no 00:00 of its own and carries D+1 00:00.
    publish(
        METRICS,
        [
            metrics(at(D, 0, 5), 1001.0, 42_042_000.0, D),
            metrics(at(D, 0, 10), 1002.0, 42_084_000.0, D),
            metrics(at(NEXT), 1100.0, 46_200_000.0, D),
        ],
        tmp_path,
        UM_METRICS,
        D,
    )
    publish(
        METRICS, [metrics(at(NEXT, 0, 5), 1101.0, 46_242_000.0, NEXT)], tmp_path, UM_METRICS, NEXT
    )

    fact = build_fact(FCT_OPEN_INTEREST, D, tmp_path)

    assert columns(fact, "exchange", "symbol", "ts", "oi_base", "oi_usd", "source_file") == [
        ("binance_um", "BTCUSDT", at(D), 1000.0, 42_000_000.0, metrics_file(PREV)),
        ("binance_um", "BTCUSDT", at(D, 0, 5), 1001.0, 42_042_000.0, metrics_file(D)),
        ("binance_um", "BTCUSDT", at(D, 0, 10), 1002.0, 42_084_000.0, metrics_file(D)),
    ]
    ratios = columns(
        fact,
        "top_account_ls_ratio",
        "top_position_ls_ratio",
        "account_ls_ratio",
        "taker_buy_sell_ratio",
    )
    assert ratios == [(1.1, 1.2, 0.9, 1.05)] * 3

    # D+1 00:00, carried by D's file, belongs to D+1's fact.
    next_fact = build_fact(FCT_OPEN_INTEREST, NEXT, tmp_path)
    assert columns(next_fact, "ts", "oi_base", "oi_usd", "source_file") == [
        (at(NEXT), 1100.0, 46_200_000.0, metrics_file(D)),
        (at(NEXT, 0, 5), 1101.0, 46_242_000.0, metrics_file(NEXT)),
    ]
    # And D−1's fact keeps its own 00:05 row but not D 00:00.
    prev_fact = build_fact(FCT_OPEN_INTEREST, PREV, tmp_path)
    assert columns(prev_fact, "ts", "oi_base") == [(at(PREV, 0, 5), 900.0)]


def test_the_file_of_the_rows_own_day_wins(tmp_path: Path) -> None:
    # Both files carry D 00:00, with different values: D's file is the one published for it.
    publish(METRICS, [metrics(at(D), 1000.0, 42_000_000.0, PREV)], tmp_path, UM_METRICS, PREV)
    publish(
        METRICS,
        [metrics(at(D), 1000.5, 42_021_000.0, D), metrics(at(D, 0, 5), 1001.0, 42_042_000.0, D)],
        tmp_path,
        UM_METRICS,
        D,
    )
    # D+1's file carries D 00:00 too (a third, later copy): still D's file wins.
    publish(METRICS, [metrics(at(D), 999.0, 41_958_000.0, NEXT)], tmp_path, UM_METRICS, NEXT)

    fact = build_fact(FCT_OPEN_INTEREST, D, tmp_path)

    assert columns(fact, "ts", "oi_base", "oi_usd", "source_file") == [
        (at(D), 1000.5, 42_021_000.0, metrics_file(D)),
        (at(D, 0, 5), 1001.0, 42_042_000.0, metrics_file(D)),
    ]


def test_open_interest_is_one_row_per_key_sorted_by_exchange_symbol_ts(tmp_path: Path) -> None:
    # Rows arrive out of order, over two exchanges' tables and two symbols.
    publish(
        METRICS,
        [
            metrics(at(D, 0, 5), 2001.0, 4_002_000.0, D, symbol="ETHUSDT"),
            metrics(at(D, 0, 5), 1001.0, 42_042_000.0, D),
            metrics(at(D), 2000.0, 4_000_000.0, D, symbol="ETHUSDT"),
            metrics(at(D), 1000.0, 42_000_000.0, D),
        ],
        tmp_path,
        UM_METRICS,
        D,
    )
    publish(
        METRICS,
        [
            metrics(at(D, 0, 5), 11.0, 462_000.0, D, "BTCUSD_PERP", "binance_cm"),
            metrics(at(D), 10.0, 420_000.0, D, "BTCUSD_PERP", "binance_cm"),
        ],
        tmp_path,
        CM_METRICS,
        D,
    )
    # The previous day's file repeats two of D's instants for the um table.
    publish(
        METRICS,
        [
            metrics(at(D), 999.0, 41_958_000.0, PREV),
            metrics(at(D), 1999.0, 3_998_000.0, PREV, symbol="ETHUSDT"),
        ],
        tmp_path,
        UM_METRICS,
        PREV,
    )

    fact = build_fact(FCT_OPEN_INTEREST, D, tmp_path)

    assert columns(fact, "exchange", "symbol", "ts", "oi_base", "oi_usd") == [
        ("binance_cm", "BTCUSD_PERP", at(D), 10.0, 420_000.0),
        ("binance_cm", "BTCUSD_PERP", at(D, 0, 5), 11.0, 462_000.0),
        ("binance_um", "BTCUSDT", at(D), 1000.0, 42_000_000.0),
        ("binance_um", "BTCUSDT", at(D, 0, 5), 1001.0, 42_042_000.0),
        ("binance_um", "ETHUSDT", at(D), 2000.0, 4_000_000.0),
        ("binance_um", "ETHUSDT", at(D, 0, 5), 2001.0, 4_002_000.0),
    ]


def test_exact_duplicate_metrics_keys_give_one_row(tmp_path: Path) -> None:
    # D 00:00 with identical values in D−1's and D's files, and D 00:05 twice in D's file.
    publish(METRICS, [metrics(at(D), 1000.0, 42_000_000.0, PREV)], tmp_path, UM_METRICS, PREV)
    publish(
        METRICS,
        [
            metrics(at(D), 1000.0, 42_000_000.0, D),
            metrics(at(D, 0, 5), 1001.0, 42_042_000.0, D),
            metrics(at(D, 0, 5), 1001.0, 42_042_000.0, D),
        ],
        tmp_path,
        UM_METRICS,
        D,
    )

    fact = build_fact(FCT_OPEN_INTEREST, D, tmp_path)

    assert columns(fact, "ts", "oi_base", "oi_usd", "source_file") == [
        (at(D), 1000.0, 42_000_000.0, metrics_file(D)),
        (at(D, 0, 5), 1001.0, 42_042_000.0, metrics_file(D)),
    ]


def test_price_bars_are_one_row_per_minute(tmp_path: Path) -> None:
    file_a = "data/futures/um/daily/klines/BTCUSDT/1m/a.zip"
    file_b = "data/futures/um/daily/klines/BTCUSDT/1m/b.zip"
    publish(
        KLINE,
        [
            # 00:00 twice with different closes: the first source_file in order is kept.
            kline(at(D), 101.0, file_b),
            kline(at(D), 100.0, file_a),
            # 00:01 twice, identical.
            kline(at(D, 0, 1), 102.0, file_a),
            kline(at(D, 0, 1), 102.0, file_a),
        ],
        tmp_path,
        UM_KLINES,
        D,
    )
    mark_a = "data/futures/um/daily/markPriceKlines/BTCUSDT/1m/a.zip"
    mark_b = "data/futures/um/daily/markPriceKlines/BTCUSDT/1m/b.zip"
    publish(
        KLINE,
        [kline(at(D), 100.25, mark_b), kline(at(D), 100.5, mark_a)],
        tmp_path,
        UM_MARK,
        D,
    )

    fact = build_fact(FCT_PRICE_1M, D, tmp_path)

    assert columns(fact, "ts", "open", "close", "mark_close", "source_file") == [
        (at(D), 99.0, 100.0, 100.5, file_a),
        (at(D, 0, 1), 101.0, 102.0, None, file_a),
    ]


def test_days_built_side_by_side_come_in_order_with_the_same_rows(tmp_path: Path) -> None:
    days = [D + timedelta(days=offset) for offset in range(5)]
    for offset, day in enumerate(days):
        rows = [kline(at(day, hour), 100.0 + offset + hour, f"k{offset}.zip") for hour in range(24)]
        publish(KLINE, rows, tmp_path, UM_KLINES, day)

    built = list(build_facts(FCT_PRICE_1M, days, tmp_path, workers=2))

    assert [day for day, _ in built] == days
    assert all(table.equals(build_fact(FCT_PRICE_1M, day, tmp_path)) for day, table in built)
    assert [table.num_rows for _, table in built] == [24] * 5


def test_distinct_liquidations_in_the_same_millisecond_are_kept(tmp_path: Path) -> None:
    moment = at(D, 3, 0, 0, 250)
    publish(
        LIQUIDATION,
        [liquidation(moment, "SELL", 0.5, 42_000.0), liquidation(moment, "SELL", 0.25, 42_000.0)],
        tmp_path,
        UM_LIQUIDATIONS,
        D,
    )

    fact = build_fact(FCT_LIQUIDATIONS, D, tmp_path)

    # Ordered by qty after ts/side/avg_price: 0.25 × 42,000 = 10,500; 0.5 × 42,000 = 21,000.
    assert columns(fact, "ts", "liquidated_side", "qty_base", "notional_usd") == [
        (moment, "long", 0.25, 10_500.0),
        (moment, "long", 0.5, 21_000.0),
    ]


def test_coin_m_contracts_arrive_in_base_units(tmp_path: Path) -> None:
    symbol = "BTCUSD_PERP"  # contract size 100 USD
    bar = at(D, 0, 1)
    kline_row: list[object] = [
        epoch_ms(bar),
        49_900.0,
        50_100.0,
        49_800.0,
        50_000.0,
        1000,  # volume: contracts
        epoch_ms(bar) + 59_999,
        2.0,  # quote_volume: BTC, despite the name
        42,
        400,  # taker_buy_volume: contracts
        0.8,  # taker_buy_quote_volume: BTC
        0,
    ]
    metrics_row: list[object] = ["2024-01-02 00:05:00", symbol, 5000, 10.0, 1.1, 1.2, 0.9, 1.05]
    liq_moment = at(D, 6, 30, 15, 123)
    liquidation_row: list[object] = [
        epoch_ms(liq_moment),
        "SELL",
        "LIMIT",
        "IOC",
        300,
        59_000.0,
        60_000.0,
        "FILLED",
        100,
        300,
    ]
    # Mark and index bars (headerless, zero volume); the index file is keyed by the bare pair
    # BTCUSD but its rows carry the universe symbol, so both join the traded bar.
    mark_row: list[object] = [epoch_ms(bar), 50_005.0, 50_020.0, 49_990.0, 50_010.0, 0]
    mark_row += [epoch_ms(bar) + 59_999, 0, 60, 0, 0, 0]
    index_row: list[object] = [epoch_ms(bar), 49_990.0, 50_000.0, 49_980.0, 49_995.0, 0]
    index_row += [epoch_ms(bar) + 59_999, 0, 60, 0, 0, 0]
    inputs: list[tuple[str, list[str] | None, list[object]]] = [
        ("klines", list(formats.KLINE_COLUMNS), kline_row),
        ("mark_price_klines", None, mark_row),
        ("index_price_klines", None, index_row),
        ("metrics", list(formats.METRICS_COLUMNS), metrics_row),
        ("liquidation_snapshot", list(formats.LIQUIDATION_SNAPSHOT_COLUMNS), liquidation_row),
    ]
    relpaths: dict[str, str] = {}
    for name, header, row in inputs:
        ds = dataset("binance_cm", name)
        relpaths[name] = ds.archive_path(symbol, D)
        parsed = parse_csv(ds, symbol, csv_bytes(header, [row]), relpaths[name], D)
        publish_partition(parsed.table, tmp_path, ds.table, D)

    price = build_fact(FCT_PRICE_1M, D, tmp_path)
    oi = build_fact(FCT_OPEN_INTEREST, D, tmp_path)
    liquidations = build_fact(FCT_LIQUIDATIONS, D, tmp_path)

    assert price.to_pylist() == [
        {
            "exchange": "binance_cm",
            "symbol": symbol,
            "ts": bar,
            "open": 49_900.0,
            "high": 50_100.0,
            "low": 49_800.0,
            "close": 50_000.0,
            "volume_base": 2.0,  # the quote_volume column
            "volume_quote": 100_000.0,  # 1000 contracts × 100 USD
            "trade_count": 42,
            "taker_buy_base": 0.8,  # the taker_buy_quote_volume column
            "taker_buy_quote": 40_000.0,  # 400 contracts × 100 USD
            "mark_high": 50_020.0,
            "mark_low": 49_990.0,
            "mark_close": 50_010.0,
            "index_close": 49_995.0,
            "premium_close": None,
            "source_file": relpaths["klines"],
            "contract_type": "perpetual",
            "expiry": None,
        }
    ]
    assert oi.to_pylist() == [
        {
            "exchange": "binance_cm",
            "symbol": symbol,
            "ts": at(D, 0, 5),
            "oi_base": 10.0,  # sum_open_interest_value, already in BTC
            "oi_usd": 500_000.0,  # 5000 contracts × 100 USD
            "top_account_ls_ratio": 1.1,
            "top_position_ls_ratio": 1.2,
            "account_ls_ratio": 0.9,
            "taker_buy_sell_ratio": 1.05,
            "source_file": relpaths["metrics"],
            "coin": "BTC",
            "contract_type": "perpetual",
            "expiry": None,
        }
    ]
    assert liquidations.to_pylist() == [
        {
            "exchange": "binance_cm",
            "symbol": symbol,
            "ts": liq_moment,
            "liquidated_side": "long",
            "price": 59_000.0,
            "avg_price": 60_000.0,
            "qty_base": 0.5,  # 300 contracts × 100 USD ÷ 60,000 USD/BTC
            "notional_usd": 30_000.0,  # 0.5 BTC × 60,000 = 300 × 100 USD
            "coverage": "sampled",
            "source_file": relpaths["liquidation_snapshot"],
        }
    ]


def test_liquidation_sides_notional_and_coverage(tmp_path: Path) -> None:
    publish(
        LIQUIDATION,
        [
            # Outside D although in D's file: never in D's fact.
            liquidation(at(PREV, 23, 59, 59, 999), "SELL", 9.0, 100.0),
            liquidation(at(D, 1), "SELL", 2.0, 100.5, price=99.0),
            liquidation(at(D, 2, 30), "BUY", 0.25, 40_000.0, price=40_100.0),
            liquidation(at(NEXT), "BUY", 9.0, 100.0),
        ],
        tmp_path,
        UM_LIQUIDATIONS,
        D,
    )

    fact = build_fact(FCT_LIQUIDATIONS, D, tmp_path)

    file = source("binance_um", "liquidation_snapshot", "BTCUSDT", D)
    assert columns(
        fact,
        "ts",
        "liquidated_side",
        "price",
        "avg_price",
        "qty_base",
        "notional_usd",
        "coverage",
        "source_file",
    ) == [
        # SELL closes a long: 2.0 × 100.5 = 201.0
        (at(D, 1), "long", 99.0, 100.5, 2.0, 201.0, "sampled", file),
        # BUY closes a short: 0.25 × 40,000 = 10,000.0
        (at(D, 2, 30), "short", 40_100.0, 40_000.0, 0.25, 10_000.0, "sampled", file),
    ]


def test_five_minute_liquidations_on_a_complete_grid(tmp_path: Path) -> None:
    publish(
        LIQUIDATION,
        [
            liquidation(at(D, 0, 1), "SELL", 0.5, 40_000.0),  # long 20,000
            liquidation(at(D, 0, 4, 59, 999), "SELL", 0.25, 40_400.0),  # long 10,100
            liquidation(at(D, 0, 5), "BUY", 1.5, 40_200.0),  # short 60,300
            liquidation(at(D, 23, 59, 59, 999), "BUY", 2.0, 2_250.0, symbol="ETHUSDT"),  # 4,500
        ],
        tmp_path,
        UM_LIQUIDATIONS,
        D,
    )
    publish_partition(build_fact(FCT_LIQUIDATIONS, D, tmp_path), tmp_path, "fct_liquidations", D)

    fact = build_fact(FCT_LIQUIDATIONS_5M, D, tmp_path)

    grid = [at(D) + timedelta(minutes=5 * slot) for slot in range(288)]
    assert columns(fact, "exchange", "symbol", "ts") == [
        *(("binance_um", "BTCUSDT", ts) for ts in grid),
        *(("binance_um", "ETHUSDT", ts) for ts in grid),
    ]
    values = (
        "long_liq_usd",
        "short_liq_usd",
        "long_liq_count",
        "short_liq_count",
        "long_liq_base",
        "short_liq_base",
    )
    rows = fact.to_pylist()
    nonzero = {
        (row["symbol"], row["ts"]): tuple(row[name] for name in values)
        for row in rows
        if any(row[name] != 0 for name in values)
    }
    assert nonzero == {
        # 20,000 + 10,100 = 30,100 USD; 0.5 + 0.25 = 0.75 BTC; 00:04:59.999 is still bucket 00:00
        ("BTCUSDT", at(D)): (30_100.0, 0.0, 2, 0, 0.75, 0.0),
        # 1.5 × 40,200 = 60,300 USD at exactly 00:05
        ("BTCUSDT", at(D, 0, 5)): (0.0, 60_300.0, 0, 1, 0.0, 1.5),
        # 2.0 × 2,250 = 4,500 USD in the last bucket of the day
        ("ETHUSDT", at(D, 23, 55)): (0.0, 4_500.0, 0, 1, 0.0, 2.0),
    }
    # Zeros elsewhere are zeros, never nulls.
    assert all(fact[name].null_count == 0 for name in values)


def test_funding_is_rescaled_to_8h_and_annualised_from_its_own_interval(tmp_path: Path) -> None:
    publish(
        FUNDING_RATE,
        [
            funding(at(PREV, 23), 1, 0.0001, symbol="SOLUSDT"),  # D−1: not D's
            funding(at(D, 8), 8, 0.0001),
            funding(at(D, 4), 4, 0.0001, symbol="ETHUSDT"),
            funding(at(D, 1), 1, 0.0001, symbol="SOLUSDT"),
            funding(at(D, 1), 1, 0.0001, symbol="SOLUSDT"),  # exact duplicate
            funding(at(NEXT), 8, 0.0001),  # D+1 00:00: not D's
        ],
        tmp_path,
        UM_FUNDING,
        D,
    )

    fact = build_fact(FCT_FUNDING, D, tmp_path)

    assert columns(fact, "symbol", "funding_time", "funding_rate", "funding_interval_hours") == [
        ("BTCUSDT", at(D, 8), 0.0001, 8),
        ("ETHUSDT", at(D, 4), 0.0001, 4),
        ("SOLUSDT", at(D, 1), 0.0001, 1),
    ]
    # 8h: 0.0001 × 8/8 = 0.0001; 4h: 0.0001 × 8/4 = 0.0002; 1h: 0.0001 × 8/1 = 0.0008
    assert fact["funding_rate_8h"].to_pylist() == pytest.approx([0.0001, 0.0002, 0.0008])
    # APR = rate × 24/interval × 365: 0.0001 × 3 × 365 = 0.1095; × 6 × 365 = 0.219;
    # × 24 × 365 = 0.876
    assert fact["funding_rate_apr"].to_pylist() == pytest.approx([0.1095, 0.219, 0.876])
    assert fact["source_file"].to_pylist() == [
        "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-01.zip",
        "data/futures/um/monthly/fundingRate/ETHUSDT/ETHUSDT-fundingRate-2024-01.zip",
        "data/futures/um/monthly/fundingRate/SOLUSDT/SOLUSDT-fundingRate-2024-01.zip",
    ]


def test_the_archive_wins_over_its_rest_fallback_and_venues_keep_their_own_rows(
    tmp_path: Path,
) -> None:
    rest_file = "fapi/v1/fundingRate?symbol=BTCUSDT&period=2024-01"
    archived = funding(at(D, 8), 8, 0.0001)
    publish(FUNDING_RATE, [archived], tmp_path, UM_FUNDING, D)
    # The REST history came earlier in the day's ms (1 ms jitter, not 2): still the archive's.
    from_rest = {**funding(at(D, 0), 8, 0.0003, calc_ms=1), "source_file": rest_file}
    publish(
        FUNDING_RATE,
        [from_rest, {**funding(at(D, 8), 8, 0.0002, calc_ms=1), "source_file": rest_file}],
        tmp_path,
        "stg_binance_um_funding_rate_rest",
        D,
    )
    bitmex = {
        **funding(at(D, 4), 8, -0.0001, symbol="XBTUSD"),
        "exchange": "bitmex",
        "source_file": "api/v1/funding?symbol=XBTUSD&period=2024-01",
    }
    publish(FUNDING_RATE, [bitmex], tmp_path, "stg_bitmex_funding_rate", D)

    fact = build_fact(FCT_FUNDING, D, tmp_path)

    assert columns(fact, "exchange", "symbol", "funding_time", "funding_rate", "coin") == [
        ("binance_um", "BTCUSDT", at(D, 0), 0.0003, "BTC"),  # only the REST history has it
        ("binance_um", "BTCUSDT", at(D, 8), 0.0001, "BTC"),  # both: the archive's row
        ("bitmex", "XBTUSD", at(D, 4), -0.0001, "BTC"),
    ]
    assert fact["source_file"].to_pylist()[:2] == [rest_file, archived["source_file"]]


def test_missing_mark_index_and_premium_leave_their_columns_null(tmp_path: Path) -> None:
    spot_file = source("binance_spot", "klines", "BTCUSDT", D)
    um_file = source("binance_um", "klines", "BTCUSDT", D)
    publish(
        KLINE,
        [kline(at(D), 100.0, um_file), kline(at(D, 0, 1), 101.0, um_file)],
        tmp_path,
        UM_KLINES,
        D,
    )
    publish(
        KLINE,
        [kline(at(D), 99.0, spot_file, exchange="binance_spot")],
        tmp_path,
        SPOT_KLINES,
        D,
    )

    fact = build_fact(FCT_PRICE_1M, D, tmp_path)

    assert fact.schema == FCT_PRICE_1M.schema
    assert fact.to_pylist() == [
        {
            "exchange": "binance_spot",
            "symbol": "BTCUSDT",
            "ts": at(D),
            "open": 98.0,
            "high": 101.0,
            "low": 96.0,
            "close": 99.0,
            "volume_base": 1.5,
            "volume_quote": 148.5,  # 1.5 × 99
            "trade_count": 10,
            "taker_buy_base": 0.75,
            "taker_buy_quote": 74.25,  # 0.75 × 99
            "mark_high": None,
            "mark_low": None,
            "mark_close": None,
            "index_close": None,
            "premium_close": None,
            "source_file": spot_file,
            "contract_type": "spot",
            "expiry": None,
        },
        {
            "exchange": "binance_um",
            "symbol": "BTCUSDT",
            "ts": at(D),
            "open": 99.0,
            "high": 102.0,
            "low": 97.0,
            "close": 100.0,
            "volume_base": 1.5,
            "volume_quote": 150.0,
            "trade_count": 10,
            "taker_buy_base": 0.75,
            "taker_buy_quote": 75.0,
            "mark_high": None,
            "mark_low": None,
            "mark_close": None,
            "index_close": None,
            "premium_close": None,
            "source_file": um_file,
            "contract_type": "perpetual",
            "expiry": None,
        },
        {
            "exchange": "binance_um",
            "symbol": "BTCUSDT",
            "ts": at(D, 0, 1),
            "open": 100.0,
            "high": 103.0,
            "low": 98.0,
            "close": 101.0,
            "volume_base": 1.5,
            "volume_quote": 151.5,
            "trade_count": 10,
            "taker_buy_base": 0.75,
            "taker_buy_quote": 75.75,
            "mark_high": None,
            "mark_low": None,
            "mark_close": None,
            "index_close": None,
            "premium_close": None,
            "source_file": um_file,
            "contract_type": "perpetual",
            "expiry": None,
        },
    ]


def test_mark_index_and_premium_join_on_their_minute(tmp_path: Path) -> None:
    um_file = source("binance_um", "klines", "BTCUSDT", D)
    publish(
        KLINE,
        [kline(at(D), 100.0, um_file), kline(at(D, 0, 1), 101.0, um_file)],
        tmp_path,
        UM_KLINES,
        D,
    )
    publish(KLINE, [kline(at(D), 100.5, "mark")], tmp_path, UM_MARK, D)
    publish(KLINE, [kline(at(D, 0, 1), 100.75, "index")], tmp_path, UM_INDEX, D)
    publish(
        KLINE,
        [kline(at(D), -0.0001, "premium"), kline(at(D, 0, 1), 0.0002, "premium")],
        tmp_path,
        UM_PREMIUM,
        D,
    )

    fact = build_fact(FCT_PRICE_1M, D, tmp_path)

    assert columns(fact, "ts", "close", "mark_close", "index_close", "premium_close") == [
        (at(D), 100.0, 100.5, None, -0.0001),
        (at(D, 0, 1), 101.0, None, 100.75, 0.0002),
    ]


@pytest.mark.parametrize("model", FACT_MODELS, ids=lambda m: m.name)
def test_no_input_gives_an_empty_table_of_the_models_schema(
    model: FactModel, tmp_path: Path
) -> None:
    result = build_fact(model, D, tmp_path)
    assert result.num_rows == 0
    assert result.schema == model.schema


def populate(lake: Path) -> None:
    """A little of every input for D, with the metrics of D−1 and D+1 around it."""
    um_file = source("binance_um", "klines", "BTCUSDT", D)
    publish(
        KLINE,
        [kline(at(D), 100.0, um_file), kline(at(D, 0, 1), 101.0, um_file)],
        lake,
        UM_KLINES,
        D,
    )
    publish(KLINE, [kline(at(D), 100.5, "mark")], lake, UM_MARK, D)
    publish(KLINE, [kline(at(D), 100.25, "index")], lake, UM_INDEX, D)
    publish(KLINE, [kline(at(D), 0.0001, "premium")], lake, UM_PREMIUM, D)
    publish(METRICS, [metrics(at(D), 1000.0, 42_000_000.0, PREV)], lake, UM_METRICS, PREV)
    publish(METRICS, [metrics(at(D, 0, 5), 1001.0, 42_042_000.0, D)], lake, UM_METRICS, D)
    publish(METRICS, [metrics(at(NEXT, 0, 5), 1101.0, 46_242_000.0, NEXT)], lake, UM_METRICS, NEXT)
    publish(FUNDING_RATE, [funding(at(D, 8), 8, 0.0001)], lake, UM_FUNDING, D)
    publish(LIQUIDATION, [liquidation(at(D, 1), "SELL", 2.0, 100.5)], lake, UM_LIQUIDATIONS, D)
    # BTC's near quarterly, a little above the perpetual.
    quarterly = "BTCUSDT_240329"
    delivery_file = source("binance_um", "delivery_klines", quarterly, D)
    publish(
        KLINE,
        [{**kline(at(D), 101.5, delivery_file), "symbol": quarterly}],
        lake,
        "stg_binance_um_delivery_klines",
        D,
    )
    delivery_oi = {**metrics(at(D, 0, 5), 150.0, 6_300_000.0, D, quarterly)}
    delivery_oi["source_file"] = source("binance_um", "delivery_metrics", quarterly, D)
    publish(METRICS, [delivery_oi], lake, "stg_binance_um_delivery_metrics", D)
    # D is a Tuesday: CFTC's report as of it (20 contracts in every position, 180 open).
    cot = {
        "exchange": "cftc",
        "symbol": "133741",
        "as_of": at(D),
        "report_date": D + timedelta(days=3),
        "market_name": "BITCOIN - CHICAGO MERCANTILE EXCHANGE",
        "contract_size": 5.0,
        "open_interest": 180.0,
        "source_file": "files/dea/history/fut_fin_txt_2024.zip",
    }
    publish(COT, [cot | dict.fromkeys(COT_POSITIONS, 20.0)], lake, "stg_cftc_cot_tff", D)
    # Facts that read other facts find them published, as the pipeline orders them.
    for model in (
        FCT_LIQUIDATIONS,
        FCT_PRICE_1M,
        FCT_OPEN_INTEREST,
        FCT_FUNDING,
        FCT_LIQUIDATIONS_5M,
        FCT_LIQUIDATIONS_COIN_1H,
    ):
        publish_partition(build_fact(model, D, lake), lake, model.name, D)


def test_building_a_day_twice_gives_equal_tables(tmp_path: Path) -> None:
    populate(tmp_path / "one")
    populate(tmp_path / "two")
    for model in FACT_MODELS:
        first = build_fact(model, D, tmp_path / "one")
        again = build_fact(model, D, tmp_path / "one")
        elsewhere = build_fact(model, D, tmp_path / "two")
        assert first.num_rows > 0, model.name
        assert first.equals(again), model.name
        assert first.equals(elsewhere), model.name


def test_outputs_have_the_model_schema_and_no_wall_clock_column(tmp_path: Path) -> None:
    populate(tmp_path)
    start, end = at(D), at(NEXT)
    for model in FACT_MODELS:
        result = build_fact(model, D, tmp_path)
        assert result.schema == model.schema, model.name
        assert result.num_rows > 0, model.name
        for field in result.schema:
            assert not pa.types.is_decimal(field.type), (model.name, field.name)
            if (model.name, field.name) == ("fct_cot_weekly", "report_date"):
                # A date, not an instant: the scheduled release of the report as of the day.
                assert result[field.name].to_pylist() == [D + timedelta(days=3)] * result.num_rows
                continue
            if field.name == "expiry":
                # A delivery contract's settlement (08:00 UTC), from its symbol: not "now".
                assert all(v is None or v.time() == time(8) for v in result[field.name].to_pylist())
                continue
            if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
                # Every instant is timestamp[us, UTC] and about the day: nothing is "now".
                assert field.type == TIMESTAMP, (model.name, field.name)
                values = result[field.name].to_pylist()
                assert all(start <= value < end for value in values), (model.name, field.name)
        assert result[model.time_column].type == TIMESTAMP


def test_metrics_read_only_the_day_before_and_after(tmp_path: Path) -> None:
    # Every partition holds a (deliberately misfiled) row of D; only D−1..D+1 may reach D.
    for offset in (-5, -2, -1, 0, 1, 2):
        file_day = D + timedelta(days=offset)
        row = metrics(at(D, 12, 5 * (offset + 5)), 1000.0 + offset, 42_000_000.0, file_day)
        publish(METRICS, [row], tmp_path, UM_METRICS, file_day)

    fact = build_fact(FCT_OPEN_INTEREST, D, tmp_path)

    # offsets −1, 0, +1 → 12:20, 12:25, 12:30
    assert columns(fact, "ts", "oi_base") == [
        (at(D, 12, 20), 999.0),
        (at(D, 12, 25), 1000.0),
        (at(D, 12, 30), 1001.0),
    ]
    window = read_input(tmp_path, FCT_OPEN_INTEREST.inputs[0], D)
    assert sorted(set(window["date"].to_pylist())) == [PREV, D, NEXT]


def test_other_models_read_only_the_day_itself(tmp_path: Path) -> None:
    # Partitions at D−5, D−1 and D+1 carrying (deliberately misfiled) rows of D never reach D.
    for file_day in (D - timedelta(days=5), PREV, NEXT):
        wrong = f"misfiled-{file_day.isoformat()}"
        publish(KLINE, [kline(at(D, 1), 1.0, wrong)], tmp_path, UM_KLINES, file_day)
        publish(KLINE, [kline(at(D, 2), 1.0, wrong)], tmp_path, UM_MARK, file_day)
        publish(FUNDING_RATE, [funding(at(D, 8), 8, 0.5)], tmp_path, UM_FUNDING, file_day)
        liquidations = [liquidation(at(D, 3), "BUY", 9.0, 1.0)]
        publish(LIQUIDATION, liquidations, tmp_path, UM_LIQUIDATIONS, file_day)
        fact_row = {
            "exchange": "binance_um",
            "symbol": "BTCUSDT",
            "ts": at(D, 3),
            "liquidated_side": "short",
            "price": 1.0,
            "avg_price": 1.0,
            "qty_base": 9.0,
            "notional_usd": 9.0,
            "coverage": "sampled",
            "source_file": wrong,
        }
        publish(FCT_LIQUIDATIONS.schema, [fact_row], tmp_path, "fct_liquidations", file_day)
    publish(KLINE, [kline(at(D, 2), 100.0, "kline-of-D")], tmp_path, UM_KLINES, D)

    price = build_fact(FCT_PRICE_1M, D, tmp_path)

    assert columns(price, "ts", "close", "mark_close", "source_file") == [
        (at(D, 2), 100.0, None, "kline-of-D"),
    ]
    assert build_fact(FCT_FUNDING, D, tmp_path).num_rows == 0
    # Liquidations also read the days around D: a recorded stream files an order by its
    # arrival, so an order of D can be in D−1's or D+1's file. D−5's never reaches D.
    liquidations = build_fact(FCT_LIQUIDATIONS, D, tmp_path)
    assert liquidations["ts"].to_pylist() == [at(D, 3)] * 2
    assert build_fact(FCT_LIQUIDATIONS_5M, D, tmp_path).num_rows == 0


def test_market_hours_roll_up_minutes_open_interest_and_liquidations(tmp_path: Path) -> None:
    def minute(ts: datetime, close: float, flow: Row, exchange: str = "binance_um") -> Row:
        return {"exchange": exchange, "symbol": "BTCUSDT", "ts": ts, "close": close, **flow}

    price = FCT_PRICE_1M.schema
    # The previous day's last close gives the day's first 1-minute return.
    publish(price, [minute(at(PREV, 23, 59), 100.0, {})], tmp_path, FCT_PRICE_1M.name, PREV)
    perp_flow = {"volume_base": 4.0, "volume_quote": 400.0, "taker_buy_base": 3.0}
    spot_flow = {"volume_base": 2.0, "volume_quote": 203.0, "taker_buy_base": 0.5}
    publish(
        price,
        [
            minute(at(D, 0, 0), 101.0, {**perp_flow, "premium_close": 0.0002}),
            minute(at(D, 0, 1), 102.0, {**perp_flow, "premium_close": 0.0004}),
            minute(at(D, 1, 0), 100.0, {**perp_flow, "premium_close": 0.0001}),
            minute(at(D, 0, 0), 101.5, spot_flow, "binance_spot"),
        ],
        tmp_path,
        FCT_PRICE_1M.name,
        D,
    )
    oi = [
        {
            "exchange": "binance_um",
            "symbol": "BTCUSDT",
            "ts": at(D, 0, 5),
            "oi_base": 1000.0,
            "oi_usd": 101_000.0,
        },
        {
            "exchange": "binance_um",
            "symbol": "BTCUSDT",
            "ts": at(D, 0, 55),
            "oi_base": 1010.0,
            "oi_usd": 103_020.0,
        },
    ]
    publish(FCT_OPEN_INTEREST.schema, oi, tmp_path, FCT_OPEN_INTEREST.name, D)
    liquidations = [
        {
            "exchange": "binance_um",
            "symbol": "BTCUSDT",
            "ts": at(D, 0, 0),
            "long_liq_usd": 5.0,
            "short_liq_usd": 0.0,
        },
        {
            "exchange": "binance_um",
            "symbol": "BTCUSDT",
            "ts": at(D, 0, 5),
            "long_liq_usd": 2.0,
            "short_liq_usd": 1.0,
        },
    ]
    publish(FCT_LIQUIDATIONS_5M.schema, liquidations, tmp_path, FCT_LIQUIDATIONS_5M.name, D)

    hours = build_fact(FCT_MARKET_1H, D, tmp_path)

    assert columns(hours, "exchange", "ts", "close", "perp_volume_quote") == [
        ("binance_um", at(D, 0), 102.0, 800.0),
        ("binance_um", at(D, 1), 100.0, 400.0),
    ]
    # hour 00: returns ln(101/100) (from the day before) and ln(102/101); hour 01: ln(100/102)
    vol_00 = math.sqrt(math.log(101 / 100) ** 2 + math.log(102 / 101) ** 2)
    assert hours["realized_vol"].to_pylist() == pytest.approx([vol_00, abs(math.log(100 / 102))])
    # (2 × 6 − 8) / 8 over the hour's two minutes; premium mean (0.0002 + 0.0004) / 2
    assert hours["perp_taker_imbalance"].to_pylist() == pytest.approx([0.5, 0.5])
    assert hours["premium_mean"].to_pylist() == pytest.approx([0.0003, 0.0001])
    # the hour's last open interest; no reading in hour 01
    assert columns(hours, "oi_base", "oi_usd") == [(1010.0, 103_020.0), (None, None)]
    # 5 + 2 long, 1 short; an hour without liquidation rows has none
    assert columns(hours, "long_liq_usd", "short_liq_usd") == [(7.0, 1.0), (0.0, 0.0)]
    # the spot pair's hour: (2 × 0.5 − 2) / 2; none traded in hour 01
    assert columns(hours, "spot_volume_quote", "spot_taker_imbalance") == [
        (203.0, -0.5),
        (None, None),
    ]

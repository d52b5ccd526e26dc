"""The market simulator: determinism, format conformance, physical sanity, phases, quirks, CLI.

The simulator is the oracle the warehouse is scored against, so its archive must be
byte-reproducible, must parse with the project's own parsers exactly as FORMATS.md describes
the real files, must obey the exchange rules of DOMAIN.md §1.1/§1.4, and its ground truth
(``truth/``) must agree with what its archive shows.
"""

import hashlib
import json
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from simulator import rules
from simulator.markets import market_spec
from simulator.model import LEVERAGE_TIERS, TIER_NOTIONAL_USD
from simulator.run import SimConfig, SimSummary, simulate_archive
from simulator.scenarios import SCENARIOS
from simulator.writer import Quirks
from transforms import formats
from transforms.dataset import Cadence, ParsedFile
from transforms.sources import dataset
from transforms.sources.binance_csv import parse_zip

# Column lists exactly as FORMATS.md §1.3 prints them (kept literal, not imported, so that a
# change to ``transforms.formats`` cannot silently move the simulator and the parser together).
KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
METRICS_HEADER = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,"
    "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,count_long_short_ratio,"
    "sum_taker_long_short_vol_ratio"
)
FUNDING_HEADER = "calc_time,funding_interval_hours,last_funding_rate"
LIQUIDATION_HEADER = (
    "time,side,order_type,time_in_force,original_quantity,price,average_price,order_status,"
    "last_fill_quantity,accumulated_fill_quantity"
)

FUTURES_KLINES = ("klines", "mark_price_klines", "index_price_klines", "premium_index_klines")
PERP_DAILY = (*FUTURES_KLINES, "metrics")
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

SHARED = SimConfig(
    out=Path("unused"),
    start=date(2024, 2, 1),
    end=date(2024, 2, 3),
    symbols=("BTCUSDT", "ETHUSDT"),
    coin_margined=("BTCUSD_PERP",),
    spot=("BTCUSDT",),
    seed=11,
    workers=1,
)
"""Three days inside the liquidation-snapshot window; two coins, so workers=2 uses the pool."""


@dataclass(frozen=True)
class Archive:
    config: SimConfig
    summary: SimSummary

    @property
    def root(self) -> Path:
        return self.config.out

    @property
    def days(self) -> list[date]:
        return [self.config.start + timedelta(days=k) for k in range(self.config.days)]


# Helpers


def _run(config: SimConfig) -> Archive:
    return Archive(config, simulate_archive(config))


def _frame(parsed: ParsedFile) -> pl.DataFrame:
    frame = pl.from_arrow(parsed.table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _parse(root: Path, exchange: str, name: str, symbol: str, day: date) -> ParsedFile:
    ds = dataset(exchange, name)
    rel = ds.archive_path(symbol, day)
    period = date(day.year, day.month, 1) if ds.cadence is Cadence.MONTHLY else day
    return parse_zip(ds, symbol, root / rel, rel, period)


def _concat(
    archive: Archive, exchange: str, name: str, symbol: str, days: list[date] | None = None
) -> pl.DataFrame:
    return pl.concat(
        [
            _frame(_parse(archive.root, exchange, name, symbol, day))
            for day in (days if days is not None else archive.days)
        ]
    )


def _csv_text(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [path.with_suffix(".csv").name]
        return archive.read(path.with_suffix(".csv").name).decode()


def _zips(root: Path) -> list[Path]:
    return sorted((root / "data").rglob("*.zip"))


def _tree(root: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under ``root/data``."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((root / "data").rglob("*"))
        if path.is_file()
    }


def _truth(archive: Archive, name: str) -> pl.DataFrame:
    return pl.read_parquet(archive.root / "truth" / f"{name}.parquet")


def _published_days(archive: Archive) -> set[tuple[str, str, date]]:
    truth = _truth(archive, "liquidations").filter(pl.col("published"))
    return {
        (exchange, symbol, (datetime(1970, 1, 1) + timedelta(milliseconds=ts)).date())
        for exchange, symbol, ts in truth.select("exchange", "symbol", "ts_ms").iter_rows()
    }


@dataclass(frozen=True)
class Expected:
    exchange: str
    name: str
    symbol: str
    day: date


def _expected_files(archive: Archive) -> dict[str, Expected]:
    """Every zip the archive must hold, keyed by the dataset's own archive path."""
    config = archive.config
    published = _published_days(archive)
    files: dict[str, Expected] = {}

    def add(exchange: str, name: str, symbol: str, day: date) -> None:
        files[dataset(exchange, name).archive_path(symbol, day)] = Expected(
            exchange, name, symbol, day
        )

    perps = [("binance_um", s) for s in config.symbols] + [
        ("binance_cm", s) for s in config.coin_margined
    ]
    for exchange, symbol in perps:
        for day in archive.days:
            for name in PERP_DAILY:
                add(exchange, name, symbol, day)
            if (exchange, symbol, day) in published:
                add(exchange, "liquidation_snapshot", symbol, day)
        for month in sorted({date(d.year, d.month, 1) for d in archive.days}):
            add(exchange, "funding_rate", symbol, month)
    for symbol in config.spot_symbols:
        for day in archive.days:
            add("binance_spot", "klines", symbol, day)
    # The quarterlies of the coins that have them, derived as staging derives them.
    for exchange, symbol in perps if config.delivery else ():
        for day in archive.days:
            for name in ("delivery_klines", "delivery_metrics"):
                for contract in dataset(exchange, name).symbols_on([symbol], day):
                    add(exchange, name, contract, day)
    return files


def _day_start_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * DAY_MS


def _as_us(column: str) -> pl.Expr:
    return pl.col(column).dt.cast_time_unit("us")


# Fixtures


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """One archive reused by every read-only test of this module."""
    return _run(replace(SHARED, out=tmp_path_factory.mktemp("shared")))


@pytest.fixture(scope="module")
def treadmill_cycle(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """One full 15-day cycle of the default scenario for BTCUSDT alone."""
    config = SimConfig(
        out=tmp_path_factory.mktemp("treadmill"),
        start=date(2024, 2, 1),
        end=date(2024, 2, 15),
        symbols=("BTCUSDT",),
        coin_margined=(),
        spot=(),
        workers=1,
    )
    assert config.scenario == "treadmill"
    return _run(config)


@pytest.fixture(scope="module")
def squeeze_cycle(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """One full 10-day cycle of the squeeze scenario for BTCUSDT alone."""
    return _run(
        SimConfig(
            out=tmp_path_factory.mktemp("squeeze"),
            start=date(2024, 2, 1),
            end=date(2024, 2, 10),
            symbols=("BTCUSDT",),
            coin_margined=(),
            spot=(),
            scenario="squeeze",
            workers=1,
        )
    )


# 1. Determinism


def test_same_seed_gives_byte_identical_archive_whatever_the_workers(
    shared: Archive, tmp_path: Path
) -> None:
    assert shared.config.workers == 1
    parallel = _run(replace(shared.config, out=tmp_path / "parallel", workers=2))
    first, second = _tree(shared.root), _tree(parallel.root)
    assert len(first) > 50
    assert first == second
    assert parallel.summary == shared.summary
    # The ground truth is the same too (row for row, not just the archive).
    for name in ("liquidations", "liquidation_totals", "funding", "positions", "phases"):
        assert _truth(shared, name).equals(_truth(parallel, name)), name


def test_different_seed_gives_different_klines(shared: Archive, tmp_path: Path) -> None:
    other = _run(
        replace(
            shared.config,
            out=tmp_path / "other",
            seed=shared.config.seed + 1,
            symbols=("BTCUSDT",),
            coin_margined=(),
            spot=(),
        )
    )
    rel = dataset("binance_um", "klines").archive_path("BTCUSDT", shared.config.start)
    assert (other.root / rel).is_file()
    assert _csv_text(other.root / rel) != _csv_text(shared.root / rel)
    assert _tree(other.root)[rel] != _tree(shared.root)[rel]


# 2. Format conformance


def test_archive_tree_is_exactly_the_datasets_paths(shared: Archive) -> None:
    expected = _expected_files(shared)
    written = {path.relative_to(shared.root).as_posix() for path in _zips(shared.root)}
    assert written == set(expected)
    assert shared.summary.files == len(written)
    # Every dataset that exists for these dates is present, liquidations included.
    names = {(e.exchange, e.name) for e in expected.values()}
    assert ("binance_um", "liquidation_snapshot") in names
    assert ("binance_cm", "liquidation_snapshot") in names
    # Only zips and their CHECKSUMs, nothing else.
    others = [
        p
        for p in (shared.root / "data").rglob("*")
        if p.is_file() and not p.name.endswith((".zip", ".zip.CHECKSUM"))
    ]
    assert others == []


def test_kline_class_names_do_not_carry_their_type(shared: Archive) -> None:
    day = shared.config.start
    for rel in (
        "data/futures/um/daily/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2024-02-01.zip",
        "data/futures/um/daily/indexPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2024-02-01.zip",
        "data/futures/um/daily/premiumIndexKlines/BTCUSDT/1m/BTCUSDT-1m-2024-02-01.zip",
        "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-01.zip",
        # COIN-M index klines are keyed by the bare pair.
        "data/futures/cm/daily/indexPriceKlines/BTCUSD/1m/BTCUSD-1m-2024-02-01.zip",
        "data/futures/cm/daily/markPriceKlines/BTCUSD_PERP/1m/BTCUSD_PERP-1m-2024-02-01.zip",
        "data/futures/cm/daily/premiumIndexKlines/BTCUSD_PERP/1m/BTCUSD_PERP-1m-2024-02-01.zip",
        "data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2024-02-01.zip",
        "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-02.zip",
        "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-01.zip",
    ):
        assert (shared.root / rel).is_file(), rel
    assert dataset("binance_cm", "index_price_klines").archive_path("BTCUSD_PERP", day) == (
        "data/futures/cm/daily/indexPriceKlines/BTCUSD/1m/BTCUSD-1m-2024-02-01.zip"
    )
    for path in _zips(shared.root):
        assert "PriceKlines" not in path.name
        assert "premiumIndex" not in path.name
    assert not (shared.root / "data/futures/cm/daily/indexPriceKlines/BTCUSD_PERP").exists()
    # Funding is monthly only: no daily fundingRate prefix.
    assert not list((shared.root / "data").glob("futures/*/daily/fundingRate"))


def test_every_file_parses_and_has_a_matching_checksum(shared: Archive) -> None:
    expected = _expected_files(shared)
    for path in _zips(shared.root):
        rel = path.relative_to(shared.root).as_posix()
        checksum = path.with_name(path.name + ".CHECKSUM")
        assert checksum.is_file(), rel
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert checksum.read_text() == f"{digest}  {path.name}\n"
        spec = expected[rel]
        parsed = _parse(shared.root, spec.exchange, spec.name, spec.symbol, spec.day)
        assert parsed.table.num_rows > 0, rel
        assert parsed.extra_columns == ()


def test_futures_klines_have_the_12_column_header_and_spot_none(shared: Archive) -> None:
    assert ",".join(formats.KLINE_COLUMNS) == KLINE_HEADER
    perps = [("binance_um", s) for s in shared.config.symbols] + [
        ("binance_cm", s) for s in shared.config.coin_margined
    ]
    for day in shared.days:
        for exchange, symbol in perps:
            for name in FUTURES_KLINES:
                rel = dataset(exchange, name).archive_path(symbol, day)
                lines = _csv_text(shared.root / rel).splitlines()
                assert lines[0] == KLINE_HEADER, rel
                assert len(lines) == 1 + 1440
                assert all(len(line.split(",")) == 12 for line in lines[1:])
                parsed = _parse(shared.root, exchange, name, symbol, day)
                assert parsed.had_header
                assert parsed.timestamp_unit == "ms"
        for symbol in shared.config.spot_symbols:
            rel = dataset("binance_spot", "klines").archive_path(symbol, day)
            lines = _csv_text(shared.root / rel).splitlines()
            assert len(lines) == 1440
            assert lines[0][0].isdigit()
            assert len(lines[0].split(",")) == 12
            parsed = _parse(shared.root, "binance_spot", "klines", symbol, day)
            assert not parsed.had_header
            assert parsed.timestamp_unit == "ms"


def test_kline_rows_are_whole_days_of_1m_bars_with_13_digit_ms(shared: Archive) -> None:
    for day in shared.days:
        start = _day_start_ms(day)
        for exchange, name, symbol in [
            ("binance_um", "klines", "BTCUSDT"),
            ("binance_um", "mark_price_klines", "ETHUSDT"),
            ("binance_cm", "index_price_klines", "BTCUSD_PERP"),
            ("binance_spot", "klines", "BTCUSDT"),
        ]:
            rel = dataset(exchange, name).archive_path(symbol, day)
            rows = [line.split(",") for line in _csv_text(shared.root / rel).splitlines()]
            if rows[0][0] == "open_time":
                rows = rows[1:]
            open_times = [int(r[0]) for r in rows]
            assert open_times == [start + 60_000 * k for k in range(1440)]
            assert all(len(r[0]) == 13 and len(r[6]) == 13 for r in rows)
            assert all(int(r[6]) == int(r[0]) + 59_999 for r in rows)


def test_kline_prices_are_consistent_bars(shared: Archive) -> None:
    for exchange, symbol in [
        ("binance_um", "BTCUSDT"),
        ("binance_um", "ETHUSDT"),
        ("binance_cm", "BTCUSD_PERP"),
    ]:
        for name in FUTURES_KLINES:
            bars = _concat(shared, exchange, name, symbol)
            assert bars.height == 1440 * shared.config.days
            assert bars["ts"].is_sorted()
            assert bars["ts"].n_unique() == bars.height
            bad = bars.filter(
                (pl.col("low") > pl.min_horizontal("open", "close"))
                | (pl.col("high") < pl.max_horizontal("open", "close"))
            )
            assert bad.height == 0, (exchange, symbol, name, bad.head())
            if name != "premium_index_klines":
                assert bars["low"].min() > 0  # type: ignore[operator]
            # Bars chain: each bar opens where the previous one closed (days included).
            # Trade bars are on the symbol's tick; mark/index/premium values on 8 decimals.
            gaps = (bars["open"].slice(1) - bars["close"].slice(0, bars.height - 1)).abs()
            tick = 10.0 ** -market_spec(symbol).price_decimals if name == "klines" else 1e-8
            assert gaps.max() <= tick * 1.5, (exchange, symbol, name)  # type: ignore[operator]


def test_mark_index_premium_klines_have_zero_volumes_and_sample_counts(shared: Archive) -> None:
    samples = {"mark_price_klines": 60, "index_price_klines": 60, "premium_index_klines": 12}
    for exchange, symbol in [("binance_um", "BTCUSDT"), ("binance_cm", "BTCUSD_PERP")]:
        for name, count in samples.items():
            bars = _concat(shared, exchange, name, symbol)
            assert (bars["trade_count"] == count).all()
            for column in ("volume_base", "volume_quote", "taker_buy_base", "taker_buy_quote"):
                assert (bars[column] == 0).all(), (name, column)
        premium = _concat(shared, exchange, "premium_index_klines", symbol)
        # The premium index is a ratio (e.g. −0.0008), not a price.
        assert premium["close"].abs().max() < 0.01  # type: ignore[operator]
    trades = _concat(shared, "binance_um", "klines", "BTCUSDT")
    assert (trades["volume_base"] > 0).all()
    assert (trades["taker_buy_base"] <= trades["volume_base"]).all()
    assert (trades["trade_count"] >= 1).all()


def test_cm_klines_count_volume_in_100_usd_contracts(shared: Archive) -> None:
    bars = _concat(shared, "binance_cm", "klines", "BTCUSD_PERP")
    # Parsed: volume_base from column 8 (BTC), volume_quote = contracts × 100 USD.
    contracts = bars["volume_quote"] / 100.0
    assert ((contracts - contracts.round()).abs() < 1e-9).all()
    # contracts = round(base × price / 100): off by at most half a contract plus a close tick.
    err = (bars["volume_quote"] - bars["volume_base"] * bars["close"]).abs()
    bound = 50.0 + bars["volume_base"] * 0.1
    assert (err <= bound).all()


def test_metrics_header_labels_and_convention(shared: Archive) -> None:
    assert ",".join(formats.METRICS_COLUMNS) == METRICS_HEADER
    stamp = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
    perps = [("binance_um", s) for s in shared.config.symbols] + [
        ("binance_cm", s) for s in shared.config.coin_margined
    ]
    for exchange, symbol in perps:
        for day in shared.days:
            rel = dataset(exchange, "metrics").archive_path(symbol, day)
            lines = _csv_text(shared.root / rel).splitlines()
            assert lines[0] == METRICS_HEADER
            rows = [line.split(",") for line in lines[1:]]
            assert len(rows) == 288
            labels = [r[0] for r in rows]
            assert all(stamp.match(label) for label in labels)
            assert labels[0] == f"{day} 00:00:00"
            assert labels[-1] == f"{day} 23:55:00"
            assert labels == [
                (datetime(day.year, day.month, day.day) + timedelta(minutes=5 * k)).strftime(
                    "%Y-%m-%d %H:%M:%S"
                )
                for k in range(288)
            ]
            assert {r[1] for r in rows} == {symbol}
            parsed = _parse(shared.root, exchange, "metrics", symbol, day)
            assert parsed.label_convention == "period_start"
            assert parsed.timestamp_unit == "text"
            assert parsed.rows_read == 288
            assert parsed.duplicates_dropped == 0
            table = _frame(parsed)
            if exchange == "binance_cm":
                # COIN-M leaves the top-trader ratios empty.
                assert table["top_account_ls_ratio"].null_count() == 288
                assert table["top_position_ls_ratio"].null_count() == 288
            else:
                assert table["top_account_ls_ratio"].null_count() == 0


def test_metrics_stock_is_the_snapshot_at_the_end_of_its_5_minutes(shared: Archive) -> None:
    """Label T holds OI at T+5m (mark close of bar T+4m) and taker flow over [T, T+5m)."""
    for exchange, symbol in [
        ("binance_um", "BTCUSDT"),
        ("binance_um", "ETHUSDT"),
        ("binance_cm", "BTCUSD_PERP"),
    ]:
        metrics = _concat(shared, exchange, "metrics", symbol)
        mark = _concat(shared, exchange, "mark_price_klines", symbol).select(
            (pl.col("ts") - pl.duration(minutes=4)).alias("ts"), pl.col("close").alias("mark")
        )
        joined = metrics.join(mark, on="ts", how="left")
        assert joined["mark"].null_count() == 0
        ratio = joined["oi_usd"] / (joined["oi_base"] * joined["mark"])
        assert (ratio - 1).abs().max() < 1e-6, (exchange, symbol)  # type: ignore[operator]
        if exchange == "binance_cm":
            # Open interest is published in contracts (100 USD for BTC).
            contracts = joined["oi_usd"] / 100.0
            assert ((contracts - contracts.round()).abs() < 1e-6).all()
        assert (metrics["oi_base"] >= 0).all()

    bars = _concat(shared, "binance_um", "klines", "BTCUSDT")
    flow = (
        bars.with_columns(pl.col("ts").dt.truncate("5m").alias("slot"))
        .group_by("slot")
        .agg(
            pl.col("taker_buy_base").sum().alias("buy"),
            (pl.col("volume_base") - pl.col("taker_buy_base")).sum().alias("sell"),
        )
    )
    metrics = _concat(shared, "binance_um", "metrics", "BTCUSDT")
    joined = metrics.join(flow, left_on="ts", right_on="slot", how="left")
    expected = joined["buy"] / joined["sell"]
    assert ((joined["taker_buy_sell_ratio"] / expected - 1).abs() < 2e-3).all()


def test_funding_is_monthly_with_three_settlements_a_day(shared: Archive) -> None:
    assert ",".join(formats.FUNDING_RATE_COLUMNS) == FUNDING_HEADER
    for exchange, symbol in [("binance_um", "BTCUSDT"), ("binance_cm", "BTCUSD_PERP")]:
        rel = dataset(exchange, "funding_rate").archive_path(symbol, shared.config.start)
        market = "um" if exchange == "binance_um" else "cm"
        assert rel == (
            f"data/futures/{market}/monthly/fundingRate/{symbol}/{symbol}-fundingRate-2024-02.zip"
        )
        lines = _csv_text(shared.root / rel).splitlines()
        assert lines[0] == FUNDING_HEADER
        rows = [line.split(",") for line in lines[1:]]
        assert len(rows) == 3 * shared.config.days
        settlements = [
            _day_start_ms(day) + hour * HOUR_MS for day in shared.days for hour in (0, 8, 16)
        ]
        calc = [int(r[0]) for r in rows]
        assert all(len(r[0]) == 13 for r in rows)
        # calc_time lands a few ms after each settlement.
        assert all(0 <= c - s < 20 for c, s in zip(calc, settlements, strict=True))
        assert any(c != s for c, s in zip(calc, settlements, strict=True))
        assert {r[1] for r in rows} == {"8"}
        parsed = _frame(_parse(shared.root, exchange, "funding_rate", symbol, shared.config.start))
        times = parsed["funding_time"].to_list()
        assert times == [
            datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=s) for s in settlements
        ]
        assert {t.hour for t in times} == {0, 8, 16}


def test_liquidation_snapshots_have_10_columns_and_every_row_twice(shared: Archive) -> None:
    assert ",".join(formats.LIQUIDATION_SNAPSHOT_COLUMNS) == LIQUIDATION_HEADER
    expected = _expected_files(shared)
    not_twice: list[tuple[str, dict[int, int]]] = []
    seen = 0
    for path in _zips(shared.root):
        if "liquidationSnapshot" not in path.as_posix():
            continue
        seen += 1
        lines = _csv_text(path).splitlines()
        assert lines[0] == LIQUIDATION_HEADER
        assert "symbol" not in lines[0].split(",")
        body = lines[1:]
        assert all(len(line.split(",")) == 10 for line in body)
        assert all(len(line.split(",")[0]) == 13 for line in body)
        assert {line.split(",")[1] for line in body} <= {"SELL", "BUY"}
        assert {line.split(",")[7] for line in body} == {"FILLED"}
        spec = expected[path.relative_to(shared.root).as_posix()]
        parsed = _parse(shared.root, spec.exchange, spec.name, spec.symbol, spec.day)
        assert parsed.timestamp_unit == "ms"
        assert parsed.rows_read == len(body)
        # Rows belong to the file's own UTC day.
        assert {ts.date() for ts in _frame(parsed)["ts"].to_list()} == {spec.day}
        # The archive's quirk: every forced order is published exactly twice, so a reader
        # that drops exact duplicates (FORMATS.md §1.4) keeps every order once.
        counts = Counter(body)
        if set(counts.values()) != {2} or parsed.duplicates_dropped * 2 != parsed.rows_read:
            not_twice.append((path.name, dict(Counter(counts.values()))))
    assert seen == 3 * 3  # two UM symbols and one CM symbol, three days
    assert not_twice == [], "rows not published exactly twice (copies → rows): " + str(not_twice)


def test_distinct_forced_orders_are_distinct_archive_rows(shared: Archive) -> None:
    """Two different forced orders must not print as the same row.

    Otherwise the archive's doubled rows (four copies) collapse into one order when the
    reader drops exact duplicates, and the archive undercounts the ground truth.
    """
    truth = _truth(shared, "liquidations").filter(pl.col("published"))
    published = ["exchange", "symbol", "ts_ms", "side", "qty_archive", "bankruptcy", "fill"]
    clashes = truth.group_by(published).agg(
        pl.len().alias("orders"), pl.col("leverage"), pl.col("entry")
    )
    clashes = clashes.filter(pl.col("orders") > 1)
    assert clashes.height == 0, clashes.to_dicts()


def test_spot_switches_to_microseconds_in_2025_futures_stay_ms(tmp_path: Path) -> None:
    archive = _run(
        SimConfig(
            out=tmp_path / "sim",
            start=date(2024, 12, 31),
            end=date(2025, 1, 1),
            symbols=("BTCUSDT",),
            coin_margined=(),
            spot=("BTCUSDT",),
            workers=1,
        )
    )
    old, new = archive.days
    assert _parse(archive.root, "binance_spot", "klines", "BTCUSDT", old).timestamp_unit == "ms"
    parsed = _parse(archive.root, "binance_spot", "klines", "BTCUSDT", new)
    assert parsed.timestamp_unit == "us"
    assert not parsed.had_header
    bars = _frame(parsed)
    assert bars["ts"][0] == datetime(2025, 1, 1, tzinfo=UTC)
    assert bars["ts"][-1] == datetime(2025, 1, 1, 23, 59, tzinfo=UTC)
    rel = dataset("binance_spot", "klines").archive_path("BTCUSDT", new)
    rows = [line.split(",") for line in _csv_text(archive.root / rel).splitlines()]
    assert all(len(r[0]) == 16 and len(r[6]) == 16 for r in rows)
    assert all(int(r[6]) == int(r[0]) + 59_999_999 for r in rows)
    assert int(rows[0][0]) == _day_start_ms(new) * 1000
    for name in FUTURES_KLINES:
        futures = _parse(archive.root, "binance_um", name, "BTCUSDT", new)
        assert futures.timestamp_unit == "ms"
        assert futures.had_header
    funding = _parse(archive.root, "binance_um", "funding_rate", "BTCUSDT", new)
    assert funding.timestamp_unit == "ms"
    # Both months got their own funding file.
    assert (
        archive.root / dataset("binance_um", "funding_rate").archive_path("BTCUSDT", old)
    ).is_file()
    # Outside the UM liquidation window: nothing published.
    assert not list((archive.root / "data").rglob("*liquidationSnapshot*"))


def test_futures_klines_are_headerless_before_2022_05_01(tmp_path: Path) -> None:
    archive = _run(
        SimConfig(
            out=tmp_path / "sim",
            start=date(2022, 4, 30),
            end=date(2022, 5, 1),
            symbols=("BTCUSDT",),
            coin_margined=("BTCUSD_PERP",),
            spot=(),
            workers=1,
        )
    )
    before, after = archive.days
    for exchange, symbol in [("binance_um", "BTCUSDT"), ("binance_cm", "BTCUSD_PERP")]:
        for name in FUTURES_KLINES:
            rel = dataset(exchange, name).archive_path(symbol, before)
            first = _csv_text(archive.root / rel).splitlines()[0]
            assert first[0].isdigit(), rel
            assert len(first.split(",")) == 12
            old = _parse(archive.root, exchange, name, symbol, before)
            assert not old.had_header
            assert old.table.num_rows == 1440
            new = _parse(archive.root, exchange, name, symbol, after)
            assert new.had_header
        # Metrics and funding carry their headers whatever the date.
        assert _parse(archive.root, exchange, "metrics", symbol, before).had_header
        assert _parse(archive.root, exchange, "funding_rate", symbol, before).had_header
    # Before the first liquidation snapshot day (2023-06-25): nothing published.
    assert not list((archive.root / "data").rglob("*liquidationSnapshot*"))


def test_liquidation_snapshots_only_inside_the_availability_window(tmp_path: Path) -> None:
    base = SimConfig(
        out=tmp_path / "inside",
        start=date(2024, 3, 30),
        end=date(2024, 4, 1),
        symbols=("BTCUSDT",),
        coin_margined=("BTCUSD_PERP",),
        spot=(),
        workers=1,
    )
    archive = _run(base)
    um = dataset("binance_um", "liquidation_snapshot")
    cm = dataset("binance_cm", "liquidation_snapshot")
    truth = _truth(archive, "liquidations").with_columns(
        pl.from_epoch("ts_ms", time_unit="ms").dt.date().alias("date")
    )
    for exchange, symbol in [("binance_um", "BTCUSDT"), ("binance_cm", "BTCUSD_PERP")]:
        ds = dataset(exchange, "liquidation_snapshot")
        for day in archive.days:
            orders = truth.filter(pl.col("exchange") == exchange, pl.col("date") == day)
            assert orders.height > 0, (exchange, day)
            present = (archive.root / ds.archive_path(symbol, day)).is_file()
            assert present == ds.is_available(day), (exchange, day)
            assert set(orders["published"].to_list()) == {ds.is_available(day)}
    assert um.is_available(date(2024, 3, 31))
    assert not um.is_available(date(2024, 4, 1))
    assert cm.is_available(date(2024, 4, 1))
    totals = _truth(archive, "liquidation_totals")
    assert not totals.filter(
        pl.col("exchange") == "binance_um", pl.col("date") == date(2024, 4, 1)
    )["published"].any()

    outside = _run(replace(base, out=tmp_path / "outside", liquidations_outside_window=True))
    assert (outside.root / um.archive_path("BTCUSDT", date(2024, 4, 1))).is_file()
    assert _truth(outside, "liquidations")["published"].all()
    # The flag changes publication only, not the market.
    assert _truth(outside, "liquidations").drop("published").equals(truth.drop("published", "date"))


# 3. Physical sanity


@pytest.mark.parametrize(
    ("leverage", "long_ratio", "short_ratio"),
    [
        (10, 0.90361, 1.09562),
        (25, 0.96386, 1.03586),
        (50, 0.98394, 1.01594),
        (100, 0.99398, 1.00598),
        (125, 0.99598, 1.00398),
    ],
)
def test_liquidation_price_reproduces_the_domain_tier_1_table(
    leverage: int, long_ratio: float, short_ratio: float
) -> None:
    notional = 10_000.0  # tier 1: MMR 0.4 %, cum 0
    assert round(rules.liquidation_price(1.0, leverage, notional, True), 5) == long_ratio
    assert round(rules.liquidation_price(1.0, leverage, notional, False), 5) == short_ratio
    # Linear in the entry price.
    entry = 86_123.4
    assert rules.liquidation_price(entry, leverage, notional, True) == pytest.approx(
        entry * rules.liquidation_price(1.0, leverage, notional, True), rel=1e-12
    )


@pytest.mark.parametrize("notional", [1_000.0, 75_000.0, 1_000_000.0, 5e6, 2e7])
@pytest.mark.parametrize("leverage", [5, 10, 20, 25])
@pytest.mark.parametrize("is_long", [True, False])
def test_liquidation_price_matches_the_general_binance_formula(
    notional: float, leverage: int, is_long: bool
) -> None:
    """DOMAIN.md §1.4, isolated: LP = (WB + cumB − side·Q·EP)/(Q·MMR − side·Q), WB = N/L."""
    entry = 50_000.0
    price = rules.liquidation_price(entry, leverage, notional, is_long)
    qty, side = notional / entry, (1 if is_long else -1)
    # The bracket that applies is the one of the notional at the liquidation price.
    bracket = rules.bracket_for(qty * price)
    expected = (notional / leverage + bracket.cum - side * qty * entry) / (
        qty * bracket.mmr - side * qty
    )
    assert price == pytest.approx(expected, rel=1e-12)
    # At that price the margin left equals the maintenance margin N·MMR − cum.
    margin_left = notional / leverage + side * qty * (price - entry)
    assert margin_left == pytest.approx(qty * price * bracket.mmr - bracket.cum, abs=1e-6)
    assert (price < entry) if is_long else (price > entry)


def test_liquidation_price_recomputes_with_the_bracket_at_the_liquidation_price() -> None:
    # 49k short at 10x: the notional at LP is ~53.7k, past the 50k cap of tier 1.
    price = rules.liquidation_price(1.0, 10, 49_000.0, False)
    assert price == pytest.approx((1 + 0.1 + 50 / 49_000) / 1.005, rel=1e-12)
    assert price != pytest.approx((1 + 0.1) / 1.004, rel=1e-9)


@pytest.mark.parametrize(
    ("mean_premium", "rate"),
    [
        (0.0, 0.0001),
        # DOMAIN §1.1: F = P + clamp(I − P, ±0.05 %): 0.001 + clamp(−0.0009) = 0.001 − 0.0005.
        (0.001, 0.0005),
        (-0.002, -0.0015),
        (0.01, 0.003),
        (-0.01, -0.003),
        (0.0003, 0.0001),
        (-0.0004, 0.0001),
    ],
)
def test_funding_rate_formula(mean_premium: float, rate: float) -> None:
    assert rules.funding_rate(mean_premium, 8) == pytest.approx(rate, abs=1e-15)


def test_funding_anchor_scales_with_the_interval() -> None:
    assert rules.funding_rate(0.0, 4) == pytest.approx(0.00005, abs=1e-15)
    assert rules.funding_rate(0.0, 1) == pytest.approx(0.0000125, abs=1e-15)
    assert rules.funding_rate(1.0, 4) == rules.FUNDING_CAP


def test_funding_is_within_caps_and_equals_truth(shared: Archive, treadmill_cycle: Archive) -> None:
    for archive in (shared, treadmill_cycle):
        truth = _truth(archive, "funding")
        for exchange, symbol in [("binance_um", s) for s in archive.config.symbols] + [
            ("binance_cm", s) for s in archive.config.coin_margined
        ]:
            parsed = _frame(
                _parse(archive.root, exchange, "funding_rate", symbol, archive.config.start)
            )
            assert parsed.height == 3 * archive.config.days
            assert (parsed["funding_rate"].abs() <= rules.FUNDING_CAP).all()
            expected = truth.filter(pl.col("exchange") == exchange, pl.col("symbol") == symbol)
            assert parsed["funding_rate"].to_list() == expected["funding_rate"].to_list()
            assert (
                parsed["funding_interval_hours"].to_list() == expected["interval_hours"].to_list()
            )
            settle_ms = parsed["funding_time"].dt.epoch("ms").to_list()
            assert settle_ms == expected["funding_ms"].to_list()
    # A whole cycle of the treadmill does not sit at the anchor: the crowd moves funding.
    rates = _frame(
        _parse(treadmill_cycle.root, "binance_um", "funding_rate", "BTCUSDT", date(2024, 2, 1))
    )["funding_rate"]
    assert (rates != 0.0001).sum() > 0


def test_funding_is_binance_formula_over_the_archived_premium_index(shared: Archive) -> None:
    """Each settlement equals F(mean premium of the 8 h before it) from the premium klines."""
    for exchange, symbol in [("binance_um", "BTCUSDT"), ("binance_cm", "BTCUSD_PERP")]:
        premium = _concat(shared, exchange, "premium_index_klines", symbol)
        funding = _frame(_parse(shared.root, exchange, "funding_rate", symbol, shared.config.start))
        checked = 0
        for settled, rate in funding.select("funding_time", "funding_rate").iter_rows():
            window = premium.filter(
                pl.col("ts") >= settled - timedelta(hours=8), pl.col("ts") < settled
            )
            if window.height < 480:
                continue  # the first settlement averages the burn-in
            mean = window["close"].mean()
            assert isinstance(mean, float)
            assert rate == pytest.approx(rules.funding_rate(mean, 8), abs=2e-8), settled
            checked += 1
        assert checked == 3 * shared.config.days - 1


def test_calm_market_settles_at_the_anchor(tmp_path: Path) -> None:
    archive = _run(
        SimConfig(
            out=tmp_path / "calm",
            start=date(2024, 2, 1),
            end=date(2024, 2, 4),
            symbols=("BTCUSDT",),
            coin_margined=(),
            spot=(),
            scenario="calm",
            workers=1,
        )
    )
    rel = dataset("binance_um", "funding_rate").archive_path("BTCUSDT", archive.config.start)
    rates = [line.split(",")[2] for line in _csv_text(archive.root / rel).splitlines()[1:]]
    assert len(rates) == 12
    assert sum(rate == "0.0001" for rate in rates) >= 0.8 * len(rates)
    assert all(abs(float(rate)) <= rules.FUNDING_CAP for rate in rates)


def test_open_interest_is_never_negative(shared: Archive, treadmill_cycle: Archive) -> None:
    for archive in (shared, treadmill_cycle):
        for exchange, symbol in [("binance_um", s) for s in archive.config.symbols] + [
            ("binance_cm", s) for s in archive.config.coin_margined
        ]:
            metrics = _concat(archive, exchange, "metrics", symbol)
            assert metrics.height == 288 * archive.config.days
            assert metrics["oi_base"].null_count() == 0
            assert (metrics["oi_base"] >= 0).all()
            assert (metrics["oi_usd"] >= 0).all()


def test_every_liquidation_is_at_a_price_the_mark_crossed(shared: Archive) -> None:
    published = _published_days(shared)
    for exchange, symbol in [
        ("binance_um", "BTCUSDT"),
        ("binance_um", "ETHUSDT"),
        ("binance_cm", "BTCUSD_PERP"),
    ]:
        tick = 10.0 ** -market_spec(symbol).price_decimals
        days = [d for d in shared.days if (exchange, symbol, d) in published]
        liquidations = _concat(shared, exchange, "liquidation_snapshot", symbol, days)
        assert liquidations.height > 0
        mark = _concat(shared, exchange, "mark_price_klines", symbol).select(
            pl.col("ts").alias("minute"), "low", "high"
        )
        joined = liquidations.with_columns(pl.col("ts").dt.truncate("1m").alias("minute")).join(
            mark, on="minute", how="left"
        )
        assert joined["low"].null_count() == 0
        sells = joined.filter(pl.col("side") == "SELL")
        buys = joined.filter(pl.col("side") == "BUY")
        assert sells.height > 0
        assert buys.height > 0
        # SELL = a long liquidated: the mark went down to the fill; BUY: up to it.
        assert (sells["low"] <= sells["avg_price"] + tick).all(), exchange
        assert (buys["high"] >= buys["avg_price"] - tick).all(), exchange
        # The order's limit is the bankruptcy price, beyond the fill.
        assert (sells["price"] <= sells["avg_price"]).all()
        assert (buys["price"] >= buys["avg_price"]).all()
        assert (joined["filled_qty_base"] > 0).all()
        assert (joined["filled_qty_base"] == joined["original_qty_base"]).all()

    # In the ground truth, the exact level itself was crossed by the mark of that minute.
    truth = _truth(shared, "liquidations").filter(pl.col("exchange") == "binance_um")
    marks = pl.concat(
        [
            _concat(shared, "binance_um", "mark_price_klines", symbol).select(
                pl.lit(symbol).alias("symbol"),
                pl.col("ts").dt.epoch("ms").alias("minute_ms"),
                "low",
                "high",
            )
            for symbol in shared.config.symbols
        ]
    )
    joined = truth.with_columns((pl.col("ts_ms") // 60_000 * 60_000).alias("minute_ms")).join(
        marks, on=["symbol", "minute_ms"], how="left"
    )
    assert joined["low"].null_count() == 0
    longs = joined.filter(pl.col("side") == "long")
    shorts = joined.filter(pl.col("side") == "short")
    assert (longs["low"] <= longs["level"] * (1 + 1e-9)).all()
    assert (shorts["high"] >= shorts["level"] * (1 - 1e-9)).all()


def test_archive_liquidation_totals_equal_the_ground_truth(shared: Archive) -> None:
    totals = _truth(shared, "liquidation_totals").filter(pl.col("published"))
    assert totals.height > 0
    parsed = pl.concat(
        [
            _frame(_parse(shared.root, spec.exchange, spec.name, spec.symbol, spec.day))
            for spec in _expected_files(shared).values()
            if spec.name == "liquidation_snapshot"
        ]
    )
    archive = (
        parsed.with_columns(
            pl.col("ts").dt.date().alias("date"),
            pl.when(pl.col("side") == "SELL")
            .then(pl.lit("long"))
            .otherwise(pl.lit("short"))
            .alias("side"),
        )
        .group_by("exchange", "symbol", "date", "side")
        .agg(
            pl.len().alias("archive_orders"),
            pl.col("filled_qty_base").sum().alias("archive_qty"),
            (pl.col("filled_qty_base") * pl.col("avg_price")).sum().alias("archive_notional"),
        )
    )
    joined = totals.join(archive, on=["exchange", "symbol", "date", "side"], how="full")
    assert joined.height == totals.height == archive.height
    assert joined["qty_base"].null_count() == 0
    assert joined["archive_qty"].null_count() == 0
    for row in joined.iter_rows(named=True):
        key = (row["exchange"], row["symbol"], row["date"], row["side"])
        assert row["archive_orders"] == row["orders"], key
        assert row["archive_qty"] == pytest.approx(row["qty_base"], rel=1e-9), key
        assert row["archive_notional"] == pytest.approx(row["notional_usd"], rel=1e-9), key


def _tier_ratio(leverage: int, is_long: bool) -> float:
    notional = TIER_NOTIONAL_USD[LEVERAGE_TIERS.index(leverage)]
    return rules.liquidation_price(1.0, leverage, notional, is_long)


def test_truth_levels_are_the_exact_liquidation_prices(shared: Archive) -> None:
    truth = _truth(shared, "liquidations")
    assert truth.height > 0
    for row in truth.iter_rows(named=True):
        is_long = row["side"] == "long"
        ratio = _tier_ratio(row["leverage"], is_long)
        assert row["level"] == pytest.approx(row["entry"] * ratio, rel=1e-12)
        assert (row["level"] < row["entry"]) if is_long else (row["level"] > row["entry"])
        bankruptcy = rules.bankruptcy_price(row["entry"], row["leverage"], is_long)
        half_tick = 0.5 * 10 ** -market_spec(row["symbol"]).price_decimals
        assert row["bankruptcy"] == pytest.approx(bankruptcy, abs=half_tick * 1.001)
    # 50x and 100x positions are small (tier 1), so their levels are DOMAIN's table exactly.
    for leverage, long_ratio, short_ratio in [(50, 0.98394, 1.01594), (100, 0.99398, 1.00598)]:
        rows = truth.filter(pl.col("leverage") == leverage)
        assert rows.height > 0
        for side, ratio in (("long", long_ratio), ("short", short_ratio)):
            sided = rows.filter(pl.col("side") == side)
            observed = (sided["level"] / sided["entry"]).round(5).unique().to_list()
            assert observed in ([], [ratio])

    positions = _truth(shared, "positions")
    assert set(positions["leverage"].unique().to_list()) == set(LEVERAGE_TIERS)
    # Every open position's level is its leverage's exact ratio times its entry, so the
    # qty-weighted level of each bin is that ratio times the qty-weighted entry.
    weighted_entry = positions["entry_notional_usd"] / positions["qty_base"]
    for row, entry in zip(positions.iter_rows(named=True), weighted_entry, strict=True):
        ratio = _tier_ratio(row["leverage"], row["side"] == "long")
        assert row["level"] == pytest.approx(entry * ratio, rel=1e-9)
    tenx = positions.filter(pl.col("leverage") == 10, pl.col("side") == "long")
    tenx_ratio = (tenx["level"] * tenx["qty_base"] / tenx["entry_notional_usd"]).to_list()
    # 10x positions are modelled at $500k (bracket 2: MMR 0.5 %, cum 50), so their level is
    # (1 − 0.1 − 50/500k)/0.995 = 0.90442 of entry, not the tier-1 0.90361 of DOMAIN's table.
    assert tenx_ratio
    assert all(r == pytest.approx(0.9044221105527639, rel=1e-9) for r in tenx_ratio)
    assert all(abs(r - 0.90361) < 1e-3 for r in tenx_ratio)


# 4. The phases show in the data


def _hourly_by_phase(archive: Archive) -> pl.DataFrame:
    """Per scripted phase: mean hourly OI change and mean hourly liquidation notional."""
    phases = _truth(archive, "phases").with_columns(_as_us("hour"))
    metrics = _concat(archive, "binance_um", "metrics", "BTCUSDT")
    oi = (
        metrics.sort("ts")
        .group_by_dynamic("ts", every="1h")
        .agg(pl.col("oi_base").last())
        .with_columns(pl.col("oi_base").diff().alias("oi_change"))
        .rename({"ts": "hour"})
    )
    days = [d for d in archive.days if ("binance_um", "BTCUSDT", d) in _published_days(archive)]
    assert days == archive.days
    liquidations = _concat(archive, "binance_um", "liquidation_snapshot", "BTCUSDT", days)
    notional = pl.col("filled_qty_base") * pl.col("avg_price")
    liq = (
        liquidations.sort("ts")
        .group_by_dynamic("ts", every="1h")
        .agg(
            notional.filter(pl.col("side") == "SELL").sum().alias("long_liq"),
            notional.filter(pl.col("side") == "BUY").sum().alias("short_liq"),
        )
        .rename({"ts": "hour"})
    )
    hourly = (
        phases.join(oi, on="hour", how="left")
        .join(liq, on="hour", how="left")
        .with_columns(pl.col("long_liq", "short_liq").fill_null(0.0))
    )
    assert hourly.height == 24 * archive.config.days
    assert hourly["oi_base"].null_count() == 0
    return hourly.group_by("phase").agg(
        pl.len().alias("hours"),
        pl.col("oi_change").mean(),
        pl.col("long_liq").mean(),
        pl.col("short_liq").mean(),
    )


def _top(table: pl.DataFrame, column: str, descending: bool = True) -> str:
    return str(table.sort(column, descending=descending)["phase"][0])


def test_treadmill_flush_has_the_largest_oi_drop_and_long_liquidations(
    treadmill_cycle: Archive,
) -> None:
    phases = _truth(treadmill_cycle, "phases")
    assert phases.height == 15 * 24
    scenario = SCENARIOS["treadmill"]
    # 15 days hold one whole cycle (build-up → flush → re-lever → flush → reset → neutral).
    assert scenario.cycle_hours <= 15 * 24
    assert phases["phase"].to_list() == [scenario.phase_at(h).name for h in range(15 * 24)]
    first_hours = phases["phase"].head(scenario.cycle_hours).to_list()
    assert [name for k, name in enumerate(first_hours) if k == 0 or first_hours[k - 1] != name] == [
        "leverage_build",
        "latent_fragility",
        "flush",
        "leverage_build",
        "flush",
        "reset",
        "neutral",
    ]
    assert phases["hour"][0] == datetime(2024, 2, 1, tzinfo=UTC)
    by_phase = _hourly_by_phase(treadmill_cycle)
    assert _top(by_phase, "oi_change", descending=False) == "flush"
    assert _top(by_phase, "long_liq") == "flush"
    flush = by_phase.filter(pl.col("phase") == "flush").row(0, named=True)
    assert flush["oi_change"] < 0
    # A burst: several times the long liquidations of an ordinary hour of any other phase.
    others = by_phase.filter(pl.col("phase") != "flush")
    assert flush["long_liq"] > 2 * others["long_liq"].max()  # type: ignore[operator]


def test_squeeze_phase_has_the_largest_short_liquidations(squeeze_cycle: Archive) -> None:
    by_phase = _hourly_by_phase(squeeze_cycle)
    assert set(by_phase["phase"].to_list()) == {"short_build", "squeeze", "reset", "neutral"}
    assert _top(by_phase, "short_liq") == "squeeze"
    assert _top(by_phase, "oi_change", descending=False) == "squeeze"
    squeeze = by_phase.filter(pl.col("phase") == "squeeze").row(0, named=True)
    assert squeeze["short_liq"] > squeeze["long_liq"]


# 5. Quirk injection


def _quirky(shared: Archive, tmp_path: Path, **rates: float) -> Archive:
    return _run(replace(shared.config, out=tmp_path / "quirky", quirks=Quirks(**rates)))


def _config_json(archive: Archive) -> dict[str, object]:
    loaded = json.loads((archive.root / "truth" / "config.json").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _metrics_files(archive: Archive) -> Iterator[tuple[str, str, date, Path]]:
    for exchange, symbols in (
        ("binance_um", archive.config.symbols),
        ("binance_cm", archive.config.coin_margined),
    ):
        for symbol in symbols:
            for day in archive.days:
                rel = dataset(exchange, "metrics").archive_path(symbol, day)
                yield exchange, symbol, day, archive.root / rel


def test_quirk_duplicate_rows(shared: Archive, tmp_path: Path) -> None:
    archive = _quirky(shared, tmp_path, duplicate_rows=1.0)
    for exchange, symbol, day, path in _metrics_files(archive):
        lines = _csv_text(path).splitlines()
        assert len(lines) == 1 + 2 * 288
        assert set(Counter(lines[1:]).values()) == {2}
        parsed = _parse(archive.root, exchange, "metrics", symbol, day)
        assert parsed.rows_read == 576
        assert parsed.duplicates_dropped == 288
        assert parsed.label_convention == "period_start"
        clean = _parse(shared.root, exchange, "metrics", symbol, day)
        assert parsed.table.equals(clean.table)
    injected = _config_json(archive)["injected_quirks"]
    assert isinstance(injected, list)
    assert {q["quirk"] for q in injected} == {"duplicate_rows"}
    assert len(injected) == len(_zips(archive.root)) == archive.summary.files


def test_quirk_missing_day(shared: Archive, tmp_path: Path) -> None:
    archive = _quirky(shared, tmp_path, missing_day=1.0)
    assert _zips(archive.root) == []
    assert archive.summary.files == 0
    config = _config_json(archive)
    injected = config["injected_quirks"]
    assert isinstance(injected, list)
    assert {q["quirk"] for q in injected} == {"missing_day"}
    assert {q["file"] for q in injected} == set(_expected_files(shared))
    assert config["quirks"] == {
        **dict.fromkeys(Quirks.__dataclass_fields__, 0.0),
        "missing_day": 1.0,
    }


def test_quirk_missing_day_lists_exactly_the_missing_files(shared: Archive, tmp_path: Path) -> None:
    archive = _quirky(shared, tmp_path, missing_day=0.3)
    present = {p.relative_to(archive.root).as_posix() for p in _zips(archive.root)}
    injected = _config_json(archive)["injected_quirks"]
    assert isinstance(injected, list)
    missing = {q["file"] for q in injected if q["quirk"] == "missing_day"}
    assert missing
    assert present
    assert missing | present == set(_expected_files(shared))
    assert not missing & present
    # Files that were kept are the clean ones, byte for byte.
    clean = _tree(shared.root)
    kept = _tree(archive.root)
    assert all(kept[rel] == clean[rel] for rel in present)


def test_quirk_next_day_midnight(shared: Archive, tmp_path: Path) -> None:
    archive = _quirky(shared, tmp_path, next_day_midnight=1.0)
    last = archive.days[-1]
    for exchange, symbol, day, path in _metrics_files(archive):
        lines = _csv_text(path).splitlines()
        parsed = _parse(archive.root, exchange, "metrics", symbol, day)
        if day == last:
            assert len(lines) == 1 + 288
            assert lines[-1].startswith(f"{day} 23:55:00,")
            assert parsed.label_convention == "period_start"
            continue
        nxt = day + timedelta(days=1)
        assert len(lines) == 1 + 289
        assert lines[-1].startswith(f"{nxt} 00:00:00,")
        assert parsed.label_convention == "both_midnights"
        # The extra row is the next file's first row, value for value.
        following = _csv_text(
            archive.root / dataset(exchange, "metrics").archive_path(symbol, nxt)
        ).splitlines()
        assert lines[-1] == following[1]
    injected = _config_json(archive)["injected_quirks"]
    assert isinstance(injected, list)
    assert len(injected) == (len(archive.days) - 1) * 3


def test_quirk_headerless_klines(shared: Archive, tmp_path: Path) -> None:
    archive = _quirky(shared, tmp_path, headerless_klines=1.0)
    day = archive.days[0]
    for exchange, symbol in [("binance_um", "BTCUSDT"), ("binance_cm", "BTCUSD_PERP")]:
        for name in FUTURES_KLINES:
            rel = dataset(exchange, name).archive_path(symbol, day)
            first = _csv_text(archive.root / rel).splitlines()[0]
            assert first[0].isdigit(), rel
            parsed = _parse(archive.root, exchange, name, symbol, day)
            assert not parsed.had_header
            assert parsed.table.equals(_parse(shared.root, exchange, name, symbol, day).table)
        # Only klines lose their header.
        assert _parse(archive.root, exchange, "metrics", symbol, day).had_header
    injected = _config_json(archive)["injected_quirks"]
    assert isinstance(injected, list)
    # Four kline types × (2 UM + 1 CM) × 3 days; spot never had a header to lose; the
    # quarterlies' klines (two live contracts of BTC and ETH on UM, of BTC on CM) lose theirs.
    assert len(injected) == 4 * 3 * 3 + 3 * 2 * 3
    assert all("/spot/" not in q["file"] for q in injected)


def test_quirk_zero_e8(shared: Archive, tmp_path: Path) -> None:
    archive = _quirky(shared, tmp_path, zero_e8=1.0)
    injected = _config_json(archive)["injected_quirks"]
    assert isinstance(injected, list)
    # The perpetuals' metrics and the six live quarterlies' (3 perpetuals × 2), for 3 days.
    assert len(injected) == 3 * 3 + 3 * 2 * 3
    by_file = {q["file"]: int(q["row"]) for q in injected}
    for exchange, symbol, day, path in _metrics_files(archive):
        rel = path.relative_to(archive.root).as_posix()
        slot = by_file[rel]
        lines = _csv_text(path).splitlines()
        assert sum("0E-8" in line for line in lines) == 1
        fields = lines[1 + slot].split(",")
        assert fields[2] == "0E-8"
        assert fields[3] == "0E-8"
        parsed = _frame(_parse(archive.root, exchange, "metrics", symbol, day))
        assert parsed.height == 288
        row = parsed.row(slot, named=True)
        assert row["ts"] == datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
            minutes=5 * slot
        )
        assert row["oi_base"] == 0.0
        assert row["oi_usd"] == 0.0
        # Every other row is the clean file's.
        clean = _frame(_parse(shared.root, exchange, "metrics", symbol, day))
        others = [k for k in range(288) if k != slot]
        assert parsed[others].equals(clean[others])


def test_quirk_unsorted_rows(shared: Archive, tmp_path: Path) -> None:
    archive = _quirky(shared, tmp_path, unsorted_rows=1.0)
    for rel, spec in _expected_files(shared).items():
        shuffled = _csv_text(archive.root / rel).splitlines()
        clean = _csv_text(shared.root / rel).splitlines()
        assert shuffled != clean
        assert sorted(shuffled) == sorted(clean)
        parsed = _parse(archive.root, spec.exchange, spec.name, spec.symbol, spec.day)
        reference = _parse(shared.root, spec.exchange, spec.name, spec.symbol, spec.day)
        assert parsed.rows_read == reference.rows_read
        assert parsed.table.num_rows == reference.table.num_rows
        assert parsed.table.equals(reference.table), rel


# 6. The CLI


def test_cli_sim_writes_the_archive(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app,
        [
            "sim",
            "--out",
            str(out),
            "--start",
            "2024-02-01",
            "--end",
            "2024-02-02",
            "--symbols",
            "BTCUSDT",
            "--coin-margined",
            "",
            "--spot",
            "BTCUSDT",
            "--seed",
            "3",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    zips = {p.relative_to(out).as_posix() for p in _zips(out)}
    # UM: 4 kline types + metrics + liquidations per day, one funding month; spot klines; the
    # klines and metrics of BTC's two live quarterlies each day.
    assert len(zips) == 2 * 6 + 1 + 2 + 2 * 2 * 2
    assert f"wrote {len(zips)} files" in result.output
    assert not (out / "data" / "futures" / "cm").exists()
    assert "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-02.zip" in zips
    config = json.loads((out / "truth" / "config.json").read_text())
    assert config["seed"] == 3
    assert config["coin_margined"] == []
    for name in ("liquidations", "liquidation_totals", "positions", "funding", "phases"):
        assert (out / "truth" / f"{name}.parquet").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scenario", "bogus"], "unknown scenario 'bogus'"),
        (["--symbols", "../x"], "'../x'"),
        (["--spot", "../x"], "'../x'"),
        (["--coin-margined", "../x"], "'../x'"),
        (["--start", "2024-02-03"], "before"),
        (["--quirks", "nonsense=1"], "unknown quirk 'nonsense'"),
    ],
)
def test_cli_sim_rejects_bad_input_with_exit_2(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "cli"
    args = [
        "sim",
        "--out",
        str(out),
        "--start",
        "2024-02-01",
        "--end",
        "2024-02-02",
        "--symbols",
        "BTCUSDT",
        "--coin-margined",
        "",
        "--workers",
        "1",
    ]
    for i in range(0, len(extra), 2):
        if extra[i] in args:
            args[args.index(extra[i]) + 1] = extra[i + 1]
        else:
            args += extra[i : i + 2]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "cannot simulate" in result.output
    assert message in result.output
    assert not out.exists() or not list(out.rglob("*.zip"))

"""Binance's quarterly delivery contracts: the expiry rule, the symbols derived for a day, staging
them from the simulator's archive across an expiry, their coverage and their facts."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from simulator.run import SimConfig, simulate_archive
from tests.conftest import FAST_LIMITS
from transforms.coverage import coverage_rows
from transforms.dataset import Dataset
from transforms.facts import FCT_MARKET_1H, FCT_OPEN_INTEREST, FCT_PRICE_1M, build_fact
from transforms.fetch import ArchiveClient
from transforms.instruments import coin_of
from transforms.manifests import StagedPartition
from transforms.publish import publish_partition
from transforms.resume import day_inputs
from transforms.settings import Settings, parse_universe
from transforms.sources import DATASETS, dataset
from transforms.sources.delivery import (
    expiry_of,
    hours_live,
    live_contracts,
    live_expiries,
    quarter_expiry,
)
from transforms.staging import stage_dataset, wanted_files

EXPIRY = date(2024, 3, 29)
"""BTCUSDT_240329's last day: the last Friday of March 2024."""
BEFORE, AFTER = EXPIRY - timedelta(days=1), EXPIRY + timedelta(days=1)
DAYS = [BEFORE, EXPIRY, AFTER]
UNIVERSE = "binance_um:BTCUSDT,SOLUSDT;binance_cm:BTCUSD_PERP"
DELIVERY = [d for d in DATASETS if d.contracts is not None]


def utc(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# The expiry rule


@pytest.mark.parametrize(
    ("year", "month", "expiry"),
    [
        (2024, 3, date(2024, 3, 29)),
        (2024, 6, date(2024, 6, 28)),
        (2024, 9, date(2024, 9, 27)),
        (2024, 12, date(2024, 12, 27)),
        (2025, 3, date(2025, 3, 28)),
        # The month's last day is itself a Friday.
        (2023, 6, date(2023, 6, 30)),
        (2022, 9, date(2022, 9, 30)),
    ],
)
def test_a_quarter_expires_on_its_last_friday(year: int, month: int, expiry: date) -> None:
    assert quarter_expiry(year, month) == expiry
    assert expiry.weekday() == 4
    assert (expiry + timedelta(days=7)).month != month


@pytest.mark.parametrize(
    ("day", "expiries"),
    [
        (date(2024, 1, 1), (date(2024, 3, 29), date(2024, 6, 28))),
        (date(2024, 3, 28), (date(2024, 3, 29), date(2024, 6, 28))),
        # The expiring contract is live on its expiry day; the next-but-one is listed after.
        (EXPIRY, (date(2024, 3, 29), date(2024, 6, 28))),
        (AFTER, (date(2024, 6, 28), date(2024, 9, 27))),
        # Around the quarter boundary: after the last Friday, before the quarter ends.
        (date(2024, 3, 31), (date(2024, 6, 28), date(2024, 9, 27))),
        (date(2024, 4, 1), (date(2024, 6, 28), date(2024, 9, 27))),
        # Across the year.
        (date(2024, 12, 27), (date(2024, 12, 27), date(2025, 3, 28))),
        (date(2024, 12, 28), (date(2025, 3, 28), date(2025, 6, 27))),
        (date(2024, 12, 31), (date(2025, 3, 28), date(2025, 6, 27))),
    ],
)
def test_the_two_nearest_expiries_on_or_after_the_day_are_live(
    day: date, expiries: tuple[date, date]
) -> None:
    assert live_expiries(day) == expiries


def test_expiry_instant_and_trading_hours_come_from_the_symbol() -> None:
    assert expiry_of("BTCUSDT_240329") == utc(EXPIRY, 8)
    assert expiry_of("BTCUSD_240628") == utc(date(2024, 6, 28), 8)
    assert expiry_of("BTCUSDT") is None
    assert expiry_of("BTCUSD_PERP") is None
    assert expiry_of("BTC-USDT-SWAP") is None
    assert hours_live("BTCUSDT_240329", EXPIRY) == 8
    assert hours_live("BTCUSDT_240329", BEFORE) == 24
    assert hours_live("BTCUSDT", EXPIRY) == 24
    assert coin_of("BTCUSDT_240329") == coin_of("BTCUSD_240329") == "BTC"
    assert coin_of("ETHUSDT_240628") == "ETH"


# The symbols derived for a day


def test_the_contracts_of_a_day_follow_from_the_universe_coins() -> None:
    um, cm = dataset("binance_um", "delivery_klines"), dataset("binance_cm", "delivery_metrics")
    universe = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    assert um.symbols_on(universe, EXPIRY) == (
        "BTCUSDT_240329",
        "BTCUSDT_240628",
        "ETHUSDT_240329",
        "ETHUSDT_240628",
    )
    # SOL has no USDⓈ-M quarterlies: nothing is derived for it.
    assert um.symbols_on(("SOLUSDT",), EXPIRY) == ()
    assert um.symbols_on(universe, AFTER) == (
        "BTCUSDT_240628",
        "BTCUSDT_240927",
        "ETHUSDT_240628",
        "ETHUSDT_240927",
    )
    assert cm.symbols_on(("BTCUSD_PERP",), AFTER) == ("BTCUSD_240628", "BTCUSD_240927")
    # Every other dataset's symbols are the universe's, whatever the day.
    assert dataset("binance_um", "klines").symbols_on(universe, EXPIRY) == universe
    assert live_contracts("binance_cm", ["ETHUSD_PERP"], BEFORE) == (
        "ETHUSD_240329",
        "ETHUSD_240628",
    )


def test_no_file_is_asked_after_a_contract_expires() -> None:
    klines = dataset("binance_um", "delivery_klines")
    wanted = wanted_files(klines, DAYS, ["BTCUSDT", "SOLUSDT"])
    assert sorted((symbol, day) for symbol, day in wanted if symbol.endswith("240329")) == [
        ("BTCUSDT_240329", BEFORE),
        ("BTCUSDT_240329", EXPIRY),
    ]
    assert {day for symbol, day in wanted if symbol.endswith("240927")} == {AFTER}
    assert wanted["BTCUSDT_240329", EXPIRY] == (
        "data/futures/um/daily/klines/BTCUSDT_240329/1m/BTCUSDT_240329-1m-2024-03-29.zip"
    )


# Staging from the simulator's archive, across an expiry


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    root = tmp_path_factory.mktemp("delivery")
    mirror = root / "mirror"
    simulate_archive(
        SimConfig(
            out=mirror,
            start=BEFORE,
            end=AFTER,
            symbols=("BTCUSDT", "SOLUSDT"),
            coin_margined=("BTCUSD_PERP",),
            spot=(),
            workers=1,
            venues=False,
            hyperliquid=False,
            cot=False,
        )
    )
    # The archive never got the next quarter's metrics of the day after the expiry.
    missing = dataset("binance_um", "delivery_metrics").archive_path("BTCUSDT_240927", AFTER)
    for path in (mirror / missing, mirror / f"{missing}.CHECKSUM"):
        path.unlink()
    settings = Settings(
        warehouse=root / "warehouse",
        binance_url=mirror.as_uri() + "/",
        universe=parse_universe(UNIVERSE),
        limits=FAST_LIMITS,
    )
    for name in ("klines", "metrics"):
        for exchange in ("binance_um", "binance_cm"):
            _stage(dataset(exchange, name), settings)
    for ds in DELIVERY:
        _stage(ds, settings)
    for model in (FCT_PRICE_1M, FCT_OPEN_INTEREST):
        for day in DAYS:
            publish_partition(
                build_fact(model, day, settings.lake_root), settings.lake_root, model.name, day
            )
    return settings, mirror


def _stage(ds: Dataset, settings: Settings) -> list[StagedPartition]:
    with ArchiveClient(
        settings.binance_url, settings.raw_root / ds.exchange, settings.limits
    ) as client:
        return stage_dataset(ds, DAYS, settings, client)


def _lake(settings: Settings, table: str, day: date) -> pl.DataFrame:
    return pl.read_parquet(settings.lake_root / table / f"date={day}" / "data.parquet")


def test_the_simulator_writes_the_live_quarterlies_up_to_expiry(
    staged: tuple[Settings, Path],
) -> None:
    _, mirror = staged
    truth = pl.read_parquet(mirror / "truth" / "delivery_basis.parquet")
    assert set(truth["symbol"]) == {
        "BTCUSDT_240329",
        "BTCUSDT_240628",
        "BTCUSDT_240927",
        "BTCUSD_240329",
        "BTCUSD_240628",
        "BTCUSD_240927",
    }
    expiring = truth.filter(pl.col("symbol") == "BTCUSDT_240329")
    # Hourly truth up to 07:00 of the expiry day, the basis shrinking toward zero.
    assert expiring["ts_ms"].max() == int(utc(EXPIRY, 7).timestamp() * 1000)
    assert (expiring["basis"].abs() < 0.15 * 2 / 365).all()
    assert truth["basis_apr"].is_between(0.02, 0.15 + 0.015).all()
    assert not list((mirror / "data").rglob("SOLUSDT_*"))


def test_staging_publishes_each_day_its_live_contracts(staged: tuple[Settings, Path]) -> None:
    settings, _ = staged
    table = "stg_binance_um_delivery_klines"
    on_expiry = _lake(settings, table, EXPIRY)
    counts = dict(on_expiry.group_by("symbol").len().iter_rows())
    assert counts == {"BTCUSDT_240329": 8 * 60, "BTCUSDT_240628": 1440}
    assert on_expiry.filter(pl.col("symbol") == "BTCUSDT_240329")["ts"].max() == utc(EXPIRY, 7, 59)
    after = _lake(settings, table, AFTER)
    assert set(after["symbol"]) == {"BTCUSDT_240628", "BTCUSDT_240927"}
    cm = _lake(settings, "stg_binance_cm_delivery_metrics", EXPIRY)
    assert dict(cm.group_by("symbol").len().iter_rows()) == {
        "BTCUSD_240329": 8 * 12,
        "BTCUSD_240628": 288,
    }
    # COIN-M open interest in USD is contracts × 100 USD, in BTC its reported value.
    assert (cm["oi_usd"] / cm["oi_base"]).is_between(50_000, 120_000).all()


def test_coverage_rows_follow_the_day_contracts(staged: tuple[Settings, Path]) -> None:
    settings, _ = staged
    later = utc(AFTER + timedelta(days=10))
    on_expiry = pl.from_arrow(coverage_rows(settings, EXPIRY, later))
    assert isinstance(on_expiry, pl.DataFrame)
    delivery = on_expiry.filter(pl.col("dataset").str.starts_with("delivery_"))
    assert sorted(delivery.select("exchange", "dataset", "symbol", "status").rows()) == [
        ("binance_cm", "delivery_klines", "BTCUSD_240329", "ok"),
        ("binance_cm", "delivery_klines", "BTCUSD_240628", "ok"),
        ("binance_cm", "delivery_metrics", "BTCUSD_240329", "ok"),
        ("binance_cm", "delivery_metrics", "BTCUSD_240628", "ok"),
        ("binance_um", "delivery_klines", "BTCUSDT_240329", "ok"),
        ("binance_um", "delivery_klines", "BTCUSDT_240628", "ok"),
        ("binance_um", "delivery_metrics", "BTCUSDT_240329", "ok"),
        ("binance_um", "delivery_metrics", "BTCUSDT_240628", "ok"),
    ]
    # The expiry day's complete grid is its eight hours.
    expiring = delivery.filter(pl.col("symbol") == "BTCUSDT_240329")
    assert sorted(expiring["expected_rows"].to_list()) == [96, 480]

    def cell(day: date, now: datetime) -> tuple[str, str]:
        table = pl.from_arrow(coverage_rows(settings, day, now))
        assert isinstance(table, pl.DataFrame)
        row = table.filter(
            (pl.col("dataset") == "delivery_metrics") & (pl.col("symbol") == "BTCUSDT_240927")
        )
        return row["status"].item(), row["detail"].item()

    # A derived contract's 404: pending until due, then not_published (not listed), never missing.
    assert cell(AFTER, utc(AFTER, 12))[0] == "pending"
    status, detail = cell(AFTER, later)
    assert status == "not_published"
    assert "derived contract" in detail


def test_resume_inputs_are_the_day_contracts(staged: tuple[Settings, Path]) -> None:
    settings, _ = staged
    inputs = {
        (i.dataset.table, i.symbol)
        for i in day_inputs(settings, AFTER)
        if i.dataset.contracts is not None and i.day == AFTER
    }
    assert ("stg_binance_um_delivery_klines", "BTCUSDT_240927") in inputs
    assert not any(symbol.endswith("240329") for _, symbol in inputs)
    assert not any(symbol.startswith("SOL") for _, symbol in inputs)


def test_facts_carry_contract_type_and_expiry(staged: tuple[Settings, Path]) -> None:
    settings, _ = staged
    assert FCT_PRICE_1M.schema.names[-2:] == ["contract_type", "expiry"]
    assert FCT_OPEN_INTEREST.schema.names[-2:] == ["contract_type", "expiry"]
    for model in (FCT_PRICE_1M, FCT_OPEN_INTEREST):
        fact = _lake(settings, model.name, EXPIRY)
        kinds = {
            (symbol, kind, expiry)
            for symbol, kind, expiry in fact.select("symbol", "contract_type", "expiry").rows()
        }
        assert kinds == {
            ("BTCUSDT", "perpetual", None),
            ("SOLUSDT", "perpetual", None),
            ("BTCUSD_PERP", "perpetual", None),
            ("BTCUSDT_240329", "delivery", utc(EXPIRY, 8)),
            ("BTCUSDT_240628", "delivery", utc(date(2024, 6, 28), 8)),
            ("BTCUSD_240329", "delivery", utc(EXPIRY, 8)),
            ("BTCUSD_240628", "delivery", utc(date(2024, 6, 28), 8)),
        }, model.name
        expiring = fact.filter(pl.col("symbol") == "BTCUSDT_240329")
        assert (expiring["ts"] < utc(EXPIRY, 8)).all(), model.name
    price = _lake(settings, FCT_PRICE_1M.name, EXPIRY)
    delivery = price.filter(pl.col("contract_type") == "delivery")
    # Delivery volume is in USD like the perpetuals' (COIN-M: contracts × 100 USD).
    cm = delivery.filter(pl.col("exchange") == "binance_cm")
    assert (cm["volume_quote"] / cm["volume_base"] / cm["close"]).is_between(0.98, 1.02).all()
    oi = _lake(settings, FCT_OPEN_INTEREST.name, AFTER)
    assert set(oi.filter(pl.col("contract_type") == "delivery")["symbol"]) == {
        "BTCUSDT_240628",
        "BTCUSD_240628",
        "BTCUSD_240927",
    }
    assert set(oi["coin"]) == {"BTC", "SOL"}


def test_market_hours_are_perpetual_only(staged: tuple[Settings, Path]) -> None:
    settings, _ = staged
    hours = build_fact(FCT_MARKET_1H, EXPIRY, settings.lake_root)
    assert isinstance(hours, pa.Table)
    assert hours.num_rows > 0
    assert set(hours["symbol"].to_pylist()) == {"BTCUSDT", "SOLUSDT", "BTCUSD_PERP"}

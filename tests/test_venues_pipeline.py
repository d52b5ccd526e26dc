"""A universe mixing venues, through the daily job in process: Binance's archive beside BitMEX,
Bybit and OKX served over HTTP on 127.0.0.1, and Binance's REST funding standing in for a
monthly file the archive has not published."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from simulator.venue_server import VenueServer, serve_venues
from tests.runs import run_daily, simulate_mirror
from transforms.settings import Settings, parse_universe

FIRST, LAST = date(2024, 2, 1), date(2024, 2, 2)
UNIVERSE = "binance_um:BTCUSDT;bitmex:XBTUSD;bybit:BTCUSDT;okx:BTC-USDT-SWAP"
FUNDING_FILE = "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2024-02.zip"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, VenueServer]]:
    root = tmp_path_factory.mktemp("venues")
    mirror = simulate_mirror(root, FIRST, LAST, symbols=("BTCUSDT",), coin_margined=())
    # The month's funding file is not out yet: Binance's REST history stands in for it.
    (mirror / FUNDING_FILE).unlink()
    (mirror / (FUNDING_FILE + ".CHECKSUM")).unlink()
    with serve_venues(mirror, rate_limits=None) as server:
        warehouse = root / "warehouse"
        run_daily(warehouse, mirror, FIRST, LAST, UNIVERSE, server.treadmill_urls())
        yield warehouse, mirror, server


def lake(warehouse: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(warehouse / "lake" / table / "*" / "data.parquet")


def test_every_venue_lands_in_the_same_facts(built: tuple[Path, Path, VenueServer]) -> None:
    warehouse, mirror, _ = built
    funding = lake(warehouse, "fct_funding")
    assert set(funding["exchange"]) == {"binance_um", "bitmex", "bybit", "okx"}
    assert set(funding["coin"]) == {"BTC"}
    bitmex = funding.filter(pl.col("exchange") == "bitmex").sort("funding_time")
    assert [t.hour for t in bitmex["funding_time"]] == [4, 12, 20] * 2
    truth = pl.read_parquet(mirror / "truth" / "venues_funding.parquet").filter(
        (pl.col("exchange") == "bitmex")
        & (pl.col("funding_time") < datetime(2024, 2, 3, tzinfo=UTC))
    )
    assert bitmex["funding_rate"].to_list() == pytest.approx(
        truth.sort("funding_time")["funding_rate"].to_list()
    )
    apr = funding["funding_rate"] * 24 / funding["funding_interval_hours"] * 365
    assert funding["funding_rate_apr"].to_list() == pytest.approx(apr.to_list())

    oi = lake(warehouse, "fct_open_interest").filter(pl.col("contract_type") == "perpetual")
    per_venue = oi.group_by("exchange").len().sort("exchange")
    assert per_venue.to_dicts() == [
        {"exchange": "binance_um", "len": 576},
        {"exchange": "bybit", "len": 576},
        {"exchange": "okx", "len": 576},
    ]
    # Bybit reports base units only: valued at the coin's mark price, never left null.
    bybit = oi.filter(pl.col("exchange") == "bybit")
    assert bybit["oi_usd"].null_count() == 0
    price = (
        lake(warehouse, "fct_price_1m")
        .filter(pl.col("contract_type") == "perpetual")
        .select("ts", "mark_close")
    )
    joined = bybit.join(price, on="ts")
    assert joined["oi_usd"].to_list() == pytest.approx(
        (joined["oi_base"] * joined["mark_close"]).to_list()
    )


def test_binance_rest_funding_serves_the_unarchived_month(
    built: tuple[Path, Path, VenueServer],
) -> None:
    warehouse, mirror, server = built
    binance = lake(warehouse, "fct_funding").filter(pl.col("exchange") == "binance_um")
    assert binance.height == 6
    assert set(binance["source_file"]) == {"fapi/v1/fundingRate?symbol=BTCUSDT&period=2024-02"}
    truth = pl.read_parquet(mirror / "truth" / "funding.parquet")
    assert truth.height > 0
    coverage = lake(warehouse, "dq_coverage")
    row = coverage.filter(
        (pl.col("exchange") == "binance_um") & (pl.col("dataset") == "funding_rate")
    ).sort("checked_at")
    assert set(row["status"]) == {"ok"}
    assert set(row["source"]) == {"rest"}
    assert all("served by REST history" in detail for detail in row["detail"])
    assert "funding_rate_rest" not in set(coverage["dataset"])
    assert {r.exchange for r in server.log() if "fundingRate" in r.path} == {"binance_um"}


def test_coverage_has_a_row_for_every_rest_dataset(built: tuple[Path, Path, VenueServer]) -> None:
    warehouse, _, _ = built
    coverage = lake(warehouse, "dq_coverage").filter(pl.col("source") == "rest")
    cells = {(r["exchange"], r["dataset"], r["status"]) for r in coverage.iter_rows(named=True)}
    assert cells == {
        ("binance_um", "funding_rate", "ok"),
        ("bitmex", "funding_rate", "ok"),
        ("bybit", "funding_rate", "ok"),
        ("bybit", "open_interest", "ok"),
        ("okx", "funding_rate", "ok"),
        ("okx", "open_interest", "ok"),
    }
    oi_rows = coverage.filter(pl.col("dataset") == "open_interest")
    assert set(oi_rows["rows"]) == {288}
    assert set(oi_rows["expected_rows"]) == {288}


def test_cross_venue_funding_weighs_each_venue_by_its_open_interest(
    built: tuple[Path, Path, VenueServer],
) -> None:
    warehouse, _, _ = built
    cross = lake(warehouse, "fct_funding_cross_venue").sort("ts")
    assert cross.height == 48
    assert set(cross["coin"]) == {"BTC"}
    funding = lake(warehouse, "fct_funding")
    # Delivery contracts settle no funding: the weights are the perpetuals' open interest.
    oi = lake(warehouse, "fct_open_interest").filter(pl.col("contract_type") == "perpetual")
    hour = datetime(2024, 2, 2, 5, tzinfo=UTC)
    row = cross.filter(pl.col("ts") == hour).to_dicts()[0]
    # At 05:00 BitMEX's rate is its 04:00 settlement; the others' their 00:00 one.
    in_force = (
        funding.filter(pl.col("funding_time") <= hour)
        .sort("funding_time")
        .group_by("exchange")
        .last()
        .sort("exchange")
    )
    assert in_force["funding_time"].to_list() == [
        datetime(2024, 2, 2, 0, tzinfo=UTC),
        datetime(2024, 2, 2, 4, tzinfo=UTC),
        datetime(2024, 2, 2, 0, tzinfo=UTC),
        datetime(2024, 2, 2, 0, tzinfo=UTC),
    ]
    weights = (
        oi.filter((pl.col("ts") >= hour) & (pl.col("ts") < hour + timedelta(hours=1)))
        .sort("ts")
        .group_by("exchange")
        .last()
        .select("exchange", "oi_usd")
    )
    weighted = in_force.join(weights, on="exchange", how="inner")
    rates, weights_usd = weighted["funding_rate_8h"].to_list(), weighted["oi_usd"].to_list()
    expected = sum(r * w for r, w in zip(rates, weights_usd, strict=True)) / sum(weights_usd)
    assert row["venues"] == "binance_um,bitmex,bybit,okx"
    assert row["venue_count"] == 4
    assert row["oi_weighted_venue_count"] == 3
    assert row["funding_rate_8h_mean"] == pytest.approx(in_force["funding_rate_8h"].mean())
    assert row["funding_rate_8h_oi_weighted"] == pytest.approx(expected)
    assert row["funding_rate_apr_oi_weighted"] == pytest.approx(expected * 3 * 365)

    aggregate = lake(warehouse, "fct_open_interest_cross_venue")
    at_hour = aggregate.filter(pl.col("ts") == hour).to_dicts()[0]
    assert at_hour["venue_count"] == 3
    assert at_hour["oi_usd"] == pytest.approx(weights["oi_usd"].sum())


def test_a_rerun_reuses_every_closed_chunk_without_a_request(
    built: tuple[Path, Path, VenueServer],
) -> None:
    warehouse, mirror, server = built
    server.reset()
    run_daily(warehouse, mirror, FIRST, LAST, UNIVERSE, server.treadmill_urls())
    assert server.log() == []
    settings = Settings(warehouse=warehouse, universe=parse_universe(UNIVERSE))
    pages = sorted((settings.raw_root / "bitmex" / "funding" / "XBTUSD" / "2024-02").iterdir())
    assert [p.name for p in pages] == [
        "complete.json",
        "page-00001.json",
        "page-00001.request.json",
    ]

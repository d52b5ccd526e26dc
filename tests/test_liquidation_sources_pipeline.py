"""Hyperliquid's simulated archive through the daily job, against the simulator's truth.

The simulator writes Hyperliquid's asset contexts and hourly fills (both layouts: 2025-07-27 is
the cutover day) for its markets; the daily job ingests them through a ``file://`` mirror of the
buckets. Hyperliquid publishes every fill, so liquidation totals must equal the truth exactly.
"""

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from tests.runs import run_daily, simulate_mirror

FIRST, LAST = date(2025, 7, 26), date(2025, 7, 28)
UNIVERSE = "binance_um:BTCUSDT;hyperliquid:BTC"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hyperliquid")
    mirror = simulate_mirror(root, FIRST, LAST, symbols=("BTCUSDT",), coin_margined=())
    warehouse = root / "warehouse"
    run_daily(warehouse, mirror, FIRST, LAST, UNIVERSE, hyperliquid=mirror / "hyperliquid")
    return warehouse, mirror


def lake(warehouse: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(warehouse / "lake" / table / "*" / "data.parquet")


def truth(mirror: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(mirror / "truth" / f"hyperliquid_{name}.parquet")


def test_liquidation_totals_equal_the_truth_exactly(built: tuple[Path, Path]) -> None:
    warehouse, mirror = built
    facts = lake(warehouse, "fct_liquidations").filter(pl.col("exchange") == "hyperliquid")
    expected = truth(mirror, "liquidations").filter(pl.col("coin") == "BTC")
    assert facts.height == expected.height > 0
    assert set(facts["coverage"]) == {"complete"}
    per_day = (
        facts.group_by(pl.col("ts").dt.date().alias("day"), "liquidated_side")
        .agg(pl.col("notional_usd").sum(), pl.len())
        .sort("day", "liquidated_side")
    )
    true_per_day = (
        expected.group_by(pl.col("ts").dt.date().alias("day"), "liquidated_side")
        .agg(pl.col("notional_usd").sum(), pl.len())
        .sort("day", "liquidated_side")
    )
    assert per_day["len"].to_list() == true_per_day["len"].to_list()
    assert per_day["notional_usd"].to_list() == pytest.approx(
        true_per_day["notional_usd"].to_list(), rel=1e-12
    )
    # Both layouts were read: the cutover day's hours before and after 08:00.
    cutover = facts.filter(pl.col("ts").dt.date() == date(2025, 7, 27))
    assert cutover.filter(pl.col("ts").dt.hour() < 8).height > 0
    assert cutover.filter(pl.col("ts").dt.hour() >= 8).height > 0


def test_funding_and_open_interest_equal_the_truth(built: tuple[Path, Path]) -> None:
    warehouse, mirror = built
    funding = (
        lake(warehouse, "fct_funding")
        .filter(pl.col("exchange") == "hyperliquid")
        .sort("funding_time")
    )
    expected = truth(mirror, "funding").filter(pl.col("coin") == "BTC").sort("funding_time")
    assert funding.height == expected.height == 72
    assert funding["funding_rate"].to_list() == pytest.approx(expected["funding_rate"].to_list())
    assert set(funding["funding_interval_hours"]) == {1}
    # Hourly settlements annualise over 8,760 periods a year.
    assert funding["funding_rate_apr"].to_list() == pytest.approx(
        (funding["funding_rate"] * 24 * 365).to_list()
    )
    oi = lake(warehouse, "fct_open_interest").filter(pl.col("exchange") == "hyperliquid")
    true_oi = truth(mirror, "open_interest").filter(
        (pl.col("coin") == "BTC") & (pl.col("ts").dt.minute() % 5 == 0) & (pl.col("oi_base") > 0)
    )
    true_oi = true_oi.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    joined = oi.join(true_oi.select("ts", pl.col("oi_base").alias("true_oi")), on="ts")
    assert joined.height > 0.99 * oi.height
    assert joined["oi_base"].to_list() == pytest.approx(joined["true_oi"].to_list())


def test_coverage_counts_the_repairs_and_the_hours(built: tuple[Path, Path]) -> None:
    warehouse, mirror = built
    coverage = lake(warehouse, "dq_coverage").filter(pl.col("exchange") == "hyperliquid")
    fills = coverage.filter(pl.col("dataset") == "liquidations")
    assert set(fills["hours_covered"]) == {24}
    assert set(fills["status"]) == {"ok"}
    contexts = coverage.filter(pl.col("dataset") == "funding_rate")
    assert set(contexts["status"]) == {"ok"}
    quirks = (mirror / "truth" / "hyperliquid_quirks.json").read_text()
    assert "off_grid_rows" in quirks
    warned = " ".join(d for d in coverage["detail"].to_list() if d)
    assert "values_repaired" in warned

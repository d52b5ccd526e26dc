"""Regime features: trailing windows only, values consistent with the facts they come from."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.defs.features import feature_assets
from pipelines.defs.resources import TreadmillConfig
from tests.runs import run_daily, simulate_mirror
from transforms.facts import FCT_OPEN_INTEREST, FCT_PRICE_1M, build_fact
from transforms.features import (
    FEAT_FLUSH_EVENTS,
    FEAT_REGIME_1D,
    FEAT_REGIME_1H,
    RegimeThresholds,
    funding_estimate_errors,
)
from transforms.heatmap import HEATMAP_BARS
from transforms.publish import publish_partition
from transforms.schemas import TIMESTAMP

START, SPLIT, END = date(2024, 2, 1), date(2024, 2, 3), date(2024, 2, 6)
REGIMES = {
    "flush",
    "squeeze",
    "leverage_build",
    "latent_fragility",
    "short_build",
    "spot_absorption",
    "reset",
    "neutral",
}


def run(warehouse: Path, mirror: Path, first: date, last: date) -> None:
    run_daily(warehouse, mirror, first, last, "binance_um:BTCUSDT;binance_spot:BTCUSDT")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pl.DataFrame]]:
    root = tmp_path_factory.mktemp("features")
    mirror = simulate_mirror(root, START, END, symbols=("BTCUSDT",), coin_margined=())
    warehouse = root / "warehouse"
    run(warehouse, mirror, START, SPLIT)
    lake = warehouse / "lake"
    early = {
        str(p.relative_to(lake)): pl.read_parquet(p)
        for table in (
            FEAT_REGIME_1H.name,
            FEAT_REGIME_1D.name,
            FEAT_FLUSH_EVENTS.name,
            "feat_liquidation_levels",
            "feat_hot_zones",
        )
        for p in sorted((lake / table).glob("date=*/data.parquet"))
    }
    run(warehouse, mirror, date(2024, 2, 4), END)
    return warehouse, early


def test_later_days_change_no_earlier_feature_value(
    built: tuple[Path, dict[str, pl.DataFrame]],
) -> None:
    warehouse, early = built
    lake = warehouse / "lake"
    assert len(early) == 15, "three days of five tables"
    for partition, before in early.items():
        after = pl.read_parquet(lake / partition)
        assert after.equals(before), f"{partition} changed when later days arrived"
    assert len(list((lake / FEAT_REGIME_1H.name).glob("date=*/data.parquet"))) == 6


def test_the_heatmap_carries_its_book_and_finds_zones_on_both_sides(
    built: tuple[Path, dict[str, pl.DataFrame]],
) -> None:
    warehouse, _ = built
    lake = warehouse / "lake"
    day = "date=2024-02-06"
    zones = pl.read_parquet(lake / "feat_hot_zones" / day / "data.parquet")
    heat = pl.read_parquet(lake / "feat_liquidation_heatmap" / day / "data.parquet")
    levels = pl.read_parquet(lake / "feat_liquidation_levels" / day / "data.parquet")
    assert sorted(zones["position"]) == ["above", "below"]
    below = zones.filter(pl.col("position") == "below").row(0, named=True)
    above = zones.filter(pl.col("position") == "above").row(0, named=True)
    assert below["distance_pct"] < 0 < above["distance_pct"]
    assert below["price_high"] <= above["price_low"]
    assert heat["est_notional_usd"].sum() == pytest.approx(levels["est_notional_usd"].sum())
    assert heat["share"].sum() == pytest.approx(1.0)
    assert all(m.startswith("estimate") for m in heat["method"].unique())
    # Longs liquidate below the close, shorts above it.
    close = (
        pl.read_parquet(lake / "fct_price_1m" / day / "data.parquet")
        .filter((pl.col("exchange") == "binance_um") & (pl.col("contract_type") == "perpetual"))
        .sort("ts")["close"][-1]
    )
    assert (levels.filter(pl.col("side") == "long")["price"] < close).all()
    assert (levels.filter(pl.col("side") == "short")["price"] > close).all()


def test_every_hour_has_one_label_and_the_schema(
    built: tuple[Path, dict[str, pl.DataFrame]],
) -> None:
    warehouse, _ = built
    lake = warehouse / "lake" / FEAT_REGIME_1H.name
    for path in sorted(lake.glob("date=*/data.parquet")):
        assert pq.read_schema(path) == FEAT_REGIME_1H.schema
        frame = pl.read_parquet(path)
        assert frame.height == 24, "one row per hour of the perpetual"
        assert set(frame["regime"]) <= REGIMES
        assert frame["symbol"].unique().to_list() == ["BTCUSDT"]


def test_values_agree_with_the_facts(built: tuple[Path, dict[str, pl.DataFrame]]) -> None:
    warehouse, _ = built
    lake = warehouse / "lake"
    day = "date=2024-02-05"
    features = pl.read_parquet(lake / FEAT_REGIME_1H.name / day / "data.parquet")
    price = pl.read_parquet(lake / "fct_price_1m" / day / "data.parquet").filter(
        (pl.col("exchange") == "binance_um") & (pl.col("contract_type") == "perpetual")
    )
    oi = pl.read_parquet(lake / "fct_open_interest" / day / "data.parquet").filter(
        pl.col("contract_type") == "perpetual"
    )
    liquidations = pl.read_parquet(lake / "fct_liquidations_5m" / day / "data.parquet")
    hour = features.row(10, named=True)
    start = hour["ts"]
    in_hour = price.filter((pl.col("ts") >= start) & (pl.col("ts") < start + pl.duration(hours=1)))
    assert hour["close"] == in_hour.sort("ts")["close"][-1]
    oi_in_hour = oi.filter(
        (pl.col("ts") >= start) & (pl.col("ts") < start + pl.duration(hours=1))
    ).sort("ts")
    assert hour["oi_base"] == oi_in_hour["oi_base"][-1]
    long_usd = liquidations.filter(
        (pl.col("ts") >= start) & (pl.col("ts") < start + pl.duration(hours=1))
    )["long_liq_usd"].sum()
    assert hour["long_liq_usd"] == pytest.approx(long_usd)
    anchor = RegimeThresholds().funding_anchor
    assert hour["funding_minus_anchor"] == pytest.approx(hour["funding_estimate_8h"] - anchor)
    previous = features.row(9, named=True)
    assert hour["oi_change_pct_1h"] == pytest.approx(hour["oi_base"] / previous["oi_base"] - 1)
    assert 0 < hour["vol_percentile_30d"] <= 1
    assert 0 < hour["oi_percentile_30d"] <= 1


def test_the_daily_roll_up_agrees_with_its_hours(
    built: tuple[Path, dict[str, pl.DataFrame]],
) -> None:
    warehouse, _ = built
    lake = warehouse / "lake"
    for day in ("date=2024-02-04", "date=2024-02-06"):
        hours = pl.read_parquet(lake / "feat_regime_1h" / day / "data.parquet")
        daily = pl.read_parquet(lake / "feat_regime_1d" / day / "data.parquet").row(0, named=True)
        assert daily["close"] == hours.sort("ts")["close"][-1]
        assert daily["long_liq_usd"] == pytest.approx(hours["long_liq_usd"].sum())
        assert daily["flush_hours"] == (hours["regime"] == "flush").sum()
        assert daily["reset_hours"] == (hours["regime"] == "reset").sum()
        counts = hours["regime"].value_counts()
        most = counts["count"].max()
        assert daily["regime"] in counts.filter(pl.col("count") == most)["regime"].to_list()
        assert daily["return_1d"] == pytest.approx(hours["return_1h"].sum())


def test_the_funding_estimate_error_compares_the_hour_before_each_settlement() -> None:
    at = datetime(2024, 2, 1, 7, tzinfo=UTC)
    features = pa.table(
        {
            "exchange": ["binance_um", "binance_um"],
            "symbol": ["BTCUSDT", "BTCUSDT"],
            "ts": pa.array([at, at + timedelta(hours=1)], TIMESTAMP),
            "funding_estimate_8h": [0.00025, 0.9],
        }
    )
    settled = pa.table(
        {
            "exchange": ["binance_um"],
            "symbol": ["BTCUSDT"],
            "funding_time": pa.array([at + timedelta(hours=1)], TIMESTAMP),
            "funding_rate_8h": [0.0001],
        }
    )
    total, count = funding_estimate_errors(features, settled)
    # Only 07:00's estimate covers the interval settled at 08:00: |0.00025 − 0.0001|.
    assert count == 1
    assert total == pytest.approx(0.00015)


def test_the_asset_reports_the_funding_estimate_error(
    built: tuple[Path, dict[str, pl.DataFrame]],
) -> None:
    warehouse, _ = built
    (feature_asset,) = [
        a for a in feature_assets if FEAT_REGIME_1H.name in {k.to_user_string() for k in a.keys}
    ]
    result = dg.materialize(
        [feature_asset],
        partition_key="2024-02-05",
        resources={
            "treadmill": TreadmillConfig(
                warehouse=str(warehouse),
                binance_url="file:///nonexistent/",
                universe="binance_um:BTCUSDT",
            )
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    # 08:00 and 16:00 settle inside the day; 00:00's hour before lies in the day before.
    assert metadata["funding_estimate_mae_8h_n"].value == 2
    mae = metadata["funding_estimate_mae_8h"].value
    assert isinstance(mae, float)
    assert 0 <= mae < 0.001


def test_heatmap_bars_cross_levels_on_the_mark_range(tmp_path: Path) -> None:
    """Binance liquidates on the mark: its range decides, the trade range only fills gaps."""
    day = date(2024, 2, 1)
    minute = datetime(2024, 2, 1, tzinfo=UTC)
    rows = [
        {"ts": minute, "high": 101.0, "low": 99.0, "mark_high": 104.0, "mark_low": 98.0},
        {"ts": minute + timedelta(minutes=1), "high": 103.0, "low": 97.5},
        {"ts": minute + timedelta(minutes=5), "high": 102.0, "low": 96.0},
    ]
    price = pa.Table.from_pylist(
        [{"exchange": "binance_um", "symbol": "BTCUSDT", "close": 100.0, **row} for row in rows]
    )
    price = pa.Table.from_pylist(price.to_pylist(), schema=FCT_PRICE_1M.schema)
    publish_partition(price, tmp_path, FCT_PRICE_1M.name, day)
    bars = build_fact(HEATMAP_BARS, day, tmp_path).to_pylist()
    assert [(bar["high"], bar["low"]) for bar in bars] == [(104.0, 97.5), (102.0, 96.0)]


def test_heatmap_bars_carry_the_oi_each_change_reached(tmp_path: Path) -> None:
    """The estimator removes the share of OI a fall closed: it needs the level, not only ΔOI."""
    day = date(2024, 2, 1)
    midnight = datetime(2024, 2, 1, tzinfo=UTC)
    price = pa.Table.from_pylist(
        [
            {"exchange": "binance_um", "symbol": "BTCUSDT", "ts": ts, "close": 100.0}
            for ts in (midnight, midnight + timedelta(minutes=5))
        ],
        schema=FCT_PRICE_1M.schema,
    )
    publish_partition(price, tmp_path, FCT_PRICE_1M.name, day)
    readings = {
        day - timedelta(days=1): [(midnight - timedelta(minutes=5), 1_000.0)],  # before bar 0
        day: [(midnight, 900.0), (midnight + timedelta(minutes=5), 950.0)],
    }
    for partition, rows in readings.items():
        oi = pa.Table.from_pylist(
            [
                {"exchange": "binance_um", "symbol": "BTCUSDT", "ts": ts, "oi_base": base}
                for ts, base in rows
            ],
            schema=FCT_OPEN_INTEREST.schema,
        )
        publish_partition(oi, tmp_path, FCT_OPEN_INTEREST.name, partition)
    bars = build_fact(HEATMAP_BARS, day, tmp_path).to_pylist()
    assert [(bar["oi_base"], bar["delta_oi_base"]) for bar in bars] == [
        (900.0, -100.0),  # 1,000 → 900: 10% of OI closed
        (950.0, 50.0),
    ]

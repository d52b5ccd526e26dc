"""Coin-level liquidations (issue 15): hourly and daily totals per coin across venues.

Small ``fct_liquidations`` partitions are written by hand, in the published layout, with orders
of Binance USDⓈ-M and COIN-M and OKX (coverage 'sampled') and Hyperliquid (bare coin ``BTC``,
coverage 'complete'). The coin-level facts are built from them and compared with literal
values; their checks pass on what the models build and fail on real violations; the regime
features carry the coin's totals and, when told to, read their bursts from them; the report's
liquidation chart draws them and says which venues and coverage kinds it stands on.
"""

import io
import json
import math
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines.defs.facts import fact_assets
from transforms.fact_checks import CheckOutcome, run_fact_checks
from transforms.facts import (
    FACT_MODELS,
    FCT_FUNDING,
    FCT_LIQUIDATIONS,
    FCT_LIQUIDATIONS_5M,
    FCT_LIQUIDATIONS_COIN_1D,
    FCT_LIQUIDATIONS_COIN_1H,
    FCT_MARKET_1H,
    FCT_OPEN_INTEREST_CROSS_VENUE,
    FCT_PRICE_1M,
    LIQUIDATION_COVERAGES,
    FactModel,
    build_fact,
)
from transforms.features import FEAT_REGIME_1H, RegimeThresholds
from transforms.instruments import coin_of
from transforms.publish import PARTITION_FILE, partition_dir, publish_partition
from transforms.report.charts.daily_liquidations import daily_liquidations_chart
from transforms.report.data import ReportRequest, load_report_data
from transforms.report.page import chart_spec, render_png

D = date(2024, 3, 1)
NEXT = D + timedelta(days=1)
COIN_TABLES = (FCT_LIQUIDATIONS_COIN_1H, FCT_LIQUIDATIONS_COIN_1D)

Row = dict[str, Any]


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


def order(
    exchange: str,
    symbol: str,
    ts: datetime,
    side: str,
    qty: float,
    price: float,
    coverage: str | None,
) -> Row:
    """One forced order as ``fct_liquidations`` publishes it."""
    return {
        "exchange": exchange,
        "symbol": symbol,
        "ts": ts,
        "liquidated_side": side,
        "price": price,
        "avg_price": price,
        "qty_base": qty,
        "notional_usd": qty * price,
        "coverage": coverage,
        "source_file": f"{exchange}-test",
    }


def orders_of(day: date) -> list[Row]:
    """A day of forced orders on four venues (BTC) and one (ETH)."""
    return [
        order("binance_um", "BTCUSDT", at(day, 1, 5), "long", 2.0, 60_000.0, "sampled"),
        order("binance_um", "BTCUSDT", at(day, 1, 59, 59), "short", 0.5, 60_100.0, "sampled"),
        order("binance_cm", "BTCUSD_PERP", at(day, 1, 30), "long", 1.0, 59_900.0, "sampled"),
        order("hyperliquid", "BTC", at(day, 1, 40), "long", 3.0, 59_800.0, "complete"),
        order("hyperliquid", "BTC", at(day, 7), "short", 0.25, 61_000.0, "complete"),
        order("okx", "BTC-USDT-SWAP", at(day, 23, 59, 59), "long", 0.1, 60_000.0, "sampled"),
        order("hyperliquid", "ETH", at(day, 12), "long", 10.0, 3_000.0, "complete"),
    ]


def publish(model: FactModel, rows: list[Row], lake: Path, day: date) -> None:
    publish_partition(pa.Table.from_pylist(rows, schema=model.schema), lake, model.name, day)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """D's orders, and the next day's (whose orders must stay out of D)."""
    root = tmp_path / "lake"
    publish(FCT_LIQUIDATIONS, orders_of(D), root, D)
    publish(FCT_LIQUIDATIONS, [order("binance_um", "BTCUSDT", at(NEXT, 1), "long", 9.0, 1.0,
                                     "sampled")], root, NEXT)  # fmt: skip
    return root


def built(model: FactModel, lake: Path, day: date = D) -> pa.Table:
    """``model``'s ``day`` as the pipeline builds it from the lake's forced orders: the daily
    table sums the hourly one, which is built and published first."""
    if model is FCT_LIQUIDATIONS_COIN_1D:
        hourly = built(FCT_LIQUIDATIONS_COIN_1H, lake, day)
        publish_partition(hourly, lake, FCT_LIQUIDATIONS_COIN_1H.name, day)
    return build_fact(model, day, lake)


def by_hour(table: pa.Table, coin: str) -> dict[int, Row]:
    return {row["ts"].hour: row for row in table.to_pylist() if row["coin"] == coin}


# The coin of a venue's symbol


@pytest.mark.parametrize(
    ("symbol", "coin"),
    [
        ("BTC", "BTC"),  # Hyperliquid's bare coin stays itself
        ("ETH", "ETH"),
        ("HYPE", "HYPE"),
        ("BTCUSDT", "BTC"),
        ("BTCUSD_PERP", "BTC"),
        ("BTC-USDT-SWAP", "BTC"),
        ("XBTUSD", "BTC"),
    ],
)
def test_a_bare_coin_is_its_own_coin(symbol: str, coin: str) -> None:
    assert coin_of(symbol) == coin


# The hourly table


def test_hourly_totals_sum_every_venue_of_the_coin_on_a_complete_grid(lake: Path) -> None:
    table = build_fact(FCT_LIQUIDATIONS_COIN_1H, D, lake)

    assert table.schema == FCT_LIQUIDATIONS_COIN_1H.schema
    btc, eth = by_hour(table, "BTC"), by_hour(table, "ETH")
    assert sorted(btc) == sorted(eth) == list(range(24)), "every hour of the day, per coin"
    assert table.column("coin").to_pylist() == ["BTC"] * 24 + ["ETH"] * 24, "sorted by coin, ts"

    one = btc[1]
    # binance_um 2 × 60,000 + binance_cm 1 × 59,900 + hyperliquid 3 × 59,800
    assert one["long_liq_usd"] == pytest.approx(120_000.0 + 59_900.0 + 179_400.0)
    assert one["long_liq_count"] == 3
    assert one["long_liq_base"] == pytest.approx(6.0)
    assert one["short_liq_usd"] == pytest.approx(0.5 * 60_100.0), "01:59:59 is in hour 1"
    assert one["short_liq_count"] == 1
    assert one["long_liq_usd_complete"] == pytest.approx(179_400.0)
    assert one["long_liq_usd_sampled"] == pytest.approx(179_900.0)
    assert one["short_liq_usd_sampled"] == pytest.approx(30_050.0)
    assert one["short_liq_usd_complete"] == one["long_liq_usd_estimated"] == 0.0
    assert btc[7]["short_liq_usd"] == btc[7]["short_liq_usd_complete"] == pytest.approx(15_250.0)
    assert btc[23]["long_liq_usd_sampled"] == pytest.approx(6_000.0)
    # An hour without a forced order is zero, not missing: the venues covered it.
    quiet = btc[3]
    assert (quiet["long_liq_usd"], quiet["short_liq_usd"], quiet["long_liq_count"]) == (0, 0, 0)
    for row in btc.values():
        assert row["venues"] == "binance_cm,binance_um,hyperliquid,okx"
        assert row["venue_count"] == 4
        assert row["coverages"] == "complete,sampled"
        assert row["venue_coverage"] == (
            "binance_cm:sampled,binance_um:sampled,hyperliquid:complete,okx:sampled"
        )
    assert eth[12]["long_liq_usd"] == eth[12]["long_liq_usd_complete"] == pytest.approx(30_000.0)
    assert {(row["venues"], row["coverages"]) for row in eth.values()} == {
        ("hyperliquid", "complete")
    }
    assert sum(row["long_liq_count"] for row in btc.values()) == 4, "the next day's order is out"


def test_the_daily_table_is_the_hourly_day_in_one_row(lake: Path) -> None:
    hourly = pl.from_arrow(build_fact(FCT_LIQUIDATIONS_COIN_1H, D, lake))
    daily = built(FCT_LIQUIDATIONS_COIN_1D, lake)
    assert isinstance(hourly, pl.DataFrame)

    assert daily.schema == FCT_LIQUIDATIONS_COIN_1D.schema
    rows = {row["coin"]: row for row in daily.to_pylist()}
    assert list(rows) == ["BTC", "ETH"]
    btc = rows["BTC"]
    assert btc["ts"] == at(D)
    assert btc["long_liq_usd"] == pytest.approx(359_300.0 + 6_000.0)
    assert btc["short_liq_usd"] == pytest.approx(30_050.0 + 15_250.0)
    assert (btc["long_liq_count"], btc["short_liq_count"]) == (4, 2)
    assert btc["long_liq_usd_complete"] == pytest.approx(179_400.0)
    assert btc["short_liq_usd_complete"] == pytest.approx(15_250.0)
    assert btc["venue_count"] == 4
    assert btc["venue_coverage"] == (
        "binance_cm:sampled,binance_um:sampled,hyperliquid:complete,okx:sampled"
    )
    sums = hourly.group_by("coin").agg(pl.col(pl.Float64, pl.Int64).sum())
    for coin, row in rows.items():
        summed = sums.filter(pl.col("coin") == coin).row(0, named=True)
        for column, value in row.items():
            if isinstance(value, float | int) and column != "venue_count":
                assert value == pytest.approx(summed[column]), (coin, column)
        first_hour = hourly.filter(pl.col("coin") == coin).row(0, named=True)
        assert (row["venues"], row["coverages"]) == (
            first_hour["venues"],
            first_hour["coverages"],
        )


def test_the_daily_table_is_the_days_orders_summed(tmp_path: Path) -> None:
    # What the daily table held when it summed the forced orders itself: summing the hourly
    # table instead must give the same coins, counts, venue lists and (within rounding) USD.
    draw = random.Random(21)
    instruments = [
        ("binance_um", "BTCUSDT", "sampled"),
        ("binance_cm", "BTCUSD_PERP", "sampled"),
        ("hyperliquid", "BTC", "complete"),
        ("bybit", "ETHUSDT", "estimated"),
        ("hyperliquid", "ETH", "complete"),
        ("okx", "SOL-USDT-SWAP", "sampled"),
    ]
    orders = []
    for _ in range(500):
        exchange, symbol, coverage = draw.choice(instruments)
        ts = at(D) + timedelta(seconds=draw.uniform(0, 86_400))
        side = draw.choice(("long", "short"))
        orders.append(order(exchange, symbol, ts, side, draw.lognormvariate(0, 2),
                            draw.uniform(1.0, 70_000.0), coverage))  # fmt: skip
    publish(FCT_LIQUIDATIONS, orders, tmp_path, D)
    daily = built(FCT_LIQUIDATIONS_COIN_1D, tmp_path).to_pylist()

    assert [row["coin"] for row in daily] == ["BTC", "ETH", "SOL"]
    for row in daily:
        mine = [o for o in orders if coin_of(o["symbol"]) == row["coin"]]
        assert row["ts"] == at(D)
        for side in ("long", "short"):
            sided = [o for o in mine if o["liquidated_side"] == side]
            assert row[f"{side}_liq_count"] == len(sided)
            assert row[f"{side}_liq_usd"] == pytest.approx(
                math.fsum(o["notional_usd"] for o in sided), rel=1e-12
            )
            assert row[f"{side}_liq_base"] == pytest.approx(
                math.fsum(o["qty_base"] for o in sided), rel=1e-12
            )
            for coverage in LIQUIDATION_COVERAGES:
                assert row[f"{side}_liq_usd_{coverage}"] == pytest.approx(
                    math.fsum(o["notional_usd"] for o in sided if o["coverage"] == coverage),
                    rel=1e-12,
                )
        assert row["venues"] == ",".join(sorted({o["exchange"] for o in mine}))
        assert row["venue_count"] == len({o["exchange"] for o in mine})
        assert row["coverages"] == ",".join(sorted({o["coverage"] for o in mine}))
        assert row["venue_coverage"] == ",".join(
            sorted({f"{o['exchange']}:{o['coverage']}" for o in mine})
        )


def test_a_day_without_liquidations_has_no_rows(tmp_path: Path) -> None:
    publish(FCT_LIQUIDATIONS, [], tmp_path, D)
    for model in COIN_TABLES:
        assert built(model, tmp_path).num_rows == 0, model.name


def test_a_quarantined_symbol_does_not_break_a_coin_level_build(lake: Path) -> None:
    manifests = lake.parent / "manifests" / "stg_binance_um_liquidation_snapshot"
    manifests.mkdir(parents=True)
    (manifests / f"date={D.isoformat()}.json").write_text(
        json.dumps({"symbols": [{"symbol": "ETHUSDT", "status": "quarantined"}]})
    )
    assert build_fact(FCT_LIQUIDATIONS_COIN_1H, D, lake).num_rows == 48


def test_the_coin_tables_come_after_the_liquidations_they_sum() -> None:
    names = [model.name for model in FACT_MODELS]
    hourly, daily = names.index("fct_liquidations_coin_1h"), names.index("fct_liquidations_coin_1d")
    assert names.index(FCT_LIQUIDATIONS.name) < hourly < daily
    assert FCT_LIQUIDATIONS_COIN_1H.upstream_tables == (FCT_LIQUIDATIONS.name,)
    assert FCT_LIQUIDATIONS_COIN_1D.upstream_tables == (FCT_LIQUIDATIONS_COIN_1H.name,)
    for model in COIN_TABLES:
        assert model.staged_inputs == FCT_LIQUIDATIONS.staged_inputs
        assert model.schema.field("coin").nullable is False
    # Dagster runs the daily table after the hourly one of the same day.
    assets = {asset.key.to_user_string(): asset for asset in fact_assets}
    assert {
        key.to_user_string() for key in assets[FCT_LIQUIDATIONS_COIN_1D.name].dependency_keys
    } == {FCT_LIQUIDATIONS_COIN_1H.name}


# The checks


def outcomes(model: FactModel, table: pa.Table, lake: Path) -> dict[str, CheckOutcome]:
    return {o.name: o for o in run_fact_checks(model, table, D, lake)}


@pytest.mark.parametrize("model", COIN_TABLES, ids=lambda m: m.name)
def test_what_the_models_build_passes_every_check(model: FactModel, lake: Path) -> None:
    checked = outcomes(model, built(model, lake), lake)
    assert sorted(checked) == ["coverage_split", "unique_keys", "venues_counted"]
    assert all(o.passed for o in checked.values()), checked


@pytest.mark.parametrize("model", COIN_TABLES, ids=lambda m: m.name)
def test_a_repeated_key_or_a_miscounted_venue_list_fails(model: FactModel, lake: Path) -> None:
    rows = built(model, lake).to_pylist()
    first = rows[0]
    broken = [*rows, first, {**rows[-1], "venues": "hyperliquid,okx", "venue_count": 1}]
    checked = outcomes(model, pa.Table.from_pylist(broken, schema=model.schema), lake)

    keys = checked["unique_keys"]
    assert (keys.passed, keys.severity) == (False, "error")
    assert keys.sample[0] == {"coin": first["coin"], "ts": first["ts"], "row_count": 2}
    counted = checked["venues_counted"]
    assert (counted.passed, counted.violations) == (False, 1)
    assert counted.sample[0]["venues"] == "hyperliquid,okx"


@pytest.mark.parametrize("model", COIN_TABLES, ids=lambda m: m.name)
def test_a_total_that_is_not_its_coverage_split_fails(model: FactModel, lake: Path) -> None:
    rows = built(model, lake).to_pylist()
    busiest = max(range(len(rows)), key=lambda i: rows[i]["long_liq_usd"])
    rows[busiest] = {**rows[busiest], "long_liq_usd_complete": 0.0}
    checked = outcomes(model, pa.Table.from_pylist(rows, schema=model.schema), lake)

    split = checked["coverage_split"]
    assert (split.passed, split.severity, split.violations) == (False, "error", 1)
    assert split.sample[0]["problem"] == "long_liq_usd is not the sum of its coverage split"
    assert split.sample[0]["long_liq_usd"] == pytest.approx(rows[busiest]["long_liq_usd"])
    assert split.sample[0]["long_split_usd"] == pytest.approx(
        rows[busiest]["long_liq_usd"] - 179_400.0
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"coverages": "complete,partial"}, "unknown coverage kind"),
        ({"coverages": None}, "no coverage kind"),
        ({"coverages": "sampled"}, "complete USD without complete coverage"),
        (
            {"venue_coverage": "binance_cm:sampled,binance_um:sampled,hyperliquid:complete"},
            "venue_coverage disagrees with venues or coverages",
        ),
        (
            {
                "venue_coverage": (
                    "binance_cm:sampled,binance_um:sampled,hyperliquid:sampled,okx:sampled"
                )
            },
            "venue_coverage disagrees with venues or coverages",
        ),
    ],
)
def test_coverage_that_misstates_its_kinds_fails(
    change: Row, problem: str, lake: Path, tmp_path: Path
) -> None:
    table = built(FCT_LIQUIDATIONS_COIN_1D, lake)
    rows = [{**row, **change} if row["coin"] == "BTC" else row for row in table.to_pylist()]
    checked = outcomes(FCT_LIQUIDATIONS_COIN_1D, pa.Table.from_pylist(rows, schema=table.schema),
                       tmp_path)  # fmt: skip

    split = checked["coverage_split"]
    assert (split.passed, split.violations) == (False, 1)
    assert split.sample[0]["coin"] == "BTC"
    assert split.sample[0]["problem"] == problem


def test_an_order_of_no_known_coverage_is_quarantined_not_counted_silently(
    tmp_path: Path,
) -> None:
    # A new source that left its coverage null: the totals count the order, no kind holds it.
    rows = [*orders_of(D), order("bybit", "BTCUSDT", at(D, 2), "long", 1.0, 60_000.0, None)]
    publish(FCT_LIQUIDATIONS, rows, tmp_path, D)
    daily = outcomes(FCT_LIQUIDATIONS_COIN_1D, built(FCT_LIQUIDATIONS_COIN_1D, tmp_path), tmp_path)[
        "coverage_split"
    ]
    assert (daily.passed, daily.violations) == (False, 1)
    (row,) = daily.sample
    assert row["problem"] == "long_liq_usd is not the sum of its coverage split"
    assert row["long_liq_usd"] - row["long_split_usd"] == pytest.approx(60_000.0)
    assert row["venues"] == "binance_cm,binance_um,bybit,hyperliquid,okx"
    assert "bybit" not in row["venue_coverage"]
    # Every hour of BTC lists bybit among its venues with no coverage kind to go with it;
    # 02:00 also counts its order in the total and in no kind.
    hourly = outcomes(
        FCT_LIQUIDATIONS_COIN_1H, build_fact(FCT_LIQUIDATIONS_COIN_1H, D, tmp_path), tmp_path
    )["coverage_split"]
    assert (hourly.passed, hourly.violations) == (False, 24)
    assert [row["ts"].hour for row in hourly.sample] == [0, 1, 2, 3, 4]
    assert [row["problem"] for row in hourly.sample] == [
        "venue_coverage disagrees with venues or coverages",
        "venue_coverage disagrees with venues or coverages",
        "long_liq_usd is not the sum of its coverage split",
        "venue_coverage disagrees with venues or coverages",
        "venue_coverage disagrees with venues or coverages",
    ]


# The regime features

FEATURE_DAYS = [D + timedelta(days=offset) for offset in range(3)]
SPIKE_HOUR = 60
"""Hour 12 of the third day: Hyperliquid's longs burn while the perpetual's own stay quiet."""
PERP_OI_USD = 60_000_000.0
COIN_OI_USD = 150_000_000.0


def perpetual_long_usd(hour: int) -> float:
    return 1_000.0 + 100.0 * (hour % 5)


def coin_long_usd(hour: int) -> float:
    return perpetual_long_usd(hour) + (5_000_000.0 if hour == SPIKE_HOUR else 2_000.0)


def feature_lake(root: Path) -> Path:
    """Three days of one perpetual's hours, its funding, and its coin's liquidations and OI."""
    start = at(D)
    for day in FEATURE_DAYS:
        hours = [
            (index, start + timedelta(hours=index))
            for index in range(72)
            if (start + timedelta(hours=index)).date() == day
        ]
        market = [
            {
                "exchange": "binance_um",
                "symbol": "BTCUSDT",
                "ts": ts,
                "close": 60_000.0 + 10.0 * (index % 7),
                "realized_vol": 0.001 + 0.0001 * (index % 3),
                "perp_volume_quote": 1e8,
                "perp_taker_imbalance": 0.0,
                "premium_mean": 0.0,
                "oi_base": 1_000.0 + index % 4,
                "oi_usd": PERP_OI_USD,
                "long_liq_usd": perpetual_long_usd(index),
                "short_liq_usd": 500.0,
            }
            for index, ts in hours
        ]
        publish(FCT_MARKET_1H, market, root, day)
        funding = [
            {"exchange": "binance_um", "symbol": "BTCUSDT", "funding_time": at(day, hour),
             "funding_rate": 0.0001, "funding_interval_hours": 8, "funding_rate_8h": 0.0001,
             "coin": "BTC"}
            for hour in (0, 8, 16)
        ]  # fmt: skip
        publish(FCT_FUNDING, funding, root, day)
        coin = [
            {
                "coin": "BTC",
                "ts": ts,
                "long_liq_usd": coin_long_usd(index),
                "short_liq_usd": 800.0,
                "venues": "binance_um,hyperliquid",
                "venue_count": 2,
                "coverages": "complete,sampled",
                "venue_coverage": "binance_um:sampled,hyperliquid:complete",
            }
            for index, ts in hours
        ]
        publish(FCT_LIQUIDATIONS_COIN_1H, coin, root, day)
        open_interest = [
            {"coin": "BTC", "ts": ts, "oi_usd": COIN_OI_USD, "venues": "binance_um,hyperliquid",
             "venue_count": 2}
            for _, ts in hours
        ]  # fmt: skip
        publish(FCT_OPEN_INTEREST_CROSS_VENUE, open_interest, root, day)
    return root


def test_the_regime_features_carry_the_coins_liquidations(tmp_path: Path) -> None:
    lake = feature_lake(tmp_path)
    day = FEATURE_DAYS[-1]
    features = {row["ts"].hour: row for row in build_fact(FEAT_REGIME_1H, day, lake).to_pylist()}
    assert sorted(features) == list(range(24))

    spike = features[SPIKE_HOUR - 48]
    assert spike["long_liq_usd"] == pytest.approx(perpetual_long_usd(SPIKE_HOUR))
    assert spike["coin_long_liq_usd"] == pytest.approx(coin_long_usd(SPIKE_HOUR))
    assert spike["coin_short_liq_usd"] == pytest.approx(800.0)
    assert spike["coin_liq_venues"] == "binance_um,hyperliquid"
    assert spike["coin_liq_coverages"] == "complete,sampled"
    # By default the burst reads the perpetual's own, which stayed quiet.
    assert RegimeThresholds().coin_level_liquidations is False
    assert spike["liq_intensity"] == pytest.approx(
        (perpetual_long_usd(SPIKE_HOUR) + 500.0) / PERP_OI_USD
    )
    assert not any(row["liq_burst"] for row in features.values())


def test_coin_level_bursts_when_the_setting_says_so(tmp_path: Path) -> None:
    lake = feature_lake(tmp_path)
    day = FEATURE_DAYS[-1]
    coin_level = replace(
        FEAT_REGIME_1H, params=RegimeThresholds(coin_level_liquidations=True).bound()
    )
    features = {row["ts"].hour: row for row in build_fact(coin_level, day, lake).to_pylist()}

    spike = features[SPIKE_HOUR - 48]
    assert spike["liq_intensity"] == pytest.approx(
        (coin_long_usd(SPIKE_HOUR) + 800.0) / COIN_OI_USD
    )
    assert features[3]["liq_intensity"] == pytest.approx((coin_long_usd(51) + 800.0) / COIN_OI_USD)
    assert [hour for hour, row in features.items() if row["liq_burst"]] == [SPIKE_HOUR - 48]
    # The published liquidations are the same whichever the bursts read.
    default = build_fact(FEAT_REGIME_1H, day, lake)
    for column in ("long_liq_usd", "short_liq_usd", "coin_long_liq_usd", "coin_short_liq_usd"):
        assert [features[h][column] for h in range(24)] == default[column].to_pylist()


def test_coin_level_bursts_fall_back_to_the_perpetual_without_coin_tables(
    tmp_path: Path,
) -> None:
    lake = feature_lake(tmp_path)
    for table in (FCT_LIQUIDATIONS_COIN_1H.name, FCT_OPEN_INTEREST_CROSS_VENUE.name):
        for day in FEATURE_DAYS:
            (partition_dir(lake, table, day) / PARTITION_FILE).unlink()
    coin_level = replace(
        FEAT_REGIME_1H, params=RegimeThresholds(coin_level_liquidations=True).bound()
    )
    features = build_fact(coin_level, FEATURE_DAYS[-1], lake)
    default = build_fact(FEAT_REGIME_1H, FEATURE_DAYS[-1], lake)

    assert features.equals(default)
    assert features["coin_long_liq_usd"].null_count == 24


# The report's liquidation chart

REPORT_DAYS = (D, NEXT)
REQUEST = ReportRequest("binance_um", "BTCUSDT", D, NEXT)


def report_lake(root: Path, orders: dict[date, list[Row]], coin_days: tuple[date, ...]) -> Path:
    """Prices and liquidations of the report's days, built by the models from ``orders``;
    the coin-level daily table only for ``coin_days`` (an older lake lacks it)."""
    for day in REPORT_DAYS:
        price = [{"exchange": "binance_um", "symbol": "BTCUSDT", "ts": at(day, hour),
                  "close": 60_000.0, "source_file": "test"} for hour in range(24)]  # fmt: skip
        publish(FCT_PRICE_1M, price, root, day)
        publish(FCT_LIQUIDATIONS, orders.get(day, []), root, day)
        publish_partition(build_fact(FCT_LIQUIDATIONS_5M, day, root), root,
                          FCT_LIQUIDATIONS_5M.name, day)  # fmt: skip
        if day in coin_days:
            publish_partition(built(FCT_LIQUIDATIONS_COIN_1D, root, day), root,
                              FCT_LIQUIDATIONS_COIN_1D.name, day)  # fmt: skip
    return root


def liquidation_spec(lake: Path) -> tuple[pl.DataFrame, dict[str, Any], int]:
    data = load_report_data(lake, REQUEST)
    chart = daily_liquidations_chart(data)
    return data.daily_liquidations, chart_spec(chart), chart.points


def usd(frame: pl.DataFrame, day: date, side: str) -> float:
    row = frame.filter((pl.col("day") == day.isoformat()) & (pl.col("side") == side))
    value: float = row["usd"].item()
    return value


def test_the_chart_sums_the_coins_venues_and_names_them_with_their_coverage(
    tmp_path: Path,
) -> None:
    next_day = [order("binance_um", "BTCUSDT", at(NEXT, 9), "long", 2.0, 60_000.0, "sampled")]
    lake = report_lake(tmp_path, {D: orders_of(D), NEXT: next_day}, REPORT_DAYS)
    frame, spec, points = liquidation_spec(lake)

    assert frame.height == 4
    assert set(frame["scope"]) == {"coin"}
    assert usd(frame, D, "longs liquidated") == pytest.approx(365_300.0)
    assert usd(frame, D, "shorts liquidated") == pytest.approx(45_300.0)
    assert usd(frame, NEXT, "longs liquidated") == pytest.approx(120_000.0)
    assert usd(frame, NEXT, "shorts liquidated") == 0.0
    longs = frame.filter(pl.col("side") == "longs liquidated").row(0, named=True)
    assert longs["orders"] == 4
    assert longs["usd_complete"] == pytest.approx(179_400.0)
    assert longs["usd_sampled"] == pytest.approx(185_900.0)
    assert longs["usd_estimated"] == 0.0
    assert longs["venue_coverage"] == (
        "binance_cm:sampled,binance_um:sampled,hyperliquid:complete,okx:sampled"
    )
    assert points == 3
    # Four venues with their coverage would not fit in the title: they move below it.
    assert spec["title"]["text"] == "Daily liquidations, BTC across 4 venues"
    assert spec["title"]["subtitle"] == [
        "Longs liquidated $485.3k, shorts $45.3k over the range; the heaviest day, 2024-03-01, "
        "cleared $410.6k.",
        "Venues: binance_cm (sampled), binance_um (sampled), hyperliquid (complete), okx "
        "(sampled).",
        "Coverage: complete on hyperliquid; sampled on binance_cm, binance_um, okx.",
        "Sampled feeds pass on only some forced orders (Binance's at most one per symbol per "
        "second): a lower bound.",
    ]
    image = Image.open(io.BytesIO(render_png(spec)))
    assert image.width > 600


def test_the_title_names_the_venues_and_their_coverage(tmp_path: Path) -> None:
    two = [row for row in orders_of(D) if row["exchange"] in ("binance_um", "hyperliquid")]
    lake = report_lake(tmp_path, {D: two}, REPORT_DAYS)
    frame, spec, _ = liquidation_spec(lake)

    assert usd(frame, D, "longs liquidated") == pytest.approx(120_000.0 + 179_400.0)
    assert usd(frame, D, "shorts liquidated") == pytest.approx(30_050.0 + 15_250.0)
    assert spec["title"]["text"] == (
        "Daily liquidations, BTC across binance_um (sampled), hyperliquid (complete)"
    )
    assert spec["title"]["subtitle"][1:] == [
        "Coverage: complete on hyperliquid; sampled on binance_um.",
        "Sampled feeds pass on only some forced orders (Binance's at most one per symbol per "
        "second): a lower bound.",
    ]


def test_only_sampled_venues_keep_the_lower_bound_wording(tmp_path: Path) -> None:
    sampled = [row for row in orders_of(D) if row["coverage"] == "sampled"]
    lake = report_lake(tmp_path, {D: sampled}, REPORT_DAYS)
    _, spec, _ = liquidation_spec(lake)

    assert spec["title"]["text"] == (
        "Daily liquidations, BTC across binance_cm (sampled), binance_um (sampled), okx (sampled)"
    )
    assert spec["title"]["subtitle"][1:] == [
        "Coverage: sampled on binance_cm, binance_um, okx.",
        "Sampled feeds pass on only some forced orders (Binance's at most one per symbol per "
        "second): a lower bound.",
    ]


def test_only_complete_venues_are_the_full_count(tmp_path: Path) -> None:
    complete = [row for row in orders_of(D) if row["exchange"] == "hyperliquid"]
    lake = report_lake(tmp_path, {D: complete}, REPORT_DAYS)
    frame, spec, points = liquidation_spec(lake)

    assert usd(frame, D, "longs liquidated") == pytest.approx(179_400.0)
    assert points == 2, "the perpetual itself had no liquidation: the coin's are drawn"
    assert spec["title"]["text"] == "Daily liquidations, BTC across hyperliquid (complete)"
    assert spec["title"]["subtitle"][1:] == [
        "Coverage: complete on hyperliquid.",
        "Complete: every forced order the venues published, the full count.",
    ]


def test_days_without_the_coin_table_show_the_perpetual_and_say_so(tmp_path: Path) -> None:
    lake = report_lake(tmp_path, {D: orders_of(D), NEXT: orders_of(NEXT)}, (NEXT,))
    frame, spec, _ = liquidation_spec(lake)

    first = frame.filter(pl.col("day") == D.isoformat())
    assert set(first["scope"]) == {"perpetual"}
    assert first["venue_coverage"].null_count() == 2
    # The perpetual's own: binance_um BTCUSDT only.
    assert usd(frame, D, "longs liquidated") == pytest.approx(120_000.0)
    assert usd(frame, D, "shorts liquidated") == pytest.approx(30_050.0)
    assert usd(frame, NEXT, "longs liquidated") == pytest.approx(365_300.0)
    assert spec["title"]["subtitle"][-1] == (
        "1 day(s) without coin-level totals show BTCUSDT on binance_um alone (Binance's sampled "
        "snapshots)."
    )


def test_without_the_coin_table_the_chart_is_as_before(tmp_path: Path) -> None:
    lake = report_lake(tmp_path, {D: orders_of(D)}, ())
    frame, spec, points = liquidation_spec(lake)

    assert not (lake / FCT_LIQUIDATIONS_COIN_1D.name).exists()
    assert set(frame["scope"]) == {"perpetual"}
    assert points == 2
    assert spec["title"]["text"] == "Daily liquidations, BTCUSDT on binance_um"
    assert spec["title"]["subtitle"] == [
        "Longs liquidated $120.0k, shorts $30.1k over the range; the heaviest day, 2024-03-01, "
        "cleared $150.1k.",
        "Binance's liquidation snapshots are sampled (at most one order per symbol per second): "
        "a lower bound.",
    ]


def test_many_venues_move_below_the_title(tmp_path: Path) -> None:
    venues = ("binance_cm", "bybit", "gate", "hyperliquid", "kraken", "okx")
    many = [
        order(venue, "BTCUSDT", at(D, 3), "long", 1.0, 60_000.0,
              "complete" if venue == "hyperliquid" else "sampled")
        for venue in venues
    ]  # fmt: skip
    lake = report_lake(tmp_path, {D: many}, REPORT_DAYS)
    _, spec, _ = liquidation_spec(lake)

    assert spec["title"]["text"] == "Daily liquidations, BTC across 6 venues"
    subtitle = spec["title"]["subtitle"]
    assert subtitle[1] == (
        "Venues: binance_cm (sampled), bybit (sampled), gate (sampled), hyperliquid (complete), "
        "kraken (sampled),"
    )
    assert subtitle[2] == "okx (sampled)."
    assert all(len(line) <= 115 for line in subtitle)
    assert Image.open(io.BytesIO(render_png(spec))).width > 600


def test_a_coin_partition_without_a_newer_column_still_reports(tmp_path: Path) -> None:
    lake = report_lake(tmp_path, {D: orders_of(D), NEXT: orders_of(NEXT)}, REPORT_DAYS)
    # The first day was published in a layout without the complete split.
    path = partition_dir(lake, FCT_LIQUIDATIONS_COIN_1D.name, D) / PARTITION_FILE
    pq.write_table(pq.read_table(path).drop_columns(["long_liq_usd_complete"]), path)
    frame, _, _ = liquidation_spec(lake)

    longs = frame.filter(pl.col("side") == "longs liquidated")
    assert longs["usd"].to_list() == pytest.approx([365_300.0, 365_300.0])
    assert longs["usd_complete"].to_list() == [None, pytest.approx(179_400.0)]

"""The SQL checks on facts: a passing and a failing hand-made table per check, then the asset.

Fact tables are built by hand in the models' exact schemas (as :mod:`tests.test_facts` builds
staged partitions), checked with :func:`transforms.fact_checks.run_fact_checks`, and the
violation counts and samples compared with literal values. The Dagster tests materialise the
``fct_funding`` and ``fct_open_interest`` assets in process over staged partitions published
into a temporary warehouse.
"""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.defs.facts import fact_assets
from pipelines.defs.resources import TreadmillConfig
from transforms.fact_checks import (
    CHECKS_ROOT,
    FACT_CHECKS,
    CheckOutcome,
    checks_for,
    run_fact_checks,
)
from transforms.facts import (
    FACT_MODELS,
    FCT_BASIS_1H,
    FCT_FUNDING,
    FCT_FUNDING_CROSS_VENUE,
    FCT_LIQUIDATIONS,
    FCT_LIQUIDATIONS_5M,
    FCT_OPEN_INTEREST,
    FCT_OPEN_INTEREST_CROSS_VENUE,
    FCT_PRICE_1M,
    FactModel,
)
from transforms.publish import PARTITION_FILE, partition_dir, publish_partition
from transforms.quarantine import clear_fact_quarantine, quarantine_fact
from transforms.schemas import FUNDING_RATE, METRICS
from transforms.settings import Settings

D = date(2024, 1, 2)
PREV = D - timedelta(days=1)
UM_FUNDING = "stg_binance_um_funding_rate"
UM_METRICS = "stg_binance_um_metrics"

Row = dict[str, Any]


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


def fact(model: FactModel, rows: list[Row]) -> pa.Table:
    """A fact table in ``model``'s schema; columns a row leaves out are null."""
    return pa.Table.from_pylist(rows, schema=model.schema)


def check(model: FactModel, rows: list[Row], name: str, lake: Path) -> CheckOutcome:
    """The outcome of check ``name`` of ``model`` on a table of ``rows`` for day D."""
    outcomes = {o.name: o for o in run_fact_checks(model, fact(model, rows), D, lake)}
    return outcomes[name]


def key(ts: datetime, symbol: str = "BTCUSDT", exchange: str = "binance_um") -> Row:
    return {"exchange": exchange, "symbol": symbol, "ts": ts}


def oi(ts: datetime, oi_base: float, symbol: str = "BTCUSDT") -> Row:
    return {**key(ts, symbol), "oi_base": oi_base, "oi_usd": oi_base * 42_000.0}


def funding(funding_time: datetime, rate: float | None, symbol: str = "BTCUSDT") -> Row:
    return {
        "exchange": "binance_um",
        "symbol": symbol,
        "funding_time": funding_time,
        "funding_rate": rate,
        "funding_interval_hours": 8,
    }


def liquidation(
    ts: datetime, qty: float, avg_price: float, notional: float | None, price: float = 100.0
) -> Row:
    return {
        **key(ts),
        "liquidated_side": "long",
        "price": price,
        "avg_price": avg_price,
        "qty_base": qty,
        "notional_usd": notional,
    }


def minutes(day: date, step: int, count: int) -> list[datetime]:
    return [at(day) + timedelta(minutes=step * slot) for slot in range(count)]


# The registry


def test_every_check_has_its_sql_file_and_every_file_a_check() -> None:
    registered = {c.sql_path.name for c in FACT_CHECKS}
    assert registered == {p.name for p in CHECKS_ROOT.glob("*.sql")}
    assert {c.table for c in FACT_CHECKS} <= {m.name for m in FACT_MODELS}
    for c in FACT_CHECKS:
        header = c.sql_path.read_text()
        assert f"-- severity: {c.severity}." in header, c.sql_path.name
        for name in c.params:
            assert f"${name}" in header, (c.sql_path.name, name)


def test_severities_are_as_documented() -> None:
    assert {(c.table, c.name): c.severity for c in FACT_CHECKS} == {
        ("fct_price_1m", "unique_keys"): "error",
        ("fct_price_1m", "grid_complete"): "warn",
        ("fct_open_interest", "unique_keys"): "error",
        ("fct_open_interest", "grid_complete"): "warn",
        ("fct_open_interest", "continuity"): "warn",
        ("fct_funding", "unique_keys"): "error",
        ("fct_funding", "within_cap"): "error",
        ("fct_liquidations", "notional"): "error",
        ("fct_liquidations_5m", "unique_keys"): "error",
        ("fct_market_1h", "unique_keys"): "error",
        ("fct_funding_cross_venue", "unique_keys"): "error",
        ("fct_funding_cross_venue", "venues_counted"): "error",
        ("fct_open_interest_cross_venue", "unique_keys"): "error",
        ("fct_open_interest_cross_venue", "venues_counted"): "error",
        ("fct_liquidations_coin_1h", "unique_keys"): "error",
        ("fct_liquidations_coin_1h", "venues_counted"): "error",
        ("fct_liquidations_coin_1h", "coverage_split"): "error",
        ("fct_liquidations_coin_1d", "unique_keys"): "error",
        ("fct_liquidations_coin_1d", "venues_counted"): "error",
        ("fct_liquidations_coin_1d", "coverage_split"): "error",
        ("fct_cot_weekly", "unique_keys"): "error",
        ("fct_cot_weekly", "positions_add_up"): "error",
        ("fct_basis_1h", "unique_keys"): "error",
        ("fct_basis_1h", "basis_consistent"): "error",
        ("fct_volume_shares_1d", "unique_keys"): "error",
        ("fct_volume_shares_1d", "shares_add_up"): "error",
        ("fct_volume_shares_1d", "venues_counted"): "error",
    }
    params = {(c.table, c.name): dict(c.params) for c in FACT_CHECKS if c.params}
    assert params == {
        ("fct_price_1m", "grid_complete"): {"grid_minutes": 1},
        ("fct_open_interest", "grid_complete"): {"grid_minutes": 5},
        ("fct_open_interest", "continuity"): {"max_jump": 0.25},
        ("fct_funding", "within_cap"): {"cap": 0.03},
        ("fct_liquidations", "notional"): {"rel_tol": 1e-6, "abs_tol": 1e-9},
        ("fct_liquidations_coin_1h", "coverage_split"): {"rel_tol": 1e-9, "abs_tol": 1e-6},
        ("fct_cot_weekly", "positions_add_up"): {"tolerance": 0.5},
        ("fct_liquidations_coin_1d", "coverage_split"): {"rel_tol": 1e-9, "abs_tol": 1e-6},
        ("fct_basis_1h", "basis_consistent"): {"rel_tol": 1e-9, "abs_tol": 1e-12},
        ("fct_volume_shares_1d", "shares_add_up"): {"tolerance": 1e-9},
    }


@pytest.mark.parametrize("model", FACT_MODELS, ids=lambda m: m.name)
def test_an_empty_day_passes_every_check(model: FactModel, tmp_path: Path) -> None:
    outcomes = run_fact_checks(model, model.schema.empty_table(), D, tmp_path)
    assert [o.name for o in outcomes] == [c.name for c in checks_for(model.name)]
    assert all(o.passed and o.violations == 0 and o.sample == [] for o in outcomes)


# Unique keys


KEYED = [
    (FCT_PRICE_1M, "ts"),
    (FCT_OPEN_INTEREST, "ts"),
    (FCT_FUNDING, "funding_time"),
    (FCT_LIQUIDATIONS_5M, "ts"),
    (FCT_BASIS_1H, "ts"),
]


@pytest.mark.parametrize(("model", "column"), KEYED, ids=lambda v: getattr(v, "name", v))
def test_distinct_keys_pass(model: FactModel, column: str, tmp_path: Path) -> None:
    rows = [
        {"exchange": "binance_um", "symbol": "BTCUSDT", column: at(D)},
        {"exchange": "binance_um", "symbol": "BTCUSDT", column: at(D, 0, 5)},
        {"exchange": "binance_um", "symbol": "ETHUSDT", column: at(D)},  # same instant
        {"exchange": "binance_cm", "symbol": "BTCUSDT", column: at(D)},  # same instant
    ]
    outcome = check(model, rows, "unique_keys", tmp_path)
    assert outcome == CheckOutcome("unique_keys", "error", True, 0, [])


@pytest.mark.parametrize(("model", "column"), KEYED, ids=lambda v: getattr(v, "name", v))
def test_a_repeated_or_null_key_fails(model: FactModel, column: str, tmp_path: Path) -> None:
    rows: list[Row] = [
        {"exchange": "binance_um", "symbol": "BTCUSDT", column: at(D, 0, 5)},
        {"exchange": "binance_um", "symbol": "BTCUSDT", column: at(D)},
        {"exchange": "binance_um", "symbol": "BTCUSDT", column: at(D, 0, 5)},
        {"exchange": "binance_um", "symbol": "BTCUSDT", column: at(D, 0, 5)},
        {"exchange": "binance_um", "symbol": "ETHUSDT", column: None},
    ]
    outcome = check(model, rows, "unique_keys", tmp_path)
    assert not outcome.passed
    assert outcome.violations == 2
    assert outcome.sample == [
        {"exchange": "binance_um", "symbol": "BTCUSDT", column: at(D, 0, 5), "row_count": 3},
        {"exchange": "binance_um", "symbol": "ETHUSDT", column: None, "row_count": 1},
    ]


COIN_LEVEL = [FCT_FUNDING_CROSS_VENUE, FCT_OPEN_INTEREST_CROSS_VENUE]


@pytest.mark.parametrize("model", COIN_LEVEL, ids=lambda m: m.name)
def test_coin_level_keys_and_venue_counts(model: FactModel, tmp_path: Path) -> None:
    good: list[Row] = [
        {"coin": "BTC", "ts": at(D), "venues": "binance_um,bitmex,bybit", "venue_count": 3},
        {"coin": "BTC", "ts": at(D, 1), "venues": "binance_um", "venue_count": 1},
        {"coin": "ETH", "ts": at(D), "venues": "okx", "venue_count": 1},
    ]
    assert check(model, good, "unique_keys", tmp_path).passed
    assert check(model, good, "venues_counted", tmp_path).passed
    bad = [
        *good,
        {"coin": "BTC", "ts": at(D), "venues": "okx", "venue_count": 1},
        {"coin": "ETH", "ts": at(D, 1), "venues": "bybit,okx", "venue_count": 3},
        {"coin": "ETH", "ts": at(D, 2), "venues": None, "venue_count": 0},
    ]
    keys = check(model, bad, "unique_keys", tmp_path)
    assert (keys.passed, keys.violations) == (False, 1)
    assert keys.sample == [{"coin": "BTC", "ts": at(D), "row_count": 2}]
    counted = check(model, bad, "venues_counted", tmp_path)
    assert (counted.passed, counted.violations) == (False, 2)
    assert [row["venues"] for row in counted.sample] == ["bybit,okx", None]


# Grid completeness


@pytest.mark.parametrize(
    ("model", "step", "slots"), [(FCT_PRICE_1M, 1, 1440), (FCT_OPEN_INTEREST, 5, 288)]
)
def test_a_complete_grid_passes(model: FactModel, step: int, slots: int, tmp_path: Path) -> None:
    rows = [key(ts, symbol) for symbol in ("BTCUSDT", "ETHUSDT") for ts in minutes(D, step, slots)]
    assert check(model, rows, "grid_complete", tmp_path) == CheckOutcome(
        "grid_complete", "warn", True, 0, []
    )


@pytest.mark.parametrize(
    ("model", "step", "slots"), [(FCT_PRICE_1M, 1, 1440), (FCT_OPEN_INTEREST, 5, 288)]
)
def test_a_partial_day_is_a_warning_with_its_counts(
    model: FactModel, step: int, slots: int, tmp_path: Path
) -> None:
    grid = minutes(D, step, slots)
    # BTCUSDT: complete. ETHUSDT: listed at 12:00, so only the second half of the day, plus
    # one off-grid instant that fills no slot. SOLUSDT: the first and the last slot only.
    listed = [ts for ts in grid if ts >= at(D, 12)]
    rows = [
        *(key(ts) for ts in grid),
        *(key(ts, "ETHUSDT") for ts in listed),
        key(at(D, 0, 0, 30), "ETHUSDT"),
        key(grid[0], "SOLUSDT"),
        key(grid[-1], "SOLUSDT"),
    ]

    outcome = check(model, rows, "grid_complete", tmp_path)

    assert (outcome.passed, outcome.severity, outcome.violations) == (False, "warn", 2)
    half = slots // 2
    assert outcome.sample == [
        {
            "exchange": "binance_um",
            "symbol": "ETHUSDT",
            "observed": half,
            "expected": slots,
            "missing": half,
            "first_missing": at(D),
            "last_missing": at(D, 12) - timedelta(minutes=step),
        },
        {
            "exchange": "binance_um",
            "symbol": "SOLUSDT",
            "observed": 2,
            "expected": slots,
            "missing": slots - 2,
            "first_missing": grid[1],
            "last_missing": grid[-2],
        },
    ]


# Open-interest continuity across days


def publish_previous_oi(lake: Path, rows: list[Row]) -> None:
    publish_partition(fact(FCT_OPEN_INTEREST, rows), lake, "fct_open_interest", PREV)


def test_open_interest_within_the_jump_passes(tmp_path: Path) -> None:
    publish_previous_oi(
        tmp_path,
        [
            oi(at(PREV, 23, 50), 500.0),  # not the last reading: ignored
            oi(at(PREV, 23, 55), 1000.0),
            oi(at(PREV, 23, 55), 2000.0, "ETHUSDT"),
        ],
    )
    rows = [
        oi(at(D), 1250.0),  # +25%: exactly at the threshold
        oi(at(D, 0, 5), 5000.0),  # a jump inside the day is not this check's business
        oi(at(D), 1500.0, "ETHUSDT"),  # −25%
        oi(at(D), 7.0, "SOLUSDT"),  # no previous reading: nothing to compare
    ]
    outcome = check(FCT_OPEN_INTEREST, rows, "continuity", tmp_path)
    assert outcome == CheckOutcome("continuity", "warn", True, 0, [])


def test_no_previous_partition_passes(tmp_path: Path) -> None:
    outcome = check(FCT_OPEN_INTEREST, [oi(at(D), 1.0)], "continuity", tmp_path)
    assert outcome.passed


def test_an_open_interest_jump_across_midnight_is_a_warning(tmp_path: Path) -> None:
    publish_previous_oi(
        tmp_path,
        [
            oi(at(PREV, 23, 55), 1000.0),
            oi(at(PREV, 23, 50), 2000.0, "ETHUSDT"),  # the day ended early
            {**key(at(PREV, 23, 55), "ETHUSDT"), "oi_base": None},  # a null is no reading
            oi(at(PREV, 23, 55), 0.0, "SOLUSDT"),
        ],
    )
    rows = [
        oi(at(D), 1300.0),  # +30%
        oi(at(D, 0, 5), 1000.0),
        {**key(at(D), "ETHUSDT"), "oi_base": None},
        oi(at(D, 0, 5), 1200.0, "ETHUSDT"),  # −40% from 23:50
        oi(at(D), 5.0, "SOLUSDT"),  # from zero
    ]

    outcome = check(FCT_OPEN_INTEREST, rows, "continuity", tmp_path)

    assert (outcome.passed, outcome.severity, outcome.violations) == (False, "warn", 3)
    assert outcome.sample == [
        {
            "exchange": "binance_um",
            "symbol": "BTCUSDT",
            "previous_ts": at(PREV, 23, 55),
            "previous_oi_base": 1000.0,
            "ts": at(D),
            "oi_base": 1300.0,
            "relative_jump": pytest.approx(0.3),
            "max_jump": 0.25,
        },
        {
            "exchange": "binance_um",
            "symbol": "ETHUSDT",
            "previous_ts": at(PREV, 23, 50),
            "previous_oi_base": 2000.0,
            "ts": at(D, 0, 5),
            "oi_base": 1200.0,
            "relative_jump": pytest.approx(0.4),
            "max_jump": 0.25,
        },
        {
            "exchange": "binance_um",
            "symbol": "SOLUSDT",
            "previous_ts": at(PREV, 23, 55),
            "previous_oi_base": 0.0,
            "ts": at(D),
            "oi_base": 5.0,
            "relative_jump": None,  # undefined from zero, still a jump
            "max_jump": 0.25,
        },
    ]


# Funding within the cap


def test_funding_within_the_cap_passes(tmp_path: Path) -> None:
    rows = [
        funding(at(D), 0.0001),
        funding(at(D, 8), 0.03),  # exactly the cap
        funding(at(D, 16), -0.03),  # exactly the floor
        funding(at(D), None, "ETHUSDT"),  # no rate is not beyond the cap
    ]
    outcome = check(FCT_FUNDING, rows, "within_cap", tmp_path)
    assert outcome == CheckOutcome("within_cap", "error", True, 0, [])


def test_funding_beyond_the_cap_fails(tmp_path: Path) -> None:
    rows = [
        funding(at(D), 0.0001),
        funding(at(D, 8), 0.05),
        funding(at(D, 16), -0.0301),
        funding(at(D), float("nan"), "ETHUSDT"),
    ]

    outcome = check(FCT_FUNDING, rows, "within_cap", tmp_path)

    assert (outcome.passed, outcome.severity, outcome.violations) == (False, "error", 3)
    assert [(r["symbol"], r["funding_time"], r["cap"]) for r in outcome.sample] == [
        ("BTCUSDT", at(D, 8), 0.03),
        ("BTCUSDT", at(D, 16), 0.03),
        ("ETHUSDT", at(D), 0.03),
    ]
    assert [r["funding_rate"] for r in outcome.sample[:2]] == [0.05, -0.0301]
    assert outcome.to_json()["sample"][2]["funding_rate"] == "nan"
    assert outcome.to_json()["sample"][0]["funding_time"] == "2024-01-02T08:00:00+00:00"


# Liquidation notional


def test_consistent_notionals_pass(tmp_path: Path) -> None:
    rows = [
        liquidation(at(D, 1), 2.0, 100.5, 201.0),  # 2.0 × 100.5
        liquidation(at(D, 2), 0.5, 0.0, 49.5, price=99.0),  # no fill price: 0.5 × 99.0
        liquidation(at(D, 3), 0.1, 0.3, 0.1 * 0.3),  # 0.030000000000000002 vs 0.03: rounding
        liquidation(at(D, 4), 3.0, 40_000.0, 120_000.0 * (1 + 5e-7)),  # within 1e-6
    ]
    outcome = check(FCT_LIQUIDATIONS, rows, "notional", tmp_path)
    assert outcome == CheckOutcome("notional", "error", True, 0, [])


def test_an_inconsistent_notional_fails(tmp_path: Path) -> None:
    rows = [
        liquidation(at(D, 1), 2.0, 100.5, 201.0),
        liquidation(at(D, 2), 3.0, 40_000.0, 120_000.0 * (1 + 2e-6)),  # beyond 1e-6
        liquidation(at(D, 3), 300.0, 60_000.0, 30_000.0),  # contracts taken for base units
        liquidation(at(D, 4), 1.0, 100.0, None),  # a sum would skip it
    ]

    outcome = check(FCT_LIQUIDATIONS, rows, "notional", tmp_path)

    assert (outcome.passed, outcome.severity, outcome.violations) == (False, "error", 3)
    compared = [(r["ts"], r["notional_usd"], r["expected_notional_usd"]) for r in outcome.sample]
    assert compared == [
        (at(D, 2), pytest.approx(120_000.24), 120_000.0),
        (at(D, 3), 30_000.0, 18_000_000.0),  # 300 × 60,000
        (at(D, 4), None, 100.0),
    ]
    assert [r["difference"] for r in outcome.sample] == [
        pytest.approx(0.24),
        -17_970_000.0,
        None,
    ]
    assert list(outcome.sample[0]) == [
        "exchange",
        "symbol",
        "ts",
        "liquidated_side",
        "price",
        "avg_price",
        "qty_base",
        "notional_usd",
        "expected_notional_usd",
        "difference",
    ]


# The quarantine files


def test_quarantine_writes_the_table_and_its_report_and_clears_them(tmp_path: Path) -> None:
    table = fact(FCT_FUNDING, [funding(at(D, 8), 0.05)])
    outcomes = run_fact_checks(FCT_FUNDING, table, D, tmp_path / "lake")

    path = quarantine_fact(table, outcomes, Settings(tmp_path), "fct_funding", D)

    assert path == tmp_path / "quarantine" / "facts" / "fct_funding" / "2024-01-02.parquet"
    assert pq.read_table(path).equals(table)
    report = path.with_suffix(".json").read_text()
    assert '"failed_checks": [\n    "within_cap"\n  ]' in report
    assert '"within_cap": 1' in report
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "2024-01-02.json",
        "2024-01-02.parquet",
    ]

    clear_fact_quarantine(Settings(tmp_path), "fct_funding", D)
    assert list(path.parent.iterdir()) == []


# The Dagster assets


def asset(name: str) -> dg.AssetsDefinition:
    return next(a for a in fact_assets if a.key.to_user_string() == name)


def materialize(name: str, warehouse: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [asset(name)],
        partition_key=D.isoformat(),
        resources={
            "treadmill": TreadmillConfig(
                warehouse=str(warehouse),
                binance_url="file:///nonexistent/",
                universe="binance_um:BTCUSDT",
            )
        },
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def publish_staged_funding(lake: Path, rates: list[float]) -> None:
    rows = [
        {
            "exchange": "binance_um",
            "symbol": "BTCUSDT",
            "funding_time": at(D, 8 * index),
            "calc_time": at(D, 8 * index) + timedelta(milliseconds=2),
            "funding_interval_hours": 8,
            "funding_rate": rate,
            "source_file": "data/futures/um/monthly/fundingRate/BTCUSDT/x.zip",
        }
        for index, rate in enumerate(rates)
    ]
    publish_partition(pa.Table.from_pylist(rows, schema=FUNDING_RATE), lake, UM_FUNDING, D)


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_a_funding_rate_beyond_the_cap_quarantines_the_day(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    lake = warehouse / "lake"
    published = partition_dir(lake, "fct_funding", D) / PARTITION_FILE
    # A good day first, published as usual.
    publish_staged_funding(lake, [0.0001, 0.0001, 0.0001])
    assert materialize("fct_funding", warehouse).success
    before = pq.read_table(published)
    assert before["funding_rate"].to_pylist() == [0.0001] * 3

    # Then the day is re-staged with one impossible rate.
    publish_staged_funding(lake, [0.0001, 0.05, 0.0001])
    result = materialize("fct_funding", warehouse)

    assert not result.success  # a blocking ERROR check fails the step
    checks = evaluations(result)
    assert set(checks) == {"unique_keys", "within_cap"}
    assert checks["unique_keys"].passed
    failed = checks["within_cap"]
    assert not failed.passed
    assert failed.severity == dg.AssetCheckSeverity.ERROR
    assert failed.metadata["violations_by_day"].value == {"2024-01-02": 1}
    sample = failed.metadata["sample"].value
    assert isinstance(sample, list)
    assert sample[0]["funding_rate"] == 0.05
    assert sample[0]["funding_time"] == "2024-01-02T08:00:00+00:00"
    # The published partition is the good one, untouched.
    assert pq.read_table(published).equals(before)
    quarantine = warehouse / "quarantine" / "facts" / "fct_funding"
    quarantined = pq.read_table(quarantine / "2024-01-02.parquet")
    assert quarantined["funding_rate"].to_pylist() == [0.0001, 0.05, 0.0001]
    report = (quarantine / "2024-01-02.json").read_text()
    assert '"failed_checks": [\n    "within_cap"\n  ]' in report
    materialization = result.get_asset_materialization_events()[0].materialization
    assert materialization.metadata["partitions_published"].value == 0
    assert materialization.metadata["partitions_quarantined"].value == 1


def test_a_good_funding_day_is_published_and_its_old_quarantine_cleared(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    lake = warehouse / "lake"
    publish_staged_funding(lake, [0.05])
    assert not materialize("fct_funding", warehouse).success
    quarantine = warehouse / "quarantine" / "facts" / "fct_funding"
    assert (quarantine / "2024-01-02.json").exists()
    assert not partition_dir(lake, "fct_funding", D).exists()

    publish_staged_funding(lake, [0.0001, -0.0002])
    result = materialize("fct_funding", warehouse)

    assert result.success
    checks = evaluations(result)
    assert all(e.passed for e in checks.values())
    assert checks["within_cap"].severity == dg.AssetCheckSeverity.ERROR
    table = pq.read_table(partition_dir(lake, "fct_funding", D) / PARTITION_FILE)
    assert table["funding_rate"].to_pylist() == [0.0001, -0.0002]
    assert list(quarantine.iterdir()) == []
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["partitions_published"].value == 1
    assert metadata["dagster/row_count"].value == 2


def test_a_partial_open_interest_day_warns_and_still_publishes(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    lake = warehouse / "lake"
    rows = [
        {
            **oi(at(D, 0, 5 * slot), 1000.0 + slot),
            "top_account_ls_ratio": 1.1,
            "top_position_ls_ratio": 1.2,
            "account_ls_ratio": 0.9,
            "taker_buy_sell_ratio": 1.05,
            "source_file": "data/futures/um/daily/metrics/BTCUSDT/x.zip",
        }
        for slot in range(12)  # the first hour only
    ]
    publish_partition(pa.Table.from_pylist(rows, schema=METRICS), lake, UM_METRICS, D)

    result = materialize("fct_open_interest", warehouse)

    assert result.success
    checks = evaluations(result)
    assert checks["unique_keys"].passed
    assert checks["continuity"].passed
    grid = checks["grid_complete"]
    assert not grid.passed
    assert grid.severity == dg.AssetCheckSeverity.WARN
    assert grid.metadata["violations_by_day"].value == {"2024-01-02": 1}
    sample = grid.metadata["sample"].value
    assert isinstance(sample, list)
    assert (sample[0]["observed"], sample[0]["missing"]) == (12, 276)
    published = pq.read_table(partition_dir(lake, "fct_open_interest", D) / PARTITION_FILE)
    assert published.num_rows == 12
    assert not (warehouse / "quarantine").exists()

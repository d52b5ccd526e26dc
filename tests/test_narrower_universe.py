"""Rebuilding days over a narrower universe, as a user would with ``--universe``.

The rule (README, "Configuration"): narrowing the universe deletes nothing already staged. The
run re-stages the universe's symbols only and keeps every other symbol's rows; the facts are
built from everything staged, and ``dq_coverage`` goes on describing all of it, so the facts and
their coverage always name the same symbols.
"""

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.runs import simulate_mirror

DAY = date(2024, 3, 1)
WIDE = "binance_um:BTCUSDT,ETHUSDT;binance_cm:BTCUSD_PERP;binance_spot:BTCUSDT"
NARROW = "binance_um:BTCUSDT"


@pytest.fixture(scope="module")
def archive_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    mirror = simulate_mirror(
        tmp_path_factory.mktemp("simulated"),
        DAY,
        DAY,
        symbols=("BTCUSDT", "ETHUSDT"),
        coin_margined=("BTCUSD_PERP",),
        spot=("BTCUSDT",),
    )
    return mirror.as_uri() + "/"


def treadmill(arguments: list[str], archive_url: str, home: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, arguments, env={"TREADMILL_BINANCE_URL": archive_url, "DAGSTER_HOME": str(home)}
    )
    return result.exit_code, result.output


def query(warehouse: Path, sql: str, home: Path) -> list[dict[str, object]]:
    """``treadmill sql --format=json`` over ``warehouse``."""
    code, output = treadmill(["sql", sql, "--format=json", f"--warehouse={warehouse}"], "", home)
    assert code == 0, output
    return json.loads(output)


def pairs(warehouse: Path, table: str, home: Path) -> set[tuple[str, str]]:
    """The (exchange, symbol) pairs of ``table``."""
    rows = query(warehouse, f"select distinct exchange, symbol from {table}", home)
    return {(str(row["exchange"]), str(row["symbol"])) for row in rows}


def coverage_cells(warehouse: Path, home: Path) -> set[tuple[object, ...]]:
    """Every ``dq_coverage`` row but its check time."""
    rows = query(warehouse, "select * exclude (checked_at) from dq_coverage", home)
    return {tuple(row.values()) for row in rows}


def test_a_narrower_universe_deletes_nothing_and_coverage_keeps_describing_it(
    archive_url: str, dagster_home: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse"
    day = [f"--start={DAY}", f"--end={DAY}", f"--warehouse={warehouse}"]
    code, output = treadmill(["materialize", *day, f"--universe={WIDE}"], archive_url, dagster_home)
    assert code == 0, output
    wide_prices = pairs(warehouse, "fct_price_1m", dagster_home)
    assert wide_prices >= {
        ("binance_um", "BTCUSDT"),
        ("binance_um", "ETHUSDT"),
        ("binance_cm", "BTCUSD_PERP"),
        ("binance_spot", "BTCUSDT"),
    }
    wide_coverage = coverage_cells(warehouse, dagster_home)
    assert wide_prices <= {(str(cell[0]), str(cell[2])) for cell in wide_coverage}

    code, output = treadmill(
        ["materialize", *day, f"--universe={NARROW}"], archive_url, dagster_home
    )

    assert code == 0, output
    assert f"building {DAY}…{DAY} as one run: {DAY}: built for another universe" in output
    assert pairs(warehouse, "fct_price_1m", dagster_home) == wide_prices
    assert coverage_cells(warehouse, dagster_home) == wide_coverage
    code, output = treadmill(
        ["coverage", f"--start={DAY}", f"--end={DAY}", f"--warehouse={warehouse}"],
        "",
        dagster_home,
    )
    for line in ("binance_cm klines BTCUSD_PERP", "binance_spot klines BTCUSDT"):
        assert line in output, output
    assert "binance_um metrics ETHUSDT" in output, output

"""SQL checks on fact partitions: run on the day's table as built, before it is published.

Each check is one fixed SQL file in ``sql/checks/`` named ``<table>__<check>.sql`` that returns
the violating rows (zero rows = pass, as a dbt test); a check shared by several tables, like a
dbt generic test, is ``<check>.sql`` and reads the day's table as ``fact``. The day's table is
registered under the fact's own name (``fct_funding``) and as ``fact``; a check that compares
across days also gets the previous day's published partition as ``<name>_previous``. Values
(day bounds, thresholds) are bound parameters, never interpolated.

Severities, and why:

- ``error`` (the partition is not published but quarantined, the previous one stays):
  - ``unique_keys``: one row per key is the table's contract; the models deduplicate, so a
    duplicate is a bug that would double-count every sum and fan out every join.
  - ``within_cap`` (``fct_funding``): ``|funding_rate| <= 3%`` per interval. Binance clamps
    every contract's rate to a per-contract cap (±0.3% for BTCUSDT, ±3% for USDⓈ-M perpetuals
    of 25x maximum leverage or less, the widest it has announced), so a rate beyond ±3% was
    never settled: it is a parse or unit error.
  - ``venues_counted`` (coin-level tables): ``venue_count`` is the number of venues in
    ``venues``; a cross-venue figure is read by how many venues stand behind it.
  - ``coverage_split`` (coin-level liquidation tables): the long and short USD totals are the
    sums of their split by coverage kind, the kinds are 'complete', 'sampled' or 'estimated'
    and ``venue_coverage`` agrees with ``venues`` and ``coverages``: these columns tell a full
    count from a lower bound, and an order of no known coverage would blur the two.
  - ``notional`` (``fct_liquidations``): ``notional_usd = qty_base × fill price`` within a
    relative 1e-6 (plus 1e-9 absolute): a row that disagrees with its own quantity and price
    is a computation bug, and every liquidation total sums this column.
  - ``positions_add_up`` (``fct_cot_weekly``): on each side, Σ(long or short + spreading) over
    the reportable categories plus the non-reportable positions is the open interest, CFTC's
    definition (spreading counts on both sides); a report that does not add up was read wrong
    (a column mistaken after a header change, a shifted headerless row).
  - ``basis_consistent`` (``fct_basis_1h``): ``days_to_expiry > 0`` (a contract's row is
    before its expiry) and equals ``close_ts`` to ``expiry`` in days; ``basis = close /
    index_close − 1`` and ``basis_apr = basis × 365 / days_to_expiry``: a row after expiry is
    a wrong symbol or expiry, and an APR that disagrees with its parts is a wrong carry.
  - ``shares_add_up`` (``fct_volume_shares_1d``): the total is the sum of spot, perpetual and
    delivery volume and, where it is above 0, the three shares sum to 1: a share chart reads
    them as parts of one whole.
- ``warn`` (the day is published; the check result says where to look):
  - ``grid_complete``: 1440 minutes (``fct_price_1m``) or 288 five-minute labels
    (``fct_open_interest``) per exchange × symbol present that day. A partial day is real data
    (a listing, a delisting, an outage) and shows in coverage.
  - ``continuity`` (``fct_open_interest``): the first ``oi_base`` of the day is within 25% of
    the previous day's last one. A real cascade can move open interest that much, so a jump is
    a signal to look, not proof of an error.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import duckdb
import pyarrow as pa

from transforms import storage
from transforms.catalog import DUCKDB_CONFIG
from transforms.facts import SQL_ROOT, FactModel, bind
from transforms.publish import day_bounds

Severity = Literal["error", "warn"]

CHECKS_ROOT: Final = SQL_ROOT / "checks"
SAMPLE_SIZE: Final = 5

FUNDING_RATE_CAP: Final = 0.03
"""The widest per-interval funding cap Binance has set (±3%); see ``fct_funding__within_cap``."""
OI_MAX_JUMP: Final = 0.25
"""Largest relative change of ``oi_base`` across midnight before the continuity check warns."""
NOTIONAL_REL_TOL: Final = 1e-6
NOTIONAL_ABS_TOL: Final = 1e-9
SPLIT_REL_TOL: Final = 1e-9
"""A coin-level liquidation total against the sum of its coverage split: the same orders summed
in another order differ by far less."""
SPLIT_ABS_TOL: Final = 1e-6
COT_TOLERANCE: Final = 0.5
"""Contracts a COT report's side may miss its open interest by: its counts are whole."""
BASIS_REL_TOL: Final = 1e-9
"""A basis, its APR or days to expiry against the same recomputed from their parts: the same
arithmetic in another order differs by far less."""
BASIS_ABS_TOL: Final = 1e-12
SHARE_TOLERANCE: Final = 1e-9
"""How far a day's three volume shares may sum from 1 (and each from its volume over the total)."""


@dataclass(frozen=True)
class FactCheck:
    """One SQL check of one fact table: ``sql/checks/<table>__<name>.sql``."""

    name: str
    table: str
    severity: Severity
    description: str
    params: Mapping[str, float] = field(default_factory=dict)
    reads_previous: bool = False
    """Whether the SQL reads ``<table>_previous``, the previous day's published partition."""
    shared: bool = False
    """Whether the SQL is ``<check>.sql``, shared by tables (it reads ``fact``)."""

    @property
    def sql_path(self) -> Path:
        return CHECKS_ROOT / (
            f"{self.name}.sql" if self.shared else f"{self.table}__{self.name}.sql"
        )


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check on one day: how many rows violate it and the first few."""

    name: str
    severity: Severity
    passed: bool
    violations: int
    sample: list[dict[str, Any]]

    @property
    def blocks_publication(self) -> bool:
        return self.severity == "error" and not self.passed

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view (instants as ISO 8601 strings), for reports and Dagster metadata."""
        return {
            "name": self.name,
            "severity": self.severity,
            "passed": self.passed,
            "violations": self.violations,
            "sample": [
                {key: _jsonable(value) for key, value in row.items()} for row in self.sample
            ],
        }


def _unique_keys(table: str, key: str) -> FactCheck:
    return FactCheck(
        "unique_keys",
        table,
        "error",
        f"At most one row per exchange × symbol × {key}, and no null key.",
    )


def _coin_unique_keys(table: str) -> FactCheck:
    return FactCheck("unique_keys", table, "error", "At most one row per coin × hour, no null key.")


def _venues_counted(table: str) -> FactCheck:
    return FactCheck(
        "venues_counted",
        table,
        "error",
        "venue_count is the number of venues listed in venues, and at least one.",
        shared=True,
    )


def _coverage_split(table: str) -> FactCheck:
    return FactCheck(
        "coverage_split",
        table,
        "error",
        "long_liq_usd and short_liq_usd are the sums of their split by coverage kind "
        f"(within a relative {SPLIT_REL_TOL:g}), coverages lists only complete, sampled and "
        "estimated, and venue_coverage names the venues and kinds listed.",
        {"rel_tol": SPLIT_REL_TOL, "abs_tol": SPLIT_ABS_TOL},
        shared=True,
    )


def _grid_complete(table: str, grid_minutes: int, unit: str) -> FactCheck:
    slots = 24 * 60 // grid_minutes
    return FactCheck(
        "grid_complete",
        table,
        "warn",
        f"Every exchange × symbol present on the day has all {slots} {unit} of the UTC day.",
        {"grid_minutes": grid_minutes},
        shared=True,
    )


FACT_CHECKS: Final = (
    _unique_keys("fct_price_1m", "ts"),
    _grid_complete("fct_price_1m", 1, "minutes"),
    _unique_keys("fct_open_interest", "ts"),
    _grid_complete("fct_open_interest", 5, "5-minute labels"),
    FactCheck(
        "continuity",
        "fct_open_interest",
        "warn",
        f"The day's first oi_base per exchange × symbol is within {OI_MAX_JUMP:.0%} of the "
        "previous day's last one.",
        {"max_jump": OI_MAX_JUMP},
        reads_previous=True,
    ),
    _unique_keys("fct_funding", "funding_time"),
    FactCheck(
        "within_cap",
        "fct_funding",
        "error",
        f"|funding_rate| <= {FUNDING_RATE_CAP:.0%} per interval, the widest cap Binance sets.",
        {"cap": FUNDING_RATE_CAP},
    ),
    FactCheck(
        "notional",
        "fct_liquidations",
        "error",
        "notional_usd = qty_base × fill price (avg_price, else price) within a relative "
        f"{NOTIONAL_REL_TOL:g}.",
        {"rel_tol": NOTIONAL_REL_TOL, "abs_tol": NOTIONAL_ABS_TOL},
    ),
    _unique_keys("fct_liquidations_5m", "ts"),
    _unique_keys("fct_market_1h", "ts"),
    _coin_unique_keys("fct_funding_cross_venue"),
    _venues_counted("fct_funding_cross_venue"),
    _coin_unique_keys("fct_open_interest_cross_venue"),
    _venues_counted("fct_open_interest_cross_venue"),
    _coin_unique_keys("fct_liquidations_coin_1h"),
    _venues_counted("fct_liquidations_coin_1h"),
    _coverage_split("fct_liquidations_coin_1h"),
    FactCheck(
        "unique_keys",
        "fct_liquidations_coin_1d",
        "error",
        "At most one row per coin × day, no null key.",
    ),
    _venues_counted("fct_liquidations_coin_1d"),
    _coverage_split("fct_liquidations_coin_1d"),
    _unique_keys("fct_cot_weekly", "as_of"),
    FactCheck(
        "positions_add_up",
        "fct_cot_weekly",
        "error",
        "On each side, the four reportable categories' positions plus their spreading plus the "
        f"non-reportable positions make the open interest (within {COT_TOLERANCE} contracts), "
        "as CFTC counts spreading on both sides.",
        {"tolerance": COT_TOLERANCE},
    ),
    _unique_keys("fct_basis_1h", "ts"),
    FactCheck(
        "basis_consistent",
        "fct_basis_1h",
        "error",
        "days_to_expiry > 0 and is close_ts to expiry in days; basis = close / index_close − 1 "
        f"and basis_apr = basis × 365 / days_to_expiry (within a relative {BASIS_REL_TOL:g}), "
        "both null without an index.",
        {"rel_tol": BASIS_REL_TOL, "abs_tol": BASIS_ABS_TOL},
    ),
    FactCheck(
        "unique_keys",
        "fct_volume_shares_1d",
        "error",
        "At most one row per coin × day × venue, no null key.",
    ),
    FactCheck(
        "shares_add_up",
        "fct_volume_shares_1d",
        "error",
        "total_volume_usd is spot + perpetual + delivery volume (none negative); where it is "
        "above 0 the three shares are each volume over it and sum to 1 (within "
        f"{SHARE_TOLERANCE:g}), where it is 0 they are null.",
        {"tolerance": SHARE_TOLERANCE},
    ),
    _venues_counted("fct_volume_shares_1d"),
)


def checks_for(table: str) -> tuple[FactCheck, ...]:
    """The registered checks of ``table``, in registry order."""
    return tuple(check for check in FACT_CHECKS if check.table == table)


def read_previous(model: FactModel, day: date, lake_root: Path) -> pa.Table:
    """The published partition of ``model`` for the day before ``day``; empty when missing."""
    previous = storage.read_partition(lake_root, model.name, day - timedelta(days=1), model.schema)
    return model.schema.empty_table() if previous is None else previous


def run_fact_checks(
    model: FactModel, table: pa.Table, day: date, lake_root: Path
) -> list[CheckOutcome]:
    """Run every check of ``model`` on ``table``, its partition for ``day`` as just built."""
    checks = checks_for(model.name)
    if not checks:
        return []
    start, end = day_bounds(day)
    available: dict[str, object] = {"day_start": start, "day_end": end, "day": day}
    outcomes = []
    with duckdb.connect(config={**DUCKDB_CONFIG, "threads": 1}) as connection:
        connection.register(model.name, table)
        connection.register("fact", table)
        if any(check.reads_previous for check in checks):
            connection.register(f"{model.name}_previous", read_previous(model, day, lake_root))
        for check in checks:
            outcomes.append(_run(connection, check, {**available, **check.params}))
    return outcomes


def _run(
    connection: duckdb.DuckDBPyConnection, check: FactCheck, available: Mapping[str, object]
) -> CheckOutcome:
    sql = check.sql_path.read_text()
    violating = connection.sql(sql, params=bind(sql, available, check.sql_path.name))
    rows = violating.to_arrow_table()
    return CheckOutcome(
        name=check.name,
        severity=check.severity,
        passed=rows.num_rows == 0,
        violations=rows.num_rows,
        sample=rows.slice(0, SAMPLE_SIZE).to_pylist(),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    return value

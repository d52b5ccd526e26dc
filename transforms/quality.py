"""Quality gates of staged files: structural checks in Arrow and a Great Expectations suite.

Every parsed file is checked before its rows are published. Structural checks (rows present,
every instant inside the window the file may cover, no unknown columns) run on the Arrow table;
the expectation suite of its dataset (kept in code, below) runs in Great Expectations on the
in-memory frame. One GX validation covers every file of a run: each row carries the file and day
it belongs to, and GX's unexpected-row index names them, so a failure is charged to exactly one
symbol and day. A symbol-day that fails an ``error`` check is quarantined; ``warn`` checks are
reported and the rows publish.

The suites are declared here as plain data; Great Expectations, which takes ~8 s to import,
runs them in :mod:`transforms.validation`, which only staging loads: loading the code location
(check names, descriptions) never pays for it.

Decisions:

- An unknown extra column is a warning, not a failure. Columns are matched by header name, so a
  column Binance appends does not shift the ones we read; quarantining every file the day Binance
  adds a field would stop the warehouse for no error in the data.
- A day with fewer rows than its grid (1440 minutes, 288 five-minute rows) is not quarantined:
  a gap is real (the archive has them) and shows as ``partial`` in coverage.
"""

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc

from transforms.dataset import Cadence, Dataset, ParsedFile
from transforms.schemas import COT_POSITIONS, STAGED_SCHEMAS, TIME_COLUMN, Kind

Severity = Literal["error", "warn"]

FUNDING_RATE_CAP: Final = 0.03
"""Largest believable funding rate per interval. Binance caps it per contract between ±0.3% and
±3%, so a rate beyond 3% is not a Binance rate."""
FUNDING_INTERVALS: Final = [1, 2, 4, 8]
SAMPLE_SIZE: Final = 5
FILE_COLUMN: Final = "__file"
DAY_COLUMN: Final = "__day"

HAS_ROWS = "has_rows"
IN_WINDOW = "timestamps_in_window"
EXTRA_COLUMNS = "no_unknown_columns"
ON_GRID = "rows_on_grid"
ARCHIVE_FAILED = "archive_answered"
"""A warning: the download failed this time and the previously landed, verified copy was used."""
REPAIRED = "values_repaired"
RECEIVE_SLACK: Final = timedelta(hours=1)
STRUCTURAL_CHECKS: Final = (
    HAS_ROWS,
    IN_WINDOW,
    EXTRA_COLUMNS,
    ON_GRID,
    ARCHIVE_FAILED,
    REPAIRED,
)
GRID_ROWS: Final = {Kind.KLINE: 1440, Kind.METRICS: 288}
"""Rows a complete day has: one per minute, or one per five minutes."""
PARSE_CHECKS: Final = ("zip_member", "csv_columns", "csv_values", "timestamp_unit", "pages_valid")
"""Checks a source file fails while it is read: an archive zip and its CSV, or the pages of a
REST chunk (``pages_valid``: every page the endpoint's JSON, in range, none empty mid-range or
repeated)."""


@dataclass(frozen=True)
class Failure:
    """One failed check of one symbol-day, with what was observed."""

    check: str
    severity: Severity
    unexpected_count: int
    sample: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sample(values: list[Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in values[:SAMPLE_SIZE])


def file_window(dataset: Dataset, period_start: date) -> tuple[datetime, datetime, bool]:
    """The instants a file may hold: [start, end), plus ``end`` itself for metrics files.

    A daily file covers its day (a metrics file may also carry the next day's 00:00 row); a
    monthly file covers its month.
    """
    start = datetime(period_start.year, period_start.month, period_start.day, tzinfo=UTC)
    if dataset.cadence is Cadence.MONTHLY:
        following = (period_start.replace(day=28) + timedelta(days=4)).replace(day=1)
        end = datetime(following.year, following.month, 1, tzinfo=UTC)
    else:
        end = start + timedelta(days=1)
    if dataset.traits.cut_by_receipt:
        # Recorded files are by receive hour: an order stamped 23:59:59.9 arrives after midnight.
        start -= RECEIVE_SLACK
    return start, end, dataset.kind is Kind.METRICS


def structural_failures(dataset: Dataset, parsed: ParsedFile, period_start: date) -> list[Failure]:
    """Checks on the Arrow table of one file: rows present, instants in window, a full grid,
    no new columns."""
    failures = []
    table = parsed.table
    # A day of fills or of a recorded stream without one forced order is a quiet day, not an
    # empty file: the hours and messages it covers say it was read.
    quiet_allowed = dataset.kind is Kind.LIQUIDATION and dataset.shared_file
    if table.num_rows == 0 and not quiet_allowed:
        failures.append(Failure(HAS_ROWS, "error", 1, ("file holds no rows",)))
    if table.schema != STAGED_SCHEMAS[dataset.kind]:
        raise AssertionError(f"parser produced a non-canonical schema for {dataset.table}")
    start, end, end_allowed = file_window(dataset, period_start)
    instants = table[TIME_COLUMN[dataset.kind]]
    if table.num_rows:
        kind = instants.type
        before = pc.less(instants, pa.scalar(start, kind))
        after = (
            pc.greater(instants, pa.scalar(end, kind))
            if end_allowed
            else pc.greater_equal(instants, pa.scalar(end, kind))
        )
        outside = instants.filter(pc.or_(before, after))
        if len(outside):
            failures.append(Failure(IN_WINDOW, "error", len(outside), sample(outside.to_pylist())))
    expected = GRID_ROWS.get(dataset.kind)
    if expected is not None and table.num_rows:
        # Rows in the file's window: a metrics file labelled 00:05…next-day 00:00 is as full
        # as one labelled 00:00…23:55.
        rows = table.num_rows - len(outside)
        # A gap is real (the archive has them): the day publishes and coverage says partial.
        if rows < expected:
            failures.append(
                Failure(ON_GRID, "warn", expected - rows, (f"{rows} of {expected} rows",))
            )
    if parsed.extra_columns:
        failures.append(
            Failure(EXTRA_COLUMNS, "warn", len(parsed.extra_columns), parsed.extra_columns)
        )
    if parsed.repairs:
        failures.append(
            Failure(
                REPAIRED,
                "warn",
                sum(count for _, count, _ in parsed.repairs),
                tuple(
                    f"{what}: {count} (e.g. {example})" for what, count, example in parsed.repairs
                ),
            )
        )
    return failures


@dataclass(frozen=True)
class Expectation:
    """One expectation of a suite, as plain data: a GX expectation class and its arguments."""

    kind: str
    column: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        """The check's name: the expectation in snake case and its column(s)."""
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", self.kind).lower()
        options = dict(self.options)
        columns = (
            [self.column]
            if self.column
            else list(options.get("column_list", ()))
            or [options.get("column_A", ""), options.get("column_B", "")]
        )
        return f"{snake}__{joined(columns)}"


def _between(column: str, **bounds: Any) -> Expectation:
    return Expectation("ExpectColumnValuesToBeBetween", column, tuple(bounds.items()))


def _not_null(column: str) -> Expectation:
    return Expectation("ExpectColumnValuesToNotBeNull", column)


@cache
def expectations(dataset: Dataset) -> tuple[Expectation, ...]:
    """The expectation suite of ``dataset``, kept in code."""
    # Keys are unique within a file: adjacent files may both carry a midnight row, legitimately.
    keys = ("exchange", "symbol", TIME_COLUMN[dataset.kind], FILE_COLUMN)
    unique_keys = Expectation("ExpectCompoundColumnsToBeUnique", None, (("column_list", keys),))
    # exchange and symbol are written by the parser, never read from a file: nothing to check.
    suite: list[Expectation] = []
    if dataset.kind is Kind.KLINE:
        prices = ("open", "high", "low", "close")
        suite += [_not_null(c) for c in prices]
        if dataset.name == "premium_index_klines":
            # The premium index is a ratio around zero, negative whenever the perp is cheap.
            suite += [_between(c, min_value=-1, max_value=1) for c in prices]
        else:
            suite += [_between(c, min_value=0, strict_min=True) for c in prices]
        suite += [
            _between(c, min_value=0)
            for c in ("volume_base", "volume_quote", "trade_count", "taker_buy_base")
        ]
        # The bar's extremes bound its open and close (which also gives high ≥ low).
        suite += [
            Expectation(
                "ExpectColumnPairValuesAToBeGreaterThanB",
                None,
                (("column_A", above), ("column_B", below), ("or_equal", True)),
            )
            for above, below in (
                ("high", "open"),
                ("high", "close"),
                ("open", "low"),
                ("close", "low"),
            )
        ]
        suite.append(unique_keys)
    elif dataset.kind is Kind.METRICS:
        suite.append(_not_null("oi_base"))
        suite += [
            _between(c, min_value=0)
            for c in (
                "oi_base",
                "oi_usd",
                "top_account_ls_ratio",
                "top_position_ls_ratio",
                "account_ls_ratio",
                "taker_buy_sell_ratio",
            )
        ]
        suite.append(unique_keys)
    elif dataset.kind is Kind.FUNDING_RATE:
        suite += [
            _not_null("funding_rate"),
            _between("funding_rate", min_value=-FUNDING_RATE_CAP, max_value=FUNDING_RATE_CAP),
            Expectation(
                "ExpectColumnValuesToBeInSet",
                "funding_interval_hours",
                (("value_set", tuple(FUNDING_INTERVALS)),),
            ),
            unique_keys,
        ]
    elif dataset.kind is Kind.COT:
        # A market's report: contracts are counts, never negative; the open interest is the
        # row's reason to exist. Positions adding up is a fact check (fct_cot_weekly).
        suite += [
            _not_null("open_interest"),
            _not_null("report_date"),
            *(_between(c, min_value=0) for c in ("open_interest", *COT_POSITIONS)),
            unique_keys,
        ]
    else:
        suite += [
            Expectation("ExpectColumnValuesToBeInSet", "side", (("value_set", ("BUY", "SELL")),)),
            _between("price", min_value=0, strict_min=True),
            _between("avg_price", min_value=0),
            _between("filled_qty_base", min_value=0),
        ]
    return tuple(suite)


@cache
def checked_columns(dataset: Dataset) -> tuple[str, ...]:
    """The columns ``dataset``'s suite reads; only these go to GX, in the schema's order."""
    named: set[str] = set()
    for expectation in expectations(dataset):
        options = dict(expectation.options)
        named.update(
            [expectation.column]
            if expectation.column
            else options.get("column_list") or (options["column_A"], options["column_B"])
        )
    return tuple(c for c in STAGED_SCHEMAS[dataset.kind].names if c in named)


def check_names(dataset: Dataset) -> tuple[str, ...]:
    """Every gate a file of ``dataset`` passes through, in a stable order (no GX import)."""
    return (*PARSE_CHECKS, *STRUCTURAL_CHECKS, *(e.name for e in expectations(dataset)))


def joined(columns: Iterable[str]) -> str:
    """Column names for a check's name; the internal file and day tags are left out."""
    return "_".join(c for c in columns if c and not c.startswith("__"))

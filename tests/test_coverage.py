"""dq_coverage: every status from real staging and from manifests, the asset, and the CLI strip."""

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.defs.coverage import dq_coverage
from pipelines.defs.resources import TreadmillConfig
from pipelines.defs.staged import staged_assets
from pipelines.runner import RANGE_END_TAG, RANGE_START_TAG
from tests.conftest import FAST_LIMITS, WriteFile
from tests.factories import funding_rows, kline_rows, liquidation_rows, metrics_rows
from transforms import formats
from transforms.coverage import (
    COVERAGE_SCHEMA,
    COVERAGE_TABLE,
    CoverageCell,
    coverage_grid,
    coverage_rows,
    expected_rows,
)
from transforms.dataset import Dataset
from transforms.fetch import ArchiveClient
from transforms.manifests import manifest_path
from transforms.publication import due_at
from transforms.publish import PARTITION_FILE, partition_dir, publish_partition
from transforms.settings import Settings, parse_universe
from transforms.sources import DATASETS, dataset
from transforms.staging import stage_dataset

DAY = date(2024, 1, 10)
LONG_AFTER = datetime(2024, 3, 1, tzinfo=UTC)
UM = "binance_um:BTCUSDT,ETHUSDT"
SHA = "ab" * 32

Row = dict[str, Any]


def um_settings(tmp_path: Path, mirror: Path, universe: str = UM) -> Settings:
    return Settings(
        warehouse=tmp_path / "warehouse",
        binance_url=mirror.as_uri() + "/",
        universe=parse_universe(universe),
        limits=FAST_LIMITS,
    )


def stage_all(settings: Settings, days: list[date]) -> None:
    for ds in DATASETS:
        if not settings.symbols(ds.exchange):
            continue
        with ArchiveClient(
            settings.binance_url, settings.raw_root / ds.exchange, settings.limits
        ) as client:
            stage_dataset(ds, days, settings, client)


def by_key(rows: list[Row]) -> dict[tuple[str, str], Row]:
    return {(row["dataset"], row["symbol"]): row for row in rows}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_status_from_real_staging(
    tmp_path: Path, mirror: Path, write_file: WriteFile
) -> None:
    settings = um_settings(tmp_path, mirror)
    klines = dataset("binance_um", "klines")
    rows = kline_rows(DAY)
    klines_zip = write_file(
        klines.archive_path("BTCUSDT", DAY), formats.KLINE_COLUMNS, rows + rows[:3]
    )
    broken = kline_rows(DAY)
    broken[7][4] = "not-a-price"
    write_file(klines.archive_path("ETHUSDT", DAY), formats.KLINE_COLUMNS, broken)
    metrics = dataset("binance_um", "metrics")
    partial = metrics_rows(DAY)[:250]
    metrics_zip = write_file(
        metrics.archive_path("BTCUSDT", DAY), formats.METRICS_COLUMNS, partial + partial[:2]
    )
    funding = dataset("binance_um", "funding_rate")
    write_file(
        funding.archive_path("BTCUSDT", DAY),
        formats.FUNDING_RATE_COLUMNS,
        funding_rows(DAY.replace(day=1), days=31, interval_hours=4),
    )
    liquidations = dataset("binance_um", "liquidation_snapshot")
    write_file(
        liquidations.archive_path("BTCUSDT", DAY),
        formats.LIQUIDATION_SNAPSHOT_COLUMNS,
        liquidation_rows(DAY),
    )
    # A file whose published checksum does not match: the download fails for good.
    mark = dataset("binance_um", "mark_price_klines")
    mark_zip = write_file(mark.archive_path("BTCUSDT", DAY), formats.KLINE_COLUMNS, rows)
    mark_zip.with_name(mark_zip.name + ".CHECKSUM").write_text(f"{'0' * 64}  {mark_zip.name}\n")
    stage_all(settings, [DAY])

    table = coverage_rows(settings, DAY, LONG_AFTER)

    assert table.schema == COVERAGE_SCHEMA
    cells = by_key(table.to_pylist())
    # Seven archive datasets and the recorded stream (its REST funding fallback has no row of
    # its own: it shows in funding_rate's).
    # And BTC's and ETH's two live quarterlies in the two delivery datasets.
    assert len(cells) == 8 * 2 + 2 * 4, "every um dataset × every universe symbol, nothing else"
    quarterly = cells["delivery_klines", "BTCUSDT_240329"]
    # The mirror has no quarterlies: a derived contract's 404 is "not listed", not missing.
    assert quarterly["status"] == "not_published"
    assert quarterly["source_file"] == (
        "data/futures/um/daily/klines/BTCUSDT_240329/1m/BTCUSDT_240329-1m-2024-01-10.zip"
    )
    stream = cells["liquidation_stream", "BTCUSDT"]
    assert (stream["status"], stream["detail"]) == ("not_published", "not recorded: it has not run")
    ok = cells["klines", "BTCUSDT"]
    assert ok["exchange"] == "binance_um"
    assert ok["status"] == "ok"
    assert (ok["expected_rows"], ok["rows"], ok["duplicates_dropped"]) == (1440, 1440, 3)
    assert ok["sha256"] == sha256(klines_zip)
    assert ok["source_file"] == klines.archive_path("BTCUSDT", DAY)
    assert ok["checked_at"] == LONG_AFTER
    assert ok["detail"] is None

    assert cells["klines", "ETHUSDT"]["status"] == "quarantined"
    assert "csv_values" in cells["klines", "ETHUSDT"]["detail"]
    assert cells["klines", "ETHUSDT"]["rows"] is None

    part = cells["metrics", "BTCUSDT"]
    assert part["status"] == "partial"
    assert (part["expected_rows"], part["rows"], part["duplicates_dropped"]) == (288, 250, 2)
    assert part["label_convention"] == "period_start"
    assert part["sha256"] == sha256(metrics_zip)
    assert part["detail"] == "250 of 288 rows in the day"

    missing = cells["metrics", "ETHUSDT"]
    assert missing["status"] == "missing"
    assert missing["expected_rows"] == 288
    assert missing["rows"] is None
    assert "404" in missing["detail"]

    # 4-hourly funding: six settlements a day, read from the rows' own interval.
    assert cells["funding_rate", "BTCUSDT"]["status"] == "ok"
    assert cells["funding_rate", "BTCUSDT"]["expected_rows"] == 6
    assert cells["funding_rate", "BTCUSDT"]["rows"] == 6
    assert cells["funding_rate", "ETHUSDT"]["status"] == "missing"
    assert cells["funding_rate", "ETHUSDT"]["expected_rows"] == 3

    liquidation = cells["liquidation_snapshot", "BTCUSDT"]
    assert (liquidation["status"], liquidation["expected_rows"], liquidation["rows"]) == (
        "ok",
        None,
        4,
    )

    failed = cells["mark_price_klines", "BTCUSDT"]
    assert failed["status"] == "missing"
    assert failed["detail"].startswith("download failed")

    keys = [(r["exchange"], r["symbol"], r["dataset"]) for r in table.to_pylist()]
    assert keys == sorted(keys)


def test_a_file_not_yet_due_is_pending_then_missing(
    tmp_path: Path, mirror: Path, write_file: WriteFile
) -> None:
    settings = um_settings(tmp_path, mirror, "binance_um:BTCUSDT")
    stage_all(settings, [DAY])  # the mirror is empty: every file answers 404

    def statuses(now: datetime) -> dict[str, str]:
        return {r["dataset"]: r["status"] for r in coverage_rows(settings, DAY, now).to_pylist()}

    daily_due = datetime(2024, 1, 13, tzinfo=UTC)
    monthly_due = datetime(2024, 2, 8, tzinfo=UTC)
    delays = settings.publication_delays
    assert due_at(dataset("binance_um", "klines"), DAY, delays) == daily_due
    assert due_at(dataset("binance_um", "funding_rate"), DAY, delays) == monthly_due
    assert due_at(dataset("binance_um", "funding_rate"), date(2024, 12, 31), delays) == datetime(
        2025, 1, 8, tzinfo=UTC
    )

    before = statuses(daily_due - timedelta(microseconds=1))
    assert before.pop("liquidation_stream") == "not_published", "the recorder never ran"
    assert set(before.values()) == {"pending"}
    at_due = statuses(daily_due)
    assert at_due["klines"] == at_due["metrics"] == "missing"
    assert at_due["funding_rate"] == "pending", "a monthly file has a week after its month"
    assert set(statuses(monthly_due).values()) == {"missing", "not_published"}
    pending = by_key(coverage_rows(settings, DAY, daily_due - timedelta(hours=1)).to_pylist())
    assert (
        pending["klines", "BTCUSDT"]["detail"]
        == "not in the archive (404); due 2024-01-13 00:00 UTC"
    )
    assert pending["funding_rate", "BTCUSDT"]["detail"].endswith("due 2024-02-08 00:00 UTC")


def test_outside_the_window_is_not_published(
    tmp_path: Path, mirror: Path, write_file: WriteFile
) -> None:
    settings = um_settings(tmp_path, mirror, "binance_um:BTCUSDT")
    after = date(2024, 4, 1)  # UM liquidation snapshots end 2024-03-31
    liquidations = dataset("binance_um", "liquidation_snapshot")
    write_file(
        liquidations.archive_path("BTCUSDT", after),
        formats.LIQUIDATION_SNAPSHOT_COLUMNS,
        liquidation_rows(after),
    )
    stage_all(settings, [after])

    cells = by_key(coverage_rows(settings, after, LONG_AFTER).to_pylist())
    outside = cells["liquidation_snapshot", "BTCUSDT"]
    assert outside["status"] == "not_published"
    assert outside["expected_rows"] is None
    assert outside["rows"] is None
    assert "2024-03-31" in outside["detail"]

    # Never staged and before metrics existed (2020-09-01): not published, not missing.
    early = by_key(coverage_rows(settings, date(2020, 8, 31), LONG_AFTER).to_pylist())
    assert early["metrics", "BTCUSDT"]["status"] == "not_published"
    assert early["klines", "BTCUSDT"]["status"] == "missing", "inside the window, never staged"


def write_manifest(
    settings: Settings, ds: Dataset, day: date, entries: list[Row], rows: int = 0
) -> None:
    path = manifest_path(settings, ds, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"table": ds.table, "date": day.isoformat(), "rows": rows, "symbols": entries}
    path.write_text(json.dumps(payload))


def entry(symbol: str, status: str, rows: int = 0, **fields: Any) -> Row:
    base: Row = {
        "symbol": symbol,
        "status": status,
        "source_file": f"data/{symbol}.zip",
        "sha256": SHA if status in ("ok", "quarantined") else None,
        "origin": "downloaded",
        "rows": rows,
        "duplicates_dropped": 0,
        "label_convention": None,
        "timestamp_unit": "ms",
        "had_header": True,
        "error": None,
        "rows_in_day": rows,
        "checks_failed": [],
        "warnings": [],
    }
    return base | fields


def test_statuses_read_from_manifests(tmp_path: Path, mirror: Path) -> None:
    settings = um_settings(tmp_path, mirror, "binance_um:BTCUSDT,ETHUSDT,SOLUSDT")
    metrics = dataset("binance_um", "metrics")
    write_manifest(
        settings,
        metrics,
        DAY,
        [
            entry(
                "BTCUSDT",
                "quarantined",
                288,
                checks_failed=["timestamps_in_window"],
                label_convention="irregular",
            ),
            # Period-end labels: the day's 00:00 row is in the previous day's file.
            entry("ETHUSDT", "ok", 288, rows_in_day=287, label_convention="period_end"),
            entry("SOLUSDT", "outside_window"),
        ],
    )
    klines = dataset("binance_um", "klines")
    write_manifest(
        settings,
        klines,
        DAY,
        [
            entry("BTCUSDT", "ok", 1440, warnings=["no_unknown_columns"]),
            # A manifest written before rows in the day were counted.
            entry("ETHUSDT", "ok", 1440, rows_in_day=0),
            entry("SOLUSDT", "failed", error="checksum mismatch for data/SOLUSDT.zip"),
        ],
    )

    cells = by_key(coverage_rows(settings, DAY, LONG_AFTER).to_pylist())

    quarantined = cells["metrics", "BTCUSDT"]
    assert quarantined["status"] == "quarantined"
    assert quarantined["detail"] == "failed timestamps_in_window"
    assert (quarantined["sha256"], quarantined["label_convention"]) == (SHA, "irregular")
    assert quarantined["rows"] is None
    assert quarantined["expected_rows"] == 288
    period_end = cells["metrics", "ETHUSDT"]
    assert (period_end["status"], period_end["rows"]) == ("ok", 287)
    assert cells["metrics", "SOLUSDT"]["status"] == "not_published"
    assert cells["klines", "BTCUSDT"]["status"] == "ok"
    assert cells["klines", "BTCUSDT"]["detail"] == "warning: no_unknown_columns"
    assert (cells["klines", "ETHUSDT"]["status"], cells["klines", "ETHUSDT"]["rows"]) == (
        "ok",
        1440,
    )
    failed = cells["klines", "SOLUSDT"]
    assert failed["status"] == "missing"
    assert failed["detail"] == "download failed: checksum mismatch for data/SOLUSDT.zip"


def test_expected_rows_per_dataset() -> None:
    assert expected_rows(dataset("binance_spot", "klines")) == 1440
    assert expected_rows(dataset("binance_cm", "premium_index_klines")) == 1440
    assert expected_rows(dataset("binance_cm", "metrics")) == 288
    assert expected_rows(dataset("binance_um", "liquidation_snapshot")) is None
    funding = dataset("binance_um", "funding_rate")
    assert expected_rows(funding) == 3
    assert expected_rows(funding, [None, None]) == 3
    assert expected_rows(funding, [8, 8]) == 3, "two of three settlements: still 3 expected"
    assert expected_rows(funding, [4] * 6) == 6
    assert expected_rows(funding, [1]) == 24
    # 8-hourly until 16:00, then 4-hourly: 00, 08, 16 and 20 settle.
    assert expected_rows(funding, [8, 8, 8, 4]) == 4
    assert expected_rows(funding, [8, 4]) == 5, "12 hours left to cover at 4h"


def test_the_asset_publishes_every_day_of_a_range(
    tmp_path: Path, mirror: Path, write_file: WriteFile
) -> None:
    days = [date(2024, 3, 31), date(2024, 4, 1)]
    klines = dataset("binance_um", "klines")
    for day in days:
        write_file(klines.archive_path("BTCUSDT", day), formats.KLINE_COLUMNS, kline_rows(day))
    warehouse = tmp_path / "warehouse"
    resource = TreadmillConfig(
        warehouse=str(warehouse), binance_url=mirror.as_uri() + "/", universe="binance_um:BTCUSDT"
    )

    result = dg.materialize(
        [*staged_assets, dq_coverage],
        resources={"treadmill": resource},
        instance=dg.DagsterInstance.ephemeral(),
        tags={RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[-1].isoformat()},
    )

    assert result.success
    events = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(COVERAGE_TABLE)
    ]
    # One run over the range: one materialisation per day, carrying the run's metadata.
    assert sorted(str(e.partition) for e in events) == [d.isoformat() for d in days]
    metadata = events[0].materialization.metadata
    assert metadata["partitions_published"].value == 2
    # Eight datasets for BTCUSDT, and two delivery datasets for BTC's two live quarterlies.
    assert metadata["dagster/row_count"].value == 2 * (8 + 2 * 2)
    # Klines published; the other six 404 long ago; liquidations end on 2024-03-31.
    assert metadata["ok"].value == 2
    assert metadata["missing"].value == 2 * 6 - 1
    # The snapshot after 2024-03-31, the never-recorded stream on both days, and the derived
    # quarterlies the mirror does not hold (not listed).
    assert metadata["not_published"].value == 1 + 2 + 2 * 2 * 2
    assert metadata["pending"].value == metadata["partial"].value == 0
    problems = metadata["problems"].value
    assert isinstance(problems, list)
    assert len(problems) == 11
    for day in days:
        path = partition_dir(warehouse / "lake", COVERAGE_TABLE, day) / PARTITION_FILE
        table = pq.read_table(path)
        assert table.schema == COVERAGE_SCHEMA
        assert "date" not in table.column_names
        klines_row = by_key(table.to_pylist())["klines", "BTCUSDT"]
        assert (klines_row["status"], klines_row["rows"]) == ("ok", 1440)


def all_ok_manifests(settings: Settings, day: date, symbol: str = "BTCUSDT") -> None:
    for ds in DATASETS:
        if ds.exchange != "binance_um":
            continue
        rows = expected_rows(ds) or 10
        status = "ok" if ds.is_available(day) else "outside_window"
        # A delivery dataset's symbols are the coin's live quarterlies of the day.
        entries = [entry(staged, status, rows) for staged in ds.symbols_on([symbol], day)]
        write_manifest(settings, ds, day, entries, rows)


def publish_coverage(settings: Settings, days: list[date], now: datetime = LONG_AFTER) -> None:
    for day in days:
        publish_partition(
            coverage_rows(settings, day, now), settings.lake_root, COVERAGE_TABLE, day
        )


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def cli(runner: CliRunner, settings: Settings, *arguments: str) -> Any:
    return runner.invoke(app, ["coverage", "--warehouse", str(settings.warehouse), *arguments])


def strip_of(output: str, label: str) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith(label)]
    return line[len(label) :].lstrip(" ").split("  ")[0]


def test_cli_strip_exits_zero_when_all_is_well(
    tmp_path: Path, mirror: Path, runner: CliRunner
) -> None:
    settings = um_settings(tmp_path, mirror, "binance_um:BTCUSDT")
    days = [date(2024, 3, 30), date(2024, 3, 31), date(2024, 4, 1)]
    for day in days:
        all_ok_manifests(settings, day)
    publish_coverage(settings, days)

    result = cli(runner, settings)

    assert result.exit_code == 0, result.output
    assert "2024-03-30…2024-04-01" in result.output
    assert "legend:" in result.output
    assert strip_of(result.output, "binance_um klines BTCUSDT") == "███"
    liquidation = next(
        line
        for line in result.output.splitlines()
        if line.startswith("binance_um liquidation_snapshot BTCUSDT")
    )
    assert "██   2 ok, 1 not_published" in liquidation
    # The recorded stream was never recorded: not published, like snapshots after 2024-03-31.
    # BTC's two live quarterlies in the two delivery datasets add 3 × 4 ok.
    assert (
        "symbol-days: 32 ok, 0 partial, 0 pending, 0 missing, 0 quarantined, 4 not_published"
        in (result.output)
    )
    # Datasets print in registry order, then symbols.
    lines = [line.split()[1] for line in result.output.splitlines() if line.startswith("binance_")]
    assert lines[:2] == ["klines", "mark_price_klines"]


def test_cli_exits_one_on_quarantined_or_missing_and_lists_them(
    tmp_path: Path, mirror: Path, runner: CliRunner
) -> None:
    settings = um_settings(tmp_path, mirror, "binance_um:BTCUSDT")
    days = [date(2024, 1, 1) + timedelta(days=n) for n in range(4)]
    for day in days:
        all_ok_manifests(settings, day)
    metrics = dataset("binance_um", "metrics")
    klines = dataset("binance_um", "klines")
    write_manifest(
        settings,
        metrics,
        days[1],
        [entry("BTCUSDT", "quarantined", 288, checks_failed=["csv_values"], error="bad value")],
    )
    write_manifest(settings, klines, days[2], [entry("BTCUSDT", "not_published")])
    write_manifest(settings, klines, days[3], [entry("BTCUSDT", "ok", 1000)])
    publish_coverage(settings, days)

    result = cli(runner, settings, "--start", "2024-01-01", "--end", "2024-01-04")

    assert result.exit_code == 1, result.output
    assert strip_of(result.output, "binance_um metrics BTCUSDT") == "█Q██"
    assert strip_of(result.output, "binance_um klines BTCUSDT") == "██x▄"
    assert "2024-01-02 binance_um metrics BTCUSDT quarantined: failed csv_values: bad value" in (
        result.output
    )
    assert "2024-01-03 binance_um klines BTCUSDT missing: not in the archive (404)" in (
        result.output
    )
    # The problems are outside a narrower range: all is well there.
    assert cli(runner, settings, "--start", "2024-01-01", "--end", "2024-01-01").exit_code == 0
    # Partial is worth showing but not worth failing for.
    partial_only = cli(runner, settings, "--start", "2024-01-04", "--end", "2024-01-04")
    assert partial_only.exit_code == 0, partial_only.output


def test_cli_pending_default_range_and_unchecked_days(
    tmp_path: Path, mirror: Path, runner: CliRunner
) -> None:
    settings = um_settings(tmp_path, mirror, "binance_um:BTCUSDT")
    days = [date(2024, 1, 1) + timedelta(days=n) for n in range(40)]
    checked = [d for d in days if d != date(2024, 2, 1)]
    for day in checked:
        all_ok_manifests(settings, day)
    klines = dataset("binance_um", "klines")
    write_manifest(settings, klines, days[-1], [entry("BTCUSDT", "not_published")])
    publish_coverage(settings, checked, now=datetime(2024, 2, 10, 6, tzinfo=UTC))

    result = cli(runner, settings)

    assert result.exit_code == 0, result.output
    # The last 30 days that have coverage: 2024-01-11…2024-02-09, one of them never checked.
    assert "2024-01-11…2024-02-09 (30 day(s), 29 checked)" in result.output
    strip = strip_of(result.output, "binance_um klines BTCUSDT")
    assert len(strip) == 30
    assert strip == "█" * 21 + "·" + "█" * 7 + "?"
    assert "1 day(s) without dq_coverage" in result.output

    # Asking for symbols the coverage never checked shows them, unchecked.
    wider = cli(runner, settings, "--universe", "binance_um:BTCUSDT,ETHUSDT")
    assert strip_of(wider.output, "binance_um klines ETHUSDT") == "·" * 30
    assert wider.exit_code == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--start", "2024-13-01"], "bad date"),
        (["--start", "2024-01-05", "--end", "2024-01-01"], "before --start"),
        (["--universe", "binance_um:../etc"], "not a valid ticker"),
    ],
)
def test_cli_bad_arguments_exit_two(
    tmp_path: Path, mirror: Path, runner: CliRunner, arguments: list[str], message: str
) -> None:
    settings = um_settings(tmp_path, mirror)
    result = cli(runner, settings, *arguments)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_cli_without_coverage_says_so(tmp_path: Path, mirror: Path, runner: CliRunner) -> None:
    result = cli(runner, um_settings(tmp_path, mirror))
    assert result.exit_code == 1
    assert "no dq_coverage partitions" in result.output
    assert "treadmill materialize" in result.output


def coverage_table(rows: list[tuple[str, str, str, str, str | None]]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"exchange": e, "dataset": d, "symbol": s, "status": status, "detail": detail}
            for e, d, s, status, detail in rows
        ]
    )


def test_the_grid_has_a_line_per_symbol_and_a_cell_per_day() -> None:
    days = [date(2024, 3, 28), date(2024, 3, 29), date(2024, 3, 30)]
    tables = {
        days[0]: coverage_table(
            [
                ("binance_um", "metrics", "BTCUSDT", "ok", None),
                ("binance_um", "klines", "ETHUSDT", "ok", None),
                ("binance_um", "klines", "BTCUSDT", "ok", None),
                ("binance_cm", "klines", "BTCUSD_PERP", "pending", "due later"),
                ("binance_um", "retired", "BTCUSDT", "ok", None),
            ]
        ),
        # The 29th was never checked.
        days[2]: coverage_table(
            [
                ("binance_um", "klines", "BTCUSDT", "missing", "not staged"),
                ("binance_um", "metrics", "BTCUSDT", "quarantined", "failed csv_values"),
            ]
        ),
    }
    ok = CoverageCell("ok", None)

    grid = coverage_grid(tables, days)

    # Registry order of the datasets (um's klines before its metrics, then cm), an unknown
    # dataset last; symbols in order within a dataset.
    assert [(line.exchange, line.dataset, line.symbol) for line in grid] == [
        ("binance_um", "klines", "BTCUSDT"),
        ("binance_um", "klines", "ETHUSDT"),
        ("binance_um", "metrics", "BTCUSDT"),
        ("binance_cm", "klines", "BTCUSD_PERP"),
        ("binance_um", "retired", "BTCUSDT"),
    ]
    klines, eth, metrics, coin_margined, _ = grid
    assert klines.cells == (ok, None, CoverageCell("missing", "not staged"))
    assert eth.cells == (ok, None, None)
    assert metrics.cells == (ok, None, CoverageCell("quarantined", "failed csv_values"))
    assert coin_margined.cells == (CoverageCell("pending", "due later"), None, None)
    assert metrics.counts == {
        "ok": 1,
        "partial": 0,
        "pending": 0,
        "missing": 0,
        "quarantined": 1,
        "not_published": 0,
    }

    # A universe keeps its own symbols, those never checked included, across all the days:
    # the delivery contracts are the coin's live quarterlies of each day.
    only_eth = coverage_grid(tables, days, {"binance_um": ("ETHUSDT",)})

    assert [(line.dataset, line.symbol) for line in only_eth] == [
        ("klines", "ETHUSDT"),
        ("mark_price_klines", "ETHUSDT"),
        ("index_price_klines", "ETHUSDT"),
        ("premium_index_klines", "ETHUSDT"),
        ("metrics", "ETHUSDT"),
        ("funding_rate", "ETHUSDT"),
        ("liquidation_snapshot", "ETHUSDT"),
        ("delivery_klines", "ETHUSDT_240329"),
        ("delivery_klines", "ETHUSDT_240628"),
        ("delivery_klines", "ETHUSDT_240927"),
        ("delivery_metrics", "ETHUSDT_240329"),
        ("delivery_metrics", "ETHUSDT_240628"),
        ("delivery_metrics", "ETHUSDT_240927"),
        ("funding_rate_rest", "ETHUSDT"),
        ("liquidation_stream", "ETHUSDT"),
    ]
    assert only_eth[0].cells == (ok, None, None)
    assert all(cell is None for line in only_eth[1:] for cell in line.cells)
    assert coverage_grid({}, days) == []

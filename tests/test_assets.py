"""The staged assets run in process through Dagster, alone, as a range, and from the CLI."""

import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.definitions import defs
from pipelines.defs.jobs import DAILY_JOB
from pipelines.defs.resources import TreadmillConfig
from pipelines.defs.staged import SOURCE_FILES_CHECK, staged_assets
from pipelines.runner import RANGE_END_TAG, RANGE_START_TAG
from tests.conftest import WriteFile
from tests.factories import kline_rows, metrics_rows
from transforms import formats
from transforms.facts import FACT_MODELS
from transforms.features import FEATURE_MODELS
from transforms.sources import DATASETS, dataset

DAY = date(2024, 1, 1)
UNIVERSE = "binance_um:BTCUSDT,ETHUSDT"


def resource(tmp_path: Path, mirror: Path) -> TreadmillConfig:
    return TreadmillConfig(
        warehouse=str(tmp_path / "warehouse"),
        binance_url=mirror.as_uri() + "/",
        universe=UNIVERSE,
    )


def write_day(write_file: WriteFile, day: date, symbols: tuple[str, ...]) -> None:
    klines, metrics = dataset("binance_um", "klines"), dataset("binance_um", "metrics")
    for symbol in symbols:
        write_file(klines.archive_path(symbol, day), formats.KLINE_COLUMNS, kline_rows(day))
        write_file(
            metrics.archive_path(symbol, day), formats.METRICS_COLUMNS, metrics_rows(day, symbol)
        )


def test_one_day_materialises_in_process(
    tmp_path: Path, mirror: Path, write_file: WriteFile
) -> None:
    write_day(write_file, DAY, ("BTCUSDT", "ETHUSDT"))

    result = dg.materialize(
        staged_assets,
        partition_key=DAY.isoformat(),
        resources={"treadmill": resource(tmp_path, mirror)},
        instance=dg.DagsterInstance.ephemeral(),
    )

    assert result.success
    metadata = {
        m.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.asset_key is not None
    }
    assert metadata["stg_binance_um_klines"]["dagster/row_count"].value == 2 * 1440
    assert metadata["stg_binance_um_metrics"]["dagster/row_count"].value == 2 * 288
    assert metadata["stg_binance_um_metrics"]["label_conventions"].value == {"period_start": 2}
    # A 404 (no funding or mark-price file here) is an answer, not a failure.
    assert metadata["stg_binance_um_funding_rate"]["files"].value == {"not_published": 2}
    assert metadata["stg_binance_cm_klines"]["dagster/row_count"].value == 0
    assert all(e.passed for e in result.get_asset_check_evaluations())
    lake = tmp_path / "warehouse" / "lake"
    table = pq.read_table(lake / "stg_binance_um_klines" / "date=2024-01-01" / "data.parquet")
    assert table.num_rows == 2 * 1440
    assert not (lake / "stg_binance_cm_klines").exists()


def test_a_bad_file_fails_its_check_and_spares_the_rest(
    tmp_path: Path, mirror: Path, write_file: WriteFile
) -> None:
    write_day(write_file, DAY, ("BTCUSDT",))
    klines = dataset("binance_um", "klines")
    write_file(klines.archive_path("ETHUSDT", DAY), ["open_time", "open"], [[1, 2]])

    result = dg.materialize(
        staged_assets,
        partition_key=DAY.isoformat(),
        resources={"treadmill": resource(tmp_path, mirror)},
        instance=dg.DagsterInstance.ephemeral(),
    )

    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [(e.asset_key.to_user_string(), e.check_name) for e in failed] == [
        ("stg_binance_um_klines", SOURCE_FILES_CHECK)
    ]
    failures = failed[0].metadata["failures"].value
    assert isinstance(failures, list)
    assert len(failures) == 1
    assert "ETHUSDT" in failures[0]
    assert klines.archive_path("ETHUSDT", DAY) in failures[0]
    published = tmp_path / "warehouse" / "lake" / "stg_binance_um_klines" / "date=2024-01-01"
    assert pq.read_table(published / "data.parquet")["symbol"].unique().to_pylist() == ["BTCUSDT"]


def test_a_range_is_one_run_over_every_day(
    tmp_path: Path, mirror: Path, write_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    for day in days:
        write_day(write_file, day, ("BTCUSDT",))
    monkeypatch.setenv("TREADMILL_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("TREADMILL_BINANCE_URL", mirror.as_uri() + "/")
    monkeypatch.setenv("TREADMILL_UNIVERSE", "binance_um:BTCUSDT")

    job = defs().resolve_job_def(DAILY_JOB)
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags={RANGE_START_TAG: "2024-01-01", RANGE_END_TAG: "2024-01-03"},
    )

    assert result.success
    lake = tmp_path / "warehouse" / "lake" / "stg_binance_um_klines"
    assert sorted(p.name for p in lake.iterdir()) == [f"date={d.isoformat()}" for d in days]


def test_cli_materialize_reports_bad_files_and_exits_non_zero(
    tmp_path: Path, mirror: Path, write_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_day(write_file, DAY, ("BTCUSDT",))
    bad = dataset("binance_um", "metrics").archive_path("ETHUSDT", DAY)
    write_file(bad, formats.METRICS_COLUMNS, [["yesterday", "ETHUSDT", 1, 1, 1, 1, 1, 1]])
    # Set then delete, so that teardown restores whatever the runner sets.
    for name in ("DAGSTER_HOME", "TREADMILL_UNIVERSE", "TREADMILL_WAREHOUSE"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("TREADMILL_BINANCE_URL", mirror.as_uri() + "/")
    warehouse = tmp_path / "warehouse"
    runner = CliRunner()
    arguments = ["materialize", "--start", "2024-01-01", "--warehouse", str(warehouse)]

    good = runner.invoke(app, [*arguments, "--universe", "binance_um:BTCUSDT"])
    bad_run = runner.invoke(app, [*arguments, "--universe", UNIVERSE])

    assert good.exit_code == 0, good.output
    assert bad_run.exit_code == 1, bad_run.output
    assert bad in bad_run.output
    assert "create_time" in bad_run.output
    # Dagster's run history lives under the warehouse.
    assert (warehouse / "dagster" / "dagster.yaml").exists()
    assert any((warehouse / "dagster" / "history").iterdir())


def test_cli_rejects_a_bad_universe() -> None:
    result = CliRunner().invoke(
        app, ["materialize", "--start", "2024-01-01", "--universe", "binance_um:../etc"]
    )
    assert result.exit_code == 2
    assert "not a valid ticker" in result.output


def test_definitions_load_with_one_asset_per_table() -> None:
    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    graph = definitions.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {d.table for d in DATASETS} | {
        m.name for m in (*FACT_MODELS, *FEATURE_MODELS)
    } | {
        "catalog",
        "dq_coverage",
        "feat_liquidation_levels",
        "feat_liquidation_heatmap",
        "feat_hot_zones",
        "report",
    }
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
        assert node.backfill_policy == dg.BackfillPolicy.single_run()
    assert definitions.resolve_job_def(DAILY_JOB).partitions_def is not None


def test_a_staged_asset_is_described_by_its_dataset() -> None:
    open_interest = dataset("okx", "open_interest")
    (asset,) = [a for a in staged_assets if a.key.to_user_string() == open_interest.table]
    assert asset.descriptions_by_key[asset.key] == (
        f"{open_interest.description}\n\n"
        "`okx` `open_interest`, paged REST history "
        "(`api/v5/rubik/stat/contracts/open-interest-history`, one chunk of pages per symbol and "
        f"day), published for {open_interest.available_from}…today. One row per source row, "
        "exact duplicates dropped and counted. Each file is validated before publishing; a file "
        "that fails a gate is quarantined alone."
    )


def test_rematerialising_a_range_gives_identical_rows_and_no_stale_files(
    tmp_path: Path, mirror: Path, write_file: WriteFile
) -> None:
    days = [date(2024, 1, 1), date(2024, 1, 2)]
    for day in days:
        write_day(write_file, day, ("BTCUSDT", "ETHUSDT"))
    config = {
        "warehouse": str(tmp_path / "warehouse"),
        "binance_url": mirror.as_uri() + "/",
        "universe": UNIVERSE,
    }
    lake = tmp_path / "warehouse" / "lake"

    def run() -> dict[str, pa.Table]:
        result = (
            defs()
            .resolve_job_def(DAILY_JOB)
            .execute_in_process(
                instance=dg.DagsterInstance.ephemeral(),
                tags={RANGE_START_TAG: "2024-01-01", RANGE_END_TAG: "2024-01-02"},
                run_config={"resources": {"treadmill": {"config": config}}},
            )
        )
        assert result.success
        # checked_at is coverage's wall clock: the one column a rerun may change.
        return {
            str(p.relative_to(lake)): (
                t.drop_columns(["checked_at"]) if "checked_at" in t.column_names else t
            )
            for p in sorted(lake.rglob("*.parquet"))
            for t in [pq.read_table(p)]
        }

    first = run()
    # The archive re-publishes ETHUSDT's second day with ten bars: the old 1440 must not linger.
    klines = dataset("binance_um", "klines")
    write_file(
        klines.archive_path("ETHUSDT", days[1]), formats.KLINE_COLUMNS, kline_rows(days[1], 10)
    )
    second = run()

    assert first.keys() == second.keys()
    assert all(name.endswith("/data.parquet") for name in second)
    changed = {name for name in first if not first[name].equals(second[name])}
    assert changed == {
        "stg_binance_um_klines/date=2024-01-02/data.parquet",
        "fct_price_1m/date=2024-01-02/data.parquet",
        "fct_market_1h/date=2024-01-02/data.parquet",
        "dq_coverage/date=2024-01-02/data.parquet",
        "feat_regime_1h/date=2024-01-02/data.parquet",
        "feat_regime_1d/date=2024-01-02/data.parquet",
        "feat_liquidation_levels/date=2024-01-02/data.parquet",
        "feat_liquidation_heatmap/date=2024-01-02/data.parquet",
        "feat_hot_zones/date=2024-01-02/data.parquet",
        # ETHUSDT's perpetual volume of the day: the coin's volume shares.
        "fct_volume_shares_1d/date=2024-01-02/data.parquet",
    }
    price = second["fct_price_1m/date=2024-01-02/data.parquet"]
    assert price.filter(pc.equal(price["symbol"], "ETHUSDT")).num_rows == 10
    assert price.filter(pc.equal(price["symbol"], "BTCUSDT")).num_rows == 1440
    assert not [p for p in lake.rglob("*") if p.name.startswith(".")], "no temp files left"


def test_loading_the_code_location_does_not_import_great_expectations() -> None:
    """GX costs ~8 s to import and boto3 ~0.3 s: only a step that fetches or validates data
    may pay for them."""
    probe = (
        "import sys\n"
        "from pipelines.definitions import defs\n"
        "defs().resolve_asset_graph()\n"
        "print('great_expectations' in sys.modules, 'boto3' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "False False"


def test_cli_refuses_days_outside_the_partitions(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["materialize", "--warehouse", str(tmp_path / "warehouse")]
    before = runner.invoke(app, [*base, "--start", "2019-08-31"])
    future = runner.invoke(app, [*base, "--start", "2099-01-01"])
    assert before.exit_code == 2
    assert "2019-09-01" in before.output
    assert future.exit_code == 2
    assert not (tmp_path / "warehouse" / "lake").exists()


def test_cli_refuses_empty_values_instead_of_defaulting(tmp_path: Path) -> None:
    """An empty --universe is not the default universe, an empty --start is not yesterday."""
    runner = CliRunner()
    base = ["materialize", "--warehouse", str(tmp_path / "warehouse")]
    refusals = {
        "universe": runner.invoke(app, [*base, "--universe", ""]),
        "start": runner.invoke(app, [*base, "--start", ""]),
        "end": runner.invoke(app, [*base, "--start", "2024-01-01", "--end", ""]),
        "warehouse": runner.invoke(app, ["materialize", "--warehouse", ""]),
        "coverage universe": runner.invoke(app, ["coverage", *base[1:], "--universe", " "]),
    }
    for name, result in refusals.items():
        assert result.exit_code == 2, (name, result.output)
        assert len(result.output.strip().splitlines()) == 1, (name, result.output)
    assert refusals["universe"].output.startswith("configuration error: --universe is empty")
    assert refusals["start"].output.startswith("bad date:")
    assert not (tmp_path / "warehouse" / "lake").exists()


def test_cli_says_in_one_line_when_the_warehouse_is_a_file(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "warehouse"
    not_a_folder.write_text("notes\n")
    for command in (["materialize", "--start", "2024-01-01"], ["sql", "select 1"], ["coverage"]):
        result = CliRunner().invoke(app, [*command, "--warehouse", str(not_a_folder)])
        assert result.exit_code == 2, (command, result.output)
        assert result.output.startswith("configuration error: the warehouse"), result.output
        assert "is a file, not a folder" in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not_a_folder.read_text() == "notes\n"


def test_cli_fails_when_a_download_fails(
    tmp_path: Path, mirror: Path, write_file: WriteFile
) -> None:
    write_day(write_file, DAY, ("BTCUSDT",))
    klines = dataset("binance_um", "klines")
    (mirror / (klines.archive_path("BTCUSDT", DAY) + ".CHECKSUM")).write_text(
        "0" * 64 + "  " + Path(klines.archive_path("BTCUSDT", DAY)).name + "\n"
    )
    result = CliRunner().invoke(
        app,
        [
            "materialize",
            "--start",
            DAY.isoformat(),
            "--warehouse",
            str(tmp_path / "warehouse"),
            "--universe",
            "binance_um:BTCUSDT",
        ],
        env={"TREADMILL_BINANCE_URL": mirror.as_uri() + "/", "DAGSTER_HOME": ""},
    )
    assert result.exit_code == 1, result.output
    assert "checksum mismatch" in result.output

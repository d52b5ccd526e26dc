"""Operating the warehouse under Dagster: the instance, one writer at a time, retries."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.defs.history import HISTORY_SENSOR, history_retention_sensor
from pipelines.defs.jobs import DAILY_JOB
from pipelines.defs.partitions import daily_partitions
from pipelines.defs.resources import TreadmillConfig
from pipelines.defs.staged import FETCH_RETRY, build_staged_asset, staged_assets
from pipelines.runner import PROJECT_DAGSTER_YAML
from tests.archive_server import ArchiveServer
from tests.conftest import WriteFile
from tests.factories import kline_rows
from transforms import formats
from transforms.lock import LOCK_FILE
from transforms.manifests import read_manifest
from transforms.sources import dataset

DAY = date(2024, 1, 1)
KLINES = dataset("binance_um", "klines")

LOCK_PROBE = """
import fcntl, sys
with open(sys.argv[1], "a+") as handle:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("held")
    else:
        print("free")
"""


def other_process_sees(lock: Path) -> str:
    """Whether a separate process could take the warehouse's writer lock right now."""
    probe = [sys.executable, "-c", LOCK_PROBE, str(lock)]
    result = subprocess.run(probe, capture_output=True, text=True, check=True, timeout=60)
    return result.stdout.strip()


def test_the_instance_keeps_everything_in_sqlite_under_dagster_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "warehouse" / "dagster"
    home.mkdir(parents=True)
    shutil.copyfile(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        concurrency = instance.get_concurrency_config()
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "SqliteScheduleStorage"
        assert not instance.telemetry_enabled
        assert concurrency.run_queue_config is not None
        assert concurrency.run_queue_config.max_concurrent_runs == 1
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure
        assert instance.get_settings("retention")["schedule"] == {"purge_after_days": 30}
        dg.materialize([_noop], instance=instance)

    # Storage is under DAGSTER_HOME whatever the working directory.
    assert (home / "history" / "runs.db").exists()
    assert list(elsewhere.iterdir()) == []


@dg.asset
def _noop() -> None:
    """Something to run, so that the instance writes its storage."""


@dg.asset(partitions_def=daily_partitions)
def _lock_probe(treadmill: TreadmillConfig) -> dg.MaterializeResult:
    lock = treadmill.settings().warehouse / LOCK_FILE
    return dg.MaterializeResult(
        metadata={"other_process": other_process_sees(lock), "holder": lock.read_text().strip()}
    )


def test_a_run_holds_the_writer_lock_from_start_to_end(tmp_path: Path) -> None:
    """Any run using the ``treadmill`` resource keeps every other writer out while it runs."""
    warehouse = tmp_path / "warehouse"

    result = dg.materialize(
        [_lock_probe],
        partition_key=DAY.isoformat(),
        resources={"treadmill": TreadmillConfig(warehouse=str(warehouse))},
        instance=dg.DagsterInstance.ephemeral(),
    )

    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["other_process"].value == "held"
    assert str(metadata["holder"].value).startswith(f"pid {os.getpid()} ")
    assert other_process_sees(warehouse / LOCK_FILE) == "free"


def test_every_run_executes_in_one_process() -> None:
    """One process per run, so that the run's writer lock covers every step."""
    executor = defs().resolve_job_def(DAILY_JOB).executor_def
    assert executor.name == dg.in_process_executor.name


def test_staged_assets_retry_with_exponential_backoff_and_jitter() -> None:
    assert FETCH_RETRY.backoff is dg.Backoff.EXPONENTIAL
    assert FETCH_RETRY.jitter is dg.Jitter.PLUS_MINUS
    assert FETCH_RETRY.max_retries >= 2
    for asset in staged_assets:
        assert asset.op.retry_policy == FETCH_RETRY


@pytest.fixture
def server(mirror: Path) -> Iterator[ArchiveServer]:
    with ArchiveServer(mirror) as running:
        yield running


def stage_from_a_flaky_archive(
    warehouse: Path, server: ArchiveServer, failures: int, policy: dg.RetryPolicy
) -> dg.ExecuteInProcessResult:
    """Stage one klines file that the archive answers 503 ``failures`` times first, with two
    attempts per download."""
    server.inject(KLINES.archive_path("BTCUSDT", DAY), "503", times=failures)
    resource = TreadmillConfig(
        warehouse=str(warehouse),
        binance_url=server.base_url,
        universe="binance_um:BTCUSDT",
        fetch_attempts=2,
        fetch_backoff_seconds=0.01,
    )
    return dg.materialize(
        [build_staged_asset(KLINES, retry_policy=policy)],
        partition_key=DAY.isoformat(),
        resources={"treadmill": resource},
        instance=dg.DagsterInstance.ephemeral(),
    )


def klines_manifest_entry(warehouse: Path) -> dict[str, object]:
    manifest = read_manifest(warehouse / "manifests", KLINES.table, DAY)
    assert manifest is not None
    [entry] = manifest["symbols"]
    return entry


def test_a_download_that_outlasts_its_retries_retries_the_step(
    tmp_path: Path, write_file: WriteFile, server: ArchiveServer
) -> None:
    """Two answers of 503: the file is given up, the step fails and its retry lands the file."""
    relpath = KLINES.archive_path("BTCUSDT", DAY)
    write_file(relpath, formats.KLINE_COLUMNS, kline_rows(DAY))
    quick = dg.RetryPolicy(
        max_retries=2, delay=0.01, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    )

    result = stage_from_a_flaky_archive(tmp_path, server, failures=2, policy=quick)

    retries = [
        e for e in result.all_events if e.event_type is dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]
    assert result.success
    assert len(retries) == 1
    assert "unreachable" in str(retries[0].event_specific_data)
    assert server.count(relpath) == 3
    assert klines_manifest_entry(tmp_path)["status"] == "ok"


def test_a_download_that_fails_on_every_retry_is_reported_not_raised(
    tmp_path: Path, write_file: WriteFile, server: ArchiveServer
) -> None:
    """Once the retries are spent the step ends normally, the file recorded as failed."""
    relpath = KLINES.archive_path("BTCUSDT", DAY)
    write_file(relpath, formats.KLINE_COLUMNS, kline_rows(DAY))
    quick = dg.RetryPolicy(max_retries=1, delay=0.01, backoff=dg.Backoff.EXPONENTIAL)

    result = stage_from_a_flaky_archive(tmp_path, server, failures=4, policy=quick)

    entry = klines_manifest_entry(tmp_path)
    assert result.success
    assert server.count(relpath) == 4
    assert (entry["status"], entry["retryable"]) == ("failed", True)
    assert "gave up after 2 attempts" in str(entry["error"])


def test_the_daemon_prunes_history_after_each_run_as_materialize_does(
    dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retention sensor, evaluated as the daemon does after a run succeeds: of five runs of
    one asset, the newest three are kept whole and the two older ones, whose materialization
    a later run replaced, are deleted."""
    monkeypatch.delenv("TREADMILL_HISTORY_KEEP_RUNS", raising=False)
    # The project's storage classes find their directory through DAGSTER_HOME, not the path
    # the instance is opened with: without it they would use ./warehouse/dagster.
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = [dg.materialize([_noop], instance=instance).run_id for _ in range(5)]
        newest = instance.get_run_by_id(runs[-1])
        assert newest is not None
        success = instance.get_records_for_run(
            runs[-1], of_type=dg.DagsterEventType.RUN_SUCCESS
        ).records[0]
        context = dg.build_run_status_sensor_context(
            sensor_name=HISTORY_SENSOR,
            dagster_instance=instance,
            dagster_run=newest,
            dagster_event=success.event_log_entry.dagster_event,  # type: ignore[arg-type]
        )

        skipped = history_retention_sensor(context)

        assert [run.run_id for run in instance.get_runs()] == runs[:1:-1]
    assert isinstance(skipped, dg.SkipReason)
    assert "deleted 2 run(s)" in str(skipped.skip_message)

"""Ctrl-C, SIGTERM and kill -9 to ``treadmill materialize`` as a real process, and the history a
run leaves behind (issue 22, items 3 and 10).

The archive is simulated once per module (one perpetual, three days) and read through
``file://``, as in tests/test_materialize.py, whose helpers these tests share.
"""

import os
import re
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.runs import one_perpetual_archive, run_daily
from tests.test_materialize import (
    END,
    START,
    UNIVERSE,
    assert_readers_see_only_whole_partitions,
    lake_contents,
    range_arguments,
    run_in_process,
    spawn,
)

STOP_SECONDS = 30
"""Generous: a signalled run must have exited well within this."""


@pytest.fixture(scope="module")
def archive_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return one_perpetual_archive(tmp_path_factory.mktemp("simulated"), START, END)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, archive_url: str) -> dict[str, object]:
    """The lake of one uninterrupted run over the range."""
    warehouse = tmp_path_factory.mktemp("reference") / "warehouse"
    run_daily(warehouse, archive_url, START, END, UNIVERSE)
    return lake_contents(warehouse)


@pytest.fixture
def dagster_home(dagster_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The instance the CLI runs record to, set as this process's ``DAGSTER_HOME`` too, to read
    it."""
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    return dagster_home


def statuses(home: Path) -> dict[str, dg.DagsterRunStatus]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {run.run_id: run.status for run in instance.get_runs()}


def start_and_wait_for_progress(
    warehouse: Path, archive_url: str, home: Path, log: Path
) -> subprocess.Popen[str]:
    """A range run in its own process group (as a shell's foreground job), once it reports
    some asset-partitions done."""
    with log.open("w") as sink:
        process = spawn(
            range_arguments(warehouse),
            archive_url,
            home,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    deadline = time.monotonic() + 300
    while not re.search(r"progress: [1-9]", log.read_text()):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the run never reported progress"
        time.sleep(0.1)
    return process


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_a_signal_cancels_the_run_exits_130_and_a_rerun_completes_it(
    tmp_path: Path,
    archive_url: str,
    dagster_home: Path,
    reference: dict[str, object],
    stop: str,
) -> None:
    warehouse, log = tmp_path / "warehouse", tmp_path / "run.log"
    process = start_and_wait_for_progress(warehouse, archive_url, dagster_home, log)
    if stop == "SIGINT":
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group gets it
    else:
        process.send_signal(signal.SIGTERM)  # kill PID: the process alone
    try:
        returncode = process.wait(timeout=STOP_SECONDS)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    output = log.read_text()

    assert returncode == 130, output
    said = [line for line in output.splitlines() if line.startswith("interrupted")]
    assert len(said) == 1, output
    run_id = re.search(r"run (\S+) canceled; nothing partial was published", said[0])
    assert run_id is not None, said
    assert f"({stop})" in said[0]
    assert statuses(dagster_home) == {run_id[1]: dg.DagsterRunStatus.CANCELED}
    assert "succeeded" not in output
    assert_readers_see_only_whole_partitions(warehouse)

    rerun = run_in_process(range_arguments(warehouse), archive_url, dagster_home)
    assert "asset-partitions (100%)" in rerun
    contents = lake_contents(warehouse)
    assert contents.keys() == reference.keys()
    for name, table in contents.items():
        assert table.equals(reference[name]), name  # type: ignore[attr-defined]


def test_a_run_left_started_by_kill_9_is_failed_at_the_next_start_and_history_is_pruned(
    tmp_path: Path, archive_url: str, dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "warehouse"
    process = start_and_wait_for_progress(warehouse, archive_url, dagster_home, tmp_path / "log")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_SECONDS)
    [(killed, status)] = statuses(dagster_home).items()
    assert status == dg.DagsterRunStatus.STARTED  # what a run queue would count as running

    rerun = run_in_process(range_arguments(warehouse), archive_url, dagster_home)
    assert f"marked failed: run {killed}, left unfinished by a process that is gone" in rerun
    after = statuses(dagster_home)
    assert after[killed] == dg.DagsterRunStatus.FAILURE
    [finished] = [run_id for run_id in after if run_id != killed]
    assert after[finished] == dg.DagsterRunStatus.SUCCESS

    # Keeping no run whole: the killed run is deleted (the rerun rebuilt everything it had
    # materialised), the rerun is kept for the latest materializations it holds.
    shard = dagster_home / "history" / "runs" / f"{killed}.db"
    assert shard.exists()
    monkeypatch.setenv("TREADMILL_HISTORY_KEEP_RUNS", "0")
    pruned = CliRunner().invoke(app, ["prune-history", f"--warehouse={warehouse}"])
    assert pruned.exit_code == 0, pruned.output
    assert "deleted 1 run(s); trimmed 1 older run(s)" in pruned.output
    assert statuses(dagster_home) == {finished: dg.DagsterRunStatus.SUCCESS}
    assert not shard.exists()
    assert not (dagster_home / "storage" / finished).exists()  # its compute logs
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        built = instance.get_materialized_partitions(dg.AssetKey("fct_price_1m"))
        kept_events = {
            entry.dagster_event.event_type_value
            for entry in instance.all_logs(finished)
            if entry.dagster_event is not None
        }
    assert built == {START.isoformat(), "2024-03-02", END.isoformat()}
    # The kept run holds its materializations alone, and the index each check's latest result
    # per partition.
    assert kept_events == {dg.DagsterEventType.ASSET_MATERIALIZATION.value}
    with closing(sqlite3.connect(dagster_home / "history" / "runs" / "index.db")) as index:
        executions = index.execute(
            "select count(*), count(distinct asset_key || check_name || coalesce(partition, ''))"
            " from asset_check_executions"
        ).fetchone()
    assert executions[0] == executions[1] > 0

    refused = CliRunner().invoke(
        app, ["prune-history", f"--warehouse={warehouse}"], env={"TREADMILL_HISTORY_KEEP_RUNS": "x"}
    )
    assert refused.exit_code == 2
    assert refused.output.startswith("configuration error: TREADMILL_HISTORY_KEEP_RUNS='x'")

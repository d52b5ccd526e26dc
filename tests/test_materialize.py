"""``treadmill materialize`` over a range as a real process: killed, resumed, read while it runs.

The archive is simulated once per module (one perpetual, three days) and read through
``file://``; every run is the CLI itself, in a subprocess where it must be killed or outlive the
test's own work, in process otherwise.
"""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.progress import Progress
from tests.runs import one_perpetual_archive, run_daily
from transforms.catalog import catalog_is_current
from transforms.contracts import published_schemas
from transforms.lock import writer_lock
from transforms.settings import CATALOG_FILE

START, END = date(2024, 3, 1), date(2024, 3, 3)
UNIVERSE = "binance_um:BTCUSDT"
CONTRACTS = published_schemas()


@pytest.fixture(scope="module")
def archive_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return one_perpetual_archive(tmp_path_factory.mktemp("simulated"), START, END)


def range_arguments(warehouse: Path, start: date = START, end: date = END) -> list[str]:
    return [
        "materialize",
        f"--start={start}",
        f"--end={end}",
        f"--universe={UNIVERSE}",
        f"--warehouse={warehouse}",
    ]


def spawn(
    arguments: list[str], archive_url: str, home: Path, **popen: object
) -> subprocess.Popen[str]:
    """``treadmill ARGUMENTS`` in its own process."""
    environment = {**os.environ, "TREADMILL_BINANCE_URL": archive_url, "DAGSTER_HOME": str(home)}
    command = [sys.executable, "-c", "from pipelines.cli import app; app()", *arguments]
    return subprocess.Popen(command, env=environment, text=True, **popen)  # type: ignore[call-overload]


def run_in_process(arguments: list[str], archive_url: str, home: Path) -> str:
    result = CliRunner().invoke(
        app, arguments, env={"TREADMILL_BINANCE_URL": archive_url, "DAGSTER_HOME": str(home)}
    )
    assert result.exit_code == 0, result.output
    return result.output


def lake_contents(warehouse: Path) -> dict[str, object]:
    """Every partition's rows; ``checked_at`` (coverage's wall clock) is the one column dropped."""
    lake = warehouse / "lake"
    contents: dict[str, object] = {}
    for path in sorted(lake.rglob("*.parquet")):
        table = pq.read_table(path)
        if "checked_at" in table.column_names:
            table = table.drop_columns(["checked_at"])
        contents[str(path.relative_to(lake))] = table
    return contents


def assert_readers_see_only_whole_partitions(warehouse: Path) -> None:
    lake = warehouse / "lake"
    strays = [p for p in lake.rglob("*") if p.is_file() and p.name != "data.parquet"]
    assert strays == [], "nothing but published partitions in the lake"
    for path in lake.rglob("data.parquet"):
        table, partition = path.parent.parent.name, path.parent.name
        assert partition.startswith("date=")
        schema = pq.read_schema(path)
        expected = CONTRACTS[table][0]
        assert [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in expected], path
        pq.read_table(path)
    for manifest in (warehouse / "manifests").rglob("*"):
        if manifest.is_file():
            json.loads(manifest.read_text())


def test_a_run_killed_mid_range_leaves_a_valid_lake_and_a_rerun_matches_an_uninterrupted_one(
    tmp_path: Path, archive_url: str, dagster_home: Path
) -> None:
    crashed, reference = tmp_path / "crashed", tmp_path / "reference"
    with (tmp_path / "killed.log").open("w") as sink:
        process = spawn(
            range_arguments(crashed), archive_url, dagster_home, stdout=sink, stderr=sink
        )
        # Kill it once facts are being published: staging is done, the rest of the range is not.
        while process.poll() is None and not list((crashed / "lake").glob("fct_*/date=*/*")):
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()

    assert_readers_see_only_whole_partitions(crashed)
    count = "select count(*) as n from stg_binance_um_klines"
    views = CliRunner().invoke(app, ["sql", count, "--format=csv", f"--warehouse={crashed}"])
    assert views.output == "n\n4320\n"  # three whole days of minutes

    rerun = run_in_process(range_arguments(crashed), archive_url, dagster_home)
    again = run_in_process(range_arguments(crashed), archive_url, dagster_home)
    run_daily(reference, archive_url, START, END, UNIVERSE)
    assert "asset-partitions (100%)" in rerun
    assert lake_contents(crashed).keys() == lake_contents(reference).keys()
    for name, table in lake_contents(crashed).items():
        assert table.equals(lake_contents(reference)[name]), name  # type: ignore[attr-defined]
    assert list((crashed / "tmp").iterdir()) == []
    assert "nothing to do: all 3 day(s) are built from unchanged inputs" in again
    with duckdb.connect(str(crashed / CATALOG_FILE), read_only=True) as catalog:
        views_after = catalog.sql("select count(*) from duckdb_views() where not internal")
        assert views_after.fetchall() == [(len(list((crashed / "lake").iterdir())),)]

    # Moved elsewhere, the warehouse still answers, and materialize rebuilds its stale catalog.
    moved = tmp_path / "moved"
    shutil.move(crashed, moved)
    assert not catalog_is_current(moved)
    views = CliRunner().invoke(app, ["sql", count, "--format=csv", f"--warehouse={moved}"])
    assert views.output == "n\n4320\n"
    after_move = run_in_process(range_arguments(moved), archive_url, dagster_home)
    assert "nothing to do" in after_move
    assert "rebuilt it over" in after_move
    assert catalog_is_current(moved)


def observe(warehouse: Path) -> dict[tuple[str, str, str], int]:
    """Rows per table and day, through ``treadmill sql`` and through polars scans of the lake."""
    seen: dict[tuple[str, str, str], int] = {}
    existed = warehouse.exists()
    listing = CliRunner().invoke(
        app,
        [
            "sql",
            "select view_name from duckdb_views() where not internal",
            "--format=json",
            f"--warehouse={warehouse}",
        ],
    )
    if not existed and listing.exit_code == 2 and listing.output.startswith("no warehouse:"):
        return seen  # the run has not made its warehouse yet: sql says so, nothing is seen
    assert listing.exit_code == 0, listing.output
    views = [row["view_name"] for row in json.loads(listing.output)] if listing.output else []
    if views:
        query = " union all ".join(
            f"select '{v}' as t, cast(date as varchar) as d, count(*) as n from {v} group by 2"
            for v in views
        )
        counts = CliRunner().invoke(
            app, ["sql", query, "--format=json", f"--warehouse={warehouse}"]
        )
        assert counts.exit_code == 0, counts.output
        for row in json.loads(counts.output):
            seen["sql", row["t"], row["d"]] = row["n"]
    lake = warehouse / "lake"
    for table in sorted(p.name for p in lake.iterdir()) if lake.is_dir() else []:
        if not list((lake / table).glob("date=*/data.parquet")):
            continue
        scan = pl.scan_parquet(lake / table / "**" / "*.parquet", hive_partitioning=True)
        for day, rows in scan.group_by("date").len().collect().iter_rows():
            seen["polars", table, str(day)] = rows
    return seen


def test_readers_see_no_error_and_no_half_written_partition_while_a_range_runs(
    tmp_path: Path, archive_url: str, dagster_home: Path
) -> None:
    warehouse = tmp_path / "warehouse"
    observations: list[dict[tuple[str, str, str], int]] = []
    with (tmp_path / "run.log").open("w") as sink:
        process = spawn(
            range_arguments(warehouse), archive_url, dagster_home, stdout=sink, stderr=sink
        )
        while process.poll() is None:
            observations.append(observe(warehouse))
            time.sleep(0.25)  # readers, not a load test: leave the run most of the machine
    log = (tmp_path / "run.log").read_text()
    assert process.returncode == 0, log
    final = observe(warehouse)

    # Each partition is published once in a fresh warehouse: any other count was a partial read.
    for observation in observations:
        for (reader, table, day), rows in observation.items():
            assert rows == final[reader, table, day], (reader, table, day)
    states = {frozenset(observation) for observation in observations}
    assert len(states) >= 2, "the readers saw the lake grow while the run went on"
    # Not a terminal: plain progress lines, the last one complete.
    progress = [line for line in log.splitlines() if line.startswith("progress: ")]
    assert len(progress) >= 2
    assert "asset-partitions (100%)" in progress[-1]


def first_line_with(
    process: subprocess.Popen[str], text: str, deadline_seconds: float
) -> str | None:
    """The first line of ``process``'s stderr containing ``text``, or None by the deadline (a
    child that never says it would otherwise hang the suite on the read)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + deadline_seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            return None
        if line is None:
            return None
        if text in line:
            return line
    return None


def test_a_second_writer_waits_for_the_first_and_force_rebuilds_a_built_day(
    tmp_path: Path, archive_url: str, dagster_home: Path
) -> None:
    """One day of one perpetual: the run is short, but it must still wait for the lock. (A day
    with nothing published would fail: every due file absent is a wrong archive URL.)"""
    warehouse = tmp_path / "warehouse"
    url = archive_url
    day = ["materialize", f"--start={START}", f"--universe={UNIVERSE}"]
    arguments = [*day, f"--warehouse={warehouse}"]
    with writer_lock(warehouse):
        process = spawn(
            arguments, url, dagster_home, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        waiting = first_line_with(process, "waiting for pid", deadline_seconds=300)
        assert waiting is not None, "the second writer never said it was waiting"
        assert f"pid {os.getpid()} " in waiting
        assert not (warehouse / "lake").exists()
        assert process.poll() is None
    # Its stderr is drained by first_line_with's reader, which keeps going to the end.
    assert process.wait(timeout=600) == 0
    assert (warehouse / "lake" / "dq_coverage" / f"date={START}" / "data.parquet").exists()

    skipped = run_in_process(arguments, url, dagster_home)
    forced = run_in_process([*arguments, "--force"], url, dagster_home)

    assert "nothing to do" in skipped
    assert "nothing to do" not in forced
    assert "asset-partitions (100%)" in forced


def test_progress_is_a_count_a_rate_and_an_eta() -> None:
    halfway = Progress(done=30, total=90, elapsed=15.0)
    starting = Progress(done=0, total=90, elapsed=4.0)

    assert (halfway.rate, halfway.eta) == (2.0, 30.0)
    assert halfway.line() == "30/90 asset-partitions (33%) · 2.0/s · elapsed 0:00:15 · ETA 0:00:30"
    assert starting.eta is None
    assert starting.line().endswith("ETA —")

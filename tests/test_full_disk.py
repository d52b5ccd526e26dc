"""A disk that fills up under ``treadmill materialize``: one line naming where, nothing partial.

The warehouse lives on a real, small tmpfs mounted for the test (the suite runs as root, as
``.ci/run`` does; mounting needs it). Once the command has failed, the tmpfs is grown and the
same command run again must complete: the state a full disk leaves is one a re-run finishes.
"""

import os
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.runs import one_perpetual_archive
from transforms.publish import TEMP_FOLDER

DAY = date(2024, 3, 1)
# A thread of the command dying with a traceback (the progress display's, say) is a failure too.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
UNIVERSE = "binance_um:BTCUSDT"


@pytest.fixture(scope="module")
def archive_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return one_perpetual_archive(tmp_path_factory.mktemp("simulated"), DAY, DAY)


class SmallDisk:
    """A tmpfs of a few megabytes, mounted at ``path`` and grown on demand."""

    def __init__(self, path: Path, megabytes: int) -> None:
        self.path = path
        path.mkdir()
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if mounted.returncode != 0:
            pytest.fail(
                f"cannot mount a small tmpfs at {path} ({mounted.stderr.strip()}): this test "
                "fills a real disk and needs root, as .ci/run has"
            )

    def grow(self, megabytes: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={megabytes}m", str(self.path)], check=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "--lazy", str(self.path)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    disk = SmallDisk(tmp_path / "small", 6)
    yield disk
    disk.unmount()


def materialize(warehouse: Path, archive_url: str, dagster_home: Path | None) -> tuple[int, str]:
    arguments = [
        "materialize",
        f"--start={DAY}",
        f"--end={DAY}",
        f"--universe={UNIVERSE}",
        f"--warehouse={warehouse}",
    ]
    home = str(dagster_home) if dagster_home is not None else None
    result = CliRunner().invoke(
        app, arguments, env={"TREADMILL_BINANCE_URL": archive_url, "DAGSTER_HOME": home}
    )
    unexpected = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.output + (repr(unexpected) if unexpected else "")


def assert_nothing_partial(warehouse: Path) -> None:
    """No temp file left behind, and every published partition reads whole."""
    leftovers = [p for p in (warehouse / TEMP_FOLDER).rglob("*") if p.is_file()]
    assert leftovers == []
    for path in (warehouse / "lake").rglob("*.parquet"):
        pq.read_table(path)


def test_dagster_history_filling_the_disk_is_one_line_and_a_rerun_completes(
    small_disk: SmallDisk, archive_url: str
) -> None:
    """The reported case: the run history, under the warehouse by default, fills the disk."""
    warehouse = small_disk.path / "warehouse"

    code, output = materialize(warehouse, archive_url, None)

    assert code == 1, output
    # Before it, Dagster writes a line or two of its own to stderr for each event it could not
    # record; no traceback.
    last = output.strip().splitlines()[-1]
    assert last.startswith("disk full: no space left where the warehouse"), output
    assert f"the warehouse ({warehouse}) and Dagster's history ({warehouse / 'dagster'})" in last
    assert last.endswith("run the same command again; nothing partial was published")
    assert "Traceback" not in output
    assert_nothing_partial(warehouse)

    small_disk.grow(256)
    code, output = materialize(warehouse, archive_url, None)
    assert code == 0, output
    assert (warehouse / "lake" / "fct_price_1m" / f"date={DAY}" / "data.parquet").exists()


def test_a_lake_filling_the_disk_names_it_and_publishes_nothing_partial(
    small_disk: SmallDisk, archive_url: str, dagster_home: Path
) -> None:
    """Dagster's history elsewhere, the warehouse alone on a 6 MB disk it outgrows."""
    filler = small_disk.path / "filler"
    # Leave the warehouse about a megabyte: staging lands and publishes, then runs out.
    filler.write_bytes(os.urandom(5 * 1024 * 1024))
    warehouse = small_disk.path / "warehouse"

    code, output = materialize(warehouse, archive_url, dagster_home)

    assert code == 1, output
    last = output.strip().splitlines()[-1]
    assert last.startswith(f"disk full: no space left where the warehouse ({warehouse}) is"), output
    assert "No space left on device" in output
    assert "Traceback" not in output
    assert "Stack Trace" not in output
    assert_nothing_partial(warehouse)

    filler.unlink()
    code, output = materialize(warehouse, archive_url, dagster_home)
    assert code == 0, output

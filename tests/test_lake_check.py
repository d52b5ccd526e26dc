"""The lake checks itself: ``treadmill coverage --verify`` names a partition whose file is
missing, damaged or not the one published, and ``materialize`` rebuilds its day without --force.

One warehouse is built once per module (one perpetual, two simulated days) and copied for each
test, which then breaks a file by hand as a user might.
"""

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pipelines.cli import app
from tests.conftest import new_dagster_home
from tests.runs import one_perpetual_archive

FIRST, LAST = date(2024, 3, 1), date(2024, 3, 2)
UNIVERSE = "binance_um:BTCUSDT"
TABLE = "stg_binance_um_klines"


@pytest.fixture(scope="module")
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The instance every run of this module records to."""
    home = new_dagster_home(tmp_path_factory.mktemp("instance"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def archive_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return one_perpetual_archive(tmp_path_factory.mktemp("simulated"), FIRST, LAST)


def treadmill(arguments: list[str], archive_url: str, home: Path) -> Result:
    return CliRunner().invoke(
        app, arguments, env={"TREADMILL_BINANCE_URL": archive_url, "DAGSTER_HOME": str(home)}
    )


def materialize(warehouse: Path, day: date, archive_url: str, home: Path) -> Result:
    return treadmill(
        [
            "materialize",
            f"--start={day}",
            f"--end={day}",
            f"--universe={UNIVERSE}",
            f"--warehouse={warehouse}",
            "--report-coins=none",
        ],
        archive_url,
        home,
    )


def count_rows(warehouse: Path) -> Result:
    query = f"select count(*) as n from {TABLE}"
    return CliRunner().invoke(app, ["sql", query, "--format=csv", f"--warehouse={warehouse}"])


def verify(warehouse: Path) -> Result:
    return CliRunner().invoke(app, ["coverage", "--verify", f"--warehouse={warehouse}"])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, archive_url: str, dagster_home: Path) -> Path:
    warehouse = tmp_path_factory.mktemp("built") / "warehouse"
    result = treadmill(
        [
            "materialize",
            f"--start={FIRST}",
            f"--end={LAST}",
            f"--universe={UNIVERSE}",
            f"--warehouse={warehouse}",
            "--report-coins=none",
        ],
        archive_url,
        dagster_home,
    )
    assert result.exit_code == 0, result.output
    return warehouse


@pytest.fixture
def warehouse(built: Path, tmp_path: Path) -> Path:
    """A copy of the module's warehouse for one test to break."""
    copy = tmp_path / "warehouse"
    shutil.copytree(built, copy)
    return copy


def partition(warehouse: Path, day: date, table: str = TABLE) -> Path:
    return warehouse / "lake" / table / f"date={day}" / "data.parquet"


def test_a_built_lake_verifies_clean(built: Path) -> None:
    result = verify(built)

    assert result.exit_code == 0, result.output
    assert "partition(s) verified" in result.output
    assert "damaged" not in result.output


def test_a_truncated_file_is_damaged_and_materialize_rebuilds_its_day(
    warehouse: Path, built: Path, archive_url: str, dagster_home: Path
) -> None:
    broken = partition(warehouse, LAST)
    content = broken.read_bytes()
    broken.write_bytes(content[: len(content) // 2])

    found = verify(warehouse)
    rebuilt = materialize(warehouse, LAST, archive_url, dagster_home)
    after = verify(warehouse)
    query, expected = (count_rows(where) for where in (warehouse, built))

    assert found.exit_code == 1, found.output
    bad_lines = [line for line in found.output.splitlines() if str(broken) in line]
    assert len(bad_lines) == 1, found.output
    assert "damaged" in bad_lines[0]
    assert f"treadmill materialize --start {LAST} --end {LAST} rebuilds it" in bad_lines[0]
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "nothing to do" not in rebuilt.output
    assert f"building {LAST}…{LAST} as one run" in rebuilt.output
    assert f"{TABLE} partition {broken} is damaged" in rebuilt.output
    assert after.exit_code == 0, after.output
    assert query.exit_code == 0, query.output
    assert query.output == expected.output


def test_another_days_valid_file_copied_over_is_not_the_one_published(warehouse: Path) -> None:
    replaced = partition(warehouse, LAST)
    shutil.copyfile(partition(warehouse, FIRST), replaced)

    found = verify(warehouse)

    assert found.exit_code == 1, found.output
    bad_lines = [line for line in found.output.splitlines() if str(replaced) in line]
    assert len(bad_lines) == 1, found.output
    assert "not the file published" in bad_lines[0]
    assert "reads as Parquet" in bad_lines[0]
    assert "1 of " in found.output


def test_a_deleted_file_is_missing(warehouse: Path) -> None:
    gone = partition(warehouse, FIRST, "dq_coverage")
    gone.unlink()

    found = verify(warehouse)

    assert found.exit_code == 1, found.output
    bad_lines = [line for line in found.output.splitlines() if str(gone) in line]
    assert len(bad_lines) == 1, found.output
    assert "missing from the lake" in bad_lines[0]
    assert f"--start {FIRST} --end {FIRST}" in bad_lines[0]


def test_a_lake_published_before_files_were_recorded_is_checked_to_read_as_parquet(
    warehouse: Path,
) -> None:
    shutil.rmtree(warehouse / "state" / "published")
    clean = verify(warehouse)
    broken = partition(warehouse, FIRST)
    broken.write_bytes(broken.read_bytes()[:100])

    found = verify(warehouse)

    assert clean.exit_code == 0, clean.output
    assert "published before treadmill recorded their files" in clean.output
    assert found.exit_code == 1, found.output
    bad_lines = [line for line in found.output.splitlines() if str(broken) in line]
    assert len(bad_lines) == 1, found.output
    assert "damaged: not readable as Parquet" in bad_lines[0]

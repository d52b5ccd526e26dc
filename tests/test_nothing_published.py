"""A source that answered nothing fails the run (issue 22, item 2), through `treadmill materialize`.

A simulated archive of one perpetual and one day is served over HTTP on 127.0.0.1, and the
simulated REST venues beside it. An archive URL one folder too deep, or naming no folder, makes
every file a 404: the run must not say it succeeded over empty tables. Neither must a REST base
URL that 404s everywhere. A day not yet due is not a failure, however absent its files.
"""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from simulator.venue_server import VenueServer, serve_venues
from tests.archive_server import ArchiveServer
from tests.runs import simulate_mirror

DAY = date(2024, 3, 1)
FIRST_FILE = "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-03-01.zip"
"""The first file a run of binance_um:BTCUSDT asks for (klines come first in the registry)."""


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ArchiveServer, VenueServer]]:
    mirror = simulate_mirror(
        tmp_path_factory.mktemp("simulated"), DAY, DAY, symbols=("BTCUSDT",), coin_margined=()
    )
    with ArchiveServer(mirror) as archive, serve_venues(mirror, rate_limits=None) as venues:
        yield archive, venues


def materialize(warehouse: Path, universe: str, home: Path, **environment: str) -> tuple[int, str]:
    """``treadmill materialize`` of :data:`DAY` with ``environment``: its exit code and output."""
    arguments = [
        "materialize",
        f"--start={DAY}",
        f"--universe={universe}",
        f"--warehouse={warehouse}",
        "--report-coins=none",
    ]
    result = CliRunner().invoke(app, arguments, env={"DAGSTER_HOME": str(home), **environment})
    return result.exit_code, result.output


def failures_naming(output: str, text: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("failed:") and text in line]


@pytest.mark.parametrize("wrong", ["data/", "no/such/folder/"], ids=["too_deep", "no_folder"])
def test_an_archive_url_where_every_file_is_absent_fails_with_the_url_it_asked_first(
    tmp_path: Path, servers: tuple[ArchiveServer, VenueServer], dagster_home: Path, wrong: str
) -> None:
    archive, _ = servers
    warehouse = tmp_path / "warehouse"
    root = archive.base_url + wrong
    code, output = materialize(
        warehouse, "binance_um:BTCUSDT", dagster_home, TREADMILL_BINANCE_URL=root
    )
    assert code == 1, output
    assert "succeeded" not in output
    assert "finished with failures" in output
    lines = failures_naming(output, "every due file")
    assert lines == [
        f"failed: dq_coverage: Binance archive: every due file of {DAY} is absent (404), "
        f"e.g. {root}{FIRST_FILE} — check that TREADMILL_BINANCE_URL points at its root "
        f"(it is {root}), and that the universe's symbols were listed that day"
    ], output
    if wrong != "data/":
        return
    # The day was not recorded as built: with the root fixed, the same warehouse builds it.
    code, output = materialize(
        warehouse, "binance_um:BTCUSDT", dagster_home, TREADMILL_BINANCE_URL=archive.base_url
    )
    assert code == 0, output
    assert "succeeded" in output
    klines = warehouse / "lake" / "stg_binance_um_klines" / f"date={DAY}" / "data.parquet"
    assert pq.read_metadata(klines).num_rows == 1440


def test_an_absent_day_not_yet_due_is_no_failure(
    tmp_path: Path, servers: tuple[ArchiveServer, VenueServer], dagster_home: Path
) -> None:
    archive, _ = servers
    code, output = materialize(
        tmp_path / "warehouse",
        "binance_um:BTCUSDT",
        dagster_home,
        TREADMILL_BINANCE_URL=archive.base_url + "data/",
        # Due only some 270 years after its day: the files may still appear.
        TREADMILL_PUBLICATION_DELAY_DAYS="99999",
        TREADMILL_MONTHLY_PUBLICATION_DELAY_DAYS="99999",
    )
    assert code == 0, output
    assert "succeeded" in output
    assert "every due file" not in output


def test_a_rest_base_url_that_404s_everywhere_fails_with_the_url_it_asked_first(
    tmp_path: Path, servers: tuple[ArchiveServer, VenueServer], dagster_home: Path
) -> None:
    archive, venues = servers
    root = venues.base_url + "nowhere/"
    code, output = materialize(
        tmp_path / "warehouse",
        "binance_um:BTCUSDT;bybit:BTCUSDT",
        dagster_home,
        TREADMILL_BINANCE_URL=archive.base_url,
        TREADMILL_BYBIT_URL=root,
    )
    assert code == 1, output
    assert "succeeded" not in output
    lines = failures_naming(output, "every due file")
    assert len(lines) == 1, output
    line = lines[0]
    assert line.startswith(
        f"failed: dq_coverage: bybit REST API: every due file of {DAY} is absent (404), "
        f"e.g. {root}v5/market/"
    ), line
    assert line.endswith(
        f"— check that TREADMILL_BYBIT_URL points at its root (it is {root}), and that the "
        "universe's symbols were listed that day"
    )
    # The Binance archive answered: it is not the one named.
    assert "Binance archive" not in output

"""Shared fixtures: real Binance files, archive mirrors written in Binance's formats, settings."""

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.runner import PROJECT_DAGSTER_YAML
from simulator.archive import csv_bytes, write_archive_file
from tests.s3_server import S3Server, running_s3_server
from transforms.settings import Limits, Settings, parse_universe

REAL_DUMPS = Path(__file__).parent / "data" / "real-dumps"
"""Byte-for-byte copies of ``shared/real-dumps`` (provenance in its SOURCES.md)."""

FAST_LIMITS = Limits(
    timeout_seconds=5.0,
    max_attempts=3,
    backoff_initial_seconds=0.01,
    backoff_max_seconds=0.05,
    concurrency=4,
)

WriteFile = Callable[..., Path]


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    """An empty archive mirror root (serve it as ``file://`` or over HTTP)."""
    root = tmp_path / "mirror"
    root.mkdir()
    return root


@pytest.fixture
def write_file(mirror: Path) -> WriteFile:
    """Write one archive zip + CHECKSUM into the mirror: ``write_file(relpath, header, rows)``."""

    def write(relpath: str, header: list[str] | tuple[str, ...] | None, rows: list) -> Path:
        return write_archive_file(mirror, relpath, csv_bytes(header, rows))

    return write


@pytest.fixture
def settings(tmp_path: Path, mirror: Path) -> Settings:
    """Settings for a warehouse in ``tmp_path`` reading the ``mirror`` over ``file://``."""
    return Settings(
        warehouse=tmp_path / "warehouse",
        binance_url=mirror.as_uri() + "/",
        universe=parse_universe(
            "binance_um:BTCUSDT,ETHUSDT;binance_cm:BTCUSD_PERP;binance_spot:BTCUSDT"
        ),
        limits=FAST_LIMITS,
    )


def new_dagster_home(fallback: Path) -> Path:
    """A new instance directory for CLI runs, with the project's settings.

    On tmpfs where the machine has one (else under ``fallback``): a run commits each of its
    ~1,000 events to SQLite, and on a busy disk those commits' fsyncs take longer than the run.
    """
    shm = Path("/dev/shm")
    fast = shm.is_dir() and os.access(shm, os.W_OK)
    home = Path(tempfile.mkdtemp(prefix="treadmill-", dir=shm)) if fast else fallback / "dagster"
    home.mkdir(exist_ok=True)
    shutil.copyfile(PROJECT_DAGSTER_YAML, home / "dagster.yaml")
    return home


@pytest.fixture
def dagster_home(tmp_path: Path) -> Iterator[Path]:
    """The instance the CLI runs of a test record to (:func:`new_dagster_home`)."""
    home = new_dagster_home(tmp_path)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One SeaweedFS S3 server on 127.0.0.1 for the whole session (its bucket: ``warehouse``),
    stopped and its data removed at the end."""
    with running_s3_server() as server:
        yield server

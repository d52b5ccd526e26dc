"""Shared fixtures: real Binance files, archive mirrors written in Binance's formats, settings."""

from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.archive import csv_bytes, write_archive_file
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

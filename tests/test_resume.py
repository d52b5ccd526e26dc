"""Resume records: which days of a range a later run may skip, and from where it rebuilds."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import FAST_LIMITS, WriteFile
from tests.factories import kline_rows, metrics_rows
from transforms import formats
from transforms.fetch import ArchiveClient, published_checksums
from transforms.publish import PARTITION_FILE, partition_dir
from transforms.resume import ResumePlan, plan_resume, record_days, record_path
from transforms.settings import Settings, parse_universe
from transforms.sources import DATASETS, dataset
from transforms.staging import stage_dataset

DAYS = [date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)]
KLINES = dataset("binance_um", "klines")
METRICS = dataset("binance_um", "metrics")
BUILT = datetime(2024, 3, 10, tzinfo=UTC)


@pytest.fixture
def one_symbol(tmp_path: Path, mirror: Path) -> Settings:
    return Settings(
        warehouse=tmp_path / "warehouse",
        binance_url=mirror.as_uri() + "/",
        universe=parse_universe("binance_um:BTCUSDT"),
        limits=FAST_LIMITS,
    )


def publish_day(write_file: WriteFile, day: date, minutes: int = 1440) -> None:
    write_file(KLINES.archive_path("BTCUSDT", day), formats.KLINE_COLUMNS, kline_rows(day, minutes))
    write_file(METRICS.archive_path("BTCUSDT", day), formats.METRICS_COLUMNS, metrics_rows(day))


def stage(settings: Settings, days: list[date]) -> None:
    """Stage every dataset of the universe for ``days``, as a run's staged assets would."""
    for ds in DATASETS:
        if settings.symbols(ds.exchange):
            raw = settings.raw_root / ds.exchange
            with ArchiveClient(settings.binance_url, raw, settings.limits) as client:
                stage_dataset(ds, days, settings, client)


def build(settings: Settings, days: list[date], code: str = "v1") -> list[date]:
    """Stage ``days`` and record them, as a successful run does."""
    stage(settings, days)
    return record_days(settings, days, code, "run-1", BUILT)


def plan(
    settings: Settings, first: date, last: date, code: str = "v1", now: datetime = BUILT
) -> ResumePlan:
    return plan_resume(
        settings, first, last, code, now, lambda files: published_checksums(settings, files)
    )


def test_a_range_built_from_unchanged_inputs_is_skipped_whole(
    one_symbol: Settings, write_file: WriteFile
) -> None:
    for day in DAYS:
        publish_day(write_file, day)
    assert build(one_symbol, DAYS) == DAYS

    again = plan(one_symbol, DAYS[0], DAYS[-1])

    assert (again.done, again.remaining, again.reason) == (tuple(DAYS), None, None)


def test_a_republished_file_rebuilds_its_day_and_every_later_one(
    one_symbol: Settings, write_file: WriteFile
) -> None:
    for day in DAYS:
        publish_day(write_file, day)
    build(one_symbol, DAYS)
    publish_day(write_file, DAYS[1], minutes=1439)

    after = plan(one_symbol, DAYS[0], DAYS[-1])

    assert after.done == (DAYS[0],)
    assert after.remaining == (DAYS[1], DAYS[2])
    assert f"stg_binance_um_klines/{DAYS[1]}/BTCUSDT" in (after.reason or "")


def test_a_file_that_appears_rebuilds_from_the_first_day_that_reads_it(
    one_symbol: Settings, write_file: WriteFile, mirror: Path
) -> None:
    """Day 2's metrics were absent; day 1's facts read day 2's 00:00 row, so day 1 rebuilds."""
    for day in DAYS:
        publish_day(write_file, day)
    relpath = METRICS.archive_path("BTCUSDT", DAYS[1])
    for path in (mirror / relpath, mirror / (relpath + ".CHECKSUM")):
        path.unlink()
    build(one_symbol, DAYS)
    write_file(relpath, formats.METRICS_COLUMNS, metrics_rows(DAYS[1]))

    after = plan(one_symbol, DAYS[0], DAYS[-1])

    assert after.remaining == (DAYS[0], DAYS[2])
    assert f"stg_binance_um_metrics/{DAYS[1]}/BTCUSDT" in (after.reason or "")


def test_other_code_a_missing_partition_or_a_wider_range_rebuild(
    one_symbol: Settings, write_file: WriteFile
) -> None:
    for day in [*DAYS, DAYS[-1] + timedelta(days=1)]:
        publish_day(write_file, day)
    build(one_symbol, DAYS)

    other_code = plan(one_symbol, DAYS[0], DAYS[-1], code="v2")
    wider = plan(one_symbol, DAYS[0], DAYS[-1] + timedelta(days=1))
    (partition_dir(one_symbol.lake_root, KLINES.table, DAYS[2]) / PARTITION_FILE).unlink()
    lost = plan(one_symbol, DAYS[0], DAYS[-1])

    assert other_code.remaining == (DAYS[0], DAYS[2])
    assert "other code" in (other_code.reason or "")
    # The last day read no next-day metrics; with the next day in the range, it will.
    assert wider.done == tuple(DAYS[:2])
    assert wider.remaining == (DAYS[2], DAYS[2] + timedelta(days=1))
    assert lost.remaining == (DAYS[2], DAYS[2])
    assert "missing from the lake" in (lost.reason or "")


def test_a_failed_download_leaves_its_day_unrecorded(
    one_symbol: Settings, write_file: WriteFile, mirror: Path
) -> None:
    for day in DAYS:
        publish_day(write_file, day)
    checksum = mirror / (KLINES.archive_path("BTCUSDT", DAYS[2]) + ".CHECKSUM")
    checksum.write_text("0" * 64 + "  " + checksum.name.removesuffix(".CHECKSUM") + "\n")

    assert build(one_symbol, DAYS) == DAYS[:2]
    assert not record_path(one_symbol, DAYS[2]).exists()
    assert plan(one_symbol, DAYS[0], DAYS[-1]).remaining == (DAYS[2], DAYS[2])


def test_a_pending_file_rebuilds_its_day_once_due_so_coverage_says_missing(
    one_symbol: Settings, write_file: WriteFile
) -> None:
    """Built the morning after without its metrics (pending until two days after it ends)."""
    day = DAYS[0]
    write_file(KLINES.archive_path("BTCUSDT", day), formats.KLINE_COLUMNS, kline_rows(day))
    stage(one_symbol, [day])
    record_days(one_symbol, [day], "v1", "run-1", datetime(2024, 3, 2, 8, tzinfo=UTC))

    evening = plan(one_symbol, day, day, now=datetime(2024, 3, 3, 23, 59, tzinfo=UTC))
    due = plan(one_symbol, day, day, now=datetime(2024, 3, 4, 0, tzinfo=UTC))

    assert evening.remaining is None
    assert due.remaining == (day, day)
    assert "past due" in (due.reason or "")


def test_a_day_with_a_quarantined_file_is_skipped_but_still_reported(
    one_symbol: Settings, write_file: WriteFile
) -> None:
    """Rebuilding it would quarantine the same file again; skipping must not hide it."""
    for day in DAYS:
        publish_day(write_file, day)
    write_file(KLINES.archive_path("BTCUSDT", DAYS[1]), ["open_time", "open"], [[1, 2]])

    assert build(one_symbol, DAYS) == DAYS
    again = plan(one_symbol, DAYS[0], DAYS[-1])

    assert again.remaining is None
    assert again.quarantined == (f"stg_binance_um_klines/{DAYS[1]}/BTCUSDT",)

"""The daily schedule and the late-data sensor: what they request, and when."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.defs.jobs import DAILY_JOB, daily_job
from pipelines.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from pipelines.defs.resources import TreadmillConfig
from pipelines.defs.schedules import DAILY_SCHEDULE, build_daily_schedule
from pipelines.defs.sensors import late_data_sensor
from pipelines.defs.staged import staged_assets
from tests.conftest import WriteFile
from tests.factories import funding_rows, kline_rows, metrics_rows
from transforms import formats, storage
from transforms.coverage import coverage_rows
from transforms.errors import ConfigError
from transforms.late_data import AwaitedFile, awaited_files, late_runs, watch_window
from transforms.manifests import read_manifest
from transforms.publication import (
    DAILY_DELAY_ENV,
    MONTHLY_DELAY_ENV,
    PublicationDelays,
    due_at,
)
from transforms.settings import SCHEDULE_TIME_ENV, Settings, parse_universe, schedule_time
from transforms.sources import dataset

METRICS = dataset("binance_um", "metrics")
KLINES = dataset("binance_um", "klines")
FUNDING = dataset("binance_um", "funding_rate")
DELAYS = PublicationDelays()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_schedule_runs_yesterday_at_0730_utc() -> None:
    schedule = defs().resolve_schedule_def(DAILY_SCHEDULE)
    context = dg.build_schedule_context(scheduled_execution_time=at("2024-03-05T07:30:00"))

    result = schedule.evaluate_tick(context)

    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 7 * * *", "UTC")
    assert schedule.job_name == DAILY_JOB
    assert [r.partition_key for r in result.run_requests or []] == ["2024-03-04"]


def test_the_schedule_time_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SCHEDULE_TIME_ENV, "05:15")
    hour, minute = schedule_time()
    definitions = dg.Definitions(
        jobs=[daily_job],
        schedules=[build_daily_schedule(hour, minute)],
        assets=staged_assets,
        resources={"treadmill": TreadmillConfig()},
    )
    schedule = definitions.resolve_schedule_def(DAILY_SCHEDULE)
    early = schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=at("2024-03-05T05:15:00"))
    )

    assert schedule.cron_schedule == "15 5 * * *"
    assert [r.partition_key for r in early.run_requests or []] == ["2024-03-04"]
    for bad in ("7:30pm", "24:00", "07:60", "0730"):
        with pytest.raises(ConfigError, match="HH:MM"):
            schedule_time(bad)


def test_files_are_awaited_from_the_end_of_their_period_for_the_publication_delay() -> None:
    assert watch_window(METRICS, date(2024, 3, 4), DELAYS) == (
        at("2024-03-05T00:00:00"),
        at("2024-03-07T00:00:00"),
    )
    assert watch_window(FUNDING, date(2024, 2, 10), DELAYS) == (
        at("2024-03-01T00:00:00"),
        at("2024-03-08T00:00:00"),
    )


def write_manifest(settings: Settings, table: str, day: date, statuses: dict[str, str]) -> None:
    entries = [{"symbol": symbol, "status": status} for symbol, status in statuses.items()]
    storage.write_json(
        settings.manifest_root / table / f"date={day.isoformat()}.json",
        {"table": table, "date": day.isoformat(), "symbols": entries},
    )


def test_awaited_files_are_the_absent_or_failed_ones_still_within_their_delay(
    tmp_path: Path,
) -> None:
    settings = Settings(warehouse=tmp_path, universe=parse_universe("binance_um:BTCUSDT,ETHUSDT"))
    day = date(2024, 3, 4)
    write_manifest(settings, METRICS.table, day, {"BTCUSDT": "not_published", "ETHUSDT": "ok"})
    write_manifest(settings, KLINES.table, day, {"BTCUSDT": "failed", "SOLUSDT": "not_published"})
    write_manifest(settings, METRICS.table, day - timedelta(days=3), {"BTCUSDT": "not_published"})
    for february_day in (date(2024, 2, 28), date(2024, 2, 29)):
        write_manifest(settings, FUNDING.table, february_day, {"BTCUSDT": "not_published"})
    write_manifest(settings, FUNDING.table, day, {"BTCUSDT": "not_published"})

    awaited = awaited_files(settings, at("2024-03-05T10:00:00"))

    funding = AwaitedFile(
        "binance_um",
        FUNDING.archive_path("BTCUSDT", date(2024, 2, 1)),
        (date(2024, 2, 28), date(2024, 2, 29)),
    )
    # SOLUSDT is not in the universe; day - 3 is past its delay; March has not ended.
    assert awaited == [
        AwaitedFile("binance_um", KLINES.archive_path("BTCUSDT", day), (day,)),
        AwaitedFile("binance_um", METRICS.archive_path("BTCUSDT", day), (day,)),
        funding,
    ]
    assert awaited_files(settings, at("2024-03-04T23:59:59")) == [funding]
    assert awaited_files(settings, at("2024-03-07T00:00:00")) == [funding]
    # February's file is no longer awaited; March has ended, so its file is now.
    assert awaited_files(settings, at("2024-04-01T00:00:00")) == [
        AwaitedFile("binance_um", FUNDING.archive_path("BTCUSDT", day), (day,))
    ]


def test_coverage_calls_a_file_missing_exactly_when_the_sensor_stops_awaiting_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One notion of due: the configured delays move both, and they never disagree."""
    monkeypatch.setenv(DAILY_DELAY_ENV, "3")
    monkeypatch.setenv(MONTHLY_DELAY_ENV, "10")
    settings = Settings(warehouse=tmp_path, universe=parse_universe("binance_um:BTCUSDT"))
    day = date(2024, 2, 20)
    for table in (METRICS.table, FUNDING.table):
        write_manifest(settings, table, day, {"BTCUSDT": "not_published"})

    for awaited_dataset, due in (
        (METRICS, at("2024-02-24T00:00:00")),
        (FUNDING, at("2024-03-11T00:00:00")),
    ):
        assert due_at(awaited_dataset, day, settings.publication_delays) == due
        path = awaited_dataset.archive_path("BTCUSDT", day)
        for now, awaited, status in (
            (due - timedelta(microseconds=1), True, "pending"),
            (due, False, "missing"),
        ):
            watched = {item.relpath for item in awaited_files(settings, now)}
            cells = {
                row["dataset"]: row["status"]
                for row in coverage_rows(settings, day, now).to_pylist()
                if row["symbol"] == "BTCUSDT"
            }
            assert (path in watched, cells[awaited_dataset.name]) == (awaited, status), now


def test_late_runs_group_consecutive_days_of_files_that_appeared() -> None:
    awaited = [
        AwaitedFile("binance_um", "a.zip", (date(2024, 3, 1),)),
        AwaitedFile("binance_um", "b.zip", (date(2024, 3, 2), date(2024, 3, 3))),
        AwaitedFile("binance_um", "c.zip", (date(2024, 3, 5),)),
        AwaitedFile("binance_um", "d.zip", (date(2024, 3, 7),)),
        AwaitedFile("binance_um", "e.zip", (date(2024, 3, 8),)),
    ]
    published = {"a.zip": "1" * 64, "b.zip": "2" * 64, "c.zip": "3" * 64, "d.zip": None}
    published["e.zip"] = OSError("archive down")  # type: ignore[assignment]

    runs = late_runs(awaited, published)

    assert [(r.first, r.last) for r in runs] == [
        (date(2024, 3, 1), date(2024, 3, 3)),
        (date(2024, 3, 5), date(2024, 3, 5)),
    ]
    assert runs[0].files == (("a.zip", "1" * 64), ("b.zip", "2" * 64))
    again = late_runs(awaited, published)
    republished = late_runs(awaited, {**published, "c.zip": "4" * 64})
    assert [r.run_key for r in again] == [r.run_key for r in runs]
    assert republished[1].run_key != runs[1].run_key


def test_publication_delays_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MONTHLY_DELAY_ENV, "10")
    assert PublicationDelays.from_env() == PublicationDelays(monthly=timedelta(days=10))
    monkeypatch.setenv(MONTHLY_DELAY_ENV, "ten")
    with pytest.raises(ConfigError, match=MONTHLY_DELAY_ENV):
        PublicationDelays.from_env()


@pytest.fixture
def live_warehouse(tmp_path: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A warehouse the sensor finds through the environment, as it would under the daemon."""
    monkeypatch.setenv("TREADMILL_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("TREADMILL_BINANCE_URL", mirror.as_uri() + "/")
    monkeypatch.setenv("TREADMILL_UNIVERSE", "binance_um:BTCUSDT")
    return Settings.from_env()


def stage(
    tables: set[str], partition_key: str | None = None, tags: dict[str, str] | None = None
) -> None:
    result = dg.materialize(
        [asset for asset in staged_assets if asset.key.to_user_string() in tables],
        instance=dg.DagsterInstance.ephemeral(),
        resources={"treadmill": TreadmillConfig()},
        partition_key=partition_key,
        tags=tags,
    )
    assert result.success


def tick() -> dg.SensorResult | dg.SkipReason:
    result = late_data_sensor(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral()))
    assert isinstance(result, dg.SensorResult | dg.SkipReason)
    return result


def test_the_sensor_reruns_a_day_once_its_late_file_appears(
    live_warehouse: Settings, write_file: WriteFile
) -> None:
    """Yesterday was staged without its metrics file; the file appears; the day is rebuilt."""
    day = datetime.now(UTC).date() - timedelta(days=1)
    write_file(KLINES.archive_path("BTCUSDT", day), formats.KLINE_COLUMNS, kline_rows(day))
    stage({KLINES.table, METRICS.table}, partition_key=day.isoformat())

    still_absent = tick()
    write_file(METRICS.archive_path("BTCUSDT", day), formats.METRICS_COLUMNS, metrics_rows(day))
    appeared = tick()

    assert isinstance(still_absent, dg.SkipReason)
    assert "none published yet" in (still_absent.skip_message or "")
    assert isinstance(appeared, dg.SensorResult)
    [request] = appeared.run_requests or []
    assert request.partition_key == day.isoformat()
    assert request.run_key is not None
    assert request.run_key.startswith(f"late:{day}..{day}:")
    result = (
        defs()
        .resolve_job_def(DAILY_JOB)
        .execute_in_process(
            partition_key=request.partition_key,
            tags=request.tags,
            instance=dg.DagsterInstance.ephemeral(),
            # The request is the daily job's; staging the day again is the part that matters.
            asset_selection=[dg.AssetKey(KLINES.table), dg.AssetKey(METRICS.table)],
        )
    )
    assert result.success
    manifest = read_manifest(live_warehouse.manifest_root, METRICS.table, day)
    assert manifest is not None
    assert [entry["status"] for entry in manifest["symbols"]] == ["ok"]
    assert isinstance(tick(), dg.SkipReason)


def test_the_sensor_reruns_a_month_once_its_funding_file_appears(
    live_warehouse: Settings, write_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Last month's days were staged before its funding file existed; it appears; they rerun."""
    # Whatever today's date, last month ended less than 62 days ago.
    monkeypatch.setenv(MONTHLY_DELAY_ENV, "62")
    month = (datetime.now(UTC).date().replace(day=1) - timedelta(days=1)).replace(day=1)
    days = [month, month + timedelta(days=1)]
    stage({FUNDING.table}, tags={RANGE_START_TAG: str(days[0]), RANGE_END_TAG: str(days[1])})

    absent = tick()
    write_file(
        FUNDING.archive_path("BTCUSDT", month),
        formats.FUNDING_RATE_COLUMNS,
        funding_rows(month, days=28),
    )
    appeared = tick()

    assert isinstance(absent, dg.SkipReason)
    assert isinstance(appeared, dg.SensorResult)
    [request] = appeared.run_requests or []
    assert request.partition_key is None
    assert request.partition_key_range == dg.PartitionKeyRange(str(days[0]), str(days[1]))
    stage({FUNDING.table}, tags=dict(request.tags))
    for day in days:
        manifest = read_manifest(live_warehouse.manifest_root, FUNDING.table, day)
        assert manifest is not None
        assert [(e["status"], e["rows"]) for e in manifest["symbols"]] == [("ok", 3)]
    assert isinstance(tick(), dg.SkipReason)

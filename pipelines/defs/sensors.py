"""Late data: build staged days again once the archive files they went without appear."""

from datetime import UTC, datetime

import dagster as dg

from pipelines.defs.jobs import daily_job
from pipelines.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from transforms.fetch import published_checksums
from transforms.late_data import LateRun, awaited_files, late_runs
from transforms.settings import Settings

LATE_DATA_SENSOR = "late_data_sensor"
LATE_DATA_INTERVAL_SECONDS = 30 * 60


@dg.sensor(
    name=LATE_DATA_SENSOR,
    job=daily_job,
    minimum_interval_seconds=LATE_DATA_INTERVAL_SECONDS,
    description=(
        "Every 30 minutes, finds staged days whose archive files were absent (404) or failed to "
        "download and are not yet due (daily files: 2 days after the day ends, "
        "$TREADMILL_PUBLICATION_DELAY_DAYS; monthly funding: 7 days after the month ends, "
        "$TREADMILL_MONTHLY_PUBLICATION_DELAY_DAYS; past due, coverage calls them missing), asks "
        "the archive for their .CHECKSUM, and runs the days whose files have appeared again, "
        "consecutive days as one run."
    ),
)
def late_data_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    # Settings come from the environment, like the runs' resource; the sensor does not take the
    # resource because a run holds that resource's writer lock, and the sensor only reads.
    settings = Settings.from_env()
    awaited = awaited_files(settings, datetime.now(UTC))
    if not awaited:
        return dg.SkipReason("no staged day is waiting for a file within its publication delay")
    published = published_checksums(settings, [(a.exchange, a.relpath) for a in awaited])
    runs = late_runs(awaited, published)
    for relpath, answer in published.items():
        if isinstance(answer, Exception):
            context.log.warning(f"could not ask the archive about {relpath}: {answer}")
    if not runs:
        return dg.SkipReason(f"{len(awaited)} awaited file(s), none published yet")
    return dg.SensorResult(run_requests=[_run_request(run) for run in runs])


def _run_request(run: LateRun) -> dg.RunRequest:
    if run.first == run.last:
        return dg.RunRequest(run_key=run.run_key, partition_key=run.first.isoformat())
    return dg.RunRequest(
        run_key=run.run_key,
        tags={RANGE_START_TAG: run.first.isoformat(), RANGE_END_TAG: run.last.isoformat()},
    )

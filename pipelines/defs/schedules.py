"""The daily schedule: yesterday's partition of every table, after Binance has published it."""

from typing import TYPE_CHECKING

import dagster as dg

from pipelines.defs.jobs import daily_job
from transforms.settings import schedule_time

if TYPE_CHECKING:
    from dagster._core.definitions.partitions.partitioned_schedule import (
        UnresolvedPartitionedAssetScheduleDefinition,
    )

DAILY_SCHEDULE = "daily_schedule"


def build_daily_schedule(
    hour: int, minute: int
) -> "dg.ScheduleDefinition | UnresolvedPartitionedAssetScheduleDefinition":
    """The ``daily`` job once a day at ``hour:minute`` UTC, for the day that just ended.

    A tick on day T requests partition T-1, the last complete day. Files Binance publishes
    later than the tick are picked up by ``late_data_sensor``.
    """
    return dg.build_schedule_from_partitioned_job(
        daily_job,
        name=DAILY_SCHEDULE,
        hour_of_day=hour,
        minute_of_hour=minute,
        description=(
            f"Every table for yesterday (UTC), daily at {hour:02d}:{minute:02d} UTC "
            "($TREADMILL_SCHEDULE_TIME, default 07:30: Binance publishes a day's files from "
            "about 06:00 UTC the next day)."
        ),
    )


daily_schedule = build_daily_schedule(*schedule_time())

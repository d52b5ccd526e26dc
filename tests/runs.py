"""The daily job run in process over a range, as `treadmill materialize` runs it."""

from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs
from pipelines.defs.jobs import DAILY_JOB
from pipelines.runner import RANGE_END_TAG, RANGE_START_TAG


def run_daily(
    warehouse: Path, mirror: Path, first: date, last: date, universe: str
) -> dg.ExecuteInProcessResult:
    """Materialise ``first..last`` of every asset from ``mirror`` as one run; it must succeed."""
    config = {
        "warehouse": str(warehouse),
        "binance_url": mirror.as_uri() + "/",
        "universe": universe,
    }
    result = (
        defs()
        .resolve_job_def(DAILY_JOB)
        .execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            tags={RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()},
            run_config={"resources": {"treadmill": {"config": config}}},
        )
    )
    assert result.success
    return result

"""The daily job: every warehouse asset for one UTC day (or a range, as one run)."""

import dagster as dg

DAILY_JOB = "daily"

daily_job = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.all(),
    description="Materialise every warehouse table for the selected UTC day(s).",
)


@dg.definitions
def executor() -> dg.Definitions:
    """Every run executes its steps in one process, as ``treadmill materialize`` does.

    That process holds the warehouse's writer lock for the whole run (see the ``treadmill``
    resource); with one process per step, each step would take it in turn and the steps of two
    runs could interleave.
    """
    return dg.Definitions(executor=dg.in_process_executor)

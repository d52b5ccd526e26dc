"""The daily job: every warehouse asset for one UTC day (or a range, as one run)."""

import dagster as dg

DAILY_JOB = "daily"

daily_job = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.all(),
    description="Materialise every warehouse table for the selected UTC day(s).",
)

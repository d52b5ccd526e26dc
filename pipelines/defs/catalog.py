"""The read-only DuckDB catalog of views over the lake, rebuilt at the end of every run."""

from typing import Any

import dagster as dg

from pipelines.defs.coverage import dq_coverage
from pipelines.defs.facts import fact_assets
from pipelines.defs.features import feature_assets
from pipelines.defs.heatmap import liquidation_heatmap
from pipelines.defs.partitions import daily_partitions
from pipelines.defs.resources import TreadmillConfig
from pipelines.defs.staged import staged_assets
from transforms.catalog import build_catalog


@dg.asset(
    name="catalog",
    group_name="catalog",
    deps=[
        key
        for assets in (
            *staged_assets,
            *fact_assets,
            *feature_assets,
            liquidation_heatmap,
            dq_coverage,
        )
        for key in assets.keys
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"duckdb"},
    tags={"layer": "catalog"},
)
def catalog(context: dg.AssetExecutionContext, treadmill: TreadmillConfig) -> dg.MaterializeResult:
    """`<warehouse>/catalog.duckdb`: one view per published table, for ad-hoc SQL and BI.

    Open it read-only (`duckdb -readonly`, `treadmill sql`). It is rebuilt to a temporary file
    and swapped in, so it can be opened while a run is going and never shows a half-written
    partition.
    """
    settings = treadmill.settings()
    path, tables = build_catalog(settings.warehouse)
    metadata: dict[str, Any] = {
        "path": dg.MetadataValue.path(str(path)),
        "views": len(tables),
        "tables": ", ".join(tables),
    }
    return dg.MaterializeResult(metadata=metadata)

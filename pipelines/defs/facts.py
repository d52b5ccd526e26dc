"""Fact tables: DuckDB SQL over staged partitions, one partition per UTC day."""

from datetime import date
from typing import Any

import dagster as dg

from pipelines.defs.partitions import daily_partitions
from pipelines.defs.resources import TreadmillConfig
from transforms.facts import FACT_MODELS, FactModel, build_fact
from transforms.publish import publish_partition

DESCRIPTIONS = {
    "fct_price_1m": (
        "Every minute's traded bar per perpetual and spot pair, with the perpetual's mark, index "
        "and premium closes: price, volume and taker flow, the base of every feature."
    ),
    "fct_open_interest": (
        "Open interest every 5 minutes in base units (BTC, not USD, so that price moves do not "
        "look like new positions) and USD, with long/short and taker ratios."
    ),
    "fct_funding": (
        "Every funding settlement with its rate rescaled to 8 hours and annualised from its own "
        "interval: the cost of holding leverage, 0.01%/8h (10.95% APR) at rest."
    ),
    "fct_liquidations": (
        "Every forced order: which side was liquidated (a Binance SELL liquidates a long), at "
        "what price, for how much. Coverage 'sampled': Binance's stream is a lower bound."
    ),
    "fct_liquidations_5m": (
        "Long and short liquidations per 5 minutes (USD, base units, counts) on a complete "
        "grid: the bursts that mark a flush or a squeeze."
    ),
}


def build_fact_asset(model: FactModel) -> dg.AssetsDefinition:
    """The asset of one fact model: reads its inputs' partitions through a day-window mapping."""
    deps = [
        dg.AssetDep(
            table,
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-model_input.days_before, end_offset=model_input.days_after
            ),
        )
        for model_input in model.inputs
        for table in model_input.tables
    ]

    @dg.asset(
        name=model.name,
        group_name="facts",
        deps=deps,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"duckdb", "parquet"},
        description=f"{DESCRIPTIONS[model.name]}\n\nSQL: `sql/facts/{model.name}.sql`.",
        tags={"layer": "facts"},
    )
    def fact_asset(
        context: dg.AssetExecutionContext, treadmill: TreadmillConfig
    ) -> dg.MaterializeResult:
        settings = treadmill.settings()
        rows: dict[str, int] = {}
        for key in context.partition_keys:
            day = date.fromisoformat(key)
            table = build_fact(model, day, settings.lake_root)
            publish_partition(table, settings.lake_root, model.name, day)
            rows[key] = table.num_rows
        metadata: dict[str, Any] = {
            "dagster/row_count": sum(rows.values()),
            "partitions_published": len(rows),
            "rows_by_day": rows if len(rows) <= 31 else {},
            "path": dg.MetadataValue.path(str(settings.lake_root / model.name)),
        }
        return dg.MaterializeResult(metadata=metadata)

    return fact_asset


fact_assets = [build_fact_asset(model) for model in FACT_MODELS]

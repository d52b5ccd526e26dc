"""The liquidation heatmap: estimated liquidation levels, their bins and the hot zones, daily."""

from collections.abc import Iterator
from datetime import date

import dagster as dg

from pipelines.defs.partitions import daily_partitions
from pipelines.defs.resources import TreadmillConfig
from transforms import storage
from transforms.heatmap import LEVELS_TABLE, build_heatmap_day

HEATMAP_TABLE = "feat_liquidation_heatmap"
HOT_ZONES_TABLE = "feat_hot_zones"
ESTIMATE = (
    " An estimate (DOMAIN.md §1.5): new open interest spread over leverage tiers at Binance's "
    "exact liquidation prices, levels removed once price crosses them; relative intensity, not "
    "USD certain to be liquidated."
)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            LEVELS_TABLE,
            group_name="features",
            kinds={"python", "parquet"},
            deps=[
                "fct_price_1m",
                dg.AssetDep(
                    "fct_open_interest",
                    partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1),
                ),
            ],
            description="The estimated liquidation levels still open at the end of each day, "
            "carried into the next." + ESTIMATE,
        ),
        dg.AssetSpec(
            HEATMAP_TABLE,
            group_name="features",
            kinds={"python", "parquet"},
            deps=[LEVELS_TABLE],
            description="Estimated liquidation notional per price bin (0.25% of the close) and "
            "side, at each day's close: where forced selling or buying would start." + ESTIMATE,
        ),
        dg.AssetSpec(
            HOT_ZONES_TABLE,
            group_name="features",
            kinds={"python", "parquet"},
            deps=[LEVELS_TABLE],
            description="The largest estimated liquidation cluster below and above each day's "
            "close, its distance in % and its size: the levels a cascade would run to." + ESTIMATE,
        ),
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def liquidation_heatmap(
    context: dg.AssetExecutionContext, treadmill: TreadmillConfig
) -> Iterator[dg.MaterializeResult]:
    """Advance each day's level book from the day before's, in day order."""
    settings = treadmill.settings()
    rows = {LEVELS_TABLE: 0, HEATMAP_TABLE: 0, HOT_ZONES_TABLE: 0}
    for key in sorted(context.partition_keys):
        day = date.fromisoformat(key)
        levels, heatmap, zones = build_heatmap_day(day, settings.lake_root)
        for name, table in (
            (LEVELS_TABLE, levels),
            (HEATMAP_TABLE, heatmap),
            (HOT_ZONES_TABLE, zones),
        ):
            storage.publish_partition(table, settings.lake_root, name, day)
            rows[name] += table.num_rows
    for name, count in rows.items():
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": count,
                "partitions_published": len(context.partition_keys),
            },
        )

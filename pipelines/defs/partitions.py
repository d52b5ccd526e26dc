"""The one partitions definition every warehouse asset shares: UTC days."""

import warnings

import dagster as dg

# Single-run backfills are what makes a long range one run; the policy is marked beta in 1.13
# and would otherwise warn once per asset on every load. Every asset module imports this one.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)

# The first day any Binance perpetual traded (USDⓈ-M BTCUSDT launched 2019-09-08); earlier
# spot-only history is not part of the warehouse.
FIRST_PARTITION = "2019-09-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_PARTITION, timezone="UTC")

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
"""Run tags that make one run cover a range of days (a single-run backfill)."""

"""The one partitions definition every warehouse asset shares: UTC days."""

import dagster as dg

# The first day any Binance perpetual traded (USDⓈ-M BTCUSDT launched 2019-09-08); earlier
# spot-only history is not part of the warehouse.
FIRST_PARTITION = "2019-09-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_PARTITION, timezone="UTC")

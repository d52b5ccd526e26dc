-- report_hot_zones: the largest estimated liquidation clusters below and above the close at the
-- latest heatmap instant of the range: the levels a cascade would run to. An ESTIMATE.
-- grain: position ('below'/'above') × rank, at the latest heatmap instant
-- inputs: feat_hot_zones and feat_liquidation_heatmap of the report's days; $exchange, $symbol
with latest as (
    select max(ts) as ts
    from feat_liquidation_heatmap
    where exchange = $exchange and symbol = $symbol
)

select
    cast(position as varchar) as position,
    cast(rank as integer) as rank,
    cast(price_low as double) as price_low,
    cast(price_high as double) as price_high,
    cast(distance_pct as double) as distance_pct,
    cast(est_notional_usd as double) as est_notional_usd,
    cast(share as double) as share
from feat_hot_zones
where exchange = $exchange and symbol = $symbol and ts = (select ts from latest)
order by position, rank

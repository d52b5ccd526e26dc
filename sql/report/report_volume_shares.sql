-- report_volume_shares: the coin's traded volume each UTC day in USD, spot against perpetual
-- against delivery futures, summed over every venue the warehouse holds, and each kind's share.
-- grain: day
-- inputs: fct_volume_shares_1d of the report's days (venue 'all'); $coin
select
    strftime(ts, '%Y-%m-%d') as day,
    cast(spot_volume_usd as double) as spot_volume_usd,
    cast(perpetual_volume_usd as double) as perpetual_volume_usd,
    cast(delivery_volume_usd as double) as delivery_volume_usd,
    cast(total_volume_usd as double) as total_volume_usd,
    cast(spot_share as double) as spot_share,
    cast(perpetual_share as double) as perpetual_share,
    cast(delivery_share as double) as delivery_share,
    cast(venues as varchar) as venues
from fct_volume_shares_1d
where coin = $coin and venue = 'all' and ts >= $range_start and ts < $range_end
order by day

-- perps share of bitcoin volume: the perpetuals' share of BTC's traded volume in USD, month by
-- month, over spot, perpetual and delivery futures on every venue the warehouse holds (the
-- "perps share of BTC volume over a year" chart; keep the last 12 months, or add a
-- `where ts >= ...` bound, for exactly a year).
-- reads: fct_volume_shares_1d (venue 'all': each day's coin summed over its venues)
select
    date_trunc('month', ts)::date as month,
    sum(perpetual_volume_usd) / nullif(sum(total_volume_usd), 0) as perpetual_share,
    sum(total_volume_usd) as total_volume_usd,
    sum(perpetual_volume_usd) as perpetual_volume_usd,
    count(*) as days
from fct_volume_shares_1d
where coin = 'BTC' and venue = 'all'
group by all
order by month

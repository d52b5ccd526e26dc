-- report_funding_cross_venue: the coin's funding across its venues each hour, every venue's
-- latest settlement rescaled to 8 hours and weighted by its USD open interest: what holding
-- leverage in the coin costs where the positions actually are, drawn over the venues' own
-- settlements. Hours when no venue had open interest have no weighted rate and are left out.
-- grain: hour (ts = hour start)
-- inputs: fct_funding_cross_venue of the report's days; $coin
with source as (
    select
        ts,
        venues,
        venue_count,
        funding_rate_8h_mean,
        funding_rate_8h_oi_weighted,
        funding_rate_apr_oi_weighted,
        oi_weighted_venue_count,
        oi_usd_weight
    from fct_funding_cross_venue
    where coin = $coin and funding_rate_8h_oi_weighted is not null
)

select
    strftime(ts, '%Y-%m-%dT%H:%M:%SZ') as hour,
    cast(venues as varchar) as venues,
    cast(venue_count as integer) as venue_count,
    cast(oi_weighted_venue_count as integer) as oi_weighted_venue_count,
    cast(funding_rate_8h_oi_weighted * 100 as double) as rate_8h_pct,
    cast(funding_rate_apr_oi_weighted * 100 as double) as apr_pct,
    cast(funding_rate_8h_mean * 100 as double) as mean_8h_pct,
    cast(oi_usd_weight as double) as oi_usd_weight
from source
order by hour

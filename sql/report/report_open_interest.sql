-- report_open_interest: open interest each hour in base units and in USD, with the price: the
-- article's third chart. USD open interest rises with price when nobody opens a position; base
-- units show traders opening and closing. Beside the perpetual's, the coin's open interest
-- summed over every venue that reports it (all_*; null where the lake has no cross-venue fact).
-- grain: hour (the last 5-minute reading and the last minute's close of each hour)
-- inputs: fct_open_interest, fct_price_1m and fct_open_interest_cross_venue of the report's
--         days; $exchange, $symbol, $coin
with open_interest as (
    select
        date_trunc('hour', ts) as hour,
        arg_max(oi_base, ts) as oi_base,
        arg_max(oi_usd, ts) as oi_usd
    from fct_open_interest
    where exchange = $exchange and symbol = $symbol
    group by 1
),

price as (
    select
        date_trunc('hour', ts) as hour,
        arg_max(close, ts) as close
    from fct_price_1m
    where exchange = $exchange and symbol = $symbol
    group by 1
),

cross_venue as (
    select
        ts as hour,
        oi_base as all_oi_base,
        oi_usd as all_oi_usd,
        venues as all_venues,
        venue_count as all_venue_count
    from fct_open_interest_cross_venue
    where coin = $coin
)

select
    strftime(hour, '%Y-%m-%dT%H:%M:%SZ') as hour,
    cast(open_interest.oi_base as double) as oi_base,
    cast(open_interest.oi_usd as double) as oi_usd,
    cast(price.close as double) as close,
    cast(cross_venue.all_oi_base as double) as all_oi_base,
    cast(cross_venue.all_oi_usd as double) as all_oi_usd,
    cast(cross_venue.all_venues as varchar) as all_venues,
    cast(cross_venue.all_venue_count as integer) as all_venue_count
from open_interest
full join price using (hour)
full join cross_venue using (hour)
order by hour

-- report_daily_liquidations: what was force-closed each UTC day on one perpetual, longs against
-- shorts: the article's first chart. Binance's snapshots are sampled, so these are lower bounds.
-- grain: day × side ('longs liquidated', 'shorts liquidated')
-- inputs: fct_liquidations_5m of the report's days; $exchange, $symbol
with source as (
    select date, long_liq_usd, short_liq_usd, long_liq_count, short_liq_count
    from fct_liquidations_5m
    where exchange = $exchange and symbol = $symbol
),

daily as (
    select
        date,
        sum(long_liq_usd) as long_usd,
        sum(short_liq_usd) as short_usd,
        sum(long_liq_count) as long_count,
        sum(short_liq_count) as short_count
    from source
    group by date
),

sides as (
    select date, 'longs liquidated' as side, long_usd as usd, long_count as orders from daily
    union all
    select date, 'shorts liquidated' as side, short_usd as usd, short_count as orders
    from daily
)

select
    strftime(date, '%Y-%m-%d') as day,
    cast(side as varchar) as side,
    cast(usd as double) as usd,
    cast(orders as bigint) as orders
from sides
order by day, side

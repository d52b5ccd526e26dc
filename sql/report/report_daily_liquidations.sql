-- report_daily_liquidations: what was force-closed each UTC day, longs against shorts: the
-- article's first chart. The coin's liquidations summed over every venue (fct_liquidations_coin_1d)
-- where the lake has them for the day, with the venues and coverage kinds behind them and the
-- USD split by kind; on a day without them (a lake built before the coin-level table), the
-- perpetual's own, as the report always drew them (scope 'perpetual', no split: Binance's
-- sampled snapshots). Sampled coverage is a lower bound.
-- grain: day × side ('longs liquidated', 'shorts liquidated')
-- inputs: fct_liquidations_coin_1d and fct_liquidations_5m of the report's days; $coin,
--         $exchange, $symbol
with coin_daily as (
    select
        date,
        'coin' as scope,
        long_liq_usd as long_usd,
        short_liq_usd as short_usd,
        long_liq_count as long_count,
        short_liq_count as short_count,
        long_liq_usd_complete as long_complete,
        short_liq_usd_complete as short_complete,
        long_liq_usd_sampled as long_sampled,
        short_liq_usd_sampled as short_sampled,
        long_liq_usd_estimated as long_estimated,
        short_liq_usd_estimated as short_estimated,
        venue_coverage
    from fct_liquidations_coin_1d
    where coin = $coin
),

perpetual_daily as (
    select
        date,
        'perpetual' as scope,
        sum(long_liq_usd) as long_usd,
        sum(short_liq_usd) as short_usd,
        sum(long_liq_count) as long_count,
        sum(short_liq_count) as short_count,
        null::double as long_complete,
        null::double as short_complete,
        null::double as long_sampled,
        null::double as short_sampled,
        null::double as long_estimated,
        null::double as short_estimated,
        null::varchar as venue_coverage
    from fct_liquidations_5m
    where
        exchange = $exchange and symbol = $symbol
        and date not in (select date from coin_daily)
    group by date
),

daily as (
    select * from coin_daily
    union all
    select * from perpetual_daily
),

sides as (
    select
        date,
        scope,
        venue_coverage,
        'longs liquidated' as side,
        long_usd as usd,
        long_count as orders,
        long_complete as usd_complete,
        long_sampled as usd_sampled,
        long_estimated as usd_estimated
    from daily
    union all
    select
        date,
        scope,
        venue_coverage,
        'shorts liquidated' as side,
        short_usd as usd,
        short_count as orders,
        short_complete as usd_complete,
        short_sampled as usd_sampled,
        short_estimated as usd_estimated
    from daily
)

select
    strftime(date, '%Y-%m-%d') as day,
    side::varchar as side,
    usd::double as usd,
    orders::bigint as orders,
    scope::varchar as scope,
    usd_complete::double as usd_complete,
    usd_sampled::double as usd_sampled,
    usd_estimated::double as usd_estimated,
    venue_coverage::varchar as venue_coverage
from sides
order by day, side

-- liquidation totals by week: long and short liquidations (USD) across every perpetual, with
-- the symbol that lost the most longs that week.
-- reads: fct_liquidations_5m
with by_symbol as (
    select
        date_trunc('week', ts) as week,
        exchange,
        symbol,
        sum(long_liq_usd) as long_liq_usd,
        sum(short_liq_usd) as short_liq_usd,
        sum(long_liq_count + short_liq_count) as liquidations
    from fct_liquidations_5m
    group by all
)

select
    week,
    sum(long_liq_usd) as long_liq_usd,
    sum(short_liq_usd) as short_liq_usd,
    sum(liquidations) as liquidations,
    arg_max(symbol, long_liq_usd) as top_long_liq_symbol
from by_symbol
group by week
order by week

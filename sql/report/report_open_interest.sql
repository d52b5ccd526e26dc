-- report_open_interest: open interest each hour in base units and in USD, with the price: the
-- article's third chart. USD open interest rises with price when nobody opens a position; base
-- units show traders opening and closing.
-- grain: hour (the last 5-minute reading and the last minute's close of each hour)
-- inputs: fct_open_interest and fct_price_1m of the report's days; $exchange, $symbol
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
    select date_trunc('hour', ts) as hour, arg_max(close, ts) as close
    from fct_price_1m
    where exchange = $exchange and symbol = $symbol
    group by 1
)

select
    strftime(hour, '%Y-%m-%dT%H:%M:%SZ') as hour,
    cast(open_interest.oi_base as double) as oi_base,
    cast(open_interest.oi_usd as double) as oi_usd,
    cast(price.close as double) as close
from open_interest
full join price using (hour)
order by hour

-- report_heatmap: the latest estimated liquidation heatmap of the range, each bin with the close
-- it was binned around. An ESTIMATE (DOMAIN.md §1.5): relative intensity, not USD certain to be
-- liquidated.
-- grain: price bin × side, at the latest heatmap instant of the range
-- inputs: feat_liquidation_heatmap and fct_price_1m of the report's days; $exchange, $symbol
with source as (
    select
        ts,
        bin,
        price_low,
        price_high,
        side,
        est_notional_usd,
        share,
        method
    from feat_liquidation_heatmap
    where exchange = $exchange and symbol = $symbol
),

latest as (
    select max(ts) as ts from source
),

-- The heatmap's instant is its last 5-minute bar: the close is that bar's last minute.
close_at as (
    select arg_max(close, ts) as close
    from fct_price_1m
    where
        exchange = $exchange and symbol = $symbol
        and ts < (select ts from latest) + interval 5 minute
)

select
    strftime(source.ts, '%Y-%m-%d %H:%M UTC') as as_of,
    cast(source.bin as integer) as bin,
    cast(source.price_low as double) as price_low,
    cast(source.price_high as double) as price_high,
    cast(source.side as varchar) as side,
    cast(source.est_notional_usd as double) as est_notional_usd,
    cast(source.share as double) as share,
    cast(source.method as varchar) as method,
    cast((select close from close_at) as double) as close
from source
where source.ts = (select ts from latest)
order by bin, side

-- heatmap_bars: the 5-minute bars the liquidation-heatmap estimator consumes, per perpetual
-- (contract_type 'perpetual': spot pairs and delivery contracts are left out).
-- grain: exchange × symbol × 5 minutes (ts = bar start) of the partition day
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: fct_price_1m of the day (the mark's high and low, which is what Binance liquidates on,
--         falling back to the trade range where a mark bar is missing; trade close and taker
--         flow) and fct_open_interest of the day before and the day (ΔOI per bar: the open
--         interest at the bar's label minus the one before it; oi_base: the open interest at
--         the bar's label, the level ΔOI reached, which the estimator needs to remove the
--         fraction of OI a fall closed)
with minutes as (
    select *
    from fct_price_1m
    where
        ts >= $day_start and ts < $day_end and exchange <> 'binance_spot'
        and contract_type is distinct from 'delivery'
),

bars as (
    select
        exchange,
        symbol,
        time_bucket(interval 5 minute, ts) as ts,
        max(coalesce(mark_high, high)) as high,
        min(coalesce(mark_low, low)) as low,
        arg_max(close, ts) as close,
        sum(taker_buy_base) / nullif(sum(volume_base), 0) as taker_buy_share
    from minutes
    group by all
),

open_interest as (
    select
        exchange,
        symbol,
        ts,
        oi_base,
        oi_base - lag(oi_base) over (partition by exchange, symbol order by ts) as delta_oi_base
    from fct_open_interest
    where
        ts < $day_end and exchange <> 'binance_spot'
        and contract_type is distinct from 'delivery'
)

select
    bars.exchange::varchar as exchange,
    bars.symbol::varchar as symbol,
    bars.ts::timestamptz as ts,
    bars.high::double as high,
    bars.low::double as low,
    bars.close::double as close,
    open_interest.oi_base::double as oi_base,
    open_interest.delta_oi_base::double as delta_oi_base,
    bars.taker_buy_share::double as taker_buy_share
from bars
left join open_interest using (exchange, symbol, ts)
order by exchange, symbol, ts

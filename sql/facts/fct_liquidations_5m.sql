-- fct_liquidations_5m: long and short liquidations summed per 5 minutes, on a complete grid
-- (zero where nothing was liquidated) for every symbol with liquidation data that day.
-- grain: exchange × symbol × 5-minute bucket (ts = bucket start)
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: fct_liquidations of the day
with source as (
    select *
    from fct_liquidations
    where ts >= $day_start and ts < $day_end
),

symbols as (
    select distinct
        exchange,
        symbol
    from source
),

grid as (
    select
        symbols.exchange,
        symbols.symbol,
        buckets.ts
    from symbols
    cross join (
        select unnest(
            generate_series(
                $day_start::timestamptz,
                $day_end::timestamptz - interval 5 minute,
                interval 5 minute
            )
        ) as ts
    ) as buckets
),

bucketed as (
    select
        exchange,
        symbol,
        time_bucket(interval 5 minute, ts) as ts,
        sum(notional_usd) filter (where liquidated_side = 'long') as long_liq_usd,
        sum(notional_usd) filter (where liquidated_side = 'short') as short_liq_usd,
        count(*) filter (where liquidated_side = 'long') as long_liq_count,
        count(*) filter (where liquidated_side = 'short') as short_liq_count,
        sum(qty_base) filter (where liquidated_side = 'long') as long_liq_base,
        sum(qty_base) filter (where liquidated_side = 'short') as short_liq_base
    from source
    group by all
),

final as (
    select
        grid.exchange,
        grid.symbol,
        grid.ts,
        coalesce(bucketed.long_liq_usd, 0) as long_liq_usd,
        coalesce(bucketed.short_liq_usd, 0) as short_liq_usd,
        coalesce(bucketed.long_liq_count, 0) as long_liq_count,
        coalesce(bucketed.short_liq_count, 0) as short_liq_count,
        coalesce(bucketed.long_liq_base, 0) as long_liq_base,
        coalesce(bucketed.short_liq_base, 0) as short_liq_base
    from grid
    left join bucketed using (exchange, symbol, ts)
)

select
    exchange::varchar as exchange,
    symbol::varchar as symbol,
    ts::timestamptz as ts,
    long_liq_usd::double as long_liq_usd,
    short_liq_usd::double as short_liq_usd,
    long_liq_count::bigint as long_liq_count,
    short_liq_count::bigint as short_liq_count,
    long_liq_base::double as long_liq_base,
    short_liq_base::double as short_liq_base
from final
order by exchange, symbol, ts

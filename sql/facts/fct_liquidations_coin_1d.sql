-- fct_liquidations_coin_1d: each coin's liquidations per UTC day summed over every venue and
-- instrument (USDⓈ-M and COIN-M, Bybit, OKX, Hyperliquid…), longs against shorts, with the
-- venues and the coverage kinds the totals stand on: fct_liquidations_coin_1h's day in one row.
-- grain: coin × day (ts = the day's start), one row for every coin with a liquidation on any
--        venue that day
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: fct_liquidations of the day (not the hourly table, so the two are built side by side
--         and agree by construction); the coin of a symbol is coin_of(symbol).
-- coverage: as in fct_liquidations_coin_1h: a venue covers a coin that day when it published at
--           least one of the coin's liquidations; 'complete' counts every forced order,
--           'sampled' is a lower bound, 'estimated' is modelled, and the *_complete, *_sampled
--           and *_estimated columns split the USD totals by kind.
with source as (
    select exchange, symbol, ts, liquidated_side, qty_base, notional_usd, coverage
    from fct_liquidations
    where ts >= $day_start and ts < $day_end
),

coins as (
    -- the coin of each instrument, asked once per symbol rather than once per order
    select exchange, symbol, coin_of(symbol) as coin
    from (select distinct exchange, symbol from source)
),

orders as (
    select coins.coin, source.*
    from source
    inner join coins using (exchange, symbol)
),

daily as (
    select
        coin,
        sum(notional_usd) filter (where liquidated_side = 'long') as long_liq_usd,
        sum(notional_usd) filter (where liquidated_side = 'short') as short_liq_usd,
        count(*) filter (where liquidated_side = 'long') as long_liq_count,
        count(*) filter (where liquidated_side = 'short') as short_liq_count,
        sum(qty_base) filter (where liquidated_side = 'long') as long_liq_base,
        sum(qty_base) filter (where liquidated_side = 'short') as short_liq_base,
        sum(notional_usd) filter (
            where liquidated_side = 'long' and coverage = 'complete'
        ) as long_liq_usd_complete,
        sum(notional_usd) filter (
            where liquidated_side = 'short' and coverage = 'complete'
        ) as short_liq_usd_complete,
        sum(notional_usd) filter (
            where liquidated_side = 'long' and coverage = 'sampled'
        ) as long_liq_usd_sampled,
        sum(notional_usd) filter (
            where liquidated_side = 'short' and coverage = 'sampled'
        ) as short_liq_usd_sampled,
        sum(notional_usd) filter (
            where liquidated_side = 'long' and coverage = 'estimated'
        ) as long_liq_usd_estimated,
        sum(notional_usd) filter (
            where liquidated_side = 'short' and coverage = 'estimated'
        ) as short_liq_usd_estimated,
        array_to_string(list_sort(list_distinct(list(exchange))), ',') as venues,
        count(distinct exchange) as venue_count,
        array_to_string(list_sort(list_distinct(list(coverage))), ',') as coverages,
        array_to_string(
            list_sort(list_distinct(list(exchange || ':' || coverage))), ','
        ) as venue_coverage
    from orders
    group by coin
)

select
    coin::varchar as coin,
    $day_start::timestamptz as ts,
    coalesce(long_liq_usd, 0)::double as long_liq_usd,
    coalesce(short_liq_usd, 0)::double as short_liq_usd,
    coalesce(long_liq_count, 0)::bigint as long_liq_count,
    coalesce(short_liq_count, 0)::bigint as short_liq_count,
    coalesce(long_liq_base, 0)::double as long_liq_base,
    coalesce(short_liq_base, 0)::double as short_liq_base,
    coalesce(long_liq_usd_complete, 0)::double as long_liq_usd_complete,
    coalesce(short_liq_usd_complete, 0)::double as short_liq_usd_complete,
    coalesce(long_liq_usd_sampled, 0)::double as long_liq_usd_sampled,
    coalesce(short_liq_usd_sampled, 0)::double as short_liq_usd_sampled,
    coalesce(long_liq_usd_estimated, 0)::double as long_liq_usd_estimated,
    coalesce(short_liq_usd_estimated, 0)::double as short_liq_usd_estimated,
    venues::varchar as venues,
    venue_count::integer as venue_count,
    coverages::varchar as coverages,
    venue_coverage::varchar as venue_coverage
from daily
order by coin

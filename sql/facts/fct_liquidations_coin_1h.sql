-- fct_liquidations_coin_1h: each coin's liquidations per hour summed over every venue and
-- instrument (USDⓈ-M and COIN-M, Bybit, OKX, Hyperliquid…), longs against shorts, with the
-- venues and the coverage kinds the totals stand on.
-- grain: coin × hour (ts = the hour's start), on a complete grid: the day's 24 hours for every
--        coin with a liquidation on any venue that day, zero where nothing was liquidated
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: fct_liquidations of the day; the coin of a symbol is coin_of(symbol) (BTCUSDT,
--         BTCUSD_PERP, BTC-USDT-SWAP and Hyperliquid's bare BTC are all BTC).
-- coverage: a venue covers a coin for the whole day when it published at least one of the
--           coin's liquidations that day, as fct_liquidations_5m fills its grid: the facts hold
--           forced orders only, so a venue that saw none cannot be told from one that was not
--           recorded. `venues` and `coverages` are therefore the day's, the same in each hour.
--           'complete' counts every forced order (Hyperliquid's archive), 'sampled' is a lower
--           bound (Binance's streams send at most one order per symbol per second), 'estimated'
--           is modelled; the *_complete, *_sampled and *_estimated columns split the USD
--           totals by kind, so a reader can tell a full count from a lower bound. A kind other
--           than these three fails the coverage_split check.
with source as (
    select
        exchange,
        symbol,
        ts,
        liquidated_side,
        qty_base,
        notional_usd,
        coverage
    from fct_liquidations
    where ts >= $day_start and ts < $day_end
),

coins as (
    -- the coin of each instrument, asked once per symbol rather than once per order
    select
        exchange,
        symbol,
        coin_of(symbol) as coin
    from (
        select distinct
            exchange,
            symbol
        from source
    ) as listed
),

orders as (
    select
        coins.coin,
        source.*
    from source
    inner join coins using (exchange, symbol)
),

covered as (
    select
        coin,
        array_to_string(list_sort(list_distinct(list(exchange))), ',') as venues,
        count(distinct exchange) as venue_count,
        array_to_string(list_sort(list_distinct(list(coverage))), ',') as coverages,
        array_to_string(
            list_sort(list_distinct(list(exchange || ':' || coverage))), ','
        ) as venue_coverage
    from orders
    group by coin
),

grid as (
    select
        covered.*,
        hours.ts
    from covered
    cross join (
        select unnest(
            generate_series(
                $day_start::timestamptz, $day_end::timestamptz - interval 1 hour, interval 1 hour
            )
        ) as ts
    ) as hours
),

hourly as (
    select
        coin,
        date_trunc('hour', ts) as ts,
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
        ) as short_liq_usd_estimated
    from orders
    group by 1, 2
)

select
    grid.coin::varchar as coin,
    grid.ts::timestamptz as ts,
    coalesce(hourly.long_liq_usd, 0)::double as long_liq_usd,
    coalesce(hourly.short_liq_usd, 0)::double as short_liq_usd,
    coalesce(hourly.long_liq_count, 0)::bigint as long_liq_count,
    coalesce(hourly.short_liq_count, 0)::bigint as short_liq_count,
    coalesce(hourly.long_liq_base, 0)::double as long_liq_base,
    coalesce(hourly.short_liq_base, 0)::double as short_liq_base,
    coalesce(hourly.long_liq_usd_complete, 0)::double as long_liq_usd_complete,
    coalesce(hourly.short_liq_usd_complete, 0)::double as short_liq_usd_complete,
    coalesce(hourly.long_liq_usd_sampled, 0)::double as long_liq_usd_sampled,
    coalesce(hourly.short_liq_usd_sampled, 0)::double as short_liq_usd_sampled,
    coalesce(hourly.long_liq_usd_estimated, 0)::double as long_liq_usd_estimated,
    coalesce(hourly.short_liq_usd_estimated, 0)::double as short_liq_usd_estimated,
    grid.venues::varchar as venues,
    grid.venue_count::integer as venue_count,
    grid.coverages::varchar as coverages,
    grid.venue_coverage::varchar as venue_coverage
from grid
left join hourly using (coin, ts)
order by coin, ts

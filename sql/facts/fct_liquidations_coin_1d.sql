-- fct_liquidations_coin_1d: each coin's liquidations per UTC day summed over every venue and
-- instrument (USDⓈ-M and COIN-M, Bybit, OKX, Hyperliquid…), longs against shorts, with the
-- venues and the coverage kinds the totals stand on: fct_liquidations_coin_1h's day in one row.
-- grain: coin × day (ts = the day's start), one row for every coin with a liquidation on any
--        venue that day
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: fct_liquidations_coin_1h of the day, whose 24 hours per coin are summed; its
--         `venues` and `coverages` (and their counts) are already the day's, the same in each
--         hour, so they are grouped on rather than summed.
-- coverage: as in fct_liquidations_coin_1h: a venue covers a coin that day when it published at
--           least one of the coin's liquidations; 'complete' counts every forced order,
--           'sampled' is a lower bound, 'estimated' is modelled, and the *_complete, *_sampled
--           and *_estimated columns split the USD totals by kind.
with source as (
    select *
    from fct_liquidations_coin_1h
    where ts >= $day_start and ts < $day_end
),

daily as (
    select
        coin,
        venues,
        venue_count,
        coverages,
        venue_coverage,
        sum(long_liq_usd) as long_liq_usd,
        sum(short_liq_usd) as short_liq_usd,
        sum(long_liq_count) as long_liq_count,
        sum(short_liq_count) as short_liq_count,
        sum(long_liq_base) as long_liq_base,
        sum(short_liq_base) as short_liq_base,
        sum(long_liq_usd_complete) as long_liq_usd_complete,
        sum(short_liq_usd_complete) as short_liq_usd_complete,
        sum(long_liq_usd_sampled) as long_liq_usd_sampled,
        sum(short_liq_usd_sampled) as short_liq_usd_sampled,
        sum(long_liq_usd_estimated) as long_liq_usd_estimated,
        sum(short_liq_usd_estimated) as short_liq_usd_estimated
    from source
    group by coin, venues, venue_count, coverages, venue_coverage
)

select
    coin::varchar as coin,
    $day_start::timestamptz as ts,
    long_liq_usd::double as long_liq_usd,
    short_liq_usd::double as short_liq_usd,
    long_liq_count::bigint as long_liq_count,
    short_liq_count::bigint as short_liq_count,
    long_liq_base::double as long_liq_base,
    short_liq_base::double as short_liq_base,
    long_liq_usd_complete::double as long_liq_usd_complete,
    short_liq_usd_complete::double as short_liq_usd_complete,
    long_liq_usd_sampled::double as long_liq_usd_sampled,
    short_liq_usd_sampled::double as short_liq_usd_sampled,
    long_liq_usd_estimated::double as long_liq_usd_estimated,
    short_liq_usd_estimated::double as short_liq_usd_estimated,
    venues::varchar as venues,
    venue_count::integer as venue_count,
    coverages::varchar as coverages,
    venue_coverage::varchar as venue_coverage
from daily
order by coin

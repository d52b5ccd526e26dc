-- fct_funding_cross_venue: each coin's funding across venues, per hour: the simple mean and the
-- open-interest-weighted mean of the rate in force on every instrument, per 8 hours.
-- grain: coin × hour (ts = the hour's start)
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: fct_funding for the day before and the day. An instrument's rate in an hour is its
--         latest settlement at or before the hour's start, while it is at most one interval
--         old (a missed settlement leaves the instrument out until the next one), so venues
--         on other grids (BitMEX settles at 04/12/20 UTC) are compared hour by hour.
--         fct_open_interest of the day: each instrument's last USD open interest of the hour
--         is its weight; an instrument without one (BitMEX) counts in the simple mean only.
with hours as (
    select unnest(generate_series($day_start, $day_end - interval 1 hour, interval 1 hour)) as ts
),

settlements as (
    select
        exchange,
        symbol,
        coin,
        funding_time,
        funding_interval_hours,
        funding_rate_8h
    from fct_funding
),

rates as (
    select
        settlements.coin,
        hours.ts,
        settlements.exchange,
        settlements.symbol,
        settlements.funding_rate_8h
    from hours
    inner join settlements
        on
            settlements.funding_time <= hours.ts
            and settlements.funding_time
            > hours.ts - to_hours(settlements.funding_interval_hours::bigint)
    qualify row_number() over (
        partition by hours.ts, settlements.exchange, settlements.symbol
        order by settlements.funding_time desc
    ) = 1
),

open_interest as (
    select
        exchange,
        symbol,
        date_trunc('hour', ts) as ts,
        arg_max(oi_usd, ts) as oi_usd
    from fct_open_interest
    where ts >= $day_start and ts < $day_end
    group by 1, 2, 3
),

weighted as (
    select
        rates.coin,
        rates.ts,
        rates.exchange,
        rates.funding_rate_8h,
        case when open_interest.oi_usd > 0 then open_interest.oi_usd end as weight
    from rates
    left join open_interest
        on
            open_interest.exchange = rates.exchange
            and open_interest.symbol = rates.symbol
            and open_interest.ts = rates.ts
),

aggregated as (
    select
        coin,
        ts,
        array_to_string(list_sort(list_distinct(list(exchange))), ',') as venues,
        count(distinct exchange) as venue_count,
        avg(funding_rate_8h) as funding_rate_8h_mean,
        sum(funding_rate_8h * weight) / sum(weight) as funding_rate_8h_oi_weighted,
        count(distinct exchange) filter (where weight is not null) as oi_weighted_venue_count,
        sum(weight) as oi_usd_weight
    from weighted
    group by coin, ts
)

select
    coin::varchar as coin,
    ts::timestamptz as ts,
    venues::varchar as venues,
    venue_count::integer as venue_count,
    funding_rate_8h_mean::double as funding_rate_8h_mean,
    funding_rate_8h_oi_weighted::double as funding_rate_8h_oi_weighted,
    (funding_rate_8h_mean * 3.0 * 365.0)::double as funding_rate_apr_mean,
    (funding_rate_8h_oi_weighted * 3.0 * 365.0)::double as funding_rate_apr_oi_weighted,
    oi_weighted_venue_count::integer as oi_weighted_venue_count,
    oi_usd_weight::double as oi_usd_weight
from aggregated
order by coin, ts

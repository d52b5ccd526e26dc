-- fct_open_interest_cross_venue: each coin's open interest per hour, summed over every venue
-- and perpetual, in base units and USD (delivery contracts, contract_type 'delivery', are left
-- out: this is the perpetuals' aggregate the regime features and the CME report read).
-- grain: coin × hour (ts = the hour's start)
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: fct_open_interest of the day: each instrument's last reading of the hour (an
--         instrument without a reading in an hour is left out of that hour, and the venues
--         column says which contributed). oi_usd sums the instruments whose reading has a USD
--         value (a Bybit minute without any mark price has none).
with source as (
    select *
    from fct_open_interest
    where ts >= $day_start and ts < $day_end and contract_type is distinct from 'delivery'
),

last_of_hour as (
    -- both values from the one last reading (arg_max of each alone would skip a null)
    select
        coin,
        exchange,
        symbol,
        date_trunc('hour', ts) as ts,
        arg_max({ 'oi_base': oi_base, 'oi_usd': oi_usd }, ts).oi_base as oi_base,
        arg_max({ 'oi_base': oi_base, 'oi_usd': oi_usd }, ts).oi_usd as oi_usd
    from source
    group by 1, 2, 3, 4
),

aggregated as (
    select
        coin,
        ts,
        sum(oi_base) as oi_base,
        sum(oi_usd) as oi_usd,
        array_to_string(list_sort(list_distinct(list(exchange))), ',') as venues,
        count(distinct exchange) as venue_count
    from last_of_hour
    group by coin, ts
)

select
    coin::varchar as coin,
    ts::timestamptz as ts,
    oi_base::double as oi_base,
    oi_usd::double as oi_usd,
    venues::varchar as venues,
    venue_count::integer as venue_count
from aggregated
order by coin, ts

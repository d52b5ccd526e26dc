-- report_cme_open_interest: CME's bitcoin futures open interest in bitcoin each week beside the
-- offshore perpetuals': the regulated market's leverage against the perpetuals'. CME's is CFTC's
-- Commitments of Traders (Traders in Financial Futures, futures only) as of each Tuesday, the
-- Bitcoin (133741, 5 BTC a contract) and Micro Bitcoin (133742, 0.1 BTC) contracts apart and
-- summed. The perpetuals' is the coin's open interest summed over every venue at the last hour
-- of that Tuesday the lake holds: fct_open_interest_cross_venue, else (a Tuesday without it, in
-- a lake built before the cross-venue fact) each instrument's last reading of the hour summed
-- from fct_open_interest, as the cross-venue fact sums them. cme_share is CME's part of the two
-- together. Bitcoin reports only: any other coin returns no rows.
-- grain: week (as_of, the report's Tuesday 00:00 UTC)
-- inputs: fct_cot_weekly, fct_open_interest_cross_venue and fct_open_interest of the report's
--         days; $coin, $instruments ('exchange:symbol' of the coin's venues, for older
--         fct_open_interest partitions whose coin reads null)
with source as (
    select
        as_of,
        report_date,
        symbol,
        open_interest,
        open_interest_btc
    from fct_cot_weekly
    where $coin = 'BTC' and symbol in ('133741', '133742') and as_of is not null
),

weeks as (
    select distinct as_of from source
),

cross_venue as (
    -- the aggregate's last hour of each Tuesday
    select
        weeks.as_of,
        max(hourly.ts) as hour,
        arg_max(
            { 'oi_base': hourly.oi_base, 'venues': hourly.venues },
            hourly.ts
        ) as reading
    from weeks
    inner join fct_open_interest_cross_venue as hourly
        on hourly.ts >= weeks.as_of and hourly.ts < weeks.as_of + interval 1 day
    where hourly.coin = $coin and hourly.oi_base is not null
    group by weeks.as_of
),

weeks_without_aggregate as (
    select as_of from weeks
    where as_of not in (select as_of from cross_venue)
),

instrument_hours as (
    -- Tuesdays without the aggregate: each instrument's last reading of each hour. Joined on
    -- the UTC day (as_of is a Tuesday's 00:00): an equality a year of readings hash-joins in
    -- milliseconds, where the range alone took a merge join of every reading with every week.
    select
        weeks.as_of,
        readings.exchange,
        readings.symbol,
        date_trunc('hour', readings.ts) as hour,
        arg_max(readings.oi_base, readings.ts) as oi_base
    from weeks_without_aggregate as weeks
    inner join fct_open_interest as readings
        on
            cast(readings.ts as date) = cast(weeks.as_of as date)
            and readings.ts >= weeks.as_of
            and readings.ts < weeks.as_of + interval 1 day
    where
        (
            readings.coin = $coin
            or (
                readings.coin is null
                and list_contains($instruments, readings.exchange || ':' || readings.symbol)
            )
        )
        and readings.oi_base is not null
    group by 1, 2, 3, 4
),

summed_hours as (
    select
        as_of,
        hour,
        sum(oi_base) as oi_base,
        array_to_string(list_sort(list_distinct(list(exchange))), ',') as venues
    from instrument_hours
    group by as_of, hour
),

summed as (
    select
        as_of,
        max(hour) as hour,
        arg_max({ 'oi_base': oi_base, 'venues': venues }, hour) as reading
    from summed_hours
    group by as_of
),

renamed as (
    select
        source.as_of,
        max(source.report_date) as report_date,
        sum(source.open_interest_btc) filter (where source.symbol = '133741') as cme_bitcoin_btc,
        sum(source.open_interest_btc) filter (where source.symbol = '133742') as cme_micro_btc,
        sum(source.open_interest) filter (where source.symbol = '133741') as cme_bitcoin_contracts,
        sum(source.open_interest) filter (where source.symbol = '133742') as cme_micro_contracts,
        sum(source.open_interest_btc) as cme_btc,
        any_value(coalesce(cross_venue.hour, summed.hour)) as offshore_hour,
        any_value(coalesce(cross_venue.reading.oi_base, summed.reading.oi_base)) as offshore_btc,
        any_value(coalesce(cross_venue.reading.venues, summed.reading.venues)) as offshore_venues,
        any_value(
            case
                when cross_venue.hour is not null then 'fct_open_interest_cross_venue'
                when summed.hour is not null then 'fct_open_interest'
            end
        ) as offshore_source
    from source
    left join cross_venue using (as_of)
    left join summed using (as_of)
    group by source.as_of
)

select
    strftime(as_of, '%Y-%m-%d') as week,
    strftime(report_date, '%Y-%m-%d') as report_date,
    cast(cme_bitcoin_btc as double) as cme_bitcoin_btc,
    cast(cme_micro_btc as double) as cme_micro_btc,
    cast(cme_bitcoin_contracts as double) as cme_bitcoin_contracts,
    cast(cme_micro_contracts as double) as cme_micro_contracts,
    cast(cme_btc as double) as cme_btc,
    cast(offshore_btc as double) as offshore_btc,
    strftime(offshore_hour, '%Y-%m-%dT%H:%M:%SZ') as offshore_hour,
    cast(offshore_venues as varchar) as offshore_venues,
    cast(offshore_source as varchar) as offshore_source,
    cast(cme_btc / nullif(cme_btc + offshore_btc, 0) as double) as cme_share
from renamed
order by week

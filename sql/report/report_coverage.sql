-- report_coverage: what the warehouse holds behind the report: every dataset of every venue
-- trading the coin (perpetuals and spot), one cell per day of the range; a day without a
-- dq_coverage partition is 'not_checked'.
-- grain: exchange × dataset × symbol × day
-- inputs: dq_coverage of the report's days; $instruments, $first_day, $last_day
with source as (
    select
        exchange,
        dataset,
        symbol,
        date,
        status,
        rows,
        expected_rows,
        detail
    from dq_coverage
    where list_contains($instruments, exchange || ':' || symbol)
),

series as (
    select distinct
        exchange,
        dataset,
        symbol
    from source
),

days as (
    select
        cast(
            unnest(
                generate_series(cast($first_day as date), cast($last_day as date), interval 1 day)
            ) as date
        ) as date
),

grid as (
    select
        series.exchange,
        series.dataset,
        series.symbol,
        days.date
    from series
    cross join days
)

select
    strftime(grid.date, '%Y-%m-%d') as day,
    cast(grid.exchange || ' ' || grid.dataset || ' ' || grid.symbol as varchar) as series,
    cast(coalesce(source.status, 'not_checked') as varchar) as status,
    cast(source.rows as bigint) as rows,
    cast(source.expected_rows as bigint) as expected_rows,
    cast(coalesce(source.detail, '') as varchar) as detail
from grid
left join source using (exchange, dataset, symbol, date)
order by series, day

-- fct_open_interest__grid_complete: every exchange × symbol present on the day has a reading
-- for each of the day's 288 5-minute labels ($day_start, $day_start + 5 minutes, … < $day_end).
-- severity: warn. A partial day is real data (a listing or delisting mid-day, an archive
--           file cut short, an exchange outage), it is published as it is, and the gap shows
--           in coverage; the check names it so it is looked at, it does not hold the day back.
--           A symbol absent for the whole day has no row here: that is coverage's to report.
-- returns: one row per exchange × symbol with fewer than 288 distinct on-grid instants: the
--          observed and expected counts and the first and last missing instants
-- params: $day_start, $day_end (the partition's UTC day)
-- inputs: fct_open_interest (the day's table as built, before it is published)
with symbols as (
    select distinct exchange, symbol
    from fct_open_interest
),

grid as (
    select unnest(
        generate_series(
            $day_start::timestamptz, $day_end::timestamptz - interval 5 minute, interval 5 minute
        )
    ) as ts
),

expected as (
    select symbols.exchange, symbols.symbol, grid.ts
    from symbols
    cross join grid
),

present as (
    select distinct exchange, symbol, ts
    from fct_open_interest
),

counted as (
    select
        expected.exchange,
        expected.symbol,
        count(present.ts) as observed,
        count(*) as expected,
        min(expected.ts) filter (where present.ts is null) as first_missing,
        max(expected.ts) filter (where present.ts is null) as last_missing
    from expected
    left join present
        on present.exchange = expected.exchange
        and present.symbol = expected.symbol
        and present.ts = expected.ts
    group by expected.exchange, expected.symbol
)

select
    exchange,
    symbol,
    observed,
    expected,
    expected - observed as missing,
    first_missing,
    last_missing
from counted
where observed < expected
order by exchange, symbol

-- grid_complete: every exchange × symbol present on the day has a row for each slot of the
-- day's grid ($day_start, $day_start + $grid_minutes minutes, … < $day_end): 1440 minutes for
-- fct_price_1m, 288 five-minute labels for fct_open_interest.
-- severity: warn. A partial day is real data (a listing or delisting mid-day, an archive
--           file cut short, an exchange outage), it is published as it is, and the gap shows
--           in coverage; the check names it so it is looked at, it does not hold the day back.
--           A symbol absent for the whole day has no row here: that is coverage's to report.
-- returns: one row per exchange × symbol with fewer distinct on-grid instants than slots: the
--          observed and expected counts and the first and last missing instants
-- params: $day_start, $day_end (the partition's UTC day), $grid_minutes (the slot width)
-- inputs: fact (the day's table as built, before it is published, under a generic name: the
--         check is shared by the tables registered with it in transforms.fact_checks)
with symbols as (
    select distinct
        exchange,
        symbol
    from fact
),

grid as (
    select unnest(
        generate_series(
            $day_start::timestamptz,
            $day_end::timestamptz - to_minutes(cast($grid_minutes as bigint)),
            to_minutes(cast($grid_minutes as bigint))
        )
    ) as ts
),

expected as (
    select
        symbols.exchange,
        symbols.symbol,
        grid.ts
    from symbols
    cross join grid
),

present as (
    select distinct
        exchange,
        symbol,
        ts
    from fact
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
        on
            present.exchange = expected.exchange
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

-- fct_open_interest__continuity: open interest (oi_base) does not jump across midnight: the
-- day's first reading of each exchange × symbol is within $max_jump (relative) of the last
-- reading of the previous day's published partition.
-- severity: warn. A real liquidation cascade or a mass deleveraging can move open interest
--           that much, so a jump is a signal to look, not proof of an error; what it catches
--           is a seam between two days built from different files (a unit change, a
--           misfiled day, a restated history). The day is published.
-- returns: one row per exchange × symbol whose jump exceeds $max_jump: both readings, their
--          instants and the relative jump (null when the previous reading is zero)
-- params: $day_start, $day_end (the partition's UTC day), $max_jump (0.25 = 25%)
-- inputs: fct_open_interest (the day's table as built, before it is published),
--         fct_open_interest_previous (the previous day's published partition; empty when
--         none was published, and then nothing is compared)
with previous_last as (
    select
        exchange,
        symbol,
        ts as previous_ts,
        oi_base as previous_oi_base
    from fct_open_interest_previous
    where ts < $day_start and oi_base is not null
    qualify row_number() over (partition by exchange, symbol order by ts desc) = 1
),

day_first as (
    select
        exchange,
        symbol,
        ts,
        oi_base
    from fct_open_interest
    where ts >= $day_start and ts < $day_end and oi_base is not null
    qualify row_number() over (partition by exchange, symbol order by ts) = 1
),

compared as (
    select
        day_first.exchange,
        day_first.symbol,
        previous_last.previous_ts,
        previous_last.previous_oi_base,
        day_first.ts,
        day_first.oi_base,
        abs(day_first.oi_base - previous_last.previous_oi_base) as absolute_jump
    from day_first
    inner join previous_last
        on
            previous_last.exchange = day_first.exchange
            and previous_last.symbol = day_first.symbol
)

select
    exchange,
    symbol,
    previous_ts,
    previous_oi_base,
    ts,
    oi_base,
    absolute_jump / nullif(abs(previous_oi_base), 0) as relative_jump,
    $max_jump::double as max_jump
from compared
-- multiplied out rather than divided, so that a jump from zero is a violation too
where absolute_jump > $max_jump * abs(previous_oi_base)
order by exchange, symbol

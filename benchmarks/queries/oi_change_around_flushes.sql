-- open interest around flush events: how much leverage a cascade cleared, and whether it was
-- back a day later (the treadmill), from the 5-minute open interest a day before each event's
-- start, at its end, and a day after.
-- reads: feat_flush_events, fct_open_interest (one scan: a range join on each event's window,
-- not an as-of join per mark, which read the year of open interest three times)
with events as (
    select
        *,
        start_ts - interval 1 day as before_ts,
        end_ts + interval 1 day as after_ts
    from feat_flush_events
),

around as (
    -- each event's 5-minute open interest from an hour before its day-before mark to a day after
    select
        e.exchange,
        e.symbol,
        e.start_ts,
        arg_max(o.oi_base, o.ts) filter (where o.ts <= e.before_ts) as oi_day_before,
        arg_max(o.oi_base, o.ts) filter (where o.ts <= e.end_ts) as oi_at_end,
        arg_max(o.oi_base, o.ts) as oi_day_after
    from events as e
    inner join fct_open_interest as o
        on o.exchange = e.exchange
        and o.symbol = e.symbol
        and o.ts > e.before_ts - interval 1 hour
        and o.ts <= e.after_ts
    group by all
)

select
    e.exchange,
    e.symbol,
    e.start_ts,
    e.end_ts,
    e.oi_drop_pct,
    e.long_liq_usd,
    a.oi_at_end / a.oi_day_before - 1 as oi_change_through_event,
    a.oi_day_after / a.oi_at_end - 1 as oi_change_day_after
from events as e
left join around as a using (exchange, symbol, start_ts)
order by e.exchange, e.symbol, e.start_ts

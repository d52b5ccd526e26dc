-- open interest around flush events: how much leverage a cascade cleared, and whether it was
-- back a day later (the treadmill), from the 5-minute open interest a day before each event's
-- start, at its end, and a day after.
-- reads: feat_flush_events, fct_open_interest
with events as (
    select
        *,
        start_ts - interval 1 day as before_ts,
        end_ts + interval 1 day as after_ts
    from feat_flush_events
),

open_interest as (
    select
        exchange,
        symbol,
        ts,
        oi_base
    from fct_open_interest
)

select
    e.exchange,
    e.symbol,
    e.start_ts,
    e.end_ts,
    e.oi_drop_pct,
    e.long_liq_usd,
    at_end.oi_base / before.oi_base - 1 as oi_change_through_event,
    after.oi_base / at_end.oi_base - 1 as oi_change_day_after
from events as e
asof left join open_interest as before
    on e.exchange = before.exchange and e.symbol = before.symbol and e.before_ts >= before.ts
asof left join open_interest as at_end
    on e.exchange = at_end.exchange and e.symbol = at_end.symbol and e.end_ts >= at_end.ts
asof left join open_interest as after
    on e.exchange = after.exchange and e.symbol = after.symbol and e.after_ts >= after.ts
order by e.exchange, e.symbol, e.start_ts

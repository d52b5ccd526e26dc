-- report_flush_events: the flushes of one perpetual that overlap the report's range, to mark on
-- its regime timeline: how far price and open interest fell, what was liquidated, how funding
-- moved, how long traders took to re-lever, and whether another flush followed (the treadmill).
-- An event is published on the day it resolves, up to a week after it ends: the latest flush of
-- a warehouse may not have resolved yet and shows only as flush hours on the band.
-- grain: flush event
-- inputs: feat_flush_events from the range's first day to a week after its last (where the lake
--         has them); $exchange, $symbol, $range_start, $range_end
select
    strftime(start_ts, '%Y-%m-%dT%H:%M:%SZ') as start_ts,
    strftime(end_ts, '%Y-%m-%dT%H:%M:%SZ') as end_ts,
    cast(duration_hours as bigint) as duration_hours,
    cast(drawdown_pct * 100 as double) as drawdown_pct,
    cast(oi_drop_pct * 100 as double) as oi_drop_pct,
    cast(long_liq_usd as double) as long_liq_usd,
    cast(short_liq_usd as double) as short_liq_usd,
    cast(funding_before_8h * 100 as double) as funding_before_8h_pct,
    cast(funding_after_8h * 100 as double) as funding_after_8h_pct,
    cast(relever_hours as bigint) as relever_hours,
    cast(coalesce(treadmill, false) as boolean) as treadmill
from feat_flush_events
where
    exchange = $exchange
    and symbol = $symbol
    and start_ts < $range_end
    and end_ts > $range_start
order by start_ts

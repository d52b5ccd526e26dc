-- feat_flush_events: each flush of the liquidation treadmill as one event: how far price and open
-- interest fell, what was liquidated, funding before and after, how long traders took to
-- re-lever, and whether another flush followed within the treadmill window.
-- grain: exchange × symbol × flush event (key: start_ts)
-- partition: date = UTC day of resolved_ts, the hour whose close settled the event's last value
--            (its end, its re-lever or the horizon, the next flush or the window);
--            $day_start <= resolved_ts < $day_end. An event is published once, complete, on the
--            day it resolves, so a value never changes and never uses an hour after resolved_ts.
-- inputs: feat_regime_1h for the 30 days ending with the partition ($window_start = day − 29).
-- rules: bound from transforms.features.FlushEventRules, the trend window from RegimeThresholds.
with source as (
    select
        exchange,
        symbol,
        ts,
        close,
        oi_base,
        long_liq_usd,
        short_liq_usd,
        funding_estimate_8h,
        regime
    from feat_regime_1h
    where ts >= $window_start and ts < $day_end
),

flush_hours as (
    select
        exchange,
        symbol,
        ts,
        -- a cascade pauses between waves: flush hours this close together are one event
        coalesce(
            ts - lag(ts) over (partition by exchange, symbol order by ts)
            > to_hours(cast($merge_hours as bigint)),
            true
        ) as starts_event
    from source
    where regime = 'flush'
),

events as (
    select
        exchange,
        symbol,
        min(ts) as start_ts,
        max(ts) + interval 1 hour as end_ts,
        count(*) as flush_hours
    from (
        select
            *,
            sum(starts_event::int) over (partition by exchange, symbol order by ts) as event_number
        from flush_hours
    ) as numbered
    group by exchange, symbol, event_number
),

sequenced as (
    select
        *,
        lag(end_ts) over by_symbol as previous_end_ts,
        lead(start_ts) over by_symbol as next_start_ts
    from events
    window by_symbol as (partition by exchange, symbol order by start_ts)
),

around as (
    -- the trend window before the flush's first hour (the levels it drew down from), then the
    -- flush itself
    select
        events.exchange,
        events.symbol,
        events.start_ts,
        max(source.close) filter (where source.ts < events.start_ts) as price_peak,
        max(source.oi_base) filter (where source.ts < events.start_ts) as oi_peak_base,
        arg_max(source.funding_estimate_8h, source.ts) filter (where source.ts < events.start_ts)
            as funding_before_8h,
        min(source.close) filter (where source.ts >= events.start_ts) as price_low,
        min(source.oi_base) filter (where source.ts >= events.start_ts) as oi_trough_base,
        sum(source.long_liq_usd) filter (where source.ts >= events.start_ts) as long_liq_usd,
        sum(source.short_liq_usd) filter (where source.ts >= events.start_ts) as short_liq_usd
    from sequenced as events
    inner join source
        on
            source.exchange = events.exchange
            and source.symbol = events.symbol
            and source.ts >= events.start_ts - to_hours(cast($trend_hours as bigint))
            and source.ts < events.end_ts
    group by all
),

measured as (
    select
        sequenced.*,
        around.* exclude (exchange, symbol, start_ts),
        after_hour.funding_estimate_8h as funding_after_8h,
        around.oi_trough_base
        + $relever_share * (around.oi_peak_base - around.oi_trough_base) as oi_relever_base
    from sequenced
    inner join around using (exchange, symbol, start_ts)
    left join source as after_hour
        on
            after_hour.exchange = sequenced.exchange
            and after_hour.symbol = sequenced.symbol
            and after_hour.ts = sequenced.end_ts
),

relevered as (
    -- the first hour after the flush whose open interest is back above half its drop
    select
        measured.exchange,
        measured.symbol,
        measured.start_ts,
        min(source.ts) as relever_ts
    from measured
    inner join source
        on
            source.exchange = measured.exchange
            and source.symbol = measured.symbol
            and source.ts >= measured.end_ts
            and source.ts < measured.end_ts + to_hours(cast($relever_horizon_hours as bigint))
            and source.oi_base >= measured.oi_relever_base
    group by all
),

resolved as (
    select
        measured.*,
        relevered.relever_ts,
        measured.next_start_ts < measured.end_ts
        + to_hours(cast($treadmill_window_hours as bigint)) as next_within_window,
        greatest(
            -- the last hour in which another flush hour would still have joined the event
            measured.end_ts - interval 1 hour + to_hours(cast($merge_hours as bigint)),
            coalesce(
                relevered.relever_ts,
                measured.end_ts - interval 1 hour
                + to_hours(cast($relever_horizon_hours as bigint))
            ),
            case
                when next_within_window then measured.next_start_ts
                else
                    measured.end_ts - interval 1 hour
                    + to_hours(cast($treadmill_window_hours as bigint))
            end
        ) as resolved_ts
    from measured
    left join relevered using (exchange, symbol, start_ts)
),

final as (
    select
        resolved.*,
        date_diff('hour', start_ts, end_ts) as duration_hours,
        price_low / nullif(price_peak, 0) - 1 as drawdown_pct,
        oi_trough_base / nullif(oi_peak_base, 0) - 1 as oi_drop_pct,
        date_diff('hour', end_ts, relever_ts) + 1 as relever_hours,
        date_diff('hour', previous_end_ts, start_ts) as hours_since_previous_flush,
        case
            when next_within_window then date_diff('hour', end_ts, next_start_ts)
        end as hours_to_next_flush
    from resolved
    -- an event resolves only in hours the data has reached: a missing day delays it, never
    -- settles it on absent hours
    where
        resolved_ts >= $day_start
        and resolved_ts < $day_end
        and resolved_ts <= (
            select max(source.ts) from source
            where source.exchange = resolved.exchange and source.symbol = resolved.symbol
        )
)

select
    exchange::varchar as exchange,
    symbol::varchar as symbol,
    resolved_ts::timestamptz as resolved_ts,
    start_ts::timestamptz as start_ts,
    end_ts::timestamptz as end_ts,
    duration_hours::bigint as duration_hours,
    flush_hours::bigint as flush_hours,
    price_peak::double as price_peak,
    price_low::double as price_low,
    drawdown_pct::double as drawdown_pct,
    oi_peak_base::double as oi_peak_base,
    oi_trough_base::double as oi_trough_base,
    oi_drop_pct::double as oi_drop_pct,
    long_liq_usd::double as long_liq_usd,
    short_liq_usd::double as short_liq_usd,
    funding_before_8h::double as funding_before_8h,
    funding_after_8h::double as funding_after_8h,
    relever_ts::timestamptz as relever_ts,
    relever_hours::bigint as relever_hours,
    hours_since_previous_flush::bigint as hours_since_previous_flush,
    hours_to_next_flush::bigint as hours_to_next_flush,
    coalesce(next_within_window, false)::boolean as treadmill
from final
order by exchange, symbol, resolved_ts, start_ts

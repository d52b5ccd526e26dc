-- feat_regime_1d: the day of each perpetual at a glance: where price, open interest and funding
-- ended, what was liquidated, and how many hours the market spent in each regime.
-- grain: exchange × symbol × UTC day (ts = day start)
-- partition: date = the day; $day_start <= ts < $day_end
-- inputs: feat_regime_1h of the day (itself built from trailing windows only)
with source as (
    select *
    from feat_regime_1h
    where ts >= $day_start and ts < $day_end
),

daily as (
    select
        exchange,
        symbol,
        min(ts) as ts,
        arg_max(close, ts) as close,
        sum(return_1h) as return_1d,
        sqrt(sum(realized_vol * realized_vol)) as realized_vol_1d,
        arg_max(oi_base, ts) as oi_base,
        arg_max(oi_usd, ts) as oi_usd,
        arg_max(oi_base, ts) / nullif(arg_min(oi_base, ts) / (1 + arg_min(oi_change_pct_1h, ts)), 0)
        - 1 as oi_change_pct_1d,
        arg_max(funding_last_8h, ts) as funding_last_8h,
        avg(funding_estimate_8h) as funding_estimate_8h_mean,
        sum(long_liq_usd) as long_liq_usd,
        sum(short_liq_usd) as short_liq_usd,
        count(*) filter (where liq_burst) as burst_hours,
        count(*) filter (where regime = 'flush') as flush_hours,
        count(*) filter (where regime = 'squeeze') as squeeze_hours,
        count(*) filter (where regime = 'leverage_build') as leverage_build_hours,
        count(*) filter (where regime = 'latent_fragility') as latent_fragility_hours,
        count(*) filter (where regime = 'reset') as reset_hours,
        -- the day's label: its most frequent hourly regime, the more severe one on a tie
        arg_max(
            regime,
            count_in_day * 10 + case regime
                when 'flush' then 8 when 'squeeze' then 7 when 'leverage_build' then 6
                when 'latent_fragility' then 5 when 'short_build' then 4
                when 'spot_absorption' then 3 when 'reset' then 2 else 1
            end
        ) as regime
    from (
        select
            *,
            count(*) over (partition by exchange, symbol, regime) as count_in_day
        from source
    ) as counted
    group by exchange, symbol
)

select
    exchange::varchar as exchange,
    symbol::varchar as symbol,
    ts::timestamptz as ts,
    close::double as close,
    return_1d::double as return_1d,
    realized_vol_1d::double as realized_vol_1d,
    oi_base::double as oi_base,
    oi_usd::double as oi_usd,
    oi_change_pct_1d::double as oi_change_pct_1d,
    funding_last_8h::double as funding_last_8h,
    funding_estimate_8h_mean::double as funding_estimate_8h_mean,
    long_liq_usd::double as long_liq_usd,
    short_liq_usd::double as short_liq_usd,
    burst_hours::bigint as burst_hours,
    flush_hours::bigint as flush_hours,
    squeeze_hours::bigint as squeeze_hours,
    leverage_build_hours::bigint as leverage_build_hours,
    latent_fragility_hours::bigint as latent_fragility_hours,
    reset_hours::bigint as reset_hours,
    regime::varchar as regime
from daily
order by exchange, symbol, ts

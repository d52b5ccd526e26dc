-- funding z-score ranking: which perpetuals pay the most to hold longs, against their own past,
-- at the last hour of the warehouse and on average over its last 7 days.
-- reads: feat_regime_1h (funding_zscore_30d, funding_last_8h)
with latest as (
    select max(ts) as ts
    from feat_regime_1h
),

recent as (
    select
        f.exchange,
        f.symbol,
        f.ts,
        f.funding_zscore_30d,
        f.funding_last_8h
    from feat_regime_1h as f
    cross join latest
    where f.ts > latest.ts - interval 7 days
),

by_symbol as (
    select
        exchange,
        symbol,
        arg_max(funding_zscore_30d, ts) as zscore_now,
        arg_max(funding_last_8h, ts) as funding_8h_now,
        avg(funding_zscore_30d) as zscore_7d_mean
    from recent
    group by exchange, symbol
)

select
    rank() over (order by zscore_now desc nulls last) as crowding_rank,
    exchange,
    symbol,
    zscore_now,
    zscore_7d_mean,
    funding_8h_now
from by_symbol
order by crowding_rank, exchange, symbol

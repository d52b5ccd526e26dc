-- hot-zone distance history: how far the largest estimated liquidation cluster above and below
-- the price sat, day by day, for one symbol ($symbol).
-- reads: feat_hot_zones
select
    ts,
    position,
    price_low,
    price_high,
    distance_pct,
    est_notional_usd,
    share
from feat_hot_zones
where symbol = $symbol and rank = 1
order by ts, position

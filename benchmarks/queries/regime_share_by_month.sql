-- regime share by month: the share of perpetual-hours spent in each regime, month by month.
-- reads: feat_regime_1h
with hours as (
    select
        date_trunc('month', ts) as month,
        regime,
        count(*) as hours
    from feat_regime_1h
    group by all
)

select
    month,
    regime,
    hours,
    hours / sum(hours) over (partition by month) as share
from hours
order by month, share desc

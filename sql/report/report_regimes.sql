-- report_regimes: the regime label of every hour with the close, for the timeline band.
-- grain: hour
-- inputs: feat_regime_1h of the report's days; $exchange, $symbol
select
    strftime(ts, '%Y-%m-%dT%H:%M:%SZ') as hour,
    strftime(ts + interval 1 hour, '%Y-%m-%dT%H:%M:%SZ') as hour_end,
    cast(regime as varchar) as regime,
    cast(close as double) as close
from feat_regime_1h
where exchange = $exchange and symbol = $symbol
order by hour

-- fct_funding__within_cap: every funding rate is within the exchange's cap per interval,
-- |funding_rate| <= $cap, the rate as settled (per its own interval, not rescaled to 8h).
-- severity: error. Binance clamps each contract's rate per interval to a cap/floor it sets per
--           contract: ±0.3% for BTCUSDT, ±0.05% for the metals, ±3% for every USDⓈ-M
--           perpetual of 25x maximum leverage or less (since 2023-10-09), the widest cap it
--           has announced. A rate beyond ±3% was therefore never settled on Binance: it is a
--           parse or unit error (a percentage read as a fraction, a shifted column) and would
--           make every APR built on it absurd. The partition is quarantined. A NaN rate fails
--           too (DuckDB orders NaN above every number); a null rate passes. The cap is the
--           widest one, so a rate within ±3% but above its own contract's cap is not caught.
-- returns: the rows beyond the cap, with the cap they broke
-- params: $cap (0.03 = 3% per interval)
-- inputs: fct_funding (the day's table as built, before it is published)
select
    exchange,
    symbol,
    funding_time,
    funding_rate,
    funding_interval_hours,
    $cap::double as cap
from fct_funding
where abs(funding_rate) > $cap
order by exchange, symbol, funding_time

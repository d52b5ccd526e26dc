-- fct_market_1h__unique_keys: at most one row per exchange × symbol × hour
-- (ts), and no row with a null key.
-- severity: error. The grain is the table's contract: a second row for a key is counted twice
--           by every sum and fans out every join, and the model already deduplicates, so a
--           duplicate here is a bug, never market data. The partition is quarantined.
-- returns: one row per duplicated or null key, with the number of rows sharing it
-- inputs: fct_market_1h (the day's table as built, before it is published)
select
    exchange,
    symbol,
    ts,
    count(*) as row_count
from fct_market_1h
group by exchange, symbol, ts
having count(*) > 1 or exchange is null or symbol is null or ts is null
order by exchange, symbol, ts

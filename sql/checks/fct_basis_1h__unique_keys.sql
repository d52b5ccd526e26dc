-- fct_basis_1h__unique_keys: at most one row per exchange × symbol × hour (ts), and no row with
-- a null key.
-- severity: error. A term structure is one row per contract and hour; the model takes one close
--           per contract-hour, so a duplicate is a bug that would show a contract twice. The
--           partition is quarantined.
-- returns: one row per duplicated or null key, with the number of rows sharing it
-- inputs: fct_basis_1h (the day's table as built, before it is published)
select
    exchange,
    symbol,
    ts,
    count(*) as row_count
from fct_basis_1h
group by exchange, symbol, ts
having count(*) > 1 or exchange is null or symbol is null or ts is null
order by exchange, symbol, ts

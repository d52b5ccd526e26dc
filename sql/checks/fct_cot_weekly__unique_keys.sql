-- fct_cot_weekly__unique_keys: at most one row per exchange × symbol × as_of (the report's
-- Tuesday), and no row with a null key.
-- severity: error. One report per market and week is the table's contract; the model keeps one
--           row per key, so a duplicate is a bug. The partition is quarantined.
-- returns: one row per duplicated or null key, with the number of rows sharing it
-- inputs: fct_cot_weekly (the day's table as built, before it is published)
select
    exchange,
    symbol,
    as_of,
    count(*) as row_count
from fct_cot_weekly
group by exchange, symbol, as_of
having count(*) > 1 or exchange is null or symbol is null or as_of is null
order by exchange, symbol, as_of

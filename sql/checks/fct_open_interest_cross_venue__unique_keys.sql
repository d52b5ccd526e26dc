-- fct_open_interest_cross_venue__unique_keys: at most one row per coin × hour (ts), and no row with
-- a null key.
-- severity: error. A second row for a coin's hour would be counted twice by every sum; the
--           model groups by the key, so a duplicate is a bug. The partition is quarantined.
-- returns: one row per duplicated or null key, with the number of rows sharing it
-- inputs: fct_open_interest_cross_venue (the day's table as built, before it is published)
select
    coin,
    ts,
    count(*) as row_count
from fct_open_interest_cross_venue
group by coin, ts
having count(*) > 1 or coin is null or ts is null
order by coin, ts

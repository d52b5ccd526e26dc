-- fct_volume_shares_1d__unique_keys: at most one row per coin × day (ts) × venue, and no row
-- with a null key.
-- severity: error. A second row for a coin's venue and day would count its volume twice in
--           every sum; the model groups by the key, so a duplicate is a bug. The partition is
--           quarantined.
-- returns: one row per duplicated or null key, with the number of rows sharing it
-- inputs: fct_volume_shares_1d (the day's table as built, before it is published)
select
    coin,
    ts,
    venue,
    count(*) as row_count
from fct_volume_shares_1d
group by coin, ts, venue
having count(*) > 1 or coin is null or ts is null or venue is null
order by coin, ts, venue

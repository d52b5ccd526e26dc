-- venues_counted: a coin-level row's venue_count is the number of venues it lists, and at
-- least one.
-- severity: error. Readers weigh a cross-venue figure by how many venues stand behind it; a
--           count that disagrees with the list is a bug in the aggregation.
-- returns: every row whose count disagrees with its venues
-- inputs: fact, a coin-level table of the day (fct_funding_cross_venue,
--         fct_open_interest_cross_venue, fct_liquidations_coin_1h, fct_liquidations_coin_1d)
--         as built, before it is published
select
    coin,
    ts,
    venues,
    venue_count
from fact
where
    venues is null
    or venue_count < 1
    or venue_count != len(string_split(venues, ','))
order by coin, ts

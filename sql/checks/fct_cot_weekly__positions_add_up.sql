-- fct_cot_weekly__positions_add_up: on each side the report adds up to the open interest, as
-- CFTC defines it: spreading (the offsetting part of a trader's long and short positions) is
-- counted on both sides, so Σ over the four reportable categories of (long + spreading) plus
-- the non-reportable long positions is the open interest, and likewise for the short side:
-- |open_interest − side total| <= $tolerance contracts.
-- severity: error. A report that does not add up was read wrong (a column taken for another
--           after a header change, a shifted headerless row); the partition is quarantined.
-- returns: the rows whose long or short side does not add up, with both totals
-- params: $tolerance (0.5 contracts: the futures-only report's counts are whole contracts)
-- inputs: fct_cot_weekly (the day's table as built, before it is published)
with sides as (
    select
        exchange,
        symbol,
        as_of,
        open_interest,
        dealer_long + dealer_spreading + asset_manager_long + asset_manager_spreading
        + leveraged_funds_long + leveraged_funds_spreading + other_reportable_long
        + other_reportable_spreading + nonreportable_long as long_total,
        dealer_short + dealer_spreading + asset_manager_short + asset_manager_spreading
        + leveraged_funds_short + leveraged_funds_spreading + other_reportable_short
        + other_reportable_spreading + nonreportable_short as short_total
    from fct_cot_weekly
)

select
    exchange,
    symbol,
    as_of,
    open_interest,
    long_total,
    short_total
from sides
where
    coalesce(
        abs(open_interest - long_total) > $tolerance
        or abs(open_interest - short_total) > $tolerance,
        true
    )
order by exchange, symbol, as_of

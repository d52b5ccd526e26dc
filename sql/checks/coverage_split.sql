-- coverage_split: a coin-level liquidation row says what kind of count it is. Its long and its
-- short USD totals are the sums of their split by coverage kind (*_complete + *_sampled +
-- *_estimated) within rounding, |total − split| <= $rel_tol × |total| + $abs_tol; `coverages`
-- lists only the kinds 'complete', 'sampled' and 'estimated', and every kind with USD in its
-- split; `venue_coverage` (exchange:kind pairs) names exactly the venues of `venues` and the
-- kinds of `coverages`.
-- severity: error. These columns are how a reader tells a full count from a lower bound: a
--           total that is not the sum of its kinds holds orders of no known coverage (a null or
--           new kind in fct_liquidations that the model cannot place), and a chart labelled
--           from `venue_coverage` would misstate what it stands on. The partition is
--           quarantined.
-- returns: one row per violating coin and instant, with the problem, the totals and splits
-- params: $rel_tol (1e-9: the same numbers summed in another order), $abs_tol (1e-6 USD)
-- inputs: fact, a coin-level liquidation table of the day (fct_liquidations_coin_1h,
--         fct_liquidations_coin_1d) as built, before it is published
with parsed as (
    select
        coin,
        ts,
        venues,
        coverages,
        venue_coverage,
        long_liq_usd,
        short_liq_usd,
        long_liq_usd_complete + long_liq_usd_sampled + long_liq_usd_estimated as long_split_usd,
        short_liq_usd_complete + short_liq_usd_sampled + short_liq_usd_estimated
            as short_split_usd,
        long_liq_usd_complete + short_liq_usd_complete as complete_usd,
        long_liq_usd_sampled + short_liq_usd_sampled as sampled_usd,
        long_liq_usd_estimated + short_liq_usd_estimated as estimated_usd,
        string_split(coalesce(coverages, ''), ',') as kinds,
        list_sort(list_distinct(
            string_split(regexp_replace(coalesce(venue_coverage, ''), ':[^,]*', '', 'g'), ',')
        )) as paired_venues,
        list_sort(list_distinct(
            string_split(regexp_replace(coalesce(venue_coverage, ''), '[^,:]*:', '', 'g'), ',')
        )) as paired_kinds
    from fact
),

judged as (
    select
        *,
        case
            when coalesce(coverages, '') = '' then 'no coverage kind'
            when not list_has_all(['complete', 'sampled', 'estimated'], kinds)
                then 'unknown coverage kind'
            when coalesce(
                abs(long_liq_usd - long_split_usd) > $rel_tol * abs(long_liq_usd) + $abs_tol, true
            ) then 'long_liq_usd is not the sum of its coverage split'
            when coalesce(
                abs(short_liq_usd - short_split_usd) > $rel_tol * abs(short_liq_usd) + $abs_tol,
                true
            ) then 'short_liq_usd is not the sum of its coverage split'
            when complete_usd != 0 and not list_contains(kinds, 'complete')
                then 'complete USD without complete coverage'
            when sampled_usd != 0 and not list_contains(kinds, 'sampled')
                then 'sampled USD without sampled coverage'
            when estimated_usd != 0 and not list_contains(kinds, 'estimated')
                then 'estimated USD without estimated coverage'
            when
                paired_venues != list_sort(string_split(coalesce(venues, ''), ','))
                or paired_kinds != list_sort(kinds)
                then 'venue_coverage disagrees with venues or coverages'
        end as problem
    from parsed
)

select
    coin,
    ts,
    problem,
    venues,
    coverages,
    venue_coverage,
    long_liq_usd,
    long_split_usd,
    short_liq_usd,
    short_split_usd
from judged
where problem is not null
order by coin, ts

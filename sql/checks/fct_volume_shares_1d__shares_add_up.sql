-- fct_volume_shares_1d__shares_add_up: total_volume_usd is the sum of the spot, perpetual and
-- delivery volumes (none negative), and where it is above 0 the three shares are each kind's
-- volume over it and sum to 1, within $tolerance; where it is 0 the shares are null.
-- severity: error. A share chart reads these columns as parts of one whole: shares that do not
--           add up misstate what trades where. The partition is quarantined.
-- returns: the violating rows, with the shares' sum
-- params: $tolerance
-- inputs: fct_volume_shares_1d (the day's table as built, before it is published)
with source as (
    select
        coin,
        ts,
        venue,
        spot_volume_usd,
        perpetual_volume_usd,
        delivery_volume_usd,
        total_volume_usd,
        spot_share,
        perpetual_share,
        delivery_share,
        spot_share + perpetual_share + delivery_share as share_sum
    from fct_volume_shares_1d
)

select *
from source
where
    coalesce(
        spot_volume_usd < 0
        or perpetual_volume_usd < 0
        or delivery_volume_usd < 0
        or abs(total_volume_usd - (spot_volume_usd + perpetual_volume_usd + delivery_volume_usd))
        > $tolerance * greatest(total_volume_usd, 1.0)
        or case
            when total_volume_usd > 0
                then
                    abs(share_sum - 1.0) > $tolerance
                    or abs(spot_share - spot_volume_usd / total_volume_usd) > $tolerance
                    or abs(perpetual_share - perpetual_volume_usd / total_volume_usd) > $tolerance
                    or abs(delivery_share - delivery_volume_usd / total_volume_usd) > $tolerance
            else
                spot_share is not null or perpetual_share is not null or delivery_share is not null
        end,
        true
    )
order by coin, ts, venue

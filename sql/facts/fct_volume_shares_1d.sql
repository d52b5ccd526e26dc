-- fct_volume_shares_1d: each coin's traded volume per UTC day in USD, split into spot,
-- perpetual and delivery futures, with each kind's share of the day's total: per venue and
-- summed over every venue (venue 'all'). A coin whose perpetuals trade most of its volume has
-- its price set by leverage.
-- grain: coin × day × venue (ts = the day's start; venue = the exchange, or 'all')
-- partition: date = UTC day of ts; ts = $day_start
-- inputs: fct_price_1m of the day: volume_quote summed by contract_type ('spot' pairs on
--         binance_spot, 'perpetual', 'delivery'), each instrument under its coin (coin_of:
--         spot BTCUSDT, BTCUSDT, BTCUSD_PERP, BTCUSDT_240329 are all BTC). Delivery and
--         coin-margined volume_quote is USD, spot's is its quote (a USD stablecoin). Partitions
--         written before fct_price_1m carried contract_type read it null: binance_spot's rows
--         are spot there and every other venue's perpetual (no delivery contract was held
--         then). Bars without a volume (Hyperliquid's mid bars) are left out, so a venue
--         appears only where it traded; the 'all' row sums the venue rows and lists them.
--         Shares are null where the total is 0; the three make 1 elsewhere.
with source as (
    select
        exchange,
        symbol,
        coin_of(symbol) as coin,
        coalesce(
            contract_type,
            case when exchange = 'binance_spot' then 'spot' else 'perpetual' end
        ) as contract_type,
        volume_quote
    from fct_price_1m
    where ts >= $day_start and ts < $day_end and volume_quote is not null
),

by_venue as (
    select
        coin,
        exchange as venue,
        coalesce(sum(volume_quote) filter (where contract_type = 'spot'), 0.0)
            as spot_volume_usd,
        coalesce(sum(volume_quote) filter (where contract_type = 'perpetual'), 0.0)
            as perpetual_volume_usd,
        coalesce(sum(volume_quote) filter (where contract_type = 'delivery'), 0.0)
            as delivery_volume_usd,
        exchange as venues,
        1 as venue_count,
        count(distinct symbol) as instrument_count
    from source
    where contract_type in ('spot', 'perpetual', 'delivery')
    group by coin, exchange
),

all_venues as (
    select
        coin,
        'all' as venue,
        sum(spot_volume_usd) as spot_volume_usd,
        sum(perpetual_volume_usd) as perpetual_volume_usd,
        sum(delivery_volume_usd) as delivery_volume_usd,
        array_to_string(list_sort(list(venue)), ',') as venues,
        count(*) as venue_count,
        sum(instrument_count) as instrument_count
    from by_venue
    group by coin
),

final as (
    select
        *,
        spot_volume_usd + perpetual_volume_usd + delivery_volume_usd as total_volume_usd
    from (
        select * from by_venue
        union all by name
        select * from all_venues
    ) as venue_rows
)

select
    coin::varchar as coin,
    $day_start::timestamptz as ts,
    venue::varchar as venue,
    spot_volume_usd::double as spot_volume_usd,
    perpetual_volume_usd::double as perpetual_volume_usd,
    delivery_volume_usd::double as delivery_volume_usd,
    total_volume_usd::double as total_volume_usd,
    (spot_volume_usd / nullif(total_volume_usd, 0))::double as spot_share,
    (perpetual_volume_usd / nullif(total_volume_usd, 0))::double as perpetual_share,
    (delivery_volume_usd / nullif(total_volume_usd, 0))::double as delivery_share,
    venues::varchar as venues,
    venue_count::integer as venue_count,
    instrument_count::integer as instrument_count
from final
order by coin, ts, venue

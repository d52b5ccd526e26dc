-- feat_regime_1h: the liquidation-treadmill trifecta per perpetual and hour (price, open interest,
-- funding) with its context (volatility, liquidations, spot versus perp flow) and one regime label.
-- grain: exchange × symbol × hour (ts = hour start), perpetuals only
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: fct_market_1h and fct_funding for the 30 days ending with the partition
--         ($window_start = day − 29 days), and for the same days the coin's liquidations across
--         venues (fct_liquidations_coin_1h) and its open interest across venues
--         (fct_open_interest_cross_venue). Trailing windows only: a value never depends on
--         anything after its hour, so adding later days changes nothing.
-- liquidations: long_liq_usd and short_liq_usd are the perpetual's own; coin_long_liq_usd and
--         coin_short_liq_usd the coin's across every venue (null where the coin had no
--         liquidation that day, or the lake has no coin-level table). Liquidation intensity,
--         the burst flags and which side the recent flow hit read the perpetual's own over its
--         USD open interest, or, with $coin_level_liquidations, the coin's over the coin's USD
--         open interest across venues (each falling back to the perpetual's where the coin's
--         is missing).
-- thresholds: bound from transforms.features.RegimeThresholds (one place, with their reasons).
with market as (
    select *
    from fct_market_1h
    where ts >= $window_start and ts < $day_end
),

instruments as (
    -- the coin of each perpetual, asked once per symbol rather than once per hour
    select
        exchange,
        symbol,
        coin_of(symbol) as coin
    from (
        select distinct
            exchange,
            symbol
        from market
    ) as listed
),

coin_liquidations as (
    select
        coin,
        ts,
        long_liq_usd as coin_long_liq_usd,
        short_liq_usd as coin_short_liq_usd,
        venues as coin_liq_venues,
        coverages as coin_liq_coverages
    from fct_liquidations_coin_1h
    where ts >= $window_start and ts < $day_end
),

coin_open_interest as (
    select
        coin,
        ts,
        oi_usd as coin_oi_usd
    from fct_open_interest_cross_venue
    where ts >= $window_start and ts < $day_end
),

hours as (
    select
        market.*,
        market.spot_volume_quote / nullif(market.perp_volume_quote, 0) as spot_perp_volume_ratio,
        coin_liquidations.coin_long_liq_usd,
        coin_liquidations.coin_short_liq_usd,
        coin_liquidations.coin_liq_venues,
        coin_liquidations.coin_liq_coverages,
        -- the liquidations the burst logic reads, per RegimeThresholds.coin_level_liquidations
        case
            when $coin_level_liquidations
                then coalesce(coin_liquidations.coin_long_liq_usd, market.long_liq_usd)
            else market.long_liq_usd
        end as burst_long_liq_usd,
        case
            when $coin_level_liquidations
                then coalesce(coin_liquidations.coin_short_liq_usd, market.short_liq_usd)
            else market.short_liq_usd
        end as burst_short_liq_usd,
        case
            when $coin_level_liquidations
                then coalesce(coin_open_interest.coin_oi_usd, market.oi_usd)
            else market.oi_usd
        end as burst_oi_usd
    from market
    inner join instruments using (exchange, symbol)
    left join coin_liquidations
        on coin_liquidations.coin = instruments.coin and coin_liquidations.ts = market.ts
    left join coin_open_interest
        on coin_open_interest.coin = instruments.coin and coin_open_interest.ts = market.ts
),

settlements as (
    select
        exchange,
        symbol,
        funding_time,
        funding_rate,
        funding_interval_hours,
        funding_rate_8h
    from fct_funding
    where funding_time < $day_end
),

with_funding as (
    -- the last settlement at or before the hour's start: the running interval began there
    select
        hours.*,
        settlements.funding_time as interval_start,
        settlements.funding_rate_8h as funding_last_8h,
        settlements.funding_interval_hours
    from hours
    asof left join settlements
        on
            hours.exchange = settlements.exchange
            and hours.symbol = settlements.symbol
            and hours.ts >= settlements.funding_time
),

with_trends as (
    select
        *,
        row_number() over by_symbol as hour_number,
        ln(close / lag(close, 1) over by_symbol) as return_1h,
        ln(close / lag(close, $trend_hours) over by_symbol) as return_trend,
        oi_base / nullif(lag(oi_base, 1) over by_symbol, 0) - 1 as oi_change_pct_1h,
        oi_base / nullif(lag(oi_base, $trend_hours) over by_symbol, 0) - 1 as oi_change_pct_trend,
        ln(close / lag(close, $build_hours) over by_symbol) as return_build,
        oi_base / nullif(lag(oi_base, $build_hours) over by_symbol, 0) - 1 as oi_change_pct_build,
        (burst_long_liq_usd + burst_short_liq_usd) / nullif(burst_oi_usd, 0) as liq_intensity,
        burst_long_liq_usd / nullif(burst_oi_usd, 0) as long_liq_intensity,
        burst_short_liq_usd / nullif(burst_oi_usd, 0) as short_liq_intensity,
        -- Binance's formula on the running interval's average premium, per 8 hours
        avg(premium_mean) over (
            partition by exchange, symbol, interval_start order by ts
            rows between unbounded preceding and current row
        ) as premium_interval_mean
    from with_funding
    window by_symbol as (partition by exchange, symbol order by ts)
),

scored as (
    select
        *,
        (
            premium_interval_mean
            + least(
                greatest(
                    $funding_anchor * coalesce(funding_interval_hours, 8) / 8
                    - premium_interval_mean,
                    -$funding_clamp
                ),
                $funding_clamp
            )
        )
        * 8 / coalesce(funding_interval_hours, 8) as funding_estimate_8h,
        premium_interval_mean * 8 / coalesce(funding_interval_hours, 8) as premium_8h,
        (oi_base - avg(oi_base) over month) / nullif(stddev_samp(oi_base) over month, 0)
            as oi_zscore_30d,
        (funding_last_8h - avg(funding_last_8h) over month)
        / nullif(stddev_samp(funding_last_8h) over month, 0) as funding_zscore_30d,
        (long_liq_intensity - avg(long_liq_intensity) over month)
        / nullif(stddev_samp(long_liq_intensity) over month, 0) as long_liq_zscore,
        (short_liq_intensity - avg(short_liq_intensity) over month)
        / nullif(stddev_samp(short_liq_intensity) over month, 0) as short_liq_zscore,
        (liq_intensity - avg(liq_intensity) over month)
        / nullif(stddev_samp(liq_intensity) over month, 0) as liq_intensity_zscore
    from with_trends
    window month as (
        partition by exchange, symbol order by ts rows between 719 preceding and current row
    )
),

flagged as (
    select
        *,
        funding_estimate_8h - $funding_anchor as funding_minus_anchor,
        -- Binance's ±0.05% clamp pins the rate to the anchor while the perp trades within 0.05%
        -- of the index, so crowding shows in the premium it is clamped from before the rate
        coalesce(
            funding_estimate_8h > $funding_anchor + $funding_tolerance
            or premium_8h > $funding_anchor + $premium_crowding,
            false
        ) as longs_crowded,
        coalesce(
            funding_estimate_8h < $funding_anchor - $funding_tolerance
            or premium_8h < $funding_anchor - $premium_crowding,
            false
        ) as shorts_crowded,
        coalesce(liq_intensity_zscore > $burst_z, false) as liq_burst,
        coalesce(
            max(long_liq_zscore) over recent > $burst_z, false
        ) as long_burst_recent,
        coalesce(
            max(short_liq_zscore) over recent > $burst_z, false
        ) as short_burst_recent,
        avg(liq_intensity) over recent as liq_intensity_recent,
        -- which side the recent forced flow hit: a cascade's rebound squeezes a few shorts
        -- but remains the longs' flush
        sum(burst_long_liq_usd) over recent >= sum(burst_short_liq_usd) over recent
            as longs_liquidated_most
    from scored
    window recent as (
        partition by exchange, symbol order by ts
        rows between $burst_hours preceding and current row
    )
),

day_hours as (
    select * from flagged
    where ts >= $day_start and ts < $day_end
),

-- Percentiles and medians over the 720 hours up to each of the day's hours, found by joining
-- those hours rather than by sliding windows: a window would compute them for all 30 days
-- although only the partition's day is kept.
month_ranks as (
    select
        day_hours.exchange,
        day_hours.symbol,
        day_hours.ts,
        count(*) filter (where history.realized_vol <= day_hours.realized_vol) / count(*)
            as vol_percentile_30d,
        count(*) filter (where history.oi_base <= day_hours.oi_base) / count(*)
            as oi_percentile_30d,
        median(history.oi_base) as oi_median_30d,
        median(history.liq_intensity) as liq_intensity_median_30d
    from day_hours
    inner join flagged as history
        on
            history.exchange = day_hours.exchange
            and history.symbol = day_hours.symbol
            and history.hour_number between day_hours.hour_number - 719 and day_hours.hour_number
    group by all
),

labelled as (
    select
        *,
        case
            when
                least(return_trend, return_build) < -$price_move
                and oi_change_pct_trend < -$oi_move
                and long_burst_recent and longs_liquidated_most then 'flush'
            when
                return_trend > $price_move and oi_change_pct_trend < -$oi_move
                and short_burst_recent and not longs_liquidated_most then 'squeeze'
            when
                return_build > $price_move and oi_change_pct_build > $oi_move
                and longs_crowded then 'leverage_build'
            when
                return_build < -$price_move and oi_change_pct_build >= -$oi_move
                and longs_crowded then 'latent_fragility'
            when
                return_build < -$price_move and oi_change_pct_build > $oi_move
                and shorts_crowded then 'short_build'
            when
                return_trend >= -$price_move and perp_taker_imbalance < -$flow_imbalance
                and spot_taker_imbalance > $flow_imbalance then 'spot_absorption'
            when
                oi_base < oi_median_30d and not longs_crowded
                and liq_intensity_recent <= liq_intensity_median_30d then 'reset'
            else 'neutral'
        end as regime
    from day_hours
    inner join month_ranks using (exchange, symbol, ts)
)

select
    exchange::varchar as exchange,
    symbol::varchar as symbol,
    ts::timestamptz as ts,
    close::double as close,
    return_1h::double as return_1h,
    return_trend::double as return_trend,
    realized_vol::double as realized_vol,
    vol_percentile_30d::double as vol_percentile_30d,
    oi_base::double as oi_base,
    oi_usd::double as oi_usd,
    oi_change_pct_1h::double as oi_change_pct_1h,
    oi_change_pct_trend::double as oi_change_pct_trend,
    oi_zscore_30d::double as oi_zscore_30d,
    oi_percentile_30d::double as oi_percentile_30d,
    funding_last_8h::double as funding_last_8h,
    funding_estimate_8h::double as funding_estimate_8h,
    funding_minus_anchor::double as funding_minus_anchor,
    funding_zscore_30d::double as funding_zscore_30d,
    premium_mean::double as premium_mean,
    long_liq_usd::double as long_liq_usd,
    short_liq_usd::double as short_liq_usd,
    liq_intensity::double as liq_intensity,
    liq_burst::boolean as liq_burst,
    spot_taker_imbalance::double as spot_taker_imbalance,
    perp_taker_imbalance::double as perp_taker_imbalance,
    spot_perp_volume_ratio::double as spot_perp_volume_ratio,
    regime::varchar as regime,
    coin_long_liq_usd::double as coin_long_liq_usd,
    coin_short_liq_usd::double as coin_short_liq_usd,
    coin_liq_venues::varchar as coin_liq_venues,
    coin_liq_coverages::varchar as coin_liq_coverages
from labelled
order by exchange, symbol, ts

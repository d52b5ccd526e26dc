-- fct_market_1h: each perpetual's hour of market activity, rolled up once from the minute,
-- open-interest and liquidation facts: the hourly base the regime features read 30 days of.
-- grain: exchange × symbol × hour (ts = hour start), perpetuals only, hours with a traded bar
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: fct_price_1m of the day and the day before ($window_start = day − 1 day: the day's
--         first return is from the previous day's last close), fct_open_interest and
--         fct_liquidations_5m of the day. Delivery contracts (contract_type 'delivery') are left
--         out of all of them: the regime features read perpetuals only.
with minutes as (
    select
        exchange,
        symbol,
        ts,
        close,
        volume_quote,
        volume_base,
        taker_buy_base,
        premium_close,
        ln(close / lag(close) over (partition by exchange, symbol order by ts)) as log_return
    from fct_price_1m
    where ts >= $window_start and ts < $day_end and contract_type is distinct from 'delivery'
),

day_minutes as (
    select * from minutes
    where ts >= $day_start
),

perp_hours as (
    select
        exchange,
        symbol,
        time_bucket(interval 1 hour, ts) as ts,
        arg_max(close, ts) as close,
        sqrt(sum(log_return * log_return)) as realized_vol,
        sum(volume_quote) as perp_volume_quote,
        (2 * sum(taker_buy_base) - sum(volume_base)) / nullif(sum(volume_base), 0)
            as perp_taker_imbalance,
        avg(premium_close) as premium_mean
    from day_minutes
    where exchange <> 'binance_spot'
    group by all
),

spot_hours as (
    select
        symbol as spot_symbol,
        time_bucket(interval 1 hour, ts) as ts,
        sum(volume_quote) as spot_volume_quote,
        (2 * sum(taker_buy_base) - sum(volume_base)) / nullif(sum(volume_base), 0)
            as spot_taker_imbalance
    from day_minutes
    where exchange = 'binance_spot'
    group by all
),

oi_hours as (
    select
        exchange,
        symbol,
        time_bucket(interval 1 hour, ts) as ts,
        arg_max(oi_base, ts) as oi_base,
        arg_max(oi_usd, ts) as oi_usd
    from fct_open_interest
    where ts >= $day_start and ts < $day_end and contract_type is distinct from 'delivery'
    group by all
),

liquidation_hours as (
    select
        exchange,
        symbol,
        time_bucket(interval 1 hour, ts) as ts,
        sum(long_liq_usd) as long_liq_usd,
        sum(short_liq_usd) as short_liq_usd
    from fct_liquidations_5m
    where ts >= $day_start and ts < $day_end
    group by all
),

final as (
    select
        perp_hours.*,
        oi_hours.oi_base,
        oi_hours.oi_usd,
        coalesce(liquidation_hours.long_liq_usd, 0) as long_liq_usd,
        coalesce(liquidation_hours.short_liq_usd, 0) as short_liq_usd,
        spot_hours.spot_volume_quote,
        spot_hours.spot_taker_imbalance
    from perp_hours
    left join oi_hours using (exchange, symbol, ts)
    left join liquidation_hours using (exchange, symbol, ts)
    -- the spot pair of the same coin: BTCUSDT for BTCUSDT and for the coin-margined BTCUSD_PERP
    left join spot_hours
        on
            spot_hours.ts = perp_hours.ts
            and spot_hours.spot_symbol = regexp_replace(perp_hours.symbol, 'USD_PERP$', 'USDT')
)

select
    exchange::varchar as exchange,
    symbol::varchar as symbol,
    ts::timestamptz as ts,
    close::double as close,
    realized_vol::double as realized_vol,
    perp_volume_quote::double as perp_volume_quote,
    perp_taker_imbalance::double as perp_taker_imbalance,
    premium_mean::double as premium_mean,
    oi_base::double as oi_base,
    oi_usd::double as oi_usd,
    long_liq_usd::double as long_liq_usd,
    short_liq_usd::double as short_liq_usd,
    spot_volume_quote::double as spot_volume_quote,
    spot_taker_imbalance::double as spot_taker_imbalance
from final
order by exchange, symbol, ts

-- fct_price_1m: the traded 1-minute bar of every perpetual, delivery contract and spot pair, with
-- the perpetual's mark range and close (Binance liquidates on the mark), index and premium-index
-- closes beside it.
-- grain: exchange × symbol × minute (ts = bar open)
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: stg_klines (all exchanges, spot included), stg_delivery_klines (Binance's quarterly
--         contracts, UM and CM), stg_mark_price_klines, stg_index_price_klines,
--         stg_premium_index_klines; a missing one leaves its column null (delivery contracts
--         have no mark, index or premium files staged: null)
-- contract_type: 'delivery' for a symbol ending _YYMMDD (expiry_of: its settlement, 08:00 UTC
--         of that date; a delivery contract's bars stop before it), 'spot' for binance_spot,
--         else 'perpetual'; expiry null but for delivery contracts
with traded as (
    select * from stg_klines
    union all by name
    select * from stg_delivery_klines
),

contracts as (
    -- each symbol's expiry, asked once per symbol rather than once per minute
    select
        exchange,
        symbol,
        expiry_of(symbol) as expiry
    from (
        select distinct
            exchange,
            symbol
        from traded
    ) as listed
),

source as (
    select
        traded.*,
        contracts.expiry
    from traded
    inner join contracts using (exchange, symbol)
    where
        traded.ts >= $day_start
        and traded.ts < $day_end
        and (contracts.expiry is null or traded.ts < contracts.expiry)
    qualify row_number() over (
        partition by traded.exchange, traded.symbol, traded.ts order by traded.source_file
    ) = 1
),

mark as (
    select
        exchange,
        symbol,
        ts,
        any_value(high order by source_file) as mark_high,
        any_value(low order by source_file) as mark_low,
        any_value(close order by source_file) as mark_close
    from stg_mark_price_klines
    where ts >= $day_start and ts < $day_end
    group by all
),

index_price as (
    select
        exchange,
        symbol,
        ts,
        any_value(close order by source_file) as index_close
    from stg_index_price_klines
    where ts >= $day_start and ts < $day_end
    group by all
),

premium as (
    select
        exchange,
        symbol,
        ts,
        any_value(close order by source_file) as premium_close
    from stg_premium_index_klines
    where ts >= $day_start and ts < $day_end
    group by all
),

final as (
    select
        source.exchange,
        source.symbol,
        source.ts,
        source.open,
        source.high,
        source.low,
        source.close,
        source.volume_base,
        source.volume_quote,
        source.trade_count,
        source.taker_buy_base,
        source.taker_buy_quote,
        mark.mark_high,
        mark.mark_low,
        mark.mark_close,
        index_price.index_close,
        premium.premium_close,
        source.source_file,
        case
            when source.expiry is not null then 'delivery'
            when source.exchange = 'binance_spot' then 'spot'
            else 'perpetual'
        end as contract_type,
        source.expiry
    from source
    left join mark using (exchange, symbol, ts)
    left join index_price using (exchange, symbol, ts)
    left join premium using (exchange, symbol, ts)
)

select
    exchange::varchar as exchange,
    symbol::varchar as symbol,
    ts::timestamptz as ts,
    open::double as open,
    high::double as high,
    low::double as low,
    close::double as close,
    volume_base::double as volume_base,
    volume_quote::double as volume_quote,
    trade_count::bigint as trade_count,
    taker_buy_base::double as taker_buy_base,
    taker_buy_quote::double as taker_buy_quote,
    mark_high::double as mark_high,
    mark_low::double as mark_low,
    mark_close::double as mark_close,
    index_close::double as index_close,
    premium_close::double as premium_close,
    source_file::varchar as source_file,
    contract_type::varchar as contract_type,
    expiry::timestamptz as expiry
from final
order by exchange, symbol, ts

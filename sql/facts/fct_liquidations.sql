-- fct_liquidations: every forced order (liquidation) of every venue, with the side of the
-- position that was liquidated and its USD notional.
-- grain: forced order (distinct orders in the same millisecond are kept)
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: stg_liquidations, every staged liquidation table (Binance's liquidation snapshots,
--         Hyperliquid's fills, the recorded Binance/Bybit/OKX streams) of the day and the day
--         after (a recorded stream files an order by its arrival, so one stamped just before
--         midnight is in the next day's file); exact duplicates already dropped and counted.
--         Staged sides follow Binance's convention whatever the venue (a SELL closes a long).
-- coverage: 'complete' for the tables in $complete_tables (Hyperliquid publishes every fill);
--           'sampled' otherwise: Binance's forceOrder stream sends at most one order per symbol
--           per second, so totals are a lower bound.
with source as (
    select *
    from stg_liquidations
    where ts >= $day_start and ts < $day_end
),

renamed as (
    select
        exchange,
        symbol,
        ts,
        case side when 'SELL' then 'long' when 'BUY' then 'short' end as liquidated_side,
        price,
        avg_price,
        filled_qty_base as qty_base,
        -- a filled order published without a fill price is valued at its order price, as its
        -- base quantity already is
        filled_qty_base * coalesce(nullif(avg_price, 0), price) as notional_usd,
        case
            when list_contains($complete_tables, source_table) then 'complete' else 'sampled'
        end as coverage,
        source_file
    from source
)

select
    exchange::varchar as exchange,
    symbol::varchar as symbol,
    ts::timestamptz as ts,
    liquidated_side::varchar as liquidated_side,
    price::double as price,
    avg_price::double as avg_price,
    qty_base::double as qty_base,
    notional_usd::double as notional_usd,
    coverage::varchar as coverage,
    source_file::varchar as source_file
from renamed
order by exchange, symbol, ts, liquidated_side, avg_price, qty_base

-- fct_liquidations: every forced order (liquidation) as published, with the side of the
-- position that was liquidated and its USD notional.
-- grain: forced order (distinct orders in the same millisecond are kept)
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: stg_liquidation_snapshot (exact duplicate rows already dropped and counted)
-- coverage: 'sampled' for Binance: liquidationSnapshot comes from the forceOrder stream, which
--           sends at most one order per symbol per second, so totals are a lower bound.
with source as (
    select *
    from stg_liquidation_snapshot
    where ts >= $day_start and ts < $day_end
),

renamed as (
    select
        exchange,
        symbol,
        ts,
        -- Binance: a SELL forced order closes a long, a BUY closes a short.
        case side when 'SELL' then 'long' when 'BUY' then 'short' end as liquidated_side,
        price,
        avg_price,
        filled_qty_base as qty_base,
        -- a filled order published without a fill price is valued at its order price, as its
        -- base quantity already is
        filled_qty_base * coalesce(nullif(avg_price, 0), price) as notional_usd,
        'sampled' as coverage,
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

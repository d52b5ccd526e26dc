-- report_instruments: the coin each perpetual of the range trades, as the funding facts record
-- it: BitMEX's XBTUSD and OKX's BTC-USDT-SWAP are bitcoin, which no symbol pattern says.
-- Partitions written before fct_funding had a coin read it as null and add nothing here.
-- grain: exchange × symbol
-- inputs: fct_funding of the report's days
with source as (
    select
        exchange,
        symbol,
        coin
    from fct_funding
    where coin is not null
)

select distinct
    cast(exchange as varchar) as exchange,
    cast(symbol as varchar) as symbol,
    cast(coin as varchar) as coin
from source
order by exchange, symbol, coin

-- report_funding: every funding settlement of every venue trading the report's coin (USDⓈ-M
-- BTCUSDT beside COIN-M BTCUSD_PERP, BitMEX XBTUSD, Bybit BTCUSDT and OKX BTC-USDT-SWAP, say),
-- per 8 hours and annualised: the article's second chart (BitMEX against Binance). 0.01%/8h
-- (10.95% APR) is Binance's resting rate; above it, longs are crowded.
-- grain: venue × settlement
-- inputs: fct_funding of the report's days; $coin (the coin column, for partitions that have
--         it), $instruments ('exchange:symbol' of the coin's venues, for older partitions whose
--         coin reads null)
with source as (
    select
        exchange,
        symbol,
        funding_time,
        funding_rate,
        funding_interval_hours,
        funding_rate_8h,
        funding_rate_apr
    from fct_funding
    where
        coin = $coin
        or (coin is null and list_contains($instruments, exchange || ':' || symbol))
)

select
    cast(exchange || ' ' || symbol as varchar) as venue,
    strftime(funding_time, '%Y-%m-%dT%H:%M:%SZ') as settled_at,
    cast(funding_interval_hours as integer) as interval_hours,
    cast(funding_rate * 100 as double) as rate_pct,
    cast(funding_rate_8h * 100 as double) as rate_8h_pct,
    cast(funding_rate_apr * 100 as double) as apr_pct
from source
order by venue, settled_at

-- fct_funding: every funding settlement of every venue, with the rate rescaled to 8 hours and
-- annualised from the row's own interval (intervals vary: 8h, 4h, 1h).
-- grain: exchange × symbol × settlement (funding_time)
-- partition: date = UTC day of funding_time; $day_start <= funding_time < $day_end
-- inputs: stg_funding_rate, every staged funding table (Binance's monthly archive files, its
--         REST history for months not yet archived, BitMEX, Bybit, OKX), settlements of the
--         day; calc_time's few ms of jitter already floored to the settlement second.
--         Where the archive and its REST fallback ($fallback_tables) both hold a settlement,
--         the archive's row is kept: it is the source of record.
with source as (
    select *
    from stg_funding_rate
    where funding_time >= $day_start and funding_time < $day_end
    qualify row_number() over (
        partition by exchange, symbol, funding_time
        order by list_contains($fallback_tables, source_table), calc_time, source_file
    ) = 1
),

renamed as (
    select
        exchange,
        symbol,
        funding_time,
        funding_rate,
        funding_interval_hours,
        funding_rate * 8.0 / funding_interval_hours as funding_rate_8h,
        funding_rate * 24.0 / funding_interval_hours * 365.0 as funding_rate_apr,
        source_file,
        coin_of(symbol) as coin
    from source
)

select
    exchange::varchar as exchange,
    symbol::varchar as symbol,
    funding_time::timestamptz as funding_time,
    funding_rate::double as funding_rate,
    funding_interval_hours::integer as funding_interval_hours,
    funding_rate_8h::double as funding_rate_8h,
    funding_rate_apr::double as funding_rate_apr,
    source_file::varchar as source_file,
    coin::varchar as coin
from renamed
order by exchange, symbol, funding_time

-- fct_open_interest: open interest in base units and USD on every venue, with Binance's
-- long/short ratios and taker buy/sell ratio, every 5 minutes.
-- grain: exchange × symbol × 5-minute label (ts as published)
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: stg_metrics, every staged open-interest table (Binance's metrics files for the day
--         before, the day and the day after: a file may carry the next day's 00:00 row, so the
--         day of a row is its ts, never its file; Bybit's and OKX's REST history). One row per
--         instant is kept, preferring the file published for the row's own day.
--         fct_price_1m of the day: a venue that reports open interest in base units only
--         (Bybit) is valued at the coin's mark price that minute, the mean of the
--         perpetuals' mark closes (spot pairs and delivery contracts have no mark).
--         Binance's delivery contracts' metrics (stg_binance_*_delivery_metrics) are part of
--         stg_metrics: contract_type 'delivery' for a symbol ending _YYMMDD, with expiry_of its
--         settlement (08:00 UTC of that date; no row at or after it), else 'perpetual'.
with contracts as (
    -- each symbol's expiry, asked once per symbol rather than once per row
    select
        exchange,
        symbol,
        expiry_of(symbol) as expiry
    from (
        select distinct
            exchange,
            symbol
        from stg_metrics
    ) as listed
),

source as (
    select
        stg_metrics.*,
        contracts.expiry
    from stg_metrics
    inner join contracts using (exchange, symbol)
    where
        stg_metrics.ts >= $day_start
        and stg_metrics.ts < $day_end
        and (contracts.expiry is null or stg_metrics.ts < contracts.expiry)
),

deduplicated as (
    select *
    from source
    qualify row_number() over (
        partition by exchange, symbol, ts
        order by (date = $day) desc, date, source_file asc
    ) = 1
),

coin_marks as (
    select
        coin_of(symbol) as coin,
        ts,
        avg(mark_close) as mark_price
    from fct_price_1m
    where mark_close is not null
    group by 1, 2
),

renamed as (
    select
        deduplicated.exchange,
        deduplicated.symbol,
        deduplicated.ts,
        deduplicated.oi_base,
        coalesce(deduplicated.oi_usd, deduplicated.oi_base * coin_marks.mark_price) as oi_usd,
        deduplicated.top_account_ls_ratio,
        deduplicated.top_position_ls_ratio,
        deduplicated.account_ls_ratio,
        deduplicated.taker_buy_sell_ratio,
        deduplicated.source_file,
        coin_of(deduplicated.symbol) as coin,
        case when deduplicated.expiry is null then 'perpetual' else 'delivery' end
            as contract_type,
        deduplicated.expiry
    from deduplicated
    left join coin_marks
        on coin_marks.coin = coin_of(deduplicated.symbol) and coin_marks.ts = deduplicated.ts
)

select
    exchange::varchar as exchange,
    symbol::varchar as symbol,
    ts::timestamptz as ts,
    oi_base::double as oi_base,
    oi_usd::double as oi_usd,
    top_account_ls_ratio::double as top_account_ls_ratio,
    top_position_ls_ratio::double as top_position_ls_ratio,
    account_ls_ratio::double as account_ls_ratio,
    taker_buy_sell_ratio::double as taker_buy_sell_ratio,
    source_file::varchar as source_file,
    coin::varchar as coin,
    contract_type::varchar as contract_type,
    expiry::timestamptz as expiry
from renamed
order by exchange, symbol, ts

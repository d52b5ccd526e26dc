-- fct_open_interest: open interest in base units and USD with the long/short ratios and the
-- taker buy/sell ratio, every 5 minutes.
-- grain: exchange × symbol × 5-minute label (ts as published)
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: stg_metrics for the day before, the day and the day after: a file may carry the next
--         day's 00:00 row, so the day of a row is its ts, never its file. One row per instant
--         is kept, preferring the file published for the row's own day.
with source as (
    select *
    from stg_metrics
    where ts >= $day_start and ts < $day_end
),

deduplicated as (
    select *
    from source
    qualify row_number() over (
        partition by exchange, symbol, ts
        order by (date = $day) desc, date, source_file
    ) = 1
),

renamed as (
    select
        exchange,
        symbol,
        ts,
        oi_base,
        oi_usd,
        top_account_ls_ratio,
        top_position_ls_ratio,
        account_ls_ratio,
        taker_buy_sell_ratio,
        source_file
    from deduplicated
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
    source_file::varchar as source_file
from renamed
order by exchange, symbol, ts

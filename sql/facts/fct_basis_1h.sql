-- fct_basis_1h: each delivery contract's hourly basis to its index, annualised over the days
-- left to expiry, beside the coin's perpetual funding annualised: what a dated future pays over
-- spot against what holding a perpetual costs. The rows of one coin-hour ordered by expiry are
-- its term structure.
-- grain: exchange × symbol (a delivery contract) × hour (ts = the hour's start)
-- partition: date = UTC day of ts; $day_start <= ts < $day_end
-- inputs: fct_price_1m of the day: each delivery contract's (contract_type 'delivery') last
--         1-minute bar of the hour with a close (close_ts), and the index that same minute: the
--         contract's own index_close, else the index_close of the same exchange's perpetual of
--         the coin (UM BTCUSDT_240329 → BTCUSDT, CM BTCUSD_240329 → BTCUSD_PERP; index_source
--         says which); none that minute leaves index, basis and basis_apr null.
--         days_to_expiry runs from close_ts (the bar's minute) to expiry, so the expiring
--         contract's last bar (07:59) is one minute from expiry: near expiry basis_apr
--         annualises a tiny basis over a tiny time, read basis there.
--         fct_funding_cross_venue of the day: the coin's OI-weighted funding APR in force at
--         the hour's start; else fct_funding of the day before and the day: the same exchange's
--         perpetual's latest settlement at or before the hour's start while at most one
--         interval old, annualised from its own interval (funding_source says which).
with source as (
    select
        exchange,
        symbol,
        ts,
        close,
        index_close,
        contract_type,
        expiry
    from fct_price_1m
    where ts >= $day_start and ts < $day_end
),

closes as (
    -- each contract's last minute with a close in each hour
    select
        exchange,
        symbol,
        date_trunc('hour', ts) as ts,
        max(ts) as close_ts
    from source
    where contract_type = 'delivery' and close is not null
    group by 1, 2, 3
),

perpetual_index as (
    select
        exchange,
        symbol,
        ts,
        index_close
    from source
    where contract_type = 'perpetual' and index_close is not null
),

renamed as (
    select
        closes.exchange,
        closes.symbol,
        closes.ts,
        coin_of(closes.symbol) as coin,
        contract.expiry,
        closes.close_ts,
        contract.close,
        coalesce(contract.index_close, perpetual.index_close) as index_close,
        case
            when contract.index_close is not null then 'contract'
            when perpetual.index_close is not null then 'perpetual'
        end as index_source,
        split_part(closes.symbol, '_', 1) as prefix
    from closes
    inner join source as contract
        on
            contract.exchange = closes.exchange
            and contract.symbol = closes.symbol
            and contract.ts = closes.close_ts
    left join perpetual_index as perpetual
        on
            perpetual.exchange = closes.exchange
            and perpetual.ts = closes.close_ts
            and perpetual.symbol in (
                split_part(closes.symbol, '_', 1), split_part(closes.symbol, '_', 1) || '_PERP'
            )
    qualify row_number() over (
        partition by closes.exchange, closes.symbol, closes.ts order by perpetual.symbol
    ) = 1
),

cross_venue as (
    select
        coin,
        ts,
        funding_rate_apr_oi_weighted
    from fct_funding_cross_venue
    where ts >= $day_start and ts < $day_end and funding_rate_apr_oi_weighted is not null
),

perpetual_funding as (
    -- the same exchange's perpetual: its latest settlement while at most one interval old
    select
        renamed.exchange,
        renamed.symbol,
        renamed.ts,
        settlements.funding_rate_apr
    from renamed
    inner join fct_funding as settlements
        on
            settlements.exchange = renamed.exchange
            and settlements.symbol in (renamed.prefix, renamed.prefix || '_PERP')
            and settlements.funding_time <= renamed.ts
            and settlements.funding_time
            > renamed.ts - to_hours(settlements.funding_interval_hours::bigint)
    where settlements.funding_rate_apr is not null
    qualify row_number() over (
        partition by renamed.exchange, renamed.symbol, renamed.ts
        order by settlements.funding_time desc, settlements.symbol asc
    ) = 1
),

final as (
    select
        renamed.exchange,
        renamed.symbol,
        renamed.ts,
        renamed.coin,
        renamed.expiry,
        renamed.close_ts,
        renamed.close,
        renamed.index_close,
        renamed.index_source,
        renamed.close / nullif(renamed.index_close, 0) - 1 as basis,
        epoch(renamed.expiry - renamed.close_ts) / 86400.0 as days_to_expiry,
        coalesce(cross_venue.funding_rate_apr_oi_weighted, perpetual_funding.funding_rate_apr)
            as funding_rate_apr,
        case
            when cross_venue.funding_rate_apr_oi_weighted is not null
                then 'cross_venue_oi_weighted'
            when perpetual_funding.funding_rate_apr is not null then 'perpetual'
        end as funding_source
    from renamed
    left join cross_venue
        on
            cross_venue.coin = renamed.coin
            and cross_venue.ts = renamed.ts
    left join perpetual_funding
        on
            perpetual_funding.exchange = renamed.exchange
            and perpetual_funding.symbol = renamed.symbol
            and perpetual_funding.ts = renamed.ts
)

select
    exchange::varchar as exchange,
    symbol::varchar as symbol,
    ts::timestamptz as ts,
    coin::varchar as coin,
    expiry::timestamptz as expiry,
    close_ts::timestamptz as close_ts,
    close::double as close,
    index_close::double as index_close,
    index_source::varchar as index_source,
    basis::double as basis,
    days_to_expiry::double as days_to_expiry,
    (basis * 365.0 / days_to_expiry)::double as basis_apr,
    funding_rate_apr::double as funding_rate_apr,
    funding_source::varchar as funding_source
from final
order by exchange, symbol, ts

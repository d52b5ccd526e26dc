-- report_open_interest_by_type: the coin's open interest in USD each hour, perpetual against
-- delivery contracts (the article's stacked chart): each instrument's last reading of the hour
-- summed by contract_type over every venue of the coin. A reading whose contract_type is null
-- (a partition written before fct_open_interest carried it) is a perpetual's: no delivery
-- contract was held then.
-- grain: hour × contract_type ('perpetual', 'delivery')
-- inputs: fct_open_interest of the report's days; $coin, $instruments ('exchange:symbol' of the
--         coin's venues, for older partitions whose coin reads null)
with source as (
    select
        exchange,
        symbol,
        ts,
        oi_usd,
        coalesce(contract_type, 'perpetual') as contract_type
    from fct_open_interest
    where (
        coin = $coin
        or (coin is null and list_contains($instruments, exchange || ':' || symbol))
    )
    and oi_usd is not null
),

last_of_hour as (
    select
        exchange,
        symbol,
        contract_type,
        date_trunc('hour', ts) as hour,
        arg_max(oi_usd, ts) as oi_usd
    from source
    where contract_type in ('perpetual', 'delivery')
    group by 1, 2, 3, 4
),

final as (
    select
        hour,
        contract_type,
        sum(oi_usd) as oi_usd,
        count(*) as instruments,
        array_to_string(list_sort(list(exchange || ':' || symbol)), ',') as symbols
    from last_of_hour
    group by hour, contract_type
)

select
    strftime(hour, '%Y-%m-%dT%H:%M:%SZ') as hour,
    cast(contract_type as varchar) as contract_type,
    cast(oi_usd as double) as oi_usd,
    cast(instruments as integer) as instruments,
    cast(symbols as varchar) as symbols
from final
order by hour asc, contract_type desc

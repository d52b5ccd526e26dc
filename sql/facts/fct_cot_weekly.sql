-- fct_cot_weekly: CFTC's weekly Commitments of Traders (Traders in Financial Futures, futures
-- only) for the CME bitcoin futures: open interest and each trader category's long, short and
-- spreading positions, in contracts and in bitcoin (contracts × contract_size).
-- grain: exchange ('cme') × symbol (CFTC contract market code) × as_of (the report's Tuesday)
-- partition: date = the as-of Tuesday; $day_start <= as_of < $day_end (other days are empty)
-- inputs: stg_cot, every staged Commitments of Traders table (stg_cftc_cot_tff): one row per
--         market and week, as_of 00:00 UTC, report_date the Friday release, contract_size in
--         bitcoin per contract, positions in contracts. Should a week be staged from two files
--         (the year's and the current week's), the row of the latest file name is kept.
with source as (
    select *
    from stg_cot
    where as_of >= $day_start and as_of < $day_end
    qualify row_number() over (
        partition by symbol, as_of order by source_file desc
    ) = 1
),

renamed as (
    select
        $market_exchange as exchange,
        symbol,
        as_of,
        report_date,
        market_name,
        contract_size,
        open_interest,
        open_interest * contract_size as open_interest_btc,
        dealer_long,
        dealer_short,
        dealer_spreading,
        asset_manager_long,
        asset_manager_short,
        asset_manager_spreading,
        leveraged_funds_long,
        leveraged_funds_short,
        leveraged_funds_spreading,
        other_reportable_long,
        other_reportable_short,
        other_reportable_spreading,
        nonreportable_long,
        nonreportable_short,
        dealer_long * contract_size as dealer_long_btc,
        dealer_short * contract_size as dealer_short_btc,
        dealer_spreading * contract_size as dealer_spreading_btc,
        asset_manager_long * contract_size as asset_manager_long_btc,
        asset_manager_short * contract_size as asset_manager_short_btc,
        asset_manager_spreading * contract_size as asset_manager_spreading_btc,
        leveraged_funds_long * contract_size as leveraged_funds_long_btc,
        leveraged_funds_short * contract_size as leveraged_funds_short_btc,
        leveraged_funds_spreading * contract_size as leveraged_funds_spreading_btc,
        other_reportable_long * contract_size as other_reportable_long_btc,
        other_reportable_short * contract_size as other_reportable_short_btc,
        other_reportable_spreading * contract_size as other_reportable_spreading_btc,
        nonreportable_long * contract_size as nonreportable_long_btc,
        nonreportable_short * contract_size as nonreportable_short_btc,
        source_file
    from source
)

select
    exchange::varchar as exchange,
    symbol::varchar as symbol,
    as_of::timestamptz as as_of,
    report_date::date as report_date,
    market_name::varchar as market_name,
    contract_size::double as contract_size,
    open_interest::double as open_interest,
    open_interest_btc::double as open_interest_btc,
    dealer_long::double as dealer_long,
    dealer_short::double as dealer_short,
    dealer_spreading::double as dealer_spreading,
    asset_manager_long::double as asset_manager_long,
    asset_manager_short::double as asset_manager_short,
    asset_manager_spreading::double as asset_manager_spreading,
    leveraged_funds_long::double as leveraged_funds_long,
    leveraged_funds_short::double as leveraged_funds_short,
    leveraged_funds_spreading::double as leveraged_funds_spreading,
    other_reportable_long::double as other_reportable_long,
    other_reportable_short::double as other_reportable_short,
    other_reportable_spreading::double as other_reportable_spreading,
    nonreportable_long::double as nonreportable_long,
    nonreportable_short::double as nonreportable_short,
    dealer_long_btc::double as dealer_long_btc,
    dealer_short_btc::double as dealer_short_btc,
    dealer_spreading_btc::double as dealer_spreading_btc,
    asset_manager_long_btc::double as asset_manager_long_btc,
    asset_manager_short_btc::double as asset_manager_short_btc,
    asset_manager_spreading_btc::double as asset_manager_spreading_btc,
    leveraged_funds_long_btc::double as leveraged_funds_long_btc,
    leveraged_funds_short_btc::double as leveraged_funds_short_btc,
    leveraged_funds_spreading_btc::double as leveraged_funds_spreading_btc,
    other_reportable_long_btc::double as other_reportable_long_btc,
    other_reportable_short_btc::double as other_reportable_short_btc,
    other_reportable_spreading_btc::double as other_reportable_spreading_btc,
    nonreportable_long_btc::double as nonreportable_long_btc,
    nonreportable_short_btc::double as nonreportable_short_btc,
    source_file::varchar as source_file
from renamed
order by exchange, symbol, as_of

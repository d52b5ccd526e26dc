-- fct_liquidations__notional: notional_usd = qty_base × fill price within rounding, the fill
-- price being avg_price, or the order price when the order was published without one
-- (avg_price 0 or null): |notional_usd − expected| <= $rel_tol × |notional_usd| + $abs_tol.
-- severity: error. notional_usd is what every liquidation total sums; a row that disagrees
--           with its own quantity and price is a computation or unit bug (a COIN-M contract
--           count taken for base units, say), not a market fact, and would skew every 5-minute
--           bucket it falls in. The partition is quarantined. A notional that is null while
--           quantity and price are not (or the reverse) fails too: a sum would skip it silently.
-- returns: the inconsistent rows, with the expected notional and the difference
-- params: $rel_tol (1e-6, far above double rounding, far below any unit error), $abs_tol (1e-9)
-- inputs: fct_liquidations (the day's table as built, before it is published)
with expected as (
    select
        exchange,
        symbol,
        ts,
        liquidated_side,
        price,
        avg_price,
        qty_base,
        notional_usd,
        qty_base * coalesce(nullif(avg_price, 0), price) as expected_notional_usd
    from fct_liquidations
)

select
    *,
    notional_usd - expected_notional_usd as difference
from expected
where
    coalesce(
        abs(notional_usd - expected_notional_usd) > $rel_tol * abs(notional_usd) + $abs_tol,
        notional_usd is distinct from expected_notional_usd
    )
order by exchange, symbol, ts, liquidated_side, avg_price, qty_base

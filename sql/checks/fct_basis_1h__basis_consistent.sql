-- fct_basis_1h__basis_consistent: every row is a contract before its expiry, and its numbers
-- follow from one another: days_to_expiry > 0 and is the time from close_ts to expiry in days;
-- where there is an index, basis = close / index_close − 1 and basis_apr = basis × 365 /
-- days_to_expiry, within a relative $rel_tol (plus $abs_tol); without one, both are null.
-- severity: error. A row at or after expiry is a contract traded after it settled (a wrong
--           expiry or symbol), and an annualised basis that disagrees with its own basis and
--           days would put a wrong carry in every term structure. The partition is quarantined.
-- returns: the violating rows, with the basis and APR recomputed from their parts
-- params: $rel_tol, $abs_tol
-- inputs: fct_basis_1h (the day's table as built, before it is published)
with recomputed as (
    select
        exchange,
        symbol,
        ts,
        expiry,
        close_ts,
        close,
        index_close,
        basis,
        days_to_expiry,
        basis_apr,
        epoch(expiry - close_ts) / 86400.0 as expected_days,
        close / nullif(index_close, 0) - 1 as expected_basis,
        basis * 365.0 / days_to_expiry as expected_apr
    from fct_basis_1h
)

select
    exchange,
    symbol,
    ts,
    expiry,
    days_to_expiry,
    basis,
    expected_basis,
    basis_apr,
    expected_apr
from recomputed
where
    coalesce(days_to_expiry <= 0, true)
    or coalesce(abs(days_to_expiry - expected_days) > $abs_tol + $rel_tol * expected_days, true)
    or (index_close is null and (basis is not null or basis_apr is not null))
    or (
        index_close is not null
        and coalesce(
            abs(basis - expected_basis) > $abs_tol + $rel_tol * abs(expected_basis)
            or abs(basis_apr - expected_apr) > $abs_tol + $rel_tol * abs(expected_apr),
            true
        )
    )
order by exchange, symbol, ts

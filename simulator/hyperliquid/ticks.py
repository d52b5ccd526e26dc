"""Hyperliquid's number rules: prices on its tick, sizes on ``szDecimals``, and decimals as the
archive prints them.

Prices carry at most 5 significant figures and at most ``6 − szDecimals`` decimals (whole
numbers always allowed); sizes carry ``szDecimals`` (BTC 5, ETH 4, SOL 2, BNB 3).
"""

import math
from typing import Final

import numpy as np
import polars as pl

SZ_DECIMALS: Final = {"BTC": 5, "ETH": 4, "SOL": 2, "BNB": 3}
"""Hyperliquid's ``szDecimals``; other coins: by price (see :func:`sz_decimals`)."""


def sz_decimals(coin: str, price: float) -> int:
    """Hyperliquid's size decimals of ``coin`` (by its price when not a known coin)."""
    if coin in SZ_DECIMALS:
        return SZ_DECIMALS[coin]
    return min(5, max(0, math.floor(math.log10(price)))) if price > 0 else 0


def hl_price(px: np.ndarray, sz_dec: int, extra: int = 0) -> np.ndarray:
    """Round to Hyperliquid's tick: ≤ 5 significant figures, ≤ ``6 − sz_dec`` decimals."""
    magnitude = np.floor(np.log10(np.where(px > 0, px, 1.0)))
    decimals = np.clip(4 - magnitude, 0, max(0, 6 - sz_dec)) + extra
    factor = 10.0**decimals
    return np.asarray(np.round(px * factor) / factor, dtype=float)


def decimal_text(column: str, decimals: int) -> pl.Expr:
    """``column`` as a plain decimal (never an exponent) on at most ``decimals`` places and at
    least one (``0.0``, ``-12.5``); nulls stay null, written as empty fields."""
    scale = 10**decimals
    scaled = (pl.col(column) * scale).round(0).cast(pl.Int64)
    whole = (scaled.abs() // scale).cast(pl.String)
    fraction = (
        (scaled.abs() % scale).cast(pl.String).str.zfill(decimals).str.strip_chars_end("0")
        if decimals
        else pl.lit("")
    )
    fraction = pl.when(fraction == "").then(pl.lit("0")).otherwise(fraction)
    sign = pl.when(scaled < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(sign, whole, pl.lit("."), fraction).alias(column)

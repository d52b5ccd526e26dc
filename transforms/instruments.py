"""Which coin an instrument is about, across venues' naming conventions.

Facts keep each venue's own symbol (``BTCUSDT``, ``BTCUSD_PERP``, ``XBTUSD``, ``BTC-USDT-SWAP``);
coin-level tables add up or average the instruments of one coin, so every fact that feeds them
carries ``coin``. The rule is registered with each fact build's DuckDB connection as the scalar
function ``coin_of(symbol)``, so SQL files use it without repeating it.
"""

import re
from typing import Final

_QUOTED = re.compile(r"([A-Z0-9]+?)(?:FDUSD|BUSD|USDT|USDC|USD|[-_])")
ALIASES: Final = {"XBT": "BTC"}
"""Venue-specific coin codes: BitMEX writes bitcoin as XBT."""


def coin_of(symbol: str) -> str:
    """The base coin of a perpetual, delivery or spot symbol: ``BTCUSDT``, ``BTCUSD_PERP``,
    ``XBTUSD``, ``BTC-USDT-SWAP`` and the quarterlies ``BTCUSDT_240329`` and ``BTCUSD_240329``
    are all ``BTC``. A symbol without a known quote is its own coin."""
    match = _QUOTED.match(symbol)
    base = match.group(1) if match else symbol
    return ALIASES.get(base, base)

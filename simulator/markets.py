"""Per-symbol market parameters: price level, tick, size of the leveraged crowd, volatility."""

import zlib
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class MarketSpec:
    """What distinguishes one perpetual from another in the simulation."""

    symbol: str
    base_price: float
    price_decimals: int
    qty_decimals: int
    oi_target: float
    """Equilibrium open interest in base units (longs plus shorts of the leveraged crowd)."""
    vol_mult: float = 1.0
    funding_interval_hours: int = 8
    trade_size: float = 1.0
    """Average base quantity per trade, for the trade counts of klines."""

    @property
    def base_coin(self) -> str:
        return self.symbol.removesuffix("USDT").split("USD_")[0]


# Scale: BTCUSDT starts at $86k with ~80k BTC (~$7B) of open interest, roughly Binance's
# BTCUSDT book in late 2025; a flush day liquidates $0.4–0.7B of its longs, the order of the
# article's ~$794M week of long liquidations across all venues.
KNOWN_MARKETS: Final = {
    spec.symbol: spec
    for spec in (
        MarketSpec("BTCUSDT", 86_000.0, 1, 3, 80_000.0, 1.0, trade_size=0.05),
        MarketSpec("ETHUSDT", 3_000.0, 2, 3, 2_200_000.0, 1.3, trade_size=1.0),
        MarketSpec("SOLUSDT", 140.0, 3, 2, 12_000_000.0, 1.6, trade_size=20.0),
        MarketSpec("BNBUSDT", 600.0, 2, 2, 1_000_000.0, 1.1, trade_size=3.0),
    )
}

COIN_MARGINED: Final = {
    "BTCUSD_PERP": MarketSpec("BTCUSD_PERP", 86_000.0, 1, 0, 9_000.0, 1.0, trade_size=0.02),
    "ETHUSD_PERP": MarketSpec("ETHUSD_PERP", 3_000.0, 2, 0, 250_000.0, 1.3, trade_size=0.5),
}


def market_spec(symbol: str) -> MarketSpec:
    """The spec of ``symbol``; unknown symbols get a stable, made-up mid-cap market."""
    if symbol in KNOWN_MARKETS:
        return KNOWN_MARKETS[symbol]
    if symbol in COIN_MARGINED:
        return COIN_MARGINED[symbol]
    digest = zlib.crc32(symbol.encode())
    price = round(0.5 * 10 ** (digest % 4) * (1 + (digest >> 8) % 9), 4)
    return MarketSpec(
        symbol,
        price,
        4,
        1,
        oi_target=4e8 / price,
        vol_mult=1.4 + (digest >> 16) % 5 / 10,
        trade_size=2_000 / price,
    )


def linear_symbol_for(coin_margined: str) -> str:
    """The USDⓈ-M perpetual that leads a COIN-M one's index: ``BTCUSD_PERP`` → ``BTCUSDT``."""
    return coin_margined.split("USD_")[0] + "USDT"


CONTRACT_SIZE_USD: Final = {"BTC": 100.0}
"""COIN-M contract face value: 100 USD for BTC, 10 USD for every other coin."""


def contract_size(coin_margined: str) -> float:
    return CONTRACT_SIZE_USD.get(coin_margined.split("USD_")[0], 10.0)

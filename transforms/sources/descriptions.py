"""What the datasets several venues publish under one name mean, worded once.

Each plug-in describes its own datasets. Where a dataset records the same market fact on every
venue that publishes it (1-minute bars, funding settlements, open interest), the plug-ins share
the wording here, so that staged tables of one name read alike whichever venue they come from.
A dataset only one venue publishes is described in that venue's plug-in.
"""

from typing import Final

KLINES: Final = (
    "Traded 1-minute OHLCV bars with taker-buy volume: the price and flow of the market."
)
MARK_PRICE_KLINES: Final = "1-minute mark price, the price liquidations are triggered against."
INDEX_PRICE_KLINES: Final = "1-minute spot index price the perpetual is anchored to by funding."
PREMIUM_INDEX_KLINES: Final = (
    "1-minute premium index (perp vs index), the input of the next funding rate."
)
FUNDING_RATE: Final = (
    "Every funding settlement with its interval: what longs paid shorts (or the reverse), "
    "the price of holding leverage."
)
OPEN_INTEREST: Final = (
    "5-minute open interest in base units (and USD where the venue reports it) from the "
    "venue's REST history: how much leverage is open on that venue."
)

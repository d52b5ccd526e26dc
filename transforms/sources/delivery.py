"""Binance's quarterly delivery contracts: which are live on a day, derived from the universe.

Binance's quarterlies expire on the last Friday of March, June, September and December at
08:00 UTC (:data:`EXPIRY_TIME`). On day D the live contracts of a coin are the two nearest
quarterly expiries on or after D: the expiring contract is live on its expiry day (its last
1-minute bar opens 07:59, nothing of it is asked after that day) and the next-but-one is listed
the day after. Symbols: USDⓈ-M ``<COIN>USDT_<YYMMDD>``, COIN-M ``<COIN>USD_<YYMMDD>``, the date
being the expiry's. No list of contracts is kept: they follow from the configured perpetuals'
coins and the calendar.

Binance lists quarterlies only for some coins (:data:`QUARTERLY_COINS`, per exchange): a
perpetual whose coin has none derives no delivery contract, so nothing is fetched for it and
coverage has no row for it. A file of a derived contract that the archive never publishes (a
contract not listed yet on that day, or a coin whose quarterlies were dropped) reads
``not_published`` in coverage once it is due (see :func:`transforms.coverage.coverage_rows`):
the contract is a derivation, the archive is the authority on whether it traded.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from transforms.instruments import coin_of

EXPIRY_TIME: Final = time(8, 0)
"""Quarterly contracts settle at 08:00 UTC of their expiry day."""
QUARTER_MONTHS: Final = (3, 6, 9, 12)
LIVE_CONTRACTS: Final = 2
"""Quarterlies of a coin live at once: the current quarter and the next."""

QUARTERLY_COINS: Final[dict[str, frozenset[str]]] = {
    "binance_um": frozenset({"BTC", "ETH"}),
    "binance_cm": frozenset({"BTC", "ETH", "ADA", "BCH", "BNB", "DOT", "LINK", "LTC", "XRP"}),
}
"""Coins with quarterly contracts per exchange, as Binance lists them: USDⓈ-M quarterlies are
BTC's and ETH's only; COIN-M's cover its larger coins."""

_QUOTE: Final = {"binance_um": "USDT", "binance_cm": "USD"}
_DELIVERY = re.compile(r"^[A-Z0-9]+_(\d{6})$")


def quarter_expiry(year: int, month: int) -> date:
    """The last Friday of ``month`` of ``year``: a quarterly contract's expiry day."""
    following = date(year + month // 12, month % 12 + 1, 1)
    last = following - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 4) % 7)


def live_expiries(day: date) -> tuple[date, ...]:
    """The expiry days of the quarterly contracts live on ``day``, nearest first."""
    found: list[date] = []
    year, quarter = day.year, (day.month - 1) // 3
    while len(found) < LIVE_CONTRACTS:
        expiry = quarter_expiry(year, QUARTER_MONTHS[quarter])
        if expiry >= day:
            found.append(expiry)
        quarter = (quarter + 1) % 4
        year += quarter == 0
    return tuple(found)


def delivery_symbol(exchange: str, coin: str, expiry: date) -> str:
    """``BTCUSDT_240329`` (USDⓈ-M) or ``BTCUSD_240329`` (COIN-M)."""
    return f"{coin}{_QUOTE[exchange]}_{expiry:%y%m%d}"


def expiry_of(symbol: str) -> datetime | None:
    """The settlement instant (08:00 UTC) of a delivery symbol; None for any other symbol."""
    match = _DELIVERY.match(symbol)
    if match is None:
        return None
    day = datetime.strptime(match.group(1), "%y%m%d").date()
    return datetime.combine(day, EXPIRY_TIME, tzinfo=UTC)


def live_contracts(exchange: str, universe_symbols: Iterable[str], day: date) -> tuple[str, ...]:
    """The delivery contracts live on ``day`` of the universe's coins that have quarterlies."""
    coins = dict.fromkeys(
        coin for coin in map(coin_of, universe_symbols) if coin in QUARTERLY_COINS[exchange]
    )
    expiries = live_expiries(day)
    return tuple(
        sorted(delivery_symbol(exchange, coin, expiry) for coin in coins for expiry in expiries)
    )


def hours_live(symbol: str, day: date) -> int:
    """Hours of ``day`` a contract trades: up to its expiry on its last day, else all 24."""
    expiry = expiry_of(symbol)
    if expiry is None or expiry.date() != day:
        return 24
    return expiry.hour


@dataclass(frozen=True)
class DeliveryContracts:
    """The symbol rule of a delivery dataset (:attr:`transforms.dataset.Dataset.contracts`):
    its symbols on a day are derived from the universe's perpetuals, not taken from it."""

    exchange: str

    def symbols_on(self, universe_symbols: Iterable[str], day: date) -> tuple[str, ...]:
        return live_contracts(self.exchange, universe_symbols, day)

    def hours_on(self, symbol: str, day: date) -> int:
        return hours_live(symbol, day)

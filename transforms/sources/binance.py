"""Binance's public archive (``data.binance.vision``): USDⓈ-M, COIN-M and spot.

Path layout (FORMATS.md §1.1): ``data/{market}/{daily|monthly}/{dataType}/{SYMBOL}[/{interval}]/
{file}``. Kline-class files are named ``{SYM}-{interval}-{period}.zip`` whatever their type, so a
mark-price file is told from a trade-kline file only by its directory; other types are
``{SYM}-{dataType}-{period}.zip``.

COIN-M ``indexPriceKlines`` are keyed by the bare pair (``BTCUSD``), not by the ``_PERP`` symbol;
the staged rows still carry the universe symbol so that facts join on it.

Availability windows come from the archive as documented in FORMATS.md: UM
``liquidationSnapshot`` ends 2024-03-31 and COIN-M's ends 2024-10-14; the earliest COIN-M
liquidation file is 2023-06-25 and UM's is taken to be the same day.

Delivery (quarterly) contracts share the perpetuals' data types under their own symbols
(``klines/BTCUSDT_240329/1m/BTCUSDT_240329-1m-2024-01-01.zip``, ``metrics/BTCUSD_240329/…``):
``delivery_klines`` and ``delivery_metrics`` stage them, the symbols of each day derived from the
universe's coins by :mod:`transforms.sources.delivery`. Futures start with the UM
launch (2019-09-08) and COIN-M with its launch (2020-08-10); spot klines start 2017-08-17.
"""

from collections.abc import Callable
from datetime import date

from transforms.dataset import Cadence, Dataset, SymbolRule
from transforms.schemas import Kind
from transforms.sources import descriptions
from transforms.sources.delivery import DeliveryContracts

INTERVAL = "1m"

UM_LAUNCH = date(2019, 9, 8)
CM_LAUNCH = date(2020, 8, 10)
SPOT_LAUNCH = date(2017, 8, 17)
METRICS_FIRST_DAY = date(2020, 9, 1)
LIQUIDATION_FIRST_DAY = date(2023, 6, 25)
UM_LIQUIDATION_LAST_DAY = date(2024, 3, 31)
CM_LIQUIDATION_LAST_DAY = date(2024, 10, 14)

KLINE_DATASETS: tuple[tuple[str, str, str], ...] = (
    ("klines", "klines", descriptions.KLINES),
    ("mark_price_klines", "markPriceKlines", descriptions.MARK_PRICE_KLINES),
    ("index_price_klines", "indexPriceKlines", descriptions.INDEX_PRICE_KLINES),
    ("premium_index_klines", "premiumIndexKlines", descriptions.PREMIUM_INDEX_KLINES),
)
"""Each kline-class dataset: its name, the archive's ``dataType`` and what it means."""

METRICS = (
    "5-minute open interest in base units and USD, with top-trader and all-account long/short "
    "ratios and the taker buy/sell ratio: how much leverage is open and who holds it."
)
DELIVERY_KLINES = (
    "Traded 1-minute bars of the quarterly delivery contracts live on the day (the two "
    "nearest expiries of each universe coin that has quarterlies, derived from the "
    "calendar): the dated futures beside the perpetual; the expiring one stops at 08:00."
)
DELIVERY_METRICS = (
    "5-minute open interest and ratios of the quarterly delivery contracts live on the day "
    "(derived from the universe's coins and the calendar), up to a contract's expiry."
)
LIQUIDATION_SNAPSHOT = (
    "Forced orders (liquidations) as the exchange published them: SELL liquidated a long, "
    "BUY a short. A sampled stream, so a lower bound."
)


def cm_pair(symbol: str) -> str:
    """The bare COIN-M pair of a perpetual symbol: ``BTCUSD_PERP`` → ``BTCUSD``."""
    return symbol.split("_", 1)[0]


def _kline_path(market: str, data_type: str, pair_only: bool = False) -> Callable[[str, date], str]:
    def path(symbol: str, day: date) -> str:
        key = cm_pair(symbol) if pair_only else symbol
        folder = f"data/{market}/daily/{data_type}/{key}/{INTERVAL}"
        return f"{folder}/{key}-{INTERVAL}-{day.isoformat()}.zip"

    return path


def _daily_path(market: str, data_type: str) -> Callable[[str, date], str]:
    def path(symbol: str, day: date) -> str:
        return (
            f"data/{market}/daily/{data_type}/{symbol}/{symbol}-{data_type}-{day.isoformat()}.zip"
        )

    return path


def _monthly_path(market: str, data_type: str) -> Callable[[str, date], str]:
    def path(symbol: str, day: date) -> str:
        return f"data/{market}/monthly/{data_type}/{symbol}/{symbol}-{data_type}-{day:%Y-%m}.zip"

    return path


def _archive_dataset(
    exchange: str,
    name: str,
    kind: Kind,
    cadence: Cadence,
    available_from: date,
    available_until: date | None,
    path: Callable[[str, date], str],
    description: str,
    contracts: SymbolRule | None = None,
) -> Dataset:
    """A dataset of the archive's files: one file per symbol and day, or month."""
    return Dataset(
        exchange,
        name,
        kind,
        cadence,
        available_from,
        available_until,
        path,
        description=description,
        origin=f"{cadence} archive files",
        contracts=contracts,
    )


def _futures_datasets(
    exchange: str, market: str, launch: date, liquidation_last_day: date
) -> list[Dataset]:
    datasets = [
        _archive_dataset(
            exchange,
            name,
            Kind.KLINE,
            Cadence.DAILY,
            launch,
            None,
            _kline_path(
                market,
                data_type,
                pair_only=market == "futures/cm" and name == "index_price_klines",
            ),
            description,
        )
        for name, data_type, description in KLINE_DATASETS
    ]
    datasets += [
        _archive_dataset(
            exchange,
            "metrics",
            Kind.METRICS,
            Cadence.DAILY,
            max(launch, METRICS_FIRST_DAY),
            None,
            _daily_path(market, "metrics"),
            METRICS,
        ),
        _archive_dataset(
            exchange,
            "funding_rate",
            Kind.FUNDING_RATE,
            Cadence.MONTHLY,
            launch,
            None,
            _monthly_path(market, "fundingRate"),
            descriptions.FUNDING_RATE,
        ),
        _archive_dataset(
            exchange,
            "liquidation_snapshot",
            Kind.LIQUIDATION,
            Cadence.DAILY,
            LIQUIDATION_FIRST_DAY,
            liquidation_last_day,
            _daily_path(market, "liquidationSnapshot"),
            LIQUIDATION_SNAPSHOT,
        ),
        _archive_dataset(
            exchange,
            "delivery_klines",
            Kind.KLINE,
            Cadence.DAILY,
            launch,
            None,
            _kline_path(market, "klines"),
            DELIVERY_KLINES,
            contracts=DeliveryContracts(exchange),
        ),
        _archive_dataset(
            exchange,
            "delivery_metrics",
            Kind.METRICS,
            Cadence.DAILY,
            max(launch, METRICS_FIRST_DAY),
            None,
            _daily_path(market, "metrics"),
            DELIVERY_METRICS,
            contracts=DeliveryContracts(exchange),
        ),
    ]
    return datasets


BINANCE_DATASETS: tuple[Dataset, ...] = (
    *_futures_datasets("binance_um", "futures/um", UM_LAUNCH, UM_LIQUIDATION_LAST_DAY),
    *_futures_datasets("binance_cm", "futures/cm", CM_LAUNCH, CM_LIQUIDATION_LAST_DAY),
    _archive_dataset(
        "binance_spot",
        "klines",
        Kind.KLINE,
        Cadence.DAILY,
        SPOT_LAUNCH,
        None,
        _kline_path("spot", "klines"),
        descriptions.KLINES,
    ),
)

COIN_MARGINED_EXCHANGES = frozenset({"binance_cm"})


def contract_size_usd(symbol: str) -> float:
    """USD face value of one COIN-M contract: 100 USD for BTC, 10 USD for every other coin.

    Binance's COIN-M contract specifications fix these sizes; volumes and quantities of
    inverse contracts are counted in contracts and converted with this size.
    """
    return 100.0 if cm_pair(symbol).startswith("BTC") else 10.0

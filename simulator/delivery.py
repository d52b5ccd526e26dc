"""Binance's quarterly delivery contracts of a simulated coin: klines and metrics, and the truth.

A coin with quarterlies on its exchange (:data:`transforms.sources.delivery.QUARTERLY_COINS`)
trades, on each day, the contracts :func:`transforms.sources.delivery.live_contracts` derives:
priced at its perpetual's index times ``1 + basis_apr × years to expiry``, so the basis decays to
zero at expiry. The annualised basis follows the scripted regime (a few % when longs are shy,
~15% in a leveraged build-up), smoothed over hours, the next quarter a little above the near
one; trading and open interest are a small share of the perpetual's. On its expiry day a
contract's files stop at 08:00 (its last bar opens 07:59, its last metrics row is 07:55).

The files are written from their own random stream, so the perpetuals' files do not change.
"""

from datetime import date, timedelta
from typing import Final

import numpy as np
import polars as pl

from simulator.model import MINUTES_PER_DAY, Tape
from simulator.scenarios import Scenario
from simulator.writer import ArchiveWriter
from transforms.sources import dataset
from transforms.sources.delivery import QUARTERLY_COINS, expiry_of, live_contracts

MIN_APR, MAX_APR, REST_APR = 0.02, 0.15, 0.07
NEXT_QUARTER_PREMIUM: Final = 0.015
"""The next quarter's annualised basis above the near one's: an upward term structure."""
SMOOTHING_HOURS: Final = 12.0
"""Time constant of the basis following the regime: dated futures reprice slowly."""
VOLUME_SHARE: Final = (0.04, 0.015)
"""Near and next quarter's traded volume as a share of the perpetual's."""
OI_SHARE: Final = (0.12, 0.05)
"""Near and next quarter's open interest as a share of the perpetual's (together ~17%)."""
YEAR_MINUTES: Final = 365.0 * MINUTES_PER_DAY


def has_quarterlies(exchange: str, coin: str) -> bool:
    return coin in QUARTERLY_COINS[exchange]


def regime_apr(scenario: Scenario, hours: int, rng: np.random.Generator) -> np.ndarray:
    """The near quarter's annualised basis per minute: the regime's level, smoothed, with noise.

    Long bias and leverage lift it (longs pay up for dated exposure), a flush pushes it down.
    """
    target = np.array(
        [
            REST_APR + 0.06 * p.long_bias + 0.02 * p.leverage_skew
            for p in (scenario.phase_at(h) for h in range(hours))
        ]
    )
    smoothed = np.empty(hours)
    level = REST_APR
    for hour, goal in enumerate(target):
        level += (goal - level) / SMOOTHING_HOURS
        smoothed[hour] = level
    minutes = np.repeat(smoothed, 60) + rng.normal(0.0, 0.002, hours * 60)
    return np.clip(minutes, MIN_APR, MAX_APR)


def write_delivery(
    writer: ArchiveWriter,
    exchange: str,
    tape: Tape,
    contract: float | None,
    scenario: Scenario,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Write the live quarterlies of ``tape``'s coin on ``exchange``; return the hourly truth.

    ``contract`` is COIN-M's contract size in USD (None for USDⓈ-M).
    """
    spec = tape.spec
    klines, metrics = dataset(exchange, "delivery_klines"), dataset(exchange, "delivery_metrics")
    near_apr = regime_apr(scenario, tape.days * 24, rng)
    truth: list[dict[str, object]] = []
    for offset in range(tape.days):
        day = tape.start + timedelta(days=offset)
        lo = offset * MINUTES_PER_DAY
        for rank, symbol in enumerate(live_contracts(exchange, [spec.symbol], day)):
            expiry = expiry_of(symbol)
            assert expiry is not None
            minutes = MINUTES_PER_DAY if expiry.date() != day else expiry.hour * 60
            hi = lo + minutes
            to_expiry = (
                (expiry.date() - day).days * MINUTES_PER_DAY + expiry.hour * 60 - np.arange(minutes)
            ) / YEAR_MINUTES
            apr = near_apr[lo:hi] + NEXT_QUARTER_PREMIUM * rank
            factor = 1.0 + apr * to_expiry
            index = tape.index_ohlc[lo:hi]
            ohlc = index * factor[:, None]
            close = ohlc[:, 3]
            base = tape.volume[lo:hi] * VOLUME_SHARE[rank]
            buy = tape.taker_buy[lo:hi] * VOLUME_SHARE[rank]
            writer.klines(
                klines.archive_path(symbol, day),
                day,
                ohlc,
                spec,
                _volumes(base, buy, close, spec.qty_decimals, contract),
                np.maximum(1, np.round(base / spec.trade_size)).astype(np.int64),
            )
            rows = tape.metrics[offset * 288 : offset * 288 + minutes // 5].copy()
            slot_ends = np.minimum(np.arange(1, len(rows) + 1) * 5, minutes) - 1
            rows[:, :3] *= OI_SHARE[rank]  # open interest, the crowd's longs and shorts
            rows[:, 3] = close[slot_ends]  # the contract's own price
            rows[:, 4:] *= VOLUME_SHARE[rank]  # taker buy and sell
            writer.metrics(metrics.archive_path(symbol, day), day, symbol, rows, None, contract)
            hours = np.arange(0, minutes, 60)
            truth += [
                {
                    "exchange": exchange,
                    "symbol": symbol,
                    "expiry": expiry,
                    "ts_ms": _day_ms(day) + int(m) * 60_000,
                    "basis": float(factor[m] - 1.0),
                    "basis_apr": float(apr[m]),
                    "oi_share": OI_SHARE[rank],
                }
                for m in hours
            ]
    return pl.DataFrame(truth, schema=TRUTH_SCHEMA)


TRUTH_SCHEMA: Final = {
    "exchange": pl.String,
    "symbol": pl.String,
    "expiry": pl.Datetime("us", "UTC"),
    "ts_ms": pl.Int64,
    "basis": pl.Float64,
    "basis_apr": pl.Float64,
    "oi_share": pl.Float64,
}
"""``truth/delivery_basis.parquet``: each contract's basis at every hour's first minute (the bar
opening then: its close over the index close − 1) and the annualised basis it was priced with."""


def _volumes(
    base: np.ndarray, buy: np.ndarray, close: np.ndarray, decimals: int, contract: float | None
) -> dict[str, np.ndarray]:
    if contract is None:
        return {
            "volume": np.round(base, decimals),
            "quote_volume": np.round(base * close, 4),
            "taker_buy_volume": np.round(buy, decimals),
            "taker_buy_quote_volume": np.round(buy * close, 4),
        }
    # COIN-M: volume in contracts, the "quote" columns in the base coin.
    return {
        "volume": np.round(base * close / contract),
        "quote_volume": np.round(base, 8),
        "taker_buy_volume": np.round(buy * close / contract),
        "taker_buy_quote_volume": np.round(buy, 8),
    }


def _day_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86_400_000

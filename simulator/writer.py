"""Render simulated tapes as Binance archive files, with optional real-world quirks.

Formats follow FORMATS.md for the dates written: futures kline-class files carry a header from
2022-05-01 (none before), spot klines never do and switch to µs timestamps on 2025-01-01,
metrics label rows 00:00…23:55 (each row holds the open interest at the end of its 5 minutes
and the taker flow within them), funding comes as monthly files with a few ms of ``calc_time``
jitter, and every liquidationSnapshot row appears twice, as in the archive. COIN-M files count
volume and open interest in contracts (100 USD for BTC, 10 USD otherwise) and leave the
top-trader ratios empty.
"""

import random
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final

import numpy as np
import polars as pl

from simulator.archive import write_archive_file
from simulator.markets import MarketSpec
from simulator.model import Tape
from transforms import formats

FUTURES_HEADER_FROM: Final = date(2022, 5, 1)
SPOT_MICROS_FROM: Final = date(2025, 1, 1)
UM_LIQUIDATION_WINDOW: Final = (date(2023, 6, 25), date(2024, 3, 31))
CM_LIQUIDATION_WINDOW: Final = (date(2023, 6, 25), date(2024, 10, 14))


@dataclass(frozen=True)
class Quirks:
    """Per-file probabilities of the archive's known quirks (all off by default)."""

    duplicate_rows: float = 0.0
    unsorted_rows: float = 0.0
    zero_e8: float = 0.0
    missing_day: float = 0.0
    headerless_klines: float = 0.0
    next_day_midnight: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "Quirks":
        """``duplicate_rows=0.1,missing_day=0.02`` → Quirks; ``all=R`` sets every rate."""
        rates: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, value = item.partition("=")
            if name == "all":
                rates.update(dict.fromkeys(cls.__dataclass_fields__, float(value)))
            elif name in cls.__dataclass_fields__:
                rates[name] = float(value)
            else:
                raise ValueError(f"unknown quirk {name!r}; known: {list(cls.__dataclass_fields__)}")
        return cls(**rates)


@dataclass
class ArchiveWriter:
    """Writes one market's files; records injected quirks and the liquidations it published."""

    root: Path
    quirks: Quirks
    seed: int
    liquidations_outside_window: bool = False
    injected: list[dict[str, str]] = field(default_factory=list)

    def _rng(self, relpath: str) -> random.Random:
        return random.Random(zlib.crc32(relpath.encode()) ^ self.seed)

    def _quirk(self, rng: random.Random, name: str) -> bool:
        return rng.random() < getattr(self.quirks, name)

    def write(
        self,
        relpath: str,
        header: tuple[str, ...] | None,
        frame: pl.DataFrame,
        rng: random.Random | None = None,
    ) -> None:
        rng = rng or self._rng(relpath)
        if self._quirk(rng, "missing_day"):
            self.injected.append({"file": relpath, "quirk": "missing_day"})
            return
        if self._quirk(rng, "duplicate_rows"):
            frame = pl.concat([frame, frame])
            self.injected.append({"file": relpath, "quirk": "duplicate_rows"})
        if self._quirk(rng, "unsorted_rows") and frame.height > 1:
            order = list(range(frame.height))
            rng.shuffle(order)
            frame = frame[order]
            self.injected.append({"file": relpath, "quirk": "unsorted_rows"})
        body = frame.write_csv(include_header=False, float_scientific=False)
        text_header = ",".join(header) + "\n" if header else ""
        write_archive_file(self.root, relpath, (text_header + body).encode())

    def klines(
        self,
        relpath: str,
        day: date,
        ohlc: np.ndarray,
        spec: MarketSpec,
        volumes: dict[str, np.ndarray] | None,
        count: np.ndarray | int,
        spot: bool = False,
    ) -> None:
        """One day of 1m bars; ``volumes`` None writes the zero volumes of mark/index/premium.

        The day's first ``len(ohlc)`` minutes: all of them, but on a delivery contract's expiry
        day, which stops at 08:00."""
        rng = self._rng(relpath)
        minutes = len(ohlc)
        open_ms = _day_ms(day) + np.arange(minutes, dtype=np.int64) * 60_000
        close_ms = open_ms + 59_999
        if spot and day >= SPOT_MICROS_FROM:
            open_ms, close_ms = open_ms * 1000, open_ms * 1000 + 59_999_999
        decimals = spec.price_decimals if volumes is not None else 8
        zeros = np.zeros(minutes)
        vol = volumes or {}
        frame = pl.DataFrame(
            {
                "open_time": open_ms,
                "open": np.round(ohlc[:, 0], decimals),
                "high": np.round(ohlc[:, 1], decimals),
                "low": np.round(ohlc[:, 2], decimals),
                "close": np.round(ohlc[:, 3], decimals),
                "volume": vol.get("volume", zeros),
                "close_time": close_ms,
                "quote_volume": vol.get("quote_volume", zeros),
                "count": np.broadcast_to(np.asarray(count, dtype=np.int64), (minutes,)),
                "taker_buy_volume": vol.get("taker_buy_volume", zeros),
                "taker_buy_quote_volume": vol.get("taker_buy_quote_volume", zeros),
                "ignore": np.zeros(minutes, dtype=np.int64),
            }
        )
        with_header = not spot and day >= FUTURES_HEADER_FROM
        if with_header and self._quirk(rng, "headerless_klines"):
            with_header = False
            self.injected.append({"file": relpath, "quirk": "headerless_klines"})
        self.write(relpath, formats.KLINE_COLUMNS if with_header else None, frame, rng)

    def metrics(
        self,
        relpath: str,
        day: date,
        symbol: str,
        rows: np.ndarray,
        next_midnight: np.ndarray | None,
        contract: float | None,
    ) -> None:
        """One day of 5-minute metrics from ``rows`` (oi, long, short, mark, buy, sell)."""
        rng = self._rng(relpath)
        labels = [_day_start(day) + timedelta(minutes=5 * k) for k in range(len(rows))]
        if next_midnight is not None and self._quirk(rng, "next_day_midnight"):
            rows = np.vstack([rows, next_midnight])
            labels.append(_day_start(day) + timedelta(days=1))
            self.injected.append({"file": relpath, "quirk": "next_day_midnight"})
        oi, longs, shorts, mark, buy, sell = rows.T
        crowd = np.clip(longs, 1e-9, None) / np.clip(shorts, 1e-9, None)
        oi_value = oi * mark
        if contract is None:
            oi_column, value_column = np.round(oi, 3), np.round(oi_value, 8)
            top_account = np.round(crowd**0.6, 4)
            top_position = np.round(crowd, 4)
        else:
            # COIN-M: open interest in contracts, its value in the base coin (BTC).
            oi_column, value_column = np.round(oi_value / contract), np.round(oi, 8)
            top_account = top_position = np.full(len(rows), np.nan)
        frame = pl.DataFrame(
            {
                "create_time": [label.strftime(formats.METRICS_TIME_FORMAT) for label in labels],
                "symbol": [symbol] * len(rows),
                "sum_open_interest": oi_column,
                "sum_open_interest_value": value_column,
                "count_toptrader_long_short_ratio": top_account,
                "sum_toptrader_long_short_ratio": top_position,
                "count_long_short_ratio": np.round(crowd**0.4, 4),
                "sum_taker_long_short_vol_ratio": np.round(buy / np.clip(sell, 1e-9, None), 4),
            },
        ).fill_nan(None)
        if self._quirk(rng, "zero_e8"):
            # The archive's glitch: open interest printed as 0E-8 (BTCUSDT 2022-03-07 15:30).
            slot = rng.randrange(len(rows))
            frame = frame.with_columns(
                pl.col("sum_open_interest", "sum_open_interest_value").cast(pl.String)
            )
            frame[slot, "sum_open_interest"] = "0E-8"
            frame[slot, "sum_open_interest_value"] = "0E-8"
            self.injected.append({"file": relpath, "quirk": "zero_e8", "row": str(slot)})
        self.write(relpath, formats.METRICS_COLUMNS, frame, rng)

    def liquidations(self, relpath: str, frame: pl.DataFrame) -> None:
        # The archive publishes every forced order twice; readers must drop exact duplicates.
        self.write(relpath, formats.LIQUIDATION_SNAPSHOT_COLUMNS, pl.concat([frame, frame]))

    def funding(self, relpath: str, rows: list[tuple[int, int, float]]) -> None:
        frame = pl.DataFrame(
            {
                "calc_time": [ms + (ms // 3_600_000) % 13 for ms, _, _ in rows],
                "funding_interval_hours": [hours for _, hours, _ in rows],
                "last_funding_rate": [round(rate, 8) for _, _, rate in rows],
            }
        )
        self.write(relpath, formats.FUNDING_RATE_COLUMNS, frame)


def kline_volumes(tape: Tape, lo: int, hi: int, contract: float | None) -> dict[str, np.ndarray]:
    """Volume columns of trade klines; COIN-M columns 8 and 11 hold base-asset volume."""
    spec = tape.spec
    price = tape.trade_ohlc[lo:hi, 3]
    base = tape.volume[lo:hi]
    buy = tape.taker_buy[lo:hi]
    if contract is None:
        return {
            "volume": np.round(base, spec.qty_decimals),
            "quote_volume": np.round(base * price, 4),
            "taker_buy_volume": np.round(buy, spec.qty_decimals),
            "taker_buy_quote_volume": np.round(buy * price, 4),
        }
    return {
        "volume": np.round(base * price / contract),
        "quote_volume": np.round(base, 8),
        "taker_buy_volume": np.round(buy * price / contract),
        "taker_buy_quote_volume": np.round(buy, 8),
    }


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _day_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86_400_000

"""Hyperliquid's clock in the simulation: minutes, hours and the chain's 100 ms blocks.

Fill times sit on 100 ms blocks: ``block_number`` counts 100 ms slots since an origin placing
2025-07-27T08:00Z near block 700,000,000; a block lands a few milliseconds into its slot
(:func:`block_jitter`), and its ``block_time`` carries nanoseconds.
"""

from datetime import UTC, date, datetime
from typing import Final

import numpy as np
import polars as pl

from transforms.formats import HYPERLIQUID_FILLS_BY_BLOCK_FROM

MS_PER_MINUTE: Final = 60_000
MS_PER_HOUR: Final = 3_600_000
MS_PER_DAY: Final = 86_400_000
TIMESTAMP: Final = pl.Datetime("ms", "UTC")
"""The truth tables' instants."""
BLOCK_MS: Final = 100
BLOCK_SLOT_ORIGIN: Final = (
    int(HYPERLIQUID_FILLS_BY_BLOCK_FROM.timestamp() * 1000) // BLOCK_MS - 700_000_000
)
"""The 100 ms slot numbered block 0."""


def day_ms(day: date) -> int:
    """Epoch milliseconds of the UTC midnight opening ``day``."""
    return (day - date(1970, 1, 1)).days * MS_PER_DAY


def timestamps(ms: np.ndarray) -> pl.Series:
    """Epoch milliseconds as the truth tables' UTC instants."""
    return pl.Series(np.asarray(ms, dtype=np.int64)).cast(TIMESTAMP)


def iso_second(ms: int) -> str:
    """``2025-07-27T08:00:00Z``: the instant to the second, as the quirks' truth lists it."""
    return f"{datetime.fromtimestamp(ms / 1000, UTC):%Y-%m-%dT%H:%M:%SZ}"


def ns_time(ns: int) -> str:
    """``2025-07-27T08:00:00.123456789``: a block's time as the by-block layout writes it."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{rest:09d}"


def hash64(value: int) -> int:
    """A cheap deterministic 64-bit hash (splitmix64's finaliser): a block's nanoseconds and
    latency, and the empty blocks of an hour, without a random stream."""
    z = (value + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def block_jitter(slots: np.ndarray) -> np.ndarray:
    """The millisecond within its 100 ms slot at which a block lands (0…60)."""
    return np.asarray((slots * 7919) % 61, dtype=np.int64)


def block_times(ms: np.ndarray) -> np.ndarray:
    """The time of the block holding an event at ``ms``: its 100 ms slot's instant."""
    slots = np.asarray(ms, dtype=np.int64) // BLOCK_MS
    return slots * BLOCK_MS + block_jitter(slots)

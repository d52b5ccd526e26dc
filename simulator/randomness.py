"""The simulator's random streams: every draw comes from a stream named after what it simulates.

A stream is seeded ``[seed, crc32(name)]`` (``"BTCUSDT"``, ``"venue:okx:BTC"``,
``"hyperliquid:fills:ETH"``, …), so one seed gives the same bytes whatever the number of worker
processes or the order coins run in, and adding a stream, or switching an output on or off,
never shifts another stream's draws. The market-wide shock every coin shares is the one stream
not named: ``[seed, 0]``.
"""

import zlib

import numpy as np


def seeded_stream(seed: int, name: str) -> np.random.Generator:
    """The stream ``name`` of the simulation seeded ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


def market_wide_stream(seed: int) -> np.random.Generator:
    """The stream of the shock shared by every coin of the simulation seeded ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([seed, 0]))


def ar1_path(rng: np.random.Generator, steps: int, persistence: float, sd: float) -> np.ndarray:
    """A stationary AR(1) path with standard deviation ``sd``, started from its stationary law.

    A slowly wandering deviation (a venue's spread, its share of the book): each step keeps
    ``persistence`` of the last one; ``steps`` normal draws from ``rng``, one per step.
    """
    shocks = rng.standard_normal(steps).tolist()
    scale = sd * (1 - persistence**2) ** 0.5
    path = np.empty(steps)
    value = sd * shocks[0] if steps else 0.0
    for step in range(steps):
        if step:
            value = persistence * value + scale * shocks[step]
        path[step] = value
    return path

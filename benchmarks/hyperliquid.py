"""Section 7: Hyperliquid's fills through staging, beside LZ4 decompression alone.

The simulator writes ``days`` days of Hyperliquid's hourly fills (from 2025-07-24, so the
layout cutover of 2025-07-27 08:00 is inside) for ``coins`` coins. Timed on the same files:

- the floor: ``lz4.frame.decompress`` of every hourly file, nothing else;
- treadmill: ``stage_dataset`` of ``stg_hyperliquid_liquidations`` over the days (land each file
  from the ``file://`` mirror with its sha256, decompress, read every line, keep the liquidation
  fills once per order, gate, publish), day by day as the daily job does;
- the parser alone (decompress, decode every line, keep the forced orders) on the landed days,
  which is what grows with Hyperliquid's real volume (about 1 GB of fills a day); the rest of a
  staging call is a fixed cost per day.

Throughput is fills per second (every fill line of every layout, ordinary fills included: each
is read) and MB of LZ4 per second. The staged liquidation totals are compared with the truth.
"""

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import lz4.frame
import polars as pl

from benchmarks.common import simulate
from simulator.run import SimConfig
from transforms.clients import source_client
from transforms.settings import Settings, parse_universe
from transforms.sources import dataset
from transforms.sources.hyperliquid import parse_fills
from transforms.staging import stage_dataset

START = date(2025, 7, 24)
COINS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def run(days: int, coins: int, work: Path) -> dict[str, Any]:
    """Time the floor and staging over ``days`` days of ``coins`` coins' fills."""
    symbols = COINS[:coins]
    end = START + timedelta(days=days - 1)
    mirror = work / "mirror"
    simulate(SimConfig(out=mirror, start=START, end=end, symbols=symbols, coin_margined=()))
    files = sorted((mirror / "hyperliquid" / "hl-mainnet-node-data").rglob("*.lz4"))
    lz4_bytes = sum(path.stat().st_size for path in files)

    began = time.perf_counter()
    fills = 0
    for path in files:
        data = lz4.frame.decompress(path.read_bytes())
        fills += _fill_count(data)
    floor_s = time.perf_counter() - began

    coin_names = ",".join(symbol.removesuffix("USDT") for symbol in symbols)
    settings = Settings(
        warehouse=work / "warehouse",
        universe=parse_universe(f"hyperliquid:{coin_names}"),
        hyperliquid_url=(mirror / "hyperliquid").as_uri() + "/",
    )
    liquidations = dataset("hyperliquid", "liquidations")
    day_list = [START + timedelta(days=n) for n in range(days)]
    began = time.perf_counter()
    with source_client(liquidations, settings) as client:
        for day in day_list:
            stage_dataset(liquidations, [day], settings, client)
    staging_s = time.perf_counter() - began
    # The parser alone on the landed days (warm: imports and caches paid by the staging above).
    landed = settings.raw_root / "hyperliquid" / "hl-mainnet-node-data" / "fills_days"
    universe_coins = tuple(coin_names.split(","))
    began = time.perf_counter()
    for folder in sorted(landed.iterdir()):
        parse_fills(liquidations, universe_coins, folder, folder.name, START)
    parse_s = time.perf_counter() - began

    staged = pl.read_parquet(settings.lake_root / liquidations.table / "*" / "data.parquet")
    truth = pl.read_parquet(mirror / "truth" / "hyperliquid_liquidations.parquet")
    staged_usd = float((staged["filled_qty_base"] * staged["price"]).sum())
    true_usd = float(truth["notional_usd"].sum())
    megabytes = lz4_bytes / 1024**2
    return {
        "days": days,
        "coins": list(symbols),
        "hour_files": len(files),
        "lz4_mb": round(megabytes, 2),
        "fills": fills,
        "floor": {
            "seconds": round(floor_s, 3),
            "fills_per_s": round(fills / floor_s),
            "mb_per_s": round(megabytes / floor_s, 1),
        },
        "parse_only": {
            "seconds": round(parse_s, 3),
            "fills_per_s": round(fills / parse_s),
            "mb_per_s": round(megabytes / parse_s, 1),
            "time_vs_floor": round(parse_s / floor_s, 2),
        },
        "treadmill": {
            "seconds": round(staging_s, 3),
            "fills_per_s": round(fills / staging_s),
            "mb_per_s": round(megabytes / staging_s, 1),
            "time_vs_floor": round(staging_s / floor_s, 2),
        },
        "liquidations": {
            "staged": staged.height,
            "truth": truth.height,
            "staged_usd": round(staged_usd, 2),
            "truth_usd": round(true_usd, 2),
            "equal": staged.height == truth.height and abs(staged_usd - true_usd) < 1e-6 * true_usd,
        },
    }


def _fill_count(data: bytes) -> int:
    """Fill lines of either layout: a ``[user, fill]`` line is one, a block line its events."""
    count = 0
    for line in data.splitlines():
        if line.startswith(b"["):
            count += 1
        elif line:
            count += line.count(b'"tid"')
    return count

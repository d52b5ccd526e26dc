"""Section 6: REST history through the simulator's venue server, with the venues' rate limits on.

Two measurements (issue 14):

- **Paging.** For each REST endpoint, the symbol-months of ``months`` months × ``coins`` coins
  are fetched by :class:`transforms.history.HistoryClient` from the local server, which enforces
  the venues' documented limits (BitMEX 30/min, Bybit 600/5 s, OKX 10/2 s funding and 5/2 s open
  interest, Binance 500/5 min), the client pacing itself to its own defaults. One chunk at a
  time, so that the waiting is the limit's and not the threads': pages per second, seconds per
  symbol-month, and the share of the wall time spent waiting for the pacer's slot.
- **Daily cost.** The benchmark's coins are built over ``history`` days, then one more day is
  materialised (``materialize_range``, the daily job) with every venue on (Binance's archive,
  BitMEX, Bybit, OKX, at the venues' documented limits), and the same day into a second
  warehouse with Binance's archive alone: the seconds of each and their ratio, one run each.
"""

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import simulate
from benchmarks.incremental import materialize
from simulator.run import SimConfig
from simulator.venue_server import DEFAULT_RATE_LIMITS, serve_venues
from transforms.history import HistoryClient, Pacer
from transforms.settings import Limits, Settings, parse_universe
from transforms.sources import DATASETS
from transforms.staging import wanted_files

START = date(2024, 1, 1)
COINS = {
    "BTC": ("BTCUSDT", "XBTUSD", "BTC-USDT-SWAP"),
    "ETH": ("ETHUSDT", "ETHUSD", "ETH-USDT-SWAP"),
}


def _symbol(exchange: str, coin: str) -> str:
    linear, bitmex, okx = COINS[coin]
    return {"bitmex": bitmex, "okx": okx}.get(exchange, linear)


def run(months: int, coins: int, history: int, work: Path) -> dict[str, Any]:
    """Page ``months`` × ``coins`` symbol-months of every endpoint; time one daily run."""
    chosen = list(COINS)[:coins]
    end = (START + timedelta(days=31 * months)).replace(day=1) - timedelta(days=1)
    mirror = work / "mirror"
    simulate(
        SimConfig(
            out=mirror,
            start=START,
            end=end,
            symbols=tuple(COINS[c][0] for c in chosen),
            coin_margined=(),
            spot=tuple(COINS[c][0] for c in chosen),
        )
    )
    days = [START + timedelta(days=n) for n in range((end - START).days + 1)]
    rows = []
    with serve_venues(mirror, DEFAULT_RATE_LIMITS) as server:
        urls = server.treadmill_urls()
        for dataset in (d for d in DATASETS if d.endpoint is not None):
            assert dataset.endpoint is not None
            venue = dataset.endpoint.venue
            symbols = [_symbol(dataset.exchange, coin) for coin in chosen]
            chunks = sorted(set(wanted_files(dataset, days, symbols).values()))
            raw = work / "raw" / dataset.table
            pacer = Pacer(venue.rate_limit)
            with HistoryClient(
                dataset, urls[venue.key], raw, Limits(concurrency=1), pacer=pacer
            ) as client:
                began = time.perf_counter()
                for chunk in chunks:
                    client.fetch(chunk)
                seconds = time.perf_counter() - began
                pages, refused = client.stats.pages_fetched, client.stats.rate_limited
            symbol_months = len(symbols) * months
            rows.append(
                {
                    "dataset": dataset.table,
                    "limit": str(venue.rate_limit),
                    "chunks": len(chunks),
                    "pages": pages,
                    "refused_429": refused,
                    "seconds": round(seconds, 2),
                    "pages_per_s": round(pages / seconds, 2),
                    "s_per_symbol_month": round(seconds / symbol_months, 2),
                    "waiting_share": round(pacer.waited_seconds / seconds, 3),
                }
            )
            print(f"venues {dataset.table}: {rows[-1]}", flush=True)
        daily = _daily_cost(work, mirror, urls, chosen, end, history)
    return {
        "months": months,
        "coins": chosen,
        "start": START.isoformat(),
        "end": end.isoformat(),
        "server_limits": {key: list(value) for key, value in DEFAULT_RATE_LIMITS.items()},
        "rows": rows,
        "daily": daily,
    }


def _universes(coins: list[str]) -> dict[str, str]:
    """The benchmark coins on Binance's archive alone, and on every venue."""
    linear = ",".join(COINS[c][0] for c in coins)
    archive = f"binance_um:{linear};binance_spot:{linear}"
    rest = ";".join(
        f"{exchange}:{','.join(_symbol(exchange, c) for c in coins)}"
        for exchange in ("bitmex", "bybit", "okx")
    )
    return {"all_venues": f"{archive};{rest}", "binance_only": archive}


def _daily_cost(
    work: Path, mirror: Path, urls: dict[str, str], coins: list[str], end: date, history: int
) -> dict[str, Any]:
    """One more day with every venue, and with Binance's archive alone (one run each)."""
    first = end - timedelta(days=history)
    measured: dict[str, Any] = {}
    for name, universe in _universes(coins).items():
        settings = Settings(
            warehouse=work / f"warehouse-{name}",
            binance_url=mirror.as_uri() + "/",
            universe=parse_universe(universe),
            venue_urls=urls,
        )
        materialize(settings, first, end - timedelta(days=1))
        seconds, cpu_seconds, _ = materialize(settings, end, end)
        measured[name] = {
            "universe": universe,
            "wall_s": round(seconds, 2),
            "cpu_s": round(cpu_seconds, 2),
        }
    measured["ratio"] = round(
        measured["all_venues"]["wall_s"] / measured["binance_only"]["wall_s"], 3
    )
    measured["day"] = end.isoformat()
    measured["history_days"] = history
    return measured

"""``treadmill demo``: simulate a market, serve it locally and build the warehouse from it."""

import json
import sys
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.common import WarehouseOption, console, error_exit, load_settings
from pipelines.cli.materialize import print_run_summary
from pipelines.cli.report import write_report
from transforms.endpoints import RateLimit
from transforms.settings import Settings, format_universe, parse_universe

DEMO_START = date(2024, 2, 1)
"""The demo's first day. Its 60 days end on 2024-03-31, the last day Binance published USDⓈ-M
liquidation snapshots, so every dataset of the archive exists for them."""
DEMO_ARCHIVE_UNIVERSE = (
    "binance_um:BTCUSDT,ETHUSDT,SOLUSDT;binance_cm:BTCUSD_PERP;binance_spot:BTCUSDT,ETHUSDT,SOLUSDT"
)
"""The demo's Binance archive instruments."""
DEMO_REST_UNIVERSE = (
    "bitmex:XBTUSD,ETHUSD,SOLUSD;bybit:BTCUSDT,ETHUSDT,SOLUSDT;"
    "okx:BTC-USDT-SWAP,ETH-USDT-SWAP,SOL-USDT-SWAP"
)
"""The same three coins on the venues read from REST history."""
DEMO_HYPERLIQUID_UNIVERSE = "hyperliquid:BTC,ETH,SOL"
"""The same coins on Hyperliquid, read from a mirror of its archive (its fills start in 2025, so
the demo's 2024 days have its funding, open interest and prices)."""
DEMO_CFTC_UNIVERSE = "cftc:133741,133742"
"""CME's Bitcoin and Micro Bitcoin futures in CFTC's Commitments of Traders, read from the
simulator's mirror of www.cftc.gov (``<mirror>/cftc/``)."""
DEMO_UNIVERSE = (
    f"{DEMO_ARCHIVE_UNIVERSE};{DEMO_REST_UNIVERSE};{DEMO_HYPERLIQUID_UNIVERSE};{DEMO_CFTC_UNIVERSE}"
)
DEMO_VENUE_LIMIT = (50, 1.0)
"""Requests per second the demo's local venue server allows each venue, and the pace the demo
keeps to: the simulated venues are local, so the demo need not wait out OKX's 5 per 2 s."""


def demo_settings(base: Settings, mirror: Path, venue_urls: Mapping[str, str]) -> Settings:
    """The settings the demo builds with: ``base``'s warehouse and limits, the demo's universe,
    Binance's, Hyperliquid's and CFTC's archives read from the simulated ``mirror``, and the
    REST venues from the local venue server at ``venue_urls`` (by venue key), at the pace that
    server allows (:data:`DEMO_VENUE_LIMIT`)."""
    requests, seconds = DEMO_VENUE_LIMIT
    return Settings(
        warehouse=base.warehouse,
        binance_url=mirror.as_uri() + "/",
        universe=parse_universe(DEMO_UNIVERSE),
        limits=base.limits,
        venue_urls=dict(venue_urls),
        venue_rates={key: RateLimit(requests, seconds) for key in venue_urls},
        hyperliquid_url=(mirror / "hyperliquid").as_uri() + "/",
        cftc_url=(mirror / "cftc").as_uri() + "/",
    )


def demo(
    warehouse: WarehouseOption = None,
    days: Annotated[
        int, typer.Option(min=1, max=60, help="Days to simulate (from 2024-02-01).")
    ] = 60,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
) -> None:
    """Simulate 60 days of a treadmill market into a local mirror and build the warehouse."""
    from pipelines.runner import materialize_range
    from simulator.run import SimConfig, simulate_archive
    from simulator.venue_server import VENUE_PREFIXES, serve_venues
    from transforms.report.data import ReportDataError, ReportRequest

    base = load_settings(warehouse, None)
    mirror = base.warehouse / "mirror"
    end = DEMO_START + timedelta(days=days - 1)
    config = SimConfig(out=mirror, start=DEMO_START, end=end, seed=seed)
    fingerprint = mirror / "truth" / "demo.json"
    wanted = json.dumps({"start": str(DEMO_START), "end": str(end), "seed": seed, "venues": 3})
    if not fingerprint.exists() or fingerprint.read_text() != wanted:
        console.print(f"simulating {days} days of the treadmill scenario into {mirror} …")
        summary = simulate_archive(config)
        fingerprint.write_text(wanted)
        console.print(f"  {summary.files} archive files, {summary.liquidations:,} liquidations")
    else:
        console.print(f"re-using the simulated archive in {mirror}")
    with serve_venues(mirror, dict.fromkeys(VENUE_PREFIXES.values(), DEMO_VENUE_LIMIT)) as venues:
        settings = demo_settings(base, mirror, venues.treadmill_urls())
        console.print(
            f"materialising {DEMO_START}…{end} for {format_universe(settings.universe)} through "
            f"Dagster; BitMEX, Bybit and OKX from the simulated venues at {venues.base_url}"
        )
        run = materialize_range(settings, DEMO_START, end)
    print_run_summary(run)
    console.print(f"\nwarehouse: {settings.warehouse}")
    console.print(f"lake:      {settings.lake_root}")
    console.print(f"catalog:   {settings.catalog_path} (open it read-only)")
    # The command as this user invoked it (``.venv/bin/treadmill`` under make), so it pastes.
    command = sys.argv[0] if Path(sys.argv[0]).name == "treadmill" else "treadmill"
    console.print(
        f'try:       {command} sql "select symbol, count(*) as minutes, min(low), max(high) '
        'from fct_price_1m group by symbol order by symbol"'
    )
    try:
        written = write_report(
            settings.lake_root,
            ReportRequest("binance_um", "BTCUSDT", DEMO_START, end),
            settings.report_root,
        )
    except ReportDataError as exc:
        raise error_exit("no report", exc, 1) from exc
    console.print(f"report:    {written.files.html}")
    if not run.ok or written.failures:
        raise typer.Exit(1)

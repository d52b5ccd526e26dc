"""The demo's settings: every source read from the simulated mirror or the local venue server."""

from pathlib import Path

from pipelines.cli.demo import demo_settings
from simulator.venue_server import VENUE_PREFIXES
from tests.conftest import FAST_LIMITS
from transforms.endpoints import RateLimit
from transforms.settings import Settings, parse_universe


def test_the_demo_reads_the_mirror_and_the_local_venues_into_the_given_warehouse(
    tmp_path: Path,
) -> None:
    base = Settings(
        warehouse=tmp_path / "warehouse",
        binance_url="https://data.binance.vision/",
        universe=parse_universe("binance_um:XRPUSDT"),
        limits=FAST_LIMITS,
    )
    mirror = tmp_path / "warehouse" / "mirror"
    venue_urls = {key: f"http://127.0.0.1:8123/{prefix}/" for key, prefix in VENUE_PREFIXES.items()}

    settings = demo_settings(base, mirror, venue_urls)

    assert settings.warehouse == tmp_path / "warehouse"
    assert settings.limits == FAST_LIMITS
    assert settings.binance_url == f"file://{mirror}/"
    assert settings.hyperliquid_url == f"file://{mirror}/hyperliquid/"
    assert settings.cftc_url == f"file://{mirror}/cftc/"
    assert settings.venue_urls == venue_urls
    # The local server allows 50 requests a second per venue; the demo keeps to that pace.
    assert settings.venue_rates == dict.fromkeys(
        ["binance_api", "bitmex", "bybit", "okx"], RateLimit(50, 1.0)
    )
    # The three coins everywhere, whatever the base universe says.
    assert settings.universe == {
        "binance_um": ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
        "binance_cm": ("BTCUSD_PERP",),
        "binance_spot": ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
        "bitmex": ("XBTUSD", "ETHUSD", "SOLUSD"),
        "bybit": ("BTCUSDT", "ETHUSDT", "SOLUSDT"),
        "okx": ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP"),
        "hyperliquid": ("BTC", "ETH", "SOL"),
        "cftc": ("133741", "133742"),
    }

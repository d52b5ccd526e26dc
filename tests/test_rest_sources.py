"""REST venue endpoints: reading each venue's documented response shape into staged rows."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from transforms.endpoints import PageShapeError, RateLimit, RateLimitedError
from transforms.instruments import coin_of
from transforms.schemas import FUNDING_RATE, METRICS
from transforms.settings import ConfigError, Settings, parse_universe
from transforms.sources import DATASETS, dataset
from transforms.sources.rest import settlement_intervals

FIXTURES = Path(__file__).parent / "data" / "venues"
H = 3_600_000


def body(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def staged(exchange: str, name: str, fixture: str, symbol: str) -> list[dict[str, Any]]:
    endpoint = dataset(exchange, name).endpoint
    assert endpoint is not None
    content = endpoint.unpack(body(fixture))
    table = endpoint.to_table(content.records, exchange, symbol, "src")
    return table.to_pylist()


def test_bitmex_funding_reads_iso_instants_and_the_interval_encoded_as_an_instant() -> None:
    rows = staged("bitmex", "funding_rate", "bitmex_funding", "XBTUSD")
    assert [(r["funding_time"], r["funding_rate"], r["funding_interval_hours"]) for r in rows] == [
        (at("2024-02-01T04:00:00"), 0.0001, 8),
        (at("2024-02-01T12:00:00"), 0.000183, 8),
        (at("2024-02-01T20:00:00"), -0.000042, 8),
    ]
    assert {r["exchange"] for r in rows} == {"bitmex"}


def test_bybit_funding_reads_strings_newest_first_and_derives_the_interval() -> None:
    rows = staged("bybit", "funding_rate", "bybit_funding", "BTCUSDT")
    assert [(r["funding_time"], r["funding_rate"], r["funding_interval_hours"]) for r in rows] == [
        (at("2024-02-01T00:00:00"), 0.00012075, 8),
        (at("2024-02-01T08:00:00"), 0.0001, 8),
        (at("2024-02-01T16:00:00"), 0.00006512, 8),
    ]


def test_bybit_open_interest_is_base_units_without_usd_and_pages_by_cursor() -> None:
    endpoint = dataset("bybit", "open_interest").endpoint
    assert endpoint is not None
    content = endpoint.unpack(body("bybit_open_interest"))
    assert content.next_token == "lastid%3D200914781%26lasttime%3D1706745600"
    rows = endpoint.to_table(content.records, "bybit", "BTCUSDT", "src").to_pylist()
    assert [(r["ts"], r["oi_base"], r["oi_usd"]) for r in rows] == [
        (at("2024-02-01T00:00:00"), 52398.0, None),
        (at("2024-02-01T00:05:00"), 52401.111, None),
        (at("2024-02-01T00:10:00"), 52417.873, None),
    ]
    assert rows[0]["taker_buy_sell_ratio"] is None


def test_okx_funding_prefers_the_realized_rate() -> None:
    rows = staged("okx", "funding_rate", "okx_funding", "BTC-USDT-SWAP")
    assert [(r["funding_time"], r["funding_rate"], r["funding_interval_hours"]) for r in rows] == [
        (at("2024-02-01T08:00:00"), 0.00014, 8),  # realizedRate empty: fundingRate
        (at("2024-02-01T16:00:00"), 0.0000998, 8),
    ]


def test_okx_open_interest_takes_coin_and_usd_columns() -> None:
    rows = staged("okx", "open_interest", "okx_open_interest", "BTC-USDT-SWAP")
    assert [(r["ts"], r["oi_base"], r["oi_usd"]) for r in rows] == [
        (at("2024-02-01T00:05:00"), 28530.0, 1223000000.0),
        (at("2024-02-01T00:10:00"), 28541.235, 1224560000.12),
    ]


def test_binance_rest_funding_floors_the_jitter_but_keeps_the_published_instant() -> None:
    rows = staged("binance_um", "funding_rate_rest", "binance_funding_rest", "BTCUSDT")
    assert [r["funding_time"] for r in rows] == [
        at("2024-02-01T00:00:00"),
        at("2024-02-01T08:00:00"),
        at("2024-02-01T16:00:00"),
    ]
    assert rows[2]["calc_time"] == datetime(2024, 2, 1, 16, 0, 0, 2000, tzinfo=UTC)
    assert [r["funding_interval_hours"] for r in rows] == [8, 8, 8]
    assert [r["funding_rate"] for r in rows] == [0.0001, 0.00013371, 0.0000912]


def test_staged_tables_have_the_canonical_schemas() -> None:
    for exchange, name, fixture, schema in (
        ("bitmex", "funding_rate", "bitmex_funding", FUNDING_RATE),
        ("bybit", "open_interest", "bybit_open_interest", METRICS),
        ("okx", "open_interest", "okx_open_interest", METRICS),
    ):
        endpoint = dataset(exchange, name).endpoint
        assert endpoint is not None
        table = endpoint.to_table(endpoint.unpack(body(fixture)).records, exchange, "X", "src")
        assert table.schema == schema


@pytest.mark.parametrize(
    ("exchange", "name", "bad", "message"),
    [
        ("bitmex", "funding_rate", {"error": {"message": "x"}}, "JSON array"),
        ("bitmex", "funding_rate", [{"symbol": "XBTUSD"}], "no 'timestamp'"),
        ("bybit", "funding_rate", {"retCode": 10001, "retMsg": "params error"}, "retCode 10001"),
        ("bybit", "open_interest", {"retCode": 0, "result": {}}, "result.list"),
        ("okx", "open_interest", {"code": "0", "data": [["1706745600000", "1"]]}, r"not \[ts"),
        ("okx", "funding_rate", {"code": "51001", "msg": "Instrument ID does not exist"}, "51001"),
        ("binance_um", "funding_rate_rest", [{"fundingTime": "soon"}], "not an integer"),
    ],
)
def test_unexpected_shapes_are_named(exchange: str, name: str, bad: Any, message: str) -> None:
    endpoint = dataset(exchange, name).endpoint
    assert endpoint is not None
    with pytest.raises(PageShapeError, match=message):
        endpoint.unpack(bad)


def test_in_body_rate_limits_are_retryable() -> None:
    bybit = dataset("bybit", "funding_rate").endpoint
    okx = dataset("okx", "funding_rate").endpoint
    assert bybit is not None
    assert okx is not None
    with pytest.raises(RateLimitedError):
        bybit.unpack({"retCode": 10006, "retMsg": "Too many visits!"})
    with pytest.raises(RateLimitedError):
        okx.unpack({"code": "50011", "msg": "Too Many Requests"})


def test_settlement_intervals_use_the_neighbouring_gaps() -> None:
    hours = [0, 8, 16, 20, 24, 40]
    # 16→20 and 20→24 are 4h; 24→40 is a missed settlement (16h): it takes the gap before.
    assert settlement_intervals([h * H for h in hours], (1, 2, 4, 8)) == [8, 8, 8, 4, 4, 4]
    assert settlement_intervals([5 * H], (1, 2, 4, 8)) == [8]


def test_coins_across_venue_conventions() -> None:
    assert {coin_of(s) for s in ("BTCUSDT", "BTCUSD_PERP", "XBTUSD", "BTC-USDT-SWAP")} == {"BTC"}
    assert coin_of("ETH-USDT-SWAP") == "ETH"
    assert coin_of("1000PEPEUSDT") == "1000PEPE"


def test_a_universe_mixes_venues_with_their_own_tickers(tmp_path: Path) -> None:
    universe = parse_universe(
        "binance_um:BTCUSDT;bitmex:XBTUSD;bybit:BTCUSDT;okx:BTC-USDT-SWAP,ETH-USDT-SWAP"
    )
    assert universe["okx"] == ("BTC-USDT-SWAP", "ETH-USDT-SWAP")
    assert {d.table for d in DATASETS if d.exchange in universe} >= {
        "stg_bitmex_funding_rate",
        "stg_bybit_open_interest",
        "stg_okx_open_interest",
        "stg_binance_um_funding_rate_rest",
    }
    with pytest.raises(ConfigError, match="not a valid ticker"):
        parse_universe("okx:BTC-USDT-SWAP/../x")


def test_venue_urls_and_paces_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TREADMILL_BITMEX_URL", "http://127.0.0.1:9/bitmex")
    monkeypatch.setenv("TREADMILL_OKX_RATE", "20/1")
    settings = Settings.from_env(warehouse=tmp_path, venue_urls="bybit=http://127.0.0.1:9/by/")
    assert settings.venue_urls["bitmex"] == "http://127.0.0.1:9/bitmex/"
    assert settings.venue_urls["bybit"] == "http://127.0.0.1:9/by/"
    assert settings.venue_urls["binance_api"] == "https://fapi.binance.com/"
    assert settings.venue_rates["okx"] == RateLimit(20, 1)
    assert settings.venue_rates["bitmex"] == RateLimit(30, 60)
    monkeypatch.setenv("TREADMILL_OKX_RATE", "fast")
    with pytest.raises(ConfigError, match="TREADMILL_OKX_RATE"):
        Settings.from_env(warehouse=tmp_path)

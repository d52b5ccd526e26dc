"""The simulated venues' REST histories, served over real HTTP on 127.0.0.1.

A five-day simulated archive (two coins, across a month end) writes BitMEX, Bybit, OKX and
Binance REST histories beside it; :func:`simulator.venue_server.serve_venues` serves them. These
tests request pages as a REST client would and check the venues' exact shapes and paging, the
400/404/429 answers, the fault hooks, and that the data agrees with the archive and the truth.
"""

import csv
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest

from simulator.markets import market_spec
from simulator.model import simulate_market
from simulator.randomness import seeded_stream
from simulator.run import SimConfig, _common_factor, simulate_archive
from simulator.scenarios import SCENARIOS
from simulator.venue_server import DEFAULT_RATE_LIMITS, VenueServer, serve_venues
from simulator.venues import venue_frames
from transforms.sources import dataset

FIRST, LAST = date(2024, 2, 27), date(2024, 3, 2)
DAYS = (LAST - FIRST).days + 1
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def _ms(day: date, hours: int = 0) -> int:
    return (day - date(1970, 1, 1)).days * DAY_MS + hours * HOUR_MS


START_MS, END_MS = _ms(FIRST), _ms(LAST + timedelta(days=1)) - 1


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulation's out folder: ``data/`` (the archive), ``venues/`` and ``truth/``."""
    out = tmp_path_factory.mktemp("sim")
    simulate_archive(
        SimConfig(
            out=out,
            start=FIRST,
            end=LAST,
            symbols=("BTCUSDT", "ETHUSDT"),
            coin_margined=(),
            spot=(),
            seed=5,
            workers=1,
        )
    )
    return out


@pytest.fixture(scope="module")
def module_server(sim: Path) -> Iterator[VenueServer]:
    with serve_venues(sim, rate_limits=None) as server:
        yield server


@pytest.fixture
def server(module_server: VenueServer) -> VenueServer:
    """The module's server (no rate limits), its log and counters emptied."""
    module_server.reset()
    return module_server


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as http:
        yield http


def _get(
    client: httpx.Client, server: VenueServer, exchange: str, path: str, **params: object
) -> httpx.Response:
    return client.get(server.url(exchange) + path, params={k: str(v) for k, v in params.items()})


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def _truth_funding(sim: Path, exchange: str, symbol: str) -> list[tuple[int, float]]:
    frame = pl.read_parquet(sim / "truth" / "venues_funding.parquet").filter(
        (pl.col("exchange") == exchange) & (pl.col("symbol") == symbol)
    )
    return list(
        zip(
            frame["funding_time"].dt.epoch("ms").to_list(),
            frame["funding_rate"].to_list(),
            strict=True,
        )
    )


def _truth_oi(sim: Path, exchange: str, symbol: str) -> pl.DataFrame:
    return pl.read_parquet(sim / "truth" / "venues_open_interest.parquet").filter(
        (pl.col("exchange") == exchange) & (pl.col("symbol") == symbol)
    )


# Files and truth


def test_venue_files_land_beside_the_archive_with_their_truth(sim: Path) -> None:
    files = sorted(p.relative_to(sim).as_posix() for p in (sim / "venues").rglob("*"))
    files = [f for f in files if f.endswith(".parquet")]
    assert files == [
        "venues/binance_um/funding/BTCUSDT.parquet",
        "venues/binance_um/funding/ETHUSDT.parquet",
        "venues/bitmex/funding/ETHUSD.parquet",
        "venues/bitmex/funding/XBTUSD.parquet",
        "venues/bybit/funding/BTCUSDT.parquet",
        "venues/bybit/funding/ETHUSDT.parquet",
        "venues/bybit/open_interest/BTCUSDT.parquet",
        "venues/bybit/open_interest/ETHUSDT.parquet",
        "venues/okx/funding/BTC-USDT-SWAP.parquet",
        "venues/okx/funding/ETH-USDT-SWAP.parquet",
        "venues/okx/open_interest/BTC-USDT-SWAP.parquet",
        "venues/okx/open_interest/ETH-USDT-SWAP.parquet",
    ]
    assert not list((sim / "data").rglob("*.parquet"))
    funding = pl.read_parquet(sim / "truth" / "venues_funding.parquet")
    assert funding.schema == pl.Schema(
        {
            "exchange": pl.String(),
            "symbol": pl.String(),
            "funding_time": pl.Datetime("ms", "UTC"),
            "funding_rate": pl.Float64(),
            "funding_interval_hours": pl.Int64(),
        }
    )
    # Three settlements a day on every venue, for each coin.
    counts = funding.group_by("exchange", "symbol").len()
    assert set(funding["exchange"]) == {"binance_um", "bitmex", "bybit", "okx"}
    assert counts.height == 8
    assert set(counts["len"]) == {3 * DAYS}
    oi = pl.read_parquet(sim / "truth" / "venues_open_interest.parquet")
    assert oi.columns == ["exchange", "symbol", "ts", "oi_base", "oi_usd"]
    assert oi.group_by("exchange", "symbol").len()["len"].to_list() == [288 * DAYS] * 4
    # Binance's REST settlements are the archive's: truth/funding.parquet, rate for rate.
    binance = pl.read_parquet(sim / "truth" / "funding.parquet").filter(
        pl.col("symbol") == "BTCUSDT"
    )
    assert _truth_funding(sim, "binance_um", "BTCUSDT") == list(
        zip(binance["funding_ms"].to_list(), binance["funding_rate"].to_list(), strict=True)
    )


def test_venues_track_binance_with_their_own_deviations() -> None:
    """Ten days of the treadmill: venues agree on the regime but not to the digit."""
    config = SimConfig(out=Path("unused"), start=date(2024, 2, 1), end=date(2024, 2, 10))
    tape = simulate_market(
        market_spec("BTCUSDT"),
        SCENARIOS["treadmill"],
        config.start,
        config.days,
        _common_factor(config),
        seeded_stream(config.seed, "BTCUSDT"),
    )
    frames = venue_frames(tape, config.seed)
    binance_oi = tape.metrics[:, 0]
    for exchange, column, share in (("bybit", "open_interest", 0.55), ("okx", "oi_ccy", 0.35)):
        symbol = "BTCUSDT" if exchange == "bybit" else "BTC-USDT-SWAP"
        ratio = frames[(exchange, "open_interest", symbol)][column].to_numpy() / binance_oi
        assert share * 0.93 < ratio.mean() < share * 1.07
        assert 0.001 < ratio.std() / ratio.mean() < 0.05
    rates = {
        exchange: frames[(exchange, "funding", symbol)]["funding_rate"].to_numpy()
        for exchange, symbol in (
            ("binance_um", "BTCUSDT"),
            ("bitmex", "XBTUSD"),
            ("bybit", "BTCUSDT"),
            ("okx", "BTC-USDT-SWAP"),
        )
    }
    assert all(r.size == 30 for r in rates.values())
    for exchange in ("bitmex", "bybit", "okx"):
        # Crowded stretches lift every venue's funding off the anchor, by its own amount.
        assert np.corrcoef(rates[exchange], rates["binance_um"])[0, 1] > 0.5
        assert not np.array_equal(rates[exchange], rates["binance_um"])
        assert (rates[exchange] > 0.00011).sum() >= 3
        assert np.abs(rates[exchange]).max() <= 0.003


# BitMEX


def _bitmex_times(day: date) -> list[str]:
    return [f"{day.isoformat()}T{hour:02d}:00:00.000Z" for hour in (4, 12, 20)]


def test_bitmex_settles_at_04_12_20_with_iso_timestamps(
    server: VenueServer, client: httpx.Client, sim: Path
) -> None:
    rows = _ok(
        _get(
            client,
            server,
            "bitmex",
            "api/v1/funding",
            symbol="XBTUSD",
            startTime="2024-02-27T00:00:00.000Z",
            endTime="2024-03-02T23:59:59.999Z",
            count=500,
            reverse="false",
        )
    )
    days = [FIRST + timedelta(days=k) for k in range(DAYS)]
    assert [r["timestamp"] for r in rows] == [t for d in days for t in _bitmex_times(d)]
    assert {r["symbol"] for r in rows} == {"XBTUSD"}
    assert {r["fundingInterval"] for r in rows} == {"2000-01-01T08:00:00.000Z"}
    for row in rows:
        assert isinstance(row["fundingRate"], float | int)
        assert row["fundingRateDaily"] == pytest.approx(3 * row["fundingRate"], abs=1e-6)
    truth = _truth_funding(sim, "bitmex", "XBTUSD")
    assert [r["fundingRate"] for r in rows] == [rate for _, rate in truth]
    # Both bounds are inclusive; reverse gives the newest first.
    inclusive = _ok(
        _get(
            client,
            server,
            "bitmex",
            "api/v1/funding",
            symbol="XBTUSD",
            startTime="2024-02-28T04:00:00.000Z",
            endTime="2024-02-28T20:00:00.000Z",
        )
    )
    assert [r["timestamp"] for r in inclusive] == _bitmex_times(date(2024, 2, 28))
    newest = _ok(
        _get(client, server, "bitmex", "api/v1/funding", symbol="XBTUSD", count=2, reverse="true")
    )
    assert [r["timestamp"] for r in newest] == _bitmex_times(LAST)[::-1][:2]


def test_bitmex_pages_forward_by_start_time(
    server: VenueServer, client: httpx.Client, sim: Path
) -> None:
    seen: list[str] = []
    start = "2024-02-27T00:00:00.000Z"
    while True:
        page = _ok(
            _get(
                client,
                server,
                "bitmex",
                "api/v1/funding",
                symbol="ETHUSD",
                startTime=start,
                endTime="2024-03-02T23:59:59.999Z",
                count=4,
            )
        )
        seen += [r["timestamp"] for r in page]
        if len(page) < 4:
            break
        last = datetime.fromisoformat(page[-1]["timestamp"].replace("Z", "+00:00"))
        start = (last + timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert len(seen) == len(set(seen)) == 3 * DAYS
    assert seen == sorted(seen)
    assert len(server.log("bitmex")) == 4  # 4 + 4 + 4 + 3 rows
    second = server.log("bitmex")[1]
    assert second.params["startTime"] == "2024-02-28T04:00:00.001Z"
    assert second.path == "api/v1/funding"
    assert "startTime=2024-02-28T04%3A00%3A00.001Z" in second.query


# Bybit


def test_bybit_funding_is_strings_newest_first_and_pages_back(
    server: VenueServer, client: httpx.Client, sim: Path
) -> None:
    params = {"category": "linear", "symbol": "BTCUSDT", "startTime": START_MS}
    whole = _ok(
        _get(client, server, "bybit", "v5/market/funding/history", endTime=END_MS, **params)
    )
    assert whole["retCode"] == 0
    assert whole["retMsg"] == "OK"
    listed = whole["result"]["list"]
    assert whole["result"]["category"] == "linear"
    assert all(isinstance(v, str) for row in listed for v in row.values())
    stamps = [int(r["fundingRateTimestamp"]) for r in listed]
    assert stamps == sorted(stamps, reverse=True)
    assert stamps[0] == _ms(LAST, 16)
    assert stamps[-1] == START_MS
    truth = _truth_funding(sim, "bybit", "BTCUSDT")
    assert [(int(r["fundingRateTimestamp"]), float(r["fundingRate"])) for r in listed] == truth[
        ::-1
    ]
    assert "0.0001" in {r["fundingRate"] for r in listed}
    # Client paging: the next endTime is the oldest timestamp of the page − 1.
    seen: list[int] = []
    end = END_MS
    while True:
        page = _ok(
            _get(
                client, server, "bybit", "v5/market/funding/history", endTime=end, limit=4, **params
            )
        )["result"]["list"]
        seen += [int(r["fundingRateTimestamp"]) for r in page]
        if len(page) < 4:
            break
        end = int(page[-1]["fundingRateTimestamp"]) - 1
    assert seen == stamps


def _bybit_oi_day(
    client: httpx.Client, server: VenueServer, day: date, limit: int, interval: str = "5min"
) -> list[dict[str, Any]]:
    params: dict[str, object] = {
        "category": "linear",
        "symbol": "ETHUSDT",
        "intervalTime": interval,
        "startTime": _ms(day),
        "endTime": _ms(day + timedelta(days=1)) - 1,
        "limit": limit,
    }
    pages: list[dict[str, Any]] = []
    cursor = ""
    while True:
        extra = {"cursor": cursor} if cursor else {}
        body = _ok(_get(client, server, "bybit", "v5/market/open-interest", **params, **extra))
        pages.append(body["result"])
        cursor = body["result"]["nextPageCursor"]
        if not cursor:
            return pages


@pytest.mark.parametrize(("limit", "sizes"), [(200, [200, 88]), (96, [96, 96, 96])])
def test_bybit_open_interest_cursor_returns_every_5_minutes_of_a_day_once(
    server: VenueServer, client: httpx.Client, sim: Path, limit: int, sizes: list[int]
) -> None:
    day = date(2024, 2, 29)
    pages = _bybit_oi_day(client, server, day, limit)
    assert [len(p["list"]) for p in pages] == sizes
    rows = [row for page in pages for row in page["list"]]
    stamps = [int(r["timestamp"]) for r in rows]
    assert stamps == [_ms(day) + 300_000 * k for k in range(288)][::-1]
    assert all(isinstance(r["openInterest"], str) for r in rows)
    assert all(len(r["openInterest"].split(".")[1]) == 8 for r in rows)
    truth = _truth_oi(sim, "bybit", "ETHUSDT").filter(pl.col("ts").dt.date() == day)
    assert [float(r["openInterest"]) for r in rows[::-1]] == truth["oi_base"].to_list()
    # The cursor is opaque and every page repeats the other parameters.
    log = server.log("bybit")
    assert len(log) == len(sizes)
    assert "cursor" not in log[0].params
    for previous, request in zip(pages, log[1:], strict=False):
        assert request.params["cursor"] == previous["nextPageCursor"]
        assert not request.params["cursor"].isdigit()
        assert {k: v for k, v in request.params.items() if k != "cursor"} == log[0].params


def test_bybit_open_interest_hourly_interval_and_bad_cursor(
    server: VenueServer, client: httpx.Client
) -> None:
    day = date(2024, 3, 1)
    (page,) = _bybit_oi_day(client, server, day, 200, interval="1h")
    assert [int(r["timestamp"]) for r in page["list"]] == [_ms(day, h) for h in range(24)][::-1]
    bad = _get(
        client,
        server,
        "bybit",
        "v5/market/open-interest",
        category="linear",
        symbol="ETHUSDT",
        intervalTime="5min",
        cursor="not-a-cursor",
    )
    assert bad.status_code == 400
    assert bad.json()["retCode"] == 10001


# OKX


def test_okx_funding_after_and_before_are_strictly_exclusive(
    server: VenueServer, client: httpx.Client, sim: Path
) -> None:
    path = "api/v5/public/funding-rate-history"
    after, before = _ms(date(2024, 3, 1), 8), _ms(date(2024, 2, 28), 16)
    body = _ok(
        _get(client, server, "okx", path, instId="BTC-USDT-SWAP", after=after, before=before)
    )
    assert body["code"] == "0"
    times = [int(r["fundingTime"]) for r in body["data"]]
    # Strictly between 02-28 16:00 and 03-01 08:00: 02-29 00/08/16 and 03-01 00.
    assert times == [
        _ms(date(2024, 3, 1)),
        _ms(date(2024, 2, 29), 16),
        _ms(date(2024, 2, 29), 8),
        _ms(date(2024, 2, 29)),
    ]
    row = body["data"][0]
    assert all(isinstance(v, str) for v in row.values())
    assert row["instType"] == "SWAP"
    assert row["instId"] == "BTC-USDT-SWAP"
    assert row["realizedRate"] == row["fundingRate"]
    # Paging: the next `after` is the oldest fundingTime of the page.
    seen: list[int] = []
    cursor = END_MS + 1
    while True:
        page = _ok(
            _get(
                client,
                server,
                "okx",
                path,
                instId="BTC-USDT-SWAP",
                after=cursor,
                before=START_MS - 1,
                limit=4,
            )
        )["data"]
        seen += [int(r["fundingTime"]) for r in page]
        if len(page) < 4:
            break
        cursor = int(page[-1]["fundingTime"])
    truth = _truth_funding(sim, "okx", "BTC-USDT-SWAP")
    assert seen == [t for t, _ in truth][::-1]


def test_okx_open_interest_rows_are_contracts_base_and_usd_strings(
    server: VenueServer, client: httpx.Client, sim: Path
) -> None:
    begin = _ms(date(2024, 2, 28), 10)
    body = _ok(
        _get(
            client,
            server,
            "okx",
            "api/v5/rubik/stat/contracts/open-interest-history",
            instId="BTC-USDT-SWAP",
            period="5m",
            begin=begin,
            end=begin + 600_000,
        )
    )
    rows = body["data"]
    assert [int(r[0]) for r in rows] == [begin + 600_000, begin + 300_000, begin]
    truth = _truth_oi(sim, "okx", "BTC-USDT-SWAP").filter(
        pl.col("ts").dt.epoch("ms").is_between(begin, begin + 600_000)
    )
    for row, (base, usd) in zip(
        rows[::-1], truth.select("oi_base", "oi_usd").iter_rows(), strict=True
    ):
        assert all(isinstance(v, str) for v in row)
        contracts, ccy, usd_text = float(row[1]), float(row[2]), float(row[3])
        assert ccy == pytest.approx(contracts * 0.01, abs=1e-9)
        assert (ccy, usd_text) == (base, usd)
        assert 60_000 < usd_text / ccy < 120_000
    # The simulated share: about 0.35 of Binance's open interest.
    bybit = _truth_oi(sim, "bybit", "BTCUSDT")["oi_base"].to_numpy()
    okx = _truth_oi(sim, "okx", "BTC-USDT-SWAP")["oi_base"].to_numpy()
    assert 0.35 / 0.55 * 0.85 < (okx / bybit).mean() < 0.35 / 0.55 * 1.15


# Binance USDⓈ-M REST


def _archive_funding(sim: Path, symbol: str) -> list[tuple[int, float]]:
    rows: list[tuple[int, float]] = []
    for month in (date(2024, 2, 1), date(2024, 3, 1)):
        path = sim / dataset("binance_um", "funding_rate").archive_path(symbol, month)
        with zipfile.ZipFile(path) as archive:
            (member,) = archive.namelist()
            text = archive.read(member).decode()
        rows += [
            (int(r["calc_time"]), float(r["last_funding_rate"]))
            for r in csv.DictReader(io.StringIO(text))
        ]
    return rows


def test_binance_rest_funding_is_the_archive_monthly_files_rows(
    server: VenueServer, client: httpx.Client, sim: Path
) -> None:
    rows: list[dict[str, Any]] = []
    start = START_MS
    while True:
        page = _ok(
            _get(
                client,
                server,
                "binance_um",
                "fapi/v1/fundingRate",
                symbol="ETHUSDT",
                startTime=start,
                endTime=END_MS,
                limit=4,
            )
        )
        rows += page
        if len(page) < 4:
            break
        start = page[-1]["fundingTime"] + 1
    archive = _archive_funding(sim, "ETHUSDT")
    assert [(r["fundingTime"], float(r["fundingRate"])) for r in rows] == archive
    assert len(archive) == 3 * DAYS
    for row in rows:
        assert isinstance(row["fundingTime"], int)
        assert 0 <= row["fundingTime"] % HOUR_MS < 13
        assert isinstance(row["fundingRate"], str)
        assert len(row["fundingRate"].split(".")[1]) == 8
        assert isinstance(row["markPrice"], str)
        assert 1_000 < float(row["markPrice"]) < 10_000
        assert row["symbol"] == "ETHUSDT"


# Errors, rate limits, faults


@pytest.mark.parametrize(
    ("exchange", "path", "params", "error_key"),
    [
        ("bitmex", "api/v1/funding", {"symbol": "XBTUSD", "count": 501}, "error"),
        (
            "bybit",
            "v5/market/funding/history",
            {"category": "linear", "symbol": "BTCUSDT", "limit": 201},
            "retCode",
        ),
        (
            "bybit",
            "v5/market/open-interest",
            {"category": "linear", "symbol": "BTCUSDT", "intervalTime": "5min", "limit": 201},
            "retCode",
        ),
        (
            "okx",
            "api/v5/public/funding-rate-history",
            {"instId": "BTC-USDT-SWAP", "limit": 101},
            "code",
        ),
        (
            "okx",
            "api/v5/rubik/stat/contracts/open-interest-history",
            {"instId": "BTC-USDT-SWAP", "limit": 101},
            "code",
        ),
        ("binance_um", "fapi/v1/fundingRate", {"symbol": "BTCUSDT", "limit": 1001}, "code"),
    ],
)
def test_a_limit_over_the_venue_maximum_is_400(
    server: VenueServer,
    client: httpx.Client,
    exchange: str,
    path: str,
    params: dict[str, object],
    error_key: str,
) -> None:
    response = _get(client, server, exchange, path, **params)
    assert response.status_code == 400
    assert error_key in response.json()
    at_max = {k: (int(str(v)) - 1 if k in ("count", "limit") else v) for k, v in params.items()}
    assert _get(client, server, exchange, path, **at_max).status_code == 200


def test_unknown_paths_are_404_and_unknown_symbols_empty(
    server: VenueServer, client: httpx.Client
) -> None:
    assert _get(client, server, "bybit", "v5/market/tickers").status_code == 404
    assert client.get(server.base_url + "kraken/api/v1/funding").status_code == 404
    empty = _get(client, server, "binance_um", "fapi/v1/fundingRate", symbol="DOGEUSDT")
    assert _ok(empty) == []


def test_rate_limit_answers_429_with_retry_after_then_serves(
    sim: Path, client: httpx.Client
) -> None:
    with serve_venues(sim, rate_limits={"okx": (5, 1.0)}) as server:
        assert server.rate_limits == {"okx": (5, 1.0)}

        def funding() -> httpx.Response:
            return _get(
                client, server, "okx", "api/v5/public/funding-rate-history", instId="BTC-USDT-SWAP"
            )

        began = time.monotonic()
        assert [funding().status_code for _ in range(5)] == [200] * 5
        refused = funding()
        assert refused.status_code == 429
        assert refused.json() == {"error": "rate limited"}
        wait = float(refused.headers["Retry-After"])
        assert 0 < wait <= 1.0
        # The first request leaves the window 1 s (less 25 ms of grace) after it arrived.
        assert 0.974 <= time.monotonic() - began + wait < 1.5
        # Other venues have no limit here; refused requests do not extend the window.
        assert all(
            _get(client, server, "bitmex", "api/v1/funding", symbol="XBTUSD").status_code == 200
            for _ in range(8)
        )
        time.sleep(wait)
        assert funding().status_code == 200
        assert server.served["okx"] == 6
        assert server.refused == {"bitmex": 0, "bybit": 0, "okx": 1, "binance_um": 0}
        assert [r.status for r in server.log("okx")] == [200] * 5 + [429, 200]
        assert server.log("okx")[5].outcome == "refused"


def test_default_limits_are_the_venues_documented_ones(sim: Path) -> None:
    assert dict(DEFAULT_RATE_LIMITS) == {
        "bitmex": (30, 60.0),
        "bybit": (600, 5.0),
        "okx:funding": (10, 2.0),
        "okx:open_interest": (5, 2.0),
        "binance_um": (500, 300.0),
    }
    with serve_venues(sim) as server, httpx.Client() as http:
        oi = server.url("okx") + "api/v5/rubik/stat/contracts/open-interest-history"
        statuses = [http.get(oi, params={"instId": "BTC-USDT-SWAP"}).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        # OKX's funding endpoint has a window of its own.
        funding = server.url("okx") + "api/v5/public/funding-rate-history"
        assert http.get(funding, params={"instId": "BTC-USDT-SWAP"}).status_code == 200


def test_injected_faults_and_overrides_answer_the_next_requests(
    server: VenueServer, client: httpx.Client
) -> None:
    oi: dict[str, object] = {
        "category": "linear",
        "symbol": "BTCUSDT",
        "intervalTime": "5min",
        "limit": 1,
    }
    server.fail_next("bybit", 503, times=2, path="v5/market/open-interest", retry_after=0.25)
    funding = _get(
        client, server, "bybit", "v5/market/funding/history", category="linear", symbol="BTCUSDT"
    )
    assert funding.status_code == 200  # another path: not affected
    for _ in range(2):
        failed = _get(client, server, "bybit", "v5/market/open-interest", **oi)
        assert failed.status_code == 503
        assert failed.headers["Retry-After"] == "0.25"
    assert _get(client, server, "bybit", "v5/market/open-interest", **oi).status_code == 200
    server.override_next("okx", b'{"code":"50011","msg":"Too Many Requests","data":[]}')
    overridden = _get(client, server, "okx", "api/v5/public/funding-rate-history", instId="X")
    assert overridden.status_code == 200
    assert overridden.json()["code"] == "50011"
    assert server.injected["bybit"] == 2
    assert server.injected["okx"] == 1
    assert server.served["bybit"] == 2
    assert [r.outcome for r in server.log("bybit")] == ["served", "injected", "injected", "served"]


# Determinism, and the archive is untouched


def _tree(root: Path, folder: str) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / folder).rglob("*"))
        if p.is_file()
    }


def _venue_tables(root: Path) -> dict[str, pl.DataFrame]:
    paths = [*sorted((root / "venues").rglob("*.parquet")), *sorted(root.glob("truth/venues_*"))]
    return {p.relative_to(root).as_posix(): pl.read_parquet(p) for p in paths}


def test_venue_data_is_deterministic_and_leaves_the_archive_as_it_was(tmp_path: Path) -> None:
    base = SimConfig(
        out=tmp_path / "a",
        start=date(2024, 2, 1),
        end=date(2024, 2, 2),
        symbols=("SOLUSDT",),
        coin_margined=(),
        spot=(),
        funding_intervals=(("SOLUSDT", 4),),
        workers=1,
    )
    runs = {
        name: simulate_archive(replace(config, out=tmp_path / name))
        for name, config in (
            ("a", base),
            ("b", base),
            ("other_seed", replace(base, seed=base.seed + 1)),
            ("no_venues", replace(base, venues=False)),
        )
    }
    assert len(runs) == 4
    first, again = _venue_tables(tmp_path / "a"), _venue_tables(tmp_path / "b")
    assert len(first) == 8  # 6 venue files and 2 truth files
    assert first.keys() == again.keys()
    assert all(first[name].equals(again[name]) for name in first)
    other = _venue_tables(tmp_path / "other_seed")
    okx_oi = "venues/okx/open_interest/SOL-USDT-SWAP.parquet"
    assert not first[okx_oi].equals(other[okx_oi])
    # The venue output changes nothing the archive holds, and can be switched off.
    assert _tree(tmp_path / "a", "data") == _tree(tmp_path / "no_venues", "data")
    assert not (tmp_path / "no_venues" / "venues").exists()
    assert not list((tmp_path / "no_venues" / "truth").glob("venues_*"))
    config = json.loads((tmp_path / "a" / "truth" / "config.json").read_text())
    assert config["venues"] is True
    # A 4-hour symbol settles every 4 hours on Bybit and OKX; BitMEX keeps 04/12/20.
    funding = first["truth/venues_funding.parquet"]
    per_day = dict(funding.group_by("exchange").len().iter_rows())
    assert per_day == {"binance_um": 12, "bybit": 12, "okx": 12, "bitmex": 6}
    assert set(funding.filter(pl.col("exchange") != "bitmex")["funding_interval_hours"]) == {4}
    okx = first[okx_oi]
    assert (okx["oi_ccy"] == okx["oi_contracts"]).all()  # SOL: 1 SOL a contract
    bitmex_hours = first["venues/bitmex/funding/SOLUSD.parquet"]["ts"].dt.hour().to_list()
    assert bitmex_hours == [4, 12, 20, 4, 12, 20]
    assert (
        datetime(2024, 2, 1, 4, tzinfo=UTC)
        == first["venues/bitmex/funding/SOLUSD.parquet"]["ts"][0]
    )

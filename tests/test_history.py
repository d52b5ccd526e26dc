"""The paged REST client against the simulator's venues on a real HTTP server on 127.0.0.1."""

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from simulator.venue_server import VenueServer, serve_venues
from tests.conftest import FAST_LIMITS
from tests.runs import simulate_mirror
from transforms.clients import source_client
from transforms.dataset import Dataset
from transforms.endpoints import RateLimit
from transforms.errors import FetchError
from transforms.fetch import Landed, NotPublished
from transforms.history import (
    COMPLETE_FILE,
    PAGE_CHECK,
    HistoryClient,
    Pacer,
    PageError,
    landed_digest,
    parse_chunk,
)
from transforms.settings import Settings, parse_universe
from transforms.sources import dataset
from transforms.staging import stage_dataset

FIRST, LAST = date(2024, 2, 1), date(2024, 2, 3)
FAST_PACE = RateLimit(1000, 1)


@pytest.fixture(scope="module")
def venue_mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate_mirror(
        tmp_path_factory.mktemp("venues"), FIRST, LAST, symbols=("BTCUSDT",), coin_margined=()
    )


@pytest.fixture
def server(venue_mirror: Path) -> Iterator[VenueServer]:
    with serve_venues(venue_mirror, rate_limits=None) as running:
        yield running


def client(
    ds: Dataset,
    server: VenueServer,
    raw: Path,
    pace: RateLimit = FAST_PACE,
    now: Callable[[], datetime] | None = None,
) -> HistoryClient:
    assert ds.endpoint is not None
    return HistoryClient(
        ds,
        server.treadmill_urls()[ds.endpoint.venue.key],
        raw / ds.exchange,
        FAST_LIMITS,
        pacer=Pacer(pace),
        rejected_root=raw.parent / "rejected",
        now=now or (lambda: datetime.now(UTC)),
    )


def truth(mirror: Path, name: str, exchange: str, symbol: str) -> pl.DataFrame:
    frame = pl.read_parquet(mirror / "truth" / f"venues_{name}.parquet")
    return frame.filter((pl.col("exchange") == exchange) & (pl.col("symbol") == symbol))


@pytest.mark.parametrize(
    ("exchange", "name", "symbol", "relpath"),
    [
        ("bitmex", "funding_rate", "XBTUSD", "funding/XBTUSD/2024-02"),
        ("bybit", "funding_rate", "BTCUSDT", "funding/BTCUSDT/2024-02"),
        ("okx", "funding_rate", "BTC-USDT-SWAP", "funding/BTC-USDT-SWAP/2024-02"),
        ("binance_um", "funding_rate_rest", "BTCUSDT", "fapi_funding/BTCUSDT/2024-02"),
    ],
)
def test_funding_chunks_page_through_to_the_simulated_truth(
    server: VenueServer,
    venue_mirror: Path,
    tmp_path: Path,
    exchange: str,
    name: str,
    symbol: str,
    relpath: str,
) -> None:
    ds = dataset(exchange, name)
    with client(ds, server, tmp_path / "raw") as fetcher:
        landed = fetcher.fetch(relpath)
    assert isinstance(landed, Landed)
    assert landed.origin == "downloaded"
    rows = parse_chunk(ds, symbol, landed.path, relpath).table.to_pylist()
    expected = truth(venue_mirror, "funding", exchange, symbol).sort("funding_time")
    assert [r["funding_time"] for r in rows] == expected["funding_time"].to_list()
    assert [r["funding_rate"] for r in rows] == pytest.approx(expected["funding_rate"].to_list())
    assert [r["funding_interval_hours"] for r in rows] == expected[
        "funding_interval_hours"
    ].to_list()


@pytest.mark.parametrize(
    ("exchange", "symbol", "limit"),
    [("bybit", "BTCUSDT", 200), ("okx", "BTC-USDT-SWAP", 100)],
)
def test_a_day_of_open_interest_spans_pages_and_lands_each_verbatim(
    server: VenueServer, venue_mirror: Path, tmp_path: Path, exchange: str, symbol: str, limit: int
) -> None:
    ds = dataset(exchange, "open_interest")
    relpath = f"open_interest/{symbol}/2024-02-02"
    with client(ds, server, tmp_path / "raw") as fetcher:
        landed = fetcher.fetch(relpath)
    assert isinstance(landed, Landed)
    rows = parse_chunk(ds, symbol, landed.path, relpath).table.to_pylist()
    day = datetime(2024, 2, 2, tzinfo=UTC)
    expected = (
        truth(venue_mirror, "open_interest", exchange, symbol)
        .filter((pl.col("ts") >= day) & (pl.col("ts") < datetime(2024, 2, 3, tzinfo=UTC)))
        .sort("ts")
    )
    assert len(rows) == 288 == expected.height
    assert [r["oi_base"] for r in rows] == pytest.approx(expected["oi_base"].to_list())
    requests = server.log(exchange)
    assert len(requests) == -(-288 // limit)  # every page once, none twice
    done = json.loads((landed.path / COMPLETE_FILE).read_text())
    assert done["closed"] is True
    assert len(done["pages"]) == len(requests)
    for page in done["pages"]:
        body = (landed.path / page["file"]).read_bytes()
        request = json.loads(
            (landed.path / page["file"].replace(".json", ".request.json")).read_text()
        )
        assert request["sha256"] == page["sha256"]
        assert request["url"].startswith(server.url(exchange))
        assert request["bytes"] == len(body)


def test_a_closed_chunk_is_reused_without_a_request_and_an_open_one_is_fetched_again(
    server: VenueServer, tmp_path: Path
) -> None:
    ds = dataset("bybit", "funding_rate")
    relpath = "funding/BTCUSDT/2024-02"
    with client(ds, server, tmp_path / "raw") as fetcher:
        first = fetcher.fetch(relpath)
        served = len(server.log("bybit"))
        again = fetcher.fetch(relpath)
    assert isinstance(first, Landed)
    assert isinstance(again, Landed)
    assert again.origin == "reused"
    assert again.sha256 == first.sha256
    assert len(server.log("bybit")) == served
    digest = landed_digest(ds, tmp_path / "raw" / "bybit", relpath, datetime.now(UTC))
    assert digest == first.sha256

    mid_month = datetime(2024, 2, 2, 12, tzinfo=UTC)
    with client(ds, server, tmp_path / "open", now=lambda: mid_month) as fetcher:
        open_chunk = fetcher.fetch(relpath)
    assert isinstance(open_chunk, Landed)
    rows = parse_chunk(ds, "BTCUSDT", open_chunk.path, relpath).table
    assert rows["funding_time"].to_pylist()[-1] == datetime(2024, 2, 2, 8, tzinfo=UTC)
    requests = len(server.log("bybit"))
    later = mid_month + timedelta(hours=9)
    with client(ds, server, tmp_path / "open", now=lambda: later) as fetcher:
        grown = fetcher.fetch(relpath)
    assert isinstance(grown, Landed)
    assert len(server.log("bybit")) > requests  # the venue still adds rows to an open range
    grown_rows = parse_chunk(ds, "BTCUSDT", grown.path, relpath).table
    assert grown_rows["funding_time"].to_pylist()[-1] == datetime(2024, 2, 2, 16, tzinfo=UTC)
    assert isinstance(
        landed_digest(ds, tmp_path / "open" / "bybit", relpath, mid_month), FetchError
    )
    with client(ds, server, tmp_path / "raw", now=lambda: mid_month) as fetcher:
        assert isinstance(fetcher.fetch("funding/BTCUSDT/2024-03"), NotPublished)


def test_a_crash_mid_pagination_resumes_from_the_last_landed_page(
    server: VenueServer, tmp_path: Path
) -> None:
    ds = dataset("okx", "open_interest")
    relpath = "open_interest/BTC-USDT-SWAP/2024-02-02"
    raw = tmp_path / "raw"
    with client(ds, server, raw) as fetcher:
        original_get = fetcher._get_once
        calls = {"n": 0}

        def crash_after_first_page(url: str) -> bytes:
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt  # the process dies between two pages
            return original_get(url)

        fetcher._get_once = crash_after_first_page  # type: ignore[method-assign]
        with pytest.raises(KeyboardInterrupt):
            fetcher.fetch(relpath)
    folder = raw / "okx" / relpath
    assert sorted(p.name for p in folder.iterdir()) == [
        "page-00001.json",
        "page-00001.request.json",
    ]
    first_request = json.loads((folder / "page-00001.request.json").read_text())
    server.reset()
    with client(ds, server, raw) as fetcher:
        landed = fetcher.fetch(relpath)
        assert fetcher.stats.pages_reused == 1
        assert fetcher.stats.pages_fetched == 2
    resumed = server.log("okx")
    assert len(resumed) == 2
    assert f"end={first_request['next']['end_ms']}" in resumed[0].query
    assert isinstance(landed, Landed)
    assert parse_chunk(ds, "BTC-USDT-SWAP", landed.path, relpath).table.num_rows == 288


def body_of_page(server: VenueServer, tmp_path: Path, ds: Dataset, relpath: str) -> bytes:
    with client(ds, server, tmp_path / "scratch") as fetcher:
        landed = fetcher.fetch(relpath)
    assert isinstance(landed, Landed)
    server.reset()
    return (landed.path / "page-00001.json").read_bytes()


def test_bad_pages_are_errors_naming_the_url_and_nothing_completes(
    server: VenueServer, tmp_path: Path
) -> None:
    ds = dataset("bybit", "open_interest")
    relpath = "open_interest/BTCUSDT/2024-02-02"
    first_page = body_of_page(server, tmp_path, ds, relpath)
    cases = {
        "not JSON": (b"<html>502 Bad Gateway</html>", 1),
        "not the expected JSON": (b'{"retCode": 0, "result": {"rows": []}}', 1),
        "repeats the previous one": (first_page, 2),
        "empty page in the middle": (
            json.dumps(
                {"retCode": 0, "result": {"list": [], "nextPageCursor": "more"}, "time": 1}
            ).encode(),
            2,
        ),
    }
    for number, (problem, (body, page)) in enumerate(cases.items()):
        raw = tmp_path / f"raw{number}"
        if page == 2:
            # The first page is the real one; the second is the bad one.
            server.override_next("bybit", first_page)
        server.override_next("bybit", body)
        with client(ds, server, raw) as fetcher, pytest.raises(PageError, match=problem) as error:
            fetcher.fetch(relpath)
        assert "v5/market/open-interest?" in str(error.value)
        assert error.value.check == PAGE_CHECK
        assert not (raw / "bybit" / relpath / COMPLETE_FILE).exists()
        kept = list((tmp_path / "rejected").rglob("page-*.json"))
        assert any(path.read_bytes() == body for path in kept)
        server.reset()


def test_timestamps_outside_the_requested_range_are_refused(
    server: VenueServer, tmp_path: Path
) -> None:
    ds = dataset("bitmex", "funding_rate")
    stray = [
        {
            "timestamp": "2024-03-01T04:00:00.000Z",
            "symbol": "XBTUSD",
            "fundingInterval": "2000-01-01T08:00:00.000Z",
            "fundingRate": 0.0001,
            "fundingRateDaily": 0.0003,
        }
    ]
    server.override_next("bitmex", json.dumps(stray).encode())
    with (
        client(ds, server, tmp_path / "raw") as fetcher,
        pytest.raises(PageError, match="outside the requested range"),
    ):
        fetcher.fetch("funding/XBTUSD/2024-02")


def test_the_venue_limit_is_honoured_with_retry_after_and_the_wait_is_counted(
    server: VenueServer, tmp_path: Path
) -> None:
    ds = dataset("okx", "open_interest")
    server.set_rate_limits({"okx": (2, 0.5)})
    # A client pacing itself faster than the venue allows meets 429s and waits them out.
    with client(ds, server, tmp_path / "eager", pace=RateLimit(100, 1)) as fetcher:
        landed = fetcher.fetch("open_interest/BTC-USDT-SWAP/2024-02-02")
        assert isinstance(landed, Landed)
        assert fetcher.stats.rate_limited == server.refused["okx"] > 0
        assert fetcher.pacer.waited_seconds > 0
    server.reset()
    # Paced to the venue's limit, it is never refused.
    with client(ds, server, tmp_path / "paced", pace=RateLimit(2, 0.5)) as fetcher:
        fetcher.fetch("open_interest/BTC-USDT-SWAP/2024-02-02")
        assert server.refused["okx"] == 0
        assert fetcher.stats.rate_limited == 0
        assert fetcher.pacer.waited_seconds >= 0.25 * 2 * 0.9


def test_server_errors_are_retried_and_client_errors_are_not(
    server: VenueServer, tmp_path: Path
) -> None:
    ds = dataset("bitmex", "funding_rate")
    server.fail_next("bitmex", 503, times=2)
    with client(ds, server, tmp_path / "raw") as fetcher:
        assert isinstance(fetcher.fetch("funding/XBTUSD/2024-02"), Landed)
    server.fail_next("bitmex", 403)
    with (
        client(ds, server, tmp_path / "other") as fetcher,
        pytest.raises(FetchError, match="unexpected HTTP 403"),
    ):
        fetcher.fetch("funding/XBTUSD/2024-02")


def test_staging_quarantines_the_symbol_with_a_bad_page_and_names_it(
    server: VenueServer, tmp_path: Path
) -> None:
    ds = dataset("bybit", "funding_rate")
    settings = Settings(
        warehouse=tmp_path / "warehouse",
        universe=parse_universe("bybit:BTCUSDT,ETHUSDT"),
        limits=replace(FAST_LIMITS, concurrency=1),
        venue_urls=server.treadmill_urls(),
    )
    day = date(2024, 2, 2)
    server.override_next("bybit", b'{"retCode": 0, "result": "maintenance"}')
    with source_client(ds, settings) as fetcher:
        (partition,) = stage_dataset(ds, [day], settings, fetcher)
    records = {record.symbol: record for record in partition.symbols}
    assert records["BTCUSDT"].status == "quarantined"
    assert records["BTCUSDT"].checks_failed == (PAGE_CHECK,)
    # The simulated Bybit does not list ETHUSDT: an empty range, as an archive's 404.
    assert records["ETHUSDT"].status == "not_published"
    report = json.loads(
        (settings.warehouse / "quarantine/bybit/funding_rate/2024-02-02/BTCUSDT.json").read_text()
    )
    assert report["source_file"] == "funding/BTCUSDT/2024-02"
    assert (
        "v5/market/funding/history?category=linear&symbol=BTCUSDT"
        in report["failures"][0]["sample"][0]
    )
    assert partition.rows == 0

    with source_client(ds, settings) as fetcher:
        (again,) = stage_dataset(ds, [day], settings, fetcher)
    assert {r.symbol: r.status for r in again.symbols} == {
        "BTCUSDT": "ok",
        "ETHUSDT": "not_published",
    }
    assert again.rows == 3
    assert not (
        settings.warehouse / "quarantine/bybit/funding_rate/2024-02-02/BTCUSDT.json"
    ).exists()


def test_a_rate_limit_said_in_the_body_is_waited_out_and_retried(
    server: VenueServer, tmp_path: Path
) -> None:
    ds = dataset("bybit", "funding_rate")
    server.override_next("bybit", b'{"retCode": 10006, "retMsg": "Too many visits!"}')
    with client(ds, server, tmp_path / "raw") as fetcher:
        landed = fetcher.fetch("funding/BTCUSDT/2024-02")
        assert fetcher.stats.rate_limited == 1
    assert isinstance(landed, Landed)
    assert len(server.log("bybit")) == 2  # the refused request, then the page


def test_pages_fetched_before_the_range_settled_are_fetched_again(
    server: VenueServer, tmp_path: Path
) -> None:
    ds = dataset("okx", "open_interest")
    relpath = "open_interest/BTC-USDT-SWAP/2024-02-02"
    just_after = datetime(2024, 2, 3, 0, 10, tzinfo=UTC)  # within SETTLE of the day's end
    with client(ds, server, tmp_path / "raw", now=lambda: just_after) as fetcher:
        fetcher.fetch(relpath)
    assert isinstance(landed_digest(ds, tmp_path / "raw" / "okx", relpath, just_after), FetchError)
    first = len(server.log("okx"))
    settled = just_after + timedelta(hours=2)
    with client(ds, server, tmp_path / "raw", now=lambda: settled) as fetcher:
        landed = fetcher.fetch(relpath)
    assert len(server.log("okx")) == 2 * first  # every page again, none resumed
    assert isinstance(landed, Landed)
    assert landed_digest(ds, tmp_path / "raw" / "okx", relpath, settled) == landed.sha256


def test_an_empty_closed_chunk_reads_as_absent_for_resume(
    server: VenueServer, tmp_path: Path
) -> None:
    ds = dataset("bitmex", "funding_rate")
    relpath = "funding/DOGEUSD/2024-02"  # not listed by the simulated BitMEX
    with client(ds, server, tmp_path / "raw") as fetcher:
        assert isinstance(fetcher.fetch(relpath), Landed)
    assert landed_digest(ds, tmp_path / "raw" / "bitmex", relpath, datetime.now(UTC)) is None

"""Recorded liquidation streams: a recorder's raw day, hand-written, staged and made facts."""

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from simulator.stream_server import serve_streams
from simulator.streams import synthetic_messages
from tests.conftest import FAST_LIMITS
from transforms.clients import source_client
from transforms.coverage import coverage_rows
from transforms.facts import FCT_LIQUIDATIONS, build_fact
from transforms.publish import publish_partition
from transforms.recorder import Recorder, RecorderOptions, RecorderStats
from transforms.settings import Settings, parse_universe
from transforms.sources import dataset
from transforms.staging import stage_dataset
from transforms.stream_protocols import binance_stream

DAY = date(2025, 3, 1)


def ms(day: date, hour: int, minute: int = 0, second: int = 0, milli: int = 0) -> int:
    moment = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)
    return int(moment.timestamp() * 1000) + milli


def record(root: Path, venue: str, day: date, hour: int, messages: list[Any]) -> None:
    folder = root / "raw" / "recorder" / venue / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for offset, message in enumerate(messages):
        text = message if isinstance(message, str) else json.dumps(message)
        lines.append(json.dumps({"recv_ms": ms(day, hour) + offset, "raw": text}))
    (folder / f"{hour:02d}.jsonl").write_text("\n".join(lines) + "\n")


def gap(root: Path, venue: str, day: date, start: int, end: int) -> None:
    folder = root / "raw" / "recorder" / venue / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    line = {"from_ms": start, "to_ms": end, "reason": "disconnected: test"}
    with (folder / "gaps.jsonl").open("a") as gaps:
        gaps.write(json.dumps(line) + "\n")


def binance(symbol: str, side: str, qty: str, price: str, at: int) -> dict[str, Any]:
    order = {
        "s": symbol, "S": side, "o": "LIMIT", "f": "IOC", "q": qty, "p": price,
        "ap": price, "X": "FILLED", "l": qty, "z": qty, "T": at,
    }  # fmt: skip
    return {"e": "forceOrder", "E": at + 3, "o": order}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        warehouse=tmp_path,
        universe=parse_universe(
            "binance_um:BTCUSDT,ETHUSDT;bybit:BTCUSDT;okx:BTC-USDT-SWAP,ETH-USDT-SWAP"
        ),
        limits=FAST_LIMITS,
    )


def stage(settings: Settings, exchange: str, day: date = DAY) -> Any:
    ds = dataset(exchange, "liquidation_stream")
    with source_client(ds, settings) as client:
        (partition,) = stage_dataset(ds, [day], settings, client)
    return partition


def staged_rows(settings: Settings, exchange: str, day: date = DAY) -> list[dict[str, Any]]:
    path = settings.lake_root / f"stg_{exchange}_liquidation_stream" / f"date={day}"
    return pq.read_table(path / "data.parquet").to_pylist()


def test_each_venue_side_convention_and_units_become_binance_s(settings: Settings) -> None:
    root = settings.warehouse
    record(
        root,
        "binance_um",
        DAY,
        0,
        [
            binance("BTCUSDT", "SELL", "0.014", "84000.1", ms(DAY, 0, 0, 1)),
            binance("DOGEUSDT", "BUY", "100", "0.2", ms(DAY, 0, 0, 2)),  # not in the universe
            "{not json",
            {"e": "markPriceUpdate"},  # an unknown shape
        ],
    )
    record(
        root,
        "bybit",
        DAY,
        5,
        [
            {"success": True, "ret_msg": "", "conn_id": "c1", "op": "subscribe"},
            {
                "topic": "allLiquidation.BTCUSDT",
                "type": "snapshot",
                "ts": ms(DAY, 5, 0, 1, 200),
                "data": [
                    {
                        "T": ms(DAY, 5, 0, 1),
                        "s": "BTCUSDT",
                        "S": "Buy",
                        "v": "0.003",
                        "p": "84100.5",
                    }
                ],
            },
        ],
    )
    record(
        root,
        "okx",
        DAY,
        7,
        [
            {"event": "subscribe", "arg": {"channel": "liquidation-orders", "instType": "SWAP"}},
            "pong",
            {
                "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
                "data": [
                    {
                        "details": [
                            {"bkLoss": "0", "bkPx": "3000.5", "ccy": "", "posSide": "short",
                             "side": "buy", "sz": "20", "ts": str(ms(DAY, 7, 1))},
                        ],
                        "instFamily": "ETH-USDT", "instId": "ETH-USDT-SWAP", "instType": "SWAP",
                        "uly": "ETH-USDT",
                    }
                ],
            },
        ],
    )  # fmt: skip

    binance_day = stage(settings, "binance_um")
    binance_rows = staged_rows(settings, "binance_um")
    assert [(r["symbol"], r["side"], r["filled_qty_base"], r["price"]) for r in binance_rows] == [
        ("BTCUSDT", "SELL", 0.014, 84000.1)
    ]
    btc = {r.symbol: r for r in binance_day.symbols}["BTCUSDT"]
    assert (btc.status, btc.messages, btc.hours_covered, btc.gap_seconds) == ("ok", 4, 1, 0)
    repaired = next(f for f in btc.report if f["check"] == "values_repaired")
    assert repaired["unexpected_count"] == 2
    assert "binance_um" in repaired["sample"][0]
    assert "00.jsonl line 3" in repaired["sample"][0]

    stage(settings, "bybit")
    # Bybit's Buy names the liquidated long: a SELL forced order in Binance's convention.
    assert [
        (r["side"], r["filled_qty_base"], r["price"]) for r in staged_rows(settings, "bybit")
    ] == [("SELL", 0.003, 84100.5)]
    stage(settings, "okx")
    # 20 contracts of ETH-USDT-SWAP at 0.1 ETH each; a short liquidated: a BUY.
    assert [
        (r["symbol"], r["side"], r["filled_qty_base"]) for r in staged_rows(settings, "okx")
    ] == [("ETH-USDT-SWAP", "BUY", pytest.approx(2.0))]


def test_an_order_received_after_midnight_counts_for_its_own_day(settings: Settings) -> None:
    root = settings.warehouse
    late = ms(DAY, 23, 59, 59, 900)
    record(
        root,
        "binance_um",
        DAY + timedelta(days=1),
        0,
        [binance("BTCUSDT", "BUY", "1", "85000", late)],
    )
    record(root, "binance_um", DAY, 12, [binance("BTCUSDT", "SELL", "2", "84000", ms(DAY, 12))])
    for day in (DAY, DAY + timedelta(days=1)):
        stage(settings, "binance_um", day)
    fact = build_fact(FCT_LIQUIDATIONS, DAY, settings.lake_root)
    assert [(r["liquidated_side"], r["notional_usd"], r["coverage"]) for r in fact.to_pylist()] == [
        ("long", 168000.0, "sampled"),
        ("short", 85000.0, "sampled"),
    ]
    publish_partition(fact, settings.lake_root, FCT_LIQUIDATIONS.name, DAY)


def test_coverage_shows_recorded_hours_gaps_and_messages(settings: Settings) -> None:
    root = settings.warehouse
    for hour in range(24):
        record(root, "bybit", DAY, hour, [{"op": "pong", "success": True, "ret_msg": "pong"}])
    stage(settings, "bybit")
    record(root, "okx", DAY, 0, ["pong"])
    record(root, "okx", DAY, 1, ["pong"])
    gap(root, "okx", DAY, ms(DAY, 1, 30), ms(DAY, 1, 45))
    stage(settings, "okx")
    table = coverage_rows(settings, DAY, datetime(2025, 3, 5, tzinfo=UTC)).to_pylist()
    cells = {(r["exchange"], r["symbol"]): r for r in table if r["dataset"] == "liquidation_stream"}
    bybit = cells["bybit", "BTCUSDT"]
    assert (bybit["status"], bybit["hours_covered"], bybit["gap_seconds"], bybit["messages"]) == (
        "ok", 24, 0, 24,
    )  # fmt: skip
    okx = cells["okx", "BTC-USDT-SWAP"]
    assert (okx["status"], okx["hours_covered"], okx["gap_seconds"], okx["messages"]) == (
        "partial", 2, 900, 2,
    )  # fmt: skip
    assert okx["detail"] == "2 of 24 hours; recorder not connected for 900 s"
    never = cells["binance_um", "BTCUSDT"]
    assert (never["status"], never["detail"]) == ("not_published", "not recorded: it has not run")
    # Once the recorder has run for a venue, a day without a closed hour is missing.
    record(root, "binance_um", DAY - timedelta(days=1), 23, ["{}"])
    table = coverage_rows(settings, DAY, datetime(2025, 3, 5, tzinfo=UTC)).to_pylist()
    (after,) = [
        r for r in table if r["dataset"] == "liquidation_stream" and r["exchange"] == "binance_um"
        and r["symbol"] == "BTCUSDT"
    ]  # fmt: skip
    assert after["status"] == "missing"


def test_a_gap_filed_days_earlier_still_counts_for_the_days_it_covers(settings: Settings) -> None:
    root = settings.warehouse
    earlier = DAY - timedelta(days=3)
    # The recorder was down from 3 days before until 06:00 of DAY: filed where it started.
    gap(root, "bybit", earlier, ms(earlier, 22), ms(DAY, 6))
    record(root, "bybit", DAY, 7, [{"op": "pong", "success": True, "ret_msg": "pong"}])
    (partition,) = [stage(settings, "bybit")]
    assert {r.gap_seconds for r in partition.symbols} == {6 * 3600}


def combined(event: dict[str, Any]) -> dict[str, Any]:
    """A Binance event as its combined-stream addresses (``/stream?streams=…``) send it."""
    return {"stream": "!forceOrder@arr", "data": event}


def test_binance_combined_stream_frames_are_staged_like_bare_ones(settings: Settings) -> None:
    record(
        settings.warehouse,
        "binance_um",
        DAY,
        3,
        [
            combined(binance("BTCUSDT", "SELL", "0.5", "84000", ms(DAY, 3, 0, 1))),
            binance("ETHUSDT", "BUY", "2", "3000", ms(DAY, 3, 0, 2)),
            combined({"e": "markPriceUpdate", "s": "BTCUSDT"}),  # wrapped, but not an order
        ],
    )
    partition = stage(settings, "binance_um")
    rows = staged_rows(settings, "binance_um")
    assert [(r["symbol"], r["side"], r["filled_qty_base"]) for r in rows] == [
        ("BTCUSDT", "SELL", 0.5),
        ("ETHUSDT", "BUY", 2.0),
    ]
    btc = {r.symbol: r for r in partition.symbols}["BTCUSDT"]
    assert btc.messages == 3
    repaired = next(f for f in btc.report if f["check"] == "values_repaired")
    assert repaired["unexpected_count"] == 1
    assert "03.jsonl line 3" in repaired["sample"][0]


def test_combined_frames_from_the_stream_server_are_recorded_and_staged(settings: Settings) -> None:
    """Binance's combined-stream address on 127.0.0.1, through the recorder, into the lake."""
    raw_root = settings.recorder_root
    closed = raw_root / "binance_um" / DAY.isoformat() / "23.jsonl"
    feed = list(synthetic_messages("binance_um", 60, start_ms=ms(DAY, 23, 30)))
    now = [ms(DAY, 23, 59, 59)]

    async def record_until_the_hour_closes(url: str) -> RecorderStats:
        options = RecorderOptions(flush_seconds=0.05, open_timeout=2.0, close_timeout=0.5)
        recorder = Recorder([binance_stream(url)], raw_root, clock=lambda: now[0], options=options)
        run = asyncio.create_task(recorder.run())
        while recorder.stats.venues["binance_um"].data < len(feed) and not run.done():
            await asyncio.sleep(0.02)
        now[0] = ms(DAY + timedelta(days=1), 0, 0, 0, 100)  # the hour ends: the file closes
        while not closed.exists() and not run.done():
            await asyncio.sleep(0.02)
        recorder.stop()
        return await run

    with serve_streams({"binance_um": feed}) as server:
        url = server.url("binance_um", combined=True)
        stats = asyncio.run(asyncio.wait_for(record_until_the_hour_closes(url), timeout=15))
    venue = stats.venues["binance_um"]
    assert (venue.data, venue.garbage, venue.gaps, venue.reconnects) == (60, 0, 0, 0)
    raws = [json.loads(line)["raw"] for line in closed.read_text().splitlines()]
    assert raws == [f'{{"stream":"!forceOrder@arr","data":{text}}}' for text in feed]

    partition = stage(settings, "binance_um")
    orders = [json.loads(text)["o"] for text in feed]
    # The universe lists BTCUSDT and ETHUSDT; the feed's SOLUSDT orders are left out.
    expected = sorted(
        (o["s"], o["T"], o["S"], float(o["z"])) for o in orders if o["s"] != "SOLUSDT"
    )
    rows = staged_rows(settings, "binance_um")
    assert [(r["symbol"], int(r["ts"].timestamp() * 1000), r["side"], r["filled_qty_base"])
            for r in rows] == expected  # fmt: skip
    assert len(rows) == 40
    btc = {r.symbol: r for r in partition.symbols}["BTCUSDT"]
    assert (btc.status, btc.messages, btc.hours_covered, btc.gap_seconds) == ("ok", 60, 1, 0)

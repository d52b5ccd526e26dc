"""The liquidation stream recorder against a real WebSocket server on 127.0.0.1.

:mod:`simulator.stream_server` speaks the three venues' protocols (subscribe, ping, push) and
injects faults; :mod:`transforms.recorder` records what it hears into the raw layout the ingest
reads. Nothing is mocked: frames cross real sockets, files are really fsynced and renamed, and a
``treadmill record`` process is really killed with SIGKILL. Every wait is bounded.
"""

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from simulator.run import SimConfig, simulate_archive
from simulator.stream_server import StreamServer, serve_streams
from simulator.streams import StreamSet, simulated_streams, synthetic_messages
from transforms.hour_files import HOUR_MS
from transforms.hour_writer import recover_venue
from transforms.recorder import (
    CRASH_REASON,
    STOPPED_REASON,
    Recorder,
    RecorderBusyError,
    RecorderOptions,
    RecorderStats,
    epoch_ms,
)
from transforms.stream_protocols import (
    Frame,
    VenueStream,
    binance_stream,
    bybit_stream,
    classify_binance,
    okx_stream,
    venue_streams,
)

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
ALL_VENUES = ("binance_um", "bybit", "okx")
FAST = RecorderOptions(
    flush_seconds=0.1,
    open_timeout=2.0,
    ack_timeout=2.0,
    close_timeout=0.5,
    backoff_base=0.05,
    backoff_cap=0.2,
)
TIMEOUT = 15.0
"""No single recording in these tests may take longer (they take about a second)."""


def _streams(
    server: StreamServer, *venues: str, ping_seconds: float = 20.0, stall_seconds: float = 60.0
) -> list[VenueStream]:
    """The recorder's streams of ``venues``, at the server's URLs."""
    streams = {
        "binance_um": lambda: binance_stream(server.url("binance_um"), stall_seconds=stall_seconds),
        "bybit": lambda: bybit_stream(
            SYMBOLS, server.url("bybit"), ping_seconds=ping_seconds, stall_seconds=stall_seconds
        ),
        "okx": lambda: okx_stream(
            server.url("okx"), ping_seconds=ping_seconds, stall_seconds=stall_seconds
        ),
    }
    return [streams[venue]() for venue in venues]


def _record(
    streams: list[VenueStream],
    raw_root: Path,
    *,
    clock: Any = epoch_ms,
    duration: float | None = None,
    max_messages: int | None = None,
    options: RecorderOptions = FAST,
) -> RecorderStats:
    recorder = Recorder(streams, raw_root, clock=clock, options=options)
    run = recorder.run(duration=duration, max_messages=max_messages)
    return asyncio.run(asyncio.wait_for(run, timeout=TIMEOUT))


def _hour_files(raw_root: Path, venue: str) -> list[Path]:
    paths = (raw_root / venue).glob("*/*")
    return sorted(
        p for p in paths if p.name.endswith((".jsonl", ".jsonl.open")) and p.name != "gaps.jsonl"
    )


def _lines(raw_root: Path, venue: str) -> list[dict[str, Any]]:
    """Every recorded line of a venue, in file (hour) order then line order."""
    rows = []
    for path in _hour_files(raw_root, venue):
        text = path.read_text()
        assert text == "" or text.endswith("\n"), f"{path} ends in a torn line"
        rows += [json.loads(line) for line in text.splitlines()]
    return rows


def _gaps(raw_root: Path, venue: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((raw_root / venue).glob("*/gaps.jsonl"))
        for line in path.read_text().splitlines()
    ]


def _data(lines: list[dict[str, Any]], venue: str) -> list[dict[str, Any]]:
    marker = {"binance_um": '{"e":"forceOrder"', "bybit": '{"topic":', "okx": '{"arg":'}[venue]
    return [line for line in lines if line.get("raw", "").startswith(marker)]


def _hour_of(path: Path) -> int:
    day = datetime.strptime(path.parent.name, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(day.timestamp()) // 3600 + int(path.name[:2])


def test_messages_are_recorded_verbatim_with_their_receive_time_in_their_hour_files(
    tmp_path: Path,
) -> None:
    # A frame with escapes and non-ASCII text must come back byte for byte from "raw".
    odd = '{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","note":"qu\\"ote \\\\ é ✓ \u2028"}}'
    feeds = {venue: list(synthetic_messages(venue, 200, symbols=SYMBOLS)) for venue in ALL_VENUES}
    feeds["binance_um"].insert(7, odd)
    # Bybit and OKX close a socket without text heartbeats; every venue here also sends
    # WebSocket pings (Binance's heartbeat) and drops a client that does not answer them.
    required = {"bybit": 1.0, "okx": 1.0}
    with serve_streams(feeds, require_ping=required, ping_interval=0.3) as server:
        began = epoch_ms()
        stats = _record(_streams(server, *ALL_VENUES, ping_seconds=0.2), tmp_path, duration=1.6)
        ended = epoch_ms()
        # The recorder's pings and pongs kept every venue on its first socket.
        assert server.connections == {"binance_um": 1, "bybit": 1, "okx": 1}
        assert server.pings["bybit"] >= 3
        assert server.pings["okx"] >= 3
        assert server.subscriptions["bybit"] == [[f"allLiquidation.{s}" for s in SYMBOLS]]
        assert server.subscriptions["okx"] == [
            [{"channel": "liquidation-orders", "instType": "SWAP"}]
        ]
    for venue in ALL_VENUES:
        lines = _lines(tmp_path, venue)
        assert [line["raw"] for line in _data(lines, venue)] == feeds[venue]
        assert stats.venues[venue].data == len(feeds[venue])
        assert stats.venues[venue].garbage == 0
        assert stats.venues[venue].reconnects == 0
        for path in _hour_files(tmp_path, venue):
            for line in map(json.loads, path.read_text().splitlines()):
                assert set(line) == {"recv_ms", "raw"}
                assert began <= line["recv_ms"] <= ended
                assert line["recv_ms"] // HOUR_MS == _hour_of(path)
        recv = [line["recv_ms"] for line in lines]
        assert recv == sorted(recv)
        # The exact line format the ingest parses.
        first = next(p for p in _hour_files(tmp_path, venue)).read_text().splitlines()[0]
        assert first.startswith('{"recv_ms": ')
        assert ', "raw": "' in first
        # A first run ever has nothing to have missed: no gap.
        assert _gaps(tmp_path, venue) == []
    bybit, okx = _lines(tmp_path, "bybit"), _lines(tmp_path, "okx")
    assert bybit[0]["raw"].startswith('{"success":true,"ret_msg":"","conn_id":"')
    assert '{"success":true,"ret_msg":"pong","op":"ping"}' in [line["raw"] for line in bybit]
    assert okx[0]["raw"].startswith(
        '{"event":"subscribe","arg":{"channel":"liquidation-orders","instType":"SWAP"},"connId":'
    )
    assert "pong" in [line["raw"] for line in okx]
    assert _lines(tmp_path, "binance_um")[7]["raw"] == odd
    # Stopped mid-hour: the hour stays open (a restart within it appends), nothing is closed.
    assert all(p.name.endswith(".jsonl.open") for v in ALL_VENUES for p in _hour_files(tmp_path, v))


def test_binance_force_orders_are_data_bare_or_in_the_combined_stream_wrapper() -> None:
    (bare,) = synthetic_messages("binance_um", 1)
    assert classify_binance(bare) is Frame.DATA
    # What Binance's /stream?streams=… addresses send: the same event, wrapped.
    assert classify_binance(f'{{"stream":"!forceOrder@arr","data":{bare}}}') is Frame.DATA
    wrapped_other = '{"stream":"btcusdt@markPrice","data":{"e":"markPriceUpdate","p":"1"}}'
    assert classify_binance(wrapped_other) is Frame.UNKNOWN_SHAPE
    assert classify_binance('{"stream":"!forceOrder@arr","data":[]}') is Frame.UNKNOWN_SHAPE
    assert classify_binance('{"result":null,"id":1}') is Frame.CONTROL
    assert classify_binance("{not json") is Frame.NOT_JSON


def test_binance_is_reached_at_its_routed_market_address_by_default() -> None:
    # Binance's unrouted /ws/ addresses only carry /public streams since 2026-04-23.
    (stream,) = venue_streams(["binance_um"], environ={})
    assert stream.url == "wss://fstream.binance.com/market/ws/!forceOrder@arr"
    (override,) = venue_streams(["binance_um"], environ={"TREADMILL_BINANCE_WS_URL": "ws://h/x"})
    assert override.url == "ws://h/x"


def test_the_hour_file_is_closed_by_an_atomic_rename_when_the_hour_ends(tmp_path: Path) -> None:
    midnight = int(datetime(2024, 3, 2, tzinfo=UTC).timestamp() * 1000)
    offset: list[int] = []

    def clock() -> int:  # 1.5 s before midnight when the recorder starts, then real time
        now = epoch_ms()
        if not offset:
            offset.append(midnight - 1_500 - now)
        return now + offset[0]

    closed = tmp_path / "binance_um" / "2024-03-01" / "23.jsonl"
    opened = closed.with_name("23.jsonl.open")
    seen: list[str] = []
    watching = threading.Event()
    watching.set()

    def watch() -> None:
        # Checking the open name first, then the closed one: with an atomic rename, once the
        # file exists one of the two names is always there.
        while watching.is_set():
            if opened.exists():
                seen.append("open")
            elif closed.exists():
                seen.append("closed")
            elif seen:
                seen.append("neither")
            time.sleep(0.0005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    feed = list(synthetic_messages("binance_um", 300))
    try:
        with serve_streams({"binance_um": feed}, rate=120) as server:
            stats = _record(_streams(server, "binance_um"), tmp_path, clock=clock, duration=3.0)
    finally:
        watching.clear()
        watcher.join(timeout=5)
    assert "neither" not in seen
    assert seen[0] == "open"
    assert seen[-1] == "closed"
    after = tmp_path / "binance_um" / "2024-03-02" / "00.jsonl.open"
    assert closed.exists()
    assert not opened.exists()
    assert after.exists()
    before_lines = [json.loads(x) for x in closed.read_text().splitlines()]
    after_lines = [json.loads(x) for x in after.read_text().splitlines()]
    assert before_lines
    assert after_lines
    assert all(line["recv_ms"] < midnight for line in before_lines)
    assert all(line["recv_ms"] >= midnight for line in after_lines)
    assert [x["raw"] for x in before_lines + after_lines] == feed[: stats.messages]


def test_a_dropped_connection_reconnects_resubscribes_and_writes_a_gap_over_the_outage(
    tmp_path: Path,
) -> None:
    feeds = {venue: list(synthetic_messages(venue, 300)) for venue in ("bybit", "okx")}
    with serve_streams(feeds) as server:
        server.drop("bybit", after=100)
        server.drop("okx", after=120)
        stats = _record(_streams(server, "bybit", "okx"), tmp_path, max_messages=600)
        assert server.connections == {"binance_um": 0, "bybit": 2, "okx": 2}
        assert server.subscriptions["bybit"] == [[f"allLiquidation.{s}" for s in SYMBOLS]] * 2
        assert len(server.subscriptions["okx"]) == 2
    for venue, cut in (("bybit", 100), ("okx", 120)):
        lines = _lines(tmp_path, venue)
        data = _data(lines, venue)
        # Nothing was lost: the server flushed before cutting, the feed waited for the client.
        assert [line["raw"] for line in data] == feeds[venue]
        assert stats.venues[venue].reconnects == 1
        assert stats.venues[venue].connections == 2
        (gap,) = _gaps(tmp_path, venue)
        assert gap["reason"].startswith("disconnected: ")
        acks = [line for line in lines if line not in data and "pong" not in line["raw"]]
        assert len(acks) == 2
        # From the last frame before the cut to the new connection's acknowledgement.
        assert gap["from_ms"] == data[cut - 1]["recv_ms"]
        assert acks[1]["recv_ms"] <= gap["to_ms"] <= data[cut]["recv_ms"]


def test_a_refused_connection_backs_off_and_retries(tmp_path: Path) -> None:
    feed = list(synthetic_messages("binance_um", 50))
    with serve_streams({"binance_um": feed}) as server:
        server.refuse("binance_um", 3)
        stats = _record(_streams(server, "binance_um"), tmp_path, max_messages=50)
        assert server.refused["binance_um"] == 3
        assert server.connections["binance_um"] == 1
    assert stats.venues["binance_um"].reconnects == 3
    (gap,) = _gaps(tmp_path, "binance_um")
    assert gap["reason"] == (
        "disconnected: the venue refused the connection: HTTP 503 (3 attempts)"
    )
    assert [x["raw"] for x in _lines(tmp_path, "binance_um")] == feed


def test_garbage_frames_are_recorded_counted_and_reported_without_stopping(
    tmp_path: Path,
) -> None:
    feed = list(synthetic_messages("okx", 100))
    garbage: list[str | bytes] = ["{not json", '{"hello":"world"}', b"\x00\xffbinary"]
    with serve_streams({"okx": feed}) as server:
        server.garbage("okx", after=40, frames=garbage)
        stats = _record(_streams(server, "okx"), tmp_path, max_messages=100)
        assert server.connections["okx"] == 1
    lines = _lines(tmp_path, "okx")
    assert [x["raw"] for x in _data(lines, "okx")] == feed
    index = lines.index(next(x for x in lines if x.get("raw") == "{not json"))
    assert lines[index + 1] == {"recv_ms": lines[index + 1]["recv_ms"], "raw": '{"hello":"world"}'}
    assert set(lines[index + 2]) == {"recv_ms", "raw_b64"}
    assert base64.b64decode(lines[index + 2]["raw_b64"]) == b"\x00\xffbinary"
    assert stats.venues["okx"].garbage == 3
    assert stats.garbage == 3
    assert stats.venues["okx"].reconnects == 0
    (gap,) = _gaps(tmp_path, "okx")
    assert gap["reason"].startswith("garbage frame: 3 frame(s)")
    assert gap["from_ms"] == lines[index]["recv_ms"]
    assert gap["to_ms"] == lines[index + 2]["recv_ms"]


def test_a_stalled_stream_is_cut_reconnected_and_leaves_a_gap(tmp_path: Path) -> None:
    feed = list(synthetic_messages("binance_um", 100))
    with serve_streams({"binance_um": feed}) as server:
        server.stall("binance_um", after=30, seconds=4.0)
        began = time.monotonic()
        stats = _record(
            _streams(server, "binance_um", stall_seconds=0.5), tmp_path, max_messages=100
        )
        # Reconnected well before the server woke up: the stall was detected, not waited out.
        assert time.monotonic() - began < 3.5
        assert server.connections["binance_um"] == 2
    data = _data(_lines(tmp_path, "binance_um"), "binance_um")
    assert [x["raw"] for x in data] == feed
    assert stats.venues["binance_um"].reconnects == 1
    (gap,) = _gaps(tmp_path, "binance_um")
    assert gap["reason"] == "stalled: no message for 0.5 s"
    assert gap["from_ms"] == data[29]["recv_ms"]
    assert gap["from_ms"] + 500 <= gap["to_ms"] <= data[30]["recv_ms"]


def test_a_second_recorder_of_the_same_venue_is_refused(tmp_path: Path) -> None:
    with serve_streams({"binance_um": []}) as server:

        async def both() -> None:
            first = Recorder(_streams(server, "binance_um"), tmp_path, options=FAST)
            task = asyncio.create_task(first.run(duration=1.0))
            await asyncio.sleep(0.2)
            second = Recorder(_streams(server, "binance_um"), tmp_path, options=FAST)
            with pytest.raises(RecorderBusyError):
                await second.run(duration=0.1)
            await task

        asyncio.run(asyncio.wait_for(both(), timeout=TIMEOUT))


def test_a_torn_last_line_is_dropped_and_past_open_hours_finalised(tmp_path: Path) -> None:
    venue_dir = tmp_path / "bybit"
    old = venue_dir / "2024-03-01" / "22.jsonl.open"
    now = venue_dir / "2024-03-01" / "23.jsonl.open"
    old.parent.mkdir(parents=True)
    old.write_text('{"recv_ms": 1709330400000, "raw": "a"}\n{"recv_ms": 17093304')
    now.write_text('{"recv_ms": 1709334000500, "raw": "b"}\n')
    recovery = recover_venue(venue_dir, 1709334001000)  # 23:00:01
    assert recovery.finalized == [old.with_name("22.jsonl")]
    assert old.with_name("22.jsonl").read_text() == '{"recv_ms": 1709330400000, "raw": "a"}\n'
    assert recovery.current == now
    assert now.exists()
    assert recovery.last_recv_ms == 1709334000500
    assert recovery.torn_lines_dropped == 1


def _spawn_record(warehouse: Path, server: StreamServer, log: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-c",
        "from pipelines.cli import app; app()",
        "record",
        "--venues=binance_um",
        "--duration=60",
        f"--warehouse={warehouse}",
    ]
    env = {**os.environ, **server.recorder_env()}
    with log.open("a") as sink:
        return subprocess.Popen(command, env=env, stdout=sink, stderr=sink, text=True)


def _wait_for_lines(root: Path, count: int) -> None:
    """Wait (at most 20 s) until ``count`` Binance lines are on disk under ``root``."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lines = sum(p.read_text().count("\n") for p in root.glob("binance_um/*/*.jsonl*"))
        if lines >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} lines recorded within 20 s")


def test_after_kill_9_a_restart_finalises_the_open_hour_and_writes_the_not_running_gap(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "warehouse"
    raw_root = warehouse / "raw" / "recorder"
    log = tmp_path / "record.log"
    feed = synthetic_messages("binance_um", 200_000)
    with serve_streams({"binance_um": feed}, rate=200) as server:
        process = _spawn_record(warehouse, server, log)
        try:
            _wait_for_lines(raw_root, 100)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL, log.read_text()
        killed = [p for p in _hour_files(raw_root, "binance_um") if p.name.endswith(".open")][-1]
        # What a kill in the middle of a buffer flush leaves: a line cut short.
        with killed.open("a") as handle:
            handle.write('{"recv_ms": 17')
        last = json.loads(killed.read_text().splitlines()[-2])["recv_ms"]

        def later() -> int:  # the restart comes in a later hour
            return epoch_ms() + HOUR_MS

        stats = _record(_streams(server, "binance_um"), raw_root, clock=later, duration=1.0)
    closed = killed.with_name(killed.name.removesuffix(".open"))
    assert stats.finalized_files == [str(closed.relative_to(raw_root))]
    assert closed.exists()
    assert not killed.exists()
    assert stats.torn_lines_dropped == 1
    assert json.loads(closed.read_text().splitlines()[-1])["recv_ms"] == last
    gaps = _gaps(raw_root, "binance_um")
    assert gaps == [{"from_ms": last, "to_ms": stats.started_ms, "reason": CRASH_REASON}]
    assert stats.messages > 0
    # One contiguous replay: nothing recorded twice, order kept, every line whole.
    sequence = [json.loads(x["raw"])["o"]["T"] for x in _lines(raw_root, "binance_um")]
    assert sequence == sorted(set(sequence))


def test_sigterm_stops_treadmill_record_cleanly(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    raw_root = warehouse / "raw" / "recorder"
    log = tmp_path / "record.log"
    with serve_streams({"binance_um": synthetic_messages("binance_um", 200_000)}, rate=200) as s:
        process = _spawn_record(warehouse, s, log)
        try:
            _wait_for_lines(raw_root, 50)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    output = log.read_text()
    assert process.returncode == 0, output
    assert "liquidation messages into" in output
    assert "binance_um" in output
    marker = json.loads((raw_root / ".state" / "binance_um.json").read_text())
    lines = _lines(raw_root, "binance_um")  # every line whole: fsynced on stop
    assert lines
    assert lines[-1]["recv_ms"] <= marker["stopped_ms"]


def test_a_clean_stop_mid_hour_is_resumed_in_the_same_file_after_a_stopped_gap(
    tmp_path: Path,
) -> None:
    # A fixed hour far from any boundary: both runs fall in it, whenever the test runs.
    start = int(datetime(2024, 3, 1, 12, 30, tzinfo=UTC).timestamp() * 1000)
    offset = start - epoch_ms()

    def clock() -> int:
        return epoch_ms() + offset

    with serve_streams({"okx": synthetic_messages("okx", 200_000)}, rate=200) as server:
        first = _record(_streams(server, "okx"), tmp_path, clock=clock, duration=0.6)
        hour_file = tmp_path / "okx" / "2024-03-01" / "12.jsonl.open"
        assert hour_file.exists(), "stopped mid-hour: the hour stays open"
        marker = json.loads((tmp_path / ".state" / "okx.json").read_text())
        assert marker == {"stopped_ms": first.stopped_ms}
        second = _record(_streams(server, "okx"), tmp_path, clock=clock, duration=0.6)
    assert _hour_files(tmp_path, "okx") == [hour_file]
    data = _data(_lines(tmp_path, "okx"), "okx")
    assert len(data) == first.messages + second.messages
    assert _gaps(tmp_path, "okx") == [
        {"from_ms": first.stopped_ms, "to_ms": second.started_ms, "reason": STOPPED_REASON}
    ]
    marker = json.loads((tmp_path / ".state" / "okx.json").read_text())
    assert marker == {"stopped_ms": second.stopped_ms}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> StreamSet:
    out = tmp_path_factory.mktemp("streams-sim")
    simulate_archive(
        SimConfig(
            out=out,
            start=date(2024, 3, 1),
            end=date(2024, 3, 1),
            symbols=SYMBOLS,
            coin_margined=(),
            spot=(),
            venues=False,
            workers=1,
        )
    )
    return simulated_streams(out)


def test_simulated_streams_follow_each_venues_conventions(simulated: StreamSet) -> None:
    sends = [m.send_ms for m in simulated.messages]
    assert sends == sorted(sends)
    truth = simulated.truth
    binance = truth.filter(pl.col("exchange") == "binance_um")
    # Binance: at most one order per symbol and second.
    per_second = binance.group_by("symbol", pl.col("ts_ms") // 1000).len()
    assert per_second["len"].max() == 1
    # Side conventions: Binance SELL, Bybit Buy and OKX sell all mean a long was liquidated.
    long_sides = {
        exchange: set(
            truth.filter((pl.col("exchange") == exchange) & (pl.col("side") == "long"))[
                "venue_side"
            ]
        )
        for exchange in ("binance_um", "bybit", "okx")
    }
    assert long_sides == {"binance_um": {"SELL"}, "bybit": {"Buy"}, "okx": {"sell"}}
    okx = truth.filter(pl.col("exchange") == "okx")
    ct_val = okx["coin"].replace_strict({"BTC": 0.01, "ETH": 0.1, "SOL": 1.0})
    assert ((okx["venue_qty"] * ct_val - okx["qty_base"]).abs() < 1e-9).all()
    assert set(truth["exchange"]) == {"binance_um", "bybit", "okx"}


def test_the_simulators_three_streams_arrive_intact(tmp_path: Path, simulated: StreamSet) -> None:
    feeds = {venue: simulated.texts(venue) for venue in ALL_VENUES}
    total = sum(map(len, feeds.values()))
    with serve_streams(feeds) as server:
        stats = _record(_streams(server, *ALL_VENUES), tmp_path, max_messages=total)
    assert stats.messages == total
    assert stats.garbage == 0
    for venue in ALL_VENUES:
        raws = [x["raw"] for x in _data(_lines(tmp_path, venue), venue)]
        assert raws == feeds[venue]
    # The recorded messages carry exactly the truth's liquidations.
    notional = {"binance_um": 0.0, "bybit": 0.0, "okx": 0.0}
    ct_val = {"BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1, "SOL-USDT-SWAP": 1.0}
    for venue in ALL_VENUES:
        for line in _data(_lines(tmp_path, venue), venue):
            message = json.loads(line["raw"])
            if venue == "binance_um":
                notional[venue] += float(message["o"]["z"]) * float(message["o"]["ap"])
            elif venue == "bybit":
                notional[venue] += sum(float(d["v"]) * float(d["p"]) for d in message["data"])
            else:
                for entry in message["data"]:
                    notional[venue] += sum(
                        float(d["sz"]) * ct_val[entry["instId"]] * float(d["bkPx"])
                        for d in entry["details"]
                    )
    expected = simulated.truth.group_by("exchange").agg(pl.col("notional_usd").sum())
    for exchange, value in expected.iter_rows():
        assert notional[exchange] == pytest.approx(value, rel=1e-9)

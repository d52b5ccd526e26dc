"""Hyperliquid's archive: hand-written LZ4 files with the archive's traps, through staging."""

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import lz4.frame
import pytest

from tests.conftest import FAST_LIMITS
from transforms.clients import source_client
from transforms.errors import FetchError
from transforms.fetch import Landed, NotPublished
from transforms.objects import NO_CREDENTIALS, ObjectStoreClient
from transforms.settings import Settings, parse_universe
from transforms.sources import dataset
from transforms.sources.hyperliquid import fills_hour_key
from transforms.staging import stage_dataset

HEADER = (
    "time,coin,funding,open_interest,prev_day_px,day_ntl_vlm,premium,oracle_px,mark_px,mid_px,"
    "impact_bid_px,impact_ask_px"
)
DAY = date(2025, 7, 27)  # the cutover day: hours 0–7 in node_fills, 8–23 by block


def ms(hour: int, minute: int = 0, second: int = 0) -> int:
    return int(datetime(2025, 7, 27, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


def write_lz4(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lz4.frame.compress(text.encode()))


def ctx_row(
    time: str, coin: str, funding: float, oi: float, mark: float, mid: str = "", premium: str = ""
) -> str:
    return f"{time},{coin},{funding},{oi},100.0,1e9,{premium},{mark - 1},{mark},{mid},,"


def asset_ctxs(mirror: Path, day: date, rows: list[str]) -> None:
    write_lz4(
        mirror / f"hyperliquid-archive/asset_ctxs/{day:%Y%m%d}.csv.lz4",
        "\n".join([HEADER, *rows]) + "\n",
    )


def fill(
    coin: str, px: str, sz: str, side: str, time: int, tid: int, liquidated: str | None
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "coin": coin,
        "px": px,
        "sz": sz,
        "side": side,
        "time": time,
        "startPosition": "0",
        "dir": "Close Long",
        "closedPnl": "0",
        "hash": "0xabc",
        "oid": tid * 10,
        "crossed": True,
        "fee": "0",
        "tid": tid,
        "feeToken": "USDC",
    }
    if liquidated:
        record["liquidation"] = {"liquidatedUser": liquidated, "markPx": px, "method": "market"}
    return record


def fills(mirror: Path, hour: int, lines: list[Any] | bytes) -> None:
    path = mirror / fills_hour_key(DAY, hour)
    if isinstance(lines, bytes):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(lines)
        return
    write_lz4(path, "".join(json.dumps(line) + "\n" for line in lines))


def settings_for(tmp_path: Path, mirror: Path, universe: str = "hyperliquid:BTC,ETH") -> Settings:
    return Settings(
        warehouse=tmp_path / "warehouse",
        universe=parse_universe(universe),
        limits=FAST_LIMITS,
        hyperliquid_url=mirror.as_uri() + "/",
    )


def stage(settings: Settings, name: str, day: date = DAY) -> Any:
    ds = dataset("hyperliquid", name)
    with source_client(ds, settings) as client:
        (partition,) = stage_dataset(ds, [day], settings, client)
    return partition


def read_stage(settings: Settings, name: str, day: date = DAY) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    path = settings.lake_root / f"stg_hyperliquid_{name}" / f"date={day}" / "data.parquet"
    return pq.read_table(path).to_pylist()


def test_asset_contexts_feed_funding_open_interest_and_prices_with_the_traps_counted(
    tmp_path: Path,
) -> None:
    mirror = tmp_path / "mirror"
    rows = [
        ctx_row("2025-07-27T00:00:00Z", "BTC", 0.0000125, 1000.0, 118000.0, mid="118001.5"),
        ctx_row("2025-07-27T00:00:00Z", "ETH", 0.00001, 50000.0, 3800.0),
        ctx_row("2025-07-27T00:00:00Z", "DOGE", 0.00003, 1e9, 0.2),  # not in the universe
        ctx_row("2025-07-27T00:00:00Z", "BTC", 0.0000999, 7.0, 1.0),  # the minute again: dropped
        ctx_row("2025-07-27T00:00:31Z", "BTC", 0.00002, 999.0, 118005.0),  # off-grid: dropped
        ctx_row("2025-07-27 00:01:00.000", "BTC", 0.0000126, 1001.0, 0.0),  # mark absent: 0.0
        ctx_row("2025-07-27T00:05:00Z", "BTC", 0.0000127, -3.0, 118010.0),  # OI < 0
        ctx_row("2025-07-27T01:00:00Z", "BTC", 0.0000131, 1002.0, 118020.0, premium="0.0002"),
    ]
    asset_ctxs(mirror, DAY, rows)
    settings = settings_for(tmp_path, mirror)

    funding = stage(settings, "funding_rate")
    records = {r.symbol: r for r in funding.symbols}
    assert records["BTC"].status == "ok"
    assert [
        (r["symbol"], r["funding_time"].hour, r["funding_rate"])
        for r in read_stage(settings, "funding_rate")
    ] == [
        ("BTC", 0, 0.0000125),
        ("BTC", 1, 0.0000131),
        ("ETH", 0, 0.00001),
    ]
    assert {r["funding_interval_hours"] for r in read_stage(settings, "funding_rate")} == {1}
    warning = next(f for f in records["BTC"].report if f["check"] == "values_repaired")
    assert warning["severity"] == "warn"
    assert any("off_grid_rows_dropped: 1" in line for line in warning["sample"])
    assert any("mark_px_0.0_read_as_null: 1" in line for line in warning["sample"])
    assert any("negative_open_interest_left_out: 1" in line for line in warning["sample"])

    stage(settings, "open_interest")
    oi = read_stage(settings, "open_interest")
    assert [(r["symbol"], r["ts"].hour, r["ts"].minute, r["oi_base"], r["oi_usd"]) for r in oi] == [
        # Two-sided in the archive: halved. 00:05's negative reading is left out.
        ("BTC", 0, 0, 500.0, 500.0 * 118000.0),
        ("BTC", 1, 0, 501.0, 501.0 * 118020.0),
        ("ETH", 0, 0, 25000.0, 25000.0 * 3800.0),
    ]
    stage(settings, "klines")
    bars = read_stage(settings, "klines")
    # The mid stands for the trade price, else the mark; the minute with neither is left out.
    assert [(r["ts"].hour, r["ts"].minute, r["close"]) for r in bars if r["symbol"] == "BTC"] == [
        (0, 0, 118001.5),
        (0, 5, 118010.0),
        (1, 0, 118020.0),
    ]
    stage(settings, "premium_index_klines")
    assert [r["close"] for r in read_stage(settings, "premium_index_klines")] == [0.0002]


def test_funding_before_june_2023_is_on_the_eight_hour_scale(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    early = date(2023, 6, 7)
    asset_ctxs(mirror, early, [ctx_row("2023-06-07T03:00:00Z", "BTC", 0.0008, 10.0, 26000.0)])
    settings = settings_for(tmp_path, mirror, "hyperliquid:BTC")
    stage(settings, "funding_rate", early)
    (row,) = read_stage(settings, "funding_rate", early)
    assert row["funding_rate"] == pytest.approx(0.0001)


def test_liquidations_once_per_order_from_both_layouts_with_bad_input_counted(
    tmp_path: Path,
) -> None:
    mirror = tmp_path / "mirror"
    # 03:00, node_fills: a long liquidated (the liquidated user sold), seen from both sides.
    fills(
        mirror,
        3,
        [
            ["0xvictim", fill("BTC", "118000", "0.5", "A", ms(3, 1), 11, "0xvictim")],
            ["0xbuyer", fill("BTC", "118000", "0.5", "B", ms(3, 1), 11, "0xvictim")],
            ["0xtrader", fill("BTC", "118010", "2.0", "B", ms(3, 2), 12, None)],  # ordinary
            "not a fill line",
        ],
    )
    fills(mirror, 4, b"\x04\x22\x4d\x18garbage")  # a corrupt LZ4 frame
    # 09:00, by block: a short liquidated whose own line is missing (only the counterparty's).
    block = {
        "local_time": "2025-07-27T09:00:01.5",
        "block_time": "2025-07-27T09:00:01.2",
        "block_number": 7,
        "events": [
            ["0xmaker", fill("ETH", "3800", "10", "A", ms(9, 0, 1), 21, "0xshorty")],
            ["0xdoge", fill("DOGE", "0.2", "1000", "A", ms(9, 0, 2), 22, "0xdoge")],
            ["0xbroken", {"coin": "ETH", "liquidation": {"liquidatedUser": "0xbroken"}}],
        ],
    }
    fills(mirror, 9, [block])
    settings = settings_for(tmp_path, mirror)

    partition = stage(settings, "liquidations")
    records = {r.symbol: r for r in partition.symbols}
    rows = read_stage(settings, "liquidations")
    assert [(r["symbol"], r["side"], r["price"], r["filled_qty_base"]) for r in rows] == [
        ("BTC", "SELL", 118000.0, 0.5),  # SELL closes a long, in Binance's convention
        ("ETH", "BUY", 3800.0, 10.0),  # the counterparty sold: the liquidated short bought
    ]
    btc = records["BTC"]
    assert btc.status == "ok"
    assert btc.hours_covered == 2  # hours 3 and 9 landed; 4 is corrupt, the rest missing
    repaired = next(f for f in btc.report if f["check"] == "values_repaired")
    samples = " ".join(repaired["sample"])
    assert "corrupt_hour_files_skipped: 1" in samples
    assert "4.lz4" in samples
    assert "lines_of_unknown_shape: 1" in samples
    assert "liquidation_fills_incomplete: 1" in samples
    hours = json.loads(
        (
            settings.raw_root / "hyperliquid/hl-mainnet-node-data/fills_days/20250727/hours.json"
        ).read_text()
    )
    assert sorted(hours["hours"], key=int) == ["3", "4", "9"]
    assert hours["hours"]["3"]["path"].startswith("hl-mainnet-node-data/node_fills/hourly/")
    assert hours["hours"]["9"]["path"].startswith("hl-mainnet-node-data/node_fills_by_block/")


def test_a_day_not_uploaded_is_not_published(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, tmp_path / "empty-mirror")
    assert {r.status for r in stage(settings, "funding_rate").symbols} == {"not_published"}
    assert {r.status for r in stage(settings, "liquidations").symbols} == {"not_published"}


def test_the_requester_pays_bucket_without_credentials_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    client = ObjectStoreClient("s3://", tmp_path / "raw", FAST_LIMITS)
    with pytest.raises(FetchError) as error:
        client.fetch("hyperliquid-archive/asset_ctxs/20250727.csv.lz4")
    assert (
        str(error.value)
        == f"s3://hyperliquid-archive/asset_ctxs/20250727.csv.lz4: {NO_CREDENTIALS}"
    )
    settings = Settings(
        warehouse=tmp_path / "warehouse", universe=parse_universe("hyperliquid:BTC,ETH")
    )
    partition = stage(settings, "funding_rate")
    assert {
        (r.status, r.error.split(": ", 1)[1] if r.error else None) for r in partition.symbols
    } == {("failed", NO_CREDENTIALS)}


def test_objects_land_verbatim_and_are_reused(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    asset_ctxs(mirror, DAY, [ctx_row("2025-07-27T00:00:00Z", "BTC", 0.00001, 1.0, 1.0)])
    client = ObjectStoreClient(mirror.as_uri() + "/", tmp_path / "raw", FAST_LIMITS)
    relpath = "hyperliquid-archive/asset_ctxs/20250727.csv.lz4"
    first = client.fetch(relpath)
    again = client.fetch(relpath)
    assert isinstance(first, Landed)
    assert isinstance(again, Landed)
    assert (first.origin, again.origin) == ("downloaded", "reused")
    assert first.path.read_bytes() == (mirror / relpath).read_bytes()
    assert isinstance(client.fetch("hyperliquid-archive/asset_ctxs/20250728.csv.lz4"), NotPublished)

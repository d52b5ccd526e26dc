"""The simulator's Hyperliquid archive: formats of spec §A / FORMATS.md §5, and truth agreement.

A three-day simulation straddling the fills layout cutover (2025-07-27T08:00Z) with BTC and ETH
and every quirk dialled up so each one occurs; a two-day one across 2023-06-08 for the 8-hour
funding scale. Files are read back with ``lz4.frame`` and plain CSV/JSON parsing, never with
the simulator's own code.
"""

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import lz4.frame
import polars as pl
import pytest

from simulator import rules
from simulator.hyperliquid import HyperliquidQuirks
from simulator.run import SimConfig, simulate_archive

HEADER = (
    "time,coin,funding,open_interest,prev_day_px,day_ntl_vlm,premium,oracle_px,mark_px,mid_px,"
    "impact_bid_px,impact_ask_px"
)
CUTOVER = datetime(2025, 7, 27, 8, tzinfo=UTC)
COINS = ("BTC", "ETH")
LOUD = HyperliquidQuirks(
    zero_mark_px=0.002, empty_book=0.002, negative_open_interest=0.002, off_grid_rows=0.003
)
CONFIG = SimConfig(
    out=Path("unused"),
    start=date(2025, 7, 26),
    end=date(2025, 7, 28),
    symbols=("BTCUSDT", "ETHUSDT"),
    coin_margined=(),
    spot=(),
    seed=5,
    workers=1,
    venues=False,
    hyperliquid_quirks=LOUD,
)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
NS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}$")


@dataclass(frozen=True)
class Fill:
    user: str
    fill: dict[str, Any]
    layout: str


@dataclass(frozen=True)
class Sim:
    config: SimConfig

    @property
    def root(self) -> Path:
        return self.config.out / "hyperliquid"

    @property
    def days(self) -> list[date]:
        return [self.config.start + timedelta(days=k) for k in range(self.config.days)]

    def truth(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.config.out / "truth" / f"{name}.parquet")

    def quirks(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.config.out / "truth" / "hyperliquid_quirks.json").read_text()
        )
        return data


def _text(path: Path) -> str:
    return lz4.frame.decompress(path.read_bytes()).decode()


def _ctxs(sim: Sim) -> pl.DataFrame:
    """Every asset_ctxs row of the simulation, all fields as the strings written."""
    frames = []
    for day in sim.days:
        text = _text(sim.root / "hyperliquid-archive" / "asset_ctxs" / f"{day:%Y%m%d}.csv.lz4")
        lines = text.split("\n")
        assert lines[0] == HEADER
        assert lines[-1] == ""
        rows = [line.split(",") for line in lines[1:-1]]
        assert all(len(row) == 12 for row in rows)
        frames.append(pl.DataFrame(rows, schema=HEADER.split(","), orient="row"))
    return pl.concat(frames).with_columns(
        pl.col("time").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="ms", time_zone="UTC")
    )


def _fills(sim: Sim) -> list[Fill]:
    fills: list[Fill] = []
    for path in sorted((sim.root / "hl-mainnet-node-data").rglob("*.lz4")):
        layout = path.parts[-4]
        for line in _text(path).splitlines():
            record = json.loads(line)
            if layout == "node_fills":
                user, fill = record
                fills.append(Fill(user, fill, layout))
            else:
                fills += [Fill(user, fill, layout) for user, fill in record["events"]]
    return fills


def _tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    config = replace(CONFIG, out=tmp_path_factory.mktemp("hyperliquid"))
    simulate_archive(config)
    return Sim(config)


# asset_ctxs


def test_asset_ctxs_one_row_per_coin_minute_plus_the_counted_off_grid_rows(sim: Sim) -> None:
    ctxs = _ctxs(sim)
    quirks = sim.quirks()
    on_grid = ctxs.filter(pl.col("time").dt.second() == 0)
    off_grid = ctxs.filter(pl.col("time").dt.second() != 0)
    assert on_grid.height == len(sim.days) * 1440 * len(COINS)
    assert on_grid.select("time", "coin").is_unique().all()
    assert set(on_grid["coin"]) == set(COINS)
    assert off_grid.height == quirks["off_grid_rows"] > 0
    injected = {
        (row["coin"], row["time"]) for row in quirks["injected"] if row["quirk"] == "off_grid_rows"
    }
    assert {
        (coin, f"{when:%Y-%m-%dT%H:%M:%SZ}")
        for coin, when in off_grid.select("coin", "time").rows()
    } == injected
    # Sorted by time then coin, every day file holding that day only.
    assert ctxs.select("time", "coin").equals(ctxs.select("time", "coin").sort("time", "coin"))
    # Plain decimals: never an exponent, never NULL; only the book fields may be empty.
    for name in HEADER.split(",")[2:]:
        column = ctxs[name]
        assert not column.str.contains("[eE]").any(), name
        if name not in ("premium", "mid_px", "impact_bid_px", "impact_ask_px"):
            assert (column != "").all(), name
    assert ctxs["coin"].is_in(COINS).all()


def test_asset_ctxs_time_strings_are_iso_with_z(sim: Sim) -> None:
    day = sim.days[0]
    text = _text(sim.root / "hyperliquid-archive" / "asset_ctxs" / f"{day:%Y%m%d}.csv.lz4")
    times = [line.split(",", 1)[0] for line in text.splitlines()[1:]]
    assert all(ISO.match(t) for t in times)
    assert times[0] == f"{day:%Y-%m-%d}T00:00:00Z"
    assert times[-1] == f"{day:%Y-%m-%d}T23:59:00Z"


def test_funding_at_the_hour_equals_truth_and_the_hourly_formula(sim: Sim) -> None:
    ctxs = _ctxs(sim).filter((pl.col("time").dt.minute() == 0) & (pl.col("time").dt.second() == 0))
    truth = sim.truth("hyperliquid_funding")
    assert truth.height == len(sim.days) * 24 * len(COINS)
    joined = truth.join(
        ctxs.select(
            "coin", pl.col("time").alias("funding_time"), pl.col("funding").cast(pl.Float64)
        ),
        on=["coin", "funding_time"],
        how="left",
    )
    assert joined["funding"].null_count() == 0
    assert (joined["funding"] - joined["funding_rate"]).abs().max() == 0.0
    # Hyperliquid's rule: Binance's 8-hour formula over the hour's mean premium, paid 1/8.
    premium = (
        sim.truth("hyperliquid_asset_ctxs")
        .with_columns((pl.col("ts").dt.truncate("1h") + pl.duration(hours=1)).alias("settles"))
        .group_by("coin", "settles")
        .agg(pl.col("premium").mean(), pl.len())
    )
    checked = truth.join(
        premium, left_on=["coin", "funding_time"], right_on=["coin", "settles"], how="inner"
    )
    assert checked.height == (len(sim.days) * 24 - 1) * len(COINS)
    assert (checked["len"] == 60).all()
    for coin, rate, mean in checked.select("coin", "funding_rate", "premium").rows():
        assert rate == pytest.approx(rules.funding_rate(mean, 8) / 8, abs=1e-8), coin
    # Most hours print the 0.00125% anchor; crowded hours lift it.
    rates = truth["funding_rate"]
    assert (rates == 0.0000125).sum() > rates.len() / 4
    assert rates.n_unique() > 10


def test_open_interest_and_mark_agree_with_truth_and_quirks_are_counted(sim: Sim) -> None:
    ctxs = _ctxs(sim).filter(pl.col("time").dt.second() == 0)
    quirks = sim.quirks()
    oi = sim.truth("hyperliquid_open_interest")
    truth = sim.truth("hyperliquid_asset_ctxs")
    joined = (
        ctxs.rename({"time": "ts"})
        .join(oi, on=["coin", "ts"], how="inner")
        .join(truth.select("coin", "ts", pl.col("mark_px").alias("true_mark")), on=["coin", "ts"])
    )
    assert joined.height == ctxs.height == oi.height
    file_oi = joined["open_interest"].cast(pl.Float64)
    negative = file_oi < 0
    assert int(negative.sum()) == quirks["negative_open_interest"] > 0
    # The archive's figure is two-sided; the truth is the one-sided book.
    assert ((file_oi.abs() / 2 - joined["oi_base"]).abs() < 1e-9).all()
    assert (oi["oi_base"] > 0).all()
    assert ((oi["oi_usd"] - oi["oi_base"] * truth["mark_px"]).abs() < 1e-6).all()
    mark = joined["mark_px"].cast(pl.Float64)
    zero = joined["mark_px"] == "0.0"
    assert int(zero.sum()) == quirks["zero_mark_px"] > 0
    assert (mark.filter(~zero) == joined["true_mark"].filter(~zero)).all()
    empty = joined["premium"] == ""
    assert int(empty.sum()) == quirks["empty_book"] > 0
    for name in ("mid_px", "impact_bid_px", "impact_ask_px"):
        assert ((joined[name] == "") == empty).all(), name
    assert quirks["eight_hour_funding"] == 0
    assert sum(quirks["by_coin"][c]["off_grid_rows"] for c in COINS) == quirks["off_grid_rows"]
    # The book is consistent: bid ≤ mid ≤ ask, and the premium is Binance's impact definition.
    book = joined.filter(~empty & ~zero).select(
        pl.col("premium", "oracle_px", "mark_px", "mid_px", "impact_bid_px", "impact_ask_px").cast(
            pl.Float64
        )
    )
    assert (book["impact_bid_px"] <= book["mid_px"]).all()
    assert (book["mid_px"] <= book["impact_ask_px"]).all()
    implied = (
        (book["impact_bid_px"] - book["oracle_px"]).clip(0.0)
        - (book["oracle_px"] - book["impact_ask_px"]).clip(0.0)
    ) / book["oracle_px"]
    assert ((implied - book["premium"]).abs() < 1e-8).all()
    # Hyperliquid's book is about a quarter of Binance's (BTC ~80k coins at Binance).
    btc = oi.filter(pl.col("coin") == "BTC")["oi_base"]
    assert 0.15 * 80_000 < btc.mean() < 0.35 * 80_000  # type: ignore[operator]


def test_funding_is_on_the_8_hour_scale_before_2023_06_08_0005(tmp_path: Path) -> None:
    config = replace(
        CONFIG,
        out=tmp_path / "old",
        start=date(2023, 6, 7),
        end=date(2023, 6, 8),
        symbols=("BTCUSDT",),
        hyperliquid_quirks=HyperliquidQuirks(),
    )
    simulate_archive(config)
    sim = Sim(config)
    ctxs = _ctxs(sim)
    truth = sim.truth("hyperliquid_asset_ctxs").select("ts", pl.col("funding").alias("hourly"))
    joined = ctxs.rename({"time": "ts"}).join(truth, on="ts", how="inner")
    flip = datetime(2023, 6, 8, 0, 5, tzinfo=UTC)
    before = joined.filter(pl.col("ts") < flip)
    after = joined.filter(pl.col("ts") >= flip)
    assert before.height == 1440 + 5
    assert after.height == 1440 - 5
    scaled = before["funding"].cast(pl.Float64)
    assert ((scaled - before["hourly"] * 8).abs() < 1e-12).all()
    assert (after["funding"].cast(pl.Float64) == after["hourly"]).all()
    off_grid_before = ctxs.filter(
        (pl.col("time").dt.second() != 0) & (pl.col("time") < flip)
    ).height
    assert sim.quirks()["eight_hour_funding"] == before.height + off_grid_before
    # The funding truth stays hourly.
    settled = sim.truth("hyperliquid_funding")
    assert settled["funding_rate"].abs().max() < 0.0005  # type: ignore[operator]
    # No fills archive then in reality, but the simulator writes the node_fills layout.
    assert (sim.root / "hl-mainnet-node-data" / "node_fills" / "hourly" / "20230607").is_dir()


def test_quirks_off_writes_no_trap(tmp_path: Path) -> None:
    config = replace(
        CONFIG,
        out=tmp_path / "clean",
        end=CONFIG.start,
        symbols=("ETHUSDT",),
        hyperliquid_quirks=HyperliquidQuirks.off(),
    )
    simulate_archive(config)
    sim = Sim(config)
    ctxs = _ctxs(sim)
    quirks = sim.quirks()
    assert ctxs.height == 1440
    assert {k: quirks[k] for k in quirks["by_coin"]["ETH"]} == dict.fromkeys(
        quirks["by_coin"]["ETH"], 0
    )
    assert (ctxs["mark_px"] != "0.0").all()
    assert (ctxs["premium"] != "").all()
    assert (ctxs["open_interest"].cast(pl.Float64) > 0).all()


# Fills


def test_fill_files_switch_layout_at_the_cutover_and_every_hour_is_present(sim: Sim) -> None:
    node = sim.root / "hl-mainnet-node-data"
    written = {path.relative_to(node).as_posix() for path in node.rglob("*") if path.is_file()}
    expected = set()
    for day in sim.days:
        for hour in range(24):
            instant = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
            layout = "node_fills_by_block" if instant >= CUTOVER else "node_fills"
            expected.add(f"{layout}/hourly/{day:%Y%m%d}/{hour}.lz4")
    assert written == expected
    assert "node_fills/hourly/20250727/7.lz4" in written
    assert "node_fills_by_block/hourly/20250727/8.lz4" in written
    assert "node_fills_by_block/hourly/20250727/08.lz4" not in written

    for path in sorted((node / "node_fills").rglob("*.lz4")):
        hour_start = (
            _ms(datetime.strptime(path.parent.name, "%Y%m%d").replace(tzinfo=UTC))
            + int(path.stem) * 3_600_000
        )
        times = []
        for line in _text(path).splitlines():
            user, fill = json.loads(line)
            assert re.fullmatch(r"0x[0-9a-f]{40}", user)
            times.append(fill["time"])
        assert all(hour_start <= t < hour_start + 3_600_000 for t in times)
        assert times == sorted(times)

    previous_block = 0
    empty_blocks = 0
    for path in sorted(
        (node / "node_fills_by_block").rglob("*.lz4"),
        key=lambda p: (p.parent.name, int(p.stem)),
    ):
        for line in _text(path).splitlines():
            block = json.loads(line)
            assert list(block) == ["local_time", "block_time", "block_number", "events"]
            assert NS_TIME.match(block["block_time"])
            assert NS_TIME.match(block["local_time"])
            assert block["local_time"] > block["block_time"]
            assert block["block_number"] > previous_block
            previous_block = block["block_number"]
            block_ms = _ms(datetime.fromisoformat(block["block_time"][:23] + "+00:00"))
            assert all(fill["time"] == block_ms for _, fill in block["events"])
            empty_blocks += not block["events"]
    assert empty_blocks > 0
    assert 600_000_000 < previous_block < 800_000_000


def test_fill_fields_are_the_api_format(sim: Sim) -> None:
    fills = _fills(sim)
    keys = [
        "coin",
        "px",
        "sz",
        "side",
        "time",
        "startPosition",
        "dir",
        "closedPnl",
        "hash",
        "oid",
        "crossed",
        "fee",
        "tid",
        "feeToken",
    ]
    layouts = Counter(f.layout for f in fills)
    assert layouts["node_fills"] > 0
    assert layouts["node_fills_by_block"] > 0
    for f in fills:
        fill = f.fill
        assert list(fill)[:14] == keys
        assert set(fill) <= {*keys, "liquidation"}
        for name in ("px", "sz", "startPosition", "closedPnl", "fee"):
            assert re.fullmatch(r"-?\d+\.\d+", fill[name]), name
        assert fill["side"] in ("A", "B")
        assert fill["coin"] in COINS
        assert isinstance(fill["tid"], int)
        assert isinstance(fill["oid"], int)
        assert float(fill["sz"]) > 0
        assert float(fill["px"]) > 0
        assert fill["feeToken"] == "USDC"
        # Buying opens a long or closes a short; the position before the fill agrees.
        position = float(fill["startPosition"])
        if fill["side"] == "B":
            assert fill["dir"] in ("Open Long", "Close Short")
        else:
            assert fill["dir"] in ("Open Short", "Close Long")
        if fill["dir"].startswith("Close"):
            assert (position > 0) == (fill["dir"] == "Close Long")
            assert abs(position) >= float(fill["sz"]) - 1e-12
            assert fill["closedPnl"] != "0.0" or "liquidation" in fill
        else:
            assert position >= 0 if fill["dir"] == "Open Long" else position <= 0
            assert fill["closedPnl"] == "0.0"
    ordinary = [f for f in fills if "liquidation" not in f.fill]
    liquidation = [f for f in fills if "liquidation" in f.fill]
    assert len(ordinary) > 100
    assert len(liquidation) > 100


def test_every_trade_is_two_lines_with_one_tid_and_liquidations_on_both(sim: Sim) -> None:
    by_tid: dict[int, list[Fill]] = defaultdict(list)
    for f in _fills(sim):
        by_tid[f.fill["tid"]].append(f)
    liquidations = 0
    for tid, pair in by_tid.items():
        assert len(pair) == 2, tid
        a, b = pair
        assert {a.fill["side"], b.fill["side"]} == {"A", "B"}
        assert a.user != b.user
        for name in ("coin", "px", "sz", "time"):
            assert a.fill[name] == b.fill[name], name
        assert ("liquidation" in a.fill) == ("liquidation" in b.fill)
        if "liquidation" not in a.fill:
            assert {a.fill["crossed"], b.fill["crossed"]} == {True, False}
            continue
        liquidations += 1
        assert a.fill["liquidation"] == b.fill["liquidation"]
        obj = a.fill["liquidation"]
        assert list(obj) == ["liquidatedUser", "markPx", "method"]
        assert obj["method"] in ("market", "backstop")
        liquidated = [f for f in pair if f.user == obj["liquidatedUser"]]
        assert len(liquidated) == 1
        own = liquidated[0].fill
        # The liquidated user's side: A = a long sold off, B = a short bought back.
        assert own["dir"] == {"A": "Close Long", "B": "Close Short"}[own["side"]]
        assert own["crossed"] is True
        position = float(own["startPosition"])
        assert (position > 0) == (own["side"] == "A")
        assert abs(position) >= float(own["sz"]) - 1e-12
        assert float(own["closedPnl"]) <= 0
        assert abs(float(obj["markPx"]) / float(own["px"]) - 1) < 0.05
    assert liquidations > 100


def test_truth_is_what_the_fill_files_hold(sim: Sim) -> None:
    rows = {}
    for f in _fills(sim):
        liquidation = f.fill.get("liquidation")
        if liquidation is None or f.user != liquidation["liquidatedUser"]:
            continue
        key = (f.fill["tid"], liquidation["liquidatedUser"])
        assert key not in rows
        rows[key] = {
            "ts": f.fill["time"],
            "coin": f.fill["coin"],
            "liquidated_side": "long" if f.fill["side"] == "A" else "short",
            "price": float(f.fill["px"]),
            "qty_base": float(f.fill["sz"]),
            "tid": f.fill["tid"],
            "liquidated_user": liquidation["liquidatedUser"],
            "method": liquidation["method"],
            "mark_px": float(liquidation["markPx"]),
        }
    files = (
        pl.DataFrame(list(rows.values()))
        .with_columns(
            pl.col("ts").cast(pl.Datetime("ms", "UTC")),
            (pl.col("price") * pl.col("qty_base")).alias("notional_usd"),
        )
        .sort("tid", "liquidated_user")
    )
    truth = sim.truth("hyperliquid_liquidations")
    assert truth.columns[:6] == [
        "ts",
        "coin",
        "liquidated_side",
        "price",
        "qty_base",
        "notional_usd",
    ]
    assert truth.schema["ts"] == pl.Datetime("ms", "UTC")
    assert truth.select("tid", "liquidated_user").is_unique().all()
    assert files.select(truth.columns).equals(truth.sort("tid", "liquidated_user"))
    totals = {
        name: frame.group_by("coin", "liquidated_side")
        .agg(pl.col("notional_usd").sum(), pl.col("qty_base").sum(), pl.len())
        .sort("coin", "liquidated_side")
        for name, frame in (("files", files), ("truth", truth))
    }
    assert (
        totals["files"]
        .select("coin", "liquidated_side", "len")
        .equals(totals["truth"].select("coin", "liquidated_side", "len"))
    )
    for name in ("notional_usd", "qty_base"):
        for got, want in zip(totals["files"][name], totals["truth"][name], strict=True):
            assert got == pytest.approx(want, rel=1e-12), name
    quirks = sim.quirks()["fills"]
    assert quirks["liquidation_fills"] == truth.height
    assert quirks["liquidations"] == truth["liquidated_user"].n_unique()
    assert quirks["backstop_liquidations"] > 0
    assert truth["liquidated_side"].n_unique() == 2


def test_partial_liquidations_split_one_position_over_distinct_tids(sim: Sim) -> None:
    truth = sim.truth("hyperliquid_liquidations")
    parts = truth.group_by("liquidated_user").agg(
        pl.len().alias("fills"),
        pl.col("tid").n_unique().alias("tids"),
        pl.col("ts").n_unique().alias("times"),
        pl.col("qty_base").sum(),
    )
    partial = parts.filter(pl.col("fills") > 1)
    assert sim.quirks()["fills"]["partial_liquidations"] == partial.height > 0
    assert (partial["tids"] == partial["fills"]).all()
    assert (partial["times"] == 1).all()
    assert partial["fills"].max() <= 4  # type: ignore[operator]
    # The first fill's startPosition is the whole position, the parts sum to it.
    first: dict[str, float] = {}
    for f in _fills(sim):
        liquidation = f.fill.get("liquidation")
        if liquidation and f.user == liquidation["liquidatedUser"]:
            position = abs(float(f.fill["startPosition"]))
            first[f.user] = max(first.get(f.user, 0.0), position)
    for user, qty in partial.select("liquidated_user", "qty_base").rows():
        assert first[user] == pytest.approx(qty, abs=1e-9)


def test_liquidations_are_a_quarter_of_binance_s_and_follow_its_sides(sim: Sim) -> None:
    binance = (
        pl.read_parquet(sim.config.out / "truth" / "liquidations.parquet")
        .filter(pl.col("exchange") == "binance_um")
        .group_by(pl.col("symbol").str.strip_suffix("USDT").alias("coin"), "side")
        .agg(pl.col("notional_usd").sum().alias("binance"))
    )
    hyperliquid = (
        sim.truth("hyperliquid_liquidations")
        .group_by("coin", pl.col("liquidated_side").alias("side"))
        .agg(pl.col("notional_usd").sum().alias("hyperliquid"))
    )
    joined = binance.join(hyperliquid, on=["coin", "side"], how="left").filter(
        pl.col("binance") > 5e7
    )
    assert joined.height >= 2
    ratio = joined["hyperliquid"] / joined["binance"]
    assert ((ratio > 0.15) & (ratio < 0.4)).all(), joined


# Determinism and isolation


def test_same_seed_same_bytes_whatever_the_workers_and_the_archive_is_untouched(
    sim: Sim, tmp_path: Path
) -> None:
    parallel = replace(sim.config, out=tmp_path / "parallel", workers=2)
    simulate_archive(parallel)
    assert _tree(sim.root) == _tree(parallel.out / "hyperliquid")
    for name in (
        "hyperliquid_liquidations",
        "hyperliquid_funding",
        "hyperliquid_open_interest",
        "hyperliquid_asset_ctxs",
    ):
        assert sim.truth(name).equals(Sim(parallel).truth(name)), name
    assert sim.quirks() == Sim(parallel).quirks()

    without = replace(sim.config, out=tmp_path / "without", hyperliquid=False)
    simulate_archive(without)
    assert not (without.out / "hyperliquid").exists()
    assert not (without.out / "truth" / "hyperliquid_funding.parquet").exists()
    assert _tree(sim.config.out / "data") == _tree(without.out / "data")


def test_another_seed_moves_the_fills(sim: Sim, tmp_path: Path) -> None:
    other = replace(
        sim.config, out=tmp_path / "other", seed=sim.config.seed + 1, end=sim.config.start
    )
    simulate_archive(other)
    rel = "hyperliquid-archive/asset_ctxs/20250726.csv.lz4"
    assert _text(sim.root / rel) != _text(other.out / "hyperliquid" / rel)

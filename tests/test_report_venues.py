"""The report across venues (issue 14): every venue of the coin, and the cross-venue facts.

A tiny lake is written by hand, partition by partition, in the published layout: two days of
bitcoin on Binance USDⓈ-M and COIN-M, BitMEX (settling at 04/12/20 UTC), Bybit and OKX, with
the ``coin`` column the facts gained, the hourly cross-venue funding and open interest, and an
ether perpetual that must stay out of bitcoin's report. The tests read the report's data, draw
its charts and write its files, and check the numbers and the words on the charts; older lakes
(no ``coin`` column, no cross-venue facts) must still report as before.
"""

import io
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from transforms.facts import (
    FCT_FUNDING,
    FCT_FUNDING_CROSS_VENUE,
    FCT_OPEN_INTEREST,
    FCT_OPEN_INTEREST_CROSS_VENUE,
    FCT_PRICE_1M,
)
from transforms.publish import PARTITION_FILE, partition_dir
from transforms.report.build import build_report
from transforms.report.charts.funding import CROSS_VENUE, CROSS_VENUE_LABEL, funding_chart
from transforms.report.charts.open_interest import open_interest_chart
from transforms.report.data import ReportRequest, load_report_data
from transforms.report.page import chart_spec, render_png

FIRST, LAST = date(2024, 3, 1), date(2024, 3, 2)
DAYS = (FIRST, LAST)
HOURS = 24 * len(DAYS)
REQUEST = ReportRequest("binance_um", "BTCUSDT", FIRST, LAST)

FUNDING_VENUES = {
    # (exchange, symbol): (coin, rate per 8-hour settlement, settlement hours UTC)
    ("binance_um", "BTCUSDT"): ("BTC", 0.0001, (0, 8, 16)),
    ("binance_cm", "BTCUSD_PERP"): ("BTC", 0.00005, (0, 8, 16)),
    ("bitmex", "XBTUSD"): ("BTC", 0.0003, (4, 12, 20)),
    ("bybit", "BTCUSDT"): ("BTC", 0.0002, (0, 8, 16)),
    ("okx", "BTC-USDT-SWAP"): ("BTC", 0.00015, (0, 8, 16)),
    ("binance_um", "ETHUSDT"): ("ETH", 0.0009, (0, 8, 16)),
}
OI_VENUES = {
    # (exchange, symbol): (coin, open interest in base units at the hour's last reading)
    ("binance_um", "BTCUSDT"): ("BTC", 80_000.0),
    ("binance_cm", "BTCUSD_PERP"): ("BTC", 5_000.0),
    ("bybit", "BTCUSDT"): ("BTC", 50_000.0),
    ("okx", "BTC-USDT-SWAP"): ("BTC", 20_000.0),
    ("binance_um", "ETHUSDT"): ("ETH", 900_000.0),
}
BTC_FUNDING_EXCHANGES = "binance_cm,binance_um,bitmex,bybit,okx"
BTC_OI_EXCHANGES = "binance_cm,binance_um,bybit,okx"
PRICE = 60_000.0


def _hours() -> Iterable[tuple[int, datetime]]:
    """Every hour of the lake, numbered from the first."""
    start = datetime(FIRST.year, FIRST.month, FIRST.day, tzinfo=UTC)
    for index in range(HOURS):
        yield index, start + timedelta(hours=index)


def _close(hour: int) -> float:
    return PRICE + 10.0 * hour


def weighted_rate(hour: int) -> float | None:
    """The cross-venue fact's OI-weighted rate per 8h: none in the first hour (no OI yet)."""
    return None if hour == 0 else 0.0001 + hour * 1e-6


def all_oi_base(hour: int) -> float:
    return 150_000.0 + hour


def _write(lake: Path, table: str, schema: pa.Schema, rows: list[dict[str, Any]]) -> None:
    """Publish ``rows`` as ``table``'s day partitions, by the UTC day of their instant."""
    instant = "funding_time" if "funding_time" in schema.names else "ts"
    for day in {row[instant].date() for row in rows}:
        path = partition_dir(lake, table, day) / PARTITION_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        day_rows = [row for row in rows if row[instant].date() == day]
        pq.write_table(pa.Table.from_pylist(day_rows, schema=schema), path)


def _without_coin(schema: pa.Schema) -> pa.Schema:
    """The table's layout before issue 14 added the coin."""
    return schema.remove(schema.get_field_index("coin"))


def _row(schema: pa.Schema, **values: Any) -> dict[str, Any]:
    """A row of ``schema``: the given values, every other column null."""
    return {name: values.get(name) for name in schema.names}


def write_lake(lake: Path, *, cross_venue: bool = True, with_coin: bool = True) -> None:
    """The two days' facts; ``with_coin=False`` and ``cross_venue=False`` give an older lake."""
    funding_schema = FCT_FUNDING.schema
    oi_schema = FCT_OPEN_INTEREST.schema
    if not with_coin:
        funding_schema, oi_schema = _without_coin(funding_schema), _without_coin(oi_schema)
    price_schema = FCT_PRICE_1M.schema
    prices = [
        _row(price_schema, exchange=exchange, symbol=symbol, ts=at + timedelta(minutes=59),
             close=_close(hour), source_file="test")
        for exchange, symbol in (("binance_um", "BTCUSDT"), ("binance_cm", "BTCUSD_PERP"))
        for hour, at in _hours()
    ]  # fmt: skip
    _write(lake, FCT_PRICE_1M.name, price_schema, prices)
    funding = [
        _row(
            funding_schema,
            exchange=exchange,
            symbol=symbol,
            funding_time=at,
            funding_rate=rate,
            funding_interval_hours=8,
            funding_rate_8h=rate,
            funding_rate_apr=rate * 3 * 365,
            source_file="test",
            coin=coin,
        )
        for (exchange, symbol), (coin, rate, settlements) in FUNDING_VENUES.items()
        if with_coin or exchange.startswith("binance")
        for _, at in _hours()
        if at.hour in settlements
    ]
    _write(lake, FCT_FUNDING.name, funding_schema, funding)
    open_interest = [
        _row(
            oi_schema,
            exchange=exchange,
            symbol=symbol,
            ts=at + timedelta(minutes=minute),
            oi_base=oi + hour + minute / 100,
            oi_usd=(oi + hour + minute / 100) * _close(hour),
            source_file="test",
            coin=coin,
        )
        for (exchange, symbol), (coin, oi) in OI_VENUES.items()
        if with_coin or exchange.startswith("binance")
        for hour, at in _hours()
        for minute in (0, 55)
    ]
    _write(lake, FCT_OPEN_INTEREST.name, oi_schema, open_interest)
    if not cross_venue:
        return
    funding_schema = FCT_FUNDING_CROSS_VENUE.schema
    cross_funding = [
        _row(
            funding_schema,
            coin="BTC",
            ts=at,
            venues=BTC_FUNDING_EXCHANGES,
            venue_count=5,
            funding_rate_8h_mean=0.00015,
            funding_rate_8h_oi_weighted=weighted_rate(hour),
            funding_rate_apr_mean=0.00015 * 1095,
            funding_rate_apr_oi_weighted=(weighted_rate(hour) or 0.0) * 1095 or None,
            oi_weighted_venue_count=0 if hour == 0 else 4,
            oi_usd_weight=None if hour == 0 else all_oi_base(hour) * _close(hour),
        )
        for hour, at in _hours()
    ] + [
        _row(funding_schema, coin="ETH", ts=at, venues="binance_um", venue_count=1,
             funding_rate_8h_oi_weighted=0.0009, oi_weighted_venue_count=1)
        for _, at in _hours()
    ]  # fmt: skip
    _write(lake, FCT_FUNDING_CROSS_VENUE.name, funding_schema, cross_funding)
    oi_schema = FCT_OPEN_INTEREST_CROSS_VENUE.schema
    cross_oi = [
        _row(
            oi_schema,
            coin="BTC",
            ts=at,
            oi_base=all_oi_base(hour),
            oi_usd=all_oi_base(hour) * _close(hour),
            # The first hour, COIN-M had not reported yet.
            venues="binance_um,bybit,okx" if hour == 0 else BTC_OI_EXCHANGES,
            venue_count=3 if hour == 0 else 4,
        )
        for hour, at in _hours()
    ] + [
        _row(oi_schema, coin="ETH", ts=at, oi_base=1.0, oi_usd=3_000.0, venues="binance_um",
             venue_count=1)
        for _, at in _hours()
    ]  # fmt: skip
    _write(lake, FCT_OPEN_INTEREST_CROSS_VENUE.name, oi_schema, cross_oi)


@dataclass(frozen=True)
class Lakes:
    current: Path
    older: Path


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> Lakes:
    root = tmp_path_factory.mktemp("venues")
    write_lake(root / "current")
    write_lake(root / "older", cross_venue=False, with_coin=False)
    return Lakes(root / "current", root / "older")


def _dataset(spec: dict[str, Any], column: str) -> list[dict[str, Any]]:
    """The rows a chart's spec draws that have ``column`` (the one such dataset)."""
    (rows,) = [rows for rows in spec["datasets"].values() if rows and column in rows[0]]
    return list(rows)


def _subtitle(spec: dict[str, Any]) -> list[str]:
    subtitle = spec["title"]["subtitle"]
    return [subtitle] if isinstance(subtitle, str) else list(subtitle)


def test_funding_takes_every_venue_of_the_coin_by_its_coin_column(lakes: Lakes) -> None:
    data = load_report_data(lakes.current, REQUEST)

    assert data.coin == "BTC"
    assert {"bitmex:XBTUSD", "bybit:BTCUSDT", "okx:BTC-USDT-SWAP"} <= set(data.venues)
    assert "binance_um:ETHUSDT" not in data.venues
    funding = data.funding
    assert set(funding["venue"]) == {
        "binance_um BTCUSDT",
        "binance_cm BTCUSD_PERP",
        "bitmex XBTUSD",
        "bybit BTCUSDT",
        "okx BTC-USDT-SWAP",
    }
    bitmex = funding.filter(pl.col("venue") == "bitmex XBTUSD")
    assert bitmex["settled_at"].to_list() == [
        f"2024-03-0{day}T{hour:02d}:00:00Z" for day in (1, 2) for hour in (4, 12, 20)
    ]
    assert bitmex["rate_8h_pct"].to_list() == pytest.approx([0.03] * 6)
    assert bitmex["apr_pct"].to_list() == pytest.approx([0.03 * 1095] * 6)
    binance = funding.filter(pl.col("venue") == "binance_um BTCUSDT")
    assert [at[11:13] for at in binance["settled_at"]] == ["00", "08", "16"] * 2
    assert binance["rate_8h_pct"].to_list() == pytest.approx([0.01] * 6)


def test_the_cross_venue_line_is_the_coins_oi_weighted_rate(lakes: Lakes) -> None:
    cross = load_report_data(lakes.current, REQUEST).funding_cross_venue

    # The first hour had no open interest to weigh: no weighted rate, no point on the line.
    assert cross.height == HOURS - 1
    assert cross["hour"][0] == "2024-03-01T01:00:00Z"
    assert cross["hour"][-1] == "2024-03-02T23:00:00Z"
    expected = [100 * (weighted_rate(hour) or 0.0) for hour in range(1, HOURS)]
    assert cross["rate_8h_pct"].to_list() == pytest.approx(expected)
    assert cross["apr_pct"].to_list() == pytest.approx([rate * 1095 for rate in expected])
    assert cross["mean_8h_pct"].to_list() == pytest.approx([0.015] * (HOURS - 1))
    assert set(cross["venues"]) == {BTC_FUNDING_EXCHANGES}
    assert set(cross["oi_weighted_venue_count"]) == {4}
    assert cross["oi_usd_weight"][0] == pytest.approx(all_oi_base(1) * _close(1))


def test_open_interest_sums_the_coins_venues_beside_the_perpetual(lakes: Lakes) -> None:
    frame = load_report_data(lakes.current, REQUEST).open_interest

    assert frame.height == HOURS
    # The perpetual's own: its last reading of each hour (hh:55), not the ether perpetual's.
    assert frame["oi_base"].to_list() == pytest.approx(
        [80_000.0 + hour + 0.55 for hour in range(HOURS)]
    )
    assert frame["close"].to_list() == pytest.approx([_close(hour) for hour in range(HOURS)])
    assert frame["all_oi_base"].to_list() == pytest.approx(
        [all_oi_base(hour) for hour in range(HOURS)]
    )
    assert frame["all_oi_usd"][5] == pytest.approx(all_oi_base(5) * _close(5))
    assert frame["all_venues"][0] == "binance_um,bybit,okx"
    assert set(frame["all_venues"][1:]) == {BTC_OI_EXCHANGES}
    assert frame["all_venue_count"].to_list() == [3] + [4] * (HOURS - 1)


def test_the_charts_show_every_venue_the_weighted_line_and_the_aggregate(
    lakes: Lakes, tmp_path: Path
) -> None:
    report = build_report(lakes.current, REQUEST, tmp_path)
    charts = {chart.key: chart for chart in report.charts}
    assert report.empty_charts == ["liquidations", "heatmap", "regimes", "coverage"]

    funding = chart_spec(charts["funding"])
    assert funding["title"]["text"] == (
        "Funding per settlement, BTC perpetuals on binance_cm, binance_um, bitmex, bybit, okx"
    )
    assert _subtitle(funding)[-1] == (
        "Black, stepped: each venue's latest settlement weighted by its USD open interest, "
        "hourly, across binance_cm, binance_um, bitmex, bybit, okx (4 with open interest)."
    )
    assert charts["funding"].points == 5 * 6 + HOURS - 1
    scales = [
        layer["encoding"]["color"]["scale"]
        for layer in funding["layer"][0]["layer"]
        if "color" in layer.get("encoding", {})
    ]
    assert scales, "the venues and the weighted line share one colour scale"
    for scale in scales:
        assert scale["domain"][-1] == CROSS_VENUE_LABEL
        assert scale["range"][-1] == CROSS_VENUE
        assert len(set(scale["range"])) == len(scale["domain"]) == 6, "a colour per venue"

    open_interest = chart_spec(charts["open_interest"])
    panels = open_interest["vconcat"]
    assert len(panels) == 3
    assert panels[2]["title"]["text"] == (
        "All BTC venues summed, BTC (solid, left) and USD (dashed, right)"
    )
    assert _subtitle(panels[2]) == [
        "The last reading of each hour on binance_cm, binance_um, bybit, okx (3–4 per hour)."
    ]
    assert charts["open_interest"].points == HOURS

    for key in ("funding", "open_interest"):
        assert report.files.pngs[key].stat().st_size > 20_000, f"{key}.png draws a chart"
    assert (
        "venues of BTC:\n    binance_cm:BTCUSD_PERP, binance_um:BTCUSDT, bitmex:XBTUSD, "
        "bybit:BTCUSDT, okx:BTC-USDT-SWAP ·"
    ) in report.files.html.read_text()


def test_a_lake_without_the_coin_or_the_cross_venue_facts_still_reports(
    lakes: Lakes, tmp_path: Path
) -> None:
    # A year's range over two days of data: the missing partitions are simply absent.
    request = ReportRequest("binance_um", "BTCUSDT", LAST - timedelta(days=364), LAST)
    report = build_report(lakes.older, request, tmp_path)
    data = report.data

    assert data.coin == "BTC"
    assert data.venues == ("binance_cm:BTCUSD_PERP", "binance_um:BTCUSDT")
    assert set(data.funding["venue"]) == {"binance_um BTCUSDT", "binance_cm BTCUSD_PERP"}
    assert data.funding.height == 2 * 6
    assert data.funding_cross_venue.is_empty()
    assert data.open_interest["all_oi_base"].null_count() == HOURS
    charts = {chart.key: chart for chart in report.charts}
    funding = chart_spec(charts["funding"])
    assert _subtitle(funding)[-1] == (
        "No open-interest-weighted line: the lake holds no cross-venue funding of BTC in the "
        "range (fct_funding_cross_venue)."
    )
    # A year is drawn a point per day: each venue's day of settlements, and each day's last
    # reading of open interest and last close.
    assert charts["funding"].points == 2 * 2
    settlements = sorted(
        (row["venue"], row["settled_at"], row["settlements"], row["rate_8h_pct"], row["rate_pct"])
        for row in _dataset(funding, "settlements")
    )
    # Three settlements a day: the mean rate per 8h, and what the three paid.
    assert settlements == [
        (venue, f"2024-03-0{day}T00:00:00Z", 3, pytest.approx(rate), pytest.approx(3 * rate))
        for venue, rate in (("binance_cm BTCUSD_PERP", 0.005), ("binance_um BTCUSDT", 0.01))
        for day in (1, 2)
    ]
    assert funding["title"]["text"] == (
        "Funding, daily mean of the settlements, BTC perpetuals on binance_cm, binance_um"
    )
    open_interest = chart_spec(charts["open_interest"])
    assert len(open_interest["vconcat"]) == 2, "no aggregate panel: the chart as before"
    assert charts["open_interest"].points == 2
    days = [
        (row["hour"], row["oi_base"], row["close"]) for row in _dataset(open_interest, "oi_base")
    ]
    assert days == [
        ("2024-03-01T00:00:00Z", pytest.approx(80_000.0 + 23.55), _close(23)),
        ("2024-03-02T00:00:00Z", pytest.approx(80_000.0 + 47.55), _close(47)),
    ]
    assert "binance_um, daily, with the price" in open_interest["title"]["text"]
    assert "one point per day (UTC)" in report.files.html.read_text()
    for key in ("funding", "open_interest"):
        assert report.files.pngs[key].stat().st_size > 20_000, f"{key}.png draws a chart"


def test_older_partitions_without_the_coin_pair_binance_symbols_as_before(
    lakes: Lakes, tmp_path: Path
) -> None:
    # The first day was published before the coin column: Binance only, in the old layout.
    lake = tmp_path / "lake"
    write_lake(lake)
    old_day = tmp_path / "old"
    write_lake(old_day, cross_venue=False, with_coin=False)
    for table in (FCT_FUNDING.name, FCT_OPEN_INTEREST.name):
        path = partition_dir(lake, table, FIRST) / PARTITION_FILE
        path.write_bytes((partition_dir(old_day, table, FIRST) / PARTITION_FILE).read_bytes())
        assert "coin" not in pq.read_schema(path).names

    funding = load_report_data(lake, REQUEST).funding

    first_day = pl.col("settled_at").str.starts_with(FIRST.isoformat())
    assert set(funding.filter(first_day)["venue"]) == {
        "binance_um BTCUSDT",
        "binance_cm BTCUSD_PERP",
    }
    assert funding.filter(first_day).height == 2 * 3
    assert set(funding.filter(~first_day)["venue"]) == {
        "binance_um BTCUSDT",
        "binance_cm BTCUSD_PERP",
        "bitmex XBTUSD",
        "bybit BTCUSDT",
        "okx BTC-USDT-SWAP",
    }


def test_funding_and_open_interest_charts_draw_with_only_cross_venue_data(lakes: Lakes) -> None:
    """A range where only the cross-venue facts have rows still lays out both charts."""
    data = load_report_data(lakes.current, REQUEST)
    only_cross = replace(
        data,
        funding=data.funding.clear(),
        open_interest=data.open_interest.with_columns(
            pl.lit(None, pl.Float64).alias(name) for name in ("oi_base", "oi_usd", "close")
        ),
    )
    funding = funding_chart(only_cross)
    assert funding.points == HOURS - 1
    assert chart_spec(funding)["title"]["text"] == "Funding per settlement, BTC perpetuals"
    open_interest = open_interest_chart(only_cross)
    assert open_interest.points == HOURS
    for chart in (funding, open_interest):
        image = Image.open(io.BytesIO(render_png(chart_spec(chart))))
        assert image.width > 600, chart.key

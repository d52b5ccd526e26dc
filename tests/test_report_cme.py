"""The report's CME chart (issue 16): CME's bitcoin futures open interest beside the perpetuals'.

A tiny lake is written by hand, partition by partition, in the published layout: three weeks of
CFTC's Commitments of Traders for CME Bitcoin (5 BTC a contract) and Micro Bitcoin (0.1 BTC) as
of their Tuesdays, bitcoin's cross-venue open interest on the first two Tuesdays and, on the
third, only the venues' own readings (a lake built before the cross-venue fact), with ether
beside it that must stay out. The tests read the chart's numbers, draw it and write the page;
an ether report and a lake without the Commitments of Traders must report without it.
"""

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.facts import (
    FCT_COT_WEEKLY,
    FCT_OPEN_INTEREST,
    FCT_OPEN_INTEREST_CROSS_VENUE,
    FCT_PRICE_1M,
)
from transforms.publish import PARTITION_FILE, partition_dir
from transforms.report.build import build_report
from transforms.report.charts.cme_open_interest import cme_open_interest_chart
from transforms.report.data import ReportRequest, load_report_data
from transforms.report.page import chart_spec

FIRST, LAST = date(2024, 3, 4), date(2024, 3, 20)
TUESDAYS = (date(2024, 3, 5), date(2024, 3, 12), date(2024, 3, 19))
REQUEST = ReportRequest("binance_um", "BTCUSDT", FIRST, LAST)
COT = {
    # Tuesday: (CME Bitcoin contracts, CME Micro Bitcoin contracts)
    TUESDAYS[0]: (20_000.0, 50_000.0),
    TUESDAYS[1]: (22_000.0, 40_000.0),
    TUESDAYS[2]: (21_000.0, 60_000.0),
}
CROSS_VENUE_LAST_HOUR = {TUESDAYS[0]: 23, TUESDAYS[1]: 20}
"""The cross-venue fact's last hour of each Tuesday it covers: the second ends at 20:00."""
OWN_READINGS = {("binance_um", "BTCUSDT"): 90_000.0, ("bybit", "BTCUSDT"): 45_000.0}
"""The third Tuesday's venues without the cross-venue fact: base open interest at hour 0."""


def _at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def cross_venue_btc(day: date, hour: int) -> float:
    return 300_000.0 + 1_000.0 * TUESDAYS.index(day) + 10.0 * hour


def own_reading(base: float, hour: int, minute: int) -> float:
    return base + 100.0 * hour + minute


def _row(schema: pa.Schema, **values: Any) -> dict[str, Any]:
    """A row of ``schema``: the given values, every other column null."""
    return {name: values.get(name) for name in schema.names}


def _write(lake: Path, table: str, schema: pa.Schema, rows: list[dict[str, Any]], at: str) -> None:
    """Publish ``rows`` as ``table``'s day partitions, by the UTC day of their ``at`` column."""
    for day in sorted({row[at].date() for row in rows}):
        path = partition_dir(lake, table, day) / PARTITION_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        day_rows = [row for row in rows if row[at].date() == day]
        pq.write_table(pa.Table.from_pylist(day_rows, schema=schema), path)


def write_lake(lake: Path, *, cot: bool = True) -> None:
    """Prices of bitcoin and ether, the open interest and, with ``cot``, the three reports."""
    schema = FCT_PRICE_1M.schema
    prices = [
        _row(schema, exchange="binance_um", symbol=symbol, ts=_at(FIRST + timedelta(days=d), 12),
             close=close, source_file="test")
        for symbol, close in (("BTCUSDT", 65_000.0), ("ETHUSDT", 3_500.0))
        for d in range((LAST - FIRST).days + 1)
    ]  # fmt: skip
    _write(lake, FCT_PRICE_1M.name, schema, prices, "ts")
    schema = FCT_OPEN_INTEREST_CROSS_VENUE.schema
    cross = [
        _row(schema, coin="BTC", ts=_at(day, hour), oi_base=cross_venue_btc(day, hour),
             oi_usd=cross_venue_btc(day, hour) * 65_000.0, venues="binance_um,bybit,okx",
             venue_count=3)
        for day, last_hour in CROSS_VENUE_LAST_HOUR.items()
        for hour in range(last_hour + 1)
    ] + [
        # The next day's first hour is not the Tuesday's; ether is not bitcoin.
        _row(schema, coin="BTC", ts=_at(TUESDAYS[0] + timedelta(days=1)), oi_base=1.0,
             venues="binance_um", venue_count=1),
        _row(schema, coin="ETH", ts=_at(TUESDAYS[0], 23), oi_base=2_000_000.0,
             venues="binance_um", venue_count=1),
    ]  # fmt: skip
    _write(lake, FCT_OPEN_INTEREST_CROSS_VENUE.name, schema, cross, "ts")
    schema = FCT_OPEN_INTEREST.schema
    readings = [
        _row(schema, exchange=exchange, symbol=symbol, coin="BTC",
             ts=_at(TUESDAYS[2], hour, minute), oi_base=own_reading(base, hour, minute),
             source_file="test")
        for (exchange, symbol), base in OWN_READINGS.items()
        for hour in (22, 23)
        for minute in (0, 55)
    ] + [
        _row(schema, exchange="binance_um", symbol="ETHUSDT", coin="ETH",
             ts=_at(TUESDAYS[2], 23, 55), oi_base=2_000_000.0, source_file="test"),
    ]  # fmt: skip
    _write(lake, FCT_OPEN_INTEREST.name, schema, readings, "ts")
    if not cot:
        return
    schema = FCT_COT_WEEKLY.schema
    reports = [
        _row(schema, exchange="cme", symbol=code, as_of=_at(day),
             report_date=day + timedelta(days=3), market_name=name, contract_size=size,
             open_interest=contracts[index], open_interest_btc=contracts[index] * size,
             source_file="FinFut24.txt")
        for day, contracts in COT.items()
        for index, (code, name, size) in enumerate(
            (("133741", "BITCOIN - CHICAGO MERCANTILE EXCHANGE", 5.0),
             ("133742", "MICRO BITCOIN - CHICAGO MERCANTILE EXCHANGE", 0.1))
        )
    ]  # fmt: skip
    _write(lake, FCT_COT_WEEKLY.name, schema, reports, "as_of")


@dataclass(frozen=True)
class Lakes:
    current: Path
    without_cot: Path


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> Lakes:
    root = tmp_path_factory.mktemp("cme")
    write_lake(root / "current")
    write_lake(root / "without_cot", cot=False)
    return Lakes(root / "current", root / "without_cot")


def _subtitle(spec: dict[str, Any]) -> list[str]:
    subtitle = spec["title"]["subtitle"]
    return [subtitle] if isinstance(subtitle, str) else list(subtitle)


def _expected() -> list[dict[str, Any]]:
    """Each Tuesday's CME and perpetual open interest in BTC, as the chart should draw them."""
    rows = []
    for day, (bitcoin, micro) in COT.items():
        if day in CROSS_VENUE_LAST_HOUR:
            hour = CROSS_VENUE_LAST_HOUR[day]
            offshore = cross_venue_btc(day, hour)
            source = "fct_open_interest_cross_venue"
        else:
            hour = 23
            offshore = sum(own_reading(base, 23, 55) for base in OWN_READINGS.values())
            source = "fct_open_interest"
        cme = bitcoin * 5.0 + micro * 0.1
        rows.append(
            {
                "week": day.isoformat(),
                "cme_bitcoin_btc": bitcoin * 5.0,
                "cme_micro_btc": micro * 0.1,
                "cme_btc": cme,
                "offshore_btc": offshore,
                "offshore_hour": f"{day}T{hour:02d}:00:00Z",
                "offshore_source": source,
                "cme_share": cme / (cme + offshore),
            }
        )
    return rows


def test_cme_open_interest_beside_the_perpetuals_each_tuesday(lakes: Lakes) -> None:
    frame = load_report_data(lakes.current, REQUEST).cme_open_interest

    expected = _expected()
    assert frame["week"].to_list() == [row["week"] for row in expected]
    assert frame["report_date"].to_list() == ["2024-03-08", "2024-03-15", "2024-03-22"]
    for column in ("cme_bitcoin_btc", "cme_micro_btc", "cme_btc", "offshore_btc", "cme_share"):
        assert frame[column].to_list() == pytest.approx([row[column] for row in expected]), column
    for column in ("offshore_hour", "offshore_source"):
        assert frame[column].to_list() == [row[column] for row in expected], column
    assert frame["cme_bitcoin_contracts"].to_list() == pytest.approx([c[0] for c in COT.values()])
    assert frame["cme_micro_contracts"].to_list() == pytest.approx([c[1] for c in COT.values()])
    assert frame["offshore_venues"].to_list() == [
        "binance_um,bybit,okx",
        "binance_um,bybit,okx",
        "binance_um,bybit",
    ]
    # The first week by hand: 100,000 + 5,000 BTC at CME against 300,230 on the perpetuals.
    assert frame["cme_btc"][0] == pytest.approx(105_000.0)
    assert frame["offshore_btc"][0] == pytest.approx(300_230.0)
    assert frame["cme_share"][0] == pytest.approx(105_000.0 / 405_230.0)


def test_the_chart_says_what_each_series_is_and_the_cme_share(lakes: Lakes, tmp_path: Path) -> None:
    report = build_report(lakes.current, REQUEST, tmp_path)
    keys = [chart.key for chart in report.charts]
    assert keys[keys.index("open_interest") + 1] == "cme_open_interest"
    chart = next(chart for chart in report.charts if chart.key == "cme_open_interest")
    assert chart.points == 3
    assert "cme_open_interest" not in report.empty_charts

    spec = chart_spec(chart)
    assert spec["title"]["text"] == (
        "Open interest in BTC, weekly: CME bitcoin futures (bars) beside the BTC perpetuals (line)"
    )
    last = _expected()[-1]
    shares = [row["cme_share"] for row in _expected()]
    assert _subtitle(spec) == [
        "Bars: CME's Bitcoin (5 BTC a contract) and Micro Bitcoin (0.1 BTC) futures open "
        "interest, stacked, in BTC: CFTC's",
        "Commitments of Traders, futures only (no options), as of each Tuesday, released the "
        "Friday after.",
        "Black line: the BTC perpetuals' open interest summed over binance_um, bybit,",
        "okx, at each Tuesday's last hour (20:00–23:00 UTC).",
        "1 Tuesday(s) without the cross-venue fact sum each instrument's last reading of the "
        "hour (fct_open_interest).",
        f"CME share of the total: {last['cme_share']:.1%} on 2024-03-19 (CME "
        f"{last['cme_btc']:,.0f} BTC, perpetuals {last['offshore_btc']:,.0f} BTC); "
        f"{min(shares):.1%}–{max(shares):.1%} over 3 weeks.",
    ]
    bars = spec["vconcat"][0]["layer"][0]
    bar_rows = spec["datasets"][bars["data"]["name"]]
    assert sorted((row["week"], row["series"], row["btc"]) for row in bar_rows) == sorted(
        [(row["week"], "CME Bitcoin (5 BTC)", row["cme_bitcoin_btc"]) for row in _expected()]
        + [
            (row["week"], "CME Micro Bitcoin (0.1 BTC)", row["cme_micro_btc"])
            for row in _expected()
        ]
    )

    assert report.files.pngs["cme_open_interest"].stat().st_size > 20_000
    html = report.files.html.read_text()
    assert 'id="chart-cme_open_interest"' in html
    assert "CME futures open interest beside the perpetuals" in html


def test_an_ether_report_leaves_the_chart_out(lakes: Lakes, tmp_path: Path) -> None:
    request = ReportRequest("binance_um", "ETHUSDT", FIRST, LAST)
    report = build_report(lakes.current, request, tmp_path)

    assert report.data.coin == "ETH"
    assert report.data.cme_open_interest.is_empty()
    assert "cme_open_interest" not in [chart.key for chart in report.charts]
    assert "cme_open_interest" not in report.files.pngs
    assert report.files.html.stat().st_size > 0
    assert 'id="chart-cme_open_interest"' not in report.files.html.read_text()
    # Drawn anyway (by a caller of the chart alone), it says why it is empty.
    alone = cme_open_interest_chart(report.data)
    assert alone.points == 0
    assert _subtitle(chart_spec(alone)) == [
        "CME's bitcoin futures only: no CME open interest to set beside ETH's."
    ]


def test_a_lake_without_the_commitments_of_traders_reports_without_the_chart(
    lakes: Lakes, tmp_path: Path
) -> None:
    report = build_report(lakes.without_cot, REQUEST, tmp_path)

    assert report.data.coin == "BTC"
    assert report.data.cme_open_interest.is_empty()
    assert "cme_open_interest" not in [chart.key for chart in report.charts]
    assert 'id="chart-cme_open_interest"' not in report.files.html.read_text()
    assert report.files.pngs["open_interest"].stat().st_size > 20_000
    alone = cme_open_interest_chart(report.data)
    assert alone.points == 0
    assert _subtitle(chart_spec(alone)) == [
        "No CME open interest: the lake holds no Commitments of Traders (fct_cot_weekly) as of "
        "a Tuesday in the range."
    ]


def test_a_range_without_a_tuesday_has_no_cme_rows(lakes: Lakes) -> None:
    request = replace(REQUEST, first=date(2024, 3, 13), last=date(2024, 3, 18))
    assert load_report_data(lakes.current, request).cme_open_interest.is_empty()

"""Long reports drawn at 4-hour or daily points, the coins that get a report, and reports drawn
side by side (issue 17, item 2).

A lake is written by hand, partition by partition: 90 days of bitcoin on Binance USDⓈ-M (prices,
open interest read at :00 and :55, funding at 00/08/16 UTC that turns 4-hourly on one day),
a quarterly's open interest, Hyperliquid's hourly funding, the hourly cross-venue funding and
the hourly regimes, every value a formula of the hour, so that each bucket's expected last,
mean and sum can be worked out here. A second, two-day lake holds bitcoin and ether for the
coin selection and the parallel drawing.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import pipelines.runner
from pipelines.cli import app
from pipelines.defs.report import report as report_asset
from pipelines.defs.resources import TreadmillConfig
from pipelines.runner import Materialization
from transforms.errors import ConfigError
from transforms.facts import (
    FCT_FUNDING,
    FCT_FUNDING_CROSS_VENUE,
    FCT_OPEN_INTEREST,
    FCT_PRICE_1M,
)
from transforms.features import FEAT_REGIME_1H
from transforms.publish import PARTITION_FILE, partition_dir
from transforms.report.buckets import DAILY, FOUR_HOURLY, HOURLY, resolution_for
from transforms.report.build import Report, build_report, build_reports
from transforms.report.charts.funding import funding_chart
from transforms.report.charts.open_interest import open_interest_chart
from transforms.report.charts.regimes import regime_chart
from transforms.report.data import (
    REPORT_COINS_ENV,
    ReportDataError,
    ReportRequest,
    load_report_data,
    parse_report_coins,
    report_perpetuals,
)
from transforms.report.page import PAGE_FILE, chart_spec
from transforms.settings import REPORTS_FOLDER, Settings

FIRST = date(2024, 1, 1)
DAYS = 90
LAST = FIRST + timedelta(days=DAYS - 1)
HOURS = 24 * DAYS
MIXED_DAY = 10
"""The day Binance settles every 4 hours, from 08:00: the daily mean weighs the intervals."""
QUARTERLY = "BTCUSDT_240628"
SMALL_FIRST, SMALL_LAST = date(2024, 3, 1), date(2024, 3, 2)
UNIVERSE = {"binance_um": ("BTCUSDT", "ETHUSDT"), "binance_cm": ("BTCUSD_PERP", "SOLUSD_PERP")}


def _start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def close(hour: int) -> float:
    return 60_000.0 + hour


def oi_base(hour: int, minute: int) -> float:
    return 1_000.0 + hour + minute / 100


def hyperliquid_rate(hour: int) -> float:
    """Hyperliquid's hourly rate per hour: a different value in each hour of a 4-hour bucket."""
    return 1e-5 * (hour % 4 + 1) * (1 + (hour // 24) % 2)


def binance_settlements(day: int) -> list[tuple[int, int, float]]:
    """(hour of the day, interval hours, rate per interval) of Binance's settlements."""
    if day == MIXED_DAY:
        return [(0, 8, 8e-5), (8, 4, 1e-4), (12, 4, 2e-4), (16, 4, 3e-4), (20, 4, 1e-4)]
    return [(hour, 8, 1e-4 * (1 + day % 3)) for hour in (0, 8, 16)]


def cross_rate(hour: int) -> float:
    return 1e-4 + 1e-6 * hour


def regime(hour: int) -> str:
    """Even 4-hour buckets: three hours of squeeze, one reset; odd ones: a tie of neutral and
    flush, which flush wins (it comes first in the priority order)."""
    bucket, position = divmod(hour, 4)
    if bucket % 2 == 0:
        return "reset" if position == 3 else "squeeze"
    return "flush" if position % 2 else "neutral"


def _write(lake: Path, table: str, schema: pa.Schema, rows: list[dict[str, Any]]) -> None:
    """Publish ``rows`` as ``table``'s day partitions, by the UTC day of their instant."""
    instant = "funding_time" if "funding_time" in schema.names else "ts"
    by_day: dict[date, list[dict[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(row[instant].date(), []).append(row)
    for day, day_rows in by_day.items():
        path = partition_dir(lake, table, day) / PARTITION_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(day_rows, schema=schema), path)


def _row(schema: pa.Schema, **values: Any) -> dict[str, Any]:
    return {name: values.get(name) for name in schema.names}


def _hours(first: date, days: int) -> Iterable[tuple[int, datetime]]:
    for hour in range(24 * days):
        yield hour, _start(first) + timedelta(hours=hour)


def write_long_lake(lake: Path) -> None:
    """The 90 days of bitcoin described above."""
    _write(
        lake,
        FCT_PRICE_1M.name,
        FCT_PRICE_1M.schema,
        [
            _row(FCT_PRICE_1M.schema, exchange="binance_um", symbol="BTCUSDT",
                 ts=at + timedelta(minutes=59), close=close(hour), source_file="test")
            for hour, at in _hours(FIRST, DAYS)
        ],
    )  # fmt: skip
    oi_schema = FCT_OPEN_INTEREST.schema
    perpetual = [
        _row(oi_schema, exchange="binance_um", symbol="BTCUSDT", coin="BTC",
             contract_type="perpetual", ts=at + timedelta(minutes=minute),
             oi_base=oi_base(hour, minute), oi_usd=oi_base(hour, minute) * close(hour),
             source_file="test")
        for hour, at in _hours(FIRST, DAYS)
        for minute in (0, 55)
    ]  # fmt: skip
    quarterly = [
        _row(oi_schema, exchange="binance_um", symbol=QUARTERLY, coin="BTC",
             contract_type="delivery", ts=at + timedelta(minutes=30),
             oi_base=100.0 + hour, oi_usd=1e6 * (hour + 1), source_file="test")
        for hour, at in _hours(FIRST, DAYS)
    ]  # fmt: skip
    _write(lake, FCT_OPEN_INTEREST.name, oi_schema, perpetual + quarterly)
    funding_schema = FCT_FUNDING.schema
    binance = [
        _row(funding_schema, exchange="binance_um", symbol="BTCUSDT", coin="BTC",
             funding_time=_start(FIRST) + timedelta(days=day, hours=hour), funding_rate=rate,
             funding_interval_hours=interval, funding_rate_8h=rate * 8 / interval,
             funding_rate_apr=rate * 8 / interval * 1095, source_file="test")
        for day in range(DAYS)
        for hour, interval, rate in binance_settlements(day)
    ]  # fmt: skip
    hyperliquid = [
        _row(funding_schema, exchange="hyperliquid", symbol="BTC", coin="BTC", funding_time=at,
             funding_rate=hyperliquid_rate(hour), funding_interval_hours=1,
             funding_rate_8h=hyperliquid_rate(hour) * 8,
             funding_rate_apr=hyperliquid_rate(hour) * 8 * 1095, source_file="test")
        for hour, at in _hours(FIRST, DAYS)
    ]  # fmt: skip
    _write(lake, FCT_FUNDING.name, funding_schema, binance + hyperliquid)
    cross_schema = FCT_FUNDING_CROSS_VENUE.schema
    _write(
        lake,
        FCT_FUNDING_CROSS_VENUE.name,
        cross_schema,
        [
            _row(cross_schema, coin="BTC", ts=at, venues="binance_um,hyperliquid", venue_count=2,
                 funding_rate_8h_mean=2e-4, funding_rate_8h_oi_weighted=cross_rate(hour),
                 funding_rate_apr_mean=2e-4 * 1095,
                 funding_rate_apr_oi_weighted=cross_rate(hour) * 1095,
                 oi_weighted_venue_count=2, oi_usd_weight=1e9 + hour)
            for hour, at in _hours(FIRST, DAYS)
        ],
    )  # fmt: skip
    regime_schema = FEAT_REGIME_1H.schema
    _write(
        lake,
        FEAT_REGIME_1H.name,
        regime_schema,
        [
            _row(regime_schema, exchange="binance_um", symbol="BTCUSDT", ts=at,
                 close=close(hour), regime=regime(hour))
            for hour, at in _hours(FIRST, DAYS)
        ],
    )  # fmt: skip


def write_small_lake(lake: Path) -> None:
    """Two days of bitcoin and ether on Binance USDⓈ-M: prices and open interest."""
    symbols = {"BTCUSDT": ("BTC", 60_000.0), "ETHUSDT": ("ETH", 3_000.0)}
    _write(
        lake,
        FCT_PRICE_1M.name,
        FCT_PRICE_1M.schema,
        [
            _row(FCT_PRICE_1M.schema, exchange="binance_um", symbol=symbol,
                 ts=at + timedelta(minutes=59), close=price + hour, source_file="test")
            for symbol, (_, price) in symbols.items()
            for hour, at in _hours(SMALL_FIRST, 2)
        ],
    )  # fmt: skip
    _write(
        lake,
        FCT_OPEN_INTEREST.name,
        FCT_OPEN_INTEREST.schema,
        [
            _row(FCT_OPEN_INTEREST.schema, exchange="binance_um", symbol=symbol, coin=coin,
                 contract_type="perpetual", ts=at, oi_base=500.0 + hour,
                 oi_usd=(500.0 + hour) * price, source_file="test")
            for symbol, (coin, price) in symbols.items()
            for hour, at in _hours(SMALL_FIRST, 2)
        ],
    )  # fmt: skip


@dataclass(frozen=True)
class Lakes:
    long: Path
    small: Path


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> Lakes:
    root = tmp_path_factory.mktemp("buckets")
    write_long_lake(root / "long" / "lake")
    write_small_lake(root / "small" / "lake")
    return Lakes(root / "long" / "lake", root / "small" / "lake")


def _dataset(spec: dict[str, Any], column: str) -> list[dict[str, Any]]:
    """The rows of the chart's spec that have ``column`` (the one such dataset)."""
    (rows,) = [rows for rows in spec["datasets"].values() if rows and column in rows[0]]
    return list(rows)


def _subtitle(spec: dict[str, Any]) -> list[str]:
    subtitle = spec["title"]["subtitle"]
    return [subtitle] if isinstance(subtitle, str) else list(subtitle)


def _at(hour: int) -> str:
    return (_start(FIRST) + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("days", "resolution"),
    [(1, HOURLY), (30, HOURLY), (60, HOURLY), (61, FOUR_HOURLY), (90, FOUR_HOURLY),
     (240, FOUR_HOURLY), (241, DAILY), (365, DAILY), (3 * 365, DAILY)],
)  # fmt: skip
def test_ranges_over_60_days_are_drawn_4_hourly_then_daily(days: int, resolution: Any) -> None:
    assert resolution_for(days) == resolution
    request = ReportRequest("binance_um", "BTCUSDT", FIRST, FIRST + timedelta(days=days - 1))
    assert request.resolution == resolution


def test_90_days_of_open_interest_are_each_4_hours_last_reading(lakes: Lakes) -> None:
    data = load_report_data(lakes.long, ReportRequest("binance_um", "BTCUSDT", FIRST, LAST))
    assert data.open_interest.height == HOURS, "the data stays hourly: the charts bucket it"

    chart = open_interest_chart(data)
    spec = chart_spec(chart)

    assert chart.points == HOURS // 4
    drawn = _dataset(spec, "oi_base")
    assert [row["hour"] for row in drawn] == [_at(4 * k) for k in range(HOURS // 4)]
    # The last reading of each bucket: its fourth hour's :55, and that hour's close.
    assert [row["oi_base"] for row in drawn] == pytest.approx(
        [oi_base(4 * k + 3, 55) for k in range(HOURS // 4)]
    )
    assert [row["oi_usd"] for row in drawn] == pytest.approx(
        [oi_base(4 * k + 3, 55) * close(4 * k + 3) for k in range(HOURS // 4)]
    )
    assert [row["close"] for row in drawn] == [close(4 * k + 3) for k in range(HOURS // 4)]
    assert spec["title"]["text"] == (
        "Open interest, BTCUSDT on binance_um, 4-hourly, with the price (grey, right axis)"
    )
    assert _subtitle(spec)[-1] == (
        "Ranges over 60 days draw one point per 4 hours (UTC): the last reading of open "
        "interest and the last close."
    )
    # The stacked panel: each contract type's last hour of the bucket.
    by_type = [row for row in _dataset(spec, "contract_type") if row["contract_type"] == "delivery"]
    assert len(by_type) == HOURS // 4
    assert [row["oi_usd"] for row in by_type] == pytest.approx(
        [1e6 * (4 * k + 4) for k in range(HOURS // 4)]
    )


def test_90_days_of_funding_average_each_venues_settlements_per_4_hours(lakes: Lakes) -> None:
    data = load_report_data(lakes.long, ReportRequest("binance_um", "BTCUSDT", FIRST, LAST))

    chart = funding_chart(data)
    spec = chart_spec(chart)

    drawn = {(row["venue"], row["settled_at"]): row for row in _dataset(spec, "settlements")}
    hyperliquid = [row for (venue, _), row in sorted(drawn.items()) if venue == "hyperliquid BTC"]
    assert len(hyperliquid) == HOURS // 4
    for k, row in enumerate(hyperliquid):
        rates = [hyperliquid_rate(hour) for hour in range(4 * k, 4 * k + 4)]
        assert row["settled_at"] == _at(4 * k)
        assert row["settlements"] == 4
        assert row["rate_pct"] == pytest.approx(100 * sum(rates)), "paid over the 4 hours"
        assert row["rate_8h_pct"] == pytest.approx(100 * 8 * sum(rates) / 4)
        assert row["apr_pct"] == pytest.approx(100 * 8 * 1095 * sum(rates) / 4)
    binance = [row for (venue, _), row in sorted(drawn.items()) if venue == "binance_um BTCUSDT"]
    # One settlement in a 4-hour bucket at most: the 8-hourly days draw as settled.
    assert len(binance) == 3 * (DAYS - 1) + 5
    assert {row["settlements"] for row in binance} == {1}
    first_day = [row["rate_8h_pct"] for row in binance[:3]]
    assert first_day == pytest.approx([0.01, 0.01, 0.01])
    assert chart.points == len(drawn) + HOURS // 4
    # The black line: the hourly OI-weighted rate's mean over each 4 hours.
    cross = _dataset(spec, "hours")
    assert [row["rate_8h_pct"] for row in cross] == pytest.approx(
        [100 * (cross_rate(4 * k) + 1.5e-6) for k in range(HOURS // 4)]
    )
    assert {row["hours"] for row in cross} == {4}
    assert cross[-1]["oi_usd_weight"] == 1e9 + HOURS - 1, "its last hour's open interest"
    assert spec["title"]["text"] == (
        "Funding, 4-hourly mean of the settlements, BTC perpetuals on binance_um, hyperliquid"
    )


def test_a_longer_range_draws_a_day_weighing_each_settlement_by_its_interval(
    lakes: Lakes,
) -> None:
    request = ReportRequest("binance_um", "BTCUSDT", LAST - timedelta(days=299), LAST)
    assert request.resolution == DAILY
    data = load_report_data(lakes.long, request)

    spec = chart_spec(funding_chart(data))

    binance = [row for row in _dataset(spec, "settlements") if row["venue"] == "binance_um BTCUSDT"]
    assert [row["settled_at"][:10] for row in binance] == [
        (FIRST + timedelta(days=day)).isoformat() for day in range(DAYS)
    ]
    mixed = binance[MIXED_DAY]
    settlements = binance_settlements(MIXED_DAY)
    assert mixed["settlements"] == 5
    # 8 hours at 0.008% per 8h, then four 4-hour intervals at 0.02, 0.04, 0.06 and 0.02% per 8h.
    assert mixed["rate_8h_pct"] == pytest.approx((8 * 0.008 + 4 * (0.02 + 0.04 + 0.06 + 0.02)) / 24)
    assert mixed["rate_pct"] == pytest.approx(100 * sum(rate for _, _, rate in settlements))
    assert mixed["interval_hours"] == 4
    assert binance[2]["rate_8h_pct"] == pytest.approx(0.03)
    assert binance[2]["rate_pct"] == pytest.approx(0.09), "three settlements of 0.03%"
    open_interest = _dataset(chart_spec(open_interest_chart(data)), "oi_base")
    assert [row["oi_base"] for row in open_interest] == pytest.approx(
        [oi_base(24 * day + 23, 55) for day in range(DAYS)]
    )


def test_90_days_of_regimes_band_each_4_hours_most_frequent_regime(lakes: Lakes) -> None:
    data = load_report_data(lakes.long, ReportRequest("binance_um", "BTCUSDT", FIRST, LAST))

    chart = regime_chart(data)
    spec = chart_spec(chart)

    drawn = _dataset(spec, "regime_hours")
    assert chart.points == HOURS // 4
    assert [row["regime"] for row in drawn[:4]] == ["squeeze", "flush", "squeeze", "flush"]
    assert [row["regime_hours"] for row in drawn[:4]] == [3, 2, 3, 2]
    assert {row["hours"] for row in drawn} == {4}
    assert [(row["hour"], row["hour_end"]) for row in drawn[:2]] == [
        (_at(0), _at(4)),
        (_at(4), _at(8)),
    ]
    assert [row["close"] for row in drawn[:2]] == [close(3), close(7)]
    # Hours per regime are still counted by hour.
    buckets = HOURS // 4
    assert _subtitle(spec)[0] == (
        f"Hours per regime: squeeze {3 * buckets // 2} h, flush {buckets} h, neutral {buckets} h, "
        f"reset {buckets // 2} h."
    )


def test_a_90_day_report_writes_every_png_and_says_how_it_is_drawn(
    lakes: Lakes, tmp_path: Path
) -> None:
    report = build_report(lakes.long, ReportRequest("binance_um", "BTCUSDT", FIRST, LAST), tmp_path)

    assert sorted(report.files.pngs) == sorted(chart.key for chart in report.charts)
    for key, path in report.files.pngs.items():
        assert path.stat().st_size > 10_000, f"{key}.png draws a chart"
    html = report.files.html.read_text()
    assert "The range is over 60 days: hourly series are drawn one point per 4 hours" in html


def test_report_coins_parse_as_a_list_none_or_the_default() -> None:
    assert parse_report_coins("btc, ETH,btc,") == ("BTC", "ETH")
    assert parse_report_coins("1inch") == ("1INCH",)
    assert parse_report_coins(None) is None
    assert parse_report_coins("  ") is None
    assert parse_report_coins("none") == ()
    assert parse_report_coins("NONE") == ()
    with pytest.raises(ConfigError, match="'BTC/USDT' is not a coin"):
        parse_report_coins("BTC/USDT")


def test_the_coins_pick_their_perpetuals_in_their_order() -> None:
    every = [
        ("binance_um", "BTCUSDT"),
        ("binance_um", "ETHUSDT"),
        ("binance_cm", "SOLUSD_PERP"),
    ]
    assert report_perpetuals(UNIVERSE) == every
    assert report_perpetuals(UNIVERSE, None) == every
    assert report_perpetuals(UNIVERSE, ("SOL", "BTC")) == [every[2], every[0]]
    assert report_perpetuals(UNIVERSE, ()) == []
    with pytest.raises(ConfigError) as raised:
        report_perpetuals(UNIVERSE, ("BTC", "DOGE"))
    assert str(raised.value) == (
        "no report for DOGE: the universe has no perpetual of that coin on binance_um or "
        "binance_cm; its coins with one: BTC, ETH, SOL"
    )
    with pytest.raises(ConfigError, match=r"no report for DOGE, XRP: .* of those coins"):
        report_perpetuals(UNIVERSE, ("DOGE", "XRP"))


def test_reports_drawn_side_by_side_are_the_files_drawn_one_by_one(
    lakes: Lakes, tmp_path: Path
) -> None:
    requests = [
        ReportRequest("binance_um", symbol, SMALL_FIRST, SMALL_LAST)
        for symbol in ("BTCUSDT", "SOLUSDT", "ETHUSDT")
    ]
    stamp = datetime(2024, 3, 3, 7, 30, tzinfo=UTC)

    side_by_side = build_reports(lakes.small, requests, tmp_path / "parallel", stamp, workers=2)
    one_by_one = build_reports(lakes.small, requests, tmp_path / "serial", stamp, workers=1)

    btc, sol, eth = side_by_side
    assert isinstance(btc, Report)
    assert isinstance(eth, Report)
    assert isinstance(sol, ReportDataError), "no data for SOLUSDT: nothing written for it"
    assert (btc.data.coin, eth.data.coin) == ("BTC", "ETH")
    assert sorted(p.name for p in (tmp_path / "parallel").iterdir()) == [
        "binance_um-BTCUSDT",
        "binance_um-ETHUSDT",
    ]
    files = sorted(p.relative_to(tmp_path / "parallel") for p in (tmp_path / "parallel").rglob("*"))
    assert files == sorted(
        p.relative_to(tmp_path / "serial") for p in (tmp_path / "serial").rglob("*")
    )
    for name in files:
        parallel, serial = tmp_path / "parallel" / name, tmp_path / "serial" / name
        if parallel.is_file():
            assert parallel.read_bytes() == serial.read_bytes(), f"{name} differs"
    serial_btc = one_by_one[0]
    assert isinstance(serial_btc, Report)
    assert btc.files.preview_png == serial_btc.files.preview_png
    assert btc.files.pngs.keys() == {chart.key for chart in btc.charts}


def _run_report(warehouse: Path, config: dict[str, Any] | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [report_asset],
        partition_key=SMALL_LAST.isoformat(),
        resources={
            "treadmill": TreadmillConfig(
                warehouse=str(warehouse), universe="binance_um:BTCUSDT,ETHUSDT"
            )
        },
        run_config={"ops": {"report": {"config": config}}} if config is not None else None,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _report_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.partition == str(SMALL_LAST)
    ]
    return {key: value.value for key, value in event.materialization.metadata.items()}


@pytest.fixture
def warehouse(lakes: Lakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A warehouse holding the two-day lake, without $TREADMILL_REPORT_COINS."""
    monkeypatch.delenv(REPORT_COINS_ENV, raising=False)
    root = tmp_path / "warehouse"
    root.mkdir()
    (root / "lake").symlink_to(lakes.small, target_is_directory=True)
    return root


def test_the_asset_draws_every_coin_of_the_universe_by_default(warehouse: Path) -> None:
    result = _run_report(warehouse)

    assert result.success
    metadata = _report_metadata(result)
    assert metadata["reports_written"] == 2
    assert metadata["coins"] == "BTC, ETH"
    reports = warehouse / REPORTS_FOLDER
    assert sorted(p.name for p in reports.iterdir()) == ["binance_um-BTCUSDT", "binance_um-ETHUSDT"]


def test_the_asset_draws_the_configured_coins_only(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REPORT_COINS_ENV, "BTC")
    from_env = _run_report(warehouse)
    assert from_env.success
    assert _report_metadata(from_env)["coins"] == "BTC"
    assert [p.name for p in (warehouse / REPORTS_FOLDER).iterdir()] == ["binance_um-BTCUSDT"]

    # The asset's config wins over the environment.
    from_config = _run_report(warehouse, {"coins": ["eth"]})
    assert from_config.success
    metadata = _report_metadata(from_config)
    assert (metadata["coins"], metadata["reports_written"]) == ("ETH", 1)
    assert metadata["binance_um-ETHUSDT"] == str(
        warehouse / REPORTS_FOLDER / "binance_um-ETHUSDT" / PAGE_FILE
    )


def _assert_nothing_drawn(warehouse: Path, result: dg.ExecuteInProcessResult) -> None:
    assert result.success
    metadata = _report_metadata(result)
    assert (metadata["reports_written"], metadata["coins"]) == (0, "none")
    assert "range" not in metadata
    assert "No report drawn: no coin chosen" in metadata["preview"]
    assert not (warehouse / REPORTS_FOLDER).exists()


def test_no_coin_draws_no_report(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_nothing_drawn(warehouse, _run_report(warehouse, {"coins": []}))
    monkeypatch.setenv(REPORT_COINS_ENV, "none")
    _assert_nothing_drawn(warehouse, _run_report(warehouse))


def test_an_unknown_coin_fails_the_step_naming_it(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REPORT_COINS_ENV, "BTC,DOGE")

    result = _run_report(warehouse)

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.error is not None
    assert "no report for DOGE: the universe has no perpetual of that coin" in (
        failure.step_failure_data.error.to_string()
    )
    assert not (warehouse / REPORTS_FOLDER).exists()


def test_materialize_refuses_an_unknown_report_coin_before_running(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "materialize",
            "--start",
            "2024-03-01",
            "--universe",
            "binance_um:BTCUSDT",
            "--warehouse",
            str(tmp_path / "warehouse"),
            "--report-coins",
            "btc,doge",
        ],
    )

    assert result.exit_code == 2, result.output
    assert "no report for DOGE" in result.output
    assert not (tmp_path / "warehouse" / "lake").exists()


def test_materialize_hands_its_report_coins_to_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REPORT_COINS_ENV, "BTC")
    seen: list[tuple[str, ...] | None] = []

    def materialize(*args: Any, **kwargs: Any) -> Materialization:
        seen.append(kwargs["report_coins"])
        return Materialization(plan=None, summary=None)

    monkeypatch.setattr(pipelines.runner, "materialize", materialize)
    arguments = [
        "materialize",
        "--start",
        "2024-03-01",
        "--universe",
        "binance_um:BTCUSDT,ETHUSDT",
        "--warehouse",
        str(tmp_path),
    ]
    runner = CliRunner()

    assert runner.invoke(app, [*arguments, "--report-coins", "ETH"]).exit_code == 0
    assert runner.invoke(app, arguments).exit_code == 0

    assert seen == [("ETH",), None], "the option for its run; without it, the environment's"


def test_the_report_coins_reach_the_report_asset_through_the_run_config(tmp_path: Path) -> None:
    from pipelines.definitions import defs
    from pipelines.defs.jobs import DAILY_JOB
    from pipelines.runner import run_config

    job = defs().resolve_job_def(DAILY_JOB)
    settings = Settings.from_env(warehouse=tmp_path, universe="binance_um:BTCUSDT,ETHUSDT")

    chosen = dg.validate_run_config(job, run_config(settings, ("ETH",)))
    unset = dg.validate_run_config(job, run_config(settings))

    assert chosen["ops"]["report"]["config"]["coins"] == ["ETH"]
    assert unset["ops"]["report"]["config"].get("coins") is None

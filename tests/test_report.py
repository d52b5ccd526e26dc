"""The visual report, drawn from a simulated warehouse built through the daily job.

Ten days of BTCUSDT (USDⓈ-M), BTCUSD_PERP (COIN-M, the second funding venue) and spot BTCUSDT,
long enough for a flush to resolve into an event, are simulated and built once for the module;
the run's ``report`` asset writes the report. The tests check every chart's numbers, the PNGs'
pixels, and the page in a real headless Chromium.
"""

import base64
import fcntl
import io
import multiprocessing
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import altair as alt
import dagster as dg
import polars as pl
import pyarrow.parquet as pq
import pytest
from markupsafe import escape
from PIL import Image
from playwright.sync_api import ConsoleMessage, Page, sync_playwright
from typer.testing import CliRunner

from pipelines.cli import app
from tests.runs import run_daily, simulate_mirror
from transforms.report import render
from transforms.report.build import RenderCrashError, build_report, rendered_png
from transforms.report.charts import CHART_BUILDERS, ReportChart
from transforms.report.charts.regimes import REGIME_COLOURS
from transforms.report.data import ReportData, ReportRequest, coin_of, load_report_data
from transforms.report.page import PAGE_FILE, VEGA_LITE_VERSION, chart_spec, render_png
from transforms.settings import REPORTS_FOLDER

START, END = date(2024, 2, 1), date(2024, 2, 10)
DAYS = (END - START).days + 1
UNIVERSE = "binance_um:BTCUSDT;binance_cm:BTCUSD_PERP;binance_spot:BTCUSDT"
REPORT_NAME = "binance_um-BTCUSDT"
CHART_KEYS = (
    "liquidations",
    "funding",
    "open_interest",
    "volume_shares",
    "heatmap",
    "regimes",
    "coverage",
)

CHROMIUM = Path(os.environ.get("TREADMILL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps reaching for Google's services on a network it cannot use.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_LOCK = Path("/tmp/treadmill-chromium-install.lock")


@dataclass(frozen=True)
class Built:
    warehouse: Path
    run: dg.ExecuteInProcessResult

    @property
    def report_dir(self) -> Path:
        return self.warehouse / REPORTS_FOLDER / REPORT_NAME


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("report")
    mirror = simulate_mirror(
        root, START, END, symbols=("BTCUSDT",), coin_margined=("BTCUSD_PERP",), spot=("BTCUSDT",)
    )
    run = run_daily(root / "warehouse", mirror, START, END, UNIVERSE)
    return Built(root / "warehouse", run)


@pytest.fixture(scope="module")
def data(built: Built) -> ReportData:
    request = ReportRequest("binance_um", "BTCUSDT", START, END)
    return load_report_data(built.warehouse / "lake", request)


def _install_chromium() -> None:
    """Debian's chromium, as the test set-up installs it: apt-get, once, under a lock."""
    with INSTALL_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists():
            return
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            pytest.fail(
                f"no browser at {CHROMIUM} and no root apt-get to install Debian's chromium: "
                "install it, or point TREADMILL_CHROMIUM at a Chromium"
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        apt = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=600"]
        for attempt in range(3):
            # apt's package lists have a lock of their own that does not wait: retry briefly.
            update = subprocess.run([*apt, "update"], env=env, capture_output=True, timeout=900)
            if update.returncode == 0:
                break
            time.sleep(10 * (attempt + 1))
        install = subprocess.run(
            [*apt, "install", "-y", "--no-install-recommends", "chromium"],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if install.returncode != 0:
            pytest.fail(f"apt-get install chromium failed:\n{install.stderr[-2000:]}")


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        _install_chromium()
    assert CHROMIUM.exists(), f"installing chromium did not give {CHROMIUM}"
    return CHROMIUM


@dataclass
class OpenedPage:
    page: Page
    console: list[ConsoleMessage]
    errors: list[str]
    requests: list[str]


@pytest.fixture
def opened_report(built: Built, chromium: Path) -> Iterator[OpenedPage]:
    """The asset's report.html opened from disk in headless Chromium, charts rendered."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            opened = OpenedPage(page, [], [], [])
            page.on("console", lambda message: opened.console.append(message))
            page.on("pageerror", lambda error: opened.errors.append(str(error)))
            page.on("request", lambda request: opened.requests.append(request.url))
            page.goto((built.report_dir / PAGE_FILE).as_uri())
            page.wait_for_function(
                "[...document.querySelectorAll('[data-chart]')]"
                ".every(chart => chart.dataset.rendered)",
                timeout=60_000,
            )
            yield opened
        finally:
            browser.close()


def test_the_daily_run_writes_one_report_per_coin_with_a_preview(built: Built) -> None:
    events = {
        e.partition: e.materialization.metadata
        for e in built.run.get_asset_materialization_events()
        if e.asset_key is not None and e.asset_key.to_user_string() == "report"
    }
    assert sorted(str(day) for day in events) == [f"2024-02-{d:02d}" for d in range(1, DAYS + 1)]
    assert [day for day, metadata in events.items() if "preview" in metadata] == [str(END)]
    metadata = events[str(END)]
    # BTCUSD_PERP trades the same coin: its funding and coverage are in BTCUSDT's report.
    assert metadata["reports_written"].value == 1
    assert metadata["range"].value == f"{START}…{END}"
    assert metadata[REPORT_NAME].value == str(built.report_dir / PAGE_FILE)
    preview = metadata["preview"].value
    assert isinstance(preview, str)
    match = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", preview)
    assert match, "the preview embeds a PNG"
    image = Image.open(io.BytesIO(base64.b64decode(match[1])))
    assert image.format == "PNG"
    assert image.width > 600


def test_every_chart_has_real_data(data: ReportData) -> None:
    liquidations = data.daily_liquidations
    assert liquidations.height == 2 * DAYS
    totals = dict(liquidations.group_by("side").agg(pl.col("usd").sum()).iter_rows())
    assert totals["longs liquidated"] > 0
    assert totals["shorts liquidated"] > 0

    funding = data.funding
    assert set(funding["venue"]) == {"binance_um BTCUSDT", "binance_cm BTCUSD_PERP"}
    assert funding.filter(pl.col("venue") == "binance_um BTCUSDT").height >= 3 * (DAYS - 1)
    assert funding["rate_8h_pct"].null_count() == 0
    assert funding["rate_8h_pct"].n_unique() > 1
    for row in funding.iter_rows(named=True):
        assert row["apr_pct"] == pytest.approx(row["rate_8h_pct"] * 3 * 365)

    open_interest = data.open_interest
    assert open_interest.height == 24 * DAYS
    assert (open_interest["oi_base"] > 0).all()
    assert (open_interest["close"] > 0).all()
    implied_price = open_interest["oi_usd"] / open_interest["oi_base"]
    assert ((implied_price / open_interest["close"] - 1).abs() < 0.05).all()
    # The coin's open interest summed over its venues holds the perpetual's own.
    summed = open_interest.filter(pl.col("all_oi_base").is_not_null())
    assert (summed["all_oi_base"] >= summed["oi_base"] * (1 - 1e-9)).all()
    assert data.coin == "BTC"

    heatmap = data.heatmap
    published = pl.read_parquet(
        data.lake_root / "feat_liquidation_heatmap" / "*" / "data.parquet"
    ).filter(pl.col("exchange") == "binance_um")
    latest = published["ts"].max()
    assert isinstance(latest, datetime)
    assert heatmap["as_of"].unique().to_list() == [latest.strftime("%Y-%m-%d %H:%M UTC")]
    assert (heatmap["est_notional_usd"] > 0).all()
    assert set(heatmap["side"]) == {"long", "short"}
    assert all(method.startswith("estimate") for method in heatmap["method"])
    close = heatmap["close"][0]
    assert heatmap.filter(pl.col("side") == "long")["price_high"].max() <= close * 1.0001
    assert heatmap.filter(pl.col("side") == "short")["price_low"].min() >= close * 0.9999
    assert sorted(data.hot_zones["position"]) == ["above", "below"]

    regimes = data.regimes
    assert regimes.height == 24 * DAYS
    assert set(regimes["regime"]) <= set(REGIME_COLOURS)
    assert regimes["regime"].n_unique() > 1

    flushes = data.flush_events
    assert flushes.height >= 1
    assert (flushes["drawdown_pct"] < 0).all()
    assert (flushes["long_liq_usd"] > 0).all()
    assert (flushes["duration_hours"] > 0).all()
    flush_hours = set(regimes.filter(pl.col("regime") == "flush")["hour"])
    for event in flushes.iter_rows(named=True):
        assert event["start_ts"] in flush_hours, "an event starts on a flush hour"

    coverage = data.coverage
    # Seven datasets of each perpetual, spot klines, the USDⓈ-M liquidation stream (never
    # recorded here: not published), and klines and metrics of the two live quarterlies on UM
    # and CM (8), one cell per day.
    assert coverage["series"].n_unique() == 24
    assert coverage.height == 24 * DAYS
    assert set(coverage["status"]) <= {"ok", "partial", "not_published"}
    # The coin's instruments: perpetuals, the spot pair and the two live quarterlies on UM and
    # CM (the range is before the 2024-03-29 expiry).
    assert data.venues == (
        "binance_cm:BTCUSD_240329",
        "binance_cm:BTCUSD_240628",
        "binance_cm:BTCUSD_PERP",
        "binance_spot:BTCUSDT",
        "binance_um:BTCUSDT",
        "binance_um:BTCUSDT_240329",
        "binance_um:BTCUSDT_240628",
    )


def test_the_liquidation_chart_sums_the_coin_across_its_venues(data: ReportData) -> None:
    frame = data.daily_liquidations
    assert set(frame["scope"]) == {"coin"}
    lake = data.lake_root
    perpetual = (
        pl.read_parquet(lake / "fct_liquidations_5m" / "*" / "data.parquet")
        .filter((pl.col("exchange") == "binance_um") & (pl.col("symbol") == "BTCUSDT"))
        .group_by(pl.col("ts").dt.date().cast(pl.String).alias("day"))
        .agg(pl.col("long_liq_usd").sum())
    )
    orders = pl.read_parquet(lake / "fct_liquidations" / "*" / "data.parquet").filter(
        pl.col("liquidated_side") == "long"
    )
    assert set(orders["exchange"]) == {"binance_um", "binance_cm"}
    longs = frame.filter(pl.col("side") == "longs liquidated")
    assert longs["usd"].sum() == pytest.approx(orders["notional_usd"].sum())
    assert longs["usd_sampled"].to_list() == pytest.approx(longs["usd"].to_list())
    own = dict(perpetual.iter_rows())
    for row in longs.iter_rows(named=True):
        assert row["usd"] >= own.get(row["day"], 0.0), "the coin's holds the perpetual's own"
    spec = chart_spec(CHART_BUILDERS[0](data))
    assert spec["title"]["text"] == (
        "Daily liquidations, BTC across binance_cm (sampled), binance_um (sampled)"
    )
    assert spec["title"]["subtitle"][-1] == (
        "Sampled feeds pass on only some forced orders (Binance's at most one per symbol per "
        "second): a lower bound."
    )


def test_partitions_written_before_a_column_was_added_still_report(
    built: Built, data: ReportData, tmp_path: Path
) -> None:
    # A table that gains a column keeps its older partitions in the old layout until they are
    # rebuilt: here the first day's regime features predate the regime label.
    lake = tmp_path / "lake"
    shutil.copytree(built.warehouse / "lake", lake)
    first_day = lake / "feat_regime_1h" / f"date={START.isoformat()}" / "data.parquet"
    pq.write_table(pq.read_table(first_day).drop_columns(["regime"]), first_day)

    mixed = load_report_data(lake, data.request).regimes

    first_hours = pl.col("hour") < f"{START + timedelta(days=1)}T00:00:00Z"
    assert mixed.filter(first_hours)["regime"].null_count() == 24
    assert mixed.filter(~first_hours).equals(data.regimes.filter(~first_hours))


def test_a_chart_without_data_still_renders_and_says_so(data: ReportData) -> None:
    """Liquidation snapshots end in 2024, a young warehouse has no heatmap: the page still draws."""
    frames = [f.name for f in fields(data) if isinstance(getattr(data, f.name), pl.DataFrame)]
    empty = replace(data, **{name: getattr(data, name).clear() for name in frames})
    for build in CHART_BUILDERS:
        chart = build(empty)
        assert chart.points == 0, chart.key
        image = Image.open(io.BytesIO(render_png(chart_spec(chart))))
        assert image.width > 600, chart.key


def test_every_png_exists_and_draws_a_chart(built: Built) -> None:
    for key in CHART_KEYS:
        path = built.report_dir / f"{key}.png"
        assert path.stat().st_size > 20_000, f"{key}.png is too small to hold a chart"
        image = Image.open(path).convert("RGB")
        assert image.width >= 1200, f"{key}.png is {image.width} px wide"
        assert image.height >= 300, f"{key}.png is {image.height} px high"
        pixels = list(image.resize((300, 150)).get_flattened_data())
        drawn = sum(1 for pixel in pixels if pixel != (255, 255, 255))
        assert drawn > 0.05 * len(pixels), f"{key}.png is nearly blank"
        assert len(set(pixels)) > 20, f"{key}.png has almost no colours"


def test_the_page_is_self_contained_and_renders_every_chart(opened_report: OpenedPage) -> None:
    page = opened_report.page
    assert [m.text for m in opened_report.console if m.type in ("error", "warning")] == []
    assert opened_report.errors == []
    assert [url for url in opened_report.requests if not url.startswith("file://")] == []
    charts = page.eval_on_selector_all(
        "[data-chart]",
        """charts => charts.map(chart => ({
            key: chart.dataset.chart,
            rendered: chart.dataset.rendered,
            documents: chart.querySelectorAll('[role="graphics-document"] svg.marks').length,
            marks: chart.querySelectorAll('svg.marks path, svg.marks rect').length,
        }))""",
    )
    assert [chart["key"] for chart in charts] == list(CHART_KEYS)
    # Every builder draws, plus the volume-share chart drawn when delivery volume exists.
    assert len(CHART_BUILDERS) + 1 == len(CHART_KEYS)
    for chart in charts:
        assert chart["rendered"] == "true", chart
        assert chart["documents"] == 1, chart
        assert chart["marks"] > 20, f"{chart['key']} drew {chart['marks']} marks"
    assert page.locator("text=No data for this chart").count() == 0
    too_wide = page.eval_on_selector_all(
        "[data-chart]",
        "charts => charts.filter(c => c.scrollWidth > c.parentElement.clientWidth)"
        ".map(c => c.dataset.chart)",
    )
    assert too_wide == [], "charts wider than the page's column scroll sideways"
    assert "ESTIMATE" in page.locator("#chart-heatmap").inner_text()


def test_hovering_open_interest_shows_the_hour(opened_report: OpenedPage) -> None:
    page = opened_report.page
    # The hover rules are the plot's rule marks that are not axes (ticks, grid, domain): where
    # each visible one stands.
    shown_rules = (
        "[...document.querySelectorAll('#chart-open_interest g.mark-rule.role-mark line')]"
        ".filter(line => Number(line.getAttribute('opacity') ?? 1) > 0)"
        ".map(line => line.getAttribute('transform'))"
    )
    assert page.evaluate(shown_rules) == [], "no rule until the pointer is over a panel"
    page.locator("#chart-open_interest svg.marks").hover(position={"x": 400, "y": 150})
    page.wait_for_function(f"{shown_rules}.length > 0", timeout=10_000)
    assert len(set(page.evaluate(shown_rules))) == 1, "the rules stand at the hovered hour"
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=10_000)
    assert re.search(r"2024-02-\d\d \d\d:00 UTC", tooltip.inner_text())
    assert "open interest, BTC" in tooltip.inner_text()


def test_cli_writes_the_report_and_prints_its_path(built: Built, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "report",
            "--symbol",
            "BTCUSD_PERP",
            "--exchange",
            "binance_cm",
            "--start",
            "2024-02-06",
            "--end",
            END.isoformat(),
            "--out",
            str(tmp_path),
            "--warehouse",
            str(built.warehouse),
        ],
    )
    assert result.exit_code == 0, result.output
    page = tmp_path / "binance_cm-BTCUSD_PERP" / PAGE_FILE
    assert result.stdout.strip().splitlines()[-1] == str(page)
    assert f"2024-02-06…{END}" in page.read_text()
    assert sorted(p.stem for p in page.parent.glob("*.png")) == sorted(CHART_KEYS)


@pytest.mark.parametrize(
    ("arguments", "exit_code", "message"),
    [
        (["--symbol", "ETHUSDT"], 1, "no data for ETHUSDT on binance_um"),
        (["--symbol", "BTC/USDT"], 2, "not a valid ticker"),
        (["--symbol", "BTCUSDT", "--exchange", "binance_spot"], 2, "not a perpetual"),
        (["--symbol", "BTCUSDT", "--exchange", "ftx"], 2, "unknown exchange"),
        (["--symbol", "BTCUSDT", "--start", "2024-02-31"], 2, "bad date"),
    ],
)
def test_cli_refuses_what_it_cannot_draw(
    built: Built, tmp_path: Path, arguments: list[str], exit_code: int, message: str
) -> None:
    result = CliRunner().invoke(
        app, ["report", *arguments, "--out", str(tmp_path), "--warehouse", str(built.warehouse)]
    )
    assert result.exit_code == exit_code, result.output
    assert message in result.output
    assert not list(tmp_path.iterdir()), "nothing is written"


@pytest.mark.parametrize(
    ("symbol", "coin"),
    [
        ("BTCUSDT", "BTC"),
        ("BTCUSD_PERP", "BTC"),
        ("ETHUSDC", "ETH"),
        ("USDCUSDT", "USDC"),
        ("XBTUSD", "BTC"),
        ("BTC-USDT-SWAP", "BTC"),
    ],
)
def test_symbols_pair_by_coin(symbol: str, coin: str) -> None:
    assert coin_of(symbol) == coin


def _price_chart(data: ReportData, title: str, expression: str = "datum.close") -> ReportChart:
    """A chart of the perpetual's hourly close, as a user's own chart would draw it."""
    hours = data.open_interest.select("hour", "close").unique("hour")
    chart = (
        alt.Chart(hours)
        .mark_line()
        .encode(x="hour:T", y="value:Q")
        .transform_calculate(value=expression)
        .properties(title=title, width=400)
    )
    return ReportChart("user_" + title[:5].lower(), title, "the close", chart, hours.height)


def test_a_failing_chart_is_named_on_a_page_that_is_still_written(
    built: Built, tmp_path: Path
) -> None:
    """One chart raising while drawn, one that vl-convert refuses, and one whose title carries
    a control character (which aborts vl-convert's process): the page and every other PNG are
    written, the first two are named in their place, the third is drawn with the character
    escaped, and an earlier report's PNG of a failed chart is removed."""

    def missing_column(data: ReportData) -> ReportChart:
        return _price_chart(replace(data, open_interest=data.open_interest.drop("close")), "x")

    def refused(data: ReportData) -> ReportChart:
        return _price_chart(data, "Broken expression", "datum.close +")

    def control_character(data: ReportData) -> ReportChart:
        return _price_chart(data, "Close \x1c from a junk file")

    out = tmp_path / "reports"
    stale = out / REPORT_NAME / "user_broke.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an earlier report's chart")
    report = build_report(
        built.warehouse / "lake",
        ReportRequest("binance_um", "BTCUSDT", START, END),
        out,
        workers=2,
        extra_charts=[missing_column, refused, control_character],
    )

    failures = {failure.key: failure for failure in report.failures}
    assert sorted(failures) == ["missing_column", "user_broke"]
    assert failures["missing_column"].error.startswith(
        'ColumnNotFoundError: unable to find column "close"'
    )
    assert failures["user_broke"].error.startswith(
        "ValueError: Vega-Lite to PNG conversion failed: Error: Unexpected end of input"
    )
    assert " at " not in failures["user_broke"].error, "the JavaScript stack is left out"
    assert sorted(report.files.pngs) == sorted([*CHART_KEYS, "user_close"])
    assert not stale.exists()
    assert report.files.preview_png is not None
    page = report.files.html.read_text()
    for failure in failures.values():
        assert f"This chart failed: {escape(failure.error)}" in page
    assert 'id="missing_column"' in page
    assert 'href="#missing_column"' in page
    assert "Close \\\\x1c from a junk file" in page, "escaped in the spec embedded as JSON"
    assert "\x1c" not in page
    image = Image.open(report.files.pngs["user_close"])
    assert image.width > 600


def test_a_renderer_that_dies_costs_only_its_own_chart() -> None:
    """vl-convert aborts its process on an SVG text it cannot parse, breaking the pool for every
    chart queued behind: those render again alone, and only the culprit fails."""
    values = alt.Data(values=[{"x": 1, "y": 2}, {"x": 2, "y": 3}])
    fine = alt.Chart(values).mark_line().encode(x="x:Q", y="y:Q").to_dict()
    # Straight to the renderer, past chart_spec's escaping: as a chart before it would have.
    fatal = {**fine, "title": "junk \x1c byte"}
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    with pool:
        dying = pool.submit(render.render_png, fatal, VEGA_LITE_VERSION, 1.0)
        queued = pool.submit(render.render_png, fine, VEGA_LITE_VERSION, 1.0)
        with pytest.raises(RenderCrashError, match="vl-convert aborted"):
            rendered_png(fatal, dying, 1.0)
        png = rendered_png(fine, queued, 1.0)
    assert Image.open(io.BytesIO(png)).width > 50

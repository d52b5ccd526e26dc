"""The coverage matrix (``report_coverage.sql``): every dataset of the coin, day by day, with
what the warehouse holds of it."""

from typing import Final

import altair as alt
import polars as pl

from transforms.report.charts.style import WIDTH, ReportChart, chart_title
from transforms.report.data import ReportData

COVERAGE_LABEL_WIDTH: Final = 300
"""The coverage matrix's row labels (``binance_um premium_index_klines BTCUSDT``) take this much
of its width."""
COVERAGE_COLOURS: Final = {
    "ok": "#2ca02c",
    "partial": "#e7ba52",
    "pending": "#17becf",
    "missing": "#d62728",
    "quarantined": "#9467bd",
    "not_published": "#eeeeee",
    "not_checked": "#ffffff",
}


def coverage_chart(data: ReportData) -> ReportChart:
    """What the warehouse holds behind the charts: every dataset of the coin, day by day."""
    frame = data.coverage
    request = data.request
    statuses = frame.group_by("status").len()
    counted = dict(zip(statuses["status"].to_list(), statuses["len"].to_list(), strict=True))
    summary = ", ".join(f"{counted[s]} {s}" for s in COVERAGE_COLOURS if counted.get(s))
    series = frame["series"].unique().len()
    chart = (
        alt.Chart(frame)
        .mark_rect(stroke="#ffffff", strokeWidth=0.5)
        .encode(
            x=alt.X("utcyearmonthdate(day):O", title=None, axis=alt.Axis(format="%b %d")),
            y=alt.Y(
                "series:N",
                title=None,
                sort="ascending",
                axis=alt.Axis(labelLimit=COVERAGE_LABEL_WIDTH),
            ),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=list(COVERAGE_COLOURS), range=list(COVERAGE_COLOURS.values())
                ),
                legend=alt.Legend(
                    title="status", orient="bottom", columns=7, symbolStrokeColor="#999999"
                ),
            ),
            tooltip=[
                alt.Tooltip("day:N", title="day (UTC)"),
                alt.Tooltip("series:N", title="exchange dataset symbol"),
                alt.Tooltip("status:N"),
                alt.Tooltip("rows:Q", title="rows in the day"),
                alt.Tooltip("expected_rows:Q", title="expected"),
                alt.Tooltip("detail:N"),
            ],
        )
        .properties(
            width=WIDTH - COVERAGE_LABEL_WIDTH,
            height=max(60, 16 * series),
            title=chart_title(
                f"Coverage, {request.first}…{request.last}: every {data.coin} venue",
                f"Symbol-days: {summary}.",
            ),
        )
    )
    return ReportChart(
        key="coverage",
        title="Coverage matrix",
        description=(
            "What the warehouse holds behind these charts, per dataset and day (dq_coverage): "
            "a gap here is a gap in the charts above."
        ),
        chart=chart,
        points=frame.filter(pl.col("status") != "not_checked").height,
    )

"""The report's charts, drawn with Altair (Vega-Lite) from :class:`ReportData`.

One module per chart, named after the query it draws (``sql/report/report_funding.sql`` →
:mod:`.funding`), each with one function returning a :class:`ReportChart`: the Altair chart plus
the title, a sentence on what it means for positioning, and how many data points it draws. What
they share (width, colours, axis and tooltip helpers) is :mod:`.style`. :func:`build_charts`
draws them in page order, and a chart that fails is a :class:`ChartFailure` the page names in
its place, never the end of the report.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from transforms.errors import printable
from transforms.report.charts.cme_open_interest import (
    cme_open_interest_chart,
    has_cme_open_interest,
)
from transforms.report.charts.coverage import coverage_chart
from transforms.report.charts.daily_liquidations import daily_liquidations_chart
from transforms.report.charts.funding import funding_chart
from transforms.report.charts.heatmap import heatmap_chart
from transforms.report.charts.open_interest import open_interest_chart
from transforms.report.charts.regimes import regime_chart
from transforms.report.charts.style import ReportChart
from transforms.report.charts.volume_shares import has_delivery_volume, volume_share_chart
from transforms.report.data import ReportData

__all__ = ["CHART_BUILDERS", "ChartBuilder", "ChartFailure", "ReportChart", "build_charts"]

ChartBuilder = Callable[[ReportData], ReportChart]
"""Draws one chart of a report from its data."""

CHART_BUILDERS: Final[tuple[ChartBuilder, ...]] = (
    daily_liquidations_chart,
    funding_chart,
    open_interest_chart,
    heatmap_chart,
    regime_chart,
    coverage_chart,
)
"""The report's charts in page order."""


@dataclass(frozen=True)
class ChartFailure:
    """A chart that could not be drawn or rendered: the page says so in the chart's place, and
    the report's other charts are written as usual."""

    key: str
    title: str
    error: str
    """What went wrong, printable (it may quote the data)."""

    @classmethod
    def of(cls, key: str, title: str, error: BaseException) -> "ChartFailure":
        return cls(key, title, describe_failure(error))


def describe_failure(error: BaseException) -> str:
    """``error`` as one printable line: its type and message, without the JavaScript stack
    vl-convert appends to its own."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    message = " ".join(line for line in lines if not line.startswith("at "))
    return printable(f"{type(error).__name__}: {message}".removesuffix(": "), limit=500)


def chart_builders(data: ReportData) -> list[ChartBuilder]:
    """The builders of ``data``'s charts in page order: :data:`CHART_BUILDERS` and, after the
    open interest chart, in a bitcoin report over a range with CFTC's weekly reports, CME's open
    interest beside the perpetuals' (any other report leaves it out: it would be empty), then,
    over a range with delivery futures volume, the coin's spot, perpetual and delivery volume
    shares."""
    builders: list[ChartBuilder] = []
    for build in CHART_BUILDERS:
        builders.append(build)
        if build is open_interest_chart and has_cme_open_interest(data):
            builders.append(cme_open_interest_chart)
        if build is open_interest_chart and has_delivery_volume(data):
            builders.append(volume_share_chart)
    return builders


def build_charts(
    data: ReportData, extra: Sequence[ChartBuilder] = ()
) -> tuple[list[ReportChart], list[ChartFailure]]:
    """Every chart of :func:`chart_builders`, then ``extra`` charts of the caller's own, and
    the failure of each builder that raised: one chart's bug or odd data costs that chart
    alone."""
    charts: list[ReportChart] = []
    failures: list[ChartFailure] = []
    for build in (*chart_builders(data), *extra):
        try:
            charts.append(build(data))
        # The report is the run's last step and a reader's whole view: any error of one chart
        # is named on the page instead of taking the page with it.
        except Exception as exc:
            key = build.__name__.removesuffix("_chart")
            failures.append(ChartFailure.of(key, key.replace("_", " ").capitalize(), exc))
    return charts, failures

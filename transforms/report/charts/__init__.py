"""The report's charts, drawn with Altair (Vega-Lite) from :class:`ReportData`.

One module per chart, named after the query it draws (``sql/report/report_funding.sql`` →
:mod:`.funding`), each with one function returning a :class:`ReportChart`: the Altair chart plus
the title, a sentence on what it means for positioning, and how many data points it draws. What
they share (width, colours, axis and tooltip helpers) is :mod:`.style`. :func:`build_charts`
draws them in page order.
"""

from collections.abc import Callable
from typing import Final

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

__all__ = ["CHART_BUILDERS", "ReportChart", "build_charts"]

CHART_BUILDERS: Final[tuple[Callable[[ReportData], ReportChart], ...]] = (
    daily_liquidations_chart,
    funding_chart,
    open_interest_chart,
    heatmap_chart,
    regime_chart,
    coverage_chart,
)
"""The report's charts in page order."""


def build_charts(data: ReportData) -> list[ReportChart]:
    """Every chart of :data:`CHART_BUILDERS`, and after the open interest chart, in a bitcoin
    report over a range with CFTC's weekly reports, CME's open interest beside the perpetuals'
    (any other report leaves it out: it would be empty), then, over a range with delivery
    futures volume, the coin's spot, perpetual and delivery volume shares."""
    charts = []
    for build in CHART_BUILDERS:
        charts.append(build(data))
        if build is open_interest_chart and has_cme_open_interest(data):
            charts.append(cme_open_interest_chart(data))
        if build is open_interest_chart and has_delivery_volume(data):
            charts.append(volume_share_chart(data))
    return charts

"""The visual report: the article's charts of one perpetual, drawn from the warehouse.

``build_report`` reads the lake for one perpetual and a range of days (:mod:`.data`), draws the
charts with Altair (:mod:`.charts`) and writes a self-contained HTML page and one PNG per chart
(:mod:`.page`) into ``<out>/<exchange>-<symbol>/``. The CLI's ``treadmill report``, the demo and
the Dagster ``report`` asset all call it.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from transforms.report.charts import ReportChart, build_charts
from transforms.report.data import (
    ReportData,
    ReportDataError,
    ReportRequest,
    coin_of,
    default_range,
    load_report_data,
)
from transforms.report.page import ReportFiles, write_report

__all__ = [
    "Report",
    "ReportDataError",
    "ReportRequest",
    "build_report",
    "coin_of",
    "default_range",
]

REPORTS_FOLDER = "reports"
"""``<warehouse>/reports/``: where reports go unless told otherwise."""


@dataclass(frozen=True)
class Report:
    """A written report: what it covers, what each chart drew, and its files."""

    data: ReportData
    charts: list[ReportChart]
    files: ReportFiles

    @property
    def empty_charts(self) -> list[str]:
        return [chart.key for chart in self.charts if not chart.points]


def build_report(
    lake_root: Path, request: ReportRequest, out_root: Path, generated_at: datetime | None = None
) -> Report:
    """Draw ``request``'s charts from ``lake_root`` and write them under ``out_root``.

    Raises :class:`ReportDataError` when the perpetual has no data in the range.
    """
    data = load_report_data(lake_root, request)
    charts = build_charts(data)
    moment = generated_at or datetime.now(UTC)
    files = write_report(data, charts, out_root / request.name, moment)
    return Report(data=data, charts=charts, files=files)

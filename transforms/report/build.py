"""Write one report: read its data, draw its charts, write its page and PNGs."""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from transforms.report.charts import ReportChart, build_charts
from transforms.report.data import ReportData, ReportRequest, load_report_data
from transforms.report.page import ReportFiles, write_report

REPORTS_FOLDER: Final = "reports"
"""``<warehouse>/reports/``: where reports go unless told otherwise."""


@dataclass(frozen=True)
class Report:
    """A written report: what it covers, what each chart drew, and its files."""

    data: ReportData
    charts: list[ReportChart]
    files: ReportFiles

    @property
    def empty_charts(self) -> list[str]:
        """Charts with nothing to draw in the range (no liquidation snapshots, say)."""
        return [chart.key for chart in self.charts if not chart.points]


def build_report(
    lake_root: Path, request: ReportRequest, out_root: Path, generated_at: datetime | None = None
) -> Report:
    """Draw ``request``'s charts from ``lake_root`` and write them under ``out_root``.

    Raises :class:`~transforms.report.data.ReportDataError` when the perpetual has no data in
    the range.
    """
    data = load_report_data(lake_root, request)
    charts = build_charts(data)
    files = write_report(data, charts, out_root / request.name, generated_at or datetime.now(UTC))
    return Report(data=data, charts=charts, files=files)

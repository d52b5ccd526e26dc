"""Write reports: read their data, draw their charts, write their pages and PNGs, side by side.

:func:`build_reports` draws several reports at once. Each report's data is read (DuckDB) and its
charts drawn and turned into specs on a pool of threads: DuckDB works outside the GIL, so one
report's queries run while another's charts are built. Its PNGs, most of a report's cost, are
rendered in worker processes, each chart its own task, so one report's PNGs render side by side
too: vl-convert holds the GIL while it renders, so threads rendering PNGs take turns, and only
processes render two at once (measured in the README's Report section). The processes are
spawned when the work starts (a fresh interpreter that imports vl-convert alone and starts its
JavaScript engine) while the first data is read. The main thread writes each report's PNGs as
they come back, then its page.
"""

import multiprocessing
from concurrent.futures import (
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
)
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from transforms import storage
from transforms.facts import BUILD_WORKERS
from transforms.report import render
from transforms.report.charts import ReportChart, build_charts
from transforms.report.data import ReportData, ReportDataError, ReportRequest, load_report_data
from transforms.report.page import (
    PNG_SCALE,
    PREVIEW_SCALE,
    VEGA_LITE_VERSION,
    ReportFiles,
    chart_spec,
    write_page,
)

RENDER_WORKERS: Final = BUILD_WORKERS
"""Reports drawn and PNGs rendered at once: one per core, at most four."""


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


@dataclass(frozen=True)
class _Drawn:
    """A report's data, charts and their specs: everything but its files."""

    data: ReportData
    charts: list[ReportChart]
    specs: dict[str, dict[str, Any]]


def _draw(lake_root: Path, request: ReportRequest, threads: int) -> _Drawn:
    data = load_report_data(lake_root, request, threads)
    charts = build_charts(data)
    return _Drawn(data, charts, {chart.key: chart_spec(chart) for chart in charts})


def _renderer(workers: int) -> Executor:
    """Where PNGs render: ``workers`` spawned processes, or this process's one thread."""
    if workers == 1:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-png")
    # Spawned, not forked: this process runs threads (DuckDB's, Dagster's) a fork would copy
    # mid-flight.
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=render.start_engine,
    )


def build_reports(
    lake_root: Path,
    requests: list[ReportRequest],
    out_root: Path,
    generated_at: datetime | None = None,
    workers: int = RENDER_WORKERS,
) -> list[Report | ReportDataError]:
    """Draw every request's report from ``lake_root`` under ``out_root``, ``workers`` at once.

    Returns one outcome per request, in their order: the written :class:`Report`, or the
    :class:`~transforms.report.data.ReportDataError` saying the perpetual has no data in its
    range (nothing is written for it). Any other error stops the rest and is raised. Every
    page carries the same ``generated_at``, so the files do not depend on which worker drew
    what first; each file is replaced atomically, each page after its PNGs. ``workers=1``
    draws everything in this process, one thing at a time.
    """
    if not requests:
        return []
    stamp = generated_at or datetime.now(UTC)
    workers = max(1, workers)
    # Fewer reports than workers: each report's queries take the spare threads.
    threads = max(1, workers // len(requests))
    outcomes: dict[int, Report | ReportDataError] = {}
    drawing_pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report")
    renderer = _renderer(workers)
    try:
        drawing = {
            drawing_pool.submit(_draw, lake_root, request, threads): index
            for index, request in enumerate(requests)
        }
        rendering: dict[int, tuple[_Drawn, dict[str, Future[bytes]], Future[bytes]]] = {}
        for future in as_completed(drawing):
            index = drawing[future]
            try:
                drawn = future.result()
            except ReportDataError as exc:
                outcomes[index] = exc
                continue
            pngs = {
                key: renderer.submit(render.render_png, spec, VEGA_LITE_VERSION, PNG_SCALE)
                for key, spec in drawn.specs.items()
            }
            preview = renderer.submit(
                render.render_png,
                drawn.specs[drawn.charts[0].key],
                VEGA_LITE_VERSION,
                PREVIEW_SCALE,
            )
            rendering[index] = (drawn, pngs, preview)
        for index in sorted(rendering):
            drawn, pngs, preview = rendering[index]
            directory = out_root / requests[index].name
            paths = {
                key: storage.write_bytes(directory / f"{key}.png", png.result())
                for key, png in pngs.items()
            }
            page = write_page(drawn.data, drawn.charts, drawn.specs, directory, stamp)
            files = ReportFiles(html=page, pngs=paths, preview_png=preview.result())
            outcomes[index] = Report(data=drawn.data, charts=drawn.charts, files=files)
    finally:
        # After an error, the tasks not yet started are dropped; those running finish.
        drawing_pool.shutdown(wait=True, cancel_futures=True)
        renderer.shutdown(wait=True, cancel_futures=True)
    return [outcomes[index] for index in range(len(requests))]


def build_report(
    lake_root: Path,
    request: ReportRequest,
    out_root: Path,
    generated_at: datetime | None = None,
    workers: int = RENDER_WORKERS,
) -> Report:
    """Draw ``request``'s charts from ``lake_root`` and write them under ``out_root``, its PNGs
    ``workers`` at once.

    Raises :class:`~transforms.report.data.ReportDataError` when the perpetual has no data in
    the range.
    """
    (outcome,) = build_reports(lake_root, [request], out_root, generated_at, workers)
    if isinstance(outcome, ReportDataError):
        raise outcome
    return outcome

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

One chart that fails, whether drawing, turning into a spec or rendering (vl-convert aborts the
process that renders some inputs), is named on its page in its place; the report's other charts
and its page are written as usual.
"""

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from transforms import storage
from transforms.facts import BUILD_WORKERS
from transforms.report import render
from transforms.report.charts import ChartBuilder, ChartFailure, ReportChart, build_charts
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
    """The charts drawn, in page order (a chart that failed to render is among them)."""
    files: ReportFiles
    failures: list[ChartFailure] = field(default_factory=list)
    """The charts that failed, named on the page in their place: none when all is well."""

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
    """The spec of every chart that has one."""
    failures: list[ChartFailure]


def _draw(
    lake_root: Path, request: ReportRequest, threads: int, extra: Sequence[ChartBuilder]
) -> _Drawn:
    data = load_report_data(lake_root, request, threads)
    charts, failures = build_charts(data, extra)
    specs: dict[str, dict[str, Any]] = {}
    for chart in charts:
        try:
            specs[chart.key] = chart_spec(chart)
        # Altair validates the chart here: a schema error costs this chart, not the page.
        except Exception as exc:
            failures.append(ChartFailure.of(chart.key, chart.title, exc))
    return _Drawn(data, charts, specs, failures)


def _renderer(workers: int) -> Executor:
    """Where PNGs render: ``workers`` spawned processes, or this process's one thread."""
    if workers == 1:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-png")
    return _render_processes(workers)


def _render_processes(processes: int) -> ProcessPoolExecutor:
    # Spawned, not forked: this process runs threads (DuckDB's, Dagster's) a fork would copy
    # mid-flight.
    return ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=render.start_worker,
    )


def rendered_png(spec: dict[str, Any], future: "Future[bytes]", scale: float) -> bytes:
    """The PNG ``future`` renders from ``spec``.

    When a worker process died (vl-convert aborts on some input), the pool is broken for every
    chart still queued on it: each of those renders again in a process of its own, so only the
    chart that kills its renderer fails.
    """
    try:
        return future.result()
    except BrokenExecutor:
        with _render_processes(1) as alone:
            try:
                return alone.submit(render.render_png, spec, VEGA_LITE_VERSION, scale).result()
            except BrokenExecutor as exc:
                raise RenderCrashError("vl-convert aborted the process rendering it") from exc


class RenderCrashError(RuntimeError):
    """The renderer's process died while rendering one chart."""


def build_reports(
    lake_root: Path,
    requests: list[ReportRequest],
    out_root: Path,
    generated_at: datetime | None = None,
    workers: int = RENDER_WORKERS,
    extra_charts: Sequence[ChartBuilder] = (),
) -> list[Report | ReportDataError]:
    """Draw every request's report from ``lake_root`` under ``out_root``, ``workers`` at once.

    Returns one outcome per request, in their order: the written :class:`Report`, or the
    :class:`~transforms.report.data.ReportDataError` saying the perpetual has no data in its
    range (nothing is written for it). A chart that fails is named on its page, in
    :attr:`Report.failures`, and has no PNG (an earlier report's is removed); any other error
    stops the rest and is raised. ``extra_charts`` are drawn after the report's own. Every
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
            drawing_pool.submit(_draw, lake_root, request, threads, extra_charts): index
            for index, request in enumerate(requests)
        }
        rendering: dict[int, tuple[_Drawn, dict[str, Future[bytes]], Future[bytes] | None]] = {}
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
            first = next(iter(drawn.specs), None)
            preview = (
                renderer.submit(
                    render.render_png, drawn.specs[first], VEGA_LITE_VERSION, PREVIEW_SCALE
                )
                if first is not None
                else None
            )
            rendering[index] = (drawn, pngs, preview)
        for index in sorted(rendering):
            drawn, pngs, preview = rendering[index]
            outcomes[index] = _write_report(
                drawn, pngs, preview, out_root / requests[index].name, stamp
            )
    finally:
        # After an error, the tasks not yet started are dropped; those running finish.
        drawing_pool.shutdown(wait=True, cancel_futures=True)
        renderer.shutdown(wait=True, cancel_futures=True)
    return [outcomes[index] for index in range(len(requests))]


def _write_report(
    drawn: _Drawn,
    pngs: dict[str, "Future[bytes]"],
    preview: "Future[bytes] | None",
    directory: Path,
    stamp: datetime,
) -> Report:
    """Write a drawn report's PNGs as they render, then its page naming every chart that
    failed."""
    failures = list(drawn.failures)
    titles = {chart.key: chart.title for chart in drawn.charts}
    paths: dict[str, Path] = {}
    for key, future in pngs.items():
        try:
            png = rendered_png(drawn.specs[key], future, PNG_SCALE)
        # vl-convert's errors are plain exceptions of every kind: each costs its chart alone.
        except Exception as exc:
            failures.append(ChartFailure.of(key, titles[key], exc))
            continue
        paths[key] = storage.write_bytes(directory / f"{key}.png", png)
    for failure in failures:
        # An earlier report's PNG would pass for this one.
        storage.delete(directory / f"{failure.key}.png")
    first = next(iter(drawn.specs), None)
    preview_png = None
    if preview is not None and first in paths:
        preview_png = rendered_png(drawn.specs[first], preview, PREVIEW_SCALE)
    page = write_page(drawn.data, drawn.charts, drawn.specs, directory, stamp, failures)
    files = ReportFiles(html=page, pngs=paths, preview_png=preview_png)
    return Report(data=drawn.data, charts=drawn.charts, files=files, failures=failures)


def build_report(
    lake_root: Path,
    request: ReportRequest,
    out_root: Path,
    generated_at: datetime | None = None,
    workers: int = RENDER_WORKERS,
    extra_charts: Sequence[ChartBuilder] = (),
) -> Report:
    """Draw ``request``'s charts (and ``extra_charts`` after them) from ``lake_root`` and write
    them under ``out_root``, its PNGs ``workers`` at once.

    Raises :class:`~transforms.report.data.ReportDataError` when the perpetual has no data in
    the range.
    """
    (outcome,) = build_reports(lake_root, [request], out_root, generated_at, workers, extra_charts)
    if isinstance(outcome, ReportDataError):
        raise outcome
    return outcome

"""``treadmill coverage``: draw ``dq_coverage`` as one character per symbol and day."""

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipelines.cli.common import (
    TrailingStartOption,
    WarehouseOption,
    check_range,
    console,
    given_days,
    load_settings,
)

COVERAGE_WINDOW_DAYS = 30
COVERAGE_MAX_PROBLEMS = 20
COVERAGE_MARKS = {
    "ok": ("█", "green"),
    "partial": ("▄", "yellow"),
    "pending": ("?", "cyan"),
    "missing": ("x", "bold red"),
    "quarantined": ("Q", "bold magenta"),
    "not_published": (" ", ""),
}
NOT_CHECKED_MARK = ("·", "dim")


def coverage(
    start: TrailingStartOption = None,
    end: Annotated[
        str | None,
        typer.Option(help="Last UTC day (inclusive). Default: the last day with coverage."),
    ] = None,
    universe: Annotated[
        str | None,
        typer.Option(
            help="Only these symbols, e.g. 'binance_um:BTCUSDT;binance_cm:BTCUSD_PERP' "
            "(symbols never checked show as '·'). Default: every symbol the coverage holds.",
        ),
    ] = None,
    warehouse: WarehouseOption = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Instead of the grid, check that every lake partition (of --start…--end when "
            "given) is the file published: none missing, damaged or replaced.",
        ),
    ] = False,
) -> None:
    """Show what the warehouse holds per exchange, dataset, symbol and day, from dq_coverage.

    One line per exchange × dataset × symbol with one character per day. Exits 1 when a day in
    the range is missing or quarantined (or nothing in it was checked), 0 otherwise. With
    --verify, one line per partition whose file is not the one published; exits 1 when any is.
    """
    from rich.markup import escape
    from rich.text import Text

    from transforms.coverage import (
        COVERAGE_TABLE,
        PROBLEM_STATUSES,
        STATUSES,
        coverage_days,
        coverage_grid,
        read_coverage,
        status_counts,
    )

    settings = load_settings(warehouse, universe)
    first, last = given_days(start, end)
    if verify:
        verify_partitions(settings.lake_root, first, last)
        return
    checked = coverage_days(settings.lake_root)
    if last is None:
        latest = checked[-1] if checked else None
        last = latest if latest and (first is None or latest >= first) else first
    if last is None:
        console.print(
            f"[red]no {COVERAGE_TABLE} partitions in {settings.lake_root}[/red]: "
            "run treadmill materialize first"
        )
        raise typer.Exit(1)
    if first is None:
        first = last - timedelta(days=COVERAGE_WINDOW_DAYS - 1)
        if start is None and end is None and checked:
            first = max(first, checked[0])
    check_range(first, last)
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    tables = read_coverage(settings.lake_root, days)
    grid = coverage_grid(tables, days, settings.universe if universe is not None else None)

    out = Console(soft_wrap=True, highlight=False)
    out.print(
        f"{COVERAGE_TABLE} {first}…{last} ({len(days)} day(s), {len(tables)} checked) "
        f"in {settings.lake_root}"
    )
    legend = Text("legend: ")
    for status, (mark, style) in COVERAGE_MARKS.items():
        legend.append(f"'{mark}'", style=style or None).append(f" {status}  ")
    legend.append(f"'{NOT_CHECKED_MARK[0]}'", style=NOT_CHECKED_MARK[1]).append(" not checked")
    out.print(legend)
    labels = [f"{line.exchange} {line.dataset} {line.symbol}" for line in grid]
    width = max(map(len, labels), default=0) + 2
    if len(days) > 21:
        out.print(" " * width + f"{first}{last!s:>{len(days) - 10}}")
    totals: list[str] = []
    problems: list[str] = []
    for label, line in zip(labels, grid, strict=True):
        text = Text(label.ljust(width))
        for day, cell in zip(days, line.cells, strict=True):
            if cell is None:
                text.append(NOT_CHECKED_MARK[0], style=NOT_CHECKED_MARK[1])
                continue
            mark, style = COVERAGE_MARKS.get(cell.status, NOT_CHECKED_MARK)
            text.append(mark, style=style or None)
            totals.append(cell.status)
            if cell.status in PROBLEM_STATUSES:
                problems.append(f"{day} {label} {cell.status}: {cell.detail or 'no detail'}")
        text.append("  " + ", ".join(f"{n} {s}" for s, n in line.counts.items() if n))
        out.print(text)

    counts = status_counts(totals)
    out.print("symbol-days: " + ", ".join(f"{counts[s]:,} {s}" for s in STATUSES))
    unchecked = [day for day in days if day not in tables]
    if unchecked:
        out.print(
            f"[yellow]{len(unchecked)} day(s) without {COVERAGE_TABLE}[/yellow] "
            f"({unchecked[0]}…{unchecked[-1]}): run treadmill materialize for them"
        )
    problems.sort()  # by day first: each line starts with its date
    for problem in problems[:COVERAGE_MAX_PROBLEMS]:
        out.print(f"[red]{escape(problem)}[/red]")
    if len(problems) > COVERAGE_MAX_PROBLEMS:
        out.print(f"… and {len(problems) - COVERAGE_MAX_PROBLEMS} more missing or quarantined")
    if problems or not tables:
        raise typer.Exit(1)


def verify_partitions(lake_root: Path, first: date | None, last: date | None) -> None:
    """Print each partition whose file is missing, damaged or not the one published, with the
    command that rebuilds it; exit 1 when there is one."""
    from rich.markup import escape

    from transforms.lake_check import verify_lake

    if first is not None and last is not None:
        check_range(first, last)
    out = Console(soft_wrap=True, highlight=False)
    checks = verify_lake(lake_root, first, last)
    bad = [check for check in checks if check.bad]
    for check in bad:
        out.print(
            f"[red]{check.table} {check.day} {escape(str(check.path))}: "
            f"{escape(check.describe())}[/red]; treadmill materialize --start {check.day} "
            f"--end {check.day} rebuilds it"
        )
    if not checks:
        out.print(f"[red]no partitions in {lake_root}[/red]: run treadmill materialize first")
        raise typer.Exit(1)
    unrecorded = sum(check.verdict == "unrecorded" for check in checks)
    if bad:
        out.print(f"{len(bad)} of {len(checks)} partition(s) missing, damaged or replaced")
        raise typer.Exit(1)
    summary = f"{len(checks)} partition(s) verified in {lake_root}"
    if unrecorded:
        summary += (
            f" ({unrecorded} published before treadmill recorded their files: "
            "checked only to read as Parquet)"
        )
    out.print(summary)

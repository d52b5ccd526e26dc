"""``treadmill materialize``: build every table for a range of days as one Dagster run."""

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from pipelines.cli.common import (
    DISK_FULL_SIGNS,
    UniverseOption,
    WarehouseOption,
    check_range,
    console,
    error_exit,
    full_disk_in_one_line,
    full_disk_message,
    given_days,
    load_settings,
    yesterday,
)
from transforms.errors import ConfigError
from transforms.settings import Settings

if TYPE_CHECKING:
    from pipelines.progress import Progress
    from pipelines.runner import RunSummary
    from transforms.resume import ResumePlan

ReportCoinsOption = Annotated[
    str | None,
    typer.Option(
        help="Coins whose report the run draws, e.g. 'BTC,ETH'; 'none' draws none. Default: "
        "$TREADMILL_REPORT_COINS, else every coin of the universe with a perpetual.",
    ),
]

PLAIN_PROGRESS_SECONDS = 5.0
"""Without a terminal, a progress line at most this often (and a last one at the end)."""


def materialize(
    start: Annotated[
        str | None, typer.Option(help="First UTC day, YYYY-MM-DD. Default: yesterday.")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last UTC day (inclusive). Default: start.")
    ] = None,
    universe: UniverseOption = None,
    warehouse: WarehouseOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Rebuild every day, even those already built from unchanged inputs."
        ),
    ] = False,
    report_coins: ReportCoinsOption = None,
) -> None:
    """Materialise every table for a day or a range of days, as one single-run backfill.

    Days an earlier run already built from unchanged inputs (the same archive checksums, code
    and universe) are skipped; from the first day that is not, the rest of the range runs as
    one run. Progress is asset-partitions (one table's day) done out of all of them.
    """
    from pipelines.history import keep_runs_from_env
    from pipelines.instance import dagster_home
    from pipelines.interrupts import EXIT_INTERRUPTED, RunInterruptedError, sigterm_as_interrupt
    from pipelines.runner import materialize as materialize_days

    settings = load_settings(warehouse, universe)
    try:
        keep_runs_from_env()
    except ConfigError as exc:
        raise error_exit("configuration error", exc, 2) from exc
    given_first, given_last = given_days(start, end)
    first = given_first or yesterday()
    last = given_last or first
    check_range(first, last)
    days = (last - first).days + 1
    console.print(f"materialising {first}…{last} ({days} day(s)) into {settings.warehouse}")
    chosen_coins = _report_coins(settings, report_coins)
    places = {
        "the warehouse": settings.warehouse,
        "Dagster's history": dagster_home(settings.warehouse),
    }
    try:
        with (
            full_disk_in_one_line(places),
            sigterm_as_interrupt(),
            _progress_display() as show_progress,
        ):
            outcome = materialize_days(
                settings,
                first,
                last,
                force=force,
                report_coins=chosen_coins,
                on_progress=show_progress,
                on_wait=lambda message: console.print(f"[yellow]{message}[/yellow]"),
                on_plan=_print_plan,
            )
    except (RunInterruptedError, KeyboardInterrupt) as exc:
        console.print(_interrupted_line(exc))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    print_abandoned(outcome.abandoned_runs)
    still_bad = outcome.plan.quarantined if outcome.plan else ()
    for key in still_bad:
        console.print(f"[red]failed:[/red] {key} is quarantined (skipped: its input is unchanged)")
    if outcome.summary is None:
        console.print(
            f"nothing to do: all {days} day(s) are built from unchanged inputs "
            "(--force rebuilds them)"
        )
        if outcome.catalog_rebuilt:
            console.print(
                "the catalog was missing or named another warehouse's lake (a copy or a move): "
                f"rebuilt it over {settings.lake_root}"
            )
    else:
        print_run_summary(outcome.summary)
        problems = [*outcome.summary.step_failures, *outcome.summary.failed_checks]
        if any(sign in problem for problem in problems for sign in DISK_FULL_SIGNS):
            raise error_exit("disk full", full_disk_message(places), 1)
    if still_bad or (outcome.summary is not None and not outcome.summary.ok):
        raise typer.Exit(1)


def _report_coins(settings: Settings, coins: str | None) -> tuple[str, ...] | None:
    """The coins ``--report-coins`` names for the run's ``report`` asset (None: the option was
    not given, and the run reads ``$TREADMILL_REPORT_COINS``), checked against the universe
    before the run either way: an unknown coin exits 2, by name."""
    from transforms.report.data import parse_report_coins, report_coins_from_env, report_perpetuals

    try:
        chosen = parse_report_coins(coins) if coins is not None else None
        report_perpetuals(
            settings.universe, chosen if coins is not None else report_coins_from_env()
        )
    except ConfigError as exc:
        raise error_exit("configuration error", exc, 2) from exc
    return chosen


def _interrupted_line(exc: BaseException) -> str:
    """One line for a run stopped by Ctrl-C or SIGTERM: what became of it, and what to do."""
    from pipelines.interrupts import RunInterruptedError

    resume = "run the same command again to resume"
    if not isinstance(exc, RunInterruptedError) or exc.run_id is None:
        return f"[yellow]interrupted[/yellow] before a run began; nothing was published — {resume}"
    if exc.succeeded:
        return (
            f"[yellow]interrupted ({exc.signal_name})[/yellow]: run {exc.run_id} had already "
            f"succeeded; its days may not be recorded as built — {resume}"
        )
    return (
        f"[yellow]interrupted ({exc.signal_name})[/yellow]: run {exc.run_id} canceled; nothing "
        f"partial was published — {resume}"
    )


def _print_plan(plan: "ResumePlan") -> None:
    if plan.done:
        console.print(
            f"skipping {len(plan.done)} day(s) built from unchanged inputs "
            f"({plan.done[0]}…{plan.done[-1]})"
        )
    if plan.remaining is not None:
        start, end = plan.remaining
        console.print(f"building {start}…{end} as one run: {plan.reason}")


@contextmanager
def _progress_display() -> "Iterator[Callable[[Progress], None]]":
    """A progress bar on a terminal; plain lines, a few seconds apart, anywhere else."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as ProgressBar

    if console.is_terminal:
        columns = (
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("asset-partitions · {task.fields[rate]}/s · ETA {task.fields[eta]} ·"),
            TimeElapsedColumn(),
        )
        with ProgressBar(*columns, console=console) as bar:
            task = bar.add_task("materialise", total=None, rate="0.0", eta="—")

            def update(progress: "Progress") -> None:
                bar.update(
                    task,
                    completed=progress.done,
                    total=progress.total,
                    rate=f"{progress.rate:.1f}",
                    eta=progress.eta_text,
                )

            yield update
        return
    shown: list[tuple[float, Progress]] = []
    latest: list[Progress] = []

    def line(progress: "Progress") -> None:
        latest[:] = [progress]
        finished = progress.done == progress.total
        if not shown or finished or time.monotonic() - shown[-1][0] >= PLAIN_PROGRESS_SECONDS:
            shown.append((time.monotonic(), progress))
            console.print(f"progress: {progress.line()}")

    yield line
    if latest and (not shown or shown[-1][1] is not latest[0]):
        console.print(f"progress: {latest[0].line()}")


def print_abandoned(run_ids: Sequence[str]) -> None:
    for run_id in run_ids:
        console.print(
            f"[yellow]marked failed:[/yellow] run {run_id}, left unfinished by a process that "
            "is gone"
        )


def print_run_summary(summary: "RunSummary") -> None:
    """Rows and partitions per table, then failures, warnings and checks, then the verdict."""
    print_abandoned(summary.abandoned_runs)
    for table, rows in sorted(summary.rows_by_table.items()):
        partitions = summary.partitions_by_table[table]
        console.print(f"  {table:<40} {partitions:>5} partition(s) {rows:>12,} rows")
    for failure in summary.step_failures:
        console.print(f"[red]step failed:[/red] {failure}")
    for warning in summary.warnings[:20]:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    for failure in summary.failed_checks:
        console.print(f"[red]failed:[/red] {failure}")
    console.print(
        f"checks: {summary.checks_passed} passed, {summary.checks_warned} warned, "
        f"{summary.checks_failed} failed"
    )
    pruned = summary.pruned
    if pruned.deleted_runs or pruned.trimmed_runs:
        console.print(
            f"history: deleted {len(pruned.deleted_runs)} old run(s) and the compute logs of "
            f"{len(pruned.trimmed_runs)} more (see treadmill prune-history --help)"
        )
    if summary.ok:
        console.print(f"[green]run {summary.run_id} succeeded[/green]")
    else:
        console.print(f"[red]run {summary.run_id} finished with failures[/red]")

"""Run the daily job in process against a persistent Dagster instance under the warehouse."""

import os
import shutil
import signal
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._utils.error import SerializableErrorInfo

from pipelines.defs.jobs import DAILY_JOB
from pipelines.defs.partitions import RANGE_END_TAG, RANGE_START_TAG
from pipelines.history import (
    PrunedHistory,
    fail_abandoned_runs,
    in_process_run_tags,
    keep_runs_from_env,
    prune_history,
)
from pipelines.instance import dagster_home
from pipelines.interrupts import CancelOnSignal, RunInterruptedError
from pipelines.progress import Progress, RunProgress
from transforms.catalog import build_catalog, catalog_is_current
from transforms.fetch import published_checksums
from transforms.lock import writer_lock
from transforms.resume import ResumePlan, code_version, plan_resume, record_days
from transforms.settings import Settings, format_pairs, format_universe

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT_DAGSTER_YAML = PROJECT_ROOT / "dagster.yaml"
CODE_ROOTS = tuple(PROJECT_ROOT / folder for folder in ("transforms", "sql", "pipelines/defs"))
"""The code that decides what the warehouse holds: a change to it rebuilds every day."""


def instance_home(settings: Settings) -> Path:
    """The instance's directory (:func:`pipelines.instance.dagster_home`), holding the project's
    ``dagster.yaml`` unless ``$DAGSTER_HOME`` names one of its own."""
    home = dagster_home(settings.warehouse)
    if os.environ.get("DAGSTER_HOME"):
        return home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if PROJECT_DAGSTER_YAML.exists() and (
        not config.exists() or config.read_bytes() != PROJECT_DAGSTER_YAML.read_bytes()
    ):
        shutil.copyfile(PROJECT_DAGSTER_YAML, config)
    return home


@contextmanager
def open_instance(settings: Settings) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance of :func:`instance_home`.

    ``DAGSTER_HOME`` is set while the instance is open (and put back afterwards): the storage
    classes of ``dagster.yaml`` find their directory through it, here and in any process the run
    starts, whichever warehouse these settings name.
    """
    home = instance_home(settings)
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield instance
    finally:
        if previous is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = previous


@dataclass
class RunSummary:
    """What a materialisation did, in terms a person can act on."""

    run_id: str
    success: bool
    step_failures: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    checks_passed: int = 0
    checks_failed: int = 0
    checks_warned: int = 0
    warnings: list[str] = field(default_factory=list)
    rows_by_table: dict[str, int] = field(default_factory=dict)
    partitions_by_table: dict[str, int] = field(default_factory=dict)
    abandoned_runs: list[str] = field(default_factory=list)
    """Runs left unfinished by a process that died, marked failed before this run began."""
    pruned: PrunedHistory = field(default_factory=PrunedHistory)
    """What the history retention (:func:`pipelines.history.prune_history`) removed after it."""

    @property
    def ok(self) -> bool:
        return self.success and not self.failed_checks


@dataclass
class Materialization:
    """What ``treadmill materialize`` did: what it skipped, and the run over what remained."""

    plan: ResumePlan | None
    """None when forced: every day was rebuilt."""
    summary: "RunSummary | None"
    """None when every day was already built from unchanged inputs."""
    catalog_rebuilt: bool = False
    """Nothing was left to run, but the catalog was missing or named another lake (a copied or
    moved warehouse), so it was rebuilt for this one."""
    abandoned_runs: list[str] = field(default_factory=list)
    """With nothing to run, the runs a dead process had left unfinished, marked failed (a run
    does it itself: :attr:`RunSummary.abandoned_runs`)."""


def materialize(
    settings: Settings,
    start: date,
    end: date,
    force: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
    on_plan: Callable[[ResumePlan], None] | None = None,
    report_coins: Sequence[str] | None = None,
) -> Materialization:
    """Materialise ``start..end`` as one run, skipping the days already built (unless ``force``).

    ``report_coins`` is the ``report`` asset's ``coins`` config (None leaves it unset: the run
    reads ``$TREADMILL_REPORT_COINS``).

    Holds the warehouse's writer lock throughout (waiting for another writer if needed, and
    telling ``on_wait``), so that the plan, the run and the records see one state of the lake.
    """
    with writer_lock(settings.warehouse, on_wait=on_wait):
        code = code_version(CODE_ROOTS)
        plan = None
        remaining: tuple[date, date] | None = (start, end)
        if not force:
            plan = plan_resume(
                settings,
                start,
                end,
                code,
                datetime.now(UTC),
                lambda files: published_checksums(settings, files),
            )
            remaining = plan.remaining
            if on_plan is not None:
                on_plan(plan)
        if remaining is None:
            # Nothing to run, but a copied or moved warehouse's catalog still names the old lake.
            stale = not catalog_is_current(settings.warehouse)
            if stale:
                build_catalog(settings.warehouse)
            # With no run to start (which would), a dead run must still not hold a queue's slot.
            with open_instance(settings) as instance:
                abandoned = fail_abandoned_runs(instance, settings.warehouse)
            return Materialization(plan, None, catalog_rebuilt=stale, abandoned_runs=abandoned)
        summary = materialize_range(
            settings, *remaining, on_progress=on_progress, report_coins=report_coins
        )
        if summary.success:
            with _interrupt_after(summary.run_id, succeeded=True):
                days = _day_list(*remaining)
                record_days(settings, days, code, summary.run_id, datetime.now(UTC))
        return Materialization(plan, summary)


@contextmanager
def _interrupt_after(run_id: str, succeeded: bool) -> Iterator[None]:
    """A Ctrl-C once the run has ended is about that run: it had ``succeeded`` (or not)."""
    try:
        yield
    except KeyboardInterrupt as exc:
        raise RunInterruptedError(signal.Signals.SIGINT.name, run_id, succeeded) from exc


def materialize_range(
    settings: Settings,
    start: date,
    end: date,
    on_progress: Callable[[Progress], None] | None = None,
    report_coins: Sequence[str] | None = None,
) -> "RunSummary":
    """Materialise ``start..end`` (inclusive) of every asset as one single run; ``report_coins``
    as in :func:`materialize`.

    Holds the writer lock (re-entering the caller's), under which it first marks failed the runs
    a dead process left unfinished, and afterwards prunes the run history to
    ``$TREADMILL_HISTORY_KEEP_RUNS``. SIGINT or SIGTERM cancels the run and raises
    :class:`pipelines.interrupts.RunInterruptedError`.
    """
    from pipelines.definitions import defs

    keep_runs = keep_runs_from_env()
    definitions = defs()
    job = definitions.resolve_job_def(DAILY_JOB)
    graph = definitions.resolve_asset_graph()
    assets = [key.to_user_string() for key in graph.get_all_asset_keys()]
    run_id = str(uuid.uuid4())
    with writer_lock(settings.warehouse), open_instance(settings) as instance:
        abandoned = fail_abandoned_runs(instance, settings.warehouse)
        with (
            (
                # The watcher polls the event log and the lake every second: only when someone
                # listens.
                RunProgress(
                    instance, run_id, assets, _day_list(start, end), settings.lake_root, on_progress
                )
                if on_progress is not None
                else nullcontext()
            ),
            CancelOnSignal(instance, run_id),
        ):
            result = job.execute_in_process(
                instance=instance,
                run_id=run_id,
                tags={
                    RANGE_START_TAG: start.isoformat(),
                    RANGE_END_TAG: end.isoformat(),
                    **in_process_run_tags(settings.warehouse),
                },
                run_config=run_config(settings, report_coins),
                raise_on_error=False,
            )
        with _interrupt_after(run_id, result.success):
            summary = summarize(result)
            summary.abandoned_runs = abandoned
            summary.pruned = prune_history(instance, keep_runs)
    return summary


def run_config(settings: Settings, report_coins: Sequence[str] | None = None) -> dict[str, Any]:
    """The daily job's run config for ``settings``; ``report_coins`` as in :func:`materialize`."""
    return {
        # The command prints every failure and warning itself, one line each, after the run;
        # Dagster's console would repeat the failures with their stacks. The run's event log
        # keeps everything (the UI shows it).
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
        **(
            {"ops": {"report": {"config": {"coins": list(report_coins)}}}}
            if report_coins is not None
            else {}
        ),
        "resources": {
            "treadmill": {
                "config": {
                    "warehouse": str(settings.warehouse),
                    "binance_url": settings.binance_url,
                    "universe": format_universe(settings.universe),
                    "venue_urls": format_pairs(settings.venue_urls),
                    "hyperliquid_url": settings.hyperliquid_url,
                    "cftc_url": settings.cftc_url,
                    "venue_rates": format_pairs(
                        {key: str(rate) for key, rate in settings.venue_rates.items()}
                    ),
                }
            }
        },
    }


def _day_list(start: date, end: date) -> list[date]:
    """Every day of ``start..end``, inclusive."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def summarize(result: dg.ExecuteInProcessResult) -> RunSummary:
    summary = RunSummary(run_id=result.run_id, success=result.success)
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            summary.step_failures.append(f"{event.step_key}: {_first_cause(error)}")
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            summary.checks_passed += 1
            continue
        asset = evaluation.asset_key.to_user_string()
        details = evaluation.metadata.get("failures")
        lines = details.value if details is not None and isinstance(details.value, list) else []
        described = [f"{asset}: {line}" for line in lines] or [
            f"{asset}: check {evaluation.check_name} failed"
        ]
        # A quarantined or undownloadable file is a failure even where the rest of the day
        # published (WARN);
        # other warnings (a partial day, say) are reported but do not fail the run.
        quarantined = evaluation.metadata.get("rejected_symbol_days")
        if evaluation.severity == dg.AssetCheckSeverity.ERROR or (
            quarantined is not None and quarantined.value
        ):
            summary.checks_failed += 1
            summary.failed_checks.extend(described)
        else:
            summary.checks_warned += 1
            summary.warnings.extend(described)
    for event in result.get_asset_materialization_events():
        if event.asset_key is None:
            continue
        metadata = event.materialization.metadata
        published = metadata.get("partitions_published")
        if published is None or not published.value:
            continue
        table = event.asset_key.to_user_string()
        rows = metadata.get("dagster/row_count")
        summary.rows_by_table[table] = int(rows.value) if rows is not None else 0  # type: ignore[arg-type]
        summary.partitions_by_table[table] = int(published.value)  # type: ignore[arg-type]
    return summary


def _first_cause(error: SerializableErrorInfo | None) -> str:
    """The first line of the error a step failed on, under Dagster's wrappers ("Error occurred
    while executing op …"): the message a person can act on, naming the file or URL where ours
    do."""
    if error is None:
        return "unknown error"
    # Ours name the file or URL and wrap the library's error: stop at the first that is not
    # Dagster's.
    while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    lines = error.message.strip().splitlines()
    return lines[0] if lines else error.cls_name or "unknown error"

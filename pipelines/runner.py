"""Run the daily job in process against a persistent Dagster instance under the warehouse."""

import os
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.defs.jobs import DAILY_JOB
from transforms.settings import Settings, format_universe

PROJECT_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def dagster_home(settings: Settings) -> Path:
    """``$DAGSTER_HOME`` if set; otherwise ``<warehouse>/dagster`` with the project's settings."""
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    home = settings.warehouse / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if PROJECT_DAGSTER_YAML.exists() and (
        not config.exists() or config.read_bytes() != PROJECT_DAGSTER_YAML.read_bytes()
    ):
        shutil.copyfile(PROJECT_DAGSTER_YAML, config)
    return home


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

    @property
    def ok(self) -> bool:
        return self.success and not self.failed_checks


def materialize_range(settings: Settings, start: date, end: date) -> RunSummary:
    """Materialise ``start..end`` (inclusive) of every asset as one single run."""
    from pipelines.definitions import defs

    home = dagster_home(settings)
    job = defs().resolve_job_def(DAILY_JOB)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = job.execute_in_process(
            instance=instance,
            tags={RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()},
            run_config={
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                "resources": {
                    "treadmill": {
                        "config": {
                            "warehouse": str(settings.warehouse),
                            "binance_url": settings.binance_url,
                            "universe": format_universe(settings.universe),
                        }
                    }
                },
            },
            raise_on_error=False,
        )
    return summarize(result)


def summarize(result: dg.ExecuteInProcessResult) -> RunSummary:
    summary = RunSummary(run_id=result.run_id, success=result.success)
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            message = error.message.strip() if error else "unknown error"
            summary.step_failures.append(f"{event.step_key}: {message}")
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

"""Fact tables: DuckDB SQL over staged partitions, one partition per UTC day.

Each day is built, then checked by the SQL checks of ``sql/checks/`` (see
:mod:`transforms.fact_checks`), then published. A day that fails an ``error`` check is not
published: it goes to ``<warehouse>/quarantine/facts/<table>/<date>.parquet`` with a JSON report
beside it, the previously published partition (if any) stays as it was, and the other days of
the run still publish. The checks are blocking asset checks, so a failed ``error`` check fails
the step and keeps its downstream assets from running; a failed ``warn`` check does neither.
"""

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from pipelines.defs.partitions import daily_partitions
from pipelines.defs.resources import TreadmillConfig
from transforms import storage
from transforms.fact_checks import CheckOutcome, FactCheck, checks_for, run_fact_checks
from transforms.facts import FACT_MODELS, FactModel, build_facts
from transforms.quarantine import clear_fact_quarantine, quarantine_fact

SEVERITIES = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}
MAX_DAYS_LISTED = 50

DayMeasure = Callable[[pa.Table, date, Path], tuple[float, int]]
"""A measurement of a built day for the asset's metadata: a sum and a count to average."""


def build_fact_asset(
    model: FactModel, measures: dict[str, DayMeasure] | None = None
) -> dg.AssetsDefinition:
    """The asset of one fact model: reads its inputs' partitions through a day-window mapping.

    ``measures`` name averages reported in the metadata, each summed over the days built.
    """
    measures = measures or {}
    deps = [
        dg.AssetDep(
            table,
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-model_input.days_before, end_offset=model_input.days_after
            ),
        )
        for model_input in model.inputs
        for table in model_input.tables
    ]
    checks = checks_for(model.name)

    @dg.asset(
        name=model.name,
        group_name=model.layer,
        deps=deps,
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"duckdb", "parquet"},
        description=(f"{model.description}\n\nSQL: `sql/{model.layer}/{model.name}.sql`."),
        tags={"layer": model.layer},
        check_specs=[
            dg.AssetCheckSpec(
                check.name,
                asset=model.name,
                blocking=True,
                description=_spec_description(check),
            )
            for check in checks
        ],
    )
    def fact_asset(
        context: dg.AssetExecutionContext, treadmill: TreadmillConfig
    ) -> dg.MaterializeResult:
        settings = treadmill.settings()
        rows: dict[str, int] = {}
        quarantined: dict[str, list[str]] = {}
        outcomes: dict[str, dict[str, CheckOutcome]] = {check.name: {} for check in checks}
        totals: dict[str, tuple[float, int]] = dict.fromkeys(measures, (0.0, 0))
        days = [date.fromisoformat(key) for key in context.partition_keys]
        for day, table in build_facts(model, days, settings.lake_root):
            key = day.isoformat()
            day_outcomes = run_fact_checks(model, table, day, settings.lake_root)
            for outcome in day_outcomes:
                outcomes[outcome.name][key] = outcome
                if not outcome.passed:
                    log = context.log.error if outcome.blocks_publication else context.log.warning
                    log(f"{model.name} {key}: {outcome.name} found {outcome.violations} row(s)")
            failed = [o.name for o in day_outcomes if o.blocks_publication]
            if failed:
                path = quarantine_fact(table, day_outcomes, settings, model.name, day)
                context.log.error(f"{model.name} {key} not published, quarantined at {path}")
                quarantined[key] = failed
                continue
            storage.publish_partition(table, settings.lake_root, model.name, day)
            clear_fact_quarantine(settings, model.name, day)
            rows[key] = table.num_rows
            for name, measure in measures.items():
                total, count = measure(table, day, settings.lake_root)
                totals[name] = (totals[name][0] + total, totals[name][1] + count)
        metadata: dict[str, Any] = {
            "dagster/row_count": sum(rows.values()),
            "partitions_published": len(rows),
            "partitions_quarantined": len(quarantined),
            "rows_by_day": rows if len(rows) <= 31 else {},
            "path": dg.MetadataValue.path(str(settings.lake_root / model.name)),
        }
        if quarantined:
            metadata["quarantined"] = dict(list(quarantined.items())[:MAX_DAYS_LISTED])
        for name, (total, count) in totals.items():
            metadata[name] = total / count if count else None
            metadata[f"{name}_n"] = count
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[_check_result(check, outcomes[check.name]) for check in checks],
        )

    return fact_asset


def _spec_description(check: FactCheck) -> str:
    effect = {
        "error": "a failing day is quarantined, not published",
        "warn": "a failing day is still published",
    }[check.severity]
    return f"{check.description} Severity {check.severity}: {effect}. SQL: `{check.sql_path.name}`."


def _check_result(check: FactCheck, by_day: dict[str, CheckOutcome]) -> dg.AssetCheckResult:
    """One check over every day of the run: passed only if no day failed."""
    failing = {day: outcome for day, outcome in by_day.items() if not outcome.passed}
    metadata: dict[str, Any] = {
        "severity": check.severity,
        "days_checked": len(by_day),
        "days_failed": len(failing),
        "violations_by_day": {
            day: outcome.violations for day, outcome in list(failing.items())[:MAX_DAYS_LISTED]
        },
        "failures": [
            f"{day}: {outcome.violations} violating row(s)"
            for day, outcome in list(failing.items())[:MAX_DAYS_LISTED]
        ],
        "sql": f"sql/checks/{check.sql_path.name}",
    }
    metadata.update(check.params)
    if failing:
        day, outcome = next(iter(failing.items()))
        metadata["sample_day"] = day
        metadata["sample"] = dg.MetadataValue.json(outcome.to_json()["sample"])
    return dg.AssetCheckResult(
        check_name=check.name,
        passed=not failing,
        severity=SEVERITIES[check.severity],
        metadata=metadata,
    )


fact_assets = [build_fact_asset(model) for model in FACT_MODELS]

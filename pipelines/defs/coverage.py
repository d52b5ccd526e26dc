"""Data-quality coverage: one row per exchange × dataset × symbol × day, after staging."""

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg

from pipelines.defs.partitions import daily_partitions
from pipelines.defs.resources import TreadmillConfig
from pipelines.defs.staged import staged_assets
from transforms import storage
from transforms.coverage import (
    COVERAGE_TABLE,
    PROBLEM_STATUSES,
    STATUSES,
    coverage_rows,
    status_counts,
)

MAX_LISTED_PROBLEMS = 50
SOURCES_ANSWERED_CHECK = "sources_answered"


@dg.asset(
    name=COVERAGE_TABLE,
    group_name="quality",
    deps=[key for assets in staged_assets for key in assets.keys],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"parquet", "python"},
    tags={"layer": "quality"},
    check_specs=[
        dg.AssetCheckSpec(
            SOURCES_ANSWERED_CHECK,
            asset=COVERAGE_TABLE,
            description=(
                "No source answered 404 to every file of a day that was due and served none: "
                "that is a URL one folder too deep or naming no archive, not missing data."
            ),
        )
    ],
)
def dq_coverage(
    context: dg.AssetExecutionContext, treadmill: TreadmillConfig
) -> dg.MaterializeResult:
    """Coverage of every staged dataset, per exchange, symbol and day: `ok`, `partial`, `pending`
    (not in the archive yet, not yet due), `missing` (past due, or the download failed),
    `quarantined` (failed a quality gate) or `not_published` (outside the dataset's window),
    with expected and actual rows, duplicates dropped, the file's sha256 and label convention.

    `treadmill coverage` prints it as a per-day status strip.
    """
    # Which client asks where loads boto3: only when the step runs, not with the definitions.
    from transforms.silence import silent_lines

    settings = treadmill.settings()
    now = datetime.now(UTC)
    statuses: Counter[str] = Counter()
    problems: list[str] = []
    for key in context.partition_keys:
        day = date.fromisoformat(key)
        table = coverage_rows(settings, day, now)
        storage.publish_partition(table, settings.lake_root, COVERAGE_TABLE, day)
        for row in table.select(["exchange", "dataset", "symbol", "status", "detail"]).to_pylist():
            statuses[row["status"]] += 1
            if row["status"] in PROBLEM_STATUSES:
                problems.append(
                    f"{key} {row['exchange']} {row['dataset']} {row['symbol']} "
                    f"{row['status']}: {row['detail']}"
                )
    if problems:
        context.log.warning(f"{len(problems)} symbol-day(s) missing or quarantined")
    counts = status_counts(statuses.elements())
    metadata: dict[str, Any] = {
        "dagster/row_count": sum(counts.values()),
        "partitions_published": len(context.partition_keys),
        **{status: counts[status] for status in STATUSES},
        "problems": problems[:MAX_LISTED_PROBLEMS],
        "path": dg.MetadataValue.path(str(settings.lake_root / COVERAGE_TABLE)),
    }
    silent = silent_lines(
        settings, [date.fromisoformat(key) for key in context.partition_keys], now
    )
    answered = dg.AssetCheckResult(
        check_name=SOURCES_ANSWERED_CHECK,
        passed=not silent,
        # Not blocking: the catalog and reports still describe what the run did publish.
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"failures": silent},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[answered])

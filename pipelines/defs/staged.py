"""Staged tables: one asset per exchange dataset, landing the archive's daily files as Parquet."""

from collections import Counter
from datetime import date
from typing import Any

import dagster as dg

from pipelines.defs.partitions import daily_partitions
from pipelines.defs.resources import TreadmillConfig
from transforms.dataset import Dataset
from transforms.manifests import StagedPartition, SymbolDay
from transforms.quality import PARSE_CHECKS, STRUCTURAL_CHECKS, check_names
from transforms.sources import DATASETS

SOURCE_FILES_CHECK = "source_files_parse"
MAX_FILES_LISTED = 200
"""A run's metadata lists each source file's sha256 up to this many files (a daily run of 200
symbols); beyond, the manifests under ``<warehouse>/manifests/`` hold them."""

FETCH_RETRY = dg.RetryPolicy(
    max_retries=3,
    delay=60,
    backoff=dg.Backoff.EXPONENTIAL,
    jitter=dg.Jitter.PLUS_MINUS,
)
"""Step retries when the archive stays unreachable through every in-fetch retry.

Each download already retries 5xx, 429, timeouts and resets a few times within seconds; when a
file still fails that way, the whole step is tried again after about 1, 3 and 7 minutes (± 1
minute, so that retries of several steps spread out), re-using every file landed meanwhile."""


class ArchiveUnavailableError(Exception):
    """The archive kept failing for some files; the step's retry policy will try again."""


def build_staged_asset(
    dataset: Dataset, retry_policy: dg.RetryPolicy = FETCH_RETRY
) -> dg.AssetsDefinition:
    """The staged asset of one dataset: a thin wrapper over
    :func:`transforms.staging.stage_dataset`."""
    window = f"{dataset.available_from}…{dataset.available_until or 'today'}"
    description = (
        f"{dataset.description}\n\n"
        f"`{dataset.exchange}` `{dataset.name}`, {dataset.origin}, published for "
        f"{window}. One row per source row, exact duplicates dropped and counted. Each file is "
        "validated before publishing; a file that fails a gate is quarantined alone."
    )
    # A REST fallback fetches only the days its archive dataset did not serve: it runs after.
    primary = [
        d.table
        for d in DATASETS
        if d.exchange == dataset.exchange and d.name == dataset.fallback_for
    ]
    gates = [name for name in check_names(dataset) if name not in PARSE_CHECKS]

    @dg.asset(
        name=dataset.table,
        group_name=f"stg_{dataset.exchange}",
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=retry_policy,
        deps=primary,
        kinds={"parquet", "python"},
        description=description,
        tags={"layer": "staging", "exchange": dataset.exchange},
        check_specs=[
            dg.AssetCheckSpec(
                SOURCE_FILES_CHECK,
                asset=dataset.table,
                blocking=True,
                description="Every published source file downloaded, verified and parsed.",
            ),
            *(
                dg.AssetCheckSpec(
                    gate, asset=dataset.table, blocking=True, description=_gate_description(gate)
                )
                for gate in gates
            ),
        ],
    )
    def staged_asset(
        context: dg.AssetExecutionContext, treadmill: TreadmillConfig
    ) -> dg.MaterializeResult:
        # Staging runs Great Expectations (~8 s to import) and the clients boto3 (~0.3 s):
        # loaded by the step that fetches and validates data, never by loading the code
        # location (its definitions, the UI, every run worker's start).
        from transforms.clients import source_client
        from transforms.staging import stage_dataset

        settings = treadmill.settings()
        days = [date.fromisoformat(key) for key in context.partition_keys]
        with source_client(dataset, settings) as client:
            partitions = stage_dataset(dataset, days, settings, client)
        unreachable = [
            f"{partition.day} {record.symbol}: {record.error}"
            for partition in partitions
            for record in partition.symbols
            if record.status == "failed" and record.retryable
        ]
        if unreachable and context.retry_number < retry_policy.max_retries:
            # Everything else is published already; the retry re-uses it and fetches the rest.
            raise ArchiveUnavailableError(
                f"{len(unreachable)} file(s) unreachable, e.g. {unreachable[0]}; "
                f"retry {context.retry_number + 1} of {retry_policy.max_retries}"
            )
        for partition in partitions:
            for record in partition.symbols:
                if record.status in ("failed", "quarantined"):
                    context.log.error(
                        f"{partition.table} {partition.day} {record.symbol} {record.status}: "
                        f"{record.error or ', '.join(record.checks_failed)}"
                    )
        checks = [_source_files_check(partitions)] + [_gate_check(partitions, g) for g in gates]
        return dg.MaterializeResult(metadata=_metadata(partitions, len(days)), check_results=checks)

    return staged_asset


def _gate_description(gate: str) -> str:
    if gate in STRUCTURAL_CHECKS:
        return {
            "has_rows": "The file holds rows (empty and header-only files are quarantined).",
            "values_repaired": (
                "What parsing repaired or left out, counted (a warning): absent values written "
                "as 0.0 read as null, off-grid rows dropped, corrupt hourly files or stream "
                "messages of an unknown shape skipped, each with an example."
            ),
            "timestamps_in_window": (
                "Every instant lies in the window the file may cover: its day (a metrics file may "
                "add the next day's 00:00 row), or its month for a monthly file."
            ),
            "no_unknown_columns": "No column beyond the documented layout (a warning only).",
            "archive_answered": (
                "The archive served the file; a warning names each day on which it failed and "
                "the copy landed earlier was used instead."
            ),
            "rows_on_grid": (
                "A full day of rows: 1440 minutes, 288 five-minute rows (a warning: a gap is "
                "real and shows as partial in coverage)."
            ),
        }[gate]
    return f"Great Expectations: {gate.replace('__', ' on ').replace('_', ' ')}."


def _check_result(
    check_name: str, partitions: list[StagedPartition], failing: list[tuple[date, SymbolDay, str]]
) -> dg.AssetCheckResult:
    """Pass when nothing failed; otherwise a WARN naming every quarantined symbol-day.

    The gate has already acted when this is reported: the failing symbol-days are quarantined
    and kept out of the partition, and facts skip them. Failing with ERROR would also stop every
    downstream asset (coverage and the catalog included) for every day of the run, so one bad
    day of a long backfill would hide the very quarantine that coverage should show.
    """
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=not failing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failed_symbol_days": len(failing),
            # Rejected: quarantined, or not downloaded at all. Either fails `materialize`.
            "rejected_symbol_days": sum(
                r.status in ("quarantined", "failed") for _, r, _ in failing
            ),
            "failures": [
                f"{day} {record.symbol}: {detail}" for day, record, detail in failing[:50]
            ],
        },
    )


def _source_files_check(partitions: list[StagedPartition]) -> dg.AssetCheckResult:
    failing = [
        (p.day, r, r.error or "")
        for p in partitions
        for r in p.symbols
        if r.status == "failed" or set(r.checks_failed) & set(PARSE_CHECKS)
    ]
    return _check_result(SOURCE_FILES_CHECK, partitions, failing)


def _gate_check(partitions: list[StagedPartition], gate: str) -> dg.AssetCheckResult:
    failing = []
    for partition in partitions:
        for record in partition.symbols:
            for failure in record.report:
                if failure["check"] == gate:
                    observed = (
                        f"{failure['unexpected_count']} unexpected, e.g. {failure['sample'][:3]}"
                    )
                    failing.append((partition.day, record, f"{gate}: {observed}"))
    return _check_result(gate, partitions, failing)


def _metadata(partitions: list[StagedPartition], day_count: int) -> dict[str, Any]:
    published = [p for p in partitions if p.path is not None]
    statuses = Counter(s.status for p in partitions for s in p.symbols)
    sha256s = {s.source_file: s.sha256 for p in partitions for s in p.symbols if s.sha256}
    conventions = Counter(
        s.label_convention for p in partitions for s in p.symbols if s.label_convention
    )
    min_ts = min((p.min_ts for p in partitions if p.min_ts), default=None)
    max_ts = max((p.max_ts for p in partitions if p.max_ts), default=None)
    metadata: dict[str, Any] = {
        "dagster/row_count": sum(p.rows for p in partitions),
        "days": day_count,
        "partitions_published": len(published),
        "duplicates_dropped": sum(p.duplicates_dropped for p in partitions),
        "gate_seconds": round(sum(p.gate_seconds for p in partitions), 4),
        "files": dict(sorted(statuses.items())),
        # Every file's sha256 is in its partition's manifest. A range run's metadata is stored
        # once per partition, so listing a year of files here wrote it 365 times (2.3 GB of
        # event log for a 365-day × 20-symbol backfill).
        "sha256": dict(sorted(sha256s.items())) if len(sha256s) <= MAX_FILES_LISTED else {},
        "sha256_files": len(sha256s),
        "min_ts": min_ts.isoformat() if min_ts else "",
        "max_ts": max_ts.isoformat() if max_ts else "",
    }
    if published:
        metadata["path"] = dg.MetadataValue.path(str(published[-1].path))
    if conventions:
        metadata["label_conventions"] = dict(conventions)
    return metadata


staged_assets = [build_staged_asset(dataset) for dataset in DATASETS]

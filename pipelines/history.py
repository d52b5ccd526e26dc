"""Dagster's own history kept honest and in proportion: abandoned runs failed, old runs pruned.

Both act on the instance under the warehouse and are called with the writer lock held, by
``treadmill materialize`` before and after its run, and by ``treadmill prune-history``.
"""

import os
import socket
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import sqlalchemy as db
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    SqlEventLogStorageTable,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)

from transforms import storage
from transforms.errors import ConfigError

KEEP_RUNS_VARIABLE = "TREADMILL_HISTORY_KEEP_RUNS"
DEFAULT_KEEP_RUNS = 3
"""How many of the newest finished runs are kept whole (run record, event log, compute logs)."""

UNFINISHED = (
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)
"""What a run queue counts as taking a slot, or what was never started by its process."""


WAREHOUSE_TAG = "treadmill/warehouse"
HOST_TAG = "treadmill/host"
PID_TAG = "treadmill/pid"
TRIMMED_TAG = "treadmill/trimmed"
"""On an old run kept for its latest materializations once :func:`prune_history` trimmed it."""


def in_process_run_tags(warehouse: Path) -> dict[str, str]:
    """Tags of a run ``treadmill`` executes in this process: which warehouse it writes, and the
    host and process executing it, so that a later start can tell whether it is still alive."""
    return {
        WAREHOUSE_TAG: str(warehouse),
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(os.getpid()),
    }


def fail_abandoned_runs(instance: dg.DagsterInstance, warehouse: Path) -> list[str]:
    """Mark FAILURE every unfinished run whose process is gone; their ids.

    Only ``warehouse``'s writer-lock holder may call this. A run ``treadmill`` executed in
    process carries its host and process id (:func:`in_process_run_tags`): on this host it is
    failed when that process no longer exists; from another host, when it wrote this warehouse
    (whose lock it would hold, were it alive). A run launched by the daemon may be alive and
    waiting for the lock: it is failed only when the process Dagster recorded for it ("Started
    process for run (pid: N)") no longer exists. Runs stuck STARTING or CANCELING without a
    process are the daemon's run monitoring's (``run_monitoring`` in ``dagster.yaml``); runs of
    other warehouses sharing ``$DAGSTER_HOME`` are left to their own writers.
    """
    failed = []
    host = socket.gethostname()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=list(UNFINISHED))):
        if run.remote_job_origin is None:
            pid = run.tags.get(PID_TAG, "")
            if run.tags.get(HOST_TAG) == host and pid.isdigit():
                if _process_exists(int(pid)):
                    continue
            elif run.tags.get(WAREHOUSE_TAG) != str(warehouse):
                continue
            reason = "its process ended without finishing it (killed or crashed)"
        else:
            worker = _run_worker_pid(instance, run.run_id)
            if worker is None or _process_exists(worker):
                continue
            reason = f"its run worker (pid {worker}) is gone"
        instance.report_run_failed(
            run, message=f"Marked failed by treadmill at the next start: {reason}."
        )
        failed.append(run.run_id)
    return failed


def _run_worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        data = event.engine_event_data if event is not None else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None and str(pid.value).isdigit():
            return int(str(pid.value))
    return None


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True


def keep_runs_from_env() -> int:
    """``$TREADMILL_HISTORY_KEEP_RUNS``, else :data:`DEFAULT_KEEP_RUNS`; a value that is not a
    whole number ≥ 0 is refused by name."""
    text = os.environ.get(KEEP_RUNS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_KEEP_RUNS
    if not text.isdigit():
        raise ConfigError(f"{KEEP_RUNS_VARIABLE}={text!r} is not a whole number of runs (≥ 0)")
    return int(text)


@dataclass
class PrunedHistory:
    """What :func:`prune_history` removed."""

    deleted_runs: list[str] = field(default_factory=list)
    """Runs deleted whole: record, event log and compute logs."""
    trimmed_runs: list[str] = field(default_factory=list)
    """Old runs kept for the latest materialization they hold; their compute logs were
    deleted."""


def prune_history(instance: dg.DagsterInstance, keep_runs: int) -> PrunedHistory:
    """Keep the ``keep_runs`` newest finished runs whole; of older finished runs, delete each
    whose every materialization has a newer one, and the compute logs of the rest.

    An older run that still holds the latest materialization of some asset partition is kept
    (its record and events), so that the UI's partition status and asset history, which are
    read from those events, stay complete. Unfinished runs are never touched.
    """
    pruned = PrunedHistory()
    finished = [run for run in instance.get_runs() if run.is_finished]  # newest first
    old = finished[keep_runs:]
    if not old:
        return pruned
    holders = _runs_holding_latest_materializations(instance)
    events = instance.event_log_storage
    for run in old:
        instance.compute_log_manager.delete_logs(prefix=[run.run_id])
        if run.run_id in holders:
            if TRIMMED_TAG not in run.tags:
                pruned.trimmed_runs.append(run.run_id)
            continue
        instance.delete_run(run.run_id)
        if isinstance(events, SqliteEventLogStorage):
            # Deleting a run empties its event-log shard; the emptied file is removed too.
            shard = Path(events.path_for_shard(run.run_id))
            for path in (shard, *(shard.with_name(shard.name + end) for end in ("-wal", "-shm"))):
                if storage.exists(path):
                    storage.delete(path)
        pruned.deleted_runs.append(run.run_id)
    if isinstance(events, SqliteEventLogStorage):
        for run_id in pruned.trimmed_runs:
            _keep_materializations_only(events, run_id)
            instance.add_run_tags(run_id, {TRIMMED_TAG: "true"})
        dropped = _drop_superseded_checks(
            events, instance.get_run_ids(), [run.run_id for run in old]
        )
        if dropped or pruned.deleted_runs:
            _compact(Path(events.path_for_shard(INDEX_SHARD_NAME)))
    return pruned


def _keep_materializations_only(events: SqliteEventLogStorage, run_id: str) -> None:
    """Of an old run kept for the latest materializations it holds, keep those events alone in
    its own log (its steps, logs and check evaluations go: the checks' latest results are in
    the index), so that every daily run a schedule leaves behind shrinks to what the UI's
    partition status reads."""
    with events.run_connection(run_id) as connection:
        connection.execute(
            SqlEventLogStorageTable.delete().where(
                SqlEventLogStorageTable.c.dagster_event_type
                != dg.DagsterEventType.ASSET_MATERIALIZATION.value
            )
        )
    _compact(Path(events.path_for_shard(run_id)))


def _drop_superseded_checks(
    events: SqliteEventLogStorage, existing: Sequence[str], old: Sequence[str]
) -> int:
    """Drop the asset check executions of deleted runs (Dagster's ``delete_run`` leaves them,
    and they are the index's largest table) and those of ``old`` runs that a later execution
    of the same check and partition superseded, with the check events no execution refers to
    any more: the index then holds each check's latest result per partition, plus the full
    history of the runs kept whole. The number of rows deleted."""
    checks = AssetCheckExecutionsTable
    latest = (
        db.select(db.func.max(checks.c.id))
        .group_by(checks.c.asset_key, checks.c.check_name, checks.c.partition)
        .scalar_subquery()
    )
    referenced = db.select(checks.c.evaluation_event_storage_id).where(
        checks.c.evaluation_event_storage_id.is_not(None)
    )
    check_events = (
        dg.DagsterEventType.ASSET_CHECK_EVALUATION.value,
        dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value,
    )
    with events.index_connection() as connection:
        deleted = connection.execute(checks.delete().where(checks.c.run_id.not_in(existing)))
        superseded = connection.execute(
            checks.delete().where(checks.c.run_id.in_(old), checks.c.id.not_in(latest))
        )
        unreferenced = connection.execute(
            SqlEventLogStorageTable.delete().where(
                SqlEventLogStorageTable.c.run_id.in_(old),
                SqlEventLogStorageTable.c.dagster_event_type.in_(check_events),
                SqlEventLogStorageTable.c.id.not_in(referenced),
            )
        )
    return int(deleted.rowcount + superseded.rowcount + unreferenced.rowcount)


def _compact(database: Path) -> None:
    """Give the space of deleted rows back to the disk (SQLite would only reuse it); skipped
    while a reader (the UI, the daemon) keeps the database busy beyond a few seconds."""
    try:
        with closing(sqlite3.connect(database, timeout=5)) as connection:
            connection.execute("VACUUM")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise


def _runs_holding_latest_materializations(instance: dg.DagsterInstance) -> set[str]:
    """Ids of the runs that made the latest materialization of some asset or asset partition."""
    holders: set[str] = set()
    for record in instance.get_asset_records():
        key = record.asset_entry.asset_key
        latest = record.asset_entry.last_materialization_record
        if latest is not None:
            holders.add(latest.run_id)
        storage_ids = sorted(
            instance.event_log_storage.get_latest_storage_id_by_partition(
                key, dg.DagsterEventType.ASSET_MATERIALIZATION
            ).values()
        )
        for start in range(0, len(storage_ids), 500):
            chunk = storage_ids[start : start + 500]
            found = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, storage_ids=chunk), limit=len(chunk)
            )
            holders.update(event.run_id for event in found.records)
    return holders

"""Dagster's own history, kept in proportion for the runs the daemon launches."""

import dagster as dg

from pipelines.history import keep_runs_from_env, prune_history

HISTORY_SENSOR = "history_retention_sensor"


@dg.run_status_sensor(
    name=HISTORY_SENSOR,
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitor_all_code_locations=True,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "After each successful run (the schedule's, the late-data sensor's, one launched from "
        "the UI), prunes Dagster's history as `treadmill materialize` does after its own: the "
        "newest $TREADMILL_HISTORY_KEEP_RUNS finished runs (default 3) are kept whole; an older "
        "run is deleted once every partition it materialised was materialised again, or else "
        "trimmed to its materializations. Housekeeping only: it launches nothing, so it runs "
        "from the start."
    ),
)
def history_retention_sensor(context: dg.RunStatusSensorContext) -> dg.SkipReason:
    pruned = prune_history(context.instance, keep_runs_from_env())
    return dg.SkipReason(
        f"after run {context.dagster_run.run_id}: deleted {len(pruned.deleted_runs)} run(s), "
        f"trimmed {len(pruned.trimmed_runs)}"
    )

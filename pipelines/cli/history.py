"""``treadmill prune-history``: shrink Dagster's run history to a number of recent runs."""

from typing import Annotated

import typer

from pipelines.cli.common import (
    WarehouseOption,
    console,
    error_exit,
    load_settings,
    require_warehouse,
)
from transforms.errors import ConfigError


def prune_history(
    keep_runs: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Finished runs kept whole, newest first. Default: "
            "$TREADMILL_HISTORY_KEEP_RUNS, else 10.",
        ),
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Delete old runs from Dagster's history (run records, event logs, compute logs).

    The newest KEEP_RUNS finished runs are kept whole. An older run is deleted unless it holds
    the latest materialization of some asset partition (the UI's partition status reads it);
    then only its compute logs are deleted. Runs a dead process left unfinished are first
    marked failed. ``materialize`` does both around every run.
    """
    from pipelines.history import fail_abandoned_runs, keep_runs_from_env
    from pipelines.history import prune_history as prune
    from pipelines.runner import open_instance
    from transforms.lock import writer_lock

    settings = load_settings(warehouse, None)
    # Taking the writer lock would make the folder: a typo must not become a warehouse.
    require_warehouse(settings)
    try:
        keep = keep_runs if keep_runs is not None else keep_runs_from_env()
    except ConfigError as exc:
        raise error_exit("configuration error", exc, 2) from exc
    with (
        writer_lock(
            settings.warehouse,
            on_wait=lambda message: console.print(f"[yellow]{message}[/yellow]"),
        ),
        open_instance(settings) as instance,
    ):
        for run_id in fail_abandoned_runs(instance, settings.warehouse):
            console.print(f"marked failed: run {run_id}, left unfinished by a process that is gone")
        pruned = prune(instance, keep)
    console.print(
        f"deleted {len(pruned.deleted_runs)} run(s); trimmed {len(pruned.trimmed_runs)} older "
        f"run(s) that hold a latest materialization to those events; kept the "
        f"newest {keep} finished run(s) whole"
    )

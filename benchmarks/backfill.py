"""Section 3: a year of 20 symbols as one single-run backfill, beside one run per partition.

The archive (USDⓈ-M only, ending 2024-03-31) is simulated first and its speed reported (an
archive simulated before with the same settings is re-used). One untimed run of the first day
warms the machine up (bytecode, file cache). Then ``treadmill materialize --start … --end …``
runs in a child process over the whole range, as a user would run it, into a fresh warehouse:
wall time, CPU time and the child's peak RSS (its own ``VmHWM``, polled).

"One run per partition" is the same command once per day, each a fresh process (what Dagster's
multi-run backfill does with its default launcher), into another fresh warehouse, starting from
the range's first day. Running all 365 takes hours, so by default a contiguous sample of the
first days is run and the year is extrapolated from its mean; the report labels it so.

The single-run warehouse is kept for the queries of section 4.
"""

import os
import shutil
import statistics
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import (
    TREADMILL,
    ProcessRun,
    disk_free_gib,
    run_process,
    simulate_um,
    symbols,
    um_universe,
)

END = date(2024, 3, 31)
MIB_PER_SYMBOL_DAY = 0.8
"""Disk a symbol-day needs: the archive (~0.24 MiB), its landed copy and the lake, rounded up."""


def materialize(
    warehouse: Path, mirror: Path, names: tuple[str, ...], first: date, last: date
) -> ProcessRun:
    """``treadmill materialize`` over ``first..last`` in a child process, its own instance.

    The child may write bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped): a process that
    compiles Dagster, pandas and Great Expectations from source on every start measures the
    compiler, not the warehouse.
    """
    dropped = {"DAGSTER_HOME", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["TREADMILL_BINANCE_URL"] = mirror.as_uri() + "/"
    return run_process(
        [
            str(TREADMILL),
            "materialize",
            "--start",
            first.isoformat(),
            "--end",
            last.isoformat(),
            "--universe",
            um_universe(names),
            "--warehouse",
            str(warehouse),
        ],
        env=env,
    )


def size_gib(root: Path) -> float:
    return round(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1024**3, 2)


def run(day_count: int, count: int, per_partition_days: int, work: Path) -> dict[str, Any]:
    """The single-run backfill and the per-partition runs; returns the kept warehouse too."""
    names = symbols(count)
    start = END - timedelta(days=day_count - 1)
    needed = day_count * count * MIB_PER_SYMBOL_DAY / 1024
    work.mkdir(parents=True, exist_ok=True)
    free = disk_free_gib(work)
    if free < needed + 1:
        raise RuntimeError(f"{needed:.1f} GiB of disk needed under {work}, {free:.1f} GiB free")
    mirror = work / "mirror"
    simulate_seconds = simulate_um(mirror, names, start, END)
    print(f"backfill archive simulated in {simulate_seconds} s (None: re-used)", flush=True)

    # Warehouses start empty: one kept by an earlier run with the same --work has every day
    # built already, and a resumed materialize would skip them all.
    for stale in ("warehouse-warm-up", "warehouse-single-run", "warehouse-run-per-partition"):
        shutil.rmtree(work / stale, ignore_errors=True)
    # A first, untimed run of one day writes the bytecode the timed processes then load.
    materialize(work / "warehouse-warm-up", mirror, names, start, start)
    shutil.rmtree(work / "warehouse-warm-up")
    single_warehouse = work / "warehouse-single-run"
    single = materialize(single_warehouse, mirror, names, start, END)
    print(f"single-run backfill: {single.seconds:.0f} s", flush=True)

    sample = min(per_partition_days, day_count)
    per_warehouse = work / "warehouse-run-per-partition"
    runs = [
        materialize(per_warehouse, mirror, names, day, day)
        for day in (start + timedelta(days=offset) for offset in range(sample))
    ]
    shutil.rmtree(per_warehouse)
    per_run = [r.seconds for r in runs]
    return {
        "symbols": count,
        "days": day_count,
        "start": start.isoformat(),
        "end": END.isoformat(),
        "archive": {
            "simulate_s": round(simulate_seconds, 1) if simulate_seconds else None,
            "symbol_days_per_s": (
                round(count * day_count / simulate_seconds, 2) if simulate_seconds else None
            ),
            "gib": size_gib(mirror / "data"),
        },
        "single_run": {
            "wall_s": round(single.seconds, 1),
            "cpu_s": round(single.cpu_seconds, 1),
            "peak_rss_mib": round(single.peak_rss_mib),
            "symbol_days_per_s": round(count * day_count / single.seconds, 2),
            "lake_gib": size_gib(single_warehouse / "lake"),
        },
        "run_per_partition": {
            "days_run": sample,
            "extrapolated": sample < day_count,
            "runs_s": [round(s, 1) for s in per_run],
            "mean_s": round(statistics.mean(per_run), 2),
            "mean_cpu_s": round(statistics.mean(r.cpu_seconds for r in runs), 2),
            "peak_rss_mib": round(max(r.peak_rss_mib for r in runs)),
            "wall_s_for_range": round(statistics.mean(per_run) * day_count, 1),
        },
        "warehouse": str(single_warehouse),
    }

"""Section 2: the cost of materialising one more day as the history grows; it must stay flat.

The real daily job (``materialize_range``, the code behind ``treadmill materialize``) runs in
process against a temporary warehouse with its own Dagster instance, on the demo's Binance
universe (3 USDⓈ-M and 1 COIN-M perpetual, 3 spot pairs: every archive dataset; the REST venues'
cost is the ``venues`` section's). The history is built
once, in order: day 1, then up to 30, 180 and 365 days published; after each, the next
``samples`` days are materialised one run each and timed (the median is reported). So "history
N" means N to N + samples − 1 days already published.

The simulated year ends on 2024-03-31, the last day of USDⓈ-M liquidation snapshots; they
start on 2023-06-25, so the early samples have no liquidation files to ingest and the late ones
do. The comparison is therefore conservative: the later days do a little more work.
"""

import itertools
import shutil
import statistics
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from benchmarks.common import simulate, timed
from pipelines.cli.demo import DEMO_ARCHIVE_UNIVERSE
from pipelines.runner import RunSummary, materialize_range, open_instance
from simulator.run import SimConfig
from transforms.settings import Settings, parse_universe

END = date(2024, 3, 31)


def gate_seconds(settings: Settings, run_id: str) -> float:
    """The staged assets' gate seconds in one run, from their materialisation metadata."""
    total = 0.0
    with open_instance(settings) as instance:
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            materialization = entry.asset_materialization
            value = materialization.metadata.get("gate_seconds") if materialization else None
            if value is not None:
                total += float(value.value)  # type: ignore[arg-type]
    return total


def materialize(settings: Settings, first: date, last: date) -> tuple[float, float, RunSummary]:
    """Run the daily job over ``first..last``: wall and CPU seconds. A failed run is an error."""
    seconds, cpu_seconds, summary = timed(lambda: materialize_range(settings, first, last))
    if not summary.ok:
        problems = summary.step_failures + summary.failed_checks
        raise RuntimeError(f"materialize {first}…{last} failed: {problems[:5]}")
    return seconds, cpu_seconds, summary


def run(histories: list[int], samples: int, work: Path) -> dict[str, Any]:
    """Time ``samples`` single-day runs after each history length in ``histories``."""
    histories = sorted(histories)
    for shorter, longer in itertools.pairwise(histories):
        if longer < shorter + samples:
            raise ValueError(f"history {longer} is within the samples taken after {shorter}")
    total = histories[-1] + samples
    start = END - timedelta(days=total - 1)
    mirror = work / "mirror"
    simulate_seconds = simulate(SimConfig(out=mirror, start=start, end=END))
    # The history is built here: one kept by an earlier run with the same --work would make
    # every history the longest.
    shutil.rmtree(work / "warehouse", ignore_errors=True)
    settings = Settings(
        warehouse=work / "warehouse",
        binance_url=mirror.as_uri() + "/",
        universe=parse_universe(DEMO_ARCHIVE_UNIVERSE),
    )
    built = 0
    build_seconds = 0.0
    rows: list[dict[str, Any]] = []
    for history in histories:
        if history > built:
            seconds, _, _ = materialize(
                settings, start + timedelta(days=built), start + timedelta(days=history - 1)
            )
            build_seconds += seconds
            built = history
        timings, cpu, gates = [], [], []
        for _ in range(samples):
            day = start + timedelta(days=built)
            seconds, cpu_seconds, summary = materialize(settings, day, day)
            timings.append(seconds)
            cpu.append(cpu_seconds)
            gates.append(gate_seconds(settings, summary.run_id))
            built += 1
        rows.append(
            {
                "history_days": history,
                "first_day_timed": (start + timedelta(days=history)).isoformat(),
                "samples_s": [round(t, 3) for t in timings],
                "median_s": round(statistics.median(timings), 3),
                "median_cpu_s": round(statistics.median(cpu), 3),
                "gate_s": round(statistics.median(gates), 3),
                "gate_share": round(
                    statistics.median(g / t for g, t in zip(gates, timings, strict=True)), 3
                ),
            }
        )
        print(f"incremental after {history} days: {rows[-1]['median_s']} s", flush=True)
    return {
        "universe": DEMO_ARCHIVE_UNIVERSE,
        "start": start.isoformat(),
        "end": END.isoformat(),
        "samples": samples,
        "simulate_s": round(simulate_seconds, 1) if simulate_seconds else None,
        "history_build_s": round(build_seconds, 1),
        "rows": rows,
        "ratio_last_to_first": round(rows[-1]["median_s"] / rows[0]["median_s"], 3),
        "cpu_ratio_last_to_first": round(rows[-1]["median_cpu_s"] / rows[0]["median_cpu_s"], 3),
    }

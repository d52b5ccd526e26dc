"""The quality gates' share of staging time, excluding Great Expectations' one-time import.

Simulates ``--symbols`` USDⓈ-M symbols for ``--days`` days, warms GX up (import and a first
validation), then stages every UM dataset twice on fresh warehouses: the whole stage (fetch,
parse, gate, publish) and, on the same parsed files, the gates alone.
Writes ``benchmarks/results/gates.{md,json}``.
"""

import json
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from benchmarks.ingest import RESULTS, SYMBOLS
from benchmarks.machine import describe
from simulator.run import SimConfig, simulate_archive
from transforms.fetch import ArchiveClient
from transforms.settings import Settings, parse_universe
from transforms.sources import DATASETS
from transforms.staging import _fetch_and_parse, _gate, stage_dataset, wanted_files

START = date(2024, 2, 1)


def main(
    symbols: Annotated[int, typer.Option(help="USDⓈ-M symbols.")] = 20,
    days: Annotated[int, typer.Option(help="Days per staging call (one run).")] = 1,
) -> None:
    """Measure the gates' share of staging time per dataset."""
    work = Path(tempfile.mkdtemp(prefix="treadmill-gates-bench-"))
    names = tuple(SYMBOLS[:symbols])
    day_list = [START + timedelta(days=d) for d in range(days)]
    simulate_archive(
        SimConfig(
            out=work / "mirror",
            start=START,
            end=day_list[-1],
            symbols=names,
            coin_margined=(),
            spot=(),
        )
    )
    rows = []
    for round_ in ("warm-up", "measured"):
        for ds in [d for d in DATASETS if d.exchange == "binance_um"]:
            settings = Settings(
                warehouse=work / f"warehouse-{round_}-{ds.name}",
                binance_url=(work / "mirror").as_uri() + "/",
                universe=parse_universe(f"binance_um:{','.join(names)}"),
            )
            with ArchiveClient(settings.binance_url, settings.raw_root / ds.exchange) as client:
                began = time.perf_counter()
                stage_dataset(ds, day_list, settings, client)
                total = time.perf_counter() - began
                wanted = wanted_files(ds, day_list, names)
                files = _fetch_and_parse(ds, wanted, settings, client)
                began = time.perf_counter()
                _gate(ds, wanted, files)
                gates = time.perf_counter() - began
            if round_ == "measured":
                rows.append(
                    {
                        "dataset": ds.name,
                        "stage_s": round(total, 3),
                        "gates_s": round(gates, 3),
                        "share": round(gates / total, 3),
                    }
                )
                typer.echo(json.dumps(rows[-1]))
    total_stage = sum(r["stage_s"] for r in rows)
    total_gates = sum(r["gates_s"] for r in rows)
    run_seconds, run_gates = partition_run(work, names)
    summary = {
        "symbols": symbols,
        "days": days,
        "share_of_staging": round(total_gates / total_stage, 3),
        "partition_run_s": round(run_seconds, 3),
        "partition_gates_s": round(run_gates, 3),
        "share_of_partition_run": round(run_gates / run_seconds, 3),
    }
    typer.echo(json.dumps(summary))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "gates.json").write_text(
        json.dumps({"machine": describe(), "summary": summary, "results": rows}, indent=2) + "\n"
    )
    lines = ["| dataset | stage (s) | gates (s) | share |", "|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {r['stage_s']} | {r['gates_s']} | {r['share']} |" for r in rows]
    lines.append(
        f"| **all staging** | {total_stage:.3f} | {total_gates:.3f} | "
        f"{summary['share_of_staging']} |"
    )
    lines.append(
        f"| **whole daily partition run** (Dagster: staging, facts, checks, coverage, catalog) "
        f"| {run_seconds:.3f} | {run_gates:.3f} | {summary['share_of_partition_run']} |"
    )
    (RESULTS / "gates.md").write_text(
        f"# Gate overhead ({symbols} symbols × {days} day(s))\n\n" + "\n".join(lines) + "\n"
    )
    typer.echo("\n".join(lines))


def partition_run(work: Path, names: tuple[str, ...]) -> tuple[float, float]:
    """Wall time of one day's run of the daily job, and the gates' seconds inside it.

    The first of two simulated days warms the process up (GX import, first validations); the
    second is measured.
    """
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.defs.jobs import DAILY_JOB
    from pipelines.runner import RANGE_END_TAG, RANGE_START_TAG

    mirror = work / "partition-mirror"
    second = START + timedelta(days=1)
    simulate_archive(
        SimConfig(out=mirror, start=START, end=second, symbols=names, coin_margined=(), spot=())
    )
    job = defs().resolve_job_def(DAILY_JOB)
    config = {
        "warehouse": str(work / "partition-warehouse"),
        "binance_url": mirror.as_uri() + "/",
        "universe": f"binance_um:{','.join(names)}",
    }
    measured = (0.0, 0.0)
    for day in (START, second):
        began = time.perf_counter()
        result = job.execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            tags={RANGE_START_TAG: day.isoformat(), RANGE_END_TAG: day.isoformat()},
            run_config={
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                "resources": {"treadmill": {"config": config}},
            },
        )
        seconds = time.perf_counter() - began
        gates = sum(
            float(event.materialization.metadata["gate_seconds"].value)  # type: ignore[arg-type]
            for event in result.get_asset_materialization_events()
            if "gate_seconds" in event.materialization.metadata
        )
        measured = (seconds, gates)
    return measured


if __name__ == "__main__":
    typer.run(main)

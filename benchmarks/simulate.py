"""Simulator throughput: a year of 1-minute data for 20 USDⓈ-M symbols, on all cores.

Writes ``benchmarks/results/simulate.{md,json}``. Run: ``.venv/bin/python -m benchmarks.simulate``
(takes a few minutes and ~3 GB of disk under a temporary directory).
"""

import json
import resource
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from benchmarks.ingest import RESULTS, SYMBOLS
from benchmarks.machine import describe
from simulator.run import SimConfig, simulate_archive


def main(
    symbols: Annotated[int, typer.Option(help="USDⓈ-M symbols.")] = 20,
    start: Annotated[str, typer.Option(help="First day.")] = "2023-04-01",
    end: Annotated[str, typer.Option(help="Last day.")] = "2024-03-31",
    workers: Annotated[int, typer.Option(help="Processes.")] = 2,
    keep: Annotated[Path | None, typer.Option(help="Keep the archive here.")] = None,
) -> None:
    """Time the simulator on a year of data."""
    out = keep or Path(tempfile.mkdtemp(prefix="treadmill-sim-bench-"))
    config = SimConfig(
        out=out,
        start=date.fromisoformat(start),
        end=date.fromisoformat(end),
        symbols=tuple(SYMBOLS[:symbols]),
        coin_margined=(),
        spot=(),
        workers=workers,
    )
    began = time.perf_counter()
    summary = simulate_archive(config)
    seconds = time.perf_counter() - began
    size = sum(p.stat().st_size for p in (out / "data").rglob("*") if p.is_file())
    peak_child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {
        "symbols": symbols,
        "days": config.days,
        "workers": workers,
        "seconds": round(seconds, 1),
        "symbol_days_per_s": round(symbols * config.days / seconds, 2),
        "files": summary.files,
        "archive_gib": round(size / 1024**3, 2),
        "liquidations": summary.liquidations,
        "peak_worker_rss_mib": round(peak_child_mib),
    }
    if keep is None:
        shutil.rmtree(out)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "simulate.json").write_text(
        json.dumps({"machine": describe(), "result": result}, indent=2) + "\n"
    )
    (RESULTS / "simulate.md").write_text(
        "# Simulator benchmark\n\n"
        + "| "
        + " | ".join(result)
        + " |\n"
        + "|"
        + "---|" * len(result)
        + "\n"
        + "| "
        + " | ".join(str(v) for v in result.values())
        + " |\n"
    )
    typer.echo(json.dumps(result))


if __name__ == "__main__":
    typer.run(main)

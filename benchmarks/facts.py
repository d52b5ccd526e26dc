"""Fact-build cost of one day early and late in the demo's history: it must not grow.

Builds the demo warehouse (60 simulated days) unless ``--warehouse`` points at one, then times
each fact model's build and publish for the first and the last day, median of ``--repeat`` runs.
Writes ``benchmarks/results/facts.{md,json}``.
"""

import json
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from benchmarks.ingest import RESULTS
from benchmarks.machine import describe
from pipelines.cli import DEMO_START, DEMO_UNIVERSE
from pipelines.runner import materialize_range
from simulator.run import SimConfig, simulate_archive
from transforms.facts import FACT_MODELS, build_fact
from transforms.publish import publish_partition
from transforms.settings import Settings, parse_universe

DAYS = 60


def main(
    warehouse: Annotated[Path | None, typer.Option(help="An existing demo warehouse.")] = None,
    repeat: Annotated[int, typer.Option(help="Timed repetitions per day.")] = 5,
) -> None:
    """Time the fact build of day 1 and day 60."""
    last = DEMO_START + timedelta(days=DAYS - 1)
    if warehouse is None:
        warehouse = Path(tempfile.mkdtemp(prefix="treadmill-facts-bench-"))
        simulate_archive(SimConfig(out=warehouse / "mirror", start=DEMO_START, end=last))
        settings = Settings(
            warehouse=warehouse,
            binance_url=(warehouse / "mirror").as_uri() + "/",
            universe=parse_universe(DEMO_UNIVERSE),
        )
        assert materialize_range(settings, DEMO_START, last).ok
    lake = warehouse / "lake"
    rows = []
    for model in FACT_MODELS:
        timings = {}
        for label, day in (("day_1", DEMO_START), ("day_60", last)):
            samples = []
            for _ in range(repeat + 1):
                began = time.perf_counter()
                publish_partition(build_fact(model, day, lake), lake, model.name, day)
                samples.append(time.perf_counter() - began)
            timings[label] = statistics.median(samples[1:])
        rows.append(
            {
                "model": model.name,
                "day_1_s": round(timings["day_1"], 4),
                "day_60_s": round(timings["day_60"], 4),
                "ratio": round(timings["day_60"] / timings["day_1"], 2),
            }
        )
        typer.echo(json.dumps(rows[-1]))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "facts.json").write_text(
        json.dumps({"machine": describe(), "results": rows}, indent=2) + "\n"
    )
    lines = ["| model | day 1 (s) | day 60 (s) | ratio |", "|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['day_1_s']} | {r['day_60_s']} | {r['ratio']} |" for r in rows]
    (RESULTS / "facts.md").write_text("# Fact build, day 1 vs day 60\n\n" + "\n".join(lines) + "\n")
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)

"""``python -m benchmarks``: run the benchmark sections and write the report.

Sections: ``ingest`` (1, with the ingest half of 5), ``incremental`` (2, with the daily run's
half of 5), ``backfill`` (3), ``queries`` (4, on the backfill's warehouse) and ``venues`` (6: REST
paging under the venues' rate limits, and a daily run with every venue against Binance alone)
``hyperliquid`` (7: its fills staged beside LZ4 decompression alone), ``recorder`` (8: a
million stream messages through the recorder, rate and memory) and ``report`` (9: a one-day
daily run for 20 coins with its report step, and a year's report of one coin).
Results go to ``benchmarks/results/benchmarks.{json,md}``; sections not run keep their previous
results.
"""

import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from benchmarks import (
    backfill,
    hyperliquid,
    incremental,
    ingest,
    queries,
    recorder,
    report,
    reporting,
    venues,
)
from benchmarks.common import load_average
from benchmarks.machine import describe

SECTIONS = (
    "ingest",
    "incremental",
    "backfill",
    "queries",
    "venues",
    "hyperliquid",
    "recorder",
    "report",
)


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(
    sections: Annotated[
        str, typer.Option(help=f"Comma-separated, from {', '.join(SECTIONS)}.")
    ] = ",".join(SECTIONS),
    quick: Annotated[
        bool, typer.Option(help="A smoke run at small sizes (overrides the sizes below).")
    ] = False,
    symbols: Annotated[str, typer.Option(help="Ingest: symbol counts.")] = "1,20,100",
    ingest_days: Annotated[int, typer.Option(help="Ingest: days per symbol count.")] = 3,
    histories: Annotated[
        str, typer.Option(help="Incremental: days of history before the timed days.")
    ] = "1,30,180,365",
    samples: Annotated[int, typer.Option(help="Incremental: days timed per history.")] = 3,
    backfill_days: Annotated[int, typer.Option(help="Backfill: days in the range.")] = 365,
    backfill_symbols: Annotated[int, typer.Option(help="Backfill: USDⓈ-M symbols.")] = 20,
    per_partition_days: Annotated[
        int, typer.Option(help="Backfill: days run one run each (the rest is extrapolated).")
    ] = 14,
    repeat: Annotated[int, typer.Option(help="Queries: timed runs after the cold one.")] = 5,
    venue_months: Annotated[int, typer.Option(help="Venues: months paged per symbol.")] = 1,
    venue_coins: Annotated[int, typer.Option(help="Venues: coins (BTC, ETH), 1 or 2.")] = 2,
    venue_history: Annotated[
        int, typer.Option(help="Venues: days built before the timed daily run.")
    ] = 3,
    fills_days: Annotated[int, typer.Option(help="Hyperliquid: days of fills.")] = 7,
    fills_coins: Annotated[int, typer.Option(help="Hyperliquid: coins (BTC, ETH, SOL).")] = 3,
    recorded_messages: Annotated[
        int, typer.Option(help="Recorder: messages replayed through it.")
    ] = 1_000_000,
    report_symbols: Annotated[
        int, typer.Option(help="Report: USDⓈ-M perpetuals (coins) in the timed daily run.")
    ] = 20,
    report_built_days: Annotated[
        int, typer.Option(help="Report: days built through the daily job, then tiled.")
    ] = 7,
    report_history: Annotated[
        int, typer.Option(help="Report: days of history before the timed daily run.")
    ] = 29,
    report_year_days: Annotated[
        int, typer.Option(help="Report: days of the long report (a year).")
    ] = 365,
    warehouse: Annotated[
        Path | None,
        typer.Option(help="Queries: an existing warehouse (default: the backfill's)."),
    ] = None,
    work: Annotated[
        Path | None, typer.Option(help="Scratch directory (default: a new temporary one).")
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep the scratch directory.")] = False,
    note: Annotated[
        str | None,
        typer.Option(help="A note on the sections run now (e.g. that the machine was shared)."),
    ] = None,
) -> None:
    """Run the chosen benchmark sections; write benchmarks/results/benchmarks.{json,md}."""
    chosen = [s.strip() for s in sections.split(",") if s.strip()]
    if not chosen:
        raise typer.BadParameter(f"name at least one section of {SECTIONS}")
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        raise typer.BadParameter(f"unknown section(s) {sorted(unknown)}; known: {SECTIONS}")
    if quick:
        symbols, ingest_days, histories, samples = "1,5", 1, "1,3", 2
        backfill_days, backfill_symbols, per_partition_days, repeat = 7, 3, 2, 2
        venue_coins, venue_history = 1, 1
        fills_days, fills_coins, recorded_messages = 2, 1, 50_000
        report_symbols, report_built_days, report_history, report_year_days = 3, 2, 6, 90
    if "queries" in chosen and "backfill" not in chosen and warehouse is None:
        raise typer.BadParameter("queries need --warehouse, or the backfill section with them")
    scratch = work or Path(tempfile.mkdtemp(prefix="treadmill-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        for section in (s for s in SECTIONS if s in chosen):
            typer.echo(f"== {section}")
            before, began = load_average(), time.perf_counter()
            if section == "ingest":
                outcome = ingest.run(_numbers(symbols), ingest_days, scratch)
            elif section == "incremental":
                outcome = incremental.run(_numbers(histories), samples, scratch / "incremental")
            elif section == "backfill":
                outcome = backfill.run(
                    backfill_days, backfill_symbols, per_partition_days, scratch / "backfill"
                )
                warehouse = warehouse or Path(outcome["warehouse"])
            elif section == "recorder":
                outcome = recorder.run(recorded_messages, scratch / "recorder")
            elif section == "hyperliquid":
                outcome = hyperliquid.run(fills_days, fills_coins, scratch / "hyperliquid")
            elif section == "venues":
                outcome = venues.run(venue_months, venue_coins, venue_history, scratch / "venues")
            elif section == "report":
                outcome = reporting.run(
                    report_symbols,
                    report_built_days,
                    report_history,
                    report_year_days,
                    scratch / "report",
                )
            else:
                assert warehouse is not None
                outcome = queries.run(warehouse, repeat)
            outcome |= _context(before, began) | {"note": note}
            json_path, markdown_path = report.write_section(section, outcome)
        typer.echo(f"wrote {json_path} and {markdown_path}")
        typer.echo(markdown_path.read_text())
    finally:
        if not keep and work is None:
            shutil.rmtree(scratch, ignore_errors=True)


def _context(before: tuple[float, float, float], began: float) -> dict[str, Any]:
    return {
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - began, 1),
        "load_average_before": before,
        "load_average_after": load_average(),
        "machine": describe(),
    }


if __name__ == "__main__":
    typer.run(main)

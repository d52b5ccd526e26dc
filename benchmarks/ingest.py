"""Ingest and simulator throughput, beside the parse-only floor.

For 1 and 20 USDⓈ-M symbols over a few simulated days it measures:

- the simulator: symbol-days of archive generated per second;
- ingest: fetch from ``file://`` (read + sha256 + land), parse, publish every UM dataset, with
  the same thread pool the assets use; and each stage alone, to say where the time goes;
- the floor: ``pyarrow.csv.read_csv`` of the same CSVs, already unzipped, one after another.

Writes ``benchmarks/results/ingest.{md,json}``. Run: ``make bench`` or
``.venv/bin/python -m benchmarks.ingest``.
"""

import io
import json
import shutil
import tempfile
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import pyarrow.csv as pacsv
import typer

from benchmarks.machine import describe
from simulator.run import SimConfig, simulate_archive
from transforms.fetch import ArchiveClient, Landed
from transforms.parse import parse_zip
from transforms.publish import publish_partition
from transforms.settings import Settings, parse_universe
from transforms.sources import DATASETS, Cadence
from transforms.staging import stage_dataset

RESULTS = Path(__file__).parent / "results"
SYMBOLS = [
    "BTCUSDT",
    "ETHUSDT",
    "SOLUSDT",
    "BNBUSDT",
    "XRPUSDT",
    "DOGEUSDT",
    "ADAUSDT",
    "AVAXUSDT",
    "LINKUSDT",
    "DOTUSDT",
    "LTCUSDT",
    "TRXUSDT",
    "BCHUSDT",
    "NEARUSDT",
    "APTUSDT",
    "ARBUSDT",
    "OPUSDT",
    "SUIUSDT",
    "FILUSDT",
    "ATOMUSDT",
]
START = date(2024, 2, 1)


def measure(symbols: int, days: int, work: Path) -> dict[str, float]:
    names = tuple(SYMBOLS[:symbols])
    mirror = work / "mirror"
    began = time.perf_counter()
    simulate_archive(
        SimConfig(
            out=mirror,
            start=START,
            end=START + timedelta(days=days - 1),
            symbols=names,
            coin_margined=(),
            spot=(),
        )
    )
    simulate_seconds = time.perf_counter() - began
    day_list = [START + timedelta(days=d) for d in range(days)]
    um = [d for d in DATASETS if d.exchange == "binance_um"]
    settings = Settings(
        warehouse=work / "warehouse",
        binance_url=mirror.as_uri() + "/",
        universe=parse_universe(f"binance_um:{','.join(names)}"),
    )

    began = time.perf_counter()
    for ds in um:
        with ArchiveClient(settings.binance_url, settings.raw_root / ds.exchange) as client:
            stage_dataset(ds, day_list, settings, client)
    ingest_seconds = time.perf_counter() - began

    relpaths = sorted(
        {
            (ds, symbol, ds.archive_path(symbol, day))
            for ds in um
            for symbol in names
            for day in day_list
            if ds.is_available(day) and (mirror / ds.archive_path(symbol, day)).exists()
        },
        key=lambda item: item[2],
    )
    # Stage by stage, sequentially, on a fresh raw tree: where the time goes.
    shutil.rmtree(settings.raw_root)
    client = ArchiveClient(settings.binance_url, settings.raw_root / "binance_um")
    began = time.perf_counter()
    landed = {path: client.fetch(path) for _, _, path in relpaths}
    fetch_seconds = time.perf_counter() - began
    began = time.perf_counter()
    parsed = []
    for ds, symbol, path in relpaths:
        outcome = landed[path]
        assert isinstance(outcome, Landed)
        period = START.replace(day=1) if ds.cadence is Cadence.MONTHLY else START
        parsed.append(parse_zip(ds, symbol, outcome.path, path, period).table)
    parse_seconds = time.perf_counter() - began
    began = time.perf_counter()
    for index, table in enumerate(parsed):
        publish_partition(table, work / "publish-only", f"stg_t{index % 7}", START)
    publish_seconds = time.perf_counter() - began

    unzipped = work / "unzipped"
    unzipped.mkdir()
    csvs = []
    for _, _, path in relpaths:
        with zipfile.ZipFile(mirror / path) as archive:
            name = archive.namelist()[0]
            target = unzipped / name
            target.write_bytes(archive.read(name))
            csvs.append(target)
    began = time.perf_counter()
    for csv in csvs:
        pacsv.read_csv(io.BytesIO(csv.read_bytes()))
    floor_seconds = time.perf_counter() - began

    symbol_days = symbols * days
    return {
        "symbols": symbols,
        "days": days,
        "files": len(relpaths),
        "simulate_symbol_days_per_s": symbol_days / simulate_seconds,
        "ingest_s_per_symbol_day": ingest_seconds / symbol_days,
        "floor_s_per_symbol_day": floor_seconds / symbol_days,
        "ratio_to_floor": ingest_seconds / floor_seconds,
        "fetch_s_per_symbol_day": fetch_seconds / symbol_days,
        "parse_s_per_symbol_day": parse_seconds / symbol_days,
        "publish_s_per_symbol_day": publish_seconds / symbol_days,
    }


def main(
    days: Annotated[int, typer.Option(help="Simulated days per run.")] = 5,
    symbol_counts: Annotated[str, typer.Option(help="Comma-separated symbol counts.")] = "1,20",
) -> None:
    """Measure ingest throughput against the parse-only floor."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="treadmill-warmup-") as work:
        began = time.perf_counter()
        measure(1, 1, Path(work))
        warmup_seconds = time.perf_counter() - began
    typer.echo(f"warm-up (first use of the libraries and pools): {warmup_seconds:.2f}s")
    for count in (int(c) for c in symbol_counts.split(",")):
        with tempfile.TemporaryDirectory(prefix="treadmill-bench-") as work:
            rows.append(measure(count, days, Path(work)))
            typer.echo(json.dumps(rows[-1]))
    RESULTS.mkdir(exist_ok=True)
    report = {"machine": describe(), "warmup_s": warmup_seconds, "results": rows}
    (RESULTS / "ingest.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# Ingest benchmark",
        "",
        f"Machine: {report['machine']}",
        "",
        f"One-time warm-up of a fresh process (excluded below): {warmup_seconds:.2f} s.",
        "",
        "| symbols | days | files | ingest s/symbol-day | floor s/symbol-day | ratio "
        "| fetch | parse | publish (sequential, s/symbol-day) | simulator symbol-days/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['symbols']} | {r['days']} | {r['files']} | {r['ingest_s_per_symbol_day']:.4f} "
        f"| {r['floor_s_per_symbol_day']:.4f} | {r['ratio_to_floor']:.2f} "
        f"| {r['fetch_s_per_symbol_day']:.4f} | {r['parse_s_per_symbol_day']:.4f} "
        f"| {r['publish_s_per_symbol_day']:.4f} | {r['simulate_symbol_days_per_s']:.1f} |"
        for r in rows
    ]
    (RESULTS / "ingest.md").write_text("\n".join(lines) + "\n")
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)

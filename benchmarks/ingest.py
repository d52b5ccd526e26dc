"""Sections 1 and 5: ingest throughput beside two baselines, and the gates' share of it.

For each symbol count, a simulated USDⓈ-M archive of a few days is ingested three ways:

- **treadmill**: every UM dataset staged with ``stage_dataset``: fetch from ``file://`` (read,
  sha256 against the ``.CHECKSUM``, land atomically: the mirror shares the warehouse's
  filesystem, so as hard links), parse the bytes read, the structural gates and the Great
  Expectations suite, publish (zstd Parquet, fsync) and the manifest. Twice, into fresh
  warehouses: day by day as the daily job stages (one call per dataset and day), and the range
  at once as a backfill stages it (one call per dataset; files go in batches of 1000);
- **naive pandas**: what a straightforward script does with the same zips, one file after
  another: ``pandas.read_csv`` of the zip and ``to_parquet``; no checksum, no validation;
- **parse-only floor**: ``pyarrow.csv.read_csv`` of the same CSVs, unzipped beforehand, one
  after another.

Each treadmill stage is clocked by wrapping its function (summed over the two fetch-and-parse
workers, so stages can add up to more than the wall time). The gates' share (section 5) is the
gate seconds each staged partition reports, over the wall time. A warm-up run of one symbol-day
comes first and is reported apart: it pays Great Expectations' one-time import (~8 s).
"""

import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.csv as pacsv

from benchmarks.common import UM_DATASETS, simulate_um, symbols, timed, um_settings
from transforms import staging, storage
from transforms.fetch import ArchiveClient

START = date(2024, 2, 1)
"""Inside every UM dataset's window, liquidation snapshots included."""

STAGES: dict[str, tuple[Any, str]] = {
    "fetch": (ArchiveClient, "fetch"),
    "parse": (staging, "parse_zip"),
    "structural gates": (staging, "structural_failures"),
    "great expectations": (staging, "expectation_failures"),
    "publish": (storage, "publish_partition"),
    "manifest": (staging, "write_manifest"),
}
"""The functions ``stage_dataset`` spends its time in, by the stage they are."""


@contextmanager
def stage_clock() -> Iterator[dict[str, float]]:
    """Seconds spent inside each stage's function while the block runs, summed over threads."""
    totals = dict.fromkeys(STAGES, 0.0)
    lock = threading.Lock()
    originals = {label: getattr(owner, name) for label, (owner, name) in STAGES.items()}

    def clocked(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                with lock:
                    totals[label] += time.perf_counter() - began

        return wrapper

    for label, (owner, name) in STAGES.items():
        setattr(owner, name, clocked(label, originals[label]))
    try:
        yield totals
    finally:
        for label, (owner, name) in STAGES.items():
            setattr(owner, name, originals[label])


def treadmill_ingest(
    mirror: Path, names: tuple[str, ...], calls: list[list[date]], warehouse: Path
) -> dict[str, Any]:
    """Stage every UM dataset for each list of days in ``calls``; fail unless all is ok."""
    settings = um_settings(warehouse, mirror, names)
    per_dataset = {ds.name: {"seconds": 0.0, "gate_seconds": 0.0} for ds in UM_DATASETS}
    statuses: dict[str, int] = {}
    with stage_clock() as stages:
        began, cpu = time.perf_counter(), time.process_time()
        for days in calls:
            for ds in UM_DATASETS:
                started = time.perf_counter()
                with ArchiveClient(
                    settings.binance_url, settings.raw_root / ds.exchange, settings.limits
                ) as client:
                    partitions = staging.stage_dataset(ds, days, settings, client)
                per_dataset[ds.name]["seconds"] += time.perf_counter() - started
                per_dataset[ds.name]["gate_seconds"] += sum(p.gate_seconds for p in partitions)
                for record in (r for p in partitions for r in p.symbols):
                    statuses[record.status] = statuses.get(record.status, 0) + 1
        seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - cpu
    if set(statuses) != {"ok"}:
        raise RuntimeError(f"the ingest benchmark expects every file to publish; got {statuses}")
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "gate_seconds": sum(d["gate_seconds"] for d in per_dataset.values()),
        "partitions": sum(len(days) for days in calls) * len(UM_DATASETS),
        "stages": dict(stages),
        "per_dataset": per_dataset,
    }


def naive_pandas(zips: list[Path], out: Path) -> tuple[float, float]:
    """A straightforward script: each zip read with pandas and written as Parquet, in turn.

    Returns wall and CPU seconds."""
    out.mkdir(parents=True, exist_ok=True)

    def script() -> None:
        for path in zips:
            frame = pd.read_csv(path)  # the zip's one CSV; pandas infers the compression
            frame.to_parquet(out / f"{path.stem}.parquet")

    seconds, cpu_seconds, _ = timed(script)
    return seconds, cpu_seconds


def parse_floor(zips: list[Path], out: Path) -> tuple[float, float]:
    """``pyarrow.csv.read_csv`` of each CSV, unzipped beforehand (not timed), in turn.

    Returns wall and CPU seconds."""
    out.mkdir(parents=True, exist_ok=True)
    csvs = []
    for path in zips:
        with zipfile.ZipFile(path) as archive:
            (member,) = archive.namelist()
            target = out / member
            target.write_bytes(archive.read(member))
            csvs.append(target)
    seconds, cpu_seconds, _ = timed(lambda: [pacsv.read_csv(csv) for csv in csvs])
    return seconds, cpu_seconds


def measure(count: int, day_count: int, work: Path) -> dict[str, Any]:
    """Every way of ingesting ``count`` symbols × ``day_count`` days, on one simulated archive."""
    names = symbols(count)
    days = [START + timedelta(days=offset) for offset in range(day_count)]
    mirror = work / "mirror"
    simulate_um(mirror, names, days[0], days[-1])
    zips = sorted((mirror / "data").rglob("*.zip"))
    daily = treadmill_ingest(mirror, names, [[day] for day in days], work / "warehouse-daily")
    batch = treadmill_ingest(mirror, names, [days], work / "warehouse-range")
    # Each baseline's first file pays its library's first use; that file is read once untimed.
    naive_pandas(zips[:1], work / "warm-naive")
    parse_floor(zips[:1], work / "warm-floor")
    naive_seconds, naive_cpu = naive_pandas(zips, work / "naive")
    floor_seconds, floor_cpu = parse_floor(zips, work / "unzipped")
    symbol_days = count * day_count
    return {
        "symbols": count,
        "days": day_count,
        "symbol_days": symbol_days,
        "files": len(zips),
        "naive_pandas_s": round(naive_seconds, 3),
        "naive_pandas_cpu_s": round(naive_cpu, 3),
        "floor_s": round(floor_seconds, 3),
        "floor_cpu_s": round(floor_cpu, 3),
        "naive_pandas_symbol_days_per_s": round(symbol_days / naive_seconds, 2),
        "floor_symbol_days_per_s": round(symbol_days / floor_seconds, 2),
        "treadmill": {
            shape: _treadmill_row(
                result, symbol_days, (naive_seconds, naive_cpu), (floor_seconds, floor_cpu)
            )
            for shape, result in (("daily", daily), ("range", batch))
        },
    }


def _treadmill_row(
    result: dict[str, Any],
    symbol_days: int,
    naive: tuple[float, float],
    floor: tuple[float, float],
) -> dict[str, Any]:
    """One way of staging beside the baselines; ``naive`` and ``floor`` are (wall, CPU) s."""
    seconds, cpu_seconds = result["seconds"], result["cpu_seconds"]
    return {
        "seconds": round(seconds, 3),
        "cpu_s": round(cpu_seconds, 3),
        "symbol_days_per_s": round(symbol_days / seconds, 2),
        "speed_vs_naive_pandas": round(naive[0] / seconds, 2),
        "time_vs_floor": round(seconds / floor[0], 2),
        "cpu_vs_naive_pandas": round(cpu_seconds / naive[1], 2),
        "cpu_vs_floor": round(cpu_seconds / floor[1], 2),
        "partitions": result["partitions"],
        "seconds_per_partition": round(seconds / result["partitions"], 4),
        "gate_s": round(result["gate_seconds"], 3),
        "gate_share": round(result["gate_seconds"] / seconds, 3),
        "stages_s": {k: round(v, 3) for k, v in result["stages"].items()},
        "per_dataset": {
            name: {k: round(v, 3) for k, v in values.items()}
            for name, values in result["per_dataset"].items()
        },
    }


def fixed_cost(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Seconds per daily partition as fixed + per-symbol, from the smallest and largest count."""
    if len(rows) < 2:
        return None
    low, high = rows[0], rows[-1]
    low_s, high_s = (r["treadmill"]["daily"]["seconds_per_partition"] for r in (low, high))
    slope = (high_s - low_s) / (high["symbols"] - low["symbols"])
    fixed = low_s - slope * low["symbols"]
    return {
        "from_symbols": [low["symbols"], high["symbols"]],
        "fixed_s_per_partition": round(fixed, 4),
        "s_per_symbol_file": round(slope, 5),
    }


def run(counts: list[int], day_count: int, work: Path) -> dict[str, Any]:
    """Section 1 (and the ingest half of section 5) for each symbol count."""
    warm_work = work / "warm-up"
    simulate_um(warm_work / "mirror", symbols(1), START, START)
    warm = treadmill_ingest(warm_work / "mirror", symbols(1), [[START]], warm_work / "warehouse")
    shutil.rmtree(warm_work)
    rows = []
    for count in counts:
        count_work = work / f"ingest-{count}"
        rows.append(measure(count, day_count, count_work))
        shutil.rmtree(count_work)
        print(f"ingest {count} symbols: {rows[-1]['treadmill']['daily']['seconds']} s", flush=True)
    return {
        "start": START.isoformat(),
        "days": day_count,
        "warm_up_s": round(warm["seconds"], 2),
        "rows": rows,
        "fixed_cost": fixed_cost(rows),
    }

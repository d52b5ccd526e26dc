"""Section 9: what the reports cost: a one-day daily run for 20 coins, and a year's report.

(a) **The daily run.** The real daily job (``materialize_range``, in process, as the
``incremental`` section runs it) materialises one more day (2024-03-31) for 20 USDⓈ-M
perpetuals once the warehouse holds a month of history: the ``report`` asset then draws each
coin's report over the 30 days ending on that day. Timed: the whole run (wall and CPU seconds)
and the ``report`` step alone (its start to its end in Dagster's step statistics).

(b) **A year's report.** ``build_report`` for BTCUSDT over the 365 days ending on 2024-03-31,
from a lake holding BTCUSDT, BTCUSD_PERP, spot BTCUSDT, the quarterlies and CME's weekly
Commitments of Traders, as ``treadmill report --start … --end …`` writes it. Timed: wall and
CPU seconds; beside it, the same range's data read alone (``load_report_data``), and what each
chart drew.

**The history is tiled.** Building a month of 20 coins, or a year of one, through the daily job
takes far longer than the section should (a year: over an hour on a shared 2-core machine). So
the job builds a week (``built_days``) from the simulator's archive, and that week's lake
partitions are copied backwards, every timestamp and date shifted by whole weeks, until the
lake reaches back ``history_days`` (a) or ``year_days`` (b) days: every day then has the rows,
files and shapes of a real one (the same week's values repeat). In (a) every table is tiled,
since the day's facts and features read earlier days; in (b) the tables the report reads.

The prepared warehouses are kept under ``--work`` and re-used when their settings match, so a
second run (another checkout, say) times the same inputs; each timed run works on a fresh copy.
Reports are switched off while the history is built (``TREADMILL_REPORT_COINS=none``; code
without that setting draws them and it makes no difference to the lake).
"""

import json
import resource
import shutil
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.common import load_average, simulate, simulate_um, symbols, timed, um_universe
from pipelines.runner import materialize_range, open_instance
from simulator.run import SimConfig
from transforms.publish import PARTITION_FILE, partition_dir
from transforms.report.build import build_report
from transforms.report.data import REPORT_INPUTS, ReportRequest, load_report_data
from transforms.settings import REPORTS_FOLDER, Settings, parse_universe

END = date(2024, 3, 31)
"""The timed day, and the year's last: the last day of Binance's USDⓈ-M liquidation snapshots."""
YEAR_SYMBOL = "BTCUSDT"
YEAR_UNIVERSE = "binance_um:BTCUSDT;binance_cm:BTCUSD_PERP;binance_spot:BTCUSDT;cftc:133741,133742"
REPORT_STEP = "report"
T = TypeVar("T")


def _measured(function: Callable[[], T]) -> tuple[dict[str, Any], T]:
    """Wall seconds, CPU seconds of this process and of the child processes it waited for
    (reports render their PNGs in worker processes), and the load around one call."""
    before = load_average()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, cpu_seconds, result = timed(function)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_seconds = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return {
        "wall_s": round(seconds, 1),
        "cpu_s": round(cpu_seconds + child_seconds, 1),
        "child_cpu_s": round(child_seconds, 1),
        "load_before": before,
        "load_after": load_average(),
    }, result


def _partition_day(directory: Path) -> date | None:
    name = directory.name
    return date.fromisoformat(name.removeprefix("date=")) if name.startswith("date=") else None


def _shifted(table: pa.Table, offset: timedelta) -> pa.Table:
    """``table`` with every timestamp and date moved ``offset`` earlier."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            column = pc.subtract(column, pa.scalar(offset, pa.duration(field.type.unit)))
        elif pa.types.is_date(field.type):
            instants = pc.subtract(
                column.cast(pa.timestamp("s")), pa.scalar(offset, pa.duration("s"))
            )
            column = instants.cast(field.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)


def tile_lake(lake: Path, first: date, built: tuple[date, date], tables: set[str] | None) -> int:
    """Fill ``first`` up to the day before ``built``'s first with copies of ``built``'s days.

    A day ``n`` weeks (whole multiples of the built span) before a built day gets that day's
    partition with every timestamp and date ``n`` spans earlier. Only ``tables`` (every table
    when ``None``). Returns the partitions written.
    """
    start, stop = built
    span = (stop - start).days + 1
    written = 0
    for table_dir in sorted(p for p in lake.iterdir() if p.is_dir()):
        if tables is not None and table_dir.name not in tables:
            continue
        sources = {
            day: path / PARTITION_FILE
            for path in table_dir.iterdir()
            if (day := _partition_day(path)) is not None
            and start <= day <= stop
            and (path / PARTITION_FILE).exists()
        }
        for source_day, source in sorted(sources.items()):
            table = pq.read_table(source)
            target_day = source_day - timedelta(days=span)
            while target_day >= first:
                target = partition_dir(lake, table_dir.name, target_day) / PARTITION_FILE
                target.parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(_shifted(table, source_day - target_day), target)
                written += 1
                target_day -= timedelta(days=span)
    return written


def _prepared(
    directory: Path, wanted: dict[str, Any], prepare: Callable[[Path], dict[str, Any]]
) -> dict[str, Any]:
    """``directory`` as ``prepare`` leaves it, re-used when prepared before with ``wanted``."""
    wanted = json.loads(json.dumps(wanted, default=str))
    marker = directory / "prepared.json"
    if marker.exists() and json.loads(marker.read_text()).get("wanted") == wanted:
        return {**json.loads(marker.read_text())["facts"], "reused": True}
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    facts = prepare(directory)
    marker.write_text(json.dumps({"wanted": wanted, "facts": facts}))
    return {**facts, "reused": False}


def _build(settings: Settings, first: date, last: date) -> float:
    """The daily job over ``first..last`` without reports; its seconds."""
    seconds, _, summary = timed(lambda: materialize_range(settings, first, last, report_coins=()))
    if not summary.ok:
        raise RuntimeError(f"building {first}…{last} failed: {summary.step_failures[:5]}")
    return seconds


def _warm_up() -> None:
    """Load the job's definitions and start vl-convert's JavaScript engine, untimed."""
    import vl_convert

    from pipelines.definitions import defs

    defs()
    spec = {"data": {"values": [{"x": 1}]}, "mark": "point", "encoding": {"x": {"field": "x"}}}
    vl_convert.vegalite_to_png(spec)


def _report_step(settings: Settings, run_id: str) -> tuple[float, int]:
    """The ``report`` step's seconds in the run, and how many reports it wrote."""
    with open_instance(settings) as instance:
        (stats,) = instance.get_run_step_stats(run_id, step_keys=[REPORT_STEP])
        written = 0
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
            materialization = entry.asset_materialization
            if materialization and materialization.asset_key == dg.AssetKey(REPORT_STEP):
                value = materialization.metadata.get("reports_written")
                if value is not None:
                    written = int(value.value)  # type: ignore[arg-type]
    assert stats.start_time is not None
    assert stats.end_time is not None
    return stats.end_time - stats.start_time, written


def daily_run(coins: int, built_days: int, history_days: int, work: Path) -> dict[str, Any]:
    """(a): one more day of ``coins`` perpetuals after ``history_days`` days of history."""
    names = symbols(coins)
    built = (END - timedelta(days=built_days), END - timedelta(days=1))
    first = END - timedelta(days=history_days)
    mirror = work / "mirror"
    universe = um_universe(names)

    def prepare(directory: Path) -> dict[str, Any]:
        simulate_seconds = simulate_um(mirror, names, built[0], END)
        settings = Settings(
            directory / "warehouse", mirror.as_uri() + "/", parse_universe(universe)
        )
        build_seconds = _build(settings, *built)
        tiled = tile_lake(settings.lake_root, first, built, None)
        return {"simulate_s": simulate_seconds, "build_s": round(build_seconds, 1), "tiled": tiled}

    wanted = {"universe": universe, "built": built, "first": first, "mirror": str(mirror)}
    facts = _prepared(work / "prepared", wanted, prepare)
    timed_root = work / "timed"
    shutil.rmtree(timed_root, ignore_errors=True)
    shutil.copytree(work / "prepared" / "warehouse", timed_root)
    settings = Settings(timed_root, mirror.as_uri() + "/", parse_universe(universe))
    _warm_up()
    measured, summary = _measured(lambda: materialize_range(settings, END, END))
    if not summary.ok:
        raise RuntimeError(f"the daily run of {END} failed: {summary.step_failures[:5]}")
    report_seconds, written = _report_step(settings, summary.run_id)
    print(f"daily run of {coins} coins: {measured['wall_s']} s, report step {report_seconds:.1f} s")
    return {
        "coins": coins,
        "day": END.isoformat(),
        "history_days": history_days,
        "built_days": built_days,
        "report_days": history_days + 1,
        **measured,
        "report_step_s": round(report_seconds, 1),
        "report_share": round(report_seconds / measured["wall_s"], 3),
        "reports_written": written,
        "prepared": facts,
    }


def year_report(built_days: int, year_days: int, work: Path) -> dict[str, Any]:
    """(b): BTCUSDT's report over the ``year_days`` days ending on :data:`END`."""
    built = (END - timedelta(days=built_days - 1), END)
    first = END - timedelta(days=year_days - 1)
    mirror = work / "mirror"

    def settings_at(root: Path) -> Settings:
        return Settings(
            root,
            mirror.as_uri() + "/",
            parse_universe(YEAR_UNIVERSE),
            cftc_url=(mirror / "cftc").as_uri() + "/",
        )

    def prepare(directory: Path) -> dict[str, Any]:
        simulate_seconds = simulate(
            SimConfig(
                out=mirror,
                start=built[0],
                end=END,
                symbols=(YEAR_SYMBOL,),
                coin_margined=("BTCUSD_PERP",),
                spot=(YEAR_SYMBOL,),
                venues=False,
                hyperliquid=False,
            )
        )
        settings = settings_at(directory / "warehouse")
        build_seconds = _build(settings, *built)
        tiled = tile_lake(settings.lake_root, first, built, set(REPORT_INPUTS))
        return {"simulate_s": simulate_seconds, "build_s": round(build_seconds, 1), "tiled": tiled}

    wanted = {"universe": YEAR_UNIVERSE, "built": built, "first": first, "mirror": str(mirror)}
    facts = _prepared(work / "prepared", wanted, prepare)
    lake = work / "prepared" / "warehouse" / "lake"
    out = work / REPORTS_FOLDER
    shutil.rmtree(out, ignore_errors=True)
    # Untimed: a one-day report starts the JavaScript engine and reads the files once.
    build_report(lake, ReportRequest("binance_um", YEAR_SYMBOL, END, END), out)
    request = ReportRequest("binance_um", YEAR_SYMBOL, first, END)
    load_seconds, _, _ = timed(lambda: load_report_data(lake, request))
    measured, report = _measured(lambda: build_report(lake, request, out))
    print(f"a {year_days}-day report: {measured['wall_s']} s (its data alone {load_seconds:.1f} s)")
    return {
        "symbol": YEAR_SYMBOL,
        "days": year_days,
        "first": first.isoformat(),
        "last": END.isoformat(),
        "built_days": built_days,
        **measured,
        "data_s": round(load_seconds, 1),
        "points": {chart.key: chart.points for chart in report.charts},
        "png_kib": round(sum(p.stat().st_size for p in report.files.pngs.values()) / 1024),
        "page_kib": round(report.files.html.stat().st_size / 1024),
        "prepared": facts,
    }


def run(
    coins: int, built_days: int, history_days: int, year_days: int, work: Path
) -> dict[str, Any]:
    """Both measurements; ``work`` keeps the prepared warehouses for the next run."""
    if history_days < built_days:
        raise ValueError(f"{history_days} days of history, fewer than the {built_days} built")
    began = time.perf_counter()
    daily = daily_run(coins, built_days, history_days, work / "daily")
    year = year_report(built_days, year_days, work / "year")
    return {"daily_run": daily, "year_report": year, "seconds": round(time.perf_counter() - began)}

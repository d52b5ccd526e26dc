"""The benchmark report: ``results/benchmarks.json`` and the same as Markdown tables.

Sections run separately keep the others' last results, so a long section need not be re-run
to refresh a short one; every section records when it ran and the machine's load around it.
"""

import json
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS

JSON_PATH = RESULTS / "benchmarks.json"
MARKDOWN_PATH = RESULTS / "benchmarks.md"

INGEST_SYMBOLS = 100
INCREMENTAL_RATIO = 1.3
BACKFILL = {"days": 365, "symbols": 20, "wall_s": 15 * 60, "peak_rss_mib": 4 * 1024}
QUERY_S = 1.0
SHAPES = {"daily": "day by day", "range": "the range in one call"}


def load() -> dict[str, Any]:
    if JSON_PATH.exists():
        report: dict[str, Any] = json.loads(JSON_PATH.read_text())
        return report
    return {"sections": {}}


def write_section(name: str, section: dict[str, Any]) -> tuple[Path, Path]:
    """Replace one section's results, keeping the others, and render the whole report again."""
    report = load()
    report["sections"][name] = section
    RESULTS.mkdir(exist_ok=True)
    JSON_PATH.write_text(json.dumps(report, indent=2) + "\n")
    MARKDOWN_PATH.write_text(render(report))
    return JSON_PATH, MARKDOWN_PATH


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _heading(title: str, section: dict[str, Any]) -> list[str]:
    return [title, "", _when(section), ""]


def _when(section: dict[str, Any]) -> str:
    before, after = (
        ", ".join(str(v) for v in section[key])
        for key in ("load_average_before", "load_average_after")
    )
    note = f" {section['note']}" if section.get("note") else ""
    return (
        f"_Ran {section['ran_at']} in {section['duration_s']:.0f} s; load average (1, 5, 15 min) "
        f"{before} before, {after} after, on {section['machine']['cores']} cores.{note}_"
    )


def targets(sections: dict[str, Any]) -> list[list[object]]:
    """Each of issue 9's targets beside what was measured at the sizes it names."""
    rows: list[list[object]] = []
    ingest = sections.get("ingest")
    at_size = [r for r in ingest["rows"] if r["symbols"] == INGEST_SYMBOLS] if ingest else []
    for row in at_size:
        for shape, label in SHAPES.items():
            measured = row["treadmill"][shape]
            rows.append(
                [
                    f"ingest, {INGEST_SYMBOLS} symbols, {label}: as fast as naive pandas",
                    f"{measured['speed_vs_naive_pandas']}× its speed",
                    _met(measured["speed_vs_naive_pandas"] >= 1),
                ]
            )
            rows.append(
                [
                    f"ingest, {INGEST_SYMBOLS} symbols, {label}: within 3× of the floor",
                    f"{measured['time_vs_floor']}× its time",
                    _met(measured["time_vs_floor"] <= 3),
                ]
            )
    incremental = sections.get("incremental")
    if incremental and incremental["rows"][-1]["history_days"] >= 365:
        ratio = incremental["ratio_last_to_first"]
        rows.append(
            [
                f"one more day after 365 days / after 1 day ≤ {INCREMENTAL_RATIO}",
                ratio,
                _met(ratio <= INCREMENTAL_RATIO),
            ]
        )
    backfill = sections.get("backfill")
    if backfill and (backfill["days"], backfill["symbols"]) == (
        BACKFILL["days"],
        BACKFILL["symbols"],
    ):
        single = backfill["single_run"]
        rows.append(
            [
                "365 × 20 backfill under 15 min",
                f"{single['wall_s'] / 60:.1f} min",
                _met(single["wall_s"] < BACKFILL["wall_s"]),
            ]
        )
        rows.append(
            [
                "365 × 20 backfill peak RSS under 4 GB",
                f"{single['peak_rss_mib']} MiB",
                _met(single["peak_rss_mib"] < BACKFILL["peak_rss_mib"]),
            ]
        )
    queries = sections.get("queries")
    if queries and backfill and backfill["days"] == BACKFILL["days"]:
        slowest = max(queries["rows"], key=lambda r: r["best_s"])
        rows.append(
            [
                "every query under 1 s",
                f"slowest {slowest['query']}: {slowest['best_s']} s (cold {slowest['cold_s']} s)",
                _met(slowest["best_s"] < QUERY_S),
            ]
        )
    return rows


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(report: dict[str, Any]) -> str:
    sections = report["sections"]
    lines = ["# treadmill benchmarks", ""]
    machine = next(iter(sections.values()))["machine"] if sections else None
    if machine:
        versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
        lines += [
            f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
            f"Python {machine['python']}, {machine['platform']}; {versions}.",
            "",
        ]
    rows = targets(sections)
    if rows:
        lines += ["## Targets", "", *_table(["target", "measured", ""], rows)]
    if "ingest" in sections:
        lines += _ingest(sections["ingest"])
    if "incremental" in sections:
        lines += _incremental(sections["incremental"])
    if "backfill" in sections:
        lines += _backfill(sections["backfill"])
    if "queries" in sections:
        lines += _queries(sections["queries"])
    if "ingest" in sections or "incremental" in sections:
        lines += _gates(sections.get("ingest"), sections.get("incremental"))
    if "venues" in sections:
        lines += _venues(sections["venues"])
    if "hyperliquid" in sections:
        lines += _hyperliquid(sections["hyperliquid"])
    if "recorder" in sections:
        lines += _recorder(sections["recorder"])
    if "report" in sections:
        lines += _reporting(sections["report"])
    return "\n".join(lines)


def _prepared(facts: dict[str, Any]) -> str:
    if facts.get("reused"):
        return "its warehouse re-used from an earlier run"
    return f"its warehouse built in {facts['build_s']} s, {facts['tiled']:,} partitions tiled"


def _loads(measured: dict[str, Any]) -> str:
    if "load_before" not in measured:
        return "not recorded"
    return f"{measured['load_before'][0]} → {measured['load_after'][0]}"


def _reporting(section: dict[str, Any]) -> list[str]:
    daily, year = section["daily_run"], section["year_report"]
    points = ", ".join(f"{key} {count:,}" for key, count in year["points"].items())
    return [
        *_heading("## 9. Reports", section),
        f"(a) The daily job for one more day ({daily['day']}) of {daily['coins']} USDⓈ-M "
        f"perpetuals after {daily['history_days']} days of history ({daily['built_days']} built "
        f"through the job, tiled back); each coin's report covers {daily['report_days']} days. "
        f"(b) {year['symbol']}'s report over {year['days']} days ({year['first']} … "
        f"{year['last']}; {year['built_days']} days built, tiled back), after a one-day report "
        "that warms the process up.",
        "",
        *_table(
            ["", "wall s", "CPU s (of child processes)", "of which", "load before → after"],
            [
                [
                    f"(a) daily run, {daily['coins']} coins",
                    daily["wall_s"],
                    f"{daily['cpu_s']} ({daily.get('child_cpu_s', 0)})",
                    f"report step {daily['report_step_s']} s ({daily['report_share']:.0%}), "
                    f"{daily['reports_written']} reports",
                    _loads(daily),
                ],
                [
                    f"(b) one report, {year['days']} days",
                    year["wall_s"],
                    f"{year['cpu_s']} ({year.get('child_cpu_s', 0)})",
                    f"its data read alone {year['data_s']} s",
                    _loads(year),
                ],
            ],
        ),
        f"(b) drew: {points} point(s); PNGs {year['png_kib']:,} KiB, page "
        f"{year['page_kib']:,} KiB. (a): {_prepared(daily['prepared'])}; (b): "
        f"{_prepared(year['prepared'])}.",
        "",
    ]


def _recorder(section: dict[str, Any]) -> list[str]:
    return [
        *_heading("## 8. Recorder", section),
        f"{section['messages']:,} messages from the simulator's WebSocket server (Binance, Bybit, "
        f"OKX) recorded in {section['seconds']} s: **{section['messages_per_second']:,} msg/s** "
        f"(per-second median {section['sustained_median_per_second']:,}, slowest "
        f"{section['sustained_min_per_second']:,}); the recorder used "
        f"{section['recorder_cpu_seconds']} CPU s ({section['recorder_messages_per_cpu_second']:,}"
        f" msg per CPU second). Memory: {section['rss_mib_max']} MiB at most, "
        f"{section['rss_mib_at_10_percent']} MiB after 10% of the run, "
        f"{section['rss_mib_last']} MiB at the end. Garbage {section['garbage']}, reconnects "
        f"{section['reconnects']}, gaps {section['gaps']}.",
        "",
    ]


def _hyperliquid(section: dict[str, Any]) -> list[str]:
    floor, staged, totals = section["floor"], section["treadmill"], section["liquidations"]
    return [
        *_heading("## 7. Hyperliquid fills", section),
        f"{section['days']} day(s) of {', '.join(section['coins'])}: {section['hour_files']} "
        f"hourly files, {section['lz4_mb']} MB of LZ4, {section['fills']:,} fills.",
        "",
        *_table(
            ["", "seconds", "fills/s", "MB of LZ4/s"],
            [
                [
                    "lz4 decompression alone",
                    floor["seconds"],
                    floor["fills_per_s"],
                    floor["mb_per_s"],
                ],
                [
                    "treadmill's parser (decompress, decode, one row per order)",
                    section["parse_only"]["seconds"],
                    section["parse_only"]["fills_per_s"],
                    section["parse_only"]["mb_per_s"],
                ],
                ["treadmill staging", staged["seconds"], staged["fills_per_s"], staged["mb_per_s"]],
            ],
        ),
        f"The parser takes {section['parse_only']['time_vs_floor']}× the floor's time; staging "
        f"day by day {staged['time_vs_floor']}× (its fixed cost per day dominates at this "
        "size). Liquidations staged "
        f"{totals['staged']:,} (${totals['staged_usd']:,.2f}) against the truth's "
        f"{totals['truth']:,} (${totals['truth_usd']:,.2f}): "
        f"{'equal' if totals['equal'] else '**different**'}.",
        "",
    ]


def _venues(section: dict[str, Any]) -> list[str]:
    daily = section["daily"]
    return [
        *_heading("## 6. REST venues", section),
        f"{section['months']} month(s) from {section['start']} of {', '.join(section['coins'])}"
        " on each endpoint, one chunk at a time, through the simulator's server enforcing the "
        "venues' documented limits; the client paces itself to its defaults.",
        "",
        *_table(
            [
                "staged table",
                "client pace",
                "chunks",
                "pages",
                "429s",
                "seconds",
                "pages/s",
                "s per symbol-month",
                "waiting share",
            ],
            [
                [
                    r["dataset"],
                    r["limit"],
                    r["chunks"],
                    r["pages"],
                    r["refused_429"],
                    r["seconds"],
                    r["pages_per_s"],
                    r["s_per_symbol_month"],
                    f"{r['waiting_share']:.0%}",
                ]
                for r in section["rows"]
            ],
        ),
        f"One more day ({daily['day']}, after {daily['history_days']} day(s)): every venue "
        f"{daily['all_venues']['wall_s']} s (CPU {daily['all_venues']['cpu_s']} s), Binance "
        f"alone {daily['binance_only']['wall_s']} s (CPU {daily['binance_only']['cpu_s']} s): "
        f"**{daily['ratio']}×**.",
        "",
    ]


def _ingest(section: dict[str, Any]) -> list[str]:
    rows = section["rows"]
    lines = [
        *_heading("## 1. Ingest", section),
        f"USDⓈ-M, every dataset, {section['days']} day(s) from {section['start']}. Treadmill "
        "stages them twice, into fresh warehouses: day by day (one call per dataset and day, "
        "as the daily job does) and the range in one call per dataset (as a backfill does). "
        "Throughput in symbol-days per second; the naive script and the floor read the same "
        "archive files, each once, in one thread. Speed and time compare wall seconds (the "
        "targets); the CPU columns compare CPU seconds (every thread), which a shared machine "
        "moves less.",
        "",
        *_table(
            [
                "symbols",
                "files",
                "treadmill",
                "symbol-days/s",
                "speed vs naive",
                "time vs floor",
                "CPU time vs naive",
                "CPU time vs floor",
            ],
            [
                [
                    r["symbols"],
                    r["files"],
                    label,
                    r["treadmill"][shape]["symbol_days_per_s"],
                    f"{r['treadmill'][shape]['speed_vs_naive_pandas']}×",
                    f"{r['treadmill'][shape]['time_vs_floor']}×",
                    f"{r['treadmill'][shape]['cpu_vs_naive_pandas']}×",
                    f"{r['treadmill'][shape]['cpu_vs_floor']}×",
                ]
                for r in rows
                for shape, label in SHAPES.items()
            ],
        ),
        *_table(
            ["symbols", "naive pandas symbol-days/s", "parse-only floor symbol-days/s"],
            [
                [
                    r["symbols"],
                    r["naive_pandas_symbol_days_per_s"],
                    r["floor_symbol_days_per_s"],
                ]
                for r in rows
            ],
        ),
        "Where treadmill's time goes: seconds inside each stage, summed over the two "
        "fetch-and-parse workers (so a row can add up to more than the wall time).",
        "",
    ]
    stages = list(rows[0]["treadmill"]["daily"]["stages_s"])
    lines += _table(
        ["symbols", "treadmill", "wall s", "CPU s", "per partition s", *stages],
        [
            [
                r["symbols"],
                label,
                measured["seconds"],
                measured["cpu_s"],
                measured["seconds_per_partition"],
            ]
            + [measured["stages_s"][s] for s in stages]
            for r in rows
            for shape, label in SHAPES.items()
            for measured in (r["treadmill"][shape],)
        ],
    )
    fixed = section.get("fixed_cost")
    if fixed:
        low, high = fixed["from_symbols"]
        lines += [
            f"Fixed cost per daily partition (one dataset-day), fitted between {low} and {high} "
            f"symbols: **{fixed['fixed_s_per_partition']} s**, plus "
            f"{fixed['s_per_symbol_file']} s per symbol's file.",
            "",
        ]
    lines += [f"One-time warm-up of a fresh process (excluded): {section['warm_up_s']} s.", ""]
    return lines


def _incremental(section: dict[str, Any]) -> list[str]:
    return [
        *_heading("## 2. Incremental cost", section),
        f"The daily job (`materialize_range`) for one more day, universe `{section['universe']}`, "
        f"history simulated from {section['start']} to {section['end']}; "
        f"median of {section['samples']} consecutive days.",
        "",
        *_table(
            ["history (days)", "first day timed", "runs (s)", "median s", "median CPU s"],
            [
                [
                    r["history_days"],
                    r["first_day_timed"],
                    r["samples_s"],
                    r["median_s"],
                    r["median_cpu_s"],
                ]
                for r in section["rows"]
            ],
        ),
        f"Last / first: **{section['ratio_last_to_first']}** (CPU: "
        f"{section['cpu_ratio_last_to_first']}). Building the history took "
        f"{section['history_build_s']} s; "
        + (
            f"simulating it {section['simulate_s']} s."
            if section["simulate_s"]
            else "its archive was re-used."
        ),
        "",
    ]


def _backfill(section: dict[str, Any]) -> list[str]:
    single, per = section["single_run"], section["run_per_partition"]
    archive = section["archive"]
    label = (
        f"mean of the first {per['days_run']} days × {section['days']} (**extrapolated**)"
        if per["extrapolated"]
        else f"all {per['days_run']} days"
    )
    return [
        *_heading("## 3. Backfill", section),
        f"{section['symbols']} USDⓈ-M symbols × {section['days']} days "
        f"({section['start']} … {section['end']}), `treadmill materialize` in a child process.",
        "",
        *_table(
            ["run", "wall", "CPU s", "peak RSS (MiB)", "symbol-days/s"],
            [
                [
                    "one single-run backfill",
                    f"{single['wall_s']} s ({single['wall_s'] / 60:.1f} min)",
                    single.get("cpu_s", "not measured"),
                    single["peak_rss_mib"],
                    single["symbol_days_per_s"],
                ],
                [
                    f"one run per partition ({label})",
                    f"{per['wall_s_for_range']} s ({per['wall_s_for_range'] / 60:.1f} min); "
                    f"{per['mean_s']} s per run",
                    f"{per.get('mean_cpu_s', 'not measured')} per run",
                    per["peak_rss_mib"],
                    round(section["symbols"] * section["days"] / per["wall_s_for_range"], 2),
                ],
            ],
        ),
        f"Archive: {archive['gib']} GiB, "
        + (
            f"simulated in {archive['simulate_s']} s ({archive['symbol_days_per_s']} symbol-days/s)"
            if archive["simulate_s"]
            else "re-used from an earlier run"
        )
        + f"; lake after the backfill: {single['lake_gib']} GiB.",
        "",
    ]


def _queries(section: dict[str, Any]) -> list[str]:
    return [
        *_heading("## 4. Queries", section),
        f"`benchmarks/queries/*.sql` on the catalog of the backfilled warehouse, read-only; "
        f"best and median of {section['repeat']} after a first (cold) run.",
        "",
        *_table(
            ["query", "rows", "cold s", "best s", "median s"],
            [
                [r["query"], r["rows"], r["cold_s"], r["best_s"], r["median_s"]]
                for r in section["rows"]
            ],
        ),
    ]


def _gates(ingest: dict[str, Any] | None, incremental: dict[str, Any] | None) -> list[str]:
    lines = [
        "## 5. Gate overhead",
        "",
        "Structural checks and the Great Expectations suite, as each staged partition clocks "
        "them (GX's one-time import excluded).",
        "",
    ]
    rows: list[list[object]] = []
    if ingest:
        rows += [
            [
                f"ingest, {r['symbols']} symbols, {label}",
                measured["seconds"],
                measured["gate_s"],
                measured["gate_share"],
            ]
            for r in ingest["rows"]
            for shape, label in SHAPES.items()
            for measured in (r["treadmill"][shape],)
        ]
    if incremental:
        rows += [
            [
                f"daily job run after {r['history_days']} days (everything: staging, facts, "
                "features, checks, catalog)",
                r["median_s"],
                r["gate_s"],
                r["gate_share"],
            ]
            for r in incremental["rows"]
        ]
    return [*lines, *_table(["of", "seconds", "gate seconds", "share"], rows)]

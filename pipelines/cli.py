"""``treadmill``: materialise the warehouse from the command line."""

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from transforms.errors import ConfigError
from transforms.settings import Settings, format_universe, parse_universe

if TYPE_CHECKING:
    from pipelines.progress import Progress
    from pipelines.runner import RunSummary
    from transforms.report.data import ReportRequest
    from transforms.resume import ResumePlan

DEMO_START = date(2024, 2, 1)
"""The demo's first day. Its 60 days end on 2024-03-31, the last day Binance published USDⓈ-M
liquidation snapshots, so every dataset of the archive exists for them."""
DEMO_ARCHIVE_UNIVERSE = (
    "binance_um:BTCUSDT,ETHUSDT,SOLUSDT;binance_cm:BTCUSD_PERP;binance_spot:BTCUSDT,ETHUSDT,SOLUSDT"
)
"""The demo's Binance archive instruments."""
DEMO_REST_UNIVERSE = (
    "bitmex:XBTUSD,ETHUSD,SOLUSD;bybit:BTCUSDT,ETHUSDT,SOLUSDT;"
    "okx:BTC-USDT-SWAP,ETH-USDT-SWAP,SOL-USDT-SWAP"
)
"""The same three coins on the venues read from REST history."""
DEMO_HYPERLIQUID_UNIVERSE = "hyperliquid:BTC,ETH,SOL"
"""The same coins on Hyperliquid, read from a mirror of its archive (its fills start in 2025, so
the demo's 2024 days have its funding, open interest and prices)."""
DEMO_CFTC_UNIVERSE = "cftc:133741,133742"
"""CME's Bitcoin and Micro Bitcoin futures in CFTC's Commitments of Traders, read from the
simulator's mirror of www.cftc.gov (``<mirror>/cftc/``)."""
DEMO_UNIVERSE = (
    f"{DEMO_ARCHIVE_UNIVERSE};{DEMO_REST_UNIVERSE};{DEMO_HYPERLIQUID_UNIVERSE};{DEMO_CFTC_UNIVERSE}"
)
DEMO_VENUE_LIMIT = (50, 1.0)
"""Requests per second the demo's local venue server allows each venue, and the pace the demo
keeps to: the simulated venues are local, so the demo need not wait out OKX's 5 per 2 s."""

app = typer.Typer(
    help="treadmill: a batch warehouse for crypto perpetual-futures positioning.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)


@app.callback()
def main() -> None:
    """Pull exchange dump files into a Parquet lake and build positioning tables."""


UniverseOption = Annotated[
    str | None,
    typer.Option(
        help="Symbols per exchange, e.g. 'binance_um:BTCUSDT,ETHUSDT;binance_cm:BTCUSD_PERP'. "
        "Default: $TREADMILL_UNIVERSE, else BTCUSDT, ETHUSDT, SOLUSDT (um and spot) "
        "and BTCUSD_PERP (cm).",
    ),
]
TrailingStartOption = Annotated[
    str | None,
    typer.Option(help="First UTC day, YYYY-MM-DD. Default: 29 days before --end."),
]
WarehouseOption = Annotated[
    str | None,
    typer.Option(help="Warehouse root. Default: $TREADMILL_WAREHOUSE or ./warehouse."),
]


def _settings(warehouse: str | None, universe: str | None) -> Settings:
    try:
        return Settings.from_env(warehouse=warehouse, universe=universe)
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


ReportCoinsOption = Annotated[
    str | None,
    typer.Option(
        help="Coins whose report the run draws, e.g. 'BTC,ETH'; 'none' draws none. Default: "
        "$TREADMILL_REPORT_COINS, else every coin of the universe with a perpetual.",
    ),
]


def _report_coins(settings: Settings, coins: str | None) -> tuple[str, ...] | None:
    """The coins ``--report-coins`` names for the run's ``report`` asset (None: the option was
    not given, and the run reads ``$TREADMILL_REPORT_COINS``), checked against the universe
    before the run either way: an unknown coin exits 2, by name."""
    from transforms.report.data import parse_report_coins, report_coins_from_env, report_perpetuals

    try:
        chosen = parse_report_coins(coins) if coins is not None else None
        report_perpetuals(
            settings.universe, chosen if coins is not None else report_coins_from_env()
        )
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    return chosen


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


@app.command()
def materialize(
    start: Annotated[
        str | None, typer.Option(help="First UTC day, YYYY-MM-DD. Default: yesterday.")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last UTC day (inclusive). Default: start.")
    ] = None,
    universe: UniverseOption = None,
    warehouse: WarehouseOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Rebuild every day, even those already built from unchanged inputs."
        ),
    ] = False,
    report_coins: ReportCoinsOption = None,
) -> None:
    """Materialise every table for a day or a range of days, as one single-run backfill.

    Days an earlier run already built from unchanged inputs (the same archive checksums, code
    and universe) are skipped; from the first day that is not, the rest of the range runs as
    one run. Progress is asset-partitions (one table's day) done out of all of them.
    """
    from pipelines.runner import materialize as materialize_days

    settings = _settings(warehouse, universe)
    given_first, given_last = _given_days(start, end)
    first = given_first or _yesterday()
    last = given_last or first
    _check_range(first, last)
    days = (last - first).days + 1
    console.print(f"materialising {first}…{last} ({days} day(s)) into {settings.warehouse}")
    chosen_coins = _report_coins(settings, report_coins)
    with _progress_display() as show_progress:
        outcome = materialize_days(
            settings,
            first,
            last,
            force=force,
            report_coins=chosen_coins,
            on_progress=show_progress,
            on_wait=lambda message: console.print(f"[yellow]{message}[/yellow]"),
            on_plan=_report_plan,
        )
    still_bad = outcome.plan.quarantined if outcome.plan else ()
    for key in still_bad:
        console.print(f"[red]failed:[/red] {key} is quarantined (skipped: its input is unchanged)")
    if outcome.summary is None:
        console.print(
            f"nothing to do: all {days} day(s) are built from unchanged inputs "
            "(--force rebuilds them)"
        )
    else:
        _report(outcome.summary)
    if still_bad or (outcome.summary is not None and not outcome.summary.ok):
        raise typer.Exit(1)


def _report_plan(plan: "ResumePlan") -> None:
    if plan.done:
        console.print(
            f"skipping {len(plan.done)} day(s) built from unchanged inputs "
            f"({plan.done[0]}…{plan.done[-1]})"
        )
    if plan.remaining is not None:
        start, end = plan.remaining
        console.print(f"building {start}…{end} as one run: {plan.reason}")


PLAIN_PROGRESS_SECONDS = 5.0
"""Without a terminal, a progress line at most this often (and a last one at the end)."""


@contextmanager
def _progress_display() -> "Iterator[Callable[[Progress], None]]":
    """A progress bar on a terminal; plain lines, a few seconds apart, anywhere else."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as ProgressBar

    if console.is_terminal:
        columns = (
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("asset-partitions · {task.fields[rate]}/s · ETA {task.fields[eta]} ·"),
            TimeElapsedColumn(),
        )
        with ProgressBar(*columns, console=console) as bar:
            task = bar.add_task("materialise", total=None, rate="0.0", eta="—")

            def update(progress: "Progress") -> None:
                bar.update(
                    task,
                    completed=progress.done,
                    total=progress.total,
                    rate=f"{progress.rate:.1f}",
                    eta=progress.eta_text,
                )

            yield update
        return
    shown: list[tuple[float, Progress]] = []
    latest: list[Progress] = []

    def line(progress: "Progress") -> None:
        latest[:] = [progress]
        finished = progress.done == progress.total
        if not shown or finished or time.monotonic() - shown[-1][0] >= PLAIN_PROGRESS_SECONDS:
            shown.append((time.monotonic(), progress))
            console.print(f"progress: {progress.line()}")

    yield line
    if latest and (not shown or shown[-1][1] is not latest[0]):
        console.print(f"progress: {latest[0].line()}")


def _report(summary: "RunSummary") -> None:
    for table, rows in sorted(summary.rows_by_table.items()):
        partitions = summary.partitions_by_table[table]
        console.print(f"  {table:<40} {partitions:>5} partition(s) {rows:>12,} rows")
    for failure in summary.step_failures:
        console.print(f"[red]step failed:[/red] {failure}")
    for warning in summary.warnings[:20]:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    for failure in summary.failed_checks:
        console.print(f"[red]failed:[/red] {failure}")
    console.print(
        f"checks: {summary.checks_passed} passed, {summary.checks_warned} warned, "
        f"{summary.checks_failed} failed"
    )
    if summary.ok:
        console.print(f"[green]run {summary.run_id} succeeded[/green]")
    else:
        console.print(f"[red]run {summary.run_id} finished with failures[/red]")


def _given_days(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """``--start`` and ``--end`` as days, ``None`` where not given; exit 2 on a bad date."""
    try:
        return (
            date.fromisoformat(start) if start else None,
            date.fromisoformat(end) if end else None,
        )
    except ValueError as exc:
        console.print(f"[red]bad date:[/red] {exc}")
        raise typer.Exit(2) from exc


def _check_range(first: date, last: date) -> None:
    """Exit 2 unless first…last is an ordered range of the warehouse's days."""
    from pipelines.defs.partitions import FIRST_PARTITION

    if last < first:
        console.print(f"[red]--end {last} is before --start {first}[/red]")
        raise typer.Exit(2)
    earliest, latest = date.fromisoformat(FIRST_PARTITION), _yesterday()
    if first < earliest or last > latest:
        console.print(
            f"[red]the warehouse's days run from {earliest} to yesterday ({latest}); "
            f"{first}…{last} is outside them[/red]"
        )
        raise typer.Exit(2)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a YYYY-MM-DD date") from exc


@app.command()
def sim(
    out: Annotated[
        Path, typer.Option(help="Mirror root; files go to OUT/data, truth to OUT/truth.")
    ],
    start: Annotated[str, typer.Option(help="First UTC day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last UTC day (inclusive).")],
    symbols: Annotated[str, typer.Option(help="USDⓈ-M perpetuals.")] = "BTCUSDT,ETHUSDT,SOLUSDT",
    coin_margined: Annotated[str, typer.Option(help="COIN-M perpetuals ('' for none).")] = (
        "BTCUSD_PERP"
    ),
    spot: Annotated[
        str | None, typer.Option(help="Spot pairs. Default: the same as --symbols.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 7,
    scenario: Annotated[str, typer.Option(help="treadmill, calm, squeeze or spot_bid.")] = (
        "treadmill"
    ),
    quirks: Annotated[
        str,
        typer.Option(
            help="Per-file rates of archive quirks, e.g. 'duplicate_rows=0.1,missing_day=0.02' "
            "(duplicate_rows, unsorted_rows, zero_e8, missing_day, headerless_klines, "
            "next_day_midnight; 'all=R' sets every rate)."
        ),
    ] = "",
    funding_intervals: Annotated[
        str, typer.Option(help="Funding interval overrides in hours, e.g. 'SOLUSDT=4'.")
    ] = "",
    liquidations_outside_window: Annotated[
        bool,
        typer.Option(
            help="Also write liquidation snapshots after Binance stopped publishing them."
        ),
    ] = False,
    workers: Annotated[int, typer.Option(help="Processes (one coin each at a time).")] = 2,
) -> None:
    """Simulate a leveraged perpetual-futures market and write it as a Binance archive."""
    from simulator.run import SimConfig, simulate_archive
    from simulator.writer import Quirks

    def names(text: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in text.split(",") if part.strip())

    try:
        config = SimConfig(
            out=out.resolve(),
            start=_day(start),
            end=_day(end),
            symbols=names(symbols),
            coin_margined=names(coin_margined),
            spot=names(spot) if spot is not None else None,
            seed=seed,
            scenario=scenario,
            quirks=Quirks.parse(quirks),
            liquidations_outside_window=liquidations_outside_window,
            funding_intervals=tuple(
                (name, int(hours))
                for name, _, hours in (item.partition("=") for item in names(funding_intervals))
            ),
            workers=workers,
        )
        # The symbols become archive paths: hold them to the same pattern as the universe.
        parse_universe(
            f"binance_um:{','.join(config.symbols) or 'BTCUSDT'};"
            f"binance_spot:{','.join(config.spot_symbols) or 'BTCUSDT'}"
            + (f";binance_cm:{','.join(config.coin_margined)}" if config.coin_margined else "")
        )
        summary = simulate_archive(config)
    except (ValueError, ConfigError) as exc:
        console.print(f"[red]cannot simulate:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(
        f"wrote {summary.files} files ({summary.symbol_days} symbol-days, "
        f"{summary.liquidations:,} liquidations, {len(summary.quirks)} injected quirks) "
        f"to {config.out / 'data'}; ground truth in {config.out / 'truth'}"
    )


@app.command()
def demo(
    warehouse: WarehouseOption = None,
    days: Annotated[
        int, typer.Option(min=1, max=60, help="Days to simulate (from 2024-02-01).")
    ] = 60,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
) -> None:
    """Simulate 60 days of a treadmill market into a local mirror and build the warehouse."""
    from pipelines.runner import materialize_range
    from simulator.run import SimConfig, simulate_archive
    from simulator.venue_server import VENUE_PREFIXES, serve_venues
    from transforms.endpoints import RateLimit

    base = _settings(warehouse, None)
    mirror = base.warehouse / "mirror"
    end = DEMO_START + timedelta(days=days - 1)
    config = SimConfig(out=mirror, start=DEMO_START, end=end, seed=seed)
    fingerprint = mirror / "truth" / "demo.json"
    wanted = json.dumps({"start": str(DEMO_START), "end": str(end), "seed": seed, "venues": 3})
    if not fingerprint.exists() or fingerprint.read_text() != wanted:
        console.print(f"simulating {days} days of the treadmill scenario into {mirror} …")
        summary = simulate_archive(config)
        fingerprint.write_text(wanted)
        console.print(f"  {summary.files} archive files, {summary.liquidations:,} liquidations")
    else:
        console.print(f"re-using the simulated archive in {mirror}")
    requests, seconds = DEMO_VENUE_LIMIT
    with serve_venues(mirror, dict.fromkeys(VENUE_PREFIXES.values(), DEMO_VENUE_LIMIT)) as venues:
        settings = Settings(
            warehouse=base.warehouse,
            binance_url=mirror.as_uri() + "/",
            universe=parse_universe(DEMO_UNIVERSE),
            limits=base.limits,
            venue_urls=venues.treadmill_urls(),
            venue_rates={key: RateLimit(requests, seconds) for key in VENUE_PREFIXES},
            hyperliquid_url=(mirror / "hyperliquid").as_uri() + "/",
            cftc_url=(mirror / "cftc").as_uri() + "/",
        )
        console.print(
            f"materialising {DEMO_START}…{end} for {format_universe(settings.universe)} through "
            f"Dagster; BitMEX, Bybit and OKX from the simulated venues at {venues.base_url}"
        )
        run = materialize_range(settings, DEMO_START, end)
    _report(run)
    console.print(f"\nwarehouse: {settings.warehouse}")
    console.print(f"lake:      {settings.lake_root}")
    console.print(f"catalog:   {settings.warehouse / 'catalog.duckdb'} (open it read-only)")
    # The command as this user invoked it (``.venv/bin/treadmill`` under make), so it pastes.
    command = sys.argv[0] if Path(sys.argv[0]).name == "treadmill" else "treadmill"
    console.print(
        f'try:       {command} sql "select symbol, count(*) as minutes, min(low), max(high) '
        'from fct_price_1m group by symbol order by symbol"'
    )
    from transforms.report.build import REPORTS_FOLDER
    from transforms.report.data import ReportDataError, ReportRequest

    try:
        page = _write_report(
            settings.lake_root,
            ReportRequest("binance_um", "BTCUSDT", DEMO_START, end),
            settings.warehouse / REPORTS_FOLDER,
        )
    except ReportDataError as exc:
        console.print(f"[red]no report:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"report:    {page}")
    if not run.ok:
        raise typer.Exit(1)


def _write_report(lake_root: Path, request: "ReportRequest", out_root: Path) -> Path:
    """Write one report, say what each chart drew, and return the page's path."""
    from transforms.report.build import build_report

    console.print(
        f"drawing {request.symbol} on {request.exchange}, {request.first}…{request.last} "
        f"from {lake_root}"
    )
    written = build_report(lake_root, request, out_root)
    for chart in written.charts:
        console.print(f"  {chart.key:<16} {chart.points:>7,} data point(s)")
    if written.empty_charts:
        console.print(
            f"[yellow]no data in the range for:[/yellow] {', '.join(written.empty_charts)}"
        )
    return written.files.html


@app.command()
def report(
    symbol: Annotated[str, typer.Option(help="The perpetual, e.g. BTCUSDT or BTCUSD_PERP.")],
    exchange: Annotated[
        str, typer.Option(help="Its exchange: binance_um (USDⓈ-M) or binance_cm (COIN-M).")
    ] = "binance_um",
    start: TrailingStartOption = None,
    end: Annotated[
        str | None,
        typer.Option(help="Last UTC day (inclusive). Default: the last day with prices."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder to write into; the report goes to OUT/<exchange>-<symbol>/. "
            "Default: <warehouse>/reports/."
        ),
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Draw the article's charts for one perpetual: a self-contained HTML page plus one PNG per
    chart (daily liquidations, funding per venue, open interest with the price, the latest
    liquidation heatmap with its hot zones, the regime timeline, coverage).

    Prints the page's path. Exits 1 when the perpetual has no data in the range, 2 on bad
    arguments.
    """
    from transforms.report.build import REPORTS_FOLDER
    from transforms.report.data import (
        PERPETUAL_EXCHANGES,
        ReportDataError,
        ReportRequest,
        default_range,
    )

    settings = _settings(warehouse, None)
    try:
        parse_universe(f"{exchange}:{symbol}")
    except ConfigError as exc:
        console.print(f"[red]bad perpetual:[/red] {exc}")
        raise typer.Exit(2) from exc
    if exchange not in PERPETUAL_EXCHANGES:
        console.print(
            f"[red]bad perpetual:[/red] {exchange} is not a perpetual-futures exchange; "
            f"reports are drawn for {', '.join(PERPETUAL_EXCHANGES)}"
        )
        raise typer.Exit(2)
    first, last = _given_days(start, end)
    try:
        first, last = default_range(settings.lake_root, first, last)
        _check_range(first, last)
        page = _write_report(
            settings.lake_root,
            ReportRequest(exchange, symbol, first, last),
            out.resolve() if out else settings.warehouse / REPORTS_FOLDER,
        )
    except ReportDataError as exc:
        console.print(f"[red]no report:[/red] {exc}")
        raise typer.Exit(1) from exc
    typer.echo(str(page))


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A DuckDB SQL query over the catalog's views.")],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table, csv or json.")
    ] = OutputFormat.table,
    out: Annotated[
        Path | None, typer.Option(help="Write the result to this Parquet file instead.")
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Run a SQL query against the warehouse's catalog, read-only (safe during a run)."""
    import duckdb
    import pyarrow.parquet as pq

    from transforms.catalog import connect_read_only

    settings = _settings(warehouse, None)
    try:
        with connect_read_only(settings.warehouse) as connection:
            result = connection.sql(query)
            if result is None:
                console.print("[red]SQL error:[/red] the statement returned no result set")
                raise typer.Exit(1)
            table = result.to_arrow_table()
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()
        console.print(f"[red]SQL error:[/red] {message[0] if message else type(exc).__name__}")
        raise typer.Exit(1) from exc
    if out is not None:
        pq.write_table(table, out, compression="zstd")
        console.print(f"wrote {table.num_rows:,} rows to {out}")
        return
    import polars as pl

    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if output is OutputFormat.csv:
        typer.echo(frame.write_csv(), nl=False)
    elif output is OutputFormat.json:
        typer.echo(json.dumps(frame.to_dicts(), default=str, indent=1))
    else:
        with pl.Config(tbl_rows=50, tbl_cols=20, fmt_str_lengths=40):
            typer.echo(str(frame))


COVERAGE_WINDOW_DAYS = 30
COVERAGE_MAX_PROBLEMS = 20
COVERAGE_MARKS = {
    "ok": ("█", "green"),
    "partial": ("▄", "yellow"),
    "pending": ("?", "cyan"),
    "missing": ("x", "bold red"),
    "quarantined": ("Q", "bold magenta"),
    "not_published": (" ", ""),
}
NOT_CHECKED_MARK = ("·", "dim")


@app.command()
def coverage(
    start: TrailingStartOption = None,
    end: Annotated[
        str | None,
        typer.Option(help="Last UTC day (inclusive). Default: the last day with coverage."),
    ] = None,
    universe: Annotated[
        str | None,
        typer.Option(
            help="Only these symbols, e.g. 'binance_um:BTCUSDT;binance_cm:BTCUSD_PERP' "
            "(symbols never checked show as '·'). Default: every symbol the coverage holds.",
        ),
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Show what the warehouse holds per exchange, dataset, symbol and day, from dq_coverage.

    One line per exchange × dataset × symbol with one character per day. Exits 1 when a day in
    the range is missing or quarantined (or nothing in it was checked), 0 otherwise.
    """
    from rich.markup import escape
    from rich.text import Text

    from transforms.coverage import (
        COVERAGE_TABLE,
        PROBLEM_STATUSES,
        STATUSES,
        coverage_days,
        read_coverage,
        status_counts,
    )
    from transforms.sources import DATASETS

    settings = _settings(warehouse, universe)
    first, last = _given_days(start, end)
    checked = coverage_days(settings.lake_root)
    if last is None:
        latest = checked[-1] if checked else None
        last = latest if latest and (first is None or latest >= first) else first
    if last is None:
        console.print(
            f"[red]no {COVERAGE_TABLE} partitions in {settings.lake_root}[/red]: "
            "run treadmill materialize first"
        )
        raise typer.Exit(1)
    if first is None:
        first = last - timedelta(days=COVERAGE_WINDOW_DAYS - 1)
        if start is None and end is None and checked:
            first = max(first, checked[0])
    _check_range(first, last)
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    tables = read_coverage(settings.lake_root, days)

    order = {(d.exchange, d.name): index for index, d in enumerate(DATASETS)}
    cells: dict[tuple[str, str, str], dict[date, tuple[str, str | None]]] = {}
    for day, table in tables.items():
        for row in table.select(["exchange", "dataset", "symbol", "status", "detail"]).to_pylist():
            key = (row["exchange"], row["dataset"], row["symbol"])
            cells.setdefault(key, {})[day] = (row["status"], row["detail"])
    if universe is not None:
        wanted = {
            (d.exchange, d.name, symbol)
            for d in DATASETS
            for day in days
            for symbol in d.symbols_on(settings.symbols(d.exchange), day)
        }
        cells = {key: cells.get(key, {}) for key in wanted}
    keys = sorted(cells, key=lambda k: (order.get(k[:2], len(order)), k[0], k[1], k[2]))

    out = Console(soft_wrap=True, highlight=False)
    out.print(
        f"{COVERAGE_TABLE} {first}…{last} ({len(days)} day(s), {len(tables)} checked) "
        f"in {settings.lake_root}"
    )
    legend = Text("legend: ")
    for status, (mark, style) in COVERAGE_MARKS.items():
        legend.append(f"'{mark}'", style=style or None).append(f" {status}  ")
    legend.append(f"'{NOT_CHECKED_MARK[0]}'", style=NOT_CHECKED_MARK[1]).append(" not checked")
    out.print(legend)
    width = max((len(f"{e} {d} {s}") for e, d, s in keys), default=0) + 2
    if len(days) > 21:
        out.print(" " * width + f"{first}{last!s:>{len(days) - 10}}")
    totals: list[str] = []
    problems: list[str] = []
    for exchange, dataset_name, symbol in keys:
        by_day = cells[exchange, dataset_name, symbol]
        line = Text(f"{exchange} {dataset_name} {symbol}".ljust(width))
        for day in days:
            cell = by_day.get(day)
            if cell is None:
                line.append(NOT_CHECKED_MARK[0], style=NOT_CHECKED_MARK[1])
                continue
            status, detail = cell
            mark, style = COVERAGE_MARKS.get(status, NOT_CHECKED_MARK)
            line.append(mark, style=style or None)
            totals.append(status)
            if status in PROBLEM_STATUSES:
                problems.append(
                    f"{day} {exchange} {dataset_name} {symbol} {status}: {detail or 'no detail'}"
                )
        counts = status_counts(status for status, _ in by_day.values())
        line.append("  " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
        out.print(line)

    counts = status_counts(totals)
    out.print("symbol-days: " + ", ".join(f"{counts[s]:,} {s}" for s in STATUSES))
    unchecked = [day for day in days if day not in tables]
    if unchecked:
        out.print(
            f"[yellow]{len(unchecked)} day(s) without {COVERAGE_TABLE}[/yellow] "
            f"({unchecked[0]}…{unchecked[-1]}): run treadmill materialize for them"
        )
    problems.sort()  # by day first: each line starts with its date
    for problem in problems[:COVERAGE_MAX_PROBLEMS]:
        out.print(f"[red]{escape(problem)}[/red]")
    if len(problems) > COVERAGE_MAX_PROBLEMS:
        out.print(f"… and {len(problems) - COVERAGE_MAX_PROBLEMS} more missing or quarantined")
    if problems or not tables:
        raise typer.Exit(1)


@app.command()
def record(
    venues: Annotated[
        str, typer.Option(help="Streams to record, from binance_um, bybit, okx.")
    ] = "binance_um,bybit,okx",
    bybit_symbols: Annotated[
        str | None,
        typer.Option(
            help="Bybit symbols, e.g. BTCUSDT,ETHUSDT (Bybit has no all-market topic). "
            "Default: the universe's bybit symbols, else its binance_um ones."
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(min=0.0, help="Stop after this many seconds. Default: run until stopped."),
    ] = None,
    max_messages: Annotated[
        int | None,
        typer.Option(min=1, help="Stop after this many liquidation messages (all venues)."),
    ] = None,
    universe: UniverseOption = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Record the venues' public liquidation streams into <warehouse>/raw/recorder/, verbatim.

    Binance's all-market force orders, Bybit's allLiquidation topics, OKX's liquidation-orders
    channel: every frame with the instant it arrived, in hourly files the daily run ingests once
    the hour is closed, and a gap record for every interval not recorded. Runs until SIGINT or
    SIGTERM (or --duration / --max-messages), then prints what it recorded. URLs:
    TREADMILL_BINANCE_WS_URL, TREADMILL_BYBIT_WS_URL, TREADMILL_OKX_WS_URL.
    """
    import logging

    from transforms.hour_writer import RecorderError
    from transforms.recorder import run_recorder
    from transforms.stream_protocols import venue_streams

    settings = _settings(warehouse, universe)
    names = [name.strip() for name in venues.split(",") if name.strip()]
    if bybit_symbols is not None:
        symbols = tuple(s.strip() for s in bybit_symbols.split(",") if s.strip())
    else:
        symbols = settings.symbols("bybit") or settings.symbols("binance_um")
    try:
        if "bybit" in names:
            # The symbols become subscription topics: hold them to the universe's pattern.
            parse_universe(f"bybit:{','.join(symbols)}")
        streams = venue_streams(names, symbols)
    except (ValueError, ConfigError) as exc:
        console.print(f"[red]cannot record:[/red] {exc}")
        raise typer.Exit(2) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    raw_root = settings.raw_root / "recorder"
    console.print(
        f"recording {', '.join(s.venue for s in streams)} into {raw_root}"
        + (f" (Bybit: {', '.join(symbols)})" if "bybit" in names else "")
    )
    try:
        stats = run_recorder(streams, raw_root, duration=duration, max_messages=max_messages)
    except RecorderError as exc:
        console.print(f"[red]recorder failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    for name, venue in stats.venues.items():
        console.print(
            f"  {name:<11} {venue.data:>10,} messages {venue.control:>7,} control "
            f"{venue.garbage:>5,} garbage {venue.connections:>4} connection(s) "
            f"{venue.reconnects:>4} reconnect(s) {venue.gaps:>4} gap(s)"
        )
    if stats.finalized_files:
        console.print(f"finalised {len(stats.finalized_files)} file(s) a previous run left open")
    console.print(f"recorded {stats.messages:,} liquidation messages into {raw_root}")

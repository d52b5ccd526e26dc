"""``treadmill``: materialise the warehouse from the command line."""

import json
import sys
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from transforms.errors import ConfigError
from transforms.settings import Settings, format_universe, parse_universe

if TYPE_CHECKING:
    from pipelines.runner import RunSummary

DEMO_START = date(2024, 2, 1)
"""The demo's first day. Its 60 days end on 2024-03-31, the last day Binance published USDⓈ-M
liquidation snapshots, so every dataset of the archive exists for them."""
DEMO_UNIVERSE = (
    "binance_um:BTCUSDT,ETHUSDT,SOLUSDT;binance_cm:BTCUSD_PERP;binance_spot:BTCUSDT,ETHUSDT,SOLUSDT"
)

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
) -> None:
    """Materialise every table for a day or a range of days, as one single-run backfill."""
    from pipelines.runner import materialize_range

    settings = _settings(warehouse, universe)
    try:
        first = date.fromisoformat(start) if start else _yesterday()
        last = date.fromisoformat(end) if end else first
    except ValueError as exc:
        console.print(f"[red]bad date:[/red] {exc}")
        raise typer.Exit(2) from exc
    if last < first:
        console.print(f"[red]--end {last} is before --start {first}[/red]")
        raise typer.Exit(2)
    days = (last - first).days + 1
    console.print(f"materialising {first}…{last} ({days} day(s)) into {settings.warehouse}")
    summary = materialize_range(settings, first, last)
    _report(summary)
    if not summary.ok:
        raise typer.Exit(1)


def _report(summary: "RunSummary") -> None:
    for table, rows in sorted(summary.rows_by_table.items()):
        partitions = summary.partitions_by_table[table]
        console.print(f"  {table:<40} {partitions:>5} partition(s) {rows:>12,} rows")
    for failure in summary.step_failures:
        console.print(f"[red]step failed:[/red] {failure}")
    for failure in summary.failed_checks:
        console.print(f"[red]bad file:[/red] {failure}")
    console.print(f"checks: {summary.checks_passed} passed, {summary.checks_failed} failed")
    if summary.ok:
        console.print(f"[green]run {summary.run_id} succeeded[/green]")
    else:
        console.print(f"[red]run {summary.run_id} finished with failures[/red]")


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

    base = _settings(warehouse, None)
    mirror = base.warehouse / "mirror"
    end = DEMO_START + timedelta(days=days - 1)
    config = SimConfig(out=mirror, start=DEMO_START, end=end, seed=seed)
    fingerprint = mirror / "truth" / "demo.json"
    wanted = json.dumps({"start": str(DEMO_START), "end": str(end), "seed": seed})
    if not fingerprint.exists() or fingerprint.read_text() != wanted:
        console.print(f"simulating {days} days of the treadmill scenario into {mirror} …")
        summary = simulate_archive(config)
        fingerprint.write_text(wanted)
        console.print(f"  {summary.files} archive files, {summary.liquidations:,} liquidations")
    else:
        console.print(f"re-using the simulated archive in {mirror}")
    settings = Settings(
        warehouse=base.warehouse,
        binance_url=mirror.as_uri() + "/",
        universe=parse_universe(DEMO_UNIVERSE),
        limits=base.limits,
    )
    console.print(
        f"materialising {DEMO_START}…{end} for {format_universe(settings.universe)} through Dagster"
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
    if not run.ok:
        raise typer.Exit(1)


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

"""``treadmill``: materialise the warehouse from the command line."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console

from transforms.errors import ConfigError
from transforms.settings import Settings

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
    for table, rows in sorted(summary.rows_by_table.items()):
        partitions = summary.partitions_by_table[table]
        console.print(f"  {table:<40} {partitions:>5} partition(s) {rows:>12,} rows")
    for failure in summary.step_failures:
        console.print(f"[red]step failed:[/red] {failure}")
    for failure in summary.failed_checks:
        console.print(f"[red]bad file:[/red] {failure}")
    if not summary.ok:
        console.print(f"[red]run {summary.run_id} finished with failures[/red]")
        raise typer.Exit(1)
    console.print(f"[green]run {summary.run_id} succeeded[/green]")

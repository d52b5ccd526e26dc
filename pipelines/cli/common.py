"""What every ``treadmill`` command shares: the console it reports on, its common options, the
settings it loads and the way it exits on bad input."""

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console

from transforms import storage
from transforms.errors import ConfigError
from transforms.settings import Settings

console = Console(stderr=True, soft_wrap=True)
"""Where the commands report what they do: stderr, so stdout carries only results."""

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


def error_exit(label: str, message: object, code: int) -> typer.Exit:
    """Say ``label: message`` (the label in red) and return the exit with ``code`` to raise:
    1 when the command ran and failed, 2 on bad arguments or configuration."""
    console.print(f"[red]{label}:[/red] {message}")
    return typer.Exit(code)


def load_settings(warehouse: str | None, universe: str | None) -> Settings:
    """The settings of ``$TREADMILL_*`` with the command's options over them; exit 2 when they
    do not make a valid configuration. An option given empty (``--universe ''``) is refused:
    empty never means the default."""
    for name, value in (("--warehouse", warehouse), ("--universe", universe)):
        if value is not None and not value.strip():
            raise error_exit(
                "configuration error", f"{name} is empty: name one, or leave it out", 2
            )
    try:
        settings = Settings.from_env(warehouse=warehouse, universe=universe)
    except ConfigError as exc:
        raise error_exit("configuration error", exc, 2) from exc
    if storage.is_file(settings.warehouse):
        raise error_exit(
            "configuration error",
            f"the warehouse {settings.warehouse} is a file, not a folder: point --warehouse "
            "(or $TREADMILL_WAREHOUSE) at a folder, new or a warehouse",
            2,
        )
    return settings


def yesterday() -> date:
    """The last whole UTC day."""
    return datetime.now(UTC).date() - timedelta(days=1)


def given_days(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """``--start`` and ``--end`` as days, ``None`` where not given; exit 2 on a bad date (an
    empty one included: empty never means yesterday)."""
    try:
        return (
            None if start is None else date.fromisoformat(start),
            None if end is None else date.fromisoformat(end),
        )
    except ValueError as exc:
        raise error_exit("bad date", exc, 2) from exc


def check_range(first: date, last: date) -> None:
    """Exit 2 unless first…last is an ordered range of the warehouse's days."""
    from pipelines.defs.partitions import FIRST_PARTITION

    if last < first:
        console.print(f"[red]--end {last} is before --start {first}[/red]")
        raise typer.Exit(2)
    earliest, latest = date.fromisoformat(FIRST_PARTITION), yesterday()
    if first < earliest or last > latest:
        console.print(
            f"[red]the warehouse's days run from {earliest} to yesterday ({latest}); "
            f"{first}…{last} is outside them[/red]"
        )
        raise typer.Exit(2)

"""What every ``treadmill`` command shares: the console it reports on, its common options, the
settings it loads and the way it exits on bad input."""

import errno
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Final

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


def require_warehouse(settings: Settings) -> None:
    """Exit 2 unless the warehouse folder exists: a command that only reads or tidies it must
    neither fail obscurely on a typo nor make a new warehouse of one."""
    if not storage.exists(settings.warehouse):
        raise error_exit(
            "no warehouse",
            f"nothing is built at {settings.warehouse}: build it with `treadmill materialize` "
            "(or try `treadmill demo`), or point --warehouse / $TREADMILL_WAREHOUSE at one",
            2,
        )


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


DISK_FULL_SIGNS: Final = (
    "database or disk is full",
    "No space left on device",
    "Disk quota exceeded",
)
"""How a full disk reads where the error is not an ``OSError`` of its own: SQLite's (Dagster's
run history), DuckDB's and Arrow's messages."""
SQLITE_IO_ERROR: Final = "disk I/O error"
"""What SQLite says when a write of its journal fails, a full disk among other causes: taken for
a full disk when one of the command's places has less than :data:`ALMOST_FULL_BYTES` left."""
ALMOST_FULL_BYTES: Final = 1 << 20


def disk_full_error(error: BaseException) -> BaseException | None:
    """The error of ``error``'s chain (causes, contexts, SQLAlchemy's ``orig``) that says a
    disk is full, if any."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return current
        if any(sign in str(current) for sign in DISK_FULL_SIGNS):
            return current
        linked = (current.__cause__, current.__context__, getattr(current, "orig", None))
        pending.extend(item for item in linked if isinstance(item, BaseException))
    return None


def full_disk_message(places: Mapping[str, Path], filename: object = None) -> str:
    """One line for a full disk: the file it failed on (when known), which of ``places`` (what
    each holds → its folder) has the least room left (all of those that share it), and what to
    do."""
    room = {what: storage.free_bytes(folder) for what, folder in places.items()}
    known = [free for free in room.values() if free is not None]
    least = min(known) if known else None
    fullest = [f"{what} ({places[what]})" for what, free in room.items() if free == least]
    writing = f" writing {filename}" if filename else ""
    verb = "are" if len(fullest) > 1 else "is"
    where = f" where {' and '.join(fullest)} {verb}" if known else ""
    left = f" ({least / 1e6:,.1f} MB left)" if least is not None else ""
    return (
        f"no space left{writing}{where}{left}: free some space there or move it elsewhere, then "
        "run the same command again; nothing partial was published"
    )


@contextmanager
def full_disk_in_one_line(places: Mapping[str, Path]) -> Iterator[None]:
    """End the command with one line instead of a traceback when a disk fills up under it,
    naming the fullest of ``places`` (what each holds → its folder), and exit 1."""
    try:
        yield
    except Exception as exc:
        full = disk_full_error(exc)
        if full is None and SQLITE_IO_ERROR in str(exc):
            room = [storage.free_bytes(folder) for folder in places.values()]
            full = (
                exc if any(free is not None and free < ALMOST_FULL_BYTES for free in room) else None
            )
        if full is None:
            raise
        filename = full.filename if isinstance(full, OSError) else None
        raise error_exit("disk full", full_disk_message(places, filename), 1) from exc

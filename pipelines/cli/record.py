"""``treadmill record``: record the venues' liquidation streams into the raw folder."""

from typing import Annotated

import typer

from pipelines.cli.common import UniverseOption, WarehouseOption, console, error_exit, load_settings
from transforms.errors import ConfigError
from transforms.settings import parse_universe


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

    settings = load_settings(warehouse, universe)
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
        raise error_exit("cannot record", exc, 2) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    raw_root = settings.recorder_root
    console.print(
        f"recording {', '.join(s.venue for s in streams)} into {raw_root}"
        + (f" (Bybit: {', '.join(symbols)})" if "bybit" in names else "")
    )
    try:
        stats = run_recorder(streams, raw_root, duration=duration, max_messages=max_messages)
    except RecorderError as exc:
        raise error_exit("recorder failed", exc, 1) from exc
    for name, venue in stats.venues.items():
        console.print(
            f"  {name:<11} {venue.data:>10,} messages {venue.control:>7,} control "
            f"{venue.garbage:>5,} garbage {venue.connections:>4} connection(s) "
            f"{venue.reconnects:>4} reconnect(s) {venue.gaps:>4} gap(s)"
        )
    if stats.finalized_files:
        console.print(f"finalised {len(stats.finalized_files)} file(s) a previous run left open")
    console.print(f"recorded {stats.messages:,} liquidation messages into {raw_root}")

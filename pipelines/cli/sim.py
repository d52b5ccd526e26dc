"""``treadmill sim``: write a simulated market as a Binance archive mirror."""

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.common import console, error_exit
from transforms.errors import ConfigError
from transforms.settings import parse_universe


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
        raise error_exit("cannot simulate", exc, 2) from exc
    console.print(
        f"wrote {summary.files} files ({summary.symbol_days} symbol-days, "
        f"{summary.liquidations:,} liquidations, {len(summary.quirks)} injected quirks) "
        f"to {config.out / 'data'}; ground truth in {config.out / 'truth'}"
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a YYYY-MM-DD date") from exc

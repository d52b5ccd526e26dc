"""``treadmill report``: draw one perpetual's charts into an HTML page and PNGs."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipelines.cli.common import (
    TrailingStartOption,
    WarehouseOption,
    check_range,
    console,
    error_exit,
    full_disk_in_one_line,
    given_days,
    load_settings,
)
from transforms.errors import ConfigError
from transforms.settings import parse_universe

if TYPE_CHECKING:
    from transforms.report.build import Report
    from transforms.report.data import ReportRequest


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

    Prints the page's path. Exits 1 when the perpetual has no data in the range or a chart
    failed (the page is written, naming it), 2 on bad arguments.
    """
    from transforms.report.data import (
        PERPETUAL_EXCHANGES,
        ReportDataError,
        ReportRequest,
        default_range,
    )

    settings = load_settings(warehouse, None)
    try:
        parse_universe(f"{exchange}:{symbol}")
    except ConfigError as exc:
        raise error_exit("bad perpetual", exc, 2) from exc
    if exchange not in PERPETUAL_EXCHANGES:
        raise error_exit(
            "bad perpetual",
            f"{exchange} is not a perpetual-futures exchange; "
            f"reports are drawn for {', '.join(PERPETUAL_EXCHANGES)}",
            2,
        )
    first, last = given_days(start, end)
    try:
        first, last = default_range(settings.lake_root, first, last)
        check_range(first, last)
        out_root = out.resolve() if out else settings.report_root
        with full_disk_in_one_line({"the reports": out_root}):
            written = write_report(
                settings.lake_root, ReportRequest(exchange, symbol, first, last), out_root
            )
    except ReportDataError as exc:
        raise error_exit("no report", exc, 1) from exc
    typer.echo(str(written.files.html))
    if written.failures:
        raise typer.Exit(1)


def write_report(lake_root: Path, request: "ReportRequest", out_root: Path) -> "Report":
    """Write one report and say what each chart drew, and which failed."""
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
    for failure in written.failures:
        console.print(f"[red]chart {failure.key} failed:[/red] {failure.error}")
    if written.failures:
        console.print(
            f"the page names the {len(written.failures)} failed chart(s) in their place; "
            "the other charts are drawn"
        )
    return written

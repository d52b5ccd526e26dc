"""The visual report of the universe's coins, written at the end of each run."""

from datetime import date
from typing import Any

import dagster as dg

from pipelines.defs.partitions import daily_partitions
from pipelines.defs.resources import TreadmillConfig
from transforms.report.data import (
    DEFAULT_DAYS,
    REPORT_COINS_ENV,
    REPORT_INPUTS,
    ReportDataError,
    ReportRequest,
    check_report_coins,
    default_range,
    report_coins_from_env,
    report_perpetuals,
)

CHARTS_DRAWN = "charts_drawn"


class ReportConfig(dg.Config):
    """Which coins get a report."""

    coins: list[str] | None = None
    """Coins to draw, e.g. ``["BTC", "ETH"]``; ``[]`` draws none. Unset: ``TREADMILL_REPORT_COINS``
    (``BTC,ETH``, or ``none``), else every coin of the universe with a perpetual."""


@dg.asset(
    name="report",
    group_name="report",
    deps=[
        dg.AssetDep(
            table,
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-(DEFAULT_DAYS - 1)),
        )
        for table in REPORT_INPUTS
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"html", "python"},
    tags={"layer": "report"},
    check_specs=[
        dg.AssetCheckSpec(
            CHARTS_DRAWN,
            asset="report",
            description="Every chart of every report drew and rendered: a failed chart is named "
            "on its page, and here.",
        )
    ],
)
def report(
    context: dg.AssetExecutionContext, config: ReportConfig, treadmill: TreadmillConfig
) -> dg.MaterializeResult:
    """`<warehouse>/reports/<exchange>-<symbol>/`: the article's charts for each coin of the
    universe (its USDⓈ-M perpetual first), or the coins of `TREADMILL_REPORT_COINS` (the
    `coins` config), as a self-contained `report.html` and one PNG per chart: daily
    liquidations, funding per venue, open interest with the price, the latest liquidation
    heatmap (an estimate) with its hot zones, the regime timeline and coverage. The reports are
    drawn side by side, one thread per core.

    A run writes the report of its last day over the 30 days ending on it (from the first day
    with prices), however long the run: the daily schedule keeps a rolling month, and a year's
    backfill does not draw a year of hours for every coin. The latest day's materialisation
    shows a preview. `treadmill report` writes the same report for any perpetual and range.
    """
    from base64 import b64encode

    from transforms.report.build import build_reports

    settings = treadmill.settings()
    coins = report_coins_from_env() if config.coins is None else check_report_coins(config.coins)
    # An unknown coin fails the step here, naming it, before anything is drawn.
    perpetuals = report_perpetuals(settings.universe, coins)
    last = max(date.fromisoformat(key) for key in context.partition_keys)
    out_root = settings.report_root
    metadata: dict[str, Any] = {"path": dg.MetadataValue.path(str(out_root))}
    previews: list[str] = []
    failed_charts: list[str] = []
    written = 0
    if perpetuals:
        first, _ = default_range(settings.lake_root, None, last)
        metadata["range"] = f"{first}…{last}"
        requests = [ReportRequest(exchange, symbol, first, last) for exchange, symbol in perpetuals]
        outcomes = build_reports(settings.lake_root, requests, out_root)
    else:
        context.log.info(f"no report drawn: no coin chosen ({REPORT_COINS_ENV}, or config coins)")
        requests, outcomes = [], []
    for request, outcome in zip(requests, outcomes, strict=True):
        if isinstance(outcome, ReportDataError):
            context.log.info(f"no report for {request.symbol} on {request.exchange}: {outcome}")
            continue
        written += 1
        files = outcome.files
        metadata[request.name] = dg.MetadataValue.path(str(files.html))
        if outcome.empty_charts:
            metadata[f"{request.name} empty charts"] = ", ".join(outcome.empty_charts)
            context.log.warning(
                f"{request.name}: no data in {request.first}…{request.last} for "
                f"{', '.join(outcome.empty_charts)}"
            )
        for failure in outcome.failures:
            failed_charts.append(f"{request.name}: chart {failure.key} failed: {failure.error}")
        heading = (
            f"**{request.symbol} on {request.exchange}**, {request.first}…{request.last}: "
            f"`{files.html}`"
        )
        if files.preview_png is None:
            previews.append(f"{heading}\n\nNo chart rendered.")
            continue
        image = b64encode(files.preview_png).decode()
        previews.append(
            f"{heading}\n\n![{request.name} daily liquidations](data:image/png;base64,{image})"
        )
    metadata["reports_written"] = written
    metadata["coins"] = ", ".join(request.coin for request in requests) or "none"
    # Every day of a ranged run records the same metadata; the images go on the report's own
    # day only, so a 60-day backfill stores them once.
    if previews:
        preview = "\n\n".join(previews)
    elif requests:
        preview = "No perpetual of the universe has data in the range."
    else:
        preview = f"No report drawn: no coin chosen ({REPORT_COINS_ENV}=none, or config coins [])."
    context.add_asset_metadata(
        {"preview": dg.MetadataValue.md(preview)}, partition_key=last.isoformat()
    )
    # A failed chart fails this check (the run then finishes with failures), not the step: the
    # pages are written and the facts published, so the run's days still count as built.
    charts_drawn = dg.AssetCheckResult(
        check_name=CHARTS_DRAWN,
        passed=not failed_charts,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"failures": failed_charts},
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[charts_drawn])

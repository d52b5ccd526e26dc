"""The visual report of every coin in the universe, written at the end of each run."""

from datetime import date
from typing import Any

import dagster as dg

from pipelines.defs.partitions import daily_partitions
from pipelines.defs.resources import TreadmillConfig
from transforms.report.data import (
    DEFAULT_DAYS,
    REPORT_INPUTS,
    ReportDataError,
    ReportRequest,
    default_range,
    report_perpetuals,
)


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
)
def report(context: dg.AssetExecutionContext, treadmill: TreadmillConfig) -> dg.MaterializeResult:
    """`<warehouse>/reports/<exchange>-<symbol>/`: the article's charts for each coin of the
    universe (its USDⓈ-M perpetual first), as a self-contained `report.html` and one PNG per
    chart: daily liquidations, funding per venue, open interest with the price, the latest
    liquidation heatmap (an estimate) with its hot zones, the regime timeline and coverage.

    A run writes the report of its last day over the 30 days ending on it (from the first day
    with prices), however long the run: the daily schedule keeps a rolling month, and a year's
    backfill does not draw a year of hours for every coin. The latest day's materialisation
    shows a preview. `treadmill report` writes the same report for any perpetual and range.
    """
    from base64 import b64encode

    from transforms.report.build import REPORTS_FOLDER, build_report

    settings = treadmill.settings()
    last = max(date.fromisoformat(key) for key in context.partition_keys)
    first, _ = default_range(settings.lake_root, None, last)
    out_root = settings.warehouse / REPORTS_FOLDER
    metadata: dict[str, Any] = {
        "range": f"{first}…{last}",
        "path": dg.MetadataValue.path(str(out_root)),
    }
    previews: list[str] = []
    written = 0
    for exchange, symbol in report_perpetuals(settings.universe):
        request = ReportRequest(exchange, symbol, first, last)
        try:
            written_report = build_report(settings.lake_root, request, out_root)
        except ReportDataError as exc:
            context.log.info(f"no report for {symbol} on {exchange}: {exc}")
            continue
        written += 1
        files = written_report.files
        metadata[request.name] = dg.MetadataValue.path(str(files.html))
        if written_report.empty_charts:
            metadata[f"{request.name} empty charts"] = ", ".join(written_report.empty_charts)
            context.log.warning(
                f"{request.name}: no data in {first}…{last} for "
                f"{', '.join(written_report.empty_charts)}"
            )
        image = b64encode(files.preview_png).decode()
        previews.append(
            f"**{symbol} on {exchange}**, {first}…{last}: `{files.html}`\n\n"
            f"![{request.name} daily liquidations](data:image/png;base64,{image})"
        )
    metadata["reports_written"] = written
    # Every day of a ranged run records the same metadata; the images go on the report's own
    # day only, so a 60-day backfill stores them once.
    context.add_asset_metadata(
        {
            "preview": dg.MetadataValue.md(
                "\n\n".join(previews) or "No perpetual of the universe has data in the range."
            )
        },
        partition_key=last.isoformat(),
    )
    return dg.MaterializeResult(metadata=metadata)

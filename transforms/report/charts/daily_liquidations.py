"""The daily liquidations chart (``report_daily_liquidations.sql``): long against short
liquidations per UTC day, titled with the venues and coverage kinds the totals stand on."""

from typing import Final

import altair as alt
import polars as pl

from transforms.report.charts.style import (
    LONGS,
    SHORTS,
    WIDTH,
    ReportChart,
    chart_title,
    format_usd,
    usd_axis,
    wrap_lines,
)
from transforms.report.data import ReportData

SAMPLED_SNAPSHOTS_NOTE: Final = (
    "Binance's liquidation snapshots are sampled (at most one order per symbol per second): a "
    "lower bound."
)
"""What the chart says under the perpetual's own liquidations, which are Binance's snapshots."""
COVERAGE_NOTES: Final = {
    "complete": "Complete: every forced order the venues published, the full count.",
    "sampled": (
        "Sampled feeds pass on only some forced orders (Binance's at most one per symbol per "
        "second): a lower bound."
    ),
    "estimated": "Estimated: modelled from other data, not forced orders the venues reported.",
}
"""What each coverage kind of ``fct_liquidations`` means for the totals, in the chart's words."""
TITLE_CHARACTERS: Final = 108
"""A title longer than this would widen its chart beyond the page (at 15 px, 110 characters
fill the 820-pixel plot): the venues then move below it."""


def liquidation_coverage(frame: pl.DataFrame) -> dict[str, list[str]]:
    """Each venue behind the coin-level rows of the daily liquidations, with its coverage kinds.

    Read from ``venue_coverage`` (``binance_um:sampled,hyperliquid:complete``) over the range's
    days; empty when every day is the perpetual's own (a lake without the coin-level table).
    """
    kinds: dict[str, set[str]] = {}
    for pairs in frame.filter(pl.col("scope") == "coin")["venue_coverage"].drop_nulls():
        for pair in pairs.split(","):
            venue, _, kind = pair.partition(":")
            if venue:
                kinds.setdefault(venue, set()).add(kind)
    return {venue: sorted(kinds[venue]) for venue in sorted(kinds)}


def _coverage_lines(coverage: dict[str, list[str]]) -> list[str]:
    """Which venues each coverage kind comes from, and what that makes of the totals: a lower
    bound as soon as one venue is sampled, the full count when every venue is complete."""
    found = {kind for kinds in coverage.values() for kind in kinds}
    ordered = [kind for kind in COVERAGE_NOTES if kind in found] + sorted(
        found - set(COVERAGE_NOTES)
    )
    parts = [
        f"{kind} on {', '.join(v for v, kinds in coverage.items() if kind in kinds)}"
        for kind in ordered
    ]
    notes = [COVERAGE_NOTES[kind] for kind in ("sampled", "estimated") if kind in found]
    if found == {"complete"}:
        notes = [COVERAGE_NOTES["complete"]]
    return [*wrap_lines(parts, "Coverage: ", ".", "; "), *notes]


def daily_liquidations_chart(data: ReportData) -> ReportChart:
    """The article's first chart: long against short liquidations per UTC day, stacked.

    The coin's liquidations across venues where the lake has the coin-level table, titled with
    the venues and coverage kinds they stand on; the perpetual's own on days without it.
    """
    frame = data.daily_liquidations
    request = data.request
    by_side = frame.group_by("side").agg(pl.col("usd").sum()).sort("side")
    totals = dict(zip(by_side["side"].to_list(), by_side["usd"].to_list(), strict=True))
    # The earliest of equally heavy days, whatever order the days were summed in.
    by_day = (
        frame.group_by("day")
        .agg(pl.col("usd").sum())
        .sort(["usd", "day"], descending=[True, False])
    )
    heaviest = (
        f"; the heaviest day, {by_day['day'][0]}, cleared {format_usd(by_day['usd'][0])}"
        if by_day.height and by_day["usd"][0] > 0
        else ""
    )
    summary = (
        f"Longs liquidated {format_usd(totals.get('longs liquidated', 0.0))}, shorts "
        f"{format_usd(totals.get('shorts liquidated', 0.0))} over the range{heaviest}."
    )
    coverage = liquidation_coverage(frame)
    if coverage:
        venues = [f"{venue} ({', '.join(kinds)})" for venue, kinds in coverage.items()]
        title = f"Daily liquidations, {data.coin} across {', '.join(venues)}"
        listed: list[str] = []
        if len(title) > TITLE_CHARACTERS:
            title = f"Daily liquidations, {data.coin} across {len(venues)} venues"
            listed = wrap_lines(venues, "Venues: ", ".")
        perpetual_days = frame.filter(pl.col("scope") == "perpetual")["day"].n_unique()
        fallback = (
            [
                f"{perpetual_days} day(s) without coin-level totals show {request.symbol} on "
                f"{request.exchange} alone (Binance's sampled snapshots)."
            ]
            if perpetual_days
            else []
        )
        subtitle = [summary, *listed, *_coverage_lines(coverage), *fallback]
    else:
        title = f"Daily liquidations, {request.symbol} on {request.exchange}"
        subtitle = [summary, SAMPLED_SNAPSHOTS_NOTE]
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("utcyearmonthdate(day):T", title=None, axis=alt.Axis(format="%b %d")),
            y=alt.Y("usd:Q", stack="zero", axis=usd_axis("liquidated, USD")),
            color=alt.Color(
                "side:N",
                scale=alt.Scale(
                    domain=["longs liquidated", "shorts liquidated"], range=[LONGS, SHORTS]
                ),
                legend=alt.Legend(title=None, orient="top-left"),
            ),
            order=alt.Order("side:N", sort="ascending"),
            tooltip=[
                alt.Tooltip("day:N", title="day (UTC)"),
                alt.Tooltip("side:N"),
                alt.Tooltip("usd:Q", title="USD", format="$,.0f"),
                alt.Tooltip("orders:Q", title="forced orders", format=","),
                alt.Tooltip("usd_complete:Q", title="of which complete, USD", format="$,.0f"),
                alt.Tooltip("usd_sampled:Q", title="of which sampled, USD", format="$,.0f"),
                alt.Tooltip("usd_estimated:Q", title="of which estimated, USD", format="$,.0f"),
                alt.Tooltip("venue_coverage:N", title="venues (coverage)"),
            ],
        )
        .properties(width=WIDTH, height=280, title=chart_title(title, *subtitle))
    )
    return ReportChart(
        key="liquidations",
        title="Daily long vs short liquidations",
        description=(
            "What was force-closed each UTC day, on every venue of the coin the warehouse "
            "holds liquidations for. A tall red bar is a flush: longs carried too much leverage "
            "into a drop and the exchanges sold them into the market."
        ),
        chart=chart,
        points=frame.filter(pl.col("usd") > 0).height,
    )

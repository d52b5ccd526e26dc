"""The funding chart (``report_funding.sql`` and ``report_funding_cross_venue.sql``): each
venue's settlements per 8 hours and annualised, under the coin's open-interest-weighted rate."""

from typing import Final

import altair as alt
import polars as pl

from transforms.report.buckets import Resolution, bucket_funding, bucket_funding_cross_venue
from transforms.report.charts.style import (
    WIDTH,
    ReportChart,
    bucketed_note,
    chart_title,
    count_range,
    hover_rule,
    instant_title,
    time_x,
    utc_tooltip,
    venue_list,
)
from transforms.report.data import ReportData

VENUE_COLOURS: Final = (
    "#4c78a8",
    "#f58518",
    "#e45756",
    "#72b7b2",
    "#54a24b",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
)
"""One colour per venue of the funding chart (Tableau 10, in venue order), ten before a repeat."""
CROSS_VENUE: Final = "#000000"
CROSS_VENUE_LABEL: Final = "all venues, OI-weighted"
"""The funding chart's legend entry for the coin's open-interest-weighted rate across venues."""

FUNDING_ANCHOR_PCT: Final = 0.01
"""Binance's resting funding rate, 0.01% per 8 hours."""
SETTLEMENTS_PER_YEAR_AT_8H: Final = 3 * 365
"""``funding_rate_apr`` is ``funding_rate_8h`` × 1095 whatever the interval: one scale."""


def _cross_venue_funding_note(data: ReportData) -> str:
    """The subtitle line on the black line: the venues it weighs, or why it is missing."""
    cross = data.funding_cross_venue
    if not cross.height:
        return (
            f"No open-interest-weighted line: the lake holds no cross-venue funding of {data.coin} "
            "in the range (fct_funding_cross_venue)."
        )
    resolution = data.request.resolution
    every = f"hourly ({resolution.label} means)" if resolution.bucketed else resolution.label
    return (
        f"Black, stepped: each venue's latest settlement weighted by its USD open interest, "
        f"{every}, across {', '.join(venue_list(cross['venues']))} "
        f"({count_range(cross['oi_weighted_venue_count'])} with open interest)."
    )


def _funding_tooltip(resolution: Resolution) -> list[alt.Tooltip]:
    """A settlement's numbers; over a bucket, its settlements' mean and what they paid."""
    if not resolution.bucketed:
        return [
            alt.Tooltip("venue:N"),
            utc_tooltip("settled_at", "settled"),
            alt.Tooltip("rate_pct:Q", title="rate, % per interval", format=".4f"),
            alt.Tooltip("interval_hours:Q", title="interval, h"),
            alt.Tooltip("rate_8h_pct:Q", title="% per 8h", format=".4f"),
            alt.Tooltip("apr_pct:Q", title="annualised, %", format=".1f"),
        ]
    return [
        alt.Tooltip("venue:N"),
        utc_tooltip("settled_at", instant_title(resolution)),
        alt.Tooltip("settlements:Q", title="settlements"),
        alt.Tooltip("rate_pct:Q", title=f"paid over the {resolution.span}, %", format=".4f"),
        alt.Tooltip("interval_hours:Q", title="last interval, h"),
        alt.Tooltip("rate_8h_pct:Q", title="mean % per 8h", format=".4f"),
        alt.Tooltip("apr_pct:Q", title="mean annualised, %", format=".1f"),
    ]


def funding_chart(data: ReportData) -> ReportChart:
    """The article's second chart: each settlement per venue, per 8 hours and annualised.

    Every venue of the coin is a line of its own colour (the article's BitMEX against Binance),
    and the coin's open-interest-weighted rate across venues is drawn over them in black: the
    cost of leverage where the positions are, which one venue's outlier does not move much.
    """
    resolution = data.request.resolution
    frame = bucket_funding(data.funding, resolution)
    cross = bucket_funding_cross_venue(data.funding_cross_venue, resolution).with_columns(
        venue=pl.lit(CROSS_VENUE_LABEL)
    )
    rates = [*frame["rate_8h_pct"].drop_nulls(), *cross["rate_8h_pct"].drop_nulls()]
    low = min([0.0, *rates])
    high = max([FUNDING_ANCHOR_PCT, *rates])
    pad = (high - low) * 0.05
    domain = [low - pad, high + pad]
    per_8h_scale = alt.Scale(domain=domain, nice=False, zero=False)
    venues = sorted(frame["venue"].unique().to_list())
    series = [*venues, *([CROSS_VENUE_LABEL] if cross.height else [])]
    colours = [VENUE_COLOURS[i % len(VENUE_COLOURS)] for i in range(len(venues))]
    colour = alt.Color(
        "venue:N",
        scale=alt.Scale(domain=series, range=[*colours, CROSS_VENUE][: len(series)]),
        # An empty legend inside the plot has no size, and Vega cannot lay the chart out.
        legend=alt.Legend(title=None, orient="top-left") if series else None,
    )
    # Two axes for one quantity: the annualised axis is the 8-hour axis times 1095, so both
    # scales get explicit, proportional domains and their gridlines agree.
    base = alt.Chart(frame).encode(x=time_x("settled_at"))
    per_8h = base.mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=1.5).encode(
        y=alt.Y("rate_8h_pct:Q", title="funding, % per 8h", scale=per_8h_scale),
        color=colour,
        tooltip=_funding_tooltip(resolution),
    )
    # A venue's rate holds from its settlement to the next: the weighted line steps hourly.
    weighted = (
        alt.Chart(cross)
        .mark_line(interpolate="step-after", strokeWidth=2)
        .encode(x=time_x("hour"), y=alt.Y("rate_8h_pct:Q", scale=per_8h_scale), color=colour)
    )
    over = f", {resolution.label} mean" if resolution.bucketed else ""
    weighted_hover = hover_rule(
        "hover_funding",
        cross,
        "hour",
        [
            utc_tooltip("hour", instant_title(resolution)),
            *([alt.Tooltip("hours:Q", title="hours averaged")] if resolution.bucketed else []),
            alt.Tooltip("rate_8h_pct:Q", title=f"OI-weighted, % per 8h{over}", format=".4f"),
            alt.Tooltip("apr_pct:Q", title=f"OI-weighted, annualised %{over}", format=".1f"),
            alt.Tooltip("mean_8h_pct:Q", title=f"plain mean, % per 8h{over}", format=".4f"),
            alt.Tooltip("venues:N", title="venues"),
            alt.Tooltip("oi_weighted_venue_count:Q", title="venues with open interest"),
            alt.Tooltip("oi_usd_weight:Q", title="open interest weighed, USD", format="$,.0f"),
        ],
    )
    anchor = (
        alt.Chart(alt.Data(values=[{"anchor": FUNDING_ANCHOR_PCT}]))
        .mark_rule(strokeDash=[4, 4], color="#777777")
        .encode(y=alt.Y("anchor:Q", scale=per_8h_scale))
    )
    annualised = base.mark_line(opacity=0).encode(
        y=alt.Y(
            "apr_pct:Q",
            axis=alt.Axis(title="annualised, % APR", orient="right"),
            scale=alt.Scale(
                domain=[bound * SETTLEMENTS_PER_YEAR_AT_8H for bound in domain],
                nice=False,
                zero=False,
            ),
        )
    )
    exchanges = sorted({venue.split(" ")[0] for venue in venues})
    on = f" on {', '.join(exchanges)}" if exchanges else ""
    # The hover's invisible points lie under the venues' settlements, whose tooltips win.
    per_8h_layers = [anchor, weighted_hover, weighted, per_8h] if cross.height else [anchor, per_8h]
    chart = (
        alt.layer(alt.layer(*per_8h_layers), annualised)
        .resolve_scale(y="independent")
        .properties(
            width=WIDTH,
            height=260,
            title=chart_title(
                (
                    f"Funding, {resolution.label} mean of the settlements, {data.coin} "
                    f"perpetuals{on}"
                    if resolution.bucketed
                    else f"Funding per settlement, {data.coin} perpetuals{on}"
                ),
                "Rescaled to 8 hours (left) and annualised (right); dashed: the 0.01%/8h "
                "anchor (10.95% APR). Above it, longs pay to stay crowded.",
                *bucketed_note(resolution, "each venue's settlements in it, weighted by interval"),
                _cross_venue_funding_note(data),
            ),
        )
    )
    return ReportChart(
        key="funding",
        title="Funding per settlement, per venue",
        description=(
            "The cost of holding leverage at each settlement on every venue trading the coin, "
            "and across venues weighted by where the open interest is. Persistently elevated "
            "funding means crowded longs: the fuel of the next flush."
        ),
        chart=chart,
        points=frame.filter(pl.col("rate_8h_pct").is_not_null()).height + cross.height,
    )

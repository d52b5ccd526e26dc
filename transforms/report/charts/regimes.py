"""The regime timeline (``report_regimes.sql`` and ``report_flush_events.sql``): the price over
a band of hourly regimes, each resolved flush event shaded and labelled."""

from statistics import median
from typing import Final

import altair as alt
import polars as pl

from transforms.report.buckets import bucket_regimes
from transforms.report.charts.style import (
    PRICE,
    WIDTH,
    ReportChart,
    bucketed_note,
    chart_title,
    hover_rule,
    instant_title,
    time_x,
    utc_tooltip,
)
from transforms.report.data import ReportData

REGIME_COLOURS: Final = {
    "flush": "#d62728",
    "squeeze": "#9467bd",
    "leverage_build": "#ff7f0e",
    "latent_fragility": "#e7ba52",
    "short_build": "#8c564b",
    "spot_absorption": "#17becf",
    "reset": "#2ca02c",
    "neutral": "#d9d9d9",
}
"""DESIGN.md §7's labels in their priority order, each with its colour on the timeline."""


def _flush_summary(events: pl.DataFrame) -> list[str]:
    """Subtitle lines on the flush events, each short enough not to widen the chart."""
    unresolved = "A flush shows on the band alone until it resolves, up to a week after it ends."
    if not events.height:
        return ["No flush event of the range has resolved yet.", unresolved]
    treadmill = events.filter(pl.col("treadmill")).height
    relever = events["relever_hours"].drop_nulls().to_list()
    relevered = f"; traders re-levered after a median {median(relever):.0f} h" if relever else ""
    return [
        f"{events.height} flush event(s) shaded red, labelled with the drawdown; {treadmill} "
        f"followed by another flush within a week (the treadmill){relevered}.",
        unresolved,
    ]


def regime_chart(data: ReportData) -> ReportChart:
    """The price over a band of hourly regimes, each resolved flush event shaded and labelled.

    Over a long range the band draws each bucket's most frequent regime (the flush events are
    shaded at their own hours whatever the bucket); the hours per regime are counted by hour.
    """
    resolution = data.request.resolution
    frame = bucket_regimes(data.regimes, resolution, list(REGIME_COLOURS))
    events = data.flush_events.with_columns(label=pl.format("{}%", pl.col("drawdown_pct").round(1)))
    request = data.request
    counts = data.regimes.group_by("regime").len().sort(["len", "regime"], descending=[True, False])
    summary = ", ".join(f"{row['regime']} {row['len']} h" for row in counts.iter_rows(named=True))
    price = (
        alt.Chart(frame)
        .mark_line(color=PRICE, strokeWidth=1.5)
        .encode(
            x=time_x("hour"),
            y=alt.Y("close:Q", scale=alt.Scale(zero=False), axis=alt.Axis(title="price, USD")),
        )
    )
    flushes = alt.Chart(events).encode(
        x=time_x("start_ts"),
        tooltip=[
            utc_tooltip("start_ts", "flush from"),
            utc_tooltip("end_ts", "to"),
            alt.Tooltip("duration_hours:Q", title="hours"),
            alt.Tooltip("drawdown_pct:Q", title="drawdown, %", format=".2f"),
            alt.Tooltip("oi_drop_pct:Q", title="open interest change, %", format=".2f"),
            alt.Tooltip("long_liq_usd:Q", title="longs liquidated, USD", format="$,.0f"),
            alt.Tooltip("short_liq_usd:Q", title="shorts liquidated, USD", format="$,.0f"),
            alt.Tooltip("funding_before_8h_pct:Q", title="funding before, %/8h", format=".4f"),
            alt.Tooltip("funding_after_8h_pct:Q", title="funding after, %/8h", format=".4f"),
            alt.Tooltip("relever_hours:Q", title="re-levered after, h"),
            alt.Tooltip("treadmill:N", title="another flush within a week"),
        ],
    )
    flush_spans = flushes.mark_rect(color=REGIME_COLOURS["flush"], opacity=0.18).encode(
        x2="end_ts:T"
    )
    flush_labels = flushes.mark_text(
        align="left", baseline="top", dx=2, color=REGIME_COLOURS["flush"], fontSize=11
    ).encode(y=alt.value(4), text="label:N")
    tooltip = [
        utc_tooltip("hour", instant_title(resolution)),
        alt.Tooltip("regime:N", title="most hours" if resolution.bucketed else "regime"),
        *(
            [
                alt.Tooltip("regime_hours:Q", title="hours with that regime"),
                alt.Tooltip("hours:Q", title=f"hours in the {resolution.span}"),
            ]
            if resolution.bucketed
            else []
        ),
        alt.Tooltip("close:Q", title="close", format="$,.2f"),
    ]
    band = (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=time_x("hour"),
            x2="hour_end:T",
            color=alt.Color(
                "regime:N",
                scale=alt.Scale(domain=list(REGIME_COLOURS), range=list(REGIME_COLOURS.values())),
                legend=alt.Legend(title="regime", orient="bottom", columns=4),
            ),
            tooltip=tooltip,
        )
        .properties(width=WIDTH, height=36)
    )
    chart = alt.vconcat(
        alt.layer(
            flush_spans,
            price,
            hover_rule("hover_regime", frame, "hour", tooltip),
            flush_labels,
        ).properties(width=WIDTH, height=220),
        band,
        spacing=2,
        title=chart_title(
            f"Regime timeline and flush events, {request.symbol} on {request.exchange}",
            f"Hours per regime: {summary}.",
            *_flush_summary(data.flush_events),
            *bucketed_note(
                resolution, "the band shows its most frequent regime, the line its last close"
            ),
        ),
    ).resolve_scale(x="shared")
    return ReportChart(
        key="regimes",
        title="Regime timeline with flush events",
        description=(
            "Each hour's regime from price, open interest, funding and liquidations (DESIGN "
            "§7): leverage builds (orange), flushes (red), resets (green). Each flush event is "
            "shaded above; flushes that keep coming back within a week are the treadmill."
        ),
        chart=chart,
        points=frame.filter(pl.col("regime").is_not_null()).height,
    )

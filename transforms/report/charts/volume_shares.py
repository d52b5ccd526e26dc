"""The volume shares chart (``report_volume_shares.sql``): each day's spot, perpetual and
delivery volume of the coin, stacked to 100%, drawn when the range has delivery volume."""

from typing import Final

import altair as alt
import polars as pl

from transforms.report.charts.style import (
    WIDTH,
    ReportChart,
    chart_title,
    format_usd,
    venue_list,
    wrap_lines,
)
from transforms.report.data import ReportData

VOLUME_KINDS: Final = {
    "spot": "#2ca02c",
    "perpetual": "#1f77b4",
    "delivery": "#ff7f0e",
}
"""The volume-share chart's three kinds, stacked from the bottom in this order."""


def has_delivery_volume(data: ReportData) -> bool:
    """The range has the coin's volume split with delivery futures in it: the volume-share chart
    is drawn then (a lake without delivery contracts has nothing for it to add)."""
    return (data.volume_shares["delivery_volume_usd"].fill_null(0.0) > 0).any()


def volume_share_chart(data: ReportData) -> ReportChart:
    """Each day's share of spot, perpetual and delivery volume of the coin, stacked to 100%."""
    frame = data.volume_shares
    coin = data.coin
    days = frame.filter(pl.col("total_volume_usd") > 0)
    long = days.unpivot(
        on=[f"{kind}_share" for kind in VOLUME_KINDS],
        index=["day", "total_volume_usd", "venues"],
        variable_name="kind",
        value_name="share",
    ).with_columns(
        kind=pl.col("kind").str.strip_suffix("_share"),
        order=pl.col("kind").replace_strict({f"{k}_share": i for i, k in enumerate(VOLUME_KINDS)}),
    )
    volumes = days.unpivot(
        on=[f"{kind}_volume_usd" for kind in VOLUME_KINDS],
        index=["day"],
        variable_name="kind",
        value_name="volume_usd",
    ).with_columns(kind=pl.col("kind").str.strip_suffix("_volume_usd"))
    long = long.join(volumes, on=["day", "kind"], how="left")
    if days.height:
        totals = {kind: float(days[f"{kind}_volume_usd"].sum()) for kind in VOLUME_KINDS}
        total = sum(totals.values())
        split = ", ".join(
            f"{kind} {totals[kind] / total:.1%} ({format_usd(totals[kind])})"
            for kind in VOLUME_KINDS
        )
        venues = venue_list(days["venues"])
        subtitle = [
            f"Over the range, of {format_usd(total)} traded: {split}.",
            *wrap_lines(
                venues, "Summed over ", ": each day's volume in USD (volume_quote) by kind."
            ),
        ]
    else:
        subtitle = [f"No volume of {coin} in the range (fct_volume_shares_1d)."]
    chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("utcyearmonthdate(day):T", title=None, axis=alt.Axis(format="%b %d")),
            y=alt.Y(
                "share:Q",
                stack="zero",
                scale=alt.Scale(domain=[0.0, 1.0]),
                axis=alt.Axis(title="share of the day's volume", format=".0%"),
            ),
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(domain=list(VOLUME_KINDS), range=list(VOLUME_KINDS.values())),
                legend=alt.Legend(title=None, orient="top", direction="horizontal"),
            ),
            order=alt.Order("order:Q", sort="ascending"),
            tooltip=[
                alt.Tooltip("day:N", title="day (UTC)"),
                alt.Tooltip("kind:N"),
                alt.Tooltip("share:Q", title="share", format=".1%"),
                alt.Tooltip("volume_usd:Q", title="volume, USD", format="$,.0f"),
                alt.Tooltip("total_volume_usd:Q", title="all kinds, USD", format="$,.0f"),
                alt.Tooltip("venues:N", title="venues"),
            ],
        )
        .properties(
            width=WIDTH,
            height=240,
            title=chart_title(
                f"Volume shares, {coin}: spot, perpetual and delivery futures, daily", *subtitle
            ),
        )
    )
    return ReportChart(
        key="volume_shares",
        title="Spot, perpetual and delivery volume shares",
        description=(
            "Where the coin trades: each day's volume in USD split into spot, perpetuals and "
            "dated futures. When perpetuals trade most of it, leverage sets the price, and a "
            "flush moves it."
        ),
        chart=chart,
        points=days.height,
    )

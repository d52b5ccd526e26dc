"""The open interest chart (``report_open_interest.sql`` and
``report_open_interest_by_type.sql``): the perpetual's open interest in base units and USD with
the price, the coin's summed over its venues, and its perpetual and delivery contracts stacked."""

from typing import Final

import altair as alt
import polars as pl

from transforms.report.buckets import (
    Resolution,
    bucket_open_interest,
    bucket_open_interest_by_type,
)
from transforms.report.charts.style import (
    PRICE,
    USD_SI_LABELS,
    WIDTH,
    ReportChart,
    bucketed_note,
    chart_title,
    count_range,
    format_usd,
    hover_rule,
    instant_title,
    time_x,
    usd_axis,
    utc_tooltip,
    venue_list,
)
from transforms.report.data import ReportData

OPEN_INTEREST: Final = "#1f77b4"
OPEN_INTEREST_USD: Final = "#9467bd"
CONTRACT_TYPE_COLOURS: Final = {"perpetual": "#1f77b4", "delivery": "#ff7f0e"}
"""The stacked open interest panel's two layers: perpetuals below, delivery contracts above."""


def _all_venues_panel(frame: pl.DataFrame, coin: str, resolution: Resolution) -> alt.LayerChart:
    """The coin's open interest summed over its venues: base units on the left, USD on the right.

    One perpetual's open interest can fall while traders move to another venue; the sum says
    whether leverage left the coin. It is labelled with the venues it adds up.
    """
    venues = ", ".join(venue_list(frame["all_venues"]))
    counts = count_range(frame["all_venue_count"])
    base = alt.Chart(frame).encode(x=time_x("hour"))
    in_base = base.mark_line(color=OPEN_INTEREST, strokeWidth=2).encode(
        y=alt.Y(
            "all_oi_base:Q",
            scale=alt.Scale(zero=False),
            axis=alt.Axis(title=f"all venues, {coin}", format=",.0f", titleColor=OPEN_INTEREST),
        )
    )
    in_usd = base.mark_line(color=OPEN_INTEREST_USD, strokeWidth=1.5, strokeDash=[5, 3]).encode(
        y=alt.Y(
            "all_oi_usd:Q",
            scale=alt.Scale(zero=False),
            axis=alt.Axis(
                title="all venues, USD",
                orient="right",
                format="$~s",
                labelExpr=USD_SI_LABELS,
                titleColor=OPEN_INTEREST_USD,
            ),
        )
    )
    tooltip = [
        utc_tooltip("hour", instant_title(resolution)),
        alt.Tooltip("all_oi_base:Q", title=f"all venues, {coin}", format=",.0f"),
        alt.Tooltip("all_oi_usd:Q", title="all venues, USD", format="$,.0f"),
        alt.Tooltip("all_venues:N", title="venues summed"),
        alt.Tooltip("oi_base:Q", title=f"this perpetual, {coin}", format=",.0f"),
    ]
    return (
        alt.layer(in_base, in_usd, hover_rule("hover_all_venues", frame, "hour", tooltip))
        .resolve_scale(y="independent")
        .properties(
            width=WIDTH,
            height=200,
            title=alt.Title(
                f"All {coin} venues summed, {coin} (solid, left) and USD (dashed, right)",
                subtitle=[
                    f"The last reading of each {resolution.span} on {venues} ({counts} per "
                    f"{resolution.span})."
                ],
                anchor="start",
            ),
        )
    )


def open_interest_chart(data: ReportData) -> ReportChart:
    """The article's third chart: open interest in base units and in USD, the price over both.

    Below the perpetual's own, the coin's open interest summed over every venue that reports
    it, when the lake holds the cross-venue fact for the range.
    """
    resolution = data.request.resolution
    frame = bucket_open_interest(data.open_interest, resolution)
    coin = data.coin
    all_venues = frame.filter(pl.col("all_oi_base").is_not_null())
    base = alt.Chart(frame).encode(x=time_x("hour"))
    price = base.mark_line(color=PRICE, strokeWidth=1, opacity=0.8).encode(
        y=alt.Y(
            "close:Q",
            scale=alt.Scale(zero=False),
            axis=alt.Axis(title="price, USD", orient="right", titleColor=PRICE, format="$,.0f"),
        )
    )
    tooltip = [
        utc_tooltip("hour", instant_title(resolution)),
        alt.Tooltip("oi_base:Q", title=f"open interest, {coin}", format=",.0f"),
        alt.Tooltip("oi_usd:Q", title="open interest, USD", format="$,.0f"),
        alt.Tooltip("close:Q", title="close", format="$,.2f"),
    ]

    def panel(field: str, title: str, colour: str, axis: alt.Axis) -> alt.LayerChart:
        open_interest = base.mark_line(color=colour, strokeWidth=2).encode(
            y=alt.Y(f"{field}:Q", scale=alt.Scale(zero=False), axis=axis)
        )
        return (
            alt.layer(open_interest, price, hover_rule(f"hover_{field}", frame, "hour", tooltip))
            .resolve_scale(y="independent")
            .properties(width=WIDTH, height=200, title=alt.Title(title, anchor="start"))
        )

    chart = alt.vconcat(
        panel(
            "oi_base",
            f"In {coin}: positions opened and closed",
            OPEN_INTEREST,
            alt.Axis(title=f"open interest, {coin}", format=",.0f", titleColor=OPEN_INTEREST),
        ),
        panel(
            "oi_usd",
            "In USD: also rises and falls with the price",
            OPEN_INTEREST_USD,
            alt.Axis(
                title="open interest, USD",
                format="$~s",
                labelExpr=USD_SI_LABELS,
                titleColor=OPEN_INTEREST_USD,
            ),
        ),
        *([_all_venues_panel(all_venues, coin, resolution)] if all_venues.height else []),
        *(
            [_contract_type_panel(data.open_interest_by_type, coin, resolution)]
            if has_delivery_open_interest(data)
            else []
        ),
        title=chart_title(
            f"Open interest, {data.request.symbol} on {data.request.exchange}, "
            f"{resolution.label}, with the price (grey, right axis)",
            "Price up with open interest up is leverage building; price down with open interest "
            "down is positions closing, often by liquidation.",
            *bucketed_note(resolution, "the last reading of open interest and the last close"),
        ),
    ).resolve_scale(x="shared")
    perpetual = pl.col("oi_base").is_not_null() & pl.col("close").is_not_null()
    return ReportChart(
        key="open_interest",
        title="Open interest in base units and USD, with the price",
        description=(
            "Open interest is the stock of open contracts. Read it in base units: USD open "
            "interest rises with the price even when nobody opens a position. Summed over the "
            "coin's venues, it says whether leverage left the coin or only moved venue."
        ),
        chart=chart,
        points=frame.filter(perpetual | pl.col("all_oi_base").is_not_null()).height,
    )


def has_delivery_open_interest(data: ReportData) -> bool:
    """The lake holds the coin's delivery contracts' USD open interest in the range."""
    frame = data.open_interest_by_type
    return frame.filter((pl.col("contract_type") == "delivery") & (pl.col("oi_usd") > 0)).height > 0


def _contract_type_panel(frame: pl.DataFrame, coin: str, resolution: Resolution) -> alt.Chart:
    """The coin's USD open interest over its venues, perpetual and delivery contracts stacked.

    The subtitle's last share is the last hour's; a long range draws each bucket's last hour.
    """
    delivery = frame.filter(pl.col("contract_type") == "delivery")
    last = delivery.filter(pl.col("oi_usd").is_not_null()).row(-1, named=True)
    total = frame.filter(pl.col("hour") == last["hour"])["oi_usd"].sum()
    share = last["oi_usd"] / total if total else 0.0
    ordered = bucket_open_interest_by_type(frame, resolution).with_columns(
        order=pl.col("contract_type").replace_strict({"perpetual": 0, "delivery": 1}, default=2)
    )
    tooltip = [
        utc_tooltip("hour", instant_title(resolution)),
        alt.Tooltip("contract_type:N", title="contracts"),
        alt.Tooltip("oi_usd:Q", title="open interest, USD", format="$,.0f"),
        alt.Tooltip("instruments:Q", title="instruments summed"),
        alt.Tooltip("symbols:N", title="which"),
    ]
    area = (
        alt.Chart(ordered)
        .mark_area(opacity=0.85, interpolate="step-after")
        .encode(
            x=time_x("hour"),
            y=alt.Y(
                "oi_usd:Q",
                stack="zero",
                impute=alt.ImputeParams(value=0),
                axis=usd_axis(f"{coin} open interest, USD"),
            ),
            color=alt.Color(
                "contract_type:N",
                scale=alt.Scale(
                    domain=list(CONTRACT_TYPE_COLOURS), range=list(CONTRACT_TYPE_COLOURS.values())
                ),
                legend=alt.Legend(title=None, orient="top-left"),
            ),
            order=alt.Order("order:Q", sort="ascending"),
            tooltip=tooltip,
        )
    )
    return area.properties(
        width=WIDTH,
        height=200,
        title=alt.Title(
            f"All {coin} venues, USD: perpetual and delivery contracts stacked",
            subtitle=[
                "Each instrument's last reading of the hour, summed by kind"
                + (f", at each {resolution.span}'s last hour" if resolution.bucketed else "")
                + f"; delivery contracts held {format_usd(last['oi_usd'])}, {share:.1%} of the "
                f"total, at {last['hour'][:13].replace('T', ' ')}:00 UTC."
            ],
            anchor="start",
        ),
    )

"""The liquidation heatmap chart (``report_heatmap.sql`` and ``report_hot_zones.sql``): the
range's latest estimated liquidation levels and their hot zones beside the week's price (the
hourly closes of ``report_open_interest.sql``)."""

from datetime import date, datetime, timedelta
from typing import Final

import altair as alt
import polars as pl

from transforms.report.charts.style import (
    LONGS,
    PRICE,
    SHORTS,
    WIDTH,
    ReportChart,
    chart_title,
    format_usd,
    time_x,
    usd_axis,
    utc_tooltip,
)
from transforms.report.data import ReportData

HOT_ZONE: Final = "#ff7f0e"
HEATMAP_PRICE_CONTEXT: Final = timedelta(days=7)


def _price_context(data: ReportData, as_of: datetime) -> pl.DataFrame:
    """The hourly closes of the week before the heatmap's instant: the price it is read against."""
    hours = data.open_interest.with_columns(
        instant=pl.col("hour").str.strptime(pl.Datetime, "%Y-%m-%dT%H:%M:%SZ")
    )
    return hours.filter(
        (pl.col("instant") <= as_of)
        & (pl.col("instant") > as_of - HEATMAP_PRICE_CONTEXT)
        & pl.col("close").is_not_null()
    ).drop("instant")


def _labelled_zones(zones: pl.DataFrame) -> pl.DataFrame:
    labels = [
        f"hot zone {zone['position']}: {zone['price_low']:,.0f}–{zone['price_high']:,.0f} "
        f"({zone['distance_pct']:+.1f}%), est. {format_usd(zone['est_notional_usd'])}"
        for zone in zones.iter_rows(named=True)
    ]
    return zones.with_columns(label=pl.Series(labels, dtype=pl.String))


def _stale_heatmap_note(as_of: str, last: date) -> list[str]:
    """Why the heatmap is older than the range, when it is: its book held no open levels."""
    if as_of.startswith(last.isoformat()):
        return []
    return [
        f"No estimated level was left open on the later days up to {last} (price crossed them "
        "or open interest unwound)."
    ]


def heatmap_chart(data: ReportData) -> ReportChart:
    """The range's latest estimated liquidation levels beside the week's price, hot zones marked."""
    bins = data.heatmap
    request = data.request
    as_of = bins["as_of"][0] if bins.height else "no heatmap in the range"
    closes = bins["close"].drop_nulls()
    close = [{"close": float(closes[0])}] if closes.len() else []
    context = _price_context(
        data, datetime.strptime(as_of, "%Y-%m-%d %H:%M UTC") if bins.height else datetime.max
    )
    zones = _labelled_zones(data.hot_zones)
    prices = [*bins["price_low"], *bins["price_high"], *context["close"]]
    price_scale = alt.Scale(
        domain=[min(prices), max(prices)] if prices else [0.0, 1.0], nice=False, zero=False
    )
    price_axis = alt.Axis(title="price, USD", format="$,.0f")

    def price_y(field: str, axis: alt.Axis | None) -> alt.Y:
        return alt.Y(f"{field}:Q", scale=price_scale, axis=axis)

    def zone_bands(axis: alt.Axis | None) -> alt.Chart:
        return (
            alt.Chart(zones)
            .mark_rect(color=HOT_ZONE, opacity=0.25)
            .encode(
                y=price_y("price_low", axis),
                y2="price_high:Q",
                tooltip=[
                    alt.Tooltip("label:N", title="hot zone"),
                    alt.Tooltip("share:Q", title="share of the book", format=".1%"),
                ],
            )
        )

    def close_rule(axis: alt.Axis | None) -> alt.Chart:
        return (
            alt.Chart(alt.Data(values=close))
            .mark_rule(strokeDash=[5, 3], color=PRICE)
            .encode(y=price_y("close", axis))
        )

    price_line = (
        alt.Chart(context)
        .mark_line(color=PRICE, strokeWidth=1.5)
        .encode(
            x=time_x("hour"),
            y=price_y("close", price_axis),
            tooltip=[
                utc_tooltip("hour", "hour"),
                alt.Tooltip("close:Q", title="close", format="$,.2f"),
            ],
        )
    )
    zone_labels = (
        alt.Chart(zones)
        .mark_text(align="left", baseline="bottom", dx=4, dy=-2, color="#a04000", fontSize=11)
        .encode(x=alt.value(0), y=price_y("price_high", price_axis), text="label:N")
    )
    levels = (
        alt.Chart(bins.with_columns(no_notional=pl.lit(0.0)))
        .mark_rect(opacity=0.85)
        .encode(
            y=price_y("price_low", None),
            y2="price_high:Q",
            x=alt.X("no_notional:Q", axis=usd_axis("estimated notional, USD")),
            x2="est_notional_usd:Q",
            color=alt.Color(
                "side:N",
                scale=alt.Scale(domain=["long", "short"], range=[LONGS, SHORTS]),
                legend=alt.Legend(
                    title=None,
                    orient="bottom",
                    labelExpr="datum.label == 'long' ? 'long liquidation levels' : "
                    "'short liquidation levels'",
                ),
            ),
            tooltip=[
                alt.Tooltip("side:N", title="positions liquidated"),
                alt.Tooltip("price_low:Q", title="from", format="$,.0f"),
                alt.Tooltip("price_high:Q", title="to", format="$,.0f"),
                alt.Tooltip("est_notional_usd:Q", title="estimated USD", format="$,.0f"),
                alt.Tooltip("share:Q", title="share of the book", format=".2%"),
            ],
        )
    )
    chart = alt.hconcat(
        alt.layer(
            zone_bands(price_axis), close_rule(price_axis), price_line, zone_labels
        ).properties(
            width=WIDTH * 0.6, height=380, title=alt.Title("Price, last 7 days", anchor="start")
        ),
        alt.layer(zone_bands(None), close_rule(None), levels).properties(
            width=WIDTH * 0.35,
            height=380,
            title=alt.Title("Estimated liquidation levels", anchor="start"),
        ),
        spacing=4,
        title=chart_title(
            f"Liquidation heatmap (ESTIMATE), {request.symbol} on {request.exchange}, {as_of}",
            "Where leveraged positions would be force-closed: red below the close (longs), "
            "green above (shorts); orange bands: the hot zones; dashed: the close.",
            "An estimate: new open interest spread over leverage tiers at Binance's exact "
            "liquidation prices. Relative intensity, not USD certain to be liquidated.",
            *_stale_heatmap_note(as_of, request.last),
        ),
    ).resolve_scale(y="shared")
    return ReportChart(
        key="heatmap",
        title="Liquidation heatmap (estimate) and hot zones",
        description=(
            "Liquidation levels cluster at common leverage tiers. The hot zones are the "
            "largest clusters below and above the price: where a move would turn into a cascade."
        ),
        chart=chart,
        points=bins.filter(pl.col("est_notional_usd") > 0).height,
    )

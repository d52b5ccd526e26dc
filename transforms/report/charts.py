"""The report's charts, drawn with Altair (Vega-Lite) from :class:`ReportData`.

One function per chart, each returning a :class:`ReportChart`: the Altair chart plus the title,
a sentence on what it means for positioning, and how many data points it draws. Colours mean
the same everywhere: red is longs being liquidated (or a flush), green is shorts.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median
from typing import Final

import altair as alt
import polars as pl

from transforms.report.buckets import (
    BUCKETING_AFTER_DAYS,
    Resolution,
    bucket_funding,
    bucket_funding_cross_venue,
    bucket_open_interest,
    bucket_open_interest_by_type,
    bucket_regimes,
)
from transforms.report.data import ReportData

Chart = alt.Chart | alt.LayerChart | alt.VConcatChart | alt.HConcatChart

WIDTH: Final = 820
"""Every chart's plot width in pixels: with its axes it fits a 1,000-pixel page."""
COVERAGE_LABEL_WIDTH: Final = 300
"""The coverage matrix's row labels (``binance_um premium_index_klines BTCUSDT``) take this much
of its width."""
LONGS: Final = "#d62728"
SHORTS: Final = "#2ca02c"
OPEN_INTEREST: Final = "#1f77b4"
OPEN_INTEREST_USD: Final = "#9467bd"
PRICE: Final = "#444444"
HOT_ZONE: Final = "#ff7f0e"
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

COVERAGE_COLOURS: Final = {
    "ok": "#2ca02c",
    "partial": "#e7ba52",
    "pending": "#17becf",
    "missing": "#d62728",
    "quarantined": "#9467bd",
    "not_published": "#eeeeee",
    "not_checked": "#ffffff",
}

FUNDING_ANCHOR_PCT: Final = 0.01
"""Binance's resting funding rate, 0.01% per 8 hours."""
SETTLEMENTS_PER_YEAR_AT_8H: Final = 3 * 365
"""``funding_rate_apr`` is ``funding_rate_8h`` × 1095 whatever the interval: one scale."""
HEATMAP_PRICE_CONTEXT: Final = timedelta(days=7)
UTC_TIME: Final = alt.Scale(type="utc")
USD_SI_LABELS: Final = "replace(datum.label, 'G', 'B')"
"""d3's SI prefix G (giga) reads as billions in USD."""


@dataclass(frozen=True)
class ReportChart:
    """One chart of the report, with its file stem, title and what it tells a reader."""

    key: str
    title: str
    description: str
    chart: Chart
    points: int
    """Data points drawn (bars, settlements, hours, bins, cells): zero means no data."""


def _title(text: str, *subtitle: str) -> alt.Title:
    return alt.Title(text, subtitle=list(subtitle), anchor="start", fontSize=15)


def _usd_axis(title: str) -> alt.Axis:
    return alt.Axis(title=title, format="$~s", labelExpr=USD_SI_LABELS)


def _usd(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"${value / size:,.1f}{suffix}"
    return f"${value:,.0f}"


def _time_x(field: str) -> alt.X:
    return alt.X(f"{field}:T", scale=UTC_TIME, title=None)


def _utc_tooltip(field: str, title: str) -> alt.Tooltip:
    """An instant in a tooltip, in UTC whatever the reader's time zone."""
    return alt.Tooltip(
        f"utcyearmonthdatehoursminutes({field}):T", title=title, format="%Y-%m-%d %H:%M UTC"
    )


def _hover_rule(
    name: str, frame: pl.DataFrame, field: str, tooltip: list[alt.Tooltip]
) -> alt.LayerChart:
    """A vertical rule that follows the pointer and shows the nearest instant's values.

    ``name`` names the selection: each panel of a compound chart needs its own. The rule layer
    keeps the hovered instant and the first row (transparent: without a row the layer would
    have no extent for the shared time scale, and Vega warns), not a transparent rule per
    instant, which the PNGs spent most of an hourly chart's rendering on and never showed.
    """
    hover = alt.selection_point(
        name=name, fields=[field], nearest=True, on="pointerover", clear="pointerout", empty=False
    )
    base = alt.Chart(frame).encode(x=_time_x(field))
    selectors = base.mark_point(opacity=0, size=1).encode(tooltip=tooltip).add_params(hover)
    rule = (
        base.mark_rule(color="#888888")
        .encode(opacity=alt.when(hover).then(alt.value(0.7)).otherwise(alt.value(0.0)))
        .transform_window(hover_row="row_number()")
        .transform_filter(hover | (alt.datum.hover_row == 1))
    )
    return alt.LayerChart(layer=[selectors, rule])


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
SUBTITLE_CHARACTERS: Final = 115
"""Subtitle lines are wrapped at this length, well within the plot at their smaller font."""


def _wrap(items: list[str], prefix: str, suffix: str, separator: str = ", ") -> list[str]:
    """``prefix``, ``items`` joined by ``separator``, then ``suffix``, in lines that fit."""
    lines, line = [], prefix
    for index, item in enumerate(items):
        piece = item + (separator if index < len(items) - 1 else suffix)
        if line.strip() and len(line) + len(piece.rstrip()) > SUBTITLE_CHARACTERS:
            lines.append(line.rstrip())
            line = ""
        line += piece
    return [*lines, line]


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
    return [*_wrap(parts, "Coverage: ", ".", "; "), *notes]


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
        f"; the heaviest day, {by_day['day'][0]}, cleared {_usd(by_day['usd'][0])}"
        if by_day.height and by_day["usd"][0] > 0
        else ""
    )
    summary = (
        f"Longs liquidated {_usd(totals.get('longs liquidated', 0.0))}, shorts "
        f"{_usd(totals.get('shorts liquidated', 0.0))} over the range{heaviest}."
    )
    coverage = liquidation_coverage(frame)
    if coverage:
        venues = [f"{venue} ({', '.join(kinds)})" for venue, kinds in coverage.items()]
        title = f"Daily liquidations, {data.coin} across {', '.join(venues)}"
        listed: list[str] = []
        if len(title) > TITLE_CHARACTERS:
            title = f"Daily liquidations, {data.coin} across {len(venues)} venues"
            listed = _wrap(venues, "Venues: ", ".")
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
            y=alt.Y("usd:Q", stack="zero", axis=_usd_axis("liquidated, USD")),
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
        .properties(width=WIDTH, height=280, title=_title(title, *subtitle))
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


def _venue_list(column: pl.Series) -> list[str]:
    """The exchanges named in a cross-venue fact's comma-separated ``venues``, over every hour."""
    return sorted({venue for venues in column.drop_nulls() for venue in venues.split(",") if venue})


def _count_range(column: pl.Series) -> str:
    """``4`` when every hour counts the same, ``2–4`` when the count moved over the range."""
    counts = column.drop_nulls().to_list()
    if not counts:
        return "0"
    low, high = min(counts), max(counts)
    return f"{low}" if low == high else f"{low}–{high}"


def _when(resolution: Resolution) -> str:
    """A tooltip's title for a point's instant: its hour, or the start of its bucket."""
    return f"{resolution.span} from" if resolution.bucketed else "hour"


def _bucketed_note(resolution: Resolution, what: str) -> list[str]:
    """The subtitle line saying what a point of a long range's chart stands for."""
    if not resolution.bucketed:
        return []
    return [
        f"Ranges over {BUCKETING_AFTER_DAYS} days draw one point per {resolution.span} (UTC): "
        f"{what}."
    ]


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
        f"{every}, across {', '.join(_venue_list(cross['venues']))} "
        f"({_count_range(cross['oi_weighted_venue_count'])} with open interest)."
    )


def _funding_tooltip(resolution: Resolution) -> list[alt.Tooltip]:
    """A settlement's numbers; over a bucket, its settlements' mean and what they paid."""
    if not resolution.bucketed:
        return [
            alt.Tooltip("venue:N"),
            _utc_tooltip("settled_at", "settled"),
            alt.Tooltip("rate_pct:Q", title="rate, % per interval", format=".4f"),
            alt.Tooltip("interval_hours:Q", title="interval, h"),
            alt.Tooltip("rate_8h_pct:Q", title="% per 8h", format=".4f"),
            alt.Tooltip("apr_pct:Q", title="annualised, %", format=".1f"),
        ]
    return [
        alt.Tooltip("venue:N"),
        _utc_tooltip("settled_at", _when(resolution)),
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
    base = alt.Chart(frame).encode(x=_time_x("settled_at"))
    per_8h = base.mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=1.5).encode(
        y=alt.Y("rate_8h_pct:Q", title="funding, % per 8h", scale=per_8h_scale),
        color=colour,
        tooltip=_funding_tooltip(resolution),
    )
    # A venue's rate holds from its settlement to the next: the weighted line steps hourly.
    weighted = (
        alt.Chart(cross)
        .mark_line(interpolate="step-after", strokeWidth=2)
        .encode(x=_time_x("hour"), y=alt.Y("rate_8h_pct:Q", scale=per_8h_scale), color=colour)
    )
    over = f", {resolution.label} mean" if resolution.bucketed else ""
    weighted_hover = _hover_rule(
        "hover_funding",
        cross,
        "hour",
        [
            _utc_tooltip("hour", _when(resolution)),
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
            title=_title(
                (
                    f"Funding, {resolution.label} mean of the settlements, {data.coin} "
                    f"perpetuals{on}"
                    if resolution.bucketed
                    else f"Funding per settlement, {data.coin} perpetuals{on}"
                ),
                "Rescaled to 8 hours (left) and annualised (right); dashed: the 0.01%/8h "
                "anchor (10.95% APR). Above it, longs pay to stay crowded.",
                *_bucketed_note(resolution, "each venue's settlements in it, weighted by interval"),
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


def _all_venues_panel(frame: pl.DataFrame, coin: str, resolution: Resolution) -> alt.LayerChart:
    """The coin's open interest summed over its venues: base units on the left, USD on the right.

    One perpetual's open interest can fall while traders move to another venue; the sum says
    whether leverage left the coin. It is labelled with the venues it adds up.
    """
    venues = ", ".join(_venue_list(frame["all_venues"]))
    counts = _count_range(frame["all_venue_count"])
    base = alt.Chart(frame).encode(x=_time_x("hour"))
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
        _utc_tooltip("hour", _when(resolution)),
        alt.Tooltip("all_oi_base:Q", title=f"all venues, {coin}", format=",.0f"),
        alt.Tooltip("all_oi_usd:Q", title="all venues, USD", format="$,.0f"),
        alt.Tooltip("all_venues:N", title="venues summed"),
        alt.Tooltip("oi_base:Q", title=f"this perpetual, {coin}", format=",.0f"),
    ]
    return (
        alt.layer(in_base, in_usd, _hover_rule("hover_all_venues", frame, "hour", tooltip))
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
    base = alt.Chart(frame).encode(x=_time_x("hour"))
    price = base.mark_line(color=PRICE, strokeWidth=1, opacity=0.8).encode(
        y=alt.Y(
            "close:Q",
            scale=alt.Scale(zero=False),
            axis=alt.Axis(title="price, USD", orient="right", titleColor=PRICE, format="$,.0f"),
        )
    )
    tooltip = [
        _utc_tooltip("hour", _when(resolution)),
        alt.Tooltip("oi_base:Q", title=f"open interest, {coin}", format=",.0f"),
        alt.Tooltip("oi_usd:Q", title="open interest, USD", format="$,.0f"),
        alt.Tooltip("close:Q", title="close", format="$,.2f"),
    ]

    def panel(field: str, title: str, colour: str, axis: alt.Axis) -> alt.LayerChart:
        open_interest = base.mark_line(color=colour, strokeWidth=2).encode(
            y=alt.Y(f"{field}:Q", scale=alt.Scale(zero=False), axis=axis)
        )
        return (
            alt.layer(open_interest, price, _hover_rule(f"hover_{field}", frame, "hour", tooltip))
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
        title=_title(
            f"Open interest, {data.request.symbol} on {data.request.exchange}, "
            f"{resolution.label}, with the price (grey, right axis)",
            "Price up with open interest up is leverage building; price down with open interest "
            "down is positions closing, often by liquidation.",
            *_bucketed_note(resolution, "the last reading of open interest and the last close"),
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


CONTRACT_TYPE_COLOURS: Final = {"perpetual": "#1f77b4", "delivery": "#ff7f0e"}
"""The stacked open interest panel's two layers: perpetuals below, delivery contracts above."""
VOLUME_KINDS: Final = {
    "spot": "#2ca02c",
    "perpetual": "#1f77b4",
    "delivery": "#ff7f0e",
}
"""The volume-share chart's three kinds, stacked from the bottom in this order."""


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
        _utc_tooltip("hour", _when(resolution)),
        alt.Tooltip("contract_type:N", title="contracts"),
        alt.Tooltip("oi_usd:Q", title="open interest, USD", format="$,.0f"),
        alt.Tooltip("instruments:Q", title="instruments summed"),
        alt.Tooltip("symbols:N", title="which"),
    ]
    area = (
        alt.Chart(ordered)
        .mark_area(opacity=0.85, interpolate="step-after")
        .encode(
            x=_time_x("hour"),
            y=alt.Y(
                "oi_usd:Q",
                stack="zero",
                impute=alt.ImputeParams(value=0),
                axis=_usd_axis(f"{coin} open interest, USD"),
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
                + f"; delivery contracts held {_usd(last['oi_usd'])}, {share:.1%} of the "
                f"total, at {last['hour'][:13].replace('T', ' ')}:00 UTC."
            ],
            anchor="start",
        ),
    )


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
            f"{kind} {totals[kind] / total:.1%} ({_usd(totals[kind])})" for kind in VOLUME_KINDS
        )
        venues = _venue_list(days["venues"])
        subtitle = [
            f"Over the range, of {_usd(total)} traded: {split}.",
            *_wrap(venues, "Summed over ", ": each day's volume in USD (volume_quote) by kind."),
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
            title=_title(
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


CME_BITCOIN: Final = "CME Bitcoin (5 BTC)"
CME_MICRO: Final = "CME Micro Bitcoin (0.1 BTC)"
OFFSHORE: Final = "offshore perpetuals"
CME_COLOURS: Final = {CME_BITCOIN: "#08519c", CME_MICRO: "#6baed6", OFFSHORE: "#000000"}
"""The CME chart's series: the two contracts stacked in blues, the perpetuals' line in black."""


def has_cme_open_interest(data: ReportData) -> bool:
    """A bitcoin report over a range with CFTC's weekly reports: the CME chart has something."""
    return data.cme_open_interest.height > 0


def _btc(value: float) -> str:
    return f"{value:,.0f} BTC"


def _cme_share_lines(frame: pl.DataFrame) -> list[str]:
    """CME's share of the two together: the last week's, and its range over the weeks."""
    shared = frame.filter(pl.col("cme_share").is_not_null())
    if not shared.height:
        return ["No perpetual open interest on those Tuesdays: no CME share to tell."]
    last = shared.row(-1, named=True)
    shares = shared["cme_share"].to_list()
    spread = (
        f"; {min(shares):.1%}–{max(shares):.1%} over {shared.height} weeks"
        if shared.height > 1
        else ""
    )
    return [
        f"CME share of the total: {last['cme_share']:.1%} on {last['week']} (CME "
        f"{_btc(last['cme_btc'])}, perpetuals {_btc(last['offshore_btc'])}){spread}."
    ]


def _offshore_lines(frame: pl.DataFrame, coin: str) -> list[str]:
    """What the perpetuals' line sums, at which hour, and from which table."""
    sampled = frame.filter(pl.col("offshore_btc").is_not_null())
    if not sampled.height:
        return [f"No perpetual open interest of {coin} in the lake on those Tuesdays."]
    hours = sorted({hour[11:16] for hour in sampled["offshore_hour"]})
    at = f"{hours[0]} UTC" if len(hours) == 1 else f"{hours[0]}–{hours[-1]} UTC"
    venues = _venue_list(sampled["offshore_venues"])
    lines = _wrap(
        venues,
        f"Black line: the {coin} perpetuals' open interest summed over ",
        f", at each Tuesday's last hour ({at}).",
    )
    summed = sampled.filter(pl.col("offshore_source") == "fct_open_interest").height
    if summed:
        lines.append(
            f"{summed} Tuesday(s) without the cross-venue fact sum each instrument's last reading "
            "of the hour (fct_open_interest)."
        )
    return lines


def cme_open_interest_chart(data: ReportData) -> ReportChart:
    """CME's bitcoin futures open interest beside the offshore perpetuals', in BTC, weekly.

    CME's is CFTC's Commitments of Traders (futures only) as of each Tuesday, Bitcoin and Micro
    Bitcoin stacked; the perpetuals' is their open interest summed over every venue at that
    Tuesday's last hour. Below, CME's share of the two together.
    """
    frame = data.cme_open_interest
    coin = data.coin
    contracts = frame.unpivot(
        on=["cme_bitcoin_btc", "cme_micro_btc"],
        index=["week", "report_date"],
        variable_name="series",
        value_name="btc",
    ).with_columns(
        pl.col("series").replace_strict(
            {"cme_bitcoin_btc": CME_BITCOIN, "cme_micro_btc": CME_MICRO}
        ),
        order=pl.col("series").replace_strict({"cme_bitcoin_btc": 0, "cme_micro_btc": 1}),
    )
    offshore = frame.filter(pl.col("offshore_btc").is_not_null()).with_columns(
        series=pl.lit(OFFSHORE)
    )
    week_x = alt.X("week:O", title="as of Tuesday", axis=alt.Axis(labelAngle=0))
    colour = alt.Color(
        "series:N",
        scale=alt.Scale(domain=list(CME_COLOURS), range=list(CME_COLOURS.values())),
        # Above the plot: inside, the perpetuals' line runs through it.
        legend=alt.Legend(title=None, orient="top", direction="horizontal"),
    )
    tooltip = [
        alt.Tooltip("week:N", title="as of (Tuesday)"),
        alt.Tooltip("report_date:N", title="CFTC release"),
        alt.Tooltip("cme_bitcoin_btc:Q", title=f"{CME_BITCOIN}, BTC", format=",.0f"),
        alt.Tooltip("cme_bitcoin_contracts:Q", title="… contracts", format=",.0f"),
        alt.Tooltip("cme_micro_btc:Q", title=f"{CME_MICRO}, BTC", format=",.0f"),
        alt.Tooltip("cme_micro_contracts:Q", title="… contracts", format=",.0f"),
        alt.Tooltip("cme_btc:Q", title="CME, BTC", format=",.0f"),
        alt.Tooltip("offshore_btc:Q", title=f"{OFFSHORE}, BTC", format=",.0f"),
        _utc_tooltip("offshore_hour", "perpetuals at"),
        alt.Tooltip("offshore_venues:N", title="venues summed"),
        alt.Tooltip("cme_share:Q", title="CME share", format=".1%"),
    ]
    btc_axis = alt.Axis(title="open interest, BTC", format=",.0f")
    bars = (
        alt.Chart(contracts)
        .mark_bar(width={"band": 0.6})
        .encode(
            x=week_x,
            y=alt.Y("btc:Q", stack="zero", axis=btc_axis),
            color=colour,
            order=alt.Order("order:Q", sort="ascending"),
            tooltip=[
                alt.Tooltip("week:N", title="as of (Tuesday)"),
                alt.Tooltip("series:N", title="contract"),
                alt.Tooltip("btc:Q", title="open interest, BTC", format=",.0f"),
            ],
        )
    )
    line = (
        alt.Chart(offshore)
        .mark_line(strokeWidth=2, point=alt.OverlayMarkDef(size=40, filled=True))
        .encode(x=week_x, y=alt.Y("offshore_btc:Q", axis=btc_axis), color=colour, tooltip=tooltip)
    )
    shares = frame["cme_share"].drop_nulls().to_list()
    # Room above the highest week for its label.
    top = min(1.0, 1.25 * max(shares)) if shares else 1.0
    share = alt.Chart(frame.filter(pl.col("cme_share").is_not_null())).encode(
        x=week_x,
        y=alt.Y(
            "cme_share:Q",
            scale=alt.Scale(domain=[0.0, top]),
            axis=alt.Axis(title="CME share", format=".0%"),
        ),
    )
    share_panel = alt.layer(
        share.mark_line(color=CME_COLOURS[CME_BITCOIN], point=True),
        share.mark_text(dy=-9, fontSize=11, color=CME_COLOURS[CME_BITCOIN]).encode(
            text=alt.Text("cme_share:Q", format=".1%")
        ),
    ).properties(
        width=WIDTH,
        height=90,
        title=alt.Title("CME's share of CME and the perpetuals together", anchor="start"),
    )
    if frame.height:
        subtitle = [
            "Bars: CME's Bitcoin (5 BTC a contract) and Micro Bitcoin (0.1 BTC) futures "
            "open interest, stacked, in BTC: CFTC's",
            "Commitments of Traders, futures only (no options), as of each Tuesday, "
            "released the Friday after.",
            *_offshore_lines(frame, coin),
            *_cme_share_lines(frame),
        ]
    elif coin != "BTC":
        subtitle = [f"CME's bitcoin futures only: no CME open interest to set beside {coin}'s."]
    else:
        subtitle = [
            "No CME open interest: the lake holds no Commitments of Traders (fct_cot_weekly) "
            "as of a Tuesday in the range."
        ]
    chart = alt.vconcat(
        alt.layer(bars, line).properties(width=WIDTH, height=260),
        share_panel,
        spacing=8,
        title=_title(
            f"Open interest in BTC, weekly: CME bitcoin futures (bars) beside the {coin} "
            "perpetuals (line)",
            *subtitle,
        ),
    ).resolve_scale(x="shared")
    return ReportChart(
        key="cme_open_interest",
        title="CME futures open interest beside the perpetuals'",
        description=(
            "The regulated market's bitcoin futures against the offshore perpetuals, both in "
            "bitcoin: CME's weekly Commitments of Traders as of each Tuesday beside the "
            "perpetuals' open interest summed over their venues that day. A rising CME share "
            "is leverage moving onshore; a falling one, the perpetuals carrying it."
        ),
        chart=chart,
        points=frame.filter(pl.col("cme_btc").is_not_null()).height,
    )


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
        f"({zone['distance_pct']:+.1f}%), est. {_usd(zone['est_notional_usd'])}"
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
            x=_time_x("hour"),
            y=price_y("close", price_axis),
            tooltip=[
                _utc_tooltip("hour", "hour"),
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
            x=alt.X("no_notional:Q", axis=_usd_axis("estimated notional, USD")),
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
        title=_title(
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
            x=_time_x("hour"),
            y=alt.Y("close:Q", scale=alt.Scale(zero=False), axis=alt.Axis(title="price, USD")),
        )
    )
    flushes = alt.Chart(events).encode(
        x=_time_x("start_ts"),
        tooltip=[
            _utc_tooltip("start_ts", "flush from"),
            _utc_tooltip("end_ts", "to"),
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
        _utc_tooltip("hour", _when(resolution)),
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
            x=_time_x("hour"),
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
            _hover_rule("hover_regime", frame, "hour", tooltip),
            flush_labels,
        ).properties(width=WIDTH, height=220),
        band,
        spacing=2,
        title=_title(
            f"Regime timeline and flush events, {request.symbol} on {request.exchange}",
            f"Hours per regime: {summary}.",
            *_flush_summary(data.flush_events),
            *_bucketed_note(
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


def coverage_chart(data: ReportData) -> ReportChart:
    """What the warehouse holds behind the charts: every dataset of the coin, day by day."""
    frame = data.coverage
    request = data.request
    statuses = frame.group_by("status").len()
    counted = dict(zip(statuses["status"].to_list(), statuses["len"].to_list(), strict=True))
    summary = ", ".join(f"{counted[s]} {s}" for s in COVERAGE_COLOURS if counted.get(s))
    series = frame["series"].unique().len()
    chart = (
        alt.Chart(frame)
        .mark_rect(stroke="#ffffff", strokeWidth=0.5)
        .encode(
            x=alt.X("utcyearmonthdate(day):O", title=None, axis=alt.Axis(format="%b %d")),
            y=alt.Y(
                "series:N",
                title=None,
                sort="ascending",
                axis=alt.Axis(labelLimit=COVERAGE_LABEL_WIDTH),
            ),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=list(COVERAGE_COLOURS), range=list(COVERAGE_COLOURS.values())
                ),
                legend=alt.Legend(
                    title="status", orient="bottom", columns=7, symbolStrokeColor="#999999"
                ),
            ),
            tooltip=[
                alt.Tooltip("day:N", title="day (UTC)"),
                alt.Tooltip("series:N", title="exchange dataset symbol"),
                alt.Tooltip("status:N"),
                alt.Tooltip("rows:Q", title="rows in the day"),
                alt.Tooltip("expected_rows:Q", title="expected"),
                alt.Tooltip("detail:N"),
            ],
        )
        .properties(
            width=WIDTH - COVERAGE_LABEL_WIDTH,
            height=max(60, 16 * series),
            title=_title(
                f"Coverage, {request.first}…{request.last}: every {data.coin} venue",
                f"Symbol-days: {summary}.",
            ),
        )
    )
    return ReportChart(
        key="coverage",
        title="Coverage matrix",
        description=(
            "What the warehouse holds behind these charts, per dataset and day (dq_coverage): "
            "a gap here is a gap in the charts above."
        ),
        chart=chart,
        points=frame.filter(pl.col("status") != "not_checked").height,
    )


CHART_BUILDERS: Final[tuple[Callable[[ReportData], ReportChart], ...]] = (
    daily_liquidations_chart,
    funding_chart,
    open_interest_chart,
    heatmap_chart,
    regime_chart,
    coverage_chart,
)
"""The report's charts in page order."""


def build_charts(data: ReportData) -> list[ReportChart]:
    """Every chart of :data:`CHART_BUILDERS`, and after the open interest chart, in a bitcoin
    report over a range with CFTC's weekly reports, CME's open interest beside the perpetuals'
    (any other report leaves it out: it would be empty), then, over a range with delivery
    futures volume, the coin's spot, perpetual and delivery volume shares."""
    charts = []
    for build in CHART_BUILDERS:
        charts.append(build(data))
        if build is open_interest_chart and has_cme_open_interest(data):
            charts.append(cme_open_interest_chart(data))
        if build is open_interest_chart and has_delivery_volume(data):
            charts.append(volume_share_chart(data))
    return charts

"""What every chart of the report shares: the page width, the colours that mean the same on
every chart, the :class:`ReportChart` each chart module returns, and the axis, title, tooltip,
hover and subtitle helpers they draw with.

Colours mean the same everywhere: red is longs being liquidated (or a flush), green is shorts,
dark grey the price.
"""

from dataclasses import dataclass
from typing import Final

import altair as alt
import polars as pl

from transforms.report.buckets import BUCKETING_AFTER_DAYS, Resolution

Chart = alt.Chart | alt.LayerChart | alt.VConcatChart | alt.HConcatChart

WIDTH: Final = 820
"""Every chart's plot width in pixels: with its axes it fits a 1,000-pixel page."""
LONGS: Final = "#d62728"
SHORTS: Final = "#2ca02c"
PRICE: Final = "#444444"
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


def chart_title(text: str, *subtitle: str) -> alt.Title:
    return alt.Title(text, subtitle=list(subtitle), anchor="start", fontSize=15)


def usd_axis(title: str) -> alt.Axis:
    return alt.Axis(title=title, format="$~s", labelExpr=USD_SI_LABELS)


def format_usd(value: float) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"${value / size:,.1f}{suffix}"
    return f"${value:,.0f}"


def time_x(field: str) -> alt.X:
    return alt.X(f"{field}:T", scale=UTC_TIME, title=None)


def utc_tooltip(field: str, title: str) -> alt.Tooltip:
    """An instant in a tooltip, in UTC whatever the reader's time zone."""
    return alt.Tooltip(
        f"utcyearmonthdatehoursminutes({field}):T", title=title, format="%Y-%m-%d %H:%M UTC"
    )


def hover_rule(
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
    base = alt.Chart(frame).encode(x=time_x(field))
    selectors = base.mark_point(opacity=0, size=1).encode(tooltip=tooltip).add_params(hover)
    rule = (
        base.mark_rule(color="#888888")
        .encode(opacity=alt.when(hover).then(alt.value(0.7)).otherwise(alt.value(0.0)))
        .transform_window(hover_row="row_number()")
        .transform_filter(hover | (alt.datum.hover_row == 1))
    )
    return alt.LayerChart(layer=[selectors, rule])


SUBTITLE_CHARACTERS: Final = 115
"""Subtitle lines are wrapped at this length, well within the plot at their smaller font."""


def wrap_lines(items: list[str], prefix: str, suffix: str, separator: str = ", ") -> list[str]:
    """``prefix``, ``items`` joined by ``separator``, then ``suffix``, in lines that fit."""
    lines, line = [], prefix
    for index, item in enumerate(items):
        piece = item + (separator if index < len(items) - 1 else suffix)
        if line.strip() and len(line) + len(piece.rstrip()) > SUBTITLE_CHARACTERS:
            lines.append(line.rstrip())
            line = ""
        line += piece
    return [*lines, line]


def venue_list(column: pl.Series) -> list[str]:
    """The exchanges named in a cross-venue fact's comma-separated ``venues``, over every hour."""
    return sorted({venue for venues in column.drop_nulls() for venue in venues.split(",") if venue})


def count_range(column: pl.Series) -> str:
    """``4`` when every hour counts the same, ``2–4`` when the count moved over the range."""
    counts = column.drop_nulls().to_list()
    if not counts:
        return "0"
    low, high = min(counts), max(counts)
    return f"{low}" if low == high else f"{low}–{high}"


def instant_title(resolution: Resolution) -> str:
    """A tooltip's title for a point's instant: its hour, or the start of its bucket."""
    return f"{resolution.span} from" if resolution.bucketed else "hour"


def bucketed_note(resolution: Resolution, what: str) -> list[str]:
    """The subtitle line saying what a point of a long range's chart stands for."""
    if not resolution.bucketed:
        return []
    return [
        f"Ranges over {BUCKETING_AFTER_DAYS} days draw one point per {resolution.span} (UTC): "
        f"{what}."
    ]

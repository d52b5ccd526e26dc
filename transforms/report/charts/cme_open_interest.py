"""The CME open interest chart (``report_cme_open_interest.sql``): CME's bitcoin futures
beside the offshore perpetuals' open interest, in BTC, weekly, drawn in a bitcoin report over a
range with CFTC's reports."""

from typing import Final

import altair as alt
import polars as pl

from transforms.report.charts.style import (
    WIDTH,
    ReportChart,
    chart_title,
    utc_tooltip,
    venue_list,
    wrap_lines,
)
from transforms.report.data import ReportData

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
    venues = venue_list(sampled["offshore_venues"])
    lines = wrap_lines(
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
        utc_tooltip("offshore_hour", "perpetuals at"),
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
        title=chart_title(
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

"""The report's files: one self-contained HTML page and one PNG per chart.

The page carries the Vega, Vega-Lite and vega-embed JavaScript inline (from ``vl-convert``'s
bundle) and each chart's data inside its spec, so it opens from disk, by mail or on a machine
without internet. PNGs are rendered by ``vl-convert`` without a browser. Every file is written
through a temp file and ``os.replace``, so a reader never sees half a report, and the page last,
after its PNGs.

Reports are drawn on several threads at once and their PNGs rendered in worker processes
(:mod:`.build`, :mod:`.render`). Altair's data transformer is one setting for the whole
process, so :func:`chart_spec` turns it to "no row limit" under a lock.
"""

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

import altair as alt
import jinja2
import vl_convert
from markupsafe import Markup

from transforms import storage
from transforms.errors import printable
from transforms.report import render
from transforms.report.buckets import BUCKETING_AFTER_DAYS
from transforms.report.charts import ChartFailure, ReportChart
from transforms.report.data import ReportData

PAGE_FILE: Final = "report.html"
PNG_SCALE: Final = 2.0
"""PNGs at twice the chart's pixel size: sharp on a high-density screen and in a slide."""
PREVIEW_SCALE: Final = 1.0
EMBED_OPTIONS: Final = {
    "renderer": "svg",
    # Export only: the editor and source links would point at a website this page never needs.
    "actions": {"export": True, "source": False, "compiled": False, "editor": False},
}
EMBED_SNIPPET: Final = "window.vegaEmbed = vegaEmbed;"
"""The bundle's entry point: the page needs only ``vegaEmbed``, which brings Vega and Vega-Lite."""
VEGA_LITE_VERSION: Final = "v" + "_".join(alt.SCHEMA_VERSION.removeprefix("v").split(".")[:2])
"""The Vega-Lite version Altair writes specs for, in vl-convert's spelling (``v6_4``)."""


def _shown(value: object) -> object:
    """Every value the page shows, printable (a title or venue may quote the data); the page's
    own script and JSON, marked safe, go in as they are."""
    return value if isinstance(value, Markup) else printable(str(value))


_PAGE: Final = jinja2.Environment(
    autoescape=True, undefined=jinja2.StrictUndefined, finalize=_shown
).from_string(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{ heading }}</title>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
         max-width: 1000px; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
  h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
  h2 { font-size: 1.2rem; margin: 2.2rem 0 0.3rem; border-top: 1px solid #ddd;
       padding-top: 1.2rem; }
  .meta, .note, footer { color: #666; font-size: 0.9rem; }
  .note { color: #a04000; }
  nav a { margin-right: 1rem; }
  /* vega-embed makes the chart an inline block as wide as the chart: scroll it, not the page. */
  .chart-frame { overflow-x: auto; }
  .chart { min-height: 120px; }
</style>
<script>
{{ javascript }}
</script>
</head>
<body>
<header>
  <h1>{{ heading }}</h1>
  <p class="meta">{{ first }}…{{ last }} ({{ days }} UTC day(s)) · venues of {{ coin }}:
    {{ venues }} · generated {{ generated_at }} from {{ lake }}</p>
  {% if points_note %}<p class="meta">{{ points_note }}</p>{% endif %}
  <nav>{% for chart in charts %}<a href="#{{ chart.key }}">{{ chart.title }}</a>{% endfor %}
    {%- for chart in unbuilt %}<a href="#{{ chart.key }}">{{ chart.title }}</a>{% endfor %}</nav>
</header>
{% for chart in charts %}
<section id="{{ chart.key }}">
  <h2>{{ chart.title }}</h2>
  <p>{{ chart.description }}</p>
  {% if chart.key in failures %}
  <p class="note">This chart failed: {{ failures[chart.key].error }}</p>
  {% elif not chart.points %}<p class="note">No data for this chart in the range.</p>{% endif %}
  <div class="chart-frame">
    <div class="chart" id="chart-{{ chart.key }}" data-chart="{{ chart.key }}"></div>
  </div>
</section>
{% endfor %}
{% for failure in unbuilt %}
<section id="{{ failure.key }}">
  <h2>{{ failure.title }}</h2>
  <p class="note">This chart failed: {{ failure.error }}</p>
</section>
{% endfor %}
<footer>
  <p>Drawn by treadmill with Vega-Lite from the data embedded in this page; the PNG files
    beside it are the same charts. Heatmap and hot zones are estimates; Binance's liquidation
    snapshots and the recorded liquidation streams are sampled, so totals resting on them are
    lower bounds (the liquidation chart says which venues and coverage kinds it stands on).</p>
</footer>
<script>
const specs = {{ specs }};
const embedOptions = {{ embed_options }};
for (const [key, spec] of Object.entries(specs)) {
  const container = document.getElementById("chart-" + key);
  vegaEmbed(container, spec, embedOptions)
    .then(() => { container.dataset.rendered = "true"; })
    .catch((error) => {
      container.dataset.rendered = "failed";
      console.error("chart " + key + " failed to render: " + error);
    });
}
</script>
</body>
</html>
"""
)


@dataclass(frozen=True)
class ReportFiles:
    """Where a report was written, and a small PNG of its first chart for previews."""

    html: Path
    pngs: dict[str, Path]
    """Every drawn chart's PNG, by chart key: a chart that failed has none."""
    preview_png: bytes | None
    """None when no chart rendered."""


@cache
def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script that defines ``window.vegaEmbed``."""
    return vl_convert.javascript_bundle(EMBED_SNIPPET, vl_version=VEGA_LITE_VERSION)


_SPEC_LOCK: Final = threading.Lock()
_NOT_XML: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 forbids, which SVG text cannot carry."""


def chart_spec(chart: ReportChart) -> dict[str, Any]:
    """The chart's Vega-Lite spec with its data inline, however many rows it has, and no character
    an SVG cannot carry.

    Thread-safe: another thread leaving the transformer's context would otherwise restore the
    row limit under this one.
    """
    with _SPEC_LOCK, alt.data_transformers.enable("default", max_rows=None):
        spec = chart.chart.to_dict()
    return _xml_safe(spec)


def _xml_safe(value: Any) -> Any:
    """``value`` with every character XML forbids written as its escape (``\\x1c``): a control
    character from the data (a quarantined file's error, say) makes vl-convert's SVG invalid
    XML, and vl-convert aborts the process rendering it."""
    if isinstance(value, str):
        return _NOT_XML.sub(lambda match: printable(match.group()), value)
    if isinstance(value, dict):
        return {key: _xml_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_xml_safe(item) for item in value]
    return value


def render_png(spec: dict[str, Any], scale: float = PNG_SCALE) -> bytes:
    return render.render_png(spec, VEGA_LITE_VERSION, scale)


def _script_json(value: Any) -> str:
    """JSON safe inside ``<script>``: no ``</script>`` or ``<!--`` can end the element."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def render_page(
    data: ReportData,
    charts: list[ReportChart],
    specs: dict[str, Any],
    generated_at: datetime,
    failures: Sequence[ChartFailure] = (),
) -> str:
    """The page: every chart in ``charts`` whose spec is in ``specs``, and each of ``failures``
    named in its chart's place (or after the others, for a chart that was never drawn)."""
    request = data.request
    resolution = request.resolution
    points_note = (
        f"The range is over {BUCKETING_AFTER_DAYS} days: hourly series are drawn one point per "
        f"{resolution.span} (UTC)."
        if resolution.bucketed
        else ""
    )
    drawn = {chart.key for chart in charts}
    return _PAGE.render(
        heading=f"treadmill report: {request.symbol} on {request.exchange}",
        first=request.first.isoformat(),
        last=request.last.isoformat(),
        days=request.days,
        coin=data.coin,
        venues=", ".join(data.venues),
        generated_at=generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        lake=str(data.lake_root),
        charts=charts,
        failures={failure.key: failure for failure in failures},
        unbuilt=[failure for failure in failures if failure.key not in drawn],
        points_note=points_note,
        javascript=Markup(javascript_bundle()),
        specs=Markup(_script_json(specs)),
        embed_options=Markup(_script_json(EMBED_OPTIONS)),
    )


def write_page(
    data: ReportData,
    charts: list[ReportChart],
    specs: dict[str, Any],
    directory: Path,
    generated_at: datetime,
    failures: Sequence[ChartFailure],
) -> Path:
    """Write ``report.html`` into ``directory``, atomically, naming ``failures`` on the page."""
    html = render_page(data, charts, specs, generated_at, failures)
    return storage.write_bytes(directory / PAGE_FILE, html.encode())

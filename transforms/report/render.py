"""PNG rendering, in the processes that do it: this module imports vl-convert and nothing else.

vl-convert holds the GIL while it renders (a thread rendering a PNG stops every other thread of
the process), so reports drawn side by side render their PNGs in worker processes
(:func:`transforms.report.build.build_reports`). A worker imports this module alone, not Altair,
DuckDB or polars, and starts vl-convert's JavaScript engine once, when it starts.
"""

import signal
from typing import Any

import vl_convert


def render_png(spec: dict[str, Any], vl_version: str, scale: float) -> bytes:
    """A Vega-Lite ``spec`` (data inline) as PNG bytes, at ``scale`` times its pixel size."""
    return vl_convert.vegalite_to_png(spec, vl_version=vl_version, scale=scale)


def start_engine() -> None:
    """Start vl-convert's JavaScript engine (the first render's fixed cost) ahead of the work."""
    vl_convert.vegalite_to_svg({"mark": "point", "data": {"values": [{"x": 1}]}})


def start_worker() -> None:
    """Start a rendering process: deaf to Ctrl-C, which a terminal sends its whole process group
    (the process that spawned it stops it), then its engine started."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    start_engine()

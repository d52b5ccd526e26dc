"""The visual report: the article's charts of one perpetual, drawn from the warehouse.

:func:`transforms.report.build.build_report` reads the lake for one perpetual and a range of
days (:mod:`.data`), draws the charts with Altair (:mod:`.charts`) and writes a self-contained
HTML page and one PNG per chart (:mod:`.page`) into ``<out>/<exchange>-<symbol>/``. The CLI's
``treadmill report``, the demo and the Dagster ``report`` asset all call it, the asset through
:func:`transforms.report.build.build_reports`, which draws several reports side by side and
renders PNGs in worker processes (:mod:`.render`). Ranges over 60 days draw their hourly series
at 4-hour or daily points (:mod:`.buckets`). Only :mod:`.build`, :mod:`.charts`, :mod:`.page`
and :mod:`.render` import Altair or vl-convert, so code that only needs :mod:`.data` (the
Dagster definitions) stays light.
"""

"""The visual report: the article's charts of one perpetual, drawn from the warehouse.

:func:`transforms.report.build.build_report` reads the lake for one perpetual and a range of
days (:mod:`.data`), draws the charts with Altair (:mod:`.charts`) and writes a self-contained
HTML page and one PNG per chart (:mod:`.page`) into ``<out>/<exchange>-<symbol>/``. The CLI's
``treadmill report``, the demo and the Dagster ``report`` asset all call it. Only
:mod:`.build`, :mod:`.charts` and :mod:`.page` import Altair and vl-convert, so code that only
needs :mod:`.data` (the Dagster definitions) stays light.
"""

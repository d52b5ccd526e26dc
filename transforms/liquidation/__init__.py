"""Liquidation prices and the estimated liquidation heatmap, bottom to top.

- :mod:`.prices`: the *exact* liquidation price of a Binance USDⓈ-M position under a dated
  bracket snapshot (DOMAIN §1.4), and the naive level for comparison;
- :mod:`.assumptions`: the heatmap estimate's leverage tiers and other modelling choices;
- :mod:`.book`: the estimated level book carried through each day's bars (DOMAIN §1.5);
- :mod:`.zones`: the book binned into the heatmap around a close, and its hot zones.

Every table the estimate writes says in its ``method`` column that it is an estimate. Pure
functions over numpy and Arrow, deterministic, no Dagster.
"""

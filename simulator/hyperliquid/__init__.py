"""Hyperliquid's S3 archive for the simulated coins: per-minute asset contexts and hourly fills.

Binance stopped publishing liquidation snapshots in 2024; Hyperliquid's archive still shows every
liquidation (its fills carry a ``liquidation`` object) next to per-minute funding, open interest
and prices. The simulator writes that archive for every simulated USDⓈ-M coin, under
``<out>/hyperliquid/`` laid out exactly as the two S3 buckets (so ``<out>/hyperliquid`` is a
mirror root the warehouse reads over ``file://`` or HTTP), in the formats of FORMATS.md §5:

- ``hyperliquid-archive/asset_ctxs/YYYYMMDD.csv.lz4``: one LZ4 frame per UTC day holding a CSV
  of every coin's context at every minute (header
  :data:`~transforms.formats.HYPERLIQUID_ASSET_CTXS_COLUMNS`), rows sorted by time then coin.
- ``hl-mainnet-node-data/node_fills/hourly/YYYYMMDD/H.lz4`` (hours before
  :data:`~transforms.formats.HYPERLIQUID_FILLS_BY_BLOCK_FROM`, 2025-07-27T08:00Z) of JSON lines
  ``["0xUSER",{fill}]``, and
  ``hl-mainnet-node-data/node_fills_by_block/hourly/YYYYMMDD/H.lz4`` from it on, one JSON line
  per block ``{"local_time","block_time","block_number","events":[["0xUSER",{fill}],…]}``.
  ``H`` is 0…23, not zero padded. Every hour of the range has its file, empty or not. The real
  fills archive starts in 2025-05; the simulator writes fills for whatever dates it simulates,
  choosing the layout by the cutover, so tests can straddle it (2025-07-26…2025-07-28).

The package, in the order a coin flows through it:

- :mod:`~simulator.hyperliquid.model`: how Hyperliquid deviates from the simulated Binance
  market (:class:`HyperliquidModel`) and which archive traps are injected
  (:class:`HyperliquidQuirks`);
- :mod:`~simulator.hyperliquid.contexts`: the per-minute asset contexts (oracle, premium and
  book, funding, open interest) derived from the leader's tape;
- :mod:`~simulator.hyperliquid.fills`: the liquidation fills and ordinary trades;
- :mod:`~simulator.hyperliquid.coin`: one coin's output (:func:`hyperliquid_coin`), computed in
  the coin's worker;
- :mod:`~simulator.hyperliquid.writer`: every coin's output as the buckets' files, and the
  truth (:func:`write_hyperliquid`);
- :mod:`~simulator.hyperliquid.clock` and :mod:`~simulator.hyperliquid.ticks`: Hyperliquid's
  minutes, hours and 100 ms blocks; its tick rule and printed decimals.

**Ground truth** (``<out>/truth/``):

- ``hyperliquid_liquidations.parquet``: one row per liquidation fill, i.e. per (tid,
  liquidatedUser): ts (UTC, ms), coin, liquidated_side ('long'/'short'), price, qty_base,
  notional_usd (= price × qty_base, of the printed numbers), tid, liquidated_user, method,
  mark_px.
- ``hyperliquid_funding.parquet``: coin, funding_time (the settlement instant H:00), funding_rate
  (hourly scale, whatever the file's scale).
- ``hyperliquid_open_interest.parquet``: coin, ts (every on-grid minute), oi_base (half the true,
  non-negative published value: the one-sided book), oi_usd (oi_base × the true mark).
- ``hyperliquid_asset_ctxs.parquet``: coin, ts, funding (hourly scale: settled at H:00, running
  estimate otherwise), open_interest, mark_px, oracle_px, premium; the true on-grid values.
- ``hyperliquid_quirks.json``: the count of every injected quirk, the rates used, every injected
  row (coin, time, quirk) and fill counts.
"""

from simulator.hyperliquid.coin import HyperliquidCoin, hyperliquid_coin
from simulator.hyperliquid.model import HyperliquidModel, HyperliquidQuirks
from simulator.hyperliquid.writer import write_hyperliquid

__all__ = [
    "HyperliquidCoin",
    "HyperliquidModel",
    "HyperliquidQuirks",
    "hyperliquid_coin",
    "write_hyperliquid",
]

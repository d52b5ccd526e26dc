"""A deterministic, seeded simulator of leveraged perpetual-futures trading.

It writes a complete archive tree in Binance's exact formats (``data/futures/um``,
``data/futures/cm``, ``data/spot``; zips with ``.CHECKSUM``), so the warehouse ingests it through
the same fetch path as the real archive (``TREADMILL_BINANCE_URL=file://…``), and it writes the
ground truth beside the archive (``truth/``), never inside it.

The model, per symbol and minute (:mod:`simulator.model`):

- **Spot index.** A log random walk with a drift and daily volatility set by the scripted phase,
  a market-wide shock shared by all coins (correlation 0.8), slow reversion to a band centre, and
  one-off jumps that open some phases (the drop that starts a flush, the pop of a squeeze).
- **Traders.** Every minute the leveraged crowd opens longs and shorts. The split leans long
  when the phase says so, when momentum is positive and when funding is above its anchor
  (crowds chase); the leverage mix over tiers 5/10/20/25/50/100x tilts with the phase. Positions
  opened within five minutes form one cohort per side and tier at their average entry. Positions
  close voluntarily at a phase-set rate (mean holding two days). Hedged, unlevered traders hold
  80% of open interest and are never liquidated.
- **Premium and funding.** The perp's premium over the index follows the crowd's net
  positioning ((longs − shorts)/(longs + shorts)) with persistence and noise. Funding settles
  every 8 hours by default (per-symbol intervals allowed) with Binance's formula: average premium
  plus the clamp of (0.01% − premium) to ±0.05%, capped at ±0.3% (:mod:`simulator.rules`).
- **Liquidations.** Each cohort carries its exact liquidation price from Binance's isolated
  formula with maintenance brackets. When the mark's range crosses it, the cohort is closed by a
  forced market order whose notional moves the price (liquidating 1% of the book moves it about
  0.13%), which can cross the next cohorts within the same minute: cascades emerge. COIN-M
  markets follow their USDⓈ-M sibling's index and do not move it.
- **What the archive shows.** Open interest is the crowd's longs plus shorts plus the hedged
  book; top-trader and all-account long/short ratios are powers of the crowd's long/short ratio;
  taker buy volume is new longs, short closes, forced buys and half the background flow (and
  the reverse for sells); spot takers lean as the phase says.

Scenarios (:mod:`simulator.scenarios`): ``treadmill`` (default: the article's episode, BTC
chopping in an $80–88k band, build-up → flush → re-lever → flush → reset), ``calm``, ``squeeze``
and ``spot_bid``. Scale: BTCUSDT starts at $86k with ~80k BTC (~$7B) of open interest, about
Binance's BTCUSDT book in late 2025; most positions use 5–10x. A flush day liquidates $0.4–0.7B
of BTCUSDT longs and an ordinary day tens of millions, the order of the article's ~$794M week of
long liquidations across venues.

Ground truth (``truth/``): ``phases.parquet`` (the scripted phase of every hour),
``liquidations.parquet`` (every forced order, with leverage, entry, exact level and whether the
archive publishes it), ``liquidation_totals.parquet`` (per day and side),
``positions.parquet`` (at each midnight, the open positions' exact liquidation levels, summed per
side, leverage and 0.05% level bin), ``funding.parquet`` and ``config.json`` (with every injected
quirk).

Other venues (:mod:`simulator.venues`): the REST histories BitMEX, Bybit, OKX and Binance's
``fundingRate`` endpoint would serve for the same markets, under ``venues/`` beside the archive,
with their truth (``truth/venues_funding.parquet``, ``truth/venues_open_interest.parquet``);
:mod:`simulator.venue_server` serves them on 127.0.0.1 with the venues' paging and rate limits.
"""

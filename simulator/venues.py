"""Other venues' REST histories of the simulated markets: BitMEX, Bybit, OKX and Binance's REST.

Binance is one venue among several: traders hold the same coin's perpetuals on BitMEX, Bybit and
OKX, and a warehouse that counts positioning across venues must ingest those venues' paged REST
histories too (funding settlements, 5-minute open interest). They publish no dump files, so the
simulator writes what their history endpoints would return for its simulated markets, and
:mod:`simulator.venue_server` serves it over HTTP with each venue's paging and rate limits.

Every venue trades the same coin as the simulated Binance USDⓈ-M perpetual (the *leader*), so
its numbers derive from the leader's tape (:class:`simulator.model.Tape`) plus a small,
venue-specific deviation drawn from its own seeded stream (``[seed, crc32("venue:<exchange>:
<coin>")]``): the output is byte-for-byte the same for a seed, whatever the number of workers,
and one venue's draws never shift another's.

**Premium.** Each venue's perp trades at its own premium over the same index: the leader's
per-minute premium, scaled (a venue with a smaller or larger leveraged crowd reacts less or
more), plus a fixed offset (BitMEX's inverse ``XBTUSD`` book leans short of Binance's; Bybit's
is slightly more retail-long) plus an hourly AR(1) spread (arbitrage keeps venues close, not
equal). The deviations are a fraction of the premium's own range, so venues agree on the regime
(crowded longs raise every venue's funding) but differ visibly in the tails.

**Funding.** Each venue settles with Binance's formula (:func:`simulator.rules.funding_rate`):
the mean of its own premium over the minutes of the interval that ends at the settlement, plus
the clamp of (0.01% − mean) to ±0.05%. Like Binance, most settlements therefore print the
0.01% anchor and only crowded stretches lift it.

- BitMEX (``XBTUSD`` for BTC, ``<COIN>USD`` otherwise) settles every 8 hours at 04:00, 12:00
  and 20:00 UTC, over its own preceding 8 hours; rates on 6 decimals (BitMEX's precision). The
  first settlement of the range (04:00) averages the 4 simulated hours before it.
- Bybit (``BTCUSDT``) and OKX (``BTC-USDT-SWAP``) settle on the leader's schedule: every 8 hours
  at 00:00, 08:00, 16:00, or the symbol's configured interval (``SimConfig.funding_intervals``);
  rates on 8 decimals. The range's first settlement (00:00 of its first day), whose interval
  lies before the simulated range, takes the venue's premium at that instant.
- Binance USDⓈ-M's REST ``fundingRate``: exactly the settlements of the archive's monthly
  ``fundingRate`` files (same rates, 8 decimals), ``fundingTime`` with the same few ms of jitter
  as the file's ``calc_time`` (:meth:`simulator.writer.ArchiveWriter.funding`), and the mark
  price at the settlement, on the symbol's tick. It is the source for a month whose file the
  archive has not published yet.

**Open interest.** A venue's book is a share of Binance's: every 5-minute snapshot of the
leader's open interest (the snapshot Binance's ``metrics`` row of the same ``ts`` holds) times
the venue's share (Bybit ~0.55, OKX ~0.35), times ``exp`` of a slow AR(1) (about 1.5%: a venue's
share wanders as traders move). Counting in the base coin (BTC), not USD, keeps it a positioning
measure. Bybit publishes it in base coin (3 decimals); OKX as ``[ts, contracts, base, USD]``
with contract values BTC 0.01, ETH 0.1, SOL 1 (contracts on 1 decimal, base = contracts ×
ctVal, USD = base × the snapshot's mark price). Rows are stamped 00:00…23:55 of each day, like
Binance's metrics rows, so venues line up with Binance at the same ``ts``.

Files (beside the archive, never inside ``data/``), one per venue, dataset and symbol, rows
ascending by ``ts`` (the instant the endpoint filters and sorts on, UTC ms):

- ``venues/bitmex/funding/XBTUSD.parquet``: ts, symbol, funding_interval_hours, funding_rate,
  funding_rate_daily
- ``venues/bybit/funding/BTCUSDT.parquet``: ts, symbol, funding_interval_hours, funding_rate
- ``venues/bybit/open_interest/BTCUSDT.parquet``: ts, symbol, open_interest (base), mark_price
- ``venues/okx/funding/BTC-USDT-SWAP.parquet``: ts, symbol, funding_interval_hours,
  funding_rate, realized_rate
- ``venues/okx/open_interest/BTC-USDT-SWAP.parquet``: ts, symbol, oi_contracts, oi_ccy,
  oi_usd, ct_val
- ``venues/binance_um/funding/BTCUSDT.parquet``: ts (the jittered ``fundingTime``), symbol,
  settlement_time, funding_interval_hours, funding_rate, mark_price

Ground truth (``truth/``): ``venues_funding.parquet`` (exchange, symbol, funding_time,
funding_rate, funding_interval_hours; every venue's settlement as published, at the exact
settlement instant, Binance's REST rows included) and ``venues_open_interest.parquet``
(exchange, symbol, ts, oi_base, oi_usd; Bybit's USD value is its base × the snapshot's mark,
which Bybit does not publish). Symbols are the venue's own (``XBTUSD``, ``BTC-USDT-SWAP``).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final

import numpy as np
import polars as pl

from simulator.model import MINUTES_PER_DAY, Tape
from simulator.randomness import ar1_path, seeded_stream
from simulator.rules import funding_rate

VENUES_DIR: Final = "venues"
EXCHANGES: Final = ("bitmex", "bybit", "okx", "binance_um")
FUNDING: Final = "funding"
OPEN_INTEREST: Final = "open_interest"
DATASETS: Final[dict[str, tuple[str, ...]]] = {
    "bitmex": (FUNDING,),
    "bybit": (FUNDING, OPEN_INTEREST),
    "okx": (FUNDING, OPEN_INTEREST),
    "binance_um": (FUNDING,),
}
"""Which datasets each venue publishes."""

MS_PER_MINUTE: Final = 60_000
MS_PER_HOUR: Final = 3_600_000
MS_PER_5_MIN: Final = 300_000
BITMEX_SETTLEMENT_HOURS: Final = (4, 12, 20)
BITMEX_INTERVAL_HOURS: Final = 8

OKX_CONTRACT_VALUE: Final = {"BTC": 0.01, "ETH": 0.1, "SOL": 1.0, "BNB": 0.01}
"""OKX USDT-swap contract value (``ctVal``) in base coin; other coins use 1."""

TIMESTAMP: Final = pl.Datetime("ms", "UTC")

FUNDING_TRUTH_SCHEMA: Final = pl.Schema(
    {
        "exchange": pl.String(),
        "symbol": pl.String(),
        "funding_time": TIMESTAMP,
        "funding_rate": pl.Float64(),
        "funding_interval_hours": pl.Int64(),
    }
)
OPEN_INTEREST_TRUTH_SCHEMA: Final = pl.Schema(
    {
        "exchange": pl.String(),
        "symbol": pl.String(),
        "ts": TIMESTAMP,
        "oi_base": pl.Float64(),
        "oi_usd": pl.Float64(),
    }
)


@dataclass(frozen=True)
class VenueModel:
    """How one venue deviates from the simulated Binance market."""

    premium_scale: float
    """Multiplier of Binance's per-minute premium (how strongly this crowd leans)."""
    premium_offset: float
    """A constant added to the premium (a venue's structural lean)."""
    spread_sd: float
    """Stationary standard deviation of the hourly AR(1) spread added to the premium."""
    spread_persistence: float
    """Hour-to-hour autocorrelation of that spread."""
    oi_share: float = 0.0
    """Open interest as a share of Binance's, in base coin (0: the venue publishes none)."""
    oi_noise_sd: float = 0.015
    """Stationary standard deviation of the log AR(1) on the share, per 5-minute step."""
    oi_persistence: float = 0.995
    rate_decimals: int = 8


VENUE_MODELS: Final = {
    "bitmex": VenueModel(0.9, -0.00003, 0.00012, 0.9, rate_decimals=6),
    "bybit": VenueModel(1.05, 0.00002, 0.00006, 0.9, oi_share=0.55),
    "okx": VenueModel(0.95, -0.00002, 0.00006, 0.9, oi_share=0.35),
}


@dataclass(frozen=True)
class VenueTruth:
    """One coin's ground truth over every venue, as :func:`write_venue_truth` concatenates it."""

    funding: pl.DataFrame
    open_interest: pl.DataFrame


def coin_of(symbol: str) -> str | None:
    """The coin of a USDⓈ-M perpetual (``BTCUSDT`` → ``BTC``), None for any other symbol."""
    coin = symbol.removesuffix("USDT")
    return coin if coin and coin != symbol else None


def venue_symbol(exchange: str, coin: str) -> str:
    """The venue's ticker of ``coin``'s perpetual: ``XBTUSD``, ``BTCUSDT``, ``BTC-USDT-SWAP``."""
    if exchange == "bitmex":
        return f"{'XBT' if coin == 'BTC' else coin}USD"
    if exchange == "okx":
        return f"{coin}-USDT-SWAP"
    if exchange in ("bybit", "binance_um"):
        return f"{coin}USDT"
    raise ValueError(f"unknown venue {exchange!r}; known: {list(EXCHANGES)}")


def okx_contract_value(coin: str) -> float:
    """OKX's ``ctVal`` of ``coin``'s USDT swap, in base coin."""
    return OKX_CONTRACT_VALUE.get(coin, 1.0)


def venue_path(root: Path, exchange: str, dataset: str, symbol: str) -> Path:
    """``root/venues/<exchange>/<dataset>/<symbol>.parquet`` (``root``: the simulation's out)."""
    return root / VENUES_DIR / exchange / dataset / f"{symbol}.parquet"


def binance_funding_time(settlement_ms: int) -> int:
    """Binance's published instant of a settlement: a few ms late, as in the archive's
    ``calc_time`` (the same formula as :meth:`simulator.writer.ArchiveWriter.funding`)."""
    return settlement_ms + (settlement_ms // MS_PER_HOUR) % 13


def venue_frames(tape: Tape, seed: int) -> dict[tuple[str, str, str], pl.DataFrame]:
    """Every venue's published rows for the leader ``tape``: (exchange, dataset, symbol) → rows.

    Empty when the tape's symbol is not a USDⓈ-M (``…USDT``) perpetual.
    """
    coin = coin_of(tape.spec.symbol)
    if coin is None:
        return {}
    frames: dict[tuple[str, str, str], pl.DataFrame] = {}
    start_ms = _day_ms(tape.start)
    settle_ms = np.array([f[0] for f in tape.funding], dtype=np.int64)
    settle_hours = np.array([f[1] for f in tape.funding], dtype=np.int64)
    settle_minutes = (settle_ms - start_ms) // MS_PER_MINUTE

    bitmex, bybit, okx = (
        seeded_stream(seed, f"venue:{name}:{coin}") for name in ("bitmex", "bybit", "okx")
    )

    # BitMEX: 04:00, 12:00, 20:00 over its own preceding 8 hours.
    symbol = venue_symbol("bitmex", coin)
    model = VENUE_MODELS["bitmex"]
    minutes = np.array(
        [
            day * MINUTES_PER_DAY + hour * 60
            for day in range(tape.days)
            for hour in BITMEX_SETTLEMENT_HOURS
        ],
        dtype=np.int64,
    )
    hours = np.full(minutes.size, BITMEX_INTERVAL_HOURS, dtype=np.int64)
    rates = _venue_funding(tape, model, bitmex, minutes, hours)
    frames[("bitmex", FUNDING, symbol)] = pl.DataFrame(
        {
            "ts": _timestamps(start_ms + minutes * MS_PER_MINUTE),
            "symbol": [symbol] * minutes.size,
            "funding_interval_hours": hours,
            "funding_rate": rates,
            "funding_rate_daily": np.round(rates * 24 / BITMEX_INTERVAL_HOURS, 6),
        }
    )

    # Bybit and OKX: the leader's schedule, their own premium.
    for exchange, rng in (("bybit", bybit), ("okx", okx)):
        symbol = venue_symbol(exchange, coin)
        model = VENUE_MODELS[exchange]
        rates = _venue_funding(tape, model, rng, settle_minutes, settle_hours)
        funding = pl.DataFrame(
            {
                "ts": _timestamps(settle_ms),
                "symbol": [symbol] * settle_ms.size,
                "funding_interval_hours": settle_hours,
                "funding_rate": rates,
            }
        )
        if exchange == "okx":
            funding = funding.with_columns(pl.col("funding_rate").alias("realized_rate"))
        frames[(exchange, FUNDING, symbol)] = funding
        frames[(exchange, OPEN_INTEREST, symbol)] = _venue_open_interest(
            tape, exchange, coin, model, rng
        )

    # Binance's REST: the archive's settlements, with the mark at each.
    symbol = tape.spec.symbol
    marks = tape.mark_ohlc[settle_minutes, 0] if settle_minutes.size else np.empty(0)
    frames[("binance_um", FUNDING, symbol)] = pl.DataFrame(
        {
            "ts": _timestamps(np.array([binance_funding_time(int(ms)) for ms in settle_ms])),
            "symbol": [symbol] * settle_ms.size,
            "settlement_time": _timestamps(settle_ms),
            "funding_interval_hours": settle_hours,
            "funding_rate": [round(f[2], 8) for f in tape.funding],
            "mark_price": np.round(marks, tape.spec.price_decimals),
        },
        schema_overrides={"funding_rate": pl.Float64},
    )
    return frames


def venue_truth(frames: dict[tuple[str, str, str], pl.DataFrame]) -> VenueTruth:
    """The ground truth of :func:`venue_frames`' rows: settlements and base/USD open interest."""
    funding: list[pl.DataFrame] = []
    open_interest: list[pl.DataFrame] = []
    for (exchange, dataset, _), frame in sorted(frames.items()):
        if dataset == FUNDING:
            instant = "settlement_time" if exchange == "binance_um" else "ts"
            funding.append(
                frame.select(
                    pl.lit(exchange).alias("exchange"),
                    "symbol",
                    pl.col(instant).alias("funding_time"),
                    "funding_rate",
                    "funding_interval_hours",
                )
            )
        elif exchange == "bybit":
            open_interest.append(
                frame.select(
                    pl.lit(exchange).alias("exchange"),
                    "symbol",
                    "ts",
                    pl.col("open_interest").alias("oi_base"),
                    (pl.col("open_interest") * pl.col("mark_price")).alias("oi_usd"),
                )
            )
        else:
            open_interest.append(
                frame.select(
                    pl.lit(exchange).alias("exchange"),
                    "symbol",
                    "ts",
                    pl.col("oi_ccy").alias("oi_base"),
                    "oi_usd",
                )
            )
    return VenueTruth(
        _concat(funding, FUNDING_TRUTH_SCHEMA), _concat(open_interest, OPEN_INTEREST_TRUTH_SCHEMA)
    )


def write_coin_venues(out: Path, tape: Tape, seed: int) -> VenueTruth:
    """Write every venue's files for the leader ``tape`` under ``out/venues/``; its truth."""
    frames = venue_frames(tape, seed)
    for (exchange, dataset, symbol), frame in frames.items():
        path = venue_path(out, exchange, dataset, symbol)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(path)
    return venue_truth(frames)


def write_venue_truth(out: Path, truths: Iterable[VenueTruth]) -> None:
    """``out/truth/venues_funding.parquet`` and ``venues_open_interest.parquet``, sorted."""
    collected = list(truths)
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    _concat([t.funding for t in collected], FUNDING_TRUTH_SCHEMA).sort(
        "exchange", "symbol", "funding_time"
    ).write_parquet(truth / "venues_funding.parquet")
    _concat([t.open_interest for t in collected], OPEN_INTEREST_TRUTH_SCHEMA).sort(
        "exchange", "symbol", "ts"
    ).write_parquet(truth / "venues_open_interest.parquet")


# The model


def _venue_funding(
    tape: Tape,
    model: VenueModel,
    rng: np.random.Generator,
    settle_minutes: np.ndarray,
    interval_hours: np.ndarray,
) -> np.ndarray:
    """Binance's formula over the venue's premium, settling at ``settle_minutes`` of the tape.

    Each settlement averages the venue's premium over the minutes of its interval before it
    (those inside the simulated range); one with none takes the premium at its instant.
    """
    minutes = tape.days * MINUTES_PER_DAY
    spread = ar1_path(rng, minutes // 60, model.spread_persistence, model.spread_sd)
    premium = (
        model.premium_scale * tape.premium_ohlc[:, 3] + model.premium_offset + np.repeat(spread, 60)
    )
    at_start = model.premium_scale * tape.premium_ohlc[0, 0] + model.premium_offset + spread[0]
    cumulative = np.concatenate([[0.0], np.cumsum(premium)])
    rates = []
    for settle, hours in zip(settle_minutes.tolist(), interval_hours.tolist(), strict=True):
        first = max(0, settle - hours * 60)
        mean = (cumulative[settle] - cumulative[first]) / (settle - first) if settle else at_start
        rates.append(round(funding_rate(float(mean), int(hours)), model.rate_decimals))
    return np.array(rates, dtype=float)


def _venue_open_interest(
    tape: Tape, exchange: str, coin: str, model: VenueModel, rng: np.random.Generator
) -> pl.DataFrame:
    """The venue's 5-minute open interest: a wandering share of Binance's, in base coin."""
    oi, mark = tape.metrics[:, 0], tape.metrics[:, 3]
    share = np.exp(ar1_path(rng, oi.size, model.oi_persistence, model.oi_noise_sd))
    base = oi * model.oi_share * share
    ts = _timestamps(_day_ms(tape.start) + np.arange(oi.size, dtype=np.int64) * MS_PER_5_MIN)
    symbol = venue_symbol(exchange, coin)
    if exchange == "bybit":
        return pl.DataFrame(
            {
                "ts": ts,
                "symbol": [symbol] * oi.size,
                "open_interest": np.round(base, 3),
                "mark_price": mark,
            }
        )
    ct_val = okx_contract_value(coin)
    contracts = np.round(base / ct_val, 1)
    oi_ccy = np.round(contracts * ct_val, 6)
    return pl.DataFrame(
        {
            "ts": ts,
            "symbol": [symbol] * oi.size,
            "oi_contracts": contracts,
            "oi_ccy": oi_ccy,
            "oi_usd": np.round(oi_ccy * mark, 2),
            "ct_val": np.full(oi.size, ct_val),
        }
    )


def _timestamps(ms: np.ndarray | Sequence[int]) -> pl.Series:
    return pl.Series(np.asarray(ms, dtype=np.int64)).cast(TIMESTAMP)


def _day_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86_400_000


def _concat(frames: list[pl.DataFrame], schema: pl.Schema) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames).cast(schema)

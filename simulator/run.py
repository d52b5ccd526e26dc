"""Simulate a whole archive: every market of the universe, its files, and the ground truth.

Markets are simulated per coin: the USDⓈ-M perpetual leads, and the COIN-M perpetual and the
spot pair of the same coin follow its index. Coins are independent and run in parallel
processes; each draws from its own seeded stream, so the archive is byte-identical for the same
seed whatever the number of workers.
"""

import json
import multiprocessing
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TypedDict

import numpy as np
import polars as pl

from simulator.cot import write_cot
from simulator.delivery import TRUTH_SCHEMA as DELIVERY_TRUTH_SCHEMA
from simulator.delivery import has_quarterlies, write_delivery
from simulator.hyperliquid import (
    HyperliquidCoin,
    HyperliquidQuirks,
    hyperliquid_coin,
    write_hyperliquid,
)
from simulator.markets import MarketSpec, contract_size, linear_symbol_for, market_spec
from simulator.model import BURN_IN_DAYS, MINUTES_PER_DAY, Tape, simulate_market
from simulator.randomness import market_wide_stream, seeded_stream
from simulator.scenarios import SCENARIOS, Scenario
from simulator.venues import VenueTruth, write_coin_venues, write_venue_truth
from simulator.writer import (
    CM_LIQUIDATION_WINDOW,
    UM_LIQUIDATION_WINDOW,
    ArchiveWriter,
    Quirks,
    kline_volumes,
)
from transforms.sources import dataset

SPOT_TURNOVER = 0.0006
"""Per-minute spot volume as a share of the perpetual's target open interest."""


@dataclass(frozen=True)
class SimConfig:
    """What to simulate and where to write it."""

    out: Path
    start: date
    end: date
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    coin_margined: tuple[str, ...] = ("BTCUSD_PERP",)
    spot: tuple[str, ...] | None = None
    """Spot pairs; ``None`` means the same pairs as ``symbols``."""
    seed: int = 7
    scenario: str = "treadmill"
    quirks: Quirks = field(default_factory=Quirks)
    liquidations_outside_window: bool = False
    funding_intervals: tuple[tuple[str, int], ...] = ()
    workers: int = 2
    venues: bool = True
    """Also write the other venues' REST histories of the USDⓈ-M markets under ``out/venues/``
    and their truth (:mod:`simulator.venues`)."""
    hyperliquid: bool = True
    """Also write Hyperliquid's S3 archive of the USDⓈ-M coins (asset contexts and hourly fills)
    under ``out/hyperliquid/`` and its truth (:mod:`simulator.hyperliquid`)."""
    hyperliquid_quirks: HyperliquidQuirks = field(default_factory=HyperliquidQuirks)
    cot: bool = True
    """Also write CFTC's Commitments of Traders files of the weeks covering the period under
    ``out/cftc/`` and their truth (:mod:`simulator.cot`)."""
    delivery: bool = True
    """Also write the quarterly delivery contracts of the coins that have them (klines and
    metrics, :mod:`simulator.delivery`) and their basis in ``truth/delivery_basis.parquet``."""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def spot_symbols(self) -> tuple[str, ...]:
        return self.symbols if self.spot is None else self.spot


@dataclass(frozen=True)
class _CoinJob:
    config: SimConfig
    leader: str
    write_leader: bool
    coin_margined: tuple[str, ...]
    spot: tuple[str, ...]


class _CoinResult(TypedDict):
    liquidations: pl.DataFrame
    positions: pl.DataFrame
    funding: pl.DataFrame
    quirks: list[dict[str, str]]
    venues: VenueTruth | None
    hyperliquid: HyperliquidCoin | None
    delivery: pl.DataFrame


@dataclass
class SimSummary:
    """What a simulation wrote."""

    files: int
    symbol_days: int
    liquidations: int
    quirks: list[dict[str, str]]


def simulate_archive(config: SimConfig) -> SimSummary:
    """Write ``config.out/data/...`` in the archive's formats and ``config.out/truth/``."""
    if config.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {config.scenario!r}; known: {sorted(SCENARIOS)}")
    if config.days < 1:
        raise ValueError(f"--end {config.end} is before --start {config.start}")
    jobs = _coin_jobs(config)
    if config.workers > 1 and len(jobs) > 1:
        # Spawned, not forked: a fork taken while polars' thread pool holds a lock deadlocks.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=config.workers, mp_context=context) as pool:
            results = list(pool.map(_simulate_coin, jobs))
    else:
        results = [_simulate_coin(job) for job in jobs]
    truth = config.out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    liquidations = pl.concat([r["liquidations"] for r in results], how="vertical")
    liquidations.sort("exchange", "symbol", "ts_ms").write_parquet(truth / "liquidations.parquet")
    pl.concat([r["positions"] for r in results]).write_parquet(truth / "positions.parquet")
    pl.concat([r["funding"] for r in results]).write_parquet(truth / "funding.parquet")
    _phases(config).write_parquet(truth / "phases.parquet")
    _liquidation_totals(liquidations).write_parquet(truth / "liquidation_totals.parquet")
    if config.delivery:
        pl.concat(
            [pl.DataFrame(schema=DELIVERY_TRUTH_SCHEMA), *(r["delivery"] for r in results)]
        ).sort("exchange", "symbol", "ts_ms").write_parquet(truth / "delivery_basis.parquet")
    quirks = [q for r in results for q in r["quirks"]]
    (truth / "config.json").write_text(
        json.dumps(
            {**asdict(config), "out": str(config.out), "injected_quirks": quirks},
            indent=2,
            default=str,
        )
        + "\n"
    )
    if config.venues:
        write_venue_truth(config.out, [r["venues"] for r in results if r["venues"] is not None])
    if config.hyperliquid:
        write_hyperliquid(
            config.out,
            [r["hyperliquid"] for r in results if r["hyperliquid"] is not None],
            config.start,
            config.end,
            config.hyperliquid_quirks,
        )
    if config.cot:
        write_cot(config.out, config.start, config.end, config.seed)
    files = sum(1 for _ in (config.out / "data").rglob("*.zip"))
    symbol_days = config.days * (
        len(config.symbols) + len(config.coin_margined) + len(config.spot_symbols)
    )
    return SimSummary(files, symbol_days, liquidations.height, quirks)


def _coin_jobs(config: SimConfig) -> list[_CoinJob]:
    leaders: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"cm": [], "spot": []})
    for symbol in config.symbols:
        leaders[symbol]
    for symbol in config.coin_margined:
        leaders[linear_symbol_for(symbol)]["cm"].append(symbol)
    for symbol in config.spot_symbols:
        leaders[symbol]["spot"].append(symbol)
    return [
        _CoinJob(
            config,
            leader,
            leader in config.symbols,
            tuple(followers["cm"]),
            tuple(followers["spot"]),
        )
        for leader, followers in leaders.items()
    ]


def _common_factor(config: SimConfig) -> np.ndarray:
    """The market-wide shock shared by every coin: same seed, same shocks, whatever the coins."""
    minutes = (config.days + BURN_IN_DAYS) * MINUTES_PER_DAY
    return market_wide_stream(config.seed).standard_normal(minutes)


def _with_interval(config: SimConfig, symbol: str) -> MarketSpec:
    """The symbol's market, with its funding interval overridden when configured."""
    spec = market_spec(symbol)
    for name, hours in config.funding_intervals:
        if name == symbol:
            return replace(spec, funding_interval_hours=hours)
    return spec


def _simulate_coin(job: _CoinJob) -> _CoinResult:
    config = job.config
    scenario = SCENARIOS[config.scenario]
    common = _common_factor(config)
    writer = ArchiveWriter(
        config.out, config.quirks, config.seed, config.liquidations_outside_window
    )
    liquidations: list[pl.DataFrame] = []
    positions: list[pl.DataFrame] = []
    funding: list[pl.DataFrame] = []

    leader = simulate_market(
        _with_interval(config, job.leader),
        scenario,
        config.start,
        config.days,
        common,
        seeded_stream(config.seed, job.leader),
    )
    delivery: list[pl.DataFrame] = []
    if job.write_leader:
        _write_perp(writer, "binance_um", leader, None, liquidations, positions, funding)
        if config.delivery and has_quarterlies("binance_um", leader.spec.base_coin):
            rng = seeded_stream(config.seed, f"delivery:{job.leader}")
            delivery.append(write_delivery(writer, "binance_um", leader, None, scenario, rng))
    venues = (
        write_coin_venues(config.out, leader, config.seed)
        if config.venues and job.write_leader
        else None
    )
    hyperliquid = (
        hyperliquid_coin(leader, config.seed, config.hyperliquid_quirks)
        if config.hyperliquid and job.write_leader
        else None
    )
    for symbol in job.coin_margined:
        tape = simulate_market(
            _with_interval(config, symbol),
            scenario,
            config.start,
            config.days,
            common,
            seeded_stream(config.seed, symbol),
            leader=leader,
        )
        _write_perp(
            writer, "binance_cm", tape, contract_size(symbol), liquidations, positions, funding
        )
        if config.delivery and has_quarterlies("binance_cm", tape.spec.base_coin):
            rng = seeded_stream(config.seed, f"delivery:{symbol}")
            delivery.append(
                write_delivery(writer, "binance_cm", tape, contract_size(symbol), scenario, rng)
            )
    for symbol in job.spot:
        _write_spot(writer, symbol, leader, scenario, seeded_stream(config.seed, f"spot:{symbol}"))
    return {
        "liquidations": pl.concat(liquidations) if liquidations else _empty_liquidations(),
        "positions": pl.concat(positions) if positions else pl.DataFrame(),
        "funding": pl.concat(funding) if funding else pl.DataFrame(),
        "quirks": writer.injected,
        "venues": venues,
        "hyperliquid": hyperliquid,
        "delivery": pl.concat(delivery) if delivery else pl.DataFrame(schema=DELIVERY_TRUTH_SCHEMA),
    }


def _write_perp(
    writer: ArchiveWriter,
    exchange: str,
    tape: Tape,
    contract: float | None,
    liquidations: list[pl.DataFrame],
    positions: list[pl.DataFrame],
    funding: list[pl.DataFrame],
) -> None:
    spec = tape.spec
    symbol = spec.symbol
    datasets = {
        name: dataset(exchange, name)
        for name in (
            "klines",
            "mark_price_klines",
            "index_price_klines",
            "premium_index_klines",
            "metrics",
            "liquidation_snapshot",
            "funding_rate",
        )
    }
    orders = _orders(tape, exchange, contract)
    window = CM_LIQUIDATION_WINDOW if contract else UM_LIQUIDATION_WINDOW
    for offset in range(tape.days):
        day = tape.start + timedelta(days=offset)
        lo, hi = offset * MINUTES_PER_DAY, (offset + 1) * MINUTES_PER_DAY
        trade_count = np.maximum(1, np.round(tape.volume[lo:hi] / spec.trade_size)).astype(np.int64)
        writer.klines(
            datasets["klines"].archive_path(symbol, day),
            day,
            tape.trade_ohlc[lo:hi],
            spec,
            kline_volumes(tape, lo, hi, contract),
            trade_count,
        )
        # Mark, index and premium bars carry no volume; their count is samples per minute.
        for name, ohlc, samples in (
            ("mark_price_klines", tape.mark_ohlc, 60),
            ("index_price_klines", tape.index_ohlc, 60),
            ("premium_index_klines", tape.premium_ohlc, 12),
        ):
            writer.klines(
                datasets[name].archive_path(symbol, day), day, ohlc[lo:hi], spec, None, samples
            )
        slots = slice(offset * 288, (offset + 1) * 288)
        next_midnight = tape.metrics[slots.stop] if slots.stop < len(tape.metrics) else None
        writer.metrics(
            datasets["metrics"].archive_path(symbol, day),
            day,
            symbol,
            tape.metrics[slots],
            next_midnight,
            contract,
        )
        published = writer.liquidations_outside_window or window[0] <= day <= window[1]
        day_orders = orders.filter(pl.col("date") == day)
        if published and day_orders.height:
            writer.liquidations(
                datasets["liquidation_snapshot"].archive_path(symbol, day),
                _liquidation_rows(day_orders, spec.price_decimals),
            )
    by_month: dict[tuple[int, int], list[tuple[int, int, float]]] = defaultdict(list)
    for settle_ms, hours, rate in tape.funding:
        settled = date(1970, 1, 1) + timedelta(milliseconds=settle_ms)
        by_month[(settled.year, settled.month)].append((settle_ms, hours, rate))
    for (year, month), rows in sorted(by_month.items()):
        writer.funding(datasets["funding_rate"].archive_path(symbol, date(year, month, 1)), rows)
    published_flags = (
        orders["date"].map_elements(
            lambda d: writer.liquidations_outside_window or window[0] <= d <= window[1],
            return_dtype=pl.Boolean,
        )
        if orders.height
        else pl.Series("published", [], pl.Boolean)
    )
    liquidations.append(orders.with_columns(published_flags.alias("published")).drop("date"))
    positions.append(_positions_truth(tape, exchange, contract))
    funding.append(
        pl.DataFrame(
            {
                "exchange": [exchange] * len(tape.funding),
                "symbol": [symbol] * len(tape.funding),
                "funding_ms": [f[0] for f in tape.funding],
                "interval_hours": [f[1] for f in tape.funding],
                "funding_rate": [round(f[2], 8) for f in tape.funding],
            },
            schema={
                "exchange": pl.String,
                "symbol": pl.String,
                "funding_ms": pl.Int64,
                "interval_hours": pl.Int64,
                "funding_rate": pl.Float64,
            },
        )
    )


def _orders(tape: Tape, exchange: str, contract: float | None) -> pl.DataFrame:
    """Forced orders as published: quantities on the exchange's step, prices on its tick.

    Ground truth is taken from these same rounded orders, so archive totals equal truth.
    """
    spec = tape.spec
    if not tape.liquidations:
        return _empty_liquidations().with_columns(pl.lit(None, pl.Date).alias("date"))
    frame = pl.DataFrame(
        [tuple(order) for order in tape.liquidations],
        schema=["ts_ms", "is_long", "leverage", "entry", "level", "bankruptcy", "fill", "qty"],
        orient="row",
    ).with_columns(
        pl.col("fill", "bankruptcy").round(spec.price_decimals),
    )
    if contract is None:
        frame = frame.with_columns(
            pl.col("qty").round(spec.qty_decimals).alias("qty_archive"),
        ).with_columns(
            pl.col("qty_archive").alias("qty_base"),
            (pl.col("qty_archive") * pl.col("fill")).alias("notional_usd"),
        )
    else:
        frame = frame.with_columns(
            (pl.col("qty") * pl.col("fill") / contract).round().alias("qty_archive"),
        ).with_columns(
            (pl.col("qty_archive") * contract / pl.col("fill")).alias("qty_base"),
            (pl.col("qty_archive") * contract).alias("notional_usd"),
        )
    return (
        frame.filter(pl.col("qty_archive") > 0)
        # Two cohorts can round to the same printed order; readers drop exact duplicate rows,
        # so twins are moved a millisecond apart to stay distinct orders.
        .with_columns(
            pl.col("ts_ms")
            + pl.int_range(pl.len()).over("ts_ms", "is_long", "qty_archive", "bankruptcy", "fill")
        )
        .with_columns(
            pl.lit(exchange).alias("exchange"),
            pl.lit(spec.symbol).alias("symbol"),
            pl.when(pl.col("is_long"))
            .then(pl.lit("long"))
            .otherwise(pl.lit("short"))
            .alias("side"),
            pl.from_epoch("ts_ms", time_unit="ms").dt.date().alias("date"),
        )
        .select(
            "exchange",
            "symbol",
            "ts_ms",
            "side",
            "leverage",
            "entry",
            "level",
            "bankruptcy",
            "fill",
            "qty_archive",
            "qty_base",
            "notional_usd",
            "date",
        )
    )


def _empty_liquidations() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "exchange": pl.String,
            "symbol": pl.String,
            "ts_ms": pl.Int64,
            "side": pl.String,
            "leverage": pl.Int64,
            "entry": pl.Float64,
            "level": pl.Float64,
            "bankruptcy": pl.Float64,
            "fill": pl.Float64,
            "qty_archive": pl.Float64,
            "qty_base": pl.Float64,
            "notional_usd": pl.Float64,
            "published": pl.Boolean,
        }
    )


def _liquidation_rows(orders: pl.DataFrame, price_decimals: int) -> pl.DataFrame:
    return orders.select(
        pl.col("ts_ms").alias("time"),
        pl.when(pl.col("side") == "long")
        .then(pl.lit("SELL"))
        .otherwise(pl.lit("BUY"))
        .alias("side"),
        pl.lit("LIMIT").alias("order_type"),
        pl.lit("IOC").alias("time_in_force"),
        pl.col("qty_archive").alias("original_quantity"),
        pl.col("bankruptcy").round(price_decimals).alias("price"),
        pl.col("fill").alias("average_price"),
        pl.lit("FILLED").alias("order_status"),
        pl.col("qty_archive").alias("last_fill_quantity"),
        pl.col("qty_archive").alias("accumulated_fill_quantity"),
    )


def _positions_truth(tape: Tape, exchange: str, contract: float | None) -> pl.DataFrame:
    """Open positions at each midnight, per side, leverage and 0.05% bin of exact level."""
    book = np.vstack(tape.positions) if tape.positions else np.empty((0, 6))
    return (
        pl.DataFrame(
            book,
            schema=["day", "is_long", "leverage", "level", "qty_base", "entry_notional_usd"],
            orient="row",
        )
        .with_columns(
            (pl.lit(tape.start) + pl.duration(days=pl.col("day").cast(pl.Int64))).alias("date"),
            pl.lit(exchange).alias("exchange"),
            pl.lit(tape.spec.symbol).alias("symbol"),
            pl.when(pl.col("is_long") > 0)
            .then(pl.lit("long"))
            .otherwise(pl.lit("short"))
            .alias("side"),
            pl.col("leverage").cast(pl.Int64),
            (pl.col("qty_base") * pl.col("level")).alias("notional_at_level_usd"),
        )
        .select(
            "exchange",
            "symbol",
            "date",
            "side",
            "leverage",
            "level",
            "qty_base",
            "entry_notional_usd",
            "notional_at_level_usd",
        )
        .sort("exchange", "symbol", "date", "side", "level")
    )


def _write_spot(
    writer: ArchiveWriter, symbol: str, leader: Tape, scenario: Scenario, rng: np.random.Generator
) -> None:
    """Spot bars: the index is the spot market; spot takers lean as the phase says."""
    spec = market_spec(symbol)
    klines = dataset("binance_spot", "klines")
    minutes = leader.days * MINUTES_PER_DAY
    lean = np.array([scenario.phase_at(h).spot_flow for h in range(leader.days * 24)]).repeat(60)
    base = spec.oi_target * SPOT_TURNOVER * rng.lognormal(0.0, 0.3, minutes) * (1 + np.abs(lean))
    buy_share = np.clip(0.5 + 0.3 * lean + rng.normal(0.0, 0.04, minutes), 0.05, 0.95)
    ohlc = leader.index_ohlc
    for offset in range(leader.days):
        day = leader.start + timedelta(days=offset)
        lo, hi = offset * MINUTES_PER_DAY, (offset + 1) * MINUTES_PER_DAY
        price = ohlc[lo:hi, 3]
        volume = np.round(base[lo:hi], 5)
        buy = np.round(volume * buy_share[lo:hi], 5)
        writer.klines(
            klines.archive_path(symbol, day),
            day,
            ohlc[lo:hi],
            spec,
            {
                "volume": volume,
                "quote_volume": np.round(volume * price, 6),
                "taker_buy_volume": buy,
                "taker_buy_quote_volume": np.round(buy * price, 6),
            },
            np.maximum(1, np.round(volume / spec.trade_size)).astype(np.int64),
            spot=True,
        )


def _phases(config: SimConfig) -> pl.DataFrame:
    scenario = SCENARIOS[config.scenario]
    hours = config.days * 24
    start_ms = (config.start - date(1970, 1, 1)).days * 86_400_000
    return pl.DataFrame(
        {
            "hour": pl.Series([start_ms + h * 3_600_000 for h in range(hours)]).cast(
                pl.Datetime("ms", "UTC")
            ),
            "phase": [scenario.phase_at(h).name for h in range(hours)],
        }
    )


def _liquidation_totals(liquidations: pl.DataFrame) -> pl.DataFrame:
    """True liquidation totals per exchange, symbol, UTC day and side."""
    return (
        liquidations.with_columns(pl.from_epoch("ts_ms", time_unit="ms").dt.date().alias("date"))
        .group_by("exchange", "symbol", "date", "side", "published")
        .agg(
            pl.len().alias("orders"),
            pl.col("qty_base").sum(),
            pl.col("notional_usd").sum(),
        )
        .sort("exchange", "symbol", "date", "side")
    )

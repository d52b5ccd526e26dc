"""The numbers behind the report: one DuckDB query per chart over the lake partitions of a range.

A report is about one perpetual (``exchange`` × ``symbol``) over a range of UTC days. Its
liquidations, open interest, heatmap and regimes are that perpetual's; its funding chart and
coverage matrix take every venue trading the same coin (USDⓈ-M ``BTCUSDT``, COIN-M
``BTCUSD_PERP``, spot ``BTCUSDT``, BitMEX ``XBTUSD`` and OKX ``BTC-USDT-SWAP`` are all bitcoin),
because funding is compared across venues and coverage says what the warehouse holds behind the
charts. The funding chart also draws the coin's open-interest-weighted rate across venues, and
the open interest chart the coin's open interest summed over its venues, from the cross-venue
facts. The liquidation chart draws the coin's liquidations summed over every venue
(``fct_liquidations_coin_1d``) on the days the lake has them, with the venues and coverage kinds
behind them, and the perpetual's own (``fct_liquidations_5m``) on the days it does not. A bitcoin
report also sets CME's futures open interest (CFTC's weekly Commitments of Traders,
``fct_cot_weekly``) beside the perpetuals' summed over their venues, week by week. The open
interest chart stacks the coin's perpetual against its delivery contracts' open interest in USD
where the lake holds delivery contracts, and a volume-share chart splits the coin's daily
volume into spot, perpetual and delivery (``fct_volume_shares_1d``) where it holds delivery
volume.

Which instruments trade the coin: the ``coin`` column of ``fct_funding`` says so for every venue
(no symbol pattern tells that ``XBTUSD`` is bitcoin). Partitions written before that column
existed read it as null; for those the report pairs Binance symbols by their quote suffix
(:func:`coin_of`), as it always did.

The queries are the files of ``sql/report/``; the lake partitions of the range are registered
under their table names and every value is a bound parameter, as for the facts.
"""

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import duckdb
import polars as pl
import pyarrow as pa

from transforms import storage
from transforms.catalog import DUCKDB_CONFIG
from transforms.coverage import COVERAGE_SCHEMA, COVERAGE_TABLE
from transforms.errors import ConfigError, TreadmillError
from transforms.facts import (
    FCT_COT_WEEKLY,
    FCT_FUNDING,
    FCT_FUNDING_CROSS_VENUE,
    FCT_LIQUIDATIONS_5M,
    FCT_LIQUIDATIONS_COIN_1D,
    FCT_OPEN_INTEREST,
    FCT_OPEN_INTEREST_CROSS_VENUE,
    FCT_PRICE_1M,
    FCT_VOLUME_SHARES_1D,
    SQL_ROOT,
    Input,
    bind,
    input_partitions,
    read_input,
    with_contract_columns,
)
from transforms.features import FEAT_FLUSH_EVENTS, FEAT_REGIME_1H, FlushEventRules
from transforms.heatmap import HEATMAP_TABLE_SCHEMA, HOT_ZONES_TABLE_SCHEMA
from transforms.instruments import coin_of
from transforms.publish import day_bounds
from transforms.report.buckets import Resolution, resolution_for
from transforms.storage import partition_days

REPORT_SQL_ROOT: Final = SQL_ROOT / "report"
DEFAULT_DAYS: Final = 30
"""A report covers the 30 days ending on its last day unless told otherwise: a month shows a
few treadmill cycles and stays light in a browser."""

PERPETUAL_EXCHANGES: Final = ("binance_um", "binance_cm")
"""Exchanges whose symbols are perpetuals, in the order a coin's report prefers them."""

# The quote currency (and a COIN-M contract suffix) follows the coin: BTCUSDT, BTCUSD_PERP.

REPORT_INPUTS: Final = {
    **{
        model.name: model.schema
        for model in (
            FCT_LIQUIDATIONS_5M,
            FCT_LIQUIDATIONS_COIN_1D,
            FCT_FUNDING,
            FCT_PRICE_1M,
            FCT_FUNDING_CROSS_VENUE,
            FCT_OPEN_INTEREST_CROSS_VENUE,
            FCT_COT_WEEKLY,
            FCT_VOLUME_SHARES_1D,
            FEAT_REGIME_1H,
            FEAT_FLUSH_EVENTS,
        )
    },
    # Read with contract_type and expiry, whether or not the fact (or a partition) has them.
    FCT_OPEN_INTEREST.name: with_contract_columns(FCT_OPEN_INTEREST.schema),
    "feat_liquidation_heatmap": HEATMAP_TABLE_SCHEMA,
    "feat_hot_zones": HOT_ZONES_TABLE_SCHEMA,
    COVERAGE_TABLE: COVERAGE_SCHEMA,
}
"""The lake tables a report reads, with the schema each is read with. A column of the schema
that the range's partitions lack (all of them written before it existed, like ``coin``) reads
as null, and a table with no partition in the range (the cross-venue facts of an older
warehouse) as empty."""

_RULES: Final = FlushEventRules()
FLUSH_RESOLUTION_DAYS: Final = 1 + math.ceil(
    max(_RULES.merge_hours, _RULES.relever_horizon_hours, _RULES.treadmill_window_hours) / 24
)
"""A flush event is published on the day it resolves, up to a week after it ends; the report
reads that far past its range (where the lake has it) to mark the flushes that began in it."""
DAYS_AFTER_RANGE: Final = {FEAT_FLUSH_EVENTS.name: FLUSH_RESOLUTION_DAYS}


class ReportDataError(TreadmillError):
    """The warehouse holds nothing to report on for the perpetual and range asked for."""


@dataclass(frozen=True)
class ReportRequest:
    """One perpetual over an inclusive range of UTC days."""

    exchange: str
    symbol: str
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"the report's last day {self.last} is before its first {self.first}")

    @property
    def coin(self) -> str:
        return coin_of(self.symbol)

    @property
    def name(self) -> str:
        """The report's folder name: one report per perpetual, replaced by each run."""
        return f"{self.exchange}-{self.symbol}"

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def resolution(self) -> Resolution:
        """How finely its hourly series are drawn: hourly up to 60 days, then coarser
        (:func:`transforms.report.buckets.resolution_for`)."""
        return resolution_for(self.days)


@dataclass(frozen=True)
class ReportData:
    """Every chart's rows, as the queries of ``sql/report/`` return them."""

    request: ReportRequest
    lake_root: Path
    coin: str
    """The coin of the perpetual, as ``fct_funding`` records it (else :func:`coin_of`)."""
    venues: tuple[str, ...]
    """``exchange:symbol`` of every venue trading the coin in the range (perpetuals and spot)."""
    daily_liquidations: pl.DataFrame
    """Each day's longs and shorts liquidated: the coin's across venues (``scope`` 'coin', with
    the USD split by coverage kind and ``venue_coverage``) where the lake has the coin-level
    table for the day, else the perpetual's own (``scope`` 'perpetual')."""
    funding: pl.DataFrame
    funding_cross_venue: pl.DataFrame
    """The coin's hourly open-interest-weighted funding across venues; empty when the lake has
    no ``fct_funding_cross_venue`` for the range."""
    open_interest: pl.DataFrame
    cme_open_interest: pl.DataFrame
    """Each Tuesday's CME bitcoin futures open interest in BTC (CFTC's Commitments of Traders)
    beside the perpetuals' summed over their venues at that Tuesday's last hour; empty for any
    other coin and when the lake has no ``fct_cot_weekly`` in the range."""
    open_interest_by_type: pl.DataFrame
    """The coin's open interest in USD each hour summed over its venues, perpetual against
    delivery contracts (``contract_type``), each instrument's last reading of the hour."""
    volume_shares: pl.DataFrame
    """The coin's daily spot, perpetual and delivery volume in USD summed over its venues, with
    their shares (``fct_volume_shares_1d``); empty when the lake has none in the range."""
    heatmap: pl.DataFrame
    hot_zones: pl.DataFrame
    regimes: pl.DataFrame
    flush_events: pl.DataFrame
    coverage: pl.DataFrame


def report_perpetuals(
    universe: Mapping[str, Sequence[str]], coins: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """One perpetual per coin, USDⓈ-M before COIN-M: the reports a run writes.

    ``coins`` (:func:`parse_report_coins`) picks the coins, in their order; ``None`` takes
    every coin of the universe with a perpetual, in the universe's order, and ``()`` none. A
    coin without a perpetual in the universe is a :class:`ConfigError` naming it. A coin's
    other venues appear in its report anyway, in the funding and coverage charts.
    """
    chosen: dict[str, tuple[str, str]] = {}
    for exchange in PERPETUAL_EXCHANGES:
        for symbol in universe.get(exchange, ()):
            chosen.setdefault(coin_of(symbol), (exchange, symbol))
    if coins is None:
        return list(chosen.values())
    unknown = [coin for coin in coins if coin not in chosen]
    if unknown:
        known = ", ".join(chosen) or "none"
        raise ConfigError(
            f"no report for {', '.join(unknown)}: the universe has no perpetual of "
            f"{'that coin' if len(unknown) == 1 else 'those coins'} on "
            f"{' or '.join(PERPETUAL_EXCHANGES)}; its coins with one: {known}"
        )
    return [chosen[coin] for coin in coins]


REPORT_COINS_ENV: Final = "TREADMILL_REPORT_COINS"
NO_REPORTS: Final = "none"
"""The value of :data:`REPORT_COINS_ENV` that turns report rendering off."""
_COIN: Final = re.compile(r"[A-Z0-9]{1,20}")


def parse_report_coins(text: str | None) -> tuple[str, ...] | None:
    """The coins a run draws a report of, from ``BTC,ETH`` (any case, duplicates dropped).

    ``None`` or a blank text mean the default, every coin of the universe with a perpetual
    (``None`` is returned); ``none`` means no report (``()``).
    """
    if text is None or not text.strip():
        return None
    if text.strip().lower() == NO_REPORTS:
        return ()
    return check_report_coins(text.split(","))


def check_report_coins(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as coins: upper case, blanks and duplicates dropped, each checked to be a coin."""
    coins = [name.strip().upper() for name in names if name.strip()]
    for coin in coins:
        if not _COIN.fullmatch(coin):
            raise ConfigError(
                f"report coins: {coin!r} is not a coin (letters and digits, as BTC or 1INCH); "
                f"give a comma-separated list, or {NO_REPORTS!r} for no report"
            )
    return tuple(dict.fromkeys(coins))


def report_coins_from_env() -> tuple[str, ...] | None:
    """:func:`parse_report_coins` of ``$TREADMILL_REPORT_COINS``."""
    return parse_report_coins(os.environ.get(REPORT_COINS_ENV))


def default_range(
    lake_root: Path, first: date | None, last: date | None, days: int = DEFAULT_DAYS
) -> tuple[date, date]:
    """Fill in an open end of a range: the last day with prices, ``days`` days back from it.

    An explicit day is kept as given; a defaulted start never precedes the first day with
    prices, so a young warehouse reports on what it has.
    """
    published = partition_days(lake_root, FCT_PRICE_1M.name)
    if last is None:
        candidates = [d for d in published if first is None or d >= first]
        if not candidates:
            raise ReportDataError(f"no {FCT_PRICE_1M.name} partitions in {lake_root}")
        last = candidates[-1]
    if first is None:
        first = last - timedelta(days=days - 1)
        if published and published[0] <= last:
            first = max(first, published[0])
    return first, last


def load_report_data(lake_root: Path, request: ReportRequest, threads: int = 1) -> ReportData:
    """Read the range's partitions and run every report query for ``request``, on ``threads``
    DuckDB threads (one while other reports are read beside it).

    Raises :class:`ReportDataError` when the range holds neither prices nor coverage for the
    perpetual: there is nothing to draw, and the message names the perpetuals that have data.
    """
    with duckdb.connect(config={**DUCKDB_CONFIG, "threads": threads}) as connection:
        for table, schema in REPORT_INPUTS.items():
            window = Input(
                table,
                (table,),
                schema,
                days_before=request.days - 1,
                days_after=DAYS_AFTER_RANGE.get(table, 0),
            )
            _register_lazily(connection, lake_root, window, request.last)
        traded = connection.execute(
            "select distinct exchange, symbol from fct_price_1m "
            "union select distinct exchange, symbol from dq_coverage"
        ).fetchall()
        if (request.exchange, request.symbol) not in traded:
            raise ReportDataError(_nothing_to_report(request, traded))
        parameters: dict[str, Any] = {
            "exchange": request.exchange,
            "symbol": request.symbol,
            "first_day": request.first,
            "last_day": request.last,
            "range_start": day_bounds(request.first)[0],
            "range_end": day_bounds(request.last)[1],
        }

        def query(name: str) -> pl.DataFrame:
            sql = (REPORT_SQL_ROOT / f"{name}.sql").read_text()
            bound = bind(sql, parameters, f"{name}.sql")
            frame = pl.from_arrow(connection.sql(sql, params=bound).to_arrow_table())
            assert isinstance(frame, pl.DataFrame)
            return frame

        # The coin column names every venue's instruments; symbols paired by their quote
        # suffix cover partitions written before it (and spot, which has no funding).
        coins = {
            (row["exchange"], row["symbol"]): row["coin"]
            for row in query("report_instruments").iter_rows(named=True)
        }
        coin = coins.get((request.exchange, request.symbol), request.coin)
        venues = tuple(
            sorted(
                {f"{e}:{s}" for e, s in traded if coin_of(s) == request.coin}
                | {f"{e}:{s}" for (e, s), c in coins.items() if c == coin}
            )
        )
        parameters |= {"coin": coin, "instruments": list(venues)}
        return ReportData(
            request=request,
            lake_root=lake_root,
            coin=coin,
            venues=venues,
            daily_liquidations=query("report_daily_liquidations"),
            funding=query("report_funding"),
            funding_cross_venue=query("report_funding_cross_venue"),
            open_interest=query("report_open_interest"),
            cme_open_interest=query("report_cme_open_interest"),
            open_interest_by_type=query("report_open_interest_by_type"),
            volume_shares=query("report_volume_shares"),
            heatmap=query("report_heatmap"),
            hot_zones=query("report_hot_zones"),
            regimes=query("report_regimes"),
            flush_events=query("report_flush_events"),
            coverage=query("report_coverage"),
        )


def _register_lazily(
    connection: duckdb.DuckDBPyConnection, lake_root: Path, window: Input, day: date
) -> None:
    """Register ``window``'s partitions as a Parquet scan, not a table read into memory.

    Each query then reads only its columns, and its perpetual's rows where the files allow:
    a year of every symbol's minutes read whole held 4.6 GB for one coin's report.
    """
    files = [storage.uri(path) for _, path in input_partitions(lake_root, window, day)]
    if files:
        # By name: a table that gains a column keeps older partitions in the old layout until
        # they are rebuilt, and those read with the new column null.
        relation = connection.read_parquet(files, hive_partitioning=True, union_by_name=True)
        # When none of them has it yet, the column is added null, so the queries still bind.
        absent = pa.schema([f for f in window.schema if f.name not in relation.columns])
        if absent.names:
            types = connection.from_arrow(absent.empty_table()).types
            relation = relation.select(
                *(duckdb.ColumnExpression(name) for name in relation.columns),
                *(
                    duckdb.ConstantExpression(None).cast(kind).alias(field.name)
                    for field, kind in zip(absent, types, strict=True)
                ),
            )
        relation.create_view(window.role)
    else:
        connection.register(window.role, read_input(lake_root, window, day))


def _nothing_to_report(request: ReportRequest, traded: list[tuple[str, str]]) -> str:
    perpetuals = sorted(f"{s} ({e})" for e, s in traded if e in PERPETUAL_EXCHANGES)
    found = ", ".join(perpetuals) if perpetuals else "none"
    return (
        f"no data for {request.symbol} on {request.exchange} between {request.first} and "
        f"{request.last}; perpetuals with data in that range: {found}"
    )

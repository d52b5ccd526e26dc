"""Fact models: DuckDB SQL files over staged partitions, built one day at a time.

Each model names the *roles* its SQL reads (``stg_metrics``: the metrics of every exchange) and
how many days around the partition it needs. The runner reads exactly those partitions from the
lake (never the whole history), registers them as Arrow tables under the role names, binds the
day as parameters and publishes the result. No path, name or value is ever interpolated into
SQL text: the SQL files are fixed and the inputs arrive as registered relations.
"""

import os
import re
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.func import FunctionNullHandling

from transforms import storage
from transforms.catalog import DUCKDB_CONFIG
from transforms.dataset import Dataset
from transforms.instruments import coin_of
from transforms.manifests import quarantined_symbols
from transforms.publish import PARTITION_FILE, day_bounds, partition_dir
from transforms.schemas import COT_CATEGORIES, STAGED_SCHEMAS, TIMESTAMP, Kind
from transforms.settings import MANIFESTS_FOLDER
from transforms.sources import DATASETS, cftc
from transforms.sources.delivery import expiry_of

SQL_ROOT: Final = Path(__file__).resolve().parent.parent / "sql"
BUILD_WORKERS: Final = min(4, os.cpu_count() or 1)
"""Days of one model built at once: a day is single-threaded (its sums stay in one order, so a
rebuild gives the same rows), and a backfill of a year spends most of its time here."""
_PARAMETER = re.compile(r"\$([a-z_]+)")
FALLBACK_TABLES: Final = [d.table for d in DATASETS if d.fallback_for is not None]
"""Staged tables that stand in for an archive dataset: their rows lose to the archive's."""
COMPLETE_TABLES: Final = [
    d.table for d in DATASETS if d.kind is Kind.LIQUIDATION and d.coverage == "complete"
]
"""Staged liquidation tables that hold every forced order (Hyperliquid's fills)."""


def bind(sql: str, available: Mapping[str, object], source: str) -> dict[str, object]:
    """The value of every ``$name`` parameter ``sql`` uses, from ``available``.

    Raises ``ValueError`` naming ``source`` (the SQL file) when ``sql`` uses a name that
    ``available`` lacks.
    """
    names = dict.fromkeys(_PARAMETER.findall(sql))
    missing = [name for name in names if name not in available]
    if missing:
        raise ValueError(f"{source} binds unknown parameter(s): {missing}")
    return {name: available[name] for name in names}


@dataclass(frozen=True)
class Input:
    """A relation a model reads: a role name, the lake tables behind it, and its day window."""

    role: str
    tables: tuple[str, ...]
    schema: pa.Schema
    days_before: int = 0
    days_after: int = 0

    @classmethod
    def of(
        cls, model: "FactModel", days_before: int = 0, schema: pa.Schema | None = None
    ) -> "Input":
        """The published table of ``model``, read under its own name from ``days_before`` days
        before the partition's day to that day, with ``model``'s schema unless ``schema`` says
        otherwise (a reader that binds columns the table may not carry yet)."""
        return cls(
            model.name,
            (model.name,),
            model.schema if schema is None else schema,
            days_before,
        )


@dataclass(frozen=True)
class FactModel:
    """One fact table: its SQL file, inputs and output schema."""

    name: str
    inputs: tuple[Input, ...]
    schema: pa.Schema
    time_column: str = "ts"
    layer: str = "facts"
    params: tuple[tuple[str, float | str], ...] = ()
    """Named values the SQL binds besides the day (thresholds of a feature, say)."""
    description: str = ""

    @property
    def sql_path(self) -> Path:
        return SQL_ROOT / self.layer / f"{self.name}.sql"

    @property
    def upstream_tables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for i in self.inputs for t in i.tables))

    @property
    def staged_inputs(self) -> tuple[Dataset, ...]:
        """The staged datasets behind this model's inputs (directly or through other facts)."""
        tables = set(self.upstream_tables)
        # Facts read other facts; later models in FACT_MODELS read earlier ones, so walking
        # the list backwards reaches every staged table through any chain of them.
        for model in reversed(FACT_MODELS):
            if model.name in tables:
                tables |= set(model.upstream_tables)
        return tuple(d for d in DATASETS if d.table in tables)


def staged_role(name: str, days_before: int = 0, days_after: int = 0) -> Input:
    """Every exchange's staged table of dataset ``name``, as one relation ``stg_<name>``."""
    datasets = [d for d in DATASETS if d.name == name]
    return Input(
        f"stg_{name}",
        tuple(d.table for d in datasets),
        STAGED_SCHEMAS[datasets[0].kind],
        days_before,
        days_after,
    )


def staged_kind_role(role: str, kind: Kind, days_before: int = 0, days_after: int = 0) -> Input:
    """Every staged table of ``kind``, whatever the source (archive files or REST history),
    as one relation ``role``: funding from every venue, open interest from every venue."""
    return Input(
        role,
        tuple(d.table for d in DATASETS if d.kind is kind),
        STAGED_SCHEMAS[kind],
        days_before,
        days_after,
    )


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    keys = [pa.field("exchange", pa.string(), False), pa.field("symbol", pa.string(), False)]
    return pa.schema([*keys, *(pa.field(name, kind) for name, kind in fields)])


def _coin_schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    key = pa.field("coin", pa.string(), False)
    return pa.schema([key, *(pa.field(name, kind) for name, kind in fields)])


F64, STR, I64 = pa.float64(), pa.string(), pa.int64()

FCT_PRICE_1M = FactModel(
    "fct_price_1m",
    (
        staged_role("klines"),
        staged_role("mark_price_klines"),
        staged_role("index_price_klines"),
        staged_role("premium_index_klines"),
        staged_role("delivery_klines"),
    ),
    _schema(
        ("ts", TIMESTAMP),
        *((c, F64) for c in ("open", "high", "low", "close", "volume_base", "volume_quote")),
        ("trade_count", I64),
        ("taker_buy_base", F64),
        ("taker_buy_quote", F64),
        ("mark_high", F64),
        ("mark_low", F64),
        ("mark_close", F64),
        ("index_close", F64),
        ("premium_close", F64),
        ("source_file", STR),
        ("contract_type", STR),
        ("expiry", TIMESTAMP),
    ),
    description=(
        "Every minute's traded bar per perpetual, delivery contract and spot pair, with the "
        "perpetual's mark range and close, index and premium closes: price, volume and taker "
        "flow, the base of every feature. contract_type says 'perpetual', 'delivery' or 'spot';"
        " expiry is a delivery contract's settlement (08:00 UTC), whose bars stop there."
    ),
)

FCT_OPEN_INTEREST = FactModel(
    "fct_open_interest",
    (
        staged_kind_role("stg_metrics", Kind.METRICS, days_before=1, days_after=1),
        Input.of(FCT_PRICE_1M),
    ),
    _schema(
        ("ts", TIMESTAMP),
        ("oi_base", F64),
        ("oi_usd", F64),
        ("top_account_ls_ratio", F64),
        ("top_position_ls_ratio", F64),
        ("account_ls_ratio", F64),
        ("taker_buy_sell_ratio", F64),
        ("source_file", STR),
        ("coin", STR),
        ("contract_type", STR),
        ("expiry", TIMESTAMP),
    ),
    description=(
        "Open interest every 5 minutes on every venue in base units (BTC, not USD, so that price"
        " moves do not look like new positions) and USD, with Binance's long/short and taker "
        "ratios. A venue that reports no USD value (Bybit) is valued at the coin's mark price. "
        "Binance's delivery contracts too: contract_type 'perpetual' or 'delivery', with a "
        "delivery contract's expiry (08:00 UTC), after which it has no rows."
    ),
)

FCT_FUNDING = FactModel(
    "fct_funding",
    (staged_kind_role("stg_funding_rate", Kind.FUNDING_RATE),),
    _schema(
        ("funding_time", TIMESTAMP),
        ("funding_rate", F64),
        ("funding_interval_hours", pa.int32()),
        ("funding_rate_8h", F64),
        ("funding_rate_apr", F64),
        ("source_file", STR),
        ("coin", STR),
    ),
    time_column="funding_time",
    description=(
        "Every funding settlement of every venue with its rate rescaled to 8 hours and "
        "annualised from its own interval: the cost of holding leverage, 0.01%/8h (10.95% APR) "
        "at rest. Binance's current month comes from its REST history until the archive's "
        "monthly file exists."
    ),
)

FCT_LIQUIDATIONS = FactModel(
    "fct_liquidations",
    # The days around it too: a recorded stream files an order by when it arrived, so one
    # stamped 23:59:59.9 is in the next day's file, and with a clock a little behind the venue's,
    # one stamped 00:00:00.1 is in the previous day's.
    (staged_kind_role("stg_liquidations", Kind.LIQUIDATION, days_before=1, days_after=1),),
    _schema(
        ("ts", TIMESTAMP),
        ("liquidated_side", STR),
        ("price", F64),
        ("avg_price", F64),
        ("qty_base", F64),
        ("notional_usd", F64),
        ("coverage", STR),
        ("source_file", STR),
    ),
    description=(
        "Every forced order of every venue: which side was liquidated (a Binance SELL "
        "liquidates a long), at what price, for how much. Coverage 'complete' where the venue "
        "publishes every one (Hyperliquid's fills), 'sampled' where a stream samples them "
        "(Binance's snapshots and the recorded streams: a lower bound)."
    ),
)

FCT_LIQUIDATIONS_5M = FactModel(
    "fct_liquidations_5m",
    (Input.of(FCT_LIQUIDATIONS),),
    _schema(
        ("ts", TIMESTAMP),
        ("long_liq_usd", F64),
        ("short_liq_usd", F64),
        ("long_liq_count", I64),
        ("short_liq_count", I64),
        ("long_liq_base", F64),
        ("short_liq_base", F64),
    ),
    description=(
        "Long and short liquidations per 5 minutes (USD, base units, counts) on a complete "
        "grid: the bursts that mark a flush or a squeeze."
    ),
)

FCT_MARKET_1H = FactModel(
    "fct_market_1h",
    (
        Input.of(FCT_PRICE_1M, days_before=1),
        Input.of(FCT_OPEN_INTEREST),
        Input.of(FCT_LIQUIDATIONS_5M),
    ),
    _schema(
        ("ts", TIMESTAMP),
        *(
            (name, F64)
            for name in (
                "close",
                "realized_vol",
                "perp_volume_quote",
                "perp_taker_imbalance",
                "premium_mean",
                "oi_base",
                "oi_usd",
                "long_liq_usd",
                "short_liq_usd",
                "spot_volume_quote",
                "spot_taker_imbalance",
            )
        ),
    ),
    description=(
        "Each perpetual's hour: closing price, realised volatility of its 1-minute returns, "
        "volume, taker imbalance and mean premium, the hour's last open interest (base units and"
        " USD), long and short liquidations, and the same coin's spot volume and taker "
        "imbalance. Rolled up once per day, so a 30-day feature window reads 720 hourly rows "
        "per perpetual instead of 43,200 minutes."
    ),
)

FCT_FUNDING_CROSS_VENUE = FactModel(
    "fct_funding_cross_venue",
    (
        Input.of(FCT_FUNDING, days_before=1),
        Input.of(FCT_OPEN_INTEREST),
    ),
    _coin_schema(
        ("ts", TIMESTAMP),
        ("venues", STR),
        ("venue_count", pa.int32()),
        ("funding_rate_8h_mean", F64),
        ("funding_rate_8h_oi_weighted", F64),
        ("funding_rate_apr_mean", F64),
        ("funding_rate_apr_oi_weighted", F64),
        ("oi_weighted_venue_count", pa.int32()),
        ("oi_usd_weight", F64),
    ),
    description=(
        "Each coin's hour across venues: the funding in force on every venue (its latest "
        "settlement, per 8 hours), averaged simply and weighted by each instrument's open "
        "interest in USD, with the venues counted. What every analytics vendor calls "
        "OI-weighted funding; a venue without open interest (BitMEX) counts in the simple mean "
        "only."
    ),
)

FCT_OPEN_INTEREST_CROSS_VENUE = FactModel(
    "fct_open_interest_cross_venue",
    (Input.of(FCT_OPEN_INTEREST),),
    _coin_schema(
        ("ts", TIMESTAMP),
        ("oi_base", F64),
        ("oi_usd", F64),
        ("venues", STR),
        ("venue_count", pa.int32()),
    ),
    description=(
        "Each coin's open interest per hour summed over every venue and instrument (each one's "
        "last reading of the hour), in base units and USD, with the venues that reported."
    ),
)

LIQUIDATION_COVERAGES: Final = ("complete", "sampled", "estimated")
"""The coverage kinds of ``fct_liquidations``: every forced order, a sample (a lower bound), a
model's estimate. Coin-level liquidation tables split their USD totals by these kinds."""

_COIN_LIQUIDATION_COLUMNS: Final = (
    ("ts", TIMESTAMP),
    ("long_liq_usd", F64),
    ("short_liq_usd", F64),
    ("long_liq_count", I64),
    ("short_liq_count", I64),
    ("long_liq_base", F64),
    ("short_liq_base", F64),
    *(
        (f"{side}_liq_usd_{coverage}", F64)
        for coverage in LIQUIDATION_COVERAGES
        for side in ("long", "short")
    ),
    ("venues", STR),
    ("venue_count", pa.int32()),
    ("coverages", STR),
    ("venue_coverage", STR),
)

FCT_LIQUIDATIONS_COIN_1H = FactModel(
    "fct_liquidations_coin_1h",
    (Input.of(FCT_LIQUIDATIONS),),
    _coin_schema(*_COIN_LIQUIDATION_COLUMNS),
    description=(
        "Each coin's long and short liquidations per hour summed over every venue and "
        "instrument (USD, base units, counts), on the day's full 24 hours for every coin with a "
        "liquidation that day, with the venues and coverage kinds behind the totals and the USD "
        "split by kind: 'complete' counts every forced order, 'sampled' is a lower bound."
    ),
)

FCT_LIQUIDATIONS_COIN_1D = FactModel(
    "fct_liquidations_coin_1d",
    (Input.of(FCT_LIQUIDATIONS_COIN_1H),),
    _coin_schema(*_COIN_LIQUIDATION_COLUMNS),
    description=(
        "Each coin's long and short liquidations per UTC day summed over every venue and "
        "instrument, with the venues and coverage kinds behind the totals and the USD split by "
        "kind: the hourly table's day in one row."
    ),
)

_COT_POSITIONS: Final = (
    *(f"{c}_{side}" for c in COT_CATEGORIES for side in ("long", "short", "spreading")),
    "nonreportable_long",
    "nonreportable_short",
)

FCT_COT_WEEKLY = FactModel(
    "fct_cot_weekly",
    (staged_kind_role("stg_cot", Kind.COT),),
    _schema(
        ("as_of", TIMESTAMP),
        ("report_date", pa.date32()),
        ("market_name", STR),
        ("contract_size", F64),
        ("open_interest", F64),
        ("open_interest_btc", F64),
        *((name, F64) for name in _COT_POSITIONS),
        *((f"{name}_btc", F64) for name in _COT_POSITIONS),
        ("source_file", STR),
    ),
    time_column="as_of",
    params=(("market_exchange", cftc.MARKET_EXCHANGE),),
    description=(
        "CFTC's weekly Commitments of Traders for CME's bitcoin futures (Traders in Financial "
        "Futures, futures only), one row per contract market and report: as of the Tuesday "
        "(as_of, the partition's day), released the Friday (report_date); open interest and the "
        "long, short and spreading positions of dealers, asset managers, leveraged funds, other "
        "reportables and non-reportables, in contracts and in bitcoin (contracts × "
        "contract_size): the regulated side of positioning, beside the perpetuals."
    ),
)

CONTRACT_COLUMNS: Final = (("contract_type", STR), ("expiry", TIMESTAMP))
"""Issue 16's last two columns of ``fct_price_1m`` and ``fct_open_interest``: 'perpetual',
'delivery' (or 'spot' for spot pairs) and a delivery contract's expiry instant (08:00 UTC)."""


def with_contract_columns(schema: pa.Schema) -> pa.Schema:
    """``schema`` with ``contract_type`` and ``expiry`` as its last columns when it lacks them.

    The models below read ``fct_price_1m`` and ``fct_open_interest`` with this schema, so they
    bind whether or not those facts carry the columns yet; a partition written without them
    reads them as null.
    """
    for name, kind in CONTRACT_COLUMNS:
        if name not in schema.names:
            schema = schema.append(pa.field(name, kind))
    return schema


FCT_BASIS_1H = FactModel(
    "fct_basis_1h",
    (
        Input.of(FCT_PRICE_1M, schema=with_contract_columns(FCT_PRICE_1M.schema)),
        Input.of(FCT_FUNDING, days_before=1),
        Input.of(FCT_FUNDING_CROSS_VENUE),
    ),
    _schema(
        ("ts", TIMESTAMP),
        ("coin", STR),
        ("expiry", TIMESTAMP),
        ("close_ts", TIMESTAMP),
        ("close", F64),
        ("index_close", F64),
        ("index_source", STR),
        ("basis", F64),
        ("days_to_expiry", F64),
        ("basis_apr", F64),
        ("funding_rate_apr", F64),
        ("funding_source", STR),
    ),
    description=(
        "Each delivery contract's hour: its last 1-minute close, the index that minute (the "
        "contract's own, else the same exchange's perpetual of the coin), the basis "
        "(close / index − 1), the days left to expiry and the basis annualised over them, "
        "beside the coin's perpetual funding annualised (OI-weighted across venues, else the "
        "perpetual's latest settlement). A coin-hour's rows ordered by expiry are its term "
        "structure: the premium a dated future pays against what holding a perpetual costs."
    ),
)

FCT_VOLUME_SHARES_1D = FactModel(
    "fct_volume_shares_1d",
    (Input.of(FCT_PRICE_1M, schema=with_contract_columns(FCT_PRICE_1M.schema)),),
    _coin_schema(
        ("ts", TIMESTAMP),
        ("venue", STR),
        ("spot_volume_usd", F64),
        ("perpetual_volume_usd", F64),
        ("delivery_volume_usd", F64),
        ("total_volume_usd", F64),
        ("spot_share", F64),
        ("perpetual_share", F64),
        ("delivery_share", F64),
        ("venues", STR),
        ("venue_count", pa.int32()),
        ("instrument_count", pa.int32()),
    ),
    description=(
        "Each coin's traded volume per UTC day in USD, split into spot, perpetual and delivery "
        "futures, with each kind's share of the total: one row per venue that traded it "
        "(binance_spot, binance_um, …) and one row 'all' summed over them. Where the "
        "perpetuals trade most of a coin's volume, price is set by leverage."
    ),
)


FACT_MODELS: Final = (
    FCT_PRICE_1M,
    FCT_OPEN_INTEREST,
    FCT_FUNDING,
    FCT_LIQUIDATIONS,
    FCT_LIQUIDATIONS_5M,
    FCT_MARKET_1H,
    FCT_FUNDING_CROSS_VENUE,
    FCT_OPEN_INTEREST_CROSS_VENUE,
    FCT_LIQUIDATIONS_COIN_1H,
    FCT_LIQUIDATIONS_COIN_1D,
    FCT_COT_WEEKLY,
    FCT_BASIS_1H,
    FCT_VOLUME_SHARES_1D,
)


def input_partitions(lake_root: Path, model_input: Input, day: date) -> list[tuple[date, Path]]:
    """The published partition files ``model_input`` needs around ``day``, oldest first.

    Missing partitions are simply absent: an optional input leaves its columns null.
    """
    found = []
    for offset in range(-model_input.days_before, model_input.days_after + 1):
        partition_day = day + timedelta(days=offset)
        for table in model_input.tables:
            path = partition_dir(lake_root, table, partition_day) / PARTITION_FILE
            if storage.exists(path):
                found.append((partition_day, path))
    return found


def read_input(lake_root: Path, model_input: Input, day: date) -> pa.Table:
    """The partitions ``model_input`` needs around ``day``, with their ``date`` and the lake
    table they came from (``source_table``) as columns.

    The result always has the input's schema, so the SQL binds even when nothing was published.
    """
    schema = model_input.schema.append(pa.field("date", pa.date32())).append(
        pa.field("source_table", pa.string())
    )
    parts = []
    for partition_day, path in input_partitions(lake_root, model_input, day):
        data = storage.read_table(path, model_input.schema)
        if data is None:  # removed since it was listed: a missing partition, like any other
            continue
        dates = pa.array([partition_day] * data.num_rows, pa.date32())
        # <lake>/<table>/date=YYYY-MM-DD/data.parquet
        tables = pa.array([path.parent.parent.name] * data.num_rows, pa.string())
        parts.append(data.append_column("date", dates).append_column("source_table", tables))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def build_facts(
    model: FactModel, days: Sequence[date], lake_root: Path, workers: int = BUILD_WORKERS
) -> Iterator[tuple[date, pa.Table]]:
    """:func:`build_fact` for each of ``days``, ``workers`` days side by side, yielded in order.

    A day's build is single-threaded DuckDB over other tables' partitions (no model reads its
    own), so days are independent and each gives the same rows however many are built at once;
    the caller checks and publishes them in order. At most ``workers`` + 1 built days wait.
    """
    if workers <= 1 or len(days) <= 1:
        for day in days:
            yield day, build_fact(model, day, lake_root)
        return
    queue = iter(days)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = deque(
            (day, pool.submit(build_fact, model, day, lake_root))
            for day in islice(queue, workers + 1)
        )
        while pending:
            day, future = pending.popleft()
            following = next(queue, None)
            if following is not None:
                pending.append((following, pool.submit(build_fact, model, following, lake_root)))
            yield day, future.result()


def build_fact(
    model: FactModel, day: date, lake_root: Path, manifest_root: Path | None = None
) -> pa.Table:
    """Run ``model``'s SQL for ``day`` over the partitions it needs; rows sorted, schema exact.

    A symbol quarantined on ``day`` in any staged input is left out entirely, even where a
    neighbouring day's file carries rows for it: its facts of that day are not built until a
    later run publishes the file. ``manifest_root`` defaults to the warehouse's manifests.
    """
    sql = model.sql_path.read_text()
    start, end = day_bounds(day)
    reach = max((i.days_before for i in model.inputs), default=0)
    available = {
        "day_start": start,
        "day_end": end,
        "day": day,
        "window_start": start - timedelta(days=reach),
        "fallback_tables": FALLBACK_TABLES,
        "complete_tables": COMPLETE_TABLES,
        **dict(model.params),
    }
    params = bind(sql, available, model.sql_path.name)
    with duckdb.connect(config={**DUCKDB_CONFIG, "threads": 1}) as connection:
        connection.create_function(
            "coin_of", coin_of, [duckdb.sqltype("VARCHAR")], duckdb.sqltype("VARCHAR")
        )
        connection.create_function(
            "expiry_of",
            expiry_of,
            [duckdb.sqltype("VARCHAR")],
            duckdb.sqltype("TIMESTAMP WITH TIME ZONE"),
            null_handling=FunctionNullHandling.SPECIAL,
        )
        for model_input in model.inputs:
            connection.register(model_input.role, read_input(lake_root, model_input, day))
        result = connection.sql(sql, params=params).to_arrow_table()
    quarantined = quarantined_symbols(
        manifest_root or lake_root.parent / MANIFESTS_FOLDER, model.staged_inputs, day
    )
    # A coin-level table has no instrument to drop: the facts it sums already left it out.
    keyed = "exchange" in result.column_names and "symbol" in result.column_names
    for exchange, symbol in quarantined if keyed else ():
        result = result.filter(
            pc.invert(
                pc.and_(pc.equal(result["exchange"], exchange), pc.equal(result["symbol"], symbol))
            )
        )
    return result.cast(model.schema)

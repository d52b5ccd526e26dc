"""The BI contract: every published table reads the same through every common reader.

A small warehouse is simulated and built through Dagster once for the module; then each table is
read with DuckDB, polars, pyarrow datasets and pandas, and checked against its checked-in schema
snapshot in ``contracts/``.
"""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from simulator.venue_server import serve_venues
from tests.runs import run_daily, simulate_mirror
from transforms.catalog import CATALOG_FILE, DUCKDB_CONFIG
from transforms.contracts import describe, published_schemas, render, snapshot_path

START, END = date(2024, 3, 30), date(2024, 4, 1)
UNIVERSE = (
    "binance_um:BTCUSDT,ETHUSDT;binance_cm:BTCUSD_PERP;binance_spot:BTCUSDT;"
    "bitmex:XBTUSD;bybit:BTCUSDT;okx:ETH-USDT-SWAP;hyperliquid:BTC;cftc:133741,133742"
)
COT_DAY = date(2024, 3, 26)
"""The Tuesday whose report covers the simulated days: CFTC's rows belong to Tuesdays only."""
FILLS_DAY = date(2025, 7, 27)
UNARCHIVED = "data/futures/um/monthly/fundingRate/ETHUSDT/ETHUSDT-fundingRate-2024-04.zip"
"""April's file is not out yet for ETHUSDT, so its REST fallback publishes too."""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        yield build_warehouse(tmp_path_factory, patch)


def build_warehouse(tmp_path_factory: pytest.TempPathFactory, patch: pytest.MonkeyPatch) -> Path:
    root = tmp_path_factory.mktemp("bi")
    mirror = simulate_mirror(
        root,
        START,
        END,
        symbols=("BTCUSDT", "ETHUSDT"),
        coin_margined=("BTCUSD_PERP",),
        spot=("BTCUSDT",),
    )
    for path in (mirror / UNARCHIVED, mirror / f"{UNARCHIVED}.CHECKSUM"):
        path.unlink()
    warehouse = root / "warehouse"
    record_streams(warehouse, date(2024, 3, 31))
    # CFTC's files from the simulator's tree, through the same settings a run reads.
    patch.setenv("TREADMILL_CFTC_URL", (mirror / "cftc").as_uri() + "/")
    with serve_venues(mirror, rate_limits=None) as venues:
        run_daily(
            warehouse,
            mirror,
            START,
            END,
            UNIVERSE,
            venues.treadmill_urls(),
            hyperliquid=mirror / "hyperliquid",
        )
    # Hyperliquid's fills exist only from 2025-05-25: one more day, from a second simulation.
    later = simulate_mirror(
        root / "later", FILLS_DAY, FILLS_DAY, symbols=("BTCUSDT",), coin_margined=()
    )
    run_daily(
        warehouse, later, FILLS_DAY, FILLS_DAY, "hyperliquid:BTC", hyperliquid=later / "hyperliquid"
    )
    # The simulated days hold no Tuesday: the report covering them is as of the one before.
    run_daily(warehouse, mirror, COT_DAY, COT_DAY, "cftc:133741,133742")
    return warehouse


def record_streams(warehouse: Path, day: date) -> None:
    """One recorded hour of each liquidation stream, as `treadmill record` writes it."""
    at = int(datetime(day.year, day.month, day.day, 5, tzinfo=UTC).timestamp() * 1000)
    messages = {
        "binance_um": {
            "e": "forceOrder",
            "E": at,
            "o": {"s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.5",
                  "p": "70000", "ap": "70010", "X": "FILLED", "l": "0.5", "z": "0.5", "T": at},
        },
        "bybit": {
            "topic": "allLiquidation.BTCUSDT",
            "type": "snapshot",
            "ts": at,
            "data": [{"T": at, "s": "BTCUSDT", "S": "Sell", "v": "0.2", "p": "70100"}],
        },
        "okx": {
            "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [{"details": [{"bkLoss": "0", "bkPx": "3500", "ccy": "", "posSide": "long",
                                   "side": "sell", "sz": "7", "ts": str(at)}],
                      "instFamily": "ETH-USDT", "instId": "ETH-USDT-SWAP", "instType": "SWAP",
                      "uly": "ETH-USDT"}],
        },
    }  # fmt: skip
    for venue, message in messages.items():
        folder = warehouse / "raw" / "recorder" / venue / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        line = {"recv_ms": at + 5, "raw": json.dumps(message)}
        (folder / "05.jsonl").write_text(json.dumps(line) + "\n")


def key_columns(contract: dict) -> list[str]:
    """The columns a table is sorted by: (exchange, symbol, time), or (coin, time)."""
    columns: list[str] = contract["sorted_by"]
    return columns


TABLES = sorted(published_schemas())


def test_every_table_has_a_checked_in_snapshot_matching_the_code() -> None:
    for table, (schema, time_column) in published_schemas().items():
        path = snapshot_path(table)
        assert path.exists(), f"no contract for {table}: run python -m transforms.contracts"
        assert path.read_text() == render(describe(schema, time_column)), (
            f"{table} drifted from {path}: review, then rerun python -m transforms.contracts"
        )
    snapshots = {p.stem for p in snapshot_path("x").parent.glob("*.json")}
    assert snapshots == set(TABLES)


@pytest.mark.parametrize("table", TABLES)
def test_published_files_match_the_contract(warehouse: Path, table: str) -> None:
    files = sorted((warehouse / "lake" / table).glob("date=*/*"))
    assert files, f"{table} published nothing"
    assert {f.name for f in files} == {"data.parquet"}, "one data.parquet per partition"
    contract = json.loads(snapshot_path(table).read_text())
    expected = [(c["name"], c["type"]) for c in contract["columns"]]
    order = key_columns(contract)
    for path in files:
        schema = pq.read_schema(path)
        assert [(f.name, str(f.type)) for f in schema] == expected
        assert not any(pa.types.is_decimal(f.type) for f in schema)
        metadata = pq.ParquetFile(path).metadata
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            codecs = {row_group.column(i).compression for i in range(row_group.num_columns)}
            assert codecs == {"ZSTD"}
        data = pq.read_table(path)
        keys = list(zip(*(data[column].to_pylist() for column in order), strict=True))
        assert keys == sorted(keys), f"{path} is not sorted by {order}"


@pytest.mark.parametrize("table", TABLES)
def test_every_reader_sees_the_same_rows(warehouse: Path, table: str) -> None:
    root = warehouse / "lake" / table
    glob = str(root / "**" / "*.parquet")
    order = key_columns(json.loads(snapshot_path(table).read_text()))
    time_column = order[-1]

    with duckdb.connect(config=DUCKDB_CONFIG) as connection:
        from_duckdb = connection.sql(
            "select * from read_parquet($glob, hive_partitioning = true)", params={"glob": glob}
        ).pl()
    from_polars = pl.scan_parquet(glob, hive_partitioning=True).collect()
    from_arrow = pl.from_arrow(pads.dataset(root, partitioning="hive").to_table())
    from_pandas = pl.from_pandas(pd.read_parquet(root))
    assert isinstance(from_arrow, pl.DataFrame)

    assert from_duckdb.schema["date"] == pl.Date
    assert from_polars.schema["date"] == pl.Date
    reference = from_polars.sort(order, maintain_order=True)
    for name, frame in (("duckdb", from_duckdb), ("pyarrow", from_arrow), ("pandas", from_pandas)):
        frame = frame.with_columns(pl.col("date").cast(pl.String).str.to_date()).select(
            reference.columns
        )
        assert frame.height == reference.height, name
        # Instants come back as UTC microseconds from every reader.
        assert frame.schema[time_column] == pl.Datetime("us", "UTC"), name
        assert frame.sort(order, maintain_order=True).equals(reference), name


def test_the_catalog_has_a_view_per_table_with_the_lake_rows(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse / CATALOG_FILE), read_only=True) as connection:
        views = {
            row[0]
            for row in connection.execute(
                "select view_name from duckdb_views() where not internal"
            ).fetchall()
        }
        assert views == set(TABLES)
        for table in TABLES:
            catalog_rows = connection.sql(f"select count(*) from {table}").fetchall()[0][0]
            lake_rows = sum(
                pq.ParquetFile(p).metadata.num_rows
                for p in (warehouse / "lake" / table).glob("date=*/data.parquet")
            )
            assert catalog_rows == lake_rows, table
        date_type = connection.sql("select typeof(date) from fct_funding limit 1").fetchall()
        assert date_type == [("DATE",)]

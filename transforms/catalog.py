"""The read-only catalog: a small DuckDB file of views over the lake, swapped in atomically.

``<warehouse>/catalog.duckdb`` holds one view per published table (``stg_``, ``fct_``,
``feat_``, ``dq_``) over its hive-partitioned Parquet, with ``date`` typed DATE. It holds no
data, so rebuilding it is cheap: it is written to a temporary file and ``os.replace``d, and a
reader that has it open keeps the old file until it reconnects. Users and BI tools open it
read-only; nothing ever writes inside it while they may hold it. Views name the lake by
absolute path, so the catalog belongs to the warehouse it was built for: a copied or moved
warehouse's catalog still names the old lake, so readers check :func:`catalog_is_current` and
query their own lake instead, and ``materialize`` rebuilds it. The file is built under
``<warehouse>/tmp`` and renamed into place.

``treadmill sql`` reads through :func:`query_connection`: views over this warehouse's lake on a
connection that can read the lake and nothing else (DuckDB's external access off but for the
lake's folder, no extension installed or loaded, the configuration locked), and
:func:`run_query` runs queries only, so a user's SQL can neither write a file nor read one
outside the warehouse.
"""

import re
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa

from transforms import storage
from transforms.errors import TreadmillError
from transforms.publish import PARTITION_FILE, temp_dir
from transforms.settings import CATALOG_FILE, LAKE_FOLDER

TABLE_PATTERN = re.compile(r"(stg|fct|feat|dq)_[a-z0-9_]+")
DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    # Never reach for the network to install an extension; icu (time zones) is built in, and
    # with autoinstall on, DuckDB 2.0 refuses to set TimeZone at connect time.
    "autoinstall_known_extensions": False,
    "TimeZone": "UTC",
}


def lake_tables(lake_root: Path) -> list[str]:
    """Tables with at least one published partition, in name order."""
    return sorted(
        entry.name
        for entry in storage.listing(lake_root)
        if TABLE_PATTERN.fullmatch(entry.name)
        and storage.listing(entry, f"date=*/{PARTITION_FILE}")
    )


def create_views(connection: duckdb.DuckDBPyConnection, lake_root: Path) -> list[str]:
    """Create a view per lake table on ``connection``; return the table names.

    DuckDB cannot bind parameters in DDL, so no SQL text is written here at all: each view is
    a relation built from values (the lake path, which comes from configuration, and the
    table's directory name, checked against a strict pattern) and saved by DuckDB itself.
    The hive directories ``date=YYYY-MM-DD`` read as DATE.
    """
    tables = lake_tables(lake_root)
    for table in tables:
        pattern = storage.uri(lake_root / table / "date=*" / PARTITION_FILE)
        relation = connection.read_parquet(pattern, hive_partitioning=True)
        relation.create_view(table, replace=True)
    return tables


def build_catalog(warehouse: Path) -> tuple[Path, list[str]]:
    """Rebuild ``<warehouse>/catalog.duckdb`` and swap it in; return its path and views."""
    target = warehouse / CATALOG_FILE
    # DuckDB builds the file on local disk, then it is published in one step.
    with storage.scratch_file(temp_dir(warehouse), CATALOG_FILE) as scratch:
        with duckdb.connect(str(scratch), config=DUCKDB_CONFIG) as connection:
            tables = create_views(connection, warehouse / LAKE_FOLDER)
            connection.execute("checkpoint")
        storage.put_file(scratch, target)
    return target, tables


def _lake_folder(warehouse: Path) -> str:
    """The lake's folder as DuckDB names it, with its trailing slash."""
    return storage.uri(warehouse / LAKE_FOLDER) + "/"


def _open_current_catalog(warehouse: Path) -> duckdb.DuckDBPyConnection | None:
    """``catalog.duckdb`` opened read-only when it exists and every view in it reads this
    warehouse's lake; None otherwise (the catalog of a copied or moved warehouse still names
    the lake it was built for)."""
    catalog = warehouse / CATALOG_FILE
    if not storage.exists(catalog):
        return None
    lake = _lake_folder(warehouse)
    connection = duckdb.connect(storage.uri(catalog), read_only=True, config=DUCKDB_CONFIG)
    views = connection.sql("select sql from duckdb_views() where not internal").fetchall()
    if all(f"'{lake}" in text for (text,) in views):
        return connection
    connection.close()
    return None


def catalog_is_current(warehouse: Path) -> bool:
    """Whether ``catalog.duckdb`` exists and every view in it reads this warehouse's lake."""
    connection = _open_current_catalog(warehouse)
    if connection is None:
        return False
    connection.close()
    return True


def connect_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """The catalog opened read-only; an in-memory set of views over this warehouse's lake when
    none was built yet, or when the catalog names another lake (a copied or moved warehouse)."""
    current = _open_current_catalog(warehouse)
    if current is not None:
        return current
    connection = duckdb.connect(config=DUCKDB_CONFIG)
    create_views(connection, warehouse / LAKE_FOLDER)
    return connection


QUERY_STATEMENTS: Final = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
"""What ``treadmill sql`` runs: queries (``select``, ``with``, ``from``, ``show``, ``describe``,
``summarize``) and ``explain``; every other statement is refused before it runs."""


class QueryRefusedError(TreadmillError):
    """A statement ``treadmill sql`` does not run: it only reads the warehouse."""


def query_connection(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A connection for a user's SQL: a view per table of this warehouse's lake (wherever the
    warehouse is now), able to read the lake and nothing else. Files outside the lake cannot be
    read, none can be written, attached, installed or loaded, and the lock on that configuration
    cannot be lifted."""
    lake = warehouse / LAKE_FOLDER
    connection = duckdb.connect(config=DUCKDB_CONFIG)
    try:
        create_views(connection, lake)
        connection.execute(
            "set allowed_directories = $folders", {"folders": [_lake_folder(warehouse)]}
        )
        connection.execute("set autoload_known_extensions = false")
        connection.execute("set enable_external_access = false")
        connection.execute("set lock_configuration = true")
    except BaseException:
        connection.close()
        raise
    return connection


def run_query(connection: duckdb.DuckDBPyConnection, query: str) -> pa.Table:
    """The result of one query; :class:`QueryRefusedError` for anything but one query (writing
    a file with ``COPY``, attaching, installing, changing a setting, creating a table…)."""
    statements = duckdb.extract_statements(query)
    if len(statements) != 1:
        raise QueryRefusedError(f"one query at a time, not {len(statements)} statements")
    kind = statements[0].type
    if kind not in QUERY_STATEMENTS:
        raise QueryRefusedError(
            f"treadmill sql only reads the warehouse: a {kind.name} statement is refused "
            "(to keep a result, use --out FILE)"
        )
    result = connection.sql(query)
    if result is None:
        raise QueryRefusedError("the statement returned no result set")
    return result.to_arrow_table()

"""The read-only catalog: a small DuckDB file of views over the lake, swapped in atomically.

``<warehouse>/catalog.duckdb`` holds one view per published table (``stg_``, ``fct_``,
``feat_``, ``dq_``) over its hive-partitioned Parquet, with ``date`` typed DATE. It holds no
data, so rebuilding it is cheap: it is written to a temporary file and ``os.replace``d, and a
reader that has it open keeps the old file until it reconnects. Users and BI tools open it
read-only; nothing ever writes inside it while they may hold it. Views name the lake by
absolute path, so the catalog belongs to the warehouse it was built for.
"""

import os
import re
import uuid
from pathlib import Path

import duckdb

CATALOG_FILE = "catalog.duckdb"
TABLE_PATTERN = re.compile(r"(stg|fct|feat|dq)_[a-z0-9_]+")
DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    # Never reach for the network to install an extension; icu (time zones) is built in, and
    # with autoinstall on, DuckDB 2.0 refuses to set TimeZone at connect time.
    "autoinstall_known_extensions": False,
    "TimeZone": "UTC",
}


def lake_tables(lake_root: Path) -> list[str]:
    """Tables with at least one published partition, in name order."""
    if not lake_root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in lake_root.iterdir()
        if entry.is_dir()
        and TABLE_PATTERN.fullmatch(entry.name)
        and any(entry.glob("date=*/data.parquet"))
    )


def create_views(connection: duckdb.DuckDBPyConnection, lake_root: Path) -> list[str]:
    """Create a view per lake table on ``connection``; return the table names.

    Names are the lake's own directory names, checked against a strict pattern, and the path
    is the warehouse's own; DuckDB cannot bind either in DDL, so both are validated instead.
    """
    tables = lake_tables(lake_root)
    for table in tables:
        pattern = str(lake_root.resolve() / table / "date=*" / "data.parquet").replace("'", "''")
        connection.execute(
            f"create or replace view {table} as select * from read_parquet('{pattern}', "
            "hive_partitioning = true, hive_types = {'date': 'date'})"
        )
    return tables


def build_catalog(warehouse: Path) -> tuple[Path, list[str]]:
    """Rebuild ``<warehouse>/catalog.duckdb`` and swap it in; return its path and views."""
    target = warehouse / CATALOG_FILE
    temp = warehouse / f".{CATALOG_FILE}.{uuid.uuid4().hex}.tmp"
    try:
        with duckdb.connect(str(temp), config=DUCKDB_CONFIG) as connection:
            tables = create_views(connection, warehouse / "lake")
            connection.execute("checkpoint")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
        temp.with_name(temp.name + ".wal").unlink(missing_ok=True)
    return target, tables


def connect_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """The catalog opened read-only; an in-memory set of views when none was built yet."""
    catalog = warehouse / CATALOG_FILE
    if catalog.exists():
        return duckdb.connect(str(catalog), read_only=True, config=DUCKDB_CONFIG)
    connection = duckdb.connect(config=DUCKDB_CONFIG)
    create_views(connection, warehouse / "lake")
    return connection

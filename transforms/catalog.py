"""The read-only catalog: a small DuckDB file of views over the lake, swapped in atomically.

``<warehouse>/catalog.duckdb`` holds one view per published table (``stg_``, ``fct_``,
``feat_``, ``dq_``) over its hive-partitioned Parquet, with ``date`` typed DATE. It holds no
data, so rebuilding it is cheap: it is written to a temporary file and ``os.replace``d, and a
reader that has it open keeps the old file until it reconnects. Users and BI tools open it
read-only; nothing ever writes inside it while they may hold it. Views name the lake by
absolute path, so the catalog belongs to the warehouse it was built for. The file is built under
``<warehouse>/tmp`` and renamed into place.
"""

import re
from pathlib import Path

import duckdb

from transforms import storage
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


def connect_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """The catalog opened read-only; an in-memory set of views when none was built yet."""
    catalog = warehouse / CATALOG_FILE
    if storage.exists(catalog):
        return duckdb.connect(storage.uri(catalog), read_only=True, config=DUCKDB_CONFIG)
    connection = duckdb.connect(config=DUCKDB_CONFIG)
    create_views(connection, warehouse / LAKE_FOLDER)
    return connection

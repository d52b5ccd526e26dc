"""Read the lake with DuckDB: one view per published table, hive partitions typed.

Table names come from the directories the warehouse itself writes, checked against a strict
pattern; nothing a user types becomes an identifier or a path.
"""

import re
from pathlib import Path

import duckdb

TABLE_PATTERN = re.compile(r"(stg|fct|feat|dq)_[a-z0-9_]+")


def lake_tables(lake_root: Path) -> list[str]:
    """Tables that have at least one published partition, in name order."""
    if not lake_root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in lake_root.iterdir()
        if entry.is_dir()
        and TABLE_PATTERN.fullmatch(entry.name)
        and any(entry.glob("date=*/data.parquet"))
    )


def connect_lake(lake_root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view per lake table, ``date`` typed DATE."""
    connection = duckdb.connect(config={"TimeZone": "UTC", "autoinstall_known_extensions": False})
    for table in lake_tables(lake_root):
        pattern = str(lake_root / table / "date=*" / "data.parquet").replace("'", "''")
        connection.execute(
            f"create view {table} as select * from read_parquet('{pattern}', "
            "hive_partitioning = true, hive_types = {'date': 'date'})"
        )
    return connection

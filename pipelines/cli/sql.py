"""``treadmill sql``: query the warehouse, read-only: it reads the lake and writes nothing."""

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.common import (
    WarehouseOption,
    console,
    error_exit,
    load_settings,
    require_warehouse,
)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def sql(
    query: Annotated[str, typer.Argument(help="A DuckDB SQL query over the catalog's views.")],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="table, csv or json.")
    ] = OutputFormat.table,
    out: Annotated[
        Path | None, typer.Option(help="Write the result to this Parquet file instead.")
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Run a SQL query against the warehouse's catalog, read-only (safe during a run)."""
    import duckdb
    import pyarrow.parquet as pq

    from transforms.catalog import TABLE_PATTERN, QueryRefusedError, query_connection, run_query

    settings = load_settings(warehouse, None)
    # A warehouse whose first run has not published yet exists, with no table so far.
    require_warehouse(settings)
    try:
        with query_connection(settings.warehouse) as connection:
            table = run_query(connection, query)
    except QueryRefusedError as exc:
        raise error_exit("refused", exc, 2) from exc
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()
        first = message[0] if message else type(exc).__name__
        missing = re.search(r"Table with name (\w+) does not exist", first)
        if missing and TABLE_PATTERN.fullmatch(missing.group(1)):
            first = (
                f"{missing.group(1)} is not built yet in {settings.warehouse} "
                "(`treadmill materialize` builds it)"
            )
        raise error_exit("SQL error", first, 1) from exc
    if out is not None:
        pq.write_table(table, out, compression="zstd")
        console.print(f"wrote {table.num_rows:,} rows to {out}")
        return
    import polars as pl

    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if output is OutputFormat.csv:
        typer.echo(frame.write_csv(), nl=False)
    elif output is OutputFormat.json:
        typer.echo(json.dumps(frame.to_dicts(), default=str, indent=1))
    else:
        with pl.Config(tbl_rows=50, tbl_cols=20, fmt_str_lengths=40):
            typer.echo(str(frame))

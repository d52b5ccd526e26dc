"""``treadmill sql``: query the warehouse's catalog, read-only."""

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.common import WarehouseOption, console, error_exit, load_settings


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

    from transforms.catalog import connect_read_only

    settings = load_settings(warehouse, None)
    try:
        with connect_read_only(settings.warehouse) as connection:
            result = connection.sql(query)
            if result is None:
                raise error_exit("SQL error", "the statement returned no result set", 1)
            table = result.to_arrow_table()
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()
        raise error_exit("SQL error", message[0] if message else type(exc).__name__, 1) from exc
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

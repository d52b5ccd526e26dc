"""Section 4: six typical ad-hoc queries on the catalog, each timed.

Each ``queries/*.sql`` runs on a read-only connection to the warehouse's ``catalog.duckdb``,
the way a user or BI tool reads it (views over the hive-partitioned Parquet lake, all of it: no
partition filter helps them). The first run is reported as ``cold`` (the operating system's
file cache is warm from the build, DuckDB's is not); then the best and median of ``repeat``
runs. A query that returns no rows is an error: a benchmark of an empty answer measures
nothing.
"""

import statistics
import time
from pathlib import Path
from typing import Any

from transforms.catalog import connect_read_only
from transforms.facts import bind

QUERIES = Path(__file__).parent / "queries"
PARAMETERS: dict[str, object] = {"symbol": "BTCUSDT"}
"""Values the queries bind (``$symbol``): BTCUSDT is in every benchmark universe."""


def run(warehouse: Path, repeat: int) -> dict[str, Any]:
    """Time every query in ``queries/`` against ``warehouse``'s catalog."""
    rows = []
    for path in sorted(QUERIES.glob("*.sql")):
        sql = path.read_text()
        params = bind(sql, PARAMETERS, path.name)
        timings = []
        result_rows = 0
        with connect_read_only(warehouse) as connection:
            for _ in range(repeat + 1):
                began = time.perf_counter()
                result = connection.sql(sql, params=params).to_arrow_table()
                timings.append(time.perf_counter() - began)
                result_rows = result.num_rows
        if not result_rows:
            raise RuntimeError(f"{path.name} returned no rows on {warehouse}")
        rows.append(
            {
                "query": path.stem,
                "rows": result_rows,
                "cold_s": round(timings[0], 4),
                "best_s": round(min(timings[1:]), 4),
                "median_s": round(statistics.median(timings[1:]), 4),
            }
        )
        print(f"query {path.stem}: best {rows[-1]['best_s']} s", flush=True)
    return {"warehouse": str(warehouse), "repeat": repeat, "rows": rows}

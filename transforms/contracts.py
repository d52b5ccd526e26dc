"""The BI contract: the schema of every published table, checked in under ``contracts/``.

BI tools and notebooks bind to these columns and types. ``python -m transforms.contracts``
rewrites the snapshots from the code; a test fails whenever the code or a published file drifts
from them, so a schema change is always a reviewed change to ``contracts/``.
"""

import json
from pathlib import Path
from typing import Final

import pyarrow as pa

from transforms.coverage import COVERAGE_SCHEMA, COVERAGE_TABLE
from transforms.facts import FACT_MODELS
from transforms.features import FEATURE_MODELS
from transforms.heatmap import (
    HEATMAP_TABLE_SCHEMA,
    HOT_ZONES_TABLE_SCHEMA,
    LEVELS_SCHEMA,
    LEVELS_TABLE,
)
from transforms.schemas import STAGED_SCHEMAS, TIME_COLUMN
from transforms.sources import DATASETS

CONTRACT_ROOT: Final = Path(__file__).resolve().parent.parent / "contracts"


def published_schemas() -> dict[str, tuple[pa.Schema, str]]:
    """Every table the warehouse publishes: its Parquet schema and its instant column."""
    tables = {d.table: (STAGED_SCHEMAS[d.kind], TIME_COLUMN[d.kind]) for d in DATASETS}
    tables |= {m.name: (m.schema, m.time_column) for m in (*FACT_MODELS, *FEATURE_MODELS)}
    tables |= {
        LEVELS_TABLE: (LEVELS_SCHEMA, "ts"),
        "feat_liquidation_heatmap": (HEATMAP_TABLE_SCHEMA, "ts"),
        "feat_hot_zones": (HOT_ZONES_TABLE_SCHEMA, "ts"),
    }
    # One row per exchange × symbol × dataset; ``checked_at`` is its only instant.
    tables[COVERAGE_TABLE] = (COVERAGE_SCHEMA, "checked_at")
    return dict(sorted(tables.items()))


def describe(schema: pa.Schema, time_column: str) -> dict[str, object]:
    """A schema as reviewable JSON: columns in order with type and nullability."""
    return {
        "columns": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
        "partitioning": {"date": "date (hive directory date=YYYY-MM-DD, the UTC day)"},
        # Coin-level tables aggregate across venues: their key is the coin.
        "sorted_by": [
            *(["exchange", "symbol"] if "exchange" in schema.names else ["coin"]),
            time_column,
        ],
    }


def render(contract: dict[str, object]) -> str:
    """JSON with one line per column, so that a schema change is a one-line diff."""
    columns = ",\n".join(f"    {json.dumps(column)}" for column in contract["columns"])  # type: ignore[attr-defined]
    rest = {key: value for key, value in contract.items() if key != "columns"}
    body = json.dumps(rest, indent=2)[1:-1].rstrip()
    return f'{{\n  "columns": [\n{columns}\n  ],{body}\n}}\n'


def snapshot_path(table: str) -> Path:
    return CONTRACT_ROOT / f"{table}.json"


def write_snapshots() -> list[Path]:
    CONTRACT_ROOT.mkdir(exist_ok=True)
    written = []
    for table, (schema, time_column) in published_schemas().items():
        path = snapshot_path(table)
        path.write_text(render(describe(schema, time_column)))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_snapshots():
        print(path)

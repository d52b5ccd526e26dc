"""``python -m benchmarks.lake_digest WAREHOUSE [--out FILE] [--against FILE]``: is a lake the same?

A refactoring that promises unchanged behaviour is shown by building the demo before and after
(same seed, same warehouse path) and comparing every Parquet file's rows: this prints, for each
Parquet file under the warehouse (``dagster/``, ``tmp/`` and the simulated ``mirror/`` left out),
its row count and a sha256 of its schema and rows in order; ``--out`` keeps them as JSON and
``--against`` compares with a kept digest, listing the files that differ by table.
"""

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import pyarrow.parquet as pq
import typer

SKIPPED = ("dagster/", "tmp/", "mirror/")


def lake_digest(warehouse: Path) -> dict[str, tuple[int, str]]:
    """Each Parquet file's row count and the sha256 of its schema and rows, by relative path."""
    digests = {}
    for path in sorted(warehouse.rglob("*.parquet")):
        name = path.relative_to(warehouse).as_posix()
        if name.startswith(SKIPPED):
            continue
        table = pq.read_table(path)
        digest = hashlib.sha256(repr(table.schema).encode())
        for batch in table.to_batches(100_000):
            digest.update(repr(batch.to_pylist()).encode())
        digests[name] = (table.num_rows, digest.hexdigest())
    return digests


def main(
    warehouse: Path,
    out: Annotated[Path | None, typer.Option(help="Keep the digest as JSON.")] = None,
    against: Annotated[Path | None, typer.Option(help="A kept digest to compare with.")] = None,
) -> None:
    digests = lake_digest(warehouse)
    rows = sum(count for count, _ in digests.values())
    print(f"{len(digests)} Parquet files, {rows:,} rows")
    if out is not None:
        out.write_text(json.dumps(digests, indent=0, sort_keys=True))
    if against is None:
        return
    kept = {name: tuple(value) for name, value in json.loads(against.read_text()).items()}
    differing = sorted(name for name in kept.keys() & digests.keys() if kept[name] != digests[name])
    print(f"only in {against}: {len(kept.keys() - digests.keys())}")
    print(f"only in {warehouse}: {len(digests.keys() - kept.keys())}")
    print(f"differing: {len(differing)}")
    for table, count in sorted(Counter(name.split("/")[1] for name in differing).items()):
        print(f"  {table}: {count} file(s)")


if __name__ == "__main__":
    typer.run(main)

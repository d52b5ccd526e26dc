"""The catalog: views over the lake, swapped atomically, readable during a rebuild."""

import ast
import shutil
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from transforms.catalog import build_catalog, catalog_is_current, connect_read_only, lake_tables
from transforms.publish import publish_partition
from transforms.schemas import TIMESTAMP
from transforms.settings import CATALOG_FILE

DAY = date(2024, 1, 1)


def ticks(rows: int) -> pa.Table:
    return pa.table(
        {
            "exchange": ["binance_um"] * rows,
            "symbol": ["BTCUSDT"] * rows,
            "ts": pa.array([1_704_067_200_000_000 + i for i in range(rows)], TIMESTAMP),
            "value": [float(rows)] * rows,
        }
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    root = tmp_path / "warehouse"
    publish_partition(ticks(10), root / "lake", "fct_ticks", DAY)
    publish_partition(ticks(3), root / "lake", "stg_binance_um_ticks", DAY)
    build_catalog(root)
    return root


def test_views_cover_published_tables_only(warehouse: Path) -> None:
    (warehouse / "lake" / "not a table").mkdir()
    (warehouse / "lake" / "fct_empty" / "date=2024-01-01").mkdir(parents=True)
    assert lake_tables(warehouse / "lake") == ["fct_ticks", "stg_binance_um_ticks"]
    with connect_read_only(warehouse) as connection:
        assert connection.sql(
            "select count(*), any_value(typeof(date)) from fct_ticks"
        ).fetchall() == [(10, "DATE")]


def test_readers_never_fail_nor_see_a_half_written_partition(warehouse: Path) -> None:
    """A writer republishes and rebuilds in a loop while readers in this and another process
    query the catalog: every read succeeds and sees one whole partition (10 or 20 rows)."""
    stop = threading.Event()
    rebuilds = 0

    def write() -> None:
        nonlocal rebuilds
        while not stop.is_set() and rebuilds < 200:
            publish_partition(
                ticks(20 if rebuilds % 2 else 10), warehouse / "lake", "fct_ticks", DAY
            )
            build_catalog(warehouse)
            rebuilds += 1

    reader_script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from transforms.catalog import connect_read_only\n"
        "seen = set()\n"
        "for _ in range(40):\n"
        "    with connect_read_only(Path(sys.argv[1])) as c:\n"
        "        query = 'select count(*), min(value), max(value) from fct_ticks'\n"
        "        seen.add(c.sql(query).fetchall()[0])\n"
        "print(sorted(seen))\n"
    )
    writer = threading.Thread(target=write)
    writer.start()
    other_process = subprocess.run(
        [sys.executable, "-c", reader_script, str(warehouse)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    seen = set()
    for _ in range(40):
        with connect_read_only(warehouse) as connection:
            seen.add(
                connection.sql("select count(*), min(value), max(value) from fct_ticks").fetchall()[
                    0
                ]
            )
    stop.set()
    writer.join(timeout=60)

    assert other_process.returncode == 0, other_process.stderr
    assert seen <= {(10, 10.0, 10.0), (20, 20.0, 20.0)}
    observed_elsewhere = ast.literal_eval(other_process.stdout)
    assert set(observed_elsewhere) <= {(10, 10.0, 10.0), (20, 20.0, 20.0)}
    assert rebuilds > 0
    assert not list((warehouse / "tmp").iterdir()), "no temporary catalog left behind"


def test_cli_sql_formats_writes_parquet_and_reports_bad_sql(
    warehouse: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    base = ["sql", "--warehouse", str(warehouse)]

    table = runner.invoke(app, [*base, "select symbol, count(*) as n from fct_ticks group by 1"])
    csv = runner.invoke(app, [*base, "select count(*) as n from fct_ticks", "--format", "csv"])
    as_json = runner.invoke(
        app, [*base, "select max(value) as v from fct_ticks", "--format", "json"]
    )
    out = tmp_path / "result.parquet"
    written = runner.invoke(app, [*base, "select * from fct_ticks", "--out", str(out)])
    bad = runner.invoke(app, [*base, "select nope from fct_ticks"])
    write_attempt = runner.invoke(app, [*base, "create table x as select 1"])

    assert table.exit_code == 0
    assert "BTCUSDT" in table.output
    assert csv.output == "n\n10\n"
    assert '"v": 10.0' in as_json.output
    assert written.exit_code == 0
    assert pq.read_table(out).num_rows == 10
    assert bad.exit_code == 1
    assert bad.output.startswith("SQL error: Binder Error")
    assert len(bad.output.strip().splitlines()) == 1
    assert write_attempt.exit_code == 2, "sql runs queries only"
    assert write_attempt.output.startswith("refused: treadmill sql only reads the warehouse")
    assert (warehouse / CATALOG_FILE).exists()


def sql(warehouse: Path, query: str) -> tuple[int, str]:
    """``treadmill sql QUERY --format csv`` on ``warehouse``: its exit code and output."""
    result = CliRunner().invoke(app, ["sql", query, "--format", "csv", f"--warehouse={warehouse}"])
    return result.exit_code, result.output


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def test_sql_reads_the_lake_and_nothing_else(warehouse: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("secret\n42\n")
    lake_file = next((warehouse / "lake" / "fct_ticks").rglob("data.parquet"))
    before = files_under(tmp_path)
    attempts = {
        "copy to a file outside": f"copy (select 1) to '{tmp_path / 'written.csv'}'",
        "copy over a lake file": f"copy (select 1 as x) to '{lake_file}' (format parquet)",
        "read a file outside": f"select * from read_csv('{outside}')",
        "attach a database": f"attach '{tmp_path / 'other.duckdb'}'",
        "install an extension": "install httpfs",
        "load an extension": "load httpfs",
        "lift the lock": "set enable_external_access = true",
        "unlock the configuration": "set lock_configuration = false",
        "create a table": "create table copied as select * from fct_ticks",
        "two statements": "select 1; select 2",
    }
    for name, query in attempts.items():
        code, output = sql(warehouse, query)
        assert code != 0, name
        assert len(output.strip().splitlines()) == 1, (name, output)
        assert output.startswith(("refused:", "SQL error:")), (name, output)
        assert "secret" not in output, name
    assert files_under(tmp_path) == before, "nothing written anywhere"
    assert sql(warehouse, "select count(*) as n from fct_ticks") == (0, "n\n10\n")
    assert sql(warehouse, "describe fct_ticks")[0] == 0
    assert sql(warehouse, "show tables")[1].splitlines()[1:] == [
        "fct_ticks",
        "stg_binance_um_ticks",
    ]


def test_a_copied_warehouse_answers_from_its_own_lake(warehouse: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(warehouse, copy, symlinks=True)
    publish_partition(ticks(20), warehouse / "lake", "fct_ticks", DAY)
    build_catalog(warehouse)

    assert not catalog_is_current(copy), "the copied catalog names the original's lake"
    assert catalog_is_current(warehouse)
    assert sql(copy, "select count(*) as n from fct_ticks") == (0, "n\n10\n")
    assert sql(warehouse, "select count(*) as n from fct_ticks") == (0, "n\n20\n")
    with connect_read_only(copy) as connection:
        assert connection.sql("select count(*) from fct_ticks").fetchall() == [(10,)]


def test_a_moved_warehouse_still_answers(warehouse: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.move(warehouse, moved)
    assert sql(moved, "select count(*) as n from fct_ticks") == (0, "n\n10\n")
    with connect_read_only(moved) as connection:
        assert connection.sql("select count(*) from fct_ticks").fetchall() == [(10,)]
    build_catalog(moved)
    assert catalog_is_current(moved)


def test_sql_says_when_there_is_no_warehouse_or_the_table_is_not_built(tmp_path: Path) -> None:
    code, output = sql(tmp_path / "nowhere", "select * from fct_funding")
    assert code == 2
    assert output.startswith("no warehouse: nothing is built at")
    assert "treadmill materialize" in output
    assert len(output.strip().splitlines()) == 1
    publish_partition(ticks(1), tmp_path / "first" / "lake", "stg_binance_um_ticks", DAY)
    code, output = sql(tmp_path / "first", "select * from fct_funding")
    assert code == 1
    assert output.startswith("SQL error: fct_funding is not built yet in")

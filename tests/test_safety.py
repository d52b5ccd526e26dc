"""What configuration and archive content can reach: paths, URLs, SQL, the lake's directories."""

import ast
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from simulator.archive import checksum_line, csv_bytes, zip_bytes
from tests.conftest import FAST_LIMITS
from tests.factories import kline_rows
from transforms import formats
from transforms.catalog import build_catalog, connect_read_only
from transforms.errors import ConfigError, FetchError, ParseError
from transforms.fetch import CHECKSUM_SUFFIX, ArchiveClient
from transforms.lock import writer_lock
from transforms.publish import publish_partition, write_bytes_atomically
from transforms.settings import Settings, parse_universe
from transforms.sources import dataset
from transforms.sources.binance_csv import parse_zip

DAY = date(2024, 1, 1)
KLINES = dataset("binance_um", "klines")


@pytest.mark.parametrize(
    ("universe", "message"),
    [
        ({"binance_um": ("../../etc",)}, "not a valid ticker"),
        ({"binance_um": ("BTCUSDT/../../x",)}, "not a valid ticker"),
        ({"binance_um": ("BTC%2FUSDT",)}, "not a valid ticker"),
        ({"../binance_um": ("BTCUSDT",)}, "unknown exchange"),
    ],
)
def test_a_universe_built_by_hand_is_held_to_the_same_patterns(
    tmp_path: Path, universe: dict[str, tuple[str, ...]], message: str
) -> None:
    """``Settings`` checks its universe itself, not only when it is parsed from text."""
    with pytest.raises(ConfigError, match=message):
        Settings(warehouse=tmp_path, universe=universe)


def test_the_warehouse_path_never_becomes_sql_text(tmp_path: Path) -> None:
    """A quote and a semicolon in the configured warehouse path: views still read the lake."""
    warehouse = tmp_path / "it's; drop view fct_ticks; --"
    table = pa.table({"exchange": ["binance_um"] * 3, "symbol": ["BTCUSDT"] * 3, "v": [1.0] * 3})
    publish_partition(table, warehouse / "lake", "fct_ticks", DAY)

    build_catalog(warehouse)

    with connect_read_only(warehouse) as connection:
        assert connection.sql("select count(*), any_value(date) from fct_ticks").fetchall() == [
            (3, DAY)
        ]


@pytest.mark.parametrize("member", ["../../escaped.csv", "/tmp/escaped.csv", "sub/escaped.csv"])
def test_zip_member_names_are_never_used_as_paths(tmp_path: Path, member: str) -> None:
    """A zip naming another member is refused at download and at parse; nothing is extracted."""
    mirror, raw = tmp_path / "mirror", tmp_path / "raw"
    relpath = KLINES.archive_path("BTCUSDT", DAY)
    body = zip_bytes(member, csv_bytes(formats.KLINE_COLUMNS, kline_rows(DAY, 3)))
    (mirror / relpath).parent.mkdir(parents=True)
    (mirror / relpath).write_bytes(body)
    (mirror / (relpath + CHECKSUM_SUFFIX)).write_bytes(checksum_line(body, Path(relpath).name))
    before = sorted(tmp_path.rglob("*"))

    with (
        ArchiveClient(mirror.as_uri() + "/", raw, FAST_LIMITS) as client,
        pytest.raises(FetchError, match="expected exactly"),
    ):
        client.fetch(relpath)
    landed = tmp_path / "landed.zip"
    landed.write_bytes(body)
    with pytest.raises(ParseError, match="zip holds"):
        parse_zip(KLINES, "BTCUSDT", landed, relpath, DAY)

    assert sorted(tmp_path.rglob("*")) == sorted([*before, landed])
    assert not (tmp_path.parent / "escaped.csv").exists()


def test_temporary_files_stay_out_of_the_lake_and_are_swept_by_the_next_writer(
    tmp_path: Path,
) -> None:
    """A writer killed mid-write leaves its file under ``tmp/``; the next lock holder removes it."""
    settings = Settings(
        warehouse=tmp_path / "warehouse", universe=parse_universe("binance_um:BTCUSDT")
    )
    publish_partition(pa.table({"v": [1.0]}), settings.lake_root, "fct_ticks", DAY)
    build_catalog(settings.warehouse)
    leftover = settings.temp_root / ".data.parquet.dead.tmp"
    leftover.write_bytes(b"PAR1 half a file")
    (settings.temp_root / "catalog-leftovers").mkdir()

    assert [p.name for p in settings.lake_root.rglob("*") if p.is_file()] == ["data.parquet"]
    with writer_lock(settings.warehouse):
        assert list(settings.temp_root.iterdir()) == []


def test_no_sql_is_assembled_from_strings_in_the_code() -> None:
    """SQL text passed to DuckDB is a fixed string, a file's content or the user's own query:
    never an f-string, a ``%`` or ``.format`` template or a concatenation, where a value could
    become SQL."""
    root = Path(__file__).resolve().parent.parent
    assembled = []
    for path in sorted([*root.glob("transforms/**/*.py"), *root.glob("pipelines/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"execute", "sql", "query", "executemany"}
                and node.args
            ):
                continue
            text = node.args[0]
            formatted = (
                isinstance(text, ast.Call)
                and isinstance(text.func, ast.Attribute)
                and text.func.attr == "format"
            )
            if isinstance(text, ast.JoinedStr | ast.BinOp) or formatted:
                assembled.append(f"{path.relative_to(root)}:{node.lineno}")
    assert assembled == []


def test_writers_racing_to_make_the_same_missing_folder_all_succeed(tmp_path: Path) -> None:
    """Folders are made only when a write finds one missing: two writers may both find it
    missing, and the one that loses the race to make it must still write its file."""
    rounds, writers = 40, 8
    for attempt in range(rounds):
        folder = tmp_path / f"round-{attempt}" / "nested"
        start = threading.Barrier(writers)

        def write(index: int, folder: Path = folder, start: threading.Barrier = start) -> Path:
            start.wait()
            return write_bytes_atomically(folder / f"{index}.bin", bytes([index]))

        with ThreadPoolExecutor(writers) as pool:
            written = list(pool.map(write, range(writers)))

        assert [path.read_bytes() for path in written] == [bytes([i]) for i in range(writers)]

"""The floor plan holds: imports at module level, a light vocabulary, no oversized rooms, every
warehouse access through the storage seam, each warehouse folder named once.

The layers themselves are import-linter's contracts (``pyproject.toml``, run by ``make test``);
these tests pin what import-linter cannot see.
"""

import ast
import subprocess
import sys
import typing
from collections import defaultdict
from pathlib import Path

import pytest

from benchmarks.architecture import hidden_imports
from transforms.dataset import ParsedFile
from transforms.sources import DATASETS

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 800

SEAM_EXEMPT = {
    "transforms/storage.py": "the seam itself",
    "transforms/publish.py": "the local backend's atomic-write primitives",
}
"""Modules that may touch files directly."""

PATH_CALLS = frozenset(
    {
        "exists",
        "read_bytes",
        "read_text",
        "write_text",
        "write_bytes",
        "glob",
        "rglob",
        "iterdir",
        "unlink",
        "mkdir",
        "open",
        "stat",
        "is_dir",
        "is_file",
        "rename",
        "touch",
        "rmdir",
    }
)
MODULE_CALLS = frozenset(
    {
        ("os", "replace"),
        ("os", "rename"),
        ("os", "remove"),
        ("os", "unlink"),
        ("os", "link"),
        ("os", "listdir"),
        ("os", "scandir"),
        ("os", "makedirs"),
        ("shutil", "rmtree"),
        ("shutil", "copyfile"),
        ("shutil", "move"),
        ("pq", "read_table"),
        ("pq", "write_table"),
        ("pq", "ParquetFile"),
    }
)
NOT_THE_WAREHOUSE: dict[str, dict[str, str]] = {
    "transforms/facts.py": {".read_text": "a model's SQL file, in the repository"},
    "transforms/fact_checks.py": {".read_text": "a check's SQL file, in the repository"},
    "transforms/report/data.py": {".read_text": "a report query's SQL file, in the repository"},
    "transforms/resume.py": {
        ".rglob": "the code version digests the repository's own files",
        ".read_bytes": "the code version digests the repository's own files",
    },
    "transforms/contracts.py": {
        ".mkdir": "contracts/ is in the repository",
        ".write_text": "contracts/ is in the repository",
    },
    "transforms/fetch.py": {".open": "a file:// mirror is a source, not the warehouse"},
    "transforms/liquidation/prices.py": {
        ".read_text": "the bracket snapshot shipped in the package"
    },
    "pipelines/cli/demo.py": {
        ".exists": "the demo's simulated mirror is a source (file://), not the warehouse",
        ".read_text": "the demo's simulated mirror is a source (file://), not the warehouse",
        ".write_text": "the demo's simulated mirror is a source (file://), not the warehouse",
    },
    "pipelines/cli/sql.py": {"pq.write_table": "the file the user named with --out"},
    "pipelines/runner.py": {
        ".mkdir": "Dagster's instance folder, which Dagster itself writes",
        ".exists": "Dagster's instance folder, which Dagster itself writes",
        ".read_bytes": "the project's dagster.yaml beside Dagster's instance",
        "shutil.copyfile": "the project's dagster.yaml into Dagster's instance",
    },
}
"""Modules above the plug-ins whose file access is not the warehouse's, and why."""

LOCAL_READERS = ("transforms/sources/", "transforms/hour_files.py", "transforms/landed.py")
"""Plug-in parsers and format readers read local files: staging hands a parser the local path of
its landed unit (:func:`transforms.storage.local_path`), and the readers of a unit's records read
beside it. Clients and orchestration list and read those same files through the seam."""


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_no_import_inside_a_function_or_behind_type_checking() -> None:
    assert hidden_imports(ROOT) == []


def test_the_vocabulary_loads_nothing_above_it() -> None:
    script = (
        "import sys, transforms.publish, transforms.schemas; "
        "print(sorted(m for m in sys.modules if m.startswith('transforms.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert loaded.strip() == "['transforms.publish', 'transforms.schemas']"


def test_no_room_is_over_800_lines() -> None:
    sizes = {
        relative(path): len(path.read_text().splitlines())
        for path in python_files("transforms", "pipelines", "simulator", "benchmarks")
    }
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}


@pytest.mark.parametrize(
    "dataset", [d for d in DATASETS if d.parse is not None], ids=lambda d: d.table
)
def test_every_shared_file_parser_returns_a_parsed_file(dataset: object) -> None:
    parse = getattr(dataset, "parse", None)
    assert typing.get_type_hints(parse)["return"] is ParsedFile


def file_access(path: Path) -> set[str]:
    """The direct file operations a module calls: ``.exists``, ``os.replace``, …"""
    calls = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id == "open":
            calls.add("open()")
        if not isinstance(function, ast.Attribute):
            continue
        owner = function.value.id if isinstance(function.value, ast.Name) else None
        if owner is not None and (owner, function.attr) in MODULE_CALLS:
            calls.add(f"{owner}.{function.attr}")
        elif function.attr in PATH_CALLS and owner not in ("storage", "os", "self", "archive"):
            calls.add(f".{function.attr}")
    return calls


def test_every_warehouse_access_goes_through_the_storage_seam() -> None:
    unexplained = {}
    for path in python_files("transforms", "pipelines"):
        name = relative(path)
        if name in SEAM_EXEMPT or name.startswith(LOCAL_READERS):
            continue
        calls = file_access(path) - NOT_THE_WAREHOUSE.get(name, {}).keys()
        if calls:
            unexplained[name] = sorted(calls)
    assert unexplained == {}


PUBLISH_LAYOUT = frozenset(
    {"PARTITION_FILE", "TEMP_FOLDER", "partition_dir", "temp_dir", "day_bounds"}
)
"""What :mod:`transforms.publish` tells everyone: the partition layout and the temp folder. Its
atomic-write primitives are the local backend's, for :mod:`transforms.storage` alone."""


def publish_primitives_used(path: Path) -> set[str]:
    """Names a module takes from :mod:`transforms.publish` beyond its layout."""
    used = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "transforms.publish":
            used |= {alias.name for alias in node.names} - PUBLISH_LAYOUT
        if isinstance(node, ast.ImportFrom) and node.module == "transforms":
            used |= {f"transforms.{a.name}" for a in node.names if a.name == "publish"}
        if isinstance(node, ast.Import):
            used |= {a.name for a in node.names if a.name == "transforms.publish"}
    return used


def test_only_the_seam_writes_with_the_local_primitives() -> None:
    found = {
        relative(path): sorted(used)
        # The simulator writes mirrors (sources), not the warehouse, and may use them.
        for path in python_files("transforms", "pipelines")
        if relative(path) not in SEAM_EXEMPT and (used := publish_primitives_used(path))
    }
    assert found == {}


def test_the_seam_check_sees_a_direct_write(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        "def publish(path):\n    path.write_bytes(b'x')\n    os.replace(path, path)\n"
    )
    assert file_access(module) == {".write_bytes", "os.replace"}
    module.write_text("from transforms.publish import PARTITION_FILE, publish_file\n")
    assert publish_primitives_used(module) == {"publish_file"}


FOLDER_NAMES = frozenset(
    {
        "raw",
        "recorder",
        "lake",
        "manifests",
        "quarantine",
        "reports",
        "state",
        "tmp",
        "catalog.duckdb",
        "hours.json",
        "week.json",
        "gaps.jsonl",
        "rejected_pages",
        "writer.lock",
    }
)
SAME_WORD_OTHER_MEANING = {
    ("transforms/dataset.py", "recorder"): "Source.RECORDER's value",
    ("transforms/hour_files.py", "raw"): "the JSON key of a recorded frame",
}


def test_each_warehouse_folder_is_named_in_one_place() -> None:
    spelled: defaultdict[str, list[str]] = defaultdict(list)
    for path in python_files("transforms", "pipelines"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Constant)
                and node.value in FOLDER_NAMES
                and (relative(path), node.value) not in SAME_WORD_OTHER_MEANING
            ):
                spelled[str(node.value)].append(relative(path))
    assert {name: places for name, places in spelled.items() if len(places) > 1} == {}

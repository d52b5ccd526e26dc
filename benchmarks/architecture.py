"""``python -m benchmarks.architecture [--root DIR]``: the floor plan of ``transforms/`` in figures.

Prints, for the checkout at ``DIR`` (this one by default): the modules of ``transforms`` and
the largest import cycle among them, the imports written inside a function or behind
``TYPE_CHECKING``, the project modules ``import transforms.publish`` loads, and the largest
files. Point ``--root`` at an older checkout to compare (``git worktree add /tmp/old <commit>``).
"""

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import grimp
import typer

PROBE = """
import json, sys
import transforms.publish
print(json.dumps(sorted(m for m in sys.modules if m.startswith('transforms.'))))
"""


def largest_cycle(graph: grimp.ImportGraph, modules: set[str]) -> set[str]:
    """The largest strongly connected component of the import graph (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    largest: set[str] = set()
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == module:
                        break
                if len(component) > len(largest):
                    largest = component
    return largest if len(largest) > 1 else set()


def hidden_imports(root: Path) -> list[str]:
    """Imports inside a function or behind ``if TYPE_CHECKING``, as ``file:line``."""
    found = []
    for path in sorted((root / "transforms").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            body: list[ast.stmt] = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or (
                isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            ):
                body = node.body
            for inner in (n for statement in body for n in ast.walk(statement)):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    found.append(f"{path.relative_to(root)}:{inner.lineno}")
    return found


def main(
    root: Annotated[Path, typer.Option(help="The checkout to measure.")] = Path(),
) -> None:
    root = root.resolve()
    sys.path.insert(0, str(root))
    graph = grimp.build_graph("transforms", cache_dir=None)
    modules = set(graph.modules)
    cycle = largest_cycle(graph, modules)
    hidden = hidden_imports(root)
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", PROBE], cwd=root, capture_output=True, text=True, check=True
        ).stdout
    )
    sizes = sorted(
        (len(path.read_text().splitlines()), str(path.relative_to(root)))
        for folder in ("transforms", "pipelines", "simulator", "benchmarks")
        for path in (root / folder).rglob("*.py")
    )
    print(f"modules in transforms: {len(modules)}")
    print(f"largest import cycle: {len(cycle)} modules {sorted(cycle)}")
    print(f"imports inside a function or behind TYPE_CHECKING: {len(hidden)} {hidden}")
    print(f"project modules loaded by `import transforms.publish`: {len(loaded)} {loaded}")
    print("largest files: " + ", ".join(f"{name} ({lines})" for lines, name in sizes[-3:][::-1]))


if __name__ == "__main__":
    typer.run(main)

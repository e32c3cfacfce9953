"""The core, the CLI and the model load no GUI and no heavy optional package at import time; no import cycles."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_colorquant"
FORBIDDEN = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "sklearn", "dask", "skimage",
             "matplotlib", "scipy")  # fmt: skip


@pytest.mark.parametrize(
    "statement",
    [
        "import napari_colorquant",
        "import napari_colorquant.cli",
        "from napari_colorquant.model import ClusterModel",
        "import napari_colorquant.workflows, napari_colorquant.feature_space, napari_colorquant.explore",
        "from napari_colorquant.cli import build_parser; build_parser().format_help()",
        # k-means++ is seeded without scikit-learn, whose import alone cost more than a small photo's fit
        "import numpy as np, napari_colorquant as q\n"
        "q.quantize(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8), 4)",
    ],
)
def test_core_import_loads_no_gui_and_no_heavy_package(statement):
    code = f"{statement}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    assert not loaded & set(FORBIDDEN), f"{statement!r} loaded {sorted(loaded & set(FORBIDDEN))}"


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    return ".".join(("napari_colorquant", *path.relative_to(package).with_suffix("").parts)).removesuffix(".__init__")


def _is_module(name: str, package: Path) -> bool:
    path = package.joinpath(*name.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _outside_functions(tree: ast.Module):
    """Every node of a module but the insides of functions: module level, ``if TYPE_CHECKING:``, try, classes."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))


def _module_imports(path: Path, package: Path = PACKAGE) -> set[str]:
    """Package modules one source file imports outside its functions, ``if TYPE_CHECKING:`` blocks included.

    A type-only import is still an arrow up: it ties the lower module to the higher one's names.
    """
    parts = _module_name(path, package).split(".")
    if path.name == "__init__.py":
        parts.append("__init__")
    found = set()
    for node in _outside_functions(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(parts[: len(parts) - node.level]) if node.level else ""
            target = ".".join(filter(None, (base, node.module)))
            for alias in node.names:  # ``from . import job`` imports a module; ``from . import __version__`` a name
                module = f"{target}.{alias.name}"
                found.add(module if _is_module(module, package) else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("napari_colorquant")}


def _import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = {_module_name(path, package): _module_imports(path, package) for path in package.rglob("*.py")}
    return {m: {d for d in deps if d in modules and d != m} for m, deps in modules.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first = last), or None (depth-first search, each module once)."""
    done: set[str] = set()
    for root in sorted(graph):
        path: list[str] = []
        on_path: set[str] = set()
        stack = [(root, iter(sorted(graph[root])))] if root not in done else []
        if stack:
            path.append(root)
            on_path.add(root)
        while stack:
            node, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif dep in on_path:
                return [*path[path.index(dep) :], dep]
            elif dep not in done:
                stack.append((dep, iter(sorted(graph[dep]))))
                path.append(dep)
                on_path.add(dep)
    return None


def test_no_import_cycles():
    cycle = _find_cycle(_import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_sees_type_checking_and_function_free_imports(tmp_path):
    # The check itself can fail: an import made only for type hints still ties two modules in a circle.
    package = tmp_path / "napari_colorquant"
    (package / "_napari").mkdir(parents=True)
    (package / "methods.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .model import ClusterModel\n"
    )
    (package / "model.py").write_text("from .methods import get_method\n")
    (package / "_napari" / "job.py").write_text("from .. import model\n\ndef f():\n    from . import widget\n")
    (package / "_napari" / "widget.py").write_text("from . import job\nimport napari_colorquant.methods\n")
    graph = _import_graph(package)
    assert graph["napari_colorquant._napari.job"] == {"napari_colorquant.model"}  # not the import inside f
    assert "napari_colorquant.methods" in graph["napari_colorquant._napari.widget"]
    cycle = _find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert set(cycle) == {"napari_colorquant.methods", "napari_colorquant.model"}
    (package / "methods.py").write_text("def get_method():\n    pass\n")
    assert _find_cycle(_import_graph(package)) is None

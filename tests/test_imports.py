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
    ],
)
def test_core_import_loads_no_gui_and_no_heavy_package(statement):
    code = f"{statement}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out.splitlines()[-1]))
    assert not loaded & set(FORBIDDEN), f"{statement!r} loaded {sorted(loaded & set(FORBIDDEN))}"


def _module_imports(path: Path) -> set[str]:
    """Package modules imported at module level (not inside functions) by one source file."""
    package = ".".join(("napari_colorquant", *path.relative_to(PACKAGE).with_suffix("").parts))
    parts = package.split(".")
    if path.name == "__init__.py":
        parts.append("__init__")
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = ".".join(parts[: len(parts) - node.level])
            target = f"{base}.{node.module}" if node.module else base
            found.update(f"{target}.{a.name}" if not node.module else target for a in node.names)
    return {name for name in found if name.startswith("napari_colorquant")}


def test_no_import_cycles():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(("napari_colorquant", *path.relative_to(PACKAGE).with_suffix("").parts))
        modules[name.removesuffix(".__init__")] = _module_imports(path)
    graph = {m: {d for d in deps if d in modules and d != m} for m, deps in modules.items()}

    def visit(node, stack):
        if node in stack:
            raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(node) :], node]))
        for dep in graph[node]:
            visit(dep, [*stack, node])

    for module in graph:
        visit(module, [])

"""The house rules of the source, read from its syntax tree: small functions and classes, one place that
tests for dask, documented public callables."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_colorquant"
SOURCES = sorted(PACKAGE.rglob("*.py"))
#: Lines of code (docstrings left out: the numpydoc rule makes them long on purpose).
MAX_FUNCTION_LINES = 60
MAX_CLASS_LINES = 250
#: Who may test for dask: the front door decides the path (and offers ``as_array``, ``lookup_labels`` and
#: ``QuantizeResult.lazy`` to everyone else); pixels.py defines the test and reads both kinds of array;
#: lazy.py is the dask path itself (it only wraps what is not dask yet, never chooses a path).
IS_LAZY_CALLERS = {"quantize.py", "pixels.py", "lazy.py"}
#: Every module of the package: each public function, method and class has a numpydoc docstring, with a
#: Parameters section when it takes parameters, a Returns (or Yields) section when it returns something
#: (properties excepted), and type hints on every parameter and on the return. A new module is held to it.
NUMPYDOC_MODULES = tuple(_path.relative_to(PACKAGE).as_posix() for _path in SOURCES)


def _relative(path: Path, root: Path = PACKAGE) -> str:
    return path.relative_to(root).as_posix()


def _docstring_lines(node: ast.AST) -> int:
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module):
        return 0
    first = node.body[0] if node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.end_lineno - first.lineno + 1
    return 0


def code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> int:
    """Lines a definition spans, less its docstring (and, for a class, its methods' docstrings)."""
    lines = node.end_lineno - node.lineno + 1 - _docstring_lines(node)
    if isinstance(node, ast.ClassDef):
        lines -= sum(_docstring_lines(item) for item in ast.walk(node) if item is not node)
    return lines


def _too_long(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            if code_lines(node) > limit:
                found.append(f"{_relative(path)}:{node.lineno} {node.name}: {code_lines(node)} lines > {limit}")
    return found


def test_no_function_over_60_lines_and_no_class_over_250():
    found = [item for path in SOURCES for item in _too_long(path)]
    assert not found, "split these:\n" + "\n".join(found)


def test_the_size_check_can_fail(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    source = tmp_path / "long.py"
    source.write_text(f'def long():\n    """A docstring\n\n    does not count.\n    """\n{body}\n')
    function = ast.parse(source.read_text()).body[0]
    assert code_lines(function) == MAX_FUNCTION_LINES + 1  # the def line and the body, not the docstring


def _calls_of(path: Path, name: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name
    ]


def dask_tests(path: Path) -> list[int]:
    """Lines that test whether an array is a dask array: ``is_lazy(x)``, ``hasattr(x, "compute")`` (or
    ``"dask"``, ``"chunks"``), ``isinstance(x, da.Array)``."""
    found = set(_calls_of(path, "is_lazy"))
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or getattr(node.func, "id", None) not in ("hasattr", "getattr", "isinstance"):
            continue
        if len(node.args) < 2:
            continue
        second = node.args[1]
        by_attribute = isinstance(second, ast.Constant) and second.value in ("compute", "dask", "chunks", "map_blocks")
        by_type = node.func.id == "isinstance" and ("da.Array" in ast.unparse(second) or "dask" in ast.unparse(second))
        if by_attribute or by_type:
            found.add(node.lineno)
    return sorted(found)


def test_only_the_front_door_tests_for_dask():
    callers = {_relative(path): dask_tests(path) for path in SOURCES}
    callers = {name: lines for name, lines in callers.items() if lines}
    outside = {name: lines for name, lines in callers.items() if name not in IS_LAZY_CALLERS}
    assert not outside, f"test for dask through the front door (as_array, lookup_labels, result.lazy): {outside}"
    assert "quantize.py" in callers


def test_the_dask_check_can_fail(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text(
        "import dask.array as da\n"
        "def f(x):\n    return x.compute() if hasattr(x, 'compute') else x\n"
        "def g(x):\n    return isinstance(x, da.Array)\n"
        "def h(x):\n    return is_lazy(x)\n"
        "def fine(x):\n    return getattr(x, 'shape', None)\n"
    )
    assert dask_tests(source) == [3, 5, 7]


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = function.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return [name for name in names if name not in ("self", "cls") and not name.startswith("_")]  # not event slots


def _is_property(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    names = {ast.unparse(decorator) for decorator in function.decorator_list}
    return bool(names & {"property", "cached_property", "functools.cached_property"}) or any(
        name.endswith(".setter") for name in names
    )


def undocumented(path: Path, root: Path = PACKAGE) -> list[str]:
    """Public callables of a module without a docstring, or without a Parameters section though they take some."""
    tree = ast.parse(path.read_text())
    found = []
    nodes = [(node, "") for node in tree.body]
    nodes += [(item, f"{node.name}.") for node in tree.body if isinstance(node, ast.ClassDef)
              and not node.name.startswith("_") for item in node.body]  # fmt: skip
    for node, owner in nodes:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or node.name.startswith("_"):
            continue
        name = f"{_relative(path, root)}:{node.lineno} {owner}{node.name}"
        doc = ast.get_docstring(node) or ""
        if not doc:
            found.append(f"{name}: no docstring")
        elif isinstance(node, ast.ClassDef):
            continue
        elif _is_property(node):
            if node.returns is None:
                found.append(f"{name}: no return type")
            continue
        elif _parameters(node) and "\nParameters\n----------\n" not in f"\n{doc}\n":
            found.append(f"{name}: no Parameters section for {', '.join(_parameters(node))}")
        elif any(a.annotation is None for a in node.args.args + node.args.kwonlyargs if a.arg not in ("self", "cls")):
            found.append(f"{name}: untyped parameters")
        elif node.returns is None:
            found.append(f"{name}: no return type")
        elif ast.unparse(node.returns) != "None" and not {"Returns", "Yields"} & _sections(doc):
            found.append(f"{name}: returns {ast.unparse(node.returns)} but has no Returns (or Yields) section")
    return found


def _sections(doc: str) -> set[str]:
    """numpydoc section titles of a docstring (a title line underlined with dashes)."""
    lines = [line.strip() for line in doc.splitlines()]
    return {title for title, rule in itertools.pairwise(lines) if rule and set(rule) == {"-"}}


@pytest.mark.parametrize("module", NUMPYDOC_MODULES)
def test_public_callables_are_documented(module):
    found = undocumented(PACKAGE / module)
    assert not found, "\n".join(found)


def test_the_docstring_check_can_fail(tmp_path):
    source = tmp_path / "mod.py"
    returns = "\n    Returns\n    -------\n    int\n"
    source.write_text(
        f'def good(x: int) -> int:\n    """Twice.\n\n    Parameters\n    ----------\n    x : int\n{returns}    """\n'
        'def bare(x: int) -> int:\n    """Twice."""\n'
        'def no_returns(x: int) -> int:\n    """Twice.\n\n    Parameters\n    ----------\n    x : int\n    """\n'
        f'def untyped_return(x: int):\n    """Twice.\n\n    Parameters\n    ----------\n    x : int\n{returns}    """\n'
        'def nothing(x: int) -> None:\n    """Nothing.\n\n    Parameters\n    ----------\n    x : int\n    """\n'
        "def _private(x):\n    pass\n"
    )
    found = undocumented(source, tmp_path)
    assert [item.split(" ")[1].rstrip(":") for item in found] == ["bare", "no_returns", "untyped_return"]
    assert "Parameters" in found[0] and "Returns" in found[1] and "return type" in found[2]


def test_every_module_is_held_to_the_docstring_rule():
    assert len(NUMPYDOC_MODULES) == len(SOURCES) > 40
    assert "explore.py" in NUMPYDOC_MODULES and "_napari/explorer.py" in NUMPYDOC_MODULES


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_imports(path: Path, root: Path = PACKAGE) -> set[str]:
    """The package's modules that ``path`` imports anywhere in it: at the top, in functions, under TYPE_CHECKING."""
    name = _module_name(path, root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = [part for part in package if part]
    modules = {_module_name(source, root) for source in root.rglob("*.py")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1] if node.level > 1 else package
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            named = {f"{target}.{alias.name}".strip(".") for alias in node.names}
            found |= (named & modules) or {target}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            dotted = [node.module] if isinstance(node, ast.ImportFrom) else [alias.name for alias in node.names]
            for full in dotted:
                if full and full.split(".")[0] == root.name:
                    found.add(".".join(full.split(".")[1:]))
    return {module for module in found if module in modules and module != name}


def import_cycles(root: Path = PACKAGE) -> list[list[str]]:
    """Groups of modules that import one another in a circle (each group sorted), however the imports are guarded."""
    graph = {_module_name(path, root): module_imports(path, root) for path in sorted(root.rglob("*.py"))}

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph.get(module, ()))
        return seen

    reached = {module: reach(module) for module in graph}
    circles = {
        tuple(sorted(m for m in reached[module] if module in reached[m]))
        for module in graph
        if module in reached[module]
    }
    return sorted(list(circle) for circle in circles)


def test_no_import_cycles_not_even_for_type_checking():
    """A module that needs another's type only (TYPE_CHECKING) still ties them in a circle: what it needs is
    described where it is used (a Protocol), so each module can be read and changed from the bottom up."""
    assert import_cycles() == []


def test_the_cycle_check_can_fail(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("from .b import B\n")
    (package / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import c\n")
    (package / "c.py").write_text("def f():\n    from .sub.a import B\n")
    (package / "d.py").write_text("from . import c\nimport pkg.sub.b\n")
    assert import_cycles(package) == [["c", "sub.a", "sub.b"]]
    assert module_imports(package / "d.py", package) == {"c", "sub.b"}

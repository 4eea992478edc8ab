"""The package's shape: no import cycles in ``implicit`` or ``benchmarks``, and a light ``import implicit``."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: What ``import implicit`` loads eagerly: the core the chapters use on every page.
CORE = {"model", "solvers", "autodiff", "wellposed", "linalg", "validation", "gram", "linearization", "kernels",
        "gaussian", "data", "rawformats", "runtime", "records", "claims"}
#: Modules the core must not import, directly or through another core module (CLI, progress bars, plotting).
HEAVY = ("argparse", "tqdm", "matplotlib")


def _module_name(path: Path, package: str) -> str:
    rel = path.relative_to(ROOT / package).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join([package, *parts])


def _imports(path: Path, module: str, package: str) -> set[str]:
    """Every module of ``package`` that ``path`` imports anywhere (top level, in functions, under TYPE_CHECKING)."""
    is_package = path.name == "__init__.py"
    here = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}  # `from . import x` names a module
    return {name for name in found if name.split(".")[0] == package}


def _graph(package: str) -> dict[str, set[str]]:
    files = {_module_name(p, package): p for p in (ROOT / package).rglob("*.py")}
    # A submodule reading the package's own __init__ (``from . import __version__``) is not a cycle of ideas.
    return {mod: {t for t in _imports(path, mod, package) if t in files and t != package and t != mod}
            for mod, path in files.items() if mod != package}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules, or ``None`` (depth-first search, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("package", ["implicit", "benchmarks"])
def test_no_import_cycles(package):
    cycle = _cycle(_graph(package))
    assert cycle is None, f"import cycle in {package}: {' -> '.join(cycle)}"


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _top_level(tree: ast.Module):
    """The import statements that run when the module is imported (not those inside functions or classes)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try)):
            todo += node.body + node.orelse + getattr(node, "finalbody", []) + \
                [s for h in getattr(node, "handlers", []) for s in h.body]


def test_core_imports_nothing_heavy():
    """The core's import-time imports stay inside the core and load no CLI, progress-bar or plotting library."""
    for name in CORE:
        tree = ast.parse((ROOT / "implicit" / f"{name}.py").read_text())
        for node in _top_level(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif node.level:
                targets = [f"implicit.{node.module}" if node.module else f"implicit.{a.name}" for a in node.names]
            else:
                targets = [node.module]
            for target in targets:
                assert target.split(".")[0] not in HEAVY, f"implicit.{name} imports {target}"
                if target.startswith("implicit."):
                    assert target.split(".")[1] in CORE, f"implicit.{name} imports non-core {target} at import time"


def test_import_implicit_is_light_and_the_rest_loads_on_use():
    code = ("import sys, implicit; print('matplotlib' in sys.modules, 'implicit.train' in sys.modules); "
            "implicit.train; print('implicit.train' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True"]

"""The chapters read like a textbook: short cells, every function written once (in the package), figures captioned and
labelled, exercises with solutions, statement boxes numbered the paper's way, and every chapter's claims recorded for
the ledger page. These are checks on the notebooks' sources; the page check (tools/check_pages.py) checks the HTML."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
#: The chapters that develop the theory: each has at least one exercise with a solution.
THEORY = ["model", "wellposedness", "implicit_differentiation", "gram", "kernel", "gradient_flow", "gradient_descent"]
MAX_CELL_LINES = 30
MAX_BOOK_CODE_LINES = 1600


def _cells(path: Path, kind: str) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == kind]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _code_lines(path: Path) -> list[int]:
    return [len(_source(c).splitlines()) for c in _cells(path, "code")]


def _defined(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: not Python, define nothing
        return set()
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.ClassDef)}


def test_notebooks_exist():
    assert len(NOTEBOOKS) >= 11


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_cells_are_short(path):
    long = [(i, n) for i, n in enumerate(_code_lines(path)) if n > MAX_CELL_LINES]
    assert not long, f"{path.name}: code cells over {MAX_CELL_LINES} lines (index, lines): {long}"


def test_book_code_is_compact():
    total = sum(sum(_code_lines(p)) for p in NOTEBOOKS)
    assert total <= MAX_BOOK_CODE_LINES, f"{total} code lines in the chapters (at most {MAX_BOOK_CODE_LINES})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_publishes_its_claims(path):
    code = [_source(c).strip() for c in _cells(path, "code")]
    assert code and code[-1] == "print(publish())", f"{path.name}: the last code cell must be print(publish())"
    ledger = (BOOK / "claims.md").read_text()
    assert f"book/{path.stem}" in ledger, f"{path.name} is missing from the ledger's chapter list"


def test_no_function_defined_twice():
    """No function or class defined in two notebooks, or in a notebook and the package."""
    package = set()
    for module in (ROOT / "implicit").rglob("*.py"):
        package |= _defined(module.read_text())
    seen: dict[str, str] = {}
    for path in NOTEBOOKS:
        for name in set().union(*(_defined(_source(c)) for c in _cells(path, "code"))):
            assert name not in package, f"{path.name} defines {name}, which the package defines too"
            assert name not in seen, f"{name} is defined in {seen.get(name)} and {path.name}"
            seen[name] = path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_figures_are_captioned_and_labelled(path):
    for cell in _cells(path, "code"):
        source = _source(cell)
        draws = re.search(r"\bplot_\w+\(|plt\.(?:subplots|figure)\(", source)
        if not draws:
            continue
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
        assert figure.get("caption") and figure.get("name", "").startswith("fig-"), (
            f"{path.name}: a cell that draws a figure has no mystnb figure caption and fig- name:\n{source[:200]}")
        assert "hide-input" in cell["metadata"].get("tags", []), f"{path.name}: figure cell shows its code"
        # A figure left to the end of the cell (a trailing `;`) is not captured when nbval runs the chapter, and
        # the book then has a caption with no figure: the cell shows it explicitly.
        assert source.rstrip().endswith("plt.show()"), f"{path.name}: figure cell does not end with plt.show()"


@pytest.mark.parametrize("stem", THEORY)
def test_theory_chapters_have_exercises_with_solutions(stem):
    text = "\n".join(_source(c) for c in _cells(BOOK / f"{stem}.ipynb", "markdown"))
    exercises = re.findall(r"```\{exercise\}\s*\n:label: (\S+)", text)
    assert exercises, f"{stem}: no exercise"
    for label in exercises:
        assert re.search(r"```\{solution(?:-start)?\} " + re.escape(label), text), f"{stem}: {label} has no solution"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_statement_boxes_are_numbered_once(path):
    """Every statement box is unnumbered by the book (its title carries the paper's number), and the prose links to
    results with explicit text, never a bare reference that would render as just "Lemma"."""
    text = "\n".join(_source(c) for c in _cells(path, "markdown"))
    for match in re.finditer(r"[:`]{3,}\{prf:(?!proof\})(\w+)\}[^\n]*\n((?::\w+:[^\n]*\n)*)", text):
        assert ":nonumber:" in match.group(2), f"{path.name}: prf:{match.group(1)} box without :nonumber:"
    bare = re.findall(r"\{prf:ref\}`([^<`]+)`", text)
    assert not bare, f"{path.name}: prf:ref without explicit text: {bare}"

"""Static checks of the book's notebooks: Colab install cell, no stored outputs, listed in the table of contents.

``_config.yml`` and ``_toc.yml`` are read at test time; if either is missing the checks that need it are skipped.
Placeholder notebooks (no code cell yet, marked PLACEHOLDER) are skipped with that reason.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import implicit

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "book").glob("*.ipynb")) if (ROOT / "book").is_dir() else []
IDS = [p.stem for p in NOTEBOOKS]


def _yaml(name):
    yaml = pytest.importorskip("yaml")
    path = ROOT / name
    if not path.is_file():
        pytest.skip(f"{name} not found at {path}: the book configuration is not written yet")
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _load(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _code_cells(nb):
    return [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _skip_placeholder(path, nb):
    if not _code_cells(nb):
        text = " ".join(_source(c) for c in nb.get("cells", []))
        if "PLACEHOLDER" in text:
            pytest.skip(f"{path.name} is still a placeholder (no code cells)")


def _toc_files(node):
    """Every ``file:``/``root:`` entry of a sphinx-external-toc tree, without extension."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("file", "root") and isinstance(value, str):
                out.append(re.sub(r"\.(ipynb|md|rst)$", "", value.strip("/")))
            else:
                out.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(_toc_files(item))
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_code_cell_is_tagged_colab_install(path):
    config = _yaml("_config.yml")
    url = ((config or {}).get("repository") or {}).get("url")
    if not url:
        pytest.skip("_config.yml has no repository.url yet")
    nb = _load(path)
    _skip_placeholder(path, nb)
    cells = _code_cells(nb)
    assert cells, f"{path.name} has no code cell"
    first = cells[0]
    tags = first.get("metadata", {}).get("tags", [])
    src = _source(first)
    assert "remove-cell" in tags, f"{path.name}: first code cell must carry the 'remove-cell' tag, has tags {tags}"
    assert "colab" in src.lower(), f"{path.name}: first code cell must be the Colab install cell, got:\n{src}"
    url = url.rstrip("/")
    pin = re.compile(re.escape(f"implicit-convergence @ git+{url}") + r"(\.git)?"
                     + re.escape(f"@v{implicit.__version__}")
                     + r"(?![\w.])")
    assert pin.search(src), (f"{path.name}: first code cell must pin 'implicit-convergence @ git+{url}"
                             f"@v{implicit.__version__}', got:\n{src}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_has_no_stored_outputs(path):
    nb = _load(path)
    with_outputs = [i for i, c in enumerate(_code_cells(nb)) if c.get("outputs")]
    counted = [i for i, c in enumerate(_code_cells(nb)) if c.get("execution_count") is not None]
    assert not with_outputs, f"{path.name}: code cells {with_outputs} carry stored outputs (strip them)"
    assert not counted, f"{path.name}: code cells {counted} carry execution counts (strip them)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_listed_in_toc(path):
    toc = _yaml("_toc.yml")
    listed = set(_toc_files(toc))
    rel = path.relative_to(ROOT).with_suffix("").as_posix()
    assert rel in listed, f"{rel} is not listed in _toc.yml (listed: {sorted(listed)})"


def test_toc_entries_exist():
    toc = _yaml("_toc.yml")
    missing = [f for f in _toc_files(toc)
               if not any((ROOT / f).with_suffix(ext).is_file() for ext in (".ipynb", ".md", ".rst"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"

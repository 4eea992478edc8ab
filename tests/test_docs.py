"""The API page's promises: every public function and class it documents has a runnable ``Examples`` block, and
every example in the package runs and prints what its docstring says (doctests)."""
from __future__ import annotations

import doctest
import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
API_PAGE = ROOT / "book" / "api.md"
#: The modules the API page documents, in its order (``.. automodule:: NAME``).
MODULES = re.findall(r"^\.\. automodule:: ([\w.]+)", API_PAGE.read_text(), flags=re.M)


def _public(module) -> list[tuple[str, object]]:
    """Functions and classes a module exports and defines itself (exceptions and warnings excluded)."""
    out = []
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)) or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        out.append((name, obj))
    return out


def test_api_page_lists_modules():
    assert len(MODULES) >= 15, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_has_an_example(name):
    module = importlib.import_module(name)
    missing = [n for n, obj in _public(module) if ">>>" not in (inspect.getdoc(obj) or "")]
    assert not missing, f"{name}: no '>>>' example in the docstring of {', '.join(missing)}"


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs={}):
        runner.run(test, out=lambda text: None)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (python -m doctest)"

"""pytest plugin for the chapters: nbval executes every notebook once, and with ``--nb-cache DIR`` each notebook whose
cells all passed is stored, with the outputs nbval produced, in the Jupyter cache at ``DIR``.

The book's test build (``make test``) runs with ``execute_notebooks: cache`` and finds every chapter there, so it
renders the very outputs the tests checked instead of executing each notebook a second time. ``make book`` starts
from an empty cache and executes everything itself.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--nb-cache", metavar="DIR", default=None,
                     help="store each fully passing notebook, with nbval's outputs, in the Jupyter cache at DIR")


class _Run:
    """What one notebook produced under nbval: its parsed notebook, execution time and whether any cell failed."""

    def __init__(self, nb) -> None:
        self.nb, self.seconds, self.failed, self.count = nb, 0.0, False, 0


_runs: dict[Path, _Run] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    if not item.config.getoption("--nb-cache") or not hasattr(item, "cell"):
        return
    report = outcome.get_result()
    run = _runs.setdefault(Path(str(item.parent.fspath)).resolve(), _Run(item.parent.nb))
    run.failed |= report.failed or report.skipped
    if call.when == "call":
        run.seconds += call.duration
        run.count += 1
        item.cell.outputs = list(getattr(item, "test_outputs", []))
        item.cell.execution_count = run.count
        for output in item.cell.outputs:
            if output.get("output_type") == "execute_result":
                output["execution_count"] = run.count


def pytest_sessionfinish(session: pytest.Session) -> None:
    folder = session.config.getoption("--nb-cache")
    if not folder or not _runs:
        return
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(folder)
    for path, run in _runs.items():
        if not run.failed:
            bundle = CacheBundleIn(nb=run.nb, uri=str(path),
                                   data={"execution_seconds": run.seconds, "executed_by": "nbval",
                                         "date": time.strftime("%Y-%m-%dT%H:%M:%S")})
            cache.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)

"""The book's two studies and the runner they share.

* :mod:`implicit.studies.figure1`: the paper's experiment (Section 4, Figure 1), ``python -m implicit figure1``.
* :mod:`implicit.studies.width`: the width study and the :math:`\\gamma` sweep, ``python -m implicit width-study``
  (measurements in :mod:`~implicit.studies.cells`, success criterion in :mod:`~implicit.studies.criterion`).
* :mod:`implicit.studies.runner`: profiles with command-line overrides, checked arguments, resumable records written
  atomically under locks, and :func:`~implicit.studies.runner.results_dir`, the folder of the results stored with
  the package.

Stored results ship as package data under ``implicit/results/<study>``::

    from implicit.studies import figure1, results_dir, width
    records = figure1.load_results(results_dir("figure1"))
    study = width.load_study(results_dir("width"))
"""
from __future__ import annotations

from . import figure1, runner, width
from .runner import results_dir

__all__ = ["figure1", "width", "runner", "results_dir"]

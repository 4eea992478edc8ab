"""``implicit``: the deep ReLU implicit network of Gao et al. (ICLR 2022), its exact equilibrium solves, implicit
gradients, Gram matrices and infinite-width kernels, for the verified companion book.

``import implicit`` loads the core (the model, solvers, implicit differentiation, well-posedness, Gram matrices,
kernels, data); the modules that bring a command line, progress bars or plotting (``train``, ``theory``, ``studies``,
``plotting``, ``measure``) load on first use, e.g. at ``implicit.train``.
"""
from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

from . import (
    autodiff,
    data,
    gaussian,
    gram,
    kernels,
    linalg,
    linearization,
    model,
    rawformats,
    records,
    runtime,
    solvers,
    validation,
    wellposed,
)
from .model import Equilibrium, ImplicitNet
from .runtime import setup
from .solvers import ConvergenceError, SolverStats
from .wellposed import NotWellPosedError, certificate, contraction_factor

#: Submodules imported on first attribute access.
LAZY = ("measure", "plotting", "studies", "theory", "train")

__all__ = [
    "ImplicitNet", "Equilibrium", "setup", "contraction_factor", "certificate", "NotWellPosedError",
    "ConvergenceError", "SolverStats", "autodiff", "data", "gaussian", "gram", "kernels", "linalg", "linearization",
    "model", "rawformats", "records", "runtime", "solvers", "validation", "wellposed", *LAZY, "__version__",
]


def __getattr__(name: str) -> ModuleType:
    if name in LAZY:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(LAZY))

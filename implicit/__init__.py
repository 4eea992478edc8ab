"""``implicit``: the deep ReLU implicit network of Gao et al. (ICLR 2022), its exact equilibrium solves, implicit
gradients, Gram matrices and infinite-width kernels, for the verified companion book."""
from __future__ import annotations

__version__ = "0.1.0"

from . import (autodiff, data, gaussian, gram, kernels, linearization, measure, model, plotting, rawformats, runtime,
               solvers, studies, theory, train, wellposed)
from .model import Equilibrium, ImplicitNet
from .runtime import setup
from .solvers import ConvergenceError, SolverStats
from .wellposed import NotWellPosedError, certificate, contraction_factor

__all__ = [
    "ImplicitNet", "Equilibrium", "setup", "contraction_factor", "certificate", "NotWellPosedError",
    "ConvergenceError", "SolverStats", "autodiff", "data", "gaussian", "gram", "kernels", "linearization", "measure",
    "model", "plotting", "rawformats", "runtime", "solvers", "studies", "theory", "train", "wellposed",
    "__version__",
]

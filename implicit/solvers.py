r"""Fixed-point solvers for the equilibrium and its adjoint.

Every solve in this package is a batched fixed-point problem :math:`Z = T(Z)` over the rows of an
:math:`n \times m` matrix (one row per sample). For the forward pass
:math:`T(Z) = \sigma(\tilde\gamma Z A^\top + \Phi)` (Eq. 3 of the paper, all samples at once) and for the adjoint
:math:`T(V) = G + \tilde\gamma (D \circ V) A` (the transposed linearisation). Both are contractions with factor at most
:math:`\tilde\gamma \|A\|_2` (Lemma 2.2), so plain Picard iteration converges linearly from any start:

.. math:: \|Z^{k} - Z^*\| \le \frac{q^k}{1-q}\,\|Z^1 - Z^0\|, \qquad q = \tilde\gamma\|A\|_2 .

At initialisation the Jacobian :math:`\tilde\gamma D A` of the map has a spectrum filling a disk whose radius is
about :math:`\gamma\sqrt p`, :math:`p` the fraction of active units at the equilibrium (about 0.7 here, because
:math:`\phi\ge0`; measured in the well-posedness chapter). On such a spectrum Anderson/Krylov acceleration does not
cut the iteration count, so Picard is the only solver shipped.

Each iteration costs one :math:`(n\times m)(m\times m)` product; the stop rule costs :math:`O(nm)` (two row norms, the
step computed in place in the dead iterate's memory) and one host synchronisation for the test against ``tol``. The
live memory of a solve is the start, two iterates and :math:`O(n)` scalars.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .validation import SUPPORTED_DTYPES, check_tol

__all__ = ["SolverStats", "ConvergenceError", "picard", "default_tol"]


@dataclass
class SolverStats:
    """What a fixed-point solve did.

    Attributes:
        iterations: number of applications of the map :math:`T`.
        residual: the largest per-sample relative step :math:`\\|z^{k}_i - z^{k-1}_i\\| / \\|z^k_i\\|` at the end.
        residual_trace: ``residual`` after every iteration (a Python list, one float per iteration).
        converged: whether ``residual <= tol`` was reached within ``max_iter``.
        per_sample_residual: the final relative step of every sample, shape ``(n,)``.
        tol: the tolerance the solve was asked for.

    Examples:
        >>> import torch
        >>> from implicit.solvers import picard
        >>> _, stats = picard(lambda z: 0.5 * z + 1, torch.zeros(3, 2, dtype=torch.float64), tol=1e-10)
        >>> stats.converged, stats.iterations == len(stats.residual_trace), stats.per_sample_residual.shape
        (True, True, torch.Size([3]))
        >>> stats.residual <= stats.tol < stats.residual_trace[-2]  # the stop rule fired at the last iteration
        True
    """

    iterations: int
    residual: float
    converged: bool
    tol: float
    residual_trace: list[float] = field(default_factory=list, repr=False)
    per_sample_residual: Tensor | None = field(default=None, repr=False)


class ConvergenceError(RuntimeError):
    """A fixed-point solve hit its iteration limit without reaching its tolerance."""

    def __init__(self, stats: SolverStats, what: str = "fixed-point iteration") -> None:
        self.stats = stats
        worst = stats.per_sample_residual
        which = "" if worst is None else f" (worst sample: index {int(torch.argmax(worst))})"
        super().__init__(
            f"{what} did not converge: relative residual {stats.residual:.3e} after {stats.iterations} iterations, "
            f"tolerance {stats.tol:.1e}{which}. The map may not be a contraction (check implicit.contraction_factor), "
            f"or max_iter is too small for this contraction factor."
        )


def default_tol(dtype: torch.dtype) -> float:
    r"""Solver tolerance for a dtype: ``1e-12`` in float64, ``1e-6`` in float32, the only supported dtypes.

    Both sit above the rounding floor of a relative step, a small multiple of the unit roundoff :math:`u`
    (:math:`10^{-12} \approx 9000\,u` in float64, :math:`u = 2^{-53}`; :math:`10^{-6} \approx 17\,u` in float32,
    :math:`u = 2^{-24}`), so the stop rule is reachable while the solver error stays far below anything the book
    checks. Half precisions (float16 and bfloat16, :math:`u = 2^{-11}` and :math:`2^{-8}`) cannot reach a useful
    tolerance and are refused with ``TypeError``.

    Examples:
        >>> import torch
        >>> from implicit.solvers import default_tol
        >>> default_tol(torch.float64), default_tol(torch.float32)
        (1e-12, 1e-06)
        >>> round(default_tol(torch.float64) / 2 ** -53), round(default_tol(torch.float32) / 2 ** -24)  # in units u
        (9007, 17)
        >>> default_tol(torch.float16)
        Traceback (most recent call last):
            ...
        TypeError: no default solver tolerance for dtype torch.float16: ...
    """
    if dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"no default solver tolerance for dtype {dtype}: the supported dtypes are torch.float32 and "
                        f"torch.float64; pass tol explicitly or convert the iterate")
    return 1e-12 if dtype == torch.float64 else 1e-6


def relative_step(new: Tensor, old: Tensor) -> Tensor:
    r"""Per-row relative step :math:`\|z^{k}_i - z^{k-1}_i\| / \|z^{k}_i\|`, with ``0/0 := 0``."""
    return _relative(new - old, new)


def _relative(diff: Tensor, new: Tensor) -> Tensor:
    """Per-row ``||diff_i|| / ||new_i||`` with ``0/0 := 0``, ``1`` for a row that became exactly zero, and ``inf`` for
    non-finite rows."""
    step = torch.linalg.vector_norm(diff, dim=-1)
    scale = torch.linalg.vector_norm(new, dim=-1)
    ratio = step / scale.clamp_min(torch.finfo(new.dtype).tiny)
    ratio = ratio.masked_fill(step == 0, 0.0)
    # A row that jumps to exactly zero (every unit of a sample switched off) took a full step, not a diverging one:
    # 1, never step / tiny, which overflows to inf for a large warm start and would stop the solve as diverged.
    ratio = ratio.masked_fill((scale == 0) & (step > 0), 1.0)
    # An iterate whose norm overflows has diverged: report an infinite step, never 0 = inf-step / inf-norm.
    return ratio.masked_fill(~(torch.isfinite(scale) & torch.isfinite(step)), math.inf)


def _shares_memory(a: Tensor, b: Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


def picard(
    step: Callable[[Tensor], Tensor],
    z0: Tensor,
    *,
    tol: float | None = None,
    max_iter: int = 500,
    raise_on_failure: bool = True,
    what: str = "fixed-point iteration",
) -> tuple[Tensor, SolverStats]:
    r"""Batched Picard iteration :math:`Z^{k+1} = T(Z^k)` until every row's relative step is at most ``tol``.

    Args:
        step: the map :math:`T`, applied to all rows at once (one GEMM for the maps of this package).
        z0: the starting point, shape ``(n, m)``; pass the previous solution to warm-start.
        tol: relative tolerance of the stop rule, in the open interval (0, 1) (a relative step of 1 or more is no
            convergence); ``None`` picks :func:`default_tol` for ``z0.dtype``.
        max_iter: the iteration limit.
        raise_on_failure: raise :class:`ConvergenceError` (stating the residual reached) if the limit is hit.
        what: a name for the solve, used in the error message.

    Returns:
        ``(z, stats)``: the last iterate and a :class:`SolverStats`.

    Examples:
        >>> import torch
        >>> from implicit.solvers import picard
        >>> z, stats = picard(torch.cos, torch.zeros(2, 3, dtype=torch.float64))  # z = cos z, a contraction near 0.74
        >>> round(z[0, 0].item(), 9), stats.converged, bool(torch.allclose(z, torch.cos(z)))
        (0.739085133, True, True)
        >>> _, stats = picard(lambda z: 2 * z + 1, torch.zeros(1, 1), max_iter=5, raise_on_failure=False)
        >>> stats.converged, stats.iterations  # an expansion: no convergence (raise_on_failure=True would raise)
        (False, 5)
    """
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    tol = default_tol(z0.dtype) if tol is None else check_tol("tol", tol)
    z = z0
    owned = False  # whether z is an iterate this loop made (never the caller's z0), so its memory can be reused
    trace: list[float] = []
    for _ in range(max_iter):
        z_new = step(z)
        # The step is computed in the old iterate's memory when the loop owns it: one n x m buffer fewer, no allocation.
        reuse = owned and not z.requires_grad and not _shares_memory(z, z_new)
        diff = z.sub_(z_new) if reuse else z_new - z  # the sign does not matter to the row norms
        per_sample = _relative(diff, z_new)
        del diff
        z, owned = z_new, True
        trace.append(float(per_sample.max()) if per_sample.numel() else 0.0)  # the one host sync per iteration
        if trace[-1] <= tol or not math.isfinite(trace[-1]):
            break
    residual = trace[-1]
    stats = SolverStats(
        iterations=len(trace),
        residual=residual,
        converged=residual <= tol,
        tol=tol,
        residual_trace=trace,
        per_sample_residual=per_sample,
    )
    if raise_on_failure and not stats.converged:
        raise ConvergenceError(stats, what)
    return z, stats

r"""Exact gradients through the equilibrium by the implicit function theorem (Lemma 2.3).

Write the equilibrium of all samples as rows, :math:`Z = \sigma(\tilde\gamma Z A^\top + \Phi)`, and let
:math:`D_i = \mathrm{diag}(\sigma'(\tilde\gamma A z_i + \phi_i))`. Differentiating the fixed-point equation gives
:math:`dz_i = (I - \tilde\gamma D_i A)^{-1} D_i(\tilde\gamma\, dA\, z_i + d\phi_i)`. For an upstream gradient
:math:`g_i = \partial L/\partial z_i` put :math:`w_i = (I - \tilde\gamma D_i A)^{-\top} g_i` and :math:`q_i = D_i w_i`;
then

.. math::
    q_i = D_i\bigl(g_i + \tilde\gamma A^\top q_i\bigr) \quad\text{(adjoint fixed point)},\qquad
    \frac{\partial L}{\partial A} = \tilde\gamma \sum_i q_i z_i^\top = \tilde\gamma\, Q^\top Z,\qquad
    \frac{\partial L}{\partial \phi_i} = q_i .

The adjoint map :math:`Q \mapsto D\circ(G + \tilde\gamma Q A)` is a contraction with the same factor
:math:`\tilde\gamma\|A\|_2` as the forward map (Lemma 2.3 (ii)), so it is solved by the same batched Picard iteration.
Only :math:`A`, :math:`Z` and the activation pattern are saved for the backward pass: memory does not depend on the
number of forward iterations, unlike back-propagation through the unrolled iteration.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .solvers import SolverStats, picard

__all__ = ["SolveOptions", "solve_equilibrium", "solve_adjoint", "implicit_equilibrium"]


@dataclass
class SolveOptions:
    """Solver settings shared by the forward and adjoint solves; ``stats`` receives the last solves' statistics."""

    tol: float | None = None
    max_iter: int = 500
    forward_stats: SolverStats | None = None
    adjoint_stats: SolverStats | None = None


def solve_equilibrium(A: Tensor, phi: Tensor, gamma_tilde: float, *, z0: Tensor | None = None,
                      tol: float | None = None, max_iter: int = 500) -> tuple[Tensor, SolverStats]:
    r"""Solve :math:`Z = \sigma(\tilde\gamma Z A^\top + \Phi)` for all rows at once (no autograd graph).

    Starts from ``z0`` (default :math:`Z^0 = 0`, the paper's scheme). One GEMM per iteration.
    """
    At = A.detach().T  # a view: the scale rides on the GEMM's alpha, no m x m copy
    with torch.no_grad():
        start = torch.zeros_like(phi) if z0 is None else z0.detach()
        return picard(lambda z: torch.addmm(phi, z, At, alpha=gamma_tilde).relu_(), start, tol=tol,
                      max_iter=max_iter, what="forward equilibrium solve")


def solve_adjoint(A: Tensor, mask: Tensor, G: Tensor, gamma_tilde: float, *, q0: Tensor | None = None,
                  tol: float | None = None, max_iter: int = 500) -> tuple[Tensor, SolverStats]:
    r"""Solve the adjoint fixed point :math:`Q = D\circ(G + \tilde\gamma\, Q A)` row-wise, ``mask`` holding :math:`D`.

    Row :math:`i` of the solution is :math:`q_i = D_i (I - \tilde\gamma A^\top D_i)^{-1} g_i`.
    """
    A = A.detach()
    with torch.no_grad():
        start = G * mask if q0 is None else q0
        # One GEMM (scale on its alpha) and one in-place masking per iteration; the boolean mask is never widened.
        return picard(lambda q: torch.addmm(G, q, A, alpha=gamma_tilde).mul_(mask), start, tol=tol,
                      max_iter=max_iter, what="adjoint fixed-point solve")


class _Equilibrium(torch.autograd.Function):
    """``Z* = fixed point of sigma(gamma_tilde * Z A^T + Phi)`` with the implicit backward."""

    @staticmethod
    def forward(ctx, A: Tensor, phi: Tensor, gamma_tilde: float, z0: Tensor | None,  # type: ignore[override]
                options: SolveOptions) -> Tensor:
        z, stats = solve_equilibrium(A, phi, gamma_tilde, z0=z0, tol=options.tol, max_iter=options.max_iter)
        options.forward_stats = stats
        ctx.save_for_backward(A, z, z > 0)
        ctx.gamma_tilde = gamma_tilde
        ctx.options = options
        return z

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_z: Tensor):  # type: ignore[override]
        A, z, mask = ctx.saved_tensors
        options: SolveOptions = ctx.options
        q, stats = solve_adjoint(A, mask, grad_z, ctx.gamma_tilde, tol=options.tol, max_iter=options.max_iter)
        options.adjoint_stats = stats
        grad_A = ctx.gamma_tilde * (q.T @ z) if ctx.needs_input_grad[0] else None
        grad_phi = q if ctx.needs_input_grad[1] else None
        return grad_A, grad_phi, None, None, None


def implicit_equilibrium(A: Tensor, phi: Tensor, gamma_tilde: float, *, z0: Tensor | None = None,
                         options: SolveOptions | None = None) -> Tensor:
    r"""The equilibrium :math:`Z^*` as a differentiable function of ``A`` and ``phi`` (implicit backward).

    The forward and adjoint statistics land in ``options.forward_stats`` / ``options.adjoint_stats``.
    """
    return _Equilibrium.apply(A, phi, gamma_tilde, z0, options if options is not None else SolveOptions())

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
    """Solver settings shared by the forward and adjoint solves; ``forward_stats`` and ``adjoint_stats`` receive the
    last solves' statistics.

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> from implicit.autodiff import SolveOptions, implicit_equilibrium
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> phi = net.features(data.sphere(n=8, d=5, seed=0)).detach()
        >>> options = SolveOptions(tol=1e-10, max_iter=100)
        >>> A = net.A.detach().requires_grad_()
        >>> implicit_equilibrium(A, phi, net.gamma_tilde, options=options).sum().backward()
        >>> options.forward_stats.converged, options.adjoint_stats.converged, options.forward_stats.tol
        (True, True, 1e-10)
    """

    tol: float | None = None
    max_iter: int = 500
    forward_stats: SolverStats | None = None
    adjoint_stats: SolverStats | None = None


def solve_equilibrium(A: Tensor, phi: Tensor, gamma_tilde: float, *, z0: Tensor | None = None,
                      tol: float | None = None, max_iter: int = 500) -> tuple[Tensor, SolverStats]:
    r"""Solve :math:`Z = \sigma(\tilde\gamma Z A^\top + \Phi)` for all rows at once (no autograd graph).

    Starts from ``z0`` (default :math:`Z^0 = 0`, the paper's scheme). One GEMM per iteration.

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> from implicit.autodiff import solve_equilibrium
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> A, phi = net.A.detach(), net.features(data.sphere(n=8, d=5, seed=0)).detach()
        >>> Z, stats = solve_equilibrium(A, phi, net.gamma_tilde)
        >>> bool(torch.allclose(Z, torch.relu(net.gamma_tilde * Z @ A.T + phi))), stats.converged
        (True, True)
        >>> _, warm = solve_equilibrium(A, phi, net.gamma_tilde, z0=Z)  # warm start at the solution
        >>> warm.iterations < stats.iterations
        True
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

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> from implicit.autodiff import solve_adjoint
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> A, gt, eq = net.A.detach(), net.gamma_tilde, net.equilibrium(data.sphere(n=8, d=5, seed=0))
        >>> G = torch.ones(8, 32, dtype=torch.float64)
        >>> Q, stats = solve_adjoint(A, eq.mask, G, gt)
        >>> D = torch.diag(eq.mask[0].double())  # check row 0 against a dense solve
        >>> q0 = D @ torch.linalg.solve(torch.eye(32, dtype=torch.float64) - gt * A.T @ D, G[0])
        >>> bool(torch.allclose(Q[0], q0)), stats.converged
        (True, True)
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

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> from implicit.autodiff import implicit_equilibrium
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> phi = net.features(data.sphere(n=8, d=5, seed=0)).detach()
        >>> A = net.A.detach().requires_grad_()
        >>> grad = torch.autograd.grad(implicit_equilibrium(A, phi, net.gamma_tilde).sum(), A)[0]
        >>> z = torch.zeros_like(phi)
        >>> for _ in range(40):  # reference: back-propagation through 40 unrolled layers
        ...     z = torch.relu(net.gamma_tilde * z @ A.T + phi)
        >>> bool(torch.allclose(grad, torch.autograd.grad(z.sum(), A)[0]))
        True
    """
    return _Equilibrium.apply(A, phi, gamma_tilde, z0, options if options is not None else SolveOptions())

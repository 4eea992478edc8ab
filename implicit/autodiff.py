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

__all__ = ["SolveOptions", "solve_equilibrium", "solve_adjoint", "implicit_equilibrium", "loss_gradients",
           "ift_jacobians", "autograd_jacobians", "fd_jacobian_error", "conditioning", "saved_bytes"]


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


# -- the chapter's checks of Lemma 2.3: the paper's formulas, finite differences, conditioning, memory ---------------

def loss_gradients(net, X: Tensor, y: Tensor, depth: int | None = None) -> dict[str, Tensor]:
    r"""The gradients of :math:`L = \tfrac12\|\hat y - y\|^2` in ``A, W, u, v`` by autograd: through the implicit
    backward of ``net(X)`` (``depth=None``) or by back-propagation through ``net.unrolled(X, depth)``.

    Leaves the gradients in ``net``'s ``.grad`` too (and, for the implicit path, the solves' statistics in
    ``net.last_solve``); returns copies keyed by name.

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> from implicit.autodiff import loss_gradients
        >>> net, X = ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=8, d=5, seed=0)
        >>> y = torch.linspace(-1, 1, 8, dtype=torch.float64)
        >>> g, g40 = loss_gradients(net, X, y), loss_gradients(net, X, y, depth=40)
        >>> all(torch.allclose(g[k], g40[k]) for k in "AWuv"), net.last_solve.adjoint_stats is not None
        (True, True)
    """
    net.zero_grad(set_to_none=True)
    yhat = net(X) if depth is None else net.unrolled(X, depth)
    (0.5 * ((yhat - y) ** 2).sum()).backward()
    return {name: getattr(net, name).grad.detach().clone() for name in "AWuv"}


def ift_jacobians(A: Tensor, W: Tensor, x: Tensor, gamma_tilde: float) -> tuple[Tensor, Tensor]:
    r"""Lemma 2.3 (i) for one sample: the partial derivatives (6)–(8) of :math:`f(z, A, W) = z - \sigma(\tilde\gamma Az
    + \phi)` in the paper's layout (column-major vec, the derivative of a vector by a vector is the transposed
    Jacobian), and from them, by the implicit function theorem, :math:`\partial z^*/\partial\theta =
    -(\partial f/\partial\theta)(\partial f/\partial z)^{-1}`. Returns ``(dz/dA, dz/dW)``, shapes
    ``(m*m, m)`` and ``(m*d, m)``. Dense and slow: a yardstick for small ``m``.

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> from implicit.autodiff import autograd_jacobians, ift_jacobians
        >>> net, x = ImplicitNet(d=3, m=8, gamma=0.1, seed=0), data.sphere(n=1, d=3, seed=0)[0]
        >>> A, W = net.A.detach(), net.W.detach()
        >>> [tuple(J.shape) for J in ift_jacobians(A, W, x, net.gamma_tilde)]
        [(64, 8), (24, 8)]
        >>> all(torch.allclose(a, b) for a, b in zip(ift_jacobians(A, W, x, net.gamma_tilde),
        ...                                          autograd_jacobians(A, W, x, net.gamma_tilde)))
        True
    """
    m = A.shape[0]
    phi = torch.relu(W @ x) / m ** 0.5
    z = solve_equilibrium(A, phi[None], gamma_tilde)[0][0]
    D = torch.diag((gamma_tilde * A @ z + phi > 0).to(A.dtype))
    E = torch.diag((W @ x > 0).to(A.dtype))
    df_dz = (torch.eye(m, dtype=A.dtype) - gamma_tilde * D @ A).T          # (6)
    df_dA = -gamma_tilde * torch.kron(z[None, :], D).T                     # (7)
    df_dW = -torch.kron(x[None, :], E).T @ D.T / m ** 0.5                  # (8)
    inverse = torch.linalg.inv(df_dz)
    return -df_dA @ inverse, -df_dW @ inverse


def autograd_jacobians(A: Tensor, W: Tensor, x: Tensor, gamma_tilde: float) -> tuple[Tensor, Tensor]:
    r"""The Jacobians of :func:`ift_jacobians` by autograd through :func:`implicit_equilibrium` (one adjoint solve per
    output coordinate), rearranged into the paper's layout. Returns ``(dz/dA, dz/dW)``.

    Examples:
        >>> from implicit import ImplicitNet, data
        >>> from implicit.autodiff import autograd_jacobians
        >>> net, x = ImplicitNet(d=3, m=8, gamma=0.1, seed=0), data.sphere(n=1, d=3, seed=0)[0]
        >>> [tuple(J.shape) for J in autograd_jacobians(net.A.detach(), net.W.detach(), x, net.gamma_tilde)]
        [(64, 8), (24, 8)]
    """
    m, d = W.shape

    def z_of(A_: Tensor, W_: Tensor) -> Tensor:
        return implicit_equilibrium(A_, torch.relu(x[None, :] @ W_.T) / m ** 0.5, gamma_tilde)[0]

    JA, JW = torch.autograd.functional.jacobian(z_of, (A.detach().clone(), W.detach().clone()))
    return JA.permute(0, 2, 1).reshape(m, m * m).T, JW.permute(0, 2, 1).reshape(m, m * d).T


def fd_jacobian_error(A: Tensor, phi: Tensor, gamma_tilde: float, eps: float = 1e-6) -> float:
    r"""The largest entry of :math:`|J - J_{\mathrm{fd}}|`, :math:`J` the Jacobian of :func:`implicit_equilibrium` in
    all entries of ``A`` and ``phi`` (implicit backward) and :math:`J_{\mathrm{fd}}` its central differences with step
    ``eps``. Uses none of the formulas; one solve per perturbed entry, so keep ``A`` small.

    Examples:
        >>> import torch
        >>> from implicit.autodiff import fd_jacobian_error
        >>> g = torch.Generator().manual_seed(0)
        >>> A = torch.randn(6, 6, generator=g, dtype=torch.float64)
        >>> phi = torch.randn(3, 6, generator=g, dtype=torch.float64)
        >>> fd_jacobian_error(A, phi, 0.5 / float(torch.linalg.matrix_norm(A, 2))) < 1e-7
        True
    """
    def z_of(flat: Tensor) -> Tensor:
        return implicit_equilibrium(flat[:A.numel()].reshape(A.shape), flat[A.numel():].reshape(phi.shape),
                                    gamma_tilde).reshape(-1)

    flat = torch.cat([A.detach().reshape(-1), phi.detach().reshape(-1)])
    analytic = torch.autograd.functional.jacobian(z_of, flat)
    steps = eps * torch.eye(flat.numel(), dtype=flat.dtype, device=flat.device)
    central = torch.stack([(z_of(flat + s) - z_of(flat - s)) / (2 * eps) for s in steps], dim=1)
    return float((analytic - central).abs().max())


def conditioning(A: Tensor, masks: Tensor, gamma_tilde: float) -> dict[str, Tensor]:
    r"""Lemma 2.3 (ii) per activation pattern: for each row :math:`D` of ``masks`` (shape ``(k, m)``) and
    :math:`M = I - \tilde\gamma DA`, the smallest singular value ``s_min`` :math:`=\sigma_{\min}(M)`, the smallest
    eigenvalue modulus ``mu_min`` :math:`=\min|\mu(M)| = \min|1-\lambda(\tilde\gamma DA)|` (an upper bound on
    ``s_min``) and ``sym_min`` :math:`=\lambda_{\min}((M+M^\top)/2)`. The lemma: all three are
    :math:`\ge 1 - \tilde\gamma\|A\|_2`. Each a tensor of shape ``(k,)``.

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet
        >>> from implicit.autodiff import conditioning
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> masks = torch.rand(10, 32, generator=torch.Generator().manual_seed(0)) < 0.5
        >>> c = conditioning(net.A.detach(), masks, net.gamma_tilde)
        >>> bool((c["s_min"] >= 1 - net.contraction_factor()).all()), bool((c["s_min"] <= c["mu_min"] + 1e-12).all())
        (True, True)
    """
    DA = gamma_tilde * masks.to(A.dtype)[:, :, None] * A.detach()
    M = torch.eye(A.shape[0], dtype=A.dtype, device=A.device) - DA
    return {"s_min": torch.linalg.svdvals(M)[:, -1],
            "mu_min": (1 - torch.linalg.eigvals(DA)).abs().min(dim=1).values,
            "sym_min": torch.linalg.eigvalsh((M + M.transpose(1, 2)) / 2)[:, 0]}


def saved_bytes(A: Tensor, phi: Tensor, gamma_tilde: float, *, tol: float | None = None,
                depth: int | None = None) -> tuple[int, int]:
    r"""Bytes autograd saves for the backward pass of the equilibrium node: :func:`implicit_equilibrium` solved to
    ``tol`` (``depth=None``; expected :math:`8m^2 + 9nm` in float64: :math:`A`, :math:`Z` and the boolean mask), or
    the loop :math:`z^\ell = \sigma(\tilde\gamma z^{\ell-1}A^\top + \phi)` unrolled ``depth`` times (expected
    :math:`16nmL + 8m^2[L\ge2]`: two :math:`n\times m` arrays per layer, :math:`A` once). Returns ``(bytes,
    forward iterations)``.

    Examples:
        >>> from implicit import ImplicitNet, data
        >>> from implicit.autodiff import saved_bytes
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> phi = net.features(data.sphere(n=8, d=5, seed=0))
        >>> saved_bytes(net.A, phi, net.gamma_tilde)[0] == 8 * 32 ** 2 + 9 * 8 * 32
        True
        >>> saved_bytes(net.A, phi, net.gamma_tilde, depth=3) == (16 * 8 * 32 * 3 + 8 * 32 ** 2, 3)
        True
    """
    from .measure import saved_tensor_bytes

    options = SolveOptions(tol=tol)
    with saved_tensor_bytes() as saved:
        if depth is None:
            implicit_equilibrium(A, phi, gamma_tilde, options=options)
        else:
            z = torch.zeros_like(phi)
            for _ in range(depth):
                z = torch.relu(gamma_tilde * z @ A.T + phi)
    return saved.bytes, depth if depth is not None else options.forward_stats.iterations

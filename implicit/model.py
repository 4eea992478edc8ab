r"""The paper's network: an infinitely deep, weight-tied ReLU network with input injection (Eqs. 1–4).

.. math::
    \phi(x) = \tfrac{1}{\sqrt m}\,\sigma(Wx), \qquad
    z^* = \sigma\!\bigl(\tilde\gamma A z^* + \phi(x)\bigr), \qquad
    \hat y = u^\top z^* + v^\top \phi(x), \qquad \tilde\gamma = \gamma/\sqrt m,

with :math:`A\in\mathbb R^{m\times m}`, :math:`W\in\mathbb R^{m\times d}`, :math:`u, v\in\mathbb R^m` trained and
:math:`\gamma\in(0,1)` fixed. Initialisation follows Assumption 1: :math:`A_{ij}, W_{ij}\sim\mathcal N(0,1)`,
:math:`u_i, v_i` Rademacher.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .autodiff import SolveOptions, implicit_equilibrium, solve_equilibrium
from .solvers import SolverStats
from .validation import check_design_matrix, check_dtype, check_finite, check_gamma, check_positive_int, check_tol
from .wellposed import WellPosedness

__all__ = ["ImplicitNet", "Equilibrium", "init_parameters"]


@dataclass
class Equilibrium:
    r"""The equilibrium of a batch: rows ``z`` (:math:`z_i^*`), ``phi`` (:math:`\phi(x_i)`), and the solve's
    ``stats``.

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> eq = net.equilibrium(data.sphere(n=8, d=5, seed=0))
        >>> eq.z.shape, eq.mask.dtype, eq.stats.converged
        (torch.Size([8, 32]), torch.bool, True)
        >>> bool(torch.allclose(eq.z, torch.relu(net.gamma_tilde * eq.z @ net.A.T + eq.phi)))  # z* = T(z*)
        True
    """

    z: Tensor
    phi: Tensor
    stats: SolverStats

    @property
    def mask(self) -> Tensor:
        r"""The activation pattern :math:`D_i` as a boolean ``(n, m)`` tensor: :math:`\tilde\gamma A z_i+\phi_i > 0`."""
        return self.z > 0


def init_parameters(d: int, m: int, seed: int) -> dict[str, Tensor]:
    """Assumption 1 in float64 on the CPU: ``A, W`` standard Gaussian, ``u, v`` Rademacher, from one seeded generator.

    Drawing on the CPU in float64 makes a seed give the same network on every device, and a float32 network the
    rounding of the float64 one.

    Examples:
        >>> import torch
        >>> from implicit.model import ImplicitNet, init_parameters
        >>> p = init_parameters(d=5, m=32, seed=0)
        >>> {name: tuple(t.shape) for name, t in p.items()}
        {'A': (32, 32), 'W': (32, 5), 'u': (32,), 'v': (32,)}
        >>> sorted(set(p["u"].tolist()) | set(p["v"].tolist()))  # Rademacher readouts
        [-1.0, 1.0]
        >>> bool(torch.equal(ImplicitNet(d=5, m=32, seed=0, dtype=torch.float32).A, p["A"].float()))
        True
    """
    gen = torch.Generator().manual_seed(seed)
    A = torch.randn(m, m, generator=gen, dtype=torch.float64)
    W = torch.randn(m, d, generator=gen, dtype=torch.float64)
    u = torch.randint(0, 2, (m,), generator=gen).to(torch.float64) * 2 - 1
    v = torch.randint(0, 2, (m,), generator=gen).to(torch.float64) * 2 - 1
    return {"A": A, "W": W, "u": u, "v": v}


class ImplicitNet(nn.Module):
    r"""The implicit network of Gao et al. (2022), Eqs. (1)–(4).

    The paper's theory (Assumption 2) takes every input on the unit sphere, :math:`\|x_i\| = 1`, and no two inputs
    parallel; :func:`implicit.data.unit_rows` and :func:`implicit.data.ensure_not_parallel` produce such data. The
    forward pass itself accepts any finite input (a trained net may be applied to anything); the functions whose
    results are read against the theorems (:func:`implicit.gram.gram_blocks`, :func:`implicit.train.gradient_descent`,
    :func:`implicit.train.gradient_flow`, :func:`implicit.kernels.lambda0`) warn once per process
    (:class:`~implicit.validation.OffSphereWarning`) when it does not hold.

    Args:
        d: input dimension.
        m: width (size of the equilibrium state).
        gamma: the fixed scalar :math:`\gamma\in(0,1)`; the map uses :math:`\tilde\gamma=\gamma/\sqrt m`.
        seed: seed of the initialisation (Assumption 1); ``None`` draws a fresh one.
        dtype, device: where the parameters live: ``torch.float32`` or ``torch.float64`` (half precisions are
            refused: they cannot resolve the solvers' tolerances). Inputs must match both.
        tol: relative tolerance of the equilibrium and adjoint solves, in the open interval (0, 1) (default:
            :func:`~implicit.solvers.default_tol`, 1e-12 in float64 and 1e-6 in float32).
        max_iter: iteration limit of each solve; hitting it raises :class:`~implicit.solvers.ConvergenceError`.
        check_wellposed: if true (default), every forward pass first certifies the contraction factor
            :math:`\tilde\gamma\|A\|_2 < 1` and raises :class:`~implicit.wellposed.NotWellPosedError` otherwise.
            The certificate is the cheap upper bound :meth:`contraction_bound` while it stays below 1, else the factor
            itself.

    Attributes:
        A, W, u, v: the trainable parameters (``nn.Parameter``).
        wellposedness: the :class:`~implicit.wellposed.WellPosedness` state (cached factor, reference copy of
            :math:`A`, Lanczos warm start) behind :meth:`contraction_factor` and :meth:`ensure_wellposed`.
        last_solve: the :class:`~implicit.autodiff.SolveOptions` of the latest forward pass, holding the forward and
            (after ``backward``) adjoint solver statistics.

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> net
        ImplicitNet(d=5, m=32, gamma=0.1, dtype=torch.float64, device=cpu)
        >>> X = data.sphere(n=8, d=5, seed=0)
        >>> net(X).shape, round(net.contraction_factor(), 4)  # q < 1: well-posed (Lemma 2.2)
        (torch.Size([8]), 0.1857)
        >>> bool(torch.allclose(net(X), net.unrolled(X, depth=40)))  # the limit of the weight-tied deep network
        True
    """

    def __init__(self, d: int, m: int, gamma: float = 0.1, *, seed: int | None = 0,
                 dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu",
                 tol: float | None = None, max_iter: int = 500, check_wellposed: bool = True) -> None:
        super().__init__()
        self.d = check_positive_int("d", d)
        self.m = check_positive_int("m", m)
        self.wellposedness = WellPosedness(check_gamma(gamma), self.m)
        # seed=None draws one from torch's global generator (reproducible after torch.manual_seed, never reseeding it).
        self.seed = int(torch.randint(0, 2 ** 62, ())) if seed is None else seed
        self.tol = None if tol is None else check_tol("tol", tol)
        self.max_iter = check_positive_int("max_iter", max_iter)
        self.check_wellposed = check_wellposed
        check_dtype(dtype)
        params = init_parameters(d, m, self.seed)
        for name, value in params.items():
            setattr(self, name, nn.Parameter(value.to(device=device, dtype=dtype)))
        self.last_solve = SolveOptions(tol=self.tol, max_iter=max_iter)

    @classmethod
    def from_parameters(cls, A: Tensor, W: Tensor, u: Tensor, v: Tensor, gamma: float = 0.1,
                        **kwargs) -> ImplicitNet:
        """Build a net with given parameters (copied), e.g. a constructed example. Shapes must be consistent.

        Examples:
            >>> import torch
            >>> from implicit import ImplicitNet
            >>> A, W = torch.zeros(3, 3, dtype=torch.float64), torch.eye(3, 2, dtype=torch.float64)
            >>> u, v = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
            >>> net = ImplicitNet.from_parameters(A, W, u, v, gamma=0.5)
            >>> net.d, net.m, net.contraction_factor()  # A = 0: z* = phi, one step
            (2, 3, 0.0)
            >>> y = net(torch.tensor([[0.6, 0.8]], dtype=torch.float64)).item()
            >>> abs(y - (0.6 + 0.8) / 3 ** 0.5) < 1e-12  # u^T phi with phi = relu(W x) / sqrt(m)
            True
        """
        if W.ndim != 2:
            raise ValueError(f"W must be a matrix of shape (m, d), got shape {tuple(W.shape)}")
        m, d = W.shape
        if A.shape != (m, m) or u.shape != (m,) or v.shape != (m,):
            raise ValueError(f"inconsistent shapes: A {tuple(A.shape)}, W {tuple(W.shape)}, u {tuple(u.shape)}, "
                             f"v {tuple(v.shape)}; expected A (m, m), W (m, d), u (m,), v (m,) with m={m}, d={d}")
        net = cls(d, m, gamma, seed=0, dtype=A.dtype, device=A.device, **kwargs)
        with torch.no_grad():
            for name, value in zip("AWuv", (A, W, u, v), strict=True):
                getattr(net, name).copy_(value)
        return net

    @property
    def gamma(self) -> float:
        r"""The fixed scalar :math:`\gamma\in(0,1)`, held by :attr:`wellposedness`; setting it is checked."""
        return self.wellposedness.gamma

    @gamma.setter
    def gamma(self, value: float) -> None:
        self.wellposedness.gamma = check_gamma(value)

    @property
    def gamma_tilde(self) -> float:
        r""":math:`\tilde\gamma = \gamma/\sqrt m`."""
        return self.gamma / math.sqrt(self.m)

    @property
    def dtype(self) -> torch.dtype:
        return self.A.dtype

    @property
    def device(self) -> torch.device:
        return self.A.device

    def extra_repr(self) -> str:
        return f"d={self.d}, m={self.m}, gamma={self.gamma}, dtype={self.dtype}, device={self.device}"

    # -- well-posedness ------------------------------------------------------------------------------------------
    def contraction_factor(self, *, exact: bool | None = None) -> float:
        r""":math:`\tilde\gamma\|A\|_2`, cached while :math:`A` equals the copy it was computed from
        (:meth:`implicit.wellposed.WellPosedness.factor`; Lanczos warm-started for large m)."""
        return self.wellposedness.factor(self.A, exact=exact)

    def contraction_bound(self) -> float:
        r"""A cheap upper bound on the contraction factor, :math:`\tilde\gamma(\|A_{\rm ref}\|_2 +
        \|A - A_{\rm ref}\|_F) \ge \tilde\gamma\|A\|_2`, from the last evaluated :math:`A_{\rm ref}` (triangle
        inequality; the Frobenius norm bounds the spectral one). Costs :math:`O(m^2)`; evaluates the factor itself when
        there is no reference yet (:meth:`implicit.wellposed.WellPosedness.bound`).

        Examples:
            >>> import torch
            >>> from implicit import ImplicitNet
            >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
            >>> net.contraction_bound() == net.contraction_factor()  # no reference yet: the factor itself
            True
            >>> with torch.no_grad():
            ...     _ = net.A.add_(0.01)  # a small step moves A away from its reference copy
            >>> net.contraction_factor() <= net.contraction_bound() < 1
            True
        """
        return self.wellposedness.bound(self.A)

    def ensure_wellposed(self) -> None:
        """Raise :class:`~implicit.wellposed.NotWellPosedError` if the contraction factor is not below 1 (unless
        ``check_wellposed`` is off), ``ValueError`` if ``A`` is not finite, ``TypeError`` if the parameters were
        converted to an unsupported dtype (e.g. by ``net.half()``)."""
        check_dtype(self.dtype, "the network's dtype")
        self.wellposedness.ensure(self.A, certify=self.check_wellposed)

    # -- forward -------------------------------------------------------------------------------------------------
    def features(self, X: Tensor) -> Tensor:
        r"""The injection :math:`\Phi = \sigma(XW^\top)/\sqrt m`, shape ``(n, m)`` (Eq. 2)."""
        X = check_design_matrix(X, self.d, self.dtype, self.device)
        check_finite("parameter W", self.W)
        return torch.relu(X @ self.W.T) / math.sqrt(self.m)

    def equilibrium(self, X: Tensor, z0: Tensor | None = None) -> Equilibrium:
        r"""Solve :math:`Z^* = \sigma(\tilde\gamma Z^* A^\top + \Phi)` for the batch ``X`` without building a graph.

        ``z0`` warm-starts the solve (e.g. the previous step's equilibrium); the default is the paper's
        :math:`z^0 = 0`.
        """
        self.ensure_wellposed()
        with torch.no_grad():
            phi = self.features(X)
            z, stats = solve_equilibrium(self.A, phi, self.gamma_tilde, z0=self._check_start(z0, phi),
                                         tol=self.tol, max_iter=self.max_iter)
        return Equilibrium(z=z, phi=phi, stats=stats)

    def forward(self, X: Tensor, z0: Tensor | None = None) -> Tensor:
        r"""Predictions :math:`\hat y_i = u^\top z_i^* + v^\top\phi_i`, shape ``(n,)``, differentiable in all
        parameters through the implicit backward of :mod:`implicit.autodiff`.

        Examples:
            >>> import torch
            >>> from implicit import ImplicitNet, data
            >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
            >>> X = data.sphere(n=8, d=5, seed=0)
            >>> implicit_grad = torch.autograd.grad(net(X).sum(), net.A)[0]  # one adjoint fixed point
            >>> unrolled_grad = torch.autograd.grad(net.unrolled(X, depth=40).sum(), net.A)[0]  # 40 layers
            >>> bool(torch.allclose(implicit_grad, unrolled_grad)), net.last_solve.adjoint_stats.converged
            (True, True)
        """
        self.ensure_wellposed()
        for name in "uv":
            check_finite(f"parameter {name}", getattr(self, name))
        phi = self.features(X)
        self.last_solve = SolveOptions(tol=self.tol, max_iter=self.max_iter)
        z = implicit_equilibrium(self.A, phi, self.gamma_tilde, z0=self._check_start(z0, phi),
                                 options=self.last_solve)
        return z @ self.u + phi @ self.v

    def _check_start(self, z0: Tensor | None, phi: Tensor) -> Tensor | None:
        if z0 is None:
            return None
        if z0.shape != phi.shape:
            raise ValueError(f"z0 must have shape {tuple(phi.shape)} (n, m), got {tuple(z0.shape)}")
        check_finite("z0", z0)
        return z0.detach().to(dtype=phi.dtype, device=phi.device)

    def unrolled(self, X: Tensor, depth: int) -> Tensor:
        r"""The depth-``depth`` truncation :math:`\hat y^{(L)} = u^\top z^L + v^\top\phi` with :math:`z^0 = 0`
        (Eq. 1), differentiable by ordinary back-propagation. A reference for the implicit backward."""
        phi = self.features(X)
        z = torch.zeros_like(phi)
        for _ in range(depth):
            z = torch.relu(self.gamma_tilde * z @ self.A.T + phi)
        return z @ self.u + phi @ self.v

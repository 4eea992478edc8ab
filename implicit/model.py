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
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from .autodiff import SolveOptions, implicit_equilibrium, solve_equilibrium
from .solvers import SolverStats
from .validation import check_design_matrix, check_dtype, check_finite, check_gamma, check_positive_int, check_tol
from .wellposed import WellPosedness, forward_map

if TYPE_CHECKING:
    from .claims import Claim

__all__ = ["ImplicitNet", "Equilibrium", "init_parameters", "check_assumption_1", "init_norm_ratios", "signal_scales",
           "truncation_errors", "constructed_net"]


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


# -- measurements for the model and well-posedness chapters ----------------------------------------------------------

def check_assumption_1(net: ImplicitNet, sigmas: float = 4.0) -> dict[str, Claim]:
    r"""Assumption 1 on a drawn net, as claims keyed ``"1-A-mean"``, ``"1-A-var"``, ``"1-A-ks"`` (and ``W``),
    ``"1-u-pm1"``, ``"1-u-balance"`` (and ``v``).

    For the :math:`N` entries of :math:`A` (and :math:`W`): the sample mean within ``sigmas`` standard errors
    :math:`1/\sqrt N` of 0, the sample variance within ``sigmas`` standard errors :math:`\sqrt{2/N}` of 1, and the
    Kolmogorov–Smirnov distance to :math:`\mathcal N(0,1)` below the critical :math:`1.95/\sqrt N` (level 0.001).
    For :math:`u` (and :math:`v`): every entry is :math:`\pm1` (so :math:`\|u\| = \sqrt m`), and the count of
    :math:`+1` is within ``sigmas`` standard errors :math:`\sqrt m/2` of :math:`m/2`.

    Examples:
        >>> from implicit.model import ImplicitNet, check_assumption_1
        >>> checks = check_assumption_1(ImplicitNet(d=5, m=32, seed=0))
        >>> len(checks), all(c.holds for c in checks.values())
        (10, True)
    """
    from scipy.stats import kstest

    from .claims import Claim

    out = {}
    for name in "AW":
        x = getattr(net, name).detach().cpu().double().numpy().ravel()
        N = x.size
        out[f"1-{name}-mean"] = Claim(f"1-{name}-mean", f"|mean of {name}| in standard errors 1/sqrt(N)",
                                      abs(x.mean()) * math.sqrt(N), "<=", sigmas)
        out[f"1-{name}-var"] = Claim(f"1-{name}-var", f"|variance of {name} - 1| in standard errors sqrt(2/N)",
                                     abs(x.var(ddof=1) - 1) / math.sqrt(2 / N), "<=", sigmas)
        out[f"1-{name}-ks"] = Claim(f"1-{name}-ks", f"KS distance of {name} to N(0,1), against 1.95/sqrt(N)",
                                    kstest(x, "norm").statistic, "<=", 1.95 / math.sqrt(N))
    for name in "uv":
        x = getattr(net, name).detach().cpu().double()
        out[f"1-{name}-pm1"] = Claim(f"1-{name}-pm1", f"max_i | |{name}_i| - 1 |",
                                     float((x.abs() - 1).abs().max()), "<=", 0.0)
        plus = float((x == 1).sum())
        out[f"1-{name}-balance"] = Claim(f"1-{name}-balance", f"|#(+1 in {name}) - m/2| in standard errors sqrt(m)/2",
                                         abs(plus - net.m / 2) / (math.sqrt(net.m) / 2), "<=", sigmas)
    return out


def init_norm_ratios(m: int, seeds, d: int = 1) -> tuple[list[float], list[float]]:
    r""":math:`\|A(0)\|_2/\sqrt m` and :math:`\|W(0)\|_2/\sqrt m` of the Assumption 1 draws of ``seeds``
    (:func:`init_parameters` with width ``m`` and input dimension ``d``; spectral norms by
    :func:`implicit.linalg.spectral_norm`). Lemma 2.1 bounds both by a constant :math:`c`.

    Examples:
        >>> from implicit.model import init_norm_ratios
        >>> a, w = init_norm_ratios(64, seeds=range(3), d=4)
        >>> len(a), all(1.5 < r < 2.3 for r in a), all(r < 1.5 for r in w)  # about 2 and 1 + sqrt(d/m)
        (3, True, True)
    """
    from .linalg import spectral_norm

    a, w = [], []
    for s in seeds:
        p = init_parameters(d, m, seed=s)
        a.append(spectral_norm(p["A"])[0] / math.sqrt(m))
        w.append(spectral_norm(p["W"])[0] / math.sqrt(m))
    return a, w


def signal_scales(net: ImplicitNet, X: Tensor) -> dict[str, float]:
    r"""The scales of one net on the inputs ``X`` (rows): ``norm_A`` :math:`\|A\|/\sqrt m`, ``q``
    :math:`=\tilde\gamma\|A\|`, ``unscaled`` :math:`\gamma\|A\|` (the factor without the :math:`1/\sqrt m`),
    ``phi2`` the mean of :math:`\|\phi_i\|^2` (tends to :math:`\mathbb E\sigma(g)^2 = 1/2` for unit inputs),
    ``feedback`` the mean of :math:`\|\tilde\gamma Az_i^*\|/\|\phi_i\|` and ``z_norm`` the mean of :math:`\|z_i^*\|`.

    Examples:
        >>> from implicit import ImplicitNet, data
        >>> from implicit.model import signal_scales
        >>> s = signal_scales(ImplicitNet(d=5, m=64, gamma=0.1, seed=0), data.sphere(n=8, d=5, seed=1))
        >>> sorted(s), abs(s["q"] - 0.1 * s["norm_A"]) < 1e-12
        (['feedback', 'm', 'norm_A', 'phi2', 'q', 'unscaled', 'z_norm'], True)
    """
    q = net.contraction_factor()
    eq = net.equilibrium(X)
    phi_n = torch.linalg.vector_norm(eq.phi, dim=1)
    feedback = torch.linalg.vector_norm(net.gamma_tilde * eq.z @ net.A.detach().T, dim=1) / phi_n
    return dict(m=net.m, norm_A=q / net.gamma, q=q, unscaled=q * math.sqrt(net.m),
                phi2=float((phi_n ** 2).mean()), feedback=float(feedback.mean()),
                z_norm=float(torch.linalg.vector_norm(eq.z, dim=1).mean()))


def truncation_errors(net: ImplicitNet, X: Tensor, depth: int) -> tuple[Tensor, Tensor]:
    r"""The output errors :math:`|\hat y_i^{(L)} - \hat y_i|` of the depth-:math:`L` truncations
    (:meth:`ImplicitNet.unrolled`), :math:`L = 0,\dots,` ``depth``, and their bound
    :math:`\|u\|\,q^L\|\phi_i\|/(1-q)` (Lemma 2.2 and Cauchy–Schwarz), both of shape ``(depth + 1, n)``.
    :math:`\hat y_i` is the NumPy reference output (:func:`implicit.reference.predict`, iterated to rounding), so the
    errors are not floored by the package's solver tolerance.

    Examples:
        >>> from implicit import ImplicitNet, data
        >>> from implicit.model import truncation_errors
        >>> err, bound = truncation_errors(ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(4, 5), depth=5)
        >>> err.shape, bool((err <= bound).all())
        (torch.Size([6, 4]), True)
    """
    from . import reference as ref

    yhat = torch.as_tensor(ref.predict(*ref.to_numpy(net), X.detach().cpu().double().numpy(), net.gamma))
    q = net.contraction_factor()
    with torch.no_grad():
        phi = net.features(X)
        z, outputs = torch.zeros_like(phi), []
        for _ in range(depth + 1):  # one pass: the outputs of net.unrolled(X, L) for every L
            outputs.append(z @ net.u + phi @ net.v)
            z = forward_map(net, z, phi)
        errors = (torch.stack(outputs).cpu().double() - yhat).abs()
        phi_n = torch.linalg.vector_norm(phi.cpu().double(), dim=1)
        u_n = float(torch.linalg.vector_norm(net.u))
    powers = q ** torch.arange(depth + 1, dtype=torch.float64).unsqueeze(1)
    return errors, u_n * powers * phi_n / (1 - q)


def constructed_net(GA, w, gamma: float = 0.5) -> ImplicitNet:
    r"""A hand-made instance of the model for the input :math:`x = 1` (:math:`d = 1`): the width is ``len(w)``,
    :math:`\tilde\gamma A` = ``GA``, the injection is :math:`\phi = \sigma(w)`, :math:`u = v = \mathbf 1`, and the
    well-posedness check is off (``check_wellposed=False``), so nets with :math:`q\ge1` can be iterated.

    Examples:
        >>> import torch
        >>> from implicit.model import constructed_net
        >>> net = constructed_net([[0.0, -2.0], [-2.0, 0.0]], [1.0, 1.0])
        >>> round(net.contraction_factor(), 12), net.features(torch.ones(1, 1, dtype=torch.float64)).tolist()
        (2.0, [[1.0, 1.0]])
    """
    GA = torch.as_tensor(GA, dtype=torch.float64)
    m = GA.shape[0]
    W = torch.as_tensor(w, dtype=torch.float64).reshape(m, 1) * math.sqrt(m)
    ones = torch.ones(m, dtype=torch.float64)
    return ImplicitNet.from_parameters(GA * math.sqrt(m) / gamma, W, ones, ones, gamma=gamma, check_wellposed=False)

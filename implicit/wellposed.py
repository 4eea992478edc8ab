r"""Well-posedness of the equilibrium (Lemma 2.2).

The forward map :math:`T(z) = \sigma(\tilde\gamma A z + \phi)` is Lipschitz with constant
:math:`q = \tilde\gamma\|A\|_2 = (\gamma/\sqrt m)\|A\|_2` because ReLU is 1-Lipschitz. If :math:`q < 1` it is a
contraction, so by Banach's theorem the equilibrium :math:`z^* = T(z^*)` exists, is unique, and Picard iteration from
:math:`z^0 = 0` satisfies

.. math::
    \|z^\ell\| \le \frac{\|\phi\|}{1-q}, \qquad \|z^p - z^*\| \le \frac{q^p\,\|\phi\|}{1-q}.

This module computes :math:`q` (:func:`contraction_factor`), the resulting certificate (:func:`certificate`) and the
error raised when :math:`q \ge 1` (:class:`NotWellPosedError`). A network's well-posedness state (the cached factor,
the copy of :math:`A` it was computed from and the Lanczos warm start) is one :class:`WellPosedness` object, owned by
the net as ``net.wellposedness``. The cache is keyed on that copy: a cached :math:`q` is returned only while
:math:`A` equals it entry for entry (``torch.equal``, :math:`O(m^2)`), so no in-place edit (``A.data.abs_()``,
``copy_`` under ``no_grad``, an optimiser step) can leave it stale. The same copy gives the cheap certificate

.. math:: \tilde\gamma\|A\|_2 \le \tilde\gamma\bigl(\|A_{\rm ref}\|_2 + \|A - A_{\rm ref}\|_F\bigr)

(triangle inequality, :math:`\|\cdot\|_2 \le \|\cdot\|_F`), which lets a training step that moves :math:`A` a little
skip the spectral norm. This module does not import :mod:`implicit.model`: its functions take any object with
attributes ``A`` and ``wellposedness`` (:class:`HasWellPosedness`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from .linalg import spectral_norm
from .validation import check_finite

__all__ = ["NotWellPosedError", "WellPosedness", "HasWellPosedness", "contraction_factor", "Certificate",
           "certificate", "relative_step_bound", "stop_rule_iterations", "linearised_radii", "forward_map",
           "lipschitz_ratios", "top_direction_ratio", "iterate_bounds", "solve_profile"]


class NotWellPosedError(ValueError):
    """The contraction factor ``gamma/sqrt(m) * ||A||_2`` is not below 1: Lemma 2.2 does not certify the equilibrium."""


class WellPosedness:
    r"""The well-posedness state of one network with :math:`A\in\mathbb R^{m\times m}` and fixed :math:`\gamma`.

    Holds :math:`\tilde\gamma = \gamma/\sqrt m`, the reference copy :math:`A_{\rm ref}` of :math:`A` at the last
    evaluation of the factor with its spectral norm :math:`\|A_{\rm ref}\|_2`, and the Lanczos warm-start vector (the
    top right-singular vector estimate of :math:`A_{\rm ref}`, ``None`` until Lanczos has run).

    Attributes:
        gamma, m: :math:`\gamma` and the width; ``gamma_tilde`` is :math:`\gamma/\sqrt m`.
        reference: the copy :math:`A_{\rm ref}` (detached), or ``None`` before the first evaluation.
        norm: :math:`\|A_{\rm ref}\|_2`, or ``None``.
        warm: the Lanczos start vector, or ``None``.

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> state = net.wellposedness
        >>> state
        WellPosedness(gamma=0.1, m=32, factor at reference: not evaluated)
        >>> q = state.factor(net.A)
        >>> state
        WellPosedness(gamma=0.1, m=32, factor at reference: 0.185687)
        >>> with torch.no_grad():
        ...     _ = net.A.mul_(2.0)  # an in-place edit: the cached factor is not reused
        >>> abs(state.factor(net.A) - 2 * q) < 1e-12
        True
    """

    def __init__(self, gamma: float, m: int) -> None:
        self.gamma, self.m = gamma, m
        self.reference: Tensor | None = None
        self.norm: float | None = None
        self.warm: Tensor | None = None
        self._default = False  # whether ``norm`` may answer a request with exact=None (it came from None or True)

    @property
    def gamma_tilde(self) -> float:
        r""":math:`\tilde\gamma = \gamma/\sqrt m`."""
        return self.gamma / math.sqrt(self.m)

    def __repr__(self) -> str:
        q = "not evaluated" if self.norm is None else f"{self.gamma_tilde * self.norm:.6g}"
        return f"WellPosedness(gamma={self.gamma}, m={self.m}, factor at reference: {q})"

    def _compatible(self, A: Tensor) -> bool:
        ref = self.reference
        return ref is not None and ref.shape == A.shape and ref.dtype == A.dtype and ref.device == A.device

    def factor(self, A: Tensor, exact: bool | None = None) -> float:
        r"""The contraction factor :math:`q = \tilde\gamma\|A\|_2` of ``A`` (Lemma 2.2).

        With ``exact=None`` the cached value is returned while ``A`` equals the reference copy exactly; otherwise
        :math:`\|A\|_2` is computed (``exact`` as in :func:`implicit.linalg.spectral_norm`, Lanczos warm-started from
        the previous top singular vector) and ``A`` becomes the new reference.
        """
        A = A.detach()
        if exact is None and self._default and self._compatible(A) and torch.equal(A, self.reference):
            return self.gamma_tilde * self.norm
        with torch.no_grad():
            norm, warm = spectral_norm(A, exact=exact, start=self.warm)
        self.reference, self.norm, self._default = A.clone(), norm, exact is not False
        self.warm = warm if warm is not None else self.warm
        return self.gamma_tilde * norm

    def bound(self, A: Tensor) -> float:
        r"""A cheap upper bound :math:`\tilde\gamma(\|A_{\rm ref}\|_2 + \|A - A_{\rm ref}\|_F) \ge \tilde\gamma\|A\|_2`
        (triangle inequality; the Frobenius norm bounds the spectral one), :math:`O(m^2)`. Evaluates the factor itself
        when there is no reference of ``A``'s shape, dtype and device yet."""
        A = A.detach()
        if not self._compatible(A):
            return self.factor(A)
        with torch.no_grad():
            drift = float(torch.linalg.vector_norm(A - self.reference))
        return self.gamma_tilde * self.norm + self.gamma_tilde * drift

    def ensure(self, A: Tensor, *, certify: bool = True) -> None:
        r"""Check that ``A`` is finite and, if ``certify``, that :math:`\tilde\gamma\|A\|_2 < 1`.

        The certificate is :meth:`bound` while it stays below 1 (no spectral norm), else :meth:`factor`.

        Raises:
            ValueError: ``A`` holds NaN or inf.
            NotWellPosedError: the factor is at least 1.
        """
        check_finite("parameter A", A)
        if not certify or self.bound(A) < 1:
            return
        q = self.factor(A)
        if not q < 1:
            raise NotWellPosedError(
                f"the equilibrium is not certified: contraction factor gamma/sqrt(m)*||A||_2 = {q:.4f} >= 1 "
                f"(gamma={self.gamma}, m={self.m}, ||A||_2={self.norm:.4g}). Lemma 2.2 needs it below 1: "
                f"lower gamma, or pass check_wellposed=False to iterate anyway.")


class HasWellPosedness(Protocol):
    """What :func:`contraction_factor` and :func:`certificate` use of a network: ``A`` and ``wellposedness``.

    :class:`~implicit.model.ImplicitNet` has both; so can any other object.

    Examples:
        >>> import torch
        >>> from types import SimpleNamespace
        >>> from implicit import ImplicitNet
        >>> from implicit.wellposed import WellPosedness, contraction_factor
        >>> round(contraction_factor(ImplicitNet(d=5, m=32, gamma=0.1, seed=0)), 6)
        0.185687
        >>> toy = SimpleNamespace(A=2 * torch.eye(4, dtype=torch.float64), wellposedness=WellPosedness(0.3, m=4))
        >>> round(contraction_factor(toy), 12)  # (0.3 / sqrt(4)) * ||2 I||_2
        0.3
    """

    A: Tensor
    wellposedness: WellPosedness


def contraction_factor(net: HasWellPosedness, *, exact: bool | None = None) -> float:
    r"""The contraction factor :math:`q = (\gamma/\sqrt m)\,\|A\|_2` of the forward map (Lemma 2.2).

    ``exact`` as in :func:`implicit.linalg.spectral_norm`. Cached by ``net.wellposedness`` while ``A`` equals the copy
    it was computed from, so repeated calls cost one :math:`O(m^2)` comparison until ``A`` changes in any way.

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, contraction_factor
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> q = contraction_factor(net)
        >>> abs(q - net.gamma / 32 ** 0.5 * torch.linalg.matrix_norm(net.A.detach(), ord=2).item()) < 1e-12
        True
        >>> round(q, 4), round(q / (2 * net.gamma), 2)  # ||A||_2 is about 2 sqrt(m) for a Gaussian A: q ~ 2 gamma
        (0.1857, 0.93)
    """
    return net.wellposedness.factor(net.A, exact=exact)


@dataclass(frozen=True)
class Certificate:
    r"""Lemma 2.2 applied to one net.

    Attributes:
        q: the contraction factor :math:`\tilde\gamma\|A\|_2`, which plays the role of :math:`\gamma_0`.
        well_posed: ``q < 1``.
        norm_bound_factor: :math:`1/(1-q)`, so that :math:`\|z^\ell\|,\|z^*\| \le \|\phi\|/(1-q)`.

    Examples:
        >>> from implicit import ImplicitNet, certificate
        >>> cert = certificate(ImplicitNet(d=5, m=32, gamma=0.1, seed=0))
        >>> cert.well_posed, round(cert.q, 4), round(cert.norm_bound_factor, 4)
        (True, 0.1857, 1.228)
        >>> cert.iterations_for(1e-12), cert.step_bound(3) == cert.q ** 3
        (17, True)
    """

    q: float
    well_posed: bool
    norm_bound_factor: float

    def iterations_for(self, tol: float) -> int:
        r"""Iterations :math:`p` from :math:`z^0=0` after which :math:`\|z^p - z^*\| \le` ``tol`` :math:`\cdot\|\phi\|`.

        From :math:`\|z^p - z^*\| \le q^p\|\phi\|/(1-q)`: :math:`p = \lceil \log(\mathrm{tol}\,(1-q)) / \log q \rceil`.

        Examples:
            >>> import torch
            >>> from implicit import ImplicitNet, certificate, data
            >>> net, X = ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=8, d=5, seed=0)
            >>> p = certificate(net).iterations_for(1e-6)
            >>> phi, z = net.features(X).detach(), torch.zeros(8, 32, dtype=torch.float64)
            >>> for _ in range(p):  # p Picard steps from z^0 = 0
            ...     z = torch.relu(net.gamma_tilde * z @ net.A.detach().T + phi)
            >>> p, bool(((z - net.equilibrium(X).z).norm(dim=1) <= 1e-6 * phi.norm(dim=1)).all())
            (9, True)
        """
        if not (isinstance(tol, (int, float)) and tol > 0):
            raise ValueError(f"tol must be a positive number (an error relative to ||phi||), got {tol!r}")
        if not self.well_posed:
            raise NotWellPosedError(f"no iteration bound: contraction factor {self.q:.4f} >= 1")
        if self.q == 0.0:
            return 1
        return max(1, math.ceil(math.log(tol * (1 - self.q)) / math.log(self.q)))

    def step_bound(self, p: int) -> float:
        r"""The a-priori bound :math:`\|z^{p+1} - z^{p}\| \le q^{p}\,\|\phi\|` divided by :math:`\|\phi\|`."""
        return self.q ** p


def certificate(net: HasWellPosedness, *, exact: bool | None = None) -> Certificate:
    """The Lemma 2.2 certificate of ``net``: contraction factor, norm bound and predicted iteration counts.

    Examples:
        >>> from implicit import ImplicitNet, certificate, data
        >>> net, X = ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=8, d=5, seed=0)
        >>> cert = certificate(net)
        >>> eq = net.equilibrium(X)
        >>> bool((eq.z.norm(dim=1) <= cert.norm_bound_factor * eq.phi.norm(dim=1)).all())  # ||z*|| <= ||phi||/(1-q)
        True
    """
    q = contraction_factor(net, exact=exact)
    return Certificate(q=q, well_posed=q < 1, norm_bound_factor=(1 / (1 - q)) if q < 1 else math.inf)


# -- measurements for the well-posedness chapter: one conclusion of Lemma 2.2 against the iteration each ----------

def relative_step_bound(q: float, k: int) -> float:
    r"""The a-priori bound :math:`b_k = q^{k-1}(1+q)/(1-q^k)` on the relative step
    :math:`\|z^k - z^{k-1}\|/\|z^k\|` of the forward iteration from :math:`z^0 = 0` (:math:`k\ge1`, :math:`q<1`).

    Numerator: :math:`\|z^k - z^{k-1}\| \le q^{k-1}\|z^1 - z^0\| = q^{k-1}\|\phi\|`. Denominator:
    :math:`\|z^k\| \ge \|z^*\| - \|z^k - z^*\| \ge (1-q^k)\|z^*\|` and :math:`\|z^*\| \ge \|\phi\|/(1+q)` (because
    :math:`\|z^* - \phi\| = \|T(z^*) - T(0)\| \le q\|z^*\|`).

    Examples:
        >>> from implicit.wellposed import relative_step_bound
        >>> relative_step_bound(0.5, 1), relative_step_bound(0.5, 2)  # (1+q)/(1-q), then q(1+q)/(1-q^2)
        (3.0, 1.0)
    """
    return q ** (k - 1) * (1 + q) / (1 - q ** k)


def stop_rule_iterations(q: float, tol: float) -> int:
    r""":math:`p_{\rm stop} = \min\{k\ge1 : b_k \le \mathrm{tol}\}`: the iteration by which the solver's stop rule
    (relative step at most ``tol`` for every sample) must fire when the forward map is a :math:`q`-contraction
    (:func:`relative_step_bound`).

    Examples:
        >>> from implicit.wellposed import stop_rule_iterations
        >>> stop_rule_iterations(0.2, 1e-12), stop_rule_iterations(0.9, 1e-12)
        (19, 270)
    """
    if not 0 <= q < 1:
        raise NotWellPosedError(f"no stop-rule bound: contraction factor {q:.4f} is not in [0, 1)")
    k = 1
    while relative_step_bound(q, k) > tol:
        k += 1
    return k


def linearised_radii(net, z: Tensor) -> Tensor:
    r"""The spectral radii :math:`\rho_i = \rho(\tilde\gamma D_i A)` of the forward map linearised at the equilibria
    ``z`` (rows :math:`z_i^*`), :math:`D_i = \mathrm{diag}(\mathbb 1[z_i^* > 0])`: the asymptotic rate of the
    iteration for sample :math:`i`. The nonzero eigenvalues of :math:`D_iA` are those of :math:`A` restricted to the
    active units :math:`S_i`, so :math:`\rho_i = \tilde\gamma\,\rho(A_{S_iS_i})`.

    Examples:
        >>> from implicit import ImplicitNet, contraction_factor, data
        >>> from implicit.wellposed import linearised_radii
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> rho = linearised_radii(net, net.equilibrium(data.sphere(n=4, d=5, seed=0)).z)
        >>> rho.shape, bool((rho < contraction_factor(net)).all())  # rho_i <= ||gamma~ D_i A|| <= q
        (torch.Size([4]), True)
    """
    A = net.A.detach()
    radii = []
    for active in z > 0:
        block = A[active][:, active]
        radii.append(float(torch.linalg.eigvals(block).abs().max()) if block.numel() else 0.0)
    return net.gamma_tilde * torch.tensor(radii, dtype=A.dtype)


def forward_map(net, Z: Tensor, Phi: Tensor) -> Tensor:
    r"""The forward map :math:`T(z) = \sigma(\tilde\gamma Az + \phi)` applied to the rows of ``Z`` with injections
    ``Phi`` (rows), without a graph.

    Examples:
        >>> from implicit import ImplicitNet, data
        >>> from implicit.wellposed import forward_map
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> eq = net.equilibrium(data.sphere(n=4, d=5, seed=0))
        >>> float((forward_map(net, eq.z, eq.phi) - eq.z).abs().max()) < 1e-12  # z* = T(z*)
        True
    """
    with torch.no_grad():
        return torch.relu(net.gamma_tilde * Z @ net.A.detach().T + Phi)


def lipschitz_ratios(net, Phi: Tensor, pairs: int = 2000, scales=(1e-3, 1e-1, 1.0, 1e1, 1e3), seed: int = 1) -> Tensor:
    r"""The ratios :math:`\|T(z) - T(z')\|/\|z - z'\|` of the forward map on random pairs, which Lemma 2.2 bounds by
    :math:`q`: per scale :math:`s`, ``pairs`` Gaussian pairs of size :math:`s` (far apart, any signs) and ``pairs``
    nearby pairs :math:`z' = z + 10^{-6}s\,\delta`, each with the injection of a random row of ``Phi``.

    Examples:
        >>> from implicit import ImplicitNet, contraction_factor, data
        >>> from implicit.wellposed import lipschitz_ratios
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> r = lipschitz_ratios(net, net.features(data.sphere(n=4, d=5, seed=0)).detach(), pairs=50)
        >>> r.shape, bool(r.max() <= contraction_factor(net))
        (torch.Size([500]), True)
    """
    gen = torch.Generator().manual_seed(seed)
    out = []
    for s in scales:
        Z1 = s * torch.randn(pairs, net.m, generator=gen, dtype=Phi.dtype)
        P = Phi[torch.randint(0, Phi.shape[0], (pairs,), generator=gen)]
        for Z2 in (s * torch.randn(pairs, net.m, generator=gen, dtype=Phi.dtype),
                   Z1 + 1e-6 * s * torch.randn(pairs, net.m, generator=gen, dtype=Phi.dtype)):
            out.append(torch.linalg.vector_norm(forward_map(net, Z1, P) - forward_map(net, Z2, P), dim=1)
                       / torch.linalg.vector_norm(Z1 - Z2, dim=1))
    return torch.cat(out)


def top_direction_ratio(net, level: float = 100.0) -> float:
    r"""The ratio :math:`\|T(\eta_1) - T(0)\|/\|\eta_1\|` along the top right singular vector :math:`\eta_1` of
    :math:`A`, with the injection :math:`\phi = \text{level}\cdot\mathbf 1` that keeps both states where every
    pre-activation is positive (checked). There :math:`T` is affine, so the ratio is
    :math:`\tilde\gamma\|A\eta_1\| = q`: the constant of Lemma 2.2 cannot be improved.

    Examples:
        >>> from implicit import ImplicitNet, contraction_factor
        >>> from implicit.wellposed import top_direction_ratio
        >>> net = ImplicitNet(d=5, m=32, gamma=0.1, seed=0)
        >>> abs(top_direction_ratio(net) / contraction_factor(net) - 1) < 1e-12
        True
    """
    A = net.A.detach()
    eta = torch.linalg.svd(A).Vh[:1]
    phi = torch.full_like(eta, level)
    if not bool((net.gamma_tilde * eta @ A.T + phi > 0).all()):
        raise ValueError(f"level {level} does not keep the states in the linear region; raise it")
    return float(torch.linalg.vector_norm(forward_map(net, eta, phi) - forward_map(net, 0 * eta, phi)))


def iterate_bounds(net, X: Tensor, steps: int = 40, floor: float = 1e-9) -> dict[str, float]:
    r"""The iterates :math:`z^0 = 0, \dots, z^{\rm steps}` of Eq. (1) against Lemma 2.2's bounds, as worst ratios over
    samples and iterates (a ratio at most 1 means the bound holds):

    * ``norm``: :math:`\max_{\ell,i}\|z_i^\ell\|(1-q)/\|\phi_i\|` over the iterates and :math:`z^*` (the lemma's
      :math:`\|z^\ell\|, \|z^*\|\le\|\phi\|/(1-q)`);
    * ``error``: :math:`\max_{p,i}\|z_i^p - z_i^*\|(1-q)/(q^p\|\phi_i\|)` (the lemma's error bound) and
      ``error_sharp``: :math:`\max_{p,i}\|z_i^p - z_i^*\|/(q^p\|z_i^*\|)` (the form :math:`q^p\|z^0 - z^*\|` that the
      contraction gives directly), both over the pairs where the bound is above ``floor`` :math:`\|z_i^*\|`
      (:math:`z^*` is the solver's, accurate to about :math:`10^{-12}`);
    * ``lower``: :math:`\min_i\|z_i^*\|(1+q)/\|\phi_i\|` (at least 1, from :math:`\|z^*-\phi\|\le q\|z^*\|`);
    * ``z_phi_min``, ``z_phi_max``, ``iterate_max``: the range of :math:`\|z_i^*\|/\|\phi_i\|` and
      :math:`\max_{\ell,i}\|z_i^\ell\|/\|\phi_i\|`; ``q`` the contraction factor.

    Examples:
        >>> from implicit import ImplicitNet, data
        >>> from implicit.wellposed import iterate_bounds
        >>> b = iterate_bounds(ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=4, d=5, seed=0), steps=10)
        >>> b["norm"] <= 1, b["error"] <= 1, b["lower"] >= 1
        (True, True, True)
    """
    q = contraction_factor(net)
    eq = net.equilibrium(X)
    phi_n, zstar_n = torch.linalg.vector_norm(eq.phi, dim=1), torch.linalg.vector_norm(eq.z, dim=1)
    zs = [torch.zeros_like(eq.phi)]
    for _ in range(steps):
        zs.append(forward_map(net, zs[-1], eq.phi))
    zs = torch.stack(zs)
    z_n = torch.linalg.vector_norm(zs, dim=2)
    err = torch.linalg.vector_norm(zs - eq.z, dim=2)[1:]
    qp = q ** torch.arange(1, steps + 1, dtype=zs.dtype).unsqueeze(1)
    checked = qp * zstar_n >= floor * zstar_n
    return dict(q=q, norm=float((torch.cat([z_n, zstar_n[None]]) * (1 - q) / phi_n).max()),
                lower=float((zstar_n * (1 + q) / phi_n).min()),
                error=float((err * (1 - q) / (qp * phi_n))[checked].max()),
                error_sharp=float((err / (qp * zstar_n))[checked].max()),
                z_phi_min=float((zstar_n / phi_n).min()), z_phi_max=float((zstar_n / phi_n).max()),
                iterate_max=float((z_n / phi_n).max()))


def solve_profile(net, X: Tensor) -> dict:
    r"""One solve from :math:`z^0 = 0` against Lemma 2.2's counts and rates. Returns ``q``; the solver's iteration
    count ``K`` and residual ``trace``; the a-priori counts ``p_stop`` (:func:`stop_rule_iterations`) and ``p_cert``
    (:meth:`Certificate.iterations_for`); ``step_use``, the largest ratio of the trace to :math:`b_k`
    (:func:`relative_step_bound`); the observed ``rate`` (:func:`implicit.measure.fit_rate` on the second half of the
    trace); ``rho``, :math:`\rho(\tilde\gamma D_{i^*}A)` of the slowest sample :math:`i^*` (largest final step); and
    ``active``, the fraction of active units at the equilibrium.

    Examples:
        >>> from implicit import ImplicitNet, data
        >>> from implicit.wellposed import solve_profile
        >>> p = solve_profile(ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=4, d=5, seed=0))
        >>> p["K"] <= p["p_stop"], p["step_use"] <= 1, p["rate"] < p["q"]
        (True, True, True)
    """
    from .measure import fit_rate

    cert = certificate(net)
    eq = net.equilibrium(X)
    trace = eq.stats.residual_trace
    slowest = int(torch.argmax(eq.stats.per_sample_residual))
    return dict(gamma=net.gamma, q=cert.q, K=eq.stats.iterations, p_stop=stop_rule_iterations(cert.q, eq.stats.tol),
                p_cert=cert.iterations_for(eq.stats.tol), trace=trace,
                step_use=max(t / relative_step_bound(cert.q, k) for k, t in enumerate(trace, 1)),
                rate=fit_rate(trace, tail=0.5), rho=float(linearised_radii(net, eq.z[slowest:slowest + 1])[0]),
                active=float(eq.mask.double().mean()))

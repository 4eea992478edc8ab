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
           "certificate"]


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

r"""Well-posedness of the equilibrium (Lemma 2.2).

The forward map :math:`T(z) = \sigma(\tilde\gamma A z + \phi)` is Lipschitz with constant
:math:`q = \tilde\gamma\|A\|_2 = (\gamma/\sqrt m)\|A\|_2` because ReLU is 1-Lipschitz. If :math:`q < 1` it is a
contraction, so by Banach's theorem the equilibrium :math:`z^* = T(z^*)` exists, is unique, and Picard iteration from
:math:`z^0 = 0` satisfies

.. math::
    \|z^\ell\| \le \frac{\|\phi\|}{1-q}, \qquad \|z^p - z^*\| \le \frac{q^p\,\|\phi\|}{1-q}.

This module computes :math:`q` (:func:`contraction_factor`), the resulting certificate (:func:`certificate`) and the
error raised when :math:`q \ge 1` (:class:`NotWellPosedError`).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .model import ImplicitNet

__all__ = ["NotWellPosedError", "spectral_norm", "contraction_factor", "Certificate", "certificate"]

#: Matrices no costlier to decompose than a square one of this side get an exact spectral norm (SVD); larger ones use
#: Lanczos, which is as accurate (1e-15 relative on random matrices) and faster from a side of about 400 on a CPU.
EXACT_NORM_MAX_WIDTH = 384
#: The same threshold on accelerators, where an SVD is a slow, host-synchronising library call.
EXACT_NORM_MAX_WIDTH_ACCELERATOR = 64


class NotWellPosedError(ValueError):
    """The contraction factor ``gamma/sqrt(m) * ||A||_2`` is not below 1, so Lemma 2.2 does not certify the equilibrium."""


def spectral_norm(A: Tensor, *, exact: bool | None = None, tol: float = 1e-12, max_iter: int = 300,
                  start: Tensor | None = None) -> tuple[float, Tensor | None]:
    r"""The operator norm :math:`\|A\|_2 = \sigma_{\max}(A)`.

    Exact (``torch.linalg.matrix_norm(A, 2)``) when ``exact`` is true, which is the default when the SVD's cost
    :math:`\text{rows}\cdot\text{cols}\cdot\min(\text{rows},\text{cols})` is at most that of a square matrix of side
    ``EXACT_NORM_MAX_WIDTH`` (``EXACT_NORM_MAX_WIDTH_ACCELERATOR`` off the CPU). Otherwise Lanczos on :math:`B = A^\top A` with full reorthogonalisation, started from
    ``start`` (the previous top right-singular vector when re-evaluating a matrix that moved a little), stopped when
    the top Ritz pair's residual :math:`\|B y - \theta y\| = \beta_k |s_k|` is at most ``tol`` :math:`\theta`.
    Ritz values approach :math:`\lambda_{\max}(B)` from below and a residual :math:`\rho` puts an eigenvalue within
    :math:`\rho` of :math:`\theta`; on the clustered top of a random matrix's spectrum Lanczos needs about a hundred
    products where power iteration needs thousands.

    Returns:
        ``(norm, v)``: the norm as a float and the top right-singular vector estimate (``None`` when exact).
    """
    if A.ndim != 2:
        raise ValueError(f"spectral_norm expects a matrix, got shape {tuple(A.shape)}")
    if exact is None:
        side = EXACT_NORM_MAX_WIDTH if A.device.type == "cpu" else EXACT_NORM_MAX_WIDTH_ACCELERATOR
        exact = A.shape[0] * A.shape[1] * min(A.shape) <= side ** 3
    if exact:
        return float(torch.linalg.matrix_norm(A, ord=2)), None
    if start is not None and start.shape == (A.shape[1],):
        q = start.to(A)
    else:
        q = torch.randn(A.shape[1], dtype=A.dtype, device=A.device, generator=torch.Generator(A.device).manual_seed(0))
    return _lanczos_top(lambda x: A.T @ (A @ x), q, tol, min(max_iter, A.shape[1]))


def _lanczos_top(apply: Callable[[Tensor], Tensor], q: Tensor, tol: float, max_iter: int) -> tuple[float, Tensor]:
    """Largest eigenvalue of a PSD operator by Lanczos; returns its square root and the Ritz vector."""
    Q = q.new_zeros(max_iter, q.shape[0])  # the Krylov basis, one contiguous row per vector
    Q[0] = q / torch.linalg.vector_norm(q)
    alphas: list[float] = []
    betas: list[float] = []
    for k in range(max_iter):
        w = apply(Q[k])
        alphas.append(float(Q[k] @ w))
        basis = Q[:k + 1]
        for _ in range(2):  # full reorthogonalisation, twice is enough
            w = w - (basis @ w) @ basis
        beta = float(torch.linalg.vector_norm(w))
        T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if betas:
            off = torch.tensor(betas, dtype=torch.float64)
            T += torch.diag(off, 1) + torch.diag(off, -1)
        evals, evecs = torch.linalg.eigh(T)
        theta, s = float(evals[-1]), evecs[:, -1]
        if beta * abs(float(s[-1])) <= tol * max(theta, 1e-300) or beta == 0.0 or k + 1 == max_iter:
            return max(theta, 0.0) ** 0.5, s.to(basis) @ basis
        betas.append(beta)
        Q[k + 1] = w / beta
    raise ValueError(f"max_iter must be at least 1, got {max_iter}")


def contraction_factor(net: "ImplicitNet", *, exact: bool | None = None) -> float:
    r"""The contraction factor :math:`q = (\gamma/\sqrt m)\,\|A\|_2` of the forward map (Lemma 2.2).

    ``exact`` as in :func:`spectral_norm`. The net caches the value per version of ``A``, so repeated calls are free
    until ``A`` changes.
    """
    return net.contraction_factor(exact=exact)


@dataclass(frozen=True)
class Certificate:
    r"""Lemma 2.2 applied to one net.

    Attributes:
        q: the contraction factor :math:`\tilde\gamma\|A\|_2`, which plays the role of :math:`\gamma_0`.
        well_posed: ``q < 1``.
        norm_bound_factor: :math:`1/(1-q)`, so that :math:`\|z^\ell\|,\|z^*\| \le \|\phi\|/(1-q)`.
    """

    q: float
    well_posed: bool
    norm_bound_factor: float

    def iterations_for(self, tol: float) -> int:
        r"""Iterations :math:`p` from :math:`z^0=0` after which :math:`\|z^p - z^*\| \le` ``tol`` :math:`\cdot\|\phi\|`.

        From :math:`\|z^p - z^*\| \le q^p\|\phi\|/(1-q)`: :math:`p = \lceil \log(\mathrm{tol}\,(1-q)) / \log q \rceil`.
        """
        if not self.well_posed:
            raise NotWellPosedError(f"no iteration bound: contraction factor {self.q:.4f} >= 1")
        if self.q == 0.0:
            return 1
        return max(1, math.ceil(math.log(tol * (1 - self.q)) / math.log(self.q)))

    def step_bound(self, p: int) -> float:
        r"""The a-priori bound :math:`\|z^{p+1} - z^{p}\| \le q^{p}\,\|\phi\|` divided by :math:`\|\phi\|`."""
        return self.q ** p


def certificate(net: "ImplicitNet", *, exact: bool | None = None) -> Certificate:
    """The Lemma 2.2 certificate of ``net``: contraction factor, norm bound and predicted iteration counts."""
    q = contraction_factor(net, exact=exact)
    return Certificate(q=q, well_posed=q < 1, norm_bound_factor=(1 / (1 - q)) if q < 1 else math.inf)

r"""The infinite-width kernel :math:`G^\infty` and :math:`\lambda_0` (Lemmas 3.2–3.3 and A.1–A.9).

As :math:`m\to\infty`, :math:`G(0) = \Phi\Phi^\top = \frac1m\sum_r \sigma(Xw_r)\sigma(Xw_r)^\top` converges to

.. math:: G^\infty_{ij} = \mathbb E_{w\sim\mathcal N(0,I_d)}\bigl[\sigma(w^\top x_i)\,\sigma(w^\top x_j)\bigr]
    = \frac{\|x_i\|\|x_j\|}{2\pi}\Bigl(\sin\theta_{ij} + (\pi-\theta_{ij})\cos\theta_{ij}\Bigr),

the degree-1 arc-cosine kernel of Cho & Saul (2009), :math:`\theta_{ij}` the angle between :math:`x_i` and :math:`x_j`.
:math:`\lambda_0 = \lambda_{\min}(G^\infty)` sets the convergence rate of the theorems.

For unit-norm inputs the Hermite expansion of ReLU (Lemma A.7) writes the same kernel as a power series in the Gram
matrix of the data, :math:`G^\infty = \sum_{k\ge0} a_k^2 (XX^\top)^{\circ k}`, with :math:`a_k = \langle\sigma,h_k\rangle`
the coefficients of ReLU in the normalised probabilists' Hermite basis.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["relu_kernel", "lambda0", "hermite_coefficients", "hermite_series", "max_abs_cosine",
           "khatri_rao_bound", "lambda0_lower_bound", "random_feature_kernel"]


def _check_rows(X: Tensor) -> Tensor:
    if not isinstance(X, Tensor) or X.ndim != 2:
        raise ValueError(f"X must be a 2-D tensor of shape (n, d), got {getattr(X, 'shape', type(X).__name__)}")
    if not bool(torch.isfinite(X).all()):
        raise ValueError("X contains NaN or inf")
    return X


def relu_kernel(X: Tensor) -> Tensor:
    r""":math:`G^\infty` in closed form (degree-1 arc-cosine kernel), for rows of any norm; shape ``(n, n)``.

    :math:`G^\infty_{ij} = \frac{\|x_i\|\|x_j\|}{2\pi}\bigl(\sqrt{1-\rho^2} + (\pi - \arccos\rho)\rho\bigr)` with
    :math:`\rho = \cos\theta_{ij}` clipped to :math:`[-1,1]`; the diagonal is :math:`\|x_i\|^2/2`. Rows equal to zero
    give zero rows.
    """
    X = _check_rows(X)
    norms = torch.linalg.vector_norm(X, dim=1)
    scale = torch.outer(norms, norms)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    rho = torch.clamp((X @ X.T) / safe, -1.0, 1.0)
    rho.fill_diagonal_(1.0)
    theta = torch.arccos(rho)
    K = scale / (2 * math.pi) * (torch.sqrt(torch.clamp(1 - rho ** 2, min=0.0)) + (math.pi - theta) * rho)
    return torch.where(scale > 0, K, torch.zeros_like(K))


def lambda0(X: Tensor) -> float:
    r""":math:`\lambda_0 = \lambda_{\min}(G^\infty)`, in float64."""
    return float(torch.linalg.eigvalsh(relu_kernel(X.to(torch.float64)))[0])


def random_feature_kernel(X: Tensor, m: int, seed: int = 0) -> Tensor:
    r"""The Monte-Carlo estimate :math:`\frac1m\sigma(XW^\top)\sigma(XW^\top)^\top`, :math:`W_{rj}\sim\mathcal N(0,1)`:
    exactly :math:`G(0)` of a width-``m`` network, without building one."""
    X = _check_rows(X)
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(m, X.shape[1], generator=gen, dtype=torch.float64).to(X)
    F = torch.relu(X @ W.T)
    return F @ F.T / m


def hermite_coefficients(K: int) -> Tensor:
    r"""ReLU's coefficients :math:`a_k = \mathbb E[\sigma(Z)h_k(Z)]`, :math:`k = 0..K`, in the orthonormal basis
    :math:`h_k = He_k/\sqrt{k!}` (float64).

    :math:`a_0 = 1/\sqrt{2\pi}`, :math:`a_1 = 1/2`, and for :math:`k\ge2` (Gaussian integration by parts twice,
    :math:`\sigma'' = \delta_0`) :math:`a_k = He_{k-2}(0)/\sqrt{2\pi\,k!}`, which vanishes for odd :math:`k` and equals
    :math:`(-1)^{k/2-1}(k-3)!!/\sqrt{2\pi k!}` for even :math:`k`. :math:`\sum_k a_k^2 = \mathbb E\sigma(Z)^2 = 1/2`.
    """
    if K < 0:
        raise ValueError(f"K must be non-negative, got {K}")
    a = torch.zeros(K + 1, dtype=torch.float64)
    a[0] = 1 / math.sqrt(2 * math.pi)
    if K >= 1:
        a[1] = 0.5
    for k in range(2, K + 1, 2):
        j = k - 2  # He_j(0) = (-1)^{j/2} (j-1)!!, computed in logs to stay finite for large k
        log_double_fact = math.lgamma(j + 1) - (j // 2) * math.log(2) - math.lgamma(j // 2 + 1)
        a[k] = (-1) ** (j // 2) * math.exp(log_double_fact - 0.5 * (math.log(2 * math.pi) + math.lgamma(k + 1)))
    return a


def hermite_series(X: Tensor, K: int) -> Tensor:
    r"""The truncated series :math:`\sum_{k=0}^{K} a_k^2\,(XX^\top)^{\circ k}` (Lemma A.7) for unit-norm rows."""
    X = _check_rows(X).to(torch.float64)
    C = torch.clamp(X @ X.T, -1.0, 1.0)
    a2 = hermite_coefficients(K) ** 2
    out = torch.zeros_like(C)
    power = torch.ones_like(C)
    for k in range(K + 1):
        out += a2[k] * power
        power = power * C
    return out


def max_abs_cosine(X: Tensor) -> float:
    r""":math:`\delta = \max_{i\ne j}|\langle x_i, x_j\rangle|` for unit-norm rows (Lemma A.9); below 1 iff no two rows
    are parallel."""
    C = (X @ X.T).abs()
    C.fill_diagonal_(0.0)
    return float(C.max())


def khatri_rao_bound(n: int, delta: float, k: int) -> float:
    r"""Lemma A.9's bound :math:`\lambda_{\min}\bigl((XX^\top)^{\circ k}\bigr) \ge 1 - n\delta^k`."""
    return 1.0 - n * delta ** k


def lambda0_lower_bound(X: Tensor, K: int = 2000) -> float:
    r"""A certified lower bound on :math:`\lambda_0` from Lemmas A.7 and A.9:
    :math:`\lambda_0 \ge \sum_{k\le K} a_k^2 \max(0, 1 - n\delta^k)`.

    Positive exactly when some even :math:`k\le K` has :math:`n\delta^k<1`, which is the proof of Lemma 3.2.
    """
    n, delta = X.shape[0], max_abs_cosine(X.to(torch.float64))
    a2 = hermite_coefficients(K) ** 2
    return float(sum(a2[k] * max(0.0, khatri_rao_bound(n, delta, k)) for k in range(K + 1)))

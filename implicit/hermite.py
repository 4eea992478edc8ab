r"""ReLU's Hermite expansion and the positivity of :math:`\lambda_0` (Lemmas 3.2 and A.7–A.9).

For unit-norm inputs the Hermite expansion of ReLU (Lemma A.7) writes the infinite-width kernel as a power series in
the Gram matrix of the data,

.. math:: G^\infty = \sum_{k\ge0} a_k^2\,(XX^\top)^{\circ k} = \sum_{k\ge0} a_k^2\,X^{*k}(X^{*k})^\top,

with :math:`a_k = \langle\sigma,h_k\rangle` the coefficients of ReLU in the normalised probabilists' Hermite basis and
:math:`X^{*k}` the :math:`k`-fold row-wise Khatri–Rao power. Infinitely many :math:`a_k` are nonzero (Lemma A.8), and
with :math:`\delta = \max_{i\ne j}|\langle x_i, x_j\rangle| < 1` each Hadamard power has
:math:`\lambda_{\min}((XX^\top)^{\circ k}) \ge 1 - n\delta^k` (Lemma A.9), which makes :math:`\lambda_0 > 0` (Lemma 3.2)
and gives a certified lower bound on it.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .claims import Claim, keyed
from .kernels import _check_rows, lambda0, max_abs_cosine

__all__ = ["hermite_coefficients", "hermite_coefficients_quadrature", "hermite_series", "khatri_rao_power",
           "khatri_rao_bound", "hadamard_lambda_min", "lambda0_lower_bound", "check_lemma_a_9"]


def hermite_coefficients(K: int) -> Tensor:
    r"""ReLU's coefficients :math:`a_k = \mathbb E[\sigma(Z)h_k(Z)]`, :math:`k = 0..K`, in the orthonormal basis
    :math:`h_k = He_k/\sqrt{k!}` (float64).

    :math:`a_0 = 1/\sqrt{2\pi}`, :math:`a_1 = 1/2`, and for :math:`k\ge2` (Gaussian integration by parts twice,
    :math:`\sigma'' = \delta_0`) :math:`a_k = He_{k-2}(0)/\sqrt{2\pi\,k!}`, which vanishes for odd :math:`k` and equals
    :math:`(-1)^{k/2-1}(k-3)!!/\sqrt{2\pi k!}` for even :math:`k`. :math:`\sum_k a_k^2 = \mathbb E\sigma(Z)^2 = 1/2`.

    Examples:
        >>> from implicit.hermite import hermite_coefficients
        >>> [round(a, 6) for a in hermite_coefficients(6).tolist()]
        [0.398942, 0.5, 0.282095, 0.0, -0.081434, 0.0, 0.044603]
        >>> round((hermite_coefficients(2000) ** 2).sum().item(), 5)  # Parseval: E relu(Z)^2 = 1/2
        0.5
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
    r"""The truncated series :math:`\sum_{k=0}^{K} a_k^2\,(XX^\top)^{\circ k}` (Lemma A.7) for unit-norm rows.

    Examples:
        >>> from implicit import data
        >>> from implicit.kernels import relu_kernel
        >>> from implicit.hermite import hermite_series
        >>> X = data.sphere(n=8, d=5, seed=0)
        >>> [f"{(hermite_series(X, K) - relu_kernel(X)).abs().max().item():.1e}" for K in (50, 200)]
        ['1.2e-04', '1.5e-05']
    """
    X = _check_rows(X).to(torch.float64)
    C = torch.clamp(X @ X.T, -1.0, 1.0)
    a2 = hermite_coefficients(K) ** 2
    out = torch.zeros_like(C)
    power = torch.ones_like(C)
    for k in range(K + 1):
        out += a2[k] * power
        power = power * C
    return out


def khatri_rao_bound(n: int, delta: float, k: int) -> float:
    r"""Lemma A.9's bound :math:`\lambda_{\min}\bigl((XX^\top)^{\circ k}\bigr) \ge 1 - n\delta^k`.

    Examples:
        >>> from implicit import data
        >>> from implicit.gram import lambda_min
        >>> from implicit.kernels import max_abs_cosine
        >>> from implicit.hermite import khatri_rao_bound
        >>> X = data.sphere(n=8, d=5, seed=0)
        >>> delta, k = max_abs_cosine(X), 20
        >>> round(khatri_rao_bound(8, delta, k), 4), lambda_min((X @ X.T) ** k) >= khatri_rao_bound(8, delta, k)
        (0.2194, True)
    """
    return 1.0 - n * delta ** k


def lambda0_lower_bound(X: Tensor, K: int = 2000) -> float:
    r"""A certified lower bound on :math:`\lambda_0` from Lemmas A.7 and A.9:
    :math:`\lambda_0 \ge \sum_{k\le K} a_k^2 \max(0, 1 - n\delta^k)`.

    Positive exactly when some even :math:`k\le K` has :math:`n\delta^k<1`, which is the proof of Lemma 3.2.

    Examples:
        >>> from implicit import data
        >>> from implicit.kernels import lambda0
        >>> from implicit.hermite import lambda0_lower_bound
        >>> X = data.sphere(n=8, d=5, seed=0)
        >>> bound = lambda0_lower_bound(X)
        >>> f"{bound:.2e}", 0 < bound <= lambda0(X)  # certified, and far below the true value
        ('3.73e-04', True)
    """
    n, delta = X.shape[0], max_abs_cosine(X.to(torch.float64))
    a2 = hermite_coefficients(K) ** 2
    return float(sum(a2[k] * max(0.0, khatri_rao_bound(n, delta, k)) for k in range(K + 1)))


def hermite_coefficients_quadrature(K: int) -> Tensor:
    r"""ReLU's Hermite coefficients by adaptive quadrature, :math:`a_k = \int_0^\infty x\,h_k(x)\,\varphi(x)\,dx`,
    :math:`k = 0..K` (``scipy.integrate.quad``; the integrand is smooth on the half-line): an independent check of
    the closed form :func:`hermite_coefficients`.

    Examples:
        >>> from implicit.hermite import hermite_coefficients, hermite_coefficients_quadrature
        >>> (hermite_coefficients_quadrature(6) - hermite_coefficients(6)).abs().max().item() < 1e-12
        True
    """
    from scipy import integrate

    from .gaussian import hermite_polynomial

    def a(k: int) -> float:
        return integrate.quad(lambda x: x * hermite_polynomial(k, x) * math.exp(-x * x / 2) / math.sqrt(2 * math.pi),
                              0, math.inf, epsabs=1e-14, epsrel=1e-13, limit=200)[0]

    return torch.tensor([a(k) for k in range(K + 1)], dtype=torch.float64)


def khatri_rao_power(X: Tensor, k: int) -> Tensor:
    r"""The row-wise Khatri–Rao power :math:`X^{*k}`: row :math:`i` is :math:`x_i\otimes\cdots\otimes x_i` (:math:`k`
    factors), so that :math:`X^{*k}(X^{*k})^\top = (XX^\top)^{\circ k}` (Lemma A.7).

    Examples:
        >>> import torch
        >>> from implicit.hermite import khatri_rao_power
        >>> khatri_rao_power(torch.tensor([[1.0, 2.0]]), 2)
        tensor([[1., 2., 2., 4.]])
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    out = X
    for _ in range(k - 1):
        out = (out[:, :, None] * X[:, None, :]).reshape(X.shape[0], -1)
    return out


def hadamard_lambda_min(X: Tensor, ks) -> np.ndarray:
    r""":math:`\lambda_{\min}\bigl((XX^\top)^{\circ k}\bigr)` for each :math:`k` in ``ks``, for unit rows (Lemma A.9).

    The diagonal is set to exactly 1 (not :math:`1 - 2\cdot10^{-16}`, whose high powers drift) and entries below
    :math:`10^{-150}` to 0, which moves :math:`\lambda_{\min}` by at most :math:`n\cdot10^{-150}` and keeps LAPACK away
    from slow subnormal arithmetic.

    Examples:
        >>> from implicit import data
        >>> from implicit.hermite import hadamard_lambda_min
        >>> X = data.sphere(n=8, d=5, seed=0)
        >>> hadamard_lambda_min(X, [20, 200]).round(3).tolist()
        [0.902, 1.0]
        >>> bool(abs(hadamard_lambda_min(X, [1])[0]) < 1e-12)  # n > d: XX^T is singular
        True
    """
    C = torch.clamp(X.to(torch.float64) @ X.to(torch.float64).T, -1.0, 1.0)
    C.fill_diagonal_(1.0)
    out = []
    for k in ks:
        P = C ** int(k)
        out.append(float(torch.linalg.eigvalsh(torch.where(P.abs() < 1e-150, torch.zeros_like(P), P))[0]))
    return np.array(out)


def check_lemma_a_9(X: Tensor, ks, lmin) -> dict:
    r"""The claims (:class:`~implicit.claims.Claim`, keyed by id) of Lemmas A.9 and 3.2 on one data set, given ``lmin``
    :math:`=\lambda_{\min}((XX^\top)^{\circ k})` for ``ks`` (:func:`hadamard_lambda_min`): every power is PSD
    (``psd``); :math:`\lambda_{\min} \ge 1 - n\delta^k` up to rounding (``a.9``); the bound is positive for at least
    three of the ``ks`` (``informative``, so the comparison is not vacuous); the certificate
    :func:`lambda0_lower_bound` is positive (``3.2-positive``) and below :math:`\lambda_0` (``3.2-certificate``); for
    :math:`n > d`, :math:`XX^\top` (the linear activation's kernel) is singular (``linear-singular``, needs
    ``ks[0] == 1``).

    Examples:
        >>> from implicit import data
        >>> from implicit.hermite import check_lemma_a_9, hadamard_lambda_min
        >>> X, ks = data.sphere(n=8, d=5, seed=0), [1, 20, 50, 200]
        >>> checks = check_lemma_a_9(X, ks, hadamard_lambda_min(X, ks))
        >>> list(checks), all(c.holds for c in checks.values())
        (['psd', 'a.9', 'informative', '3.2-positive', '3.2-certificate', 'linear-singular'], True)
    """

    n, d = X.shape
    delta = max_abs_cosine(X.to(torch.float64))
    lmin = np.asarray(lmin, dtype=float)
    bound = np.array([khatri_rao_bound(n, delta, int(k)) for k in ks])
    lam0, cert = lambda0(X), lambda0_lower_bound(X)
    out = [Claim("psd", "min_k lambda_min((XX^T)^(o k)) >= -1e-12 (Schur)", lmin.min(), ">=", -1e-12),
           Claim("a.9", "min_k [lambda_min((XX^T)^(o k)) - (1 - n delta^k)] >= -1e-12", (lmin - bound).min(), ">=",
                 -1e-12, result="lemma-a.9"),
           Claim("informative", "powers k with 1 - n delta^k > 0", int((bound > 0).sum()), ">=", 3),
           Claim("3.2-positive", "certified lower bound on lambda_0 > 0", cert, ">", 0.0, result="lemma-3.2"),
           Claim("3.2-certificate", "certified bound <= lambda_0", cert, "<=", lam0, result="lemma-3.2")]
    if n > d:
        out.append(Claim("linear-singular", "n > d: |lambda_min(XX^T)| <= 1e-12", abs(lmin[0]), "<=", 1e-12))
    return keyed(*out)

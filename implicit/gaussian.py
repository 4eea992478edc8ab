r"""Gaussian integrals behind the infinite-width limits: the normal and bivariate-normal CDFs, the ReLU moments of a
shifted Gaussian pair, and Gauss–Legendre rules.

Everything is elementwise and broadcasts over tensors, in the input's dtype (use float64).

* :func:`normal_cdf`, :func:`normal_pdf`: :math:`\Phi` and :math:`\varphi`.
* :func:`bivariate_normal_cdf`: :math:`\Phi_2(a, b; \rho) = \Pr(Y_1\le a, Y_2\le b)` for standard normals with
  correlation :math:`\rho`, by Genz's (2004) refinement of Drezner & Wesolowsky (1990): a 20-point Gauss–Legendre rule
  in :math:`\theta` for :math:`|\rho| < 0.925` and an asymptotic expansion plus quadrature near :math:`|\rho| = 1`;
  absolute error about :math:`10^{-15}`.
* :func:`relu_moment`: :math:`\mathbb E[(Y_1+a)_+(Y_2+b)_+]`, the degree-1 arc-cosine kernel with shifts.
"""
from __future__ import annotations

import math
from functools import cache

import numpy as np
import torch
from torch import Tensor

__all__ = ["normal_cdf", "normal_pdf", "bivariate_normal_cdf", "relu_mean", "relu_moment", "relu_square_moment",
           "gauss_legendre", "hermite_polynomial", "hermite_cross_moments"]

_SQRT_2PI = math.sqrt(2 * math.pi)


def normal_cdf(x: Tensor) -> Tensor:
    r""":math:`\Phi(x) = \tfrac12\operatorname{erfc}(-x/\sqrt2)` (accurate in both tails).

    Examples:
        >>> import torch
        >>> from implicit.gaussian import normal_cdf
        >>> x = torch.tensor([0.0, 1.0, -10.0], dtype=torch.float64)
        >>> [f"{p:.6e}" for p in normal_cdf(x).tolist()]  # 1 - Phi(10) would round to 0
        ['5.000000e-01', '8.413447e-01', '7.619853e-24']
    """
    return 0.5 * torch.erfc(-x / math.sqrt(2))


def normal_pdf(x: Tensor) -> Tensor:
    r""":math:`\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}`.

    Examples:
        >>> import torch
        >>> from implicit.gaussian import gauss_legendre, normal_pdf
        >>> round(normal_pdf(torch.tensor(0.0, dtype=torch.float64)).item(), 6)  # 1 / sqrt(2 pi)
        0.398942
        >>> x, w = gauss_legendre(64, -10.0, 10.0)
        >>> round((w * normal_pdf(x)).sum().item(), 12)  # a probability density
        1.0
    """
    return torch.exp(-0.5 * x * x) / _SQRT_2PI


@cache
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


def gauss_legendre(n: int, a: Tensor | float, b: Tensor | float, *, dtype: torch.dtype = torch.float64,
                   device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    r"""``n``-point Gauss–Legendre nodes and weights on :math:`[a, b]` (``a``, ``b`` may be tensors: the rule is
    built along a new last axis). Exact for polynomials of degree :math:`2n-1`.

    Examples:
        >>> import torch
        >>> from implicit.gaussian import gauss_legendre
        >>> x, w = gauss_legendre(3, 0.0, 1.0)
        >>> abs((w * x ** 5).sum().item() - 1 / 6) < 1e-15  # 3 nodes integrate degree 5 exactly
        True
        >>> x, w = gauss_legendre(4, torch.zeros(2, dtype=torch.float64), torch.tensor([1.0, 2.0], dtype=torch.float64))
        >>> x.shape, [round(total, 12) for total in w.sum(-1).tolist()]  # one rule per interval; weights sum to b - a
        (torch.Size([2, 4]), [1.0, 2.0])
    """
    if n < 1:
        raise ValueError(f"a quadrature rule needs at least one node, got {n}")
    x, w = (torch.as_tensor(v, dtype=dtype, device=device) for v in _legendre(n))
    a, b = torch.as_tensor(a, dtype=dtype, device=device), torch.as_tensor(b, dtype=dtype, device=device)
    half = (b - a)[..., None] / 2
    return (a + b)[..., None] / 2 + half * x, half * w


def _genz_moderate(h: Tensor, k: Tensor, r: Tensor, x: Tensor, w: Tensor) -> Tensor:
    r"""Genz's ``bvnu`` for :math:`|r| < 0.925`: Drezner & Wesolowsky's integral over :math:`\theta\in(0,\arcsin r)`."""
    asr = (torch.asin(r) / 2)[..., None]
    sn = torch.sin(asr * x)
    out = (w * torch.exp((sn * (h * k)[..., None] - ((h * h + k * k) / 2)[..., None]) / (1 - sn * sn))).sum(-1)
    return out * asr[..., 0] / (2 * math.pi) + normal_cdf(-h) * normal_cdf(-k)


def _genz_high(h: Tensor, k: Tensor, r: Tensor, x: Tensor, w: Tensor) -> Tensor:
    r"""Genz's ``bvnu`` for :math:`|r| \ge 0.925`: reflect to :math:`r > 0` and integrate the remainder of an
    asymptotic expansion around :math:`|r| = 1`."""
    kk = torch.where(r < 0, -k, k)
    hk = h * kk
    one_minus = (1 - r * r).clamp_min(0)
    inner = one_minus > 0
    as_ = torch.where(inner, one_minus, torch.ones_like(one_minus))
    a = torch.sqrt(as_)
    bs = (h - kk) ** 2
    c, d = (4 - hk) / 8, (12 - hk) / 80
    e1 = -(bs / as_ + hk) / 2
    near = torch.where(e1 > -100, a * torch.exp(e1) * (1 - c * (bs - as_) * (1 - d * bs) / 3 + c * d * as_ * as_),
                       torch.zeros_like(a))
    b = torch.sqrt(bs)
    tail = torch.exp(-hk / 2) * _SQRT_2PI * normal_cdf(-b / a) * b * (1 - c * bs * (1 - d * bs) / 3)
    near = near - torch.where(hk > -100, tail, torch.zeros_like(tail))
    xs = (a[..., None] / 2 * x) ** 2
    e2 = -(bs[..., None] / xs + hk[..., None]) / 2
    rs = torch.sqrt(1 - xs)
    sp = 1 + c[..., None] * xs * (1 + 5 * d[..., None] * xs)
    ep = torch.exp(-(hk[..., None] / 2) * xs / (1 + rs) ** 2) / rs
    terms = torch.where(e2 > -100, torch.exp(e2) * (sp - ep), torch.zeros_like(xs))
    near = (a / 2 * (w * terms).sum(-1) - near) / (2 * math.pi)
    near = torch.where(inner, near, torch.zeros_like(near))
    low = torch.where(h < 0, normal_cdf(kk) - normal_cdf(h), normal_cdf(-h) - normal_cdf(-kk))
    return torch.where(r > 0, near + normal_cdf(-torch.maximum(h, kk)), torch.where(h >= kk, -near, low - near))


def _genz_upper(h: Tensor, k: Tensor, r: Tensor) -> Tensor:
    r""":math:`\Pr(Y_1 > h, Y_2 > k)` for correlation ``r`` (Genz's ``bvnu``), each element through its own branch."""
    x, w = (torch.as_tensor(v, dtype=h.dtype, device=h.device) for v in _legendre(20))
    x = 1.0 + x  # nodes on (0, 2), weights summing to 2
    shape = h.shape
    h, k, r = h.reshape(-1), k.reshape(-1), r.reshape(-1)
    moderate = r.abs() < 0.925
    out = torch.empty_like(h)
    for mask, branch in ((moderate, _genz_moderate), (~moderate, _genz_high)):
        if bool(mask.all()):
            out = branch(h, k, r, x, w)
        elif bool(mask.any()):
            out[mask] = branch(h[mask], k[mask], r[mask], x, w)
    return out.clamp(0, 1).reshape(shape)


def bivariate_normal_cdf(a: Tensor, b: Tensor, rho: Tensor) -> Tensor:
    r""":math:`\Phi_2(a, b;\rho) = \Pr(Y_1\le a,\,Y_2\le b)`, :math:`(Y_1, Y_2)` standard normal with correlation
    :math:`\rho\in[-1, 1]`; broadcasts. Infinite limits are allowed.

    Examples:
        >>> import math, torch
        >>> from implicit.gaussian import bivariate_normal_cdf, normal_cdf
        >>> a, b = torch.tensor([0.0, 0.3], dtype=torch.float64), torch.tensor([0.0, -1.2], dtype=torch.float64)
        >>> rho = torch.tensor([0.0, 0.5, 0.99, 1.0], dtype=torch.float64)[:, None]  # one row per correlation
        >>> P = bivariate_normal_cdf(a, b, rho)
        >>> bool(torch.allclose(P[0], normal_cdf(a) * normal_cdf(b)))  # independent
        True
        >>> abs(P[1, 0].item() - (0.25 + math.asin(0.5) / (2 * math.pi))) < 1e-15  # Sheppard's formula at the origin
        True
        >>> bool(torch.allclose(P[3], normal_cdf(torch.minimum(a, b)))), bool((P[2] <= P[3]).all())  # comonotone
        (True, True)
    """
    a, b, rho = torch.broadcast_tensors(*(torch.as_tensor(t) for t in (a, b, rho)))
    return _genz_upper(-a, -b, rho.clamp(-1, 1))


def relu_mean(a: Tensor) -> Tensor:
    r""":math:`\mathbb E[(Y + a)_+] = a\Phi(a) + \varphi(a)` for a standard normal :math:`Y`.

    Examples:
        >>> import torch
        >>> from implicit.gaussian import gauss_legendre, normal_pdf, relu_mean
        >>> a = torch.tensor(0.7, dtype=torch.float64)
        >>> y, w = gauss_legendre(64, -0.7, 12.0)  # the integrand vanishes for y < -a
        >>> abs(relu_mean(a).item() - (w * (y + a) * normal_pdf(y)).sum().item()) < 1e-13
        True
    """
    return a * normal_cdf(a) + normal_pdf(a)


def relu_moment(a: Tensor, b: Tensor, rho: Tensor, cdf: Tensor | None = None) -> Tensor:
    r""":math:`F(a, b;\rho) = \mathbb E[(Y_1 + a)_+ (Y_2 + b)_+]` for standard normals with correlation :math:`\rho`:

    .. math::
        F = (ab+\rho)\,\Phi_2(a, b;\rho) + a\,\varphi(b)\,\Phi\!\Bigl(\tfrac{a-\rho b}{s}\Bigr)
            + b\,\varphi(a)\,\Phi\!\Bigl(\tfrac{b-\rho a}{s}\Bigr)
            + s\,\varphi(a)\,\varphi\!\Bigl(\tfrac{b-\rho a}{s}\Bigr),
        \qquad s = \sqrt{1-\rho^2}.

    (Differentiate twice: :math:`\partial_a\partial_b F = \Pr(Y_1>-a, Y_2>-b) = \Phi_2(a,b;\rho)`.) At
    :math:`a=b=0` it is the arc-cosine kernel :math:`(s + (\pi-\arccos\rho)\rho)/2\pi`; at :math:`\rho = 1`,
    :math:`a=b` it is :func:`relu_square_moment`. Pass ``cdf`` :math:`=\Phi_2(a, b;\rho)` if already computed.

    Examples:
        >>> import math, torch
        >>> from implicit.gaussian import relu_moment, relu_square_moment
        >>> zero, rho = torch.tensor(0.0, dtype=torch.float64), torch.tensor(0.3, dtype=torch.float64)
        >>> arccos = (math.sqrt(1 - 0.3 ** 2) + (math.pi - math.acos(0.3)) * 0.3) / (2 * math.pi)
        >>> abs(relu_moment(zero, zero, rho).item() - arccos) < 1e-15  # no shift: the arc-cosine kernel
        True
        >>> a, one = torch.tensor(0.4, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)
        >>> abs(relu_moment(a, a, one).item() - relu_square_moment(a).item()) < 1e-15  # Y_1 = Y_2
        True
    """
    a, b, rho = torch.broadcast_tensors(*(torch.as_tensor(t) for t in (a, b, rho)))
    cdf = bivariate_normal_cdf(a, b, rho) if cdf is None else cdf
    s = torch.sqrt((1 - rho * rho).clamp_min(0)).clamp_min(torch.finfo(a.dtype).tiny)
    pa, pb = normal_pdf(a), normal_pdf(b)
    return ((a * b + rho) * cdf + a * pb * normal_cdf((a - rho * b) / s)
            + b * pa * normal_cdf((b - rho * a) / s) + s * pa * normal_pdf((b - rho * a) / s))


def relu_square_moment(a: Tensor) -> Tensor:
    r""":math:`\mathbb E[(Y + a)_+^2] = (a^2 + 1)\Phi(a) + a\varphi(a)` for a standard normal :math:`Y`.

    Examples:
        >>> import torch
        >>> from implicit.gaussian import gauss_legendre, normal_pdf, relu_square_moment
        >>> a = torch.tensor(0.7, dtype=torch.float64)
        >>> y, w = gauss_legendre(64, -0.7, 12.0)  # the integrand vanishes for y < -a
        >>> abs(relu_square_moment(a).item() - (w * (y + a) ** 2 * normal_pdf(y)).sum().item()) < 1e-13
        True
        >>> relu_square_moment(torch.tensor(0.0, dtype=torch.float64)).item()  # E relu(Y)^2
        0.5
    """
    return (a * a + 1) * normal_cdf(a) + a * normal_pdf(a)


def hermite_polynomial(k: int, x: np.ndarray | float) -> np.ndarray:
    r"""The normalised probabilists' Hermite polynomial :math:`h_k = \mathrm{He}_k/\sqrt{k!}` at ``x`` (NumPy), an
    orthonormal basis of :math:`L^2(\mathcal N(0,1))` (Lemma A.2).

    Examples:
        >>> import numpy as np
        >>> from implicit.gaussian import hermite_polynomial
        >>> x = np.array([0.0, 1.0, 2.0])
        >>> hermite_polynomial(2, x).round(6).tolist()  # (x^2 - 1) / sqrt(2)
        [-0.707107, 0.0, 2.12132]
    """
    if k < 0:
        raise ValueError(f"k must be non-negative, got {k}")
    coef = np.zeros(k + 1)
    coef[k] = 1.0
    return np.polynomial.hermite_e.hermeval(x, coef) / math.sqrt(math.factorial(k))


def hermite_cross_moments(rho: float, K: int, nodes: int = 30) -> np.ndarray:
    r"""The matrix :math:`M_{pq} = \mathbb E[h_p(g_1)\,h_q(\rho g_1 + \sqrt{1-\rho^2}\,g_2)]`, :math:`p, q\le K`, for
    independent standard normals :math:`g_1, g_2`: the moments :math:`\mathbb E_w[h_p(\langle a,w\rangle)
    h_q(\langle b,w\rangle)]` of Lemma A.6 for unit :math:`a, b` with :math:`\langle a,b\rangle = \rho`, whose
    value is :math:`\rho^p\delta_{pq}`.

    A tensor Gauss–Hermite rule with ``nodes`` points per axis integrates polynomials of degree up to
    :math:`2\,\mathrm{nodes}-1` in each variable exactly, so the result is exact up to rounding for
    :math:`2K < 2\,\mathrm{nodes}`.

    Examples:
        >>> import numpy as np
        >>> from implicit.gaussian import hermite_cross_moments
        >>> M = hermite_cross_moments(0.5, 3)
        >>> bool(np.abs(M - np.diag(0.5 ** np.arange(4))).max() < 1e-13)  # Lemma A.6: rho^p on the diagonal
        True
    """
    if 2 * K >= 2 * nodes:
        raise ValueError(f"{nodes} nodes integrate degree {2 * nodes - 1} exactly, too few for K = {K}")
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)
    g1, g2 = np.meshgrid(x, x, indexing="ij")
    weight = np.outer(w, w)
    b = rho * g1 + math.sqrt(max(0.0, 1 - rho * rho)) * g2
    H1 = np.stack([hermite_polynomial(p, g1) for p in range(K + 1)])
    H2 = np.stack([hermite_polynomial(q, b) for q in range(K + 1)])
    return np.einsum("pij,qij,ij->pq", H1, H2, weight)

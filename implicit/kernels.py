r"""The infinite-width kernel :math:`G^\infty` and :math:`\lambda_0` (Lemmas 3.2–3.3 and A.1–A.9).

As :math:`m\to\infty`, :math:`G(0) = \Phi\Phi^\top = \frac1m\sum_r \sigma(Xw_r)\sigma(Xw_r)^\top` converges to

.. math:: G^\infty_{ij} = \mathbb E_{w\sim\mathcal N(0,I_d)}\bigl[\sigma(w^\top x_i)\,\sigma(w^\top x_j)\bigr]
    = \frac{\|x_i\|\|x_j\|}{2\pi}\Bigl(\sin\theta_{ij} + (\pi-\theta_{ij})\cos\theta_{ij}\Bigr),

the degree-1 arc-cosine kernel of Cho & Saul (2009), :math:`\theta_{ij}` the angle between :math:`x_i` and :math:`x_j`.
:math:`\lambda_0 = \lambda_{\min}(G^\infty)` sets the convergence rate of the theorems.

For unit-norm inputs the Hermite expansion of ReLU (Lemma A.7) writes the same kernel as a power series in the Gram
matrix of the data (:mod:`implicit.hermite`); how fast :math:`G(0)` concentrates at :math:`G^\infty` (Lemma 3.3) is
:mod:`implicit.concentration`.

The whole Gram matrix :math:`H(0)` of the training dynamics also has an infinite-width limit, the equilibrium NTK:
:mod:`implicit.equilibrium_ntk`.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .validation import warn_if_off_sphere

__all__ = ["relu_kernel", "arccos_kernel", "lambda0", "max_abs_cosine", "random_feature_kernel", "feature_variance",
           "rotate_pair", "pair_rayleigh_bound", "reduced_rows"]


def _check_rows(X: Tensor) -> Tensor:
    if not isinstance(X, Tensor) or X.ndim != 2:
        raise ValueError(f"X must be a 2-D tensor of shape (n, d), got {getattr(X, 'shape', type(X).__name__)}")
    if not bool(torch.isfinite(X).all()):
        raise ValueError("X contains NaN or inf")
    return X


def arccos_kernel(C: Tensor, degree: int = 1) -> Tensor:
    r"""The arc-cosine maps of a covariance matrix :math:`C` (Cho & Saul, 2009): for :math:`h\sim\mathcal N(0, C)`,

    .. math::
        \kappa_1(C)_{ij} = \mathbb E[\sigma(h_i)\sigma(h_j)]
            = \frac{\sqrt{C_{ii}C_{jj}}}{2\pi}\bigl(\sqrt{1-\rho^2} + (\pi - \arccos\rho)\rho\bigr),\qquad
        \kappa_0(C)_{ij} = \mathbb E[\sigma'(h_i)\sigma'(h_j)] = \frac{\pi - \arccos\rho}{2\pi},

    :math:`\rho = C_{ij}/\sqrt{C_{ii}C_{jj}}` clipped to :math:`[-1, 1]` (exactly 1 on the diagonal). Rows with
    :math:`C_{ii} = 0` give zero rows.

    Examples:
        >>> import math, torch
        >>> from implicit.kernels import arccos_kernel
        >>> C = torch.tensor([[4.0, 0.0], [0.0, 1.0]], dtype=torch.float64)  # independent, variances 4 and 1
        >>> K1, K0 = arccos_kernel(C, degree=1), arccos_kernel(C, degree=0)
        >>> round(K1[0, 0].item(), 12), round(K1[0, 1].item() * 2 * math.pi, 12)  # E relu(h)^2 = C_ii / 2; rho = 0
        (2.0, 2.0)
        >>> round(K0[0, 0].item(), 12), round(K0[0, 1].item(), 12)  # P(h_i > 0), P(h_i > 0) P(h_j > 0)
        (0.5, 0.25)
    """
    if degree not in (0, 1):
        raise ValueError(f"degree must be 0 or 1, got {degree}")
    norms = torch.sqrt(torch.diagonal(C).clamp_min(0))
    scale = torch.outer(norms, norms)
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    rho = torch.clamp(C / safe, -1.0, 1.0)
    rho.fill_diagonal_(1.0)
    theta = torch.arccos(rho)
    if degree == 0:
        K = (math.pi - theta) / (2 * math.pi)
    else:
        K = scale / (2 * math.pi) * (torch.sqrt(torch.clamp(1 - rho ** 2, min=0.0)) + (math.pi - theta) * rho)
    return torch.where(scale > 0, K, torch.zeros_like(K))


def relu_kernel(X: Tensor) -> Tensor:
    r""":math:`G^\infty` in closed form (degree-1 arc-cosine kernel); shape ``(n, n)``.

    :math:`G^\infty_{ij} = \frac{\|x_i\|\|x_j\|}{2\pi}\bigl(\sqrt{1-\rho^2} + (\pi - \arccos\rho)\rho\bigr)` with
    :math:`\rho = \cos\theta_{ij}` clipped to :math:`[-1,1]`; the diagonal is :math:`\|x_i\|^2/2`. Rows equal to zero
    give zero rows.

    The formula is the exact expectation :math:`\mathbb E_w[\sigma(w^\top x_i)\sigma(w^\top x_j)]` for rows of any
    norm, but the paper's :math:`G^\infty` (and everything proved about it: Lemma 3.2's :math:`\lambda_0 > 0`, the
    Hermite series) is for unit rows, :math:`\|x_i\| = 1`; other rows give an
    :class:`~implicit.validation.OffSphereWarning` (once per process).

    Examples:
        >>> import torch
        >>> from implicit import data
        >>> from implicit.kernels import relu_kernel
        >>> X = data.sphere(n=8, d=5, seed=0)
        >>> G = relu_kernel(X)
        >>> G.shape, bool(torch.allclose(G, G.T)), bool(torch.allclose(G.diagonal(), torch.full_like(G[0], 0.5)))
        (torch.Size([8, 8]), True, True)
        >>> bool((G > 0).all())  # the arc-cosine kernel of unit rows is positive, even for obtuse angles
        True
    """
    X = _check_rows(X)
    warn_if_off_sphere(X, "implicit.kernels.relu_kernel")
    return _relu_kernel(X)


def _relu_kernel(X: Tensor) -> Tensor:
    return arccos_kernel(X @ X.T, 1)


def lambda0(X: Tensor) -> float:
    r""":math:`\lambda_0 = \lambda_{\min}(G^\infty)`, in float64, for unit rows :math:`\|x_i\| = 1` (the paper's
    Assumption 2; other rows give an :class:`~implicit.validation.OffSphereWarning`, once per process).

    Raises:
        ValueError: ``X`` is not a finite ``(n, d)`` tensor with at least one row.

    Examples:
        >>> from implicit import data
        >>> from implicit.kernels import lambda0
        >>> from implicit.hermite import lambda0_lower_bound
        >>> X = data.sphere(n=8, d=5, seed=0)
        >>> round(lambda0(X), 4)
        0.0231
        >>> lambda0(X) >= lambda0_lower_bound(X) > 0  # Lemma 3.2: positive for non-parallel unit rows
        True
    """
    X = _check_rows(X)
    if X.shape[0] == 0:
        raise ValueError(f"lambda0 needs at least one row: X has shape {tuple(X.shape)}, and the smallest eigenvalue "
                         f"of a 0 x 0 kernel matrix does not exist")
    warn_if_off_sphere(X, "implicit.kernels.lambda0")
    return float(torch.linalg.eigvalsh(_relu_kernel(X.to(torch.float64)))[0])


def random_feature_kernel(X: Tensor, m: int, seed: int = 0) -> Tensor:
    r"""The Monte-Carlo estimate :math:`\frac1m\sigma(XW^\top)\sigma(XW^\top)^\top`, :math:`W_{rj}\sim\mathcal N(0,1)`:
    exactly :math:`G(0)` of a width-``m`` network, without building one.

    Examples:
        >>> from implicit import data
        >>> from implicit.kernels import random_feature_kernel, relu_kernel
        >>> X = data.sphere(n=8, d=5, seed=0)
        >>> errors = [(random_feature_kernel(X, m, seed=0) - relu_kernel(X)).abs().max().item() for m in (100, 10000)]
        >>> errors[1] < errors[0] / 5, errors[1] < 0.05  # Monte Carlo: the error falls like 1/sqrt(m)
        (True, True)
    """
    X = _check_rows(X)
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(m, X.shape[1], generator=gen, dtype=torch.float64).to(X)
    F = torch.relu(X @ W.T)
    return F @ F.T / m


def max_abs_cosine(X: Tensor) -> float:
    r""":math:`\delta = \max_{i\ne j}|\langle x_i, x_j\rangle|` for unit-norm rows (Lemma A.9); below 1 iff no two rows
    are parallel.

    Examples:
        >>> import torch
        >>> from implicit import data
        >>> from implicit.kernels import max_abs_cosine
        >>> max_abs_cosine(torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, -1.0]], dtype=torch.float64))
        0.8
        >>> max_abs_cosine(data.sphere(n=8, d=5, seed=0)) < 1  # no two rows parallel (Assumption 2)
        True
    """
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"max_abs_cosine needs an (n, d) matrix with n >= 1, got shape {tuple(X.shape)}")
    C = (X @ X.T).abs()
    C.fill_diagonal_(0.0)
    return float(C.max())


# -- the chapter on G^inf and lambda_0: the fourth moment, Hadamard powers, widths --------------------------------

def feature_variance(X: Tensor) -> Tensor:
    r"""The entrywise variance of one feature product, :math:`\operatorname{Var}_{ij} =
    \mathbb E[\sigma(w^\top x_i)^2\sigma(w^\top x_j)^2] - (G^\infty_{ij})^2`, for unit rows. The fourth moment is
    half the degree-2 arc-cosine kernel (Cho & Saul, 2009),

    .. math:: \mathbb E[\sigma_i^2\sigma_j^2] = \frac{1}{2\pi}\Bigl(3\sin\theta_{ij}\cos\theta_{ij}
        + (\pi-\theta_{ij})(1+2\cos^2\theta_{ij})\Bigr),

    with diagonal :math:`\mathbb E\sigma(Z)^4 = 3/2`. At width :math:`m`,
    :math:`\mathbb E\|G(0)-G^\infty\|_F^2 = \sum_{ij}\operatorname{Var}_{ij}/m`.

    Examples:
        >>> from implicit import data
        >>> from implicit.kernels import feature_variance
        >>> V = feature_variance(data.sphere(n=4, d=3, seed=0))
        >>> V.diagonal().tolist()  # 3/2 - (1/2)^2
        [1.25, 1.25, 1.25, 1.25]
    """
    X = _check_rows(X).to(torch.float64)
    warn_if_off_sphere(X, "implicit.kernels.feature_variance")
    rho = torch.clamp(X @ X.T, -1.0, 1.0)
    rho.fill_diagonal_(1.0)
    theta = torch.arccos(rho)
    fourth = (3 * torch.sin(theta) * rho + (math.pi - theta) * (1 + 2 * rho ** 2)) / (2 * math.pi)
    return fourth - _relu_kernel(X) ** 2


def rotate_pair(X: Tensor, theta: float, i: int = 0, j: int = 1) -> Tensor:
    r"""A copy of the unit rows ``X`` with :math:`x_j` moved along the great circle through :math:`x_i` and
    :math:`x_j` to the angle :math:`\theta` from :math:`x_i` (:math:`\theta = 0`: the two rows coincide).

    Examples:
        >>> import math
        >>> from implicit import data
        >>> from implicit.kernels import rotate_pair
        >>> Y = rotate_pair(data.sphere(n=3, d=4, seed=0), 0.1)
        >>> round(math.acos((Y[0] @ Y[1]).item()), 9), round(Y[1].norm().item(), 12)
        (0.1, 1.0)
    """
    xi = X[i]
    e = X[j] - (X[j] @ xi) * xi
    Y = X.clone()
    Y[j] = math.cos(theta) * xi + math.sin(theta) * e / e.norm()
    return Y


def pair_rayleigh_bound(theta: float) -> float:
    r"""The Rayleigh quotient :math:`v^\top G^\infty v = \tfrac12 - G^\infty_{12}` at :math:`v = (e_1-e_2)/\sqrt2` for
    two unit rows at angle :math:`\theta`, an upper bound on :math:`\lambda_0`:
    :math:`\frac{\pi - \sin\theta - (\pi-\theta)\cos\theta}{2\pi} = \frac{\theta^2}{4} - \frac{\theta^3}{6\pi} +
    O(\theta^4)`.

    Examples:
        >>> from implicit.kernels import pair_rayleigh_bound
        >>> round(pair_rayleigh_bound(1e-3) / 1e-6, 4)  # theta^2 / 4
        0.2499
    """
    return (math.pi - math.sin(theta) - (math.pi - theta) * math.cos(theta)) / (2 * math.pi)


def reduced_rows(X: Tensor) -> Tensor:
    r"""An :math:`n\times n` matrix :math:`L = R^\top` (thin QR :math:`X^\top = QR`) with :math:`LL^\top = XX^\top`,
    for :math:`n\le d`: the same :math:`G^\infty`, and random-feature kernels of the same law, since
    :math:`\sigma(XW^\top) = \sigma(L(WQ)^\top)` and the rows of :math:`WQ` are again i.i.d. :math:`\mathcal N(0, I_n)`.
    Each feature then costs :math:`n` Gaussian draws instead of :math:`d`. Returns ``X`` itself when :math:`n > d`.

    Examples:
        >>> from implicit import data
        >>> from implicit.kernels import reduced_rows, relu_kernel
        >>> X = data.sphere(n=3, d=10, seed=0)
        >>> L = reduced_rows(X)
        >>> tuple(L.shape), (relu_kernel(L) - relu_kernel(X)).abs().max().item() < 1e-14
        ((3, 3), True)
    """
    if X.shape[0] > X.shape[1]:
        return X
    return torch.linalg.qr(X.T)[1].T

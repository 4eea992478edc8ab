r"""How fast the feature Gram matrix concentrates at its infinite-width limit (Lemma 3.3).

:math:`G(0) = \Phi\Phi^\top = \frac1m\sum_r\sigma(Xw_r)\sigma(Xw_r)^\top` is an average of :math:`m` independent
rank-one terms with mean :math:`G^\infty` (:func:`implicit.kernels.relu_kernel`), so :math:`\|G(0)-G^\infty\|`
falls like :math:`m^{-1/2}`. Lemma 3.3 turns this into the width
:math:`m = \Omega((n^2/\lambda_0^2)\log(n/\delta))` at which :math:`\|G(0)-G^\infty\|\le\lambda_0/4`, hence
:math:`\lambda_{\min}(G(0))\ge 3\lambda_0/4`. The functions here measure the error over widths and seeds, find the
first width that meets a criterion, extrapolate it from one width, and give the width Chebyshev's inequality
certifies with explicit constants.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .kernels import _relu_kernel, feature_variance, random_feature_kernel, reduced_rows

__all__ = ["initial_gram_errors", "first_stable_width", "extrapolated_width", "width_chebyshev"]


def initial_gram_errors(X: Tensor, widths, seeds, piece: int = 2 ** 19) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\|G(0) - G^\infty\|` and :math:`\lambda_{\min}(G(0))` for each seed (rows) and each width of the
    increasing grid ``widths`` (columns), with :math:`G(0)` the random-feature kernel (:func:`random_feature_kernel`) of
    :func:`reduced_rows` (same law). Widths are nested: each adds independent features to the previous one, drawn in
    pieces of at most ``piece`` features.

    Examples:
        >>> from implicit import data
        >>> from implicit.concentration import initial_gram_errors
        >>> err, lmin = initial_gram_errors(data.sphere(n=5, d=8, seed=0), [100, 10000], seeds=range(3))
        >>> err.shape, bool((err[:, 1] < err[:, 0]).all())  # the error falls like 1/sqrt(m)
        ((3, 2), True)
    """
    L = reduced_rows(X.to(torch.float64))
    G_inf = _relu_kernel(L)
    n = L.shape[0]
    seeds = list(seeds)
    err, lmin = np.zeros((len(seeds), len(widths))), np.zeros((len(seeds), len(widths)))
    for s, seed in enumerate(seeds):
        total, done = torch.zeros(n, n, dtype=torch.float64), 0
        for j, m in enumerate(widths):
            for p, start in enumerate(range(done, int(m), piece)):
                c = min(piece, int(m) - start)
                total += random_feature_kernel(L, c, seed=100_000 * seed + 100 * j + p) * c
            done = int(m)
            eig = torch.linalg.eigvalsh(total / m - G_inf)
            err[s, j] = eig.abs().max().item()
            lmin[s, j] = torch.linalg.eigvalsh(total / m)[0].item()
    return err, lmin


def first_stable_width(ok, widths) -> int | None:
    r"""The smallest width of the grid from which on every ``ok`` is true (``ok[j]`` at ``widths[j]``), or ``None``.

    Examples:
        >>> from implicit.concentration import first_stable_width
        >>> first_stable_width([False, True, False, True, True], [1, 2, 4, 8, 16])
        8
    """
    ok = np.asarray(ok, dtype=bool)
    stable = np.array([ok[j:].all() for j in range(len(ok))])
    return int(widths[int(np.argmax(stable))]) if stable.any() else None


def extrapolated_width(X: Tensor, lam0: float, m: int = 2 ** 12, n_seeds: int = 20) -> tuple[float, float]:
    r"""The width at which about 90 % of initialisations have :math:`\|G(0) - G^\infty\| \le \lambda_0/4`,
    extrapolated from width ``m`` with the :math:`m^{-1/2}` law: :math:`(4q/\lambda_0)^2`, :math:`q` the 90 % quantile
    over ``n_seeds`` seeds of :math:`\sqrt m\,\|G(0) - G^\infty\|`. Returns ``(width, q)``.

    Examples:
        >>> from implicit import data
        >>> from implicit.kernels import lambda0
        >>> from implicit.concentration import extrapolated_width
        >>> X = data.sphere(n=5, d=8, seed=0)
        >>> width, q = extrapolated_width(X, lambda0(X), n_seeds=5)
        >>> 1 < q < 10, width > 1e3
        (True, True)
    """
    L = reduced_rows(X.to(torch.float64))
    G_inf = _relu_kernel(L)
    errs = [torch.linalg.eigvalsh(random_feature_kernel(L, m, seed=1000 + s) - G_inf).abs().max().item()
            for s in range(n_seeds)]
    q = math.sqrt(m) * float(np.quantile(errs, 0.9))
    return (4 * q / lam0) ** 2, q


def width_chebyshev(X: Tensor, lam0: float, delta: float) -> float:
    r"""Lemma 3.3's width with every constant explicit (Chebyshev in place of Bernstein):
    :math:`m_F = 16S/(\delta\lambda_0^2)`, :math:`S = \sum_{ij}\operatorname{Var}_{ij}` (:func:`feature_variance`),
    so that :math:`\Pr(\|G(0) - G^\infty\| > \lambda_0/4) \le \delta` for :math:`m\ge m_F`.

    Examples:
        >>> from implicit import data
        >>> from implicit.kernels import lambda0
        >>> from implicit.concentration import width_chebyshev
        >>> X = data.sphere(n=5, d=8, seed=0)
        >>> width_chebyshev(X, lambda0(X), 0.1) <= 24 * 5 ** 2 / (0.1 * lambda0(X) ** 2)  # S <= 3 n^2 / 2
        True
    """
    return 16 * float(feature_variance(X).sum()) / (delta * lam0 ** 2)

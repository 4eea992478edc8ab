"""The functions behind the chapter on G^∞ and λ₀ (book/kernel.ipynb): the fourth moment, Hermite checks, Hadamard
powers, the parallel limit, and the widths of Lemma 3.3; and the chapter's figures."""
from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch

from implicit import concentration, data, gaussian, hermite, kernels

matplotlib.use("Agg")


def test_feature_variance_matches_monte_carlo():
    X = data.sphere(4, 3, seed=0)
    W = torch.randn(400_000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    F = torch.relu(X @ W.T)
    fourth = (F[:, None, :] ** 2 * F[None, :, :] ** 2).mean(-1)
    V = kernels.feature_variance(X)
    assert torch.allclose(V + kernels.relu_kernel(X) ** 2, fourth, atol=0.03)
    assert torch.allclose(V.diagonal(), torch.full((4,), 1.25, dtype=torch.float64))


def test_hermite_cross_moments_lemma_a6_and_node_limit():
    M = gaussian.hermite_cross_moments(-0.7, 10)
    assert np.abs(M - np.diag((-0.7) ** np.arange(11))).max() < 1e-12
    with pytest.raises(ValueError):
        gaussian.hermite_cross_moments(0.5, 30, nodes=30)


def test_hermite_polynomial_orthonormal():
    x, w = np.polynomial.hermite_e.hermegauss(20)
    w = w / math.sqrt(2 * math.pi)
    gram = np.array([[np.sum(w * gaussian.hermite_polynomial(p, x) * gaussian.hermite_polynomial(q, x))
                      for q in range(6)] for p in range(6)])
    assert np.abs(gram - np.eye(6)).max() < 1e-12


def test_quadrature_coefficients_match_closed_form():
    assert (hermite.hermite_coefficients_quadrature(10) - hermite.hermite_coefficients(10)).abs().max() < 1e-10


def test_khatri_rao_power_gives_hadamard_power():
    X = data.sphere(5, 3, seed=1)
    P = hermite.khatri_rao_power(X, 3)
    assert P.shape == (5, 27)
    assert torch.allclose(P @ P.T, (X @ X.T) ** 3, atol=1e-13)
    with pytest.raises(ValueError):
        hermite.khatri_rao_power(X, 0)


def test_hadamard_lambda_min_and_lemma_a9_claims():
    X, ks = data.sphere(10, 4, seed=2), [1, 5, 50, 500]
    lmin = hermite.hadamard_lambda_min(X, ks)
    direct = [torch.linalg.eigvalsh((X @ X.T) ** k)[0].item() for k in ks]
    assert np.allclose(lmin, direct, atol=1e-12)
    checks = hermite.check_lemma_a_9(X, ks, lmin)
    assert {"psd", "a.9", "3.2-positive", "3.2-certificate", "linear-singular"} <= set(checks)
    assert checks["a.9"].result == "lemma-a.9" and checks["3.2-positive"].result == "lemma-3.2"
    wrong = hermite.check_lemma_a_9(X, ks, lmin - 0.5)  # eigenvalues below the bound must fail the claim
    assert not wrong["a.9"].holds


def test_rotate_pair_and_rayleigh_bound():
    X = data.sphere(6, 5, seed=3)
    for theta in (1e-3, 0.3, 1.2):
        Y = kernels.rotate_pair(X, theta)
        assert math.isclose(math.acos(min(1.0, (Y[0] @ Y[1]).item())), theta, rel_tol=1e-6)
        assert torch.equal(Y[2:], X[2:])
        G = kernels.relu_kernel(Y)
        assert math.isclose(kernels.pair_rayleigh_bound(theta), 0.5 - G[0, 1].item(), rel_tol=1e-6, abs_tol=1e-15)
        assert kernels.lambda0(Y) <= kernels.pair_rayleigh_bound(theta) + 1e-15


def test_reduced_rows_same_kernel_and_passthrough():
    X = data.sphere(4, 9, seed=4)
    L = kernels.reduced_rows(X)
    assert L.shape == (4, 4) and torch.allclose(L @ L.T, X @ X.T, atol=1e-14)
    tall = data.sphere(9, 4, seed=4)
    assert kernels.reduced_rows(tall) is tall


def test_initial_gram_errors_nested_and_consistent():
    X = data.sphere(4, 6, seed=5)
    widths = [50, 100, 400]
    err, lmin = concentration.initial_gram_errors(X, widths, seeds=[0, 1], piece=60)  # pieces smaller than a width
    L = kernels.reduced_rows(X)
    G0 = kernels.random_feature_kernel(L, 50, seed=0)   # seed 0, first width: one piece of 50
    assert math.isclose(err[0, 0], torch.linalg.eigvalsh(G0 - kernels.relu_kernel(L)).abs().max().item(),
                        rel_tol=1e-12)
    assert math.isclose(lmin[0, 0], torch.linalg.eigvalsh(G0)[0].item(), rel_tol=1e-12)
    assert err.shape == lmin.shape == (2, 3)


def test_first_stable_width():
    assert concentration.first_stable_width([True, True], [1, 2]) == 1
    assert concentration.first_stable_width([True, False], [1, 2]) is None


def test_extrapolated_and_chebyshev_widths():
    X = data.sphere(5, 8, seed=6)
    lam0 = kernels.lambda0(X)
    m, q = concentration.extrapolated_width(X, lam0, m=1024, n_seeds=5)
    assert math.isclose(m, (4 * q / lam0) ** 2)
    S = kernels.feature_variance(X).sum().item()
    assert math.isclose(concentration.width_chebyshev(X, lam0, 0.1), 16 * S / (0.1 * lam0 ** 2))
    assert S <= 1.5 * 5 ** 2


def test_figures_have_labelled_axes():
    import matplotlib.pyplot as plt

    from implicit.plotting import kernel as figs

    a2 = hermite.hermite_coefficients(100).numpy() ** 2
    K = np.array([2, 20, 100])
    tail = 0.5 - np.cumsum(a2)
    built = [figs.plot_hermite_series(a2, K, tail[K], 1e-3 * 0.5 ** K, 0.5),
             figs.plot_hadamard_powers({"a": ([1, 10], [0.0, 1.0], [-1.0, 0.5]), "b": ([1, 10], [0.0, 1.0], [-1, 0])}),
             figs.plot_parallel_limit(np.array([1e-3, 1e-2]), [2e-7, 2e-5], [2.5e-7, 2.5e-5], (2.0, -1.6),
                                      (1e-3, 2e-7)),
             figs.plot_concentration(np.array([64, 256]), np.array([[0.3, 0.15]]), 10.0, (-0.5, 0.9)),
             figs.plot_width_criteria(np.array([64, 256]), np.array([[0.5, 0.1]]), np.array([[0.9, 1.0]]), 1.0,
                                      {"measured": 128})]
    for fig in built:
        assert all(ax.get_xlabel() for ax in fig.axes) and fig.axes[0].get_ylabel()
        plt.close(fig)

"""The infinite-width kernel G^∞ (Eq. 17), λ₀, ReLU's Hermite expansion (Lemma A.7) and the Khatri–Rao bound (A.9)."""
from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
import torch
from numpy.polynomial import hermite_e as He
from scipy import integrate

from implicit import hermite, kernels, validation
from implicit import reference as ref
from implicit.validation import OffSphereWarning


def _unit(n, d, seed):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, d))
    return torch.from_numpy(X / np.linalg.norm(X, axis=1, keepdims=True))


# -- relu_kernel --------------------------------------------------------------------------------------------------

def test_relu_kernel_unit_rows():
    X = _unit(7, 4, 0)
    K = kernels.relu_kernel(X)
    expected = ref.arccos_kernel(X.numpy())
    assert np.max(np.abs(K.numpy() - expected)) <= 1e-12 * np.max(np.abs(expected))
    assert np.allclose(np.diag(K.numpy()), 0.5, rtol=0, atol=1e-15)


def test_relu_kernel_general_norms_zero_row_parallel_and_antiparallel(monkeypatch):
    """The closed form holds for rows of any norm; off the unit sphere it warns (the theory's G^inf is for unit
    rows)."""
    monkeypatch.setattr(validation, "_off_sphere_warned", False)  # the warning is once per process: re-arm it
    g = np.random.default_rng(1)
    X = g.standard_normal((6, 3)) * np.array([[0.1], [1.0], [3.0], [0.5], [2.0], [1.0]])
    X[3] = 0.0                    # a zero row
    X[4] = 2.5 * X[1]             # parallel to row 1
    X[5] = -0.7 * X[2]            # antiparallel to row 2
    with pytest.warns(OffSphereWarning, match=r"implicit.kernels.relu_kernel: the inputs are not on the unit sphere"):
        K = kernels.relu_kernel(torch.from_numpy(X)).numpy()
    expected = ref.arccos_kernel(X)
    assert np.max(np.abs(K - expected)) <= 1e-12 * np.max(np.abs(expected))
    assert np.allclose(np.diag(K), (X ** 2).sum(1) / 2, rtol=1e-14, atol=0)   # diagonal ||x||^2 / 2
    assert np.all(K[3] == 0) and np.all(K[:, 3] == 0)
    assert K[1, 4] == pytest.approx(np.linalg.norm(X[1]) * np.linalg.norm(X[4]) / 2, rel=1e-12)
    assert abs(K[2, 5]) <= 1e-12
    assert np.array_equal(K, K.T)


@pytest.mark.parametrize("rho", [-0.9, -0.2, 0.3, 0.95])
def test_relu_kernel_is_expectation_by_quadrature(rho):
    """G^∞_ij = E[σ(w·x_i) σ(w·x_j)] by integration in polar coordinates of the plane of x_i, x_j:
    the radial part is ∫ r^3 e^{-r^2/2} dr / (2π) = 1/π, the angular part a smooth integral over the arc where both
    factors are positive."""
    alpha = math.acos(rho)
    ang, _ = integrate.quad(lambda t: math.cos(t) * math.cos(t - alpha), alpha - math.pi / 2, math.pi / 2,
                            epsabs=1e-14, epsrel=1e-13)
    val = ang / math.pi
    xi, xj = np.array([1.0, 0.0]), np.array([rho, math.sqrt(1 - rho ** 2)])
    K = kernels.relu_kernel(torch.tensor(np.stack([xi, xj])))
    assert float(K[0, 1]) == pytest.approx(val, abs=1e-13)


def test_lambda0_vs_numpy_eigvalsh():
    for seed, (n, d) in enumerate([(5, 3), (8, 6), (12, 10)]):
        X = _unit(n, d, seed)
        expected = np.linalg.eigvalsh(ref.arccos_kernel(X.numpy()))[0]
        assert abs(kernels.lambda0(X) - expected) <= 1e-12
        assert expected > 0
        assert abs(kernels.lambda0(X.float()) - expected) <= 1e-6   # float32 input is promoted


def test_relu_kernel_rejects_bad_input():
    with pytest.raises(ValueError, match=r"2-D tensor of shape \(n, d\), got torch.Size\(\[3\]\)"):
        kernels.relu_kernel(torch.ones(3))
    X = torch.ones(2, 2)
    X[0, 1] = math.nan
    with pytest.raises(ValueError, match=r"NaN or inf"):
        kernels.relu_kernel(X)


# -- Monte-Carlo G(0) ---------------------------------------------------------------------------------------------

def test_random_feature_kernel_monte_carlo():
    X = _unit(4, 3, 2)
    m = 200_000
    G = kernels.random_feature_kernel(X, m, seed=0).numpy()
    Ginf = ref.arccos_kernel(X.numpy())
    # standard errors estimated from an independent NumPy sample of the same size
    w = np.random.default_rng(99).standard_normal((m, 3))
    F = np.maximum(X.numpy() @ w.T, 0)
    prod = F[:, None, :] * F[None, :, :]
    se = prod.std(axis=2) / math.sqrt(m)
    assert np.all(np.abs(G - Ginf) <= 5 * se)
    assert np.all(np.abs(prod.mean(axis=2) - Ginf) <= 5 * se)
    # reproducible, seed-dependent, and equal to G(0) = ΦΦ^T of a width-m net from the same W
    assert np.array_equal(kernels.random_feature_kernel(X, 100, seed=3).numpy(),
                          kernels.random_feature_kernel(X, 100, seed=3).numpy())
    assert not np.array_equal(kernels.random_feature_kernel(X, 100, seed=3).numpy(),
                              kernels.random_feature_kernel(X, 100, seed=4).numpy())


def test_random_feature_kernel_matches_definition():
    X = _unit(3, 4, 5)
    W = torch.randn(50, 4, generator=torch.Generator().manual_seed(7), dtype=torch.float64).numpy()
    F = np.maximum(X.numpy() @ W.T, 0)
    assert ref.rel(kernels.random_feature_kernel(X, 50, seed=7).numpy(), F @ F.T / 50) <= 1e-14


# -- Hermite expansion --------------------------------------------------------------------------------------------

def _a_quad(k):
    """a_k = E[σ(Z) He_k(Z)] / sqrt(k!) over the half-line [0, ∞) (σ vanishes on x < 0, so the kink is at the end
    point, not inside)."""
    c = np.zeros(k + 1)
    c[k] = 1.0
    def f(x):
        return x * He.hermeval(x, c) * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    val, _ = integrate.quad(f, 0, 40.0, epsabs=1e-12, epsrel=1e-11, limit=200)   # e^{-800}: no tail
    return val / math.sqrt(math.factorial(k))


def test_hermite_coefficients_vs_quadrature():
    a = hermite.hermite_coefficients(10).numpy()
    assert a.shape == (11,) and a.dtype == np.float64
    for k in range(11):
        assert abs(a[k] - _a_quad(k)) <= 1e-9, k
    assert a[0] == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-15)
    assert a[1] == 0.5
    assert a[2] == pytest.approx(1 / (2 * math.sqrt(math.pi)), rel=1e-14)
    assert np.all(a[3::2] == 0) and np.all(a[2::2] != 0)


def test_hermite_coefficients_vs_gauss_hermite_on_smooth_part():
    """Gauss–Hermite (hermegauss) is inaccurate for σ itself because of the kink at 0, but exact for the
    polynomial E[Z He_k(Z)] = E[σ(Z)He_k(Z)] + E[σ(-Z)...]: a_1 = E[Z He_1]/2 = 1/2 and a_k for odd k >= 3 vanish,
    since σ(x) - σ(-x) = x is a polynomial."""
    x, w = He.hermegauss(40)
    w = w / math.sqrt(2 * math.pi)
    a = hermite.hermite_coefficients(9).numpy()
    for k in range(10):
        c = np.zeros(k + 1)
        c[k] = 1.0
        odd_part = np.sum(w * x * He.hermeval(x, c)) / math.sqrt(math.factorial(k))   # E[Z h_k(Z)] = 2*a_k for odd k
        if k % 2 == 1:
            assert abs(2 * a[k] - odd_part) <= 1e-12
    # the kink: plain Gauss–Hermite on σ is only accurate to ~1e-3 with 40 nodes (documenting why quad is used)
    gh = np.sum(w * np.maximum(x, 0))
    assert 1e-8 < abs(gh - a[0]) < 1e-2


def test_hermite_coefficients_sum_of_squares_to_half():
    a2 = hermite.hermite_coefficients(4000).numpy() ** 2
    partial = np.cumsum(a2)
    assert np.all(np.diff(partial) >= 0) and np.all(partial < 0.5)
    tails = [0.5 - partial[K] for K in (10, 100, 1000, 4000)]
    assert all(b < a for a, b in pairwise(tails))
    assert tails[-1] < 1e-5
    # Parseval: sum a_k^2 = E σ(Z)^2 = 1/2; a_k^2 ~ c k^{-5/2}, so the tail ~ K^{-3/2}
    assert tails[2] / tails[3] == pytest.approx(4 ** 1.5, rel=0.05)
    assert np.all(np.isfinite(a2))


def test_hermite_coefficients_bad_K():
    with pytest.raises(ValueError, match=r"K must be non-negative, got -1"):
        hermite.hermite_coefficients(-1)
    assert hermite.hermite_coefficients(0).tolist() == [pytest.approx(1 / math.sqrt(2 * math.pi))]


def test_hermite_series_converges_to_relu_kernel():
    X = _unit(6, 5, 3)
    K = kernels.relu_kernel(X).numpy()
    a2 = hermite.hermite_coefficients(2000).numpy() ** 2
    errs = []
    for k_max in (2, 10, 100, 2000):
        S = hermite.hermite_series(X, k_max).numpy()
        err = np.max(np.abs(S - K))
        assert err <= 0.5 - a2[: k_max + 1].sum() + 1e-13        # |C_ij|^k <= 1: error <= tail of Σ a_k^2
        errs.append(err)
    assert all(b < a for a, b in pairwise(errs))
    assert errs[-1] < 1e-5
    # the off-diagonal entries (|ρ| <= δ < 1) converge geometrically
    off = ~np.eye(6, dtype=bool)
    assert np.max(np.abs(hermite.hermite_series(X, 200).numpy() - K)[off]) <= 1e-12


def test_khatri_rao_bound_holds():
    X = _unit(8, 6, 4)
    C = X.numpy() @ X.numpy().T
    delta = np.max(np.abs(C - np.diag(np.diag(C))))
    assert kernels.max_abs_cosine(X) == pytest.approx(delta, rel=1e-15)
    n = 8
    for k in range(1, 40):
        Ck = C ** k                                       # (XX^T)^{∘k} = X^{*k} (X^{*k})^T
        lam = np.linalg.eigvalsh(Ck)[0]
        bound = hermite.khatri_rao_bound(n, delta, k)
        assert bound == pytest.approx(1 - n * delta ** k, rel=1e-15, abs=1e-15)
        assert lam >= bound - 1e-12, k
    assert hermite.khatri_rao_bound(n, delta, 200) > 0.99


def test_khatri_rao_power_is_hadamard_power():
    X = _unit(3, 2, 5).numpy()
    k = 3
    rows = [np.kron(np.kron(x, x), x) for x in X]
    KR = np.stack(rows)
    assert np.allclose(KR @ KR.T, (X @ X.T) ** k, rtol=0, atol=1e-14)


@pytest.mark.parametrize("n,d,seed", [(6, 10, 0), (10, 8, 1), (5, 3, 2)])
def test_lambda0_lower_bound(n, d, seed):
    X = _unit(n, d, seed)
    lb = hermite.lambda0_lower_bound(X)
    lam = kernels.lambda0(X)
    assert 0 < lb <= lam
    a2 = hermite.hermite_coefficients(2000).numpy() ** 2
    delta = kernels.max_abs_cosine(X)
    expected = sum(a2[k] * max(0.0, 1 - n * delta ** k) for k in range(2001))
    assert lb == pytest.approx(expected, rel=1e-12)


def test_lambda0_lower_bound_zero_for_parallel_rows():
    X = _unit(4, 3, 0)
    X[3] = X[0]
    assert hermite.lambda0_lower_bound(X) == 0.0
    assert kernels.lambda0(X) == pytest.approx(0.0, abs=1e-12)

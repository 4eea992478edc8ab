"""The infinite-width equilibrium NTK (implicit.equilibrium_ntk.ntk_limit) and the Gaussian integrals behind it."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate
from scipy.stats import norm

import implicit
from implicit import equilibrium_ntk, gaussian, kernels
from implicit.gram import gram_blocks

t64 = lambda v: torch.as_tensor(v, dtype=torch.float64)  # noqa: E731


def _phi2_reference(a: float, b: float, rho: float) -> float:
    """Pr(Y1 <= a, Y2 <= b) = ∫_{-∞}^a φ(y) Φ((b - ρy)/√(1-ρ²)) dy, with breakpoints where the Φ factor turns
    (at y = b/ρ, width √(1-ρ²)/|ρ|) so that adaptive quadrature resolves it for ρ near ±1."""
    s = math.sqrt(1 - rho * rho)
    lo = -12.0
    turn = [b / rho + k * s / abs(rho) for k in (-10, -2, 0, 2, 10)] if rho else []
    points = [p for p in turn if lo < p < a]
    val, _ = integrate.quad(lambda y: norm.pdf(y) * norm.cdf((b - rho * y) / s), lo, a, points=points or None,
                            epsabs=1e-15, epsrel=1e-13, limit=400)
    return val


@pytest.mark.parametrize("rho", [-0.999, -0.95, -0.93, -0.5, 0.0, 0.3, 0.9, 0.924, 0.926, 0.97, 0.999, 0.99999])
def test_bivariate_normal_cdf_against_quadrature(rho):
    rng = np.random.default_rng(int(1e6 * (rho + 1)))
    for a, b in rng.normal(size=(8, 2)) * 2:
        assert float(gaussian.bivariate_normal_cdf(t64(a), t64(b), t64(rho))) == pytest.approx(
            _phi2_reference(a, b, rho), abs=2e-14)


def test_bivariate_normal_cdf_limits():
    a, b = t64([0.3, -1.0, 2.0]), t64([-0.2, 0.5, 1.0])
    assert torch.allclose(gaussian.bivariate_normal_cdf(a, b, t64(1.0)), gaussian.normal_cdf(torch.minimum(a, b)),
                          atol=1e-15)
    minus = (gaussian.normal_cdf(a) - gaussian.normal_cdf(-b)).clamp_min(0)
    assert torch.allclose(gaussian.bivariate_normal_cdf(a, b, t64(-1.0)), minus, atol=1e-15)
    zero = gaussian.bivariate_normal_cdf(a, b, t64(0.0))
    assert torch.allclose(zero, gaussian.normal_cdf(a) * gaussian.normal_cdf(b), atol=1e-15)


@pytest.mark.parametrize("a,b,rho", [(0.5, -0.2, 0.3), (1.0, 2.0, 0.97), (-1.0, 0.3, -0.5), (0.4, 0.4, 0.9999),
                                     (-2.0, -1.5, 0.6)])
def test_relu_moment_against_quadrature(a, b, rho):
    """E[(Y1+a)+(Y2+b)+] = ∫ φ(y)(y+a)+ s·F1((ρy+b)/s) dy with F1(x) = xΦ(x)+φ(x), s = √(1-ρ²)."""
    s = math.sqrt(1 - rho * rho)
    f1 = lambda x: x * norm.cdf(x) + norm.pdf(x)  # noqa: E731
    val, _ = integrate.quad(lambda y: norm.pdf(y) * (y + a) * s * f1((rho * y + b) / s), -a, np.inf,
                            epsabs=1e-14, epsrel=1e-12, limit=200)
    assert float(gaussian.relu_moment(t64(a), t64(b), t64(rho))) == pytest.approx(val, rel=1e-11, abs=1e-14)


def test_relu_moment_special_cases():
    rho = t64([-0.7, 0.0, 0.5, 0.99])
    arccos = (torch.sqrt(1 - rho ** 2) + (math.pi - torch.arccos(rho)) * rho) / (2 * math.pi)
    assert torch.allclose(gaussian.relu_moment(t64(0.0), t64(0.0), rho), arccos, atol=1e-15)
    a = t64([-1.0, 0.0, 0.7, 3.0])
    assert torch.allclose(gaussian.relu_moment(a, a, t64(1.0)), gaussian.relu_square_moment(a), atol=1e-14)


def test_gauss_legendre_exactness():
    x, w = gaussian.gauss_legendre(5, 1.0, 3.0)
    assert float((w * x ** 9).sum()) == pytest.approx((3 ** 10 - 1) / 10, rel=1e-14)
    with pytest.raises(ValueError, match="at least one node"):
        gaussian.gauss_legendre(0, 0.0, 1.0)


# -- the limits -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gamma,rule", [(0.1, None), (0.3, None), (0.45, None),
                                        (0.8, equilibrium_ntk.Quadrature(16, 48))])
def test_linear_injection_quadrature_matches_closed_form(gamma, rule):
    """The quadrature engine run on a Gaussian injection reproduces the arc-cosine closed form to 1e-10 (the default
    rule for gamma <= 1/2, where finite nets are certified; a finer one beyond)."""
    X = implicit.data.sphere(10, 5, seed=1) * torch.linspace(0.5, 2.0, 10, dtype=torch.float64)[:, None]
    closed = equilibrium_ntk.ntk_limit_blocks(X, gamma, injection="linear", beta=1.3)
    quad = equilibrium_ntk.ntk_limit_blocks(X, gamma, injection="linear", beta=1.3, method="quadrature", rule=rule)
    for name, block in closed.blocks.items():
        err = float((getattr(quad.blocks, name) - block).abs().max() / block.abs().max())
        assert err <= 1e-10, (name, err)
    assert float((quad.K - closed.K).abs().max()) <= 1e-10 * float(closed.K.abs().max())


def test_linear_closed_form_is_the_paper_formula():
    """PAPER.md §3.3: Σ* = γ²κ₁(Σ*) + K_b, Θ* = K* + Ṡ*∘Σ*/(1 − γ²Ṡ*); our total adds the readout v's two K_b terms."""
    X, gamma = implicit.data.sphere(8, 4, seed=2), 0.3
    lim = equilibrium_ntk.ntk_limit_blocks(X, gamma, injection="linear")
    Kb = X @ X.T
    Sigma = gamma ** 2 * lim.K + Kb
    assert torch.allclose(kernels.arccos_kernel(Sigma, 1), lim.K, atol=1e-14)
    theta = lim.K + lim.Sdot * Sigma / (1 - gamma ** 2 * lim.Sdot)
    assert torch.allclose(lim.blocks.total, theta + 2 * Kb, atol=1e-13)


@pytest.mark.parametrize("gamma", [0.1, 0.45])
def test_relu_limit_converges_in_the_rule(gamma):
    X = implicit.data.sphere(8, 5, seed=0)
    fine = equilibrium_ntk.ntk_limit(X, gamma, rule=equilibrium_ntk.Quadrature(24, 64, 10.0))
    default = equilibrium_ntk.ntk_limit(X, gamma)
    assert float((default - fine).abs().max() / fine.abs().max()) <= 1e-10


def test_relu_equilibrium_kernel_is_the_mean_field_fixed_point_by_monte_carlo():
    """K_ij = E[σ(γa_i + σ(g_i)) σ(γa_j + σ(g_j))], a ~ N(0, K), g ~ N(0, XXᵀ): checked by sampling (5σ)."""
    X, gamma = implicit.data.sphere(4, 3, seed=3), 0.5
    lim = equilibrium_ntk.ntk_limit_blocks(X, gamma)
    gen = torch.Generator().manual_seed(0)
    N = 400_000
    a = torch.randn(N, 4, generator=gen, dtype=torch.float64) @ torch.linalg.cholesky(lim.K).T
    g = torch.randn(N, 3, generator=gen, dtype=torch.float64) @ X.T
    h = gamma * a + torch.relu(g)
    for sample, target in [(torch.relu(h), lim.K), ((h > 0).double(), lim.Sdot), (((g > 0) & (h > 0)).double(), lim.T)]:
        prod = sample[:, :, None] * sample[:, None, :]
        mean, se = prod.mean(0), prod.std(0) / math.sqrt(N)
        assert bool(((mean - target).abs() <= 5 * se + 1e-12).all())


def test_finite_width_gram_approaches_the_limit_like_one_over_sqrt_m():
    """Issue criterion: at γ = 0.1 on unit data the mean relative error of gram_blocks(...).total against ntk_limit
    shrinks by a factor between 2 and 4.5 when m grows 8× (500 → 4000)."""
    X, gamma = implicit.data.sphere(16, 8, seed=0), 0.1
    limit = equilibrium_ntk.ntk_limit(X, gamma)

    def error(m: int) -> float:
        # gamma~||A||_2 is about 2 gamma = 0.2 here; skipping the certificate saves a Lanczos run per net.
        nets = [implicit.ImplicitNet(8, m, gamma, seed=s, check_wellposed=False) for s in range(6)]
        errs = [float(torch.linalg.norm(gram_blocks(net, X).total - limit)
                      / torch.linalg.norm(limit)) for net in nets]
        return sum(errs) / len(errs)

    ratio = error(500) / error(4000)
    assert 2.0 <= ratio <= 4.5, ratio


def test_small_gamma_recovers_the_arc_cosine_kernel():
    """K - G^∞ = O(γ): where g_i < 0 the unit still fires with σ(γa_i)."""
    X = implicit.data.sphere(6, 4, seed=4)
    lim = equilibrium_ntk.ntk_limit_blocks(X, 1e-6)
    assert float((lim.K - kernels.relu_kernel(X)).abs().max()) <= 1e-6
    assert torch.equal(lim.blocks.v, kernels.relu_kernel(X))


def test_limit_rejects_bad_input():
    X = implicit.data.sphere(4, 3, seed=0)
    with pytest.raises(ValueError, match=r"gamma must lie in \(0, 1\)"):
        equilibrium_ntk.ntk_limit(X, 1.0)
    with pytest.raises(ValueError, match="zero row"):
        equilibrium_ntk.ntk_limit(torch.cat([X, torch.zeros(1, 3, dtype=X.dtype)]), 0.1)
    with pytest.raises(ValueError, match="injection must be one of"):
        equilibrium_ntk.ntk_limit(X, 0.1, injection="tanh")
    with pytest.raises(ValueError, match="method must be"):
        equilibrium_ntk.ntk_limit(X, 0.1, method="closed")
    with pytest.raises(ValueError, match="NaN or inf"):
        equilibrium_ntk.ntk_limit(X * math.nan, 0.1)
    with pytest.raises(ValueError, match="positive node counts"):
        equilibrium_ntk.Quadrature(0, 10)


def test_single_sample():
    lim = equilibrium_ntk.ntk_limit_blocks(implicit.data.sphere(1, 3, seed=0), 0.2)
    assert lim.blocks.total.shape == (1, 1) and float(lim.blocks.total) > 0

"""Well-posedness (Lemma 2.2): the contraction factor, its cache, the error when it is >= 1, and the certificate."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import implicit
from implicit import ImplicitNet, NotWellPosedError
from implicit import reference as ref
from implicit.linalg import EXACT_NORM_MAX_WIDTH, spectral_norm
from implicit.solvers import ConvergenceError
from implicit.wellposed import Certificate, certificate


def _X(n, d, seed=0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, d))
    return torch.from_numpy(X / np.linalg.norm(X, axis=1, keepdims=True))


def _q_numpy(net):
    A = net.A.detach().numpy()
    return net.gamma / math.sqrt(net.m) * np.linalg.svd(A, compute_uv=False)[0]


@pytest.mark.parametrize("seed,gamma,m", [(0, 0.1, 20), (1, 0.45, 33), (2, 0.3, 64)])
def test_contraction_factor_is_gamma_tilde_times_sigma_max(seed, gamma, m):
    net = ImplicitNet(3, m, gamma, seed=seed)
    expected = _q_numpy(net)
    for exact in (None, True):
        q = implicit.contraction_factor(net, exact=exact)
        assert abs(q - expected) <= 1e-12 * expected
    assert implicit.contraction_factor(net) == net.contraction_factor()


def test_spectral_norm_lanczos_300x300():
    A = torch.from_numpy(np.random.default_rng(0).standard_normal((300, 300)))
    exact = float(np.linalg.svd(A.numpy(), compute_uv=False)[0])
    est, vec = spectral_norm(A, exact=False)
    assert abs(est - exact) <= 1e-12 * exact
    assert est <= exact * (1 + 1e-12), "Ritz values approach sigma_max from below"
    assert vec.shape == (300,) and abs(float(torch.linalg.vector_norm(vec)) - 1) <= 1e-12
    # warm start from the returned vector gives the same value
    est2, _ = spectral_norm(A, exact=False, start=vec)
    assert abs(est2 - exact) <= 1e-6 * exact
    norm, none = spectral_norm(A, exact=True)
    assert none is None and abs(norm - exact) <= 1e-12 * exact


def test_spectral_norm_rectangular_and_bad_shape():
    A = torch.from_numpy(np.random.default_rng(1).standard_normal((7, 4)))
    assert spectral_norm(A)[0] == pytest.approx(np.linalg.norm(A.numpy(), 2), rel=1e-12)
    with pytest.raises(ValueError, match=r"expects a matrix, got shape \(7,\)"):
        spectral_norm(torch.zeros(7))


@pytest.fixture
def lanczos_path(monkeypatch):
    """Make widths above 16 take the Lanczos path (as widths above EXACT_NORM_MAX_WIDTH do), so that path
    can be tested on a small net."""
    assert EXACT_NORM_MAX_WIDTH >= 16
    monkeypatch.setattr(implicit.linalg, "EXACT_NORM_MAX_WIDTH", 16)


def test_wide_net_uses_lanczos_accurately(lanczos_path):
    net = ImplicitNet(2, 60, 0.1, seed=0)
    q_default = net.contraction_factor()
    assert net.wellposedness.warm is not None, "widths above EXACT_NORM_MAX_WIDTH use Lanczos"
    q_exact = _q_numpy(net)
    assert abs(q_default - q_exact) <= 1e-6 * q_exact
    assert q_default <= q_exact * (1 + 1e-12)
    assert abs(net.contraction_factor(exact=True) - q_exact) <= 1e-12 * q_exact


def test_wide_net_contraction_factor_after_dtype_change(lanczos_path):
    """The warm-start vector of the Lanczos iteration must follow the net to a new dtype (``net.float()``)."""
    net = ImplicitNet(2, 60, 0.1, seed=0)
    q64 = net.contraction_factor()
    net = net.to(torch.float32)
    q32 = net.contraction_factor()
    assert abs(q32 - q64) <= 1e-5 * q64


# -- the cache ----------------------------------------------------------------------------------------------------

def test_cache_returns_same_value_until_A_changes():
    net = ImplicitNet(3, 20, 0.2, seed=0)
    q = net.contraction_factor()
    assert net.wellposedness.reference is not None and net.contraction_factor() == q
    with torch.no_grad():
        net.A.mul_(2)
    assert net.contraction_factor() == pytest.approx(2 * q, rel=1e-12)
    assert net.contraction_factor() == pytest.approx(_q_numpy(net), rel=1e-12)


def test_cache_invalidated_by_in_place_change_through_data():
    """``net.A.data.mul_(2)`` is a common way to edit weights; the cached factor must not go stale."""
    net = ImplicitNet(3, 20, 0.2, seed=0)
    q = net.contraction_factor()
    net.A.data.mul_(2)
    assert net.contraction_factor() == pytest.approx(2 * q, rel=1e-12)


def test_cache_invalidated_by_reassigning_data_and_by_optimizer_step():
    net = ImplicitNet(3, 20, 0.2, seed=0)
    net.contraction_factor()
    net.A.data = 1.5 * net.A.data.clone()
    assert net.contraction_factor() == pytest.approx(_q_numpy(net), rel=1e-12)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    net(_X(4, 3)).pow(2).sum().backward()
    opt.step()
    assert net.contraction_factor() == pytest.approx(_q_numpy(net), rel=1e-12)


# -- NotWellPosedError --------------------------------------------------------------------------------------------

def _scaled_net(factor_target, **kw):
    net = ImplicitNet(4, 24, 0.3, seed=1, **kw)
    q = net.contraction_factor()
    with torch.no_grad():
        net.A.mul_(factor_target / q)
    return net


@pytest.mark.parametrize("target", [1.0 + 1e-9, 1.5])
def test_not_well_posed_raises(target):
    net = _scaled_net(target)
    X = _X(3, 4)
    assert issubclass(NotWellPosedError, ValueError)
    with pytest.raises(NotWellPosedError, match=r"contraction factor gamma/sqrt\(m\)\*\|\|A\|\|_2 = 1\.\d{4} >= 1"):
        net(X)
    with pytest.raises(NotWellPosedError, match=r"check_wellposed=False"):
        net.equilibrium(X)


def test_not_well_posed_raises_when_scaled_through_data():
    net = ImplicitNet(4, 24, 0.3, seed=1, max_iter=50)
    X = _X(3, 4)
    net(X)                                       # caches the factor of the well-posed net
    net.A.data.mul_(2.0 / net.contraction_factor())
    with pytest.raises(NotWellPosedError):
        net(X)


def test_not_well_posed_from_parameters():
    base = ImplicitNet(4, 24, 0.3, seed=1)
    net = ImplicitNet.from_parameters(base.A * (1.2 / base.contraction_factor()), base.W, base.u, base.v, gamma=0.3)
    with pytest.raises(NotWellPosedError):
        net(_X(2, 4))


def test_check_wellposed_false_iterates_anyway():
    """q >= 1 is only sufficient for failure of the certificate: at random init the actual rate is ~gamma/sqrt(2),
    so the iteration still converges, and with checks off the answer is right."""
    net = ImplicitNet(5, 40, 0.3, seed=2, check_wellposed=False)
    q = net.contraction_factor()
    with torch.no_grad():
        net.A.mul_(1.2 / q)
    X = _X(4, 5, 2)
    y = net(X)
    eq = net.equilibrium(X)
    assert eq.stats.converged
    A, W, u, v = ref.to_numpy(net)
    assert ref.rel(y.detach().numpy(), ref.predict(A, W, u, v, X.numpy(), 0.3)) <= 1e-10
    assert certificate(net).well_posed is False


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_diverging_iteration_is_not_reported_as_converged(dtype):
    """With checks off and a genuinely expanding map (A = c I, gamma_tilde*c = 2, so z doubles each step) the
    solve must fail (ConvergenceError, or a non-converged/inf residual), never return a 'converged' huge iterate."""
    m, d, gamma = 4, 3, 0.5
    A = torch.eye(m, dtype=torch.float64) * (2 * math.sqrt(m) / gamma)
    W = torch.ones(m, d, dtype=torch.float64)
    u = torch.ones(m, dtype=torch.float64)
    net = ImplicitNet.from_parameters(A, W, u, u.clone(), gamma=gamma, check_wellposed=False, max_iter=5000)
    net = net.to(dtype)
    X = (torch.ones(2, d, dtype=torch.float64) / math.sqrt(d)).to(dtype)
    with pytest.raises(ConvergenceError):
        net.equilibrium(X)
    with pytest.raises(ConvergenceError):
        net(X)


# -- certificate --------------------------------------------------------------------------------------------------

def test_certificate_fields():
    net = ImplicitNet(4, 30, 0.2, seed=3)
    cert = certificate(net)
    q = _q_numpy(net)
    assert isinstance(cert, Certificate)
    assert cert.q == pytest.approx(q, rel=1e-12) and cert.well_posed is True
    assert cert.norm_bound_factor == pytest.approx(1 / (1 - q), rel=1e-12)
    assert cert.step_bound(0) == 1.0 and cert.step_bound(3) == pytest.approx(q ** 3, rel=1e-12)
    for tol in (1e-3, 1e-8, 1e-12):
        p = cert.iterations_for(tol)
        assert q ** p / (1 - q) <= tol < q ** (p - 1) / (1 - q)   # smallest p with the a-priori bound below tol


def test_certificate_not_well_posed():
    net = _scaled_net(1.3)
    cert = certificate(net)
    assert cert.well_posed is False and cert.norm_bound_factor == math.inf
    with pytest.raises(NotWellPosedError, match=r"1\.3000 >= 1"):
        cert.iterations_for(1e-6)


def test_certificate_zero_matrix():
    z = torch.zeros(3, 3, dtype=torch.float64)
    net = ImplicitNet.from_parameters(z, torch.ones(3, 2, dtype=torch.float64), z[0], z[0])
    cert = certificate(net)
    assert cert.q == 0.0 and cert.iterations_for(1e-12) == 1 and cert.norm_bound_factor == 1.0


@pytest.mark.parametrize("gamma,tol", [(0.1, 1e-6), (0.3, 1e-10), (0.45, 1e-12)])
def test_measured_iterations_within_prediction(gamma, tol):
    net = ImplicitNet(5, 32, gamma, seed=4, tol=tol)
    eq = net.equilibrium(_X(6, 5, 4))
    predicted = certificate(net).iterations_for(tol)
    assert eq.stats.iterations <= predicted + 1


def test_a_priori_error_and_norm_bounds():
    gamma = 0.45
    net = ImplicitNet(5, 32, gamma, seed=5)
    X = _X(6, 5, 5)
    A, W, _, _ = ref.to_numpy(net)
    q = certificate(net).q
    states, Phi = ref.unrolled_states(A, W, X.numpy(), gamma, 40)
    eq = net.equilibrium(X)
    Z = eq.z.numpy()
    phi_norm = np.linalg.norm(Phi, axis=1)
    assert np.all(np.linalg.norm(Z, axis=1) <= phi_norm / (1 - q) + 1e-12)
    for p, Zp in enumerate(states):
        assert np.all(np.linalg.norm(Zp, axis=1) <= phi_norm / (1 - q) + 1e-12)          # ||z^l|| <= ||phi||/(1-q)
        assert np.all(np.linalg.norm(Zp - Z, axis=1) <= q ** p * phi_norm / (1 - q) + 1e-12)  # linear convergence
        if p:
            step = np.linalg.norm(Zp - states[p - 1], axis=1)
            assert np.all(step <= q ** (p - 1) * phi_norm + 1e-12)


def test_contraction_bound_is_an_upper_bound_and_cheap():
    net = ImplicitNet(5, 60, gamma=0.3, seed=4)
    q0 = net.contraction_factor()
    assert net.contraction_bound() == pytest.approx(q0, abs=1e-15)  # no drift yet
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        net.A.add_(0.05 * torch.randn(60, 60, generator=gen, dtype=torch.float64))
    bound = net.contraction_bound()
    exact = net.gamma_tilde * float(np.linalg.norm(net.A.detach().numpy(), 2))
    assert exact <= bound < 1
    reference_before = net.wellposedness.reference
    net.ensure_wellposed()  # certified by the bound: the reference is not re-evaluated
    assert net.wellposedness.reference is reference_before
    with torch.no_grad():
        net.A.mul_(10)
    with pytest.raises(NotWellPosedError):
        net.ensure_wellposed()

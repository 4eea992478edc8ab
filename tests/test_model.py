"""The model of Eqs. (1)–(4): Assumption-1 initialisation, forward pass, equilibrium, constructors, unrolling."""
from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
import torch

from implicit import ImplicitNet
from implicit import reference as ref
from implicit.model import Equilibrium
from implicit.solvers import SolverStats


def _X(n, d, seed=0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, d))
    return torch.from_numpy(X / np.linalg.norm(X, axis=1, keepdims=True))


# -- Assumption 1 ----------------------------------------------------------------------------------------------------

def test_init_shapes_and_rademacher():
    d, m = 7, 40
    net = ImplicitNet(d, m, 0.2, seed=3)
    assert net.A.shape == (m, m) and net.W.shape == (m, d) and net.u.shape == (m,) and net.v.shape == (m,)
    for name in "AWuv":
        p = getattr(net, name)
        assert isinstance(p, torch.nn.Parameter) and p.requires_grad and p.dtype == torch.float64
    for name in "uv":
        vals = set(getattr(net, name).detach().tolist())
        assert vals <= {-1.0, 1.0}, f"{name} must be Rademacher (+-1), got values {vals}"
        assert math.isclose(float(torch.linalg.vector_norm(getattr(net, name).detach())), math.sqrt(m))
    assert {name for name, _ in net.named_parameters()} == {"A", "W", "u", "v"}


def test_init_distribution_is_standard():
    """A, W ~ N(0, 1) entrywise (unit variance, the 1/sqrt(m) lives in gamma_tilde / phi); u, v balanced."""
    net = ImplicitNet(20, 300, 0.1, seed=11)
    for name in "AW":
        x = getattr(net, name).detach().flatten().numpy()
        se = 1 / math.sqrt(x.size)
        assert abs(x.mean()) < 5 * se
        assert abs(x.var() - 1) < 5 * math.sqrt(2) * se
    both = torch.cat([net.u.detach(), net.v.detach()]).numpy()
    assert abs(both.mean()) < 5 / math.sqrt(both.size)
    assert len(set(net.u.detach().tolist())) == 2


def test_seed_reproducible_and_seeds_differ():
    a, b, c = (ImplicitNet(5, 16, 0.1, seed=s) for s in (4, 4, 5))
    for name in "AWuv":
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.A, c.A) and not torch.equal(a.W, c.W)
    assert not (torch.equal(a.u, c.u) and torch.equal(a.v, c.v))


def test_seed_none_gives_fresh_networks():
    a, b = ImplicitNet(3, 8, 0.1, seed=None), ImplicitNet(3, 8, 0.1, seed=None)
    assert not torch.equal(a.A, b.A)


def test_seed_none_does_not_reseed_global_rng():
    """``seed=None`` must not replace torch's global generator with a non-deterministic seed: after
    ``torch.manual_seed(s)`` (what ``implicit.setup`` does) the global stream must stay reproducible."""
    torch.manual_seed(1234)
    ImplicitNet(3, 8, 0.1, seed=None)
    first = torch.rand(4)
    torch.manual_seed(1234)
    ImplicitNet(3, 8, 0.1, seed=None)
    second = torch.rand(4)
    assert torch.equal(first, second), "constructing ImplicitNet(seed=None) re-seeded torch's global RNG"


def test_float32_net_is_rounding_of_float64_net():
    n64 = ImplicitNet(6, 24, 0.2, seed=9)
    n32 = ImplicitNet(6, 24, 0.2, seed=9, dtype=torch.float32)
    for name in "AWuv":
        assert getattr(n32, name).dtype == torch.float32
        assert torch.equal(getattr(n32, name), getattr(n64, name).detach().to(torch.float32))


def test_dtype_device_attributes():
    net = ImplicitNet(4, 10, 0.25, seed=0, dtype=torch.float32)
    assert net.dtype == torch.float32
    assert net.device == torch.device("cpu")
    assert net.d == 4 and net.m == 10 and net.gamma == 0.25
    assert math.isclose(net.gamma_tilde, 0.25 / math.sqrt(10), rel_tol=1e-15)
    r = repr(net)
    assert "d=4" in r and "m=10" in r and "float32" in r


# -- forward vs an independent NumPy implementation ---------------------------------------------------------------

CASES = [(0, 0.1, 6, 5, 40), (1, 0.45, 5, 4, 24), (2, 0.3, 7, 3, 16), (3, 0.45, 4, 6, 32)]


@pytest.mark.parametrize("seed,gamma,n,d,m", CASES)
def test_forward_matches_numpy(seed, gamma, n, d, m):
    net = ImplicitNet(d, m, gamma, seed=seed)
    X = _X(n, d, seed + 100)
    A, W, u, v = ref.to_numpy(net)
    expected = ref.predict(A, W, u, v, X.numpy(), gamma)
    got = net(X)
    assert got.shape == (n,) and got.dtype == torch.float64
    assert ref.rel(got.detach().numpy(), expected) <= 1e-10


@pytest.mark.parametrize("seed,gamma,n,d,m", CASES[:2])
def test_equilibrium_matches_numpy_and_converges(seed, gamma, n, d, m):
    net = ImplicitNet(d, m, gamma, seed=seed)
    X = _X(n, d, seed)
    eq = net.equilibrium(X)
    assert isinstance(eq, Equilibrium) and isinstance(eq.stats, SolverStats)
    assert eq.z.shape == (n, m) and eq.phi.shape == (n, m)
    assert not eq.z.requires_grad and not eq.phi.requires_grad
    A, W, u, v = ref.to_numpy(net)
    Z, Phi = ref.equilibrium(A, W, X.numpy(), gamma)
    assert ref.rel(eq.phi.numpy(), Phi) <= 1e-14
    assert ref.rel(eq.z.numpy(), Z) <= 1e-10
    assert eq.stats.converged is True
    assert eq.stats.residual <= eq.stats.tol == 1e-12
    assert eq.stats.iterations == len(eq.stats.residual_trace) >= 1
    # it is a fixed point of Eq. (3)
    gt = gamma / math.sqrt(m)
    assert ref.rel(ref.relu(gt * eq.z.numpy() @ A.T + Phi), eq.z.numpy()) <= 1e-11
    # the activation pattern D_i
    assert torch.equal(eq.mask, torch.from_numpy(gt * Z @ A.T + Phi > 0))


def test_warm_start_from_solution_converges_immediately():
    net = ImplicitNet(5, 30, 0.3, seed=2)
    X = _X(6, 5, 1)
    eq = net.equilibrium(X)
    warm = net.equilibrium(X, z0=eq.z)
    assert 1 <= warm.stats.iterations <= 2
    assert warm.stats.converged
    assert ref.rel(warm.z.numpy(), eq.z.numpy()) <= 1e-12
    y_cold, y_warm = net(X), net(X, z0=eq.z)
    assert net.last_solve.forward_stats.iterations <= 2
    assert ref.rel(y_warm.detach().numpy(), y_cold.detach().numpy()) <= 1e-12


def test_forward_float32_close_to_float64():
    n64 = ImplicitNet(5, 30, 0.2, seed=5)
    n32 = ImplicitNet(5, 30, 0.2, seed=5, dtype=torch.float32)
    X = _X(4, 5, 5)
    y64, y32 = n64(X), n32(X.float())
    assert y32.dtype == torch.float32
    assert ref.rel(y32.detach().double().numpy(), y64.detach().numpy()) <= 1e-5


# -- constructors -------------------------------------------------------------------------------------------------

def test_from_parameters_round_trip():
    net = ImplicitNet(4, 12, 0.3, seed=7)
    copy = ImplicitNet.from_parameters(net.A, net.W, net.u, net.v, gamma=0.3)
    assert (copy.d, copy.m, copy.gamma, copy.dtype) == (4, 12, 0.3, torch.float64)
    for name in "AWuv":
        assert torch.equal(getattr(copy, name), getattr(net, name))
        assert getattr(copy, name).data_ptr() != getattr(net, name).data_ptr(), "parameters must be copied"
    X = _X(5, 4, 3)
    assert torch.equal(copy(X), net(X))
    with torch.no_grad():
        net.A.mul_(0.5)
    assert not torch.equal(copy.A, net.A)


def test_from_parameters_custom_values_and_kwargs():
    m, d = 6, 3
    A = torch.eye(m, dtype=torch.float64)
    W = torch.arange(m * d, dtype=torch.float64).reshape(m, d) / 10
    u = torch.ones(m, dtype=torch.float64)
    v = -torch.ones(m, dtype=torch.float64)
    net = ImplicitNet.from_parameters(A, W, u, v, gamma=0.5, tol=1e-10, max_iter=77)
    assert torch.equal(net.W, W) and net.tol == 1e-10 and net.max_iter == 77
    X = _X(3, d, 9)
    expected = ref.predict(A.numpy(), W.numpy(), u.numpy(), v.numpy(), X.numpy(), 0.5)
    assert ref.rel(net(X).detach().numpy(), expected) <= 1e-9


@pytest.mark.parametrize("which,shape", [("A", (7, 6)), ("A", (6,)), ("u", (5,)), ("v", (6, 1))])
def test_from_parameters_shape_errors(which, shape):
    m, d = 6, 3
    p = {"A": torch.zeros(m, m), "W": torch.zeros(m, d), "u": torch.zeros(m), "v": torch.zeros(m)}
    p = {k: t.double() for k, t in p.items()}
    p[which] = torch.zeros(shape, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"inconsistent shapes.*expected A \(m, m\), W \(m, d\)"):
        ImplicitNet.from_parameters(p["A"], p["W"], p["u"], p["v"])


def test_from_parameters_rejects_1d_W_with_a_clear_message():
    """A 1-D ``W`` must get the same informative message as the other shape errors, not a tuple-unpacking error."""
    with pytest.raises(ValueError, match=r"W"):
        ImplicitNet.from_parameters(torch.zeros(3, 3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64),
                                    torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))


# -- unrolled network ---------------------------------------------------------------------------------------------

def test_unrolled_matches_numpy_truncation_and_converges_to_forward():
    gamma = 0.45
    net = ImplicitNet(4, 20, gamma, seed=1)
    X = _X(5, 4, 2)
    A, W, u, v = ref.to_numpy(net)
    states, Phi = ref.unrolled_states(A, W, X.numpy(), gamma, 64)
    y_star = net(X).detach().numpy()
    errors = []
    for L in (0, 1, 2, 4, 8, 16, 32, 64):
        yL = net.unrolled(X, L).detach().numpy()
        assert ref.rel(yL, states[L] @ u + Phi @ v) <= 1e-12
        errors.append(float(np.max(np.abs(yL - y_star))))
    assert all(b <= a * (1 + 1e-12) + 1e-15 for a, b in pairwise(errors)), errors
    assert errors[-1] <= 1e-11 * np.max(np.abs(y_star))
    assert errors[0] > 1e-3


def test_unrolled_is_differentiable():
    net = ImplicitNet(3, 8, 0.2, seed=0)
    net.unrolled(_X(2, 3), 5).sum().backward()
    assert all(getattr(net, k).grad is not None for k in "AWuv")

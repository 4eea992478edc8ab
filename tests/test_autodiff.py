"""Implicit gradients (Lemma 2.3): against back-propagation through the unrolled map, gradcheck, the paper's explicit
formulas (10)–(12), adjoint statistics, and the depth-independent memory footprint."""
from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
import torch
from torch.func import functional_call

from implicit import ImplicitNet
from implicit import reference as ref
from implicit.autodiff import SolveOptions, implicit_equilibrium, solve_adjoint
from implicit.measure import saved_tensor_bytes
from implicit.solvers import SolverStats


def _data(n, d, seed):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return torch.from_numpy(X), torch.from_numpy(g.standard_normal(n))


def _grads(net, loss):
    net.zero_grad(set_to_none=True)
    loss.backward()
    return {k: getattr(net, k).grad.detach().clone().numpy() for k in "AWuv"}


CASES = [(0, 0.1, 6, 5, 24), (1, 0.3, 5, 4, 16), (2, 0.45, 5, 4, 24), (4, 0.45, 4, 3, 12)]


@pytest.mark.parametrize("seed,gamma,n,d,m", CASES)
def test_gradients_match_unrolled_autograd(seed, gamma, n, d, m):
    net = ImplicitNet(d, m, gamma, seed=seed)
    X, y = _data(n, d, seed)
    g_impl = _grads(net, 0.5 * ((net(X) - y) ** 2).sum())
    g_unr = _grads(net, 0.5 * ((net.unrolled(X, depth=80) - y) ** 2).sum())
    for k in "AWuv":
        assert np.linalg.norm(g_unr[k]) > 0
        assert ref.rel(g_impl[k], g_unr[k]) <= 1e-8, k


@pytest.mark.parametrize("seed,gamma,n,d,m", CASES)
def test_gradients_match_paper_formulas(seed, gamma, n, d, m):
    net = ImplicitNet(d, m, gamma, seed=seed)
    X, y = _data(n, d, seed + 50)
    g_impl = _grads(net, 0.5 * ((net(X) - y) ** 2).sum())
    A, W, u, v = ref.to_numpy(net)
    g_ref = ref.paper_gradients(A, W, u, v, X.numpy(), y.numpy(), gamma)
    for k in "AWuv":
        assert ref.rel(g_impl[k], g_ref[k]) <= 1e-10, k


def test_gradcheck_full_network():
    net = ImplicitNet(3, 8, 0.4, seed=3)
    X, _ = _data(3, 3, 3)
    params = tuple(getattr(net, k).detach().clone().requires_grad_(True) for k in "AWuv")

    def f(A, W, u, v):
        return functional_call(net, {"A": A, "W": W, "u": u, "v": v}, (X,))

    assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-7, rtol=1e-6)


def test_gradcheck_implicit_equilibrium_wrt_A_and_phi():
    g = torch.Generator().manual_seed(0)
    n, m, gamma = 3, 6, 0.4
    A = torch.randn(m, m, generator=g, dtype=torch.float64, requires_grad=True)
    phi = torch.rand(n, m, generator=g, dtype=torch.float64) - 0.3   # some negative entries: a non-trivial pattern
    phi.requires_grad_(True)
    gt = gamma / math.sqrt(m)
    with torch.no_grad():
        assert gt * torch.linalg.matrix_norm(A, 2) < 1
    z = implicit_equilibrium(A, phi, gt)
    assert ((z > 0).sum() > 0) and ((z == 0).sum() > 0)
    assert torch.autograd.gradcheck(lambda A_, p_: implicit_equilibrium(A_, p_, gt), (A, phi),
                                    eps=1e-6, atol=1e-7, rtol=1e-6)


def test_implicit_equilibrium_value_and_stats():
    g = torch.Generator().manual_seed(1)
    n, m, gt = 4, 10, 0.1
    A = torch.randn(m, m, generator=g, dtype=torch.float64)
    phi = torch.rand(n, m, generator=g, dtype=torch.float64)
    opts = SolveOptions(tol=1e-13, max_iter=100)
    z = implicit_equilibrium(A, phi, gt, options=opts)
    Z = np.zeros((n, m))
    for _ in range(200):
        Z = ref.relu(gt * Z @ A.numpy().T + phi.numpy())
    assert ref.rel(z.numpy(), Z) <= 1e-12
    assert isinstance(opts.forward_stats, SolverStats) and opts.forward_stats.converged
    assert opts.forward_stats.tol == 1e-13 and opts.adjoint_stats is None


def test_adjoint_stats_populated_after_backward():
    net = ImplicitNet(4, 16, 0.3, seed=0, tol=1e-11)
    X, y = _data(5, 4, 0)
    loss = 0.5 * ((net(X) - y) ** 2).sum()
    opts = net.last_solve
    assert isinstance(opts, SolveOptions)
    assert opts.forward_stats is not None and opts.forward_stats.converged
    assert opts.adjoint_stats is None
    loss.backward()
    st = opts.adjoint_stats
    assert isinstance(st, SolverStats)
    assert st.converged and st.residual <= 1e-11 and st.tol == 1e-11
    assert st.iterations == len(st.residual_trace) >= 1
    assert st.per_sample_residual.shape == (5,)


def test_solve_adjoint_matches_dense_inverse():
    g = np.random.default_rng(3)
    n, m, gt = 4, 9, 0.15
    A = g.standard_normal((m, m))
    mask = g.random((n, m)) > 0.4
    G = g.standard_normal((n, m))
    Q, stats = solve_adjoint(torch.from_numpy(A), torch.from_numpy(mask), torch.from_numpy(G), gt)
    assert stats.converged
    for i in range(n):
        D = np.diag(mask[i].astype(float))
        qi = D @ np.linalg.solve(np.eye(m) - gt * A.T @ D, G[i])   # D_i (I - gt A^T D_i)^{-1} g_i
        assert ref.rel(Q[i].numpy(), qi) <= 1e-11


def test_gradient_wrt_input_matches_unrolled():
    net = ImplicitNet(4, 12, 0.3, seed=8)
    X, _ = _data(3, 4, 8)
    X1 = X.clone().requires_grad_(True)
    X2 = X.clone().requires_grad_(True)
    (gx1,) = torch.autograd.grad(net(X1).pow(2).sum(), X1)
    (gx2,) = torch.autograd.grad(net.unrolled(X2, 80).pow(2).sum(), X2)
    assert ref.rel(gx1.numpy(), gx2.numpy()) <= 1e-8


def test_warm_started_forward_has_same_gradient():
    net = ImplicitNet(4, 16, 0.3, seed=6)
    X, y = _data(4, 4, 6)
    g_cold = _grads(net, 0.5 * ((net(X) - y) ** 2).sum())
    z0 = net.equilibrium(X).z
    g_warm = _grads(net, 0.5 * ((net(X, z0=z0) - y) ** 2).sum())
    for k in "AWuv":
        assert ref.rel(g_warm[k], g_cold[k]) <= 1e-10


# -- memory -------------------------------------------------------------------------------------------------------

def _saved(fn):
    with saved_tensor_bytes() as s:
        out = fn()
    return s.bytes, out


def test_implicit_memory_independent_of_tolerance_and_unrolled_grows_with_depth():
    X, _ = _data(8, 5, 1)
    loose = ImplicitNet(5, 32, 0.3, seed=1, tol=1e-4)
    tight = ImplicitNet(5, 32, 0.3, seed=1, tol=1e-12)
    b_loose, _ = _saved(lambda: loose(X))
    b_tight, _ = _saved(lambda: tight(X))
    it_loose = loose.last_solve.forward_stats.iterations
    it_tight = tight.last_solve.forward_stats.iterations
    assert it_tight > it_loose, "the tight solve must take more iterations for this test to mean anything"
    assert b_loose == b_tight > 0

    depths = (5, 10, 20, 40)
    unrolled = [_saved(lambda L=L: tight.unrolled(X, L))[0] for L in depths]
    assert all(b > a for a, b in pairwise(unrolled)), unrolled
    # linear growth: each doubling of depth adds about as much as the previous depths held per layer
    per_layer = [(b - a) / (L2 - L1) for (a, b), (L1, L2) in zip(pairwise(unrolled), pairwise(depths), strict=True)]
    assert max(per_layer) <= 1.01 * min(per_layer) and min(per_layer) >= 8 * 32 * 8
    # the unrolled graph at the depth the implicit solve needed already costs more than the implicit one
    b_same_depth = _saved(lambda: tight.unrolled(X, it_tight))[0]
    assert b_same_depth > b_tight

"""The Gram matrix H = J J^T of Lemma 3.1, block by block: closed form vs autograd vs the paper's Eqs. (15)–(16)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.func import jacrev, vmap

from implicit import ImplicitNet
from implicit import reference as ref
from implicit.gram import GramBlocks, empirical_ntk, gram_blocks, lambda_min, reference_depth

INSTANCES = [(0, 0.1, 5, 4, 16), (1, 0.45, 4, 3, 12), (2, 0.3, 6, 5, 10)]
BLOCKS = ("A", "W", "u", "v")


def _X(n, d, seed):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, d))
    return torch.from_numpy(X / np.linalg.norm(X, axis=1, keepdims=True))


@pytest.fixture(scope="module", params=INSTANCES, ids=lambda p: f"seed{p[0]}-gamma{p[1]}")
def case(request):
    seed, gamma, n, d, m = request.param
    net = ImplicitNet(d, m, gamma, seed=seed)
    X = _X(n, d, seed + 10)
    H = gram_blocks(net, X)
    return net, X, H


def _own_jacobian_gram(net, X, depth=200):
    """J J^T per block from torch.func on a hand-written unrolled prediction (not the package's)."""
    A, W, u, v = (getattr(net, k).detach().clone() for k in "AWuv")
    m, gamma = A.shape[0], net.gamma

    def yhat(A, W, u, v, x):
        phi = torch.clamp(W @ x, min=0) / math.sqrt(m)
        z = torch.zeros_like(phi)
        for _ in range(depth):
            z = torch.clamp(gamma / math.sqrt(m) * (A @ z) + phi, min=0)
        return torch.dot(u, z) + torch.dot(v, phi)

    J = vmap(jacrev(yhat, argnums=(0, 1, 2, 3)), in_dims=(None, None, None, None, 0))(A, W, u, v, X)
    flat = [j.reshape(X.shape[0], -1).numpy() for j in J]
    return {k: f @ f.T for k, f in zip(BLOCKS, flat, strict=True)}


def test_blocks_match_empirical_ntk(case):
    net, X, H = case
    E = empirical_ntk(net, X)
    assert isinstance(H, GramBlocks) and isinstance(E, GramBlocks)
    for k in BLOCKS:
        assert getattr(H, k).shape == (X.shape[0],) * 2
        assert ref.rel(getattr(H, k).numpy(), getattr(E, k).numpy()) <= 1e-9, k
    assert ref.rel(H.total.numpy(), E.total.numpy()) <= 1e-9
    assert [name for name, _ in H.items()] == list(BLOCKS)


def test_blocks_match_own_jacobian(case):
    net, X, H = case
    own = _own_jacobian_gram(net, X)
    for k in BLOCKS:
        assert ref.rel(getattr(H, k).numpy(), own[k]) <= 1e-9, k


def test_u_and_v_blocks_exact(case):
    net, X, H = case
    A, W, u, v = ref.to_numpy(net)
    Z, Phi = ref.equilibrium(A, W, X.numpy(), net.gamma)
    assert ref.rel(H.u.numpy(), Z @ Z.T) <= 1e-10
    assert ref.rel(H.v.numpy(), Phi @ Phi.T) <= 1e-14


def test_blocks_match_paper_M_and_Q(case):
    """Lemma 3.1: H_A = gamma^2 M∘ZZ^T and H_W = Q∘XX^T with M, Q of Eqs. (15)–(16) (dense per-sample inverses)."""
    net, X, H = case
    A, W, u, v = ref.to_numpy(net)
    P = ref.gram_paper(A, W, u, v, X.numpy(), net.gamma)
    for k in BLOCKS:
        assert ref.rel(getattr(H, k).numpy(), P[k]) <= 1e-10, k


def test_u_block_is_full_ZZT_not_diagonal(case):
    """The erratum: the u-block is ZZ^T (all pairs), not I∘ZZ^T as printed."""
    net, X, H = case
    off = H.u.numpy() - np.diag(np.diag(H.u.numpy()))
    assert np.linalg.norm(off) > 0.1 * np.linalg.norm(H.u.numpy())
    own = _own_jacobian_gram(net, X, depth=100)["u"]
    assert ref.rel(H.u.numpy(), own) <= 1e-9
    assert ref.rel(np.diag(np.diag(own)), own) > 0.1


def test_blocks_symmetric_psd_and_lambda_min(case):
    net, X, H = case
    for name, B in list(H.items()) + [("total", H.total)]:
        B = B.numpy()
        assert np.allclose(B, B.T, rtol=0, atol=1e-13 * np.abs(B).max()), name
        ev = np.linalg.eigvalsh((B + B.T) / 2)
        assert ev[0] >= -1e-12 * ev[-1], name
    lm = lambda_min(H.total)
    assert lm == pytest.approx(np.linalg.eigvalsh(H.total.numpy())[0], rel=1e-10, abs=1e-14)
    assert lm >= lambda_min(H.v) - 1e-12          # the v-block (G = ΦΦ^T) lower-bounds H (Lemma 3.1)
    assert lm > 0


def test_total_is_sum_of_blocks(case):
    _, _, H = case
    assert torch.equal(H.total, H.A + H.W + H.u + H.v)


def test_lambda_min_of_float32_is_computed_in_float64():
    H = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float32)
    assert lambda_min(H) == pytest.approx(1.0, abs=1e-7)
    assert isinstance(lambda_min(H), float)


def test_gram_blocks_gradient_flow_identity():
    """dŷ/dt = -H(ŷ - y): a tiny gradient step moves the predictions by -lr * H r to first order."""
    net = ImplicitNet(4, 12, 0.3, seed=3)
    X = _X(5, 4, 3)
    y = torch.from_numpy(np.random.default_rng(3).standard_normal(5))
    H = gram_blocks(net, X).total
    yhat = net(X)
    r = (yhat - y).detach()
    loss = 0.5 * ((yhat - y) ** 2).sum()
    grads = torch.autograd.grad(loss, [net.A, net.W, net.u, net.v])
    lr = 1e-7
    with torch.no_grad():
        for p, g in zip([net.A, net.W, net.u, net.v], grads, strict=True):
            p.sub_(lr * g)
    moved = (net(X).detach() - yhat.detach()) / lr
    assert ref.rel(moved.numpy(), -(H @ r).numpy()) <= 1e-5


def test_linearization_factors_match_dense_reference():
    from implicit.linearization import linearize

    net = ImplicitNet(4, 12, 0.45, seed=1)
    X = _X(5, 4, 1)
    y = torch.from_numpy(np.random.default_rng(1).standard_normal(5))
    lin = linearize(net, X)
    A, W, u, v = ref.to_numpy(net)
    assert ref.rel(lin.V.numpy(), ref.readout_adjoint_dense(A, W, u, X.numpy(), net.gamma)) <= 1e-10
    Z, Phi = ref.equilibrium(A, W, X.numpy(), net.gamma)
    assert ref.rel(lin.predictions().numpy(), Z @ u + Phi @ v) <= 1e-10
    g = lin.gradients(lin.predictions() - y)
    g_ref = ref.paper_gradients(A, W, u, v, X.numpy(), y.numpy(), net.gamma)
    for k in BLOCKS:
        assert ref.rel(g[k].numpy(), g_ref[k]) <= 1e-10, k


# -- reference_depth ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("q", [1.0, 1.5, -0.1, math.nan])
def test_reference_depth_rejects_non_contractions(q):
    with pytest.raises(ValueError, match=r"needs a contraction factor below 1, got"):
        reference_depth(q)


@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_reference_depth_values(q):
    L = reference_depth(q)
    if q == 0:
        assert L == 6
    else:
        assert L == 5 + math.ceil(math.log(1e-18) / math.log(q))
        assert q ** (L - 5) <= 1e-18 * (1 + 1e-9) and q ** (L - 6) > 1e-18
    assert reference_depth(0.5, eps=1e-3) == 5 + 10


def test_empirical_ntk_rejects_non_contracting_net():
    net = ImplicitNet(3, 10, 0.3, seed=0, check_wellposed=False)
    with torch.no_grad():
        net.A.mul_(1.1 / net.contraction_factor())
    with pytest.raises(ValueError, match=r"contraction factor below 1, got 1\.1000"):
        empirical_ntk(net, _X(2, 3, 0))

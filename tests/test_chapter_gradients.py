"""The package functions behind the implicit-differentiation and Gram-matrix chapters, against the NumPy references."""
from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch

from implicit import ImplicitNet, data
from implicit import reference as ref
from implicit.autodiff import (
    autograd_jacobians,
    conditioning,
    fd_jacobian_error,
    ift_jacobians,
    loss_gradients,
    saved_bytes,
)
from implicit.gram import gram_blocks, one_step_change
from implicit.plotting import gradients as figures

matplotlib.use("Agg")


@pytest.fixture
def small():
    net = ImplicitNet(d=4, m=16, gamma=0.2, seed=3)
    X = data.sphere(6, 4, seed=3)
    y = torch.linspace(-1.0, 1.0, 6, dtype=torch.float64)
    return net, X, y


def test_loss_gradients_match_paper_formulas(small):
    net, X, y = small
    A, W, u, v = ref.to_numpy(net)
    formula = ref.paper_gradients(A, W, u, v, X.numpy(), y.numpy(), 0.2)
    for depth in (None, 60):
        grads = loss_gradients(net, X, y, depth)
        assert max(ref.rel(grads[k], formula[k]) for k in "AWuv") < 1e-10


def test_ift_jacobians_match_autograd_and_finite_differences(small):
    net, X, _ = small
    A, W, x, gt = net.A.detach(), net.W.detach(), X[1], net.gamma_tilde
    dA, dW = ift_jacobians(A, W, x, gt)
    assert dA.shape == (16 * 16, 16) and dW.shape == (16 * 4, 16)
    auto = autograd_jacobians(A, W, x, gt)
    assert ref.rel(dA, auto[0]) < 1e-10 and ref.rel(dW, auto[1]) < 1e-10
    # column-major vec: row (k, j) -> index j * m + k of dA is dz/dA[k, j]; check one entry by central differences
    k, j, eps = 2, 5, 1e-6
    E = torch.zeros_like(A)
    E[k, j] = eps

    def z_of(A_):
        return ref.equilibrium(A_.numpy(), W.numpy(), x[None].numpy(), 0.2)[0][0]

    fd = (z_of(A + E) - z_of(A - E)) / (2 * eps)
    assert np.abs(dA[j * 16 + k].numpy() - fd).max() < 1e-7


def test_fd_jacobian_error_is_small_and_grows_with_the_step():
    g = torch.Generator().manual_seed(1)
    A, phi = torch.randn(5, 5, generator=g, dtype=torch.float64), torch.randn(2, 5, generator=g, dtype=torch.float64)
    gt = 0.5 / float(torch.linalg.matrix_norm(A, 2))
    assert fd_jacobian_error(A, phi, gt) < 1e-7
    # a step far too large for central differences (kinks crossed, curvature) is visibly worse
    assert fd_jacobian_error(A, phi, gt, eps=0.5) > 100 * fd_jacobian_error(A, phi, gt)


def test_conditioning_against_dense_linear_algebra(small):
    net, _, _ = small
    masks = torch.rand(20, 16, generator=torch.Generator().manual_seed(0)) < 0.6
    c = conditioning(net.A.detach(), masks, net.gamma_tilde)
    A = net.A.detach().numpy()
    for i in (0, 7, 19):
        M = np.eye(16) - net.gamma_tilde * np.diag(masks[i].numpy().astype(float)) @ A
        assert math.isclose(float(c["s_min"][i]), np.linalg.svd(M, compute_uv=False)[-1], rel_tol=1e-12)
        assert math.isclose(float(c["mu_min"][i]), np.abs(np.linalg.eigvals(M)).min(), rel_tol=1e-10)
        assert math.isclose(float(c["sym_min"][i]), np.linalg.eigvalsh((M + M.T) / 2)[0], rel_tol=1e-12)
    q = net.contraction_factor()
    assert bool((c["s_min"] >= 1 - q).all()) and bool((c["sym_min"] >= 1 - q).all())


def test_saved_bytes_formulas(small):
    net, X, _ = small
    phi = net.features(X)
    n, m = phi.shape
    for tol in (1e-4, 1e-12):
        size, iterations = saved_bytes(net.A, phi, net.gamma_tilde, tol=tol)
        assert size == 8 * m * m + 9 * n * m and iterations >= 1
    for depth in (1, 2, 5):
        assert saved_bytes(net.A, phi, net.gamma_tilde, depth=depth) == (16 * n * m * depth + 8 * m * m * (depth >= 2),
                                                                         depth)


def test_one_step_change_is_first_order_and_restores_the_net(small):
    net, X, y = small
    before = {k: p.detach().clone() for k, p in net.named_parameters()}
    r = net(X).detach() - y
    Hr = gram_blocks(net, X).total @ r
    errors = []
    for eta in (1e-4, 1e-5):
        dy, flips = one_step_change(net, X, y, eta)
        assert flips == 0
        errors.append(float((dy + eta * Hr).norm() / (eta * Hr).norm()))
    assert 5 < errors[0] / errors[1] < 20  # first order in eta
    assert all(torch.equal(before[k], p) for k, p in net.named_parameters())
    assert all(p.grad is None for p in net.parameters())


def test_figures_draw(small):
    import matplotlib.pyplot as plt

    net, X, _ = small
    figs = [figures.plot_conditioning({0.1: (0.2, torch.tensor([0.9]), torch.tensor([0.8, 1.0]))}),
            figures.plot_memory(np.arange(1, 4), [1, 2, 3], [2], 1, [1e-8]),
            figures.plot_solves([1e-1, 1e-3], [1e-1, 1e-3], 0.1, 1e-3),
            figures.plot_step_errors(np.array([1e-2, 1e-3]), [1e-2, 1e-3], [0.5, 0.5], [True, True], 1.0, 0.0),
            figures.plot_gram_blocks(gram_blocks(net, X))]
    for fig in figs:
        assert fig.axes and all(ax.get_xlabel() for ax in fig.axes if ax.images or ax.lines or ax.patches)
        plt.close(fig)

"""Unit tests of the package functions behind the model and well-posedness chapters (implicit.model,
implicit.wellposed, implicit.plotting.equilibrium): each against an independent computation or a known value."""
from __future__ import annotations

import io
import math

import matplotlib
import numpy as np
import pytest
import torch

from implicit import ImplicitNet, contraction_factor, data, reference
from implicit.model import (
    check_assumption_1,
    constructed_net,
    init_norm_ratios,
    init_parameters,
    signal_scales,
    truncation_errors,
)
from implicit.wellposed import (
    NotWellPosedError,
    forward_map,
    iterate_bounds,
    linearised_radii,
    lipschitz_ratios,
    relative_step_bound,
    solve_profile,
    stop_rule_iterations,
    top_direction_ratio,
)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def small():
    return ImplicitNet(d=5, m=40, gamma=0.2, seed=3), data.sphere(6, 5, seed=2)


def test_relative_step_bound_and_stop_rule():
    q, tol = 0.3, 1e-10
    k = stop_rule_iterations(q, tol)
    assert relative_step_bound(q, k) <= tol < relative_step_bound(q, k - 1)
    assert relative_step_bound(q, 1) == pytest.approx((1 + q) / (1 - q))
    with pytest.raises(NotWellPosedError):
        stop_rule_iterations(1.0, tol)


def test_linearised_radii_match_dense_eigenvalues(small):
    net, X = small
    eq = net.equilibrium(X)
    A = net.A.detach()
    dense = [float(torch.linalg.eigvals(net.gamma_tilde * torch.diag(mask.double()) @ A).abs().max())
             for mask in eq.mask]
    assert torch.allclose(linearised_radii(net, eq.z), torch.tensor(dense, dtype=torch.float64), rtol=1e-10, atol=1e-14)


def test_forward_map_lipschitz_and_sharpness(small):
    net, X = small
    q = contraction_factor(net)
    eq = net.equilibrium(X)
    assert float((forward_map(net, eq.z, eq.phi) - eq.z).abs().max()) < 1e-12
    ratios = lipschitz_ratios(net, eq.phi, pairs=100)
    assert float(ratios.max()) <= q
    # ReLU is 1-Lipschitz per coordinate: a typical pair gets at most the random-direction gain gamma~ ||A||_F / sqrt(m)
    assert float(ratios.median()) <= net.gamma_tilde * float(net.A.detach().norm()) / math.sqrt(net.m)
    assert top_direction_ratio(net) == pytest.approx(q, rel=1e-12)


def test_iterate_bounds_and_solve_profile(small):
    net, X = small
    b = iterate_bounds(net, X, steps=20)
    assert b["norm"] <= 1 and b["error"] <= 1 and b["error_sharp"] <= 1 and b["lower"] >= 1
    assert b["z_phi_min"] <= b["z_phi_max"] <= b["iterate_max"] + 1e-12
    p = solve_profile(net, X)
    assert p["K"] == len(p["trace"]) <= p["p_stop"] and p["step_use"] <= 1
    assert p["rate"] <= p["q"] and 0 < p["active"] < 1


def test_check_assumption_1_flags_a_bad_initialisation():
    net = ImplicitNet(d=5, m=40, seed=0)
    assert all(c.holds for c in check_assumption_1(net).values())
    with torch.no_grad():
        net.A.mul_(2.0)
        net.u.mul_(0.5)
    failed = {k for k, c in check_assumption_1(net).items() if not c.holds}
    assert {"1-A-var", "1-A-ks", "1-u-pm1"} <= failed


def test_init_norm_ratios_match_init_parameters():
    a, w = init_norm_ratios(30, seeds=[4, 5], d=3)
    p = init_parameters(3, 30, seed=5)
    assert a[1] == pytest.approx(float(torch.linalg.matrix_norm(p["A"], 2)) / math.sqrt(30), rel=1e-12)
    assert w[1] == pytest.approx(float(torch.linalg.matrix_norm(p["W"], 2)) / math.sqrt(30), rel=1e-12)


def test_signal_scales_and_truncation_errors(small):
    net, X = small
    s = signal_scales(net, X)
    assert s["q"] == pytest.approx(contraction_factor(net)) and s["unscaled"] == pytest.approx(s["q"] * math.sqrt(40))
    err, bound = truncation_errors(net, X, depth=30)
    A, W, u, v = reference.to_numpy(net)
    states, phi = reference.unrolled_states(A, W, X.numpy(), net.gamma, 3)
    yhat = reference.predict(A, W, u, v, X.numpy(), net.gamma)
    assert np.allclose(err[3].numpy(), np.abs(states[3] @ u + phi @ v - yhat), atol=1e-14)
    assert bool((err <= torch.clamp(bound, min=1e-13)).all())


def test_constructed_net_has_the_requested_map():
    net = constructed_net([[0.6, 0.9], [0.9, 0.6]], [1.0, -2.0], gamma=0.3)
    x = torch.ones(1, 1, dtype=torch.float64)
    assert net.features(x).tolist() == [[1.0, 0.0]]
    assert torch.allclose(net.gamma_tilde * net.A.detach(), torch.tensor([[0.6, 0.9], [0.9, 0.6]], dtype=torch.float64))
    assert not net.check_wellposed and net.contraction_factor() == pytest.approx(1.5)


def test_figures_draw(small):
    import matplotlib.pyplot as plt

    from implicit.plotting import equilibrium as figs

    net, X = small
    err, bound = truncation_errors(net, X, depth=5)
    profiles = [solve_profile(net, X)]
    for fig in (figs.plot_init_histograms(net), figs.plot_truncation({0.2: (err, bound, 0.4)}, 1e-13),
                figs.plot_digits(torch.rand(4, 64), torch.tensor([-1.0, 1.0, -1.0, 1.0])),
                figs.plot_norm_concentration({30: [1.9, 2.0], 60: [1.95, 1.99]}),
                figs.plot_iterate_norms([iterate_bounds(net, X, steps=5)]),
                figs.plot_iteration_counts(profiles, 1e-12, shown=(0,))):
        fig.savefig(io.BytesIO(), format="png")  # renders every label (mathtext errors surface here)
        plt.close(fig)

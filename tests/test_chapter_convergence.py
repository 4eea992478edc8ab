"""The package functions of the gradient-flow and gradient-descent chapters (implicit.theory, implicit.descent and
implicit.plotting.convergence), on small instances."""
from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch

from implicit import descent as gd
from implicit import theory
from implicit.data import sphere
from implicit.model import ImplicitNet
from implicit.train import History, gradient_descent, gradient_flow

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def problem():
    X = sphere(8, 5, seed=0)
    return X, torch.sign(X[:, 0])


@pytest.fixture(scope="module")
def descent(problem):
    X, y = problem
    h = gradient_descent(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.1, steps=12, progress=False)
    return h, theory.Setting.from_history(h, X)


def test_setting_from_net_matches_the_first_record(problem, descent):
    X, y = problem
    s_net, s_run = theory.Setting.from_net(ImplicitNet(5, 32, 0.1, seed=0), X, y), descent[1]
    for field in ("n", "m", "c", "lam0", "norm_X", "r0", "gamma"):
        assert math.isclose(getattr(s_net, field), getattr(s_run, field), rel_tol=1e-9), field


def test_good_init_is_a_hypothesis_of_the_named_lemma(problem):
    X, y = problem
    net = ImplicitNet(5, 256, 0.1, seed=0)
    (c,) = theory.check_good_init(net, X, theory.Setting.from_net(net, X, y), result="lemma-3.6").values()
    Phi = net.features(X).detach()
    assert c.id == "3.6-init-G" and c.hypothesis and c.result == "lemma-3.6"
    assert math.isclose(c.measured, float(torch.linalg.eigvalsh(Phi @ Phi.T)[0]), rel_tol=1e-12)


def test_adversarial_probe_stays_on_the_sphere_and_obeys_the_proof(problem):
    X, _ = problem
    W0 = ImplicitNet(5, 64, 0.1, seed=0).W.detach()
    tiny = theory.adversarial_lemma_3_4(W0, X, radius=1e-8, steps=3)
    F = torch.relu(X @ W0.T)
    lam0_G = float(torch.linalg.eigvalsh(F @ F.T / 64)[0])
    assert abs(tiny["lambda_min"] - lam0_G) < 1e-6 and tiny["gap"] <= tiny["lipschitz"]
    far = theory.adversarial_lemma_3_4(W0, X, radius=5.0, steps=10)
    assert far["gap"] <= far["lipschitz"] and far["lambda_min"] < lam0_G  # the search lowers lambda_min


def test_integral_of_lambda_min_needs_every_record():
    h = History()
    h.append(time=0.0, lambda_min_H=1.0)
    h.append(time=1.0)
    with pytest.raises(ValueError, match="every record"):
        theory.integrated_lambda_min_H(h)


def test_movement_to_target(problem):
    X, y = problem
    net = ImplicitNet(5, 32, 0.1, seed=0)
    W0F = float(net.W.detach().norm())
    h = gradient_flow(net, X, y, t_end=1.0, progress=False)
    s = theory.Setting.from_history(h, X)
    row = theory.movement_to_target(h, s, W0F, target=0.9)
    assert row["dW"] <= row["bound"] * (1 + 1e-3) and math.isclose(row["relW"], row["dW"] / W0F)
    with pytest.raises(ValueError, match="never reached"):
        theory.movement_to_target(h, s, W0F, target=1e-30)


def test_descent_rates_and_their_claims(descent):
    h, s = descent
    r = gd.descent_rates(h, s)
    r2 = h["residual_norm"] ** 2
    assert math.isclose(r["loss_ratio"], r2[-1] / r2[0]) and r["per_step"] < 1
    checks = gd.check_descent_rates(r)
    assert list(checks) == ["monotone", "linearised-step", "fit-residual", "rate-vs-linearised",
                            "linearised-vs-theorem"]
    assert all(c.holds for c in checks.values())


def test_proof_step_terms_reproduce_the_run(problem, descent):
    X, y = problem
    t = gd.proof_step_terms(ImplicitNet(5, 32, 0.1, seed=0), X, y, alpha=0.1, steps=12)
    h = descent[0]
    assert np.allclose(np.append(t["r2"], t["r2_new"][-1]), h["residual_norm"] ** 2, rtol=1e-10)
    assert np.allclose(t["main"], t["main_closed"], rtol=1e-10)
    assert np.all(t["dZ"] <= t["stab_Z"]) and np.all(t["dPhi"] <= t["stab_Phi"])


def test_iterate_moves(descent):
    h, s = descent
    bounds = gd.iterate_move_bounds(h, s)
    assert list(bounds) == ["move_Z", "move_Phi", "move_yhat"]
    for move, shape, paper in bounds.values():
        assert move.shape == shape.shape == paper.shape == (12,) and move[0] == shape[0]
    checks = gd.check_iterate_moves(h, s, rho=0.5)
    assert {c.result for c in checks.values()} == {"lemma-3.6", None}


def test_step_fraction_regimes(descent):
    h = descent[0]
    assert list(gd.check_step_fraction(h, 1.5, steps=12)) == ["loss-rises", "starts-above", "ends-below",
                                                                   "converges"]
    assert list(gd.check_step_fraction(h, 2.5, steps=12, contraction=2.0)) == ["blows-up", "ill-posed"]
    with pytest.raises(ValueError, match="contraction"):
        gd.check_step_fraction(h, 2.5, steps=12)


def test_printed_width_claims_are_hypotheses_with_errata():
    s = theory.Setting(n=10, m=10 ** 9, c=2.0, lam0=0.1, norm_X=2.0, r0=3.0, gamma=0.1)
    checks = theory.check_printed_width(s)
    assert [(c.erratum, c.hypothesis, c.holds) for c in checks.values()] == [(2, True, True), (3, True, True)]


def test_figures_have_their_panels():
    import matplotlib.pyplot as plt

    from implicit.plotting import convergence as figures

    h = History()
    for k in range(4):
        h.append(step=k, time=float(k), loss=0.5 ** k, lambda_min_H=0.3, lambda_min_G=0.03, lambda_max_H=4.0,
                 move_Z=0.5 ** k)
    one = np.ones(3)
    made = [figures.plot_safe_ball({1.0: 0.03}, {1.0: 0.02}, 0.04),
            figures.plot_flow_loss(h["time"], h["loss"], {"x": np.ones(4)}),
            figures.plot_movement({m: dict(dW=1.0, dA=0.1, bound=9.0, relW=m ** -0.5) for m in (100, 400)}, 0.01, 400),
            figures.plot_gram_along_flow({400: h}, 0.04, 3.0),
            figures.plot_descent_loss({name: (h, {"theorem": 0.9, "sharp": 0.5}) for name in "ab"}),
            figures.plot_step_split(dict(r2=one, r2_new=one, main=-one, cross=-one, quad=one), 0.1, 0.04),
            figures.plot_iterate_moves({"a": {k: (one, one, one) for k in ("move_Z", "move_Phi", "move_yhat")}}),
            figures.plot_step_sweep({0.5: (h, 0.25), 2.5: (h, 1.25)}, 3),
            figures.plot_width_descent({m: dict(h=h, rho=0.5, rel_W=1.0, path_Z=1.0) for m in (100, 400)}, 3)]
    assert [len(f.axes) for f in made] == [1, 1, 2, 2, 2, 1, 1, 2, 2]
    for f in made:
        assert all(ax.get_xlabel() for ax in f.axes)
        plt.close(f)

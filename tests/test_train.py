"""Training: closed-form gradients, gradient descent and flow histories, early stops, JSON round trips."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import implicit
from implicit.linearization import linearize, residual
from implicit.train import FIELDS, History, TrainingStopped, gradient_descent, gradient_flow

D = torch.float64


def problem(n=10, d=6, m=60, gamma=0.1, seed=0):
    X = implicit.data.sphere(n, d, seed=seed)
    y = torch.sign(torch.randn(n, generator=torch.Generator().manual_seed(seed + 1), dtype=D))
    return implicit.ImplicitNet(d, m, gamma, seed=seed), X, y


@pytest.mark.parametrize("gamma", [0.1, 0.45])
def test_fused_gradients_match_autograd(gamma):
    net, X, y = problem(gamma=gamma)
    lin = linearize(net, X)
    grads = lin.gradients(residual(lin, y))
    loss = 0.5 * ((net(X) - y) ** 2).sum()
    loss.backward()
    for k in "AWuv":
        ref = getattr(net, k).grad
        assert float(torch.linalg.norm(grads[k] - ref) / torch.linalg.norm(ref)) < 1e-10, k


def test_jvp_matches_finite_difference():
    net, X, _ = problem()
    lin = linearize(net, X)
    gen = torch.Generator().manual_seed(3)
    tangent = {k: torch.randn(getattr(net, k).shape, generator=gen, dtype=D) for k in "AWuv"}
    eps = 1e-6
    with torch.no_grad():
        plus = implicit.ImplicitNet.from_parameters(*(getattr(net, k) + eps * tangent[k] for k in "AWuv"))
        minus = implicit.ImplicitNet.from_parameters(*(getattr(net, k) - eps * tangent[k] for k in "AWuv"))
        fd = (plus(X) - minus(X)) / (2 * eps)
    jv = lin.jvp(tangent)
    assert float(torch.linalg.norm(fd - jv) / torch.linalg.norm(jv)) < 1e-7


def test_gradient_descent_history_and_recomputation():
    net, X, y = problem()
    h = gradient_descent(net, X, y, lr=0.2, steps=30, progress=False, gram_every=5)
    assert len(h) == 31 and h.stopped is None
    assert h["step"].tolist() == list(range(31))
    np.testing.assert_allclose(h["time"], 0.2 * np.arange(31))
    assert np.all(np.diff(h["loss"]) < 0), "GD with a small step decreases the loss"
    with torch.no_grad():
        recomputed = 0.5 * float(((net(X) - y) ** 2).sum())
    assert abs(recomputed - h.final("loss")) <= 1e-8 * max(1.0, recomputed)
    lam = h["lambda_min_H"]
    assert np.isfinite(lam[::5]).all() and np.isnan(lam[1:5]).all()
    assert np.all(h["lambda_min_G"][::5] <= lam[::5] + 1e-12)
    assert math.isnan(h["move_Z"][0]) and np.all(h["move_Z"][1:] > 0)
    assert h["forward_iterations"][-1] < h["forward_iterations"][0], "warm starts cut iterations"
    np.testing.assert_allclose(h["contraction"], net.gamma_tilde * h["norm_A"])


def test_history_json_round_trip_with_extra_columns(tmp_path):
    h = History(meta={"m": 3})
    h.append(step=0, loss=1.0)
    h.append(step=1, loss=0.5, test_mse=0.25)
    assert h["test_mse"][0] != h["test_mse"][0] and h["test_mse"][1] == 0.25  # NaN padding
    path = tmp_path / "h.json"
    h.to_json(path)
    back = History.from_json(path)
    assert back.meta == {"m": 3} and back["loss"].tolist() == [1.0, 0.5]
    assert math.isnan(back["norm_A"][0]) and back["test_mse"][1] == 0.25
    assert set(FIELDS) <= set(back.columns)


def test_observe_adds_columns():
    net, X, y = problem()
    h = gradient_descent(net, X, y, lr=0.1, steps=3, progress=False, observe=lambda model: {"probe": model.m})
    assert h["probe"].tolist() == [60.0] * 4


def test_divergence_stops_with_history_kept():
    net, X, y = problem()
    lam_max = float(torch.linalg.eigvalsh(implicit.gram.gram_blocks(net, X).total)[-1])
    # Five times the stable step: the residual grows about fivefold within a few steps (then the units switch off and
    # the net settles, dead, at a bounded loss), so a blow-up factor of 3 stops it while it grows.
    with pytest.warns(TrainingStopped, match="training stopped early: step"):
        h = gradient_descent(net, X, y, lr=5 / lam_max, steps=500, progress=False, blowup=3)
    assert h.stopped is not None and "residual norm grew" in h.stopped and 1 < len(h) < 501


def test_loss_of_wellposedness_stops_training():
    net, X, y = problem(gamma=0.45, m=40)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = gradient_descent(net, X, y, lr=50.0, steps=200, progress=False, blowup=1e30)
    assert h.stopped is not None
    assert any(issubclass(w.category, TrainingStopped) for w in caught)


def test_bad_hyperparameters():
    net, X, y = problem()
    for lr in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="lr must be a positive finite number"):
            gradient_descent(net, X, y, lr=lr, steps=1)
    with pytest.raises(ValueError, match="steps must be a non-negative int"):
        gradient_descent(net, X, y, lr=0.1, steps=-1)
    with pytest.raises(ValueError, match=r"y must have shape \(10,\)"):
        gradient_descent(net, X, y[:5], lr=0.1, steps=1)


def test_gradient_flow_is_accurate_and_decays():
    net, X, y = problem(n=8, m=40)
    h = gradient_flow(net, X, y, t_end=2.0, progress=False, gram_every=5)
    stats = h.meta["integrator"]
    assert h.stopped is None and stats["accepted"] > 0 and stats["max_error_ratio"] <= 1
    assert h["time"][-1] == pytest.approx(2.0)
    assert np.all(np.diff(h["loss"]) < 0)
    # Refining the tolerance 10x changes the final loss by far less than the loss itself moved.
    net2, _, _ = problem(n=8, m=40)
    fine = gradient_flow(net2, X, y, t_end=2.0, rtol=1e-4, progress=False, gram_every=10**9)
    assert abs(fine.final("loss") - h.final("loss")) <= 1e-3 * h["loss"][0]
    # Along the flow d/dt ||r||^2 = -2 r^T H r <= -2 lambda_min(H) ||r||^2.
    r2 = h["residual_norm"] ** 2
    assert r2[-1] <= r2[0] * math.exp(-2 * np.nanmin(h["lambda_min_H"]) * 2.0) * (1 + 1e-3)
    # Gradient flow and small-step gradient descent approach the same trajectory.
    net3, _, _ = problem(n=8, m=40)
    gd = gradient_descent(net3, X, y, lr=2.0 / 1000, steps=1000, progress=False, gram_every=10**9)
    assert abs(gd.final("loss") - fine.final("loss")) <= 0.05 * fine.final("loss")

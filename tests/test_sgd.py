"""Mini-batch SGD (implicit.train.sgd): the full batch is gradient descent to the bit, batches are a partition of
each epoch, the recorded columns match gradient descent's, and bad arguments are refused by name."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from implicit.data import sphere
from implicit.linearization import linearize, residual
from implicit.model import ImplicitNet
from implicit.train import FIELDS, TrainingStopped, _batches, gradient_descent, sgd


@pytest.fixture
def problem():
    X = sphere(12, 6, seed=3)
    y = torch.sign(X[:, 0] + 0.1)
    return X, y


def test_full_batch_is_gradient_descent(problem):
    X, y = problem
    h_sgd = sgd(ImplicitNet(6, 24, 0.2, seed=1), X, y, lr=0.05, epochs=15, batch_size=12, seed=7, progress=False)
    net = ImplicitNet(6, 24, 0.2, seed=1)
    h_gd = gradient_descent(net, X, y, lr=0.05, steps=15, progress=False)
    for column in FIELDS:  # bitwise, NaN where the other is NaN: the same operations in the same order
        assert np.array_equal(h_sgd[column], h_gd[column], equal_nan=True), column


def test_full_batch_parameters_equal(problem):
    X, y = problem
    a, b = ImplicitNet(6, 24, 0.2, seed=2), ImplicitNet(6, 24, 0.2, seed=2)
    sgd(a, X, y, lr=0.05, epochs=5, batch_size=12, progress=False)
    gradient_descent(b, X, y, lr=0.05, steps=5, progress=False)
    for name in ("A", "W", "u", "v"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_one_epoch_of_batches_by_hand(problem):
    """Two batches of 6: the run equals two hand-made steps on the batch gradients."""
    X, y = problem
    net, ref = ImplicitNet(6, 24, 0.2, seed=0), ImplicitNet(6, 24, 0.2, seed=0)
    h = sgd(net, X, y, lr=0.1, epochs=1, batch_size=6, seed=5, progress=False)
    for batch in _batches(12, 6, torch.Generator().manual_seed(5)):
        lin = linearize(ref, X[batch])
        grads = lin.gradients(residual(lin, y[batch]))
        with torch.no_grad():
            for name in ("A", "W", "u", "v"):
                getattr(ref, name).sub_(0.1 * grads[name])
    for name in ("A", "W", "u", "v"):
        assert torch.allclose(getattr(net, name), getattr(ref, name), rtol=0, atol=1e-12), name
    assert len(h) == 2 and h.meta["method"] == "sgd" and h.meta["batch_size"] == 6


def test_batches_partition_each_epoch():
    gen = torch.Generator().manual_seed(0)
    for b in (1, 3, 5, 10):
        batches = _batches(10, b, gen)
        assert sorted(torch.cat(batches).tolist()) == list(range(10))
        assert all(len(x) == b for x in batches[:-1]) and 1 <= len(batches[-1]) <= b
    assert _batches(10, 10, gen)[0].tolist() == list(range(10))


def test_converges_and_records_per_epoch(problem):
    X, y = problem
    h = sgd(ImplicitNet(6, 32, 0.1, seed=0), X, y, lr=0.2, epochs=30, batch_size=3, gram_every=10, progress=False)
    assert h.stopped is None and len(h) == 31
    assert h.final("loss") < 1e-3 * h["loss"][0]
    assert np.isfinite(h["lambda_min_H"]).sum() == 4  # epochs 0, 10, 20, 30
    assert (h["dist_W"][1:] > 0).all() and np.isfinite(h["contraction"]).all()
    assert h.final("time") == pytest.approx(30 * 0.2)


def test_decaying_step_time(problem):
    X, y = problem
    h = sgd(ImplicitNet(6, 16, 0.1, seed=0), X, y, lr=0.1, epochs=3, batch_size=4, decay=1.0, progress=False)
    assert h["time"].tolist() == pytest.approx([0.0, 0.1, 0.1 + 0.05, 0.1 + 0.05 + 0.1 / 3])


def test_sampling_seed_matters_only_below_n(problem):
    X, y = problem
    runs = [sgd(ImplicitNet(6, 16, 0.1, seed=0), X, y, lr=0.1, epochs=3, batch_size=4, seed=s, progress=False)
            for s in (0, 0, 1)]
    assert np.array_equal(runs[0]["loss"], runs[1]["loss"]) and not np.array_equal(runs[0]["loss"], runs[2]["loss"])


@pytest.mark.parametrize("bad", [0, -1, 13, 2.0, 4.5, True, None, "4"])
def test_bad_batch_size(problem, bad):
    X, y = problem
    with pytest.raises(ValueError, match="batch_size"):
        sgd(ImplicitNet(6, 16, 0.1, seed=0), X, y, lr=0.1, epochs=1, batch_size=bad, progress=False)


@pytest.mark.parametrize(("kwargs", "name"), [({"epochs": -1}, "epochs"), ({"epochs": 1.5}, "epochs"),
                                              ({"lr": 0.0}, "lr"), ({"lr": math.nan}, "lr"),
                                              ({"decay": -0.5}, "decay"), ({"gram_every": 0}, "gram_every")])
def test_bad_arguments(problem, kwargs, name):
    X, y = problem
    args = {"lr": 0.1, "epochs": 1, "batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=name):
        sgd(ImplicitNet(6, 16, 0.1, seed=0), X, y, progress=False, **args)


def test_divergence_stops_and_keeps_history(problem):
    X, y = problem
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = sgd(ImplicitNet(6, 16, 0.1, seed=0), X, y, lr=50.0, epochs=20, batch_size=4, blowup=10.0,
                progress=False)
    assert h.stopped is not None and h.stopped.startswith("epoch ")
    assert any(issubclass(w.category, TrainingStopped) for w in caught)
    assert 1 <= len(h) < 21


def test_study_rules():
    from implicit.studies.minibatch import linear_rate, predicted_rate, stable

    assert predicted_rate(0.1, 8, 8, 0.5) == pytest.approx((1 - 0.05) ** 2)  # b = n: gradient descent's rate
    assert predicted_rate(0.1, 2, 8, 0.5) > predicted_rate(0.1, 8, 8, 0.5)  # (1 - x/4)^8 > (1 - x)^2: same step
    assert not stable([1.0, 0.5, 0.45, 0.45, 0.45], True)  # a plateau
    assert not stable([1.0, 0.1, 0.01, 0.001, 1e-4], False)  # stopped early
    assert linear_rate([0.9 ** k for k in range(40)]) == pytest.approx(0.9)


def test_stored_study_follows_the_rules():
    """The stored SGD cells were chosen by the current stability rule: every chosen run is stable, and at the next
    step size tried some seed is not."""
    from implicit.studies.minibatch import load_study, stable

    study = load_study()
    assert len(study["sgd"]) == 9 and len(study["gamma"]) == 10 and len(study["kernel"]) == 9
    for (ds, b), cell in study["sgd"].items():
        runs, c = cell["chosen"]["runs"], cell["chosen"]["c"]
        assert all(stable(r["loss"], r["stopped"] is None) for r in runs), (ds, b)
        assert all(cell["tried"][str(c)]) and not all(cell["tried"][str(2 * c)]), (ds, b)
        assert all(len(r["loss"]) == cell["profile"]["epochs"] + 1 for r in runs)

"""Hardening of the core: a contraction factor that cannot go stale, checked training and solver arguments, strict
JSON histories, and the unit-sphere assumption made explicit. Each test failed before the change it guards."""
from __future__ import annotations

import ast
import inspect
import json
import math
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import implicit
from implicit import ImplicitNet, NotWellPosedError, kernels, records, validation, wellposed
from implicit.gram import gram_blocks
from implicit.linearization import linearize
from implicit.solvers import default_tol, picard
from implicit.train import History, gradient_descent, gradient_flow

D = torch.float64


def _exact_q(net: ImplicitNet) -> float:
    """A fresh, independent evaluation: gamma/sqrt(m) * sigma_max(A) by LAPACK's SVD in NumPy."""
    return net.gamma / math.sqrt(net.m) * float(np.linalg.svd(net.A.detach().numpy(), compute_uv=False)[0])


def _problem(n: int = 8, d: int = 5, m: int = 40, seed: int = 0):
    X = implicit.data.sphere(n, d, seed=seed)
    y = torch.sign(torch.randn(n, generator=torch.Generator().manual_seed(seed + 1), dtype=D))
    return ImplicitNet(d, m, 0.1, seed=seed), X, y


# -- 1. one well-posedness state, never stale -----------------------------------------------------------------------

def test_wellposed_does_not_import_model_even_for_type_checking():
    tree = ast.parse(Path(wellposed.__file__).read_text())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [name for name in imported if name and name.split(".")[-1] == "model"], imported


def test_the_net_owns_one_wellposedness_object():
    net = ImplicitNet(3, 20, 0.2, seed=0)
    state = net.wellposedness
    assert isinstance(state, wellposed.WellPosedness)
    assert state.gamma_tilde == net.gamma_tilde
    for stale in ("_norm_cache", "_power_vector", "_reference"):
        assert not hasattr(net, stale), stale
    q = net.contraction_factor()
    assert torch.equal(state.reference, net.A.detach()) and state.reference.data_ptr() != net.A.data_ptr()
    assert state.factor(net.A) == q == implicit.contraction_factor(net)


def test_module_functions_need_only_A_and_the_state():
    """wellposed's functions take any object with ``A`` and ``wellposedness`` (no ImplicitNet needed)."""
    A = torch.eye(4, dtype=D) * 3.0
    duck = SimpleNamespace(A=A, wellposedness=wellposed.WellPosedness(0.5, 4))
    assert implicit.contraction_factor(duck) == pytest.approx(0.5 / 2 * 3.0, rel=1e-15)
    assert implicit.certificate(duck).well_posed is True


def _sign_flip(A: torch.Tensor) -> torch.Tensor:
    """Flip the sign of a fixed half of the entries: same Frobenius norm, different spectral norm."""
    mask = torch.rand(A.shape, generator=torch.Generator().manual_seed(5), dtype=D) < 0.5
    return torch.where(mask, -A, A)


def _abs_data(net):
    net.A.data.abs_()


def _mul_data(net):
    net.A.data.mul_(1.5)


def _copy_data(net):
    net.A.data.copy_(_sign_flip(net.A.detach()))


def _copy_no_grad(net):
    with torch.no_grad():
        net.A.copy_(_sign_flip(net.A))


def _sgd_step(net):
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    net(implicit.data.sphere(4, net.d, seed=2)).pow(2).sum().backward()
    opt.step()


@pytest.mark.parametrize("edit", [_abs_data, _mul_data, _copy_data, _copy_no_grad, _sgd_step],
                         ids=["data.abs_", "data.mul_", "data.copy_", "copy_ under no_grad", "SGD step"])
def test_factor_and_certificate_follow_every_in_place_edit(edit):
    net = ImplicitNet(4, 64, 0.3, seed=0)
    implicit.contraction_factor(net)  # fill the cache
    net.ensure_wellposed()
    edit(net)
    expected = _exact_q(net)
    assert implicit.contraction_factor(net) == pytest.approx(expected, rel=1e-12)
    assert net.contraction_factor() == pytest.approx(expected, rel=1e-12)
    assert implicit.certificate(net).q == pytest.approx(expected, rel=1e-12)
    assert implicit.certificate(net).well_posed is (expected < 1)
    assert net.contraction_bound() >= expected * (1 - 1e-12)


def test_ill_posed_edit_through_data_raises_not_wellposed():
    """The issue's case: the factor stayed 0.591 after A.data.abs_() while the true one is 1.922."""
    net = ImplicitNet(4, 64, 0.3, seed=0)
    X = implicit.data.sphere(3, 4, seed=1)
    net(X)
    assert net.contraction_factor() == pytest.approx(0.5913, abs=1e-4)
    net.A.data.abs_()
    assert implicit.contraction_factor(net) == pytest.approx(1.9217, abs=1e-4)
    assert implicit.certificate(net).well_posed is False
    for call in (net, net.equilibrium):
        with pytest.raises(NotWellPosedError, match=r"1\.9217 >= 1"):
            call(X)


def test_ill_posed_copy_under_no_grad_raises_not_wellposed():
    net = ImplicitNet(4, 64, 0.3, seed=0)
    X = implicit.data.sphere(3, 4, seed=1)
    net(X)
    with torch.no_grad():
        net.A.copy_(net.A.abs())
    with pytest.raises(NotWellPosedError):  # refused before the solve, never a ConvergenceError from it
        net(X)


def test_changing_gamma_changes_the_factor():
    net = ImplicitNet(3, 20, 0.2, seed=0)
    q = net.contraction_factor()
    net.gamma = 0.4
    assert net.gamma_tilde == pytest.approx(0.4 / math.sqrt(20), rel=1e-15)
    assert net.contraction_factor() == pytest.approx(2 * q, rel=1e-12) == pytest.approx(_exact_q(net), rel=1e-12)
    with pytest.raises(ValueError, match=r"gamma must lie in the open interval \(0, 1\)"):
        net.gamma = 1.5


# -- 2. training arguments --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0, -1, -5])
def test_gradient_descent_refuses_bad_gram_every(value):
    net, X, y = _problem()
    with pytest.raises(ValueError, match=rf"gram_every must be a positive int, got {value}"):
        gradient_descent(net, X, y, lr=0.1, steps=2, gram_every=value, progress=False)


@pytest.mark.parametrize("arg,value", [("gram_every", 0), ("gram_every", -2), ("record_every", 0),
                                       ("record_every", -1), ("max_steps", 0), ("max_steps", -3)])
def test_gradient_flow_refuses_bad_counts(arg, value):
    net, X, y = _problem()
    with pytest.raises(ValueError, match=rf"{arg} must be a positive int, got {value}"):
        gradient_flow(net, X, y, 0.5, progress=False, **{arg: value})


@pytest.mark.parametrize("blowup", [0.0, -1.0, math.nan, -math.inf])
@pytest.mark.parametrize("method", ["gd", "gf"])
def test_bad_blowup_is_refused(blowup, method):
    net, X, y = _problem()
    with pytest.raises(ValueError, match=r"blowup must be a positive number .* got"):
        if method == "gd":
            gradient_descent(net, X, y, lr=0.1, steps=2, blowup=blowup, progress=False)
        else:
            gradient_flow(net, X, y, 0.5, blowup=blowup, progress=False)


def test_infinite_blowup_is_allowed():
    net, X, y = _problem()
    h = gradient_descent(net, X, y, lr=0.1, steps=2, blowup=math.inf, progress=False)
    assert h.stopped is None and len(h) == 3


@pytest.mark.parametrize("key", ["loss", "step", "lambda_min_H"])
def test_observe_cannot_overwrite_recorded_columns(key):
    net, X, y = _problem()
    with pytest.raises(ValueError, match=rf"observe returned the key '{key}', which is a recorded column"):
        gradient_descent(net, X, y, lr=0.1, steps=2, progress=False, observe=lambda model: {key: 0.0})


def test_observe_clash_is_reported_when_it_first_happens():
    net, X, y = _problem()
    calls = []

    def observe(model):
        calls.append(1)
        return {"probe": 1.0} if len(calls) < 3 else {"probe": 1.0, "loss": -1.0}

    with pytest.raises(ValueError, match="'loss'"):
        gradient_descent(net, X, y, lr=0.1, steps=5, progress=False, observe=observe)
    assert len(calls) == 3


@pytest.mark.filterwarnings("error::implicit.train.TrainingStopped")
def test_zero_initial_residual_is_converged_not_divergent():
    net, X, _ = _problem()
    y = linearize(net, X).predictions().clone()  # exactly the predictions: r0 = 0
    h = gradient_descent(net, X, y, lr=0.1, steps=5, progress=False)
    assert h.stopped is None and len(h) == 6
    assert h["residual_norm"][0] == 0.0 and np.all(h["residual_norm"] <= 1e-12)
    net2 = ImplicitNet(5, 40, 0.1, seed=0)
    hf = gradient_flow(net2, X, y, 0.5, progress=False)
    assert hf.stopped is None and hf["time"][-1] == pytest.approx(0.5)
    assert np.all(hf["residual_norm"] <= 1e-12)


# -- 3. solver tolerances and dtypes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("tol", [1.0, 10.0, 0.0, -1e-3, math.nan])
def test_picard_tol_must_lie_in_the_unit_interval(tol):
    with pytest.raises(ValueError, match=r"tol must be a relative tolerance in the open interval \(0, 1\)"):
        picard(lambda z: 0.5 * z + 1, torch.zeros(2, 3, dtype=D), tol=tol)


@pytest.mark.parametrize("tol", [10.0, 1.0, 0.0, -1e-6, math.nan])
def test_net_tol_is_checked_at_construction(tol):
    with pytest.raises(ValueError, match=r"tol must be a relative tolerance in the open interval \(0, 1\)"):
        ImplicitNet(3, 8, 0.2, tol=tol)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_nets_are_refused(dtype):
    with pytest.raises(TypeError, match=r"torch\.float32 or torch\.float64 \(the supported dtypes\)"):
        ImplicitNet(3, 8, 0.2, dtype=dtype)
    base = ImplicitNet(3, 8, 0.2)
    with pytest.raises(TypeError, match=r"supported dtypes"):
        ImplicitNet.from_parameters(*(getattr(base, k).detach().to(dtype) for k in "AWuv"))
    with pytest.raises(TypeError, match=r"no default solver tolerance .* torch\.float32 and torch\.float64"):
        default_tol(dtype)


def test_net_converted_to_half_is_refused_before_torch_fails():
    net = ImplicitNet(3, 8, 0.2).to(torch.float16)
    with pytest.raises(TypeError, match=r"the network's dtype must be torch\.float32 or torch\.float64"):
        net(torch.ones(2, 3, dtype=torch.float16) / math.sqrt(3))


def test_default_tol_docstring_claims_only_supported_dtypes():
    doc = default_tol.__doc__
    assert "float32/bfloat16/half" not in doc and "only supported" in doc


def test_lambda0_of_no_rows_is_a_value_error():
    with pytest.raises(ValueError, match=r"lambda0 needs at least one row"):
        kernels.lambda0(torch.zeros(0, 3, dtype=D))


# -- 4. strict JSON histories -----------------------------------------------------------------------------------------

def _refuse(token: str):
    raise ValueError(f"non-standard JSON token {token}")


def _odd_history() -> History:
    h = History(meta={"m": 3, "worst": math.inf})
    h.append(step=0, loss=math.nan, norm_A=math.inf)
    h.append(step=1, loss=-math.inf, norm_A=2.0, probe=math.inf)
    return h


def _same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b, strict=True))


def test_history_json_is_strict_and_round_trips_non_finite_values(tmp_path):
    h = _odd_history()
    text = h.to_json()
    raw = json.loads(text, parse_constant=_refuse)  # strict JSON: no bare NaN / Infinity
    assert raw["columns"]["loss"] == [None, "-Infinity"] and raw["columns"]["norm_A"] == ["Infinity", 2.0]
    assert h.to_json(tmp_path / "h.json") == text
    for back in (History.from_json(text), History.from_json(tmp_path / "h.json")):
        assert set(back.columns) == set(h.columns)
        for k, column in h.columns.items():
            assert _same(back.columns[k], column), k
        assert back.meta == {"m": 3, "worst": math.inf} and back.stopped is None
    json.loads((tmp_path / "h.json").read_text(), parse_constant=_refuse)


def test_history_files_are_written_through_records(tmp_path, monkeypatch):
    calls = []
    real = records.write_json
    monkeypatch.setattr(records, "write_json", lambda path, obj, **kw: (calls.append(path), real(path, obj, **kw)))
    _odd_history().to_json(tmp_path / "sub" / "h.json")
    assert calls == [tmp_path / "sub" / "h.json"] and (tmp_path / "sub" / "h.json").exists()
    assert not list((tmp_path / "sub").glob("*.tmp"))


def test_legacy_history_with_bare_tokens_still_loads(tmp_path):
    legacy = '{"meta": {"m": 3}, "stopped": null, "columns": {"step": [0, 1], "loss": [NaN, Infinity], ' \
             '"probe": [-Infinity, null]}}'
    path = tmp_path / "old.json"
    path.write_text(legacy)
    for back in (History.from_json(path), History.from_json(legacy)):
        assert math.isnan(back.columns["loss"][0]) and back.columns["loss"][1] == math.inf
        assert back.columns["probe"][0] == -math.inf and math.isnan(back.columns["probe"][1])


# -- 5. inputs off the unit sphere ------------------------------------------------------------------------------------

@pytest.fixture
def rearm(monkeypatch):
    """The warning is given once per process; re-arm it for this test (restored afterwards)."""
    monkeypatch.setattr(validation, "_off_sphere_warned", False)


def _off_sphere_calls():
    net, X, y = _problem()
    X2 = 2.0 * X
    return {
        "gram_blocks": lambda: gram_blocks(net, X2),
        "gradient_descent": lambda: gradient_descent(net, X2, y, lr=0.01, steps=1, progress=False),
        "gradient_flow": lambda: gradient_flow(net, X2, y, 0.01, progress=False),
        "lambda0": lambda: kernels.lambda0(X2),
        "relu_kernel": lambda: kernels.relu_kernel(X2),
    }


@pytest.mark.parametrize("name", ["gram_blocks", "gradient_descent", "gradient_flow", "lambda0", "relu_kernel"])
def test_off_sphere_inputs_warn_once(rearm, name):
    assert issubclass(validation.OffSphereWarning, UserWarning)
    calls = _off_sphere_calls()
    with pytest.warns(validation.OffSphereWarning, match=rf"{name}: the inputs are not on the unit sphere"):
        calls[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("error", validation.OffSphereWarning)
        for call in calls.values():  # once per process: no second warning, from any function
            call()


def test_warn_if_off_sphere_tolerance(rearm):
    X = implicit.data.sphere(5, 4, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", validation.OffSphereWarning)
        assert validation.warn_if_off_sphere(X * (1 + 5e-7), "here") is False
        assert validation.warn_if_off_sphere(X.float(), "here") is False
    with pytest.warns(validation.OffSphereWarning, match=r"here: .*row 0 has norm 1\.00001"):
        assert validation.warn_if_off_sphere(X * torch.tensor([[1.00001], [1], [1], [1], [1]], dtype=D), "here")


@pytest.mark.filterwarnings("error::UserWarning")
def test_forward_pass_and_unit_data_do_not_warn(rearm):
    net, X, y = _problem()
    net(3.0 * X)  # a trained net may be applied to anything
    net.equilibrium(0.5 * X)
    Xd, yd = implicit.data.digits(n=12)
    for Xu in (X, X.float().double(), Xd):
        gram_blocks(ImplicitNet(Xu.shape[1], 16, 0.1), Xu)
        kernels.lambda0(Xu)
        kernels.relu_kernel(Xu.float())
    gradient_descent(ImplicitNet(Xd.shape[1], 16, 0.1), Xd, yd, lr=0.01, steps=1, progress=False)
    assert validation._off_sphere_warned is False


@pytest.mark.parametrize("fn", [ImplicitNet, gram_blocks, gradient_descent, gradient_flow, kernels.lambda0,
                                kernels.relu_kernel], ids=lambda f: f.__name__)
def test_docstrings_state_the_unit_sphere_assumption(fn):
    assert r"\|x_i\| = 1" in inspect.getdoc(fn)

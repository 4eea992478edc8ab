"""Bad input gets a specific exception whose message says what was expected and what came."""
from __future__ import annotations

import math
import re

import pytest
import torch

from implicit import ImplicitNet
from implicit.validation import check_targets

D, M = 5, 12


@pytest.fixture
def net():
    return ImplicitNet(D, M, 0.2, seed=0)


def _X(n=3, d=D, dtype=torch.float64):
    return torch.ones(n, d, dtype=dtype) / math.sqrt(d)


@pytest.fixture(params=["forward", "equilibrium", "features"])
def call(request, net):
    return lambda X, **kw: getattr(net, request.param)(X, **kw)


@pytest.mark.parametrize("shape,pattern", [
    ((D,), r"X must have shape \(n, d\) = \(n, 5\), got a 1-D tensor of shape \(5,\)"),
    ((2, 3, D), r"X must have shape \(n, d\) = \(n, 5\), got a 3-D tensor of shape \(2, 3, 5\)"),
    ((4, D + 1), r"X has 6 features per row but the network expects d = 5"),
    ((4, 1), r"X has 1 features per row but the network expects d = 5"),
    ((0, D), r"X has no rows \(n = 0\)"),
])
def test_bad_shape(call, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        call(torch.ones(shape, dtype=torch.float64))


def test_not_a_tensor(call):
    with pytest.raises(TypeError, match=r"X must be a torch.Tensor of shape \(n, 5\), got list"):
        call([[0.0] * D])


@pytest.mark.parametrize("value,pattern", [(math.nan, r"1 NaN, 0 inf"), (math.inf, r"0 NaN, 1 inf"),
                                           (-math.inf, r"0 NaN, 1 inf")])
def test_non_finite_X(call, value, pattern):
    X = _X()
    X[1, 2] = value
    with pytest.raises(ValueError, match=rf"X contains 1 non-finite entries \({pattern}\)"):
        call(X)


@pytest.mark.parametrize("name", ["A", "W", "u", "v"])
def test_nan_parameter_forward(net, name):
    with torch.no_grad():
        getattr(net, name)[0] = math.nan
    with pytest.raises(ValueError, match=rf"parameter {name} contains \d+ non-finite entries \(\d+ NaN"):
        net(_X())


@pytest.mark.parametrize("name", ["A", "W"])
def test_nan_parameter_equilibrium(net, name):
    with torch.no_grad():
        getattr(net, name)[0, 0] = math.inf
    with pytest.raises(ValueError, match=rf"parameter {name} contains 1 non-finite entries \(0 NaN, 1 inf\)"):
        net.equilibrium(_X())


def test_nan_parameter_with_checks_off():
    net = ImplicitNet(D, M, 0.2, seed=0, check_wellposed=False)
    with torch.no_grad():
        net.A[1, 1] = math.nan
    with pytest.raises(ValueError, match=r"parameter A contains 1 non-finite entries"):
        net(_X())


@pytest.mark.parametrize("arg", ["d", "m", "max_iter"])
@pytest.mark.parametrize("value", [0, -3])
def test_non_positive_ints(arg, value):
    kw = {"d": D, "m": M, "max_iter": 10}
    kw[arg] = value
    with pytest.raises(ValueError, match=rf"{arg} must be a positive int, got {value}"):
        ImplicitNet(kw["d"], kw["m"], 0.2, max_iter=kw["max_iter"])


@pytest.mark.parametrize("value,tname", [(12.0, "float"), ("12", "str"), (True, "bool"), (None, "NoneType")])
def test_non_int_width(value, tname):
    with pytest.raises(TypeError, match=rf"m must be a positive int, got {tname} {value!r}".replace("(", r"\(")):
        ImplicitNet(D, value, 0.2)


def test_non_int_dim():
    with pytest.raises(TypeError, match=r"d must be a positive int, got float 2.5"):
        ImplicitNet(2.5, M, 0.2)


@pytest.mark.parametrize("gamma", [0, 1, -0.1, 1.5, math.nan, math.inf])
def test_bad_gamma_value(gamma):
    with pytest.raises(ValueError, match=rf"gamma must lie in the open interval \(0, 1\).*got {float(gamma)}"):
        ImplicitNet(D, M, gamma)


@pytest.mark.parametrize("gamma,tname", [("0.1", "str"), (True, "bool"), (None, "NoneType")])
def test_bad_gamma_type(gamma, tname):
    with pytest.raises(TypeError, match=rf"gamma must be a float in \(0, 1\), got {tname}"):
        ImplicitNet(D, M, gamma)


def test_bad_dtype_argument():
    with pytest.raises(TypeError, match=r"dtype must be torch.float32 or torch.float64 \(the supported dtypes\), "
                                        r"got torch.int64"):
        ImplicitNet(D, M, 0.2, dtype=torch.int64)


def test_dtype_mismatch(call):
    with pytest.raises(TypeError, match=r"X has dtype torch.float32 but the network is torch.float64"):
        call(_X(dtype=torch.float32))


def test_dtype_mismatch_float64_into_float32_net():
    net = ImplicitNet(D, M, 0.2, dtype=torch.float32)
    with pytest.raises(TypeError, match=r"X has dtype torch.float64 but the network is torch.float32"):
        net(_X())


@pytest.mark.parametrize("method", ["forward", "equilibrium"])
@pytest.mark.parametrize("shape", [(3, M + 1), (2, M), (M,)])
def test_wrong_z0_shape(net, method, shape):
    expected = r"z0 must have shape \(3, 12\) \(n, m\), got " + re.escape(str(tuple(shape)))
    with pytest.raises(ValueError, match=expected):
        getattr(net, method)(_X(), z0=torch.zeros(shape, dtype=torch.float64))


def test_non_finite_z0(net):
    z0 = torch.zeros(3, M, dtype=torch.float64)
    z0[0, 0] = math.nan
    with pytest.raises(ValueError, match=r"z0 contains 1 non-finite entries \(1 NaN, 0 inf\)"):
        net(_X(), z0=z0)


def test_check_targets():
    y = torch.zeros(4, dtype=torch.float64)
    assert check_targets(y, 4, torch.float64, torch.device("cpu")) is y
    with pytest.raises(ValueError, match=r"y must have shape \(4,\) to match X, got \(3,\)"):
        check_targets(torch.zeros(3, dtype=torch.float64), 4, torch.float64, torch.device("cpu"))
    with pytest.raises(TypeError, match=r"y has dtype torch.float32 but the network is torch.float64"):
        check_targets(torch.zeros(4), 4, torch.float64, torch.device("cpu"))
    with pytest.raises(TypeError, match=r"y must be a torch.Tensor of shape \(4,\), got list"):
        check_targets([0.0] * 4, 4, torch.float64, torch.device("cpu"))
    y[2] = math.nan
    with pytest.raises(ValueError, match=r"y contains 1 non-finite entries"):
        check_targets(y, 4, torch.float64, torch.device("cpu"))

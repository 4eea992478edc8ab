"""``implicit.setup``, the run profile, the plot style and the measurement helpers."""
from __future__ import annotations

import math
import random

import matplotlib
import numpy as np
import pytest
import torch

import implicit
from implicit import measure, runtime
from implicit.plotting import WIDTH_COLORS, use_style


def test_setup_sets_default_dtype_and_fields(monkeypatch):
    monkeypatch.delenv("IMPLICIT_PROFILE", raising=False)
    torch.set_default_dtype(torch.float32)
    cfg = implicit.setup(seed=7, verbose=False, device="cpu")
    assert torch.get_default_dtype() == torch.float64
    assert torch.zeros(1).dtype == torch.float64
    assert isinstance(cfg, runtime.RunConfig)
    assert (cfg.seed, cfg.dtype, cfg.device, cfg.profile, cfg.fast) == (7, torch.float64, torch.device("cpu"), "fast",
                                                                        True)
    assert torch.backends.cuda.matmul.allow_tf32 is False


def test_default_dtype_restored_by_fixture():
    """Runs after the test above (file order): setup() made float64 the default there, and the conftest fixture
    restored torch's own default afterwards."""
    assert torch.get_default_dtype() == torch.float32


def test_setup_seeds_everything():
    implicit.setup(seed=5, verbose=False, device="cpu")
    a = (torch.rand(3), np.random.rand(3), random.random())
    implicit.setup(seed=5, verbose=False, device="cpu")
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_setup_custom_dtype():
    cfg = implicit.setup(seed=0, dtype=torch.float32, verbose=False, device="cpu")
    assert cfg.dtype == torch.float32 and torch.get_default_dtype() == torch.float32


@pytest.mark.parametrize("env,expected", [("full", "full"), ("FULL", "full"), ("fast", "fast"), (None, "fast")])
def test_profile_from_environment(monkeypatch, env, expected):
    if env is None:
        monkeypatch.delenv("IMPLICIT_PROFILE", raising=False)
    else:
        monkeypatch.setenv("IMPLICIT_PROFILE", env)
    cfg = implicit.setup(verbose=False, device="cpu")
    assert cfg.profile == expected
    assert cfg.pick(fast=200, full=4000) == (200 if expected == "fast" else 4000)
    assert cfg.fast is (expected == "fast")


def test_profile_argument_overrides_environment(monkeypatch):
    monkeypatch.setenv("IMPLICIT_PROFILE", "full")
    assert implicit.setup(profile="fast", verbose=False, device="cpu").profile == "fast"


@pytest.mark.parametrize("bad", ["turbo", "slow"])
def test_bad_profile(monkeypatch, bad):
    monkeypatch.setenv("IMPLICIT_PROFILE", bad)
    with pytest.raises(ValueError, match=rf"IMPLICIT_PROFILE must be one of \('fast', 'full'\), got '{bad}'"):
        implicit.setup(verbose=False)
    monkeypatch.delenv("IMPLICIT_PROFILE")
    with pytest.raises(ValueError, match=r"got 'medium'"):
        implicit.setup(profile="medium", verbose=False)


def test_summary_and_verbose(capsys, monkeypatch):
    monkeypatch.delenv("IMPLICIT_PROFILE", raising=False)
    cfg = implicit.setup(seed=3, verbose=True, device="cpu")
    printed = capsys.readouterr().out.strip()
    s = cfg.summary()
    assert printed == s
    assert f"torch {torch.__version__}" in s and f"implicit {implicit.__version__}" in s
    assert "cpu" in s and "float64" in s and "profile fast" in s and "seed 3" in s
    implicit.setup(seed=3, verbose=False, device="cpu")
    assert capsys.readouterr().out == ""


def test_setup_applies_plot_style():
    matplotlib.rcParams["figure.facecolor"] = "black"
    implicit.setup(verbose=False, device="cpu")
    assert matplotlib.rcParams["figure.facecolor"] == "white"
    assert matplotlib.rcParams["savefig.transparent"] is False


def test_use_style_and_colors():
    use_style()
    assert matplotlib.rcParams["axes.facecolor"] == "white" and matplotlib.rcParams["figure.dpi"] == 100
    assert len(WIDTH_COLORS) == len(set(WIDTH_COLORS)) >= 4
    assert all(matplotlib.colors.is_color_like(c) for c in WIDTH_COLORS)


def test_quiet(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert runtime.quiet() is True
    monkeypatch.delenv("CI")
    assert runtime.quiet() is False


# -- measure ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("slope,coef", [(1.5, 3.0), (-0.5, 0.2), (2.0, 1.0)])
def test_fit_power_law_recovers_slope(slope, coef):
    x = np.array([1, 2, 4, 8, 16, 32], dtype=float)
    s, b = measure.fit_power_law(x, coef * x ** slope)
    assert s == pytest.approx(slope, abs=1e-12) and b == pytest.approx(math.log(coef), abs=1e-12)
    s2, _ = measure.fit_power_law(list(x), list(coef * x ** slope * np.exp([0.01, -0.01, 0.01, -0.01, 0.01, -0.01])))
    assert abs(s2 - slope) < 0.01


def test_median_time_calls_function():
    calls = []
    t = measure.median_time(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5 and isinstance(t, float) and t >= 0


def test_saved_tensor_bytes_counts_distinct_storages():
    a = torch.ones(100, dtype=torch.float64, requires_grad=True)
    with measure.saved_tensor_bytes() as s:
        (a * a).sum()                       # mul saves `a` twice: one storage
    assert s.bytes == 800
    with measure.saved_tensor_bytes() as s2:
        (a * 2.0).sum()                     # multiplication by a constant saves nothing
    assert s2.bytes == 0
    with measure.saved_tensor_bytes() as s3:
        torch.exp(a).sum()                  # exp saves its output: a new storage
    assert s3.bytes == 800

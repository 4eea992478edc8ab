"""implicit.theory: the statements' formulas and the checks' semantics."""
from __future__ import annotations

import math

import pytest
import torch

import implicit
from implicit import theory
from implicit.train import gradient_descent


def test_formulas():
    s = theory.Setting(n=10, m=400, c=2.0, lam0=0.1, norm_X=2.0, r0=3.0, gamma=0.1)
    assert theory.gamma_max(2.0) == 0.125 and theory.gamma_max(0.1) == 0.5
    assert theory.radius_R(s) == pytest.approx(20 * 0.1 / (16 * 2 * 4))
    assert theory.width_lemma_3_3(10, 0.1, 0.1) == pytest.approx(100 / 0.01 * math.log(100))
    assert theory.width_theorem_3_2_printed(10, 0.1, 0.1) * 10 == pytest.approx(theory.width_lemma_3_3(10, 0.1, 0.1))
    assert theory.width_lemma_3_5(s) == pytest.approx(4 * 10 * 4 * 9 / 1e-3)
    assert theory.step_size_scale(s) == pytest.approx(1e-3)


def test_setting_and_checks_on_a_run():
    X = implicit.data.sphere(12, 6, seed=0)
    y = torch.sign(torch.randn(12, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    net = implicit.ImplicitNet(6, 100, seed=0)
    A0 = torch.linalg.matrix_norm(net.A.detach(), 2)
    W0 = torch.linalg.matrix_norm(net.W.detach(), 2)
    h = gradient_descent(net, X, y, lr=0.1, steps=20, progress=False)
    s = theory.Setting.from_history(h, X)
    assert s.c == pytest.approx(float(max(A0, W0)) / 10) and s.n == 12 and s.m == 100
    assert s.lam0 == pytest.approx(implicit.kernels.lambda0(X))
    checks = theory.check_lemma_3_6(h, s)
    assert 0 < checks["3.6-6-decay"].measured < 1  # records after k = 0 only: the ratio at k = 0 is 1 by definition
    assert all(key == c.id and c.result == "lemma-3.6" for key, c in checks.items())
    hyp = theory.check_theorem_3_2(h, s)
    assert not hyp["T3.2-step"].holds and hyp["T3.2-step"].hypothesis and not hyp["T3.2-decay"].hypothesis
    assert list(theory.check_lemma_3_4(h, s)) == ["3.4-ball", "3.4-lambda-G"]


def test_probe_lemma_3_4_zero_radius_is_G0():
    net = implicit.ImplicitNet(5, 50, seed=0)
    X = implicit.data.sphere(8, 5, seed=0)
    lam = theory.probe_lemma_3_4(net.W.detach(), X, radius=0.0, samples=2)
    G0 = implicit.gram.gram_blocks(net, X).v
    assert torch.allclose(lam, torch.full((2,), implicit.gram.lambda_min(G0), dtype=torch.float64), rtol=1e-12)

"""Batched Picard iteration: fixed point, stop rule, statistics, failures and bad arguments."""
from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
import torch

from implicit import reference as ref
from implicit.autodiff import solve_equilibrium
from implicit.solvers import ConvergenceError, SolverStats, default_tol, picard, relative_step


def _linear_problem(n=3, m=5, norm=0.5, seed=0):
    g = np.random.default_rng(seed)
    M = g.standard_normal((m, m))
    M *= norm / np.linalg.norm(M, 2)
    b = g.standard_normal((n, m))
    z_star = np.linalg.solve(np.eye(m) - M, b.T).T            # z = M z + b  <=>  z = (I - M)^{-1} b, row-wise
    Mt, bt = torch.from_numpy(M), torch.from_numpy(b)
    return (lambda z: z @ Mt.T + bt), z_star, b


def test_picard_linear_contraction_known_fixed_point():
    step, z_star, b = _linear_problem()
    z, stats = picard(step, torch.zeros(3, 5, dtype=torch.float64), tol=1e-13)
    assert ref.rel(z.numpy(), z_star) <= 1e-11
    assert isinstance(stats, SolverStats)
    assert stats.converged is True and stats.tol == 1e-13
    assert stats.residual <= 1e-13 and stats.residual == stats.residual_trace[-1]
    assert stats.iterations == len(stats.residual_trace)
    assert 10 <= stats.iterations <= 60
    assert stats.per_sample_residual.shape == (3,)
    assert float(stats.per_sample_residual.max()) == pytest.approx(stats.residual, rel=0, abs=0)
    assert all(r > 1e-13 for r in stats.residual_trace[:-1]), "stops at the first iterate meeting the tolerance"


def test_picard_residual_is_max_relative_row_step():
    step, _, _ = _linear_problem(seed=1)
    z0 = torch.zeros(3, 5, dtype=torch.float64)
    _, stats = picard(step, z0, tol=1e-10, max_iter=3, raise_on_failure=False)
    zs = [z0.numpy()]
    for _ in range(3):
        zs.append(step(torch.from_numpy(zs[-1])).numpy())
    expected = [float(np.max(np.linalg.norm(b - a, axis=1) / np.linalg.norm(b, axis=1)))
                for a, b in pairwise(zs)]
    assert np.allclose(stats.residual_trace, expected, rtol=1e-13, atol=0)


def test_picard_warm_start_at_fixed_point():
    step, z_star, _ = _linear_problem(seed=2)
    z, stats = picard(step, torch.from_numpy(z_star), tol=1e-12)
    assert stats.iterations == 1 and stats.converged


def test_picard_default_tolerance_by_dtype():
    assert default_tol(torch.float64) == 1e-12
    assert default_tol(torch.float32) == 1e-6
    step, _, _ = _linear_problem()
    _, s64 = picard(step, torch.zeros(3, 5, dtype=torch.float64))
    assert s64.tol == 1e-12 and s64.converged
    M = torch.full((4, 4), 0.05)
    _, s32 = picard(lambda z: z @ M + 1.0, torch.zeros(2, 4, dtype=torch.float32))
    assert s32.tol == 1e-6 and s32.converged


def test_convergence_error_reports_residual():
    step, _, _ = _linear_problem()
    with pytest.raises(ConvergenceError) as info:
        picard(step, torch.zeros(3, 5, dtype=torch.float64), tol=1e-12, max_iter=3, what="toy solve")
    err = info.value
    assert isinstance(err, RuntimeError)
    assert err.stats.iterations == 3 and not err.stats.converged and err.stats.residual > 1e-12
    msg = str(err)
    assert "toy solve did not converge" in msg
    assert f"{err.stats.residual:.3e}" in msg and "after 3 iterations" in msg and "1.0e-12" in msg
    assert "worst sample: index" in msg


def test_no_raise_returns_unconverged_stats():
    step, _, _ = _linear_problem()
    z, stats = picard(step, torch.zeros(3, 5, dtype=torch.float64), tol=1e-12, max_iter=2, raise_on_failure=False)
    assert stats.converged is False and stats.iterations == 2 and stats.residual > 1e-12
    assert torch.isfinite(z).all()


@pytest.mark.parametrize("max_iter", [0, -3])
def test_bad_max_iter(max_iter):
    with pytest.raises(ValueError, match=rf"max_iter must be at least 1, got {max_iter}"):
        picard(lambda z: z, torch.zeros(1, 2), max_iter=max_iter)


@pytest.mark.parametrize("tol", [0.0, -1e-3, float("nan"), 1.0, 10.0])
def test_bad_tol(tol):
    with pytest.raises(ValueError, match=r"tol must be a relative tolerance in the open interval \(0, 1\), got"):
        picard(lambda z: z, torch.zeros(1, 2), tol=tol)


def test_divergence_to_inf_stops_and_reports_inf():
    calls = []

    def step(z):
        calls.append(1)
        return 2 * z + 1

    z, stats = picard(step, torch.ones(2, 3, dtype=torch.float64), tol=1e-12, max_iter=5000, raise_on_failure=False)
    assert stats.residual == math.inf and stats.converged is False
    assert stats.iterations == len(calls) < 5000, "the solve must stop as soon as the iterate's norm overflows"
    assert not torch.isfinite(torch.linalg.vector_norm(z))
    with pytest.raises(ConvergenceError, match=r"relative residual inf"):
        picard(step, torch.ones(2, 3, dtype=torch.float64), max_iter=5000)


def test_nan_iterate_stops():
    z, stats = picard(lambda z: z * float("nan"), torch.ones(2, 2), max_iter=100, raise_on_failure=False)
    assert stats.iterations == 1 and stats.residual == math.inf and not stats.converged


def test_relative_step_zero_over_zero():
    new = torch.tensor([[0.0, 0.0], [3.0, 4.0]], dtype=torch.float64)
    old = torch.tensor([[0.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
    assert torch.equal(relative_step(new, old), torch.tensor([0.0, 3.0 / 5.0], dtype=torch.float64))


def test_solve_equilibrium_matches_numpy():
    g = np.random.default_rng(5)
    n, m, gamma = 4, 12, 0.3
    A, W = g.standard_normal((m, m)), g.standard_normal((m, 3))
    X = g.standard_normal((n, 3))
    Z, Phi = ref.equilibrium(A, W, X, gamma)
    z, stats = solve_equilibrium(torch.from_numpy(A), torch.from_numpy(Phi), gamma / math.sqrt(m))
    assert stats.converged and ref.rel(z.numpy(), Z) <= 1e-11
    # the map is applied from z0 = 0, so the first step is relu(Phi) = Phi and the first residual is 1 for every row
    assert stats.residual_trace[0] == 1.0


def test_row_that_jumps_to_zero_is_a_step_not_a_divergence():
    """A sample whose every unit switches off: its iterate falls from a large warm start to exactly zero. That is one
    full relative step (then 0 -> 0 converges), not an infinite one that stops the solve as diverged."""
    z0 = torch.tensor([[10.0, 10.0], [1.0, 2.0]], dtype=torch.float64)
    target = torch.tensor([[0.0, 0.0], [1.0, 2.0]], dtype=torch.float64)
    z, stats = picard(lambda z: target.clone(), z0, tol=1e-12)
    assert stats.converged and stats.iterations == 2 and stats.residual_trace[0] == 1.0
    assert torch.equal(z, target)

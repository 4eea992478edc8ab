r"""Forward solve: our batched Picard against the ideal and against torchdeq 0.1.0's solvers, on the same map.

The problem is the equilibrium of all :math:`n` samples, :math:`Z = \sigma(\tilde\gamma ZA^\top + \Phi)`, for the
network at initialisation (Assumption 1) on unit-norm inputs, :math:`\gamma\in\{0.1, 0.3, 0.45\}`, float64 at
``tol = 1e-10`` and float32 at ``tol = 1e-5``, all from :math:`Z^0 = 0`. Contenders:

* ``picard``: :func:`implicit.autodiff.solve_equilibrium`, one GEMM per iteration.
* ``ideal``: :math:`K` times the roofline GEMM time of the shape (:mod:`benchmarks.roofline`), :math:`K` the
  iterations Picard took: the cost of the products alone, with no activation, stop test or allocation.
* ``torchdeq.fixed_point_iter``, ``torchdeq.anderson`` (``anderson_solver``, its defaults: memory 6,
  ``lam = 1e-4``) and ``torchdeq.broyden`` (``broyden_solver``, no line search), each called on the identical map
  ``f(Z) = relu(addmm(Phi, Z, A.T, alpha=gamma_tilde))``, under ``torch.no_grad()``.

Same tolerance, same stop rule: torchdeq with ``stop_mode="rel"`` stops when, for every sample,
:math:`\|f(z)-z\|/(\|f(z)\|+10^{-9}) < \mathrm{tol}`; ours stops when every sample's
:math:`\|z^{k+1}-z^k\|/\|z^{k+1}\| \le \mathrm{tol}`, :math:`z^{k+1} = f(z^k)`: the same per-sample relative
fixed-point residual, maximum over the batch, against the same ``tol`` (for Picard the two rules stop at the same
iteration). Iterations are counted as calls of the map (for Anderson and Broyden, the work per call is one GEMM plus
the solver's own bookkeeping). Every solver gets ``max_iter = 500``; each contender's answer is compared with
Picard's.
"""
from __future__ import annotations

import torch

import implicit
from implicit.autodiff import solve_equilibrium

from . import roofline
from .common import (
    FORWARD_DTYPES,
    TOLERANCES,
    Context,
    dtype_name,
    forward_sizes,
    has_torchdeq,
    provenance,
    public,
    rel,
    timing,
)

GAMMAS = (0.1, 0.3, 0.45)
DTYPES = FORWARD_DTYPES
D = 32
MAX_ITER = 500
PEERS = {"fixed_point_iter": "fixed_point_iter", "anderson": "anderson_solver", "broyden": "broyden_solver"}


def problem(ctx: Context, n: int, m: int, gamma: float, dtype: torch.dtype):
    """``(A, Phi, gamma_tilde)`` of the net at initialisation on ``n`` unit-norm inputs."""
    net = implicit.ImplicitNet(D, m, gamma, seed=0, dtype=dtype, device=ctx.device)
    X = implicit.data.sphere(n, D, seed=0).to(device=ctx.device, dtype=dtype)
    with torch.no_grad():
        return net.A.detach(), net.features(X), net.gamma_tilde


def peer(name: str, A: torch.Tensor, phi: torch.Tensor, gt: float, tol: float):
    """A torchdeq solver on our map; returns ``solve() -> (z, calls, residual)``."""
    from torchdeq import solver as tds

    fn = getattr(tds, PEERS[name])
    At = A.T

    def solve():
        calls = [0]

        def f(z):
            calls[0] += 1
            return torch.relu(torch.addmm(phi, z, At, alpha=gt))

        with torch.no_grad():
            z, _, info = fn(f, torch.zeros_like(phi), max_iter=MAX_ITER, tol=tol, stop_mode="rel")
        return z, calls[0], float(info["rel_lowest"].max())

    return solve


def case(ctx: Context, n: int, m: int, gamma: float, dtype: torch.dtype) -> dict:
    tol = TOLERANCES[dtype]
    A, phi, gt = problem(ctx, n, m, gamma, dtype)
    ours = timing(lambda: solve_equilibrium(A, phi, gt, tol=tol, max_iter=MAX_ITER), ctx)
    z, stats = ours["result"]
    gemm = roofline.gemm(ctx, n, m, dtype)
    K = stats.iterations
    row = {"n": n, "m": m, "gamma": gamma, "dtype": dtype_name(dtype), "tol": tol,
           "picard": {**public(ours), "iterations": K, "residual": stats.residual},
           "ideal": {"median_s": K * gemm["gemm_s"], "iterations": K, "gemm_s": gemm["gemm_s"]}}
    row["picard"]["over_ideal"] = row["picard"]["median_s"] / row["ideal"]["median_s"]
    for name in PEERS:
        if not has_torchdeq():
            row[name] = {"skipped": "torchdeq is not installed (pip install torchdeq==0.1.0)"}
            continue
        res = timing(peer(name, A, phi, gt, tol), ctx)
        zp, calls, resid = res["result"]
        row[name] = {**public(res), "iterations": calls, "residual": resid, "converged": resid < tol,
                     "rel_diff_vs_picard": rel(zp, z), "speedup_of_picard": res["median_s"] / ours["median_s"]}
    ctx.log(_line(row))
    return row


def _line(row: dict) -> str:
    p = row["picard"]
    parts = [f"forward {row['dtype']} n={row['n']} m={row['m']} gamma={row['gamma']}: picard K={p['iterations']} "
             f"{p['median_s'] * 1e3:.1f} ms ({p['over_ideal']:.2f}x ideal)"]
    for name in PEERS:
        r = row[name]
        parts.append(f"{name} " + (r["skipped"] if "skipped" in r else
                                   f"K={r['iterations']} {r['median_s'] * 1e3:.1f} ms "
                                   f"({r['speedup_of_picard']:.2f}x)"))
    return " | ".join(parts)


def run(ctx: Context) -> dict:
    rows = [case(ctx, n, m, gamma, dtype) for n, m in forward_sizes(ctx) for dtype in DTYPES for gamma in GAMMAS]
    return {"suite": "forward", "provenance": provenance(ctx.device, list(DTYPES)), "d": D, "max_iter": MAX_ITER,
            "stop_rule": "max over samples of ||f(z)-z|| / ||f(z)|| below tol (torchdeq: stop_mode='rel')",
            "rows": rows}

r"""A whole gradient-descent step with the Gram matrix, as a rate against the machine's GEMM roofline.

One step, as :func:`implicit.train.gradient_descent` does it (with ``gram_every=1``): gradients from the current
linearisation, the parameter update, the warm-started forward and readout-adjoint fixed points
(:func:`implicit.linearization.linearize` with ``z0, v0``), the residual, and the Gram blocks
(:func:`implicit.gram.gram_blocks` on that linearisation). Its useful floating-point work is

.. math::
    F = \underbrace{2nm^2(K_f + K_a)}_{\text{fixed points}}
      + \underbrace{2nm^2 + 2nmd + 4nm}_{\nabla_A,\ \nabla_W,\ \nabla_u,\ \nabla_v}
      + \underbrace{4\cdot 2n^2m + 2n^2d}_{VV^\top,\ ZZ^\top,\ BB^\top,\ \Phi\Phi^\top,\ XX^\top},

with :math:`K_f, K_a` the step's measured iterations; :math:`O(nm + m^2)` elementwise work and the eigenvalues of
:math:`H` (an :math:`O(n^3)` monitor, not part of the step) are not counted, and a product computed twice
(``gram_blocks`` forms :math:`ZZ^\top` for two blocks) counts once. The achieved rate :math:`F/t` is compared with
the roofline :math:`R(n, m)` of the :math:`(n\times m)(m\times m)` product (:mod:`benchmarks.roofline`).

Inputs are unit-norm points in :math:`d = 784` (the image size of the paper's task), targets random signs,
:math:`\gamma = 0.1`, step :math:`1/\lambda_{\max}(H(0))`, float64. The first steps after the cold start are the
warm-up; each timed repetition is the next step of the same run.
"""
from __future__ import annotations

import numpy as np
import torch

import implicit
from implicit.gram import gram_blocks
from implicit.linearization import linearize, residual

from . import roofline
from .common import Context, provenance, step_sizes, sync

GAMMA = 0.1
D = 784
BLOCKS = ("A", "W", "u", "v")


def flops(n: int, m: int, d: int, k_forward: int, k_adjoint: int) -> dict[str, float]:
    """The useful flops of one step, by part (see the module docstring)."""
    return {"fixed_points": 2.0 * n * m * m * (k_forward + k_adjoint),
            "gradients": 2.0 * n * m * m + 2.0 * n * m * d + 4.0 * n * m,
            "gram": 8.0 * n * n * m + 2.0 * n * n * d}


def case(ctx: Context, n: int, m: int) -> dict:
    import time

    X = implicit.data.sphere(n, D, seed=0).to(ctx.device)
    y = torch.sign(torch.randn(n, generator=torch.Generator().manual_seed(1))).to(ctx.device)
    net = implicit.ImplicitNet(D, m, GAMMA, seed=0, device=ctx.device)
    lin = linearize(net, X)
    lr = 1.0 / float(torch.linalg.eigvalsh(gram_blocks(net, X, lin).total)[-1])
    state = {"lin": lin, "r": residual(lin, y)}

    def step():
        grads = state["lin"].gradients(state["r"])
        with torch.no_grad():
            for k in BLOCKS:
                getattr(net, k).sub_(lr * grads[k])
        new = linearize(net, X, z0=state["lin"].Z, v0=state["lin"].V)
        state["lin"], state["r"] = new, residual(new, y)
        return gram_blocks(net, X, new).total

    for _ in range(max(ctx.warmup, 1) + 1):
        step()
    reps = []
    for _ in range(ctx.repeats):
        sync(ctx.device)
        start = time.perf_counter()
        step()
        sync(ctx.device)
        t = time.perf_counter() - start
        kf, ka = state["lin"].forward_stats.iterations, state["lin"].adjoint_stats.iterations
        f = flops(n, m, D, kf, ka)
        reps.append({"time_s": t, "k_forward": kf, "k_adjoint": ka, "flops": sum(f.values()), "parts": f,
                     "gflops": sum(f.values()) / t / 1e9})
    roof = roofline.gemm(ctx, n, m, torch.float64)
    rates = [r["gflops"] for r in reps]
    row = {"n": n, "m": m, "d": D, "gamma": GAMMA, "lr": lr, "repetitions": reps,
           "median_s": float(np.median([r["time_s"] for r in reps])),
           "gflops_median": float(np.median(rates)), "gflops_min": min(rates), "gflops_max": max(rates),
           "roofline_gflops": roof["gflops"]}
    row["fraction_of_roofline"] = row["gflops_median"] / roof["gflops"]
    ctx.log(f"step n={n} m={m}: {row['median_s'] * 1e3:.1f} ms, K_f={reps[-1]['k_forward']} "
            f"K_a={reps[-1]['k_adjoint']}, {row['gflops_median']:.1f} GFLOP/s = "
            f"{row['fraction_of_roofline']:.0%} of the {roof['gflops']:.1f} GFLOP/s roofline")
    return row


def run(ctx: Context) -> dict:
    rows = [case(ctx, n, m) for n, m in step_sizes(ctx)]
    return {"suite": "step", "provenance": provenance(ctx.device, torch.float64),
            "flops": "2nm^2(K_f+K_a) + 2nm^2 + 2nmd + 4nm + 8n^2m + 2n^2d", "rows": rows}

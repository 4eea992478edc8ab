r"""The exact gradient of :math:`L = \frac12\|\hat y - y\|^2`: time, peak memory and agreement of four ways to get it.

* ``fused``: :func:`implicit.linearization.linearize` (one forward and one readout-adjoint fixed point) then
  :meth:`~implicit.linearization.Linearization.gradients`, one product per block
  (:math:`\nabla_A L = \tilde\gamma (V\circ r)^\top Z`, ...). No autograd graph.
* ``function``: ``net(X)`` (the implicit :class:`torch.autograd.Function`) and ``torch.autograd.grad``; the backward
  solves the adjoint fixed point :math:`Q = D\circ(G + \tilde\gamma QA)`.
* ``unrolled``: ``net.unrolled(X, K)``, back-propagation through the :math:`K` Picard iterations the exact solve
  took (so its truncation error is at the solve's tolerance); memory grows like :math:`K`.
* ``torchdeq``: torchdeq 0.1.0's ``get_deq(ift=True)`` (implicit differentiation), forward and backward
  ``fixed_point_iter`` with ``stop_mode="rel"`` at the same tolerance, on the same map.

Peak memory is the most tensor memory allocated at once during the call, above what existed before it
(:func:`implicit.measure.peak_memory`: the profiler's allocation timeline on the CPU,
``torch.cuda.max_memory_allocated`` on a GPU); the JSON names the method. Agreement is the largest relative
Frobenius difference of a parameter block's gradient from ``fused``.
"""
from __future__ import annotations

import torch

import implicit
from implicit.linearization import linearize, residual
from implicit.measure import peak_memory
from implicit.solvers import default_tol

from .common import Context, gradient_size, has_torchdeq, provenance, public, rel, timing

BLOCKS = ("A", "W", "u", "v")
GAMMAS = (0.1, 0.3)
D = 32


def methods(net: implicit.ImplicitNet, X: torch.Tensor, y: torch.Tensor, K: int, tol: float) -> dict:
    """Each contender as a zero-argument function returning the gradients ``{block: tensor}``."""
    params = [getattr(net, k) for k in BLOCKS]

    def loss_grads(yhat: torch.Tensor) -> dict:
        return dict(zip(BLOCKS, torch.autograd.grad(0.5 * ((yhat - y) ** 2).sum(), params), strict=True))

    def fused() -> dict:
        lin = linearize(net, X)
        return lin.gradients(residual(lin, y))

    out = {"fused": fused, "function": lambda: loss_grads(net(X)),
           "unrolled": lambda: loss_grads(net.unrolled(X, K))}
    if has_torchdeq():
        from torchdeq import get_deq

        deq = get_deq(f_solver="fixed_point_iter", b_solver="fixed_point_iter", f_max_iter=500, b_max_iter=500,
                      f_tol=tol, b_tol=tol, f_stop_mode="rel", b_stop_mode="rel", ift=True)
        deq.train()

        def torchdeq_ift() -> dict:
            phi = net.features(X)
            z_out, _ = deq(lambda z: torch.relu(torch.addmm(phi, z, net.A.T, alpha=net.gamma_tilde)),
                           torch.zeros_like(phi))
            return loss_grads(z_out[-1] @ net.u + phi @ net.v)

        out["torchdeq"] = torchdeq_ift
    return out


def case(ctx: Context, gamma: float) -> dict:
    n, m = gradient_size(ctx)
    net = implicit.ImplicitNet(D, m, gamma, seed=0, device=ctx.device)
    X = implicit.data.sphere(n, D, seed=0).to(ctx.device)
    y = torch.sign(torch.randn(n, generator=torch.Generator().manual_seed(1))).to(ctx.device)
    tol = default_tol(torch.float64)
    K = net.equilibrium(X).stats.iterations
    row = {"n": n, "m": m, "d": D, "gamma": gamma, "tol": tol, "K": K}
    reference = None
    for name, fn in methods(net, X, y, K, tol).items():
        stats = timing(fn, ctx)
        grads = stats["result"]
        reference = grads if reference is None else reference
        peak, how = peak_memory(fn, ctx.device)
        row[name] = {**public(stats), "peak_bytes": peak, "memory_method": how,
                     "max_rel_diff_vs_fused": max(rel(grads[k], reference[k]) for k in BLOCKS)}
    if not has_torchdeq():
        row["torchdeq"] = {"skipped": "torchdeq is not installed (pip install torchdeq==0.1.0)"}
    for name in ("fused", "function", "torchdeq"):
        if "skipped" not in row[name]:
            row[name]["time_over_unrolled"] = row[name]["median_s"] / row["unrolled"]["median_s"]
            row[name]["memory_over_unrolled"] = row[name]["peak_bytes"] / row["unrolled"]["peak_bytes"]
    ctx.log(_line(row))
    return row


def _line(row: dict) -> str:
    parts = [f"gradient n={row['n']} m={row['m']} gamma={row['gamma']} K={row['K']}:"]
    for name in ("fused", "function", "unrolled", "torchdeq"):
        r = row[name]
        parts.append(f"{name} " + (r["skipped"] if "skipped" in r else
                                   f"{r['median_s'] * 1e3:.1f} ms {r['peak_bytes'] / 2**20:.1f} MiB "
                                   f"(diff {r['max_rel_diff_vs_fused']:.1e})"))
    return " | ".join(parts)


def run(ctx: Context) -> dict:
    rows = [case(ctx, gamma) for gamma in GAMMAS]
    return {"suite": "gradient", "provenance": provenance(ctx.device, torch.float64),
            "loss": "0.5 * ||yhat - y||^2, y = random signs", "rows": rows}

r"""Closed-form Gram blocks against autograd peers (float64, one process, same threads).

Peers, each computing the same :math:`H = JJ^\top` split into its four blocks:

* ``vmap_jacrev``: ``torch.func.vmap(jacrev(...))`` of the unrolled network (``implicit.gram.empirical_ntk``),
  then :math:`J_pJ_p^\top` per block;
* ``vjp_rows``: the Jacobian materialised row by row, one implicit backward per sample (``torch.autograd.grad``),
  then :math:`JJ^\top`.

Run with the other suites by ``python -m benchmarks all`` or alone by ``python -m benchmarks gram`` (options
``--max-n`` and ``--memory-gb``). A peer runs only where its estimated memory (the :math:`n\times P` Jacobian,
times a safety factor for ``vmap_jacrev``'s per-layer intermediates) fits in the budget; elsewhere the row says
why it was skipped.
"""
from __future__ import annotations

import torch

import implicit
from implicit.gram import BLOCKS, GramBlocks, empirical_ntk, gram_blocks

from .common import Context, provenance, public, timing

SIZES = [(64, 256), (128, 512), (256, 1024), (512, 2048), (1000, 4000)]
D = 32


def jacobian_rows(net: implicit.ImplicitNet, X: torch.Tensor) -> GramBlocks:
    """Materialise J one row at a time (one implicit backward per sample), then contract per block."""
    yhat = net(X)
    params = [getattr(net, k) for k in BLOCKS]
    rows = {k: [] for k in BLOCKS}
    for i in range(X.shape[0]):
        grads = torch.autograd.grad(yhat[i], params, retain_graph=i + 1 < X.shape[0])
        for k, g in zip(BLOCKS, grads, strict=True):
            rows[k].append(g.reshape(-1))
    J = {k: torch.stack(rows[k]) for k in BLOCKS}
    return GramBlocks(**{k: J[k] @ J[k].T for k in BLOCKS})


def jacobian_gb(n: int, m: int, d: int = D) -> float:
    """Size of the dense n x P Jacobian in GB (float64)."""
    return n * (m * m + m * d + 2 * m) * 8 / 1e9


def max_rel_error(a: GramBlocks, b: GramBlocks) -> float:
    return max(float(torch.linalg.norm(getattr(a, k) - getattr(b, k)) / torch.linalg.norm(getattr(b, k)))
               for k in (*BLOCKS, "total"))


def sizes(ctx: Context, max_n: int | None = None) -> list[tuple[int, int]]:
    if ctx.quick:
        return [(8, 16)]
    return [(n, m) for n, m in SIZES if max_n is None or n <= max_n]


def row(ctx: Context, n: int, m: int, memory_gb: float) -> dict:
    net = implicit.ImplicitNet(D, m, gamma=0.1, seed=0, device=ctx.device)
    X = implicit.data.sphere(n, D, seed=0).to(ctx.device)
    stats = timing(lambda: gram_blocks(net, X), ctx)
    closed = stats["result"]
    out = {"n": n, "m": m, "d": D, "jacobian_gb": round(jacobian_gb(n, m), 3), "closed_form": public(stats)}
    peers = {"vmap_jacrev": (lambda: empirical_ntk(net, X), 3.0), "vjp_rows": (lambda: jacobian_rows(net, X), 1.5)}
    for name, (fn, factor) in peers.items():
        need = factor * jacobian_gb(n, m)
        if need > memory_gb:
            out[name] = {"skipped": f"needs about {need:.1f} GB > budget {memory_gb} GB"}
            continue
        result = timing(fn, ctx, warmup=0)  # each peer call takes seconds: no warm-up call beyond the closed form's
        out[name] = public(result)
        out[name]["max_rel_error_vs_closed_form"] = max_rel_error(closed, result["result"])
        out[name]["speedup_of_closed_form"] = result["median_s"] / out["closed_form"]["median_s"]
    ctx.log("gram " + _line(out))
    return out


def run(ctx: Context, max_n: int | None = None, memory_gb: float | None = None) -> dict:
    torch.manual_seed(0)
    memory_gb = ctx.pick(quick=1.0, cpu=3.0, cuda=16.0) if memory_gb is None else memory_gb
    rows = [row(ctx, n, m, memory_gb) for n, m in sizes(ctx, max_n)]
    return {"suite": "gram", "provenance": provenance(ctx.device, torch.float64), "gamma": 0.1,
            "memory_budget_gb": memory_gb, "rows": rows}


def _line(row: dict) -> str:
    parts = [f"n={row['n']:5d} m={row['m']:5d} closed {row['closed_form']['median_s']:.4f}s"]
    for name in ("vmap_jacrev", "vjp_rows"):
        r = row[name]
        parts.append(f"{name} " + (r["skipped"] if "skipped" in r else
                                   f"{r['median_s']:.3f}s ({r['speedup_of_closed_form']:.0f}x, "
                                   f"err {r['max_rel_error_vs_closed_form']:.1e})"))
    return " | ".join(parts)

r"""Closed-form Gram blocks against autograd peers (float64, one process, same threads).

Peers, each computing the same :math:`H = JJ^\top` split into its four blocks:

* ``vmap_jacrev``: ``torch.func.vmap(jacrev(...))`` of the unrolled network (``implicit.gram.empirical_ntk``),
  then :math:`J_pJ_p^\top` per block;
* ``vjp_rows``: the Jacobian materialised row by row, one implicit backward per sample (``torch.autograd.grad``),
  then :math:`JJ^\top`.

A peer runs only where its estimated memory (the :math:`n\times P` Jacobian, times a safety factor for
``vmap_jacrev``'s per-layer intermediates) fits in the budget; elsewhere the row says why it was skipped.
"""
from __future__ import annotations

import argparse
import math

import torch

import implicit
from implicit.gram import BLOCKS, GramBlocks, empirical_ntk, gram_blocks
from implicit.measure import time_stats

from .common import provenance, write

SIZES = [(64, 256), (128, 512), (256, 1024), (512, 2048), (1000, 4000)]
D = 32


def jacobian_rows(net: implicit.ImplicitNet, X: torch.Tensor) -> GramBlocks:
    """Materialise J one row at a time (one implicit backward per sample), then contract per block."""
    yhat = net(X)
    params = [getattr(net, k) for k in BLOCKS]
    rows = {k: [] for k in BLOCKS}
    for i in range(X.shape[0]):
        grads = torch.autograd.grad(yhat[i], params, retain_graph=i + 1 < X.shape[0])
        for k, g in zip(BLOCKS, grads):
            rows[k].append(g.reshape(-1))
    J = {k: torch.stack(rows[k]) for k in BLOCKS}
    return GramBlocks(**{k: J[k] @ J[k].T for k in BLOCKS})


def jacobian_gb(n: int, m: int, d: int = D) -> float:
    """Size of the dense n x P Jacobian in GB (float64)."""
    return n * (m * m + m * d + 2 * m) * 8 / 1e9


def max_rel_error(a: GramBlocks, b: GramBlocks) -> float:
    return max(float(torch.linalg.norm(getattr(a, k) - getattr(b, k)) / torch.linalg.norm(getattr(b, k)))
               for k in (*BLOCKS, "total"))


def run(sizes, repeats: int, memory_gb: float, peer_repeats: int) -> dict:
    torch.manual_seed(0)
    rows = []
    for n, m in sizes:
        net = implicit.ImplicitNet(D, m, gamma=0.1, seed=0)
        X = implicit.data.sphere(n, D, seed=0)
        closed = gram_blocks(net, X)
        row = {"n": n, "m": m, "d": D, "jacobian_gb": round(jacobian_gb(n, m), 3),
               "closed_form": time_stats(lambda: gram_blocks(net, X), repeats)}
        peers = {"vmap_jacrev": (lambda: empirical_ntk(net, X), 3.0), "vjp_rows": (lambda: jacobian_rows(net, X), 1.5)}
        for name, (fn, factor) in peers.items():
            need = factor * jacobian_gb(n, m)
            if need > memory_gb:
                row[name] = {"skipped": f"needs about {need:.1f} GB > budget {memory_gb} GB"}
                continue
            result = time_stats(fn, peer_repeats, warmup=0)
            result["max_rel_error_vs_closed_form"] = max_rel_error(closed, fn())
            result["speedup_of_closed_form"] = result["median_s"] / row["closed_form"]["median_s"]
            row[name] = result
        rows.append(row)
        print(_line(row), flush=True)
    return {"suite": "gram", "provenance": provenance(torch.device("cpu"), torch.float64), "gamma": 0.1,
            "rows": rows}


def _line(row: dict) -> str:
    parts = [f"n={row['n']:5d} m={row['m']:5d} closed {row['closed_form']['median_s']:.4f}s"]
    for name in ("vmap_jacrev", "vjp_rows"):
        r = row[name]
        parts.append(f"{name} " + (r["skipped"] if "skipped" in r else
                                   f"{r['median_s']:.3f}s ({r['speedup_of_closed_form']:.0f}x, "
                                   f"err {r['max_rel_error_vs_closed_form']:.1e})"))
    return " | ".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=1000, help="largest n to run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peer-repeats", type=int, default=3)
    parser.add_argument("--memory-gb", type=float, default=8.0, help="memory budget for the peers")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="gram-cpu")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64)
    sizes = [(n, m) for n, m in SIZES if n <= args.max_n]
    path = write(args.out, run(sizes, args.repeats, args.memory_gb, args.peer_repeats))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

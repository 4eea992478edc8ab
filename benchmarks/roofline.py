r"""The machine's GEMM rate for the run's shapes, measured first, in the same process as everything it is compared with.

One Picard iteration is one product :math:`(n\times m)(m\times m)`, :math:`2nm^2` flops. The roofline of a shape is
the rate of that product alone, ``torch.mm(Z, A, out=C)`` on random operands (no allocation, no bias, no
activation): :math:`R(n, m) = 2nm^2 / t_{\rm GEMM}`. The *ideal* forward solve that takes :math:`K` iterations costs
:math:`K\,t_{\rm GEMM}`; a training step's achieved rate is compared with :math:`R` of its shape.
"""
from __future__ import annotations

import torch

from .common import (
    FORWARD_DTYPES,
    Context,
    dtype_name,
    experiment_shapes,
    forward_sizes,
    gradient_size,
    provenance,
    public,
    step_sizes,
    timing,
)

__all__ = ["gemm", "run"]


def _key(n: int, m: int, dtype: torch.dtype) -> str:
    return f"{dtype_name(dtype)}:{n}x{m}"


def gemm(ctx: Context, n: int, m: int, dtype: torch.dtype = torch.float64) -> dict:
    r"""Time of one :math:`(n\times m)(m\times m)` product and its rate in GFLOP/s, cached in ``ctx.roofline``."""
    key = _key(n, m, dtype)
    if key not in ctx.roofline:
        gen = torch.Generator().manual_seed(0)
        Z = torch.randn(n, m, generator=gen, dtype=dtype).to(ctx.device)
        A = torch.randn(m, m, generator=gen, dtype=dtype).to(ctx.device)
        C = torch.empty(n, m, dtype=dtype, device=ctx.device)
        # Short products are timed in batches so that the timer's resolution does not matter.
        batch = max(1, min(50, int(2e9 / (2 * n * m * m)) if not ctx.cuda else int(2e11 / (2 * n * m * m))))
        stats = timing(lambda: [torch.mm(Z, A, out=C) for _ in range(batch)], ctx, warmup=max(ctx.warmup, 1))
        t = stats["median_s"] / batch
        ctx.roofline[key] = {"n": n, "m": m, "dtype": dtype_name(dtype), "batch": batch, "gemm_s": t,
                             "gflops": 2 * n * m * m / t / 1e9, "timing": public(stats)}
    return ctx.roofline[key]


def shapes(ctx: Context) -> list[tuple[int, int, torch.dtype]]:
    """Every GEMM shape the other suites compare with, so that the roofline is measured before them."""
    out = [(n, m, dtype) for n, m in forward_sizes(ctx) for dtype in FORWARD_DTYPES]
    out += [(n, m, torch.float64) for n, m in step_sizes(ctx) + experiment_shapes(ctx) + [gradient_size(ctx)]]
    return list(dict.fromkeys(out))


def run(ctx: Context) -> dict:
    for n, m, dtype in shapes(ctx):
        r = gemm(ctx, n, m, dtype)
        ctx.log(f"roofline {r['dtype']:8s} n={n:5d} m={m:5d}: {r['gemm_s'] * 1e3:8.3f} ms  {r['gflops']:8.1f} GFLOP/s")
    return {"suite": "roofline", "provenance": provenance(ctx.device, [torch.float64, torch.float32]),
            "definition": "one torch.mm((n x m), (m x m), out=...) on random operands; rate = 2 n m^2 / time",
            "rows": list(ctx.roofline.values())}

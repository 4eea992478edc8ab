r"""CPU–accelerator agreement: the same seeded computations on the run's device and on the CPU.

* **float64**: a seeded :class:`~implicit.ImplicitNet` and unit-norm inputs; the predictions :math:`\hat y`, the
  exact gradients of :math:`L = \frac12\|\hat y - y\|^2` (implicit backward) and the four closed-form Gram blocks
  :math:`H_A, H_W, H_u, H_v` and their sum :math:`H`. Each is compared by its relative Frobenius difference
  :math:`\|x_{\rm dev} - x_{\rm cpu}\| / \|x_{\rm cpu}\|`; the target is :math:`10^{-10}` (both sides solve to
  :math:`10^{-12}`, so what remains is summation order).
* **float32, TF32 off**: a short full-batch gradient-descent run; the relative difference of the loss curves is
  compared with a float32 target, :math:`10^{-4}` (a few hundred float32 ulps over the run).

On a CPU-only run the "device" side is the CPU again: the suite is then a rehearsal of the code path (the JSON says so)
and its differences are zero.
"""
from __future__ import annotations

import torch

import implicit
from implicit.gram import BLOCKS, gram_blocks

from .common import Context, provenance, rel

#: Relative differences the two dtypes must stay within.
TARGETS = {"float64": 1e-10, "float32": 1e-4}


def sizes(ctx: Context) -> dict[str, int]:
    """Shapes: tiny under ``--quick``, else large enough that every kernel takes its multi-threaded path."""
    return ctx.pick(quick={"n": 16, "d": 8, "m": 32, "steps": 5}, cpu={"n": 128, "d": 32, "m": 512, "steps": 20},
                    cuda={"n": 256, "d": 64, "m": 1024, "steps": 20})


def float64_case(device: torch.device, s: dict[str, int]) -> dict[str, torch.Tensor]:
    """Predictions, gradients and Gram blocks of the seeded float64 net on ``device`` (moved back to the CPU)."""
    X = implicit.data.sphere(s["n"], s["d"], seed=0).to(device)
    y = torch.sign(torch.randn(s["n"], generator=torch.Generator().manual_seed(1), dtype=torch.float64)).to(device)
    net = implicit.ImplicitNet(s["d"], s["m"], 0.1, seed=0, device=device)
    yhat = net(X)
    grads = torch.autograd.grad(0.5 * ((yhat - y) ** 2).sum(), [net.A, net.W, net.u, net.v])
    blocks = gram_blocks(net, X)
    out = {"yhat": yhat.detach(), **{f"grad_{k}": g for k, g in zip("AWuv", grads, strict=True)},
           **{f"H_{k}": getattr(blocks, k) for k in BLOCKS}, "H": blocks.total}
    return {k: v.cpu() for k, v in out.items()}


def float32_losses(device: torch.device, s: dict[str, int]) -> torch.Tensor:
    """The loss curve of a short float32 GD run (step 1/lambda_max(H(0)) from the float64 net) on ``device``."""
    X64 = implicit.data.sphere(s["n"], s["d"], seed=0)
    y64 = torch.sign(torch.randn(s["n"], generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    H0 = gram_blocks(implicit.ImplicitNet(s["d"], s["m"], 0.1, seed=0), X64).total
    lr = 1.0 / float(torch.linalg.eigvalsh(H0)[-1])
    net = implicit.ImplicitNet(s["d"], s["m"], 0.1, seed=0, dtype=torch.float32, device=device)
    X, y = X64.to(device=device, dtype=torch.float32), y64.to(device=device, dtype=torch.float32)
    history = implicit.train.gradient_descent(net, X, y, lr, s["steps"], gram_every=s["steps"], progress=False,
                                              norms=False)
    return torch.tensor(history["loss"], dtype=torch.float64)


def run(ctx: Context) -> dict:
    s = sizes(ctx)
    cpu = torch.device("cpu")
    dev64, ref64 = float64_case(ctx.device, s), float64_case(cpu, s)
    rows = [{"dtype": "float64", "quantity": k, "rel_diff": rel(dev64[k], ref64[k]), "target": TARGETS["float64"]}
            for k in ref64]
    curve_dev, curve_cpu = float32_losses(ctx.device, s), float32_losses(cpu, s)
    rows.append({"dtype": "float32", "quantity": f"loss curve ({s['steps']} GD steps)",
                 "rel_diff": rel(curve_dev, curve_cpu), "target": TARGETS["float32"]})
    for r in rows:
        r["holds"] = r["rel_diff"] <= r["target"]
        ctx.log(f"agreement {r['dtype']:8s} {r['quantity']:28s} rel diff {r['rel_diff']:.2e} "
                f"(target {r['target']:.0e}): {'holds' if r['holds'] else 'FAILS'}")
    return {"suite": "agreement", "provenance": provenance(ctx.device, [torch.float64, torch.float32]),
            "sizes": s, "rehearsal": ctx.device.type == "cpu", "rows": rows,
            "all_hold": all(r["holds"] for r in rows)}

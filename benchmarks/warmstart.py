r"""Warm starts: fixed-point iterations per gradient-descent step, started from the previous step's solution or cold.

Training moves the parameters by :math:`\alpha\nabla L`, so the equilibrium moves by :math:`O(\alpha\|\nabla L\|)`
and Picard started at the previous :math:`Z` needs about :math:`\log(\|\Delta Z\|/\mathrm{tol})/\log(1/q)`
iterations instead of :math:`\log(\|Z\|/\mathrm{tol})/\log(1/q)` from zero (:math:`q` the contraction factor). As the
loss falls the steps shrink and the saving grows.

The run is :func:`implicit.train.gradient_descent` itself on the paper's task (MNIST 0 vs 1, targets ±1,
:math:`\gamma = 0.1`, :math:`\alpha = 1/\lambda_{\max}(H(0))`, float64 at the package's default tolerance), which warm
starts both the forward and the readout-adjoint solve; at every record an ``observe`` hook solves both again from zero
at the same parameters. Reported: per step, warm and cold iterations; the summary is over the steps after the first
quarter of the run (the "first epochs").
"""
from __future__ import annotations

import numpy as np
import torch

import implicit
from implicit.linearization import linearize
from implicit.train import gradient_descent

from .common import Context, binary_data, provenance

GAMMA = 0.1


def settings(ctx: Context) -> dict:
    return ctx.pick(quick={"per_class": 8, "m": 64, "steps": 8},
                    cpu={"per_class": 100, "m": 512, "steps": 40},
                    cuda={"per_class": 500, "m": 4000, "steps": 200})


def run(ctx: Context) -> dict:
    s = settings(ctx)
    data, source = binary_data(ctx, "mnist", s["per_class"])
    if data is None:  # no offline MNIST: the same sizes on the sphere, labels alternating
        X = implicit.data.sphere(2 * s["per_class"], 784, seed=0).to(ctx.device)
        y = torch.tensor([(-1.0) ** i for i in range(X.shape[0])], device=ctx.device)
        source = f"synthetic sphere (mnist {source})"
    else:
        X, y = data.X_train, data.y_train
    net = implicit.ImplicitNet(X.shape[1], s["m"], GAMMA, seed=0, device=ctx.device)
    lr = 1.0 / float(torch.linalg.eigvalsh(implicit.gram.gram_blocks(net, X).total)[-1])
    cold: dict[str, list[int]] = {"forward": [], "adjoint": []}

    def observe(model) -> dict[str, float]:
        lin = linearize(model, X)  # from zero at the current parameters
        cold["forward"].append(lin.forward_stats.iterations)
        cold["adjoint"].append(lin.adjoint_stats.iterations)
        return {}

    h = gradient_descent(net, X, y, lr, s["steps"], gram_every=10 ** 9, progress=False, observe=observe)
    warm_f, warm_a = h["forward_iterations"].astype(int), h["adjoint_iterations"].astype(int)
    cold_f, cold_a = np.array(cold["forward"]), np.array(cold["adjoint"])
    burn = max(1, s["steps"] // 4)
    after = slice(burn, None)
    summary = {
        "after_step": burn,
        "forward_warm_mean": float(warm_f[after].mean()), "forward_cold_mean": float(cold_f[after].mean()),
        "adjoint_warm_mean": float(warm_a[after].mean()), "adjoint_cold_mean": float(cold_a[after].mean()),
    }
    summary["forward_ratio"] = summary["forward_cold_mean"] / summary["forward_warm_mean"]
    summary["adjoint_ratio"] = summary["adjoint_cold_mean"] / summary["adjoint_warm_mean"]
    ctx.log(f"warmstart n={X.shape[0]} m={s['m']}: forward {summary['forward_cold_mean']:.1f} cold vs "
            f"{summary['forward_warm_mean']:.1f} warm ({summary['forward_ratio']:.2f}x), adjoint "
            f"{summary['adjoint_cold_mean']:.1f} vs {summary['adjoint_warm_mean']:.1f} "
            f"({summary['adjoint_ratio']:.2f}x) after step {burn}")
    return {"suite": "warmstart", "provenance": provenance(ctx.device, torch.float64), "data": source,
            "n": int(X.shape[0]), "d": int(X.shape[1]), "m": s["m"], "gamma": GAMMA, "lr": lr, "steps": s["steps"],
            "tol": net.tol or implicit.solvers.default_tol(torch.float64),
            "loss": h["loss"].tolist(),
            "per_step": {"forward_warm": warm_f.tolist(), "forward_cold": cold_f.tolist(),
                         "adjoint_warm": warm_a.tolist(), "adjoint_cold": cold_a.tolist()},
            "summary": summary}

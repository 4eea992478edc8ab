r"""Wall time of the paper's full experiment (``implicit.studies.figure1.PROFILES["full"]``), per data set and width.

The full profile trains on :math:`n = 1000` images (500 per class) for 1000 epochs of full-batch gradient descent,
recording the test error at every epoch and :math:`\lambda_{\min}(H)`, :math:`\lambda_{\min}(G)` every
``gram_every = 50`` epochs, at widths 500 to 4000. Running it whole is hours on a CPU, so it is *extrapolated from
measured steps*:

1. the same calls as :func:`implicit.studies.figure1.run_one` (data, net, :math:`\alpha = 1/\lambda_{\max}(H(0))`,
   :func:`~implicit.train.gradient_descent` with the test-error ``observe`` hook), for ``S`` steps with
   ``gram_every = 2``, a timestamp at every record;
2. ``setup`` = the step-size Gram matrix plus everything before record 0; ``t_plain`` and ``t_gram`` = the median
   interval between records without and with the Gram matrix;
3. :math:`T = \mathrm{setup} + E\,t_{\rm plain} + N_{\rm Gram}(t_{\rm Gram} - t_{\rm plain})`, with
   :math:`E = 1000` epochs and :math:`N_{\rm Gram} = \lfloor E/50\rfloor` records with the Gram matrix after record 0.

The first steps after a cold start need more fixed-point iterations than later ones (warm starts improve as the loss
falls, :mod:`benchmarks.warmstart`), so :math:`T` overestimates. Widths not measured on this device (on the CPU, the
largest) are scaled from the largest measured width by the ratio of roofline GEMM times,
:math:`T(m) = T(m_0)\,t_{\rm GEMM}(n, m)/t_{\rm GEMM}(n, m_0)`; such rows say ``"extrapolated_from"``.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from implicit.gram import gram_blocks
from implicit.model import ImplicitNet
from implicit.train import gradient_descent

from . import roofline
from .common import Context, binary_data, experiment_n_train, experiment_widths, full_profile, provenance

FULL = full_profile()
GRAM_EVERY = 2


def steps(ctx: Context) -> int:
    return ctx.pick(quick=4, cpu=4, cuda=10)


def measure(ctx: Context, data, width: int) -> dict:
    """Time the first ``steps`` epochs of the experiment at one width; return setup, t_plain, t_gram."""
    X, y = data.X_train, data.y_train
    start = time.perf_counter()
    net = ImplicitNet(X.shape[1], width, FULL.gamma, seed=FULL.seeds[0], device=ctx.device)
    lr = FULL.lr_scale / float(torch.linalg.eigvalsh(gram_blocks(net, X).total)[-1])
    warm: list[torch.Tensor | None] = [None]
    stamps: list[float] = []

    def observe(model: ImplicitNet) -> dict[str, float]:
        eq = model.equilibrium(data.X_test, z0=warm[0])
        warm[0] = eq.z
        pred = eq.z @ model.u.detach() + eq.phi @ model.v.detach()
        out = {"test_mse": float(((pred - data.y_test) ** 2).mean())}
        stamps.append(time.perf_counter())
        return out

    h = gradient_descent(net, X, y, lr, steps(ctx), gram_every=GRAM_EVERY, progress=False, observe=observe)
    gaps = np.diff(stamps)  # gaps[k-1]: from record k-1 to record k; record k has the Gram matrix if k is even
    plain = [g for k, g in enumerate(gaps, 1) if k % GRAM_EVERY]
    gram = [g for k, g in enumerate(gaps, 1) if not k % GRAM_EVERY]
    out = {"setup_s": stamps[0] - start, "t_plain_s": float(np.median(plain)), "t_gram_s": float(np.median(gram)),
           "steps": steps(ctx), "forward_iterations": h["forward_iterations"].astype(int).tolist(),
           "adjoint_iterations": h["adjoint_iterations"].astype(int).tolist()}
    return out


def full_time(r: dict, epochs: int = FULL.epochs, gram_every: int = FULL.gram_every) -> float:
    """The extrapolated wall time of the whole run (see the module docstring)."""
    return r["setup_s"] + epochs * r["t_plain_s"] + (epochs // gram_every) * max(r["t_gram_s"] - r["t_plain_s"], 0)


def dataset_rows(ctx: Context, name: str) -> list[dict]:
    per_class = experiment_n_train(ctx) // 2
    data, source = binary_data(ctx, name, per_class, per_class)
    if data is None:
        return [{"dataset": name, "skipped": source}]
    measured, scaled = experiment_widths(ctx)
    rows = []
    for width in measured:
        r = {"dataset": name, "width": width, "n": int(data.X_train.shape[0]), **measure(ctx, data, width)}
        r["full_run_s"] = full_time(r)
        rows.append(r)
        ctx.log(f"experiment {name} m={width}: setup {r['setup_s']:.2f}s, step {r['t_plain_s']:.3f}s, "
                f"with Gram {r['t_gram_s']:.3f}s -> full run ~{r['full_run_s'] / 60:.1f} min")
    base = rows[-1]
    for width in scaled:
        n = base["n"]
        factor = roofline.gemm(ctx, n, width)["gemm_s"] / roofline.gemm(ctx, n, base["width"])["gemm_s"]
        r = {"dataset": name, "width": width, "n": n, "extrapolated_from": base["width"], "gemm_ratio": factor,
             **{k: base[k] * factor for k in ("setup_s", "t_plain_s", "t_gram_s")}}
        r["full_run_s"] = full_time(r)
        rows.append(r)
        ctx.log(f"experiment {name} m={width}: scaled from m={base['width']} by {factor:.2f} "
                f"-> full run ~{r['full_run_s'] / 60:.1f} min")
    return rows


def run(ctx: Context) -> dict:
    names = ("mnist",) if ctx.quick else FULL.datasets
    rows = [r for name in names for r in dataset_rows(ctx, name)]
    return {"suite": "experiment", "provenance": provenance(ctx.device, torch.float64),
            "profile": "full", "epochs": FULL.epochs, "gram_every": FULL.gram_every, "gamma": FULL.gamma,
            "measured_gram_every": GRAM_EVERY,
            "formula": "setup + epochs * t_plain + floor(epochs / gram_every) * (t_gram - t_plain)", "rows": rows,
            "total_s": sum(r.get("full_run_s", 0.0) for r in rows)}

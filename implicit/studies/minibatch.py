r"""The mini-batch, :math:`\gamma` and two-layer study behind the chapter *Beyond the paper, part two*.

Three kinds of cells, each one JSON record under ``implicit/results/minibatch`` (written atomically through
:func:`implicit.records.write_json`, with :func:`implicit.runtime.provenance`); a cell already on disk is not run again,
so an interrupted run resumes where it stopped.

* **SGD** (:func:`sgd_cell`): one data set and batch size :math:`b`; for every seed the step
  :math:`\alpha = c/\lambda_{\max}(H(0))` with :math:`c = 1, 2, 4, \dots`, raised while every seed is *stable*
  (:func:`stable`), for ``epochs`` epochs of :func:`implicit.train.sgd`; the loss curves at the largest stable
  :math:`c`, the initial :math:`\lambda_{\min}(H(0))` for the :math:`b/n`-scaled prediction
  :math:`\rho = (1-\alpha\tfrac bn\lambda_{\min}(H(0)))^{2n/b}` per epoch.
* :math:`\gamma` (:func:`gamma_cell`): full-batch gradient descent at :math:`\alpha = 1/\lambda_{\max}(H(0))` for one
  :math:`\gamma` and several seeds, the certified factor :math:`\tilde\gamma\|A(0)\|_2`, the measured rate, and the
  infinite-width :math:`\lambda_{\min}(H^\infty)` (:func:`implicit.equilibrium_ntk.ntk_limit`) against
  :math:`\lambda_0`.
* **Kernels** (:func:`kernel_cell`): :math:`\lambda_0`, the two-layer kernel :math:`XX^\top\circ\kappa_0(XX^\top)` of
  Du et al. and :math:`\lambda_{\min}(H^\infty)` on one data set.

Run ``python -m implicit minibatch-study [--out DIR] [--epochs N] [--seeds N]`` (single-threaded by default; about a
quarter of an hour on one core).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .. import records
from ..equilibrium_ntk import ntk_limit
from ..gram import gram_blocks, lambda_min
from ..kernels import arccos_kernel, lambda0
from ..measure import fit_rate
from ..model import ImplicitNet
from ..runtime import provenance
from ..train import TrainingStopped, gradient_descent, sgd
from .cells import make_data
from .runner import CommandError, Override, apply_overrides, command, device_from, out_folder, parser, results_dir
from .verdicts import mean_se

__all__ = ["Profile", "PROFILE", "FLOOR", "linear_rate", "stable", "predicted_rate", "du_kernel",
           "width_du", "paired", "banded", "sgd_cell", "gamma_cell", "kernel_cell", "run_study", "load_study",
           "sgd_summary", "gamma_summary", "width_rows", "main"]

#: Round-off level of the loss, relative to its start: below it a run has converged to working precision.
FLOOR = 1e-20
#: The outcome of a rule that the seeds do not decide.
NOT_DECIDED = "not decided at this scale"



@dataclass(frozen=True)
class Profile:
    """The study's settings: data sets, sample count ``n``, width ``m``, ``gamma``, ``epochs``, ``seeds``, batch
    sizes, the :math:`\\gamma` grid and its step budget, and the kernel cells' sample counts.

    Examples:
        >>> from implicit.studies.minibatch import Profile
        >>> tiny = Profile(datasets=("sphere",), n=8, m=16, epochs=4, seeds=2, batch_sizes=(8, 2), gammas=(0.1,),
        ...                gamma_steps=5, kernel_ns=(8,))
        >>> tiny.n, Profile().batch_sizes  # the chapter's profile: n = 64, b = n, 16, 4
        (8, (64, 16, 4))
    """

    datasets: tuple[str, ...] = ("sphere", "digits", "mnist")
    n: int = 64
    m: int = 64
    gamma: float = 0.1
    epochs: int = 200
    seeds: int = 5
    batch_sizes: tuple[int, ...] = (64, 16, 4)
    gammas: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
    gamma_steps: int = 300
    kernel_ns: tuple[int, ...] = (50, 100, 200)


PROFILE = Profile()


def linear_rate(losses, floor: float = FLOOR, min_points: int = 5) -> float | None:
    r"""The late per-epoch rate of a run: :func:`implicit.measure.fit_rate` over the second half of the epochs before
    the loss first reaches :math:`\mathrm{floor}\cdot L(0)` (round-off), i.e. epochs :math:`e_f/2..e_f` with
    :math:`e_f` that epoch (the last epoch if it never does); ``None`` with fewer than ``min_points`` epochs there.

    Examples:
        >>> from implicit.studies.minibatch import linear_rate
        >>> round(linear_rate([0.5 ** k for k in range(80)]), 12)  # reaches 1e-20 at epoch 67: fit over 33..67
        0.5
        >>> linear_rate([1.0, 0.9, 0.8]) is None
        True
    """
    L = np.asarray(losses, dtype=float)
    below = np.flatnonzero(L <= floor * L[0])
    end = int(below[0]) if len(below) else len(L) - 1
    idx = np.arange(end // 2, end + 1)
    if len(idx) < min_points or not np.isfinite(L[idx]).all():
        return None
    return fit_rate(L[idx], steps=idx)


def stable(losses, completed: bool, floor: float = FLOOR) -> bool:
    r"""A run is stable when it completed, its loss never rose above its start, and it still descends at its end:
    the loss reached :math:`\mathrm{floor}\cdot L(0)`, or fell by a tenth over the second half,
    :math:`L(E) \le 0.9\,L(E/2)` (a run stalled on a plateau is not).

    Examples:
        >>> from implicit.studies.minibatch import stable
        >>> stable([1.0, 0.1, 0.01, 0.001, 1e-4], True), stable([1.0, 0.5, 0.5, 0.6, 0.6], True)
        (True, False)
        >>> stable([1.0, 3.0, 0.1, 0.01, 1e-3], True)  # rose above its start on the way
        False
    """
    L = np.asarray(losses, dtype=float)
    if not completed or not np.isfinite(L).all() or L.max() > L[0]:
        return False
    return bool(L.min() <= floor * L[0] or L[-1] <= 0.9 * L[len(L) // 2])


def predicted_rate(lr: float, batch_size: int, n: int, lam_min: float) -> float:
    r"""The :math:`b/n`-scaled prediction of the per-epoch loss rate: in expectation a batch step moves the residual
    by :math:`-\alpha\frac bn H r`, so :math:`n/b` steps contract the loss by
    :math:`(1-\alpha\frac bn\lambda_{\min}(H))^{2n/b}` (for :math:`b = n`, gradient descent's
    :math:`(1-\alpha\lambda)^2`).

    Examples:
        >>> from implicit.studies.minibatch import predicted_rate
        >>> predicted_rate(0.5, 10, 10, 0.2)
        0.81
    """
    return (1 - lr * batch_size / n * lam_min) ** (2 * n / batch_size)


def du_kernel(X: torch.Tensor) -> torch.Tensor:
    r"""The two-layer Gram matrix of Du et al. (2019), :math:`H^\infty_{ij} = x_i^\top x_j\,
    \frac{\pi - \arccos(x_i^\top x_j)}{2\pi}` for unit rows, i.e. :math:`XX^\top\circ\kappa_0(XX^\top)`.

    Examples:
        >>> import torch
        >>> from implicit.studies.minibatch import du_kernel
        >>> du_kernel(torch.eye(2, dtype=torch.float64)).tolist()  # orthogonal inputs: x'x = 0 off the diagonal
        [[0.5, 0.0], [0.0, 0.5]]
    """
    C = X @ X.T
    return C * arccos_kernel(C, 0)


def _spectrum(net: ImplicitNet, X: torch.Tensor) -> tuple[float, float]:
    eig = torch.linalg.eigvalsh(gram_blocks(net, X).total)
    return float(eig[0]), float(eig[-1])


def _run(X, y, m: int, gamma: float, seed: int, c: float, b: int, epochs: int) -> dict:
    net = ImplicitNet(X.shape[1], m, gamma, seed=seed, check_wellposed=False)
    lam_min, lam_max = _spectrum(net, X)
    lr = c / lam_max
    h = sgd(net, X, y, lr, epochs, batch_size=b, seed=seed, gram_every=max(epochs, 1), blowup=1e3,
            progress=False, norms=False)
    L = h["loss"].tolist()
    return {"seed": seed, "lr": lr, "lambda_min_H0": lam_min, "lambda_max_H0": lam_max, "loss": L,
            "lambda_min_H_end": h.final("lambda_min_H"), "stopped": h.stopped,
            "stable": stable(L, h.stopped is None and len(L) == epochs + 1)}


def sgd_cell(dataset: str, batch_size: int, profile: Profile = PROFILE) -> dict:
    r"""One data set and batch size: raise :math:`c` by factors of 2 while every seed is stable; keep the curves at
    the largest stable :math:`c` (``chosen``), the outcome of each :math:`c` tried (``tried``) and, for each, the
    final loss ratio, :math:`\lambda_{\min}(H)` at the end and the reason of an early stop (``tried_detail``).

    Examples:
        >>> from implicit.studies.minibatch import Profile
        >>> tiny = Profile(datasets=("sphere",), n=8, m=16, epochs=4, seeds=2, batch_sizes=(8, 2), gammas=(0.1,),
        ...                gamma_steps=5, kernel_ns=(8,))
        >>> from implicit.studies.minibatch import sgd_cell
        >>> cell = sgd_cell("sphere", 2, tiny)
        >>> cell["batch_size"], len(cell["tried"]) >= 1
        (2, True)
    """
    X, y, info = make_data(dataset, profile.n)
    tried, detail, chosen, c = {}, {}, None, 1.0
    while c <= 4096:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TrainingStopped)
            runs = [_run(X, y, profile.m, profile.gamma, s, c, batch_size, profile.epochs)
                    for s in range(profile.seeds)]
        tried[str(c)] = [r["stable"] for r in runs]
        detail[str(c)] = [{"loss_end": r["loss"][-1] / r["loss"][0], "lambda_min_H_end": r["lambda_min_H_end"],
                           "stopped": r["stopped"]} for r in runs]
        if not all(r["stable"] for r in runs):
            break
        chosen = {"c": c, "runs": runs}
        c *= 2
    return {"kind": "sgd", "dataset": dataset, "batch_size": batch_size, "data": info, "tried": tried,
            "tried_detail": detail, "chosen": chosen}


def gamma_cell(gamma: float, profile: Profile = PROFILE, dataset: str = "sphere") -> dict:
    r"""Gradient descent at :math:`\alpha = 1/\lambda_{\max}(H(0))` for ``gamma_steps`` steps and every seed (nets
    built with ``check_wellposed=False``; the certified factor is recorded), and the infinite-width
    :math:`\lambda_{\min}(H^\infty)`, :math:`\lambda_{\max}(H^\infty)` against :math:`\lambda_0`.

    Examples:
        >>> from implicit.studies.minibatch import Profile
        >>> tiny = Profile(datasets=("sphere",), n=8, m=16, epochs=4, seeds=2, batch_sizes=(8, 2), gammas=(0.1,),
        ...                gamma_steps=5, kernel_ns=(8,))
        >>> from implicit.studies.minibatch import gamma_cell
        >>> cell = gamma_cell(0.1, tiny)
        >>> cell["gamma"], len(cell["runs"]), cell["lambda_min_Hinf"] > cell["lambda0"]
        (0.1, 2, True)
    """
    X, y, info = make_data(dataset, profile.n)
    H = ntk_limit(X, gamma)
    eig = torch.linalg.eigvalsh(H)
    runs = []
    for s in range(profile.seeds):
        net = ImplicitNet(X.shape[1], profile.m, gamma, seed=s, check_wellposed=False)
        factor = net.contraction_factor()
        lam_min, lam_max = _spectrum(net, X)
        h = gradient_descent(net, X, y, 1 / lam_max, profile.gamma_steps, gram_every=profile.gamma_steps,
                             blowup=1e3, progress=False, norms=False)
        L = h["loss"]
        runs.append({"seed": s, "certified_factor": factor, "lr": 1 / lam_max, "lambda_min_H0": lam_min,
                     "lambda_max_H0": lam_max, "rate": linear_rate(L), "stopped": h.stopped,
                     "loss_end": float(L[-1] / L[0])})
    return {"kind": "gamma", "dataset": dataset, "gamma": gamma, "n": profile.n, "m": profile.m, "data": info,
            "lambda0": lambda0(X), "lambda_min_Hinf": float(eig[0]), "lambda_max_Hinf": float(eig[-1]), "runs": runs}


def kernel_cell(dataset: str, n: int, gamma: float = 0.1) -> dict:
    r""":math:`\lambda_0 = \lambda_{\min}(G^\infty)`, :math:`\lambda_{\min}` of Du et al.'s kernel
    (:func:`du_kernel`) and of :math:`H^\infty` at ``gamma`` on the data set's first ``n`` samples.

    Examples:
        >>> from implicit.studies.minibatch import kernel_cell
        >>> cell = kernel_cell("sphere", 8)
        >>> cell["lambda_du"] > cell["lambda0"] > 0
        True
    """
    X, _, info = make_data(dataset, n)
    return {"kind": "kernel", "dataset": dataset, "n": n, "gamma": gamma, "data": info, "lambda0": lambda0(X),
            "lambda_du": lambda_min(du_kernel(X)), "lambda_min_Hinf": lambda_min(ntk_limit(X, gamma))}


def _tasks(profile: Profile) -> list[tuple[str, object]]:
    tasks: list[tuple[str, object]] = [(f"kernel-{d}-n{n}", (kernel_cell, d, n)) for d in profile.datasets
                                       for n in profile.kernel_ns]
    tasks += [(f"gamma-{g:g}", (gamma_cell, g, profile)) for g in profile.gammas]
    tasks += [(f"sgd-{d}-b{b}", (sgd_cell, d, b, profile)) for d in profile.datasets for b in profile.batch_sizes]
    return tasks


def run_study(out_dir: str | Path, profile: Profile = PROFILE, log=print) -> None:
    """Run every cell not yet stored in ``out_dir`` (one JSON file per cell, written atomically with provenance).

    Examples:
        >>> import tempfile
        >>> from implicit.studies.minibatch import Profile
        >>> tiny = Profile(datasets=("sphere",), n=8, m=16, epochs=4, seeds=2, batch_sizes=(8, 2), gammas=(0.1,),
        ...                gamma_steps=5, kernel_ns=(8,))
        >>> from implicit.studies.minibatch import load_study, run_study
        >>> out = tempfile.mkdtemp()
        >>> run_study(out, tiny, log=lambda line: None)
        >>> {kind: len(cells) for kind, cells in load_study(out).items()}
        {'sgd': 2, 'gamma': 1, 'kernel': 1}
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, (fn, *args) in _tasks(profile):
        path = out / f"{name}.json"
        if path.is_file():
            continue
        log(f"running {name}")
        record = fn(*args)
        records.write_json(path, {**record, "profile": asdict(profile), "provenance": provenance("cpu")}, indent=1)


def load_study(folder: str | Path | None = None) -> dict[str, dict]:
    """The cells in ``folder`` (default: the results stored with the package) by kind:
    ``{"sgd": {(data set, b): cell}, "gamma": {gamma: cell},
    "kernel": {(data set, n): cell}}``.

    Examples:
        >>> from implicit.studies.minibatch import load_study
        >>> study = load_study()
        >>> sorted(study), sorted(study["sgd"])[:2]
        (['gamma', 'kernel', 'sgd'], [('digits', 4), ('digits', 16)])
    """
    out: dict[str, dict] = {"sgd": {}, "gamma": {}, "kernel": {}}
    for path in sorted(Path(results_dir("minibatch") if folder is None else folder).glob("*.json")):
        rec = records.read_json(path, required=("kind",))
        key = {"sgd": lambda r: (r["dataset"], r["batch_size"]), "gamma": lambda r: r["gamma"],
               "kernel": lambda r: (r["dataset"], r["n"])}[rec["kind"]](rec)
        out[rec["kind"]][key] = rec
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def paired(a: list[float], b: list[float], k: float = 2.0) -> tuple[float, float, int]:
    r"""Seed-paired differences :math:`b_s - a_s`: their mean, standard error and sign by the rule: ``+1`` if the
    mean exceeds ``k`` standard errors, ``-1`` if it is below minus ``k`` standard errors, else 0 (not decided).

    Examples:
        >>> from implicit.studies.minibatch import paired
        >>> mean, se, sign = paired([1.0, 2.0, 3.0], [1.5, 2.4, 3.6])  # +0.5, +0.4, +0.6
        >>> round(mean, 12), round(se, 6), sign
        (0.5, 0.057735, 1)
    """
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    mean, se = mean_se(d)
    if len(d) < 2:  # one seed decides nothing
        se = math.nan
    return mean, se, int(mean > k * se) - int(mean < -k * se)


def banded(values: list[float], level: float, k: float = 2.0) -> tuple[float, float, int]:
    r"""Mean and standard error of ``values`` over seeds and where the band mean :math:`\pm` ``k`` SE lies against
    ``level``: ``+1`` above, ``-1`` below, 0 if it contains it.

    Examples:
        >>> from implicit.studies.minibatch import banded
        >>> banded([0.9, 0.91, 0.92], 1.0)[2], banded([0.9, 1.1], 1.0)[2]
        (-1, 0)
    """
    mean, se = mean_se(values)
    return mean, se, int(mean - k * se > level) - int(mean + k * se < level)


def width_du(n: int, lam: float, delta: float = 0.1) -> float:
    r"""The width of Du et al. (2019, Theorems 3.1 and 4.1), :math:`m = n^6/(\lambda^4\delta^3)` with its constant
    taken as 1 and :math:`\lambda` the smallest eigenvalue of their kernel (:func:`du_kernel`).

    Examples:
        >>> from implicit.studies.minibatch import width_du
        >>> f"{width_du(10, 0.1, 0.1):.3g}"  # 10^6 / (10^-4 10^-3)
        '1e+13'
    """
    return n ** 6 / (lam ** 4 * delta ** 3)


def _stats(cell: dict) -> dict:
    runs, n, b = cell["chosen"]["runs"], cell["data"]["n"], cell["batch_size"]
    rates = [linear_rate(r["loss"]) for r in runs]
    pred = [predicted_rate(r["lr"], b, n, r["lambda_min_H0"]) for r in runs]
    end = [predicted_rate(r["lr"], b, n, r["lambda_min_H_end"]) for r in runs]
    return {"rates": rates, "log_rates": [math.log(x) for x in rates],
            "q": [math.log(x) / math.log(p) for x, p in zip(rates, pred, strict=True)],
            "q_end": [math.log(x) / math.log(p) for x, p in zip(rates, end, strict=True)],
            "floors": [min(r["loss"]) / r["loss"][0] for r in runs]}


def sgd_summary(study: dict, k: float = 2.0) -> list[dict]:
    r"""One row per data set and batch size of a study read by :func:`load_study`, at the largest stable step: the
    step factor :math:`c` (:math:`\alpha = c/\lambda_{\max}(H(0))`), the late per-epoch rate (:func:`linear_rate`)
    and the ratio ``q`` of its exponent to the :math:`b/n`-scaled prediction's (:func:`predicted_rate`), mean and
    SE over seeds, and three outcomes by the rules of the chapter (``k`` standard errors):

    * ``vs_gd``: paired by seed, :math:`\log\rho_b - \log\rho_n` below :math:`-k` SE: *faster per epoch than
      GD*; above :math:`k` SE: *slower per epoch than GD*; else not decided.
    * ``prediction``: ``q`` above 1 by more than ``k`` SE: *faster than predicted*; below: *slower than predicted*;
      else *as predicted*. ``prediction_end``: the same for ``q_end``, the prediction from :math:`\lambda_{\min}(H)`
      at the end of training instead of :math:`H(0)`.
    * ``floor``: every seed below :data:`FLOOR`: *reaches round-off*; else the late rate below 1 by more than ``k``
      SE: *linear to the end*; else not decided.

    Examples:
        >>> from implicit.studies.minibatch import load_study, sgd_summary
        >>> rows = sgd_summary(load_study())
        >>> sorted({row["dataset"] for row in rows})
        ['digits', 'mnist', 'sphere']
    """
    rows = []
    for (ds, b), cell in study["sgd"].items():
        if cell["chosen"] is None:
            continue
        st, gd = _stats(cell), _stats(study["sgd"][ds, cell["data"]["n"]])
        q, q_end, rate = banded(st["q"], 1.0, k), banded(st["q_end"], 1.0, k), banded(st["rates"], 1.0, k)
        words = {1: "faster than predicted", -1: "slower than predicted", 0: "as predicted"}
        vs = paired(gd["log_rates"], st["log_rates"], k) if b != cell["data"]["n"] else (0.0, 0.0, 0)
        reached = all(f <= FLOOR for f in st["floors"])
        rows.append({"dataset": ds, "b": b, "c": cell["chosen"]["c"], "seeds": len(st["rates"]),
                     "tried": cell["tried"], "rate": rate[:2], "q": q[:2], "q_end": q_end[:2],
                     "floor": max(st["floors"]),
                     "vs_gd": "—" if b == cell["data"]["n"] else
                     {-1: "faster per epoch than GD", 1: "slower per epoch than GD", 0: NOT_DECIDED}[vs[2]],
                     "prediction": words[q[2]], "prediction_end": words[q_end[2]],
                     "interpolation": "reaches round-off" if reached else
                     {-1: "linear to the end", 0: NOT_DECIDED, 1: "loss grows"}[rate[2]], "paired": vs[:2]})
    return sorted(rows, key=lambda r: (r["dataset"], -r["b"]))


def gamma_summary(study: dict, k: float = 2.0) -> dict:
    r"""The :math:`\gamma` cells as columns over :math:`\gamma` (``table``: ratio :math:`\lambda_{\min}(H^\infty)/
    \lambda_0`, the exponent :math:`-\log\rho` of the measured GD rate, its ratio ``q`` to
    :math:`2\alpha\lambda_{\min}(H(0))`, the largest certified factor, all as mean and SE over seeds) and the
    verdicts of two seed-paired rules between the smallest and the largest :math:`\gamma` (``k`` SE): does the
    exponent change (``rate``), and does ``q`` change (``beyond_H``), with the certificate's edge (the largest
    :math:`\gamma` at which every seed is certified).

    Examples:
        >>> from implicit.studies.minibatch import gamma_summary, load_study
        >>> summary = gamma_summary(load_study())
        >>> summary["table"]["gamma"][0], summary["table"]["gamma"][-1]
        (0.05, 0.5)
    """
    cells = list(study["gamma"].values())
    expo = [[-math.log(r["rate"]) for r in c["runs"]] for c in cells]
    q = [[e / (2 * r["lr"] * r["lambda_min_H0"]) for e, r in zip(es, c["runs"], strict=True)]
         for es, c in zip(expo, cells, strict=True)]
    table = {"gamma": [c["gamma"] for c in cells],
             "hinf_over_lambda0": [c["lambda_min_Hinf"] / c["lambda0"] for c in cells],
             "hinf_condition": [c["lambda_min_Hinf"] / c["lambda_max_Hinf"] for c in cells],
             "exponent": [banded(e, 0.0)[:2] for e in expo], "q": [banded(x, 0.0)[:2] for x in q],
             "factor": [max(r["certified_factor"] for r in c["runs"]) for c in cells]}
    certified = [g for g, f in zip(table["gamma"], table["factor"], strict=True) if f < 1]
    words = {1: "rises", -1: "falls", 0: NOT_DECIDED}
    rate, beyond = paired(expo[0], expo[-1], k), paired(q[0], q[-1], k)
    return {"table": table, "rate": rate, "beyond_H": beyond, "rate_verdict": words[rate[2]],
            "beyond_verdict": words[beyond[2]], "edge": max(certified) if certified else None}


def width_rows(study: dict, width_study: dict, delta: float = 0.1) -> list[dict]:
    r"""One row per kernel cell: :math:`\lambda_0`, Du et al.'s :math:`\lambda` (:func:`du_kernel`),
    :math:`\lambda_{\min}(H^\infty)`, the widths each theory asks for with constants 1 and failure probability
    ``delta`` (Du et al.: :func:`width_du`; Theorem 3.1: :func:`implicit.theory.width_lemma_3_3`; Lemma 3.5 from the
    width study where it has the group) and the widths the width study measured (``None`` where it has no group).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.minibatch import load_study, width_rows
        >>> from implicit.studies.width import load_study as load_width
        >>> rows = width_rows(load_study(), load_width(results_dir("width") / "width-full.json"))
        >>> all(row["width_du"] > row["width_thm31"] for row in rows)
        True
    """
    from ..theory import width_lemma_3_3
    from .width import summary_table

    measured = {(r["dataset"], r["n"]): r for r in summary_table(width_study)}
    rows = []
    for (ds, n), c in study["kernel"].items():
        w = measured.get((ds, n), {})
        rows.append({"dataset": ds, "n": n, "lambda0": c["lambda0"], "lambda_du": c["lambda_du"],
                     "lambda_hinf": c["lambda_min_Hinf"], "width_du": width_du(n, c["lambda_du"], delta),
                     "width_thm31": width_lemma_3_3(n, c["lambda0"], delta), "width_lem35": w.get("lemma_3_5"),
                     "measured_H": w.get("m_min_gram_H"), "measured_G0": w.get("m_min_gram_G0")})
    return rows


#: The options that replace fields of the profile.
OVERRIDES = (Override("epochs", "epochs of every SGD run"), Override("seeds", "seeds per cell"),
             Override("batch_sizes", "mini-batch sizes", many=True))


@command
def main(argv: list[str]) -> None:
    """``python -m implicit minibatch-study [--out DIR] [--epochs N] [--seeds N] [--batch-sizes B ...]``: run every
    cell not yet stored in ``--out`` (default: a folder ``results/minibatch`` under the current directory).

    Examples:
        >>> from implicit.studies.minibatch import main
        >>> main(["--epochs", "0"])  # checked before any work
        2
    """
    args = parser("python -m implicit minibatch-study", __doc__.splitlines()[0], {"default": PROFILE}, OVERRIDES,
                  default_out="results/minibatch").parse_args(argv)
    if device_from(args).type != "cpu":
        raise CommandError("the mini-batch study runs on the CPU (its cells are small: n = m = 64); drop --device")
    if args.threads is None:
        torch.set_num_threads(1)  # the stored cells were run on one thread
    profile = apply_overrides(PROFILE, args, OVERRIDES)
    run_study(out_folder(args.out), profile)

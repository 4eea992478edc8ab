r"""Width in practice: the smallest width at which gradient descent behaves as Theorem 3.2 says, against the widths
the theorems demand, and a :math:`\gamma` sweep to the edge of well-posedness and past it.

**One cell** (:func:`run_cell`) is one data set, sample count :math:`n`, width :math:`m`, initialisation seed and
:math:`\gamma`: full-batch gradient descent on :math:`L = \frac12\|\hat y - y\|^2` with the constant step

.. math:: \alpha = \eta / \lambda_{\max}(H(0)), \qquad \eta = 1,

computed once at initialisation from the closed-form Gram matrix (:func:`implicit.gram.gram_blocks`), for a fixed
budget of :math:`K` steps. The step is the scale-free choice used throughout the book (stable for :math:`\eta<2` on the
linearised model). Data are fixed per :math:`(\text{data set}, n)`; the seeds vary the initialisation only.

* ``sphere``: :math:`n` points uniform on :math:`\mathbb S^{15}` (:func:`implicit.data.sphere`, ``d = 16``) with
  random :math:`\pm1` labels: memorisation, the hard case.
* ``mnist``: classes 0 and 1 of MNIST, :math:`n/2` training images each (:func:`implicit.data.load_binary`), unit
  norm, real labels :math:`\pm1`.
* ``digits``: scikit-learn's bundled 8×8 digits 0/1 (offline fallback, :math:`n\le 360`).

**The success criterion** (:func:`judge`). "GD converges linearly" means that the run satisfies, on its whole budget,
the conclusions Theorem 3.2 / Lemma 3.6 state, with the paper's own constant :math:`\lambda_0 = \lambda_{\min}(G^\infty)`:

1. the run completes :math:`K` steps (no divergence, NaN, failed solve or lost well-posedness);
2. the loss never increases: :math:`L(k+1) \le (1 + 10^{-12})\,L(k)` for all :math:`k < K` (round-off allowance);
3. Theorem 3.2's envelope: :math:`L(k) \le (1 - \alpha\lambda_0/2)^k L(0)` for all :math:`k \le K`;
4. Lemma 3.6 (1) for the Gram matrix that drives the dynamics: :math:`\lambda_{\min}(H(\theta_k)) \ge \lambda_0/2` at
   :math:`k = 0` and :math:`k = K`.

Why not ":math:`L(K)/L(0)\le\varepsilon`": with a fixed step :math:`\alpha\le 2/\lambda_{\max}`, reaching
:math:`\varepsilon` takes about :math:`\kappa(H)\log(1/\varepsilon)/2` steps, and we measured
:math:`\kappa(H(0))\approx 70, 220, 650` at :math:`n = 50, 100, 200` (sphere, :math:`m = 256`), growing like
:math:`n^{1.7}`: at :math:`n = 1000` even the widest network would need :math:`\sim 10^4` steps, so an
:math:`\varepsilon`-criterion with an affordable budget measures the conditioning of the data, not the width.
Conditions 1–4 do not depend on reaching a target; they fail at small widths for two visible reasons: the Gram
matrix is (nearly) singular at initialisation (too few parameters, :math:`\lambda_{\min}(H(0)) < \lambda_0/2`), or
training moves it there (a collapsed unit, :math:`\lambda_{\min}(H(K)) < \lambda_0/2`); the tiniest widths also take
non-monotone steps. Condition 4 is the theorem's invariant with :math:`H \succeq G` in place of :math:`G`: for
:math:`G = \Phi\Phi^\top` itself (rank :math:`\le m`) it cannot hold below :math:`m = n`; that stronger event,
Lemma 3.3's :math:`\lambda_{\min}(G(0)) \ge 3\lambda_0/4`, is measured separately on a wider grid from the
initialisation alone (:func:`g_event_cell`), because it needs no training.

**Minimal width** (:func:`minimal_width`): the smallest width on the grid whose success rate over seeds is at least
0.9 *and stays* at least 0.9 for every larger width on the grid (``first`` reports the smallest width reaching 0.9
regardless).

**Theorem widths** (:func:`theorem_widths`), every hidden constant taken as 1 and :math:`\delta = 0.1`:
Theorem 3.1 / Lemma 3.3, :math:`m \ge (n^2/\lambda_0^2)\log(n/\delta)`; Lemma 3.5,
:math:`m \ge c^2 n\|X\|^2\|\hat y(0) - y\|^2/\lambda_0^3` with :math:`c`, :math:`\|\hat y(0)-y\|` measured at the
widest grid width (median over seeds).

**The** :math:`\gamma` **sweep** (:func:`gamma_cell`) at one :math:`(n, m)` per data set records, per :math:`\gamma`:
the certified contraction factor :math:`\tilde\gamma\|A(0)\|_2` (the certificate fails once it reaches 1, near
:math:`\gamma\approx 0.5` since :math:`\|A\|_2\approx 2\sqrt m`), the Picard iteration count and empirical rate of the
forward solve from :math:`z^0 = 0` (tolerance :math:`10^{-12}`), whether it converged, and the training outcome (the
criterion above, with ``check_wellposed=False`` so that training is attempted past the certificate). The model
accepts only :math:`\gamma\in(0,1)`; past 1 the sweep probes the forward solver alone
(:func:`implicit.autodiff.solve_equilibrium` at :math:`\tilde\gamma = \gamma/\sqrt m`, same :math:`A, W`).

Profiles (:data:`PROFILES`): ``fast`` (the book's live run, ≤ 40 s on 2 CPU cores), ``medium`` (CPU, ≤ 15 min),
``full`` (n up to 1000, one GPU, ≤ 3 min). Results go to one JSON file per profile with provenance;
:func:`load_study` reads it back. Run from the shell: ``python -m implicit width-study --profile fast``.
"""
from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor
from tqdm.std import tqdm

from .autodiff import solve_equilibrium
from .data import digits, load_binary, sphere
from .gram import gram_blocks
from .kernels import lambda0, random_feature_kernel
from .linearization import linearize
from .model import ImplicitNet
from .runtime import device_name, provenance, quiet
from .solvers import ConvergenceError
from .theory import Setting, width_lemma_3_3, width_lemma_3_5
from .train import TrainingStopped, gradient_descent
from .linalg import spectral_norm
from .wellposed import NotWellPosedError

__all__ = ["Criterion", "Profile", "PROFILES", "DATASETS", "make_data", "run_cell", "judge", "g_event_cell",
           "success_rates", "minimal_width", "theorem_widths", "gamma_cell", "run_study", "load_study",
           "summary_table", "plot_phase", "plot_gamma_sweep", "main", "DEFAULT_OUT"]

#: Where the book reads stored results from.
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "book" / "data" / "width"
#: Data sets of the study.
DATASETS = ("sphere", "mnist", "digits")
#: Input dimension of the synthetic sphere data.
SPHERE_DIM = 16
#: Seed of the data draw (sample of images, sphere points, random labels); the net seeds vary separately.
DATA_SEED = 0


# -- settings --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Criterion:
    r"""Parameters of the success criterion (see the module docstring).

    Attributes:
        rel_increase: round-off allowance of the monotonicity test, :math:`L(k+1)\le(1+\text{rel\_increase})L(k)`.
        lam_fraction: condition 4, :math:`\lambda_{\min}(H)\ge\text{lam\_fraction}\cdot\lambda_0` (Lemma 3.6: 1/2).
        g_fraction: Lemma 3.3's event :math:`\lambda_{\min}(G(0))\ge\text{g\_fraction}\cdot\lambda_0` (3/4).
        rate: the success rate over seeds that defines the minimal width (0.9).
        delta: failure probability in the theorem widths' :math:`\log(n/\delta)` (0.1, matching ``rate``).
    """

    rel_increase: float = 1e-12
    lam_fraction: float = 0.5
    g_fraction: float = 0.75
    rate: float = 0.9
    delta: float = 0.1


@dataclass(frozen=True)
class Profile:
    """The sizes of one study. ``seeds`` are the initialisation seeds ``0..seeds-1``.

    Attributes:
        datasets, ns, widths: the grid of the GD study. ``g_widths``: the (wider) grid of the init-only Lemma 3.3
            study. ``steps``: the budget :math:`K`. ``eta``: :math:`\\alpha = \\eta/\\lambda_{\\max}(H(0))`.
        gammas: the sweep's :math:`\\gamma` values (those :math:`\\ge 1` probe the forward solver only), at
            ``gamma_n`` samples and width ``gamma_m`` with ``gamma_seeds`` seeds and ``gamma_steps`` steps.
    """

    name: str
    datasets: tuple[str, ...]
    ns: tuple[int, ...]
    widths: tuple[int, ...]
    seeds: int
    steps: int
    g_widths: tuple[int, ...]
    gammas: tuple[float, ...]
    gamma_n: int
    gamma_m: int
    gamma_seeds: int
    gamma_steps: int
    eta: float = 1.0
    gamma: float = 0.1
    sphere_dim: int = SPHERE_DIM
    dtype: str = "float64"


_GAMMAS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.05, 1.1, 1.2, 1.5)

PROFILES: dict[str, Profile] = {
    # The book's live run: about 25 s on one idle CPU core.
    "fast": Profile("fast", ("sphere", "mnist"), (20, 50, 100), (2, 4, 8, 16, 32, 64), 5, 30,
                    (16, 64, 256, 1024, 4096), (0.1, 0.5, 0.7, 0.9, 0.99, 1.2), 50, 32, 2, 15),
    # CPU fallback for the stored data: about 10 min with 2 threads.
    "medium": Profile("medium", ("sphere", "mnist"), (50, 100, 200, 500), (2, 4, 8, 16, 32, 64, 128), 10, 50,
                      (32, 128, 512, 2048, 8192), _GAMMAS, 100, 64, 3, 50),
    # One GPU, about 3 min: launch-bound at about 3-5 ms per GD step (about 23 warm-started Picard iterations of
    # ~18 small kernels each, plus a host sync per iteration), 30k steps, plus 2 SVDs and 4 eigvalsh per cell.
    # Width 4 always fails at n >= 50 (medium profile), so the grid starts at 8 and reaches 256 for n = 1000.
    "full": Profile("full", ("sphere", "mnist"), (50, 100, 200, 500, 1000), (8, 16, 32, 64, 128, 256), 10, 50,
                    (128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768),
                    (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.05, 1.1, 1.2, 1.5),
                    200, 128, 2, 40),
}


# -- data ------------------------------------------------------------------------------------------------------------

def make_data(dataset: str, n: int, *, sphere_dim: int = SPHERE_DIM, data_dir: str | Path | None = None,
              dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> tuple[Tensor, Tensor, dict]:
    r"""The training set of one :math:`(\text{data set}, n)`: unit-norm rows ``X`` (n, d), targets ``y`` in
    :math:`\{\pm1\}`, and a provenance dict. Fixed by :data:`DATA_SEED`, independent of the net seed."""
    if dataset == "sphere":
        X = sphere(n, sphere_dim, seed=DATA_SEED)
        gen = torch.Generator().manual_seed(10_000 + DATA_SEED)
        y = torch.randint(0, 2, (n,), generator=gen).to(torch.float64) * 2 - 1
        info = {"dataset": "sphere", "d": sphere_dim, "labels": "random +-1 (memorisation)", "seed": DATA_SEED}
    elif dataset == "mnist":
        if n % 2:
            raise ValueError(f"mnist takes n/2 images per class; n must be even, got {n}")
        data = load_binary("mnist", n // 2, 1, seed=DATA_SEED, data_dir=data_dir)
        X, y, info = data.X_train, data.y_train, {**data.info, "labels": "real, class 0 -> -1, class 1 -> +1"}
    elif dataset == "digits":
        X, y = digits(n, seed=DATA_SEED)
        info = {"dataset": "digits (scikit-learn, 8x8)", "d": 64, "labels": "real +-1", "seed": DATA_SEED}
    else:
        raise ValueError(f"unknown data set {dataset!r}; choose one of {DATASETS}")
    device = torch.device(device)
    return X.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device), {**info, "n": n}


# -- one training cell -----------------------------------------------------------------------------------------------

def _spectrum(net: ImplicitNet, X: Tensor, lin) -> tuple[float, float, float]:
    """``(lambda_min(H), lambda_max(H), lambda_min(G))`` at the linearisation ``lin`` (float64 eigvalsh)."""
    blocks = gram_blocks(net, X, lin)
    eig = torch.linalg.eigvalsh(blocks.total.to(torch.float64))
    return float(eig[0]), float(eig[-1]), float(torch.linalg.eigvalsh(blocks.v.to(torch.float64))[0])


def _rate(losses: np.ndarray) -> float:
    r"""Fitted geometric rate per step over the second half: :math:`\exp(\text{slope of }\log L) `; NaN if too short
    or non-positive."""
    tail = losses[len(losses) // 2:]
    if len(tail) < 2 or not np.all(tail > 0) or not np.all(np.isfinite(tail)):
        return math.nan
    return float(np.exp(np.polyfit(np.arange(len(tail)), np.log(tail), 1)[0]))


def _summarise(losses: list[float], points: int = 16) -> dict[str, list]:
    """The loss at about ``points`` log-spaced steps (always the first and last), for plots without the full curve."""
    K = len(losses) - 1
    ks = sorted({0, K, *np.unique(np.geomspace(1, max(K, 1), points).astype(int)).tolist()} & set(range(K + 1)))
    return {"step": ks, "loss": [losses[k] for k in ks]}


def run_cell(X: Tensor, y: Tensor, m: int, seed: int, *, gamma: float = 0.1, steps: int = 100, eta: float = 1.0,
             lam0: float | None = None, criterion: Criterion = Criterion(), check_wellposed: bool = True,
             max_iter: int = 500) -> dict:
    r"""Train one network with constant-step GD and return the cell record (JSON-ready).

    ``net = ImplicitNet(d, m, gamma, seed=seed)``; :math:`\alpha = \eta/\lambda_{\max}(H(0))`; the steps are
    :func:`implicit.train.gradient_descent` (both fixed points warm-started) without its per-step spectral norms
    (``norms=False``) and with the Gram matrix at the first and last step only. ``max_iter`` is the
    iteration limit of each solve (the net's default, 500). Stops early (``stopped`` holds
    the reason) when the loss is not finite or exceeds :math:`10^6 L(0)`, when the net is not certified well-posed
    (``check_wellposed``), or when a solve fails.

    The record holds the loss summary (:math:`L(0)`, :math:`L(K)`, the largest relative one-step increase, a fitted
    second-half rate, a log-spaced sample of the curve), :math:`\lambda_{\min}, \lambda_{\max}` of :math:`H(0)` and
    :math:`H(K)`, :math:`\lambda_{\min}(G(0))`, :math:`c = \max(\|A(0)\|_2, \|W(0)\|_2)/\sqrt m`,
    :math:`\|\hat y(0) - y\|`, solver iteration counts, wall time, and the verdict of :func:`judge`.
    """
    lam0 = lambda0(X) if lam0 is None else lam0
    start = time.perf_counter()
    net = ImplicitNet(X.shape[1], m, gamma, seed=seed, dtype=X.dtype, device=X.device,
                      check_wellposed=check_wellposed, max_iter=max_iter)
    norm_A = net.contraction_factor() / net.gamma_tilde
    c = max(norm_A, spectral_norm(net.W.detach())[0]) / math.sqrt(m)
    rec: dict = {"m": m, "seed": seed, "gamma": gamma, "eta": eta, "steps": steps, "c": c,
                 "contraction0": net.gamma_tilde * norm_A, "stopped": None}
    try:  # the step size needs lambda_max(H(0)) before training starts
        lr = eta / _spectrum(net, X, linearize(net, X))[1]
    except (NotWellPosedError, ConvergenceError) as err:
        rec.update(stopped=f"step 0: {err}", losses=[], success=False, wall_s=time.perf_counter() - start)
        rec["checks"] = {"completed": False}
        return rec
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingStopped)  # the reason is kept in the record
        h = gradient_descent(net, X, y, lr, steps, gram_every=max(steps, 1), blowup=1e3, progress=False, norms=False)
    rec["stopped"] = h.stopped
    rec["forward_iterations0"] = int(h["forward_iterations"][0])
    rec["lambda_min_H0"], rec["lambda_max_H0"], rec["lambda_min_G0"] = (
        float(h[k][0]) for k in ("lambda_min_H", "lambda_max_H", "lambda_min_G"))
    rec["r0"] = float(h["residual_norm"][0])
    if h.stopped is None:
        rec["lambda_min_HK"], rec["lambda_max_HK"], rec["lambda_min_GK"] = (
            float(h[k][-1]) for k in ("lambda_min_H", "lambda_max_H", "lambda_min_G"))
        rec["contractionK"] = net.contraction_factor()
    L, fwd, adj = h["loss"], h["forward_iterations"][1:], h["adjoint_iterations"][1:]
    losses = L.tolist()
    rec.update(lr=lr, loss0=losses[0], lossK=losses[-1], loss_ratio=losses[-1] / losses[0],
               max_rel_increase=float(np.max(np.diff(L) / L[:-1])) if len(L) > 1 else 0.0,
               rate_second_half=_rate(L), curve=_summarise(losses),
               forward_iterations_mean=float(np.mean(fwd)) if len(fwd) else math.nan,
               forward_iterations_max=int(max(fwd)) if len(fwd) else 0,
               adjoint_iterations_max=int(max(adj)) if len(adj) else 0)
    rec["checks"] = judge(losses, lr, lam0, rec.get("lambda_min_H0", math.nan), rec.get("lambda_min_HK", math.nan),
                          steps, criterion)
    rec["success"] = all(rec["checks"].values())
    rec["wall_s"] = time.perf_counter() - start
    return rec


def judge(losses: list[float] | np.ndarray, lr: float, lam0: float, lam_min_H0: float, lam_min_HK: float,
          steps: int, criterion: Criterion = Criterion()) -> dict[str, bool]:
    r"""The four conditions of the success criterion (module docstring) for one run; success is all of them.

    Args:
        losses: :math:`L(0), \dots, L(k)` as recorded (shorter than ``steps + 1`` if the run stopped early).
        lr: the step :math:`\alpha`. lam0: :math:`\lambda_0`. lam_min_H0, lam_min_HK: :math:`\lambda_{\min}(H)` at the
            first and last step (NaN if not measured, which fails condition 4).
    """
    L = np.asarray(losses, dtype=float)
    completed = len(L) == steps + 1 and bool(np.all(np.isfinite(L)))
    monotone = completed and bool(np.all(L[1:] <= L[:-1] * (1 + criterion.rel_increase)))
    k = np.arange(len(L))
    envelope = completed and bool(np.all(L <= (1 - lr * lam0 / 2) ** k * L[0] * (1 + criterion.rel_increase)))
    threshold = criterion.lam_fraction * lam0
    gram = bool(lam_min_H0 >= threshold) and bool(lam_min_HK >= threshold)  # NaN compares False
    return {"completed": completed, "monotone": monotone, "envelope": envelope, "gram": gram}


def g_event_cell(X: Tensor, m: int, seed: int, lam0: float, criterion: Criterion = Criterion()) -> dict:
    r"""Lemma 3.3's event at width ``m`` from the initialisation alone: :math:`\lambda_{\min}(G(0))` with
    :math:`G(0) = \frac1m\sigma(XW^\top)\sigma(XW^\top)^\top`, :math:`W_{ij}\sim\mathcal N(0,1)` drawn with ``seed``
    (:func:`implicit.kernels.random_feature_kernel`; same law as the network's :math:`G(0)`, an independent draw), and
    whether it reaches ``g_fraction``:math:`\cdot\lambda_0`."""
    G = random_feature_kernel(X, m, seed=seed)
    lam = float(torch.linalg.eigvalsh(G.to(torch.float64))[0])
    return {"m": m, "seed": seed, "lambda_min_G0": lam, "success": lam >= criterion.g_fraction * lam0}


# -- aggregation -----------------------------------------------------------------------------------------------------

def success_rates(cells: list[dict]) -> dict[int, float]:
    """Success rate over seeds for each width: ``{m: fraction of cells with success}``, widths ascending."""
    out: dict[int, list[bool]] = {}
    for cell in cells:
        out.setdefault(int(cell["m"]), []).append(bool(cell["success"]))
    return {m: float(np.mean(v)) for m, v in sorted(out.items())}


def minimal_width(rates: dict[int, float], level: float = 0.9) -> dict[str, int | None]:
    """Minimal widths from per-width success rates: ``stays``, the smallest width with rate ``>= level`` at it and at
    every larger width on the grid; ``first``, the smallest width with rate ``>= level``. ``None`` if never reached."""
    widths = sorted(rates)
    first = next((m for m in widths if rates[m] >= level), None)
    stays = None
    for m in reversed(widths):
        if rates[m] >= level:
            stays = m
        else:
            break
    return {"stays": stays, "first": first}


def theorem_widths(n: int, lam0: float, norm_X: float, c: float, r0: float, delta: float = 0.1) -> dict[str, float]:
    r"""The widths the theory asks for, every hidden constant taken as 1: Theorem 3.1 / Lemma 3.3
    :math:`(n^2/\lambda_0^2)\log(n/\delta)` and Lemma 3.5 :math:`c^2 n\|X\|^2\|\hat y(0)-y\|^2/\lambda_0^3`
    (:mod:`implicit.theory`)."""
    setting = Setting(n=n, m=0, c=c, lam0=lam0, norm_X=norm_X, r0=r0, gamma=0.1)
    return {"theorem_3_1": width_lemma_3_3(n, lam0, delta), "lemma_3_5": width_lemma_3_5(setting),
            "constants": "all hidden constants taken as 1", "delta": delta, "c": c, "r0": r0, "norm_X": norm_X}


# -- the gamma sweep -------------------------------------------------------------------------------------------------

def _picard_probe(A: Tensor, phi: Tensor, gamma: float, m: int, max_iter: int) -> dict:
    """Forward solve from zero at ``gamma``: iterations, empirical rate (geometric mean of successive step ratios),
    convergence."""
    try:
        _, stats = solve_equilibrium(A, phi, gamma / math.sqrt(m), max_iter=max_iter)
        converged, trace = True, stats.residual_trace
        iterations = stats.iterations
    except ConvergenceError as err:
        converged, trace, iterations = False, err.stats.residual_trace, err.stats.iterations
    finite = [t for t in trace if math.isfinite(t) and t > 0]
    rate = (finite[-1] / finite[0]) ** (1 / (len(finite) - 1)) if len(finite) > 1 else math.nan
    return {"solver_converged": converged, "picard_iterations": iterations, "picard_rate": rate,
            "picard_final_residual": trace[-1] if trace else math.nan}


def gamma_cell(X: Tensor, y: Tensor, m: int, seed: int, gamma: float, *, steps: int, eta: float = 1.0,
               lam0: float | None = None, criterion: Criterion = Criterion(), max_iter: int = 2000) -> dict:
    r"""One point of the :math:`\gamma` sweep: the certified factor :math:`\tilde\gamma\|A(0)\|_2`, the forward Picard
    solve from zero (iterations, empirical rate, converged?) and, for :math:`\gamma < 1`, a training run
    (:func:`run_cell` with ``check_wellposed=False``). For :math:`\gamma\ge1` (outside the model's domain) only the
    solver is probed, on the same :math:`A, W` as the seed's network. Probe and training use the same iteration
    limit ``max_iter`` (2000, so that slow but convergent solves near :math:`\gamma = 1` are not cut off)."""
    lam0 = lambda0(X) if lam0 is None else lam0
    base = ImplicitNet(X.shape[1], m, min(gamma, 0.5), seed=seed, dtype=X.dtype, device=X.device,
                       check_wellposed=False)
    with torch.no_grad():
        norm_A = float(torch.linalg.matrix_norm(base.A, 2))
        phi = base.features(X)
        rec = {"gamma": gamma, "seed": seed, "m": m, "certified_factor": gamma / math.sqrt(m) * norm_A,
               **_picard_probe(base.A, phi, gamma, m, max_iter)}
    rec["certified"] = rec["certified_factor"] < 1
    if gamma < 1:
        cell = run_cell(X, y, m, seed, gamma=gamma, steps=steps, eta=eta, lam0=lam0, criterion=criterion,
                        check_wellposed=False, max_iter=max_iter)
        keys = ("success", "checks", "stopped", "lambda_min_H0", "lambda_max_H0", "lambda_min_HK", "loss_ratio",
                "forward_iterations_max", "contractionK", "max_rel_increase", "wall_s")
        rec.update({f"train_{k}": cell.get(k) for k in keys})
    return rec


def _first_failure(points: list[dict], key: str) -> float | None:
    """The smallest gamma at which ``key`` is false in a majority of seeds."""
    by: dict[float, list[bool]] = {}
    for p in points:
        if key in p and p[key] is not None:
            by.setdefault(p["gamma"], []).append(bool(p[key]))
    return next((g for g in sorted(by) if np.mean(by[g]) < 0.5), None)


def breaks_first(points: list[dict]) -> dict:
    """Where each of the three breaks in the sweep (smallest :math:`\\gamma` failing in most seeds; ``None`` if not
    within the sweep) and which breaks first."""
    where = {"certificate": _first_failure(points, "certified"),
             "solver": _first_failure(points, "solver_converged"),
             "training": _first_failure(points, "train_success")}
    known = {k: v for k, v in where.items() if v is not None}
    return {**where, "first": min(known, key=known.get) if known else None}


# -- the study -------------------------------------------------------------------------------------------------------

def _settings(profile: Profile, criterion: Criterion) -> dict:
    return json.loads(json.dumps({"profile": asdict(profile), "criterion": asdict(criterion)}))


def _study_group(profile: Profile, criterion: Criterion, dataset: str, n: int, device: torch.device,
                 data_dir, bar: tqdm) -> dict:
    dtype = getattr(torch, profile.dtype)
    X, y, info = make_data(dataset, n, sphere_dim=profile.sphere_dim, data_dir=data_dir, dtype=dtype, device=device)
    lam0 = lambda0(X)
    start = time.perf_counter()
    cells = []
    for m in profile.widths:
        for seed in range(profile.seeds):
            cells.append(run_cell(X, y, m, seed, gamma=profile.gamma, steps=profile.steps, eta=profile.eta,
                                  lam0=lam0, criterion=criterion))
            bar.set_postfix_str(f"{dataset} n={n} m={m}", refresh=False)
            bar.update(1)
    g_cells = [g_event_cell(X, m, seed, lam0, criterion) for m in profile.g_widths if m >= n // 2
               for seed in range(profile.seeds)]
    widest = [c for c in cells if c["m"] == max(profile.widths) and "r0" in c]
    c_med = float(np.median([c["c"] for c in widest])) if widest else math.nan
    r0_med = float(np.median([c["r0"] for c in widest])) if widest else math.nan
    norm_X = float(torch.linalg.matrix_norm(X, 2))
    rates = success_rates(cells)
    g_rates = success_rates(g_cells) if g_cells else {}
    return {"dataset": dataset, "n": n, "data": info, "lambda0": lam0, "norm_X": norm_X,
            "theorem_widths": theorem_widths(n, lam0, norm_X, c_med, r0_med, criterion.delta),
            "success_rate": {str(m): v for m, v in rates.items()},
            "minimal_width": minimal_width(rates, criterion.rate),
            "g_event_rate": {str(m): v for m, v in g_rates.items()},
            "g_event_minimal_width": minimal_width(g_rates, criterion.rate) if g_rates else None,
            "cells": cells, "g_cells": g_cells, "wall_s": time.perf_counter() - start}


def _gamma_group(profile: Profile, criterion: Criterion, dataset: str, device: torch.device, data_dir,
                 bar: tqdm) -> dict:
    dtype = getattr(torch, profile.dtype)
    X, y, info = make_data(dataset, profile.gamma_n, sphere_dim=profile.sphere_dim, data_dir=data_dir, dtype=dtype,
                           device=device)
    lam0 = lambda0(X)
    start = time.perf_counter()
    points = []
    for gamma in profile.gammas:
        for seed in range(profile.gamma_seeds):
            points.append(gamma_cell(X, y, profile.gamma_m, seed, gamma, steps=profile.gamma_steps, eta=profile.eta,
                                     lam0=lam0, criterion=criterion))
            bar.set_postfix_str(f"{dataset} gamma={gamma}", refresh=False)
            bar.update(1)
    return {"dataset": dataset, "n": profile.gamma_n, "m": profile.gamma_m, "data": info, "lambda0": lam0,
            "points": points, "breaks": breaks_first(points), "wall_s": time.perf_counter() - start}


def result_path(out_dir: str | Path, profile: Profile) -> Path:
    return Path(out_dir) / f"width-{profile.name}.json"


def run_study(profile: Profile, out_dir: str | Path = DEFAULT_OUT, *, criterion: Criterion = Criterion(),
              device: str | torch.device = "cpu", data_dir: str | Path | None = None, progress: bool | None = None,
              log: Callable[[str], None] = print) -> Path:
    """Run every group of ``profile`` (one per data set and :math:`n`, plus one :math:`\\gamma` sweep per data set)
    and write ``width-<profile>.json`` into ``out_dir`` after each group. Groups already in the file with the same
    settings are kept, so an interrupted run restarts where it stopped. Returns the file's path."""
    device = torch.device(device)
    path = result_path(out_dir, profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    settings = _settings(profile, criterion)
    record = json.loads(path.read_text()) if path.exists() else {}
    if record.get("settings") != settings:
        record = {"settings": settings, "groups": {}, "gamma_sweep": {}}
    if "provenance" in record:  # resuming: keep where the earlier groups ran
        record.setdefault("earlier_runs", []).append(record["provenance"])
    record["provenance"] = provenance(device)
    record["description"] = ("Width study (implicit.widthstudy): constant-step GD, alpha = eta/lambda_max(H(0)); "
                             "success = completes K steps, monotone loss, Theorem 3.2 envelope, lambda_min(H) >= "
                             "lambda0/2 at k=0 and k=K. Theorem widths with all hidden constants taken as 1.")
    todo = [(ds, n) for ds in profile.datasets for n in profile.ns if f"{ds}/{n}" not in record["groups"]]
    todo_g = [ds for ds in profile.datasets if ds not in record["gamma_sweep"]]
    total = len(todo) * len(profile.widths) * profile.seeds + len(todo_g) * len(profile.gammas) * profile.gamma_seeds
    bar = tqdm(total=total, disable=quiet() if progress is None else not progress, desc=f"width study ({profile.name})")
    begin = time.perf_counter()
    try:
        for ds, n in todo:
            group = _study_group(profile, criterion, ds, n, device, data_dir, bar)
            group["device"] = device_name(device)  # a resumed file may mix devices; each group says where it ran
            record["groups"][f"{ds}/{n}"] = group
            _write(path, record)
            mw, th = group["minimal_width"], group["theorem_widths"]
            log(f"{ds} n={n}: lambda0={group['lambda0']:.3g}, success {group['success_rate']}, minimal width "
                f"{mw['stays']} (Lemma 3.3 event: {(group['g_event_minimal_width'] or {}).get('stays')}), "
                f"Thm 3.1 {th['theorem_3_1']:.2e}, Lemma 3.5 {th['lemma_3_5']:.2e}, {group['wall_s']:.1f}s")
        for ds in todo_g:
            sweep = _gamma_group(profile, criterion, ds, device, data_dir, bar)
            sweep["device"] = device_name(device)
            record["gamma_sweep"][ds] = sweep
            _write(path, record)
            log(f"gamma sweep {ds} (n={sweep['n']}, m={sweep['m']}): breaks {sweep['breaks']}, {sweep['wall_s']:.1f}s")
    finally:
        bar.close()
    record["wall_s_this_run"] = time.perf_counter() - begin
    _write(path, record)
    return path


def _clean(obj):
    """JSON-safe: NaN and inf become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _write(path: Path, record: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_clean(record), separators=(",", ":")) + "\n")
    tmp.replace(path)


def load_study(source: str | Path = DEFAULT_OUT, profile: str | None = None) -> dict:
    """Read a study written by :func:`run_study`: a file, or a folder plus ``profile`` (default: ``full`` if present,
    else ``medium``, else ``fast``). Success-rate keys become ints."""
    path = Path(source)
    if path.is_dir():
        names = [profile] if profile else ["full", "medium", "fast"]
        found = [path / f"width-{p}.json" for p in names if (path / f"width-{p}.json").exists()]
        if not found:
            raise FileNotFoundError(f"no width-{{{','.join(names)}}}.json in {path}")
        path = found[0]
    record = json.loads(path.read_text())
    for group in record["groups"].values():
        for key in ("success_rate", "g_event_rate"):
            group[key] = {int(m): v for m, v in group[key].items()}
    record["path"] = str(path)
    return record


def summary_table(study: dict) -> list[dict]:
    """One row per (data set, n): lambda0, minimal widths (GD criterion, Lemma 3.3 event) and the theorem widths."""
    rows = []
    for group in study["groups"].values():
        th = group["theorem_widths"]
        g = group.get("g_event_minimal_width") or {}
        rows.append({"dataset": group["dataset"], "n": group["n"], "lambda0": group["lambda0"],
                     "m_min_gd": group["minimal_width"]["stays"], "m_min_gd_first": group["minimal_width"]["first"],
                     "m_min_lemma33_event": g.get("stays"), "theorem_3_1": th["theorem_3_1"],
                     "lemma_3_5": th["lemma_3_5"]})
    return sorted(rows, key=lambda r: (r["dataset"], r["n"]))


# -- plots -----------------------------------------------------------------------------------------------------------

def _edges(values: list[float]) -> np.ndarray:
    """Cell edges on a log axis: geometric midpoints, extended by half a step at both ends."""
    v = np.log(np.asarray(values, dtype=float))
    if len(v) == 1:
        return np.exp(np.array([v[0] - 0.5, v[0] + 0.5]))
    mid = (v[1:] + v[:-1]) / 2
    return np.exp(np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]]))


def plot_phase(study: dict, dataset: str, ax=None):
    r"""Phase plot for one data set: success probability of the GD criterion over :math:`(n, m)` (log axes), the
    minimal-width curve, Lemma 3.3's event curve (init only, wider grid) and, since they lie far above the chart, the
    theorem widths as numbers at the top (constants taken as 1)."""
    import matplotlib.pyplot as plt

    groups = sorted((g for g in study["groups"].values() if g["dataset"] == dataset), key=lambda g: g["n"])
    if not groups:
        raise ValueError(f"no groups for data set {dataset!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    ns = [g["n"] for g in groups]
    widths = sorted({m for g in groups for m in g["success_rate"]})
    P = np.full((len(widths), len(ns)), np.nan)
    for j, g in enumerate(groups):
        for i, m in enumerate(widths):
            P[i, j] = g["success_rate"].get(m, np.nan)
    mesh = ax.pcolormesh(_edges(ns), _edges(widths), np.ma.masked_invalid(P), cmap="RdYlGn", vmin=0, vmax=1,
                         shading="flat")
    ax.figure.colorbar(mesh, ax=ax, label="success rate over seeds")
    gd = [g["minimal_width"]["stays"] for g in groups]
    ax.plot([n for n, m in zip(ns, gd) if m], [m for m in gd if m], "o-", color="black",
            label=r"minimal width (GD criterion, $\geq$90%)")
    ev = [(g.get("g_event_minimal_width") or {}).get("stays") for g in groups]
    if any(ev):
        ax.plot([n for n, m in zip(ns, ev) if m], [m for m in ev if m], "s--", color="#7570b3",
                label=r"Lemma 3.3 event $\lambda_{\min}(G(0))\geq 3\lambda_0/4$")
    ax.plot(ns, ns, ":", color="grey", label="m = n")
    ax.set_xscale("log")
    ax.set_yscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("n (samples)")
    ax.set_ylabel("m (width)")
    top = max(max(widths), max((m for m in ev if m), default=1)) * 6
    ax.set_ylim(min(widths) / 1.5, top)
    for n, g in zip(ns, groups):
        th = g["theorem_widths"]
        ax.annotate(f"{th['theorem_3_1']:.0e}\n{th['lemma_3_5']:.0e}", (n, top), textcoords="offset points",
                    xytext=(0, -2), ha="center", va="top", fontsize=7)
    ax.set_title(f"{dataset}: top numbers = Thm 3.1 / Lemma 3.5 widths (constants 1)", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    ax.grid(False)
    return ax


def plot_gamma_sweep(study: dict, dataset: str, ax=None):
    r"""The :math:`\gamma` sweep for one data set: certified factor :math:`\tilde\gamma\|A\|_2`, empirical Picard rate
    (median over seeds), Picard iterations (right axis), and the training success rate, with the three break
    points marked."""
    import matplotlib.pyplot as plt

    sweep = study["gamma_sweep"][dataset]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    gammas = sorted({p["gamma"] for p in sweep["points"]})

    def med(key: str) -> list[float]:
        out = []
        for g in gammas:
            vals = [float(p[key]) for p in sweep["points"] if p["gamma"] == g and p.get(key) is not None]
            out.append(float(np.median(vals)) if vals else np.nan)
        return out

    ax.plot(gammas, med("certified_factor"), "o-", label=r"certified $\tilde\gamma\|A(0)\|_2$")
    ax.plot(gammas, med("picard_rate"), "s-", label="empirical Picard rate")
    ax.plot(gammas, med("train_success"), "^-", label="training success rate")
    ax.axhline(1, color="grey", lw=0.8)
    ax.axvline(1, color="grey", lw=0.8, ls=":")
    ax.set_xlabel(r"$\gamma$")
    ax.set_ylim(0, 2.2)
    right = ax.twinx()
    right.semilogy(gammas, med("picard_iterations"), "x:", color="black", label="Picard iterations (right)")
    right.set_ylabel("Picard iterations from $z^0=0$")
    right.grid(False)
    br = sweep["breaks"]
    ax.set_title(f"{dataset}, n={sweep['n']}, m={sweep['m']}: breaks at certificate {br['certificate']}, "
                 f"solver {br['solver']}, training {br['training']}", fontsize=9)
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=7)
    return ax


# -- command line ----------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    """``python -m implicit width-study [--profile fast|medium|full] [--device cpu|cuda] [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m implicit width-study", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: book/data/width)")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, help="override the profile's data sets")
    parser.add_argument("--ns", nargs="+", type=int, help="override the profile's sample counts")
    parser.add_argument("--widths", nargs="+", type=int, help="override the profile's widths")
    parser.add_argument("--seeds", type=int, help="override the number of seeds")
    parser.add_argument("--steps", type=int, help="override the step budget K")
    parser.add_argument("--gammas", nargs="+", type=float, help="override the gamma sweep's values")
    parser.add_argument("--tag", help="profile name written into the file name and settings")
    parser.add_argument("--threads", type=int, help="torch intra-op threads on the CPU")
    parser.add_argument("--data-dir", help="offline data folder (default: $IMPLICIT_DATA)")
    args = parser.parse_args(argv)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if args.threads:
        torch.set_num_threads(args.threads)
    profile = PROFILES[args.profile]
    overrides = {"datasets": tuple(args.datasets) if args.datasets else None,
                 "ns": tuple(args.ns) if args.ns else None, "widths": tuple(args.widths) if args.widths else None,
                 "seeds": args.seeds, "steps": args.steps, "gammas": tuple(args.gammas) if args.gammas else None,
                 "name": args.tag}
    profile = replace(profile, **{k: v for k, v in overrides.items() if v is not None})
    path = run_study(profile, args.out, device=args.device, data_dir=args.data_dir)
    print(f"wrote {path}")
    for row in summary_table(load_study(path)):
        print(f"  {row['dataset']:7s} n={row['n']:5d} lambda0={row['lambda0']:.3g}  m_min(GD)={row['m_min_gd']}  "
              f"m_min(Lemma 3.3 event)={row['m_min_lemma33_event']}  Thm3.1={row['theorem_3_1']:.2e}  "
              f"Lemma3.5={row['lemma_3_5']:.2e}")

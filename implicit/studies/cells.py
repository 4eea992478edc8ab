r"""The measurements of the width study: its data sets, one training cell, Lemma 3.3's event at initialisation,
and one point of the :math:`\gamma` sweep. Each returns a JSON-ready record.

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

**The** :math:`\gamma` **sweep** (:func:`gamma_cell`) at one :math:`(n, m)` per data set records, per :math:`\gamma`:
the certified contraction factor :math:`\tilde\gamma\|A(0)\|_2` (the certificate fails once it reaches 1, near
:math:`\gamma\approx 0.5` since :math:`\|A\|_2\approx 2\sqrt m`), the Picard iteration count and empirical rate of the
forward solve from :math:`z^0 = 0` (tolerance :math:`10^{-12}`), whether it converged, and the training outcome
(``train_success``: the loss criterion of :mod:`implicit.studies.criterion`, with the three criteria and their
tests kept too; ``check_wellposed=False``, so that training is attempted past the certificate). The model accepts
only :math:`\gamma\in(0,1)`; past 1 the sweep probes the forward solver alone
(:func:`implicit.autodiff.solve_equilibrium` at :math:`\tilde\gamma = \gamma/\sqrt m`, same :math:`A, W`).
"""
from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..autodiff import solve_equilibrium
from ..data import digits, load_binary, sphere
from ..equilibrium_ntk import Quadrature, ntk_limit, ntk_limit_blocks
from ..gram import gram_blocks
from ..kernels import arccos_kernel, lambda0, random_feature_kernel
from ..linalg import spectral_norm
from ..linearization import linearize
from ..model import ImplicitNet
from ..solvers import ConvergenceError
from ..train import TrainingStopped, gradient_descent
from ..wellposed import NotWellPosedError
from .criterion import Criterion, criteria_of, judge, late_rate

__all__ = ["DATASETS", "SPHERE_DIM", "DATA_SEED", "make_data", "run_cell", "g_event_cell", "gamma_cell", "rerun",
           "closed_form_errors", "quadrature_errors", "monte_carlo_z", "finite_width_errors", "limit_alternatives",
           "limit_rates", "picard_prediction"]

#: Data sets of the study.
DATASETS = ("sphere", "mnist", "digits")
#: Input dimension of the synthetic sphere data.
SPHERE_DIM = 16
#: Seed of the data draw (sample of images, sphere points, random labels); the net seeds vary separately.
DATA_SEED = 0


def make_data(dataset: str, n: int, *, sphere_dim: int = SPHERE_DIM, data_dir: str | Path | None = None,
              dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> tuple[Tensor, Tensor, dict]:
    r"""The training set of one :math:`(\text{data set}, n)`: unit-norm rows ``X`` (n, d), targets ``y`` in
    :math:`\{\pm1\}`, and a provenance dict. Fixed by :data:`DATA_SEED`, independent of the net seed.

    Examples:
        >>> from implicit.studies.cells import make_data
        >>> X, y, info = make_data("sphere", 8)
        >>> tuple(X.shape), sorted(set(y.tolist())), info["labels"]
        ((8, 16), [-1.0, 1.0], 'random +-1 (memorisation)')
    """
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


def _spectrum(net: ImplicitNet, X: Tensor, lin) -> tuple[float, float, float]:
    """``(lambda_min(H), lambda_max(H), lambda_min(G))`` at the linearisation ``lin`` (float64 eigvalsh)."""
    blocks = gram_blocks(net, X, lin)
    eig = torch.linalg.eigvalsh(blocks.total.to(torch.float64))
    return float(eig[0]), float(eig[-1]), float(torch.linalg.eigvalsh(blocks.v.to(torch.float64))[0])


def _max_increase(L: np.ndarray, floor: float) -> float:
    """The largest relative one-step change ``L(k+1)/L(k) - 1`` over the steps with ``L(k)`` above round-off
    (``floor * L(0)``); negative when every such step decreases the loss, 0.0 without steps."""
    above = np.flatnonzero(L[:-1] > floor * L[0]) if len(L) > 1 else np.array([], dtype=int)
    return float(np.max(L[above + 1] / L[above] - 1)) if len(above) else 0.0


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

    The record holds the loss summary (:math:`L(0)`, :math:`L(K)`, the largest relative one-step increase above
    round-off, the late rate of :func:`~implicit.studies.criterion.late_rate` as ``rate_second_half``, a log-spaced
    sample of the curve),
    :math:`\lambda_{\min}, \lambda_{\max}` of :math:`H(0)` and :math:`H(K)`, :math:`\lambda_{\min}` of :math:`G(0)`
    and :math:`G(K)`, :math:`c = \max(\|A(0)\|_2, \|W(0)\|_2)/\sqrt m`, :math:`\|\hat y(0) - y\|`, solver
    iteration counts, wall time, every test of :func:`~implicit.studies.criterion.judge` (``checks``) and the three
    criteria they make (``criteria``: ``gram_G``, ``gram_H``, ``loss``), judged separately.

    Examples:
        >>> from implicit.studies.cells import make_data, run_cell
        >>> X, y, _ = make_data("sphere", 8)
        >>> cell = run_cell(X, y, m=32, seed=0, steps=5)
        >>> cell["criteria"], cell["curve"]["step"]  # m = 32 > n = 8: even G = Phi Phi^T keeps lambda0/2
        ({'gram_G': True, 'gram_H': True, 'loss': True}, [0, 1, 2, 3, 4, 5])
        >>> run_cell(X, y, m=16, seed=0, steps=5)["criteria"]  # H keeps lambda0/2, its block G does not
        {'gram_G': False, 'gram_H': True, 'loss': True}
        >>> run_cell(X, y, m=2, seed=0, steps=5)["criteria"]  # too narrow for either Gram matrix
        {'gram_G': False, 'gram_H': False, 'loss': True}
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
        rec.update(stopped=f"step 0: {err}", losses=[], wall_s=time.perf_counter() - start)
        rec["checks"] = {"completed": False}
        rec["criteria"] = criteria_of(rec, lam0, criterion)
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
               max_rel_increase=_max_increase(L, criterion.floor),
               rate_second_half=late_rate(L, criterion.floor), curve=_summarise(losses),
               forward_iterations_mean=float(np.mean(fwd)) if len(fwd) else math.nan,
               forward_iterations_max=int(max(fwd)) if len(fwd) else 0,
               adjoint_iterations_max=int(max(adj)) if len(adj) else 0)
    rec["checks"] = judge(losses, lr, lam0, rec.get("lambda_min_H0", math.nan), rec.get("lambda_min_HK", math.nan),
                          steps, criterion, lam_min_G0=rec.get("lambda_min_G0", math.nan),
                          lam_min_GK=rec.get("lambda_min_GK", math.nan))
    rec["criteria"] = criteria_of(rec, lam0, criterion)
    rec["wall_s"] = time.perf_counter() - start
    return rec


def g_event_cell(X: Tensor, m: int, seed: int, lam0: float, criterion: Criterion = Criterion()) -> dict:
    r"""Lemma 3.3's event at width ``m`` from the initialisation alone: :math:`\lambda_{\min}(G(0))` with
    :math:`G(0) = \frac1m\sigma(XW^\top)\sigma(XW^\top)^\top`, :math:`W_{ij}\sim\mathcal N(0,1)` drawn with ``seed``
    (:func:`implicit.kernels.random_feature_kernel`; same law as the network's :math:`G(0)`, an independent draw), and
    whether it reaches ``g_fraction``:math:`\cdot\lambda_0`.

    Examples:
        >>> from implicit.kernels import lambda0
        >>> from implicit.studies.cells import g_event_cell, make_data
        >>> X, _, _ = make_data("sphere", 8)
        >>> [g_event_cell(X, m, seed=0, lam0=lambda0(X))["success"] for m in (4, 256)]  # G(0) has rank <= m
        [False, True]
    """
    G = random_feature_kernel(X, m, seed=seed)
    lam = float(torch.linalg.eigvalsh(G.to(torch.float64))[0])
    return {"m": m, "seed": seed, "lambda_min_G0": lam, "success": lam >= criterion.g_fraction * lam0}


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
    (:func:`run_cell` with ``check_wellposed=False``; ``train_success`` is its loss criterion). For
    :math:`\gamma\ge1` (outside the model's domain) only the solver is probed, on the same :math:`A, W` as the seed's
    network. Probe and training use the same iteration limit ``max_iter`` (2000, so that slow but convergent solves
    near :math:`\gamma = 1` are not cut off).

    Examples:
        >>> from implicit.studies.cells import gamma_cell, make_data
        >>> X, y, _ = make_data("sphere", 8)
        >>> p = gamma_cell(X, y, m=16, seed=0, gamma=0.3, steps=5)
        >>> p["certified"], p["solver_converged"], p["train_success"]
        (True, True, True)
        >>> p = gamma_cell(X, y, m=16, seed=0, gamma=1.2, steps=5)  # outside the model's domain: the solver alone
        >>> p["certified"], p["solver_converged"], "train_success" in p
        (False, False, False)
    """
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
        keys = ("criteria", "checks", "stopped", "lambda_min_H0", "lambda_max_H0", "lambda_min_HK", "loss_ratio",
                "forward_iterations_max", "contractionK", "max_rel_increase", "wall_s")
        rec.update({f"train_{k}": cell.get(k) for k in keys})
        rec["train_success"] = cell["criteria"]["loss"]
    return rec


# -- the infinite-width limit, checked (the chapter "beyond the paper") ---------------------------------------------

def _rel_max(a: Tensor, b: Tensor) -> float:
    """``max|a - b| / max|b|``."""
    return float((a - b).abs().max() / b.abs().max())


def _rel_fro(a: Tensor, b: Tensor) -> float:
    """``||a - b||_F / ||b||_F``."""
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


def closed_form_errors(X: Tensor, gammas: Sequence[float], beta: float = 1.3) -> list[dict]:
    r"""The quadrature engine against the closed form, on the Gaussian injection :math:`\phi = \beta Wx/\sqrt m`.

    Per :math:`\gamma`: the relative error :math:`\max|H^Q_b - H^C_b|/\max|H^C_b|` of each block :math:`b` (quadrature
    :math:`Q` against closed form :math:`C`, :func:`implicit.equilibrium_ntk.ntk_limit_blocks`), their maximum
    ``worst``, and ``theta``, the largest entry of :math:`|H^C - \Theta^* - 2\beta^2XX^\top|`, where
    :math:`\Theta^* = K + \dot S\circ\Sigma/(1-\gamma^2\dot S)` and :math:`\Sigma = \gamma^2K + \beta^2XX^\top` is the
    recursion form of the equilibrium NTK for Gaussian injections.

    Examples:
        >>> from implicit import data
        >>> from implicit.studies.cells import closed_form_errors
        >>> [row] = closed_form_errors(data.sphere(4, 3, seed=0), [0.1])
        >>> row["worst"] < 1e-12, row["theta"] < 1e-12
        (True, True)
    """
    XX, rows = X @ X.T, []
    for g in gammas:
        closed = ntk_limit_blocks(X, g, injection="linear", beta=beta, method="closed")
        quad = ntk_limit_blocks(X, g, injection="linear", beta=beta, method="quadrature")
        errs = {name: _rel_max(getattr(quad.blocks, name), block) for name, block in closed.blocks.items()}
        sigma = g ** 2 * closed.K + beta ** 2 * XX
        theta = closed.K + closed.Sdot * sigma / (1 - g ** 2 * closed.Sdot)
        rows.append({"gamma": g, **errs, "worst": max(errs.values()),
                     "theta": float((closed.blocks.total - theta - 2 * beta ** 2 * XX).abs().max())})
    return rows


def quadrature_errors(X: Tensor, gammas: Sequence[float], rules: Sequence[Quadrature],
                      reference: Quadrature) -> dict[float, list[float]]:
    r"""The error of quadrature rules for :math:`H^\infty` (ReLU injection): per :math:`\gamma`, for each rule,
    :math:`\max|H^\infty_{\text{rule}} - H^\infty_{\text{ref}}|/\max|H^\infty_{\text{ref}}|` against a much finer
    ``reference`` rule.

    Examples:
        >>> from implicit import data
        >>> from implicit.equilibrium_ntk import Quadrature
        >>> from implicit.studies.cells import quadrature_errors
        >>> errs = quadrature_errors(data.sphere(3, 3, seed=0), [0.1], [Quadrature(3, 8), Quadrature()],
        ...                          reference=Quadrature(16, 48))
        >>> errs[0.1][1] < 1e-12 < errs[0.1][0]  # the default rule is at round-off, a coarse one is not
        True
    """
    out = {}
    for g in gammas:
        ref = ntk_limit(X, g, rule=reference)
        out[g] = [_rel_max(ntk_limit(X, g, rule=rule), ref) for rule in rules]
    return out


def monte_carlo_z(X: Tensor, gamma: float, samples: int, seed: int = 0) -> dict[str, float]:
    r"""Monte Carlo test of the mean-field fixed point. Draw :math:`h = \gamma a + \sigma(g)` with
    :math:`a\sim\mathcal N(0, K)` and :math:`g\sim\mathcal N(0, XX^\top)` independent, and return the largest
    :math:`|\text{sample mean} - \text{limit}|`, in standard errors, of :math:`\sigma(h_i)\sigma(h_j)` against
    :math:`K`, :math:`\sigma'(h_i)\sigma'(h_j)` against :math:`\dot S` and
    :math:`\sigma'(g_i)\sigma'(g_j)\sigma'(h_i)\sigma'(h_j)` against :math:`T`; and (``G_inf``) of
    :math:`\sigma(h_i)\sigma(h_j)` against the :math:`\gamma\to0` kernel :math:`G^\infty`, the wrong answer.

    Examples:
        >>> from implicit import data
        >>> from implicit.studies.cells import monte_carlo_z
        >>> z = monte_carlo_z(data.sphere(3, 3, seed=0), gamma=0.45, samples=20_000)
        >>> max(z["K"], z["Sdot"], z["T"]) < 5 < z["G_inf"]
        True
    """
    lim = ntk_limit_blocks(X, gamma)
    gen = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    a = torch.randn(samples, n, generator=gen, dtype=torch.float64) @ torch.linalg.cholesky(lim.K).T
    g = torch.randn(samples, X.shape[1], generator=gen, dtype=torch.float64) @ X.to(torch.float64).T
    h = gamma * a + torch.relu(g)

    def z(sample: Tensor, target: Tensor) -> float:
        prod = sample[:, :, None] * sample[:, None, :]
        return float(((prod.mean(0) - target) / (prod.std(0) / math.sqrt(samples))).abs().max())

    return {"K": z(torch.relu(h), lim.K), "Sdot": z((h > 0).double(), lim.Sdot),
            "T": z(((g > 0) & (h > 0)).double(), lim.T), "G_inf": z(torch.relu(h), lim.blocks.v)}


def finite_width_errors(X: Tensor, gamma: float, widths: Sequence[int], seeds: int) -> dict[str, list[float]]:
    r"""How far finite widths are from the limit: for each block :math:`b` (``A``, ``W``, ``u``, ``v`` and
    ``total``) and width :math:`m`, the mean over ``seeds`` initialisations of
    :math:`\|H_b(0) - H_b^\infty\|_F/\|H_b^\infty\|_F` (:func:`implicit.gram.gram_blocks` against
    :func:`implicit.equilibrium_ntk.ntk_limit_blocks`). The nets skip the well-posedness certificate (at small
    :math:`\gamma` it holds by a wide margin: :math:`\tilde\gamma\|A\|_2\approx 2\gamma`).

    Examples:
        >>> from implicit import data
        >>> from implicit.studies.cells import finite_width_errors
        >>> errs = finite_width_errors(data.sphere(4, 3, seed=0), 0.1, widths=[32, 512], seeds=2)
        >>> sorted(errs), errs["total"][1] < errs["total"][0]  # wider is closer
        (['A', 'W', 'total', 'u', 'v'], True)
    """
    limit = ntk_limit_blocks(X, gamma)
    targets = {**dict(limit.blocks.items()), "total": limit.blocks.total}
    errors: dict[str, list[float]] = {name: [] for name in targets}
    for m in widths:
        per_net = [gram_blocks(ImplicitNet(X.shape[1], m, gamma, seed=s, check_wellposed=False), X)
                   for s in range(seeds)]
        for name, target in targets.items():
            errors[name].append(float(np.mean([_rel_fro(getattr(b, name), target) for b in per_net])))
    return errors


def limit_alternatives(X: Tensor, gamma: float, m: int, seeds: int) -> list[dict]:
    r"""Can finite widths tell the derived limit from plausible wrong ones? The blocks :math:`H_A, H_W, H_u` of
    :math:`H(0)`, averaged over ``seeds`` networks of width ``m`` (which divides the sampling error by
    :math:`\sqrt{\text{seeds}}`), against the limit and against an alternative: :math:`H_A, H_W` with the adjoint
    factor :math:`P = 1/(1-\gamma^2\dot S)` replaced by 1 (no adjoint recursion), :math:`H_u = K` replaced by
    :math:`G^\infty` (no equilibrium). Rows: ``block``, ``to_limit`` and ``to_alternative`` (relative Frobenius
    distances), ``alternative``.

    Examples:
        >>> from implicit import data
        >>> from implicit.studies.cells import limit_alternatives
        >>> rows = limit_alternatives(data.sphere(4, 3, seed=0), 0.45, m=256, seeds=2)
        >>> [(r["block"], r["alternative"]) for r in rows]
        [('A', 'P = 1'), ('W', 'P = 1'), ('u', 'K = G^inf')]
    """
    lim = ntk_limit_blocks(X, gamma)
    XX = X @ X.T
    alternatives = {"A": ("P = 1", gamma ** 2 * lim.Sdot * lim.K),
                    "W": ("P = 1", XX * (lim.T + arccos_kernel(XX, 0))),
                    "u": ("K = G^inf", lim.blocks.v)}  # the v block is G^inf
    nets = [gram_blocks(ImplicitNet(X.shape[1], m, gamma, seed=s), X) for s in range(seeds)]
    rows = []
    for name, (label, alt) in alternatives.items():
        mean = sum(getattr(b, name) for b in nets) / seeds
        rows.append({"block": name, "to_limit": _rel_fro(mean, getattr(lim.blocks, name)),
                     "to_alternative": _rel_fro(mean, alt), "alternative": label})
    return rows


def limit_rates(sets: dict[str, Tensor], gamma: float) -> list[dict]:
    r"""The smallest eigenvalues of the infinite-width blocks against :math:`\lambda_0 = \lambda_{\min}(G^\infty)`,
    one row per data set: ``lambda0``, ``u``, ``A``, ``W`` (:math:`\lambda_{\min}` of :math:`H_b^\infty`), ``H``
    (:math:`\lambda_{\min}(H^\infty)`), ``two_layer`` (:math:`\lambda_{\min}` of the two-layer ReLU kernel with a
    trained first layer and readout, :math:`G^\infty + XX^\top\circ\kappa_0(XX^\top)`) and ``ratio``
    :math:`=\lambda_{\min}(H^\infty)/\lambda_0`.

    Examples:
        >>> from implicit import data
        >>> from implicit.studies.cells import limit_rates
        >>> [row] = limit_rates({"sphere": data.sphere(6, 4, seed=0)}, 0.1)
        >>> row["A"] < row["lambda0"] <= row["two_layer"] < row["H"]
        True
    """
    rows = []
    for label, X in sets.items():
        blocks = ntk_limit_blocks(X, gamma).blocks
        lam = {name: float(torch.linalg.eigvalsh(b)[0]) for name, b in (*blocks.items(), ("H", blocks.total))}
        two_layer = blocks.v + (X @ X.T) * arccos_kernel(X @ X.T, 0)  # the v block is G^inf, so lam["v"] = lambda_0
        rows.append({"data": label, "lambda0": lam["v"], **{k: lam[k] for k in ("u", "A", "W", "H")},
                     "two_layer": float(torch.linalg.eigvalsh(two_layer)[0]), "ratio": lam["H"] / lam["v"]})
    return rows


def picard_prediction(sweep: dict, X: Tensor, gammas: Sequence[float], rule: Quadrature | None = None) -> list[dict]:
    r"""The Picard rate of the :math:`\gamma` sweep against the infinite-width prediction. The iteration
    :math:`z \mapsto \sigma(\tilde\gamma Az + \phi)` contracts at about the spectral radius of its Jacobian
    :math:`\tilde\gamma DA`, :math:`\gamma\sqrt p` with :math:`p = \dot S_{ii}` the fraction of active units in the
    limit (the same for every unit-norm input, so a few rows ``X`` give it). Per :math:`\gamma`: ``certified``
    (mean :math:`\tilde\gamma\|A\|_2`) and ``measured`` (mean Picard rate) over the seeds whose solve converged,
    ``p`` and ``predicted`` :math:`=\gamma\sqrt p`. ``rule``: the quadrature (default ``Quadrature(12, 32)``, finer
    than the library's default, for :math:`\gamma` up to 0.9).

    Examples:
        >>> from implicit import data
        >>> from implicit.studies.cells import picard_prediction
        >>> sweep = {"points": [{"gamma": 0.5, "solver_converged": True, "picard_rate": 0.47,
        ...                      "certified_factor": 1.0}]}
        >>> [row] = picard_prediction(sweep, data.sphere(3, 16, seed=0), [0.5])
        >>> round(row["p"], 2), round(row["predicted"], 3)
        (0.69, 0.416)
    """
    rows = []
    for g in gammas:
        pts = [q for q in sweep["points"] if q["gamma"] == g and q["solver_converged"]]
        p = float(ntk_limit_blocks(X, g, rule=rule or Quadrature(12, 32)).Sdot.diagonal().mean())
        rows.append({"gamma": g, "certified": float(np.mean([q["certified_factor"] for q in pts])),
                     "measured": float(np.mean([q["picard_rate"] for q in pts])), "p": p,
                     "predicted": g * math.sqrt(p)})
    return rows


def rerun(X: Tensor, y: Tensor, stored: dict, lam0: float) -> dict:
    r"""Train a stored cell of the width study again (same width, seed, :math:`\gamma`, :math:`\eta` and number of
    steps) and compare: ``criteria`` of the new run, ``match`` (the same three criteria as stored), and
    ``max_rel_dev``, the largest :math:`|L_{\text{new}}(k)/L_{\text{stored}}(k) - 1|` over the stored curve's steps
    above round-off (:math:`L(k) > 10^{-12}L(0)`).

    Examples:
        >>> from implicit.kernels import lambda0
        >>> from implicit.studies.cells import make_data, rerun, run_cell
        >>> X, y, _ = make_data("sphere", 8)
        >>> stored = run_cell(X, y, m=16, seed=0, steps=5)
        >>> again = rerun(X, y, stored, lam0=lambda0(X))
        >>> again["match"], again["max_rel_dev"]
        (True, 0.0)
    """
    run = run_cell(X, y, stored["m"], stored["seed"], gamma=stored["gamma"], eta=stored["eta"],
                   steps=stored["steps"], lam0=lam0)
    live, ref = np.array(run["curve"]["loss"]), np.array(stored["curve"]["loss"])
    above = ref > 1e-12 * ref[0]
    return {"criteria": run["criteria"], "match": run["criteria"] == stored["criteria"],
            "max_rel_dev": float(np.max(np.abs(live[above] / ref[above] - 1))), "loss_ratio": run["loss_ratio"]}

r"""The width study's success criterion, its aggregation over seeds, and the widths the theorems ask for.

**The success criterion** (:func:`judge`). "GD converges linearly" means that the run satisfies, on its whole budget,
the conclusions Theorem 3.2 / Lemma 3.6 state, with the paper's own constant
:math:`\lambda_0 = \lambda_{\min}(G^\infty)`:

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
initialisation alone (:func:`~implicit.studies.cells.g_event_cell`), because it needs no training.

**Minimal width** (:func:`minimal_width`): the smallest width on the grid whose success rate over seeds is at least
0.9 *and stays* at least 0.9 for every larger width on the grid (``first`` reports the smallest width reaching 0.9
regardless).

**Theorem widths** (:func:`theorem_widths`), every hidden constant taken as 1 and :math:`\delta = 0.1`:
Theorem 3.1 / Lemma 3.3, :math:`m \ge (n^2/\lambda_0^2)\log(n/\delta)`; Lemma 3.5,
:math:`m \ge c^2 n\|X\|^2\|\hat y(0) - y\|^2/\lambda_0^3` with :math:`c`, :math:`\|\hat y(0)-y\|` measured at the
widest grid width (median over seeds).

**Breaks of the** :math:`\gamma` **sweep** (:func:`breaks_first`): the smallest :math:`\gamma` at which the
certificate, the forward solver or training fails in most seeds, and which comes first.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..theory import Setting, width_lemma_3_3, width_lemma_3_5

__all__ = ["Criterion", "judge", "success_rates", "minimal_width", "theorem_widths", "breaks_first"]


@dataclass(frozen=True)
class Criterion:
    r"""Parameters of the success criterion (see the module docstring).

    Attributes:
        rel_increase: round-off allowance of the monotonicity test, :math:`L(k+1)\le(1+\text{rel\_increase})L(k)`.
        lam_fraction: condition 4, :math:`\lambda_{\min}(H)\ge\text{lam\_fraction}\cdot\lambda_0` (Lemma 3.6: 1/2).
        g_fraction: Lemma 3.3's event :math:`\lambda_{\min}(G(0))\ge\text{g\_fraction}\cdot\lambda_0` (3/4).
        rate: the success rate over seeds that defines the minimal width (0.9).
        delta: failure probability in the theorem widths' :math:`\log(n/\delta)` (0.1, matching ``rate``).

    Examples:
        >>> from implicit.studies.criterion import Criterion
        >>> Criterion()
        Criterion(rel_increase=1e-12, lam_fraction=0.5, g_fraction=0.75, rate=0.9, delta=0.1)
        >>> Criterion(rate=0.8).rate  # a looser minimal-width level
        0.8
    """

    rel_increase: float = 1e-12
    lam_fraction: float = 0.5
    g_fraction: float = 0.75
    rate: float = 0.9
    delta: float = 0.1


def judge(losses: list[float] | np.ndarray, lr: float, lam0: float, lam_min_H0: float, lam_min_HK: float,
          steps: int, criterion: Criterion = Criterion()) -> dict[str, bool]:
    r"""The four conditions of the success criterion (module docstring) for one run; success is all of them.

    Args:
        losses: :math:`L(0), \dots, L(k)` as recorded (shorter than ``steps + 1`` if the run stopped early).
        lr: the step :math:`\alpha`. lam0: :math:`\lambda_0`. lam_min_H0, lam_min_HK: :math:`\lambda_{\min}(H)` at the
            first and last step (NaN if not measured, which fails condition 4).

    Examples:
        >>> from implicit.studies.criterion import judge
        >>> losses = [1.0 * 0.9 ** k for k in range(11)]  # 10 steps, each taking 10% off the loss
        >>> judge(losses, lr=1.0, lam0=0.1, lam_min_H0=0.3, lam_min_HK=0.2, steps=10)  # envelope: 0.95^k
        {'completed': True, 'monotone': True, 'envelope': True, 'gram': True}
        >>> judge(losses[:5], lr=1.0, lam0=0.1, lam_min_H0=0.3, lam_min_HK=float("nan"), steps=10)  # stopped at k=4
        {'completed': False, 'monotone': False, 'envelope': False, 'gram': False}
    """
    L = np.asarray(losses, dtype=float)
    completed = len(L) == steps + 1 and bool(np.all(np.isfinite(L)))
    monotone = completed and bool(np.all(L[1:] <= L[:-1] * (1 + criterion.rel_increase)))
    k = np.arange(len(L))
    envelope = completed and bool(np.all(L <= (1 - lr * lam0 / 2) ** k * L[0] * (1 + criterion.rel_increase)))
    threshold = criterion.lam_fraction * lam0
    gram = bool(lam_min_H0 >= threshold) and bool(lam_min_HK >= threshold)  # NaN compares False
    return {"completed": completed, "monotone": monotone, "envelope": envelope, "gram": gram}


def success_rates(cells: list[dict]) -> dict[int, float]:
    """Success rate over seeds for each width: ``{m: fraction of cells with success}``, widths ascending.

    Examples:
        >>> from implicit.studies.criterion import success_rates
        >>> success_rates([{"m": 16, "success": True}, {"m": 4, "success": False}, {"m": 4, "success": True}])
        {4: 0.5, 16: 1.0}
    """
    out: dict[int, list[bool]] = {}
    for cell in cells:
        out.setdefault(int(cell["m"]), []).append(bool(cell["success"]))
    return {m: float(np.mean(v)) for m, v in sorted(out.items())}


def minimal_width(rates: dict[int, float], level: float = 0.9) -> dict[str, int | None]:
    """Minimal widths from per-width success rates: ``stays``, the smallest width with rate ``>= level`` at it and at
    every larger width on the grid; ``first``, the smallest width with rate ``>= level``. ``None`` if never reached.

    Examples:
        >>> from implicit.studies.criterion import minimal_width
        >>> minimal_width({4: 0.0, 8: 1.0, 16: 0.8, 32: 1.0, 64: 1.0})  # 8 reaches 0.9 but 16 falls back
        {'stays': 32, 'first': 8}
    """
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
    (:mod:`implicit.theory`).

    Examples:
        >>> from implicit.studies.criterion import theorem_widths
        >>> th = theorem_widths(n=10, lam0=0.1, norm_X=2.0, c=2.0, r0=3.0)
        >>> round(th["theorem_3_1"]), round(th["lemma_3_5"]), th["constants"]
        (46052, 1440000, 'all hidden constants taken as 1')
    """
    setting = Setting(n=n, m=0, c=c, lam0=lam0, norm_X=norm_X, r0=r0, gamma=0.1)
    return {"theorem_3_1": width_lemma_3_3(n, lam0, delta), "lemma_3_5": width_lemma_3_5(setting),
            "constants": "all hidden constants taken as 1", "delta": delta, "c": c, "r0": r0, "norm_X": norm_X}


def _first_failure(points: list[dict], key: str) -> float | None:
    """The smallest gamma at which ``key`` is false in a majority of seeds."""
    by: dict[float, list[bool]] = {}
    for p in points:
        if key in p and p[key] is not None:
            by.setdefault(p["gamma"], []).append(bool(p[key]))
    return next((g for g in sorted(by) if np.mean(by[g]) < 0.5), None)


def breaks_first(points: list[dict]) -> dict:
    """Where each of the three breaks in the sweep (smallest :math:`\\gamma` failing in most seeds; ``None`` if not
    within the sweep) and which breaks first.

    Examples:
        >>> from implicit.studies.criterion import breaks_first
        >>> points = [{"gamma": 0.3, "certified": True, "solver_converged": True, "train_success": True},
        ...           {"gamma": 0.6, "certified": False, "solver_converged": True, "train_success": True},
        ...           {"gamma": 1.2, "certified": False, "solver_converged": False}]
        >>> breaks_first(points)  # the certificate fails long before the solver; training never does here
        {'certificate': 0.6, 'solver': 1.2, 'training': None, 'first': 'certificate'}
    """
    where = {"certificate": _first_failure(points, "certified"),
             "solver": _first_failure(points, "solver_converged"),
             "training": _first_failure(points, "train_success")}
    known = {k: v for k, v in where.items() if v is not None}
    return {**where, "first": min(known, key=known.get) if known else None}

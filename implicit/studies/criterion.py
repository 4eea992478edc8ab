r"""The width study's criteria, judged separately, their aggregation over seeds, and the widths the theorems ask for.

A run is :math:`K` steps of gradient descent at the constant step :math:`\alpha` (:mod:`implicit.studies.cells`), and
:math:`\lambda_0 = \lambda_{\min}(G^\infty)`. Lemma 3.6 and Theorem 3.2 make two kinds of claims about it, and the
study judges them apart (:func:`judge` on a fresh run, :func:`criteria_of` on a stored record):

**Gram conditions** (Lemma 3.6 (i), measured at :math:`k = 0` and :math:`k = K`):

* ``gram_G``: :math:`\lambda_{\min}(G(\theta_k)) \ge \lambda_0/2` for :math:`G = \Phi\Phi^\top`, as the lemma states
  it. Since :math:`\operatorname{rank} G \le m`, it cannot hold for :math:`m < n`.
* ``gram_H``: the same bound for the whole Gram matrix :math:`H \succeq G` of Lemma 3.1, which drives the dynamics
  (the book's variant; it can hold well below :math:`m = n`).

Lemma 3.3's event :math:`\lambda_{\min}(G(0)) \ge 3\lambda_0/4` and the bound :math:`\lambda_{\min}(G(0)) \ge
\lambda_0/2` at initialisation alone are measured on a wider grid of widths, without training
(:func:`~implicit.studies.cells.g_event_cell`, :func:`g_rates`).

**The loss conclusion** (``loss``; Lemma 3.6 (vi), Theorem 3.2), three parts (:data:`LOSS_PARTS`), all required:

1. ``completed``: the run completes its :math:`K` steps (no divergence, NaN, failed solve or lost well-posedness);
2. ``envelope``: :math:`L(k) \le (1 - \alpha\lambda_0/2)^k L(0)` for every :math:`k \le K`, the statement itself
   (with a :math:`10^{-12}` relative round-off allowance);
3. ``late_rate``: the geometric rate per step fitted to :math:`\log L` over the second half of the run,
   :math:`K/2 \le k \le K` (steps at round-off, :math:`L(k) \le 10^{-20} L(0)`, left out; :func:`late_rate`), is at
   most the theorem's :math:`1 - \alpha\lambda_0/2`.

Part 3 is the form in which the theorem's rate claim can fail on an affordable horizon. With
:math:`\alpha = 1/\lambda_{\max}(H(0))` the envelope's factor :math:`1 - \alpha\lambda_0/2` is within
:math:`10^{-3}` (and at :math:`n = 1000` within :math:`10^{-5}`) of 1, so over 50 steps part 2 only forbids the loss
from rising. A run that has stalled (a loss plateau, a Gram matrix that is singular on the residual) decays slower
than the theorem's rate long before it leaves the envelope; in the linearised dynamics the per-step factor only grows
with :math:`k`, so a late rate above :math:`1 - \alpha\lambda_0/2` means the run leaves the envelope later. Over
50 steps even part 3 is decided by the fast modes of :math:`H` and holds at every width; judged over a few thousand
steps it fails on runs that stall.

**Monotonicity** (``monotone``, recorded with the other tests but part of no criterion, since the theorem does not
state it): :math:`L(k+1) \le (1 + 10^{-12})\,L(k)` for every :math:`k < K` with :math:`L(k)` above round-off. A
narrow network can oscillate (the loss rises by a fraction of a per cent at some steps) and still converge inside
the envelope.

**Minimal width** (:func:`minimal_width`): the smallest width on the grid whose rate over seeds is at least 0.9
*and stays* at least 0.9 for every larger width on the grid (``first`` reports the smallest width reaching 0.9
regardless); ``None`` when the grid never gets there.

**Theorem widths** (:func:`theorem_widths`), every hidden constant taken as 1 and :math:`\delta = 0.1`:
Theorem 3.1 / Lemma 3.3, :math:`m \ge (n^2/\lambda_0^2)\log(n/\delta)`; Lemma 3.5,
:math:`m \ge c^2 n\|X\|^2\|\hat y(0) - y\|^2/\lambda_0^3` with :math:`c`, :math:`\|\hat y(0)-y\|` measured at the
widest grid width (median over seeds).

**Breaks of the** :math:`\gamma` **sweep** (:func:`breaks_first`): the smallest :math:`\gamma` at which the
certificate, the forward solver or training fails in most seeds, and which comes first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ..theory import Setting, width_lemma_3_3, width_lemma_3_5

__all__ = ["Criterion", "CRITERIA", "LOSS_PARTS", "late_rate", "judge", "criteria_of", "criterion_from",
           "success_rates", "criterion_rates", "g_rates", "minimal_width", "theorem_widths", "breaks_first"]

#: The three criteria of a training run, judged separately.
CRITERIA = ("gram_G", "gram_H", "loss")
#: The parts of the loss criterion (all required).
LOSS_PARTS = ("completed", "envelope", "late_rate")


@dataclass(frozen=True)
class Criterion:
    r"""Parameters of the criteria (see the module docstring).

    Attributes:
        rel_increase: round-off allowance of the monotonicity and envelope tests,
            :math:`L(k+1)\le(1+\text{rel\_increase})L(k)`.
        lam_fraction: the Gram conditions, :math:`\lambda_{\min}\ge\text{lam\_fraction}\cdot\lambda_0` (Lemma 3.6: 1/2).
        g_fraction: Lemma 3.3's event :math:`\lambda_{\min}(G(0))\ge\text{g\_fraction}\cdot\lambda_0` (3/4).
        rate: the rate over seeds that defines the minimal width (0.9).
        delta: failure probability in the theorem widths' :math:`\log(n/\delta)` (0.1, matching ``rate``).
        floor: round-off floor of the loss tests: steps with :math:`L(k)\le\text{floor}\cdot L(0)` (a residual
            :math:`10^{-10}` of its initial size) are left out of the monotonicity test and the late-rate fit.

    Examples:
        >>> from implicit.studies.criterion import Criterion
        >>> Criterion()
        Criterion(rel_increase=1e-12, lam_fraction=0.5, g_fraction=0.75, rate=0.9, delta=0.1, floor=1e-20)
        >>> Criterion(rate=0.8).rate  # a looser minimal-width level
        0.8
    """

    rel_increase: float = 1e-12
    lam_fraction: float = 0.5
    g_fraction: float = 0.75
    rate: float = 0.9
    delta: float = 0.1
    floor: float = 1e-20


def criterion_from(settings: dict | None) -> Criterion:
    """The :class:`Criterion` a study was run with, from its stored ``settings["criterion"]`` (fields it lacks, from
    studies run before they existed, take their defaults).

    Examples:
        >>> from implicit.studies.criterion import criterion_from
        >>> criterion_from({"criterion": {"lam_fraction": 0.5, "rate": 0.8}}).rate
        0.8
        >>> criterion_from(None).floor
        1e-20
    """
    stored = (settings or {}).get("criterion", {})
    return Criterion(**{f.name: stored[f.name] for f in fields(Criterion) if f.name in stored})


def late_rate(losses: list[float] | np.ndarray, floor: float = 1e-20) -> float | None:
    r"""The geometric rate per step of the loss late in the run: :math:`\exp` of the least-squares slope of
    :math:`\log L(k)` over :math:`K/2 \le k \le K`, leaving out steps at round-off (:math:`L(k) \le
    \text{floor}\cdot L(0)`). ``None`` when fewer than two steps of the second half are above the floor (the loss
    reached round-off before :math:`K/2`), NaN when the second half holds a non-finite or non-positive loss.

    Examples:
        >>> from implicit.studies.criterion import late_rate
        >>> round(late_rate([0.9 ** k for k in range(41)]), 12)  # a geometric curve: its own factor
        0.9
        >>> late_rate([1.0] * 11)  # a plateau: rate 1, slower than any linear rate
        1.0
        >>> late_rate([1.0, 1e-25, 1e-26, 1e-25]) is None  # at round-off from the first step on
        True
    """
    L = np.asarray(losses, dtype=float)
    tail = np.arange(len(L) // 2, len(L))
    if len(L) == 0 or not np.all(np.isfinite(L[tail])) or not np.all(L[tail] > 0):
        return math.nan
    keep = tail[L[tail] > floor * L[0]]
    if len(keep) < 2:
        return None
    return float(np.exp(np.polyfit(keep, np.log(L[keep]), 1)[0]))


def _at_least(value: float | None, threshold: float) -> bool:
    """``value >= threshold``; an unmeasured value (``None`` or NaN) is False."""
    return value is not None and bool(value >= threshold)


def _late_ok(rate: float | None, completed: bool, lr: float, lam0: float) -> bool:
    """Part 3 of the loss criterion: the late rate at most the theorem's factor (``None``: at round-off, passes)."""
    return completed and (rate is None or bool(rate <= 1 - lr * lam0 / 2))


def judge(losses: list[float] | np.ndarray, lr: float, lam0: float, lam_min_H0: float, lam_min_HK: float,
          steps: int, criterion: Criterion = Criterion(), *, lam_min_G0: float = math.nan,
          lam_min_GK: float = math.nan) -> dict[str, bool]:
    r"""Every test of the module docstring for one run: the parts of the loss criterion (:data:`LOSS_PARTS`),
    monotonicity, and the two Gram conditions (``gram_H``, ``gram_G``). :func:`criteria_of` combines them into
    :data:`CRITERIA`.

    Args:
        losses: :math:`L(0), \dots, L(k)` as recorded (shorter than ``steps + 1`` if the run stopped early).
        lr: the step :math:`\alpha`. lam0: :math:`\lambda_0`. lam_min_H0, lam_min_HK, lam_min_G0, lam_min_GK:
            :math:`\lambda_{\min}` of :math:`H` and :math:`G` at the first and last step (NaN if not measured, which
            fails that Gram condition).

    Examples:
        >>> from implicit.studies.criterion import judge
        >>> losses = [1.0 * 0.9 ** k for k in range(11)]  # 10 steps, each taking 10% off the loss
        >>> judge(losses, lr=1.0, lam0=0.1, lam_min_H0=0.3, lam_min_HK=0.2, steps=10)  # envelope: 0.95^k
        {'completed': True, 'envelope': True, 'late_rate': True, 'monotone': True, 'gram_H': True, 'gram_G': False}
        >>> judge([1.0] + [0.5] * 10, lr=1.0, lam0=0.1, lam_min_H0=0.3, lam_min_HK=0.2, steps=10)["late_rate"]
        False
        >>> judge(losses[:5], lr=1.0, lam0=0.1, lam_min_H0=0.3, lam_min_HK=float("nan"), steps=10)  # stopped at k=4
        {'completed': False, 'envelope': False, 'late_rate': False, 'monotone': False, 'gram_H': False, 'gram_G': False}
    """
    L = np.asarray(losses, dtype=float)
    completed = len(L) == steps + 1 and bool(np.all(np.isfinite(L)))
    above = L[:-1] > criterion.floor * L[0] if len(L) else L
    monotone = completed and bool(np.all((L[1:] <= L[:-1] * (1 + criterion.rel_increase)) | ~above))
    k = np.arange(len(L))
    envelope = completed and bool(np.all(L <= (1 - lr * lam0 / 2) ** k * L[0] * (1 + criterion.rel_increase)))
    threshold = criterion.lam_fraction * lam0
    return {"completed": completed, "envelope": envelope,
            "late_rate": _late_ok(late_rate(L, criterion.floor), completed, lr, lam0), "monotone": monotone,
            "gram_H": _at_least(lam_min_H0, threshold) and _at_least(lam_min_HK, threshold),
            "gram_G": _at_least(lam_min_G0, threshold) and _at_least(lam_min_GK, threshold)}


def criteria_of(cell: dict, lam0: float, criterion: Criterion = Criterion()) -> dict[str, bool]:
    r"""The three criteria (:data:`CRITERIA`) of one stored cell record. The Gram conditions are re-judged from the
    recorded :math:`\lambda_{\min}` of :math:`G` and :math:`H` at :math:`k = 0` and :math:`K`; the loss criterion
    from the record's ``checks``. Records written before the late-rate test existed (the 50-step study) have no
    ``late_rate`` check: it is judged from their ``rate_second_half`` (over 50 steps no run reaches round-off).

    Examples:
        >>> from implicit.studies.criterion import criteria_of
        >>> cell = {"lr": 1.0, "lambda_min_H0": 0.3, "lambda_min_HK": 0.2, "lambda_min_G0": 0.01,
        ...         "lambda_min_GK": 0.0, "rate_second_half": 0.9,
        ...         "checks": {"completed": True, "envelope": True}}
        >>> criteria_of(cell, lam0=0.1)  # G below lambda0/2, H above it, the loss at rate 0.9 <= 0.95
        {'gram_G': False, 'gram_H': True, 'loss': True}
    """
    checks = cell.get("checks", {})
    completed = bool(checks.get("completed", False))
    late = checks["late_rate"] if "late_rate" in checks else (
        "lr" in cell and _late_ok(cell.get("rate_second_half"), completed, cell["lr"], lam0))
    threshold = criterion.lam_fraction * lam0
    return {"gram_G": _at_least(cell.get("lambda_min_G0"), threshold)
            and _at_least(cell.get("lambda_min_GK"), threshold),
            "gram_H": _at_least(cell.get("lambda_min_H0"), threshold)
            and _at_least(cell.get("lambda_min_HK"), threshold),
            "loss": completed and bool(checks.get("envelope")) and bool(late)}


def success_rates(cells: list[dict], key: str = "success") -> dict[int, float]:
    """Rate over seeds for each width: ``{m: fraction of cells whose `key` is true}``, widths ascending.

    Examples:
        >>> from implicit.studies.criterion import success_rates
        >>> success_rates([{"m": 16, "success": True}, {"m": 4, "success": False}, {"m": 4, "success": True}])
        {4: 0.5, 16: 1.0}
    """
    out: dict[int, list[bool]] = {}
    for cell in cells:
        out.setdefault(int(cell["m"]), []).append(bool(cell[key]))
    return {m: float(np.mean(v)) for m, v in sorted(out.items())}


def criterion_rates(cells: list[dict], lam0: float, criterion: Criterion = Criterion()) -> dict[str, dict[int, float]]:
    """For each of the three criteria (:data:`CRITERIA`), the rate over seeds at each width of stored cell records
    (:func:`criteria_of`).

    Examples:
        >>> from implicit.studies.criterion import criterion_rates
        >>> ok = {"completed": True, "envelope": True, "late_rate": True}
        >>> cells = [{"m": 4, "lambda_min_H0": 0.0, "lambda_min_HK": 0.0, "checks": ok},
        ...          {"m": 16, "lambda_min_H0": 0.3, "lambda_min_HK": 0.3, "checks": ok}]
        >>> criterion_rates(cells, lam0=0.1)
        {'gram_G': {4: 0.0, 16: 0.0}, 'gram_H': {4: 0.0, 16: 1.0}, 'loss': {4: 1.0, 16: 1.0}}
    """
    judged = [{"m": c["m"], **criteria_of(c, lam0, criterion)} for c in cells]
    return {name: success_rates(judged, name) for name in CRITERIA}


def g_rates(g_cells: list[dict], lam0: float, criterion: Criterion = Criterion()) -> dict[str, dict[int, float]]:
    r"""The two conditions on :math:`G(0)` alone, from the init-only records of the wider grid: ``gram_G0``,
    :math:`\lambda_{\min}(G(0))\ge\lambda_0/2` (Lemma 3.6 (i) at :math:`k = 0`), and ``lemma_3_3``,
    :math:`\lambda_{\min}(G(0))\ge 3\lambda_0/4`; rates over seeds per width.

    Examples:
        >>> from implicit.studies.criterion import g_rates
        >>> g_rates([{"m": 64, "lambda_min_G0": 0.06}, {"m": 256, "lambda_min_G0": 0.09}], lam0=0.1)
        {'gram_G0': {64: 1.0, 256: 1.0}, 'lemma_3_3': {64: 0.0, 256: 1.0}}
    """
    out = {}
    for name, fraction in (("gram_G0", criterion.lam_fraction), ("lemma_3_3", criterion.g_fraction)):
        judged = [{"m": c["m"], "ok": _at_least(c.get("lambda_min_G0"), fraction * lam0)} for c in g_cells]
        out[name] = success_rates(judged, "ok")
    return out


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

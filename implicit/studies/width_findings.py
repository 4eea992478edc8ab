r"""What the stored width studies show: the readings and claims of the chapter *Beyond the paper* (the widths at
which Lemma 3.6's Gram conditions hold, how they grow with :math:`n`, the loss over a long horizon, the
:math:`\gamma` sweep), computed from the files :mod:`implicit.studies.width` writes.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..claims import Claim, keyed
from ..measure import fit_power_law
from .width import summary_table

__all__ = ["describe", "summary_rows", "fifty_step_facts", "check_fifty_steps", "growth_exponents", "check_growth",
           "long_rows", "long_facts", "check_long", "check_sweep"]


def describe(study: dict) -> str:
    """One line on where a study read by :func:`load_study` comes from: its file, seeds per width, the horizon
    :math:`K`, and each run that wrote groups to it (device, threads, torch, date).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study
        >>> from implicit.studies.width_findings import describe
        >>> print(describe(load_study(results_dir("width"), "long")))
        width-long.json: 10 seeds per width, K = 5000 steps; run on AMD EPYC (1 thread, torch 2.13.0+cpu, 2026-12-01)
    """
    profile = study["settings"]["profile"]
    runs = [*study.get("earlier_runs", []), study["provenance"]]
    where = "; ".join(f"{r['device']} ({r['threads']} thread{'s' * (r['threads'] != 1)}, torch {r['torch']}, "
                      f"{r['date'][:10]})" for r in runs)
    name = Path(study["path"]).name
    return f"{name}: {profile['seeds']} seeds per width, K = {profile['steps']} steps; run on {where}"


def _width_text(m: int | None, top: int) -> str:
    return f"> {top}" if m is None else str(m)


def summary_rows(study: dict) -> list[dict[str, str]]:
    r""":func:`summary_table` as the book prints it: per data set and :math:`n`, :math:`\lambda_0`, the minimal widths
    of the Gram conditions for :math:`G` and :math:`H` along the :math:`K` steps, of :math:`\lambda_{\min}(G(0))\ge
    \lambda_0/2` and of Lemma 3.3's event :math:`\lambda_{\min}(G(0))\ge 3\lambda_0/4` on the wider grid (``> top``:
    not reached on the grid), and the theorem widths (constants 1).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study
        >>> from implicit.studies.width_findings import summary_rows
        >>> row = summary_rows(load_study(results_dir("width"), "long"))[0]
        >>> row["data"], row["n"], row["G along K"], row["H along K"], row["Theorem 3.1"]
        ('mnist', 50, '> 64', '16', '4e+08')
    """
    profile = study["settings"]["profile"]
    top, top_init = max(profile["widths"]), max(profile["g_widths"] or [1])
    return [{"data": r["dataset"], "n": r["n"], "λ₀": f"{r['lambda0']:.2g}",
             "G along K": _width_text(r["m_min_gram_G"], top),
             "G(0) ≥ λ₀/2": _width_text(r["m_min_gram_G0"], top_init),
             "Lemma 3.3": _width_text(r["m_min_lemma33_event"], top_init),
             "H along K": _width_text(r["m_min_gram_H"], top),
             "Theorem 3.1": f"{r['theorem_3_1']:.0e}", "Lemma 3.5": f"{r['lemma_3_5']:.0e}"}
            for r in summary_table(study)]


def _inf(m: int | None) -> float:
    return math.inf if m is None else float(m)


def _envelope_ends(group: dict) -> list[float]:
    """Theorem 3.2's envelope :math:`(1-\\alpha\\lambda_0/2)^K` at the last step, per run of a group."""
    return [(1 - c["lr"] * group["lambda0"] / 2) ** group["steps"] for c in group["cells"] if "lr" in c]


def _speedups(group: dict, cells: list[dict] | None = None) -> list[float]:
    """Per run (of ``cells``; all of the group's by default) with a late rate: how many times faster per step than
    the theorem, (1 - rate)/(alpha lambda0/2)."""
    cells = group["cells"] if cells is None else cells
    return [(1 - c["rate_second_half"]) / (c["lr"] * group["lambda0"] / 2) for c in cells
            if c.get("rate_second_half") is not None and "lr" in c]


def fifty_step_facts(study: dict) -> dict[str, float]:
    r"""What the chapter reads off the study with the short horizon (:math:`K = 50`, :math:`n` up to 1000):

    * ``G0_over_n_min``, ``G0_over_n_max``: the minimal width of :math:`\lambda_{\min}(G(0))\ge\lambda_0/2` over
      :math:`n`, smallest and largest over the groups;
    * ``gap_lemma_3_3``, ``gap_H``: Theorem 3.1's width (constants 1) over the measured minimal width of Lemma 3.3's
      event and of the :math:`H` condition, smallest over the groups; ``lemma_3_5_over_theorem_3_1`` likewise;
    * ``H_width_max``: the largest minimal width of the :math:`H` condition (``inf`` if a group never reaches it);
      ``top_width``: the widest width of the grid; ``G_rate_smallest_n``: the rate of the :math:`G` condition at the
      smallest :math:`n` and the widest width (smallest over data sets);
    * ``loss_rate``: the fraction of runs meeting the loss criterion; ``envelope_min``/``_max``: Theorem 3.2's
      envelope :math:`(1-\alpha\lambda_0/2)^K`; ``speedup_min``/``_max``: the late rate's decay per step over the
      theorem's :math:`\alpha\lambda_0/2`; ``H_failures`` and ``H_failures_at_init``: runs failing the :math:`H`
      condition, and those failing it already at :math:`k = 0`; ``runs``, ``steps``.

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study
        >>> from implicit.studies.width_findings import fifty_step_facts
        >>> f = fifty_step_facts(load_study(results_dir("width"), "long"))  # works on any study; here K = 5000
        >>> f["runs"], f["steps"], f["H_failures"], f["loss_rate"]
        (80, 5000, 14, 0.9375)
    """
    rows = summary_table(study)
    groups = list(study["groups"].values())
    cells = [(g, c) for g in groups for c in g["cells"]]
    profile = study["settings"]["profile"]
    top, n_min = max(profile["widths"]), min(g["n"] for g in groups)
    failed_H = [(g, c) for g, c in cells if not c["criteria"]["gram_H"]]
    ratio_G0 = [_inf(r["m_min_gram_G0"]) / r["n"] for r in rows]
    envelope = [e for g in groups for e in _envelope_ends(g)]
    speedup = [s for g in groups for s in _speedups(g)]
    return {"steps": profile["steps"], "runs": len(cells), "top_width": top,
            "H_width_max": max(_inf(r["m_min_gram_H"]) for r in rows),
            "G_rate_smallest_n": min(g["rates"]["gram_G"].get(top, 0.0) for g in groups if g["n"] == n_min),
            "G0_over_n_min": min(ratio_G0), "G0_over_n_max": max(ratio_G0),
            "gap_lemma_3_3": min(r["theorem_3_1"] / _inf(r["m_min_lemma33_event"]) for r in rows),
            "gap_H": min(r["theorem_3_1"] / _inf(r["m_min_gram_H"]) for r in rows),
            "lemma_3_5_over_theorem_3_1": min(r["lemma_3_5"] / r["theorem_3_1"] for r in rows),
            "loss_rate": sum(c["criteria"]["loss"] for _, c in cells) / len(cells),
            "envelope_min": min(envelope), "envelope_max": max(envelope),
            "speedup_min": min(speedup, default=math.nan), "speedup_max": max(speedup, default=math.nan),
            "H_failures": len(failed_H),
            "H_failures_at_init": sum(c.get("lambda_min_H0", 0.0) < 0.5 * g["lambda0"] for g, c in failed_H)}


def check_fifty_steps(study: dict) -> dict[str, Claim]:
    r"""The chapter's claims on the study with the short horizon, from :func:`fifty_step_facts`. Ids:
    ``H-on-grid`` and ``G-at-5n`` (Lemma 3.6's Gram conditions, for :math:`H` and :math:`G`; the latter holds at the
    widest width of the grid, i.e. its rate there reaches the study's level, ``criterion.rate``), ``G0-above-n`` and
    ``G0-within-10n`` (the minimal width of :math:`\lambda_{\min}(G(0))\ge\lambda_0/2` lies between :math:`n` and
    :math:`10n`), ``gap-lemma-3.3`` and ``gap-H`` (Theorem 3.1's width is at least :math:`10^4` and :math:`10^5`
    times the measured ones), ``lemma-3.5-wider`` and ``loss-all`` (every run meets the loss criterion on this
    horizon).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study
        >>> from implicit.studies.width_findings import check_fifty_steps
        >>> checks = check_fifty_steps(load_study(results_dir("width")))
        >>> len(checks), all(c.holds for c in checks.values())
        (8, True)
    """
    f, K = fifty_step_facts(study), study["settings"]["profile"]["steps"]
    level = study["settings"]["criterion"]["rate"]  # a condition holds at a width if this fraction of seeds meets it
    claims = [
        Claim("H-on-grid", f"largest minimal width of λ_min(H) ≥ λ₀/2 at k = 0, {K} ≤ widest width of the grid",
              f["H_width_max"], "<=", f["top_width"], "lemma-3.6"),
        Claim("G-at-5n", f"rate of λ_min(G) ≥ λ₀/2 at k = 0, {K} at the smallest n, m = {f['top_width']}, against "
              "the study's minimal-width level", f["G_rate_smallest_n"], ">=", level, "lemma-3.6"),
        Claim("G0-above-n", "minimal width of λ_min(G(0)) ≥ λ₀/2 over n, smallest over the groups",
              f["G0_over_n_min"], ">", 1.0),
        Claim("G0-within-10n", "minimal width of λ_min(G(0)) ≥ λ₀/2 over n, largest over the groups",
              f["G0_over_n_max"], "<=", 10.0, "lemma-3.6"),
        Claim("gap-lemma-3.3", "Theorem 3.1's width (constants 1) / measured width of Lemma 3.3's event",
              f["gap_lemma_3_3"], ">=", 1e4),
        Claim("gap-H", "Theorem 3.1's width (constants 1) / measured width of the H condition", f["gap_H"], ">=", 1e5),
        Claim("lemma-3.5-wider", "Lemma 3.5's width / Theorem 3.1's width, smallest over the groups",
              f["lemma_3_5_over_theorem_3_1"], ">=", 1.0),
        Claim("loss-all", f"fraction of runs meeting the loss criterion over K = {K} steps", f["loss_rate"], ">=", 1.0),
    ]
    return keyed(*claims)


def growth_exponents(study: dict) -> dict[str, dict[str, float]]:
    r"""Per data set, the exponent :math:`s` of a power-law fit :math:`m \propto n^s`
    (:func:`implicit.measure.fit_power_law`) of the minimal width of each condition over the groups' :math:`n`:
    ``gram_H`` (along the run), ``gram_G0`` and ``lemma_3_3`` (on :math:`G(0)`), and of Theorem 3.1's width
    ``theorem_3_1``. Groups where the condition is never reached are left out of its fit.

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study
        >>> from implicit.studies.width_findings import growth_exponents
        >>> s = growth_exponents(load_study(results_dir("width")))
        >>> {k: round(v, 2) for k, v in s["sphere"].items()}
        {'gram_H': 0.74, 'gram_G0': 1.19, 'lemma_3_3': 1.18, 'theorem_3_1': 3.3}
    """
    keys = {"gram_H": "m_min_gram_H", "gram_G0": "m_min_gram_G0", "lemma_3_3": "m_min_lemma33_event",
            "theorem_3_1": "theorem_3_1"}
    rows = summary_table(study)
    out = {}
    for ds in sorted({r["dataset"] for r in rows}, reverse=True):
        fits = {}
        for name, key in keys.items():
            pts = [(r["n"], r[key]) for r in rows if r["dataset"] == ds and r[key] is not None]
            fits[name] = fit_power_law(*zip(*pts, strict=True))[0] if len(pts) > 1 else math.nan
        out[ds] = fits
    return out


def check_growth(study: dict) -> dict[str, Claim]:
    r"""How the minimal widths grow with :math:`n` (:func:`growth_exponents`): per data set ``H-sublinear-<ds>``
    (exponent below 1), ``G0-linear-<ds>`` and ``lemma-3.3-linear-<ds>`` (exponent between 0.7 and 1.4, written
    :math:`|s - 1.05| \le 0.35`), ``theorem-superlinear-<ds>`` (Theorem 3.1's exponent above 1); and ``H-below-n``:
    for :math:`n \ge 100` the :math:`H` condition holds below :math:`m = n`.

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study
        >>> from implicit.studies.width_findings import check_growth
        >>> checks = check_growth(load_study(results_dir("width")))
        >>> len(checks), all(c.holds for c in checks.values())
        (9, True)
    """
    claims = []
    for ds, s in growth_exponents(study).items():
        claims += [
            Claim(f"H-sublinear-{ds}", f"{ds}: exponent of the H condition's minimal width in n", s["gram_H"], "<", 1),
            Claim(f"G0-linear-{ds}", f"{ds}: |exponent of λ_min(G(0)) ≥ λ₀/2's minimal width − 1.05|",
                  abs(s["gram_G0"] - 1.05), "<=", 0.35),
            Claim(f"lemma-3.3-linear-{ds}", f"{ds}: |exponent of Lemma 3.3's event's minimal width − 1.05|",
                  abs(s["lemma_3_3"] - 1.05), "<=", 0.35),
            Claim(f"theorem-superlinear-{ds}", f"{ds}: exponent of Theorem 3.1's width in n", s["theorem_3_1"], ">", 1)]
    ratio = max(_inf(r["m_min_gram_H"]) / r["n"] for r in summary_table(study) if r["n"] >= 100)
    claims.append(Claim("H-below-n", "largest minimal width of the H condition over n, for n ≥ 100", ratio, "<", 1))
    return keyed(*claims)


def _by_dataset(study: dict) -> list[dict]:
    """The groups, sphere first, then by n."""
    return sorted(study["groups"].values(), key=lambda g: (g["dataset"] != "sphere", g["dataset"], g["n"]))


def long_rows(study: dict) -> list[dict]:
    r"""Per group and width of a study (meant for the long horizon): the rates over seeds of the three criteria
    (``G``, ``H``, ``loss``), the runs that stopped early, and, among the completed runs, how many left Theorem 3.2's
    envelope, had a late rate slower than the theorem's, or had a step at which the loss rose (part of no criterion).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study
        >>> from implicit.studies.width_findings import long_rows
        >>> print(long_rows(load_study(results_dir("width"), "long"))[0])
        {'data': 'sphere', 'n': 50, 'm': 8, 'G': 0.0, 'H': 0.2, 'loss': 0.5, 'stopped': 0, 'left envelope': 2,
         'late rate slow': 5, 'loss rose': 7}
    """
    rows = []
    for g in _by_dataset(study):
        for m in sorted(g["rates"]["loss"]):
            cells = [c for c in g["cells"] if c["m"] == m]
            done = [c["checks"] for c in cells if c["checks"].get("completed")]
            rows.append({"data": g["dataset"], "n": g["n"], "m": m,
                         **{k: g["rates"][name][m] for k, name in zip("GH", ("gram_G", "gram_H"), strict=True)},
                         "loss": g["rates"]["loss"][m], "stopped": len(cells) - len(done),
                         "left envelope": sum(not c["envelope"] for c in done),
                         "late rate slow": sum(not c["late_rate"] for c in done),
                         "loss rose": sum(not c["monotone"] for c in done)})
    return rows


def long_facts(study: dict) -> dict[str, float]:
    r"""What the chapter reads off the study with the long horizon: Theorem 3.2's envelope at :math:`k = K`
    (``envelope_min_<ds>``, ``envelope_max_<ds>``), the runs meeting the loss criterion (``passing``), those of them
    at round-off before :math:`K/2` (``at_floor``), how many times faster per step than the theorem the others decay
    (``speedup_min``, ``speedup_max``), and the runs by (:math:`H` condition, loss criterion): ``H_and_loss``,
    ``H_only``, ``loss_only``, ``neither``.

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study
        >>> from implicit.studies.width_findings import long_facts
        >>> f = long_facts(load_study(results_dir("width"), "long"))
        >>> f["passing"], f["at_floor"], f["H_and_loss"], f["H_only"], f["loss_only"], f["neither"]
        (75, 29, 66, 0, 9, 5)
    """
    ends: dict[str, list[float]] = {}
    for g in _by_dataset(study):
        ends.setdefault(g["dataset"], []).extend(_envelope_ends(g))
    out = {f"envelope_{k}_{ds}": pick(e) for ds, e in ends.items() for k, pick in (("min", min), ("max", max))}
    cells = [(g, c) for g in study["groups"].values() for c in g["cells"]]
    passing = [(g, c) for g, c in cells if c["criteria"]["loss"]]
    speedup = [s for g, c in passing for s in _speedups(g, [c])]
    pairs = [(c["criteria"]["gram_H"], c["criteria"]["loss"]) for _, c in cells]
    return {**out, "passing": len(passing), "at_floor": sum(c["rate_second_half"] is None for _, c in passing),
            "speedup_min": min(speedup), "speedup_max": max(speedup), "H_and_loss": pairs.count((True, True)),
            "H_only": pairs.count((True, False)), "loss_only": pairs.count((False, True)),
            "neither": pairs.count((False, False))}


def check_long(study: dict, wide: int = 16) -> dict[str, Claim]:
    r"""The chapter's claims on the study with the long horizon (:math:`K = 5000`, :math:`n = 50`). Ids:
    ``envelope-bites`` (on the sphere Theorem 3.2's envelope ends at most at 0.2, so it can fail),
    ``loss-fails-narrow`` (on the sphere at the narrowest width at most half of the runs meet the loss criterion);
    per data set ``loss-<ds>`` (Theorem 3.2's loss conclusion holds in every run from width ``wide`` on),
    ``loss-before-H-<ds>`` (its minimal width is at most the :math:`H` condition's) and ``no-G-<ds>`` (no run meets
    the :math:`G` condition: the largest :math:`\min(\lambda_{\min}(G(0)), \lambda_{\min}(G(K)))/(\lambda_0/2)` is
    below 1); ``H-then-loss`` (every run meeting the :math:`H` condition meets the loss criterion) and
    ``completed`` (every run completes its steps).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study
        >>> from implicit.studies.width_findings import check_long
        >>> checks = check_long(load_study(results_dir("width"), "long"))
        >>> len(checks), all(c.holds for c in checks.values()), checks["loss-sphere"].result
        (10, True, 'theorem-3.2')
    """
    groups, f = _by_dataset(study), long_facts(study)
    sphere = [g for g in groups if g["dataset"] == "sphere"]
    cells = [c for g in groups for c in g["cells"]]
    claims = [Claim("envelope-bites", "largest (1 − αλ₀/2)^K on the sphere", f["envelope_max_sphere"], "<=", 0.2),
              Claim("loss-fails-narrow", "rate of the loss criterion on the sphere at the narrowest width (the "
                    "text's 'half of the runs fail it': at most half pass)",
                    max(g["rates"]["loss"][min(g["rates"]["loss"])] for g in sphere), "<=", 0.5)]
    for g in groups:
        ds, mw = g["dataset"], g["minimal_widths"]
        lam = [min(c.get("lambda_min_G0") or 0.0, c.get("lambda_min_GK") or 0.0) for c in g["cells"]]
        claims += [
            Claim(f"loss-{ds}", f"{ds}: smallest rate of the loss criterion over widths ≥ {wide} (K = {g['steps']})",
                  min(r for m, r in g["rates"]["loss"].items() if m >= wide), ">=", 1.0, "theorem-3.2"),
            Claim(f"loss-before-H-{ds}", f"{ds}: minimal width of the loss criterion, against the H condition's",
                  _inf(mw["loss"]["stays"]), "<=", _inf(mw["gram_H"]["stays"])),
            Claim(f"no-G-{ds}", f"{ds}: largest min(λ_min(G(0)), λ_min(G(K))) / (λ₀/2) over the runs",
                  max(lam) / (0.5 * g["lambda0"]), "<", 1.0)]
    claims += [Claim("H-then-loss", "fraction of the runs meeting the H condition that meet the loss criterion",
                     f["H_and_loss"] / (f["H_and_loss"] + f["H_only"]), ">=", 1.0),
               Claim("completed", "fraction of the runs that complete their K steps",
                     sum(bool(c["checks"].get("completed")) for c in cells) / len(cells), ">=", 1.0)]
    return keyed(*claims)


def check_sweep(study: dict) -> dict[str, Claim]:
    r"""The chapter's claims on the :math:`\gamma` sweeps (worst over data sets): ``certificate-breaks`` (the
    certificate fails in most seeds by the first :math:`\gamma` of the grid above 1/2, where its factor
    :math:`\tilde\gamma\|A\|_2 \approx 2\gamma` crosses 1), ``certificate-first`` (before the solver and
    training: the ratio of its break point to the earliest other one is below 1), ``solver-edge`` (the solver
    converges in most seeds up to :math:`\gamma \ge 1`), ``half-below``, ``half-above`` (at :math:`\gamma = 0.5` the
    certified factor straddles 1: one seed below, one above), ``training-late`` (training fails only at
    :math:`\gamma \ge 0.95`) and ``training-solver`` (every such failure is a forward solve that did not converge).

    Examples:
        >>> from implicit.studies import results_dir
        >>> from implicit.studies.width import load_study
        >>> from implicit.studies.width_findings import check_sweep
        >>> checks = check_sweep(load_study(results_dir("width")))
        >>> len(checks), all(c.holds for c in checks.values())
        (7, True)
    """
    sweeps = list(study["gamma_sweep"].values())
    breaks = [s["breaks"] for s in sweeps]
    half = [[q["certified_factor"] for q in s["points"] if q["gamma"] == 0.5] for s in sweeps]
    failed = [q for s in sweeps for q in s["points"] if q["gamma"] < 1 and q.get("train_success") is False]
    first = max(b["certificate"] / min(_inf(b["solver"]), _inf(b["training"])) for b in breaks)
    past_half = min(q["gamma"] for s in sweeps for q in s["points"] if q["gamma"] > 0.5)  # where 2γ > 1 on the grid
    claims = [
        Claim("certificate-breaks", "γ at which the certificate fails in most seeds, largest over data sets, against "
              f"the first γ of the grid above 1/2 ({past_half}), where γ̃‖A‖₂ ≈ 2γ crosses 1",
              max(_inf(b["certificate"]) for b in breaks), "<=", past_half),
        Claim("certificate-first", "certificate's break point over the earliest of the solver's and training's",
              first, "<", 1.0),
        Claim("solver-edge", "γ at which the Picard solver fails in most seeds, smallest over data sets",
              min(_inf(b["solver"]) for b in breaks), ">=", 1.0),
        Claim("half-below", "smallest certified factor at γ = 0.5, largest over data sets", max(map(min, half)),
              "<", 1),
        Claim("half-above", "largest certified factor at γ = 0.5, smallest over data sets (above 1: not certified)",
              min(map(max, half)), ">", 1),
        Claim("training-late", "smallest γ < 1 at which a training run fails", min((q["gamma"] for q in failed),
              default=math.inf), ">=", 0.95),
        Claim("training-solver", "fraction of the failed training runs stopped by a forward solve",
              float(np.mean([("ConvergenceError" in (q.get("train_stopped") or "")) for q in failed] or [1.0])),
              ">=", 1.0)]
    return keyed(*claims)



r"""The stored benchmark results the performance appendix reads: loading, one Markdown table per suite, and the
page's performance targets as :class:`~implicit.claims.Claim` records.

The suites (``python -m benchmarks all --device cpu``) write ``<suite>-<device>.json`` into the package data folder
``implicit/results/benchmarks`` (:func:`implicit.studies.results_dir`), so an installed wheel renders the page without
the ``benchmarks`` folder of the source tree.

Examples:
    >>> from implicit import benchmarking
    >>> cpu = benchmarking.load("cpu")
    >>> sorted(cpu) == sorted(benchmarking.SUITES)
    True
    >>> benchmarking.table(cpu, "roofline").splitlines()[0]
    '| dtype | n | m | one GEMM (ms) | GFLOP/s |'
"""
from __future__ import annotations

import re
from pathlib import Path

from .claims import Claim
from .records import read_json
from .tables import markdown_table

__all__ = ["SUITES", "FORWARD_PEERS", "GRADIENT_METHODS", "load", "provenance", "ms", "not_run", "table", "tables",
           "warm_start_implied", "targets"]

#: The suites the page renders, in page order.
SUITES = ("roofline", "forward", "warmstart", "gradient", "gram", "step", "experiment")
#: The torchdeq forward solvers run on the same map as Picard.
FORWARD_PEERS = ("fixed_point_iter", "anderson", "broyden")
#: The four ways to the exact gradient.
GRADIENT_METHODS = ("fused", "function", "unrolled", "torchdeq")


def load(device: str, folder: str | Path | None = None) -> dict[str, dict]:
    """The stored results of every suite measured on ``device`` (``"cpu"`` or ``"cuda"``): ``{suite: record}``;
    suites without a file are absent; a damaged one raises :class:`~implicit.records.RecordError` naming it
    (:func:`~implicit.records.read_json`). ``folder`` defaults to the results stored with the package.

    Examples:
        >>> from implicit.benchmarking import load
        >>> cpu = load("cpu")
        >>> cpu["forward"]["provenance"]["device_type"], load("cpu", folder="/nonexistent")
        ('cpu', {})
    """
    if folder is None:
        from .studies import results_dir

        folder = results_dir("benchmarks")
    paths = {s: Path(folder) / f"{s}-{device}.json" for s in SUITES}
    return {s: read_json(path, required=("provenance",)) for s, path in paths.items() if path.exists()}


def provenance(runs: dict[str, dict]) -> str:
    """One line saying when, where and with what a device's results were measured (from the forward suite).

    Examples:
        >>> from implicit.benchmarking import load, provenance
        >>> provenance(load("cpu")).startswith("measured 2026")
        True
    """
    p = runs["forward"]["provenance"] if "forward" in runs else next(iter(runs.values()))["provenance"]
    return (f"measured {p['date'][:10]} on {p['device']} ({p['threads']} threads), torch {p['torch']}, "
            f"torchdeq {p.get('torchdeq')}, commit {p['git_commit']}")


def ms(record: dict) -> str:
    """Median time with the ``[min, max]`` of the repetitions, in milliseconds.

    Examples:
        >>> from implicit.benchmarking import ms
        >>> ms({"median_s": 0.0123, "min_s": 0.012, "max_s": 0.0131})
        '12.3 [12, 13.1]'
    """
    return f"{record['median_s'] * 1e3:.3g} [{record['min_s'] * 1e3:.3g}, {record['max_s'] * 1e3:.3g}]"


def not_run(reason: str) -> str:
    """Why a data set has no row, for the reader: the error's message without its type, folders or advice.

    Examples:
        >>> from implicit.benchmarking import not_run
        >>> not_run("skipped: FileNotFoundError: no offline copy of svhn at /data/svhn-01.npz; run `fetch`")
        'not run: no offline copy of svhn at svhn-01.npz'
    """
    reason = reason.removeprefix("skipped: ").split("; ")[0].split(". ")[0]
    reason = re.sub(r"^\w+Error: ", "", reason)
    return "not run: " + re.sub(r"\S*/([\w.-]+)", r"\1", reason)


def _peer_cell(row: dict, peer: str) -> str:
    r = row[peer]
    if "skipped" in r:
        return "skipped (" + r["skipped"].split(" > ")[0] + ")"
    return f"{r['median_s']:.3g} s ({r['speedup_of_closed_form']:.0f}×), err {r['max_rel_error_vs_closed_form']:.0e}"


def _forward_cell(q: dict) -> str:
    if "skipped" in q:
        return "skipped"
    return f"K={q['iterations']}, {q['median_s'] * 1e3:.3g} ms ({q['speedup_of_picard']:.2f}×)"


def _gradient_rows(r: dict) -> list[list]:
    rows = []
    for name in GRADIENT_METHODS:
        q = r[name]
        cells = ["skipped", "", ""] if "skipped" in q else [
            ms(q), f"{q['peak_bytes'] / 2**20:.1f}", f"{q['max_rel_diff_vs_fused']:.1e}"]
        rows.append([r["n"], r["m"], r["gamma"], r["K"], name, *cells])
    return rows


def _experiment_row(r: dict) -> list:
    if "skipped" in r:
        return [r["dataset"], "", "", "", "", not_run(r["skipped"])]
    how = f"scaled from m={r['extrapolated_from']}" if "extrapolated_from" in r else "measured"
    return [r["dataset"], r["width"], f"{r['t_plain_s']:.3g}", f"{r['t_gram_s']:.3g}", f"{r['full_run_s'] / 60:.1f}",
            how]


def table(runs: dict[str, dict], suite: str) -> str:
    """The Markdown table of one suite's stored rows (for ``warmstart``: the mean iteration counts of its summary;
    the per-step counts are a figure).

    Examples:
        >>> from implicit.benchmarking import load, table
        >>> print(table(load("cpu"), "gram").splitlines()[0])
        | n | m | Jacobian (GB) | closed form (ms) | vmap(jacrev) | VJP rows |
    """
    rows = runs.get(suite, {}).get("rows", [])
    if suite == "roofline":
        return markdown_table(["dtype", "n", "m", "one GEMM (ms)", "GFLOP/s"],
                              [[r["dtype"], r["n"], r["m"], f"{r['gemm_s'] * 1e3:.3g}", f"{r['gflops']:.1f}"]
                               for r in rows])
    if suite == "warmstart":
        s = runs["warmstart"]["summary"]
        return markdown_table(["solve", "cold (mean)", "warm (mean)", "cold / warm"],
                              [[k, f"{s[k + '_cold_mean']:.1f}", f"{s[k + '_warm_mean']:.1f}", f"{s[k + '_ratio']:.2f}"]
                               for k in ("forward", "adjoint")])
    if suite == "forward":
        return markdown_table(
            ["dtype", "n", "m", "γ", "K", "Picard (ms)", "/ ideal", *[f"torchdeq {p}" for p in FORWARD_PEERS]],
            [[r["dtype"], r["n"], r["m"], r["gamma"], r["picard"]["iterations"], ms(r["picard"]),
              f"{r['picard']['over_ideal']:.2f}", *[_forward_cell(r[p]) for p in FORWARD_PEERS]] for r in rows])
    if suite == "gradient":
        return markdown_table(["n", "m", "γ", "K", "method", "time (ms)", "peak MiB", "diff vs fused"],
                              [line for r in rows for line in _gradient_rows(r)])
    if suite == "gram":
        return markdown_table(["n", "m", "Jacobian (GB)", "closed form (ms)", "vmap(jacrev)", "VJP rows"],
                              [[r["n"], r["m"], f"{r['jacobian_gb']:.2f}", ms(r["closed_form"]),
                                _peer_cell(r, "vmap_jacrev"), _peer_cell(r, "vjp_rows")] for r in rows])
    if suite == "step":
        return markdown_table(
            ["n", "m", "step (ms)", "K_f", "K_a", "GFLOP/s [min, max]", "roofline", "fraction"],
            [[r["n"], r["m"], f"{r['median_s'] * 1e3:.3g}", r["repetitions"][-1]["k_forward"],
              r["repetitions"][-1]["k_adjoint"],
              f"{r['gflops_median']:.1f} [{r['gflops_min']:.1f}, {r['gflops_max']:.1f}]",
              f"{r['roofline_gflops']:.1f}", f"{r['fraction_of_roofline']:.0%}"] for r in rows])
    if suite == "experiment":
        return markdown_table(["data set", "m", "step (s)", "step with Gram (s)", "full run (min)", "basis"],
                              [_experiment_row(r) for r in rows])
    raise ValueError(f"no table for suite {suite!r}")


def tables(suite: str, cpu: dict[str, dict], gpu: dict[str, dict]) -> str:
    """The suite's CPU table and, where a GPU run is stored, its GPU table below a heading (Markdown).

    Examples:
        >>> from implicit.benchmarking import load, tables
        >>> text = tables("step", load("cpu"), load("cuda"))
        >>> text.startswith("**CPU**"), "**GPU**" in text
        (True, True)
    """
    out = f"**CPU**\n\n{table(cpu, suite)}"
    return out + (f"\n\n**GPU**\n\n{table(gpu, suite)}" if suite in gpu else "")


def warm_start_implied(ws: dict) -> tuple[float, float]:
    r"""What the warm-start suite's mean iteration counts imply: from zero the error must fall by :math:`1/\mathrm{tol}`
    in :math:`K_\text{cold}` iterations, so the contraction rate is :math:`q = \mathrm{tol}^{1/K_\text{cold}}`; a warm
    start that needs :math:`K_\text{warm}` iterations began at a relative error
    :math:`\delta = \mathrm{tol}\,q^{-K_\text{warm}}`. Returns :math:`(q, \delta)`.

    Examples:
        >>> from implicit.benchmarking import warm_start_implied
        >>> ws = {"tol": 1e-12, "summary": {"forward_cold_mean": 12.0, "forward_warm_mean": 6.0}}
        >>> q, delta = warm_start_implied(ws)  # half the iterations: the start was sqrt(tol) away
        >>> round(q, 4), f"{delta:.0e}"
        (0.1, '1e-06')
    """
    s = ws["summary"]
    q = ws["tol"] ** (1 / s["forward_cold_mean"])
    return q, ws["tol"] * q ** (-s["forward_warm_mean"])


def _claim(key: str, statement: str, measured: float, relation: str, bound: float) -> tuple[str, Claim]:
    return key, Claim(key, statement, measured, relation, bound)


def targets(cpu: dict[str, dict], suite: str) -> dict[str, Claim]:
    """The page's performance targets for one suite of the stored CPU run (float64), keyed by id.

    ``forward``: Picard within 1.2× of :math:`K` roofline GEMMs at :math:`n=512, m=1024, \\gamma=0.3`, faster than
    torchdeq's fixed-point iteration and at least 2.5× faster than its Anderson solver, and every converged float64
    peer within :math:`10^{-8}` of Picard's equilibrium. ``warmstart``: warm starts cut the forward iterations by
    2× after the first steps. ``gradient``: for solves of :math:`K\\ge 20` iterations the fused and the function
    gradients are faster than back-propagation through the unrolled iteration and use at most a quarter of its
    peak memory; every gradient agrees with the fused one within :math:`10^{-9}`. ``gram``: the autograd peers agree
    with the closed form within :math:`10^{-9}`, the closed form is 50× faster than ``vmap(jacrev)`` at
    :math:`n=128, m=512`, and takes at most a minute at :math:`n=1000, m=4000`. ``step``: a training step with its
    Gram matrix runs at 60 % of the roofline or more for :math:`n\\ge256, m\\ge1024`.

    Examples:
        >>> from implicit.benchmarking import load, targets
        >>> checks = targets(load("cpu"), "gram")
        >>> list(checks), all(c.holds for c in checks.values())
        (['gram-agree', 'gram-speedup', 'gram-1000x4000'], True)
    """
    out: list[tuple[str, Claim]] = []
    if suite == "forward":
        rows = {(r["dtype"], r["n"], r["m"], r["gamma"]): r for r in cpu["forward"]["rows"]}
        main = rows[("float64", 512, 1024, 0.3)]
        agree = max(r[p]["rel_diff_vs_picard"] for r in cpu["forward"]["rows"] for p in FORWARD_PEERS
                    if "skipped" not in r[p] and r[p]["converged"] and r["dtype"] == "float64")
        out += [_claim("fwd-ideal", "forward solve / ideal K x GEMM (n=512, m=1024, gamma=0.3)",
                       main["picard"]["over_ideal"], "<=", 1.2),
                _claim("fwd-fixed-point", "torchdeq fixed_point_iter time / ours",
                       main["fixed_point_iter"]["speedup_of_picard"], ">=", 1.0),
                _claim("fwd-anderson", "torchdeq anderson time / ours", main["anderson"]["speedup_of_picard"], ">=",
                       2.5),
                _claim("fwd-agree", "float64 peers' equilibria vs ours (relative difference)", agree, "<=", 1e-8)]
    elif suite == "warmstart":
        s = cpu["warmstart"]["summary"]
        out.append(_claim("warm-2x", f"forward iterations cold / warm after step {s['after_step']}",
                          s["forward_ratio"], ">=", 2.0))
    elif suite == "gradient":
        for r in (r for r in cpu["gradient"]["rows"] if r["K"] >= 20):
            for name in ("fused", "function"):
                out += [_claim(f"grad-{name}-time-K{r['K']}", f"{name} gradient time / unrolled (K={r['K']})",
                               r[name]["time_over_unrolled"], "<=", 1.0),
                        _claim(f"grad-{name}-memory-K{r['K']}", f"{name} gradient peak memory / unrolled "
                               f"(K={r['K']})", r[name]["memory_over_unrolled"], "<=", 0.25)]
        worst = max(r[name]["max_rel_diff_vs_fused"] for r in cpu["gradient"]["rows"] for name in GRADIENT_METHODS
                    if "skipped" not in r[name])
        out.append(_claim("grad-agree", "all gradients agree with the fused closed form (relative)", worst, "<=",
                          1e-9))
    elif suite == "gram":
        rows = {(r["n"], r["m"]): r for r in cpu["gram"]["rows"]}
        errors = [r[p]["max_rel_error_vs_closed_form"] for r in cpu["gram"]["rows"] for p in ("vmap_jacrev", "vjp_rows")
                  if "skipped" not in r[p]]
        out += [_claim("gram-agree", "Gram peers vs closed form, worst relative error", max(errors), "<=", 1e-9),
                _claim("gram-speedup", "closed form speed-up over vmap(jacrev) at n=128, m=512",
                       rows[(128, 512)]["vmap_jacrev"]["speedup_of_closed_form"], ">=", 50),
                _claim("gram-1000x4000", "closed-form Gram at n=1000, m=4000, seconds",
                       rows[(1000, 4000)]["closed_form"]["median_s"], "<=", 60)]
    elif suite == "step":
        out += [_claim(f"step-n{r['n']}-m{r['m']}", f"GD step with Gram, fraction of roofline (n={r['n']}, m={r['m']})",
                       r["fraction_of_roofline"], ">=", 0.6)
                for r in cpu["step"]["rows"] if r["m"] >= 1024 and r["n"] >= 256]
    else:
        raise ValueError(f"no targets for suite {suite!r}")
    return dict(out)

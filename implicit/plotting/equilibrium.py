"""Figures of the model, well-posedness and equilibrium-solver chapters: each function draws one captioned figure of
the book from computed data."""
from __future__ import annotations

import math

import numpy as np

from . import WIDTH_COLORS

__all__ = ["plot_init_histograms", "plot_truncation", "plot_digits", "plot_norm_concentration", "plot_iterate_norms",
           "plot_iteration_counts"]


def plot_init_histograms(net):
    r"""Histograms of the entries of :math:`A` and :math:`W` of a net against the :math:`\mathcal N(0,1)` density
    (Assumption 1), one panel each. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit import ImplicitNet
        >>> from implicit.plotting.equilibrium import plot_init_histograms
        >>> fig = plot_init_histograms(ImplicitNet(d=5, m=32, seed=0))
        >>> [ax.get_xlabel() for ax in fig.axes]
        ['value of an entry', 'value of an entry']
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7, 2.8), layout="constrained")
    grid = np.linspace(-4.5, 4.5, 200)
    for ax, name in zip(axes, "AW", strict=True):
        x = getattr(net, name).detach().cpu().numpy().ravel()
        ax.hist(x, bins=60, density=True, color="#7570b3", alpha=0.6, label="entries")
        ax.plot(grid, np.exp(-grid ** 2 / 2) / math.sqrt(2 * math.pi), "k", lw=1.2, label="N(0, 1) density")
        ax.set_xlabel("value of an entry")
        ax.set_title(f"${name}$ ({x.size:,} entries)", fontsize=9)
    axes[0].set_ylabel("density")
    axes[0].legend(loc="upper left", fontsize=8)
    return fig


def plot_truncation(errors: dict, floor: float):
    r"""Output error :math:`\max_i|\hat y_i^{(L)} - \hat y_i|` of the depth-:math:`L` truncations (markers) and the
    Lemma 2.2 bound :math:`\max_i\|u\|q^L\|\phi_i\|/(1-q)` (dashed) against :math:`L`, one colour per :math:`\gamma`,
    from ``errors[gamma] = (err, bound, q)`` with arrays of shape ``(depths, n)``; the round-off level ``floor``
    dotted. Legend to the right. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from implicit.plotting.equilibrium import plot_truncation
        >>> L = np.arange(5)[:, None]
        >>> fig = plot_truncation({0.1: (0.1 ** L * np.ones((5, 3)), 0.2 ** L * np.ones((5, 3)), 0.2)}, 1e-13)
        >>> fig.axes[0].get_xlabel(), fig.axes[0].get_yscale()
        ('depth $L$ of the truncated network', 'log')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    for (g, (err, bound, q)), col in zip(errors.items(), WIDTH_COLORS, strict=False):
        err, bound = np.asarray(err), np.asarray(bound)
        depths = np.arange(len(err))
        ax.semilogy(depths, np.maximum(err.max(axis=1), 1e-17), "o-", ms=3, color=col, label=rf"$\gamma={g}$: error")
        ax.semilogy(depths, bound.max(axis=1), "--", color=col, label=rf"$\gamma={g}$: bound, $q={q:.2f}$")
    ax.axhline(floor, color="gray", lw=0.8, ls=":", label="round-off level")
    ax.set_ylim(1e-17, 1e4)
    ax.set_xlabel("depth $L$ of the truncated network")
    ax.set_ylabel(r"$\max_i|\hat y_i^{(L)} - \hat y_i|$")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_digits(X, y, per_class: int = 8):
    r"""The first ``per_class`` images of each class of the digits data (rows of ``X`` as :math:`8\times8` images,
    targets ``y`` in :math:`\{-1, +1\}`), one row per class. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import torch
        >>> from implicit.plotting.equilibrium import plot_digits
        >>> fig = plot_digits(torch.rand(4, 64), torch.tensor([-1.0, 1.0, -1.0, 1.0]), per_class=2)
        >>> len(fig.axes), fig.axes[0].get_title()
        (4, 'y = -1')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    y = np.asarray(y)
    fig, axes = plt.subplots(2, per_class, figsize=(7, 2.2), squeeze=False)
    for row, label in zip(axes, (-1, 1), strict=True):
        for ax, i in zip(row, np.flatnonzero(y == label)[:per_class], strict=False):
            ax.imshow(np.asarray(X[i]).reshape(8, 8), cmap="gray_r")
            ax.set_title(f"y = {label:+d}", fontsize=8)
        for ax in row:
            ax.axis("off")
    return fig


def plot_norm_concentration(ratios: dict):
    r""":math:`\|A(0)\|_2/\sqrt m` of Gaussian draws against the width (dots, one per seed), their mean ± one standard
    deviation (black) and the Bai–Yin edge 2, from ``ratios[m]`` (a list per width). Log width axis. Returns the
    figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.equilibrium import plot_norm_concentration
        >>> fig = plot_norm_concentration({50: [1.9, 1.95, 2.0], 100: [1.93, 1.96, 1.99]})
        >>> fig.axes[0].get_xlabel(), fig.axes[0].get_xscale()
        ('width $m$', 'log')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    widths = sorted(ratios)
    for k, m in enumerate(widths):
        r = np.asarray(ratios[m])
        ax.scatter(m * (1 + 0.04 * np.linspace(-1, 1, len(r))), r, s=8, color=WIDTH_COLORS[k % len(WIDTH_COLORS)],
                   alpha=0.5)
    means = [np.mean(ratios[m]) for m in widths]
    spreads = [np.std(ratios[m], ddof=1) for m in widths]
    ax.errorbar(widths, means, yerr=spreads, fmt="o-", color="black", capsize=4, label="mean ± 1 std over seeds")
    ax.axhline(2.0, color="gray", ls="--", label="Bai–Yin edge 2")
    ax.set_xscale("log")
    ax.set_xticks(widths, [str(m) for m in widths])
    ax.minorticks_off()
    ax.set_xlabel("width $m$")
    ax.set_ylabel(r"$\|A(0)\|_2/\sqrt{m}$")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_iterate_norms(rows):
    r"""Norms relative to :math:`\|\phi\|` against the contraction factor :math:`q`: the range of
    :math:`\|z_i^*\|/\|\phi_i\|` over samples (band), the largest :math:`\|z_i^\ell\|/\|\phi_i\|` over iterates
    (markers), and Lemma 2.2's bound :math:`1/(1-q)` with the lower bound :math:`1/(1+q)`. ``rows``: records (dicts or
    a DataFrame's records) with keys ``q``, ``z_phi_min``, ``z_phi_max``, ``iterate_max``
    (:func:`implicit.wellposed.iterate_bounds`). Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.equilibrium import plot_iterate_norms
        >>> rows = [dict(q=q, z_phi_min=1.0, z_phi_max=1.1, iterate_max=1.1) for q in (0.2, 0.5)]
        >>> fig = plot_iterate_norms(rows)
        >>> fig.axes[0].get_yscale(), len(fig.axes[0].get_lines())
        ('log', 3)
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["q"])
    q = np.array([r["q"] for r in rows])
    qq = np.linspace(0.05, max(0.93, q.max()), 200)
    fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    ax.plot(qq, 1 / (1 - qq), "k--", label=r"upper bound $1/(1-q)$ (Lemma 2.2)")
    ax.plot(qq, 1 / (1 + qq), ":", color="gray", label=r"lower bound $1/(1+q)$")
    ax.fill_between(q, [r["z_phi_min"] for r in rows], [r["z_phi_max"] for r in rows], color=WIDTH_COLORS[0],
                    alpha=0.4, label=r"$\|z_i^*\|/\|\phi_i\|$, range over samples")
    ax.plot(q, [r["iterate_max"] for r in rows], "o-", ms=3, color=WIDTH_COLORS[1],
            label=r"$\max_{\ell, i}\|z_i^\ell\|/\|\phi_i\|$")
    ax.set_yscale("log")
    ax.set_xlabel(r"contraction factor $q=\tilde\gamma\|A\|$")
    ax.set_ylabel(r"norm relative to $\|\phi\|$")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_iteration_counts(profiles, tol: float, shown: tuple[int, ...] = (1, 4, 8)):
    r"""Two panels from :func:`implicit.wellposed.solve_profile` records: left, the iterations to ``tol`` against
    :math:`q` — measured, the stop-rule bound :math:`p_{\rm stop}` and the error bound :math:`p_{\rm cert}`; right,
    the solver's residual trace for the profiles at indices ``shown`` with the bound :math:`b_k` (dashed) and the
    slope :math:`\rho(\tilde\gamma D_{i^*}A)` (dotted). Legend below. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.equilibrium import plot_iteration_counts
        >>> p = dict(gamma=0.1, q=0.2, K=3, p_stop=5, p_cert=4, trace=[0.5, 0.05, 0.005], rho=0.1)
        >>> fig = plot_iteration_counts([p], 1e-2, shown=(0,))
        >>> fig.axes[0].get_ylabel(), fig.axes[1].get_yscale()
        ('iterations to tol', 'log')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    from ..wellposed import relative_step_bound

    fig, (left, right) = plt.subplots(1, 2, figsize=(7.5, 3.8), layout="constrained")
    q = [p["q"] for p in profiles]
    left.plot(q, [p["p_cert"] for p in profiles], "s--", color="gray", label=r"$p_{\mathrm{cert}}$ (error bound)")
    left.plot(q, [p["p_stop"] for p in profiles], "^-", color="black", label=r"$p_{\mathrm{stop}}$ (stop-rule bound)")
    left.plot(q, [p["K"] for p in profiles], "o-", color=WIDTH_COLORS[1], label="measured")
    left.set_yscale("log")
    left.set_xlabel(r"contraction factor $q$")
    left.set_ylabel("iterations to tol")
    for k, i in enumerate(shown):
        p, col = profiles[i], WIDTH_COLORS[k % len(WIDTH_COLORS)]
        kk = np.arange(1, len(p["trace"]) + 1)
        right.semilogy(kk, p["trace"], "o-", ms=3, color=col, label=rf"$\gamma={p['gamma']:.2f}$: residual")
        kb = np.arange(1, p["p_stop"] + 1)
        right.semilogy(kb, [relative_step_bound(p["q"], k) for k in kb], "--", color=col, lw=1,
                       label=rf"bound $b_k$, $q={p['q']:.2f}$")
        mid = len(p["trace"]) // 2
        right.semilogy(kk, p["trace"][mid] * p["rho"] ** (kk - 1 - mid), ":", color="black", lw=1.2, zorder=3)
    right.set_xlim(0, 2 * max(len(profiles[i]["trace"]) for i in shown))
    right.axhline(tol, color="gray", lw=0.8)
    right.set_ylim(tol / 100, 10)
    right.set_xlabel("iteration $k$")
    right.set_ylabel("max relative step")
    fig.legend(*left.get_legend_handles_labels(), loc="outside lower left", fontsize=8)
    fig.legend(*right.get_legend_handles_labels(), loc="outside lower right", fontsize=8, ncol=2)
    return fig

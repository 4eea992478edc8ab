"""Figures of the mini-batch, gamma and two-layer chapter: each function draws one captioned figure of the book from
computed data."""
from __future__ import annotations

import math

import numpy as np

from . import WIDTH_COLORS

__all__ = ["plot_sgd_curves", "plot_sgd_rates", "plot_gamma", "plot_widths"]


def _curves(cell: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epochs, mean and SE over seeds of :math:`\\log_{10} L(e)/L(0)` at a cell's chosen step."""
    L = np.array([np.asarray(r["loss"]) / r["loss"][0] for r in cell["chosen"]["runs"]])
    logs = np.log10(np.maximum(L, 1e-300))
    se = logs.std(axis=0, ddof=1) / math.sqrt(len(L)) if len(L) > 1 else np.zeros(L.shape[1])
    return np.arange(L.shape[1]), logs.mean(axis=0), se


def plot_sgd_curves(study: dict):
    r"""The training loss :math:`L(e)/L(0)` per epoch under SGD, one panel per data set, one colour per batch size,
    each at its largest stable step: mean of :math:`\log_{10}` over seeds (line) and mean :math:`\pm` one standard
    error (band); ``study`` as read by :func:`implicit.studies.minibatch.load_study`. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.minibatch import plot_sgd_curves
        >>> from implicit.studies.minibatch import load_study
        >>> fig = plot_sgd_curves(load_study())
        >>> len(fig.axes), fig.axes[0].get_xlabel()
        (3, 'epoch')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    datasets = sorted({ds for ds, _ in study["sgd"]})
    fig, axes = plt.subplots(1, len(datasets), figsize=(9, 3.4), layout="constrained", sharey=True, squeeze=False)
    for ax, ds in zip(axes[0], datasets, strict=True):
        cells = sorted(((b, c) for (d, b), c in study["sgd"].items() if d == ds and c["chosen"]), reverse=True)
        for color, (b, cell) in zip(WIDTH_COLORS, cells, strict=False):
            k, mean, se = _curves(cell)
            label = f"b = {b}" + (" (GD)" if b == cell["data"]["n"] else "") + f", c = {cell['chosen']['c']:g}"
            ax.plot(k, mean, color=color, label=label)
            ax.fill_between(k, mean - se, mean + se, color=color, alpha=0.25, lw=0)
        ax.set_title(f"{ds}, n = {cells[0][1]['data']['n']}", fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7, loc="lower left")
    axes[0][0].set_ylabel(r"$\log_{10} L(e)/L(0)$")
    return fig


def plot_sgd_rates(rows: list[dict]):
    r"""Measured against predicted: for each data set and batch size (rows of
    :func:`implicit.studies.minibatch.sgd_summary`), the ratio ``q`` of the measured late exponent
    :math:`-\log\rho` per epoch to the :math:`b/n`-scaled prediction's from :math:`\lambda_{\min}(H(0))` (filled)
    and ``q_end``, from :math:`\lambda_{\min}(H)` at the end of training (open, where the rows have it), mean
    :math:`\pm` two standard errors over seeds, against the batch size (log axes); ``q = 1`` is the prediction.
    Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.minibatch import plot_sgd_rates
        >>> fig = plot_sgd_rates([{"dataset": "sphere", "b": 4, "q": (1.5, 0.1)}])
        >>> fig.axes[0].get_xscale(), fig.axes[0].get_xlabel()
        ('log', 'batch size b')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    datasets = sorted({r["dataset"] for r in rows})
    for i, (ds, color) in enumerate(zip(datasets, WIDTH_COLORS, strict=False)):
        rs = sorted((r for r in rows if r["dataset"] == ds), key=lambda r: r["b"])
        b = np.array([r["b"] for r in rs], dtype=float) * (1 + 0.05 * (i - 1))  # side by side
        for key, style, fill, what in (("q", "o-", color, "H(0)"), ("q_end", "s:", "white", "H at the end")):
            if all(key in r for r in rs):
                ax.errorbar(b, [r[key][0] for r in rs], [2 * r[key][1] for r in rs], fmt=style, color=color,
                            mfc=fill, capsize=3, label=f"{ds}, predicted from {what}")
    ax.axhline(1, color="k", lw=1, ls="--", label="as predicted")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size b")
    ax.set_ylabel("measured / predicted exponent")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_gamma(summary: dict):
    r"""What :math:`\gamma` changes, from :func:`implicit.studies.minibatch.gamma_summary`: left,
    :math:`\lambda_{\min}(H^\infty)/\lambda_0` and the largest certified factor :math:`\tilde\gamma\|A(0)\|_2` over
    the seeds; right, the ratio ``q`` of the measured GD exponent :math:`-\log\rho` to
    :math:`2\alpha\lambda_{\min}(H(0))` and the exponent itself relative to its value at the smallest
    :math:`\gamma`, mean :math:`\pm` two standard errors over seeds. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.minibatch import plot_gamma
        >>> from implicit.studies.minibatch import gamma_summary, load_study
        >>> fig = plot_gamma(gamma_summary(load_study()))
        >>> len(fig.axes), fig.axes[1].get_xlabel()
        (3, '$\\gamma$')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    t = summary["table"]
    g = np.array(t["gamma"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    left.plot(g, t["hinf_over_lambda0"], "o-", color=WIDTH_COLORS[0], label=r"$\lambda_{\min}(H^\infty)/\lambda_0$")
    left.set_ylabel(r"$\lambda_{\min}(H^\infty)/\lambda_0$")
    twin = left.twinx()
    twin.plot(g, t["factor"], "s--", color=WIDTH_COLORS[1], label=r"max certified $\tilde\gamma\|A(0)\|_2$")
    twin.axhline(1, color="grey", lw=0.8)
    twin.set_ylabel(r"certified factor")
    twin.grid(False)
    lines = left.get_legend_handles_labels(), twin.get_legend_handles_labels()
    left.legend(lines[0][0] + lines[1][0], lines[0][1] + lines[1][1], fontsize=8, loc="upper left")
    e0 = t["exponent"][0][0]
    series = (("q", 1.0, "o-", WIDTH_COLORS[2], r"$-\log\rho\,/\,2\alpha\lambda_{\min}(H(0))$"),
              ("exponent", e0, "^:", WIDTH_COLORS[3], r"$-\log\rho$ relative to $\gamma_{\min}$"))
    for key, scale, style, color, label in series:
        right.errorbar(g, [m / scale for m, _ in t[key]], [2 * s / scale for _, s in t[key]], fmt=style,
                       color=color, capsize=3, label=label)
    right.axhline(1, color="grey", lw=0.8)
    for ax in (left, right):
        ax.set_xlabel(r"$\gamma$")
    right.set_ylabel("exponent ratio")
    right.legend(fontsize=8, loc="center", bbox_to_anchor=(0.5, 0.4))
    return fig


def plot_widths(rows: list[dict]):
    r"""The widths each theory asks for (constants 1) against the widths measured, over :math:`n` (log axes), one
    panel per data set, from :func:`implicit.studies.minibatch.width_rows`: Du et al.'s :math:`n^6/(\lambda^4\delta^3)`,
    Theorem 3.1's :math:`(n^2/\lambda_0^2)\log(n/\delta)`, Lemma 3.5's, and the width study's minimal widths for the
    :math:`H` condition and for :math:`\lambda_{\min}(G(0))\ge\lambda_0/2`. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.minibatch import plot_widths
        >>> fig = plot_widths([{"dataset": "sphere", "n": 50, "width_du": 1e20, "width_thm31": 1e7,
        ...                     "width_lem35": None, "measured_H": 16, "measured_G0": 256}])
        >>> fig.axes[0].get_yscale(), fig.axes[0].get_ylabel()
        ('log', 'width m')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(1, len(datasets), figsize=(9, 3.6), layout="constrained", sharey=True, squeeze=False)
    series = (("width_du", "D-", "k", "Du et al. (two-layer)"), ("width_lem35", "s--", WIDTH_COLORS[1], "Lemma 3.5"),
              ("width_thm31", "o-", WIDTH_COLORS[0], "Theorem 3.1"),
              ("measured_G0", "v:", WIDTH_COLORS[2], r"measured: $\lambda_{\min}(G(0))\geq\lambda_0/2$"),
              ("measured_H", "^:", WIDTH_COLORS[3], r"measured: $\lambda_{\min}(H)\geq\lambda_0/2$"))
    for ax, ds in zip(axes[0], datasets, strict=True):
        rs = sorted((r for r in rows if r["dataset"] == ds), key=lambda r: r["n"])
        for key, style, color, label in series:
            pts = [(r["n"], r[key]) for r in rs if r.get(key)]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, color=color, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks([r["n"] for r in rs], [str(r["n"]) for r in rs])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_title(ds, fontsize=9)
        ax.set_xlabel("n (samples)")
    axes[0][0].set_ylabel("width m")
    handles = {lab: h for ax in axes[0] for h, lab in zip(*ax.get_legend_handles_labels(), strict=True)}
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=3, fontsize=8)
    return fig

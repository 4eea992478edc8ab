"""The book's figure style (opaque white backgrounds, readable in dark mode; modest size and resolution) and the
figures of the two studies (:mod:`implicit.studies`), each drawn by one call from stored records."""
from __future__ import annotations

import matplotlib
import numpy as np

__all__ = ["use_style", "WIDTH_COLORS", "plot_figure1", "plot_gram_minima", "plot_phase", "plot_gamma_sweep"]

#: One colour per width in sweeps, in increasing order of width.
WIDTH_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


def use_style() -> None:
    """Apply the style: white figure and axes backgrounds, light grid, 100 dpi on screen and in saved files.

    Examples:
        >>> import matplotlib
        >>> from implicit.plotting import use_style
        >>> with matplotlib.rc_context():  # leaves the global style as it was
        ...     use_style()
        ...     matplotlib.rcParams["savefig.dpi"], matplotlib.rcParams["axes.grid"]
        (100.0, True)
    """
    matplotlib.rcParams.update({
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "savefig.facecolor": "white",
        "savefig.transparent": False,
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "figure.figsize": (6.4, 3.6),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "font.size": 10,
    })


# -- the studies' figures (records as read by implicit.studies.figure1.load_results / width.load_study) --------------

def _new_axes(ax, figsize: tuple[float, float]):
    """``ax``, or the axes of a new figure of size ``figsize``."""
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1] if ax is None else ax


def plot_figure1(by_data: dict[str, dict[int, dict]], title: str):
    r"""The paper's Figure 1 layout from stored runs ``{data set: {width: record}}``: one row per data set, columns
    :math:`\log_{10}` train MSE, :math:`\log_{10}` test MSE and :math:`\|(\gamma/\sqrt m)A(k)\|_2` against the epoch,
    one colour per width (legend to the right of the grid). Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting import plot_figure1
        >>> from implicit.studies import figure1, results_dir
        >>> runs = {}  # {data set: {width: record}} of the stored fast-profile runs
        >>> for r in figure1.load_results(results_dir("figure1")):
        ...     if r["config"]["profile"] == "fast":
        ...         runs.setdefault(r["dataset"], {})[r["width"]] = r
        >>> fig = plot_figure1(runs, "fast profile")
        >>> len(fig.axes), fig.axes[0].get_title(), fig.axes[0].get_xlabel()
        (9, 'cifar10: log10 train MSE', 'epoch')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(by_data), 3, figsize=(10, 2.4 * len(by_data) + 0.4), squeeze=False,
                             layout="constrained")
    labels = ("log10 train MSE", "log10 test MSE", r"$\|(\gamma/\sqrt{m})A(k)\|_2$")
    for row, (name, by_width) in zip(axes, sorted(by_data.items()), strict=True):
        # strict=False: a sweep usually has fewer widths than there are colours.
        for color, (m, r) in zip(WIDTH_COLORS, sorted(by_width.items()), strict=False):
            h = r["history"]
            row[0].plot(h["step"], np.log10(h["train_mse"]), color=color, label=f"m={m}")
            row[1].plot(h["step"], np.log10(h["test_mse"]), color=color)
            row[2].plot(h["step"], h["contraction"], color=color)
        for ax, label in zip(row, labels, strict=True):
            ax.set_title(f"{name}: {label}", fontsize=9)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label, fontsize=8)
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle(title)
    return fig


def plot_gram_minima(by_width: dict[int, dict], lam0: float, ax=None):
    r""":math:`\lambda_{\min}(H(k))` (solid) and :math:`\lambda_{\min}(G(k))` (dashed) at the epochs where a run
    measured them, one colour per width, against :math:`\lambda_0` and :math:`\lambda_0/2` (log scale; values below
    :math:`10^{-5}`, e.g. a singular :math:`G`, fall off the chart). Returns the axes.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting import plot_gram_minima
        >>> from implicit.studies import figure1, results_dir
        >>> runs = {r["width"]: r for r in figure1.load_results(results_dir("figure1"))
        ...         if r["config"]["profile"] == "cpu"}  # MNIST, widths 500, 1000, 2000
        >>> ax = plot_gram_minima(runs, lam0=1e-3)  # lam0: implicit.kernels.lambda0 of the training set
        >>> ax.get_yscale(), ax.get_ylabel(), len(ax.get_lines())  # two curves per width, two lines for lambda0
        ('log', 'smallest eigenvalue', 8)
        >>> plt.close("all")
    """
    ax = _new_axes(ax, (6.4, 3.2))
    for color, (m, r) in zip(WIDTH_COLORS, sorted(by_width.items()), strict=False):  # fewer widths than colours
        h = r["history"]
        ok = ~np.isnan(h["lambda_min_H"])
        ax.semilogy(h["step"][ok], h["lambda_min_H"][ok], "o-", color=color, label=rf"$\lambda_{{\min}}(H)$, m={m}")
        ax.semilogy(h["step"][ok], h["lambda_min_G"][ok], "s--", color=color, label=rf"$\lambda_{{\min}}(G)$, m={m}")
    ax.axhline(lam0, color="k", lw=1, label=r"$\lambda_0$")
    ax.axhline(lam0 / 2, color="k", lw=1, ls=":", label=r"$\lambda_0/2$")
    ax.set_xlabel("epoch")
    ax.set_ylabel("smallest eigenvalue")
    ax.set_ylim(1e-5, 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7)
    return ax


def _edges(values: list[float]) -> np.ndarray:
    """Cell edges on a log axis: geometric midpoints, extended by half a step at both ends."""
    v = np.log(np.asarray(values, dtype=float))
    if len(v) == 1:
        return np.exp(np.array([v[0] - 0.5, v[0] + 0.5]))
    mid = (v[1:] + v[:-1]) / 2
    return np.exp(np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]]))


def plot_phase(study: dict, dataset: str, ax=None):
    r"""Phase plot of the width study for one data set: success probability of the GD criterion over :math:`(n, m)`
    (log axes), the minimal-width curve, Lemma 3.3's event curve (init only, wider grid) and, since they lie far above
    the chart, the theorem widths as numbers at the top (constants taken as 1). Legend below the axes. Returns the
    axes.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting import plot_phase
        >>> from implicit.studies import results_dir, width
        >>> ax = plot_phase(width.load_study(results_dir("width")), "sphere")
        >>> ax.get_xlabel(), ax.get_ylabel(), ax.get_yscale()
        ('n (samples)', 'm (width)', 'log')
        >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    groups = sorted((g for g in study["groups"].values() if g["dataset"] == dataset), key=lambda g: g["n"])
    if not groups:
        raise ValueError(f"no groups for data set {dataset!r}")
    ax = _new_axes(ax, (6.4, 4.6))
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
    ax.plot([n for n, m in zip(ns, gd, strict=True) if m], [m for m in gd if m], "o-", color="black",
            label=r"minimal width (GD criterion, $\geq$90%)")
    ev = [(g.get("g_event_minimal_width") or {}).get("stays") for g in groups]
    if any(ev):
        ax.plot([n for n, m in zip(ns, ev, strict=True) if m], [m for m in ev if m], "s--", color="#7570b3",
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
    for n, g in zip(ns, groups, strict=True):
        th = g["theorem_widths"]
        ax.annotate(f"{th['theorem_3_1']:.0e}\n{th['lemma_3_5']:.0e}", (n, top), textcoords="offset points",
                    xytext=(0, -2), ha="center", va="top", fontsize=7)
    ax.set_title(f"{dataset}: top numbers = Thm 3.1 / Lemma 3.5 widths (constants 1)", fontsize=9)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=7)
    ax.grid(False)
    return ax


def _gamma_text(value: float | None) -> str:
    """A break point for a title: the gamma, or "none in the sweep"."""
    return "none in the sweep" if value is None else f"gamma={value:g}"


def plot_gamma_sweep(study: dict, dataset: str, ax=None):
    r"""The width study's :math:`\gamma` sweep for one data set: certified factor :math:`\tilde\gamma\|A\|_2`,
    empirical Picard rate and training success rate (medians over seeds, left axis), Picard iterations (right axis),
    with the three break points in the title. Legend below the axes. Returns the left axes.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting import plot_gamma_sweep
        >>> from implicit.studies import results_dir, width
        >>> ax = plot_gamma_sweep(width.load_study(results_dir("width")), "sphere")
        >>> print(ax.get_title())
        sphere, n=200, m=128
        first failure at certificate gamma=0.6, solver gamma=1.2, training none in the sweep
        >>> plt.close("all")
    """
    sweep = study["gamma_sweep"][dataset]
    ax = _new_axes(ax, (6.4, 4.0))
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
    ax.set_ylabel("factor, rate, success rate")
    ax.set_ylim(0, 2.2)
    right = ax.twinx()
    right.semilogy(gammas, med("picard_iterations"), "x:", color="black", label="Picard iterations (right axis)")
    right.set_ylabel("Picard iterations from $z^0=0$")
    right.grid(False)
    br = sweep["breaks"]
    ax.set_title(f"{dataset}, n={sweep['n']}, m={sweep['m']}\nfirst failure at certificate "
                 f"{_gamma_text(br['certificate'])}, solver {_gamma_text(br['solver'])}, training "
                 f"{_gamma_text(br['training'])}", fontsize=9)
    lines, more = ax.get_legend_handles_labels(), right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
              fontsize=7)
    return ax

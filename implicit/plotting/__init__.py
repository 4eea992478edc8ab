"""The book's figure style (opaque white backgrounds, readable in dark mode; modest size and resolution) and the
figures of the two studies (:mod:`implicit.studies`), each drawn by one call from stored records."""
from __future__ import annotations

import matplotlib
import numpy as np

__all__ = ["use_style", "WIDTH_COLORS", "CRITERION_LABELS", "DATASET_COLORS", "plot_figure1", "plot_gram_minima",
           "plot_width_scaling", "plot_rates", "plot_phase", "plot_gamma_sweep", "plot_criteria", "plot_loss_curves"]

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


def _by_seed(by_width: dict) -> dict[int, dict[int, dict]]:
    """``{width: {seed: record}}`` from that or from ``{width: record}`` (one seed)."""
    return {m: ({int(v.get("seed", 0)): v} if "history" in v else v) for m, v in sorted(by_width.items())}


def _band(ax, curves, color, label=None):
    """Mean over seeds (line) and mean ± one standard error (shaded) of curves ``(epochs, values)``."""
    from ..studies.verdicts import seed_band

    k, mean, se = seed_band(curves)
    ax.plot(k, mean, color=color, label=label)
    if len(curves) > 1:
        ax.fill_between(k, mean - se, mean + se, color=color, alpha=0.25, lw=0)


def plot_figure1(by_data: dict[str, dict], title: str, *, relative: bool = True):
    r"""The paper's Figure 1 layout from stored runs ``{data set: {width: {seed: record}}}`` (or
    ``{data set: {width: record}}``): one row per data set, columns :math:`\log_{10}` of the training MSE, of the test
    MSE (both relative to epoch 0 unless ``relative=False``) and :math:`\|(\gamma/\sqrt m)A(k)\|_2` against the
    epoch; one colour per width, the mean over seeds as a line and mean ± one standard error as a band (means of
    :math:`\log_{10}`, i.e. geometric means). Legend to the right of the grid. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting import plot_figure1
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import group_runs
        >>> runs = group_runs(figure1.load_results(results_dir("figure1")))
        >>> fig = plot_figure1(runs["seeds"], "seeds profile")
        >>> len(fig.axes), fig.axes[0].get_title(), fig.axes[0].get_xlabel()
        (9, 'cifar10: training MSE', 'epoch')
        >>> fig.axes[0].get_ylabel()
        'log10 MSE(k) / MSE(0)'
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(by_data), 3, figsize=(10, 2.4 * len(by_data) + 0.4), squeeze=False,
                             layout="constrained")
    ylabel = "log10 MSE(k) / MSE(0)" if relative else "log10 MSE"
    titles = ("training MSE", "test MSE", r"$\|(\gamma/\sqrt{m})A(k)\|_2$")
    for row, (name, by_width) in zip(axes, sorted(by_data.items()), strict=True):
        # strict=False: a sweep usually has fewer widths than there are colours.
        for color, (m, by_seed) in zip(WIDTH_COLORS, _by_seed(by_width).items(), strict=False):
            runs = list(by_seed.values())
            for ax, column in zip(row[:2], ("train_mse", "test_mse"), strict=True):
                curves = []
                for r in runs:
                    h = r["history"]
                    ok = np.isfinite(h[column])
                    values = h[column][ok] / (h[column][ok][0] if relative else 1.0)
                    curves.append((h["step"][ok], np.log10(values)))
                _band(ax, curves, color, label=f"m={m}" if column == "train_mse" else None)
            _band(row[2], [(r["history"]["step"][np.isfinite(r["history"]["contraction"])],
                            r["history"]["contraction"][np.isfinite(r["history"]["contraction"])]) for r in runs],
                  color)
        for ax, label in zip(row, titles, strict=True):
            ax.set_title(f"{name}: {label}", fontsize=9)
            ax.set_xlabel("epoch")
        row[0].set_ylabel(ylabel, fontsize=8)
        row[1].set_ylabel(ylabel, fontsize=8)
        row[2].set_ylabel(r"$\|(\gamma/\sqrt{m})A(k)\|_2$", fontsize=8)
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def plot_gram_minima(by_width: dict, lam0: float, ax=None):
    r""":math:`\lambda_{\min}(H(k))` (solid) and :math:`\lambda_{\min}(G(k))` (dashed) at the epochs where a run
    measured them, one colour per width (the first seed of each), against :math:`\lambda_0` and :math:`\lambda_0/2`
    (log scale; values below :math:`10^{-5}`, e.g. a singular :math:`G`, fall off the chart). Returns the axes.

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
    for color, (m, by_seed) in zip(WIDTH_COLORS, _by_seed(by_width).items(), strict=False):  # fewer widths
        h = next(iter(by_seed.values()))["history"]
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


#: One colour per data set in the Figure 1 summaries.
DATASET_COLORS = {"mnist": "#1b9e77", "fashionmnist": "#d95f02", "cifar10": "#7570b3", "svhn": "#e7298a"}


def plot_width_scaling(metrics: dict[str, dict[int, dict]], title: str, ax=None):
    r""":math:`\lambda_{\min}(H(0))/\lambda_0` (circles, solid) and :math:`\lambda_{\min}(G(0))/\lambda_0` (squares,
    dashed) against the width, mean ± one standard error over seeds, one colour per data set, with the levels
    :math:`\lambda_0` and :math:`\lambda_0/2`, from ``metrics[data set][width][seed]``
    (:class:`~implicit.studies.verdicts.RunMetrics`). Log–log axes; a singular
    :math:`G(0)` (a seed's ratio below :math:`10^{-9}`, as for :math:`m\le n`) is not drawn. Returns the axes.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting import plot_width_scaling
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import all_metrics, group_runs
        >>> metrics = all_metrics(group_runs(figure1.load_results(results_dir("figure1"))))["seeds"]
        >>> ax = plot_width_scaling(metrics, "seeds profile")
        >>> ax.get_xlabel(), ax.get_xscale(), ax.get_yscale()
        ('width m', 'log', 'log')
        >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    from ..studies.verdicts import mean_se

    ax = _new_axes(ax, (6.4, 3.6))
    for name, by_width in sorted(metrics.items()):
        color = DATASET_COLORS.get(name, "grey")
        widths = sorted(by_width)
        for field, style, what in (("lam_H0", "o-", "H"), ("lam_G0", "s--", "G")):
            ratios = [[getattr(x, field) / x.lambda0 for x in by_width[m].values()] for m in widths]
            pts = [mean_se(r) for r in ratios]
            keep = [i for i, r in enumerate(ratios) if min(r) > 1e-9]
            if keep:
                ax.errorbar([widths[i] for i in keep], [pts[i][0] for i in keep], [pts[i][1] for i in keep],
                            fmt=style, color=color, capsize=3,
                            label=rf"{name}: $\lambda_{{\min}}({what}(0))/\lambda_0$")
    ax.axhline(1, color="k", lw=1, label=r"$\lambda_0$")
    ax.axhline(0.5, color="k", lw=1, ls=":", label=r"$\lambda_0/2$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    widths = sorted({m for by_width in metrics.values() for m in by_width})
    ax.set_xticks(widths, [str(m) for m in widths])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    low, high = ax.get_ylim()
    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if low <= t <= high]
    ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax.yaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("width m")
    ax.set_ylabel(r"ratio to $\lambda_0$")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7)
    return ax


def plot_rates(metrics: dict[str, dict[int, dict]], title: str):
    r"""Per data set, the late linear rate of the training loss per epoch (last window: circles; the window before:
    triangles) against :math:`-2\ln(1-\alpha\lambda_{\min}(H))` (crosses), the rate of the slowest eigendirection,
    against the width; mean ± one standard error over seeds, from ``metrics[data set][width][seed]``
    (:class:`~implicit.studies.verdicts.RunMetrics`). Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting import plot_rates
        >>> from implicit.studies import figure1, results_dir
        >>> from implicit.studies.verdicts import all_metrics, group_runs
        >>> metrics = all_metrics(group_runs(figure1.load_results(results_dir("figure1"))))["seeds"]
        >>> fig = plot_rates(metrics, "seeds profile")
        >>> len(fig.axes), fig.axes[0].get_ylabel()
        (3, 'rate per epoch')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    from ..studies.verdicts import mean_se

    fig, axes = plt.subplots(1, len(metrics), figsize=(2.9 * len(metrics) + 0.6, 3.6), squeeze=False,
                             layout="constrained", sharey=True)
    series = (("rate", "o-", "late rate, last window"), ("previous", "^:", "late rate, window before"),
              ("theory", "x--", r"$-2\ln(1-\alpha\lambda_{\min}(H))$"))
    for ax, (name, by_width) in zip(axes[0], sorted(metrics.items()), strict=True):
        widths = sorted(by_width)
        for (field, style, label), color in zip(series, ("#1b9e77", "#66a61e", "k"), strict=True):
            pts = [mean_se([getattr(x.rate, field) for x in by_width[m].values()]) for m in widths]
            ax.errorbar(widths, [p[0] for p in pts], [p[1] for p in pts], fmt=style, color=color, capsize=3,
                        label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(widths, [str(m) for m in widths])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_xlabel("width m")
        ax.set_title(name, fontsize=9)
    axes[0][0].set_ylabel("rate per epoch")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=9)
    fig.suptitle(title, fontsize=10)
    return fig


def _edges(values: list[float]) -> np.ndarray:
    """Cell edges on a log axis: geometric midpoints, extended by half a step at both ends."""
    v = np.log(np.asarray(values, dtype=float))
    if len(v) == 1:
        return np.exp(np.array([v[0] - 0.5, v[0] + 0.5]))
    mid = (v[1:] + v[:-1]) / 2
    return np.exp(np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]]))


#: Labels of the width study's criteria (:mod:`implicit.studies.criterion`) in figures.
CRITERION_LABELS = {
    "gram_H": r"$\lambda_{\min}(H)\geq\lambda_0/2$ at $k=0, K$",
    "gram_G": r"$\lambda_{\min}(G)\geq\lambda_0/2$ at $k=0, K$",
    "loss": "loss conclusion (envelope, late rate)",
    "gram_G0": r"$\lambda_{\min}(G(0))\geq\lambda_0/2$ (init only)",
    "lemma_3_3": r"Lemma 3.3: $\lambda_{\min}(G(0))\geq 3\lambda_0/4$ (init only)",
}


def plot_phase(study: dict, dataset: str, ax=None, criterion: str = "gram_H"):
    r"""Phase plot of the width study for one data set, from a study read by
    :func:`~implicit.studies.width.load_study`: the rate over seeds of one criterion (default ``gram_H``) over
    :math:`(n, m)` as colours (log axes), and the minimal-width curves of the Gram conditions: :math:`H` along the run
    (solid), :math:`G` along the run where the grid reaches it (diamonds), and :math:`G(0)` alone on the wider grid at
    :math:`\lambda_0/2` and at Lemma 3.3's :math:`3\lambda_0/4` (dashed); the line :math:`m = n`. Legend below the
    axes, colour bar to the right. Returns the axes.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting import plot_phase
        >>> from implicit.studies import results_dir, width
        >>> ax = plot_phase(width.load_study(results_dir("width")), "sphere")
        >>> ax.get_xlabel(), ax.get_ylabel(), ax.get_yscale()
        ('n (samples)', 'm (width)', 'log')
        >>> print(ax.get_title())
        sphere, K = 50 steps; colour: rate of $\lambda_{\min}(H)\geq\lambda_0/2$ at $k=0, K$
        >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    groups = sorted((g for g in study["groups"].values() if g["dataset"] == dataset), key=lambda g: g["n"])
    if not groups:
        raise ValueError(f"no groups for data set {dataset!r}")
    ax = _new_axes(ax, (6.8, 5.2))
    ns = [g["n"] for g in groups]
    widths = sorted({m for g in groups for m in g["rates"][criterion]})
    P = np.full((len(widths), len(ns)), np.nan)
    for j, g in enumerate(groups):
        for i, m in enumerate(widths):
            P[i, j] = g["rates"][criterion].get(m, np.nan)
    mesh = ax.pcolormesh(_edges(ns), _edges(widths), np.ma.masked_invalid(P), cmap="RdYlGn", vmin=0, vmax=1,
                         shading="flat")
    ax.figure.colorbar(mesh, ax=ax, label="rate over seeds", pad=0.02)

    def curve(values, style, color, label, **kw):
        pts = [(n, m) for n, m in zip(ns, values, strict=True) if m]
        if pts:
            ax.plot(*zip(*pts, strict=True), style, color=color, label=label, **{"lw": 2, "ms": 7, **kw})

    g0 = [g["g_minimal_widths"]["gram_G0"]["stays"] for g in groups]
    ev = [g["g_minimal_widths"]["lemma_3_3"]["stays"] for g in groups]
    curve([g["minimal_widths"]["gram_H"]["stays"] for g in groups], "o-", "black",
          "minimal width: " + CRITERION_LABELS["gram_H"])
    curve(g0, "s--", "#7570b3", "minimal width: " + CRITERION_LABELS["gram_G0"])
    curve(ev, "^--", "#e7298a", "minimal width: " + CRITERION_LABELS["lemma_3_3"])
    curve([g["minimal_widths"]["gram_G"]["stays"] for g in groups], "D", "#d95f02",  # on top of G(0)'s square
          "minimal width: " + CRITERION_LABELS["gram_G"] + " (reached only where drawn)", ms=12, mec="white",
          mew=1.5, zorder=5)
    ax.plot(ns, ns, ":", color="grey", lw=1.5, label="m = n")
    ax.set_xscale("log")
    ax.set_yscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("n (samples)")
    ax.set_ylabel("m (width)")
    top = max(max(widths), max((m for m in g0 + ev if m), default=1)) * 2
    ax.set_ylim(min(widths) / 1.5, top)
    ax.set_title(f"{dataset}, K = {groups[0]['steps']} steps; colour: rate of {CRITERION_LABELS[criterion]}",
                 fontsize="medium")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1, fontsize="medium")
    ax.grid(False)
    return ax


def _gamma_text(value: float | None) -> str:
    """A break point for a title: the gamma, or "none in the sweep"."""
    return "none in the sweep" if value is None else rf"at $\gamma$ = {value:g}"


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
        sphere, n = 200, m = 128; first failure in most seeds:
        certificate at $\gamma$ = 0.6, solver at $\gamma$ = 1.2, training none in the sweep
        >>> plt.close("all")
    """
    sweep = study["gamma_sweep"][dataset]
    ax = _new_axes(ax, (6.8, 4.4))
    gammas = sorted({p["gamma"] for p in sweep["points"]})

    def med(key: str) -> list[float]:
        out = []
        for g in gammas:
            vals = [float(p[key]) for p in sweep["points"] if p["gamma"] == g and p.get(key) is not None]
            out.append(float(np.median(vals)) if vals else np.nan)
        return out

    certified = med("certified_factor")
    ax.plot(gammas, certified, "o-", label=r"certified $\tilde\gamma\|A(0)\|_2$")
    ax.plot(gammas, med("picard_rate"), "s-", label="empirical Picard rate")
    ax.plot(gammas, med("train_success"), "^--", ms=8, mfc="none", label="training success rate")
    ax.axhline(1, color="grey", lw=0.8)
    ax.axvline(1, color="grey", lw=0.8, ls=":")
    ax.set_xlabel(r"$\gamma$")
    ax.set_ylabel("contraction factor, rate, success rate")
    ax.set_ylim(0, max(1.2, float(np.nanmax(certified)) * 1.05))
    right = ax.twinx()
    right.semilogy(gammas, med("picard_iterations"), "x:", color="black", label="Picard iterations (right axis)")
    right.set_ylabel("Picard iterations from $z^0=0$")
    right.grid(False)
    br = sweep["breaks"]
    where = [f"{what} {_gamma_text(br[what])}" for what in ("certificate", "solver", "training")]
    ax.set_title(f"{dataset}, n = {sweep['n']}, m = {sweep['m']}; first failure in most seeds:\n" + ", ".join(where),
                 fontsize="medium")
    lines, more = ax.get_legend_handles_labels(), right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
              fontsize="medium")
    return ax


def _long_group(study: dict, dataset: str, n: int | None) -> dict:
    """The group of ``dataset`` with ``n`` samples (the smallest ``n`` if None)."""
    groups = sorted((g for g in study["groups"].values() if g["dataset"] == dataset), key=lambda g: g["n"])
    found = [g for g in groups if n is None or g["n"] == n]
    if not found:
        raise ValueError(f"no group for data set {dataset!r} with n={n}")
    return found[0]


def plot_criteria(study: dict, dataset: str, n: int | None = None, ax=None):
    r"""The three criteria of the width study (:mod:`implicit.studies.criterion`) side by side for one group: the
    rate over seeds of ``gram_G``, ``gram_H`` and ``loss`` against the width (log axis), with the 90 % level that
    defines the minimal width. ``n``: the group's sample count (default: the smallest). Legend below the axes.
    Returns the axes.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting import plot_criteria
        >>> from implicit.studies import results_dir, width
        >>> ax = plot_criteria(width.load_study(results_dir("width")), "mnist", n=50)
        >>> ax.get_xlabel(), ax.get_ylabel(), [line.get_label()[:14] for line in ax.get_lines()[:3]]
        ('m (width)', 'rate over seeds', ['$\\lambda_{\\min', '$\\lambda_{\\min', 'loss conclusio'])
        >>> plt.close("all")
    """
    group = _long_group(study, dataset, n)
    ax = _new_axes(ax, (6.4, 4.0))
    styles = {"gram_G": ("D-", "#d95f02"), "gram_H": ("o-", "black"), "loss": ("s--", "#1b9e77")}
    seeds = {m: sum(c["m"] == m for c in group["cells"]) for m in group["rates"]["loss"]}
    for name in ("gram_G", "gram_H", "loss"):
        rates = group["rates"][name]
        style, color = styles[name]
        ax.plot(list(rates), list(rates.values()), style, color=color, lw=2, ms=7,
                mfc="none" if name == "loss" else None, label=CRITERION_LABELS[name])
    ax.axhline(0.9, color="grey", lw=1, ls=":", label="90 %: minimal width")
    ax.set_xscale("log", base=2)
    widths = sorted(seeds)
    ax.set_xticks(widths, [str(m) for m in widths])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("m (width)")
    ax.set_ylabel("rate over seeds")
    ax.set_title(f"{dataset}, n = {group['n']}, K = {group['steps']} steps, {max(seeds.values())} seeds",
                 fontsize="medium")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1, fontsize="medium")
    return ax


def plot_loss_curves(study: dict, dataset: str, n: int | None = None, ax=None):
    r"""The loss curves of one group of the width study, :math:`L(k)/L(0)` at the log-spaced steps each record keeps
    (log axes), one colour per width; runs that fail the loss criterion dashed and thicker, runs that stopped marked
    with a cross at their last step; Theorem 3.2's envelope :math:`(1-\alpha\lambda_0/2)^k` for the runs' smallest
    and largest :math:`\alpha` (dark band); and the window :math:`K/2\le k\le K` of the late-rate fit (shaded).
    Legend below the axes. Returns the axes.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting import plot_loss_curves
        >>> from implicit.studies import results_dir, width
        >>> ax = plot_loss_curves(width.load_study(results_dir("width")), "sphere", n=50)
        >>> ax.get_xscale(), ax.get_yscale(), ax.get_xlabel()
        ('log', 'log', 'step k')
        >>> plt.close("all")
    """
    group = _long_group(study, dataset, n)
    ax = _new_axes(ax, (6.4, 4.4))
    widths = sorted({c["m"] for c in group["cells"]})
    colors = dict(zip(widths, WIDTH_COLORS, strict=False))
    K, lowest = group["steps"], 1.0
    ax.axvspan(K / 2, K, color="#e6ab02", alpha=0.15, lw=0, label="late-rate fit window")
    for m in widths:
        first = True
        for c in (c for c in group["cells"] if c["m"] == m and c.get("curve")):
            k, L = np.array(c["curve"]["step"]), np.array(c["curve"]["loss"])
            ok = c["criteria"]["loss"]  # as judged again by load_study
            keep = k >= 1
            lowest = min(lowest, float(np.min(L[keep] / L[0])))
            ax.plot(k[keep], L[keep] / L[0], "-" if ok else "--", color=colors.get(m, "grey"),
                    lw=1.0 if ok else 2.2, alpha=0.7 if ok else 1.0, zorder=2 if ok else 3,
                    label=f"m = {m}" if first else None)
            if c.get("stopped"):
                ax.plot(k[-1], L[-1] / L[0], "x", color=colors.get(m, "grey"), ms=9, mew=2.5, zorder=4)
            first = False
    lrs = [c["lr"] for c in group["cells"] if "lr" in c]
    kk = np.geomspace(1, K, 200)
    low, high = ((1 - a * group["lambda0"] / 2) ** kk for a in (max(lrs), min(lrs)))
    ax.fill_between(kk, low, high, color="black", alpha=0.45, lw=1, edgecolor="black", zorder=4,
                    label=r"Theorem 3.2: $(1-\alpha\lambda_0/2)^k$")
    ax.plot([], [], "k--", lw=2.2, label="fails the loss criterion")
    ax.plot([], [], "kx", ms=9, mew=2.5, label="stopped")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(max(lowest / 10, 1e-33), 3)
    ax.set_xlabel("step k")
    ax.set_ylabel(r"$L(k)/L(0)$")
    ax.set_title(f"{dataset}, n = {group['n']}: loss curves of every run", fontsize="medium")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize="medium")
    return ax

"""Figures of the beyond-the-paper chapter: each function draws one captioned figure of the book from computed data."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..measure import fit_power_law
from . import plot_criteria, plot_gamma_sweep, plot_loss_curves, plot_phase

__all__ = ["plot_limit_convergence", "plot_width_phases", "plot_long_horizon", "plot_gamma_sweeps"]


def _legend_below(fig, axes, ncol: int) -> None:
    """One legend for the whole figure, below the panels, from the entries of ``axes`` (each label once)."""
    handles, labels = [], []
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(h)
                labels.append(label)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize="medium")


def plot_limit_convergence(widths: Sequence[int], errors: dict[str, Sequence[float]], ax=None):
    r"""Finite width against the infinite-width limit: the relative error
    :math:`\|H_b(0) - H_b^\infty\|_F/\|H_b^\infty\|_F` of each block :math:`b` against the width (log–log; the
    total thick), each with its fitted slope in the legend, and the reference slope :math:`m^{-1/2}`. ``errors`` as
    returned by :func:`implicit.studies.cells.finite_width_errors`. Legend to the right. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.beyond import plot_limit_convergence
        >>> fig = plot_limit_convergence([100, 400], {"A": [0.2, 0.1], "total": [0.1, 0.05]})
        >>> ax = fig.axes[0]
        >>> ax.get_xscale(), ax.get_xlabel(), [t.get_text() for t in ax.get_legend().get_texts()]
        ('log', 'width m', ['$H_{A}$: slope -0.50', '$H^\\infty$ (total): slope -0.50', '$m^{-1/2}$'])
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    ax = plt.subplots(figsize=(7, 3.4), layout="constrained")[1] if ax is None else ax
    w = np.asarray(widths, dtype=float)
    for name, errs in errors.items():
        slope = fit_power_law(w, errs)[0]
        label = r"$H^\infty$ (total)" if name == "total" else f"$H_{{{name}}}$"
        ax.loglog(w, errs, "o-", lw=2.5 if name == "total" else 1.2, color="black" if name == "total" else None,
                  label=f"{label}: slope {slope:.2f}", zorder=3 if name == "total" else 2)
    first = errors["total"][0] if "total" in errors else next(iter(errors.values()))[0]
    ax.loglog(w, first * (w / w[0]) ** -0.5, "k--", lw=0.8, label="$m^{-1/2}$")
    ax.set_xticks(w, [str(int(m)) for m in w])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("width m")
    ax.set_ylabel(r"$\|H_b(0) - H_b^\infty\|_F / \|H_b^\infty\|_F$")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    return ax.figure


def plot_width_phases(study: dict, datasets: Sequence[str] = ("sphere", "mnist")):
    r"""The phase plots of the width study (:func:`implicit.plotting.plot_phase`) side by side, one panel per data set:
    the rate over seeds of the :math:`H` condition over :math:`(n, m)` as colours, and the minimal-width curves of the
    Gram conditions; one legend below both. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.beyond import plot_width_phases
        >>> from implicit.studies import results_dir, width
        >>> fig = plot_width_phases(width.load_study(results_dir("width")))
        >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
        ['sphere: colour = rate of the H condition (K = 50)', 'mnist: colour = rate of the H condition (K = 50)']
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(datasets), figsize=(11, 5.6), layout="constrained")
    for ax, ds in zip(np.atleast_1d(axes), datasets, strict=True):
        plot_phase(study, ds, ax=ax)
        ax.set_title(f"{ds}: colour = rate of the H condition (K = {study['settings']['profile']['steps']})")
    _legend_below(fig, np.atleast_1d(axes), ncol=2)
    return fig


def plot_long_horizon(study: dict, n: int | None = None, datasets: Sequence[str] = ("sphere", "mnist")):
    r"""The long-horizon study, one row per data set: the rates of the three criteria against the width
    (:func:`implicit.plotting.plot_criteria`) and the loss curves of every run with Theorem 3.2's envelope
    (:func:`implicit.plotting.plot_loss_curves`); legends under the second row. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.beyond import plot_long_horizon
        >>> from implicit.studies import results_dir, width
        >>> fig = plot_long_horizon(width.load_study(results_dir("width"), "long"), n=50)
        >>> len(fig.axes), fig.axes[1].get_yscale()
        (4, 'log')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    with plt.rc_context({"font.size": 12}):  # a wide figure: larger type, so that it reads at page width
        fig, axes = plt.subplots(len(datasets), 2, figsize=(11, 5 * len(datasets)), layout="constrained",
                                 squeeze=False)
        for row, ds in zip(axes, datasets, strict=True):
            plot_criteria(study, ds, n=n, ax=row[0])
            plot_loss_curves(study, ds, n=n, ax=row[1])
        for ax in axes[:-1].ravel():
            ax.get_legend().remove()  # the same entries in every row: legends under the last
    return fig


def plot_gamma_sweeps(study: dict, datasets: Sequence[str] = ("sphere", "mnist")):
    r"""The :math:`\gamma` sweeps of the width study (:func:`implicit.plotting.plot_gamma_sweep`) side by side, one
    panel per data set: certified factor, Picard rate, training success and Picard iterations against
    :math:`\gamma`; one legend below both. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.beyond import plot_gamma_sweeps
        >>> from implicit.studies import results_dir, width
        >>> fig = plot_gamma_sweeps(width.load_study(results_dir("width")))
        >>> len(fig.legends), fig.axes[0].get_xlabel()
        (1, '$\\gamma$')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(datasets), figsize=(12, 5), layout="constrained")
    lefts = np.atleast_1d(axes)
    twins = []
    for ax, ds in zip(lefts, datasets, strict=True):
        plot_gamma_sweep(study, ds, ax=ax)
        twins += [a for a in fig.axes if a not in lefts and a not in twins]
    _legend_below(fig, [*lefts, *twins[:1]], ncol=4)
    return fig

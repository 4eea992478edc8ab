"""Figures of the errata, experiment and performance chapters: each function draws one captioned figure of the book
from computed data."""
from __future__ import annotations

from collections.abc import Mapping

__all__ = ["plot_samples", "plot_warmstart"]


def plot_samples(loaded: Mapping[str, object], per_class: int = 3):
    r"""The first ``per_class`` training images of each class (:math:`y=+1`, then :math:`y=-1`) of every data set in
    ``loaded`` (``{name: BinaryData}`` as :func:`implicit.data.load_binary` returns it, rows of 784 pixels), one row
    per data set, titled with the set and the label. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import torch
        >>> from implicit.data import BinaryData, sphere
        >>> from implicit.plotting.appendix import plot_samples
        >>> X, y = sphere(10, 784), torch.tensor([1.0, -1.0] * 5, dtype=torch.float64)
        >>> task = BinaryData(X[:8], y[:8], X[8:], y[8:], info={"dataset": "sphere", "n_train": 8, "n_test": 2})
        >>> fig = plot_samples({"sphere": task})
        >>> len(fig.axes), fig.axes[0].get_title(), fig.axes[-1].get_title()
        (6, 'sphere y=+1', 'sphere y=-1')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(loaded), 2 * per_class, figsize=(7, 1.3 * len(loaded)), squeeze=False,
                             layout="constrained")
    for row, (name, task) in zip(axes, loaded.items(), strict=True):
        y = task.y_train
        picks = [int(i) for label in (1, -1) for i in (y == label).nonzero().flatten()[:per_class]]
        for ax, i in zip(row, picks, strict=False):
            ax.imshow(task.X_train[i].reshape(28, 28).cpu().numpy(), cmap="gray")
            ax.set_xticks([]), ax.set_yticks([])
            ax.grid(False)
            ax.set_title(f"{name} y={int(y[i]):+d}", fontsize=8)
    return fig


def plot_warmstart(ws: dict):
    """Iterations to the tolerance per gradient-descent step of the warm-start benchmark (a record of the
    ``warmstart`` suite): forward and adjoint solves, cold (from zero; wide, pale) and warm (from the previous step's
    solution; thin, on top). Legend to the right of the axes. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.benchmarking import load
        >>> from implicit.plotting.appendix import plot_warmstart
        >>> fig = plot_warmstart(load("cpu")["warmstart"])
        >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel(), len(fig.axes[0].get_lines())
        ('gradient-descent step', 'iterations to tol', 4)
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
    for key, color in (("forward", "C0"), ("adjoint", "C1")):
        ax.plot(ws["per_step"][key + "_cold"], color=color, lw=5, alpha=0.35, label=f"{key}, cold start (from 0)")
        ax.plot(ws["per_step"][key + "_warm"], color=color, lw=1.5, label=f"{key}, warm start")
    ax.set(xlabel="gradient-descent step", ylabel="iterations to tol",
           title=f"n = {ws['n']}, m = {ws['m']}, tol = {ws['tol']:g}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.legend(loc="outside right center", fontsize=8)
    return fig

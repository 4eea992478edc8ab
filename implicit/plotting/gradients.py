"""Figures of the implicit-differentiation and Gram-matrix chapters: each function draws one captioned figure of the
book from computed data and returns the matplotlib Figure."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .convergence import _figure  # one row of constrained-layout panels, shared with the convergence figures

__all__ = ["plot_conditioning", "plot_memory", "plot_solves", "plot_step_errors", "plot_gram_blocks"]


def _np(x) -> np.ndarray:
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=float)


def plot_conditioning(bounds: Mapping[float, tuple[float, Sequence[float], Sequence[float]]]):
    r"""Histograms of :math:`\sigma_{\min}(I - \tilde\gamma DA)` over the data patterns :math:`D_i` and over random
    patterns :math:`D`, one panel per :math:`\gamma`, with Lemma 2.3 (ii)'s lower bound :math:`1 - q`.
    ``bounds`` maps :math:`\gamma` to ``(q, s_min of the data patterns, s_min of the random patterns)``.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.gradients import plot_conditioning
        >>> fig = plot_conditioning({0.1: (0.2, [0.9, 0.95], [0.85, 0.99]), 0.2: (0.4, [0.8], [0.7, 0.9])})
        >>> len(fig.axes), fig.axes[0].get_xlabel()
        (2, '$\\sigma_{\\min}(I - \\tilde\\gamma DA)$')
        >>> plt.close(fig)
    """
    fig, axes = _figure(len(bounds), (7.2, 3.0), sharey=True, squeeze=False)
    for ax, (g, (q, s_data, s_random)) in zip(axes[0], bounds.items(), strict=True):
        s_data, s_random = _np(s_data), _np(s_random)
        bins = np.linspace(min(1 - q, s_random.min(), s_data.min()) - 0.05, 1.0, 40)
        ax.hist(s_random, bins=bins, color="#7570b3", alpha=0.6, density=True, label="random patterns $D$")
        ax.hist(s_data, bins=bins, color="#1b9e77", alpha=0.7, density=True, label="data patterns $D_i$")
        ax.axvline(1 - q, color="black", ls="--", label="lower bound $1-q$")
        ax.set_title(f"$\\gamma = {g:g}$, $q = {q:.2f}$", fontsize=10)
        ax.set_xlabel(r"$\sigma_{\min}(I - \tilde\gamma DA)$")
    axes[0][0].set_ylabel("density")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=9)
    return fig


def plot_memory(depths: Sequence[int], unrolled: Sequence[int], iterations: Sequence[int], implicit: int,
                tols: Sequence[float]):
    r"""Bytes saved for the backward pass: the unrolled network against its depth (line) and the implicit network at
    the forward iteration counts its tolerances ``tols`` needed (points, one per tolerance, all at ``implicit``
    bytes). ``unrolled[k]`` is the whole unrolled network's count at depth ``depths[k]``.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.gradients import plot_memory
        >>> fig = plot_memory([1, 2, 3], [2**20, 2**21, 3 * 2**20], [2, 3], 2**20, [1e-4, 1e-8])
        >>> fig.axes[0].get_ylabel()
        'bytes saved for backward [MiB]'
        >>> plt.close(fig)
    """
    fig, ax = _figure()
    mib = 2.0 ** 20
    ax.plot(depths, _np(unrolled) / mib, color="#d95f02", label="unrolled network, back-propagation")
    ax.scatter(iterations, [implicit / mib] * len(iterations), color="#1b9e77", zorder=3,
               label="implicit backward, at its forward iterations")
    ax.axhline(implicit / mib, color="#1b9e77", ls=":", lw=1)
    for k, tol in ((iterations[0], tols[0]), (iterations[-1], tols[-1])):
        ax.annotate(f"tol {tol:.0e}", (k, implicit / mib), textcoords="offset points", xytext=(-14, 8), fontsize=8)
    ax.set_xlabel("depth $L$ (unrolled) / forward iterations (implicit)")
    ax.set_ylabel("bytes saved for backward [MiB]")
    ax.legend(loc="upper left", fontsize=9)
    return fig


def plot_solves(forward: Sequence[float], adjoint: Sequence[float], q: float, tol: float):
    r"""The largest relative step of the forward and the adjoint Picard solves against the iteration, on a log axis,
    with the contraction bound :math:`q^k` (from the forward solve's first step) and the tolerance.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.gradients import plot_solves
        >>> fig = plot_solves([1e-1, 1e-2, 1e-3], [1e-1, 1e-2], 0.2, 1e-3)
        >>> fig.axes[0].get_yscale(), fig.axes[0].get_xlabel()
        ('log', 'iteration $k$')
        >>> plt.close(fig)
    """
    fig, ax = _figure()
    k = np.arange(1, len(forward) + 1)
    ax.semilogy(k, forward, "o-", color="#1b9e77", label="forward solve")
    ax.semilogy(np.arange(1, len(adjoint) + 1), adjoint, "s-", color="#d95f02", label="adjoint solve")
    ax.semilogy(k, forward[0] * q ** (k - 1.0), "--", color="gray", label=f"$q^k$, $q = {q:.2f}$")
    ax.axhline(tol, color="black", lw=0.8, ls=":", label="tolerance")
    ax.set_xlabel("iteration $k$")
    ax.set_ylabel("largest relative step")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return fig


def plot_step_errors(etas: Sequence[float], correct: Sequence[float], printed: Sequence[float],
                     fitted: Sequence[bool], slope: float, intercept: float):
    r"""Relative error :math:`\|\Delta\hat y + \eta Hr\|/\|\eta Hr\|` of one gradient step against the step size,
    log-log: with the correct :math:`H`, with the printed one (:math:`u`-block :math:`I_n\circ ZZ^\top`), the
    power-law fit :math:`e^{b}\eta^{s}` on the ``fitted`` steps, and the steps left out of the fit crossed.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.gradients import plot_step_errors
        >>> fig = plot_step_errors([1e-2, 1e-3], [1e-2, 1e-3], [0.5, 0.5], [True, False], 1.0, 0.0)
        >>> fig.axes[0].get_xlabel()
        'step size $\\eta$'
        >>> plt.close(fig)
    """
    fig, ax = _figure()
    etas, fitted = _np(etas), np.asarray(fitted, dtype=bool)
    ax.loglog(etas, correct, "o-", label=r"correct $H$ ($u$-block $ZZ^\top$)")
    ax.loglog(etas[~fitted], _np(correct)[~fitted], "x", color="gray", ms=9, label="not fitted (flips or rounding)")
    ax.loglog(etas, np.exp(intercept) * etas ** slope, "--", color="C0", alpha=0.6, label=f"fit: slope {slope:.2f}")
    ax.loglog(etas, printed, "s-", color="C3", label=r"printed $H$ ($u$-block $I_n\circ ZZ^\top$)")
    ax.set_xlabel(r"step size $\eta$")
    ax.set_ylabel(r"$\|\Delta\hat y + \eta H r\| \,/\, \|\eta H r\|$")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return fig


def plot_gram_blocks(H):
    r"""The four blocks :math:`H_A, H_W, H_u, H_v` of the Gram matrix as images, each on its own colour scale.
    ``H``: a :class:`~implicit.gram.GramBlocks` (or anything with ``items()`` of four ``(name, (n, n) matrix)``).

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit import ImplicitNet, data
        >>> from implicit.gram import gram_blocks
        >>> from implicit.plotting.gradients import plot_gram_blocks
        >>> fig = plot_gram_blocks(gram_blocks(ImplicitNet(d=5, m=32, seed=0), data.sphere(n=6, d=5, seed=0)))
        >>> len(fig.axes), fig.axes[2].get_title()  # four blocks and their colour bars
        (8, '$H_u = ZZ^\\top$')
        >>> plt.close(fig)
    """
    names = {"A": r"$H_A = \gamma^2 M\circ ZZ^\top$", "W": r"$H_W = Q\circ XX^\top$", "u": r"$H_u = ZZ^\top$",
             "v": r"$H_v = G = \Phi\Phi^\top$"}
    fig, axes = _figure(4, (9.0, 2.6))
    for ax, (k, B) in zip(axes, H.items(), strict=True):
        im = ax.imshow(_np(B), cmap="viridis")
        ax.set_title(names[k], fontsize=10)
        ax.set_xlabel("sample $j$")
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    axes[0].set_ylabel("sample $i$")
    return fig

"""Figures of the infinite-width kernel chapter: each function draws one captioned figure of the book from computed
data."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_hermite_series", "plot_hadamard_powers", "plot_parallel_limit", "plot_concentration",
           "plot_width_criteria"]

#: The constant of the tail :math:`T_K \sim \frac{\sqrt2}{6\pi^{3/2}}K^{-3/2}` of ReLU's Hermite series.
TAIL_CONSTANT = np.sqrt(2) / (6 * np.pi ** 1.5)


def plot_hermite_series(a2, K_grid, err_max, err_off, delta: float):
    r"""Left: ReLU's squared Hermite coefficients :math:`a_k^2` (even :math:`k`) and the tail
    :math:`T_K = \tfrac12 - \sum_{k\le K}a_k^2` with their power laws :math:`k^{-5/2}/(\sqrt2\pi^{3/2})` and
    :math:`0.0423\,K^{-3/2}`. Right: the largest error of the series truncated at :math:`K` (the diagonal, equal to
    :math:`T_K`), the largest off-diagonal error and its bound :math:`\delta^{K+1}T_K`. ``a2``: :math:`a_k^2` for
    :math:`k = 0..K_{\max}`. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from implicit.hermite import hermite_coefficients
        >>> from implicit.plotting.kernel import plot_hermite_series
        >>> a2 = hermite_coefficients(200).numpy() ** 2
        >>> K = np.array([2, 10, 100])
        >>> fig = plot_hermite_series(a2, K, 0.5 - np.cumsum(a2)[K], 1e-3 * 0.5 ** K, 0.5)
        >>> [ax.get_xlabel() for ax in fig.axes]
        ['$k$ (or $K$)', 'truncation $K$']
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    a2 = np.asarray(a2, dtype=float)
    tail = 0.5 - np.cumsum(a2)
    K_grid = np.asarray(K_grid)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    ks = np.arange(2, len(a2), 2)
    ax1.loglog(ks, a2[ks], ".", ms=2, label=r"$a_k^2$, even $k$")
    ax1.loglog(ks, ks ** -2.5 / (np.sqrt(2) * np.pi ** 1.5), "k:", lw=1, label=r"$k^{-5/2}/(\sqrt{2}\pi^{3/2})$")
    ax1.loglog(ks, tail[ks], "-", label=r"tail $T_K$")
    ax1.loglog(ks, TAIL_CONSTANT * ks ** -1.5, "k--", lw=1, label=r"$0.0423\,K^{-3/2}$")
    ax1.set_xlabel(r"$k$ (or $K$)")
    ax1.set_ylabel(r"$a_k^2$ and $T_K$")
    ax1.set_title("ReLU's Hermite coefficients", fontsize=10)
    ax1.legend(fontsize=8, loc="lower left")
    ax2.loglog(K_grid, err_max, "o-", label=r"max error (diagonal) $=T_K$")
    ax2.loglog(K_grid, np.maximum(err_off, 1e-18), "s-", label="max off-diagonal error")
    ax2.loglog(K_grid, delta ** (K_grid + 1.0) * tail[K_grid], "k:", lw=1, label=r"$\delta^{K+1}T_K$")
    ax2.set_xlabel(r"truncation $K$")
    ax2.set_ylabel("max |error|")
    ax2.set_ylim(1e-18, 1)
    ax2.set_title(rf"truncated series against $G^\infty$ ($\delta$ = {delta:.2f})", fontsize=10)
    ax2.legend(fontsize=8, loc="lower left")
    return fig


def plot_hadamard_powers(results: dict[str, tuple]):
    r"""One panel per data set: :math:`\lambda_{\min}((XX^\top)^{\circ k})` against the Hadamard power :math:`k` (log
    axis) with Lemma A.9's bound :math:`1 - n\delta^k`, from ``results[name] = (ks, lmin, bound)``. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.kernel import plot_hadamard_powers
        >>> fig = plot_hadamard_powers({"toy": ([1, 10, 100], [0.0, 0.5, 1.0], [-5.0, -1.0, 0.9])})
        >>> fig.axes[0].get_title(), fig.axes[0].get_xscale()
        ('toy', 'log')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(9, 3.4), sharey=True, squeeze=False, layout="constrained")
    for ax, (name, (ks, lmin, bound)) in zip(axes[0], results.items(), strict=True):
        ax.semilogx(ks, lmin, "o-", label=r"$\lambda_{\min}((XX^\top)^{\circ k})$")
        ax.semilogx(ks, bound, "k--", label=r"$1 - n\delta^k$ (Lemma A.9)")
        ax.axhline(0, color="gray", lw=0.8)
        ax.set_ylim(-1, 1.1)
        ax.set_xlabel(r"Hadamard power $k$")
        ax.set_title(name, fontsize=10)
    axes[0][0].set_ylabel("smallest eigenvalue")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=9)
    return fig


def plot_parallel_limit(thetas, lam, rayleigh, fit: tuple[float, float], repaired: tuple[float, float]):
    r""":math:`\lambda_0` against the angle :math:`\theta` between two inputs (log–log), with the Rayleigh bound
    :math:`\tfrac12 - G^\infty_{12}`, the power-law fit ``(slope, intercept)`` of :func:`implicit.measure.fit_power_law`
    and the point ``(angle, lambda_0)`` after :func:`implicit.data.ensure_not_parallel`. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from implicit.plotting.kernel import plot_parallel_limit
        >>> t = np.logspace(-3, 0, 5)
        >>> fig = plot_parallel_limit(t, t ** 2 / 5, t ** 2 / 4, (2.0, np.log(0.2)), (1e-3, 2e-7))
        >>> fig.axes[0].get_xscale(), len(fig.axes[0].get_lines())
        ('log', 4)
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    thetas = np.asarray(thetas, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
    ax.loglog(thetas, lam, "o", label=r"$\lambda_0$")
    ax.loglog(thetas, rayleigh, "k--", lw=1, label=r"$\frac{1}{2} - G^\infty_{12}$ (Rayleigh bound)")
    ax.loglog(thetas, np.exp(fit[1]) * thetas ** fit[0], ":", label=f"fit, slope {fit[0]:.3f}")
    ax.plot(*repaired, "r*", ms=12, label="after ensure_not_parallel")
    ax.set_xlabel(r"angle $\theta$ between $x_1$ and $x_2$ (rad)")
    ax.set_ylabel(r"$\lambda_0 = \lambda_{\min}(G^\infty)$")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def plot_concentration(widths, errors, S: float, fit: tuple[float, float]):
    r""":math:`\|G(0) - G^\infty\|` against the width for every seed (``errors[seed, width]``, dots), their mean, the
    power-law fit ``(slope, intercept)`` and the bound :math:`\sqrt{S/m}` on the mean (Jensen). Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from implicit.plotting.kernel import plot_concentration
        >>> m = np.array([64, 256, 1024])
        >>> fig = plot_concentration(m, np.array([2 / np.sqrt(m), 3 / np.sqrt(m)]), 16.0, (-0.5, np.log(2.5)))
        >>> fig.axes[0].get_xlabel(), fig.axes[0].get_yscale()
        ('width $m$', 'log')
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    widths, errors = np.asarray(widths, dtype=float), np.asarray(errors, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
    for s, row in enumerate(errors):
        ax.loglog(widths, row, ".", color="gray", alpha=0.5, label="one seed" if s == 0 else None)
    ax.loglog(widths, errors.mean(axis=0), "o-", label=f"mean over {len(errors)} seeds")
    ax.loglog(widths, np.exp(fit[1]) * widths ** fit[0], "k:", label=f"fit, slope {fit[0]:.3f}")
    ax.loglog(widths, np.sqrt(S / widths), "--", label=r"$\sqrt{S/m}$ (bound on the mean)")
    ax.set_xlabel("width $m$")
    ax.set_ylabel(r"$\|G(0) - G^\infty\|$")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def plot_width_criteria(widths, norm_err, lam_min, lam0: float, marks: dict[str, float]):
    r"""Left: :math:`\|G(0) - G^\infty\|/\lambda_0` against the width, one grey line per seed (``norm_err[seed,
    width]``), with the level :math:`1/4`; right: :math:`\lambda_{\min}(G(0))/\lambda_0` with the level :math:`3/4`;
    vertical lines at the widths ``marks`` (label -> width). Legend below. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from implicit.plotting.kernel import plot_width_criteria
        >>> m = np.array([64, 256, 1024])
        >>> err = np.array([1 / np.sqrt(m)])
        >>> fig = plot_width_criteria(m, err, 1 - err, 1.0, {"measured": 256})
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['$\\|G(0) - G^\\infty\\| / \\lambda_0$', '$\\lambda_{\\min}(G(0)) / \\lambda_0$']
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    widths = np.asarray(widths, dtype=float)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
    for row_e, row_l in zip(np.asarray(norm_err), np.asarray(lam_min), strict=True):
        ax1.loglog(widths, row_e / lam0, "-", color="gray", alpha=0.6, lw=1)
        ax2.semilogx(widths, row_l / lam0, "-", color="gray", alpha=0.6, lw=1)
    for ax, level, text in ((ax1, 0.25, r"$\lambda_0/4$"), (ax2, 0.75, r"$3\lambda_0/4$")):
        ax.axhline(level, color="k", ls="--", lw=1)
        ax.annotate(text, (widths[0], level), xytext=(4, 4), textcoords="offset points", fontsize=9)
        for color, (label, m) in zip(("C1", "C0", "C2", "C3"), marks.items(), strict=False):
            ax.axvline(m, color=color, label=label)
        ax.set_xlabel("width $m$")
        ax.set_xlim(widths[0], 1.5 * max(max(marks.values()), widths[-1]))
    ax1.set_ylabel(r"$\|G(0) - G^\infty\| / \lambda_0$")
    ax2.set_ylabel(r"$\lambda_{\min}(G(0)) / \lambda_0$")
    ax2.set_ylim(0, 1.3)
    ax2.set_title(r"what the proofs use: $\lambda_{\min}(G(0))$", fontsize=10)
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=len(marks), fontsize=9)
    return fig

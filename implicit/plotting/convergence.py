"""Figures of the gradient-flow and gradient-descent chapters: each function draws one captioned figure of the book
from computed data."""
from __future__ import annotations

import numpy as np

from . import WIDTH_COLORS

__all__ = ["plot_safe_ball", "plot_flow_loss", "plot_movement", "plot_gram_along_flow", "plot_descent_loss",
           "plot_step_split", "plot_iterate_moves", "plot_step_sweep", "plot_width_descent"]


def _figure(ncols: int = 1, figsize: tuple[float, float] = (7, 3.2), **kw):
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=figsize, layout="constrained", **kw)


def plot_safe_ball(random: dict[float, float], adversarial: dict[float, float], lam0: float):
    r"""Lemma 3.4's safe ball: the smallest :math:`\lambda_{\min}(G(W_0+\Delta))` found at each radius
    :math:`\|\Delta\|_F = \rho` (``{rho/R: value}``) for random and for adversarially searched :math:`\Delta`, against
    :math:`\lambda_0/2` and the radius :math:`R` (log–log). Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.convergence import plot_safe_ball
        >>> fig = plot_safe_ball({0.1: 0.03, 1.0: 0.03, 10.0: 0.04}, {1.0: 0.03, 10.0: 0.02}, lam0=0.04)
        >>> fig.axes[0].get_xlabel(), fig.axes[0].get_xscale()
        ('radius $\\rho/R$ of the perturbation', 'log')
        >>> plt.close(fig)
    """
    fig, ax = _figure()
    ax.loglog(list(random), list(random.values()), "o-", color=WIDTH_COLORS[0], label=r"random $\Delta$ (min of 16)")
    ax.loglog(list(adversarial), list(adversarial.values()), "s-", color=WIDTH_COLORS[1],
              label=r"adversarial $\Delta$ (local search)")
    ax.axhline(lam0 / 2, color="k", ls="--", lw=1, label=r"$\lambda_0/2$")
    ax.axvline(1.0, color="gray", ls=":", lw=1, label=r"$\rho = R$")
    ax.set_xlabel(r"radius $\rho/R$ of the perturbation")
    ax.set_ylabel(r"$\lambda_{\min}(G(W_0+\Delta))$")
    fig.legend(loc="outside right center", fontsize=8)
    return fig


def plot_flow_loss(t: np.ndarray, r2: np.ndarray, curves: dict[str, np.ndarray]):
    r"""The squared residual :math:`\|\hat y(t)-y\|^2` of a gradient-flow run against reference curves
    ``{label: rate(t)}``, each drawn as :math:`\text{rate}(t)\,\|r_0\|^2` (log scale). Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from implicit.plotting.convergence import plot_flow_loss
        >>> t = np.linspace(0, 5, 20)
        >>> fig = plot_flow_loss(t, 4 * np.exp(-t), {r"$e^{-t/2}$": np.exp(-t / 2)})
        >>> len(fig.axes[0].get_lines()), fig.axes[0].get_yscale()
        (2, 'log')
        >>> plt.close(fig)
    """
    fig, ax = _figure(figsize=(7.5, 3.4))
    ax.semilogy(t, r2, "k", lw=2.2, label=r"measured $\|\hat y(t)-y\|^2$")
    for (label, rate), style in zip(curves.items(), ["--", ":", "-.", "-"], strict=False):
        ax.semilogy(t, rate * r2[0], style, lw=1.4, label=label + r"$\,\|r_0\|^2$")
    ax.set_xlabel("flow time $t$")
    ax.set_ylabel(r"$\|\hat y(t) - y\|^2$")
    fig.legend(loc="outside right center", fontsize=8)
    return fig


def plot_movement(rows: dict[int, dict], R: float, m_ref: int):
    r"""Parameter movement against the width (rows of :func:`implicit.theory.movement_to_target`, keyed by
    :math:`m`). Left: :math:`\max_t\|W(t)-W(0)\|_F` and :math:`\max_t\|A(t)-A(0)\|_F` with power-law fits, the bound
    :math:`(\ast\ast)` and Lemma 3.4's radius :math:`R(m) = R\sqrt{m/m_{\mathrm{ref}}}`; right: the relative movement
    of :math:`W` with a slope :math:`-1/2` guide. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.plotting.convergence import plot_movement
        >>> rows = {m: dict(dW=1.0, dA=0.1, bound=50.0, relW=m ** -0.5) for m in (100, 400, 1600)}
        >>> fig = plot_movement(rows, R=0.003, m_ref=400)
        >>> [ax.get_xlabel() for ax in fig.axes]
        ['width $m$', 'width $m$']
        >>> plt.close(fig)
    """
    from matplotlib.ticker import NullFormatter

    from ..measure import fit_power_law

    ms = np.array(list(rows), dtype=float)
    line = np.geomspace(ms.min(), ms.max(), 50)
    fig, axes = _figure(2, figsize=(8, 3.6))
    for ax, keys in zip(axes, (("dW", "dA"), ("relW",)), strict=True):
        for color, marker, key in zip(WIDTH_COLORS, "os", keys, strict=False):
            values = [r[key] for r in rows.values()]
            slope, icpt = fit_power_law(ms, values)
            label = {"dW": r"$\max_t\|W(t)-W(0)\|_F$", "dA": r"$\max_t\|A(t)-A(0)\|_F$",
                     "relW": r"$\|W-W(0)\|_F/\|W(0)\|_F$"}[key]
            ax.loglog(ms, values, marker, color=color, label=label)
            ax.loglog(line, np.exp(icpt) * line ** slope, "-", color=color, lw=1, label=f"fit, slope {slope:+.2f}")
        ax.set_xlabel("width $m$")
    axes[0].loglog(ms, [r["bound"] for r in rows.values()], "^--", color=WIDTH_COLORS[2], lw=1,
                   label=r"bound $(\ast\ast)$")
    axes[0].loglog(ms, np.sqrt(ms / m_ref) * R, ":", color="gray", label=r"Lemma 3.4 radius $R(m)$")
    rel = [r["relW"] for r in rows.values()]
    axes[1].loglog(line, rel[0] * (line / ms[0]) ** -0.5, ":", color="gray", label=r"slope $-1/2$")
    axes[0].set_ylabel("movement (Frobenius)")
    axes[1].set_ylabel("relative movement of $W$")
    for ax in axes:
        ax.set_xticks(ms, [str(int(x)) for x in ms])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
    return fig


def plot_gram_along_flow(runs: dict, lam0: float, t_max: float):
    r""":math:`\lambda_{\min}(H(t))` (left) and :math:`\lambda_{\min}(G(t))` (right) along gradient-flow runs
    ``{m: History}`` up to time ``t_max``, one colour per width, against :math:`\lambda_0/2` (and :math:`3\lambda_0/4`
    on the right). Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.train import History
        >>> from implicit.plotting.convergence import plot_gram_along_flow
        >>> h = History()
        >>> for t in (0.0, 1.0, 2.0):
        ...     h.append(time=t, lambda_min_H=0.3, lambda_min_G=0.03)
        >>> fig = plot_gram_along_flow({400: h}, lam0=0.04, t_max=2.0)
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['$\\lambda_{\\min}(H(t))$', '$\\lambda_{\\min}(G(t))$']
        >>> plt.close(fig)
    """
    fig, axes = _figure(2, figsize=(8, 3.4), sharex=True)
    for color, (m, h) in zip(WIDTH_COLORS, sorted(runs.items()), strict=False):
        keep = h["time"] <= t_max
        for ax, key in zip(axes, ("lambda_min_H", "lambda_min_G"), strict=True):
            ax.plot(h["time"][keep], h[key][keep], color=color, label=f"m = {m}" if key == "lambda_min_G" else None)
    for ax, name in zip(axes, (r"$\lambda_{\min}(H(t))$", r"$\lambda_{\min}(G(t))$"), strict=True):
        ax.axhline(lam0 / 2, color="k", ls="--", lw=1, label=r"$\lambda_0/2$" if ax is axes[1] else None)
        ax.set_xlabel("flow time $t$")
        ax.set_ylabel(name)
        ax.set_ylim(bottom=0)
    axes[1].axhline(0.75 * lam0, color="gray", ls=":", lw=1, label=r"$3\lambda_0/4$")
    fig.legend(loc="outside right center", fontsize=8)
    return fig


def plot_descent_loss(runs: dict[str, tuple]):
    r"""The loss of gradient-descent runs ``{name: (History, rates)}`` (``rates`` from
    :func:`implicit.descent.descent_rates`) against Theorem 3.2's :math:`L(0)(1-\alpha\lambda_0/2)^k` and the
    linearised :math:`L(0)(1-\alpha\lambda_{\min}(H))^{2k}`, one panel per run. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from implicit.train import History
        >>> from implicit.plotting.convergence import plot_descent_loss
        >>> h = History()
        >>> for k in range(5):
        ...     h.append(step=k, loss=0.5 ** k)
        >>> fig = plot_descent_loss({"toy": (h, {"theorem": 0.99, "sharp": 0.6})})
        >>> fig.axes[0].get_title(), len(fig.axes[0].get_lines())
        ('toy', 3)
        >>> plt.close(fig)
    """
    fig, axes = _figure(len(runs), figsize=(8, 3.2), squeeze=False)
    for ax, (name, (h, rates)) in zip(axes[0], runs.items(), strict=True):
        k, L = h["step"], h["loss"]
        ax.semilogy(k, L, color="C0", lw=2, label="measured loss $L(k)$")
        ax.semilogy(k, L[0] * rates["theorem"] ** k, "--", color="C3", label=r"Theorem 3.2: $(1-\alpha\lambda_0/2)^k$")
        ax.semilogy(k, L[0] * rates["sharp"] ** k, ":", color="k",
                    label=r"linearised: $(1-\alpha\lambda_{\min}(H))^{2k}$")
        ax.set_title(name)
        ax.set_xlabel("step $k$")
    axes[0][0].set_ylabel(r"loss $L(k)$")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=8)
    return fig


def plot_step_split(terms: dict[str, np.ndarray], alpha: float, lam0: float):
    r"""One gradient-descent step split as in the proof (:func:`implicit.descent.proof_step_terms`): the main, cross and
    quadratic terms and their total :math:`\|r(k+1)\|^2/\|r(k)\|^2 - 1`, each over :math:`\|r(k)\|^2`, against the
    theorem's :math:`-\alpha\lambda_0/2`. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from implicit.plotting.convergence import plot_step_split
        >>> one = np.ones(3)
        >>> terms = dict(r2=one, r2_new=0.5 * one, main=-0.3 * one, cross=-0.3 * one, quad=0.1 * one)
        >>> fig = plot_step_split(terms, alpha=0.1, lam0=0.04)
        >>> fig.axes[0].get_xlabel()
        'step $k$'
        >>> plt.close(fig)
    """
    fig, ax = _figure()
    k, r2 = np.arange(len(terms["r2"])), terms["r2"]
    ax.plot(k, terms["main"] / r2, "o-", ms=3, label=r"main $2\langle g-\hat y(k), r\rangle$")
    ax.plot(k, terms["cross"] / r2, "s-", ms=3, label=r"cross $2\langle \hat y(k+1)-g, r\rangle$")
    ax.plot(k, terms["quad"] / r2, "^-", ms=3, label=r"quadratic $\|\hat y(k+1)-\hat y(k)\|^2$")
    ax.plot(k, terms["r2_new"] / r2 - 1, "k-", lw=2, label=r"total $\|r(k+1)\|^2/\|r(k)\|^2 - 1$")
    ax.axhline(-alpha * lam0 / 2, color="C3", ls="--", label=r"theorem $-\alpha\lambda_0/2$")
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xlabel("step $k$")
    ax.set_ylabel(r"term $/\ \|r(k)\|^2$")
    fig.legend(loc="outside right center", fontsize=8)
    return fig


def plot_iterate_moves(bounds: dict[str, dict]):
    r"""Movement between iterates, one panel per run ``{name: iterate_move_bounds(...)}``
    (:func:`implicit.descent.iterate_move_bounds`): :math:`\|Z(k)-Z(k-1)\|_F`, :math:`\|\Phi(k)-\Phi(k-1)\|_F`,
    :math:`\|\hat y(k)-\hat y(k-1)\|` (solid), each with its :math:`C\beta^{k-1}` (dashed), and the paper's (39) for
    :math:`Z` (dotted). Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from implicit.plotting.convergence import plot_iterate_moves
        >>> a = 0.5 ** np.arange(4)
        >>> fig = plot_iterate_moves({"toy": {k: (a, a, 10 * a) for k in ("move_Z", "move_Phi", "move_yhat")}})
        >>> fig.axes[0].get_yscale()
        'log'
        >>> plt.close(fig)
    """
    labels = {"move_Z": r"$\|Z(k)-Z(k-1)\|_F$", "move_Phi": r"$\|\Phi(k)-\Phi(k-1)\|_F$",
              "move_yhat": r"$\|\hat y(k)-\hat y(k-1)\|$"}
    fig, axes = _figure(len(bounds), figsize=(8, 3.2), squeeze=False)
    for ax, (name, by_key) in zip(axes[0], bounds.items(), strict=True):
        for color, (key, (move, shape, paper)) in zip(("C0", "C1", "C2"), by_key.items(), strict=True):
            j = np.arange(1, len(move) + 1)
            ax.semilogy(j, move, color=color, lw=2, label=labels[key])
            ax.semilogy(j, shape, "--", color=color, lw=1)
            if key == "move_Z":
                ax.semilogy(j, paper, ":", color=color, lw=1.5, label="paper's (39), Frobenius")
        ax.plot([], [], "k--", lw=1, label=r"$C\beta^{k-1}$, $C$ from $k=1$")
        ax.set_title(name)
        ax.set_xlabel("step $k$")
    axes[0][0].set_ylabel("movement between iterates")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=8)
    return fig


def plot_step_sweep(sweep: dict[float, tuple], steps: int):
    r"""Gradient descent at :math:`\alpha = f\cdot2/\lambda_{\max}(H(0))` for several fractions ``{f: (History,
    alpha)}``: the loss (left, a cross where a run stopped) and :math:`\alpha\lambda_{\max}(H(k))/2` against the
    stability edge 1 (right), over the first ``steps`` steps. Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.train import History
        >>> from implicit.plotting.convergence import plot_step_sweep
        >>> h = History()
        >>> for k in range(4):
        ...     h.append(step=k, loss=0.5 ** k, lambda_max_H=4.0)
        >>> fig = plot_step_sweep({0.5: (h, 0.25)}, steps=3)
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['loss $L(k)$', '$\\alpha\\,\\lambda_{\\max}(H(k))/2$']
        >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = _figure(2, figsize=(8, 3.4))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(sweep)))
    for color, (f, (h, alpha)) in zip(colors, sweep.items(), strict=True):
        k, L, lam = (h[key][:steps + 1] for key in ("step", "loss", "lambda_max_H"))
        ok = ~np.isnan(lam)
        label = f"$f = {f}$" + (" (stopped)" if h.stopped else "")
        ax1.semilogy(k, L, "-", color=color, label=label)
        if h.stopped:
            ax1.semilogy(k[-1], L[-1], "x", color=color, ms=8)
        ax2.semilogy(k[ok], alpha * lam[ok] / 2, "-", color=color)
    ax2.axhline(1, color="black", ls="--", lw=1, label="stability edge")
    ax1.set_ylabel("loss $L(k)$")
    ax2.set_ylabel(r"$\alpha\,\lambda_{\max}(H(k))/2$")
    for ax in (ax1, ax2):
        ax.set_xlabel("step $k$")
    fig.legend(loc="outside right center", fontsize=8)
    return fig


def plot_width_descent(width_runs: dict[int, dict], steps: int):
    r"""The same step at several widths ``{m: {"h": History, "rho": ..., "rel_W": ..., "path_Z": ...}}``: the loss
    over the first ``steps`` steps (left) and, against :math:`m`, the relative movement of :math:`W` and the path
    length :math:`\sum_k\|Z(k)-Z(k-1)\|_F` with an :math:`m^{-1/2}` guide (right). Returns the figure.

    Examples:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from implicit.train import History
        >>> from implicit.plotting.convergence import plot_width_descent
        >>> h = History()
        >>> for k in range(3):
        ...     h.append(step=k, loss=0.5 ** k)
        >>> runs = {m: dict(h=h, rho=0.25, rel_W=m ** -0.5, path_Z=m ** -0.5) for m in (100, 400)}
        >>> fig = plot_width_descent(runs, steps=2)
        >>> fig.axes[1].get_xlabel(), fig.axes[1].get_xscale()
        ('width $m$', 'log')
        >>> plt.close(fig)
    """
    fig, (ax1, ax2) = _figure(2, figsize=(8, 3.4))
    for color, (m, w) in zip(WIDTH_COLORS, width_runs.items(), strict=False):
        ax1.semilogy(w["h"]["step"][:steps + 1], w["h"]["loss"][:steps + 1], color=color,
                     label=f"$m = {m}$ (rate {w['rho']:.4f})")
    widths = np.array(list(width_runs), dtype=float)
    rel = [w["rel_W"] for w in width_runs.values()]
    ax2.loglog(widths, rel, "o-", label=r"$\|W-W(0)\|_F/\|W(0)\|_F$")
    ax2.loglog(widths, [w["path_Z"] for w in width_runs.values()], "s-", label=r"$\sum_k\|Z(k)-Z(k-1)\|_F$")
    ax2.loglog(widths, rel[0] * (widths / widths[0]) ** -0.5, "k:", label=r"$\propto m^{-1/2}$")
    ax1.set_xlabel("step $k$")
    ax1.set_ylabel("loss $L(k)$")
    ax2.set_xlabel("width $m$")
    ax2.set_ylabel("movement over the run")
    for ax in (ax1, ax2):
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return fig

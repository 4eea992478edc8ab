r"""Gradient descent measured against the proof of Lemma 3.6 and Theorem 3.2.

A run of :func:`implicit.train.gradient_descent` with step :math:`\alpha` is read three ways: its **rates**
(:func:`descent_rates`: the worst one-step factor of :math:`\|r(k)\|^2`, the linearised factor
:math:`(1-\alpha\lambda_{\min}(H))^2`, the theorem's :math:`1-\alpha\lambda_0/2` and a fitted late rate); **one step
split as the proof splits it** (:func:`proof_step_terms`: :math:`\|r(k+1)\|^2 = \|r(k)\|^2 + \text{main} +
\text{cross} + \text{quadratic}`); and the proof's **bounds on how far the equilibria move between iterates**
(:func:`iterate_move_bounds`). The ``check_*`` functions turn each reading into :class:`~implicit.claims.Claim` records
keyed by id, as :mod:`implicit.theory` does for the statements themselves.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from .claims import Claim, keyed
from .gram import lambda_min
from .measure import fit_rate
from .theory import Setting, descent_factor
from .train import History, _descend

__all__ = ["descent_rates", "check_descent_rates", "proof_step_terms", "iterate_move_bounds", "check_iterate_moves",
           "check_step_fraction"]


def descent_rates(history: History, s: Setting, steps: int | None = None) -> dict[str, float]:
    r"""The rates of a gradient-descent run on :math:`\|r(k)\|^2` over its first ``steps`` steps (default all):
    ``per_step`` (the largest factor :math:`\|r(k+1)\|^2/\|r(k)\|^2`), ``sharp`` (the linearised factor
    :math:`(1-\alpha\min_k\lambda_{\min}(H(k)))^2`), ``theorem`` (:math:`1-\alpha\lambda_0/2`), ``rho`` (the fitted
    rate over the second half, :func:`implicit.measure.fit_rate`), ``fit_err`` (the largest residual of that
    log-linear fit) and ``loss_ratio`` (:math:`L(k)/L(0)` at the end).

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_descent
        >>> from implicit.theory import Setting
        >>> from implicit.descent import descent_rates
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_descent(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.1, steps=20, progress=False)
        >>> r = descent_rates(h, Setting.from_history(h, X))
        >>> r["per_step"] < 1, r["rho"] <= r["sharp"] < r["theorem"]
        (True, True)
    """
    k = len(history) if steps is None else steps + 1
    r2, alpha = history["residual_norm"][:k] ** 2, float(history.meta["lr"])
    rho, start = fit_rate(r2, tail=0.5), int(0.5 * r2.size)
    # The fit's residual without refitting: a least-squares line passes through the mean, so only its slope is needed.
    residual = np.log(r2[start:]) - np.log(rho) * np.arange(start, r2.size)
    return {"per_step": float(np.max(r2[1:] / r2[:-1])),
            "sharp": (1 - alpha * float(np.nanmin(history["lambda_min_H"][:k]))) ** 2,
            "theorem": descent_factor(alpha, s), "rho": rho,
            "fit_err": float(np.max(np.abs(residual - residual.mean()))), "loss_ratio": float(r2[-1] / r2[0])}


def proof_step_terms(net, X: Tensor, y: Tensor, alpha: float, steps: int) -> dict[str, np.ndarray]:
    r"""Gradient descent split as in the proof of Lemma 3.6 (Appendix A.8), for ``steps`` steps (``net`` is updated in
    place). With :math:`g = Z(k)u(k+1) + \Phi(k)v(k+1)` (new readouts, old features), per step:

    .. math:: \|r(k+1)\|^2 - \|r(k)\|^2 = \underbrace{2\langle g-\hat y(k), r\rangle}_{\texttt{main}}
        + \underbrace{2\langle \hat y(k+1)-g, r\rangle}_{\texttt{cross}}
        + \underbrace{\|\hat y(k+1)-\hat y(k)\|^2}_{\texttt{quad}},

    ``main_closed`` :math:`= -2\alpha r^\top(ZZ^\top+\Phi\Phi^\top)r`, ``lam_G`` :math:`=\lambda_{\min}(G(k))`, and
    the equilibrium-stability pairs ``dZ`` :math:`\le` ``stab_Z``
    :math:`= (\tilde\gamma\|\Delta A\|\|Z\|_F + \|\Delta\Phi\|_F)/(1-\tilde\gamma\|A(k+1)\|)` and ``dPhi``
    :math:`\le` ``stab_Phi`` :math:`= \|\Delta W\|\|X\|_F/\sqrt m`. Also ``r2`` and ``r2_new``.

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.descent import proof_step_terms
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> t = proof_step_terms(ImplicitNet(5, 32, 0.1, seed=0), X, y, alpha=0.1, steps=3)
        >>> bool(abs(t["r2_new"] - (t["r2"] + t["main"] + t["cross"] + t["quad"])).max() < 1e-12)
        True
    """
    from .linearization import linearize

    op = lambda M: float(torch.linalg.matrix_norm(M, 2))  # noqa: E731
    lin, rows = linearize(net, X), []
    for _ in range(steps):
        y_old = lin.predictions()
        r = y_old - y
        A_old, W_old = net.A.detach().clone(), net.W.detach().clone()
        _descend(net, lin.gradients(r), alpha)  # the step of implicit.train.gradient_descent
        new = linearize(net, X, z0=lin.Z, v0=lin.V)
        g = lin.Z @ net.u.detach() + lin.Phi @ net.v.detach()
        y_new = new.predictions()
        dPhi = float(torch.linalg.norm(new.Phi - lin.Phi))
        rows.append({"r2": float(r @ r), "r2_new": float((y_new - y) @ (y_new - y)), "main": 2 * float((g - y_old) @ r),
                     "main_closed": -2 * alpha * float(r @ (lin.Z @ (lin.Z.T @ r) + lin.Phi @ (lin.Phi.T @ r))),
                     "cross": 2 * float((y_new - g) @ r), "quad": float((y_new - y_old) @ (y_new - y_old)),
                     "lam_G": lambda_min(lin.Phi @ lin.Phi.T),
                     "dZ": float(torch.linalg.norm(new.Z - lin.Z)), "dPhi": dPhi,
                     "stab_Z": (net.gamma_tilde * op(net.A.detach() - A_old) * float(torch.linalg.norm(lin.Z)) + dPhi)
                     / (1 - net.contraction_factor()),
                     "stab_Phi": op(net.W.detach() - W_old) * float(torch.linalg.norm(X)) / math.sqrt(lin.m)})
        lin = new
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


def iterate_move_bounds(history: History, s: Setting) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    r"""The movement between iterates of a gradient-descent run at :math:`k \ge 1` — ``move_Z``, ``move_Phi``,
    ``move_yhat`` — each as ``(measured, shape, paper)``: ``shape`` is :math:`C\beta^{k-1}` with :math:`C` the measured
    value at :math:`k=1` and :math:`\beta = \sqrt{1-\alpha\lambda_0/2}`; ``paper`` is the paper's (39)/(40) summed over
    the :math:`n` rows (:math:`\sqrt n\cdot 512\alpha cn\,r_0^2\beta^{k-1}/(\lambda_0 m)` for :math:`Z`, 128 for
    :math:`\Phi`) and (41) with :math:`C_0 = 1`, :math:`\alpha c^2 n\,r_0\beta^{k-1}`, for :math:`\hat y`.

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_descent
        >>> from implicit.theory import Setting
        >>> from implicit.descent import iterate_move_bounds
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_descent(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.1, steps=10, progress=False)
        >>> move, shape, paper = iterate_move_bounds(h, Setting.from_history(h, X))["move_Z"]
        >>> move.shape, bool(move[0] == shape[0]), bool((move <= paper).all())
        ((10,), True, True)
    """
    alpha = float(history.meta["lr"])
    decay = math.sqrt(descent_factor(alpha, s)) ** (history["step"][1:] - 1)
    per_row = math.sqrt(s.n) * alpha * s.c * s.n * s.r0 ** 2 / (s.lam0 * s.m)
    paper = {"move_Z": 512 * per_row * decay, "move_Phi": 128 * per_row * decay,
             "move_yhat": alpha * s.c ** 2 * s.n * s.r0 * decay}
    return {key: (history[key][1:], history[key][1] * decay, bound) for key, bound in paper.items()}


def check_iterate_moves(history: History, s: Setting, rho: float) -> dict[str, Claim]:
    r"""Equilibrium stability between iterates (Lemma 3.6's proof, (39)–(41)) on a run whose loss decays at the
    fitted rate ``rho``, over the three movements of :func:`iterate_move_bounds`: ``"moves-shape"`` (below
    :math:`C\beta^{k-1}` for :math:`k\ge2`), ``"moves-39-41"`` (below the paper's bounds), ``"moves-rate-beta"``
    (each movement's fitted rate, second half of the run, below :math:`\beta`) and ``"moves-rate-rho"`` (that rate
    within 1% of :math:`\sqrt\rho`: the parameters move by :math:`\alpha\nabla L\propto\|r\|`).

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.measure import fit_rate
        >>> from implicit.train import gradient_descent
        >>> from implicit.theory import Setting
        >>> from implicit.descent import check_iterate_moves
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_descent(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.1, steps=10, progress=False)
        >>> checks = check_iterate_moves(h, Setting.from_history(h, X), fit_rate(h["loss"], tail=0.5))
        >>> list(checks), checks["moves-39-41"].holds
        (['moves-shape', 'moves-39-41', 'moves-rate-beta', 'moves-rate-rho'], True)
    """
    beta = math.sqrt(descent_factor(float(history.meta["lr"]), s))
    bounds = iterate_move_bounds(history, s)
    rates = [fit_rate(move, tail=0.5) for move, _, _ in bounds.values()]
    return keyed(
        Claim("moves-shape", "max over Z, Phi, yhat and k >= 2 of move / (C beta^(k-1))",
              max(float(np.max(mv[1:] / sh[1:])) for mv, sh, _ in bounds.values()), "<=", 1.0, "lemma-3.6"),
        Claim("moves-39-41", "max over Z, Phi, yhat and k of move / bound (39)-(41)",
              max(float(np.max(mv / pp)) for mv, _, pp in bounds.values()), "<=", 1.0, "lemma-3.6"),
        Claim("moves-rate-beta", "max fitted rate of the movements / beta", max(rates) / beta, "<", 1.0),
        Claim("moves-rate-rho", "max |fitted rate / sqrt(rho) - 1|",
              max(abs(r / math.sqrt(rho) - 1) for r in rates), "<=", 0.01))


def check_step_fraction(history: History, fraction: float, steps: int, contraction: float | None = None
                        ) -> dict[str, Claim]:
    r"""Gradient descent at :math:`\alpha = f\cdot 2/\lambda_{\max}(H(0))` against the linear-stability picture, over
    the first ``steps`` steps (``history`` must record :math:`\lambda_{\max}(H)`), with :math:`s_k =
    \alpha\lambda_{\max}(H(k))/2`, the step relative to the stability edge:

    * :math:`f < 1` (stable): the loss falls at every step (``"monotone"``), :math:`\lambda_{\max}(H)` moves by at
      most 3% (``"sharpness-drift"``) and :math:`s_k < 1` throughout (``"below-edge"``);
    * :math:`1 \le f < 2` (catapult): the loss first rises (``"loss-rises"``), :math:`s_0 > 1` (``"starts-above"``),
      the run ends with :math:`s_k < 1` (``"ends-below"``) and :math:`L < 10^{-2}L(0)` (``"converges"``);
    * :math:`f \ge 2` (divergence): the loss grows a hundredfold (``"blows-up"``) and the last net's contraction factor
      ``contraction`` reaches 1 (``"ill-posed"``).

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_descent
        >>> from implicit.descent import check_step_fraction
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_descent(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.05, steps=5, progress=False)
        >>> checks = check_step_fraction(h, 0.25, steps=5)  # lr = 0.05 is below the edge here
        >>> {k: c.holds for k, c in checks.items()}  # at m = 32, H moves by 7%: not lazy enough
        {'monotone': True, 'sharpness-drift': False, 'below-edge': True}
    """
    k = min(len(history), steps + 1)
    L, lam = history["loss"][:k], history["lambda_max_H"][:k]
    sharp = float(history.meta["lr"]) * lam[~np.isnan(lam)] / 2
    if fraction < 1:
        return keyed(Claim("monotone", "max L(k+1)/L(k)", float(np.max(L[1:] / L[:-1])), "<", 1.0),
                      Claim("sharpness-drift", "max |lambda_max(H(k))/lambda_max(H(0)) - 1|",
                            float(np.max(np.abs(sharp / sharp[0] - 1))), "<=", 0.03),
                      Claim("below-edge", "max alpha lambda_max(H(k))/2", float(sharp.max()), "<", 1.0))
    if fraction < 2:
        return keyed(Claim("loss-rises", "max L(k)/L(0)", float(L.max() / L[0]), ">", 1.0),
                      Claim("starts-above", "alpha lambda_max(H(0))/2", float(sharp[0]), ">", 1.0),
                      Claim("ends-below", "alpha lambda_max(H(K))/2 at the end", float(sharp[-1]), "<", 1.0),
                      Claim("converges", "L(K)/L(0)", float(L[-1] / L[0]), "<", 1e-2))
    if contraction is None:
        raise ValueError("a fraction >= 2 needs the contraction factor of the net the run ended with")
    return keyed(Claim("blows-up", "max L(k)/L(0)", float(L.max() / L[0]), ">", 100.0),
                  Claim("ill-posed", "gamma~||A|| of the last net", contraction, ">=", 1.0))


def check_descent_rates(r: Mapping[str, float]) -> dict[str, Claim]:
    r"""The rates ``r`` of a gradient-descent run, as :func:`descent_rates` returns them, against each other (taken,
    not recomputed, so a chapter that keeps the rates checks the same numbers it shows): every step decreases
    the loss (``"monotone"``), and by at least the linearised factor :math:`(1-\alpha\lambda_{\min}(H))^2`
    (``"linearised-step"``); the log-linear fit of the second half is good to 5% (``"fit-residual"``); the fitted rate
    is at most the linearised factor (``"rate-vs-linearised"``), which is below the theorem's
    :math:`1-\alpha\lambda_0/2` (``"linearised-vs-theorem"``).

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_descent
        >>> from implicit.theory import Setting
        >>> from implicit.descent import check_descent_rates, descent_rates
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_descent(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.1, steps=20, progress=False)
        >>> checks = check_descent_rates(descent_rates(h, Setting.from_history(h, X)))
        >>> list(checks), all(c.holds for c in checks.values())
        (['monotone', 'linearised-step', 'fit-residual', 'rate-vs-linearised', 'linearised-vs-theorem'], True)
    """
    return keyed(
        Claim("monotone", "largest factor ||r(k+1)||^2/||r(k)||^2", r["per_step"], "<", 1.0),
        Claim("linearised-step", "largest factor ||r(k+1)||^2/||r(k)||^2 <= (1 - alpha min lambda_min(H))^2",
              r["per_step"], "<=", r["sharp"]),
        Claim("fit-residual", "max |residual| of the log-linear fit over the second half", r["fit_err"], "<=", 0.05),
        Claim("rate-vs-linearised", "fitted rate <= (1 - alpha min lambda_min(H))^2", r["rho"], "<=", r["sharp"]),
        Claim("linearised-vs-theorem", "(1 - alpha min lambda_min(H))^2 < 1 - alpha lambda0/2", r["sharp"], "<",
              r["theorem"]))

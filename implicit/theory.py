r"""The paper's convergence statements as functions of measured quantities, and checks of recorded runs.

Every theorem is stated for a *setting*: width :math:`m`, sample count :math:`n`, the constant :math:`c` with
:math:`\|A(0)\|,\|W(0)\|\le c\sqrt m` (Lemma 2.1), :math:`\lambda_0=\lambda_{\min}(G^\infty)`, :math:`\|X\|` and the
initial residual :math:`\|\hat y(0)-y\|`. :class:`Setting` measures them; the ``width_*``, :func:`radius_R`,
:func:`gamma_max` and :func:`step_size_scale` functions evaluate the hypotheses, with every constant the paper hides in
:math:`\Omega(\cdot)` or :math:`O(\cdot)` **taken as 1**; the ``check_*`` functions compare a
:class:`~implicit.train.History` with each claim and return :class:`~implicit.claims.Claim` records keyed by short
ids (``"3.5-4-W"``: Lemma 3.5, item 4, the matrix W), which a chapter confirms with :func:`implicit.claims.confirm`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .claims import Claim, keyed
from .gram import lambda_min
from .kernels import lambda0
from .train import History

__all__ = ["Setting", "gamma_max", "radius_R", "width_lemma_3_3", "width_lemma_3_5",
           "width_theorem_3_2_printed", "step_size_scale", "descent_factor", "check_lemma_3_4", "probe_lemma_3_4",
           "check_lemma_3_5", "check_lemma_3_6", "check_theorem_3_1", "check_theorem_3_2"]


@dataclass(frozen=True)
class Setting:
    r"""The measured inputs of the theorems for one initialisation and data set.

    Attributes:
        n, m: samples and width. c: :math:`\max(\|A(0)\|_2, \|W(0)\|_2)/\sqrt m`. lam0: :math:`\lambda_0`.
        norm_X: :math:`\|X\|_2`. r0: :math:`\|\hat y(0) - y\|`. gamma: the net's :math:`\gamma`.

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_descent
        >>> from implicit.theory import Setting, gamma_max
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_descent(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.1, steps=20, progress=False)
        >>> s = Setting.from_history(h, X)
        >>> s.n, s.m, round(s.c, 2), round(s.lam0, 4), round(s.r0, 2)
        (8, 32, 1.86, 0.0231, 4.0)
        >>> s.gamma <= gamma_max(s.c)  # the theorems' condition on gamma holds for this net
        True
    """

    n: int
    m: int
    c: float
    lam0: float
    norm_X: float
    r0: float
    gamma: float

    @classmethod
    def from_history(cls, history: History, X: Tensor) -> Setting:
        """Read :math:`c` and :math:`\\|\\hat y(0)-y\\|` from a run's first record; :math:`\\lambda_0`, :math:`\\|X\\|`
        from the data."""
        m = int(history.meta["m"])
        c = max(history.columns["norm_A"][0], history.columns["norm_W"][0]) / math.sqrt(m)
        return cls(n=X.shape[0], m=m, c=c, lam0=lambda0(X), norm_X=float(torch.linalg.matrix_norm(X, 2)),
                   r0=history.columns["residual_norm"][0], gamma=float(history.meta["gamma"]))

    @classmethod
    def from_net(cls, net, X: Tensor, y: Tensor) -> Setting:
        r"""The same quantities measured on an untrained ``net`` (before any run): :math:`c` from its
        :math:`\|A\|_2, \|W\|_2` and :math:`r_0 = \|\hat y(0) - y\|` from its predictions.

        Examples:
            >>> import torch
            >>> from implicit.data import sphere
            >>> from implicit.model import ImplicitNet
            >>> from implicit.theory import Setting
            >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
            >>> s = Setting.from_net(ImplicitNet(5, 32, 0.1, seed=0), X, y)
            >>> s.n, s.m, round(s.c, 2), round(s.r0, 2)  # as Setting.from_history reads them from a run's first record
            (8, 32, 1.86, 4.0)
        """
        m = net.W.shape[0]
        c = max(float(torch.linalg.matrix_norm(p.detach(), 2)) for p in (net.A, net.W)) / math.sqrt(m)
        with torch.no_grad():
            r0 = float(torch.linalg.norm(net(X) - y))
        return cls(n=X.shape[0], m=m, c=c, lam0=lambda0(X), norm_X=float(torch.linalg.matrix_norm(X, 2)), r0=r0,
                   gamma=float(net.gamma))


def gamma_max(c: float) -> float:
    r"""The theorems' condition on :math:`\gamma`: :math:`0 < \gamma \le \min\{1/2, 1/(4c)\}`.

    Examples:
        >>> from implicit.theory import gamma_max
        >>> gamma_max(0.25), gamma_max(2.0)  # c = 2 (||A(0)||, ||W(0)|| about 2 sqrt(m)) allows gamma <= 1/8
        (0.5, 0.125)
    """
    return min(0.5, 1 / (4 * c))


def radius_R(s: Setting) -> float:
    r"""Lemma 3.4's radius :math:`R = \sqrt m\,\lambda_0 / (16 c \|X\|^2)`.

    Examples:
        >>> from implicit.theory import Setting, radius_R
        >>> s = Setting(n=10, m=1000, c=2.0, lam0=0.1, norm_X=2.0, r0=3.0, gamma=0.1)
        >>> round(radius_R(s), 4)  # sqrt(1000) * 0.1 / (16 * 2 * 4)
        0.0247
    """
    return math.sqrt(s.m) * s.lam0 / (16 * s.c * s.norm_X ** 2)


def width_lemma_3_3(n: int, lam0: float, delta: float) -> float:
    r"""Lemma 3.3 / Theorem 3.1: :math:`m \ge (n^2/\lambda_0^2)\log(n/\delta)` (constant taken as 1).

    Examples:
        >>> from implicit.theory import width_lemma_3_3
        >>> round(width_lemma_3_3(n=10, lam0=0.1, delta=0.1))  # 100 / 0.01 * log(100)
        46052
    """
    return n ** 2 / lam0 ** 2 * math.log(n / delta)


def width_lemma_3_5(s: Setting) -> float:
    r"""Lemmas 3.5/3.6: :math:`m \ge c^2 n \|X\|^2 \|\hat y(0)-y\|^2/\lambda_0^3` (constant taken as 1), the
    condition Theorem 3.1's statement does not repeat.

    Examples:
        >>> from implicit.theory import Setting, width_lemma_3_5
        >>> s = Setting(n=10, m=1000, c=2.0, lam0=0.1, norm_X=2.0, r0=3.0, gamma=0.1)
        >>> round(width_lemma_3_5(s))  # 4 * 10 * 4 * 9 / 0.001
        1440000
    """
    return s.c ** 2 * s.n * s.norm_X ** 2 * s.r0 ** 2 / s.lam0 ** 3


def width_theorem_3_2_printed(n: int, lam0: float, delta: float) -> float:
    r"""Theorem 3.2 as printed, :math:`(n^2/\lambda_0)\log(n/\delta)`: smaller than Lemma 3.3 needs by a factor
    :math:`1/\lambda_0` (a typo for :math:`\lambda_0^2`).

    Examples:
        >>> from implicit.theory import width_lemma_3_3, width_theorem_3_2_printed
        >>> round(width_theorem_3_2_printed(10, 0.1, 0.1))
        4605
        >>> round(width_lemma_3_3(10, 0.1, 0.1) / width_theorem_3_2_printed(10, 0.1, 0.1), 6)  # 1 / lambda0
        10.0
    """
    return n ** 2 / lam0 * math.log(n / delta)


def step_size_scale(s: Setting) -> float:
    r"""Theorem 3.2's step-size scale :math:`\alpha = \lambda_0/n^2` (constant taken as 1).

    Examples:
        >>> from implicit.theory import Setting, step_size_scale
        >>> s = Setting(n=10, m=1000, c=2.0, lam0=0.1, norm_X=2.0, r0=3.0, gamma=0.1)
        >>> round(step_size_scale(s), 12)  # 0.1 / 10**2
        0.001
    """
    return s.lam0 / s.n ** 2


def descent_factor(alpha: float, s: Setting) -> float:
    r"""Lemma 3.6 / Theorem 3.2's guaranteed factor per step on :math:`\|\hat y(k)-y\|^2` at step ``alpha``,
    :math:`1-\alpha\lambda_0/2`; its square root :math:`\beta` is the factor on the residual itself.

    Examples:
        >>> from implicit.theory import Setting, descent_factor
        >>> s = Setting(n=10, m=1000, c=2.0, lam0=0.1, norm_X=2.0, r0=3.0, gamma=0.1)
        >>> round(descent_factor(0.1, s), 12)  # 1 - 0.1 * 0.1 / 2
        0.995
    """
    return 1 - alpha * s.lam0 / 2


def _worst(history: History, name: str, largest: bool = True) -> float:
    values = history[name]
    values = values[~np.isnan(values)]
    return float(values.max() if largest else values.min())


def _decay_ratio(history: History, s: Setting, descent: bool) -> float:
    """max over records after the first of ||r||^2 / (rate ||r(0)||^2) (the first is 1 by definition), with the
    lemmas' rate: exp(-lambda0 t) along the flow, (1 - alpha lambda0/2)^k along gradient descent."""
    r2 = history["residual_norm"] ** 2
    if r2.size < 2:
        return 1.0
    rate_at = (descent_factor(float(history.meta["lr"]), s) ** history["step"] if descent
               else np.exp(-s.lam0 * history["time"]))
    return float(np.max(r2[1:] / (rate_at[1:] * r2[0])))


def check_lemma_3_4(history: History, s: Setting) -> dict[str, Claim]:
    r"""Lemma 3.4 along a run: at every record with :math:`\|W-W(0)\|_F\le R` and :math:`\|W\|\le 2c\sqrt m`,
    :math:`\lambda_{\min}(G)\ge\lambda_0/2` (``"3.4-lambda-G"``); ``"3.4-ball"``: whether the run stayed inside the
    ball (a hypothesis).

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_descent
        >>> from implicit.theory import Setting, check_lemma_3_4
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_descent(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.1, steps=20, progress=False)
        >>> {k: c.holds for k, c in check_lemma_3_4(h, Setting.from_history(h, X)).items()}  # m = 32: R is tiny
        {'3.4-ball': False, '3.4-lambda-G': True}
    """
    inside = (history["dist_W"] <= radius_R(s)) & (history["norm_W"] <= 2 * s.c * math.sqrt(s.m))
    lam_g = history["lambda_min_G"][inside]
    lam_g = lam_g[~np.isnan(lam_g)]
    return keyed(
        Claim("3.4-ball", "max ||W(t)-W(0)||_F <= R", _worst(history, "dist_W"), "<=", radius_R(s), "lemma-3.4",
              hypothesis=True),
        Claim("3.4-lambda-G", "min lambda_min(G) inside the ball >= lambda0/2",
              float(lam_g.min()) if lam_g.size else math.nan, ">=", s.lam0 / 2, "lemma-3.4"),
    )


def _gram_of(W: Tensor, X: Tensor) -> Tensor:
    r""":math:`G(W) = \frac1m\sigma(XW^\top)\sigma(XW^\top)^\top`, the feature Gram matrix of Lemma 3.4 at any ``W``."""
    F = torch.relu(X @ W.T)
    return F @ F.T / W.shape[0]


def probe_lemma_3_4(W0: Tensor, X: Tensor, radius: float, samples: int, seed: int = 0) -> Tensor:
    r"""λ_min(G) at ``samples`` random :math:`W = W_0 + \Delta` with :math:`\|\Delta\|_F = ` ``radius``,
    :math:`G = \frac1m\sigma(XW^\top)\sigma(XW^\top)^\top`. Returns a ``(samples,)`` tensor.

    Examples:
        >>> from implicit.data import sphere
        >>> from implicit.kernels import lambda0
        >>> from implicit.model import ImplicitNet
        >>> from implicit.theory import probe_lemma_3_4
        >>> X = sphere(8, 5, seed=0); W0 = ImplicitNet(5, 256, 0.1, seed=0).W.detach()
        >>> lam = probe_lemma_3_4(W0, X, radius=1.0, samples=4)
        >>> lam.shape, bool((lam >= lambda0(X) / 2).all())  # still above lambda0/2 at this distance
        (torch.Size([4]), True)
    """
    gen = torch.Generator().manual_seed(seed)
    out = torch.empty(samples, dtype=torch.float64)
    for i in range(samples):
        delta = torch.randn(W0.shape, generator=gen, dtype=torch.float64).to(W0)
        out[i] = lambda_min(_gram_of(W0 + radius * delta / torch.linalg.norm(delta), X))
    return out


def _common_items(history: History, s: Setting, lemma: str, u_const: float, v_const: float) -> list[Claim]:
    root_m, scale = math.sqrt(s.m), s.c * math.sqrt(s.n) * s.r0 / s.lam0
    key, result = lemma.split("-")[1], lemma
    u, v = _worst(history, "norm_u"), _worst(history, "norm_v")
    return [
        Claim(f"{key}-1-lambda-G", "min lambda_min(G(t)) >= lambda0/2", _worst(history, "lambda_min_G", False), ">=",
              s.lam0 / 2, result),
        Claim(f"{key}-2-u-printed", f"max ||u(t)|| <= {u_const:g} c sqrt(n) r0/lambda0 (as printed)", u, "<=",
              u_const * scale, result, erratum=4),
        Claim(f"{key}-2-u-corrected", f"max ||u(t)|| <= sqrt(m) + {u_const / 2:g} c sqrt(n) r0/lambda0", u, "<=",
              root_m + u_const / 2 * scale, result, erratum=4),
        Claim(f"{key}-3-v-printed", f"max ||v(t)|| <= {v_const:g} c sqrt(n) r0/lambda0 (as printed)", v, "<=",
              v_const * scale, result, erratum=4),
        Claim(f"{key}-3-v-corrected", f"max ||v(t)|| <= sqrt(m) + {v_const / 2:g} c sqrt(n) r0/lambda0", v, "<=",
              root_m + v_const / 2 * scale, result, erratum=4),
        Claim(f"{key}-4-W", "max ||W(t)|| <= 2c sqrt(m)", _worst(history, "norm_W"), "<=", 2 * s.c * root_m, result),
        Claim(f"{key}-5-A", "max ||A(t)|| <= 2c sqrt(m)", _worst(history, "norm_A"), "<=", 2 * s.c * root_m, result),
        Claim(f"{key}-wellposed", "max gamma~||A(t)|| < 1 (well-posed all along)", _worst(history, "contraction"),
              "<", 1.0, result),
    ]


def _drift_scale(s: Setting) -> float:
    """c n r0^2 / (lambda0^2 sqrt(m)): the proofs' bound on the movement of W and A, up to its constant."""
    return s.c * s.n * s.r0 ** 2 / (s.lam0 ** 2 * math.sqrt(s.m))


def _drift_items(history: History, s: Setting, lemma: str, constants: tuple[int, int, int, int]) -> list[Claim]:
    """The proofs' parameter-movement bounds, with the constants of A.7 (flow) or A.8 (descent)."""
    c_W, c_A, c_u, c_v = constants
    key, t = lemma.split("-")[1], "t" if lemma == "lemma-3.5" else "k"
    drift = _drift_scale(s)
    move = s.c * math.sqrt(s.n) * s.r0 / s.lam0
    return [
        Claim(f"{key}-drift-W", f"max ||W({t})-W(0)||_F <= {c_W} c n r0^2/(lambda0^2 sqrt(m))",
              _worst(history, "dist_W"), "<=", c_W * drift, lemma),
        Claim(f"{key}-drift-A", f"max ||A({t})-A(0)||_F <= {c_A} c n r0^2/(lambda0^2 sqrt(m))",
              _worst(history, "dist_A"), "<=", c_A * drift, lemma),
        Claim(f"{key}-drift-u", f"max ||u({t})-u(0)|| <= {c_u} c sqrt(n) r0/lambda0", _worst(history, "dist_u"), "<=",
              c_u * move, lemma),
        Claim(f"{key}-drift-v", f"max ||v({t})-v(0)|| <= {c_v} c sqrt(n) r0/lambda0", _worst(history, "dist_v"), "<=",
              c_v * move, lemma),
    ]


def check_lemma_3_5(history: History, s: Setting) -> dict[str, Claim]:
    r"""Lemma 3.5 (gradient flow) items 1–6 and the parameter-drift bounds of its proof (Appendix A.7).

    Ids: ``3.5-1-lambda-G``, ``3.5-2-u-printed``/``-corrected`` (erratum 4), ``3.5-3-v-…``, ``3.5-4-W``, ``3.5-5-A``,
    ``3.5-wellposed``, ``3.5-6-decay``, ``3.5-drift-{W,A,u,v}``.

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_flow
        >>> from implicit.theory import Setting, check_lemma_3_5
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_flow(ImplicitNet(5, 32, 0.1, seed=0), X, y, t_end=1.0, progress=False)
        >>> checks = check_lemma_3_5(h, Setting.from_history(h, X))
        >>> len(checks), all(c.holds for c in checks.values())
        (13, True)
    """
    decay = Claim("3.5-6-decay", "max ||r(t)||^2 / (exp(-lambda0 t) ||r(0)||^2) <= 1",
                  _decay_ratio(history, s, descent=False), "<=", 1.0, "lemma-3.5")
    return keyed(*_common_items(history, s, "lemma-3.5", 16, 8), decay,
                  *_drift_items(history, s, "lemma-3.5", (128, 64, 8, 4)))


def check_lemma_3_6(history: History, s: Setting) -> dict[str, Claim]:
    r"""Lemma 3.6 (gradient descent, step ``history.meta['lr']``) items 1–6 and the drift bounds of Appendix A.8.

    Ids as in :func:`check_lemma_3_5`, with the prefix ``3.6``.

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_descent
        >>> from implicit.theory import Setting, check_lemma_3_6
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_descent(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.1, steps=20, progress=False)
        >>> checks = check_lemma_3_6(h, Setting.from_history(h, X))
        >>> decay = checks["3.6-6-decay"]  # item (6): the residual decays at least at the lemma's rate
        >>> round(decay.measured, 2), decay.relation, decay.bound
        (0.59, '<=', 1.0)
        >>> all(c.holds for c in checks.values())
        True
    """
    decay = Claim("3.6-6-decay", "max ||r(k)||^2 / ((1 - alpha lambda0/2)^k ||r(0)||^2) <= 1",
                  _decay_ratio(history, s, descent=True), "<=", 1.0, "lemma-3.6")
    return keyed(*_common_items(history, s, "lemma-3.6", 32, 16), decay,
                  *_drift_items(history, s, "lemma-3.6", (512, 256, 16, 8)))


def _hypotheses(s: Setting, delta: float, theorem: str) -> list[Claim]:
    key = "T" + theorem.split("-")[1]
    return [
        Claim(f"{key}-gamma", "gamma <= min(1/2, 1/(4c))", s.gamma, "<=", gamma_max(s.c), theorem, hypothesis=True),
        Claim(f"{key}-width-3.3", "m >= (n^2/lambda0^2) log(n/delta)  [Lemma 3.3, constant 1]", s.m, ">=",
              width_lemma_3_3(s.n, s.lam0, delta), theorem, erratum=2 if key == "T3.2" else None, hypothesis=True),
        Claim(f"{key}-width-3.5", "m >= c^2 n ||X||^2 r0^2/lambda0^3  [Lemma 3.5, constant 1]", s.m, ">=",
              width_lemma_3_5(s), theorem, erratum=3, hypothesis=True),
    ]


def check_theorem_3_1(history: History, s: Setting, delta: float = 0.1) -> dict[str, Claim]:
    r"""Theorem 3.1: its hypotheses on the instance (``T3.1-gamma``, ``T3.1-width-3.3``, ``T3.1-width-3.5``) and the
    conclusion :math:`\|\hat y(t)-y\|^2\le e^{-\lambda_0 t}\|\hat y(0)-y\|^2` along the flow (``T3.1-decay``).

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_flow
        >>> from implicit.theory import Setting, check_theorem_3_1
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_flow(ImplicitNet(5, 32, 0.1, seed=0), X, y, t_end=1.0, progress=False)
        >>> for key, c in check_theorem_3_1(h, Setting.from_history(h, X)).items():  # m = 32 is far too narrow for
        ...     print(key, c.holds)                                                    # the theorem, yet it converges
        T3.1-gamma True
        T3.1-width-3.3 False
        T3.1-width-3.5 False
        T3.1-decay True
    """
    return keyed(*_hypotheses(s, delta, "theorem-3.1"),
                  Claim("T3.1-decay", "max ||r(t)||^2 / (exp(-lambda0 t) ||r(0)||^2) <= 1",
                        _decay_ratio(history, s, descent=False), "<=", 1.0, "theorem-3.1"))


def check_theorem_3_2(history: History, s: Setting, delta: float = 0.1) -> dict[str, Claim]:
    r"""Theorem 3.2: hypotheses (``T3.2-gamma``, ``T3.2-width-3.3``, ``T3.2-width-3.5``, and the step size
    ``T3.2-step``: :math:`\alpha\le\lambda_0/n^2`) and the conclusion
    :math:`\|\hat y(k)-y\|^2\le(1-\alpha\lambda_0/2)^k\|\hat y(0)-y\|^2` (``T3.2-decay``).

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_descent
        >>> from implicit.theory import Setting, check_theorem_3_2
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_descent(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.1, steps=20, progress=False)
        >>> for key, c in check_theorem_3_2(h, Setting.from_history(h, X)).items():  # too narrow, step too large,
        ...     print(key, c.holds)                                                    # yet it converges here
        T3.2-gamma True
        T3.2-width-3.3 False
        T3.2-width-3.5 False
        T3.2-step False
        T3.2-decay True
    """
    return keyed(*_hypotheses(s, delta, "theorem-3.2"),
                  Claim("T3.2-step", "alpha <= lambda0/n^2  [constant 1]", float(history.meta["lr"]), "<=",
                        step_size_scale(s), "theorem-3.2", hypothesis=True),
                  Claim("T3.2-decay", "max ||r(k)||^2 / ((1 - alpha lambda0/2)^k ||r(0)||^2) <= 1",
                        _decay_ratio(history, s, descent=True), "<=", 1.0, "theorem-3.2"))


# -- measurements of the gradient-flow and gradient-descent chapters -------------------------------------------------

__all__ += ["check_good_init", "adversarial_lemma_3_4", "integrated_lambda_min_H", "movement_to_target"]


def check_good_init(net, X: Tensor, s: Setting, result: str = "lemma-3.5") -> dict[str, Claim]:
    r"""The lemmas' hypothesis on the initial features, :math:`\lambda_{\min}(G(0)) \ge \tfrac34\lambda_0` (the event
    of Lemma 3.3), with :math:`G(0) = \Phi(0)\Phi(0)^\top`: a hypothesis claim ``"3.5-init-G"`` (or ``"3.6-init-G"``).

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.theory import Setting, check_good_init
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0]); net = ImplicitNet(5, 256, 0.1, seed=0)
        >>> c = check_good_init(net, X, Setting.from_net(net, X, y))["3.5-init-G"]
        >>> c.holds, c.hypothesis, c.result
        (True, True, 'lemma-3.5')
    """
    lam = lambda_min(_gram_of(net.W.detach(), X))  # Phi(0) Phi(0)^T
    key = result.split("-")[1]
    return keyed(Claim(f"{key}-init-G", "lambda_min(G(0)) >= 3 lambda0/4", lam, ">=", 0.75 * s.lam0, result,
                        hypothesis=True))


def adversarial_lemma_3_4(W0: Tensor, X: Tensor, radius: float, steps: int = 30, seed: int = 0) -> dict[str, float]:
    r"""A worst-case probe of Lemma 3.4: projected gradient descent on :math:`\lambda_{\min}(G(W_0+\Delta))` over the
    sphere :math:`\|\Delta\|_F = ` ``radius``, :math:`G(W) = \frac1m\sigma(XW^\top)\sigma(XW^\top)^\top`. A local
    search, so ``lambda_min`` is an upper bound on the true minimum over the sphere. At the point found it also
    evaluates both sides of the proof's inequality (Appendix A.6)

    .. math:: \|G - G(0)\| \le \frac{\|X\|^2}{m}\bigl(\|W\| + \|W_0\|\bigr)\|W - W_0\|

    as ``gap`` and ``lipschitz``.

    Examples:
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.theory import adversarial_lemma_3_4
        >>> X = sphere(8, 5, seed=0); W0 = ImplicitNet(5, 64, 0.1, seed=0).W.detach()
        >>> out = adversarial_lemma_3_4(W0, X, radius=1.0, steps=5)
        >>> sorted(out), out["gap"] <= out["lipschitz"]
        (['gap', 'lambda_min', 'lipschitz'], True)
    """
    D = torch.randn(W0.shape, generator=torch.Generator().manual_seed(seed), dtype=W0.dtype)
    D = (radius * D / D.norm()).requires_grad_(True)
    for _ in range(steps):
        (g,) = torch.autograd.grad(torch.linalg.eigvalsh(_gram_of(W0 + D, X))[0], D)
        with torch.no_grad():
            D = D - 0.5 * radius * g / g.norm()
            D = (radius * D / D.norm()).requires_grad_(True)
    W = (W0 + D).detach()
    G, G0 = _gram_of(W, X), _gram_of(W0, X)
    op = lambda M: float(torch.linalg.matrix_norm(M, 2))  # noqa: E731
    return {"lambda_min": lambda_min(G), "gap": op(G - G0),
            "lipschitz": op(X) ** 2 / W.shape[0] * (op(W) + op(W0)) * op(W - W0)}


def integrated_lambda_min_H(history: History) -> tuple[np.ndarray, float]:
    r""":math:`\int_0^t\lambda_{\min}(H(s))\,ds` at every record of a run (trapezoid rule over the recorded times, which
    must all carry :math:`\lambda_{\min}(H)`), and the quadrature error of the exponent of
    :math:`(\ast)\colon \|r(t)\|^2 \le \exp(-2\int_0^t\lambda_{\min}(H))\|r(0)\|^2`, taken as twice the largest gap
    between the trapezoid and the lower-envelope rule.

    Examples:
        >>> from implicit.train import History
        >>> from implicit.theory import integrated_lambda_min_H
        >>> h = History()
        >>> for t, lam in [(0.0, 1.0), (1.0, 1.0), (3.0, 2.0)]:
        ...     h.append(time=t, lambda_min_H=lam)
        >>> integral, err = integrated_lambda_min_H(h)
        >>> integral.tolist(), err  # 1 + 2 * 1.5; the last interval's envelope is 2 * 1
        ([0.0, 1.0, 4.0], 2.0)
    """
    t, lam = history["time"], history["lambda_min_H"]
    if np.isnan(lam).any():
        raise ValueError("every record must carry lambda_min(H) (gram_every=1)")
    trap = np.concatenate([[0.0], np.cumsum(0.5 * (lam[1:] + lam[:-1]) * np.diff(t))])
    lower = np.concatenate([[0.0], np.cumsum(np.minimum(lam[1:], lam[:-1]) * np.diff(t))])
    return trap, float(2 * np.max(trap - lower))


def movement_to_target(history: History, s: Setting, norm_W0_fro: float, target: float = 1e-4) -> dict[str, float]:
    r"""How far a gradient-flow run's parameters move before its loss first falls to ``target`` times its initial
    value, against the a-posteriori bound

    .. math:: \|W(t)-W(0)\|_F \le \sqrt{n/m}\,\max_s\Bigl(\frac{\|u\|}{1-\tilde\gamma\|A\|} + \|v\|\Bigr)
        \int_0^t\|r(s)\|\,ds \qquad (\ast\ast)

    (the integral by the trapezoid rule) and the printed drift bound :math:`128cn\,r_0^2/(\lambda_0^2\sqrt m)`.

    Returns ``m``, ``t`` (the time reached), ``dW``, ``relW`` (``dW / norm_W0_fro``), ``dA``, ``bound`` (``(**)``),
    ``printed``, ``contraction`` (max :math:`\tilde\gamma\|A\|`), ``normA``, ``normW`` (max over :math:`2c\sqrt m`),
    ``lamG`` (min :math:`\lambda_{\min}(G)` over the whole run), ``lamG0`` and ``u_max``.

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_flow
        >>> from implicit.theory import Setting, movement_to_target
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0]); net = ImplicitNet(5, 32, 0.1, seed=0)
        >>> W0F = float(net.W.detach().norm())
        >>> h = gradient_flow(net, X, y, t_end=2.0, progress=False)
        >>> row = movement_to_target(h, Setting.from_history(h, X), W0F, target=0.5)
        >>> bool(row["dW"] <= row["bound"] * (1 + 1e-3)), bool(row["normA"] <= 1)
        (True, True)
    """
    rel_loss = history["loss"] / history["loss"][0]
    if rel_loss.min() > target:
        raise ValueError(f"the run never reached L/L(0) <= {target:g} (smallest {rel_loss.min():.3g})")
    k = int(np.argmax(rel_loss <= target)) + 1
    cut = {name: history[name][:k] for name in ("time", "residual_norm", "norm_u", "norm_v", "contraction")}
    amp = np.max(cut["norm_u"] / (1 - cut["contraction"]) + cut["norm_v"])
    res, tt = cut["residual_norm"], cut["time"]
    integral = float(np.sum(0.5 * (res[1:] + res[:-1]) * np.diff(tt)))
    dW, scale = float(history["dist_W"][:k].max()), 2 * s.c * math.sqrt(s.m)
    lam_g = history["lambda_min_G"]
    return {"m": s.m, "t": float(tt[-1]), "dW": dW, "relW": dW / norm_W0_fro, "dA": float(history["dist_A"][:k].max()),
            "bound": math.sqrt(s.n / s.m) * amp * integral,
            "printed": 128 * _drift_scale(s),
            "contraction": _worst(history, "contraction"), "normA": _worst(history, "norm_A") / scale,
            "normW": _worst(history, "norm_W") / scale, "lamG": float(np.nanmin(lam_g)), "lamG0": float(lam_g[0]),
            "u_max": _worst(history, "norm_u")}


def check_printed_width(s: Setting, delta: float = 0.1) -> dict[str, Claim]:
    r"""Theorem 3.2's width as printed, :math:`(n^2/\lambda_0)\log(n/\delta)`, on the instance
    (``"T3.2-width-printed"``, erratum 2), and whether Lemma 3.6's own width condition, which the theorem omits, is
    the larger one (``"T3.2-width-binding"``: :math:`c^2n\|X\|^2r_0^2/\lambda_0^3 \ge (n^2/\lambda_0^2)\log(n/\delta)`,
    erratum 3). Both are hypotheses of the theorem (constants 1).

    Examples:
        >>> from implicit.theory import Setting, check_printed_width
        >>> s = Setting(n=10, m=1000, c=2.0, lam0=0.1, norm_X=2.0, r0=3.0, gamma=0.1)
        >>> {k: c.holds for k, c in check_printed_width(s).items()}  # m = 1000 < 4605
        {'T3.2-width-printed': False, 'T3.2-width-binding': True}
    """
    return keyed(
        Claim("T3.2-width-printed", "m >= (n^2/lambda0) log(n/delta)  [as printed, constant 1]", s.m, ">=",
              width_theorem_3_2_printed(s.n, s.lam0, delta), "theorem-3.2", erratum=2, hypothesis=True),
        Claim("T3.2-width-binding", "c^2 n ||X||^2 r0^2/lambda0^3 >= (n^2/lambda0^2) log(n/delta)", width_lemma_3_5(s),
              ">=", width_lemma_3_3(s.n, s.lam0, delta), "theorem-3.2", erratum=3, hypothesis=True))


__all__ += ["check_printed_width"]

r"""Training on :math:`L(\theta) = \frac12\|\hat y - y\|^2`, recording every quantity the proofs bound.

* :func:`gradient_descent`: :math:`\theta_{k+1} = \theta_k - \alpha\nabla L(\theta_k)` (Lemma 3.6, Theorem 3.2).
* :func:`sgd`: mini-batch stochastic gradient descent, batches drawn without replacement each epoch, one record per
  epoch (beyond the paper, whose theorems cover the full batch only).
* :func:`gradient_flow`: :math:`\dot\theta = -\nabla L(\theta)` (Eq. 13; Lemma 3.5, Theorem 3.1), integrated by an
  adaptive Bogacki–Shampine 3(2) scheme whose local error is controlled in the space of predictions,
  :math:`\|J\,e_\theta\| \le \mathrm{atol} + \mathrm{rtol}\,\|\hat y - y\|`, and reported.

Each gradient evaluation is one forward and one readout-adjoint fixed point, both warm-started from the previous
evaluation (:mod:`implicit.linearization`); the same factors give the Gram blocks when λ_min is recorded. Both
functions return a :class:`History` and stop early, keeping the history, on NaN, loss blow-up or loss of
well-posedness. The theorems they are read against assume inputs on the unit sphere, :math:`\|x_i\| = 1`; other
inputs train all the same, with an :class:`~implicit.validation.OffSphereWarning` (once per process).

Histories are stored as strict JSON (:mod:`implicit.records`): NaN as ``null``, :math:`\pm\infty` as the strings
``"Infinity"``/``"-Infinity"``.
"""
from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from tqdm.std import tqdm

from . import records
from .gram import blocks_from, lambda_min
from .linalg import spectral_norm
from .linearization import Linearization, linearize, residual
from .model import ImplicitNet
from .runtime import quiet
from .solvers import ConvergenceError
from .validation import check_positive_int, warn_if_off_sphere
from .wellposed import NotWellPosedError

__all__ = ["History", "FIELDS", "gradient_descent", "sgd", "gradient_flow", "TrainingStopped"]

BLOCKS = ("A", "W", "u", "v")

#: The columns of a :class:`History`, one value per record (NaN where not measured at that record).
FIELDS = (
    "step", "time", "loss", "residual_norm", "lambda_min_H", "lambda_max_H", "lambda_min_G",
    "norm_A", "norm_W", "norm_u", "norm_v", "dist_A", "dist_W", "dist_u", "dist_v", "contraction",
    "move_Z", "move_Phi", "move_yhat", "forward_iterations", "adjoint_iterations",
)


class TrainingStopped(RuntimeWarning):
    """Warned when a run stops early (divergence, NaN, loss of well-posedness); the history is kept."""


@dataclass
class History:
    r"""The record of a training run: one row per recorded step, columns :data:`FIELDS`.

    ``loss`` is :math:`\frac12\|\hat y-y\|^2` and ``residual_norm`` is :math:`\|\hat y-y\|`; ``norm_*`` are
    :math:`\|A\|_2, \|W\|_2, \|u\|, \|v\|`; ``dist_*`` are Frobenius distances to the initial parameters;
    ``move_*`` are Frobenius norms of the change since the previous record (:math:`Z`, :math:`\Phi`, :math:`\hat y`);
    ``contraction`` is :math:`\tilde\gamma\|A\|_2`. ``meta`` holds the run's settings, ``stopped`` the reason for an
    early stop (``None`` if the run completed).

    Examples:
        >>> from implicit.train import History
        >>> h = History(meta={"lr": 0.1})
        >>> h.append(step=0, loss=1.0)
        >>> h.append(step=1, loss=0.25, test_loss=0.5)  # a new column, padded with NaN before
        >>> len(h), h.final("loss"), h["test_loss"].tolist()
        (2, 0.25, [nan, 0.5])
        >>> History.from_json(h.to_json())["test_loss"].tolist()  # NaN survives the strict JSON round trip
        [nan, 0.5]
    """

    meta: dict = field(default_factory=dict)
    columns: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in FIELDS})
    stopped: str | None = None

    def append(self, **values: float) -> None:
        """Add one record. Columns other than :data:`FIELDS` (e.g. a test loss) are created on first use and padded
        with NaN for the earlier records."""
        rows = len(self)
        for k in values:
            self.columns.setdefault(k, [math.nan] * rows)
        for k, column in self.columns.items():
            column.append(float(values.get(k, math.nan)))

    def __len__(self) -> int:
        return len(self.columns["step"])

    def __getitem__(self, name: str) -> np.ndarray:
        return np.asarray(self.columns[name], dtype=float)

    def arrays(self) -> dict[str, np.ndarray]:
        """All columns as NumPy arrays, for plotting."""
        return {k: self[k] for k in self.columns}

    def final(self, name: str) -> float:
        """The last recorded value of a column."""
        return self.columns[name][-1]

    def _record(self) -> dict:
        return {"meta": self.meta, "stopped": self.stopped, "columns": self.columns}

    def to_json(self, path: str | Path | None = None) -> str:
        r"""Serialise as strict JSON (:func:`implicit.records.dumps`: NaN stored as ``null``, :math:`\pm\infty` as
        ``"Infinity"``/``"-Infinity"``); if ``path`` is given, also write it there atomically
        (:func:`implicit.records.write_json`). Returns the JSON text."""
        text = records.dumps(self._record(), indent=1)
        if path is not None:
            records.write_json(path, self._record(), indent=1)
        return text

    @classmethod
    def from_json(cls, source: str | Path) -> History:
        r"""Load from a JSON file path or a JSON string written by :meth:`to_json`: ``null`` in a column becomes NaN,
        ``"Infinity"``/``"-Infinity"`` become :math:`\pm\infty`. Files with the bare ``NaN``/``Infinity`` tokens of
        older versions load too. A damaged file raises :class:`implicit.records.RecordError` naming it."""
        if str(source).lstrip().startswith("{"):
            raw = records.decode(json.loads(str(source)))  # json.loads accepts the legacy bare tokens
        else:
            raw = records.read_json(source, required=("columns",))
        cols = {k: [math.nan if x is None else float(x) for x in v] for k, v in raw["columns"].items()}
        return cls(meta=raw.get("meta", {}), columns=cols, stopped=raw.get("stopped"))


class _Recorder:
    """Measures and appends one record; keeps the initial parameters and warm starts for the norms."""

    def __init__(self, net: ImplicitNet, X: Tensor, gram_every: int, history: History,
                 observe: Callable[[ImplicitNet], dict[str, float]] | None = None, norms: bool = True) -> None:
        self.net, self.X, self.gram_every, self.history, self.observe = net, X, gram_every, history, observe
        self.norms = norms
        self.theta0 = {k: getattr(net, k).detach().clone() for k in BLOCKS}
        self.power: Tensor | None = None
        self.previous: tuple[Tensor, Tensor, Tensor] | None = None
        self.count = 0

    def norm(self, name: str) -> float:
        value, self.power = spectral_norm(getattr(self.net, name).detach(), start=self.power)
        return value

    def __call__(self, step: int, time: float, lin: Linearization, r: Tensor) -> None:
        net = self.net
        yhat = lin.predictions()
        values = dict(step=step, time=time, loss=0.5 * float(r @ r), residual_norm=float(torch.linalg.norm(r)),
                      forward_iterations=lin.forward_stats.iterations,
                      adjoint_iterations=lin.adjoint_stats.iterations)
        for k in BLOCKS:
            p = getattr(net, k).detach()
            values[f"dist_{k}"] = float(torch.linalg.norm(p - self.theta0[k]))
        values.update(norm_u=float(torch.linalg.norm(lin.u)), norm_v=float(torch.linalg.norm(lin.v)))
        if self.norms:
            # The net caches gamma~||A||_2 for its well-posedness check: reuse it instead of a second norm of A.
            values.update(norm_A=net.contraction_factor() / net.gamma_tilde, norm_W=self.norm("W"))
            values["contraction"] = net.gamma_tilde * values["norm_A"]
        if self.previous is not None:
            moved = zip(("move_Z", "move_Phi", "move_yhat"), (lin.Z, lin.Phi, yhat), self.previous, strict=True)
            for key, new, old in moved:
                values[key] = float(torch.linalg.norm(new - old))
        if self.count % self.gram_every == 0:
            blocks = blocks_from(lin)
            eig = torch.linalg.eigvalsh(blocks.total)
            values.update(lambda_min_H=float(eig[0]), lambda_max_H=float(eig[-1]),
                          lambda_min_G=lambda_min(blocks.v))
        if self.observe is not None:
            values.update(_observed(self.observe(net)))
        self.previous = (lin.Z, lin.Phi, yhat)
        self.count += 1
        self.history.append(**values)


def _observed(extra: object) -> Mapping[str, float]:
    """The values an ``observe`` callback returned, refused if they are not a mapping or would overwrite a column of
    :data:`FIELDS` (``loss``, ``step``, ...)."""
    if not isinstance(extra, Mapping):
        raise TypeError(f"observe must return a dict of column name -> float, got {type(extra).__name__}")
    clash = [k for k in extra if k in FIELDS]
    if clash:
        raise ValueError(f"observe returned the key {clash[0]!r}, which is a recorded column of the history "
                         f"(implicit.train.FIELDS); rename it (e.g. 'observed_{clash[0]}') so it cannot overwrite the "
                         f"measured value")
    return extra


def _meta(net: ImplicitNet, X: Tensor, method: str, **extra) -> dict:
    return {"method": method, "n": X.shape[0], "d": net.d, "m": net.m, "gamma": net.gamma, "seed": net.seed,
            "dtype": str(net.dtype).replace("torch.", ""), "device": str(net.device), **extra}


def _stop(history: History, reason: str, stacklevel: int = 3) -> None:
    history.stopped = reason
    warnings.warn(f"training stopped early: {reason}", TrainingStopped, stacklevel=stacklevel)


def _diverged(r: Tensor, r0_norm: float, blowup: float) -> str | None:
    r"""Why to stop, or ``None``: the residual is not finite, or :math:`\|r\| > \mathrm{blowup}\cdot\|r_0\|`.

    The blow-up test is relative to the initial residual, so it is skipped when :math:`\|r_0\| = 0` (the start is a
    global minimum; rounding alone moves the residual off 0 and is no divergence)."""
    norm = float(torch.linalg.norm(r))
    if not math.isfinite(norm):
        return "the residual is not finite (NaN or inf)"
    if r0_norm > 0 and norm > blowup * r0_norm:
        return f"the residual norm grew to {norm:.3e}, more than {blowup:g} times its initial {r0_norm:.3e}"
    return None


def _set_parameters(net: ImplicitNet, theta: dict[str, Tensor]) -> None:
    with torch.no_grad():
        for k in BLOCKS:
            getattr(net, k).copy_(theta[k])


def _check_hyper(name: str, value: float) -> float:
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _check_blowup(blowup: float) -> float:
    if isinstance(blowup, bool) or not (isinstance(blowup, (int, float)) and blowup > 0):  # refuses NaN too
        raise ValueError(f"blowup must be a positive number (a factor on the initial residual norm; inf disables the "
                         f"test), got {blowup!r}")
    return float(blowup)


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not (isinstance(value, int) and value >= 0):
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def _descend(net: ImplicitNet, grads: dict[str, Tensor], lr: float) -> None:
    r"""One step :math:`\theta \leftarrow \theta - \alpha g`, block by block, in place."""
    with torch.no_grad():
        for name in BLOCKS:
            getattr(net, name).sub_(lr * grads[name])


def _advance(net: ImplicitNet, X: Tensor, y: Tensor, lin: Linearization, r0: float, blowup: float, *,
             z0: Tensor | None = None, v0: Tensor | None = None) -> tuple[Linearization, Tensor, str | None]:
    """Linearise at the net's new parameters, warm-started from ``lin`` (or ``z0``, ``v0``), and the residual there;
    with the reason to stop (lost well-posedness, a solver failure, divergence) or ``None``."""
    try:
        lin = linearize(net, X, z0=lin.Z if z0 is None else z0, v0=lin.V if v0 is None else v0)
    except (NotWellPosedError, ConvergenceError) as err:
        return lin, torch.full_like(lin.Z[:, 0], math.nan), f"{type(err).__name__}: {err}"
    r = residual(lin, y)
    return lin, r, _diverged(r, r0, blowup)


def gradient_descent(net: ImplicitNet, X: Tensor, y: Tensor, lr: float, steps: int, *, gram_every: int = 1,
                     blowup: float = 1e6, progress: bool | None = None,
                     observe: Callable[[ImplicitNet], dict[str, float]] | None = None,
                     norms: bool = True) -> History:
    r"""Full-batch gradient descent :math:`\theta_{k+1} = \theta_k - \alpha\nabla L(\theta_k)` on
    :math:`L(\theta) = \frac12\|\hat y(\theta) - y\|^2` for ``steps`` steps, updating ``net`` in place.

    Args:
        X: inputs, shape ``(n, d)``. Theorem 3.2 assumes unit rows, :math:`\|x_i\| = 1`; other rows train all the
            same, with an :class:`~implicit.validation.OffSphereWarning` (once per process).
        y: targets, shape ``(n,)``.
        lr: the step size :math:`\alpha`.
        steps: number of steps; the history has ``steps + 1`` records (:math:`k = 0..\mathrm{steps}`) unless stopped.
        gram_every: a positive int: record λ_min(H), λ_max(H), λ_min(G) every this many records (others are NaN).
        blowup: stop when :math:`\|\hat y - y\|` exceeds this multiple (> 0; ``inf`` never) of its initial value.
            A zero initial residual (``y`` equal to the predictions) is a global minimum: the run goes on (the
            gradient is zero, so only rounding moves the parameters) and only a non-finite residual stops it.
        progress: show a progress bar (default: yes unless ``CI`` is set).
        observe: called with the net at every record; the dict it returns becomes extra columns (e.g. a test loss).
            Its keys must not be columns of :data:`FIELDS` (``ValueError``).
        norms: record :math:`\|A\|_2`, :math:`\|W\|_2` and the contraction factor (two spectral norms per record, the
            costliest part of a record); ``False`` leaves those columns NaN, for sweeps that need only the loss.

    ``time`` in the history is :math:`k\alpha`, the gradient-flow time the steps correspond to.

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_descent
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_descent(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.1, steps=20, progress=False)
        >>> len(h), h.stopped, h.final("time")
        (21, None, 2.0)
        >>> bool(h.final("loss") < h["loss"][0] / 50), bool((h["lambda_min_H"] > 0).all())
        (True, True)
    """
    lr = _check_hyper("lr", lr)
    steps = _check_count("steps", steps)
    gram_every, blowup = check_positive_int("gram_every", gram_every), _check_blowup(blowup)
    warn_if_off_sphere(X, "implicit.train.gradient_descent")
    history = History(meta=_meta(net, X, "gradient_descent", lr=lr, steps=steps, gram_every=gram_every))
    record = _Recorder(net, X, gram_every, history, observe, norms)
    return _train(net, X, y, history, record, steps, lr, batch_size=X.shape[0], blowup=blowup, progress=progress,
                  desc="gradient descent", unit="step")


def _check_batch_size(batch_size: int, n: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an int from 1 to n = {n} (the number of samples), got {batch_size!r}")
    return int(batch_size)


def _batches(n: int, batch_size: int, gen: torch.Generator) -> list[Tensor]:
    """One epoch's mini-batches: a uniform random permutation of ``0..n-1`` cut into consecutive pieces of
    ``batch_size`` (the last one shorter when ``batch_size`` does not divide ``n``), each sorted. With
    ``batch_size = n`` the single batch is ``0..n-1`` in order, so the step is the full-batch step."""
    if batch_size == n:
        return [torch.arange(n)]
    perm = torch.randperm(n, generator=gen)
    return [torch.sort(perm[i:i + batch_size]).values for i in range(0, n, batch_size)]


def sgd(net: ImplicitNet, X: Tensor, y: Tensor, lr: float, epochs: int, *, batch_size: int, decay: float = 0.0,
        seed: int = 0, gram_every: int = 1, blowup: float = 1e6, progress: bool | None = None,
        observe: Callable[[ImplicitNet], dict[str, float]] | None = None, norms: bool = True) -> History:
    r"""Mini-batch stochastic gradient descent on :math:`L(\theta) = \frac12\|\hat y(\theta) - y\|^2` for ``epochs``
    epochs, updating ``net`` in place. Each epoch draws a uniform random permutation of the samples (``seed``) and
    takes one step per batch :math:`B` of ``batch_size`` consecutive entries (each sample once per epoch; the last
    batch is shorter when ``batch_size`` does not divide :math:`n`):

    .. math:: \theta \leftarrow \theta - \alpha_e\nabla_\theta\tfrac12\|\hat y_B - y_B\|^2, \qquad
              \alpha_e = \alpha / (1 + \mathrm{decay}\cdot e) \text{ in epoch } e.

    The batch gradient is the full gradient's unbiased estimate scaled by :math:`b/n`, so one epoch moves as far as
    one full-batch step of size :math:`\alpha_e` in expectation, and ``time`` is :math:`\sum_{e'<e}\alpha_{e'}`.
    The history has one record per epoch (the full-batch loss, λ_min(H) every ``gram_every`` epochs, the norms, the
    contraction factor :math:`(\gamma/\sqrt m)\|A\|_2` and the distances from initialisation), exactly as
    :func:`gradient_descent` records per step; the stopping rules are the same, checked at the end of each epoch.
    With ``batch_size = n`` (and no decay) the run *is* :func:`gradient_descent` with ``steps = epochs``, to the bit.

    Args:
        batch_size: the batch size :math:`b`, an int with :math:`1\le b\le n` (``ValueError`` otherwise).
        decay: ``>= 0``; 0 keeps the step constant.
        seed: seed of the batch permutations (the net's initialisation has its own).
        lr, gram_every, blowup, progress, observe, norms: as in :func:`gradient_descent`.

    Examples:
        >>> import torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import sgd
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = sgd(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.2, epochs=20, batch_size=2, progress=False)
        >>> len(h), h.stopped, h.meta["batch_size"], bool(h.final("loss") < h["loss"][0] / 50)
        (21, None, 2, True)
        >>> sgd(ImplicitNet(5, 32, 0.1, seed=0), X, y, lr=0.2, epochs=2, batch_size=9)
        Traceback (most recent call last):
        ValueError: batch_size must be an int from 1 to n = 8 (the number of samples), got 9
    """
    lr = _check_hyper("lr", lr)
    epochs = _check_count("epochs", epochs)
    n = X.shape[0]
    batch_size = _check_batch_size(batch_size, n)
    if isinstance(decay, bool) or not (isinstance(decay, (int, float)) and math.isfinite(decay) and decay >= 0):
        raise ValueError(f"decay must be a non-negative finite number, got {decay!r}")
    gram_every, blowup = check_positive_int("gram_every", gram_every), _check_blowup(blowup)
    warn_if_off_sphere(X, "implicit.train.sgd")
    history = History(meta=_meta(net, X, "sgd", lr=lr, epochs=epochs, batch_size=batch_size, decay=float(decay),
                                 sampling_seed=seed, gram_every=gram_every))
    record = _Recorder(net, X, gram_every, history, observe, norms)
    return _train(net, X, y, history, record, epochs, lr, batch_size=batch_size, decay=decay,
                  gen=torch.Generator().manual_seed(seed), blowup=blowup, progress=progress, desc="SGD", unit="epoch")


def _epoch(net: ImplicitNet, X: Tensor, y: Tensor, lin: Linearization, step: float,
           batches: list[Tensor]) -> tuple[Tensor, Tensor, str | None]:
    """One step of size ``step`` per batch, each on the batch's own fixed points, warm-started from the previous
    visit of its samples (from ``lin`` at the first); the warm starts for the full batch after it, and the reason to
    stop (a solver failure) or ``None``."""
    Z, V = lin.Z.clone(), lin.V.clone()
    for batch in batches:
        try:
            lin_b = linearize(net, X[batch], z0=Z[batch], v0=V[batch])
        except (NotWellPosedError, ConvergenceError) as err:
            return Z, V, f"{type(err).__name__}: {err}"
        Z[batch], V[batch] = lin_b.Z, lin_b.V
        _descend(net, lin_b.gradients(residual(lin_b, y[batch])), step)
    return Z, V, None


def _train(net: ImplicitNet, X: Tensor, y: Tensor, history: History, record: _Recorder, rounds: int, lr: float, *,
           batch_size: int, blowup: float, progress: bool | None, desc: str, unit: str, decay: float = 0.0,
           gen: torch.Generator | None = None) -> History:
    r"""The loop :func:`gradient_descent` and :func:`sgd` share: ``rounds`` rounds of size
    :math:`\alpha_k = \alpha/(1 + \mathrm{decay}\cdot k)`, each one full-batch step when ``batch_size`` is
    :math:`n`, else one epoch of :func:`_batches`; a record before the first round and after each, and the stopping
    rules checked after each round (named ``unit`` in the reason)."""
    n = X.shape[0]
    lin = linearize(net, X)
    r = residual(lin, y)
    r0 = float(torch.linalg.norm(r))
    time = 0.0
    bar = tqdm(total=rounds, disable=quiet() if progress is None else not progress, desc=desc)
    for k in range(rounds + 1):
        record(k, k * lr if decay == 0 else time, lin, r)
        if k == rounds:
            break
        step = lr / (1 + decay * k)
        if batch_size == n:
            _descend(net, lin.gradients(r), step)
            lin, r, reason = _advance(net, X, y, lin, r0, blowup)
        else:
            Z, V, reason = _epoch(net, X, y, lin, step, _batches(n, batch_size, gen))
            if reason is None:
                lin, r, reason = _advance(net, X, y, lin, r0, blowup, z0=Z, v0=V)
        if reason:
            _stop(history, f"{unit} {k + 1}: {reason}", stacklevel=4)
            break
        time += step
        bar.update(1)
        bar.set_postfix(loss=f"{0.5 * float(r @ r):.3e}", refresh=False)
    bar.close()
    return history


# Bogacki–Shampine 3(2): stages at c = (0, 1/2, 3/4, 1); third-order weights B; error weights E (3rd - 2nd order).
_BS_B = (2 / 9, 1 / 3, 4 / 9)
_BS_E = (-5 / 72, 1 / 12, 1 / 9, -1 / 8)


def _stage(theta: dict[str, Tensor], h: float, *terms: tuple[float, dict[str, Tensor]]) -> dict[str, Tensor]:
    r"""A Runge-Kutta stage point :math:`\theta + h\sum_j c_j k_j`, block by block."""
    return {k: theta[k] + h * sum(c * stage[k] for c, stage in terms) for k in BLOCKS}


def gradient_flow(net: ImplicitNet, X: Tensor, y: Tensor, t_end: float, *, rtol: float = 1e-3,
                  atol: float = 1e-10, gram_every: int = 1, record_every: int = 1, max_steps: int = 100_000,
                  blowup: float = 1e6, progress: bool | None = None) -> History:
    r"""Integrate the gradient flow :math:`\dot\theta = -\nabla L(\theta)` from :math:`t = 0` to ``t_end``,
    updating ``net`` in place.

    Adaptive Bogacki–Shampine 3(2) with first-same-as-last. A step is accepted when its local error estimate
    :math:`e_\theta`, measured by its effect on the predictions, satisfies
    :math:`\|J e_\theta\| \le \mathrm{atol} + \mathrm{rtol}\,\|\hat y - y\|`. The initial step is
    :math:`0.5/\lambda_{\max}(H(0))`. ``meta["integrator"]`` reports accepted and rejected steps, gradient
    evaluations and the largest accepted error estimate.

    Args:
        X, y: inputs ``(n, d)`` and targets ``(n,)``. Theorem 3.1 assumes unit rows, :math:`\|x_i\| = 1`; other
            rows train all the same, with an :class:`~implicit.validation.OffSphereWarning` (once per process).
        t_end: final time.
        rtol, atol: local error tolerances (relative to the residual norm, and absolute). The gradient jumps where a
            ReLU switches, so the scheme is effectively first order there and the cost grows like ``1/rtol``; the
            default 1e-3 keeps the loss within about 1e-4 (relative to its start) of a 10x tighter run on the
            book's instances.
        gram_every: a positive int: compute the Gram eigenvalues every this many records.
        record_every: a positive int: record every this many accepted steps (the final state is always recorded).
        max_steps: a positive int: stop (``TrainingStopped``) after this many accepted steps before ``t_end``.
        blowup: stop when :math:`\|\hat y - y\|` exceeds this multiple (> 0; ``inf`` never) of its initial value;
            skipped when the initial residual is exactly 0, as in :func:`gradient_descent`.

    Examples:
        >>> import numpy as np, torch
        >>> from implicit.data import sphere
        >>> from implicit.model import ImplicitNet
        >>> from implicit.train import gradient_flow
        >>> X = sphere(8, 5, seed=0); y = torch.sign(X[:, 0])
        >>> h = gradient_flow(ImplicitNet(5, 32, 0.1, seed=0), X, y, t_end=1.0, progress=False)
        >>> h.final("time"), h.stopped, bool((np.diff(h["loss"]) < 0).all())  # the loss decreases along the flow
        (1.0, None, True)
        >>> h.meta["integrator"]["accepted"] + 1 == len(h)  # one record per accepted step, plus t = 0
        True
    """
    t_end = _check_hyper("t_end", t_end)
    rtol, atol = _check_hyper("rtol", rtol), _check_hyper("atol", atol)
    gram_every, record_every = check_positive_int("gram_every", gram_every), check_positive_int("record_every",
                                                                                                 record_every)
    max_steps, blowup = check_positive_int("max_steps", max_steps), _check_blowup(blowup)
    warn_if_off_sphere(X, "implicit.train.gradient_flow")
    history = History(meta=_meta(net, X, "gradient_flow", t_end=t_end, rtol=rtol, atol=atol, gram_every=gram_every))
    record = _Recorder(net, X, gram_every, history)
    stats = {"method": "Bogacki-Shampine 3(2), FSAL, error control on J e_theta", "accepted": 0, "rejected": 0,
             "evaluations": 0, "max_error_ratio": 0.0}
    history.meta["integrator"] = stats

    def evaluate(theta: dict[str, Tensor], warm: Linearization) -> tuple[Linearization, Tensor, dict[str, Tensor]]:
        _set_parameters(net, theta)
        lin = linearize(net, X, z0=warm.Z, v0=warm.V)
        r = residual(lin, y)
        stats["evaluations"] += 1
        return lin, r, {k: -g for k, g in lin.gradients(r).items()}

    theta = {k: getattr(net, k).detach().clone() for k in BLOCKS}
    lin = linearize(net, X)
    r = residual(lin, y)
    r0 = float(torch.linalg.norm(r))
    k1 = {k: -g for k, g in lin.gradients(r).items()}
    t, step, just_rejected = 0.0, 0, False
    record(0, 0.0, lin, r)  # the first record always has the Gram eigenvalues
    h = 0.5 / history.columns["lambda_max_H"][0]
    bar = tqdm(total=t_end, disable=quiet() if progress is None else not progress, desc="gradient flow",
               bar_format="{l_bar}{bar}| t={n:.3g}/{total:.3g} [{elapsed}<{remaining}]")
    try:
        while t < t_end:
            if step >= max_steps:
                _stop(history, f"t={t:.4g}: reached max_steps={max_steps} before t_end={t_end}")
                break
            h = min(h, t_end - t)
            lin2, _, k2 = evaluate(_stage(theta, h, (0.5, k1)), lin)
            lin3, _, k3 = evaluate(_stage(theta, h, (0.75, k2)), lin2)
            new = _stage(theta, h, (_BS_B[0], k1), (_BS_B[1], k2), (_BS_B[2], k3))
            lin4, r4, k4 = evaluate(new, lin3)
            err = {k: h * (_BS_E[0] * k1[k] + _BS_E[1] * k2[k] + _BS_E[2] * k3[k] + _BS_E[3] * k4[k])
                   for k in BLOCKS}
            ratio = float(torch.linalg.norm(lin.jvp(err))) / (atol + rtol * float(torch.linalg.norm(r)))
            if ratio <= 1.0:
                theta, lin, r, k1 = new, lin4, r4, k4
                t += h
                step += 1
                stats["accepted"] += 1
                stats["max_error_ratio"] = max(stats["max_error_ratio"], ratio)
                reason = _diverged(r, r0, blowup)
                if reason:
                    _stop(history, f"t={t:.4g}: {reason}")
                    break
                if step % record_every == 0 or t >= t_end:
                    record(step, t, lin, r)
                bar.update(h)
            else:
                stats["rejected"] += 1
            # Standard controller; no growth right after a rejection (it would only be rejected again).
            growth = 1.0 if just_rejected else 5.0
            just_rejected = ratio > 1.0
            h *= min(growth, max(0.2, 0.9 * (1.0 / max(ratio, 1e-12)) ** (1 / 3)))
    except (NotWellPosedError, ConvergenceError) as err:
        _stop(history, f"t={t:.4g}: {err}")
    finally:
        _set_parameters(net, theta)
        bar.close()
    return history

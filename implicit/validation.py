r"""Input checks that turn bad input into a specific error message instead of a silent wrong number.

Besides the errors, one warning: the theory (Assumption 2 of the paper) takes every input on the unit sphere,
:math:`\|x_i\| = 1`. Functions whose result is read against the theorems (the Gram matrices, :math:`\lambda_0`, the
training runs) call :func:`warn_if_off_sphere`, which issues an :class:`OffSphereWarning` once per process.
"""
from __future__ import annotations

import math
import numbers
import operator
import warnings

import torch
from torch import Tensor

__all__ = ["check_positive_int", "check_gamma", "check_finite", "check_design_matrix", "check_targets",
           "check_tol", "check_dtype", "SUPPORTED_DTYPES", "OffSphereWarning", "warn_if_off_sphere",
           "OFF_SPHERE_RTOL"]

#: The floating dtypes the network and its solvers support (half precisions cannot hold the solver tolerances).
SUPPORTED_DTYPES = (torch.float32, torch.float64)
#: Relative deviation :math:`|\|x_i\| - 1|` above which a row counts as off the unit sphere (float64 data; float32
#: data gets at least 16 of its ulps).
OFF_SPHERE_RTOL = 1e-6


class OffSphereWarning(UserWarning):
    r"""Inputs are not on the unit sphere, :math:`\|x_i\| \ne 1`, which the theory assumes (Assumption 2): the
    number computed is still what its formula says, but the theorems' statements about it do not apply as written."""


_off_sphere_warned = False  # warn once per process, not once per call


def warn_if_off_sphere(X: Tensor, where: str, *, rtol: float = OFF_SPHERE_RTOL) -> bool:
    r"""Warn (:class:`OffSphereWarning`, once per process) if some row of ``X`` has
    :math:`\bigl|\|x_i\| - 1\bigr| > \max(\mathrm{rtol}, 16\,\varepsilon_{\rm dtype})`; ``where`` names the caller.

    Returns whether ``X`` is off the sphere (``False`` without looking once the warning has been given). Costs
    :math:`O(nd)` and one host synchronisation.

    Examples:
        >>> from implicit import data
        >>> from implicit.validation import warn_if_off_sphere
        >>> X = data.sphere(n=4, d=3, seed=0)
        >>> warn_if_off_sphere(X, "example"), warn_if_off_sphere(X * (1 + 5e-7), "example")  # on it, within rtol
        (False, False)

        ``warn_if_off_sphere(2 * X, "example")`` would warn and return ``True``, the first time in a process.
    """
    global _off_sphere_warned
    if _off_sphere_warned or not isinstance(X, Tensor) or X.ndim != 2 or X.shape[0] == 0:
        return False
    tol = max(rtol, 16 * torch.finfo(X.dtype).eps) if X.dtype.is_floating_point else rtol
    deviation = (torch.linalg.vector_norm(X.detach().to(torch.float64), dim=1) - 1).abs()
    worst = float(deviation.max())
    if not worst > tol:  # NaN rows are left to the finiteness checks
        return False
    _off_sphere_warned = True
    row = int(deviation.argmax())
    warnings.warn(f"{where}: the inputs are not on the unit sphere (row {row} has norm "
                  f"{float(torch.linalg.vector_norm(X[row].detach().to(torch.float64))):.6g}; "
                  f"{int((deviation > tol).sum())} of {X.shape[0]} rows deviate from 1 by more than {tol:.1e}). The "
                  f"paper's theorems assume ||x_i|| = 1; normalise with implicit.data.unit_rows. "
                  f"(Warned once per process.)", OffSphereWarning, stacklevel=3)
    return True


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int if it is a positive integer, else raise ``ValueError``/``TypeError``.

    Examples:
        >>> import numpy as np
        >>> from implicit.validation import check_positive_int
        >>> check_positive_int("m", 32), check_positive_int("m", np.int64(8))
        (32, 8)
        >>> check_positive_int("m", 0)
        Traceback (most recent call last):
            ...
        ValueError: m must be a positive int, got 0
        >>> check_positive_int("m", 32.0)
        Traceback (most recent call last):
            ...
        TypeError: m must be a positive int, got float 32.0
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a positive int, got bool {value!r}")
    try:
        value = operator.index(value)  # accepts Python and NumPy integers, rejects floats
    except TypeError:
        raise TypeError(f"{name} must be a positive int, got {type(value).__name__} {value!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return value


def check_gamma(gamma: object) -> float:
    """Return ``gamma`` as a float if it lies in the open interval (0, 1) required by the paper, else raise.

    Examples:
        >>> from implicit.validation import check_gamma
        >>> check_gamma(0.1)
        0.1
        >>> check_gamma(1)
        Traceback (most recent call last):
            ...
        ValueError: gamma must lie in the open interval (0, 1) (the paper's condition), got 1.0
    """
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)):
        raise TypeError(f"gamma must be a float in (0, 1), got {type(gamma).__name__} {gamma!r}")
    g = float(gamma)
    if not (math.isfinite(g) and 0.0 < g < 1.0):
        raise ValueError(f"gamma must lie in the open interval (0, 1) (the paper's condition), got {g}")
    return g


def check_finite(name: str, t: Tensor) -> None:
    """Raise ``ValueError`` naming ``name`` and the count of bad entries if ``t`` holds NaN or inf.

    Examples:
        >>> import torch
        >>> from implicit.validation import check_finite
        >>> check_finite("A", torch.ones(2, 2))  # finite: returns None
        >>> check_finite("A", torch.tensor([1.0, float("nan"), float("inf"), -float("inf")]))
        Traceback (most recent call last):
            ...
        ValueError: A contains 3 non-finite entries (1 NaN, 2 inf)
    """
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        nan = int(torch.isnan(t).sum())
        raise ValueError(f"{name} contains {int(bad.sum())} non-finite entries ({nan} NaN, {int(bad.sum()) - nan} inf)")


def _check_like(name: str, t: Tensor, dtype: torch.dtype, device: torch.device) -> None:
    if t.dtype != dtype:
        raise TypeError(f"{name} has dtype {t.dtype} but the network is {dtype}; convert with {name}.to({dtype})")
    if t.device.type != device.type or (device.index is not None and t.device.index not in (None, device.index)):
        raise ValueError(f"{name} is on device {t.device} but the network is on {device}; move it with .to('{device}')")


def check_design_matrix(X: object, d: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Check that ``X`` is a finite ``(n, d)`` tensor with the network's dtype and device; return it.

    Examples:
        >>> import torch
        >>> from implicit.validation import check_design_matrix
        >>> X = torch.zeros(4, 3, dtype=torch.float64)
        >>> check_design_matrix(X, 3, torch.float64, torch.device("cpu")) is X
        True
        >>> check_design_matrix(X, 5, torch.float64, torch.device("cpu"))
        Traceback (most recent call last):
            ...
        ValueError: X has 3 features per row but the network expects d = 5 (shape (n, 5))
        >>> check_design_matrix(X.float(), 3, torch.float64, torch.device("cpu"))
        Traceback (most recent call last):
            ...
        TypeError: X has dtype torch.float32 but the network is torch.float64; convert with X.to(torch.float64)
    """
    if not isinstance(X, Tensor):
        raise TypeError(f"X must be a torch.Tensor of shape (n, {d}), got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n, d) = (n, {d}), got a {X.ndim}-D tensor of shape {tuple(X.shape)}")
    if X.shape[1] != d:
        raise ValueError(f"X has {X.shape[1]} features per row but the network expects d = {d} (shape (n, {d}))")
    if X.shape[0] == 0:
        raise ValueError("X has no rows (n = 0)")
    _check_like("X", X, dtype, device)
    check_finite("X", X)
    return X


def check_targets(y: object, n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Check that ``y`` is a finite ``(n,)`` tensor matching the network's dtype and device; return it.

    Examples:
        >>> import torch
        >>> from implicit.validation import check_targets
        >>> y = torch.ones(4, dtype=torch.float64)
        >>> check_targets(y, 4, torch.float64, torch.device("cpu")) is y
        True
        >>> check_targets(y[:, None], 4, torch.float64, torch.device("cpu"))
        Traceback (most recent call last):
            ...
        ValueError: y must have shape (4,) to match X, got (4, 1)
    """
    if not isinstance(y, Tensor):
        raise TypeError(f"y must be a torch.Tensor of shape ({n},), got {type(y).__name__}")
    if tuple(y.shape) != (n,):
        raise ValueError(f"y must have shape ({n},) to match X, got {tuple(y.shape)}")
    _check_like("y", y, dtype, device)
    check_finite("y", y)
    return y


def check_tol(name: str, tol: object) -> float:
    """Return ``tol`` as a float if it is a relative tolerance in the open interval (0, 1), else raise.

    A tolerance of 1 or more stops a relative-step rule after the first iteration (every step is at most 100% of
    the iterate once it is nonnegative), so it is refused rather than reported as convergence.

    Examples:
        >>> from implicit.validation import check_tol
        >>> check_tol("tol", 1e-10)
        1e-10
        >>> check_tol("tol", 1.0)
        Traceback (most recent call last):
            ...
        ValueError: tol must be a relative tolerance in the open interval (0, 1), got 1.0
    """
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
        raise TypeError(f"{name} must be a float in the open interval (0, 1), got {type(tol).__name__} {tol!r}")
    t = float(tol)
    if not 0.0 < t < 1.0:  # also refuses NaN
        raise ValueError(f"{name} must be a relative tolerance in the open interval (0, 1), got {t}")
    return t


def check_dtype(dtype: object, name: str = "dtype") -> torch.dtype:
    """Return ``dtype`` if it is one of :data:`SUPPORTED_DTYPES` (torch.float32, torch.float64), else ``TypeError``.

    Examples:
        >>> import torch
        >>> from implicit.validation import check_dtype
        >>> check_dtype(torch.float32)
        torch.float32
        >>> check_dtype(torch.bfloat16)
        Traceback (most recent call last):
            ...
        TypeError: dtype must be torch.float32 or torch.float64 (the supported dtypes), got torch.bfloat16: half ...
    """
    if not isinstance(dtype, torch.dtype) or dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"{name} must be torch.float32 or torch.float64 (the supported dtypes), got {dtype!r}"
                        + (": half precision cannot resolve the solvers' tolerances"
                           if dtype in (torch.float16, torch.bfloat16) else ""))
    return dtype

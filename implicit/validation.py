"""Input checks that turn bad input into a specific error message instead of a silent wrong number."""
from __future__ import annotations

import math
import operator

import torch
from torch import Tensor

__all__ = ["check_positive_int", "check_gamma", "check_finite", "check_design_matrix", "check_targets"]


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int if it is a positive integer, else raise ``ValueError``/``TypeError``."""
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
    """Return ``gamma`` as a float if it lies in the open interval (0, 1) required by the paper, else raise."""
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)):
        raise TypeError(f"gamma must be a float in (0, 1), got {type(gamma).__name__} {gamma!r}")
    g = float(gamma)
    if not (math.isfinite(g) and 0.0 < g < 1.0):
        raise ValueError(f"gamma must lie in the open interval (0, 1) (the paper's condition), got {g}")
    return g


def check_finite(name: str, t: Tensor) -> None:
    """Raise ``ValueError`` naming ``name`` and the count of bad entries if ``t`` holds NaN or inf."""
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
    """Check that ``X`` is a finite ``(n, d)`` tensor with the network's dtype and device; return it."""
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
    """Check that ``y`` is a finite ``(n,)`` tensor matching the network's dtype and device; return it."""
    if not isinstance(y, Tensor):
        raise TypeError(f"y must be a torch.Tensor of shape ({n},), got {type(y).__name__}")
    if tuple(y.shape) != (n,):
        raise ValueError(f"y must have shape ({n},) to match X, got {tuple(y.shape)}")
    _check_like("y", y, dtype, device)
    check_finite("y", y)
    return y

"""Measurement helpers used by the book and the benchmarks: power-law fits, timing, memory saved for backward."""
from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["fit_power_law", "fit_rate", "time_stats", "median_time", "SavedBytes", "saved_tensor_bytes", "peak_memory"]


def fit_power_law(x, y) -> tuple[float, float]:
    r"""Least-squares fit of :math:`\log y = s\log x + b`; returns ``(s, b)`` (slope and intercept).

    Examples:
        >>> import math
        >>> from implicit.measure import fit_power_law
        >>> slope, intercept = fit_power_law([1, 2, 4, 8], [3, 12, 48, 192])  # y = 3 x^2
        >>> round(slope, 6), round(math.exp(intercept), 6)
        (2.0, 3.0)
    """
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(intercept)


def fit_rate(values, steps=None, tail: float = 0.0) -> float:
    r"""The linear rate :math:`\rho` of a sequence that decays as :math:`v_k \approx C\rho^k`: least squares on
    :math:`\log v_k = k\log\rho + \log C`, over the last ``1 - tail`` fraction of the points (``tail=0.5``: the second
    half, the asymptotic regime). ``steps`` defaults to ``0, 1, 2, …``. Returns :math:`\rho` per unit of ``steps``.

    Examples:
        >>> from implicit.measure import fit_rate
        >>> round(fit_rate([8.0, 4.0, 2.0, 1.0]), 6)  # halves every step
        0.5
        >>> round(fit_rate([5.0, 1.0, 0.9 ** 2, 0.9 ** 3], steps=[0, 1, 2, 3], tail=0.5), 6)  # the last half only
        0.9
    """
    v = np.asarray(values, dtype=float)
    k = np.arange(v.size, dtype=float) if steps is None else np.asarray(steps, dtype=float)
    if v.shape != k.shape or v.ndim != 1:
        raise ValueError(f"values and steps must be 1-D of one length, got {v.shape} and {k.shape}")
    if not 0.0 <= tail < 1.0:
        raise ValueError(f"tail must be in [0, 1), got {tail}")
    start = int(tail * v.size)
    v, k = v[start:], k[start:]
    if v.size < 2 or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"need at least two positive, finite values to fit a rate, got {v.tolist()[:8]}")
    return float(np.exp(np.polyfit(k, np.log(v), 1)[0]))


def time_stats(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> dict:
    """Wall times of ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed ones, CUDA synchronised around each.

    Returns the median, the spread (min, max, quartiles) and every time in seconds, and under ``result`` the last
    call's return value (drop it before serialising).

    Examples:
        >>> from implicit.measure import time_stats
        >>> stats = time_stats(lambda: sum(range(1000)), repeats=3)
        >>> stats["result"], len(stats["times_s"]), stats["min_s"] <= stats["median_s"] <= stats["max_s"]
        (499500, 3, True)
    """
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - start)
    q1, med, q3 = np.percentile(times, [25, 50, 75])
    return {"median_s": float(med), "min_s": min(times), "max_s": max(times), "q1_s": float(q1), "q3_s": float(q3),
            "repeats": repeats, "warmup": warmup, "times_s": times, "result": out}


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs (CUDA synchronised).

    Examples:
        >>> import time
        >>> from implicit.measure import median_time
        >>> median_time(lambda: time.sleep(0.002), repeats=3, warmup=0) > 0.001  # seconds
        True
    """
    return time_stats(fn, repeats, warmup)["median_s"]


@dataclass
class SavedBytes:
    """Total bytes of distinct tensor storages autograd saved for the backward pass.

    Examples:
        >>> from implicit.measure import SavedBytes
        >>> SavedBytes().bytes  # what saved_tensor_bytes yields, filled in by the block
        0
    """

    bytes: int = 0


@contextmanager
def saved_tensor_bytes():
    """Count the memory autograd keeps for backward inside the block (distinct storages, each counted once).

    ``with saved_tensor_bytes() as s: loss = f(x)`` then ``s.bytes``. Parameters saved by reference count too.

    Examples:
        >>> import torch
        >>> from implicit.measure import saved_tensor_bytes
        >>> x = torch.ones(1000, dtype=torch.float64, requires_grad=True)
        >>> with saved_tensor_bytes() as saved:
        ...     loss = (x * x).sum()  # saves x twice: one storage, counted once
        >>> saved.bytes
        8000
    """
    out, seen = SavedBytes(), set()

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        key = (storage.data_ptr(), storage.nbytes())
        if key not in seen:
            seen.add(key)
            out.bytes += storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield out


def peak_memory(fn: Callable[[], object], device: torch.device | str = "cpu") -> tuple[int, str]:
    """Peak bytes of tensor memory allocated while ``fn()`` runs, above what was allocated before it.

    Returns ``(bytes, method)``. On CUDA the method is ``"cuda.max_memory_allocated"`` (peak statistic reset before
    the call). On the CPU, where torch keeps no allocator statistics, it is ``"profiler.memory_timeline"``: the
    profiler's record of every tensor allocation and free during the call (``profile_memory=True``), summed in time
    order; tensors alive before the call (parameters, inputs) are not counted. The profiler slows ``fn`` down, so
    time it separately.

    Examples:
        >>> import torch
        >>> from implicit.measure import peak_memory
        >>> peak_memory(lambda: torch.ones(100, 100, dtype=torch.float64).sum())  # 80000 B, then an 8 B scalar
        (80008, 'profiler.memory_timeline')
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        out = fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - base
        del out
        return int(peak), "cuda.max_memory_allocated"
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import Action

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
        out = fn()
    del out
    live = peak = 0
    created: set = set()
    for _, action, (key, _version), size in prof._memory_profile().timeline:
        if action == Action.CREATE:
            created.add(key)
            live += size
        elif action == Action.DESTROY and key in created:  # frees of older tensors do not lower the count
            live -= size
        peak = max(peak, live)
    return int(peak), "profiler.memory_timeline"

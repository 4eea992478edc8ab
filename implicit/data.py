r"""Data sets that satisfy Assumption 2: unit-norm rows, no two of them parallel.

* :func:`sphere`: seeded points uniform on the unit sphere :math:`\mathbb S^{d-1}` (synthetic; exact control of
  :math:`n` and :math:`d`).
* :func:`digits`: a real, offline image set: scikit-learn's bundled 8×8 handwritten digits, two classes.
* :func:`ensure_not_parallel`: the Assumption 2 repair the paper prescribes: perturb one sample of every (nearly)
  parallel pair with Gaussian noise and renormalise.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["unit_rows", "ensure_not_parallel", "sphere", "digits", "encode_labels"]


def unit_rows(X: Tensor) -> Tensor:
    r"""Rows scaled to unit :math:`\ell_2` norm; a zero row is an error (it has no direction)."""
    norms = torch.linalg.vector_norm(X, dim=1, keepdim=True)
    if bool((norms == 0).any()):
        rows = torch.nonzero(norms.squeeze(1) == 0).flatten().tolist()
        raise ValueError(f"rows {rows[:10]} are zero and cannot be normalised to unit norm")
    return X / norms


def _parallel_pairs(X: Tensor, tol: float) -> list[tuple[int, int]]:
    C = (X @ X.T).abs()
    C.fill_diagonal_(0.0)
    idx = torch.nonzero(torch.triu(C >= 1 - tol, diagonal=1))
    return [(int(i), int(j)) for i, j in idx]


def ensure_not_parallel(X: Tensor, *, tol: float = 1e-6, noise: float = 1e-3, seed: int = 0,
                        max_rounds: int = 100) -> Tensor:
    r"""Assumption 2: return unit rows with :math:`|\langle x_i, x_j\rangle| < 1 - \mathrm{tol}` for all :math:`i\ne j`.

    For every pair at or above the threshold, the second row gets Gaussian noise of standard deviation ``noise`` per
    coordinate and is renormalised, repeated until no pair remains. Rows that already satisfy the assumption are
    returned unchanged (up to normalisation).
    """
    X = unit_rows(X.clone())
    gen = torch.Generator().manual_seed(seed)
    for _ in range(max_rounds):
        pairs = _parallel_pairs(X, tol)
        if not pairs:
            return X
        for j in sorted({j for _, j in pairs}):
            X[j] += noise * torch.randn(X.shape[1], generator=gen, dtype=torch.float64).to(X)
        X = unit_rows(X)
    raise RuntimeError(f"could not separate parallel rows within {max_rounds} rounds; raise noise={noise}")


def sphere(n: int, d: int, *, seed: int = 0, dtype: torch.dtype = torch.float64, device: str = "cpu") -> Tensor:
    r"""``n`` seeded points uniform on the unit sphere in :math:`\mathbb R^d` (normalised Gaussians), pairwise
    non-parallel (Assumption 2), shape ``(n, d)``."""
    if n < 1 or d < 1:
        raise ValueError(f"need n >= 1 and d >= 1, got n={n}, d={d}")
    gen = torch.Generator().manual_seed(seed)
    X = ensure_not_parallel(torch.randn(n, d, generator=gen, dtype=torch.float64), seed=seed)
    return X.to(dtype=dtype, device=device)


def encode_labels(labels: Tensor, classes: tuple[int, int], encoding: str) -> Tensor:
    """Map class labels to regression targets: ``"pm1"`` gives -1/+1, ``"01"`` gives 0/1 (first class first)."""
    if encoding not in ("pm1", "01"):
        raise ValueError(f"encoding must be 'pm1' or '01', got {encoding!r}")
    positive = (labels == classes[1]).to(torch.float64)
    return 2 * positive - 1 if encoding == "pm1" else positive


def digits(n: int | None = None, *, classes: tuple[int, int] = (0, 1), encoding: str = "pm1", seed: int = 0,
           dtype: torch.dtype = torch.float64, device: str = "cpu") -> tuple[Tensor, Tensor]:
    r"""scikit-learn's bundled handwritten digits (8×8, :math:`d = 64`), two classes, flattened, unit-norm rows,
    parallel pairs perturbed (Assumption 2). Works offline.

    Args:
        n: number of samples, drawn without replacement with ``seed`` (default: all, 360 for classes 0 and 1).
        classes: the two digit classes.
        encoding: targets as ``"pm1"`` (-1/+1) or ``"01"``.

    Returns:
        ``(X, y)`` with shapes ``(n, 64)`` and ``(n,)``.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("implicit.data.digits needs scikit-learn: pip install scikit-learn") from err
    bunch = load_digits()
    images = torch.as_tensor(bunch.data, dtype=torch.float64)
    labels = torch.as_tensor(bunch.target)
    keep = (labels == classes[0]) | (labels == classes[1])
    images, labels = images[keep], labels[keep]
    if n is not None:
        if not 1 <= n <= len(labels):
            raise ValueError(f"n must be between 1 and {len(labels)} for classes {classes}, got {n}")
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:n]
        images, labels = images[order], labels[order]
    X = ensure_not_parallel(images, seed=seed)
    y = encode_labels(labels, classes, encoding)
    return X.to(dtype=dtype, device=device), y.to(dtype=dtype, device=device)

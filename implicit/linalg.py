r"""Spectral norms of the network's matrices, shared by the well-posedness certificate and the training records.

:func:`spectral_norm` returns :math:`\|A\|_2 = \sigma_{\max}(A) = \sqrt{\lambda_{\max}(A^\top A)}`: by an SVD for small
matrices, else by Lanczos on :math:`A^\top A` with full reorthogonalisation, warm-started from the previous top
singular vector when the matrix moved a little (one training step).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["spectral_norm", "EXACT_NORM_MAX_WIDTH", "EXACT_NORM_MAX_WIDTH_ACCELERATOR"]

#: Matrices no costlier to decompose than a square one of this side get an exact spectral norm (SVD); larger ones use
#: Lanczos, which is as accurate (1e-15 relative on random matrices) and faster from a side of about 400 on a CPU.
EXACT_NORM_MAX_WIDTH = 384
#: The same threshold on accelerators, where an SVD is a slow, host-synchronising library call.
EXACT_NORM_MAX_WIDTH_ACCELERATOR = 64


def spectral_norm(A: Tensor, *, exact: bool | None = None, tol: float = 1e-12, max_iter: int = 300,
                  start: Tensor | None = None) -> tuple[float, Tensor | None]:
    r"""The operator norm :math:`\|A\|_2 = \sigma_{\max}(A)`.

    Exact (``torch.linalg.matrix_norm(A, 2)``) when ``exact`` is true, which is the default when the SVD's cost
    :math:`\text{rows}\cdot\text{cols}\cdot\min(\text{rows},\text{cols})` is at most that of a square matrix of side
    ``EXACT_NORM_MAX_WIDTH`` (``EXACT_NORM_MAX_WIDTH_ACCELERATOR`` off the CPU). Otherwise Lanczos on
    :math:`B = A^\top A` with full reorthogonalisation, started from ``start`` (the previous top right-singular
    vector when re-evaluating a matrix that moved a little), stopped when the top Ritz pair's residual
    :math:`\|B y - \theta y\| = \beta_k |s_k|` is at most ``tol`` :math:`\theta`.
    Ritz values approach :math:`\lambda_{\max}(B)` from below and a residual :math:`\rho` puts an eigenvalue within
    :math:`\rho` of :math:`\theta`; on the clustered top of a random matrix's spectrum Lanczos needs about a hundred
    products where power iteration needs thousands.

    Returns:
        ``(norm, v)``: the norm as a float and the top right-singular vector estimate (``None`` when exact).

    Examples:
        >>> import torch
        >>> from implicit.linalg import spectral_norm
        >>> spectral_norm(torch.diag(torch.tensor([3.0, -5.0, 1.0], dtype=torch.float64)))
        (5.0, None)
        >>> A = torch.randn(200, 200, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> exact, _ = spectral_norm(A, exact=True)
        >>> lanczos, v = spectral_norm(A, exact=False)
        >>> abs(lanczos - exact) / exact < 1e-12, abs(torch.linalg.vector_norm(A @ v).item() / lanczos - 1) < 1e-6
        (True, True)
    """
    if A.ndim != 2:
        raise ValueError(f"spectral_norm expects a matrix, got shape {tuple(A.shape)}")
    if exact is None:
        side = EXACT_NORM_MAX_WIDTH if A.device.type == "cpu" else EXACT_NORM_MAX_WIDTH_ACCELERATOR
        exact = A.shape[0] * A.shape[1] * min(A.shape) <= side ** 3
    if exact:
        return float(torch.linalg.matrix_norm(A, ord=2)), None
    if start is not None and start.shape == (A.shape[1],):
        q = start.to(A)
    else:
        q = torch.randn(A.shape[1], dtype=A.dtype, device=A.device, generator=torch.Generator(A.device).manual_seed(0))
    return _lanczos_top(lambda x: A.T @ (A @ x), q, tol, min(max_iter, A.shape[1]))


def _lanczos_top(apply: Callable[[Tensor], Tensor], q: Tensor, tol: float, max_iter: int) -> tuple[float, Tensor]:
    """Largest eigenvalue of a PSD operator by Lanczos; returns its square root and the Ritz vector."""
    Q = q.new_zeros(max_iter, q.shape[0])  # the Krylov basis, one contiguous row per vector
    Q[0] = q / torch.linalg.vector_norm(q)
    alphas: list[float] = []
    betas: list[float] = []
    for k in range(max_iter):
        w = apply(Q[k])
        alphas.append(float(Q[k] @ w))
        basis = Q[:k + 1]
        for _ in range(2):  # full reorthogonalisation, twice is enough
            w = w - (basis @ w) @ basis
        beta = float(torch.linalg.vector_norm(w))
        T = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if betas:
            off = torch.tensor(betas, dtype=torch.float64)
            T += torch.diag(off, 1) + torch.diag(off, -1)
        evals, evecs = torch.linalg.eigh(T)
        theta, s = float(evals[-1]), evecs[:, -1]
        if beta * abs(float(s[-1])) <= tol * max(theta, 1e-300) or beta == 0.0 or k + 1 == max_iter:
            return max(theta, 0.0) ** 0.5, s.to(basis) @ basis
        betas.append(beta)
        Q[k + 1] = w / beta
    raise ValueError(f"max_iter must be at least 1, got {max_iter}")

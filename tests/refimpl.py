"""Independent float64 NumPy reference implementations of the paper's formulas (PAPER.md §1–4).

Nothing here calls into ``implicit``: these are the yardsticks the package is measured against.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def relu(x):
    return np.maximum(x, 0.0)


def to_numpy(net):
    """The four parameters of a net as float64 NumPy arrays (A, W, u, v)."""
    return tuple(getattr(net, k).detach().cpu().to(dtype=torch.float64).numpy().copy() for k in "AWuv")


def features(W, X):
    """Eq. (2): Phi = relu(X W^T) / sqrt(m)."""
    m = W.shape[0]
    return relu(X @ W.T) / math.sqrt(m)


def equilibrium(A, W, X, gamma, max_iter=5000):
    """Eq. (3) by plain Picard iteration from z^0 = 0, run until the iterate stops changing (to rounding)."""
    m = A.shape[0]
    gt = gamma / math.sqrt(m)
    Phi = features(W, X)
    Z = np.zeros_like(Phi)
    for _ in range(max_iter):
        Zn = relu(gt * Z @ A.T + Phi)
        done = np.max(np.abs(Zn - Z)) <= 1e-16 * max(1.0, np.max(np.abs(Zn)))
        Z = Zn
        if done:
            break
    return Z, Phi


def unrolled_states(A, W, X, gamma, depth):
    """Iterates z^0 = 0, z^1, ..., z^depth of Eq. (1) (list of (n, m) arrays) and Phi."""
    m = A.shape[0]
    gt = gamma / math.sqrt(m)
    Phi = features(W, X)
    Z = np.zeros_like(Phi)
    out = [Z]
    for _ in range(depth):
        Z = relu(gt * Z @ A.T + Phi)
        out.append(Z)
    return out, Phi


def predict(A, W, u, v, X, gamma):
    """Eq. (4): yhat = Z u + Phi v."""
    Z, Phi = equilibrium(A, W, X, gamma)
    return Z @ u + Phi @ v


def paper_gradients(A, W, u, v, X, y, gamma):
    """Eqs. (10)–(12) of the paper with a dense inverse per sample; loss = 1/2 ||yhat - y||^2."""
    m = A.shape[0]
    gt = gamma / math.sqrt(m)
    Z, Phi = equilibrium(A, W, X, gamma)
    r = Z @ u + Phi @ v - y
    eye = np.eye(m)
    gA = np.zeros_like(A)
    gW = np.zeros_like(W)
    for i in range(X.shape[0]):
        D = np.diag((gt * A @ Z[i] + Phi[i] > 0).astype(float))
        E = np.diag((W @ X[i] > 0).astype(float))
        a = D.T @ np.linalg.inv(eye - gt * D @ A).T @ u          # D_i^T [I - gt D_i A]^{-T} u
        gA += gt * r[i] * np.outer(a, Z[i])
        gW += r[i] / math.sqrt(m) * np.outer(E.T @ (a + v), X[i])
    gu = Z.T @ r
    gv = Phi.T @ r
    return {"A": gA, "W": gW, "u": gu, "v": gv}


def readout_adjoint_dense(A, W, u, X, gamma):
    """Rows v_i = D_i (I - gt A^T D_i)^{-1} u with a dense solve per sample."""
    m = A.shape[0]
    gt = gamma / math.sqrt(m)
    Z, Phi = equilibrium(A, W, X, gamma)
    V = np.zeros_like(Z)
    for i in range(X.shape[0]):
        D = np.diag((gt * A @ Z[i] + Phi[i] > 0).astype(float))
        V[i] = D @ np.linalg.solve(np.eye(m) - gt * A.T @ D, u)
    return V


def gram_paper(A, W, u, v, X, gamma):
    """Lemma 3.1 with the u-block erratum fixed: H_A = gamma^2 M∘ZZ^T, H_u = ZZ^T, H_W = Q∘XX^T, H_v = ΦΦ^T,
    M and Q from Eqs. (15)–(16) with dense per-sample inverses."""
    m = A.shape[0]
    n = X.shape[0]
    gt = gamma / math.sqrt(m)
    Z, Phi = equilibrium(A, W, X, gamma)
    eye = np.eye(m)
    Ds = [np.diag((gt * A @ Z[i] + Phi[i] > 0).astype(float)) for i in range(n)]
    Es = [np.diag((W @ X[i] > 0).astype(float)) for i in range(n)]
    Uinv = [np.linalg.inv(eye - gt * Ds[i] @ A) for i in range(n)]
    b = [Ds[i].T @ Uinv[i].T @ u + v for i in range(n)]
    M = np.array([[u @ Uinv[i] @ Ds[i] @ Ds[j].T @ Uinv[j].T @ u / m for j in range(n)] for i in range(n)])
    Q = np.array([[b[i] @ Es[i] @ Es[j].T @ b[j] / m for j in range(n)] for i in range(n)])
    return {"A": gamma ** 2 * M * (Z @ Z.T), "W": Q * (X @ X.T), "u": Z @ Z.T, "v": Phi @ Phi.T}


def arccos_kernel(X):
    """Degree-1 arc-cosine kernel (Cho & Saul 2009), entry by entry with the math module."""
    n = X.shape[0]
    K = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ni, nj = np.linalg.norm(X[i]), np.linalg.norm(X[j])
            if ni == 0 or nj == 0:
                continue
            rho = min(1.0, max(-1.0, float(X[i] @ X[j]) / (ni * nj)))
            if i == j:
                rho = 1.0
            K[i, j] = ni * nj / (2 * math.pi) * (math.sqrt(max(0.0, 1 - rho * rho)) + (math.pi - math.acos(rho)) * rho)
    return K


def rel(a, b):
    """Relative Frobenius error ||a - b|| / ||b||."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))

r"""Independent float64 NumPy reference implementations of the paper's formulas, the yardsticks of tests and chapters.

Each function is the formula written the plain way — dense per-sample inverses, Picard iteration to rounding, the
kernel entry by entry — and imports nothing from the package's own algorithms (``torch`` only converts a net's
parameters), so an agreement between this module and :mod:`implicit.model`, :mod:`implicit.autodiff`,
:mod:`implicit.gram` or :mod:`implicit.kernels` is evidence, not a tautology.

Examples:
    >>> from implicit import reference as ref
    >>> from implicit.model import ImplicitNet
    >>> from implicit.data import sphere
    >>> net = ImplicitNet(4, 16, 0.1, seed=0); X = sphere(5, 4, seed=0).numpy()
    >>> A, W, u, v = ref.to_numpy(net)
    >>> yhat = ref.predict(A, W, u, v, X, 0.1)
    >>> ref.rel(yhat, net(sphere(5, 4, seed=0)).detach().numpy()) < 1e-12
    True
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["relu", "to_numpy", "features", "equilibrium", "unrolled_states", "predict", "paper_gradients",
           "readout_adjoint_dense", "gram_paper", "arccos_kernel", "rel"]


def relu(x: np.ndarray) -> np.ndarray:
    """The ReLU :math:`\\sigma(x) = \\max(x, 0)`, entrywise.

    Examples:
        >>> import numpy as np
        >>> from implicit.reference import relu
        >>> relu(np.array([-1.0, 2.0]))
        array([0., 2.])
    """
    return np.maximum(x, 0.0)


def to_numpy(net):
    """The four parameters of a net as float64 NumPy arrays (A, W, u, v).

    Examples:
        >>> from implicit import reference as ref
        >>> from implicit.model import ImplicitNet
        >>> from implicit.data import sphere
        >>> net = ImplicitNet(4, 16, 0.1, seed=0); X = sphere(5, 4, seed=0).numpy(); y = X[:, 0]
        >>> A, W, u, v = ref.to_numpy(net)
        >>> A.shape, W.shape, u.shape, A.dtype
        ((16, 16), (16, 4), (16,), dtype('float64'))
    """
    return tuple(getattr(net, k).detach().cpu().to(dtype=torch.float64).numpy().copy() for k in "AWuv")


def features(W, X):
    """Eq. (2): :math:`\\Phi = \\sigma(XW^\\top)/\\sqrt m`.

    Examples:
        >>> from implicit import reference as ref
        >>> from implicit.model import ImplicitNet
        >>> from implicit.data import sphere
        >>> net = ImplicitNet(4, 16, 0.1, seed=0); X = sphere(5, 4, seed=0).numpy(); y = X[:, 0]
        >>> A, W, u, v = ref.to_numpy(net)
        >>> ref.features(W, X).shape
        (5, 16)
    """
    m = W.shape[0]
    return relu(X @ W.T) / math.sqrt(m)


def equilibrium(A, W, X, gamma, max_iter=5000):
    """Eq. (3), :math:`Z = \\sigma(\\tilde\\gamma ZA^\\top + \\Phi)`, by plain Picard iteration from :math:`Z^0 = 0`,
    run until the iterate stops changing (to rounding). Returns ``(Z, Phi)``.

    Examples:
        >>> from implicit import reference as ref
        >>> from implicit.model import ImplicitNet
        >>> from implicit.data import sphere
        >>> net = ImplicitNet(4, 16, 0.1, seed=0); X = sphere(5, 4, seed=0).numpy(); y = X[:, 0]
        >>> A, W, u, v = ref.to_numpy(net)
        >>> Z, Phi = ref.equilibrium(A, W, X, 0.1)
        >>> float(abs(Z - ref.relu(0.1 / 4 * Z @ A.T + Phi)).max()) < 1e-15
        True
    """
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
    """The iterates :math:`Z^0 = 0, Z^1, \\dots, Z^{depth}` of Eq. (1) (a list of ``(n, m)`` arrays) and :math:`\\Phi`.

    Examples:
        >>> from implicit import reference as ref
        >>> from implicit.model import ImplicitNet
        >>> from implicit.data import sphere
        >>> net = ImplicitNet(4, 16, 0.1, seed=0); X = sphere(5, 4, seed=0).numpy(); y = X[:, 0]
        >>> A, W, u, v = ref.to_numpy(net)
        >>> states, Phi = ref.unrolled_states(A, W, X, 0.1, depth=3)
        >>> len(states), bool((states[1] == Phi).all())  # one step from 0 gives the features
        (4, True)
    """
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
    """Eq. (4): :math:`\\hat y = Zu + \\Phi v` at the equilibrium.

    Examples:
        >>> from implicit import reference as ref
        >>> from implicit.model import ImplicitNet
        >>> from implicit.data import sphere
        >>> net = ImplicitNet(4, 16, 0.1, seed=0); X = sphere(5, 4, seed=0).numpy(); y = X[:, 0]
        >>> A, W, u, v = ref.to_numpy(net)
        >>> ref.predict(A, W, u, v, X, 0.1).shape
        (5,)
    """
    Z, Phi = equilibrium(A, W, X, gamma)
    return Z @ u + Phi @ v


def paper_gradients(A, W, u, v, X, y, gamma):
    """Eqs. (10)–(12) of the paper with a dense inverse per sample, for the loss :math:`\\tfrac12\\|\\hat y - y\\|^2`.
    Returns a dict of the four gradients.

    Examples:
        >>> from implicit import reference as ref
        >>> from implicit.model import ImplicitNet
        >>> from implicit.data import sphere
        >>> net = ImplicitNet(4, 16, 0.1, seed=0); X = sphere(5, 4, seed=0).numpy(); y = X[:, 0]
        >>> A, W, u, v = ref.to_numpy(net)
        >>> g = ref.paper_gradients(A, W, u, v, X, y, 0.1)
        >>> sorted(g), g["A"].shape
        (['A', 'W', 'u', 'v'], (16, 16))
    """
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
    """The readout adjoints :math:`v_i = D_i(I - \\tilde\\gamma A^\\top D_i)^{-1}u`, one dense solve per sample.

    Examples:
        >>> from implicit import reference as ref
        >>> from implicit.model import ImplicitNet
        >>> from implicit.data import sphere
        >>> net = ImplicitNet(4, 16, 0.1, seed=0); X = sphere(5, 4, seed=0).numpy(); y = X[:, 0]
        >>> A, W, u, v = ref.to_numpy(net)
        >>> ref.readout_adjoint_dense(A, W, u, X, 0.1).shape
        (5, 16)
    """
    m = A.shape[0]
    gt = gamma / math.sqrt(m)
    Z, Phi = equilibrium(A, W, X, gamma)
    V = np.zeros_like(Z)
    for i in range(X.shape[0]):
        D = np.diag((gt * A @ Z[i] + Phi[i] > 0).astype(float))
        V[i] = D @ np.linalg.solve(np.eye(m) - gt * A.T @ D, u)
    return V


def gram_paper(A, W, u, v, X, gamma):
    """Lemma 3.1 with the :math:`u`-block erratum fixed: :math:`H_A = \\gamma^2 M\\circ ZZ^\\top`,
    :math:`H_u = ZZ^\\top`, :math:`H_W = Q\\circ XX^\\top`, :math:`H_v = \\Phi\\Phi^\\top`, with :math:`M` and :math:`Q`
    from Eqs. (15)–(16) and dense per-sample inverses. Returns a dict of the four blocks.

    Examples:
        >>> from implicit import reference as ref
        >>> from implicit.model import ImplicitNet
        >>> from implicit.data import sphere
        >>> net = ImplicitNet(4, 16, 0.1, seed=0); X = sphere(5, 4, seed=0).numpy(); y = X[:, 0]
        >>> A, W, u, v = ref.to_numpy(net)
        >>> H = ref.gram_paper(A, W, u, v, X, 0.1)
        >>> sorted(H), H["v"].shape
        (['A', 'W', 'u', 'v'], (5, 5))
    """
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
    """The ReLU kernel :math:`G^\\infty_{ij} = \\mathbb E_w[\\sigma(w^\\top x_i)\\sigma(w^\\top x_j)]` (Eq. 17, the
    degree-1 arc-cosine kernel of Cho and Saul, 2009, halved), entry by entry with the ``math`` module:
    :math:`\\frac{\\|x\\|\\|x'\\|}{2\\pi}(\\sqrt{1-\\rho^2} + (\\pi - \\arccos\\rho)\\rho)`.

    Examples:
        >>> import numpy as np
        >>> from implicit.reference import arccos_kernel
        >>> arccos_kernel(np.eye(2))  # orthogonal unit vectors: 1/2 on the diagonal, 1/(2 pi) off it
        array([[0.5       , 0.15915494],
               [0.15915494, 0.5       ]])
    """
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
    """The relative Frobenius error :math:`\\|a - b\\|/\\|b\\|`.

    Examples:
        >>> from implicit.reference import rel
        >>> rel([1.0, 2.0], [1.0, 2.0 + 1e-9]) < 1e-9
        True
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))

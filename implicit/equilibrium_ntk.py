r"""The infinite-width limit of the whole Gram matrix :math:`H(0)`: the equilibrium NTK (derived in the book, not in
the paper).

The whole Gram matrix :math:`H(0)` of the training dynamics also has an infinite-width limit, the equilibrium NTK
(:func:`ntk_limit`, :func:`ntk_limit_blocks`). Per unit the pre-activation is :math:`h = \gamma a + f(g)` with
:math:`g = w^\top x` the injection's Gaussian pre-activation, :math:`f` the injection (ReLU in the paper) and
:math:`a \sim \mathcal N(0, K)` independent of :math:`g`, where :math:`K = \lim ZZ^\top` solves the mean-field
fixed point

.. math:: K_{ij} = \mathbb E\bigl[\sigma(\gamma a_i + f(g_i))\,\sigma(\gamma a_j + f(g_j))\bigr].

With :math:`\dot S_{ij} = \mathbb E[\sigma'(h_i)\sigma'(h_j)]`, the readout adjoints satisfy
:math:`\lim V V^\top/m = \dot S/(1-\gamma^2\dot S)` (elementwise), and the four blocks converge to

.. math::
    H_u^\infty = K,\quad H_A^\infty = \frac{\gamma^2\dot S\circ K}{1-\gamma^2\dot S},\quad
    H_W^\infty = XX^\top\circ\Bigl(\frac{T}{1-\gamma^2\dot S} + \mathbb E[f'(g_i)f'(g_j)]\Bigr),\quad
    H_v^\infty = \mathbb E[f(g_i)f(g_j)],

:math:`T_{ij} = \mathbb E[f'(g_i)f'(g_j)\sigma'(h_i)\sigma'(h_j)]`. For a linear (Gaussian) injection
:math:`f(g) = \beta g` everything is an arc-cosine map of the pre-activation covariance
:math:`\Sigma = \gamma^2 K + \beta^2 XX^\top` and has a closed form; for the ReLU injection :math:`h` is not Gaussian
and the expectations are computed by quadrature: Gauss–Legendre over the plane of :math:`(a_i, a_j)`, split into the
four wedges where the integrand is smooth (:class:`Quadrature`), and the expectation over :math:`g` at fixed
:math:`a` in closed form, because :math:`\sigma(c + \sigma(g)) = c_+ + \sigma(g + c_-)` is a shifted ReLU of a
Gaussian (:func:`implicit.gaussian.relu_moment`, :func:`implicit.gaussian.bivariate_normal_cdf`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .gaussian import (
    bivariate_normal_cdf,
    gauss_legendre,
    normal_cdf,
    normal_pdf,
    relu_mean,
    relu_moment,
    relu_square_moment,
)
from .gram import GramBlocks
from .kernels import _check_rows, _relu_kernel, arccos_kernel

__all__ = ["Quadrature", "InfiniteWidth", "equilibrium_kernel", "ntk_limit_blocks", "ntk_limit"]

#: The injections the limit supports: the paper's ReLU features, and a linear map (closed form).
INJECTIONS = ("relu", "linear")


@dataclass(frozen=True)
class Quadrature:
    r"""The rule for expectations over the mean-field Gaussian :math:`(a_i, a_j)\sim\mathcal N(0, K_{\{i,j\}})`.

    In whitened polar coordinates :math:`a_i = \sqrt{K_{ii}}\,r\cos t`, :math:`a_j = \sqrt{K_{jj}}\,r\cos(t-\theta)`
    (:math:`\cos\theta` the correlation of :math:`a_i, a_j`) the plane splits into the four wedges where
    :math:`a_i, a_j` keep their signs; on each the integrand is analytic, so Gauss–Legendre with ``angle`` nodes per
    wedge in :math:`t` and ``radius`` nodes on :math:`r\in[0,\mathrm{cutoff}]` (weight :math:`re^{-r^2/2}`) converges
    geometrically. The probability mass cut off is :math:`e^{-\mathrm{cutoff}^2/2}`. Diagonal entries use ``radius``
    nodes on each half-line. The default rule is accurate to about :math:`10^{-14}` (relative) at
    :math:`\gamma = 0.1` and :math:`10^{-12}` at :math:`\gamma = 0.45`; larger :math:`\gamma` needs more nodes.

    Examples:
        >>> import math
        >>> from implicit import data
        >>> from implicit.equilibrium_ntk import Quadrature, equilibrium_kernel
        >>> rule = Quadrature()
        >>> rule.nodes, f"{math.exp(-rule.cutoff ** 2 / 2):.1e}"  # 4 wedges x 8 angles x 24 radii; mass cut off
        (768, '2.6e-18')
        >>> X = data.sphere(n=3, d=3, seed=0)
        >>> coarse, fine = (equilibrium_kernel(X, 0.1, rule=r)[0] for r in (Quadrature(4, 12), rule))
        >>> (coarse - fine).abs().max().item() < 1e-6  # already close with a quarter of the nodes
        True
    """

    angle: int = 8
    radius: int = 24
    cutoff: float = 9.0

    def __post_init__(self) -> None:
        if self.angle < 1 or self.radius < 1 or not self.cutoff > 0:
            raise ValueError(f"a quadrature needs positive node counts and cutoff, got {self}")

    @property
    def nodes(self) -> int:
        """Nodes per off-diagonal pair."""
        return 4 * self.angle * self.radius


@dataclass(frozen=True)
class InfiniteWidth:
    r"""The infinite-width limits at initialisation: ``K`` :math:`=\lim ZZ^\top`, ``Sdot``
    :math:`=\dot S = \mathbb E[\sigma'(h_i)\sigma'(h_j)]`, ``T`` :math:`=\mathbb E[f'(g_i)f'(g_j)\sigma'(h_i)
    \sigma'(h_j)]`, the four Gram blocks ``blocks`` (``blocks.total`` is :math:`H^\infty`), and the number of Newton
    iterations and final relative step of the fixed point for K.

    Examples:
        >>> from implicit import data
        >>> from implicit.equilibrium_ntk import ntk_limit_blocks
        >>> lim = ntk_limit_blocks(data.sphere(n=4, d=3, seed=0), gamma=0.1)
        >>> lim.K.shape, lim.iterations, lim.residual <= 1e-13
        (torch.Size([4, 4]), 3, True)
        >>> round(lim.Sdot[0, 0].item(), 4)  # P(h > 0): the fraction of active units at the equilibrium
        0.7387
    """

    K: Tensor
    Sdot: Tensor
    T: Tensor
    blocks: GramBlocks
    iterations: int
    residual: float


def _check_limit_args(X: Tensor, gamma: float, injection: str, beta: float) -> Tensor:
    X = _check_rows(X).to(torch.float64)
    if not (isinstance(gamma, (int, float)) and 0 < gamma < 1):
        raise ValueError(f"gamma must lie in (0, 1): the mean-field map contracts with factor gamma^2, got {gamma!r}")
    if injection not in INJECTIONS:
        raise ValueError(f"injection must be one of {INJECTIONS}, got {injection!r}")
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a positive finite number, got {beta!r}")
    if bool((torch.linalg.vector_norm(X, dim=1) == 0).any()):
        raise ValueError("X has a zero row: its pre-activation is degenerate (every limit needs nonzero inputs)")
    return X


def _plane(sd_i: Tensor, sd_j: Tensor, cos: Tensor, rule: Quadrature) -> tuple[Tensor, Tensor, Tensor]:
    """Nodes ``(a_i, a_j)`` and probability weights for a centred Gaussian pair, shape ``(pairs, rule.nodes)``."""
    theta = torch.arccos(cos.clamp(-1, 1))
    half, zero = math.pi / 2, torch.zeros_like(theta)
    edges = torch.stack([zero - half, theta - half, zero + half, theta + half, zero + 3 * half], -1)
    t, wt = gauss_legendre(rule.angle, edges[:, :-1], edges[:, 1:], dtype=cos.dtype, device=cos.device)
    r, wr = gauss_legendre(rule.radius, 0.0, rule.cutoff, dtype=cos.dtype, device=cos.device)
    wr = wr * r * torch.exp(-0.5 * r * r) / (2 * math.pi)
    t, wt, P = t.reshape(len(cos), -1, 1), wt.reshape(len(cos), -1, 1), len(cos)
    a_i = (sd_i[:, None, None] * torch.cos(t) * r).reshape(P, -1)
    a_j = (sd_j[:, None, None] * torch.cos(t - theta[:, None, None]) * r).reshape(P, -1)
    return a_i, a_j, (wt * wr).reshape(P, -1)


def _line(sd: Tensor, rule: Quadrature) -> tuple[Tensor, Tensor]:
    """Nodes ``a`` and probability weights for centred Gaussians of standard deviations ``sd``, split at 0."""
    s, w = gauss_legendre(rule.radius, 0.0, rule.cutoff, dtype=sd.dtype, device=sd.device)
    s, w = torch.cat([-s, s]), torch.cat([w, w]) * normal_pdf(torch.cat([s, s]))
    return sd[:, None] * s, w.expand(len(sd), -1)


def _given_shift_pair(c_i: Tensor, c_j: Tensor, n_i: Tensor, n_j: Tensor, rho: Tensor, injection: str,
                      beta: float) -> tuple[Tensor, Tensor, Tensor]:
    r"""Closed-form expectations over the injection's :math:`(g_i, g_j)` (norms :math:`\|x_i\|, \|x_j\|`, correlation
    ``rho``) at fixed shifts :math:`c = \gamma a`: :math:`\mathbb E[\sigma(h_i)\sigma(h_j)]`,
    :math:`\mathbb E[\sigma'(h_i)\sigma'(h_j)]` and :math:`\mathbb E[f'(g_i)f'(g_j)\sigma'(h_i)\sigma'(h_j)]` for
    :math:`h = c + f(g)`.

    ReLU injection: :math:`\sigma(c + \sigma(g)) = c_+ + \sigma(g + c_-)`, so everything is a shifted ReLU moment
    (:func:`~implicit.gaussian.relu_moment`, :func:`~implicit.gaussian.relu_mean`) or a bivariate-normal probability.
    Linear injection :math:`f = \beta g`: :math:`h` is Gaussian given :math:`c`.
    """
    if injection == "linear":
        a_i, a_j = c_i / (beta * n_i), c_j / (beta * n_j)
        both = bivariate_normal_cdf(a_i, a_j, rho)
        value = beta ** 2 * n_i * n_j * relu_moment(a_i, a_j, rho, cdf=both)
        return value, both, beta ** 2 * both
    p_i, p_j = c_i.clamp_min(0), c_j.clamp_min(0)
    a_i, a_j = c_i.clamp_max(0) / n_i, c_j.clamp_max(0) / n_j
    both = bivariate_normal_cdf(a_i, a_j, rho)
    value = (p_i * p_j + p_i * n_j * relu_mean(a_j) + p_j * n_i * relu_mean(a_i)
             + n_i * n_j * relu_moment(a_i, a_j, rho, cdf=both))
    on_i, on_j = c_i > 0, c_j > 0
    active = torch.where(on_i & on_j, torch.ones_like(both),
                         torch.where(on_i, normal_cdf(a_j), torch.where(on_j, normal_cdf(a_i), both)))
    return value, active, both


def _given_shift_single(c: Tensor, n: Tensor, injection: str, beta: float) -> tuple[Tensor, Tensor, Tensor]:
    """The diagonal case of :func:`_given_shift_pair` (:math:`g_i = g_j`)."""
    if injection == "linear":
        a = c / (beta * n)
        return beta ** 2 * n * n * relu_square_moment(a), normal_cdf(a), beta ** 2 * normal_cdf(a)
    p, a = c.clamp_min(0), c.clamp_max(0) / n
    value = p * p + 2 * p * n * relu_mean(a) + n * n * relu_square_moment(a)
    return value, torch.where(c > 0, torch.ones_like(a), normal_cdf(a)), normal_cdf(a)


def _diagonal(X: Tensor, gamma: float, injection: str, beta: float, rule: Quadrature, tol: float,
              max_iter: int) -> tuple[Tensor, Tensor, Tensor, int]:
    r"""Newton on :math:`K_{ii} = \mathbb E_a[\mathbb E_g\sigma(\gamma a + f(g))^2]`, :math:`a\sim\mathcal N(0,K_{ii})`,
    with slope :math:`\gamma^2\dot S_{ii}` (Price's theorem). Returns ``K_ii, Sdot_ii, T_ii`` and the iterations."""
    n = torch.linalg.vector_norm(X, dim=1)[:, None]
    K = n[:, 0] ** 2 / 2 * (1.0 if injection == "relu" else beta ** 2)  # the gamma -> 0 value
    for it in range(1, max_iter + 1):
        a, w = _line(torch.sqrt(K), rule)
        value, active, both = _given_shift_single(gamma * a, n, injection, beta)
        Sdot, T = (w * active).sum(1), (w * both).sum(1)
        step = ((w * value).sum(1) - K) / (1 - gamma ** 2 * Sdot)
        K = K + step
        if float(step.abs().max()) <= tol * float(K.max()):
            return K, Sdot, T, it
    raise RuntimeError(f"the mean-field fixed point (diagonal) did not converge in {max_iter} Newton steps")


def _pair_sums(X: Tensor, idx: Tensor, K: Tensor, gamma: float, injection: str, beta: float, rule: Quadrature,
               chunk: int) -> tuple[Tensor, Tensor, Tensor]:
    r"""For the pairs ``idx`` (shape ``(2, P)``): :math:`\mathbb E[\sigma(h_i)\sigma(h_j)]`, :math:`\dot S_{ij}` and
    :math:`T_{ij}` at the current ``K``: quadrature over :math:`a`, closed forms over :math:`g`."""
    norms = torch.linalg.vector_norm(X, dim=1)
    sd = torch.sqrt(torch.diagonal(K))
    out: tuple[list[Tensor], ...] = ([], [], [])
    for lo in range(0, idx.shape[1], chunk):
        i, j = idx[0, lo:lo + chunk], idx[1, lo:lo + chunk]
        rho_g = ((X[i] * X[j]).sum(1) / (norms[i] * norms[j])).clamp(-1, 1)[:, None]
        a_i, a_j, w = _plane(sd[i], sd[j], K[i, j] / (sd[i] * sd[j]), rule)
        values = _given_shift_pair(gamma * a_i, gamma * a_j, norms[i, None], norms[j, None], rho_g, injection, beta)
        for acc, v in zip(out, values, strict=True):
            acc.append((w * v).sum(1))
    return tuple(torch.cat(o) for o in out)


def equilibrium_kernel(X: Tensor, gamma: float, *, injection: str = "relu", beta: float = 1.0,
                       rule: Quadrature | None = None, tol: float = 1e-13, max_iter: int = 50,
                       chunk_elements: int = 1 << 21) -> tuple[Tensor, Tensor, Tensor, int, float]:
    r"""The mean-field fixed point :math:`K = \lim_{m\to\infty} ZZ^\top` by quadrature (see the module docstring),
    with :math:`\dot S` and :math:`T` at the fixed point.

    Each entry's map :math:`K_{ij}\mapsto\mathbb E[\sigma(h_i)\sigma(h_j)]` has slope :math:`\gamma^2\dot S_{ij}<1`
    (Price's theorem), so Newton's method :math:`K \leftarrow K + (\mathcal T(K) - K)/(1-\gamma^2\dot S)` converges
    in a few steps from the :math:`\gamma\to0` value; the diagonal is solved first, then every off-diagonal pair
    (their maps involve only :math:`K_{ii}, K_{jj}, K_{ij}`). Stops when the largest Newton step is at most ``tol``
    times the largest diagonal entry.

    Returns ``(K, Sdot, T, iterations, residual)``.

    Examples:
        >>> import torch
        >>> from implicit import data
        >>> from implicit.equilibrium_ntk import equilibrium_kernel, ntk_limit_blocks
        >>> X = data.sphere(n=4, d=3, seed=0)
        >>> K, Sdot, T, iterations, residual = equilibrium_kernel(X, 0.1, injection="linear")  # by quadrature
        >>> closed = ntk_limit_blocks(X, 0.1, injection="linear", method="closed")  # arc-cosine maps of Sigma
        >>> pairs = ((K, closed.K), (Sdot, closed.Sdot), (T, closed.T))
        >>> all(torch.allclose(a, b, rtol=0, atol=1e-12) for a, b in pairs)
        True
    """
    X = _check_limit_args(X, gamma, injection, beta)
    rule = Quadrature() if rule is None else rule
    n = X.shape[0]
    Kd, Sd, Td, iterations = _diagonal(X, gamma, injection, beta, rule, tol, max_iter)
    idx = torch.triu_indices(n, n, offset=1, device=X.device)
    chunk = max(1, chunk_elements // (20 * rule.nodes))
    K = _relu_kernel(X) * (1.0 if injection == "relu" else beta ** 2)  # the gamma -> 0 value off the diagonal
    K.diagonal().copy_(Kd)
    S, Tm, residual = torch.diag(Sd), torch.diag(Td), 0.0
    for it in range(1, max_iter + 1 if idx.shape[1] else 1):
        value, Sdot, T = _pair_sums(X, idx, K, gamma, injection, beta, rule, chunk)
        step = (value - K[idx[0], idx[1]]) / (1 - gamma ** 2 * Sdot)
        K[idx[0], idx[1]] += step
        K[idx[1], idx[0]] = K[idx[0], idx[1]]
        # Sdot and T belong to the iterate before this step, which moved K by at most tol (relative) when we stop.
        S[idx[0], idx[1]], S[idx[1], idx[0]] = Sdot, Sdot
        Tm[idx[0], idx[1]], Tm[idx[1], idx[0]] = T, T
        residual = float(step.abs().max()) / float(Kd.max())
        iterations = max(iterations, it)
        if residual <= tol:
            break
    else:
        if idx.shape[1]:
            raise RuntimeError(f"the mean-field fixed point did not converge: Newton step {residual:.2e} (relative) "
                               f"after {max_iter} iterations, tolerance {tol:.1e}")
    return K, S, Tm, iterations, residual


def _closed_linear(X: Tensor, gamma: float, beta: float, tol: float,
                   max_iter: int) -> tuple[Tensor, Tensor, int, float]:
    r"""Linear injection in closed form: iterate :math:`\Sigma \leftarrow \gamma^2\kappa_1(\Sigma) + \beta^2XX^\top`
    (a contraction with factor :math:`\gamma^2`) and return :math:`K = \kappa_1(\Sigma)`, :math:`\dot S =
    \kappa_0(\Sigma)`."""
    Kb = beta ** 2 * (X @ X.T)
    Sigma, residual = Kb.clone(), math.inf
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is returned after the loop)
        new = gamma ** 2 * arccos_kernel(Sigma, 1) + Kb
        residual = float((new - Sigma).abs().max()) / float(torch.diagonal(new).max())
        Sigma = new
        if residual <= tol:
            break
    else:
        raise RuntimeError(f"the closed-form fixed point did not converge: residual {residual:.2e}")
    return arccos_kernel(Sigma, 1), arccos_kernel(Sigma, 0), it, residual


def ntk_limit_blocks(X: Tensor, gamma: float, *, injection: str = "relu", beta: float = 1.0,
                     method: str = "auto", rule: Quadrature | None = None, tol: float = 1e-13,
                     max_iter: int = 50) -> InfiniteWidth:
    r"""The infinite-width limits of :math:`ZZ^\top` and of the four blocks of :math:`H(0)` for the paper's network
    (readouts :math:`u, v`, injection :math:`f`), see the module docstring.

    Args:
        X: inputs ``(n, d)``, nonzero rows (any norms).
        gamma: the network's :math:`\gamma\in(0, 1)`.
        injection: ``"relu"`` (the paper's :math:`\phi = \sigma(Wx)/\sqrt m`) or ``"linear"``
            (:math:`\phi = \beta Wx/\sqrt m`, a Gaussian injection).
        beta: the linear injection's scale.
        method: ``"quadrature"``, ``"closed"`` (linear injection only) or ``"auto"`` (closed form when there is one).
        rule: the :class:`Quadrature`; more nodes, smaller error (the error falls geometrically in the node counts).
        tol: relative tolerance of the fixed point for :math:`K`.

    Cost of the quadrature: :math:`O(n^2\cdot\text{rule.nodes})` per Newton step, about 4 steps.

    Examples:
        >>> import torch
        >>> from implicit import data
        >>> from implicit.kernels import relu_kernel
        >>> from implicit.equilibrium_ntk import ntk_limit_blocks
        >>> X = data.sphere(n=4, d=3, seed=0)
        >>> lim = ntk_limit_blocks(X, gamma=0.1)
        >>> bool(torch.allclose(lim.blocks.v, relu_kernel(X))), bool((lim.K.diagonal() > 0.5).all())  # K_ii > G_ii
        (True, True)
        >>> closed = ntk_limit_blocks(X, 0.1, injection="linear", method="closed")
        >>> quadrature = ntk_limit_blocks(X, 0.1, injection="linear", method="quadrature")
        >>> all(torch.allclose(a, b, rtol=0, atol=1e-12) for (_, a), (_, b) in zip(closed.blocks.items(),
        ...                                                                        quadrature.blocks.items()))
        True
    """
    X = _check_limit_args(X, gamma, injection, beta)
    if method == "auto":
        method = "closed" if injection == "linear" else "quadrature"
    if method not in ("closed", "quadrature") or (method == "closed" and injection != "linear"):
        raise ValueError(f"method must be 'quadrature', or 'closed' for the linear injection, got {method!r} "
                         f"with injection {injection!r}")
    if method == "closed":
        # Plain iteration contracts only by gamma^2 per step (Newton is not needed for a closed form).
        K, Sdot, iterations, residual = _closed_linear(X, gamma, beta, tol, 20 * max_iter)
        T, feature_deriv = beta ** 2 * Sdot, torch.full_like(K, beta ** 2)
    else:
        K, Sdot, T, iterations, residual = equilibrium_kernel(X, gamma, injection=injection, beta=beta, rule=rule,
                                                              tol=tol, max_iter=max_iter)
        feature_deriv = arccos_kernel(X @ X.T, 0) if injection == "relu" else torch.full_like(K, beta ** 2)
    P = 1 / (1 - gamma ** 2 * Sdot)
    G = _relu_kernel(X) if injection == "relu" else beta ** 2 * (X @ X.T)
    blocks = GramBlocks(A=gamma ** 2 * Sdot * K * P, W=(X @ X.T) * (T * P + feature_deriv), u=K, v=G)
    return InfiniteWidth(K=K, Sdot=Sdot, T=T, blocks=blocks, iterations=iterations, residual=residual)


def ntk_limit(X: Tensor, gamma: float, **kwargs) -> Tensor:
    r""":math:`H^\infty = \lim_{m\to\infty} H(0)`, the equilibrium NTK of the paper's network, shape ``(n, n)``:
    ``ntk_limit_blocks(X, gamma, **kwargs).blocks.total``.

    Examples:
        >>> from implicit import data
        >>> from implicit.gram import lambda_min
        >>> from implicit.kernels import lambda0
        >>> from implicit.equilibrium_ntk import ntk_limit
        >>> X = data.sphere(n=4, d=3, seed=0)
        >>> H = ntk_limit(X, gamma=0.1)
        >>> H.shape, lambda_min(H) >= lambda0(X) > 0  # H contains the block G^infinity (and three more PSD ones)
        (torch.Size([4, 4]), True)
    """
    return ntk_limit_blocks(X, gamma, **kwargs).blocks.total

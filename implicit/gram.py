r"""The Gram matrix :math:`H` of the training dynamics (Lemma 3.1), in closed form and from autograd.

Under gradient flow the predictions move as :math:`\dot{\hat y} = -H(\hat y - y)` with :math:`H = JJ^\top`, :math:`J`
the Jacobian of the predictions in the parameters. :math:`H` splits into one PSD block per parameter. With
:math:`z_i` the equilibria, :math:`\phi_i` the injections, :math:`E_i = \mathrm{diag}(\mathbb 1[Wx_i>0])` and
:math:`v_i = D_i (I - \tilde\gamma A^\top D_i)^{-1} u` (the adjoint of the readout :math:`u`, i.e.
:math:`\partial\hat y_i/\partial \phi_i = v_i + v`):

.. math::
    H_A = \tilde\gamma^2\,(VV^\top)\circ(ZZ^\top) = \gamma^2 M\circ ZZ^\top, \qquad
    H_u = ZZ^\top, \qquad
    H_W = \tfrac1m\,\bigl(E\circ(V + \mathbb 1 v^\top)\bigr)\bigl(E\circ(V+\mathbb 1 v^\top)\bigr)^\top\circ XX^\top,
    \qquad H_v = \Phi\Phi^\top = G .

(The paper prints the :math:`u`-block as :math:`I_n\circ ZZ^\top`; the correct block is :math:`ZZ^\top`.) The closed
form costs one forward and one adjoint batched fixed point (:math:`O(Knm^2)`) plus :math:`O(n^2 m)` products, and
never materialises the :math:`n\times P` Jacobian, :math:`P = m^2 + md + 2m`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from .linearization import Linearization, linearize, residual
from .model import ImplicitNet
from .validation import warn_if_off_sphere

__all__ = ["GramBlocks", "gram_blocks", "blocks_from", "empirical_ntk", "lambda_min", "reference_depth",
           "one_step_change"]

BLOCKS = ("A", "W", "u", "v")


@dataclass(frozen=True)
class GramBlocks:
    """The four blocks of :math:`H` (each ``(n, n)``) and their sum ``total``.

    Examples:
        >>> from implicit import ImplicitNet, data
        >>> from implicit.gram import gram_blocks, lambda_min
        >>> H = gram_blocks(ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=8, d=5, seed=0))
        >>> [name for name, _ in H.items()], tuple(H.total.shape)
        (['A', 'W', 'u', 'v'], (8, 8))
        >>> all(lambda_min(block) > -1e-12 for _, block in H.items())  # every block is PSD
        True
    """

    A: Tensor
    W: Tensor
    u: Tensor
    v: Tensor
    total: Tensor = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", self.A + self.W + self.u + self.v)

    def items(self) -> list[tuple[str, Tensor]]:
        """``[("A", H_A), ("W", H_W), ("u", H_u), ("v", H_v)]``."""
        return [(name, getattr(self, name)) for name in BLOCKS]


def gram_blocks(net: ImplicitNet, X: Tensor, lin: Linearization | None = None) -> GramBlocks:
    r"""The exact finite-width blocks :math:`H_A, H_W, H_u, H_v` of :math:`H = JJ^\top` in closed form.

    .. math::
        H_A = \tilde\gamma^2 (VV^\top)\circ(ZZ^\top),\quad H_W = \tfrac1m (BB^\top)\circ(XX^\top),\quad
        H_u = ZZ^\top,\quad H_v = \Phi\Phi^\top,

    with :math:`B = E\circ(V + \mathbb 1 v^\top)` (module docstring). The theorems read these blocks for inputs on the
    unit sphere, :math:`\|x_i\| = 1` (Assumption 2; e.g. :math:`\lambda_{\min}(G) \ge \lambda_0/2`); other inputs
    give the exact Gram matrix of those inputs and an :class:`~implicit.validation.OffSphereWarning` (once per process).

    Args:
        net: the network (float32 or float64; use float64 for eigenvalues).
        X: inputs, shape ``(n, d)``, unit rows for the theory.
        lin: the :class:`~implicit.linearization.Linearization` at ``X`` if already computed (saves both solves).

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> from implicit.gram import empirical_ntk, gram_blocks, lambda_min
        >>> net, X = ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=8, d=5, seed=0)
        >>> H = gram_blocks(net, X)
        >>> bool(torch.allclose(H.total, empirical_ntk(net, X).total))  # the closed form is J J^T
        True
        >>> lambda_min(H.total) >= lambda_min(H.v) > 0  # H >= H_v = G: a sum of PSD blocks
        True
    """
    warn_if_off_sphere(X, "implicit.gram.gram_blocks")
    return blocks_from(linearize(net, X) if lin is None else lin)


def blocks_from(lin: Linearization) -> GramBlocks:
    """The Gram blocks from the factors of a :class:`~implicit.linearization.Linearization` (no input checks).

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> from implicit.gram import blocks_from
        >>> from implicit.linearization import linearize
        >>> lin = linearize(ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=8, d=5, seed=0))
        >>> H = blocks_from(lin)
        >>> r = torch.linspace(-1, 1, 8, dtype=torch.float64)
        >>> bool(torch.allclose(H.total @ r, lin.jvp(lin.gradients(r))))  # H r = J (J^T r)
        True
    """
    with torch.no_grad():
        Z, Phi, V = lin.Z, lin.Phi, lin.V
        B = lin.injection_adjoint()
        ZZ = Z @ Z.T
        return GramBlocks(
            A=lin.gamma_tilde ** 2 * (V @ V.T) * ZZ,
            W=(B @ B.T) / lin.m * (lin.X @ lin.X.T),
            u=ZZ,
            v=Phi @ Phi.T,
        )


def reference_depth(q: float, eps: float = 1e-18) -> int:
    r"""Depth :math:`L` at which the unrolled network's Jacobian equals the implicit one to ``eps``.

    The truncation error of :math:`z^L` and of its derivatives decays like :math:`L q^L`; we take
    :math:`L = \lceil \log(\mathrm{eps})/\log q\rceil + 5`.

    Examples:
        >>> from implicit.gram import reference_depth
        >>> reference_depth(0.5), reference_depth(0.2)  # 60 + 5 and 26 + 5
        (65, 31)
        >>> 0.5 ** (reference_depth(0.5) - 5) <= 1e-18
        True
    """
    if not 0 <= q < 1:
        raise ValueError(f"the unrolled reference needs a contraction factor below 1, got {q:.4f}")
    return 5 + (1 if q == 0 else math.ceil(math.log(eps) / math.log(q)))


def empirical_ntk(net: ImplicitNet, X: Tensor, depth: int | None = None) -> GramBlocks:
    r"""The same blocks from autograd: per-sample Jacobians ``torch.func.vmap(jacrev(...))`` of the network unrolled
    to ``depth`` (default :func:`reference_depth`), contracted as :math:`J_p J_p^\top` block by block.

    Independent of the implicit backward and of the closed form; memory :math:`O(nP)`. A slow reference for
    small :math:`n, m`.

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> from implicit.gram import empirical_ntk, gram_blocks
        >>> net, X = ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=8, d=5, seed=0)
        >>> E, H = empirical_ntk(net, X), gram_blocks(net, X)
        >>> all(torch.allclose(E_block, H_block) for (_, E_block), (_, H_block) in zip(E.items(), H.items()))
        True
        >>> Z = net.equilibrium(X).z
        >>> bool(torch.allclose(E.u, Z @ Z.T))  # H_u = Z Z^T (the paper prints I o Z Z^T)
        True
    """
    from torch.func import jacrev, vmap

    depth = reference_depth(net.contraction_factor()) if depth is None else depth
    params = {k: p.detach() for k, p in net.named_parameters()}
    gt, sqrt_m = net.gamma_tilde, math.sqrt(net.m)

    def prediction(p: dict[str, Tensor], x: Tensor) -> Tensor:
        phi = torch.relu(p["W"] @ x) / sqrt_m
        z = torch.zeros_like(phi)
        for _ in range(depth):
            z = torch.relu(gt * (p["A"] @ z) + phi)
        return p["u"] @ z + p["v"] @ phi

    J = vmap(jacrev(prediction), in_dims=(None, 0))(params, X)
    flat = {k: J[k].reshape(X.shape[0], -1) for k in BLOCKS}
    return GramBlocks(**{k: flat[k] @ flat[k].T for k in BLOCKS})


def lambda_min(H: Tensor) -> float:
    r"""Smallest eigenvalue of a symmetric matrix, computed in float64 (``eigvalsh``).

    Examples:
        >>> import torch
        >>> from implicit.gram import lambda_min
        >>> round(lambda_min(torch.tensor([[2.0, 1.0], [1.0, 2.0]])), 12)  # eigenvalues 1 and 3
        1.0
    """
    return float(torch.linalg.eigvalsh(H.to(torch.float64))[0])


def one_step_change(net: ImplicitNet, X: Tensor, y: Tensor, eta: float) -> tuple[Tensor, int]:
    r"""One gradient-descent step :math:`\theta \leftarrow \theta - \eta\nabla_\theta L` on
    :math:`L = \tfrac12\|\hat y - y\|^2` (the gradients of :meth:`Linearization.gradients
    <implicit.linearization.Linearization.gradients>`, the training loop's), from the net's current parameters, which
    are restored afterwards. Returns the change of the predictions :math:`\Delta\hat y` (Lemma 3.1 in discrete time:
    :math:`\Delta\hat y = -\eta H(\hat y - y) + O(\eta^2)`) and the number of entries of the activation patterns
    :math:`D_i` and :math:`E_i` the step flipped. One linearisation before the step, one forward solve after it.

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> from implicit.gram import gram_blocks, one_step_change
        >>> net, X = ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=8, d=5, seed=0)
        >>> y = torch.linspace(-1, 1, 8, dtype=torch.float64)
        >>> r = net(X).detach() - y
        >>> dy, flips = one_step_change(net, X, y, 1e-5)
        >>> H = gram_blocks(net, X)
        >>> float((dy + 1e-5 * H.total @ r).norm() / (1e-5 * H.total @ r).norm()) < 1e-3, flips
        (True, 0)
    """
    lin = linearize(net, X)
    grads = lin.gradients(residual(lin, y))
    theta = {k: p.detach().clone() for k, p in net.named_parameters()}
    with torch.no_grad():
        for k, p in net.named_parameters():
            p -= eta * grads[k]
        try:
            after = net.equilibrium(X)
            dy = after.z @ net.u + after.phi @ net.v - lin.predictions()
            flips = int((after.mask != (lin.Z > 0)).sum() + ((after.phi > 0) != (lin.Phi > 0)).sum())
        finally:
            for k, p in net.named_parameters():
                p.copy_(theta[k])
    return dy, flips

r"""Everything first-order about the network at one point, from one forward and one adjoint solve.

At parameters :math:`\theta = (A, W, u, v)` and inputs :math:`X`, solve the equilibria :math:`Z` (rows :math:`z_i`)
and the readout adjoints :math:`V` (rows :math:`v_i = D_i(I-\tilde\gamma A^\top D_i)^{-1}u`, the batched fixed point
:math:`V = D\circ(\mathbb 1u^\top + \tilde\gamma VA)`). With :math:`E = \mathbb 1[\Phi>0]` and
:math:`B = E\circ(V + \mathbb 1 v^\top)` (rows :math:`\partial\hat y_i/\partial(Wx_i)\cdot\sqrt m`), the Jacobian of the
predictions has rows

.. math::
    \frac{\partial\hat y_i}{\partial A} = \tilde\gamma\, v_i z_i^\top,\quad
    \frac{\partial\hat y_i}{\partial W} = \tfrac{1}{\sqrt m}\, b_i x_i^\top,\quad
    \frac{\partial\hat y_i}{\partial u} = z_i,\quad
    \frac{\partial\hat y_i}{\partial v} = \phi_i .

By linearity in the cotangent, the gradient of :math:`L = \frac12\|\hat y - y\|^2` with residual
:math:`r = \hat y - y` is one product per block (Eqs. 10–12 of the paper),

.. math::
    \nabla_A L = \tilde\gamma\,(V\circ r)^\top Z,\quad \nabla_W L = \tfrac{1}{\sqrt m}(B\circ r)^\top X,\quad
    \nabla_u L = Z^\top r,\quad \nabla_v L = \Phi^\top r,

and the Gram blocks :math:`H = JJ^\top` are :math:`n\times n` products of the same factors
(:func:`implicit.gram.gram_blocks`). No Jacobian is ever materialised.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .autodiff import solve_adjoint
from .model import ImplicitNet
from .solvers import SolverStats
from .validation import check_targets

__all__ = ["Linearization", "linearize"]


@dataclass
class Linearization:
    r"""The factors of the Jacobian at one point: inputs ``X``, equilibria ``Z``, injections ``Phi``, readout
    adjoints ``V``, the readouts ``u, v`` and :math:`\tilde\gamma` they were computed with, and the two solves'
    statistics. Self-contained: later changes to the net do not affect it.

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> from implicit.linearization import linearize
        >>> net, X = ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=8, d=5, seed=0)
        >>> lin = linearize(net, X)
        >>> lin.Z.shape, lin.V.shape, lin.m, lin.adjoint_stats.converged
        (torch.Size([8, 32]), torch.Size([8, 32]), 32, True)
        >>> bool(torch.allclose(lin.predictions(), net(X)))
        True
    """

    X: Tensor
    Z: Tensor
    Phi: Tensor
    V: Tensor
    u: Tensor
    v: Tensor
    gamma_tilde: float
    forward_stats: SolverStats
    adjoint_stats: SolverStats

    @property
    def m(self) -> int:
        return self.Z.shape[1]

    def predictions(self) -> Tensor:
        r""":math:`\hat y = Zu + \Phi v`."""
        return self.Z @ self.u + self.Phi @ self.v

    def injection_adjoint(self) -> Tensor:
        r""":math:`B = E\circ(V + \mathbb 1v^\top)`, rows :math:`\sqrt m\,\partial\hat y_i/\partial(Wx_i)`."""
        return (self.Phi > 0).to(self.Z.dtype) * (self.V + self.v)

    def jvp(self, tangent: dict[str, Tensor]) -> Tensor:
        r"""The first-order change of the predictions along a parameter direction, :math:`J\,\delta\theta`:

        :math:`(J\delta\theta)_i = \tilde\gamma\, v_i^\top \delta A\, z_i + \tfrac{1}{\sqrt m} b_i^\top\delta W x_i
        + z_i^\top\delta u + \phi_i^\top \delta v`. ``tangent`` maps block names to directions.

        Examples:
            >>> import torch
            >>> from implicit import ImplicitNet, data
            >>> from implicit.linearization import linearize
            >>> net, X = ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=8, d=5, seed=0)
            >>> lin = linearize(net, X)
            >>> delta = {name: 1e-4 * torch.ones_like(p) for name, p in net.named_parameters()}
            >>> with torch.no_grad():
            ...     for name, p in net.named_parameters():
            ...         _ = p.add_(delta[name])
            >>> change = net(X).detach() - lin.predictions()  # equal to J delta up to O(|delta|^2)
            >>> bool(torch.allclose(change, lin.jvp(delta), rtol=1e-3))
            True
        """
        out = self.Z @ tangent["u"] + self.Phi @ tangent["v"]
        out += self.gamma_tilde * ((self.V @ tangent["A"]) * self.Z).sum(dim=1)
        out += (self.injection_adjoint() * (self.X @ tangent["W"].T)).sum(dim=1) / math.sqrt(self.m)
        return out

    def gradients(self, residual: Tensor) -> dict[str, Tensor]:
        r"""The gradients of :math:`\frac12\|\hat y-y\|^2` for residual :math:`r=\hat y-y` (Eqs. 10–12)."""
        r = residual[:, None]
        return {
            "A": self.gamma_tilde * (self.V * r).T @ self.Z,
            "W": (self.injection_adjoint() * r).T @ self.X / math.sqrt(self.m),
            "u": self.Z.T @ residual,
            "v": self.Phi.T @ residual,
        }


def linearize(net: ImplicitNet, X: Tensor, *, z0: Tensor | None = None, v0: Tensor | None = None) -> Linearization:
    """Solve the forward and readout-adjoint fixed points at the net's current parameters.

    ``z0`` and ``v0`` warm-start the two solves (e.g. from the previous training step).

    Examples:
        >>> import torch
        >>> from implicit import ImplicitNet, data
        >>> from implicit.linearization import linearize
        >>> net, X = ImplicitNet(d=5, m=32, gamma=0.1, seed=0), data.sphere(n=8, d=5, seed=0)
        >>> y = torch.linspace(-1, 1, 8, dtype=torch.float64)
        >>> lin = linearize(net, X)
        >>> grads = lin.gradients(lin.predictions() - y)  # Eqs. 10-12, no autograd
        >>> auto = torch.autograd.grad(0.5 * ((net(X) - y) ** 2).sum(), [net.A, net.W, net.u, net.v])
        >>> all(torch.allclose(grads[name], g) for name, g in zip("AWuv", auto))
        True
    """
    eq = net.equilibrium(X, z0=z0)  # checks X and well-posedness, solves the forward fixed point
    with torch.no_grad():
        U = net.u.detach().expand_as(eq.z)
        V, astats = solve_adjoint(net.A.detach(), eq.mask, U, net.gamma_tilde, q0=v0, tol=net.tol,
                                  max_iter=net.max_iter)
    return Linearization(X=X, Z=eq.z, Phi=eq.phi, V=V, u=net.u.detach().clone(), v=net.v.detach().clone(),
                         gamma_tilde=net.gamma_tilde, forward_stats=eq.stats, adjoint_stats=astats)


def residual(lin: Linearization, y: Tensor) -> Tensor:
    r""":math:`r = \hat y - y` after checking ``y`` against the inputs' size, dtype and device."""
    y = check_targets(y, lin.X.shape[0], lin.X.dtype, lin.X.device)
    return lin.predictions() - y

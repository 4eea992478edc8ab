r"""Well-posedness of the equilibrium (Lemma 2.2).

The forward map :math:`T(z) = \sigma(\tilde\gamma A z + \phi)` is Lipschitz with constant
:math:`q = \tilde\gamma\|A\|_2 = (\gamma/\sqrt m)\|A\|_2` because ReLU is 1-Lipschitz. If :math:`q < 1` it is a
contraction, so by Banach's theorem the equilibrium :math:`z^* = T(z^*)` exists, is unique, and Picard iteration from
:math:`z^0 = 0` satisfies

.. math::
    \|z^\ell\| \le \frac{\|\phi\|}{1-q}, \qquad \|z^p - z^*\| \le \frac{q^p\,\|\phi\|}{1-q}.

This module computes :math:`q` (:func:`contraction_factor`), the resulting certificate (:func:`certificate`) and the
error raised when :math:`q \ge 1` (:class:`NotWellPosedError`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .model import ImplicitNet

__all__ = ["NotWellPosedError", "contraction_factor", "Certificate", "certificate"]


class NotWellPosedError(ValueError):
    """The contraction factor ``gamma/sqrt(m) * ||A||_2`` is not below 1, so Lemma 2.2 does not certify the equilibrium."""


def contraction_factor(net: "ImplicitNet", *, exact: bool | None = None) -> float:
    r"""The contraction factor :math:`q = (\gamma/\sqrt m)\,\|A\|_2` of the forward map (Lemma 2.2).

    ``exact`` as in :func:`implicit.linalg.spectral_norm`. The net caches the value per version of ``A``, so repeated calls are free
    until ``A`` changes.
    """
    return net.contraction_factor(exact=exact)


@dataclass(frozen=True)
class Certificate:
    r"""Lemma 2.2 applied to one net.

    Attributes:
        q: the contraction factor :math:`\tilde\gamma\|A\|_2`, which plays the role of :math:`\gamma_0`.
        well_posed: ``q < 1``.
        norm_bound_factor: :math:`1/(1-q)`, so that :math:`\|z^\ell\|,\|z^*\| \le \|\phi\|/(1-q)`.
    """

    q: float
    well_posed: bool
    norm_bound_factor: float

    def iterations_for(self, tol: float) -> int:
        r"""Iterations :math:`p` from :math:`z^0=0` after which :math:`\|z^p - z^*\| \le` ``tol`` :math:`\cdot\|\phi\|`.

        From :math:`\|z^p - z^*\| \le q^p\|\phi\|/(1-q)`: :math:`p = \lceil \log(\mathrm{tol}\,(1-q)) / \log q \rceil`.
        """
        if not self.well_posed:
            raise NotWellPosedError(f"no iteration bound: contraction factor {self.q:.4f} >= 1")
        if self.q == 0.0:
            return 1
        return max(1, math.ceil(math.log(tol * (1 - self.q)) / math.log(self.q)))

    def step_bound(self, p: int) -> float:
        r"""The a-priori bound :math:`\|z^{p+1} - z^{p}\| \le q^{p}\,\|\phi\|` divided by :math:`\|\phi\|`."""
        return self.q ** p


def certificate(net: "ImplicitNet", *, exact: bool | None = None) -> Certificate:
    """The Lemma 2.2 certificate of ``net``: contraction factor, norm bound and predicted iteration counts."""
    q = contraction_factor(net, exact=exact)
    return Certificate(q=q, well_posed=q < 1, norm_bound_factor=(1 / (1 - q)) if q < 1 else math.inf)

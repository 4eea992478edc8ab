"""Figures of the mini-batch, gamma and two-layer chapter: each function draws one captioned figure of the book from computed data."""
from __future__ import annotations

__all__: list[str] = []

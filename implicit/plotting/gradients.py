"""Figures of the implicit-differentiation and Gram-matrix chapters: each function draws one captioned figure of the book from computed data."""
from __future__ import annotations

__all__: list[str] = []

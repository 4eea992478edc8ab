"""Figures of the model, well-posedness and equilibrium-solver chapters: each function draws one captioned figure of the book from computed data."""
from __future__ import annotations

__all__: list[str] = []

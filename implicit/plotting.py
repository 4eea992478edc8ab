"""The book's figure style: opaque white backgrounds (readable in dark mode), modest size and resolution."""
from __future__ import annotations

import matplotlib

__all__ = ["use_style", "WIDTH_COLORS"]

#: One colour per width in sweeps, in increasing order of width.
WIDTH_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


def use_style() -> None:
    """Apply the style: white figure and axes backgrounds, light grid, 100 dpi on screen and in saved files."""
    matplotlib.rcParams.update({
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "savefig.facecolor": "white",
        "savefig.transparent": False,
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "figure.figsize": (6.4, 3.6),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "font.size": 10,
    })

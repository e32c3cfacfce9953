"""A small pair-grid overview of every pair of features (three or more features), to pick the axes to show."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .. import explore

_BACKGROUND = "#262930"
_FOREGROUND = "#f0f1f2"


def pair_grid(
    features: np.ndarray, counts: np.ndarray, names: list[str], means: np.ndarray, colours: np.ndarray
) -> Figure:
    """A figure with the weighted density of every feature pair (lower triangle) and each feature's histogram.

    Parameters
    ----------
    features : ndarray (U, F)
        Feature rows of the distinct values.
    counts : ndarray (U,)
        Pixels per row.
    names : list of str
        Feature names (axis labels).
    means : ndarray (K, F)
        Cluster centres, drawn as markers.
    colours : ndarray (K, 3) or (K, 4)
        The clusters' colours (0..1).

    Returns
    -------
    matplotlib.figure.Figure
        ``figure.pair_axes[(i, j)]`` is the plot of feature i (x) against j (y).
    """
    n = features.shape[1]
    figure = Figure(figsize=(1.9 * n, 1.9 * n), facecolor=_BACKGROUND, layout="constrained")
    grid = figure.subplots(n, n, squeeze=False)
    figure.pair_axes = {}
    for row in range(n):
        for col in range(n):
            ax = grid[row, col]
            ax.set_facecolor("#1a1b1f")
            ax.tick_params(colors=_FOREGROUND, labelsize=6)
            if col > row:
                ax.set_visible(False)
                continue
            if col == row:
                hist, edges = explore.histogram(features, counts, col, bins=128)
                ax.stairs(hist, edges, fill=True, color="#8a8f99")
                ax.set_yscale("log")
            else:
                hist, xe, ye = explore.density(features, counts, (col, row), bins=96)
                norm = LogNorm(vmin=1, vmax=max(hist.max(), 2))
                ax.imshow(np.ma.masked_equal(hist.T, 0), origin="lower", aspect="auto", cmap="viridis",
                          extent=(xe[0], xe[-1], ye[0], ye[-1]), norm=norm)  # fmt: skip
                ax.scatter(means[:, col], means[:, row], s=18, c=colours[:, :3], edgecolors="white", linewidths=0.6)
                figure.pair_axes[(col, row)] = ax
            if row == n - 1:
                ax.set_xlabel(names[col], color=_FOREGROUND, fontsize=7)
            if col == 0:
                ax.set_ylabel(names[row], color=_FOREGROUND, fontsize=7)
    return figure

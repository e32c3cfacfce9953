"""Pinned colours: palette entries that stay exactly as given while the others move.

``fixed_colors`` are colours in the input's own units (a white background, a
stain or brand colour). They are converted to the clustering features once,
kept as centres that Lloyd's update never moves (``kmeans.lloyd(fixed=...)``),
and the remaining ``K - m`` centres are fitted around them. Pixels are still
assigned to the nearest centre, pinned or not, so a pinned colour also takes
the pixels nearest to it.

Seeding: k-means++ (``kmeans.kmeans_plusplus``: scikit-learn's draws, weighted) draws K
centres; the ``m`` drawn centres nearest to the pinned colours (greedily, the
closest pair first) are replaced by them, so the free centres start where
k-means++ put them away from the pinned ones.

Pinning is offered for k-means in the spaces whose palette colour *is* the
centre (gray, rgb, ycrcb, lab, oklab, channels); chroma-only spaces give each
pixel its own luminance, so no palette colour can be pinned there.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from .kmeans import KMeansFit, initial_centers, weighted_kmeans


def check_fixed_colors(fixed_colors: ArrayLike, n_channels: int, n_clusters: int) -> np.ndarray:
    """Validate ``fixed_colors``: an ``(m, n_channels)`` array of finite colours, ``m < n_clusters``.

    Parameters
    ----------
    fixed_colors : array_like (m, n_channels) or (n_channels,)
        Colours in the input's own units (one colour may be given as a flat row).
    n_channels : int
        Channels of the image.
    n_clusters : int
        K; at least one cluster must stay free.

    Returns
    -------
    ndarray (m, n_channels) of float64

    Raises
    ------
    ValueError
        Naming ``fixed_colors`` and the expected shape; for non-finite or repeated colours.
    """
    colors = np.asarray(fixed_colors, dtype=np.float64)
    if colors.ndim == 1 and n_channels == 1:
        colors = colors[:, None]
    if colors.ndim == 1 and colors.size == n_channels:
        colors = colors[None]
    if colors.ndim != 2 or colors.shape[1] != n_channels or colors.shape[0] == 0:
        raise ValueError(
            f"fixed_colors must be a list of colours with {n_channels} value(s) each (the input's channels), "
            f"got shape {colors.shape}"
        )
    if not np.isfinite(colors).all():
        raise ValueError("fixed_colors must be finite numbers")
    if np.unique(colors, axis=0).shape[0] != colors.shape[0]:
        raise ValueError("fixed_colors contains the same colour twice")
    if colors.shape[0] >= n_clusters:
        raise ValueError(
            f"fixed_colors pins {colors.shape[0]} colour(s); n_clusters must be larger ({n_clusters} given)"
        )
    return colors


def seed_with_pinned(
    samples: np.ndarray, sample_weight: np.ndarray, pinned: np.ndarray, n_clusters: int, rng: np.random.Generator
) -> np.ndarray:
    """Initial centres: k-means++ with the drawn centres nearest the pinned ones replaced by them.

    Parameters
    ----------
    samples : ndarray (N, F)
        Weighted feature rows (distinct values).
    sample_weight : ndarray (N,)
        Pixels per row.
    pinned : ndarray (m, F)
        Pinned centres in the feature space.
    n_clusters : int
        K, including the pinned centres.
    rng : numpy.random.Generator
        Source of the k-means++ draws.

    Returns
    -------
    ndarray (n_clusters, F)
        Centres whose first ``m`` rows are the pinned centres.

    References
    ----------
    Arthur, D. and Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding.
    Proc. 18th ACM-SIAM Symposium on Discrete Algorithms, 1027-1035.
    """
    drawn = initial_centers(samples, sample_weight, n_clusters, "kmeans++", rng)
    distance = ((drawn[:, None, :] - pinned[None, :, :]) ** 2).sum(axis=2)
    free = np.ones(n_clusters, bool)
    for _ in range(pinned.shape[0]):
        masked = np.where(free[:, None], distance, np.inf)
        row, column = np.unravel_index(np.argmin(masked), masked.shape)
        free[row] = False
        distance[:, column] = np.inf
    return np.concatenate([pinned, drawn[free]])


def pinned_kmeans(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    n_clusters: int,
    pinned: np.ndarray,
    *,
    max_iter: int,
    epsilon: float,
    attempts: int,
    seed: int,
    on_iteration: Callable[[int], None] | None = None,
) -> KMeansFit:
    """Weighted k-means whose first ``m`` centres are ``pinned`` (feature space) and never move.

    Parameters
    ----------
    samples : ndarray (N, F)
        Weighted feature rows.
    sample_weight : ndarray (N,)
        Pixels per row.
    n_clusters : int
        K, including the pinned centres.
    pinned : ndarray (m, F)
        Pinned centres in the feature space.
    max_iter : int
        Largest number of Lloyd iterations per attempt.
    epsilon : float
        Stop when no centre moves more than this (feature units).
    attempts : int
        Independent seedings; the lowest inertia wins.
    seed : int
        Seed of the random draws.
    on_iteration : callable, optional
        As for :func:`~napari_colorquant.kmeans.weighted_kmeans`.

    Returns
    -------
    KMeansFit
        Centres ``0..m-1`` equal ``pinned`` exactly; the lowest inertia over the attempts.

    References
    ----------
    Lloyd, S. P. (1982). Least squares quantization in PCM. IEEE Transactions on Information
    Theory, 28(2), 129-137.
    """
    pinned = np.asarray(pinned, np.float64)
    fixed = np.zeros(n_clusters, bool)
    fixed[: pinned.shape[0]] = True

    def start(samples, sample_weight, n_clusters, rng):
        return seed_with_pinned(samples, sample_weight, pinned, n_clusters, rng)

    return weighted_kmeans(
        samples, sample_weight, n_clusters, init=start, max_iter=max_iter, epsilon=epsilon, attempts=attempts,
        seed=seed, on_iteration=on_iteration, fixed=fixed,
    )  # fmt: skip

"""The exact global optimum of weighted one-dimensional k-means.

In one dimension the clusters of an optimal k-means partition are runs of
consecutive values in sorted order, so the optimum is found by dynamic
programming over the sorted distinct values (Wang & Song 2011, the
Ckmeans.1d.dp algorithm): with ``D[k, j]`` the least within-cluster sum of
squares of the first ``j`` values in ``k`` clusters,

``D[k, j] = min_{i < j} D[k-1, i] + cost(i, j)``,

where ``cost(i, j)`` is the weighted sum of squared deviations of values
``i..j-1`` from their weighted mean, read in O(1) from prefix sums of the
weights, ``w x`` and ``w x^2``. The best split ``i`` is non-decreasing in
``j`` (the cost satisfies the concave Monge / quadrangle inequality), so each
row is computed by divide and conquer (Grønlund et al. 2017): the middle
``j`` is solved over its whole admissible range, which bounds the ranges of
the two halves. Every level of that recursion is evaluated at once with
NumPy (all pending middles and their candidate splits in one flat array), so
a row costs O(n log n) vectorised work and the whole fit O(K n log n).

Minimal within-class sum of squares is maximal between-class variance, so
on a histogram this is exactly multi-level Otsu thresholding (and is checked
against ``skimage.filters.threshold_multiotsu``, which searches all threshold
combinations and is limited to a few classes on 256 bins).

Hand-written because no well-kept Python library solves weighted 1-D k-means
exactly: ``kmeans1d`` takes no weights, Ckmeans.1d.dp is an R package, and
scikit-image's multi-Otsu enumerates all threshold combinations (exponential
in K). Weights are essential here: the fast engine fits the distinct pixel
values weighted by their counts (a 16-bit histogram has at most 65 536 bins).

References
----------
.. [1] H. Wang and M. Song, "Ckmeans.1d.dp: Optimal k-means clustering in one
   dimension by dynamic programming", The R Journal 3(2), 29-33, 2011.
.. [2] A. Grønlund, K. G. Larsen, A. Mathiasen, J. S. Nielsen, S. Schneider
   and M. Song, "Fast exact k-means, k-medians and Bregman divergence
   clustering in 1D", arXiv:1701.07204, 2017.
.. [3] P.-S. Liao, T.-S. Chen and P.-C. Chung, "A fast algorithm for
   multilevel thresholding", J. Inf. Sci. Eng. 17(5), 713-727, 2001.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Optimal1DFit:
    """Result of :func:`optimal_kmeans_1d`.

    Attributes
    ----------
    centers : ndarray (K,)
        Weighted mean of each cluster, increasing.
    labels : ndarray (n,)
        Cluster (0..K-1) of each input value, in the input's order.
    inertia : float
        Weighted within-cluster sum of squares (the global minimum).
    thresholds : ndarray (K-1,)
        Smallest value of clusters 1..K-1: value ``>= thresholds[k-1]`` is in cluster ``k`` or above.
    """

    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    thresholds: np.ndarray


class _SegmentCost:
    """Weighted SSE of runs ``[i, j)`` of sorted values, from prefix sums."""

    def __init__(self, x: np.ndarray, w: np.ndarray) -> None:
        # Centring and scaling keep the prefix sums of w x^2 small: less cancellation in S2 - S1^2 / W.
        shift = float(np.average(x, weights=w))
        spread = float(np.abs(x - shift).max()) or 1.0
        self.unit = spread
        xs = (x - shift) / spread
        self.w = np.concatenate([[0.0], np.cumsum(w)])
        self.s1 = np.concatenate([[0.0], np.cumsum(w * xs)])
        self.s2 = np.concatenate([[0.0], np.cumsum(w * xs * xs)])

    def __call__(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        mass = self.w[j] - self.w[i]
        s1 = self.s1[j] - self.s1[i]
        s2 = self.s2[j] - self.s2[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            cost = s2 - np.where(mass > 0, s1 * s1 / np.where(mass > 0, mass, 1.0), 0.0)
        return np.maximum(cost, 0.0)


def _dp_row(previous: np.ndarray, cost: _SegmentCost, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row ``k`` (clusters) of the DP from row ``k - 1`` by level-wise divide and conquer.

    Returns the row ``D[k, 0..n]`` (inf where fewer than ``k`` values) and the best split per ``j``.
    """
    row = np.full(n + 1, np.inf)
    split = np.zeros(n + 1, np.int64)
    # Pending segments: j in [jlo, jhi], best split in [olo, ohi]. j needs at least k values, i at least k - 1.
    jlo, jhi = np.array([k]), np.array([n])
    olo, ohi = np.array([k - 1]), np.array([n - 1])
    while jlo.size:
        mid = (jlo + jhi) // 2
        top = np.minimum(ohi, mid - 1)
        lengths = top - olo + 1
        segment = np.repeat(np.arange(mid.size), lengths)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        candidates = olo[segment] + np.arange(segment.size) - starts[segment]
        totals = previous[candidates] + cost(candidates, mid[segment])
        best_value = np.minimum.reduceat(totals, starts)
        # Leftmost minimiser per segment: the smallest candidate whose total is the segment's minimum.
        best = np.minimum.reduceat(np.where(totals <= best_value[segment], candidates, n), starts)
        row[mid] = best_value
        split[mid] = best
        left = mid - 1 >= jlo
        right = mid + 1 <= jhi
        jlo, jhi, olo, ohi = (
            np.concatenate([jlo[left], mid[right] + 1]),
            np.concatenate([mid[left] - 1, jhi[right]]),
            np.concatenate([olo[left], best[right]]),
            np.concatenate([best[left], ohi[right]]),
        )
    return row, split


def optimal_kmeans_1d(values: np.ndarray, sample_weight: np.ndarray | None, n_clusters: int) -> Optimal1DFit:
    """Globally optimal weighted k-means of one feature.

    Parameters
    ----------
    values : ndarray (n,) or (n, 1)
        Finite values (typically the distinct values of an image).
    sample_weight : ndarray (n,), optional
        Non-negative weights (pixel counts); all 1 by default.
    n_clusters : int
        K, at most the number of distinct values with positive weight.

    Returns
    -------
    Optimal1DFit
        The partition of least weighted within-cluster sum of squares, up to
        floating-point rounding of the prefix sums.

    Raises
    ------
    ValueError
        If the values are not finite or one-dimensional, a weight is negative,
        or ``n_clusters`` exceeds the number of distinct weighted values.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"optimal 1-D k-means needs one feature; got values of shape {values.shape}")
    sample_weight = np.ones_like(values) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if sample_weight.shape != values.shape:
        raise ValueError(f"sample_weight has shape {sample_weight.shape}; expected {values.shape}")
    if not (np.isfinite(values).all() and np.isfinite(sample_weight).all()) or (sample_weight < 0).any():
        raise ValueError("values and sample_weight must be finite and sample_weight non-negative")
    # One row per distinct value carrying weight: equal values always share a cluster.
    used = sample_weight > 0
    distinct, inverse = np.unique(values[used], return_inverse=True)
    mass = np.bincount(inverse, weights=sample_weight[used], minlength=distinct.size)
    n = distinct.size
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or not 1 <= n_clusters <= n:
        raise ValueError(
            f"n_clusters must be an integer from 1 to the number of distinct values ({n}), got {n_clusters!r}"
        )
    cost = _SegmentCost(distinct, mass)
    row = np.full(n + 1, np.inf)
    row[1:] = cost(np.zeros(n, np.int64), np.arange(1, n + 1))
    row[0] = 0.0
    splits = []
    for k in range(2, n_clusters + 1):
        row, split = _dp_row(row, cost, k, n)
        splits.append(split)
    # Walk the splits back from the full range: starts[k] is the first value of cluster k.
    starts = np.zeros(n_clusters, np.int64)
    end = n
    for k in range(n_clusters - 1, 0, -1):
        end = starts[k] = splits[k - 1][end]
    sums = np.add.reduceat(mass * distinct, starts)
    centers = sums / np.add.reduceat(mass, starts)
    thresholds = distinct[starts[1:]]
    labels = np.searchsorted(thresholds, values, side="right")
    inertia = float(sample_weight @ (values - centers[labels]) ** 2)
    return Optimal1DFit(centers=centers, labels=labels, inertia=inertia, thresholds=thresholds)


#: ``init="auto"`` uses the exact optimum up to this many distinct values (every 8- and 16-bit histogram).
AUTO_MAX_DISTINCT = 1 << 16
#: ... and up to this many clusters × distinct values: the dynamic programme keeps one row of split
#: points per cluster (8 bytes per value, 512 MiB here) and takes K passes over the values.
AUTO_MAX_PAIRS = 1 << 26


def resolve_init(init: str | np.ndarray, n_features: int, n_distinct: int, n_clusters: int = 1) -> str | np.ndarray:
    """What ``init="auto"`` means for a fit: ``"optimal"`` for one feature and a histogram-sized
    number of distinct values (at most :data:`AUTO_MAX_DISTINCT`, and ``n_clusters * n_distinct``
    at most :data:`AUTO_MAX_PAIRS`), ``"kmeans++"`` otherwise.

    Any other ``init`` is returned unchanged; ``"optimal"`` with more than one feature raises.

    Parameters
    ----------
    init : str or ndarray
        The requested init (``"auto"``, ``"optimal"``, ``"kmeans++"``, ``"random"`` or centres).
    n_features : int
        Features of the fit.
    n_distinct : int
        Distinct values the fit runs on.
    n_clusters : int
        K.

    Returns
    -------
    str or ndarray
        The init the fit uses.

    Raises
    ------
    ValueError
        ``init="optimal"`` with more than one feature.
    """
    if isinstance(init, str) and init == "auto":
        exact = n_features == 1 and n_distinct <= AUTO_MAX_DISTINCT and n_clusters * n_distinct <= AUTO_MAX_PAIRS
        return "optimal" if exact else "kmeans++"
    if isinstance(init, str) and init == "optimal" and n_features != 1:
        raise ValueError(
            f"init='optimal' is the exact optimum for one feature; this fit has {n_features} features "
            "(use 'auto', 'kmeans++', 'random' or 'uniform')"
        )
    return init


def optimal_centers(features: np.ndarray, sample_weight: np.ndarray, n_clusters: int) -> np.ndarray:
    """The optimal 1-D centres as a ``(K, 1)`` init array for Lloyd or EM.

    Parameters
    ----------
    features : ndarray (n, 1)
        One feature per row (distinct values).
    sample_weight : ndarray (n,)
        Pixels per row.
    n_clusters : int
        K.

    Returns
    -------
    ndarray (K, 1)
        Increasing centres of the globally optimal partition (:func:`optimal_kmeans_1d`).

    Raises
    ------
    ValueError
        As :func:`optimal_kmeans_1d`.
    """
    return optimal_kmeans_1d(np.asarray(features)[:, 0], sample_weight, n_clusters).centers[:, None]

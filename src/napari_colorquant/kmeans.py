"""Weighted k-means (Lloyd's algorithm) on weighted samples.

Run on the distinct pixel values of an image weighted by their counts, this
gives exactly the result of plain Lloyd on every pixel from the same initial
centres: the assignment of a pixel depends only on its value, and a weighted
mean is the mean of the repeated values.

The loop is a few vectorized NumPy lines rather than scikit-learn's
``KMeans(sample_weight=...)`` because the course's termination rule (stop
after ``max_iter`` iterations or when no centre moves more than ``epsilon``,
as ``cv2.kmeans`` does) is not one scikit-learn offers, and because an
explicit loop is what the pixel-level reference tests compare against.
Weighted k-means++ seeding is scikit-learn's ``kmeans_plusplus``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._threads import for_chunks

#: Named initialisations of :func:`initial_centers`.
#: ``init`` names: "auto" (the exact optimum for one feature, else k-means++; see ``optimal1d.resolve_init``),
#: "kmeans++", "random", "optimal" (the exact 1-D optimum, one feature only).
INITS = ("auto", "kmeans++", "random", "optimal")
_ROWS_PER_BLOCK = 1 << 14


@dataclass
class KMeansFit:
    """Result of :func:`weighted_kmeans`.

    Attributes
    ----------
    centers : ndarray (K, F)
    labels : ndarray (n,)
        Index (0..K-1) of the nearest final centre for each sample.
    inertia : float
        Weighted sum of squared distances to the nearest final centre.
    n_iter : int
        Centre updates run.
    converged : bool
        True if the last update moved no centre more than ``epsilon``.
    """

    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    converged: bool


def nearest_center(
    samples: np.ndarray, centers: np.ndarray, with_distances: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Index of and squared distance to the nearest centre, for every sample.

    Parameters
    ----------
    samples : ndarray (n, F)
    centers : ndarray (K, F)
    with_distances : bool
        Also return the squared distances (skipped inside Lloyd iterations).

    Returns
    -------
    labels : ndarray (n,) of intp
    squared_distances : ndarray (n,) of float64, or None
    """
    samples = np.asarray(samples, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    n = samples.shape[0]
    labels = np.empty(n, dtype=np.intp)
    distances = np.empty(n, dtype=np.float64) if with_distances else None
    center_norms = np.einsum("kf,kf->k", centers, centers)
    minus_two_ct = -2.0 * centers.T

    def block(start: int, stop: int) -> None:
        rows = samples[start:stop]
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; ||x||^2 does not change the argmin.
        partial = rows @ minus_two_ct
        partial += center_norms
        best = partial.argmin(axis=1)
        labels[start:stop] = best
        if distances is not None:
            best_partial = np.take_along_axis(partial, best[:, None], axis=1)[:, 0]
            distances[start:stop] = np.maximum(best_partial + np.einsum("nf,nf->n", rows, rows), 0.0)

    for_chunks(block, n, _ROWS_PER_BLOCK)
    return labels, distances


def weighted_means(
    samples: np.ndarray, sample_weight: np.ndarray, labels: np.ndarray, previous: np.ndarray
) -> np.ndarray:
    """Weighted mean of the samples of each cluster; an empty cluster keeps its previous centre."""
    n_clusters = previous.shape[0]
    mass = np.bincount(labels, weights=sample_weight, minlength=n_clusters)
    sums = np.column_stack(
        [
            np.bincount(labels, weights=sample_weight * samples[:, f], minlength=n_clusters)
            for f in range(samples.shape[1])
        ]
    )
    centers = previous.copy()
    filled = mass > 0
    centers[filled] = sums[filled] / mass[filled, None]
    return centers


def initial_centers(
    samples: np.ndarray, sample_weight: np.ndarray, n_clusters: int, init, rng: np.random.Generator
) -> np.ndarray:
    """Initial centres: ``"kmeans++"``, ``"random"`` (weighted random samples) or an array.

    ``"random"`` picks ``n_clusters`` distinct samples with probability
    proportional to their weight, i.e. random pixels of distinct colours.
    """
    if isinstance(init, str):
        if init == "kmeans++":
            from sklearn.cluster import kmeans_plusplus  # lazily: sklearn costs ~1 s to import

            centers, _ = kmeans_plusplus(
                samples, n_clusters, sample_weight=sample_weight, random_state=int(rng.integers(2**31 - 1))
            )
            return np.asarray(centers, dtype=np.float64)
        if init == "random":
            picks = rng.choice(samples.shape[0], size=n_clusters, replace=False, p=sample_weight / sample_weight.sum())
            return samples[np.sort(picks)].astype(np.float64)
        raise ValueError(f"unknown init {init!r}; accepted: 'kmeans++', 'random' or an array of initial centres")
    centers = np.asarray(init, dtype=np.float64)
    if centers.shape != (n_clusters, samples.shape[1]):
        raise ValueError(
            f"init array has shape {centers.shape}; expected (n_clusters, n_features) = "
            f"({n_clusters}, {samples.shape[1]}) in the fitted feature space"
        )
    if not np.isfinite(centers).all():
        raise ValueError("init array contains NaN or inf")
    return centers


def lloyd(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    centers: np.ndarray,
    max_iter: int,
    epsilon: float,
    on_iteration: Callable[[int], None] | None = None,
    fixed: np.ndarray | None = None,
) -> KMeansFit:
    """Weighted Lloyd iterations from given centres.

    ``fixed`` (bool, one per centre) marks pinned centres that never move (D: pinned colours).

    Each iteration assigns every sample to its nearest centre and moves each
    centre to the weighted mean of its samples; it stops after ``max_iter``
    iterations or once no centre moved more than ``epsilon`` (Euclidean).
    ``on_iteration(i)`` is called after iteration ``i`` (it may raise to abort).
    """
    samples = np.asarray(samples, dtype=np.float64)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    centers = np.array(centers, dtype=np.float64)
    n_iter, converged = 0, False
    for iteration in range(1, max_iter + 1):
        n_iter = iteration
        labels, _ = nearest_center(samples, centers, with_distances=False)
        updated = weighted_means(samples, sample_weight, labels, centers)
        if fixed is not None:
            updated[fixed] = centers[fixed]
        shift = np.sqrt(((updated - centers) ** 2).sum(axis=1)).max()
        centers = updated
        if on_iteration is not None:
            on_iteration(iteration)
        if shift <= epsilon:
            converged = True
            break
    labels, distances = nearest_center(samples, centers)
    return KMeansFit(centers, labels, float(sample_weight @ distances), n_iter, converged)


def weighted_kmeans(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    n_clusters: int,
    *,
    init="kmeans++",
    max_iter: int = 10,
    epsilon: float = 0.2,
    attempts: int = 1,
    seed: int = 0,
    on_iteration: Callable[[int], None] | None = None,
    fixed: np.ndarray | None = None,
) -> KMeansFit:
    """Weighted k-means with several attempts; the lowest inertia wins.

    Parameters
    ----------
    samples : ndarray (n, F)
        Feature vectors (e.g. distinct pixel colours).
    sample_weight : ndarray (n,)
        Non-negative sample weights (e.g. pixel counts).
    n_clusters : int
    init : {"kmeans++", "random"} or ndarray (K, F)
    max_iter : int
    epsilon : float
        Stop when no centre moves more than this.
    attempts : int
        Independent initialisations (only one for an init array).
    seed : int
        Same seed, same result, bit for bit.
    on_iteration : callable, optional
        Called with the number of iterations run so far over all attempts
        (at most ``attempts * max_iter``); may raise to abort.
    fixed : ndarray (K,) of bool, optional
        Centres that never move (pinned colours; give their values in an ``init`` array).

    Returns
    -------
    KMeansFit
    """
    rng = np.random.default_rng(seed)
    samples = np.asarray(samples, dtype=np.float64)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    best = None
    runs = 1 if not isinstance(init, str) else attempts
    for attempt in range(runs):
        centers = initial_centers(samples, sample_weight, n_clusters, init, rng)
        report = None
        if on_iteration is not None:

            def report(iteration, offset=attempt * max_iter):
                on_iteration(offset + iteration)

        fit = lloyd(samples, sample_weight, centers, max_iter, epsilon, report, fixed)
        if best is None or fit.inertia < best.inertia:
            best = fit
    return best

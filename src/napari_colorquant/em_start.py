"""Where EM starts: k-means, then EM itself on a coarse summary of the values (coarse-to-fine).

EM started from a hard k-means partition (OpenCV's ``trainEM``, scikit-learn's ``init_params="kmeans"``)
still has most of its climb ahead of it: on 2 and 12 MP photos, 10 EM iterations from there end 0.1–0.8
log-likelihood per pixel below the converged mixture. Most of that climb does not need every value. With
many distinct values, the start therefore clusters a coarse grid of them (each occupied cell its weighted
mean and total weight, :func:`~napari_colorquant.kmeans.coarse_grid`, at most 32 768 cells): k-means
seeded and run to convergence on the cells, then EM on the cells to convergence. The exact EM
iterations (``max_iter``, ``epsilon``) then run on every distinct value from that mixture, so they refine a
mixture already near a maximum. With few values (at most :data:`SUMMARY_FROM`, or a grid that would not
be :data:`SUMMARY_SHRINK` times smaller) the start is k-means run to convergence on the values themselves.

The start has its own stopping rule, the package's default (:data:`START_MAX_ITER` iterations, tolerance
:data:`START_EPSILON`), whatever the EM's own ``max_iter`` and ``epsilon``: it is a start, not the fit.
Its cost: one pass over the values to build the grid (already paid by k-means++ seeding on many values)
and iterations over a few thousand cells (about a millisecond each at K = 4), instead of ``max_iter``
k-means iterations over every value.

Written here because no library starts a mixture this way (scikit-learn's ``GaussianMixture`` takes no
sample weights, so it cannot be fitted on grid cells).

References
----------
Dempster, A. P., Laird, N. M. and Rubin, D. B. (1977). Maximum likelihood from incomplete data via the EM
algorithm. Journal of the Royal Statistical Society B, 39(1), 1-38.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .em import initial_parameters, weighted_em
from .kmeans import KMeansFit, coarse_grid, nearest_center

#: Above this many distinct values, the start works on a coarse grid of them.
SUMMARY_FROM = 1 << 15
#: ... provided the grid has at most 1 / SUMMARY_SHRINK as many occupied cells as there are values.
SUMMARY_SHRINK = 8
#: The start's own stopping rule (the package defaults: run to convergence), for its k-means and its EM.
START_MAX_ITER = 300
START_EPSILON = 1e-6

#: ``cluster(samples, sample_weight, max_iter, epsilon, on_iteration) -> KMeansFit``: k-means with the run's
#: init, attempts and seed (given by the method registry, which knows how inits are resolved).
Cluster = Callable[[np.ndarray, np.ndarray, int, float, Callable[[int], None] | None], KMeansFit]


def summarise(samples: np.ndarray, sample_weight: np.ndarray, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """The values the start works on: the occupied cells of a coarse grid, or the values themselves when few.

    Parameters
    ----------
    samples : ndarray (n, F)
        Distinct values (features).
    sample_weight : ndarray (n,)
        Their pixel counts.
    n_clusters : int
        K (the grid needs at least 4 occupied cells per cluster).

    Returns
    -------
    samples : ndarray (m, F)
        Cell means (or the values).
    sample_weight : ndarray (m,)
        Cell weights (or the counts).
    """
    if samples.shape[0] <= SUMMARY_FROM:
        return samples, sample_weight
    cells, cell_weight = coarse_grid(samples, sample_weight, n_clusters, smallest=SUMMARY_FROM)
    if cells.shape[0] * SUMMARY_SHRINK > samples.shape[0]:
        return samples, sample_weight
    return cells, cell_weight


def mixture_start(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    n_clusters: int,
    cluster: Cluster,
    covariance: str,
    reg_covar: float,
    on_step: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Initial mixing weights, means and covariances for EM on weighted values (see the module docstring).

    Parameters
    ----------
    samples : ndarray (n, F)
        Distinct values (features).
    sample_weight : ndarray (n,)
        Their pixel counts.
    n_clusters : int
        K.
    cluster : callable
        k-means with the run's init, attempts and seed (:data:`Cluster`).
    covariance : {"full", "diagonal", "spherical"}
        Covariance type.
    reg_covar : float
        Added to every covariance diagonal (as in the EM that follows).
    on_step : callable, optional
        Called with 0 after each of the start's iterations (progress stays at 0; it may raise to abort).

    Returns
    -------
    weights : ndarray (K,)
    means : ndarray (K, F)
    covariances : ndarray (K, F, F)

    Raises
    ------
    ValueError
        If a covariance of the k-means partition of the values is not positive definite.
    """
    report = None if on_step is None else (lambda _: on_step(0))
    summary, summary_weight = summarise(samples, sample_weight, n_clusters)
    partition = cluster(summary, summary_weight, START_MAX_ITER, START_EPSILON, report)
    if summary is samples:
        return initial_parameters(samples, sample_weight, partition.centers, partition.labels, covariance, reg_covar)
    mixing, means, covariances = initial_parameters(
        summary, summary_weight, partition.centers, partition.labels, covariance, reg_covar
    )
    try:
        coarse = weighted_em(
            summary,
            summary_weight,
            means,
            covariances,
            mixing,
            covariance=covariance,
            max_iter=START_MAX_ITER,
            epsilon=START_EPSILON,
            reg_covar=reg_covar,
            on_iteration=report,
        )
    except ValueError:
        # A component collapsed onto too few cells (reg_covar 0): start from the k-means partition of the values.
        labels = nearest_center(samples, partition.centers, with_distances=False)[0]
        return initial_parameters(samples, sample_weight, partition.centers, labels, covariance, reg_covar)
    return coarse.weights, coarse.means, coarse.covariances

"""Plain pixel-level reference implementations, written independently of the package.

They run on every pixel (no distinct-value trick, no lookups) with explicit
distances and scipy's Gaussian densities, so agreement with the fast engine
is evidence, not a tautology.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import multivariate_normal


def _give_empty_clusters_a_pixel(pixels: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """cv2.kmeans's rule, pixel by pixel: each empty cluster (in index order) takes the pixel farthest from
    the mean of the biggest cluster (lowest index on a tie); distance ties go to the largest value
    (lexicographic), where OpenCV would take the last in pixel order."""
    labels = labels.copy()
    for k in range(n_clusters):
        counts = np.bincount(labels, minlength=n_clusters)
        if counts[k]:
            continue
        biggest = int(np.argmax(counts))
        members = np.flatnonzero(labels == biggest)
        mean = pixels[members].sum(axis=0) / len(members)
        distance = ((pixels[members] - mean) ** 2).sum(axis=1)
        farthest = members[distance == distance.max()]
        largest = max(farthest, key=lambda i: tuple(pixels[i]))
        labels[largest] = k
    return labels


def _exact_integers(values: np.ndarray) -> np.ndarray:
    """Rows whose features are all integers small enough that any sum of squared differences is exact."""
    return np.all((values == np.rint(values)) & (np.abs(values) < 2.0**24), axis=-1)


def _has_near_tie(distances: np.ndarray, centers: np.ndarray, pixels: np.ndarray) -> bool:
    """Whether a pixel is (to rounding) as near to two different centres: then which one wins depends on how
    the distance is computed (the fast engine uses ||c||^2 - 2 x.c), not on the algorithm.

    A tie between two integer centres at an integer pixel is not counted: every way of computing those
    distances gives them exactly, so both implementations give it to the lowest index (the tests check that).
    Ties at fractional centres (means) are counted: 0.4 or 2.6 is not a float, and the two formulas round
    their distances differently.
    """
    order = np.argsort(distances, axis=1, kind="stable")
    exact_centers, exact_pixels = _exact_integers(centers), _exact_integers(pixels)
    for rank in range(1, distances.shape[1]):
        other = order[:, rank]
        gap = np.take_along_axis(distances, other[:, None], axis=1)[:, 0] - distances.min(axis=1)
        different = np.any(centers[other] != centers[order[:, 0]], axis=1)
        exact = exact_pixels & exact_centers[other] & exact_centers[order[:, 0]]
        if np.any(different & ~exact & (gap <= 1e-9 * (1.0 + distances.min(axis=1)))):
            return True
    return False


def pixel_lloyd(pixels: np.ndarray, centers: np.ndarray, max_iter: int, epsilon: float, ties: list | None = None):
    """Lloyd on every pixel, an empty cluster given a pixel as cv2.kmeans does: returns (centers, labels, n_iter).

    ``ties``: a list to which True is appended when some assignment had a pixel equally near two different
    centres (tests on tiny integer images ``assume`` none).
    """
    pixels = pixels.astype(np.float64)
    centers = np.array(centers, dtype=np.float64)
    n_iter = 0
    for iteration in range(1, max_iter + 1):
        n_iter = iteration
        distances = ((pixels[:, None, :] - centers[None]) ** 2).sum(axis=2)
        if ties is not None and _has_near_tie(distances, centers, pixels):
            ties.append(True)
        labels = distances.argmin(axis=1)
        labels = _give_empty_clusters_a_pixel(pixels, labels, centers.shape[0])
        updated = centers.copy()
        for k in range(centers.shape[0]):
            members = pixels[labels == k]
            if len(members):
                updated[k] = members.mean(axis=0)
        shift = np.sqrt(((updated - centers) ** 2).sum(axis=1)).max()
        centers = updated
        if shift <= epsilon:
            break
    distances = ((pixels[:, None, :] - centers[None]) ** 2).sum(axis=2)
    if ties is not None and _has_near_tie(distances, centers, pixels):
        ties.append(True)
    return centers, distances.argmin(axis=1), n_iter


def _covariances(pixels, resp, means, covariance, reg):
    n_k = resp.sum(axis=0)
    covs = []
    for k in range(means.shape[0]):
        diff = pixels - means[k]
        full = (resp[:, k, None] * diff).T @ diff / n_k[k]
        if covariance == "full":
            cov = full + reg * np.eye(pixels.shape[1])
        elif covariance == "diagonal":
            cov = np.diag(np.diag(full) + reg)
        else:
            cov = np.eye(pixels.shape[1]) * (np.diag(full) + reg).mean()
        covs.append(cov)
    return np.array(covs)


def pixel_em(pixels, init_means, covariance, max_iter, epsilon, reg=1e-6):
    """EM on every pixel from a hard assignment to ``init_means``; OpenCV's stopping rule."""
    pixels = pixels.astype(np.float64)
    means = np.array(init_means, np.float64)
    labels = ((pixels[:, None, :] - means[None]) ** 2).sum(axis=2).argmin(axis=1)
    resp = np.eye(means.shape[0])[labels]
    covs = _covariances(pixels, resp, means, covariance, reg)
    weights = resp.sum(axis=0) / len(pixels)
    history, previous = [], None
    for _ in range(max_iter):
        joint = np.column_stack(
            [multivariate_normal(means[k], covs[k]).logpdf(pixels) for k in range(len(means))]
        ) + np.log(weights)
        log_norm = np.logaddexp.reduce(joint, axis=1)
        current = log_norm.mean()
        history.append(current)
        if previous is not None and current - previous < epsilon * abs(current):
            break
        resp = np.exp(joint - log_norm[:, None])
        n_k = resp.sum(axis=0)
        means = resp.T @ pixels / n_k[:, None]
        covs = _covariances(pixels, resp, means, covariance, reg)
        weights = n_k / n_k.sum()
        previous = current
    joint = np.column_stack(
        [multivariate_normal(means[k], covs[k]).logpdf(pixels) for k in range(len(means))]
    ) + np.log(weights)
    return means, covs, weights, joint.argmax(axis=1), np.logaddexp.reduce(joint, axis=1).mean()


def match_clusters(model_means: np.ndarray, reference_means: np.ndarray, rtol: float = 1e-6) -> np.ndarray:
    """Reference cluster index of each model cluster; asserts the means agree to ``rtol``."""
    distance = ((model_means[:, None, :] - reference_means[None]) ** 2).sum(axis=2)
    match = distance.argmin(axis=1)
    assert len(set(match.tolist())) == len(match), "clusters do not pair one to one"
    np.testing.assert_allclose(model_means, reference_means[match], rtol=rtol, atol=1e-9)
    return match


def relabel(reference_labels: np.ndarray, match: np.ndarray) -> np.ndarray:
    """Reference labels (0..K-1) expressed as model labels (1..K)."""
    lookup = np.empty(len(match), dtype=np.int64)
    lookup[match] = np.arange(1, len(match) + 1)
    return lookup[reference_labels]

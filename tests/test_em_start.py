"""EM's start (em_start.py): k-means, then EM on a coarse grid of the values; the exact iterations follow it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from napari_colorquant import kmeans_filter, quantize
from napari_colorquant.em import initial_parameters, weighted_em
from napari_colorquant.em_start import START_EPSILON, START_MAX_ITER, mixture_start, summarise
from napari_colorquant.kmeans import coarse_grid, weighted_kmeans
from reference import match_clusters


def _weighted_values(image):
    """The distinct values and counts quantize fits (in its order), and EM's absolute reg_covar for them."""
    table = quantize(image, 2, max_iter=1).table
    values, counts = table.fit_values.astype(np.float64), table.fit_weights.astype(np.float64)
    mean = counts @ values / counts.sum()
    variance = float((counts @ (values - mean) ** 2 / counts.sum()).mean())
    return values, counts, 1e-6 * variance


def _kmeans_plus_plus(n_clusters, seed):
    """k-means++ with a run's seed, one attempt: the ``cluster`` the method registry hands the start."""

    def cluster(samples, weight, max_iter, epsilon, on_iteration):
        return weighted_kmeans(
            samples, weight, n_clusters, init="kmeans++", max_iter=max_iter, epsilon=epsilon, seed=seed,
            on_iteration=on_iteration,
        )  # fmt: skip

    return cluster


def test_the_same_seed_gives_the_same_start_and_fit(china):
    values, counts, reg = _weighted_values(china)
    assert summarise(values, counts, 4)[0].shape[0] < values.shape[0]  # the coarse path
    first = mixture_start(values, counts, 4, _kmeans_plus_plus(4, 3), "full", reg)
    again = mixture_start(values, counts, 4, _kmeans_plus_plus(4, 3), "full", reg)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    one, two = (quantize(china, 4, method="em", seed=3, max_iter=5, epsilon=0.0).model for _ in range(2))
    np.testing.assert_array_equal(one.means, two.means)
    np.testing.assert_array_equal(one.covariances, two.covariances)
    assert one.log_likelihood == two.log_likelihood


@pytest.mark.parametrize("k", [4, 8])
def test_ten_iterations_from_the_start_beat_ten_from_the_old_k_means_start(china, k):
    """The old start: k-means for the EM's own max_iter (10) on every value, as scikit-learn's but not converged."""
    values, counts, reg = _weighted_values(china)
    new = quantize(china, k, method="em", max_iter=10, epsilon=0.0, seed=0).model
    old_start = weighted_kmeans(values, counts, k, init="kmeans++", max_iter=10, epsilon=0.0, seed=0)
    mixing, means, covariances = initial_parameters(values, counts, old_start.centers, old_start.labels, "full", reg)
    old = weighted_em(values, counts, means, covariances, mixing, max_iter=10, epsilon=0.0, reg_covar=reg)
    assert new.n_iter == old.n_iter == 10
    assert new.log_likelihood > old.log_likelihood + 0.04  # measured: 0.047 (K = 4) and 0.24 (K = 8) per pixel


def test_the_exact_iterations_from_the_start_are_gaussian_mixture_on_every_pixel(china):
    """quantize starts where mixture_start says, then runs max_iter exact EM iterations (scikit-learn's, per pixel)."""
    crop = china[::2, ::2]
    values, counts, reg = _weighted_values(crop)
    assert summarise(values, counts, 4)[0].shape[0] < values.shape[0]
    mixing, means, covariances = mixture_start(values, counts, 4, _kmeans_plus_plus(4, 0), "full", reg)
    result = quantize(crop, 4, method="em", color_space="rgb", max_iter=3, epsilon=0.0, seed=0)
    reference = GaussianMixture(
        4, covariance_type="full", max_iter=3, tol=0.0, reg_covar=reg, weights_init=mixing, means_init=means,
        precisions_init=np.linalg.inv(covariances),
    )  # fmt: skip
    pixels = crop.reshape(-1, 3).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference.fit(pixels)
    match = match_clusters(result.model.means, reference.means_)
    np.testing.assert_allclose(result.model.covariances, reference.covariances_[match], rtol=1e-6)
    np.testing.assert_allclose(result.model.log_likelihood, reference.score(pixels), rtol=1e-9)


def test_with_few_values_the_start_is_k_means_run_to_convergence(china):
    crop = china[:60, :80]  # 4 800 pixels: no coarse grid
    values, counts, reg = _weighted_values(crop)
    assert summarise(values, counts, 3)[0] is values
    mixing, means, covariances = mixture_start(values, counts, 3, _kmeans_plus_plus(3, 1), "diagonal", reg)
    converged = weighted_kmeans(
        values, counts, 3, init="kmeans++", max_iter=START_MAX_ITER, epsilon=START_EPSILON, seed=1
    )
    assert converged.converged and converged.n_iter > 1
    np.testing.assert_array_equal(means, converged.centers)
    expected = initial_parameters(values, counts, converged.centers, converged.labels, "diagonal", reg)
    np.testing.assert_allclose(covariances, expected[2])
    np.testing.assert_allclose(mixing, expected[0])
    # An EM of one iteration still starts from the converged k-means (the start ignores the EM's max_iter).
    result = quantize(crop, 3, method="em", covariance="diagonal", color_space="rgb", max_iter=1, epsilon=0.0, seed=1)
    fit = weighted_em(values, counts, means, covariances, mixing, covariance="diagonal", max_iter=1, reg_covar=reg)
    match_clusters(result.model.means, fit.means)


def test_a_start_that_cannot_fit_the_grid_falls_back_to_the_k_means_partition(china):
    values, counts, _ = _weighted_values(china)
    # No regularisation and every cluster one cell wide: the grid's covariances are singular, the values' are not.
    cells, _ = summarise(values, counts, 2)

    fits = []

    def cluster(samples, weight, max_iter, epsilon, on_iteration):
        fit = weighted_kmeans(samples, weight, 2, init="kmeans++", max_iter=max_iter, epsilon=epsilon, seed=0)
        assert samples.shape[0] == cells.shape[0]
        fit.labels = np.zeros_like(fit.labels)
        fit.labels[:1] = 1  # one cell alone in cluster 2: its covariance is 0 without reg_covar
        fits.append(fit)
        return fit

    mixing, means, covariances = mixture_start(values, counts, 2, cluster, "full", 0.0)
    np.testing.assert_array_equal(means, fits[0].centers)  # the k-means centres, with the values' partition
    assert np.all(np.linalg.eigvalsh(covariances) > 0) and mixing.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("n_features", [1, 3, 5])
def test_the_coarse_grid_is_each_occupied_cells_weighted_mean_and_weight(n_features):
    rng = np.random.default_rng(n_features)
    samples = rng.normal(size=(5000, n_features)) * [10.0, 1.0, 1e-3, 4.0, 2.0][:n_features]
    samples[:, -1] = np.round(samples[:, -1])  # repeated values on one axis
    weight = rng.integers(1, 20, 5000).astype(np.float64)
    cells, cell_weight = coarse_grid(samples, weight, 2, smallest=0)
    bins = int((1 << 15) ** (1.0 / n_features))
    low, high = samples.min(axis=0), samples.max(axis=0)
    index = np.minimum(np.floor((samples - low) * (bins / (high - low))), bins - 1).astype(np.int64)
    occupied, inverse = np.unique(index, axis=0, return_inverse=True)  # lexicographic: the grid's own order
    mass = np.bincount(inverse.ravel(), weights=weight)
    means = np.stack([np.bincount(inverse.ravel(), weights=weight * column) for column in samples.T], axis=1)
    np.testing.assert_array_equal(cell_weight, mass)
    np.testing.assert_allclose(cells, means / mass[:, None], rtol=1e-12, atol=1e-12)
    assert cells.shape == (occupied.shape[0], n_features) and cell_weight.sum() == weight.sum()


@pytest.mark.parametrize("n_features", [2, 3, 4])
def test_the_coarse_grid_from_packed_integers_is_the_same_grid(n_features):
    """Integer samples packed for the filter's grid (pack_integers): the cells read from tables of their steps are
    each occupied cell's weighted mean and weight, bit for bit those of the general path."""
    rng = np.random.default_rng(10 + n_features)
    top = (1 << min(8, 24 // n_features)) - 1
    samples = rng.integers(0, top + 1, (20000, n_features)).astype(np.float64) - 17.0
    samples[:, 0] = np.minimum(samples[:, 0], top // 3)  # a narrower column: another factor per feature
    weight = rng.integers(1, 50, samples.shape[0]).astype(np.float64)
    packed = kmeans_filter.pack_integers(samples)
    assert packed is not None
    cells, cell_weight = coarse_grid(samples, weight, 2, smallest=0, packed=packed)
    bins = int((1 << 15) ** (1.0 / n_features))
    low, high = samples.min(axis=0), samples.max(axis=0)
    index = np.minimum(np.floor((samples - low) * (bins / (high - low))), bins - 1).astype(np.int64)
    _, inverse = np.unique(index, axis=0, return_inverse=True)
    mass = np.bincount(inverse.ravel(), weights=weight)
    means = np.stack([np.bincount(inverse.ravel(), weights=weight * column) for column in samples.T], axis=1)
    np.testing.assert_array_equal(cell_weight, mass)
    np.testing.assert_allclose(cells, means / mass[:, None], rtol=1e-12, atol=1e-12)
    general = coarse_grid(samples, weight, 2, smallest=0)
    np.testing.assert_array_equal(cells, general[0])
    np.testing.assert_array_equal(cell_weight, general[1])

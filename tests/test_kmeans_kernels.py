"""The k-means kernels' fast paths against brute force: same labels (ties to the lowest index), same sums."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant import kmeans


def _brute_force_labels(rows: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return ((rows[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 8, 16])
def test_few_cluster_assignment_equals_brute_force_ties_included(k):
    rng = np.random.default_rng(k)
    rows = rng.integers(0, 256, (4000, 3)).astype(np.float64)
    centers = rng.integers(0, 256, (k, 3)).astype(np.float64)
    if k > 1:
        centers[-1] = centers[0]  # a duplicated centre: every tie must go to the lower index
        rows[:50] = (centers[0] + centers[1]) / 2  # points exactly between two centres
    assert k <= kmeans._FEW_CLUSTERS
    assert kmeans._block_shape(k)[1] >= k  # one block of clusters: the few-cluster path
    labels, distances = kmeans.nearest_center(rows, centers)
    expected = _brute_force_labels(rows, centers)
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(distances, ((rows - centers[expected]) ** 2).sum(axis=1))


@pytest.mark.parametrize("k", [2, 5, 8, 12])
def test_cluster_sums_equal_bincount_bit_for_bit(k):
    rng = np.random.default_rng(7)
    samples = rng.integers(0, 65536, (3000, 3)).astype(np.float64)
    weights = rng.integers(1, 1000, 3000).astype(np.float64)
    labels = rng.integers(0, k, 3000)
    weighted_t = (samples * weights[:, None]).T.copy()
    mass, sums = kmeans._cluster_sums(weighted_t, weights, labels, k)
    np.testing.assert_array_equal(mass, np.bincount(labels, weights=weights, minlength=k))
    for feature in range(3):
        np.testing.assert_array_equal(sums[:, feature], np.bincount(labels, weights=weighted_t[feature], minlength=k))


@pytest.mark.parametrize("k", [2, 4, 8, 16])
def test_lloyd_few_clusters_equals_the_general_kernel(k, monkeypatch):
    """The few-cluster path and the blocked argmin path give the same fit from the same start."""
    rng = np.random.default_rng(k)
    samples = rng.integers(0, 256, (6000, 3)).astype(np.float64)
    weights = rng.integers(1, 20, 6000).astype(np.float64)
    start = kmeans.initial_centers(samples, weights, k, "random", np.random.default_rng(3))
    fast = kmeans.lloyd(samples, weights, start, 20, 0.0)
    monkeypatch.setattr(kmeans, "_FEW_CLUSTERS", 0)
    general = kmeans.lloyd(samples, weights, start, 20, 0.0)
    assert fast.n_iter == general.n_iter
    np.testing.assert_array_equal(fast.labels, general.labels)
    np.testing.assert_array_equal(fast.centers, general.centers)
    assert fast.inertia == general.inertia


@pytest.mark.parametrize("offset", [0.0, 0.5])
def test_exact_sums_apply_only_to_integer_weighted_values(offset):
    """The cheap blocked check agrees with the definition: integer weighted features, totals below 2**53."""
    rng = np.random.default_rng(1)
    samples = rng.integers(0, 256, (70_000, 3)).astype(np.float64) + offset
    weights = rng.integers(1, 50, 70_000).astype(np.float64)
    weights[0] = 2.0  # 2 * (x + 0.5) is an integer: only the first sample's weighted values would pass
    weighted_t = (samples * weights[:, None]).T.copy()
    assert kmeans._ExactSums.applies(weighted_t, weights) == (offset == 0.0)
    assert not kmeans._ExactSums.applies(weighted_t * 2.0**40, weights)  # integers, but sums beyond 2**53
    assert not kmeans._ExactSums.applies(weighted_t, weights + 0.25)

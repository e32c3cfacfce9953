"""Empty clusters take a pixel as cv2.kmeans gives them one, and init="uniform" is cv2's random-centre start."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from napari_colorquant import kmeans, quantize
from reference import pixel_lloyd

# Centres no pixel is nearest to: they start empty, whatever the image.
FAR = np.array([[1000.0, 1000.0, 1000.0], [-700.0, 300.0, 90.0], [128.0, -900.0, 128.0]])


def _assert_same_fit(result, pixels, centers, labels, n_iter):
    """Same centre for every pixel and same iterations (robust to the order and to equal centres)."""
    ours = result.model.means[result.labels.reshape(-1) - 1]
    np.testing.assert_allclose(ours, centers[labels], rtol=1e-9, atol=1e-9)
    assert result.model.n_iter == n_iter
    np.testing.assert_allclose(np.sort(result.model.means, axis=0), np.sort(centers, axis=0), rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    image=arrays(np.uint8, st.tuples(st.integers(3, 10), st.integers(3, 10), st.just(3)), elements=st.integers(0, 6)),
    n_drawn=st.integers(1, 3),
    n_far=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_empty_clusters_take_a_pixel_as_pixel_lloyd(image, n_drawn, n_far, seed):
    """Centres far outside the data start empty; the fast engine moves the same pixels as pixel-level Lloyd.

    Few grey levels per channel make equal values and distance ties common (the relocation's tie rule is
    exercised); a pixel exactly as near to two different centres is left out (``assume``): which one it
    joins then depends on rounding in how the distance is computed, in the engine as in OpenCV.
    """
    pixels = image.reshape(-1, 3).astype(np.float64)
    distinct = np.unique(pixels, axis=0)
    k = n_drawn + n_far
    assume(len(distinct) >= k)
    rng = np.random.default_rng(seed)
    init = np.vstack([distinct[rng.choice(len(distinct), n_drawn, replace=False)], FAR[:n_far]])
    ties = []
    centers, labels, n_iter = pixel_lloyd(pixels, init, 4, 0.0, ties=ties)
    assume(not ties)
    result = quantize(image, k, init=init, max_iter=4, epsilon=0.0)
    _assert_same_fit(result, pixels, centers, labels, n_iter)


def _china_values(china):
    pixels = china[::4, ::4].reshape(-1, 3)  # few enough pixels that cv2's float32 sums are exact
    values, inverse, counts = np.unique(pixels, axis=0, return_inverse=True, return_counts=True)
    return pixels, values.astype(np.float64), inverse.reshape(-1), counts.astype(np.float64)


@pytest.mark.parametrize(("k", "seed"), [(16, 0), (16, 1), (64, 2)])
def test_empty_cluster_rule_equals_cv2_kmeans(china, k, seed):
    """From the same start, OpenCV's own k-means (KMEANS_USE_INITIAL_LABELS) gives the same centres.

    cv2.kmeans from initial labels computes the centres of those labels first (empty ones given a pixel),
    then assigns and updates: ``m`` centre updates with ``maxCount = m``, as ``lloyd(max_iter=m)``.
    """
    pixels, values, inverse, counts = _china_values(china)
    start = kmeans.uniform_centers(values, k, np.random.default_rng(seed))
    first = kmeans.nearest_center(values, start, with_distances=False)[0]
    assert len(np.unique(first)) < k  # the start leaves clusters empty: the rule is what is compared
    fit = kmeans.lloyd(values, counts, start, 5, 0.0)
    criteria = (cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, 5, 0.0)
    initial = first[inverse].astype(np.int32).reshape(-1, 1)
    _, _, theirs = cv2.kmeans(np.float32(pixels), k, initial, criteria, 1, cv2.KMEANS_USE_INITIAL_LABELS)
    gap = np.sqrt(((fit.centers[:, None, :] - theirs[None].astype(np.float64)) ** 2).sum(axis=2))
    assert gap.min(axis=1).max() < 1e-3 and gap.min(axis=0).max() < 1e-3  # float32 rounding only
    assert np.bincount(fit.labels, weights=counts, minlength=k).min() > 0


def test_uniform_init_equals_pixel_lloyd_from_its_start(china):
    """init="uniform": the same draws on the distinct values as on every pixel (same range), then exact Lloyd."""
    crop = china[200:240, 300:350]
    pixels = crop.reshape(-1, 3).astype(np.float64)
    start = kmeans.uniform_centers(pixels, 8, np.random.default_rng(5))
    assert len(np.unique(kmeans.nearest_center(pixels, start)[0])) < 8  # some drawn centres start empty
    result = quantize(crop, 8, init="uniform", seed=5, max_iter=6, epsilon=0.0)
    centers, labels, n_iter = pixel_lloyd(pixels, start, 6, 0.0)
    _assert_same_fit(result, pixels, centers, labels, n_iter)
    assert len(np.unique(result.labels)) == 8


def test_uniform_centers_fill_the_widened_range_as_opencv():
    """cv2's generateRandomCenter: low + (u (1 + 2/F) - 1/F) (high - low), so the range widened by 1/F per side."""
    samples = np.array([[0.0, 10.0], [30.0, 10.0], [15.0, 70.0]])
    centers = kmeans.uniform_centers(samples, 20000, np.random.default_rng(0))
    for feature, (low, high) in enumerate([(0.0, 30.0), (10.0, 70.0)]):
        margin = (high - low) / 2  # F = 2
        column = centers[:, feature]
        assert column.min() >= low - margin and column.max() < high + margin
        assert column.min() < low - 0.99 * margin and column.max() > high + 0.99 * margin
    again = kmeans.uniform_centers(samples, 20000, np.random.default_rng(0))
    np.testing.assert_array_equal(centers, again)


def test_uniform_init_keeps_every_cluster_at_k64(china):
    """Without the rule, about half of 64 uniform centres stay empty on china; with it none is lost."""
    result = quantize(china, 64, init="uniform", seed=3, max_iter=10, epsilon=0.2)
    assert len(np.unique(result.labels)) == 64
    again = quantize(china, 64, init="uniform", seed=3, max_iter=10, epsilon=0.2)
    np.testing.assert_array_equal(result.model.means, again.model.means)


def test_pinned_empty_cluster_is_not_given_a_pixel():
    """A pinned centre no value is nearest to stays empty and in place; a free one takes the farthest pixel."""
    samples = np.array([[0.0], [1.0], [2.0], [10.0]])
    weights = np.array([5.0, 1.0, 1.0, 2.0])
    start = np.array([[1.0], [500.0], [-400.0]])
    fixed = np.array([False, True, False])
    fit = kmeans.lloyd(samples, weights, start, 1, 0.0, fixed=fixed)
    assert fit.centers[1, 0] == 500.0
    # Cluster 0 held all 9 pixels (mean 23/9); the farthest is 10; one of its two pixels moves to cluster 2.
    assert fit.centers[2, 0] == 10.0
    np.testing.assert_allclose(fit.centers[0, 0], 13.0 / 8.0)


def test_relocation_moves_one_pixel_of_a_repeated_value():
    """Two empty clusters and a farthest value with two pixels: each takes one of them (cv2 moves pixels)."""
    samples = np.array([[0.0], [1.0], [9.0]])
    weights = np.array([3.0, 3.0, 2.0])
    mass, sums = kmeans.relocate_empty(
        samples, weights, np.zeros(3, np.intp), np.array([8.0, 0.0, 0.0]), np.array([[21.0], [0.0], [0.0]])
    )
    np.testing.assert_array_equal(mass, [6.0, 1.0, 1.0])
    np.testing.assert_array_equal(sums[:, 0], [3.0, 9.0, 9.0])


def test_fast_engine_equals_opencv_engine_from_a_start_with_empty_clusters(china):
    """Through the front door: an init array with three centres far outside the data, notebook's OpenCV call."""
    crop = china[::4, ::4]
    start = np.vstack([[[60.0, 60.0, 60.0], [150.0, 150.0, 150.0]], FAR])
    fast = quantize(crop, 5, init=start, max_iter=5, epsilon=0.0)
    opencv = quantize(crop, 5, init=start, max_iter=5, epsilon=0.0, engine="opencv")
    gap = np.sqrt(((fast.model.means[:, None, :] - opencv.model.means[None]) ** 2).sum(axis=2))
    assert gap.min(axis=1).max() < 1e-3 and gap.min(axis=0).max() < 1e-3


def test_opencv_engine_runs_random_centres_for_uniform_and_refuses_it_for_em():
    """With engine="opencv", "uniform" is the notebook's KMEANS_RANDOM_CENTERS, as "random" is there."""
    image = np.random.default_rng(0).integers(0, 256, (12, 14, 3), dtype=np.uint8)
    uniform = quantize(image, 4, init="uniform", seed=3, engine="opencv")
    random = quantize(image, 4, init="random", seed=3, engine="opencv")
    np.testing.assert_array_equal(uniform.model.means, random.model.means)
    with pytest.raises(ValueError, match="init"):
        quantize(image, 2, method="em", init="uniform", engine="opencv")


def test_relocation_breaks_distance_ties_by_the_largest_value():
    """Two values equally far from the donor's mean: the lexicographically largest moves, whatever their order."""
    rows = np.array([[0.0, 0.0, 4.0], [4.0, 0.0, 0.0], [2.0, 0.0, 2.0]])
    for samples in (rows, rows[[1, 0, 2]]):
        mass, sums = kmeans.relocate_empty(
            samples, np.ones(3), np.zeros(3, np.intp), np.array([3.0, 0.0]), np.array([[6.0, 0.0, 6.0], [0.0] * 3])
        )
        np.testing.assert_array_equal(sums[1], [4.0, 0.0, 0.0])
        np.testing.assert_array_equal(mass, [2.0, 1.0])


@pytest.mark.parametrize(("k", "seed", "epsilon"), [(8, 4, 0.5), (16, 7, 0.2)])
def test_stopping_rule_and_iteration_count_equal_cv2_kmeans(china, k, seed, epsilon):
    """From the same start, cv2.kmeans and lloyd stop at the same update with the same centres.

    cv2 stops once the largest squared centre shift is at most epsilon squared; lloyd once the largest
    shift is at most epsilon: the same test. cv2 counts its start as an iteration: from initial labels
    ``maxCount = m`` is m updates (as ``max_iter = m``), from its own random centres m - 1.
    """
    pixels, values, inverse, counts = _china_values(china)
    start = kmeans.uniform_centers(values, k, np.random.default_rng(seed))
    fit = kmeans.lloyd(values, counts, start, 100, epsilon)
    assert fit.converged and 3 <= fit.n_iter < 100
    initial = kmeans.nearest_center(values, start, with_distances=False)[0][inverse].astype(np.int32).reshape(-1, 1)

    def opencv(max_count):
        criteria = (cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, max_count, epsilon)
        flags = cv2.KMEANS_USE_INITIAL_LABELS
        return cv2.kmeans(np.float32(pixels), k, initial.copy(), criteria, 1, flags)[2].astype(np.float64)

    def same(centers):
        gap = np.sqrt(((fit.centers[:, None, :] - centers[None]) ** 2).sum(axis=2))
        return gap.min(axis=1).max() < 1e-3 and gap.min(axis=0).max() < 1e-3

    assert same(opencv(100))  # stopped by epsilon, at lloyd's centres
    assert same(opencv(fit.n_iter))  # within lloyd's count of updates ...
    assert not same(opencv(fit.n_iter - 1))  # ... and not one fewer

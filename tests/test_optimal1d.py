"""The exact 1-D k-means optimum against multi-Otsu, Lloyd runs and brute force."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from napari_colorquant.kmeans import weighted_kmeans
from napari_colorquant.optimal1d import optimal_kmeans_1d


def _histogram(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.unique(np.asarray(image).ravel(), return_counts=True)


@pytest.mark.parametrize("name", ["camera", "plate"])
@pytest.mark.parametrize("n_clusters", [2, 3, 4, 5])
def test_equals_multiotsu_partition(request, name, n_clusters):
    from skimage.filters import threshold_multiotsu

    image = request.getfixturevalue(name)
    if n_clusters == 5:
        # Multi-Otsu (the reference) searches levels**(classes - 1) threshold sets: 256 levels and 5 classes cost
        # ~4 s of CPU per image, 64 levels 256x less; the 1-D optimum runs the same way on any number of distinct
        # values. (At 128 levels multi-Otsu's float32 sums pick a camera partition 5e-6 above the optimum.)
        image = np.asarray(image) // 4
    values, counts = _histogram(image)
    fit = optimal_kmeans_1d(values, counts, n_clusters)
    thresholds = threshold_multiotsu(image, classes=n_clusters)
    # threshold_multiotsu's t is the last value of the lower class (pixels > t are above it).
    expected = np.digitize(values, thresholds, right=True)
    np.testing.assert_array_equal(fit.labels, expected)
    assert np.all(np.diff(fit.centers) > 0)


def _inertia(values: np.ndarray, counts: np.ndarray, centers: np.ndarray) -> float:
    d2 = (values[:, None].astype(np.float64) - np.asarray(centers, np.float64)[None, :]) ** 2
    return float(counts @ d2.min(axis=1))


@pytest.mark.parametrize("name", ["camera", "plate", "hela_u16"])
@pytest.mark.parametrize("n_clusters", [2, 4, 7])
def test_inertia_never_above_lloyd(request, name, n_clusters):
    image = request.getfixturevalue(name)
    if name == "camera":
        image = np.asarray(image)[::2, ::2]  # 255 of its 256 grey levels, a quarter of the pixels for cv2.kmeans
    values, counts = _histogram(image)
    fit = optimal_kmeans_1d(values, counts, n_clusters)
    assert fit.inertia == pytest.approx(_inertia(values, counts, fit.centers), rel=1e-9)
    tolerance = 1e-9 * fit.inertia
    pixels = np.asarray(image, np.float32).reshape(-1, 1)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 100, 0.01)
    cv2.setRNGSeed(0)
    _, _, cv_centers = cv2.kmeans(pixels, n_clusters, None, criteria, 10, cv2.KMEANS_PP_CENTERS)
    assert fit.inertia <= _inertia(values, counts, cv_centers[:, 0]) + tolerance
    for seed in range(3):
        ours = weighted_kmeans(values[:, None], counts, n_clusters, max_iter=100, epsilon=0.0, seed=seed)
        assert fit.inertia <= ours.inertia + tolerance


def _brute_force(values: np.ndarray, weights: np.ndarray, n_clusters: int) -> float:
    best = np.inf
    for labels in itertools.product(range(n_clusters), repeat=values.size):
        labels = np.asarray(labels)
        total = 0.0
        for k in range(n_clusters):
            inside = labels == k
            mass = weights[inside].sum()
            if mass > 0:
                mean = weights[inside] @ values[inside] / mass
                total += float(weights[inside] @ (values[inside] - mean) ** 2)
        best = min(best, total)
    return best


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(-50, 50), min_size=1, max_size=7),
    weight_seed=st.integers(0, 2**16),
    n_clusters=st.integers(1, 3),
)
def test_matches_brute_force(values, weight_seed, n_clusters):
    values = np.asarray(values, np.float64)
    assume(np.unique(values).size >= n_clusters)
    weights = np.random.default_rng(weight_seed).integers(1, 20, values.size).astype(np.float64)
    fit = optimal_kmeans_1d(values, weights, n_clusters)
    assert fit.inertia == pytest.approx(_brute_force(values, weights, n_clusters), rel=1e-9, abs=1e-9)
    assert np.unique(fit.labels).size == n_clusters


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="n_clusters"):
        optimal_kmeans_1d(np.array([1.0, 1.0, 2.0]), None, 3)
    with pytest.raises(ValueError, match="one feature"):
        optimal_kmeans_1d(np.zeros((4, 2)), None, 2)
    with pytest.raises(ValueError, match="finite"):
        optimal_kmeans_1d(np.array([0.0, np.nan]), None, 1)


@pytest.mark.parametrize("method", ["kmeans", "em"])
def test_default_init_is_the_optimum_for_gray_images(camera, method):
    from napari_colorquant.quantize import quantize

    image = np.asarray(camera)[::2, ::2]
    values, counts = _histogram(image)
    optimum = optimal_kmeans_1d(values, counts, 4)
    auto = quantize(image, 4, method=method, max_iter=50)
    if method == "kmeans":
        np.testing.assert_allclose(auto.model.means[:, 0], optimum.centers, rtol=1e-9)
        assert auto.model.inertia == pytest.approx(optimum.inertia, rel=1e-9)
        np.testing.assert_array_equal(auto.labels - 1, np.searchsorted(optimum.thresholds, image, side="right"))
    assert auto.model.params["init"] == "auto"
    for seed in range(3):
        plus = quantize(image, 4, method="kmeans", init="kmeans++", seed=seed, max_iter=50)
        assert optimum.inertia <= plus.model.inertia * (1 + 1e-12)
    with pytest.raises(ValueError, match=r"one feature.*'random' or 'uniform'"):  # every init that works there
        quantize(np.stack([image] * 3, axis=-1), 4, init="optimal")
    with pytest.raises(ValueError, match="engine='fast'"):
        quantize(image, 4, init="optimal", engine="opencv")


def test_auto_start_is_exact_only_while_its_split_table_stays_small():
    from napari_colorquant.optimal1d import AUTO_MAX_PAIRS, resolve_init

    assert resolve_init("auto", 1, 65536, 8) == "optimal"
    assert resolve_init("auto", 1, 65536, AUTO_MAX_PAIRS // 65536) == "optimal"
    assert resolve_init("auto", 1, 65536, AUTO_MAX_PAIRS // 65536 + 1) == "kmeans++"  # K rows of 65,536 splits
    assert resolve_init("auto", 3, 100, 2) == "kmeans++"

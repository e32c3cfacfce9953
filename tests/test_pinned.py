"""Pinned colours stay exactly in the palette while the other centres move."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant.kmeans import lloyd, weighted_kmeans
from napari_colorquant.pinned import check_fixed_colors, pinned_kmeans


def test_lloyd_never_moves_a_fixed_centre(china):
    rows, counts = np.unique(np.asarray(china).reshape(-1, 3), axis=0, return_counts=True)
    start = np.array([[255.0, 255.0, 255.0], [10.0, 200.0, 10.0], [100.0, 100.0, 100.0], [50.0, 50.0, 150.0]])
    fixed = np.array([True, True, False, False])
    fit = lloyd(rows, counts, start, max_iter=20, epsilon=0.0, fixed=fixed)
    np.testing.assert_array_equal(fit.centers[fixed], start[fixed])
    assert np.abs(fit.centers[~fixed] - start[~fixed]).max() > 5.0
    free = lloyd(rows, counts, start, max_iter=20, epsilon=0.0)
    assert np.abs(free.centers[fixed] - start[fixed]).max() > 5.0  # without pinning they would move


@pytest.mark.parametrize("attempts", [1, 3])
def test_pinned_kmeans_keeps_colours_and_fits_the_rest(china, attempts):
    rows, counts = np.unique(np.asarray(china)[::2, ::2].reshape(-1, 3), axis=0, return_counts=True)
    rows = rows.astype(np.float64)
    pinned = np.array([[255.0, 0.0, 0.0], [255.0, 255.0, 255.0]])
    fit = pinned_kmeans(rows, counts, 6, pinned, max_iter=30, epsilon=0.01, attempts=attempts, seed=0)
    np.testing.assert_array_equal(fit.centers[:2], pinned)
    # The free centres are a k-means fit of what the pinned colours leave: each is its cluster's mean.
    for k in range(2, 6):
        inside = fit.labels == k
        np.testing.assert_allclose(fit.centers[k], counts[inside] @ rows[inside] / counts[inside].sum(), atol=0.02)
    unpinned = weighted_kmeans(rows, counts, 6, max_iter=30, epsilon=0.01, seed=0)
    assert unpinned.inertia < fit.inertia  # pinning costs fit quality: it is a constraint


@pytest.mark.parametrize(
    ("colors", "match"),
    [
        ([[1, 2]], "3 value"),
        ([[0, 0, 0]] * 2, "twice"),
        ([[np.nan, 0, 0]], "finite"),
        ([[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3]], "larger"),
    ],
)
def test_bad_fixed_colors_are_named(colors, match):
    with pytest.raises(ValueError, match=match):
        check_fixed_colors(colors, 3, 4 if match != "twice" else 5)

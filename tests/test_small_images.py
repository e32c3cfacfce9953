"""Issue 12, small images: the shortcuts taken for small inputs give exactly what the general paths give."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant import pixels, quantize
from napari_colorquant.pixels import build_table, describe_image


def _tables(image: np.ndarray, mask: np.ndarray | None, monkeypatch: pytest.MonkeyPatch):
    array, layout, _ = describe_image(image, None, "rgb")
    by_sort = build_table(array, layout, mask)
    with monkeypatch.context() as patch:
        patch.setattr(pixels, "_SORT_COUNT_PIXELS", 0)  # every image counted by the 3-D histogram
        by_histogram = build_table(array, layout, mask)
    return by_sort, by_histogram


@pytest.mark.parametrize("case", ["whole", "masked", "strided"])
def test_sort_count_equals_histogram_count_and_unique(china, monkeypatch, case):
    image = china[::2, ::2] if case == "strided" else china[:160, :200]
    mask = None
    if case == "masked":
        mask = np.zeros(image.shape[:2], bool)
        mask[20:150, 30:170] = True
    by_sort, by_histogram = _tables(image, mask, monkeypatch)
    np.testing.assert_array_equal(by_sort.values, by_histogram.values)
    np.testing.assert_array_equal(by_sort.counts, by_histogram.counts)
    rows = image.reshape(-1, 3) if mask is None else image[mask]
    values, counts = np.unique(rows, axis=0, return_counts=True)
    order = np.lexsort(values.T)  # the tables order values by their packed key, blue most significant
    np.testing.assert_array_equal(by_sort.values, values[order])
    np.testing.assert_array_equal(by_sort.counts, counts[order])


@pytest.mark.parametrize("init", ["random", "kmeans++"])
def test_small_image_quantize_equals_histogram_path(china, monkeypatch, init):
    image = china[::2, ::2]
    small = quantize(image, 4, init=init, max_iter=10, epsilon=0.2, seed=3)
    with monkeypatch.context() as patch:
        patch.setattr(pixels, "_SORT_COUNT_PIXELS", 0)
        general = quantize(image, 4, init=init, max_iter=10, epsilon=0.2, seed=3)
    np.testing.assert_array_equal(small.model.means, general.model.means)
    np.testing.assert_array_equal(small.labels, general.labels)
    np.testing.assert_array_equal(small.quantized, general.quantized)
    assert small.model.n_iter == general.model.n_iter
    assert small.mse == general.mse

"""A float copy of an integer image (``image.astype(float32)``, ``image / 255``) is fitted as the integer image is:
its equal values are counted once (it was fitted pixel by pixel), so the k-means++ / EM starts draw from the same
weighted distinct values in the same order and the labels are the same, whatever the dtype or unit.

The reference for the fit itself is scikit-learn's ``KMeans`` on every pixel of the float image from the start
the run drew (scikit-learn's own Lloyd, no distinct values)."""

import dask.array as da
import numpy as np
import pytest

from napari_colorquant import kmeans, quantize
from napari_colorquant.samples import load_sample
from reference import match_clusters, relabel

PHOTO = load_sample("china")[::6, ::6]  # 72 x 107 RGB uint8: many repeated colours
COPIES = {
    "float32": lambda image: image.astype(np.float32),
    "float64": lambda image: image.astype(np.float64),
    "unit": lambda image: image.astype(np.float32) / 255,  # the same values in another unit
}


@pytest.fixture
def starts(monkeypatch):
    """What each k-means++ start was drawn from (seeds, weights) and the centres it drew."""
    drawn = []
    plusplus = kmeans.kmeans_plusplus

    def record(samples, weights, n_clusters, random_state):
        centers = plusplus(samples, weights, n_clusters, random_state)
        drawn.append((np.array(samples), np.array(weights), centers))
        return centers

    monkeypatch.setattr(kmeans, "kmeans_plusplus", record)
    return drawn


@pytest.mark.parametrize("copy", list(COPIES))
def test_float_copy_draws_its_kmeans_start_from_the_integer_images_distinct_values(starts, copy):
    integer = quantize(PHOTO, 5)
    floats = quantize(COPIES[copy](PHOTO), 5)
    (int_seeds, int_weights, int_start), (seeds, weights, start) = starts
    assert seeds.shape[0] < PHOTO.shape[0] * PHOTO.shape[1]  # distinct values, not every pixel
    # the features are the same (a float image in 0..1 is fitted in the units of its 8-bit twin)
    np.testing.assert_allclose(seeds, int_seeds, rtol=1e-6)
    np.testing.assert_array_equal(weights, int_weights)
    np.testing.assert_allclose(start, int_start, rtol=1e-6)
    np.testing.assert_array_equal(floats.labels, integer.labels)
    unit = 255.0 if copy == "unit" else 1.0  # the means are in the image's own unit
    np.testing.assert_allclose(floats.model.means * unit, integer.model.means, rtol=1e-6)
    assert floats.model.n_iter == integer.model.n_iter and floats.model.to_dict()["approximate"] is False


@pytest.mark.parametrize("copy", list(COPIES))
def test_float_copy_gets_the_integer_images_em_labels(copy):
    integer = quantize(PHOTO, 5, method="em")
    floats = quantize(COPIES[copy](PHOTO), 5, method="em")
    np.testing.assert_array_equal(floats.labels, integer.labels)
    assert floats.model.n_iter == integer.model.n_iter


def test_float_copy_of_a_channel_stack_lazy_and_in_memory_get_the_integer_labels():
    stack = load_sample("kidney")[:2]  # Z, C, Y, X uint16
    integer = quantize(stack, 4, channel_axis=1)
    floats = stack.astype(np.float32)
    np.testing.assert_array_equal(quantize(floats, 4, channel_axis=1).labels, integer.labels)
    lazy = quantize(da.from_array(floats, chunks=(1, 3, 64, 64)), 4, channel_axis=1)
    np.testing.assert_array_equal(np.asarray(lazy.labels), integer.labels)


def test_float_fit_from_its_start_is_scikit_learns_kmeans_on_every_pixel(starts):
    from sklearn.cluster import KMeans

    image = COPIES["float32"](PHOTO)
    result = quantize(image, 5, epsilon=0.0)
    (_, _, start) = starts[-1]
    pixels = image.reshape(-1, 3).astype(np.float64)
    reference = KMeans(5, init=start, n_init=1, max_iter=300, tol=0.0, algorithm="lloyd").fit(pixels)
    match = match_clusters(result.model.means, reference.cluster_centers_)
    np.testing.assert_array_equal(result.labels.reshape(-1), relabel(reference.labels_, match))


def test_float_copy_above_max_samples_pixels_is_counted_when_its_values_are_whole_numbers():
    """Above ``max_samples`` pixels a float image was sampled pixel by pixel; a copy of an integer image (whole
    numbers) is counted as the integer image is, exactly when its distinct values fit; other floats are sampled."""
    n_pixels = PHOTO.shape[0] * PHOTO.shape[1]
    n_distinct = np.unique(PHOTO.reshape(-1, 3), axis=0).shape[0]
    assert n_distinct < n_pixels
    limit = (n_distinct + n_pixels) // 2  # fewer than the pixels, more than the distinct values
    integer = quantize(PHOTO, 5, max_samples=limit)
    floats = quantize(PHOTO.astype(np.float32), 5, max_samples=limit)
    assert not integer.approximate and not floats.approximate
    np.testing.assert_array_equal(floats.labels, integer.labels)
    assert quantize(PHOTO.astype(np.float32) / 255, 5, max_samples=limit).approximate  # a sample, as before

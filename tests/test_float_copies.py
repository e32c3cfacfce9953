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


# --- dask: a float image above max_samples pixels is counted by chunks when its values are whole numbers -----------

CHUNKS = (30, 40, 3)  # 3 x 3 chunks of PHOTO, the last ones partial


def _limits():
    """A max_samples between the distinct values and the pixels of PHOTO, and one below the distinct values."""
    n_pixels = PHOTO.shape[0] * PHOTO.shape[1]
    n_distinct = np.unique(PHOTO.reshape(-1, 3), axis=0).shape[0]
    assert n_distinct < n_pixels
    return (n_distinct + n_pixels) // 2, n_distinct // 2


@pytest.mark.parametrize("copy", ["float32", "float64"])  # whole numbers (a copy in 0..1 is sampled, as in memory)
@pytest.mark.parametrize("method", ["kmeans", "em"])
def test_dask_float_copy_above_max_samples_pixels_gets_the_in_memory_and_integer_labels(copy, method):
    """It was sampled chunk by chunk (a different fit: 0.2 % of china's pixels labelled differently at K = 5)."""
    limit, _ = _limits()
    image = COPIES[copy](PHOTO)
    integer = quantize(PHOTO, 5, method=method, max_samples=limit)
    memory = quantize(image, 5, method=method, max_samples=limit)
    lazy = quantize(da.from_array(image, chunks=CHUNKS), 5, method=method, max_samples=limit)
    assert not lazy.model.approximate and lazy.n_valid == PHOTO.shape[0] * PHOTO.shape[1]
    np.testing.assert_array_equal(lazy.model.means, memory.model.means)
    np.testing.assert_array_equal(np.asarray(lazy.labels), memory.labels)
    np.testing.assert_array_equal(np.asarray(lazy.labels), integer.labels)
    np.testing.assert_array_equal(lazy.fit_counts, memory.table.counts)
    assert lazy.model.n_iter == integer.model.n_iter


def test_dask_float_copy_of_a_gray_16_bit_image_gets_the_integer_labels(hela_u16):
    stack = np.stack([hela_u16, hela_u16[::-1]])
    floats = stack.astype(np.float32)
    limit = 20_000  # fewer than the 131 072 pixels, more than their distinct values
    assert np.unique(stack).size < limit
    integer = quantize(stack, 4, max_samples=limit)
    lazy = quantize(da.from_array(floats, chunks=(1, 100, 128)), 4, max_samples=limit)
    assert not lazy.model.approximate
    np.testing.assert_array_equal(np.asarray(lazy.labels), integer.labels)
    np.testing.assert_array_equal(lazy.model.means, quantize(floats, 4, max_samples=limit).model.means)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_dask_run_with_more_distinct_values_than_max_samples_fits_on_the_in_memory_sample(dtype):
    """In memory, more counted distinct values than max_samples: the fit runs on a sample drawn from them; the
    chunked run fitted on all of them (uint8) or on a chunk-wise sample of pixels (float): other means."""
    _, limit = _limits()
    image = PHOTO.astype(dtype)
    memory = quantize(image, 5, max_samples=limit, seed=3)
    lazy = quantize(da.from_array(image, chunks=CHUNKS), 5, max_samples=limit, seed=3)
    assert memory.model.approximate and lazy.model.approximate
    assert lazy.model.n_fit_pixels == memory.model.n_fit_pixels
    np.testing.assert_array_equal(lazy.model.means, memory.model.means)
    np.testing.assert_array_equal(np.asarray(lazy.labels), memory.labels)
    assert lazy.mse == pytest.approx(memory.mse, rel=1e-9)  # from every pixel's value, not from the sample


def test_dask_float_run_from_its_start_is_scikit_learns_kmeans_on_every_pixel(starts):
    from sklearn.cluster import KMeans

    limit, _ = _limits()
    image = COPIES["float32"](PHOTO)
    result = quantize(da.from_array(image, chunks=CHUNKS), 5, epsilon=0.0, max_samples=limit)
    (_, _, start) = starts[-1]
    pixels = image.reshape(-1, 3).astype(np.float64)
    reference = KMeans(5, init=start, n_init=1, max_iter=300, tol=0.0, algorithm="lloyd").fit(pixels)
    match = match_clusters(result.model.means, reference.cluster_centers_)
    np.testing.assert_array_equal(np.asarray(result.labels).reshape(-1), relabel(reference.labels_, match))


def test_dask_float_image_with_whole_and_fractional_chunks_is_a_reproducible_sample_of_every_chunk():
    """Whole-number chunks (a flat background) and fractional ones: a sample, each chunk its share."""
    image = PHOTO.astype(np.float32) / 255
    image[:60, :80] = np.rint(image[:60, :80] * 4)  # the first 2 x 2 chunks hold whole numbers only
    data = da.from_array(image, chunks=CHUNKS)
    limit = 2000
    runs = [quantize(data, 4, max_samples=limit, seed=seed) for seed in (1, 1, 2)]
    assert all(run.model.approximate for run in runs)
    assert limit <= runs[0].fit_counts.sum() <= limit + 9  # each of the 9 chunks rounds its share up
    whole = np.isin(runs[0].fit_values, np.arange(5)).all(axis=1)
    share = 60 * 80 / image[..., 0].size
    assert runs[0].fit_counts[whole].sum() == pytest.approx(limit * share, abs=4)
    np.testing.assert_array_equal(runs[0].model.means, runs[1].model.means)
    assert not np.array_equal(runs[0].fit_counts, runs[2].fit_counts)
    np.testing.assert_array_equal(np.asarray(runs[0].labels), runs[0].model.predict(image))


def test_dask_float_chunks_are_counted_without_each_pixels_index(monkeypatch):
    """Each chunk's table of a float image up to max_samples pixels built every pixel's index into its values (for
    whole numbers a prefix sum over 2**24 entries per chunk: 7 s of CPU for china's float copy in 70 chunks)."""
    from napari_colorquant import pixels

    indexed = []
    real = pixels.unique_float_rows
    monkeypatch.setattr(pixels, "unique_float_rows", lambda *a: indexed.append(a[0].shape) or real(*a))
    image = PHOTO.astype(np.float32)
    lazy = quantize(da.from_array(image, chunks=(16, 16, 3)), 5)
    assert indexed == []
    np.testing.assert_array_equal(np.asarray(lazy.labels), quantize(PHOTO, 5).labels)
    fractional = quantize(da.from_array(image / 255, chunks=(16, 16, 3)), 5)
    np.testing.assert_array_equal(np.asarray(fractional.labels), quantize(image / 255, 5).labels)


def test_explorer_data_of_a_lazy_run_fitted_on_a_sample_of_its_counted_values_says_counted():
    from napari_colorquant.explore import feature_data

    _, limit = _limits()
    data = da.from_array(PHOTO, chunks=CHUNKS)
    result = quantize(data, 5, max_samples=limit)
    assert result.model.approximate and result.n_valid == PHOTO.shape[0] * PHOTO.shape[1]
    assert feature_data(result, data).exact  # every pixel's value counted; only the fit ran on a sample
    sampled = quantize(data.astype(np.float32) / 255, 5, max_samples=limit)
    assert not feature_data(sampled, data.astype(np.float32) / 255).exact

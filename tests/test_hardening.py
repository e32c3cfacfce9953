"""Regression tests for issue 8 items 1-4, 10-12 and 14: exact, unit-free, byte-order-free results."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from napari_colorquant import ClusterModel, apply_model, quantize
from napari_colorquant.lazy import apply_lazy
from reference import match_clusters, pixel_lloyd, relabel


def _brute_labels(image: np.ndarray, model: ClusterModel, channel_axis=None) -> np.ndarray:
    """Nearest centre of every pixel by brute force (k-means models in channel/rgb space)."""
    rows = np.moveaxis(image, -1 if channel_axis is None else channel_axis, -1)
    rows = rows.reshape(-1, rows.shape[-1])[:, : model.n_channels].astype(np.float64)
    distances = ((rows[:, None, :] - model.means[None]) ** 2).sum(axis=2)
    return distances.argmin(axis=1) + 1


# --- item 1: wide integer pixels are counted exactly -----------------------------------------


def test_uint32_rgb_last_channel_is_not_dropped():
    image = np.zeros((2, 2, 3), np.uint32)
    image[0, 0, 2] = 1000
    result = quantize(image, 2)
    assert sorted(result.cluster_counts().tolist()) == [1, 3]
    assert result.mse == 0
    np.testing.assert_array_equal(result.quantized, image)


@pytest.mark.parametrize(
    ("dtype", "channels"), [(np.uint32, 3), (np.int32, 3), (np.uint16, 5), (np.uint16, 8), (np.uint8, 9)]
)
@pytest.mark.parametrize("lazy", [False, True])
def test_wide_pixels_match_pixel_lloyd(dtype, channels, lazy):
    rng = np.random.default_rng(channels)
    info = np.iinfo(dtype)
    palette = rng.integers(info.min, info.max, size=(4, channels), dtype=np.int64, endpoint=True)
    image = palette[rng.integers(0, 4, size=(12, 10))].astype(dtype)
    # Colours differing only in the last channel must stay apart.
    image[0, :5, -1] = info.min
    image[0, 5:, -1] = info.max
    axis = 2 if channels != 3 else None
    init = palette[:3].astype(np.float64)
    data = da.from_array(image, chunks=(5, 4, channels)) if lazy else image
    result = quantize(data, 3, init=init, channel_axis=axis, color_space="channels" if axis else "rgb")
    rows = image.reshape(-1, channels)
    centers, labels, _ = pixel_lloyd(rows, init, max_iter=10, epsilon=0.2)
    match = match_clusters(result.model.means, centers, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(result.labels).reshape(-1), relabel(labels, match))
    distinct = np.unique(rows, axis=0).shape[0]
    assert result.n_valid == rows.shape[0]
    if not lazy:
        assert result.fit_values.shape[0] == distinct
        assert result.fit_counts.sum() == rows.shape[0]


def test_uint16_eight_channel_stack_counts_every_distinct_value():
    rng = np.random.default_rng(1)
    stack = rng.integers(0, 65536, size=(8, 20, 20), dtype=np.uint16)
    stack[:, :10] = stack[:, :1, :1]  # many repeats
    result = quantize(stack, 4, channel_axis=0)
    rows = np.moveaxis(stack, 0, -1).reshape(-1, 8)
    values, counts = np.unique(rows, axis=0, return_counts=True)
    order = np.lexsort(values.T)
    np.testing.assert_array_equal(result.fit_values, values[order])
    np.testing.assert_array_equal(result.fit_counts, counts[order])
    np.testing.assert_array_equal(result.labels.reshape(-1), _brute_labels(stack, result.model, channel_axis=0))
    lazy = quantize(da.from_array(stack, chunks=(8, 7, 9)), 4, channel_axis=0)
    np.testing.assert_array_equal(lazy.model.means, result.model.means)
    np.testing.assert_array_equal(lazy.labels.compute(), result.labels)
    assert not lazy.model.approximate


# --- item 2: nothing valid in a chunk or an image --------------------------------------------


def test_lazy_labels_with_an_all_nan_chunk():
    rng = np.random.default_rng(0)
    image = rng.random((20, 20, 3)).astype(np.float32)
    image[:10, :10] = np.nan
    lazy = quantize(da.from_array(image, chunks=(10, 10, 3)), 3, max_samples=None)
    labels = lazy.labels.compute()
    assert (labels[:10, :10] == 0).all() and (labels[10:, 10:] > 0).all()
    np.testing.assert_array_equal(labels, quantize(image, 3).labels)
    quantized = lazy.quantized.compute()
    assert np.isnan(quantized[:10, :10]).all()


def test_lazy_labels_with_a_chunk_outside_the_mask():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)
    mask = np.ones((20, 20), bool)
    mask[10:, 10:] = False
    lazy = quantize(da.from_array(image, chunks=(10, 10, 3)), 3, mask=mask)
    np.testing.assert_array_equal(lazy.labels.compute(), quantize(image, 3, mask=mask).labels)


@pytest.mark.parametrize("method", ["kmeans", "em"])
def test_predicting_nothing_valid_gives_label_zero(method):
    rng = np.random.default_rng(0)
    image = rng.random((16, 16, 3))
    model = quantize(image, 3, method=method).model
    empty = np.full_like(image, np.nan)
    np.testing.assert_array_equal(model.predict(empty), np.zeros((16, 16), np.uint8))
    nothing = np.zeros((16, 16), bool)
    np.testing.assert_array_equal(model.predict(image, mask=nothing), np.zeros((16, 16), np.uint8))
    result = apply_model(model, empty)
    assert (result.labels == 0).all() and result.n_valid == 0
    np.testing.assert_array_equal(result.quantized, empty)
    lazy = apply_lazy(model, da.from_array(empty, chunks=(8, 8, 3)))
    assert (np.asarray(lazy.labels.compute()) == 0).all()
    if method == "em":
        proba = model.predict_proba(empty)
        assert proba.shape == (16, 16, 3) and (proba == 0).all()
    with pytest.raises(ValueError, match="nothing to cluster"):
        quantize(empty, 3, method=method)


# --- item 3: RGBA dask arrays ---------------------------------------------------------------


def test_rgba_dask_array_matches_in_memory():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (24, 20, 4), dtype=np.uint8)
    eager = quantize(image, 4)
    lazy = quantize(da.from_array(image, chunks=(7, 6, 4)), 4)
    np.testing.assert_array_equal(lazy.model.means, eager.model.means)
    np.testing.assert_array_equal(lazy.labels.compute(), eager.labels)
    np.testing.assert_array_equal(lazy.quantized.compute(), eager.quantized)
    applied = apply_lazy(eager.model, da.from_array(image, chunks=(7, 6, 4)))
    np.testing.assert_array_equal(applied.quantized.compute(), eager.quantized)


# --- items 1-3 through the command line -----------------------------------------------------


def test_cli_six_channel_uint16_tiff_is_exact(tmp_path):
    import tifffile

    from napari_colorquant.cli import main
    from napari_colorquant.files import read_image

    rng = np.random.default_rng(3)
    palette = rng.integers(0, 65536, size=(3, 6), dtype=np.int64)
    palette[1, :5] = palette[0, :5]  # clusters 0 and 1 differ only in the last channel
    stack = np.moveaxis(palette[rng.integers(0, 3, size=(16, 16))], -1, 0).astype(np.uint16)
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    assert main([str(tmp_path / "stack.tif"), "--channel-axis", "0", "-k", "3", "-o", str(tmp_path / "o"), "-q"]) == 0
    labels = read_image(tmp_path / "o" / "stack_labels.tif")
    np.testing.assert_array_equal(labels, quantize(stack, 3, channel_axis=0).labels)
    quantized = read_image(tmp_path / "o" / "stack_quantized.tif")
    np.testing.assert_array_equal(quantized, stack)  # three colours, three clusters: exact


def test_cli_zarr_with_a_nan_tile_and_rgba_zarr(tmp_path):
    from napari_colorquant.cli import main

    rng = np.random.default_rng(4)
    image = rng.random((32, 32, 3)).astype(np.float32)
    image[:16, :16] = np.nan
    da.from_array(image, chunks=(16, 16, 3)).to_zarr(str(tmp_path / "nan.zarr"))
    assert main([str(tmp_path / "nan.zarr"), "-k", "3", "-o", str(tmp_path / "a"), "-q"]) == 0
    labels = da.from_zarr(str(tmp_path / "a" / "nan_labels.zarr")).compute()
    assert (labels[:16, :16] == 0).all() and (labels[16:, 16:] > 0).all()

    rgba = rng.integers(0, 256, (32, 32, 4), dtype=np.uint8)
    da.from_array(rgba, chunks=(16, 16, 4)).to_zarr(str(tmp_path / "rgba.zarr"))
    assert main([str(tmp_path / "rgba.zarr"), "-k", "4", "-o", str(tmp_path / "b"), "-q"]) == 0
    labels = da.from_zarr(str(tmp_path / "b" / "rgba_labels.zarr")).compute()
    np.testing.assert_array_equal(labels, quantize(rgba, 4).labels)


# --- item 10: byte order is not meaning -----------------------------------------------------


@pytest.mark.parametrize("dtype", [">u2", ">f4", ">i4"])
@pytest.mark.parametrize("method", ["kmeans", "em"])
def test_big_endian_arrays_fit_predict_and_match_native(dtype, method):
    rng = np.random.default_rng(5)
    native = (rng.random((20, 18)) * 1000).astype(np.dtype(dtype).newbyteorder("="))
    swapped = native.astype(dtype)
    assert not swapped.dtype.isnative
    expected = quantize(native, 3, method=method)
    result = quantize(swapped, 3, method=method)
    np.testing.assert_array_equal(result.labels, expected.labels)
    np.testing.assert_array_equal(result.model.means, expected.model.means)
    np.testing.assert_array_equal(result.model.predict(swapped), expected.labels)
    np.testing.assert_array_equal(apply_model(result.model, swapped).quantized, expected.quantized)


def test_big_endian_dask_rgb_matches_native():
    rng = np.random.default_rng(6)
    native = rng.integers(0, 65536, (16, 16, 3), dtype=np.uint16)
    swapped = da.from_array(native.astype(">u2"), chunks=(8, 8, 3))
    expected = quantize(native, 4)
    result = quantize(swapped, 4)
    np.testing.assert_array_equal(result.labels.compute(), expected.labels)
    np.testing.assert_array_equal(result.quantized.compute(), expected.quantized)
    np.testing.assert_array_equal(apply_lazy(expected.model, swapped).labels.compute(), expected.labels)


# --- item 11: conversions that assume [0, scale] refuse other values -------------------------


@pytest.mark.parametrize("space", ["lab", "lab-chroma"])
def test_lab_on_negative_int8_is_refused_clearly(space):
    rng = np.random.default_rng(7)
    image = rng.integers(-128, 128, (10, 10, 3), dtype=np.int64).astype(np.int8)
    with pytest.raises(ValueError, match=rf"color_space='{space}'.*\[0, 127\].*'rgb'"):
        quantize(image, 3, color_space=space)
    with pytest.raises(ValueError, match="color_space"):
        quantize(da.from_array(image, chunks=(5, 5, 3)), 3, color_space=space)
    # In range it works, and a model refuses values beyond the range it was fitted on.
    model = quantize(np.abs(image.astype(np.int16)).clip(0, 127).astype(np.int8), 3, color_space=space).model
    with pytest.raises(ValueError, match="color_space"):
        model.predict(image)
    assert quantize(image, 3, color_space="ycrcb").model.n_clusters == 3


# --- item 12: the lazy float fit is the in-memory fit ---------------------------------------


@pytest.mark.parametrize("method", ["kmeans", "em"])
def test_lazy_float_fit_equals_in_memory_with_kmeans_plus_plus(method):
    rng = np.random.default_rng(8)
    image = rng.random((30, 26, 3)).astype(np.float32)
    image[rng.random((30, 26)) < 0.1] = np.nan
    eager = quantize(image, 4, method=method, seed=3)
    lazy = quantize(da.from_array(image, chunks=(7, 11, 3)), 4, method=method, seed=3)
    assert not lazy.model.approximate and not eager.model.approximate
    np.testing.assert_array_equal(lazy.model.means, eager.model.means)
    np.testing.assert_array_equal(lazy.labels.compute(), eager.labels)


# --- item 4: results do not depend on the data's unit ----------------------------------------


def _three_blobs(rng, n=300):
    centres = np.array([[0.2, 0.3, 0.7], [0.6, 0.5, 0.2], [0.9, 0.8, 0.9]])
    spread = np.array([0.02, 0.05, 0.03])[:, None]
    which = rng.integers(0, 3, n)
    return (centres[which] + rng.normal(size=(n, 3)) * spread[which]).reshape(15, 20, 3)


@pytest.mark.parametrize("method", ["kmeans", "em"])
def test_scaling_a_float_image_changes_no_label(method):
    image = _three_blobs(np.random.default_rng(9))
    expected = quantize(image, 3, method=method)
    for factor in (1e-6, 1e-4, 1e6):
        result = quantize(image * factor, 3, method=method)
        np.testing.assert_array_equal(result.labels, expected.labels)
        np.testing.assert_allclose(result.model.means, expected.model.means * factor, rtol=1e-6)
        assert result.model.n_iter == expected.model.n_iter
    assert len(np.unique(expected.labels)) == 3


@pytest.mark.parametrize("contrast", ["full range", "dim"])
def test_em_gives_the_same_labels_for_an_integer_image_in_another_unit(china, contrast):
    # EM stops on the log-likelihood relative to its size, which the unit of the values shifts: an 8-bit
    # photo and the same photo as 16-bit (x 256, or x 100 + 7) are the same data. (A float copy is fitted
    # pixel by pixel, whose k-means++ draws differ from those on the distinct values: not compared here.)
    image = china[::2, ::2] if contrast == "full range" else (china[::2, ::2] // 3 + 20).astype(np.uint8)
    expected = quantize(image, 6, method="em")
    copies = {
        "uint16 x 256": image.astype(np.uint16) * 256,
        "uint16 x 100 + 7": image.astype(np.uint16) * 100 + 7,
    }
    for name, copy in copies.items():
        result = quantize(copy, 6, method="em")
        assert result.model.n_iter == expected.model.n_iter, name
        np.testing.assert_array_equal(result.labels, expected.labels, err_msg=name)


def test_em_on_small_valued_float_data_finds_every_cluster():
    image = _three_blobs(np.random.default_rng(10)) * 1e-4
    result = quantize(image, 3, method="em")
    assert sorted(np.bincount(result.labels.reshape(-1), minlength=4)[1:] > 30) == [True] * 3


def test_em_on_int32_gray_rgb_gives_the_grey_levels():
    rng = np.random.default_rng(11)
    levels = np.array([-2_000_000_000, 0, 2_000_000_000], np.int64)
    grey = levels[rng.integers(0, 3, (12, 12))] + rng.integers(-1_000_000, 1_000_000, (12, 12))
    image = np.repeat(grey[..., None], 3, axis=2).astype(np.int32)  # R = G = B
    result = quantize(image, 3, method="em")
    truth = np.searchsorted([-1e9, 1e9], grey) + 1
    np.testing.assert_array_equal(result.labels, truth)

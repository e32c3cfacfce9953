"""Chunked (dask) data: the same model as in memory, lazy labels, pyramids, a distributed cluster."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

from napari_colorquant import quantize
from napari_colorquant.lazy import pick_level, quantize_multiscale


def _same(lazy, eager):
    np.testing.assert_array_equal(lazy.model.means, eager.model.means)
    assert isinstance(lazy.labels, da.Array) and isinstance(lazy.quantized, da.Array)
    np.testing.assert_array_equal(lazy.labels.compute(), eager.labels)
    np.testing.assert_array_equal(lazy.quantized.compute(), eager.quantized)
    assert lazy.mse == pytest.approx(eager.mse, rel=1e-12)
    assert not lazy.model.approximate


@pytest.mark.parametrize("method", ["kmeans", "em"])
@pytest.mark.parametrize("space", ["rgb", "ycrcb-chroma"])
def test_rgb_chunks_give_the_in_memory_model(china, method, space):
    image = china[:250, :340]  # 3 x 3 chunks, two of them partial
    lazy = quantize(da.from_array(image, chunks=(100, 150, 3)), 6, method=method, color_space=space)
    eager = quantize(image, 6, method=method, color_space=space)
    _same(lazy, eager)


def test_uint16_stack_chunks_give_the_in_memory_model(hela_u16):
    stack = np.stack([hela_u16, hela_u16[::-1], hela_u16[:, ::-1]])
    lazy = quantize(da.from_array(stack, chunks=(1, 100, 128)), 4)
    _same(lazy, quantize(stack, 4))
    assert lazy.labels.chunks == ((1, 1, 1), (100, 100, 56), (128, 128))


def test_multichannel_chunks_and_mask(kidney_zcyx):
    mask = np.zeros((4, 64, 64), bool)
    mask[:, 10:50, 5:60] = True
    data = da.from_array(kidney_zcyx, chunks=(1, 1, 32, 32))  # the channel axis is rechunked whole
    lazy = quantize(data, 3, channel_axis=1, mask=mask, max_samples=None)
    _same(lazy, quantize(kidney_zcyx, 3, channel_axis=1, mask=mask))
    assert (lazy.labels.compute()[~mask] == 0).all()


def test_exploding_values_are_sampled_reproducibly_and_flagged(kidney_zcyx):
    data = da.from_array(kidney_zcyx, chunks=(1, 3, 32, 32))
    a = quantize(data, 3, channel_axis=1, max_samples=2000, seed=4)
    b = quantize(data, 3, channel_axis=1, max_samples=2000, seed=4)
    assert a.model.approximate and 2000 <= a.model.n_fit_pixels <= 2000 + 16
    np.testing.assert_array_equal(a.model.means, b.model.means)
    # Every pixel is still labelled exactly by the fitted model.
    np.testing.assert_array_equal(a.labels.compute(), a.model.predict(kidney_zcyx, channel_axis=1))


def test_float_chunks_with_nan_match_in_memory_from_the_same_start(flower):
    image = (flower / 255).astype(np.float32)
    image[3:9, 5:9] = np.nan
    init = image[[100, 200, 300], [100, 200, 300]].astype(float)
    lazy = quantize(da.from_array(image, chunks=(128, 128, 3)), 3, init=init, max_samples=None)
    eager = quantize(image, 3, init=init)
    np.testing.assert_array_equal(lazy.model.means, eager.model.means)
    np.testing.assert_array_equal(lazy.labels.compute(), eager.labels)
    assert (lazy.labels[3:9, 5:9].compute() == 0).all()


def test_nothing_is_computed_until_asked(china):
    calls = []

    def counting(block):
        if block.size:  # dask may probe the function with an empty array for metadata
            calls.append(block.shape)
        return block

    data = da.from_array(china, chunks=(100, 128, 3)).map_blocks(counting, dtype=china.dtype)
    result = quantize(data, 4)
    fitted = len(calls)
    assert fitted == 25  # one pass over the 5 x 5 chunks to count
    window = result.labels[:100, :128].compute()
    assert len(calls) == fitted + 1 and window.shape == (100, 128)


def test_pyramid_fits_on_the_finest_level_within_budget(camera):
    levels = [camera, camera[::2, ::2], camera[::4, ::4]]
    assert pick_level([lv.shape for lv in levels], pixel_budget=70_000) == 1
    result = quantize_multiscale(levels, 4, pixel_budget=70_000)
    assert result.fit_level == 1 and result.model.params["fit_level"] == 1
    np.testing.assert_array_equal(result.model.means, quantize(levels[1], 4).model.means)
    for level, labels in zip(levels, result.labels, strict=True):
        assert isinstance(labels, da.Array) and labels.shape == level.shape
        np.testing.assert_array_equal(labels.compute(), result.model.predict(level))
    assert [q.shape for q in result.quantized] == [lv.shape for lv in levels]


def test_lazy_bad_input():
    with pytest.raises(ValueError, match="engine='opencv' needs the whole image in memory"):
        quantize(da.zeros((10, 10), dtype=np.uint8, chunks=5), 1, engine="opencv")
    with pytest.raises(ValueError, match="nothing to cluster: all pixels are NaN"):
        quantize(da.full((10, 10), np.nan, chunks=5), 2)
    with pytest.raises(ValueError, match=r"mask shape \(3, 3\) does not match"):
        quantize(da.zeros((10, 10), dtype=np.uint8, chunks=5), 1, mask=np.ones((3, 3), bool))


def test_local_cluster_gives_the_in_memory_result(hela_u16, china, dask_cluster):
    distributed = pytest.importorskip("distributed")
    with distributed.Client(dask_cluster) as client:
        assert dask.base.get_scheduler() == client.get
        stack = np.stack([hela_u16, hela_u16.T])
        lazy = quantize(da.from_array(stack, chunks=(1, 128, 128)), 3)
        _same(lazy, quantize(stack, 3))
        photo = china[::2, ::2]  # 214 x 320: still 3 x 4 chunks, a quarter of the EM work
        lazy_rgb = quantize(da.from_array(photo, chunks=(100, 100, 3)), 5, method="em", color_space="lab")
        _same(lazy_rgb, quantize(photo, 5, method="em", color_space="lab"))


@pytest.mark.parametrize("method", ["kmeans", "em"])
@pytest.mark.parametrize("k", [2, 5, 12])
def test_gray_lookup_paths_match_predict(hela_u16, method, k):
    # k-means on gray gives a staircase of labels (compared, not looked up); EM may not.
    data = da.from_array(np.asarray(hela_u16), chunks=(100, 100))
    result = quantize(data, k, method=method, covariance="spherical", epsilon=0.0)
    np.testing.assert_array_equal(result.labels.compute(), result.model.predict(np.asarray(hela_u16)))
    mask = np.zeros(hela_u16.shape, bool)
    mask[20:200, 30:90] = True
    masked = quantize(data, k, method=method, mask=mask, max_samples=None)
    labels = masked.labels.compute()
    assert (labels[~mask] == 0).all()
    np.testing.assert_array_equal(labels, masked.model.predict(np.asarray(hela_u16), mask=mask))


def test_kmeans_gray_labels_form_a_staircase(hela_u16):
    from napari_colorquant.lazy import _dense_lut, _unit_steps
    from napari_colorquant.pixels import describe_image

    model = quantize(np.asarray(hela_u16), 4).model
    _, layout, _ = describe_image(np.asarray(hela_u16))
    lut = _dense_lut(model, layout, quantized=False)
    thresholds = _unit_steps(lut)
    assert thresholds is not None and len(thresholds) == 3
    values = np.arange(65536)
    np.testing.assert_array_equal(1 + (values[:, None] >= thresholds).sum(axis=1), lut)


def test_the_front_door_keeps_dask_lazy_and_says_so_on_the_result():
    from napari_colorquant.quantize import as_array, channel_ranges

    image = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8)
    lazy = da.from_array(image, chunks=(2, 4, 4))
    assert as_array(lazy) is lazy
    assert isinstance(as_array(image.tolist()), np.ndarray)
    strided = image[:, ::2]
    assert not strided.flags.c_contiguous and as_array(strided, contiguous=True).flags.c_contiguous
    assert channel_ranges(image, 0) == [(0.0, 63.0), (64.0, 127.0)]
    assert channel_ranges(lazy, 0) is None  # not read just for display limits
    eager_result = quantize(image, 2, channel_axis=0)
    lazy_result = quantize(lazy, 2, channel_axis=0)
    assert not eager_result.lazy and lazy_result.lazy
    np.testing.assert_array_equal(lazy_result.cluster_counts(), eager_result.cluster_counts())


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("masked", [False, True])
def test_gray_chunk_histograms_give_the_in_memory_table(hela_u16, dtype, masked):
    # Gray uint8/uint16 chunks are counted into dense histograms and summed: the merged values and
    # counts must be the in-memory table's, value for value, in its order and dtype.
    from napari_colorquant.lazy import _layout_for, collect_samples
    from napari_colorquant.pixels import build_table, describe_image

    image = np.asarray(hela_u16) if dtype == np.uint16 else (np.asarray(hela_u16) >> 4).astype(np.uint8)
    stack = np.stack([image, image[::-1], image[:, ::-1].T])
    mask = None
    if masked:
        mask = np.zeros(stack.shape, bool)
        mask[:, 17:230, 40:201] = True
        mask[1] = False  # a whole chunk row with nothing valid
    data, layout, _ = _layout_for(da.from_array(stack, chunks=(2, 100, 77)), None, "auto")
    dask_mask = None if mask is None else da.from_array(mask, chunks=(2, 100, 77))
    lazy = collect_samples(data, layout, dask_mask, None, 0)
    _, eager_layout, _ = describe_image(stack)
    table = build_table(stack, eager_layout, mask, max_samples=None)
    assert lazy.exact
    assert lazy.values.dtype == table.values.dtype and lazy.values.shape == table.values.shape
    np.testing.assert_array_equal(lazy.values, table.values)
    np.testing.assert_array_equal(lazy.counts, table.counts)
    assert lazy.counts.sum() == (stack.size if mask is None else mask.sum())


def test_staircase_labels_slice_by_slice_match_the_lookup_table(hela_u16, monkeypatch):
    # Slices smaller than a chunk, the last one partial: every pixel gets the table's label.
    from napari_colorquant import lazy as lazy_module

    monkeypatch.setattr(lazy_module, "_STEP_SLICE", 1000)
    image = np.asarray(hela_u16)
    mask = np.ones(image.shape, bool)
    mask[::7, ::5] = False
    result = quantize(da.from_array(image, chunks=(97, 131)), 5, mask=mask)
    labels = result.labels.compute()
    expected = result.model.predict(image, mask=mask)
    np.testing.assert_array_equal(labels, expected)
    assert (labels[~mask] == 0).all() and labels[mask].min() == 1 and labels.max() == 5


@pytest.mark.parametrize("masked", [False, True])
def test_gray_with_a_channel_axis_of_one_gives_the_in_memory_result(hela_u16, masked):
    # The lookup paths once kept the length-one channel axis on the labels and failed with a mask.
    image = np.asarray(hela_u16)[None]
    mask = None
    if masked:
        mask = np.zeros(image.shape[1:], bool)
        mask[10:200, 20:150] = True
    lazy = quantize(da.from_array(image, chunks=(1, 100, 100)), 3, channel_axis=0, mask=mask)
    eager = quantize(image, 3, channel_axis=0, mask=mask)
    assert lazy.labels.shape == eager.labels.shape == image.shape[1:]
    _same(lazy, eager)

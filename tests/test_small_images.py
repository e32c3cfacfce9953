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


@pytest.mark.parametrize("n_clusters", [2, 4, 16])
def test_one_chunk_per_thread_assignment_equals_cache_blocks(monkeypatch, n_clusters):
    from napari_colorquant import kmeans

    rng = np.random.default_rng(n_clusters)
    samples = rng.integers(0, 256, size=(100_003, 3)).astype(np.float64)
    centers = samples[:n_clusters] + 0.5
    assert kmeans._rows_per_task(samples.shape[0], n_clusters) != kmeans._block_shape(n_clusters)[0]
    labels, distances = kmeans.nearest_center(samples, centers)
    with monkeypatch.context() as patch:
        patch.setattr(kmeans, "_rows_per_task", lambda n, k: kmeans._block_shape(k)[0])
        blocked_labels, blocked_distances = kmeans.nearest_center(samples, centers)
    np.testing.assert_array_equal(labels, blocked_labels)
    np.testing.assert_array_equal(distances, blocked_distances)
    brute = ((samples[:, None, :] - centers[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels, brute.argmin(axis=1))


def test_run_all_keeps_task_order_and_waits_for_every_task_before_raising():
    import threading

    from napari_colorquant import _threads

    if _threads.n_threads() == 1:
        pytest.skip("one thread: run_all runs the tasks one after the other")
    assert _threads.run_all([lambda i=i: i * i for i in range(5)]) == [0, 1, 4, 9, 16]
    finished = []
    release = threading.Event()

    def slow():
        release.wait(5)
        finished.append(True)

    def failing():
        release.set()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        _threads.run_all([failing, slow])
    assert finished == [True]


def test_weighted_draw_is_random_state_choice():
    from napari_colorquant.kmeans import _weighted_draw

    rng = np.random.default_rng(7)
    for n in (1, 2, 5, 1000, 100_000):
        weight = rng.integers(1, 300, size=n).astype(np.float64)
        for seed in range(40):
            theirs, ours = np.random.RandomState(seed), np.random.RandomState(seed)
            assert _weighted_draw(weight, ours) == theirs.choice(n, p=weight / weight.sum())
            assert ours.random_sample() == theirs.random_sample()  # the same stream afterwards


def test_masked_pixels_get_the_fill_whatever_the_lookup_table_held(china):
    image = china[:120, :160]
    mask = np.zeros(image.shape[:2], bool)
    mask[30:90, 40:120] = True  # outside: colours that are not in the table
    array, layout, _ = describe_image(image, None, "rgb")
    table = build_table(array, layout, mask)
    per_value = np.arange(1, table.values.shape[0] + 1, dtype=np.int32)
    for _ in range(3):  # fresh tables may reuse memory that held other results
        scattered = table.scatter(per_value, fill=-7)
        assert (scattered[~mask] == -7).all()
        assert (scattered[mask] >= 1).all()
    result = quantize(image, 3, mask=mask)
    assert (result.labels[~mask] == 0).all() and (result.labels[mask] >= 1).all()
    np.testing.assert_array_equal(result.quantized[~mask], image[~mask])


@pytest.mark.parametrize("threads", ["1", "2", "3", "4"])
@pytest.mark.parametrize("blue", ["dark", "one value", "spread"])
def test_histogram_count_split_by_work_between_threads_equals_unique(monkeypatch, threads, blue):
    """The 3-D histogram counts each thread's range of blue values, the ranges cut by work (pixels and bins):
    whatever the cut (one blue value everywhere, nearly all pixels dark), the counts are np.unique's, and in
    several slices (masked too) the merge gives the same."""
    monkeypatch.setenv("COLORQUANT_THREADS", threads)
    rng = np.random.default_rng(len(blue) + int(threads))
    image = rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)
    if blue == "dark":
        image[..., 2] = np.minimum(image[..., 2], rng.integers(0, 12, (300, 200)))
    elif blue == "one value":
        image[..., 2] = 77
    bounds = pixels._blue_bounds(image, int(threads))
    assert bounds[0] == 0 and bounds[-1] == 256 and np.all(np.diff(bounds) > 0)
    assert len(bounds) - 1 <= int(threads)
    mask = rng.random((300, 200)) < 0.8
    for slice_pixels, used in [(1 << 24, None), (7_000, None), (7_000, mask)]:
        with monkeypatch.context() as patch:
            patch.setattr(pixels, "_SORT_COUNT_PIXELS", 0)
            patch.setattr(pixels, "_HISTOGRAM_SLICE_PIXELS", slice_pixels)  # 7 000: slices of 35 rows, merged
            table = build_table(*describe_image(image, None, "rgb")[:2], used)
        rows = image.reshape(-1, 3) if used is None else image[used]
        values, counts = np.unique(rows, axis=0, return_counts=True)
        order = np.lexsort(values.T)
        np.testing.assert_array_equal(table.values, values[order])
        np.testing.assert_array_equal(table.counts, counts[order])


@pytest.mark.parametrize("threads", ["1", "2", "3"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (7, 9), (37, 41)])
def test_uint8_rgb_lookup_in_reused_index_buffers_equals_searching_each_pixel(monkeypatch, threads, shape):
    """Labels written back through the packed-key lookup (chunks per thread, each reusing one index buffer) are the
    per-value results of each pixel's own value, found by searching the distinct keys; chunks far smaller than the
    image make several chunks per thread and a short last one."""
    monkeypatch.setenv("COLORQUANT_THREADS", threads)
    monkeypatch.setattr(pixels, "CHUNK_PIXELS", 64)
    rng = np.random.default_rng(len(shape) + shape[0])
    image = rng.integers(0, 6, (*shape, 3), dtype=np.uint8) * 51
    array, layout, _ = describe_image(image)
    table = build_table(array, layout)
    per_value = rng.integers(0, 250, table.values.shape[0]).astype(np.uint8)
    keys = image[..., 0].astype(np.int64) | image[..., 1].astype(np.int64) << 8 | image[..., 2].astype(np.int64) << 16
    np.testing.assert_array_equal(table.scatter(per_value), per_value[np.searchsorted(table._keys, keys)])


@pytest.mark.parametrize("n_channels", [1, 2, 3, 4])
def test_decoded_uint8_keys_are_each_channels_byte(n_channels):
    """Distinct uint8 keys back to value rows (OpenCV's RGBA -> RGB copy for three channels): channel c is byte c."""
    keys = np.sort(np.random.default_rng(n_channels).choice(1 << (8 * n_channels), 200, replace=False))
    image = np.zeros((2, 2, n_channels) if n_channels > 1 else (2, 2), np.uint8)
    _, layout, _ = describe_image(image, channel_axis=2 if n_channels > 1 else None, color_space="channels")
    values = pixels._decode_keys(keys.astype(np.int64), layout)
    expected = np.stack([(keys >> (8 * c)) & 255 for c in range(n_channels)], axis=1).astype(np.uint8)
    assert values.dtype == np.uint8 and values.flags.c_contiguous
    np.testing.assert_array_equal(values, expected)

"""Chunked data (dask arrays, zarr stores, pyramids): fit without loading, predict lazily.

* **Fit.** Where the distinct-value trick holds (integer pixels packing into at
  most 24 bits: uint8/uint16 gray, uint8 RGB, two uint8 channels; or any
  integer data with no more pixels than ``max_samples``), each chunk counts its
  distinct values, the counts are merged in a dask tree reduction, and the
  weighted fit runs on the merged histogram: the same values, counts and order
  as the in-memory path, hence the same model. A float image above
  ``max_samples`` pixels is counted so too when its values are whole numbers
  (a float copy of an integer image), as in memory. Otherwise (other float
  values, multichannel uint16 on large data) every chunk contributes a
  reproducible random sample of its valid pixels (seeded by ``seed`` and the
  chunk's index), the fit runs on the merged sample, and the model says so
  (``approximate``).
* **Predict.** Labels and quantized colours are ``map_blocks`` of the fitted
  model: nothing is computed until asked for, and memory stays bounded by the
  chunk size. napari computes only what is on screen.
* **Distributed.** Everything is a dask graph computed with ``dask.compute``,
  so an active ``distributed.Client`` runs it unchanged.

This module imports dask (an optional dependency: ``pip install napari-colorquant[all]``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
from dask.callbacks import Callback
from numpy.typing import ArrayLike

from ._threads import single_threaded_blas
from .eager import apply_eager
from .fitting import fit_values, run_record
from .model import ClusterModel
from .params import ClusterParameters
from .pixels import (
    DEFAULT_MAX_SAMPLES,
    ImageLayout,
    _all_integers,
    _count_gray,
    _decode_keys,
    _sample_values,
    build_table,
    check_mask,
    count_float_rows,
    describe_image,
    pixel_rows,
    unique_rows,
    valid_pixels,
)
from .result import QuantizeResult, given_dtype, quality_figures, quantized_image, to_dtype, weighted_mse

_MERGE_FAN_IN = 8
DEFAULT_PIXEL_BUDGET = 16_000_000


def _whole_channels(array: da.Array, layout: ImageLayout) -> da.Array:
    """The array with its channel axis in one chunk: a pixel's channels must sit together."""
    if layout.channel_axis is not None and len(array.chunks[layout.channel_axis]) > 1:
        return array.rechunk({layout.channel_axis: -1})
    return array


def _layout_for(data: da.Array, channel_axis, color_space) -> tuple[da.Array, ImageLayout, str]:
    array, layout, space = describe_image(data, channel_axis, color_space)
    return _whole_channels(array, layout), layout, space


def _model_layout(model: ClusterModel, image, channel_axis) -> tuple[da.Array, ImageLayout]:
    array, layout = model.describe(image if isinstance(image, da.Array) else da.asarray(image), channel_axis)
    return _whole_channels(array, layout), layout


def _spatial_chunks(array: da.Array, layout: ImageLayout) -> tuple:
    return tuple(c for axis, c in enumerate(array.chunks) if axis != layout.channel_axis)


def _block_layout(block: np.ndarray, layout: ImageLayout) -> ImageLayout:
    """The whole image's layout (kind, channels, scale) with this block's shape."""
    spatial = tuple(s for axis, s in enumerate(block.shape) if axis != layout.channel_axis)
    return dataclasses.replace(layout, shape=tuple(block.shape), spatial_shape=spatial)


def _positions(block_layout: ImageLayout, origin: tuple[int, ...], layout: ImageLayout, picks: np.ndarray):
    """Flat indices in the whole image of the block pixels ``picks`` (block at ``origin``)."""
    coords = np.unravel_index(picks, block_layout.spatial_shape)
    return np.ravel_multi_index(tuple(c + o for c, o in zip(coords, origin, strict=True)), layout.spatial_shape)


def _count_block(block: np.ndarray, mask: np.ndarray | None, layout: ImageLayout, origin: tuple[int, ...]):
    """Distinct values and counts of one chunk (exact path).

    Float chunks are counted by :func:`~napari_colorquant.pixels.count_float_rows`, without each pixel's index
    into the values (a chunk's table built it: a prefix sum over 2**24 entries per chunk for whole numbers, 7 s
    of CPU for china's float copy in 70 chunks).
    """
    if not layout.is_integer:
        _, rows, valid = _block_rows(block, mask, layout)
        chosen = rows if valid is None else rows[valid]
        if chosen.shape[0] == 0:
            return chosen, np.zeros(0, np.int64), None
        return (*count_float_rows(chosen), None)
    block_layout = _block_layout(block, layout)
    block_mask = None if mask is None else np.asarray(mask, bool)
    table = build_table(block, block_layout, block_mask, max_samples=None, allow_empty=True)
    return table.values, table.counts.astype(np.int64), None


def _block_rows(block: np.ndarray, mask: np.ndarray | None, layout: ImageLayout):
    """The chunk's layout, its pixel rows (colour channels) and its valid pixels (None: all)."""
    block_layout = _block_layout(block, layout)
    valid = valid_pixels(block, block_layout, None if mask is None else np.asarray(mask, bool))
    return block_layout, pixel_rows(block, block_layout)[:, : layout.n_channels], valid


def _sample_rows(rows, valid, block_layout, layout, origin: tuple[int, ...], quota: int, seed, index):
    """A reproducible random sample of a chunk's valid pixel rows, with their positions in the image."""
    candidates = np.arange(rows.shape[0]) if valid is None else np.flatnonzero(valid)
    rng = np.random.default_rng([seed, index])
    if candidates.size > quota:
        candidates = np.sort(rng.choice(candidates, size=quota, replace=False))
    values = np.ascontiguousarray(rows[candidates])
    return values, np.ones(values.shape[0], np.int64), _positions(block_layout, origin, layout, candidates)


def _sample_block(
    block: np.ndarray, mask: np.ndarray | None, layout: ImageLayout, origin: tuple[int, ...], quota: int, seed, index
):
    """A reproducible random sample of one chunk's valid pixels (approximate path)."""
    block_layout, rows, valid = _block_rows(block, mask, layout)
    return _sample_rows(rows, valid, block_layout, layout, origin, quota, seed, index)


@dataclass
class _Part:
    """What a float chunk (or a merge of chunks) above ``max_samples`` pixels gives: counted or sampled.

    ``positions`` is None when ``values`` / ``counts`` count every valid pixel (whole numbers); else they
    are a sample of ``quota`` pixels, each with its position in the image (the order of a merged sample).
    ``quota`` is how many pixels these chunks add to a sample, ``index`` and ``first`` (the first chunk's
    number and the flat position of its first pixel) seed and place a sample drawn from counted values.
    """

    values: np.ndarray
    counts: np.ndarray
    positions: np.ndarray | None
    quota: int
    index: int
    first: int


def _count_or_sample_block(
    block: np.ndarray, mask: np.ndarray | None, layout: ImageLayout, origin: tuple[int, ...], quota: int, seed, index
) -> _Part:
    """One float chunk above ``max_samples`` pixels: its distinct values counted if whole numbers, else a sample.

    The in-memory path counts a float image whose values are all whole numbers (a float copy of an integer
    image) at any size; the whole image's values are whole numbers exactly when every chunk's are.
    """
    block_layout, rows, valid = _block_rows(block, mask, layout)
    chosen = rows if valid is None else rows[valid]
    first = int(np.ravel_multi_index(origin, layout.spatial_shape)) if layout.n_pixels else 0
    if _all_integers(chosen):
        if chosen.shape[0] == 0:
            return _Part(chosen, np.zeros(0, np.int64), None, quota, index, first)
        return _Part(*count_float_rows(chosen, whole_numbers=True), None, quota, index, first)
    return _Part(*_sample_rows(rows, valid, block_layout, layout, origin, quota, seed, index), quota, index, first)


#: Most distinct float values merged exactly (as the integer path's largest table, 24-bit keys); past it, a sample.
_MAX_COUNTED_FLOATS = 1 << 24


def _sample_counted(part: _Part, seed) -> _Part:
    """A reproducible sample of ``part.quota`` of the pixels counted in ``part`` (drawn without replacement)."""
    if part.positions is not None:
        return part
    counts = part.counts
    if counts.sum() > part.quota:
        counts = np.random.default_rng([seed, part.index, 1]).multivariate_hypergeometric(counts, part.quota)
    keep = np.flatnonzero(counts)
    positions = np.full(keep.size, part.first, np.int64)
    return _Part(part.values[keep], counts[keep], positions, part.quota, part.index, part.first)


def _merge_parts(parts: list[_Part], layout: ImageLayout, seed) -> _Part:
    """Merge float chunks: counted while every chunk is counted (and the values stay few enough), else a sample.

    A sample takes each counted chunk's share from its counts (a draw without replacement), so no chunk is
    read twice.
    """
    quota, index, first = sum(p.quota for p in parts), parts[0].index, parts[0].first
    if all(p.positions is None for p in parts):
        values, counts, _ = _merge([(p.values, p.counts, None) for p in parts], layout)
        merged = _Part(values, counts, None, quota, index, first)
        if values.shape[0] <= _MAX_COUNTED_FLOATS:
            return merged
        parts = [merged]
    sampled = [_sample_counted(p, seed) for p in parts]
    values, counts, positions = _merge([(p.values, p.counts, p.positions) for p in sampled], layout)
    return _Part(values, counts, positions, quota, index, first)


def _dense_counting(layout: ImageLayout) -> bool:
    """True for gray uint8/uint16: chunks are counted into dense histograms, merged by adding them."""
    return layout.kind == "gray" and layout.dtype in (np.uint8, np.uint16)


def _histogram_block(block: np.ndarray, mask: np.ndarray | None, layout: ImageLayout) -> np.ndarray:
    """Dense histogram (int64, one bin per possible value) of one gray uint8/uint16 chunk's valid pixels."""
    valid = None if mask is None else np.asarray(mask, bool)
    return _count_gray(block, layout, valid, layout.dtype.itemsize * 8)


def _block_indices(ndim: int, channel_axis: int | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``da.blockwise`` index names of the image's axes, and of its pixel grid (the channel axis left out)."""
    index = tuple(f"i{axis}" for axis in range(ndim))
    return index, tuple(name for axis, name in enumerate(index) if axis != channel_axis)


def _dense_histogram(data: da.Array, layout: ImageLayout, mask: da.Array | None) -> da.Array:
    """The valid pixels' histogram as a dask array: one per chunk, summed in a tree.

    Built as array operations, not one ``dask.delayed`` per chunk: their argument traversal
    cost more than the chunks' counting does in Python.
    """
    bins = 1 << (layout.dtype.itemsize * 8)
    index, spatial = _block_indices(data.ndim, layout.channel_axis)
    args = [data, index] + ([] if mask is None else [mask, spatial])

    def count(block, mask_block=None):
        return _histogram_block(block, mask_block, layout).reshape((1,) * len(spatial) + (bins,))

    hists = da.blockwise(
        count, (*spatial, "bins"), *args, new_axes={"bins": bins}, adjust_chunks=dict.fromkeys(spatial, 1),
        dtype=np.int64, concatenate=True,
    )  # fmt: skip
    return hists.sum(axis=tuple(range(len(spatial))), split_every=_MERGE_FAN_IN)


def _histogram_table(total: np.ndarray, layout: ImageLayout):
    """Values and counts of a dense histogram, as the in-memory table orders them (by value)."""
    keys = np.flatnonzero(total)
    return _decode_keys(keys, layout), total[keys], None


def _merge(parts, layout: ImageLayout):
    """Merge chunks as the in-memory path orders values.

    Counted chunks: sum the counts of equal values, ordered by value as in memory (integers by packed key,
    floats by :func:`~napari_colorquant.pixels.count_float_rows`). A sample of float pixels: every sampled
    pixel once, in the image's pixel order.
    """
    values = np.concatenate([p[0] for p in parts])
    counts = np.concatenate([p[1] for p in parts])
    if not layout.is_integer and any(p[2] is not None for p in parts):
        positions = np.concatenate([p[2] for p in parts])
        order = np.argsort(positions, kind="stable")
        return values[order], counts[order], positions[order]
    if values.shape[0] == 0:
        return values, counts, None
    if not layout.is_integer:
        return (*count_float_rows(values, counts), None)
    unique, inverse, _ = unique_rows(values, layout)
    merged = np.bincount(inverse, weights=counts, minlength=unique.shape[0]).astype(np.int64)
    return unique, merged, None


def _tree_merge(items: list, layout: ImageLayout, merge=_merge, *args):
    while len(items) > 1:
        items = [
            dask.delayed(merge)(items[i : i + _MERGE_FAN_IN], layout, *args)
            for i in range(0, len(items), _MERGE_FAN_IN)
        ]
    return dask.delayed(merge)(items, layout, *args) if items else None


def _exact_possible(layout: ImageLayout, max_samples: int | None) -> bool:
    if max_samples is None or layout.n_pixels <= max_samples:
        return True
    return layout.is_integer and layout.dtype.itemsize * 8 * layout.n_channels <= 24


def _aligned_mask(mask, array: da.Array, layout: ImageLayout) -> da.Array | None:
    if mask is None:
        return None
    mask = mask if isinstance(mask, da.Array) else da.asarray(check_mask(mask, layout))
    if mask.shape != layout.spatial_shape:
        raise ValueError(
            f"mask shape {mask.shape} does not match the image's pixel grid {layout.spatial_shape} "
            "(the image shape without its channel axis)"
        )
    return mask.rechunk(_spatial_chunks(array, layout))


def _blocks(array: da.Array, layout: ImageLayout, mask: da.Array | None):
    """Pairs (block, mask block) of delayed objects over the spatial chunk grid."""
    grid = array.to_delayed()
    if layout.channel_axis is not None:
        grid = np.take(grid, 0, axis=layout.channel_axis)
    mask_grid = None if mask is None else mask.to_delayed()
    chunks = _spatial_chunks(array, layout)
    sizes = np.prod(np.meshgrid(*[np.asarray(c) for c in chunks], indexing="ij"), axis=0)
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(int) for c in chunks]
    origins = [tuple(int(s) for s in o) for o in itertools.product(*starts)]
    flat_blocks = grid.reshape(-1)
    flat_masks = [None] * flat_blocks.size if mask_grid is None else mask_grid.reshape(-1)
    return list(zip(flat_blocks, flat_masks, sizes.reshape(-1), origins, strict=True))


@dataclass
class LazyFit:
    """The merged weighted values of a lazy run, and what its fit runs on.

    ``values`` / ``counts`` count every valid pixel (``exact``) or are a sample of them. The fit runs on
    ``fit_values`` / ``fit_weights``: the same, or, when more than ``max_samples`` distinct values were
    counted, the in-memory path's sample of them (the same draws: ``approximate``).
    """

    values: np.ndarray
    counts: np.ndarray
    exact: bool
    seconds: float
    fit_values: np.ndarray
    fit_weights: np.ndarray
    approximate: bool


class _TaskProgress(Callback):
    """Reports the fraction of dask tasks done as ``progress("count", fraction)`` (local schedulers)."""

    def __init__(self, progress) -> None:
        super().__init__()
        self._progress = progress
        self._total = 1
        self._done = 0

    def _start_state(self, dsk, state) -> None:
        self._total = max(1, sum(len(state[k]) for k in ("ready", "waiting", "running")))

    def _posttask(self, key, result, dsk, state, worker_id) -> None:
        self._done += 1
        if self._progress is not None:
            self._progress("count", min(1.0, self._done / self._total))


def collect_samples(
    data: da.Array,
    layout: ImageLayout,
    mask: da.Array | None,
    max_samples: int | None,
    seed: int,
    progress: Callable[[str, float], None] | None = None,
    allow_empty: bool = False,
) -> LazyFit:
    """Merged distinct values and counts (exact) or a merged chunk-wise sample, computed with dask.

    Parameters
    ----------
    data : dask array
        The image, its channel axis whole in each chunk.
    layout : ImageLayout
        Its layout.
    mask : dask array of bool or None
        Aligned with the pixel chunks of ``data``.
    max_samples : int or None
        Above this many pixels, sample this many when the values are not counted exactly (integers wider than
        24 bits, floats that are not whole numbers); above this many counted distinct values, the fit runs on
        a sample of this many pixels drawn from them, as in memory.
    seed : int
        Seed of the sample.
    progress : callable, optional
        ``progress("count", fraction)`` as chunks finish.
    allow_empty : bool
        Return an empty table instead of raising when no pixel is valid.

    Returns
    -------
    LazyFit

    Raises
    ------
    ValueError
        When nothing is left to cluster (all NaN, or an empty mask) and ``allow_empty`` is false.
    """
    start = time.perf_counter()
    exact = _exact_possible(layout, max_samples)
    dense = exact and _dense_counting(layout) and data.size > 0
    if dense:
        # One histogram per chunk and a sum: no per-chunk table or sort, little work holding the GIL
        # (zarr's codecs hold it while they read a chunk), and the same values and counts as in memory.
        merged = _dense_histogram(data, layout, mask)
    else:
        blocks = _blocks(data, layout, mask)
        if exact:
            merged = _tree_merge([dask.delayed(_count_block)(b, m, layout, o) for b, m, _, o in blocks], layout)
        else:
            total = layout.n_pixels
            # Float chunks are counted when their values are whole numbers, as in memory; others are sampled.
            block_part = _sample_block if layout.is_integer else _count_or_sample_block
            parts = [
                dask.delayed(block_part)(b, m, layout, o, max(1, math.ceil(max_samples * size / total)), seed, i)
                for i, (b, m, size, o) in enumerate(blocks)
            ]
            merged = _tree_merge(parts, layout) if layout.is_integer else _tree_merge(parts, layout, _merge_parts, seed)
    with _TaskProgress(progress):
        computed = dask.compute(merged)[0]
    if isinstance(computed, _Part):
        exact = computed.positions is None
        computed = computed.values, computed.counts, None
    values, counts, _ = _histogram_table(computed, layout) if dense else computed
    if counts.sum() == 0 and not allow_empty:
        what = "all pixels are NaN/inf or outside the mask" if layout.dtype.kind == "f" else "the mask is empty"
        raise ValueError(f"nothing to cluster: {what}")
    fit_values, fit_weights, approximate = values, counts, not exact
    if exact and max_samples is not None and values.shape[0] > max_samples:
        # As in memory (build_table): more distinct values than max_samples: the fit runs on the same draws.
        fit_values, fit_weights = _sample_values(values, counts, max_samples, seed)
        approximate = True
    return LazyFit(values, counts, exact, time.perf_counter() - start, fit_values, fit_weights, approximate)


def _predict_labels(block: np.ndarray, mask: np.ndarray | None, model: ClusterModel, channel_axis) -> np.ndarray:
    return model.predict(block, mask=mask, channel_axis=channel_axis)


def _predict_quantized(block: np.ndarray, mask: np.ndarray | None, model: ClusterModel, channel_axis) -> np.ndarray:
    return apply_eager(model, block, mask=mask, channel_axis=channel_axis).quantized


def _map_model(predict, model, data: da.Array, layout: ImageLayout, mask: da.Array | None, keep_channels: bool):
    """``predict(block, mask_block, model, channel_axis)`` over every chunk, as a dask array."""
    channel_axis = layout.channel_axis
    index = tuple(range(data.ndim))
    spatial_index = tuple(i for i in index if i != channel_axis)
    args = [data, index]
    if mask is not None:
        args += [mask, spatial_index]

    def call(block, mask_block=None):
        mask_block = None if mask_block is None else np.asarray(mask_block, bool)
        return predict(block, mask_block, model, channel_axis)

    dtype = layout.given_dtype if keep_channels else model.label_dtype
    return da.blockwise(call, index if keep_channels else spatial_index, *args, dtype=dtype, concatenate=True)


_DENSE_LUT_BITS = 16


def _dense_lut(model: ClusterModel, layout: ImageLayout, quantized: bool) -> np.ndarray | None:
    """Labels (or quantized values) of every possible gray uint8/uint16 value, or None.

    With at most 65,536 possible values, evaluating the model on all of them
    once turns per-chunk prediction into a single lookup (no per-chunk count).
    """
    if layout.kind != "gray" or layout.dtype.kind != "u" or layout.dtype.itemsize * 8 > _DENSE_LUT_BITS:
        return None
    values = np.arange(np.iinfo(layout.dtype).max + 1, dtype=layout.dtype)[:, None]
    labels = model.predict_values(values)
    if not quantized:
        return labels
    return to_dtype(model.quantized_values(values, labels)[:, 0], layout.dtype)


_LOOKUP_CHUNK = 1 << 16  # np.take makes an intp copy of each index chunk: keep it in cache
_MAX_THRESHOLDS = 8


def _unit_steps(lut: np.ndarray) -> np.ndarray | None:
    """Thresholds of a label table that starts at 1 and grows by one at each threshold, or None.

    k-means labels of gray values are such a staircase (clusters are intervals, numbered by
    brightness); then a label is 1 + the number of thresholds at or below the value.
    """
    steps = np.diff(lut.astype(np.int64))
    if lut[0] != 1 or (steps < 0).any() or (steps > 1).any():
        return None
    thresholds = np.flatnonzero(steps) + 1
    return thresholds if thresholds.size <= _MAX_THRESHOLDS else None


_STEP_SLICE = 1 << 18  # values compared per slice: input, output and comparison stay in cache together


def _staircase(block: np.ndarray, thresholds: np.ndarray, dtype) -> np.ndarray:
    """1 + the number of ``thresholds`` at or below each value, a cache-sized slice at a time.

    Whole-chunk comparisons each made a chunk-sized boolean array: fresh memory whose page
    faults (zeroing huge pages) cost as much as the comparisons themselves.
    """
    out = np.empty(block.shape, dtype)
    flat, result = block.reshape(-1), out.reshape(-1)
    step = np.empty(min(flat.size, _STEP_SLICE), bool)
    ones = step.view(np.uint8)
    thresholds = thresholds.astype(block.dtype)
    for start in range(0, flat.size, _STEP_SLICE):
        values, labels = flat[start : start + _STEP_SLICE], result[start : start + _STEP_SLICE]
        n = values.size
        labels.fill(1)
        for threshold in thresholds:
            np.greater_equal(values, threshold, out=step[:n])
            labels += ones[:n]
    return out


def _lookup(block: np.ndarray, mask: np.ndarray | None, lut: np.ndarray, keep_input: bool, thresholds=None):
    """``lut`` at each value (``thresholds``: the same as a staircase); masked pixels 0 or their input."""
    if thresholds is not None:
        out = _staircase(block, thresholds, lut.dtype)
    else:
        out = np.empty(block.shape, lut.dtype)
        flat, result = block.reshape(-1), out.reshape(-1)
        for start in range(0, flat.size, _LOOKUP_CHUNK):
            np.take(lut, flat[start : start + _LOOKUP_CHUNK], out=result[start : start + _LOOKUP_CHUNK])
    if mask is not None:
        out[~mask] = block[~mask] if keep_input else 0
    return out


def _map_lut(lut: np.ndarray, data: da.Array, layout: ImageLayout, mask: da.Array | None, keep_input: bool):
    """``_lookup`` over every chunk: labels on the pixel grid, or quantized values in the input's shape.

    A gray image may carry a channel axis of length one: labels drop it (as in memory), and the
    mask, on the pixel grid, is broadcast over it.
    """
    channel_axis = layout.channel_axis
    index, spatial = _block_indices(data.ndim, channel_axis)
    args = [data, index] + ([] if mask is None else [mask, spatial])
    thresholds = None if keep_input else _unit_steps(lut)

    def call(block, mask_block=None):
        if mask_block is not None:
            mask_block = np.asarray(mask_block, bool)
            mask_block = mask_block if channel_axis is None else np.expand_dims(mask_block, channel_axis)
        out = _lookup(block, mask_block, lut, keep_input, thresholds)
        return out if keep_input or channel_axis is None else np.squeeze(out, axis=channel_axis)

    return da.blockwise(call, index if keep_input else spatial, *args, dtype=lut.dtype, concatenate=True)


def lazy_labels(model: ClusterModel, data: da.Array, layout: ImageLayout, mask: da.Array | None = None) -> da.Array:
    """Label image as a dask array: one lookup (gray uint8/16) or one ``model.predict`` per chunk.

    Parameters
    ----------
    model : ClusterModel
    data : dask array
        The image as :func:`~napari_colorquant.pixels.describe_image` read it.
    layout : ImageLayout
    mask : dask array of bool, optional
        Aligned with the pixel chunks of ``data``; pixels outside get label 0.

    Returns
    -------
    dask array
        The pixel grid, labels 1..K in the model's label dtype.
    """
    lut = _dense_lut(model, layout, quantized=False)
    if lut is not None:
        return _map_lut(lut, data, layout, mask, keep_input=False)
    return _map_model(_predict_labels, model, data, layout, mask, keep_channels=False)


def _predict_posteriors(block, mask, model: ClusterModel, channel_axis) -> np.ndarray:
    return model.predict_proba(block, mask=mask, channel_axis=channel_axis)


def lazy_posteriors(
    model: ClusterModel, image: da.Array, *, mask: ArrayLike | None = None, channel_axis: int | None = None
) -> da.Array:
    """EM posteriors as a dask array of shape ``pixels + (K,)``, float32.

    Parameters
    ----------
    model : ClusterModel
        A model of a method with posteriors (EM).
    image : dask array
    mask : array_like of bool, optional
        On the image's pixel grid; pixels outside get 0 for every cluster.
    channel_axis : int, optional

    Returns
    -------
    dask array
    """
    data, layout = _model_layout(model, image, channel_axis)
    channel_axis = layout.channel_axis
    index = tuple(f"i{i}" for i in range(data.ndim))
    spatial_index = tuple(name for i, name in enumerate(index) if i != channel_axis)
    out_index = (*spatial_index, "k")
    args = [data, index]
    dask_mask = _aligned_mask(mask, data, layout)
    if dask_mask is not None:
        args += [dask_mask, spatial_index]

    def call(block, mask_block=None):
        mask_block = None if mask_block is None else np.asarray(mask_block, bool)
        return _predict_posteriors(block, mask_block, model, channel_axis)

    return da.blockwise(call, out_index, *args, new_axes={"k": model.n_clusters}, dtype=np.float32, concatenate=True)


def lazy_quantized(model: ClusterModel, data: da.Array, layout: ImageLayout, mask: da.Array | None = None) -> da.Array:
    """Quantized image as a dask array with the input's chunks, shape and dtype.

    Parameters
    ----------
    model : ClusterModel
    data : dask array
    layout : ImageLayout
    mask : dask array of bool, optional
        Pixels outside keep their input value.

    Returns
    -------
    dask array
    """
    lut = _dense_lut(model, layout, quantized=True)
    if lut is not None:
        return given_dtype(_map_lut(lut, data, layout, mask, keep_input=True), layout)
    return given_dtype(_map_model(_predict_quantized, model, data, layout, mask, keep_channels=True), layout)


def quantize_lazy(
    image: da.Array,
    params: ClusterParameters,
    mask: ArrayLike | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> QuantizeResult:
    """Cluster a dask array: fit by chunks, labels and colours lazy (see :func:`napari_colorquant.quantize`).

    Same model as the in-memory path, except that ``result.labels`` and ``result.quantized``
    are dask arrays; ``mse``/``psnr`` come from the merged histogram (exact path) or from
    the sample (approximate).

    Parameters
    ----------
    image : dask array
    params, mask, progress
        As for :func:`~napari_colorquant.quantize.quantize_with`.

    Returns
    -------
    QuantizeResult

    Raises
    ------
    ValueError
        ``engine="opencv"`` (it needs the whole image in memory), or an unusable image or mask.
    """
    if params.engine != "fast":
        raise ValueError("engine='opencv' needs the whole image in memory; use engine='fast' for dask arrays")
    if params.dither != "none":
        raise ValueError("dither needs the whole image in memory (error diffusion runs across the image)")
    data, layout, space = _layout_for(image, params.channel_axis, params.color_space)
    dask_mask = _aligned_mask(mask, data, layout)
    record = run_record(params, space, layout, mask is not None, lazy=True)
    report = progress or (lambda stage, fraction: None)
    report("count", 0.0)
    samples = collect_samples(data, layout, dask_mask, params.max_samples, params.seed, progress)
    report("fit", 0.0)
    start = time.perf_counter()
    # One BLAS thread for the whole fit, as in memory: a threaded BLAS call between the pool's chunked
    # steps first wakes OpenBLAS's sleeping threads (5-25 ms each on a busy machine, every iteration).
    with single_threaded_blas():
        model, _ = fit_values(
            samples.fit_values, samples.fit_weights, layout, space, params, record, progress, samples.approximate
        )
    fit_seconds = time.perf_counter() - start
    report("write", 0.0)
    result = _lazy_result(model, data, layout, dask_mask, samples, {"count": samples.seconds, "fit": fit_seconds})
    if params.smoothing > 0:
        _smooth_result(result, data, layout, dask_mask, params.smoothing)
    report("write", 1.0)
    return result


def _smooth_result(result: QuantizeResult, data: da.Array, layout: ImageLayout, mask, beta: float) -> None:
    """Potts-smoothed lazy labels (``map_overlap``) and the colours they give; the change is counted lazily.

    The quality figures stay those of the nearest-centre labels (from the merged counts): the
    smoothed labels are known only chunk by chunk, when computed.
    """
    from .smoothing import smooth_lazy

    plain = result.labels
    result.labels = smooth_lazy(result.model, data, layout, beta, mask=mask)
    result.quantized = colours_of_labels(result.model, data, layout, result.labels)
    result.smoothing_changed = da.count_nonzero(result.labels != plain)


def _colour_block(block: np.ndarray, labels: np.ndarray, model: ClusterModel, layout: ImageLayout) -> np.ndarray:
    block_layout = _block_layout(block, layout)
    return quantized_image(model, block, block_layout, labels, labels.reshape(-1) > 0, None)


def colours_of_labels(model: ClusterModel, data: da.Array, layout: ImageLayout, labels: da.Array) -> da.Array:
    """The quantized image of given (e.g. smoothed) lazy labels: each labelled pixel its cluster's colour.

    Pixels with label 0 (masked, NaN) keep their value, as in :func:`lazy_quantized`.

    Parameters
    ----------
    model : ClusterModel
    data : dask.array.Array
        The image, channel axis in one chunk.
    layout : ImageLayout
    labels : dask.array.Array
        Labels 1..K (0: keep the pixel), the image's pixel shape.

    Returns
    -------
    dask.array.Array
        The input's shape and dtype.
    """
    index = tuple(range(data.ndim))
    spatial_index = tuple(i for i in index if i != layout.channel_axis)
    return da.blockwise(
        _colour_block, index, data, index, labels, spatial_index, dtype=layout.given_dtype, concatenate=True,
        model=model, layout=layout,
    )  # fmt: skip


def _lazy_result(model, data, layout, mask, samples: LazyFit, timings: dict) -> QuantizeResult:
    """Lazy labels / colours, with figures computed from the merged histogram or sample."""
    mse = weighted_mse(model, layout, samples.values, samples.counts)
    return QuantizeResult(
        labels=lazy_labels(model, data, layout, mask),
        quantized=lazy_quantized(model, data, layout, mask),
        model=model,
        n_pixels=layout.n_pixels,
        n_valid=int(samples.counts.sum()) if samples.exact else -1,
        timings=timings,
        fit_values=samples.values,
        fit_counts=samples.counts,
        lazy=True,
        **quality_figures(model, layout, mse),
    )


def predict_lazy(model: ClusterModel, image: da.Array, *, channel_axis: int | None = None) -> tuple[da.Array, da.Array]:
    """Lazy label image and quantized image of ``image`` under a fitted model (no pass over the data).

    Parameters
    ----------
    model : ClusterModel
    image : dask array
    channel_axis : int, optional

    Returns
    -------
    labels, quantized : dask array
    """
    data, layout = _model_layout(model, image, channel_axis)
    return lazy_labels(model, data, layout), lazy_quantized(model, data, layout)


def apply_lazy(
    model: ClusterModel, image: da.Array, *, mask: ArrayLike | None = None, channel_axis: int | None = None
) -> QuantizeResult:
    """Apply a fitted model to a dask array: lazy labels and colours, same palette.

    One counting pass gives the MSE / PSNR on this data (from a sample when the
    values are too many to count exactly).

    Parameters
    ----------
    image : dask array
    model, mask, channel_axis
        As for :func:`~napari_colorquant.quantize.apply_model`, which this is for dask input.

    Returns
    -------
    QuantizeResult

    Raises
    ------
    ValueError
        When the image does not match the model (channels, kind, dtype).
    """
    data, layout = _model_layout(model, image, channel_axis)
    dask_mask = _aligned_mask(mask, data, layout)
    seed = int(model.params.get("seed", 0))
    samples = collect_samples(data, layout, dask_mask, DEFAULT_MAX_SAMPLES, seed, allow_empty=True)
    return _lazy_result(model, data, layout, dask_mask, samples, {"count": samples.seconds})


def pick_level(shapes: list[tuple[int, ...]], pixel_budget: int = DEFAULT_PIXEL_BUDGET) -> int:
    """Index of the finest pyramid level with at most ``pixel_budget`` pixels (else the coarsest).

    Parameters
    ----------
    shapes : list of tuple of int
        Pixel-grid shapes of the levels, finest first.
    pixel_budget : int
        Most pixels to fit on.

    Returns
    -------
    int
    """
    for index, shape in enumerate(shapes):
        if math.prod(shape) <= pixel_budget:
            return index
    return len(shapes) - 1


@dataclass
class MultiscaleResult:
    """:func:`quantize_multiscale` output: one lazy label / quantized array per level."""

    labels: list
    quantized: list
    model: ClusterModel
    fit_level: int
    fit_result: QuantizeResult


def quantize_multiscale(
    levels: Sequence[ArrayLike],
    n_clusters: int,
    *,
    level: int | None = None,
    pixel_budget: int = DEFAULT_PIXEL_BUDGET,
    mask: ArrayLike | None = None,
    progress: Callable[[str, float], None] | None = None,
    **kwargs: Any,
) -> MultiscaleResult:
    """Fit on one pyramid level and label every level lazily with the same model.

    The fit level is counted once; the other levels are only described (with the model's
    scale, so float levels are not read for their maximum) and labelled lazily.

    Parameters
    ----------
    levels : sequence of arrays
        Finest first (as napari's multiscale data), numpy or dask.
    n_clusters : int
    level : int, optional
        Level to fit on; default: the finest whose pixel count (channels
        excluded) is within ``pixel_budget``.
    pixel_budget : int
    mask : array_like of bool, optional
        Mask on the fit level's pixel grid.
    progress : callable, optional
    **kwargs
        The other parameters of :class:`~napari_colorquant.params.ClusterParameters`.

    Returns
    -------
    MultiscaleResult

    Raises
    ------
    ValueError
        For a level out of range, or as :func:`quantize_lazy`.
    """
    params = ClusterParameters(n_clusters=n_clusters, **kwargs)
    arrays = [level_data if isinstance(level_data, da.Array) else da.asarray(level_data) for level_data in levels]
    shapes = [describe_image(a, params.channel_axis, params.color_space, scale=1.0)[1].spatial_shape for a in arrays]
    chosen = pick_level(shapes, pixel_budget) if level is None else int(level)
    if not 0 <= chosen < len(arrays):
        raise ValueError(f"level {level} is out of range for a pyramid of {len(arrays)} levels")
    fit_result = quantize_lazy(arrays[chosen], params, mask=mask, progress=progress)
    model = fit_result.model
    model.params["fit_level"] = chosen
    labels, quantized = label_levels(model, arrays, channel_axis=params.channel_axis, smoothing=params.smoothing)
    labels[chosen], quantized[chosen] = fit_result.labels, fit_result.quantized
    return MultiscaleResult(labels, quantized, model, chosen, fit_result)


def label_levels(
    model: ClusterModel, levels: Sequence[ArrayLike], *, channel_axis: int | None = None, smoothing: float = 0.0
) -> tuple[list[da.Array], list[da.Array]]:
    """Lazy labels and quantized colours of every level of a pyramid: the model applied to each level's pixels.

    This is exact whatever made the pyramid (means, Gaussians, nearest pixels, any factors and
    translations): level ``i``'s outputs lie on level ``i``'s own pixel grid, so they keep its placement,
    and each of their pixels is the model's answer for the input pixel drawn at the same place. Label
    numbers are never averaged: every label is a cluster of the model, and each quantized pixel is its
    label's colour. (Striding the finest labels instead would put a fine pixel's label where the input's
    level shows, e.g., the mean of a block half a fine pixel away, and fits integer factors only.) Where a
    coarse input pixel mixes clusters, its label is the model's label of that mixed value.

    Parameters
    ----------
    model : ClusterModel
    levels : sequence of arrays
        The levels (numpy or dask), finest first, each as the model's input was read.
    channel_axis : int, optional
        The axis holding the features.
    smoothing : float
        Potts smoothing strength of each level's labels (0: none), as in :func:`quantize_lazy`.

    Returns
    -------
    labels, quantized : list of dask arrays
        One per level, chunked as the level is (the channel axis in one chunk); nothing is computed.

    Raises
    ------
    ValueError
        When a level does not match the model (channels, kind, dtype).
    """
    labels, quantized = [], []
    for array in levels:
        data, layout = _model_layout(model, array if isinstance(array, da.Array) else da.asarray(array), channel_axis)
        if smoothing > 0:
            from .smoothing import smooth_lazy

            labels.append(smooth_lazy(model, data, layout, smoothing))
            quantized.append(colours_of_labels(model, data, layout, labels[-1]))
        else:
            labels.append(lazy_labels(model, data, layout))
            quantized.append(lazy_quantized(model, data, layout))
    return labels, quantized

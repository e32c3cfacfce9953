"""From an image to weighted samples, and from per-sample results back to pixels.

Pixels with the same value always get the same label, so the clustering runs
on the *distinct* pixel values weighted by how often they occur, and results
are written back through a lookup: one pass to count, one pass to write.

Three strategies, chosen by dtype and channel count:

``lut``
    Integer values that pack into at most 24 bits (uint8/uint16 gray, uint8
    RGB, two uint8 channels). Counting is a histogram over the packed key (for
    3-channel uint8 images up to 1 MP, one sort of the keys: cheaper than 2**24 bins);
    writing back gathers from a dense table indexed by the key, chunk by chunk,
    so no per-pixel key array is ever held in full. Exact.
``inverse``
    Other integer data (uint16 RGB, uint16 multichannel, uint32/int32 RGB, many
    uint8 channels): each pixel's channels are packed into one uint64 key when
    they fit in 64 bits, and ``np.unique`` on the keys gives the distinct values,
    their counts and each pixel's index. Wider pixels (uint16 with 5 or more
    channels, 32-bit RGB, uint8 with 9 or more channels) are packed into several
    64-bit words, sorted with ``np.lexsort`` and split where any word changes:
    the same order and the same exactness, whatever the width.
``direct``
    Floating-point data: every valid pixel is a sample of weight 1 and results
    are computed pixel by pixel in chunks. Exact.

When there are more distinct values than ``max_samples``, the fit runs on a
reproducible random sample of pixels (deduplicated and weighted) and the
table says so (``approximate``); every pixel is still assigned exactly.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ._loaded import opencv
from ._threads import n_threads, run_all
from .colorspaces import COLOR_SPACES, THREE_CHANNEL_SPACES

CHUNK_PIXELS = 1 << 20
_DENSE_LUT_BYTES = 64 << 20
#: OpenCV's histogram counts in float32: at most this many pixels (2**24, exact) per slice of an image.
_HISTOGRAM_SLICE_PIXELS = 1 << 24
_SORT_COUNT_PIXELS = 1 << 21  # 2 MP photos too: with OpenCV's sort, 21 ms CPU against the histogram's 36 (gen2)
DEFAULT_MAX_SAMPLES = 2_000_000
#: Values of the last channel looked at to choose how to sort float rows (:func:`_lexsort`; speed only).
_TIE_SAMPLE = 4096
#: Rows :func:`_all_integers` looks at first (speed only).
_FIRST_WHOLE_CHECK = 4096
_ACCEPTED_DTYPES = "bool, uint8, uint16, uint32, int8, int16, int32, float32 or float64"


@dataclass(frozen=True)
class ImageLayout:
    """How an array is read as an image: which axis holds channels, what they mean.

    Attributes
    ----------
    kind : {"gray", "rgb", "rgba", "channels"}
    channel_axis : int or None
        Non-negative channel axis in the original array, or None for gray.
    shape : tuple of int
        Shape of the original array.
    spatial_shape : tuple of int
        Shape without the channel axis.
    n_channels : int
        Channels used as colour (alpha excluded).
    dtype : numpy.dtype
    scale : float
        Nominal maximum value (255, 65535, 1.0, ...).
    offset : float
        Chroma offset for YCrCb.
    source_dtype : numpy.dtype or None
        The caller's dtype when the pixels are read as another: bool images are read as uint8 0 / 1
        (``dtype``), and a model fitted on them records bool, so that it labels bool images only.
    """

    kind: str
    channel_axis: int | None
    shape: tuple[int, ...]
    spatial_shape: tuple[int, ...]
    n_channels: int
    dtype: np.dtype
    scale: float
    offset: float
    source_dtype: np.dtype | None = None

    @property
    def given_dtype(self) -> np.dtype:
        """The dtype of the image as the caller gave it (``source_dtype``, else ``dtype``)."""
        return self.dtype if self.source_dtype is None else self.source_dtype

    @property
    def is_integer(self) -> bool:
        """True for bool and integer images (exact values, a nominal range from the dtype)."""
        return self.dtype.kind in "biu"

    @property
    def n_pixels(self) -> int:
        """Pixels in the grid (masked and NaN ones included)."""
        return int(np.prod(self.spatial_shape, dtype=np.int64))

    @property
    def total_channels(self) -> int:
        """Channels per pixel, alpha included."""
        return self.n_channels + (1 if self.kind == "rgba" else 0)

    @property
    def bits_per_pixel(self) -> int:
        """Bits a pixel takes in the input's dtype, alpha included."""
        return self.total_channels * self.dtype.itemsize * 8


def is_lazy(image: Any) -> bool:
    """True for a dask array (chunked, computed on demand); checked without importing dask.

    Only the front door (:mod:`~napari_colorquant.quantize`) and this module's readers ask; everything
    else goes through them (``tests/test_structure.py`` checks this).

    Parameters
    ----------
    image : object
        Anything.

    Returns
    -------
    bool
    """
    return type(image).__module__.startswith("dask.") and hasattr(image, "chunks")


def _check_array(image):
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(f"image must be a numeric array, got {type(image).__name__}")
    array = image if is_lazy(image) else np.asanyarray(image)
    # A masked array exists only once numpy.ma is loaded; asking np.ma first would import it (~10 ms per CLI run).
    masked = sys.modules.get("numpy.ma")
    if masked is not None and isinstance(array, masked.MaskedArray) and masked.is_masked(array):
        # np.asarray drops the mask: its pixels would be clustered and labelled like any other.
        raise TypeError(
            "image is a numpy masked array, whose mask would be ignored: pass its data and the pixels to use, "
            "e.g. quantize(image.data, k, mask=~np.ma.getmaskarray(image)) (for a colour image, reduce that "
            "mask over the channel axis, e.g. .any(axis=-1))"
        )
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(f"image dtype {array.dtype} is not supported; accepted: {_ACCEPTED_DTYPES}")
    if array.dtype.kind == "f" and array.dtype.itemsize > 8:
        raise TypeError(f"image dtype {array.dtype} is not supported; accepted: {_ACCEPTED_DTYPES}")
    if array.ndim < 2:
        raise ValueError(
            f"image must have at least 2 dimensions (got shape {array.shape}); "
            "accepted: 2D or nD gray, RGB/RGBA with channels last, or any array with channel_axis"
        )
    if array.size == 0:
        raise ValueError(f"image is empty (shape {array.shape}); it needs at least one pixel")
    if not array.dtype.isnative:
        # Byte order is how values are stored, not what they mean: work on native values
        # (a copy; lazy for dask), so keys, OpenCV and models see the same numbers.
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype == bool:
        array = array.astype(np.uint8) if is_lazy(array) else array.view(np.uint8)
    if isinstance(image, (list, tuple)) and array.dtype.kind in "iu" and array.dtype.itemsize > 4:
        raise TypeError(
            "image is a Python list of integers, which numpy reads as int64 (not an image dtype): pass a numpy "
            "array of the image's dtype, e.g. np.asarray(image, dtype=np.uint8)"
        )
    if array.dtype.itemsize > 4 and array.dtype.kind in "iu":
        raise TypeError(f"image dtype {array.dtype} is not supported; accepted: {_ACCEPTED_DTYPES}")
    return array if is_lazy(array) else np.asarray(array)


def _nominal_scale(array) -> float:
    if array.dtype.kind in "iu":
        return float(np.iinfo(array.dtype).max)
    if is_lazy(array):
        import dask.array as da

        finite_max = float(da.nanmax(da.where(da.isfinite(array), array, np.nan)).compute())
        return 1.0 if not np.isfinite(finite_max) or finite_max <= 1.0 else finite_max
    finite = np.isfinite(array)
    if not finite.any():
        return 1.0
    finite_max = float(array[finite].max())
    return 1.0 if finite_max <= 1.0 else finite_max


def _channel_layout(array, channel_axis, requested: str) -> tuple[int | None, str]:
    """The channel axis (non-negative or None) and the image kind: gray, rgb, rgba or channels."""
    if channel_axis is None:
        rgb_like = array.ndim >= 3 and array.shape[-1] in (3, 4)
        if not rgb_like:
            return None, "gray"
        if requested == "channels":
            return array.ndim - 1, "channels"
        return array.ndim - 1, "rgb" if array.shape[-1] == 3 else "rgba"
    if not isinstance(channel_axis, (int, np.integer)) or not -array.ndim <= channel_axis < array.ndim:
        raise ValueError(f"channel_axis {channel_axis!r} is out of range for an image with {array.ndim} dimensions")
    axis = int(channel_axis) % array.ndim
    if array.ndim < 3:
        raise ValueError(f"an image with a channel axis needs at least 3 dimensions (got shape {array.shape})")
    n = array.shape[axis]
    if n == 1:
        return axis, "gray"
    if n in (3, 4) and requested in THREE_CHANNEL_SPACES:
        return axis, "rgb" if n == 3 else "rgba"
    return axis, "channels"


def _resolve_space(requested: str, kind: str, n_colour: int, shape: tuple) -> str:
    """The colour space to use for an image kind (``auto`` resolved); a clear error if it does not fit."""
    if requested == "auto":
        return {"gray": "gray", "rgb": "rgb", "rgba": "rgb", "channels": "channels"}[kind]
    if requested in THREE_CHANNEL_SPACES and kind not in ("rgb", "rgba"):
        raise ValueError(
            f"color_space {requested!r} needs an RGB image with 3 (or 4, RGBA) channels, but this "
            f"image has {n_colour} channel(s) (shape {shape}); use 'gray' or 'channels', "
            "or pass channel_axis"
        )
    if requested == "gray" and kind == "channels":
        raise ValueError(
            f"color_space 'gray' needs a 1-channel or RGB image, but this image has {n_colour} "
            "channels; use 'channels' to cluster them as features"
        )
    if requested == "channels" and kind == "gray":
        return "gray"
    return requested


def describe_image(
    image: ArrayLike, channel_axis: int | None = None, color_space: str = "auto", scale: float | None = None
) -> tuple[np.ndarray, ImageLayout, str]:
    """Validate an image and decide how to read it.

    Parameters
    ----------
    image : array_like
        2D/nD gray, RGB(A) with channels last, or any array with ``channel_axis``.
    channel_axis : int, optional
        Axis holding the channels. ``None``: a last axis of length 3 or 4 on a
        3D+ array is RGB(A), otherwise the image is gray.
    color_space : str
        ``"auto"`` or one of ``COLOR_SPACES``.
    scale : float, optional
        Nominal maximum to use instead of the dtype's (or, for float data,
        the data's); a fitted model passes its own so conversions agree.

    Returns
    -------
    array : ndarray or dask array
        The image (not copied; dask arrays stay lazy).
    layout : ImageLayout
    color_space : str
        The resolved colour space.
    """
    given = getattr(image, "dtype", None)
    array = _check_array(image)
    was_bool = (isinstance(given, np.dtype) and given.kind == "b") or _holds_bools(image)
    source_dtype = np.dtype(bool) if array.dtype == np.uint8 and was_bool else None
    requested = color_space.lower() if isinstance(color_space, str) else color_space
    if requested != "auto" and requested not in COLOR_SPACES:
        raise ValueError(
            f"unknown color_space {color_space!r}; accepted: 'auto', " + ", ".join(repr(c) for c in COLOR_SPACES)
        )
    axis, kind = _channel_layout(array, channel_axis, requested)
    n_colour = {"gray": 1, "rgb": 3, "rgba": 3}.get(kind, array.shape[axis] if axis is not None else 1)
    resolved = _resolve_space(requested, kind, n_colour, array.shape)

    spatial = tuple(s for i, s in enumerate(array.shape) if i != axis)
    scale = _nominal_scale(array) if scale is None else float(scale)
    is_int = array.dtype.kind in "iu"
    offset = (scale + 1.0) / 2.0 if is_int else scale / 2.0
    layout = ImageLayout(
        kind=kind,
        channel_axis=axis,
        shape=tuple(array.shape),
        spatial_shape=spatial,
        n_channels=n_colour,
        dtype=array.dtype,
        scale=scale,
        offset=offset,
        source_dtype=source_dtype,
    )
    return array, layout, resolved


def _holds_bools(image: Any) -> bool:
    """True for a (nested) Python list or tuple that numpy reads as a bool array."""
    return isinstance(image, (list, tuple)) and np.asarray(image).dtype == bool


def pixel_rows(array: np.ndarray, layout: ImageLayout) -> np.ndarray:
    """All pixels as rows ``(n_pixels, total_channels)``; a view when the layout allows.

    Parameters
    ----------
    array : ndarray
        The image as :func:`describe_image` returned it.
    layout : ImageLayout
        Its layout.

    Returns
    -------
    ndarray (n_pixels, total_channels)
    """
    if layout.channel_axis is None:
        return array.reshape(-1, 1)
    moved = np.moveaxis(array, layout.channel_axis, -1)
    return moved.reshape(-1, moved.shape[-1])


def check_mask(mask: ArrayLike | None, layout: ImageLayout) -> np.ndarray | None:
    """Validate a mask (same shape as the image without its channel axis).

    Parameters
    ----------
    mask : array_like of bool or int, or None
        Nonzero: the pixel is used. None: every pixel.
    layout : ImageLayout
        The image's layout.

    Returns
    -------
    ndarray of bool or None

    Raises
    ------
    ValueError
        When the mask's shape is not the image's pixel grid.
    TypeError
        When the mask is neither boolean nor integer.
    """
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != layout.spatial_shape:
        raise ValueError(
            f"mask shape {mask.shape} does not match the image's pixel grid {layout.spatial_shape} "
            "(the image shape without its channel axis)"
        )
    if mask.dtype != bool:
        if mask.dtype.kind not in "biu":
            raise TypeError(f"mask must be boolean or integer (labels), got dtype {mask.dtype}")
        mask = mask != 0
    return mask


def valid_pixels(array: np.ndarray, layout: ImageLayout, mask: np.ndarray | None) -> np.ndarray | None:
    """Flat boolean array of pixels to use (inside the mask and finite), or None for all.

    Parameters
    ----------
    array : ndarray
        The image.
    layout : ImageLayout
        Its layout.
    mask : ndarray of bool or None
        From :func:`check_mask`.

    Returns
    -------
    ndarray (n_pixels,) of bool, or None
    """
    valid = None if mask is None else mask.reshape(-1)
    if layout.dtype.kind == "f":
        rows = pixel_rows(array, layout)[:, : layout.n_channels]
        finite = np.isfinite(rows).all(axis=1)
        if not finite.all():
            valid = finite if valid is None else valid & finite
    return valid


@dataclass
class PixelTable:
    """Distinct pixel values with their counts, and a way back to every pixel.

    Attributes
    ----------
    values : ndarray (U, n_channels)
        Distinct colour values (alpha excluded), in the input dtype.
    counts : ndarray (U,)
        How many valid pixels have each value.
    fit_values, fit_weights : ndarray
        What the fit runs on: the same as ``values``/``counts``, or a sample.
    approximate : bool
        True when the fit uses a sample of pixels.
    n_valid : int
        Pixels used (inside the mask, finite).
    strategy : {"lut", "inverse", "direct"}
    """

    layout: ImageLayout
    array: np.ndarray
    values: np.ndarray
    counts: np.ndarray
    n_valid: int
    strategy: str
    valid: np.ndarray | None
    fit_values: np.ndarray = field(default=None)
    fit_weights: np.ndarray = field(default=None)
    approximate: bool = False
    _keys: np.ndarray | None = None
    _key_bits: int = 0
    _inverse: np.ndarray | None = None

    @property
    def exact_counts(self) -> bool:
        """True when ``values``/``counts`` describe every valid pixel."""
        return self.strategy != "direct"

    def map(self, func: Callable[[np.ndarray], np.ndarray], dtype: DTypeLike, fill: Any = 0) -> np.ndarray:
        """Evaluate ``func`` on pixel values and return one result per pixel.

        Parameters
        ----------
        func : callable
            Maps ``(n, n_channels)`` value rows to ``(n,)`` or ``(n, d)`` results; called once per
            distinct value (per pixel for the ``"direct"`` strategy).
        dtype : dtype
            Of the result.
        fill : scalar
            Given to invalid (masked, NaN) pixels.

        Returns
        -------
        ndarray
            The spatial shape, plus ``(d,)`` for 2D results.
        """
        if self.strategy == "direct":
            return self._map_direct(func, dtype, fill)
        per_value = np.asarray(func(self.values)).astype(dtype, copy=False)
        return self.scatter(per_value, fill)

    def scatter(self, per_value: np.ndarray, fill: Any = 0) -> np.ndarray:
        """Write one result per distinct value back to every pixel.

        Parameters
        ----------
        per_value : ndarray (U, ...)
            One result per row of :attr:`values`.
        fill : scalar
            Given to invalid (masked, NaN) pixels.

        Returns
        -------
        ndarray
            The spatial shape plus ``per_value.shape[1:]``.
        """
        tail = per_value.shape[1:]
        n = self.layout.n_pixels
        out = np.empty((n, *tail), dtype=per_value.dtype)
        if self.strategy == "inverse":
            if self.valid is None:
                np.take(per_value, self._inverse, axis=0, out=out)
            else:
                out[...] = fill
                out[self.valid] = np.take(per_value, self._inverse, axis=0)
        else:
            self._scatter_lut(per_value, out, fill)
        return out.reshape(self.layout.spatial_shape + tail)

    def _scatter_lut(self, per_value: np.ndarray, out: np.ndarray, fill) -> None:
        tail = per_value.shape[1:]
        n_keys = 1 << self._key_bits
        if per_value.itemsize * int(np.prod(tail, dtype=np.int64)) * n_keys > _DENSE_LUT_BYTES:
            # Too big as a dense table of results: a dense table of row indices instead.
            index_lut = np.full(n_keys, per_value.shape[0], dtype=np.int32)
            index_lut[self._keys] = np.arange(per_value.shape[0], dtype=np.int32)
            rows = np.concatenate([per_value, np.full((1, *tail), fill, per_value.dtype)])
            for start, stop, keys in _key_chunks(self.array, self.layout):
                np.take(rows, index_lut[keys()], axis=0, out=out[start:stop])
            self._fill_invalid(out, fill)
            return
        # Entries of keys not in the table are read only for invalid pixels, which _fill_invalid
        # overwrites: the table is left unfilled (clearing its 2**24 entries cost as much as filling it).
        lut = np.empty((n_keys, *tail), dtype=per_value.dtype)
        lut[self._keys] = per_value
        flat = self.array.reshape(-1) if self.layout.channel_axis is None else None
        if not tail and lut.dtype == np.uint8 and flat is not None and flat.dtype == np.uint8:
            # OpenCV's LUT is one vectorized pass over 8-bit data.
            import cv2

            out[:] = cv2.LUT(flat.reshape(1, -1), lut).reshape(-1)
        elif not tail and _packed_rgb8_keys(self.array, self.layout) is not None:
            _take_packed_rgb8(lut, self.array, self.layout, out)
        else:
            tasks = [
                lambda start=start, stop=stop, keys=keys: np.take(lut, keys(), axis=0, out=out[start:stop])
                for start, stop, keys in _key_chunks(self.array, self.layout)
            ]
            run_all(tasks)
        self._fill_invalid(out, fill)

    def _fill_invalid(self, out: np.ndarray, fill) -> None:
        if self.valid is not None:
            out[~self.valid] = fill

    def _map_direct(self, func, dtype, fill) -> np.ndarray:
        rows = pixel_rows(self.array, self.layout)
        n = self.layout.n_pixels
        out = None
        for start in range(0, n, CHUNK_PIXELS):
            stop = min(n, start + CHUNK_PIXELS)
            chunk = rows[start:stop, : self.layout.n_channels]
            valid = None if self.valid is None else self.valid[start:stop]
            if valid is not None:
                chunk = chunk[valid]
            result = np.asarray(func(chunk)).astype(dtype, copy=False)
            if out is None:
                out = np.empty((n, *result.shape[1:]), dtype=dtype)
            if valid is None:
                out[start:stop] = result
            else:
                out[start:stop] = fill
                out[start:stop][valid] = result
        return out.reshape(self.layout.spatial_shape + out.shape[1:])


def _take_packed_rgb8(lut: np.ndarray, array: np.ndarray, layout: ImageLayout, out: np.ndarray) -> None:
    """``out[i] = lut[key of pixel i]`` for a C-contiguous uint8 RGB image: one run of chunks per thread.

    Each thread widens its chunks' packed keys (:func:`_packed_rgb8_keys`) into one reused index buffer and masks
    them there: ``np.take`` then indexes with the buffer as it is, instead of converting a fresh uint32 key array
    of every chunk to indices (a fresh 8 MB buffer per chunk costs its page faults). gen12, 12 MP: 30 -> 23 ms CPU.
    """
    packed = _packed_rgb8_keys(array, layout)
    n = packed.size
    per_thread = max(1, -(-n // (n_threads() * CHUNK_PIXELS))) * CHUNK_PIXELS

    def run(start: int, stop: int) -> None:
        buffer = np.empty(min(CHUNK_PIXELS, stop - start), np.intp)
        for first in range(start, stop, CHUNK_PIXELS):
            keys = buffer[: min(stop, first + CHUNK_PIXELS) - first]
            np.copyto(keys, packed[first : first + keys.size], casting="unsafe")
            keys &= 0xFFFFFF
            np.take(lut, keys, out=out[first : first + keys.size])

    run_all([lambda start=start: run(start, min(n, start + per_thread)) for start in range(0, n, per_thread)])
    last = array.reshape(-1)[-3:].astype(np.intp)
    out[n] = lut[last[0] | last[1] << 8 | last[2] << 16]


def _lut_key_bits(layout: ImageLayout) -> int | None:
    """Bits of a dense packed key for this layout, or None if too many."""
    if not layout.is_integer:
        return None
    bits = layout.dtype.itemsize * 8 * layout.n_channels
    return bits if bits <= 24 else None


def _packed_rgb8_keys(array: np.ndarray, layout: ImageLayout) -> np.ndarray | None:
    """A zero-copy uint32 view reading each uint8 RGB pixel as R | G<<8 | B<<16 | junk<<24.

    Only for C-contiguous channel-last uint8 RGB (not RGBA); covers all pixels but
    the last one (whose 4-byte read would run past the buffer).
    """
    if (
        layout.total_channels != 3
        or layout.n_channels != 3
        or layout.dtype != np.uint8
        or layout.channel_axis != array.ndim - 1
        or not array.flags.c_contiguous
        or np.little_endian is False
    ):
        return None
    n = layout.n_pixels
    return np.ndarray(shape=(n - 1,), dtype="<u4", buffer=array.reshape(-1), strides=(3,))


def _keys_from_rows(rows: np.ndarray, layout: ImageLayout) -> np.ndarray:
    """Pack each row of integer values into one uint64 key (channel c at bit ``bits * c``)."""
    bits = layout.dtype.itemsize * 8
    keys = np.zeros(rows.shape[0], dtype=np.uint64)
    for c in range(rows.shape[1]):
        column = rows[:, c]
        if column.dtype.kind == "i":
            # Shift signed values to non-negative so keys stay dense.
            column = column.astype(np.int64) + (1 << (bits - 1))
        keys |= column.astype(np.uint64) << np.uint64(bits * c)
    return keys


def _key_words(rows: np.ndarray, layout: ImageLayout) -> list[np.ndarray]:
    """Rows packed into uint64 words, least significant first; together they are the full key.

    Channel ``c`` sits at bit ``bits * c`` of the full (arbitrarily wide) key, so
    sorting by the words, last word first, sorts rows by their last channel first.
    """
    per_word = 64 // (layout.dtype.itemsize * 8)
    return [_keys_from_rows(rows[:, start : start + per_word], layout) for start in range(0, rows.shape[1], per_word)]


def unique_rows(rows: np.ndarray, layout: ImageLayout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct integer value rows, each row's index among them, and their counts; exact for any width.

    Parameters
    ----------
    rows : ndarray (n, C)
        Integer pixel values (colour channels only) in ``layout.dtype``.
    layout : ImageLayout

    Returns
    -------
    values : ndarray (U, C)
        Distinct rows, ordered by their packed key (last channel most significant).
    inverse : ndarray (n,) of intp
        Index into ``values`` of each row.
    counts : ndarray (U,) of int64
    """
    words = _key_words(rows, layout)
    if len(words) == 1:
        keys, inverse, counts = np.unique(words[0], return_inverse=True, return_counts=True)
        return _decode_keys(keys, layout), inverse.reshape(-1), counts.astype(np.int64)
    # Too wide for one 64-bit key: sort by all words and cut where any word changes.
    return _sorted_groups(rows, words)


def _sorted_groups(rows: np.ndarray, words: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct ``rows``, each row's index among them and their counts, ordered by ``words`` (the last first)."""
    n = rows.shape[0]
    order = _lexsort(words)
    starts_group = np.zeros(n, dtype=bool)
    starts_group[:1] = True
    for word in words:
        ordered = word[order]
        starts_group[1:] |= ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(starts_group)
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(starts_group) - 1
    counts = np.diff(np.append(starts, n)).astype(np.int64)
    return np.ascontiguousarray(rows[order[starts]]), inverse, counts


def _all_integers(rows: np.ndarray) -> bool:
    """True when every float value is a whole number; chunk by chunk, stopping at the first chunk that is not.

    The first chunk is a small one: continuous data is told apart without a pass over a million rows.
    """
    starts = [0, *range(_FIRST_WHOLE_CHECK, rows.shape[0], CHUNK_PIXELS)]
    for start, stop in zip(starts, [*starts[1:], rows.shape[0]], strict=True):
        chunk = rows[start:stop]
        if not np.array_equal(chunk, np.rint(chunk)):
            return False
    return True


def _lexsort(words: list[np.ndarray]) -> np.ndarray:
    """``np.lexsort(words)``, the same order, sorting on the other words only the rows that tie on the last.

    ``np.lexsort`` makes one stable indirect sort per word over every row (~0.46 s CPU for a million rows of
    three float32 channels). Rows of continuous float data rarely tie on one channel: a stable sort by the
    last word, then the ties' own lexsort, gives the same order for a fifth of that. A strided sample of the
    last word tells which way is cheaper; either way the order is ``np.lexsort``'s.
    """
    primary = words[-1]
    n = primary.shape[0]
    sample = primary[:: max(1, n // _TIE_SAMPLE)]
    if len(words) == 1 or np.unique(sample).size < 0.9 * sample.size:  # many ties: one lexsort is cheaper
        return np.lexsort(words)
    order = np.argsort(primary, kind="stable")
    ordered = primary[order]
    tie = ordered[1:] == ordered[:-1]
    tied = np.zeros(n, dtype=bool)
    tied[1:] |= tie
    tied[:-1] |= tie
    where = np.flatnonzero(tied)
    if where.size:
        run = np.cumsum(np.append(True, ~tie))[where]  # each tied row's run, numbered in sorted order
        members = order[where]
        order[where] = members[np.lexsort([word[members] for word in words[:-1]] + [run])]
    return order


def unique_float_rows(rows: np.ndarray, whole_numbers: bool | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct float value rows, each row's index among them, and their counts: exact (equal values only).

    Ordered as :func:`unique_rows` orders integers (by value, the last channel most significant), so a float
    copy of an integer image has the same distinct values, counts and order, and so the same fit.

    Parameters
    ----------
    rows : ndarray (n, C)
        Finite float pixel values (colour channels only).
    whole_numbers : bool, optional
        Whether every value is a whole number, when the caller has checked it already (None: checked here).

    Returns
    -------
    values : ndarray (U, C)
        Distinct rows (``-0.0`` and ``0.0`` are one value).
    inverse : ndarray (n,) of intp
        Index into ``values`` of each row.
    counts : ndarray (U,) of int64
    """
    counted = _count_small_whole_numbers(rows, whole_numbers)
    if counted is not None:
        return counted
    if rows.shape[1] == 1:
        values, inverse, counts = np.unique(rows[:, 0], return_inverse=True, return_counts=True)
        return values[:, None], inverse.reshape(-1), counts.astype(np.int64)
    return _sorted_groups(rows, list(rows.T))


def _count_small_whole_numbers(
    rows: np.ndarray, whole_numbers: bool | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`unique_float_rows` by a histogram of packed keys when the values are small whole numbers.

    A float copy of a uint8 RGB or uint16 gray image (whole numbers 0..255 / 0..65535: keys of at most 24 bits)
    is counted as the integer image is, in one pass and without a sort (a lexsort of a 12 MP copy took ~6 s);
    the keys' order is the integer keys' (last channel most significant). None for any other values.
    """
    packed = _small_whole_keys(rows, whole_numbers)
    if packed is None:
        return None
    keys, bits = packed
    histogram = np.bincount(keys, minlength=1 << (bits * rows.shape[1]))
    seen = histogram > 0
    present = np.flatnonzero(seen)
    rank = np.cumsum(seen) - 1  # each key's index among the present ones
    return _small_whole_values(present, bits, rows), rank[keys], histogram[present].astype(np.int64)


def _small_whole_keys(rows: np.ndarray, whole_numbers: bool | None) -> tuple[np.ndarray, int] | None:
    """Each row's uint32 key (channel c at bit ``bits * c``) and ``bits``, for small non-negative whole numbers."""
    n, channels = rows.shape
    if n == 0 or not (_all_integers(rows) if whole_numbers is None else whole_numbers):
        return None
    low, high = float(rows.min()), float(rows.max())
    bits = max(1, int(high).bit_length())  # as few as the largest value needs: a small histogram for small values
    if low < 0 or bits * channels > 24:
        return None
    keys = rows[:, 0].astype(np.uint32)
    for channel in range(1, channels):
        keys |= rows[:, channel].astype(np.uint32) << np.uint32(bits * channel)
    return keys, bits


def _small_whole_values(keys: np.ndarray, bits: int, rows: np.ndarray) -> np.ndarray:
    """The value rows (in ``rows``' dtype) of keys made by :func:`_small_whole_keys`."""
    shifts = bits * np.arange(rows.shape[1])
    return ((keys[:, None] >> shifts) & ((1 << bits) - 1)).astype(rows.dtype)


def count_float_rows(
    rows: np.ndarray, weights: np.ndarray | None = None, whole_numbers: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct float value rows and their counts, as :func:`unique_float_rows` gives them, without each row's index.

    For counting chunks of a lazy image and merging their counts: small whole numbers (a float copy of an
    8-bit RGB or 16-bit gray image) by a sort of their packed keys when the rows are few against the keys'
    range, else by a histogram, never the 2**24-entry prefix sum that each row's index needs.

    Parameters
    ----------
    rows : ndarray (n, C)
        Finite float pixel values (colour channels only).
    weights : ndarray (n,) of int, optional
        Each row's count (None: one each).
    whole_numbers : bool, optional
        Whether every value is a whole number, when the caller has checked it already (None: checked here).

    Returns
    -------
    values : ndarray (U, C)
    counts : ndarray (U,) of int64
        The rows' counts (or summed weights) per value.
    """
    packed = _small_whole_keys(rows, whole_numbers)
    if packed is None:
        values, inverse, counts = unique_float_rows(rows, whole_numbers)
        if weights is not None:
            counts = np.bincount(inverse, weights=weights, minlength=values.shape[0]).astype(np.int64)
        return values, counts
    keys, bits = packed
    if weights is None and keys.size <= _SORT_COUNT_PIXELS and keys.size << 3 < 1 << (bits * rows.shape[1]):
        present, counts = _sorted_distinct(keys, None)
    else:
        histogram = np.bincount(keys, weights=weights, minlength=1 << (bits * rows.shape[1]))
        present = np.flatnonzero(histogram != 0)  # through bool: nonzero on float64 is several times slower
        counts = histogram[present].astype(np.int64)
    return _small_whole_values(present, bits, rows), counts


def _key_chunks(array: np.ndarray, layout: ImageLayout) -> list[tuple[int, int, Callable[[], np.ndarray]]]:
    """``(start, stop, keys)`` over all pixels in chunks; ``keys()`` computes that chunk's packed keys.

    Keys are computed on demand so that threads can each compute and use their own chunk.
    """
    n = layout.n_pixels
    packed = _packed_rgb8_keys(array, layout)
    chunks: list[tuple[int, int, Callable[[], np.ndarray]]] = []
    if packed is not None:
        mask24 = np.uint32(0xFFFFFF)
        for start in range(0, n - 1, CHUNK_PIXELS):
            stop = min(n - 1, start + CHUNK_PIXELS)
            chunks.append((start, stop, lambda a=start, b=stop: np.bitwise_and(packed[a:b], mask24)))
        last = array.reshape(-1)[-3:].astype(np.uint32)
        key = np.array([last[0] | last[1] << 8 | last[2] << 16], dtype=np.uint32)
        chunks.append((n - 1, n, lambda: key))
        return chunks
    rows = pixel_rows(array, layout)

    def keys(a: int, b: int) -> np.ndarray:
        chunk = rows[a:b, : layout.n_channels]
        if layout.n_channels == 1 and chunk.dtype.kind == "u":
            return chunk[:, 0]
        return _keys_from_rows(chunk, layout).astype(np.int64)

    for start in range(0, n, CHUNK_PIXELS):
        stop = min(n, start + CHUNK_PIXELS)
        chunks.append((start, stop, lambda a=start, b=stop: keys(a, b)))
    return chunks


def _decode_keys(keys: np.ndarray, layout: ImageLayout) -> np.ndarray:
    bits = layout.dtype.itemsize * 8
    if layout.dtype == np.uint8 and layout.n_channels <= 4:
        # Channel c sits in byte c of a little-endian 32-bit key: its bytes are the value row.
        rows = keys.astype("<u4").view(np.uint8).reshape(-1, 4)
        cv2 = opencv() if layout.n_channels == 3 and 0 < rows.shape[0] < 2**31 else None
        if cv2 is not None:
            # The first three bytes of each four: OpenCV's RGBA -> RGB copy, the same bytes (1.4 million values:
            # 0.13 ms against 6 ms for NumPy's strided copy).
            return cv2.cvtColor(rows.reshape(1, -1, 4), cv2.COLOR_RGBA2RGB).reshape(-1, 3)
        return np.ascontiguousarray(rows[:, : layout.n_channels])
    keys = keys.astype(np.uint64)
    cols = [(keys >> np.uint64(bits * c)) & np.uint64((1 << bits) - 1) for c in range(layout.n_channels)]
    values = np.column_stack(cols).astype(np.int64)
    if layout.dtype.kind == "i":
        values -= 1 << (bits - 1)
    return values.astype(layout.dtype)


def _count_rgb8(array: np.ndarray, layout: ImageLayout, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct packed RGB keys (R | G<<8 | B<<16) and their counts.

    OpenCV's 3D histogram: one pass, 64 MiB of bins. It counts in float32,
    exact up to 2**24 per bin, so images are counted in slices of at most
    2**24 pixels and the slices merged in int64.
    """
    width = layout.spatial_shape[-1]
    channels_last = np.ascontiguousarray(np.moveaxis(array, layout.channel_axis, -1))
    image = channels_last.reshape(-1, width, layout.total_channels)
    flat_valid = None if valid is None else valid.reshape(-1, width)
    rows_per_slice = max(1, _HISTOGRAM_SLICE_PIXELS // width)
    import cv2

    # Each thread counts one range of blue values over the whole slice: the same
    # 64 MiB of bins in total, split between threads.
    found_keys, found_counts = [], []
    for start in range(0, image.shape[0], rows_per_slice):
        part = image[start : start + rows_per_slice]
        bounds = _blue_bounds(part, min(n_threads(), 4))
        part_mask = None
        if flat_valid is not None:
            part_mask = flat_valid[start : start + rows_per_slice].astype(np.uint8)

        def count(low: int, high: int, part=part, part_mask=part_mask) -> tuple[np.ndarray, np.ndarray]:
            # channels [2, 1, 0]: bin index (b - low)<<16 | g<<8 | r, the packed key minus low<<16.
            hist = cv2.calcHist([part], [2, 1, 0], part_mask, [high - low, 256, 256], [low, high, 0, 256, 0, 256])
            hist = hist.reshape(-1)
            # Through a boolean array: numpy's nonzero on float32 is several times slower than on bool.
            keys = np.flatnonzero(hist != 0)
            return keys + (low << 16), hist[keys].astype(np.int64)

        for keys, counts in run_all([lambda lo=lo, hi=hi: count(lo, hi) for lo, hi in itertools.pairwise(bounds)]):
            found_keys.append(keys)
            found_counts.append(counts)
    keys = np.concatenate(found_keys)
    counts = np.concatenate(found_counts)
    if rows_per_slice >= image.shape[0]:  # one slice: keys are already sorted and distinct
        return keys, counts
    keys, inverse = np.unique(keys, return_inverse=True)
    return keys, np.bincount(inverse, weights=counts).astype(np.int64)


#: What counting one pixel costs against clearing and scanning one bin of the 3-D histogram (measured on the
#: 12 MP photos: about 3.2 and 1.8 ns), to split the blue range between threads by work, not by width.
_PIXEL_COST = 1.75


def _blue_bounds(part: np.ndarray, parts: int) -> list[int]:
    """Bounds of ``parts`` ranges of blue values that give each thread of :func:`_count_rgb8` about as much work.

    Each range costs its pixels (counted) and its ``256 * 256`` bins per blue value (cleared and scanned);
    the pixels per blue value are estimated from about 256 evenly spaced rows. Equal widths left one thread
    with 97 % of the pixels of a dark photo (gen12noisy: 63 ms against 26 ms on one core). Any bounds give
    the same counts; only the time changes.

    Parameters
    ----------
    part : ndarray (rows, width, channels) of uint8
    parts : int

    Returns
    -------
    list of int
        Increasing, from 0 to 256.
    """
    import cv2

    if parts <= 1:
        return [0, 256]
    step = max(1, part.shape[0] // 256)
    sampled = part[::step]
    pixels = cv2.calcHist([sampled], [2], None, [256], [0, 256])[:, 0] * (part.shape[0] / sampled.shape[0])
    cost = np.cumsum(_PIXEL_COST * pixels.astype(np.float64) + 65536.0)
    cuts = np.searchsorted(cost, cost[-1] * np.arange(1, parts) / parts) + 1
    return sorted({0, 256, *(int(cut) for cut in np.clip(cuts, 1, 255))})


def run_starts(ordered: np.ndarray) -> np.ndarray:
    """Indices where a sorted array changes value, the first index included (empty for an empty array).

    Parameters
    ----------
    ordered : ndarray (n,)
        Sorted values.

    Returns
    -------
    ndarray of intp
    """
    change = np.empty(ordered.size, dtype=bool)
    change[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=change[1:])
    return np.flatnonzero(change)


def _sorted_distinct(keys: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys (ascending) and their counts, from one plain sort of the valid pixels' keys.

    The keys are below 2**24, so they are sorted as int32 by OpenCV's row sort: measured 1.0 ms CPU for
    262 144 keys against 6.6 ms for ``np.sort`` (numpy 2.4, this machine's AMD EPYC). ``np.sort`` in a
    short process that has not loaded OpenCV (:mod:`napari_colorquant._loaded`); both give the same keys.
    """
    chosen = keys if valid is None else keys[valid]
    if chosen.size == 0:
        return chosen, np.zeros(0, np.int64)
    cv2 = opencv()
    if cv2 is None:
        ordered = np.sort(chosen)
    else:
        as_int32 = chosen.view(np.int32) if chosen.dtype == np.uint32 else chosen.astype(np.int32)
        ordered = cv2.sort(as_int32.reshape(1, -1), cv2.SORT_EVERY_ROW | cv2.SORT_ASCENDING).reshape(-1)
    first = run_starts(ordered)
    return ordered[first].astype(keys.dtype), np.diff(first, append=ordered.size).astype(np.int64, copy=False)


def _count_gray(array: np.ndarray, layout: ImageLayout, valid: np.ndarray | None, bits: int) -> np.ndarray:
    """Histogram of uint8/uint16 gray values with OpenCV (one vectorized pass).

    ``cv2.calcHist`` counts in float32, exact up to 2**24 per bin: slices of at
    most 2**24 pixels, summed in int64.
    """
    import cv2

    flat = array.reshape(-1)
    flat_valid = None if valid is None else valid.reshape(-1)
    total = np.zeros(1 << bits, dtype=np.int64)
    for start in range(0, flat.size, 1 << 24):
        part = np.ascontiguousarray(flat[start : start + (1 << 24)]).reshape(1, -1)
        mask = None if flat_valid is None else flat_valid[start : start + (1 << 24)].reshape(1, -1).view(np.uint8)
        total += cv2.calcHist([part], [0], mask, [1 << bits], [0, 1 << bits])[:, 0].astype(np.int64)
    return total


def _count_dense(array: np.ndarray, layout: ImageLayout, valid: np.ndarray | None, bits: int) -> np.ndarray:
    if layout.kind == "gray" and layout.dtype in (np.uint8, np.uint16):
        return _count_gray(array, layout, valid, bits)
    total = np.zeros(1 << bits, dtype=np.int64)
    for start, stop, chunk_keys in _key_chunks(array, layout):
        keys = chunk_keys()
        if valid is not None:
            keys = keys[valid[start:stop]]
        total += np.bincount(keys, minlength=1 << bits)
    return total


def build_table(
    array: np.ndarray,
    layout: ImageLayout,
    mask: np.ndarray | None = None,
    *,
    max_samples: int | None = DEFAULT_MAX_SAMPLES,
    seed: int = 0,
    allow_empty: bool = False,
) -> PixelTable:
    """Count the distinct valid pixel values of an image.

    Parameters
    ----------
    array, layout
        From :func:`describe_image`.
    mask : ndarray of bool, optional
        Pixels to use (spatial shape).
    max_samples : int or None
        Above this many distinct values (or valid pixels, for float data) the
        fit runs on a reproducible sample of this many pixels.
    seed : int
        Seed of that sample.
    allow_empty : bool
        Return an empty table (every pixel invalid) instead of raising; for
        predicting, where an all-NaN or all-masked image or chunk gets label 0.

    Returns
    -------
    PixelTable

    Raises
    ------
    ValueError
        If no pixel is valid (all NaN/inf or outside the mask) and not ``allow_empty``.
    """
    valid = valid_pixels(array, layout, mask)
    n_valid = layout.n_pixels if valid is None else int(np.count_nonzero(valid))
    if n_valid == 0 and not allow_empty:
        what = "all pixels are NaN/inf or outside the mask" if layout.dtype.kind == "f" else "the mask is empty"
        raise ValueError(f"nothing to cluster: {what}")
    bits = _lut_key_bits(layout)
    common = dict(layout=layout, array=array, n_valid=n_valid, valid=valid)
    small_rgb8 = bits == 24 and layout.n_pixels <= _SORT_COUNT_PIXELS
    if bits is not None:
        if small_rgb8:
            # Sorting the keys is cheaper than clearing and scanning 2**24 bins for small images; no
            # per-pixel inverse is kept (np.unique's argsort costs 3x the sort): labels are written back
            # through the same dense lookup as for large images.
            keys, counts = _sorted_distinct(np.concatenate([k() for _, _, k in _key_chunks(array, layout)]), valid)
        elif layout.n_channels == 3 and layout.dtype == np.uint8:
            keys, counts = _count_rgb8(array, layout, valid)
        else:
            totals = _count_dense(array, layout, valid, bits)
            keys = np.flatnonzero(totals)
            counts = totals[keys]
        table = PixelTable(
            values=_decode_keys(keys, layout),
            counts=counts,
            strategy="lut",
            _keys=keys,
            _key_bits=bits,
            **common,
        )
    elif layout.is_integer:
        # Sorting is the only exact option for keys wider than 24 bits.
        rows = pixel_rows(array, layout)[:, : layout.n_channels]
        values, inverse, counts = unique_rows(rows if valid is None else rows[valid], layout)
        table = PixelTable(values=values, counts=counts, strategy="inverse", _inverse=inverse, **common)
    else:
        rows = pixel_rows(array, layout)[:, : layout.n_channels]
        table = _float_table(rows if valid is None else rows[valid], max_samples, common)

    table.fit_values, table.fit_weights = table.values, table.counts.astype(np.float64)
    if max_samples is not None and table.values.shape[0] > max_samples:
        table.fit_values, table.fit_weights = _sample(table, max_samples, seed)
        table.approximate = True
    return table


def _float_table(rows: np.ndarray, max_samples: int | None, common: dict) -> PixelTable:
    """The table of valid float rows: equal values counted once, or above ``max_samples`` every pixel a sample.

    Equal float values are counted once, as integers are: a float copy of an integer image is fitted on the same
    weighted values in the same order (k-means++ / EM starts draw the same), not pixel by pixel. Above
    ``max_samples`` pixels only whole numbers (a copy of an integer image, whose values repeat) are counted.
    """
    counted_all = max_samples is None or rows.shape[0] <= max_samples
    whole = None if counted_all else _all_integers(rows)  # checked once, passed on
    if counted_all or whole:
        values, inverse, counts = unique_float_rows(rows, whole)
        return PixelTable(values=values, counts=counts, strategy="inverse", _inverse=inverse, **common)
    return PixelTable(values=rows, counts=np.ones(rows.shape[0], np.int64), strategy="direct", **common)


def _sample(table: PixelTable, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A reproducible sample of ``n_samples`` pixels, as distinct values with counts."""
    if table.strategy != "direct":
        return _sample_values(table.values, table.counts, n_samples, seed)
    rng = np.random.default_rng(seed)
    picks = rng.choice(table.values.shape[0], size=n_samples, replace=False)  # every value is one pixel
    index, weights = np.unique(picks, return_counts=True)
    return table.values[index], weights.astype(np.float64)


def _sample_values(values: np.ndarray, counts: np.ndarray, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A reproducible sample of ``n_samples`` pixels drawn from counted distinct values (the lazy path's too)."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(values.shape[0], size=n_samples, replace=True, p=counts / counts.sum())
    index, weights = np.unique(picks, return_counts=True)
    return values[index], weights.astype(np.float64)

"""Library workflows built on the front door: fit on a slice then label the stack, stack channels, pyramids.

These are what the napari widget runs in its worker thread, and they work the
same from Python: :func:`run` takes a :class:`RunRequest` (plain arrays and
parameters, no napari) and returns a :class:`RunOutput`. Nothing here imports
napari, Qt or magicgui; dask is imported only for dask inputs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import feature_space
from .model import ClusterModel
from .quantize import QuantizeResult, apply_model, posteriors, quantize

Progress = Callable[[str, float], None]
POSTERIOR_KINDS = ("none", "max posterior", "per cluster")

#: An in-memory stack above this many bytes is labelled lazily by :func:`fit_on_frames` and
#: :func:`fit_on_slice`: labels and colours are dask arrays with one chunk per frame, each predicted
#: from the one model when it is looked at or saved, so a large time-lapse's outputs never sit in
#: memory all at once (eagerly they take the input's size again plus one byte per pixel). Needs dask
#: (the ``[lazy]`` extra); without it the stack is labelled eagerly.
LAZY_STACK_BYTES = 256 * 2**20


def _silent(stage: str, fraction: float) -> None:
    """A progress callback that reports nowhere."""


def stack_channels(arrays: Sequence) -> Any:
    """Stack same-shape single-channel arrays on a new last (channel) axis; lazy if any input is.

    Parameters
    ----------
    arrays : sequence of array_like
        Two or more arrays of one shape (numpy or dask).

    Returns
    -------
    ndarray or dask array
        Shape ``arrays[0].shape + (len(arrays),)``.

    Raises
    ------
    ValueError
        When the shapes differ.
    """
    shapes = {tuple(np.shape(a)) for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"channel layers must all have the same shape, got {sorted(shapes)}")
    # numpy hands a stack holding a dask array to dask (NEP 18): it stays lazy, and dask is never imported here.
    return np.stack(arrays, axis=-1)


def describe_index(index: tuple) -> str:
    """``(5, slice(None), slice(None))`` → ``"[5, :, :]"``.

    Parameters
    ----------
    index : tuple
        Ints and slices, one per axis.

    Returns
    -------
    str
    """
    return "[" + ", ".join(":" if isinstance(i, slice) else str(i) for i in index) + "]"


def _check_whole_image_options(params: dict, scope: str) -> None:
    """Refuse options that act on the pixels of the run when only part of the image is fitted.

    Smoothing and dithering render the fitted pixels; the rest of the image is then only labelled by
    the model (:func:`apply`), so they would silently apply to a slice alone.
    """
    dither = params.get("dither", False)
    asked = [name for name, on in (("smoothing", (params.get("smoothing") or 0) > 0),
                                   ("dither", dither not in (False, None, "none"))) if on]  # fmt: skip
    if asked:
        raise ValueError(
            f"{' and '.join(asked)} works on the whole image; with '{scope}' the other pixels are only labelled "
            "by the model: fit on the whole stack, or set it off"
        )


def fit_on_slice(
    image: ArrayLike,
    index: tuple,
    *,
    channel_axis: int | None = None,
    mask: ArrayLike | None = None,
    progress: Progress | None = None,
    **params: Any,
) -> tuple[QuantizeResult, QuantizeResult]:
    """Fit on one slice of an nD image, then label the whole image with that model.

    Parameters
    ----------
    image : array_like or dask array
        nD image.
    index : tuple
        One item per axis of ``image``: an int for each sliced axis, ``slice(None)`` for the
        kept ones (the channel axis, or a last RGB(A) axis, must be kept whole).
    channel_axis : int, optional
        As for :func:`~napari_colorquant.quantize`, on the whole image.
    mask : array_like of bool, optional
        Pixel-grid mask of the whole image.
    progress : callable, optional
        As for :func:`~napari_colorquant.quantize`.
    **params
        Clustering parameters, as for :func:`~napari_colorquant.quantize`.

    Returns
    -------
    result : QuantizeResult
        The whole image labelled; ``result.model.params["fitted_on_slice"]`` records the slice.
    fit_result : QuantizeResult
        The fit on the slice alone.

    Raises
    ------
    ValueError
        When ``index`` does not have one item per axis or slices the channel axis.
    """
    _check_whole_image_options(params, "fit on one slice")
    shape = np.shape(image)
    index = tuple(index)
    if len(index) != len(shape):
        raise ValueError(f"index {describe_index(index)} needs one item per axis of the image of shape {shape}")
    axis = None if channel_axis is None else int(channel_axis) % len(shape)
    if axis is not None and not isinstance(index[axis], slice):
        raise ValueError(f"index {describe_index(index)} must keep the channel axis {axis} whole")
    sliced_axis = None if axis is None else axis - sum(1 for i in index[:axis] if not isinstance(i, slice))
    fit_mask = None
    if mask is not None:
        fit_mask = mask[tuple(i for n, i in enumerate(index) if n != axis)[: np.ndim(mask)]]
    fit_result = quantize(image[index], channel_axis=sliced_axis, mask=fit_mask, progress=progress, **params)
    (progress or _silent)("write", 0.5)
    fit_result.model.params["fitted_on_slice"] = describe_index(index)
    frame_axes = tuple(n for n, i in enumerate(index) if not isinstance(i, slice))
    return _label_stack(fit_result.model, image, frame_axes, mask=mask, channel_axis=channel_axis), fit_result


def fit_on_frames(
    image: ArrayLike,
    axis: int,
    step: int,
    *,
    channel_axis: int | None = None,
    mask: ArrayLike | None = None,
    progress: Progress | None = None,
    **params: Any,
) -> tuple[QuantizeResult, QuantizeResult]:
    """Fit one model on every ``step``-th frame of a time-lapse, then label every frame with it.

    One model for all frames means one palette: colours do not flicker from frame to frame.
    Dask inputs stay lazy (labels are computed when a frame is looked at or saved).

    Parameters
    ----------
    image : array_like or dask array
        nD image whose ``axis`` is time (or any axis to subsample).
    axis : int
        The frame axis (not the channel axis).
    step : int
        Fit on frames ``0, step, 2 step, …``; 1 fits on every frame.
    channel_axis : int, optional
        As for :func:`~napari_colorquant.quantize`, on the whole image.
    mask : array_like of bool, optional
        Pixel-grid mask of the whole image.
    progress : callable, optional
    **params
        Clustering parameters, as for :func:`~napari_colorquant.quantize`.

    Returns
    -------
    result : QuantizeResult
        Every frame labelled; ``result.model.params["fitted_on_frames"]`` records the frames.
    fit_result : QuantizeResult
        The fit on the chosen frames alone.

    Raises
    ------
    ValueError
        When ``axis`` is out of range or is the channel axis, or ``step`` is not a positive integer.
    """
    _check_whole_image_options(params, "fit on every n-th frame")
    ndim = len(np.shape(image))
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
        raise ValueError(f"step must be a positive integer (fit on every step-th frame), got {step!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"frame axis {axis} is out of range for an image with {ndim} dimensions")
    axis %= ndim
    channel = None if channel_axis is None else int(channel_axis) % ndim
    if axis == channel:
        raise ValueError(f"the frame axis {axis} is the channel axis; choose another axis")
    index = tuple(slice(None, None, int(step)) if i == axis else slice(None) for i in range(ndim))
    fit_mask = None
    if mask is not None:
        pixel_axis = axis - (1 if channel is not None and channel < axis else 0)
        fit_mask = mask[tuple(slice(None, None, int(step)) if i == pixel_axis else slice(None)
                              for i in range(np.ndim(mask)))]  # fmt: skip
    fit_result = quantize(image[index], channel_axis=channel, mask=fit_mask, progress=progress, **params)
    (progress or _silent)("write", 0.5)
    frames = np.shape(image)[axis]
    fit_result.model.params["fitted_on_frames"] = f"{len(range(0, frames, int(step)))} of {frames} (every {step})"
    return _label_stack(fit_result.model, image, (axis,), mask=mask, channel_axis=channel_axis), fit_result


def frames_lazily(image: ArrayLike, frame_axes: Sequence[int], limit: int | None = None) -> ArrayLike:
    """An in-memory stack above ``limit`` bytes as a dask array with one chunk per frame; else ``image`` itself.

    Parameters
    ----------
    image : array_like or dask array
        The stack (any other value is returned as it is).
    frame_axes : sequence of int
        Axes cut into one-frame chunks (the others, channels included, stay whole in a chunk).
    limit : int, optional
        Bytes; default :data:`LAZY_STACK_BYTES`.

    Returns
    -------
    ndarray or dask array
        ``image`` unchanged when it is already lazy, small enough, or dask is not installed.
    """
    limit = LAZY_STACK_BYTES if limit is None else limit
    if not isinstance(image, np.ndarray) or image.nbytes <= limit:  # a dask array is not an ndarray
        return image
    try:
        import dask.array as da
    except ImportError:
        return image
    axes = {int(a) % image.ndim for a in frame_axes}
    return da.from_array(image, chunks=tuple(1 if i in axes else -1 for i in range(image.ndim)))


def _label_stack(model: ClusterModel, image, frame_axes: Sequence[int], *, mask, channel_axis) -> QuantizeResult:
    """Every frame labelled with the one model: lazily, frame by frame, for a large in-memory stack."""
    return apply_model(model, frames_lazily(image, frame_axes), mask=mask, channel_axis=channel_axis)


@dataclass
class PyramidOutput:
    """A pyramid labelled with one model: the result on level 0 and every level's labels and colours."""

    result: QuantizeResult
    labels: list
    quantized: list
    fit_result: QuantizeResult | None = None


def fit_pyramid(levels: Sequence, *, progress: Progress | None = None, **params) -> PyramidOutput:
    """Fit on the finest pyramid level within the pixel budget and label every level lazily.

    Parameters
    ----------
    levels : sequence of arrays
        Finest first (napari's multiscale data), numpy or dask.
    progress : callable, optional
    **params
        As for :func:`~napari_colorquant.quantize` (``n_clusters`` included).

    Returns
    -------
    PyramidOutput
    """
    from .lazy import quantize_multiscale

    pyramid = quantize_multiscale(levels, progress=progress, **params)
    return PyramidOutput(pyramid.fit_result, pyramid.labels, pyramid.quantized, pyramid.fit_result)


def apply_to_pyramid(model: ClusterModel, levels: Sequence) -> PyramidOutput:
    """Label every level of a pyramid with a fitted model (lazily); figures from level 0.

    Parameters
    ----------
    model : ClusterModel
    levels : sequence of arrays

    Returns
    -------
    PyramidOutput
    """
    import dask.array as da

    from .lazy import apply_lazy, predict_lazy

    arrays = [da.asarray(level) for level in levels]  # a dask level is kept as it is
    pairs = [predict_lazy(model, level) for level in arrays]
    result = apply_lazy(model, arrays[0])
    return PyramidOutput(result, [labels for labels, _ in pairs], [colours for _, colours in pairs])


@dataclass
class RunRequest:
    """Everything one run needs, as plain data (what the widget gathers from its layers).

    Attributes
    ----------
    data : array_like or dask array
        The image (level 0 of a pyramid).
    params : dict
        Clustering parameters for :func:`~napari_colorquant.quantize` (``n_clusters`` included).
    channel_axis : int, optional
    mask : array_like of bool, optional
    fit_index : tuple, optional
        Fit on this slice, then label the whole image (:func:`fit_on_slice`).
    levels : list, optional
        Every pyramid level, finest first (:func:`fit_pyramid`).
    frames : (axis, step), optional
        Fit on every ``step``-th frame along ``axis``, then label all frames (:func:`fit_on_frames`).
    posterior : {"none", "max posterior", "per cluster"}
        EM soft segmentation to compute.
    sample_points : int
        Size of the feature-space sample to draw (0: none, nothing is drawn).
    """

    data: Any
    params: dict[str, Any]
    channel_axis: int | None = None
    mask: Any = None
    fit_index: tuple | None = None
    levels: list | None = None
    frames: tuple[int, int] | None = None
    posterior: str = "none"
    sample_points: int = 0


@dataclass
class RunOutput:
    """What :func:`run` returns."""

    result: QuantizeResult
    label_levels: list | None = None
    quantized_levels: list | None = None
    fit_result: QuantizeResult | None = None
    posteriors: Any = None
    sample: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def run(request: RunRequest, progress: Progress | None = None) -> RunOutput:
    """Cluster as the request says: whole image, one slice then the stack, or a pyramid.

    Parameters
    ----------
    request : RunRequest
    progress : callable, optional
        ``progress(stage, fraction)`` with stages ``"count"``, ``"fit"``, ``"write"`` and,
        when a sample is drawn, ``"view"``; it may raise to abort the run.

    Returns
    -------
    RunOutput
    """
    start = time.perf_counter()
    report = progress or _silent
    out = _cluster(request, progress)
    report("write", 1.0)
    if request.posterior != "none":
        image = request.levels[0] if request.levels is not None else request.data
        axis = None if request.levels is not None else request.channel_axis
        if out.result.lazy and isinstance(image, np.ndarray):  # a large stack labelled lazily: posteriors too
            image = _chunked_like(image, out.result.labels, axis)
        # The result keeps the table it counted: posteriors do not count the image again.
        out.posteriors = posteriors(out.result, image, mask=request.mask, channel_axis=axis)
    if request.sample_points > 0:
        report("view", 0.0)
        out.sample = feature_space.sample_features(
            out.result, request.sample_points, seed=int(request.params.get("seed", 0)), image=request.data
        )
        report("view", 1.0)
    out.seconds = time.perf_counter() - start
    return out


def _chunked_like(image: np.ndarray, labels, channel_axis: int | None):
    """``image`` as a dask array chunked as its lazy ``labels`` (channels whole in each chunk)."""
    import dask.array as da

    chunks = list(labels.chunks)
    if image.ndim > len(chunks):  # a channel axis, or the last RGB(A) axis
        chunks.insert(image.ndim - 1 if channel_axis is None else channel_axis % image.ndim, -1)
    return da.from_array(image, chunks=tuple(chunks))


def _cluster(request: RunRequest, progress: Progress | None) -> RunOutput:
    params = request.params
    if request.levels is not None:
        pyramid = fit_pyramid(request.levels, progress=progress, **params)
        return RunOutput(pyramid.result, pyramid.labels, pyramid.quantized)
    if request.fit_index is not None:
        result, fit_result = fit_on_slice(
            request.data, request.fit_index, channel_axis=request.channel_axis, mask=request.mask,
            progress=progress, **params,
        )  # fmt: skip
        return RunOutput(result, fit_result=fit_result)
    if request.frames is not None:
        axis, step = request.frames
        result, fit_result = fit_on_frames(request.data, axis, step, channel_axis=request.channel_axis,
                                           mask=request.mask, progress=progress, **params)  # fmt: skip
        return RunOutput(result, fit_result=fit_result)
    result = quantize(request.data, channel_axis=request.channel_axis, mask=request.mask, progress=progress, **params)
    return RunOutput(result)

"""The in-memory pixel path: count the image once, fit, write labels and colours back through a lookup.

``engine="fast"`` counts distinct pixel values (:func:`~napari_colorquant.pixels.build_table`),
fits on the weighted distinct values (:func:`~napari_colorquant.fitting.fit_values`) and
scatters the labels back; ``engine="opencv"`` runs the notebook's ``cv2.kmeans`` /
``cv2.ml.EM`` on every pixel. Called by the front door (:mod:`quantize`) for numpy input.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from ._threads import run_all, single_threaded_blas
from .colorspaces import CHROMA_SPACES
from .fitting import fit_values, run_record
from .model import ClusterModel
from .params import ClusterParameters
from .pixels import PixelTable, build_table, check_mask, describe_image
from .result import QuantizeResult, make_result, weighted_mse

Progress = Callable[[str, float], None]


def quantize_eager(
    image: ArrayLike, params: ClusterParameters, mask: ArrayLike | None = None, progress: Progress | None = None
) -> QuantizeResult:
    """Cluster an in-memory image (see :func:`napari_colorquant.quantize`).

    Parameters
    ----------
    image : array_like
    params, mask, progress
        As for :func:`~napari_colorquant.quantize.quantize_with`.

    Returns
    -------
    QuantizeResult
        Keeps the :class:`~napari_colorquant.pixels.PixelTable` it counted (``result.table``).

    Raises
    ------
    TypeError, ValueError
        For an unusable image, mask or parameter combination.
    """
    array, layout, space = describe_image(image, params.channel_axis, params.color_space)
    mask = check_mask(mask, layout)
    if params.dither != "none":
        from .dither import check_ditherable

        # Before the fit: say at once what cannot be dithered.
        largest_k = params.k_range[1] if params.is_auto else params.n_clusters
        check_ditherable(layout.dtype, layout.n_channels, largest_k, space in CHROMA_SPACES)
    record = run_record(params, space, layout, mask is not None)
    if params.engine == "opencv":
        from .opencv_engine import fit_opencv

        start = time.perf_counter()
        model, labels, valid = fit_opencv(array, layout, space, mask, dict(params.fit_options(), color_space=space))
        model.params = _with_peak(record, array, layout, params)
        return make_result(model, array, layout, labels, valid, None, {"fit": time.perf_counter() - start})
    with single_threaded_blas():
        return _quantize_fast(array, layout, space, mask, params, record, progress)


def _with_peak(record: dict, array: np.ndarray, layout, params: ClusterParameters) -> dict:
    """The run's record with the PSNR peak (:func:`~napari_colorquant.quality.psnr_peak`) of the image's values."""
    from .quality import psnr_peak

    if layout.given_dtype.kind in "bu" or params.data_range is not None:
        values = array  # not read: the peak is the dtype's or the given one
    else:
        values = np.array([[np.nanmin(array), np.nanmax(array)]], np.float64)
    return dict(record, **psnr_peak(layout.given_dtype, values, params.data_range))


def _quantize_fast(array, layout, space, mask, params: ClusterParameters, record, progress) -> QuantizeResult:
    timings: dict[str, float] = {}
    report = progress or (lambda stage, fraction: None)
    report("count", 0.0)
    start = time.perf_counter()
    table = build_table(array, layout, mask, max_samples=params.max_samples, seed=params.seed)
    timings["count"] = time.perf_counter() - start
    report("fit", 0.0)
    start = time.perf_counter()
    figures: dict[str, float] = {}
    model, fit_labels = fit_values(
        table.fit_values, table.fit_weights, layout, space, params, record, progress, table.approximate, figures
    )
    timings["fit"] = time.perf_counter() - start
    report("write", 0.0)
    start = time.perf_counter()
    value_labels = mse = None
    if table.approximate or table.strategy == "direct":
        labels = table.map(model.predict_values, model.label_dtype)
    elif params.smoothing > 0:
        labels = table.scatter(fit_labels)
        value_labels = fit_labels  # the labels of table.values: the figures need not predict them again
    elif "mse" in figures:  # the error the figures report came with the fit (from its clusters' sums)
        value_labels, mse = fit_labels, figures["mse"]
        labels = table.scatter(fit_labels)
    else:
        value_labels = fit_labels
        # Every pixel's label, and the error per distinct value that the figures report, at once.
        labels, mse = run_all(
            [
                lambda: table.scatter(fit_labels),
                lambda: weighted_mse(model, layout, table.values, table.counts, fit_labels),
            ]
        )
    timings["write"] = time.perf_counter() - start
    if params.smoothing > 0:
        result = _smoothed_result(model, array, layout, labels, table, params.smoothing, timings, report)
    else:
        result = make_result(model, array, layout, labels, table.valid, table, timings, value_labels, mse)
    if params.dither != "none":
        _dither(result, array, layout, table)
    report("write", 1.0)
    return result


def _dither(result: QuantizeResult, array, layout, table) -> None:
    """Render ``result.quantized`` by Floyd–Steinberg over the palette; labels stay as they are."""
    from .dither import dither_labels
    from .result import image_mse, quality_figures, quantized_image

    start = time.perf_counter()
    dithered = dither_labels(result.model, array, layout, table.valid)
    result.quantized = quantized_image(result.model, array, layout, dithered, table.valid, None)
    mse = image_mse(result.model, array, layout, result.quantized, table.valid, None)
    for name, value in quality_figures(result.model, layout, mse).items():
        setattr(result, name, value)
    result.dithered_labels = dithered
    result.timings["dither"] = time.perf_counter() - start


def _smoothed_result(model, array, layout, labels, table, beta, timings, report) -> QuantizeResult:
    """Labels after Potts smoothing; colours and figures from those labels, pixel by pixel."""
    from .smoothing import smooth_table

    start = time.perf_counter()
    smoothed = smooth_table(model, table, beta)
    timings["smooth"] = time.perf_counter() - start
    # No table: the quantized colours and the MSE must follow the smoothed labels, not the values.
    result = make_result(model, array, layout, smoothed, table.valid, None, timings)
    result.table = table
    result.smoothing_changed = int(np.count_nonzero(smoothed != labels))
    return result


def apply_eager(
    model: ClusterModel, image: ArrayLike, *, mask: ArrayLike | None = None, channel_axis: int | None = None
) -> QuantizeResult:
    """Label and quantize an in-memory image with a fitted model (see :func:`napari_colorquant.apply_model`).

    Parameters
    ----------
    model : ClusterModel
    image : array_like
    mask : array_like of bool, optional
    channel_axis : int, optional

    Returns
    -------
    QuantizeResult
        Keeps the table the image was counted into.
    """
    start = time.perf_counter()
    table = model.pixel_table(image, mask=mask, channel_axis=channel_axis)
    labels = table.map(model.predict_values, model.label_dtype)
    timings = {"write": time.perf_counter() - start}
    return make_result(model, table.array, table.layout, labels, table.valid, table, timings)


def posteriors_eager(
    model: ClusterModel,
    image: ArrayLike | None = None,
    *,
    table: PixelTable | None = None,
    mask: ArrayLike | None = None,
    channel_axis: int | None = None,
) -> np.ndarray:
    """Posterior probability of each cluster per pixel, ``pixels + (K,)`` float32.

    From ``table`` when the image was already counted (no second count), else from ``image``.

    Parameters
    ----------
    model : ClusterModel
        A model whose method has posteriors (EM).
    image : array_like, optional
    table : PixelTable, optional
    mask : array_like of bool, optional
    channel_axis : int, optional

    Returns
    -------
    ndarray
        float32, ``pixels + (K,)``.
    """
    if table is None:
        table = model.pixel_table(image, mask=mask, channel_axis=channel_axis)
    return model.posteriors_of_table(table)

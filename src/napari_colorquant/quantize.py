"""The front door: cluster an image's pixels and quantize its colours.

``quantize()`` is what scripts, the CLI and the napari widgets all call. The
default ``engine="fast"`` counts distinct pixel values once, fits k-means or
EM on the weighted distinct values, and writes labels and colours back through
a lookup; ``engine="opencv"`` runs the course notebook's own ``cv2.kmeans`` /
``cv2.ml.EM`` calls on every pixel.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import colorspaces
from ._threads import for_chunks, single_threaded_blas
from .em import bic, check_covariance, initial_parameters, weighted_em
from .kmeans import initial_centers, nearest_center, weighted_kmeans
from .model import METHODS, ClusterModel, build_model
from .pixels import (
    DEFAULT_MAX_SAMPLES,
    ImageLayout,
    PixelTable,
    build_table,
    check_mask,
    describe_image,
    is_lazy,
    pixel_rows,
)

ENGINES = ("fast", "opencv")
Progress = Callable[[str, float], None]
INITS = ("kmeans++", "random")


@dataclass
class QuantizeResult:
    """What :func:`quantize` returns.

    Attributes
    ----------
    labels : ndarray
        Label image with the input's pixel shape: 1..K, 0 for masked / NaN pixels.
    quantized : ndarray
        The input with each pixel replaced by its cluster's colour; same shape
        and dtype as the input (alpha and masked / NaN pixels unchanged).
    model : ClusterModel
    mse : float
        Mean squared error of ``quantized`` against the input, over valid
        pixels and colour channels, in the input's units.
    psnr : float
        ``10 log10(peak^2 / mse)`` with peak the input's nominal maximum (inf when exact).
    bits_per_pixel : int
        Bits per pixel of the quantized image stored as labels (``ceil(log2 K)``),
        plus the kept luminance for chroma-only spaces and any alpha.
    input_bits_per_pixel : int
    compression_ratio : float
        ``input_bits_per_pixel / bits_per_pixel`` (palette not counted).
    n_pixels, n_valid : int
        ``n_valid`` is -1 when unknown (lazy data fitted on a sample).
    timings : dict
        Seconds spent counting, fitting and writing.
    fit_values, fit_counts : ndarray, optional
        The distinct values that were counted and their pixel counts (lazy results: the
        merged histogram or sample the model was fitted on), so views and figures never
        count the image again; None when nothing was counted (OpenCV engine).
    """

    labels: np.ndarray
    quantized: np.ndarray
    model: ClusterModel
    mse: float
    psnr: float
    bits_per_pixel: int
    input_bits_per_pixel: int
    compression_ratio: float
    n_pixels: int
    n_valid: int
    timings: dict[str, float] = field(default_factory=dict)
    fit_values: np.ndarray | None = None
    fit_counts: np.ndarray | None = None

    def cluster_counts(self) -> np.ndarray:
        """Pixels per label 1..K (for lazy results: from the merged histogram or sample)."""
        k = self.model.n_clusters
        if self.fit_values is not None and is_lazy(self.labels):
            labels = self.model.predict_values(self.fit_values)
            return np.bincount(labels, weights=self.fit_counts, minlength=k + 1)[1:].astype(np.int64)
        return np.bincount(np.asarray(self.labels).reshape(-1), minlength=k + 1)[1:]

    @property
    def approximate(self) -> bool:
        """True if the model was fitted on a sample of the pixels."""
        return self.model.approximate

    def summary(self) -> dict[str, object]:
        """Fit and quality figures as a flat dict (for reports and layer metadata)."""
        m = self.model
        out: dict[str, object] = {
            "method": m.method,
            "color_space": m.color_space,
            "n_clusters": m.n_clusters,
            "n_iter": m.n_iter,
            "converged": m.converged,
            "mse": self.mse,
            "psnr": self.psnr,
            "bits_per_pixel": self.bits_per_pixel,
            "input_bits_per_pixel": self.input_bits_per_pixel,
            "compression_ratio": self.compression_ratio,
            "n_pixels": self.n_pixels,
            "n_valid": self.n_valid,
            "approximate": m.approximate,
            "n_fit_pixels": m.n_fit_pixels,
            "seconds": sum(self.timings.values()),
        }
        if m.method == "kmeans":
            out["inertia"] = m.inertia
        else:
            out["log_likelihood"] = m.log_likelihood
            out["bic"] = m.bic
        for key in ("fitted_on_slice", "fitted_on_frames"):
            if key in m.params:
                out[key] = m.params[key]
        return out


def _check_parameters(n_clusters, method, engine, max_iter, epsilon, attempts, init, covariance, seed):
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)):
        raise TypeError(f"n_clusters must be an integer, got {n_clusters!r}")
    if n_clusters < 1:
        raise ValueError(f"n_clusters must be at least 1, got {n_clusters}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; accepted: 'kmeans', 'em'")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; accepted: 'fast', 'opencv'")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if not isinstance(epsilon, (int, float, np.floating)) or not math.isfinite(epsilon) or epsilon < 0:
        raise ValueError(f"epsilon must be a finite number >= 0, got {epsilon!r}")
    if isinstance(attempts, bool) or not isinstance(attempts, (int, np.integer)) or attempts < 1:
        raise ValueError(f"attempts must be an integer >= 1, got {attempts!r}")
    if isinstance(init, str) and init not in INITS:
        raise ValueError(f"unknown init {init!r}; accepted: 'kmeans++', 'random' or an array of initial centres")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return check_covariance(covariance)


def run_parameters(
    n_clusters,
    method,
    space,
    max_iter,
    epsilon,
    attempts,
    init,
    covariance,
    seed,
    engine,
    reg_covar,
    max_samples,
    layout: ImageLayout,
    masked: bool,
    **extra,
) -> dict:
    """Every parameter of a run, JSON-able (an init array as a list), as recorded in the model."""
    return dict(
        n_clusters=int(n_clusters),
        method=method,
        color_space=space,
        max_iter=int(max_iter),
        epsilon=float(epsilon),
        attempts=int(attempts),
        init=init if isinstance(init, str) else np.asarray(init, np.float64).tolist(),
        covariance=covariance,
        seed=int(seed),
        engine=engine,
        reg_covar=float(reg_covar),
        max_samples=max_samples,
        channel_axis=layout.channel_axis,
        masked=masked,
        **extra,
    )  # fmt: skip


def _count_distinct_rows(features: np.ndarray) -> int:
    if features.shape[1] == 1:
        return int(np.unique(features[:, 0]).size)
    rows = np.ascontiguousarray(features)
    return int(np.unique(rows.view(np.dtype((np.void, rows.itemsize * rows.shape[1])))).size)


def to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Round and clip float values into an image dtype."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return np.asarray(values).astype(dtype)


def fit_values(
    values: np.ndarray,
    weights: np.ndarray,
    layout: ImageLayout,
    color_space: str,
    n_clusters: int,
    method: str,
    params: dict,
    progress: Progress | None = None,
    approximate: bool = False,
) -> tuple[ClusterModel, np.ndarray]:
    """Fit k-means or EM on weighted distinct pixel values.

    Parameters
    ----------
    values : ndarray (U, C)
        Distinct pixel values in the input's units (alpha excluded).
    weights : ndarray (U,)
        Their pixel counts.
    layout, color_space
        How the values are read (see :func:`features.describe_image`).
    params : dict
        ``init``, ``max_iter``, ``epsilon``, ``attempts``, ``seed``, ``covariance``, ``reg_covar``
        and whatever else should be recorded in the model.
    approximate : bool
        The values are a sample of the pixels (recorded in the model).

    Returns
    -------
    model : ClusterModel
    labels : ndarray (U,)
        Label (1..K) of each value.
    """
    features = colorspaces.to_features(values, color_space, layout.scale, layout.offset)
    weights = np.asarray(weights, np.float64)
    distinct = (
        features.shape[0]
        if color_space in ("rgb", "ycrcb", "lab", "channels") or (color_space == "gray" and layout.n_channels == 1)
        else _count_distinct_rows(features)
    )
    if n_clusters > distinct:
        raise ValueError(
            f"n_clusters={n_clusters} is larger than the number of distinct {color_space} values "
            f"to cluster ({distinct}); use at most {distinct} clusters"
        )
    explicit_start = not isinstance(params["init"], str)
    kmeans_steps = 0 if method == "em" and explicit_start else params["attempts"] * params["max_iter"]
    total_steps = kmeans_steps + (params["max_iter"] if method == "em" else 0)

    def kmeans_step(done: int) -> None:
        if progress is not None:
            progress("fit", done / total_steps)

    def em_step(done: int) -> None:
        if progress is not None:
            progress("fit", (kmeans_steps + done) / total_steps)

    if method == "em" and explicit_start:
        # Given means start EM directly (as cv2.ml.EM.trainE does), no k-means first.
        start_centers = initial_centers(features, weights, n_clusters, params["init"], np.random.default_rng(0))
        start_labels = nearest_center(features, start_centers)[0]
    else:
        kmeans = weighted_kmeans(
            features,
            weights,
            n_clusters,
            init=params["init"],
            max_iter=params["max_iter"],
            epsilon=params["epsilon"],
            attempts=params["attempts"],
            seed=params["seed"],
            on_iteration=kmeans_step,
        )
        start_centers, start_labels = kmeans.centers, kmeans.labels
    fit_figures: dict[str, object]
    if method == "kmeans":
        means, labels = kmeans.centers, kmeans.labels
        covariances = mixing = None
        fit_figures = dict(n_iter=kmeans.n_iter, converged=kmeans.converged, inertia=kmeans.inertia)
    else:
        mixing, start_means, start_covs = initial_parameters(
            features, weights, start_centers, start_labels, params["covariance"], params["reg_covar"]
        )
        em = weighted_em(
            features,
            weights,
            start_means,
            start_covs,
            mixing,
            covariance=params["covariance"],
            max_iter=params["max_iter"],
            epsilon=params["epsilon"],
            reg_covar=params["reg_covar"],
            on_iteration=em_step,
        )
        means, labels, covariances, mixing = em.means, em.labels, em.covariances, em.weights
        fit_figures = dict(
            n_iter=em.n_iter,
            converged=em.converged,
            log_likelihood=em.log_likelihood,
            bic=bic(em.log_likelihood, weights.sum(), n_clusters, features.shape[1], params["covariance"]),
        )
    model, rank = build_model(
        method, color_space, layout, values, weights, labels, means, covariances, mixing, fit_figures, params
    )
    model.approximate = approximate
    return model, rank[labels].astype(model.label_dtype)


def _quantized_image(
    model: ClusterModel,
    array: np.ndarray,
    layout: ImageLayout,
    labels: np.ndarray,
    valid: np.ndarray | None,
    table: PixelTable | None,
) -> np.ndarray:
    """The input with each valid pixel replaced by its cluster's colour, same shape and dtype."""
    rows = pixel_rows(array, layout)
    n_colour = layout.n_channels
    flat_labels = labels.reshape(-1)
    if model.color_space in colorspaces.CHROMA_SPACES:
        if table is not None:
            colours = table.map(lambda v: to_dtype(model.quantized_values(v), layout.dtype), layout.dtype)
            colours = colours.reshape(-1, n_colour)
        else:
            colours = np.array(rows[:, :n_colour])
            inside = flat_labels > 0
            colours[inside] = to_dtype(
                model.quantized_values(rows[inside, :n_colour], flat_labels[inside]), layout.dtype
            )
    else:
        palette = np.concatenate([np.zeros((1, n_colour), layout.dtype), to_dtype(model.palette, layout.dtype)])
        colours = _palette_lookup(palette, flat_labels, layout)
    if valid is not None:
        colours[~valid] = rows[~valid, :n_colour]
    if layout.kind == "rgba":
        colours = np.concatenate([colours, rows[:, 3:4]], axis=1)
    if layout.channel_axis is None:
        return colours.reshape(layout.shape)
    out = colours.reshape((*layout.spatial_shape, layout.total_channels))
    return np.ascontiguousarray(np.moveaxis(out, -1, layout.channel_axis))


def _palette_lookup(palette: np.ndarray, flat_labels: np.ndarray, layout: ImageLayout) -> np.ndarray:
    """``palette[labels]`` as ``(n, C)`` rows; one OpenCV colour-map pass for uint8 RGB."""
    if palette.dtype == np.uint8 and palette.shape[1] == 3 and flat_labels.dtype == np.uint8:
        colour_map = np.zeros((256, 1, 3), np.uint8)
        colour_map[: palette.shape[0], 0] = palette
        width = layout.spatial_shape[-1]
        return cv2.applyColorMap(flat_labels.reshape(-1, width), colour_map).reshape(-1, 3)
    # In chunks: np.take turns the whole index array into intp (8 bytes per pixel) otherwise.
    out = np.empty((flat_labels.shape[0], palette.shape[1]), palette.dtype)
    for_chunks(lambda a, b: np.take(palette, flat_labels[a:b], axis=0, out=out[a:b]), flat_labels.shape[0], 1 << 20)
    return out


def _mse(model, array, layout, quantized, valid, table: PixelTable | None) -> float:
    n_colour = layout.n_channels
    if table is not None and table.exact_counts:
        return weighted_mse(model, layout, table.values, table.counts)
    original = pixel_rows(array, layout)[:, :n_colour]
    result = pixel_rows(quantized, layout)[:, :n_colour]
    total, count = 0.0, 0
    for start in range(0, original.shape[0], 1 << 20):
        a = original[start : start + (1 << 20)].astype(np.float64)
        b = result[start : start + (1 << 20)].astype(np.float64)
        if valid is not None:
            inside = valid[start : start + (1 << 20)]
            a, b = a[inside], b[inside]
        total += float(((a - b) ** 2).sum())
        count += a.size
    return total / max(count, 1)


def quality_figures(model: ClusterModel, layout: ImageLayout, mse: float) -> dict[str, float]:
    """PSNR, bits per pixel (labels + kept luminance + alpha), input bits and compression ratio."""
    bits = math.ceil(math.log2(model.n_clusters)) if model.n_clusters > 1 else 0
    if model.color_space in colorspaces.CHROMA_SPACES:
        bits += layout.dtype.itemsize * 8  # the kept luminance
    if layout.kind == "rgba":
        bits += layout.dtype.itemsize * 8
    input_bits = layout.bits_per_pixel
    return dict(
        mse=mse,
        psnr=math.inf if mse == 0 else 10 * math.log10(layout.scale**2 / mse),
        bits_per_pixel=bits,
        input_bits_per_pixel=input_bits,
        compression_ratio=math.inf if bits == 0 else input_bits / bits,
    )


def weighted_mse(model: ClusterModel, layout: ImageLayout, values: np.ndarray, counts: np.ndarray) -> float:
    """MSE of the quantized colours of distinct ``values`` (each ``counts`` times) against them."""
    if np.sum(counts) == 0:  # nothing valid (an all-NaN or all-masked image given to a model)
        return 0.0
    approx = to_dtype(model.quantized_values(values), layout.dtype).astype(np.float64)
    errors = ((approx - values.astype(np.float64)) ** 2).sum(axis=1)
    return float(errors @ counts / (np.sum(counts) * layout.n_channels))


def _result(model, array, layout, labels, valid, table, timings) -> QuantizeResult:
    start = time.perf_counter()
    quantized = _quantized_image(model, array, layout, labels, valid, table)
    mse = _mse(model, array, layout, quantized, valid, table)
    timings["write"] = timings.get("write", 0.0) + time.perf_counter() - start
    n_valid = layout.n_pixels if valid is None else int(np.count_nonzero(valid))
    counted = table is not None and table.exact_counts
    return QuantizeResult(
        labels=labels,
        quantized=quantized,
        model=model,
        n_pixels=layout.n_pixels,
        n_valid=n_valid,
        timings=timings,
        fit_values=table.values if counted else None,
        fit_counts=table.counts if counted else None,
        **quality_figures(model, layout, mse),
    )


def quantize(
    image,
    n_clusters: int,
    *,
    method: str = "kmeans",
    color_space: str = "auto",
    channel_axis: int | None = None,
    mask=None,
    max_iter: int = 10,
    epsilon: float = 0.2,
    attempts: int = 1,
    init="kmeans++",
    covariance: str = "full",
    seed: int = 0,
    engine: str = "fast",
    reg_covar: float = 1e-6,
    max_samples: int | None = DEFAULT_MAX_SAMPLES,
    progress: Progress | None = None,
) -> QuantizeResult:
    """Cluster the pixels of an image and replace each by its cluster's colour.

    Parameters
    ----------
    image : array_like
        2D or nD; gray, RGB/RGBA (channels last), or multichannel with
        ``channel_axis``. uint8, uint16, other integers, float32/float64
        (NaN/inf pixels are left out and get label 0). Never modified.
    n_clusters : int
        Number of clusters K (at most the number of distinct values).
    method : {"kmeans", "em"}
        k-means, or Expectation-Maximization of a Gaussian mixture.
    color_space : {"auto", "gray", "rgb", "ycrcb", "ycrcb-chroma", "lab", "lab-chroma", "channels"}
        Feature space. ``auto``: gray for 1 channel, rgb for RGB(A), the
        channels themselves otherwise. Chroma-only spaces cluster Cr/Cb (a/b)
        and keep each pixel's Y (L*).
    channel_axis : int, optional
        Axis holding channels. Default: last axis if it has length 3 or 4.
    mask : array_like of bool, optional
        Pixel grid shape; only pixels inside are fitted and labelled.
    max_iter : int
        Maximum iterations (the notebook's ``it``).
    epsilon : float
        k-means: stop when no centre moves more than this. EM: stop when the
        log-likelihood grows by less than ``epsilon`` times its magnitude
        (OpenCV's rule).
    attempts : int
        k-means initialisations tried; the lowest inertia is kept (for EM: of
        the k-means run that starts it).
    init : {"kmeans++", "random"} or array (K, F)
        Initial centres (in the fitted feature space for an array).
    covariance : {"full", "diagonal", "spherical"}
        EM covariance type.
    seed : int
        Random seed; the same seed gives the same result bit for bit.
    engine : {"fast", "opencv"}
        ``fast``: weighted fit on distinct values (exact). ``opencv``: the
        notebook's ``cv2.kmeans`` / ``cv2.ml.EM`` on every pixel.
    reg_covar : float
        Added to EM covariance diagonals (fast engine).
    max_samples : int or None
        Fast engine: above this many distinct values the fit runs on a
        reproducible sample of pixels (``result.approximate``); labels are
        still exact for the fitted model.
    progress : callable, optional
        ``progress(stage, fraction)`` with stage ``"count"``, ``"fit"`` or
        ``"write"`` and the fraction of that stage done; it may raise an
        exception to abort the run (nothing is returned then).

    Returns
    -------
    QuantizeResult
        For a dask array, ``labels`` and ``quantized`` are dask arrays computed
        chunk by chunk (see :mod:`napari_colorquant.lazy`).

    Raises
    ------
    TypeError, ValueError
        For anything that is not a usable image or parameter; the message says
        what was wrong and what is accepted.
    """
    if is_lazy(image):
        # Chunked data goes through the dask paths (a local import: lazy sits on top of this module).
        from .lazy import quantize_lazy

        options = dict(locals())
        del options["image"], options["n_clusters"], options["quantize_lazy"]
        return quantize_lazy(image, n_clusters, **options)
    covariance = _check_parameters(n_clusters, method, engine, max_iter, epsilon, attempts, init, covariance, seed)
    array, layout, space = describe_image(image, channel_axis, color_space)
    mask = check_mask(mask, layout)
    params = run_parameters(
        n_clusters, method, space, max_iter, epsilon, attempts, init, covariance, seed, engine, reg_covar,
        max_samples, layout, mask is not None,
    )  # fmt: skip
    fit_params = dict(params, init=init)
    timings: dict[str, float] = {}
    if engine == "opencv":
        from .opencv_engine import fit_opencv

        start = time.perf_counter()
        model, labels, valid = fit_opencv(array, layout, space, mask, fit_params)
        model.params["init"] = params["init"]
        timings["fit"] = time.perf_counter() - start
        return _result(model, array, layout, labels, valid, None, timings)

    with single_threaded_blas():
        return _quantize_fast(array, layout, space, mask, int(n_clusters), method, fit_params, params, progress)


def _quantize_fast(array, layout, space, mask, n_clusters, method, fit_params, params, progress) -> QuantizeResult:
    timings: dict[str, float] = {}
    max_samples, seed = params["max_samples"], params["seed"]
    report = progress or (lambda stage, fraction: None)
    report("count", 0.0)
    start = time.perf_counter()
    table = build_table(array, layout, mask, max_samples=max_samples, seed=int(seed))
    timings["count"] = time.perf_counter() - start
    report("fit", 0.0)
    start = time.perf_counter()
    model, fit_labels = fit_values(
        table.fit_values, table.fit_weights, layout, space, n_clusters, method, fit_params, progress, table.approximate
    )
    model.params["init"] = params["init"]
    timings["fit"] = time.perf_counter() - start
    report("write", 0.0)
    start = time.perf_counter()
    if table.approximate or table.strategy == "direct":
        labels = table.map(model.predict_values, model.label_dtype)
    else:
        labels = table.scatter(fit_labels)
    timings["write"] = time.perf_counter() - start
    result = _result(model, array, layout, labels, table.valid, table, timings)
    report("write", 1.0)
    return result


def apply_model(model: ClusterModel, image, *, mask=None, channel_axis: int | None = None) -> QuantizeResult:
    """Label and quantize an image with an already fitted model (same palette).

    Parameters
    ----------
    model : ClusterModel
        From :func:`quantize` or :meth:`ClusterModel.from_dict`.
    image, mask, channel_axis
        As for :func:`quantize`; the image must match the fitted input's
        channels and dtype.

    Returns
    -------
    QuantizeResult
        Same ``model``; figures are computed on this image.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    table = model.pixel_table(image, mask=mask, channel_axis=channel_axis)
    labels = table.map(model.predict_values, model.label_dtype)
    timings["write"] = time.perf_counter() - start
    return _result(model, table.array, table.layout, labels, table.valid, table, timings)

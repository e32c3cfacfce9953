"""The front door: cluster an image's pixels, apply a fitted model, compute posteriors.

``quantize()``, ``apply_model()`` and ``posteriors()`` are what scripts, the CLI and
the napari widgets call. Each decides *here, once*, whether the data is in memory
(:mod:`eager`) or chunked (:mod:`lazy`, dask); no other module tests for dask to
choose a path. :func:`as_array` and :func:`channel_ranges` make the same decision for
whoever hands data in (the napari floor's layer data), and a result says how it was
made (``QuantizeResult.lazy``). The parameters are validated once, by
:class:`~napari_colorquant.params.ClusterParameters`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from .autok import DEFAULT_K_RANGE
from .eager import apply_eager, posteriors_eager, quantize_eager
from .kmeans import INITS
from .methods import ENGINES, METHODS
from .model import ClusterModel
from .params import DEFAULT_EPSILON, DEFAULT_MAX_ITER, DEFAULT_MAX_SAMPLES, ClusterParameters, check_data_range
from .pixels import is_lazy
from .result import QuantizeResult, psnr_of

__all__ = [
    "ENGINES",
    "INITS",
    "METHODS",
    "QuantizeResult",
    "apply_model",
    "as_array",
    "lookup_labels",
    "posteriors",
    "quantize",
]

Progress = Callable[[str, float], None]


def quantize(
    image: ArrayLike,
    n_clusters: int | str,
    *,
    method: str = "kmeans",
    color_space: str = "auto",
    channel_axis: int | None = None,
    mask: ArrayLike | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    epsilon: float = DEFAULT_EPSILON,
    attempts: int = 1,
    init: str | np.ndarray = "auto",
    covariance: str = "full",
    seed: int = 0,
    engine: str = "fast",
    reg_covar: float = 1e-6,
    max_samples: int | None = DEFAULT_MAX_SAMPLES,
    smoothing: float = 0.0,
    dither: bool | str = False,
    k_range: tuple[int, int] = DEFAULT_K_RANGE,
    target_psnr: float | None = None,
    target_delta_e: float | None = None,
    fixed_colors: ArrayLike | None = None,
    data_range: float | None = None,
    progress: Progress | None = None,
) -> QuantizeResult:
    """Cluster the pixels of an image and replace each by its cluster's colour.

    Parameters
    ----------
    image : array_like
        2D or nD; gray, RGB/RGBA (channels last), or multichannel with
        ``channel_axis``. uint8, uint16, other integers, float32/float64
        (NaN/inf pixels are left out and get label 0). Never modified.
    n_clusters : int or "auto"
        Number of clusters K (at most the number of distinct values), or ``"auto"``: every K of
        ``k_range`` is fitted on the same counted values (not one image pass per K) and one is
        chosen: the K of least BIC [4]_ (EM: the mixture's; k-means: that of the spherical mixture
        k-means fits implicitly, as X-means [5]_), or with a target the smallest K reaching it.
        ``result.k_curve`` holds each K and its criterion; the model JSON records it
        (``params.k_curve``). Works for dask input too (the sweep runs on the merged counts).
    method : {"kmeans", "em"}
        k-means (Lloyd [1]_, k-means++ start [2]_), or Expectation-Maximization of a
        Gaussian mixture [3]_ (any name of :data:`~napari_colorquant.methods.METHODS`).
    color_space : {"auto", "gray", "rgb", "ycrcb", "ycrcb-chroma", "lab", "lab-chroma", "oklab", "oklab-chroma", \
            "channels"}
        Feature space. ``auto``: gray for 1 channel, rgb for RGB(A), the
        channels themselves otherwise. Chroma-only spaces cluster Cr/Cb (a/b)
        and keep each pixel's Y (L*).
    channel_axis : int, optional
        Axis holding channels. Default: last axis if it has length 3 or 4 (read as RGB / RGBA), else the
        image is gray. An axis of length 1 is one channel: to cluster a gray stack whose last axis happens
        to have 3 or 4 pixels as gray, pass ``image[..., np.newaxis]`` with ``channel_axis=-1`` (the labels
        keep ``image``'s shape; ``quantized`` keeps the added axis).
    mask : array_like of bool, optional
        Pixel grid shape; only pixels inside are fitted and labelled.
    max_iter : int
        Iteration cap (default :data:`~napari_colorquant.params.DEFAULT_MAX_ITER`, 300).
    epsilon : float
        Convergence tolerance (default :data:`~napari_colorquant.params.DEFAULT_EPSILON`, 1e-6).
        k-means: stop when no centre moves more than this. EM: stop when the
        log-likelihood grows by less than ``epsilon`` times its magnitude
        (OpenCV's rule). The defaults run to convergence; the course notebook's
        criteria are ``**NOTEBOOK_CRITERIA`` (``max_iter=10, epsilon=0.2``).
    attempts : int
        k-means initialisations tried; the lowest inertia is kept (for EM: of
        the k-means run that starts it).
    init : {"auto", "kmeans++", "random", "optimal"} or array (K, F)
        Initial centres (in the fitted feature space for an array). ``optimal``: the exact global
        optimum of 1-D k-means (one feature; :mod:`~napari_colorquant.optimal1d`); ``auto``: that for
        one feature with at most 65 536 distinct values, k-means++ otherwise (OpenCV engine: k-means++).
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
    smoothing : float
        Potts smoothing strength beta (0 = off): mean-field on the cluster posteriors over face
        neighbours in nD (:mod:`~napari_colorquant.smoothing`); ``result.smoothing_changed``
        counts the pixels it relabelled. Dask input: chunk by chunk with ``map_overlap`` (the same
        labels as in memory); its count is a lazy dask scalar, and ``mse``/``psnr`` stay those of the
        nearest-centre labels (from the merged counts).
    dither : bool or {"none", "floyd-steinberg"}
        Render ``result.quantized`` with Floyd–Steinberg error diffusion over the palette (Pillow;
        uint8 gray/RGB in memory, not chroma-only spaces; anything else is a ``ValueError``).
        ``result.labels`` stay nearest-centre; ``result.dithered_labels`` are the rendered indices.
    k_range : (int, int)
        With ``n_clusters="auto"``: smallest and largest K tried (default (2, 16); the largest is cut
        to the number of distinct values).
    target_psnr : float, optional
        With ``n_clusters="auto"``: the smallest K whose PSNR (dB) is at least this, as pngquant's
        ``--quality``; if none in ``k_range`` reaches it, the largest (``result.k_curve.target_met``
        is False).
    target_delta_e : float, optional
        With ``n_clusters="auto"``: the smallest K whose mean CIEDE2000 ΔE is at most this (gray/RGB).
    fixed_colors : array_like (m, C), optional
        Colours in the input's own values (e.g. ``[[255, 255, 255]]`` for a white background) kept
        exactly in the palette while the other ``K - m`` centres move (:mod:`~napari_colorquant.pinned`).
        k-means with the fast engine only, not in chroma-only spaces (``ValueError`` otherwise).
    data_range : float, optional
        The PSNR peak (``result.psnr``, ``target_psnr``), as ``skimage.metrics.peak_signal_noise_ratio``'s
        ``data_range``. Default: what scikit-image takes for the dtype (255 for uint8, 65535 for uint16, 1
        for float data in 0..1, the dtype's range for data with negative values); the report and
        ``result.psnr_peak`` / ``result.psnr_peak_is`` say which was used. 12-bit data in uint16: 4095.
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

    References
    ----------
    .. [1] S. P. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28(2), 1982.
    .. [2] D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful seeding", SODA 2007.
    .. [3] A. P. Dempster, N. M. Laird and D. B. Rubin, "Maximum likelihood from incomplete data via
       the EM algorithm", J. R. Stat. Soc. B 39(1), 1977.
    .. [4] G. Schwarz, "Estimating the dimension of a model", Ann. Statist. 6(2), 1978.
    .. [5] D. Pelleg and A. Moore, "X-means: extending K-means with efficient estimation of the number
       of clusters", ICML 2000.
    """
    params = ClusterParameters(
        n_clusters=n_clusters, method=method, color_space=color_space, channel_axis=channel_axis,
        max_iter=max_iter, epsilon=epsilon, attempts=attempts, init=init, covariance=covariance, seed=seed,
        engine=engine, reg_covar=reg_covar, max_samples=max_samples, smoothing=smoothing,
        dither=("floyd-steinberg" if dither else "none") if isinstance(dither, bool) else dither,
        k_range=k_range, target_psnr=target_psnr, target_delta_e=target_delta_e, fixed_colors=fixed_colors,
        data_range=data_range,
    )  # fmt: skip
    return quantize_with(image, params, mask=mask, progress=progress)


def as_array(data: ArrayLike, *, contiguous: bool = False) -> ArrayLike:
    """Data as the front door takes it: a dask array stays lazy (nothing is read), anything else becomes numpy.

    Parameters
    ----------
    data : array_like or dask array
        E.g. a napari layer's data (numpy, dask, or another array-like such as zarr).
    contiguous : bool
        Make a numpy result C-contiguous (a lazy array is left as it is).

    Returns
    -------
    ndarray or dask array
    """
    if is_lazy(data):
        return data
    return np.ascontiguousarray(data) if contiguous else np.asarray(data)


def channel_ranges(image: ArrayLike, axis: int) -> list[tuple[float, float]] | None:
    """Each channel's (min, max) along ``axis``, NaN left out; None for a dask array (it is not read for this).

    Parameters
    ----------
    image : array_like or dask array
    axis : int
        The channel axis.

    Returns
    -------
    list of (float, float) or None
    """
    if is_lazy(image):
        return None
    array = np.asarray(image)
    rows = np.moveaxis(array, axis, 0).reshape(array.shape[axis], -1)
    return [(float(np.nanmin(row)), float(np.nanmax(row))) for row in rows]


def lookup_labels(labels: ArrayLike, table: np.ndarray, *, beyond: str | int = "error") -> ArrayLike:
    """``table[labels]`` for every pixel of a label image: in memory, or lazily (chunk by chunk) for a dask one.

    Parameters
    ----------
    labels : array_like of int or dask array
        A label image (values index ``table``).
    table : ndarray (n,)
        The new value of each label, e.g. a merge's mapping or a 0/1 selection of clusters.
    beyond : "error", "keep" or int
        What labels ``>= len(table)`` (e.g. painted by hand above K) become: an IndexError, themselves
        (the result's dtype then also holds ``labels``' dtype), or this value.

    Returns
    -------
    ndarray or dask array
        Shaped as ``labels``, of ``table``'s dtype; a dask label image gives a lazy dask array.

    Raises
    ------
    IndexError
        With ``beyond="error"``, if a label is outside ``0 .. len(table) - 1`` (for a dask image: when it
        is computed).
    """
    table = np.asarray(table)
    if not is_lazy(labels):
        labels = np.asarray(labels)
    if beyond == "keep":
        table = table.astype(np.promote_types(table.dtype, np.dtype(labels.dtype)))
    if is_lazy(labels):
        return labels.map_blocks(_lookup_block, table, beyond, dtype=table.dtype)
    return _lookup_block(labels, table, beyond)


def _lookup_block(block: np.ndarray, table: np.ndarray, beyond: str | int) -> np.ndarray:
    if beyond == "error" or block.size == 0 or int(block.max()) < table.size:
        return table[block]
    outside = block >= table.size
    out = table[np.where(outside, 0, block)]
    out[outside] = block[outside] if beyond == "keep" else beyond
    return out


def quantize_with(
    image: ArrayLike, params: ClusterParameters, *, mask: ArrayLike | None = None, progress: Progress | None = None
) -> QuantizeResult:
    """:func:`quantize` with the parameters as one validated record.

    Parameters
    ----------
    image : array_like or dask array
    params : ClusterParameters
    mask : array_like of bool, optional
    progress : callable, optional

    Returns
    -------
    QuantizeResult

    Raises
    ------
    TypeError, ValueError
        As :func:`quantize`.
    """
    if is_lazy(image):
        from .lazy import quantize_lazy  # dask is imported only for dask input

        return quantize_lazy(image, params, mask=mask, progress=progress)
    return quantize_eager(image, params, mask=mask, progress=progress)


def apply_model(
    model: ClusterModel,
    image: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    channel_axis: int | None = None,
    data_range: float | None = None,
) -> QuantizeResult:
    """Label and quantize an image with an already fitted model (same palette).

    Parameters
    ----------
    model : ClusterModel
        From :func:`quantize` or :meth:`ClusterModel.from_dict`.
    image : array_like or dask array
        Must match the fitted input's channels and dtype. A dask array stays lazy: labels and
        colours are dask arrays, figures come from one counting pass (or a sample).
    mask, channel_axis
        As for :func:`quantize`.
    data_range : float, optional
        The PSNR peak (as for :func:`quantize`); default: the one the model was fitted with.

    Returns
    -------
    QuantizeResult
        Same ``model``; figures are computed on this image.

    Raises
    ------
    ValueError
        When the image does not match the model (channels, kind, dtype), or ``data_range`` is not positive.
    TypeError
        When ``data_range`` is not a number.
    """
    data_range = check_data_range(data_range)
    if is_lazy(image):
        from .lazy import apply_lazy

        result = apply_lazy(model, image, mask=mask, channel_axis=channel_axis)
    else:
        result = apply_eager(model, image, mask=mask, channel_axis=channel_axis)
    if data_range is not None:
        result.psnr_peak, result.psnr_peak_is = float(data_range), "data_range"
        result.psnr = psnr_of(result.mse, result.psnr_peak)
    return result


def posteriors(
    model_or_result: ClusterModel | QuantizeResult,
    image: ArrayLike | None = None,
    *,
    mask: ArrayLike | None = None,
    channel_axis: int | None = None,
) -> ArrayLike:
    """Posterior probability of each cluster per pixel (EM), ``pixels + (K,)`` float32.

    Parameters
    ----------
    model_or_result : ClusterModel or QuantizeResult
        A result of an in-memory run reuses the table it counted (the image is not counted again).
    image : array_like or dask array, optional
        The image; needed with a model, or with a result that kept no table. A dask array
        gives a lazy dask array.
    mask, channel_axis
        As for :func:`quantize`.

    Returns
    -------
    ndarray or dask array
        Masked and NaN pixels get 0 for every cluster.

    Raises
    ------
    ValueError
        For a method without posteriors (k-means), or when neither a table nor an image is given.
    """
    result = model_or_result if isinstance(model_or_result, QuantizeResult) else None
    model = model_or_result.model if result is not None else model_or_result
    table = None if result is None else result.table
    if table is not None and image is not None and tuple(np.shape(image)) != table.layout.shape:
        table = None  # the result was counted on another image
    if image is not None and is_lazy(image):
        from .lazy import lazy_posteriors

        return lazy_posteriors(model, image, mask=mask, channel_axis=channel_axis)
    if table is None and image is None:
        raise ValueError("posteriors need the image (this result kept no counted table)")
    return posteriors_eager(model, image, table=table, mask=mask, channel_axis=channel_axis)

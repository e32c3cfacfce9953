"""Fit a clustering method on weighted distinct pixel values and assemble the :class:`ClusterModel`.

Both the in-memory path (:mod:`eager`) and the dask path (:mod:`lazy`) count the
image first and call :func:`fit_values` on what they counted, so the same values
and counts always give the same model.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import colorspaces
from .autok import kmeans_bic, sweep
from .kmeans_filter import FILTER_FROM, pack_bytes
from .methods import FittedClusters, get_method
from .model import ClusterModel, FitOutcome, build_model
from .params import ClusterParameters
from .pinned import check_fixed_colors
from .pixels import ImageLayout
from .result import mse_of_sums, to_dtype

Progress = Callable[[str, float], None]


def run_record(params: ClusterParameters, color_space: str, layout: ImageLayout, masked: bool, **extra) -> dict:
    """Every parameter of a run, JSON-able, as recorded in ``model.params``.

    Parameters
    ----------
    params : ClusterParameters
    color_space : str
        The resolved colour space (``"auto"`` replaced by what was used).
    layout : ImageLayout
        How the image was read (its channel axis is recorded).
    masked : bool
        A mask restricted the run.
    **extra
        Anything else to record (e.g. ``lazy=True``).

    Returns
    -------
    dict
    """
    return dict(params.to_dict(), color_space=color_space, channel_axis=layout.channel_axis, masked=masked, **extra)


def _count_distinct_rows(features: np.ndarray) -> int:
    if features.shape[1] == 1:
        return int(np.unique(features[:, 0]).size)
    rows = np.ascontiguousarray(features)
    return int(np.unique(rows.view(np.dtype((np.void, rows.itemsize * rows.shape[1])))).size)


def _distinct_features(features: np.ndarray, color_space: str, layout: ImageLayout) -> int:
    """Distinct feature rows; values are already distinct unless the space drops or merges channels."""
    space = colorspaces.get_color_space(color_space)
    one_to_one = not space.chroma and (space.n_features is None or space.n_features == layout.n_channels)
    return features.shape[0] if one_to_one else _count_distinct_rows(features)


def _fit_unit(features: np.ndarray, layout: ImageLayout, mixture: bool) -> float:
    """The unit features are fitted in: 1/255 of the features' largest range, or 1 for k-means on integers.

    k-means on integer pixel values measures ``epsilon`` in their natural unit (one grey level),
    as ``cv2.kmeans`` does. Float data have none (the same image in metres or in micrometres),
    so their features are measured in 1/255 of their largest range: the stopping rules then
    mean for a float image what they mean for its 8-bit version, and an image scaled by any
    factor gives the same labels. A mixture (EM) stops on the log-likelihood relative to its
    size, which moves by ``F log s`` when the values are scaled by ``s``: it is fitted in that
    unit for integer images too, so that a 16-bit image holding an 8-bit one times 256, an
    8-bit one and a float copy of either give the same labels (an 8-bit image spanning 0..255
    is fitted as before: its unit is 1).
    """
    if (layout.dtype.kind != "f" and not mixture) or features.shape[0] == 0:
        return 1.0
    # Column by column: numpy reduces an (n, 3) array along axis 0 some 25x slower.
    spread = float(np.max([column.max() - column.min() for column in features.T]))
    return spread / 255.0 if math.isfinite(spread) and spread > 0 else 1.0


def _mean_variance(features: np.ndarray, sample_weight: np.ndarray) -> float:
    """Weighted variance of the features, averaged over features; 1 when there is none.

    EM adds ``reg_covar`` times this to covariance diagonals, so the regularisation is
    relative to the data's spread (as for standardised data) whatever its unit or range.
    """
    total = float(sample_weight.sum())
    if features.shape[0] == 0 or total <= 0:
        return 1.0
    mean = sample_weight @ features / total
    variance = float((sample_weight @ (features - mean) ** 2 / total).mean())
    return variance if math.isfinite(variance) and variance > 0 else 1.0


def _in_data_units(clusters: FittedClusters, unit: float, n_features: int, n_samples: float) -> FittedClusters:
    """Clusters fitted in ``unit`` expressed in the features' own units (densities included).

    ``unit * unit``, not ``unit**2``: huge data overflow to inf (refused later with a clear message),
    where a Python power would raise OverflowError.
    """
    if unit == 1.0:
        return clusters
    figures = dict(clusters.figures)
    if figures.get("inertia") is not None:
        figures["inertia"] = figures["inertia"] * unit * unit
    if figures.get("log_likelihood") is not None:
        figures["log_likelihood"] = figures["log_likelihood"] - n_features * math.log(unit)
    if figures.get("bic") is not None:  # -2 n log L + p log n
        figures["bic"] = figures["bic"] + 2.0 * n_samples * n_features * math.log(unit)
    covariances = None if clusters.covariances is None else clusters.covariances * unit * unit
    return dataclasses.replace(clusters, means=clusters.means * unit, covariances=covariances, figures=figures)


#: Largest clusters × fitted values per method. k-means: each iteration measures every value against
#: every centre (blocked, so memory stays a few MB whatever K, but 5e8 distances take about a second
#: per iteration, for up to ``max_iter`` iterations); 2**29 still fits K = 256 (a full PNG palette) on
#: the default 2,000,000-value sample of a many-colour photo. EM: its posteriors are a float64
#: (K, values) matrix, about three copies at the peak, so 2**27 pairs is 1 GiB per copy.
MAX_CLUSTER_PAIRS = {"kmeans": 1 << 29, "em": 1 << 27}


def check_cluster_work(method: str, n_clusters: int, n_values: int, engine: str = "fast") -> None:
    """Refuse a fit whose clusters × fitted values is beyond :data:`MAX_CLUSTER_PAIRS` (time or memory).

    Parameters
    ----------
    method : str
    n_clusters : int
    n_values : int
        Values fitted (distinct values or their sample; every valid pixel for ``engine="opencv"``).
    engine : str

    Raises
    ------
    ValueError
        Naming ``n_clusters``, the limit, the largest K for these values and what else would do.
    """
    limit = MAX_CLUSTER_PAIRS.get(method)
    if limit is None or n_clusters * n_values <= limit:
        return
    why = "EM keeps a posterior for every pair" if method == "em" else "each iteration measures every pair"
    remedy = ""
    samples = limit // n_clusters
    if engine == "opencv":
        remedy = ", or a smaller image (engine='opencv' fits every pixel)"
    elif samples >= 10 * n_clusters:  # a sample that still gives each cluster values to fit
        remedy = f", or fit on a sample with max_samples={samples:,}"
    raise ValueError(
        f"n_clusters={n_clusters} is too many for {n_values:,} values to fit: {method} is limited to "
        f"{limit:,} clusters x values ({why}); use at most {limit // n_values:,} clusters{remedy} "
        "(see docs/reliability.md)"
    )


@dataclass
class _Values:
    """What every K of a fit shares: the weighted values, their features and the unit they are fitted in."""

    values: np.ndarray
    sample_weight: np.ndarray
    features: np.ndarray
    unit: float
    layout: ImageLayout
    color_space: str
    record: dict[str, Any]
    approximate: bool
    pinned: np.ndarray | None

    @property
    def n_pixels(self) -> float:
        return float(self.sample_weight.sum())


def fit_values(
    values: np.ndarray,
    sample_weight: np.ndarray,
    layout: ImageLayout,
    color_space: str,
    params: ClusterParameters,
    record: dict[str, Any],
    progress: Progress | None = None,
    approximate: bool = False,
    figures: dict[str, float] | None = None,
) -> tuple[ClusterModel, np.ndarray]:
    """Fit the chosen method on weighted distinct pixel values.

    With ``params.n_clusters == "auto"`` every K of ``params.k_range`` is fitted on these same
    values and one is chosen (:mod:`~napari_colorquant.autok`); the model records the sweep in
    ``model.params["k_curve"]``.

    Parameters
    ----------
    values : ndarray (U, C)
        Distinct pixel values in the input's units (alpha excluded).
    sample_weight : ndarray (U,)
        Their pixel counts.
    layout : ImageLayout
        How the values were read (see :func:`~napari_colorquant.pixels.describe_image`).
    color_space : str
        The resolved colour space.
    params : ClusterParameters
        The validated parameters.
    record : dict
        What the model records as its parameters (see :func:`run_record`).
    progress : callable, optional
        ``progress("fit", fraction)`` after each iteration.
    approximate : bool
        The values are a sample of the pixels (recorded in the model).
    figures : dict, optional
        Given ``"mse"``, the :func:`~napari_colorquant.result.weighted_mse` of the values by the returned labels,
        when the fit's sums give it exactly (one K, k-means on the grid, byte values as features).

    Returns
    -------
    model : ClusterModel
    labels : ndarray (U,)
        Label (1..K) of each value.

    Raises
    ------
    ValueError
        When there are fewer distinct values than clusters, the init array does not fit, or the
        pinned colours do not fit the image.
    """
    from .quality import psnr_peak

    record.update(psnr_peak(layout.given_dtype, values[:, : layout.n_channels], params.data_range))
    features = colorspaces.to_features(values, color_space, layout.scale, layout.offset)
    sample_weight = np.asarray(sample_weight, np.float64)
    distinct = _distinct_features(features, color_space, layout)
    unit = _fit_unit(features, layout, mixture=get_method(params.method).log_posteriors is not None)
    pinned = _pinned_colors(params, layout, color_space)
    shared = _Values(values, sample_weight, features, unit, layout, color_space, record, approximate, pinned)
    if params.is_auto:
        return _fit_auto(shared, params, distinct, progress)
    n_clusters = params.n_clusters
    if n_clusters > distinct:
        if approximate:
            raise ValueError(
                f"n_clusters={n_clusters} is larger than the number of distinct {color_space} values in the fitted "
                f"sample ({distinct}; the image has more distinct values than max_samples={params.max_samples}): "
                f"raise max_samples or use at most {distinct} clusters"
            )
        raise ValueError(
            f"n_clusters={n_clusters} is larger than the number of distinct {color_space} values "
            f"to cluster ({distinct}); use at most {distinct} clusters"
        )
    on_step = None if progress is None else (lambda fraction: progress("fit", fraction))
    return _fit_k(shared, params, n_clusters, on_step, figures)


def _fit_k(
    shared: _Values, params: ClusterParameters, n_clusters: int, on_fraction, figures: dict | None = None
) -> tuple[ClusterModel, np.ndarray]:
    """One fit with K = ``n_clusters``; ``on_fraction(f)`` with the fraction of its iterations done; ``figures`` gets
    the fit's ``"mse"`` when its sums give it (:func:`_mse_from_sums`)."""
    check_cluster_work(params.method, n_clusters, shared.features.shape[0])
    method = get_method(params.method)
    options = params.fit_options()
    options["n_clusters"] = n_clusters
    total_steps = max(1, method.steps(options))
    on_step = None if on_fraction is None else (lambda done: on_fraction(done / total_steps))
    # Unit-free fitting (issue 8 item 4): see _fit_unit and _mean_variance.
    unit = shared.unit
    if unit == 1.0:
        # Integer images: the features themselves (a copy divided by 1 cost 5-8 ms at 1.4 M values), read-only so
        # that no fit can change the values the other K of a sweep share.
        scaled = shared.features.view()
        scaled.flags.writeable = False
    else:
        scaled = shared.features / unit
    if not isinstance(options["init"], str):
        options["init"] = np.asarray(options["init"], np.float64) / unit
    packed = _byte_packing(shared, unit)
    if packed is not None:
        options["packed"] = (scaled, packed)  # for these features only (methods._kmeans_run checks it is them)
    if method.log_posteriors is not None:  # a mixture: only its covariances are regularised (a pass spared)
        options["reg_covar"] = options["reg_covar"] * _mean_variance(scaled, shared.sample_weight)
    if shared.pinned is not None:
        check_fixed_colors(shared.pinned, shared.layout.n_channels, n_clusters)
        options["pinned"] = _pinned_features(shared) / unit
    clusters = method.fit(scaled, shared.sample_weight, n_clusters, options, on_step)
    clusters = _in_data_units(clusters, unit, shared.features.shape[1], shared.n_pixels)
    fit = FitOutcome(params.method, shared.color_space, shared.layout, shared.values, shared.sample_weight, clusters)
    model, rank = build_model(fit, shared.record)
    model.approximate = shared.approximate
    if shared.pinned is not None:
        # The palette shows the pinned colours exactly as given (no round trip through the feature space).
        model.palette[rank[: shared.pinned.shape[0]] - 1] = shared.pinned
    mse = None if figures is None or shared.approximate else _mse_from_sums(shared, unit, clusters, model, rank)
    if mse is not None:
        figures["mse"] = mse
    return model, rank[clusters.labels].astype(model.label_dtype)


#: Colour spaces whose features are the input's values themselves (``colorspaces.to_features`` gives them as float64).
_VALUE_SPACES = ("rgb", "channels")


def _features_are_bytes(shared: _Values, unit: float) -> bool:
    """Whether the fitted features are the byte values themselves (as float64)."""
    return (
        unit == 1.0
        and shared.color_space in _VALUE_SPACES
        and shared.values.dtype == np.uint8
        and shared.values.shape == shared.features.shape
    )


def _byte_packing(shared: _Values, unit: float) -> tuple | None:
    """The features packed for the k-means grid (:func:`~napari_colorquant.kmeans_filter.pack_bytes`) when they are
    byte values as they are and many enough for the grid, else None: packing the bytes spares checking and packing
    the float features (gen12: 9 -> 1 ms CPU), with the same packed numbers."""
    if not _features_are_bytes(shared, unit) or shared.features.shape[0] < FILTER_FROM:
        return None
    return pack_bytes(shared.values)


def _mse_from_sums(shared: _Values, unit: float, clusters: FittedClusters, model: ClusterModel, rank) -> float | None:
    """The fit's MSE (:func:`~napari_colorquant.result.weighted_mse` of its own labels) from the sums the grid gave
    with the final labels (:func:`~napari_colorquant.result.mse_of_sums`), when the features are the byte values;
    else None. The same float, without a pass over the values beside the labels' write-out (gen12: 12 ms CPU)."""
    if clusters.label_sums is None or shared.pinned is not None or not _features_are_bytes(shared, unit):
        return None
    palette = to_dtype(model.palette, shared.layout.dtype)[np.asarray(rank) - 1]  # in the fit's cluster order
    return mse_of_sums(palette, clusters.label_sums, shared.layout.n_channels)


def _pinned_colors(params: ClusterParameters, layout: ImageLayout, color_space: str) -> np.ndarray | None:
    """``params.fixed_colors`` as an ``(m, C)`` array checked against the image's channels, or None."""
    if params.fixed_colors is None:
        return None
    if color_space == "gray" and layout.n_channels > 1:
        raise ValueError(
            "fixed_colors: clustering a colour image on its gray level gives each cluster its pixels' mean colour, "
            "so no colour can be kept; use color_space 'rgb' (or another colour space)"
        )
    colors = np.array(params.fixed_colors, np.float64)
    if layout.n_channels == 1:
        colors = _gray_levels(colors)
    smallest = params.k_range[0] if params.is_auto else params.n_clusters
    colors = check_fixed_colors(colors, layout.n_channels, smallest)
    _check_in_dtype(colors, layout.dtype)
    return colors


def _check_in_dtype(colors: np.ndarray, dtype: np.dtype) -> None:
    """Pinned colours of an integer image must be values it can hold, or the quantized image cannot show them."""
    if dtype.kind not in "biu":
        return
    low, high = (0, 1) if dtype.kind == "b" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
    bad = colors[(colors < low) | (colors > high) | (colors != np.round(colors))]
    if bad.size:
        raise ValueError(
            f"fixed_colors must be whole numbers in {low}..{high} for a {dtype} image (a pinned colour is kept "
            f"exactly in the quantized image), got {bad[0]:g}"
        )


def _gray_levels(colors: np.ndarray) -> np.ndarray:
    """Fixed colours for a gray image as gray levels: neutral R,G,B rows (white ``255,255,255``) are their level.

    One row ``(v1, v2, ...)`` that is not neutral lists several gray levels, as ``fixed_colors=[0, 255]`` does.
    """
    if colors.shape[1] == 3 and (colors == colors[:, :1]).all():
        return colors[:, :1]
    if colors.shape[0] == 1:
        return colors.reshape(-1, 1)
    if colors.shape[1] != 1:
        raise ValueError(
            f"fixed_colors: the image is gray (one channel), so each fixed colour is one gray level (e.g. 255) or a "
            f"neutral R,G,B colour (e.g. 255,255,255); got colours of {colors.shape[1]} values that are not all gray"
        )
    return colors


def _pinned_features(shared: _Values) -> np.ndarray:
    layout = shared.layout
    try:
        return colorspaces.to_features(shared.pinned, shared.color_space, layout.scale, layout.offset)
    except ValueError as error:
        raise ValueError(f"fixed_colors: {error}") from error


def _fit_auto(shared: _Values, params: ClusterParameters, distinct: int, progress) -> tuple[ClusterModel, np.ndarray]:
    """Every K of ``params.k_range`` fitted on the same values; the chosen model records the curve."""
    low, high = params.k_range
    if low > distinct and shared.approximate:
        raise ValueError(
            f"k_range starts at {low} but the fitted sample has only {distinct} distinct {shared.color_space} values "
            f"(the image has more distinct values than max_samples={params.max_samples}): raise max_samples or "
            f"give k_range with k_min <= {distinct}"
        )
    if low > distinct:
        raise ValueError(
            f"k_range starts at {low} but there are only {distinct} distinct {shared.color_space} values to "
            f"cluster; give k_range with k_min <= {distinct}"
        )
    high = min(high, distinct)  # more clusters than values cannot be fitted: the curve shows where it stopped
    criterion, target = "bic", None
    if params.target_psnr is not None:
        criterion, target = "psnr", params.target_psnr
    elif params.target_delta_e is not None:
        criterion, target = "delta_e", params.target_delta_e
        if shared.layout.kind not in ("gray", "rgb", "rgba"):
            kind = shared.layout.kind
            raise ValueError(f"target_delta_e needs a gray or RGB image (ΔE compares colours); got {kind}")

    def fit(k: int):
        on_fraction = None
        if progress is not None:

            def on_fraction(fraction, done=k - low, total=high - low + 1):
                progress("fit", (done + fraction) / total)

        return _fit_k(shared, params, k, on_fraction)

    score = {"bic": _bic, "psnr": _psnr, "delta_e": _delta_e}[criterion]
    (model, labels), curve = sweep(fit, lambda fitted: score(fitted[0], shared), (low, high), criterion, target)
    model.params["k_curve"] = curve.to_dict()
    return model, labels


def _bic(model: ClusterModel, shared: _Values) -> float:
    """The mixture's own BIC (EM), or that of the spherical mixture k-means fits implicitly."""
    if model.bic is not None:
        return model.bic
    labels = model.predict_values(shared.values)
    mass = np.bincount(labels, weights=shared.sample_weight, minlength=model.n_clusters + 1)[1:]
    return kmeans_bic(float(model.inertia), mass, model.n_features)


def _psnr(model: ClusterModel, shared: _Values) -> float:
    from .result import quality_figures, weighted_mse

    mse = weighted_mse(model, shared.layout, shared.values, shared.sample_weight)
    return quality_figures(model, shared.layout, mse)["psnr"]


def _delta_e(model: ClusterModel, shared: _Values) -> float:
    from .quality import delta_e_of_model

    return delta_e_of_model(model, shared.layout.dtype, shared.values, shared.sample_weight)[0]

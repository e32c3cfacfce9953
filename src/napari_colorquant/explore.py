"""Explore a fitted feature space: density, selections, merges, masks and objects.

Everything here works on the *distinct* pixel values a run counted, each with
its count, and reaches the pixels through one lookup (``PixelTable.scatter``),
or, for dask images, through a lazy per-chunk lookup. A 12 MP photo has a few
hundred thousand distinct colours and a uint16 stack a few thousand, so a
density, a lasso or a merge costs a pass over those values plus at most one
pass over the image.

* :func:`feature_data` gathers a run's distinct values, counts, features and labels.
* :func:`density` / :func:`histogram`: weighted 2-D / 1-D histograms of every valid pixel.
* :class:`Region` and :func:`inside`: polygon, rectangle, ellipse and interval
  selections in feature units, combined with replace / add / subtract steps;
  :func:`selection_pixels` turns them into a per-pixel mask.
* :func:`merge_clusters`: one new consistent :class:`~.model.ClusterModel`
  (k-means centre = weighted mean of the merged pixels; EM by moment matching).
* :func:`clusters_mask`, :func:`objects`, :func:`cluster_statistics`.

Hand-written parts and why: polygon containment is matplotlib's
``Path.contains_points`` (the plot uses matplotlib anyway); rectangles, ellipses
and moment matching are a few lines of numpy that no library exposes for
weighted distinct values. Connected components are scikit-image's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .model import ClusterModel, _cluster_order, _palette
from .pixels import PixelTable
from .quantize import lookup_labels

if TYPE_CHECKING:
    from .result import QuantizeResult

SHAPES = ("polygon", "rectangle", "ellipse", "interval")
MODES = ("replace", "add", "subtract")
CONFIDENCES = ("1 sigma", "2 sigma", "95 %")


@dataclass
class FeatureData:
    """A run's weighted distinct values and the way back to its pixels.

    Attributes
    ----------
    model : ClusterModel
    values : ndarray (U, C)
        Distinct pixel values in the input's units (for lazy, approximate runs: the fitted sample).
    counts : ndarray (U,)
        Pixels per value (float64 weights).
    features : ndarray (U, F)
        The values in the model's feature space.
    labels : ndarray (U,)
        Cluster label (1..K) of each value, as in the run's label image.
    spatial_shape : tuple of int
    table : PixelTable or None
        In-memory runs: the table that maps values back to pixels.
    image : ndarray or dask array
        The clustered image (for hover look-ups and lazy selections).
    channel_axis : int or None
    mask : array or None
        The run's mask (pixels outside get no label).
    exact : bool
        ``counts`` describe every valid pixel (False for a sample).
    """

    model: ClusterModel
    values: np.ndarray
    counts: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    spatial_shape: tuple[int, ...]
    image: Any
    table: PixelTable | None = None
    channel_axis: int | None = None
    mask: Any = None
    exact: bool = True
    _planes: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def lazy(self) -> bool:
        """True when the image is a dask array (selections stay lazy)."""
        return self.table is None

    @property
    def n_pixels(self) -> float:
        """Valid pixels the counts describe."""
        return float(self.counts.sum())


def feature_data(
    result: QuantizeResult, image: ArrayLike, *, mask: ArrayLike | None = None, channel_axis: int | None = None
) -> FeatureData:
    """Collect a run's distinct values, counts, features and labels.

    Parameters
    ----------
    result : QuantizeResult
        What :func:`~napari_colorquant.quantize` (or ``apply_model``) returned for ``image``.
    image : array_like or dask array
        The clustered image.
    mask, channel_axis
        As given to the run.

    Returns
    -------
    FeatureData
        In-memory: every distinct value, counted once (the result's own table when it keeps one).
        Dask (or a lazy result of in-memory data, e.g. a pyramid level): the merged histogram (or sample)
        the lazy fit kept, ``result.fit_values/fit_counts``; the image is then read lazily.

    Raises
    ------
    ValueError
        If the image does not match the result (shape or channels).
    """
    model = result.model
    table = getattr(result, "table", None)
    if result.lazy:
        # The result says how it was made (the front door decided). A lazy run on in-memory data (a pyramid's
        # numpy level) keeps to what the lazy fit counted: never count the image again nor compute its labels.
        import dask.array as da

        image = da.asarray(image)  # a dask array stays as it is
        if result.fit_values is None:
            raise ValueError("this dask result keeps no fitted values (fit_values); run quantize on the dask array")
        values = np.asarray(result.fit_values)
        _, layout = model.describe(image, channel_axis)
        return FeatureData(
            model=model, values=values, counts=np.asarray(result.fit_counts, np.float64),
            features=model.features(values), labels=model.predict_values(values),
            spatial_shape=layout.spatial_shape, image=image, channel_axis=channel_axis, mask=mask,
            exact=result.n_valid >= 0,  # every valid pixel counted (a sample: -1), whatever the fit ran on
        )  # fmt: skip
    if table is None:
        table = model.pixel_table(image, mask=mask, channel_axis=channel_axis)
    labels = np.asarray(result.labels)
    if labels.shape != table.layout.spatial_shape:
        raise ValueError(
            f"result labels have shape {labels.shape}; the image's pixel grid is {table.layout.spatial_shape}"
        )
    return FeatureData(
        model=model, values=table.values, counts=table.counts.astype(np.float64),
        features=model.features(table.values), labels=_value_labels(table, labels),
        spatial_shape=table.layout.spatial_shape, image=table.array, table=table,
        channel_axis=table.layout.channel_axis, mask=mask,
    )  # fmt: skip


def _value_labels(table: PixelTable, labels: np.ndarray) -> np.ndarray:
    """The label image's label of each distinct value (one lookup of value indices)."""
    # int32 row indices: half the memory traffic of int64 (a table never holds 2**31 distinct values).
    index = to_pixels(table, np.arange(table.values.shape[0], dtype=np.int32), fill=-1).reshape(-1)
    flat = labels.reshape(-1)
    inside = index >= 0
    out = np.zeros(table.values.shape[0], labels.dtype)
    out[index[inside]] = flat[inside]
    return out


def to_pixels(table: PixelTable, per_value: np.ndarray, fill: Any = 0) -> np.ndarray:
    """One result per distinct value written to every pixel (``fill`` outside the valid pixels).

    Parameters
    ----------
    table : PixelTable
        The in-memory run's table of distinct values.
    per_value : ndarray (U, ...)
        One result per row of ``table.values``.
    fill : scalar
        Value of masked and NaN pixels.

    Returns
    -------
    ndarray
        The table's spatial shape plus ``per_value.shape[1:]``, of ``per_value``'s dtype.
    """
    if table.strategy != "direct":
        return table.scatter(per_value, fill)
    # Float data: the values are the valid pixels themselves, in order.
    out = np.full((table.layout.n_pixels, *per_value.shape[1:]), fill, per_value.dtype)
    if table.valid is None:
        out[...] = per_value
    else:
        out[table.valid] = per_value
    return out.reshape(table.layout.spatial_shape + per_value.shape[1:])


def region_values(data: FeatureData, region_mask: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Features and pixel counts of the distinct values inside a region of the image (brushing).

    Parameters
    ----------
    data : FeatureData
    region_mask : array_like of bool, spatial shape
        The region (e.g. a Shapes or Labels layer drawn on the image); the run's own mask still applies.

    Returns
    -------
    features : ndarray (V, F)
    counts : ndarray (V,)
        Empty when the region holds no valid pixel.

    Raises
    ------
    ValueError
        If the region's shape is not the image's pixel grid.
    """
    region = np.asarray(region_mask) != 0
    if region.shape != tuple(data.spatial_shape):
        raise ValueError(f"region shape {region.shape} does not match the image's pixel grid {data.spatial_shape}")
    if data.mask is not None:
        region &= np.asarray(data.mask) != 0
    if not region.any():
        return np.empty((0, data.model.n_features)), np.empty(0)
    # Only the region's bounding box is read (a dask image computes just that part).
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in np.nonzero(region))
    index: list = list(box)
    if data.channel_axis is not None:
        index.insert(data.channel_axis, slice(None))
    crop = data.image[tuple(index)]
    crop = np.asarray(crop)  # a dask crop computes just this box
    try:
        table = data.model.pixel_table(crop, mask=region[box], channel_axis=data.channel_axis)
    except ValueError:  # only NaN pixels inside
        return np.empty((0, data.model.n_features)), np.empty(0)
    return data.model.features(table.values), table.counts.astype(np.float64)


# --- density ---------------------------------------------------------------------------------
def feature_range(features: np.ndarray, axis: int) -> tuple[float, float]:
    """Low and high limits of one feature, padded by 2 % (never empty).

    Parameters
    ----------
    features : ndarray (U, F)
        Feature rows.
    axis : int
        The feature (column) to measure.

    Returns
    -------
    (float, float)
        ``(low, high)`` with ``low < high``; a constant feature gets a pad of 1 % of its value (at least 0.5).
    """
    column = features[:, axis]
    low, high = float(column.min()), float(column.max())
    pad = 0.02 * (high - low) if high > low else max(abs(low) * 0.01, 0.5)
    return low - pad, high + pad


def density(
    features: np.ndarray,
    counts: np.ndarray,
    axes: tuple[int, int],
    bins: int = 256,
    extent: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted 2-D histogram of two features: every pixel counted through its value's weight.

    Parameters
    ----------
    features : ndarray (U, F)
    counts : ndarray (U,)
    axes : (int, int)
        The x and y features.
    bins : int
        Bins along each axis.
    extent : ((xlow, xhigh), (ylow, yhigh)), optional
        Default: the data's range (padded).

    Returns
    -------
    hist : ndarray (bins, bins)
        ``hist[ix, iy]``: pixels in that cell (x along the first axis, as ``numpy.histogram2d``).
    xedges, yedges : ndarray (bins + 1,)

    Raises
    ------
    TypeError, ValueError
        If ``axes`` are not two feature indices of ``features``.
    """
    i, j = _check_axes(axes, features.shape[1])
    if extent is None:
        extent = (feature_range(features, i), feature_range(features, j))
    return np.histogram2d(features[:, i], features[:, j], bins=bins, range=extent, weights=counts)


def histogram(
    features: np.ndarray, counts: np.ndarray, axis: int = 0, bins: int = 256, extent: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted histogram of one feature (pixels per bin) and its bin edges.

    Parameters
    ----------
    features : ndarray (U, F)
        Feature rows of the distinct values.
    counts : ndarray (U,)
        Pixels per row (the weights).
    axis : int
        The feature to histogram.
    bins : int
        Number of bins.
    extent : (float, float), optional
        Range of the bins; default: the data's range, padded (:func:`feature_range`).

    Returns
    -------
    hist : ndarray (bins,)
        Pixels per bin.
    edges : ndarray (bins + 1,)

    Raises
    ------
    TypeError, ValueError
        If ``axis`` is not a feature index of ``features``.
    """
    axis = _check_axes((axis, axis), features.shape[1])[0]
    extent = feature_range(features, axis) if extent is None else extent
    return np.histogram(features[:, axis], bins=bins, range=extent, weights=counts)


def _check_axes(axes, n_features: int) -> tuple[int, int]:
    if len(axes) != 2 or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
        raise TypeError(f"axes must be two feature indices, got {axes!r}")
    if not all(0 <= a < n_features for a in axes):
        raise ValueError(
            f"axes {tuple(axes)} out of range: the model has {n_features} feature(s) (0..{n_features - 1})"
        )
    return int(axes[0]), int(axes[1])


# --- Gaussians -------------------------------------------------------------------------------
def mahalanobis_radius(confidence: str | float) -> float:
    """Radius (in standard deviations) of a 2-D Gaussian contour: ``"1 sigma"``, ``"2 sigma"`` or a probability.

    For a probability ``p`` the contour holds ``p`` of the 2-D Gaussian's mass: ``sqrt(-2 ln(1 - p))``
    (the chi-square quantile with 2 degrees of freedom).

    Parameters
    ----------
    confidence : {"1 sigma", "2 sigma", "95 %"} or float
        A named contour, or the probability mass inside it (strictly between 0 and 1).

    Returns
    -------
    float
        The Mahalanobis radius of the contour.

    Raises
    ------
    ValueError
        For an unknown name or a probability outside (0, 1).
    """
    if isinstance(confidence, str):
        named = {"1 sigma": 1.0, "2 sigma": 2.0, "95 %": math.sqrt(-2.0 * math.log(0.05))}
        if confidence not in named:
            raise ValueError(f"unknown confidence {confidence!r}; accepted: {', '.join(CONFIDENCES)} or a probability")
        return named[confidence]
    p = float(confidence)
    if not 0.0 < p < 1.0:
        raise ValueError(f"confidence must be a probability between 0 and 1, got {confidence!r}")
    return math.sqrt(-2.0 * math.log1p(-p))


def ellipse(
    mean: np.ndarray, covariance: np.ndarray, axes: tuple[int, int], confidence: str | float = "95 %", n: int = 96
) -> np.ndarray:
    """Vertices ``(n, 2)`` of a Gaussian's contour projected onto two features.

    The projection of a Gaussian onto a pair of features is exactly its marginal: the
    mean's two entries and the 2x2 block of the covariance.

    Parameters
    ----------
    mean : ndarray (F,)
        The Gaussian's mean.
    covariance : ndarray (F, F)
        Its covariance matrix.
    axes : (int, int)
        The features on x and y.
    confidence : str or float
        The contour, as :func:`mahalanobis_radius` takes it.
    n : int
        Number of vertices (the first and the last coincide).

    Returns
    -------
    ndarray (n, 2)
        The contour's (x, y) vertices, in feature units.

    Raises
    ------
    ValueError
        For a bad ``confidence``.
    """
    i, j = axes
    centre = np.asarray(mean, np.float64)[[i, j]]
    block = np.asarray(covariance, np.float64)[np.ix_([i, j], [i, j])]
    values, vectors = np.linalg.eigh(block)
    angles = np.linspace(0.0, 2.0 * np.pi, n)
    circle = np.stack([np.cos(angles), np.sin(angles)])
    return centre + (vectors @ (np.sqrt(np.maximum(values, 0.0))[:, None] * circle)).T * mahalanobis_radius(confidence)


def gaussian_curves(model: ClusterModel, axis: int, x: np.ndarray, total: float, bin_width: float) -> np.ndarray:
    """Each weighted Gaussian of an EM model along one feature, in pixels per bin: ``(K, len(x))``.

    Their sum is the mixture's expected histogram.

    Parameters
    ----------
    model : ClusterModel
        An EM model (means, covariances and mixing weights).
    axis : int
        The feature along which the marginal Gaussians are drawn.
    x : ndarray (N,)
        Positions along that feature (e.g. bin centres).
    total : float
        Pixels the histogram counts.
    bin_width : float
        Width of one histogram bin, in feature units.

    Returns
    -------
    ndarray (K, N)
        ``w_k * N(x; mu_k, sigma_k) * total * bin_width`` for each component ``k``.
    """
    means = model.means[:, axis]
    sigma = np.sqrt(model.covariances[:, axis, axis])
    z = (np.asarray(x, np.float64)[None, :] - means[:, None]) / sigma[:, None]
    pdf = np.exp(-0.5 * z**2) / (sigma[:, None] * math.sqrt(2.0 * math.pi))
    return model.mixing_weights[:, None] * pdf * total * bin_width


def kmeans_thresholds(model: ClusterModel, axis: int = 0) -> np.ndarray:
    """Boundaries between neighbouring k-means centres along one feature (1-D models).

    Parameters
    ----------
    model : ClusterModel
        A fitted model.
    axis : int
        The feature.

    Returns
    -------
    ndarray (K - 1,)
        Midpoints between consecutive sorted centres: the nearest-centre decision boundaries in 1-D.
    """
    centres = np.sort(model.means[:, axis])
    return (centres[1:] + centres[:-1]) / 2.0


# --- selections ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Region:
    """A region of a feature plane, in feature units.

    Attributes
    ----------
    shape : {"polygon", "rectangle", "ellipse", "interval"}
    axes : (int, int)
        The features on x and y (an interval uses only ``axes[0]``).
    points : tuple of (float, float)
        polygon: its vertices; rectangle and ellipse: two opposite corners of the
        (axis-aligned) bounding box; interval: ``((low, high),)``.
    """

    shape: str
    axes: tuple[int, int]
    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"unknown region shape {self.shape!r}; accepted: {', '.join(SHAPES)}")
        points = np.asarray(self.points, np.float64)
        need = {"polygon": 3, "rectangle": 2, "ellipse": 2, "interval": 1}[self.shape]
        if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < need or not np.isfinite(points).all():
            raise ValueError(f"a {self.shape} needs at least {need} finite (x, y) points, got {self.points!r}")
        object.__setattr__(self, "points", tuple(map(tuple, points.tolist())))
        object.__setattr__(self, "axes", tuple(int(a) for a in self.axes))

    def contains(self, features: np.ndarray) -> np.ndarray:
        """Boolean per feature row: inside the region (borders of a polygon may go either way).

        Parameters
        ----------
        features : ndarray (N, F)
            Feature rows; only the region's ``axes`` are read.

        Returns
        -------
        ndarray of bool (N,)
        """
        i, j = self.axes
        x = features[:, i]
        if self.shape == "interval":
            low, high = sorted(self.points[0])
            return (x >= low) & (x <= high)
        y = features[:, j]
        points = np.asarray(self.points)
        if self.shape == "polygon":
            from matplotlib.path import Path

            return Path(points).contains_points(np.column_stack([x, y]))
        (x0, y0), (x1, y1) = points[:2]
        if self.shape == "rectangle":
            return (x >= min(x0, x1)) & (x <= max(x0, x1)) & (y >= min(y0, y1)) & (y <= max(y0, y1))
        rx, ry = abs(x1 - x0) / 2.0, abs(y1 - y0) / 2.0
        if rx == 0 or ry == 0:
            return np.zeros(x.shape, bool)
        return ((x - (x0 + x1) / 2.0) / rx) ** 2 + ((y - (y0 + y1) / 2.0) / ry) ** 2 <= 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for layer metadata).

        Returns
        -------
        dict
            ``shape``, ``axes`` and ``points`` as plain lists.
        """
        return {"shape": self.shape, "axes": list(self.axes), "points": [list(p) for p in self.points]}


@dataclass
class Selection:
    """Regions combined in order: each step replaces, adds to or subtracts from what came before."""

    steps: list[tuple[str, Region]] = field(default_factory=list)

    def then(self, region: Region, mode: str = "replace") -> Selection:
        """A new selection with one more step (``replace`` starts over).

        Parameters
        ----------
        region : Region
            The region of this step.
        mode : {"replace", "add", "subtract"}
            How the region combines with what came before.

        Returns
        -------
        Selection
            A new selection; this one is unchanged.

        Raises
        ------
        ValueError
            For an unknown ``mode``.
        """
        if mode not in MODES:
            raise ValueError(f"unknown selection mode {mode!r}; accepted: {', '.join(MODES)}")
        steps = [] if mode == "replace" else list(self.steps)
        return Selection([*steps, (mode, region)])

    def contains(self, features: np.ndarray) -> np.ndarray:
        """Boolean per feature row: inside the combined selection.

        Parameters
        ----------
        features : ndarray (N, F)
            Feature rows.

        Returns
        -------
        ndarray of bool (N,)
            All False for an empty selection.
        """
        selected = np.zeros(features.shape[0], bool)
        for mode, region in self.steps:
            inside = region.contains(features)
            if mode == "subtract":
                selected &= ~inside
            else:
                selected |= inside
        return selected

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-able steps (for layer metadata).

        Returns
        -------
        list of dict
            One dict per step: its ``mode`` and the region's :meth:`Region.to_dict`.
        """
        return [{"mode": mode, **region.to_dict()} for mode, region in self.steps]


def selected_values(data: FeatureData, selection: Selection) -> np.ndarray:
    """Boolean per distinct value of ``data``: inside ``selection`` (the same as ``selection.contains(features)``).

    Each region is tested once per distinct pair of its two shown features (see :func:`_plane`), then
    read back per value: a 12 MP photo's million colours share at most 65,536 (R, G) pairs.

    Parameters
    ----------
    data : FeatureData
        The run's distinct values and features.
    selection : Selection
        The regions to test.

    Returns
    -------
    ndarray of bool (U,)
        One flag per row of ``data.features``.
    """
    selected = np.zeros(data.features.shape[0], bool)
    for mode, region in selection.steps:
        plane = _plane(data, region.axes)
        inside = region.contains(data.features) if plane is None else region.contains(plane[0])[plane[1]]
        if mode == "subtract":
            selected &= ~inside
        else:
            selected |= inside
    return selected


def shown_values(data: FeatureData, axes: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and pixel counts to plot two features from: one row per distinct pair when that is fewer.

    The density of these rows is the density of every value (same coordinates, counts summed per pair),
    and building the pair index here makes the selections on these axes cheap afterwards.

    Parameters
    ----------
    data : FeatureData
        The run's distinct values and features.
    axes : (int, int)
        The features on x and y.

    Returns
    -------
    features : ndarray (V, F)
        Rows to plot (only the two shown columns are meaningful when pairs were merged).
    counts : ndarray (V,)
        Pixels per row.
    """
    plane = _plane(data, axes)
    if plane is None:
        return data.features, data.counts
    rows, inverse = plane
    return rows, np.bincount(inverse, weights=data.counts, minlength=rows.shape[0])


def shown_values_ready(data: FeatureData, axes: tuple[int, int]) -> bool:
    """Whether :func:`shown_values` of ``axes`` is a lookup: their pair index is made (or none is needed).

    Parameters
    ----------
    data : FeatureData
        The run's distinct values and features.
    axes : (int, int)
        The features on x and y.

    Returns
    -------
    bool
        False when :func:`shown_values` would pass over every distinct value to index the pair.
    """
    return data.features.shape[0] < _PLANE_MIN_VALUES or (int(axes[0]), int(axes[1])) in data._planes


_PLANE_MIN_VALUES = 1 << 16  # below this, testing every value directly is as cheap
_PLANE_DENSE_KEYS = 1 << 22  # above this many grid cells, distinct pairs are found by sorting


def _plane(data: FeatureData, axes) -> tuple[np.ndarray, np.ndarray] | None:
    """Distinct integer pairs of two features and each value's pair index (cached per axes), or None.

    None when the values are few or the features are not integer-valued (then every value is tested).
    The pairs come back as feature rows (the shown columns filled in) so a Region tests them as it is.
    """
    axes = (int(axes[0]), int(axes[1]))
    if axes in data._planes:
        return data._planes[axes]
    plane = None
    columns = data.features[:, list(axes)]
    if columns.shape[0] >= _PLANE_MIN_VALUES and np.array_equal(columns, np.rint(columns)):
        low = columns.min(axis=0).astype(np.int64)
        span = columns.max(axis=0).astype(np.int64) - low + 1
        x, y = (columns[:, 0].astype(np.int64) - low[0]), (columns[:, 1].astype(np.int64) - low[1])
        keys = x * span[1] + y
        cells = int(span[0] * span[1])
        if cells <= _PLANE_DENSE_KEYS:
            distinct = np.flatnonzero(np.bincount(keys, minlength=cells))
            position = np.empty(cells, np.int32)
            position[distinct] = np.arange(distinct.size, dtype=np.int32)
            inverse = position[keys]
        else:
            distinct, inverse = np.unique(keys, return_inverse=True)
        rows = np.zeros((distinct.size, data.features.shape[1]))
        rows[:, axes[0]] = distinct // span[1] + low[0]
        rows[:, axes[1]] = distinct % span[1] + low[1]
        plane = (rows, inverse.reshape(-1))
    data._planes[axes] = plane
    return plane


def selection_pixels(data: FeatureData, per_value: np.ndarray, selection: Selection | None = None) -> ArrayLike:
    """A per-pixel uint8 mask (1 selected, 0 not) from a boolean per distinct value.

    In memory: one lookup through the run's table. Dask: a lazy ``map_blocks``
    that selects each chunk's own distinct values (``selection`` is needed then,
    since a chunk may hold values the fitted sample does not).

    Parameters
    ----------
    data : FeatureData
        The run's feature data.
    per_value : ndarray of bool (U,)
        The selection of each distinct value (e.g. :func:`selected_values`).
    selection : Selection, optional
        Required when ``data`` is lazy.

    Returns
    -------
    ndarray or dask array of uint8
        The image's spatial shape.

    Raises
    ------
    ValueError
        For lazy data without ``selection``.
    """
    if not data.lazy:
        return to_pixels(data.table, np.asarray(per_value).astype(np.uint8), fill=0)
    if selection is None:
        raise ValueError("a dask image needs the Selection itself to select its chunks lazily")
    return lazy_value_map(data, lambda features: selection.contains(features).astype(np.uint8), np.uint8)


def selection_levels(data: FeatureData, selection: Selection, levels: Sequence[ArrayLike]) -> list:
    """A selection on every level of a pyramid, finest first: lazy uint8 masks (napari multiscale data).

    ``data`` describes the fitted level; each chunk of each level selects its own distinct values,
    so the full-resolution mask is exact and computed only where it is shown.

    Parameters
    ----------
    data : FeatureData
        Feature data of the fitted level.
    selection : Selection
        The regions to select.
    levels : sequence of array_like
        Every level of the pyramid, finest first (numpy or dask).

    Returns
    -------
    list of dask arrays of uint8
        One mask per level, each of that level's spatial shape.
    """
    import dask.array as da

    def select(features: np.ndarray) -> np.ndarray:
        return selection.contains(features).astype(np.uint8)

    return [lazy_value_map(replace(data, image=da.asarray(level), mask=None), select, np.uint8) for level in levels]


def lazy_value_map(data: FeatureData, func: Callable[[np.ndarray], np.ndarray], dtype: DTypeLike) -> Any:
    """``func(features) -> one result per row`` applied lazily to every valid pixel of a dask image (0 elsewhere).

    Each chunk counts its own distinct values and writes ``func`` of them back through its table.

    Parameters
    ----------
    data : FeatureData
        Feature data whose ``image`` is read chunk by chunk (``mask`` applies).
    func : callable
        Takes feature rows ``(N, F)``, returns one result per row.
    dtype : numpy dtype
        Dtype of the output.

    Returns
    -------
    dask array
        The image's spatial shape, ``dtype``; nothing is computed until it is read.
    """
    import dask.array as da

    model = data.model
    array, layout = model.describe(data.image, data.channel_axis)
    axis = layout.channel_axis
    if axis is not None and len(array.chunks[axis]) > 1:
        array = array.rechunk({axis: -1})
    index = tuple(range(array.ndim))
    spatial_index = tuple(i for i in index if i != axis)
    args = [array, index]
    if data.mask is not None:
        spatial_chunks = tuple(c for a, c in enumerate(array.chunks) if a != axis)
        args += [da.asarray(data.mask).rechunk(spatial_chunks), spatial_index]

    def block_map(block: np.ndarray, mask_block: np.ndarray | None = None) -> np.ndarray:
        mask_block = None if mask_block is None else np.asarray(mask_block) != 0
        if mask_block is not None and not mask_block.any():
            return np.zeros(mask_block.shape, dtype)
        table = model.pixel_table(block, mask=mask_block, channel_axis=axis)
        return to_pixels(table, np.asarray(func(model.features(table.values))).astype(dtype), fill=0)

    return da.blockwise(block_map, spatial_index, *args, dtype=dtype, concatenate=True)


# --- clusters --------------------------------------------------------------------------------
def cluster_statistics(data: FeatureData) -> dict[str, np.ndarray]:
    """Per cluster: label, pixel count, percentage, mean of each feature and (EM) mixing weight.

    Counts and means are over the pixels of the label image (weighted distinct values).

    Parameters
    ----------
    data : FeatureData
        The run's distinct values, counts and labels.

    Returns
    -------
    dict of str to ndarray (K,)
        ``"label"``, ``"count"``, ``"percent"``, ``"mean <feature>"`` for each feature (NaN for an empty
        cluster) and, for EM, ``"weight"``.
    """
    model = data.model
    k = model.n_clusters
    counts = np.bincount(data.labels, weights=data.counts, minlength=k + 1)[1:]
    total = max(float(counts.sum()), 1e-300)
    out: dict[str, np.ndarray] = {"label": np.arange(1, k + 1), "count": counts, "percent": 100.0 * counts / total}
    for f, name in enumerate(model.feature_names):
        sums = np.bincount(data.labels, weights=data.counts * data.features[:, f], minlength=k + 1)[1:]
        out[f"mean {name}"] = np.divide(sums, counts, out=np.full(k, np.nan), where=counts > 0)
    if model.method == "em":
        out["weight"] = np.asarray(model.mixing_weights, np.float64)
    return out


@dataclass
class Merge:
    """What :func:`merge_clusters` returns.

    Attributes
    ----------
    model : ClusterModel
        The merged model (K - len(merged) + 1 clusters, labels in the usual brightness order).
    mapping : ndarray (K + 1,)
        New label of each old label (``mapping[0] == 0``); the label image becomes ``mapping[labels]``.
    label : int
        New label of the merged cluster.
    """

    model: ClusterModel
    mapping: np.ndarray
    label: int


def merge_clusters(data: FeatureData, labels: Sequence[int]) -> Merge:
    """Merge clusters into one and renumber the rest consistently.

    k-means: the merged centre is the weighted mean of the merged clusters' pixels.
    EM: moment matching, the single Gaussian with the merged components' total weight,
    mean and covariance: ``w = sum w_i``, ``mu = sum w_i mu_i / w``,
    ``Sigma = sum w_i (Sigma_i + (mu_i - mu)(mu_i - mu)^T) / w``.

    Parameters
    ----------
    data : FeatureData
    labels : sequence of int
        At least two distinct labels in 1..K.

    Returns
    -------
    Merge

    Raises
    ------
    ValueError
        Fewer than two labels, or a label out of range.

    References
    ----------
    Runnalls, A. R. (2007). Kullback-Leibler approach to Gaussian mixture reduction.
    IEEE Transactions on Aerospace and Electronic Systems, 43(3), 989-999.
    """
    model = data.model
    merged = _check_labels(labels, model.n_clusters, minimum=2)
    index = np.asarray(merged) - 1
    keep = np.setdiff1d(np.arange(model.n_clusters), index)
    means = model.means.copy()
    covariances = weights = None
    if model.method == "em":
        w = model.mixing_weights[index]
        mu = (w[:, None] * model.means[index]).sum(axis=0) / w.sum()
        spread = model.means[index] - mu
        cov = (w[:, None, None] * (model.covariances[index] + spread[:, :, None] * spread[:, None, :])).sum(0) / w.sum()
        means[index[0]] = mu
        covariances = model.covariances.copy()
        covariances[index[0]] = cov
        weights = model.mixing_weights.copy()
        weights[index[0]] = w.sum()
    else:
        member = np.isin(data.labels, merged)
        mass = data.counts[member].sum()
        if mass > 0:
            means[index[0]] = (data.counts[member, None] * data.features[member]).sum(axis=0) / mass
    rows = np.sort(np.append(keep, index[0]))
    means = means[rows]
    order = _cluster_order(means, model.color_space, model.scale, model.offset)
    # mapping: old label -> row in ``rows`` -> position in ``order``
    rank = np.empty_like(order)
    rank[order] = np.arange(1, order.size + 1)
    row_of = np.searchsorted(
        rows, np.where(np.isin(np.arange(model.n_clusters), index), index[0], np.arange(model.n_clusters))
    )
    mapping = np.concatenate([[0], rank[row_of]]).astype(np.int64)
    new_labels = mapping[data.labels]
    means = means[order]
    layout = SimpleNamespace(scale=model.scale, offset=model.offset, n_channels=model.n_channels)
    fit_labels = np.maximum(new_labels.astype(np.int64) - 1, 0)
    palette = _palette(model.color_space, layout, data.values, data.counts, fit_labels, means)
    params = dict(model.params)
    params["merges"] = [
        *params.get("merges", []),
        {"merged": [int(v) for v in merged], "into": int(mapping[merged[0]])},
    ]
    new_model = replace(
        model, means=means, palette=palette,
        covariances=None if covariances is None else covariances[rows][order],
        mixing_weights=None if weights is None else weights[rows][order], params=params,
    )  # fmt: skip
    _refresh_fit_figures(new_model, data, new_labels)
    return Merge(model=new_model, mapping=mapping, label=int(mapping[merged[0]]))


def _refresh_fit_figures(model: ClusterModel, data: FeatureData, labels: np.ndarray) -> None:
    """Inertia (k-means) or log-likelihood and BIC (EM) of the merged model on the counted values."""
    from .em import bic, e_step

    total = data.counts.sum()
    if model.method == "kmeans":
        residual = data.features - model.means[np.maximum(labels.astype(np.int64) - 1, 0)]
        model.inertia = float((data.counts * (residual**2).sum(axis=1)).sum())
    else:
        _, log_norm = e_step(data.features, model.means, model.covariances, model.mixing_weights)
        model.log_likelihood = float(log_norm @ data.counts / total)
        covariance = str(model.params.get("covariance", "full"))
        model.bic = bic(model.log_likelihood, total, model.n_clusters, model.n_features, covariance)


def _check_labels(labels, n_clusters: int, minimum: int = 1) -> list[int]:
    try:
        chosen = sorted({int(v) for v in np.atleast_1d(np.asarray(labels)).tolist()})
    except (TypeError, ValueError) as error:
        raise TypeError(f"labels must be integers 1..{n_clusters}, got {labels!r}") from error
    if len(chosen) < minimum:
        raise ValueError(f"labels needs at least {minimum} distinct cluster label(s), got {labels!r}")
    if chosen[0] < 1 or chosen[-1] > n_clusters:
        raise ValueError(f"labels must be between 1 and {n_clusters} (the model's clusters), got {labels!r}")
    return chosen


def relabel(labels_image: ArrayLike, mapping: np.ndarray, *, beyond: str | int = "keep") -> ArrayLike:
    """``mapping[labels]`` for an in-memory or dask label image (one lookup, through the front door's
    :func:`~napari_colorquant.quantize.lookup_labels`).

    Parameters
    ----------
    labels_image : array_like of int or dask array
        A label image (0 = unlabelled); it may hold labels above the mapping, painted by hand in napari.
    mapping : ndarray (K + 1,)
        New value of each label.
    beyond : "keep" or int
        What labels above the mapping become: themselves (a label the user painted stays his), or this value.

    Returns
    -------
    ndarray or dask array
        Of the smallest unsigned dtype that holds ``mapping``'s largest value (with ``beyond="keep"``, also
        one that holds the label image's dtype); lazy for a dask image.
    """
    mapping = np.asarray(mapping)
    dtype = np.min_scalar_type(int(mapping.max()))
    return lookup_labels(labels_image, mapping.astype(dtype), beyond=beyond)


def clusters_mask(labels_image: ArrayLike, labels: int | Sequence[int], n_clusters: int) -> ArrayLike:
    """uint8 mask (1 where the label image holds one of ``labels``), in memory or lazy.

    Parameters
    ----------
    labels_image : array_like of int or dask array
        A label image with labels 1..``n_clusters`` (labels painted above it are in no cluster).
    labels : int or sequence of int
        The clusters to keep.
    n_clusters : int
        The model's K.

    Returns
    -------
    ndarray or dask array of uint8

    Raises
    ------
    TypeError, ValueError
        If ``labels`` are not integers in 1..``n_clusters``.
    """
    chosen = _check_labels(labels, n_clusters)
    table = np.zeros(n_clusters + 1, np.uint8)
    table[chosen] = 1
    return relabel(labels_image, table, beyond=0)


def objects(mask: ArrayLike, min_size: int = 1, connectivity: int | None = None) -> np.ndarray:
    """Connected components of a mask, without those smaller than ``min_size`` pixels, labelled 1..N.

    Parameters
    ----------
    mask : array_like (any spatial shape) or dask array
        Non-zero pixels are foreground (a dask mask is computed).
    min_size : int
        Smallest object kept, in pixels.
    connectivity : int, optional
        1 (faces) to ``ndim`` (all neighbours, the default), as ``skimage.measure.label``.

    Returns
    -------
    ndarray of int32
        0 for background, objects 1..N.

    Raises
    ------
    ValueError
        If ``min_size`` is not an integer >= 1.
    """
    from skimage.measure import label
    from skimage.morphology import remove_small_objects
    from skimage.segmentation import relabel_sequential

    if isinstance(min_size, bool) or not isinstance(min_size, (int, np.integer)) or min_size < 1:
        raise ValueError(f"min_size must be an integer >= 1 (pixels), got {min_size!r}")
    foreground = np.asarray(mask) != 0  # a dask mask is computed here
    if min_size > 1:
        # On the boolean mask, with label()'s connectivity: on a label image scikit-image warns
        # "Only one label was provided" whenever the selection is one region, the common case.
        connectivity_used = foreground.ndim if connectivity is None else connectivity
        foreground = remove_small_objects(foreground, max_size=int(min_size) - 1, connectivity=connectivity_used)
    components = label(foreground, connectivity=connectivity).astype(np.int32)
    return relabel_sequential(components)[0].astype(np.int32)

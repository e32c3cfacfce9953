"""The maths behind the feature-space view: counts, samples, histograms, Gaussian curves, ellipses, ellipsoids.

Everything here works on what a run has already counted (the distinct values and
their pixel counts), never on the image again, so showing the clusters costs
a few milliseconds whatever the image size. No napari, Qt or magicgui: the
napari layer builders in :mod:`napari_colorquant._napari.layers` only turn these
arrays into layers.

The chi-square radius and the normal density are written out (two lines each)
rather than imported from scipy, so this module has no import-time cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

ELLIPSE_PROBABILITY = 0.95
ELLIPSE_VERTICES = 72
HISTOGRAM_BINS = 128
#: Resolution of the EM ellipsoids' meshes (bands of latitude, vertices around each).
ELLIPSOID_RINGS = 16
ELLIPSOID_SEGMENTS = 32
#: Above this many distinct values the 1-D histogram is made from a weighted sample of them.
MAX_HISTOGRAM_VALUES = 1_000_000


def counted_values(result: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct pixel values a run counted and how many pixels have each.

    Parameters
    ----------
    result : QuantizeResult

    Returns
    -------
    (values, counts) or None
        ``values`` (U, n_channels) in the input dtype and ``counts`` (U,) float64 (a float image's
        table is not made distinct: one row per valid pixel, each counted once, which describes the
        pixels as exactly); None when the run kept no table (the OpenCV engine labels every pixel
        directly).
    """
    table = getattr(result, "table", None)
    if table is not None and table.values is not None and table.counts is not None:
        return table.values, np.asarray(table.counts, np.float64)
    if getattr(result, "fit_values", None) is not None:
        return result.fit_values, np.asarray(result.fit_counts, np.float64)
    return None


def cluster_counts(result: Any) -> np.ndarray:
    """Pixels per cluster (labels 1..K) as int64, from the counted values when the run kept them.

    Parameters
    ----------
    result : QuantizeResult

    Returns
    -------
    ndarray (K,)
    """
    counted = counted_values(result)
    if counted is None:
        return np.asarray(result.cluster_counts(), np.int64)
    values, counts = counted
    k = result.model.n_clusters
    labels = result.model.predict_values(values)
    return np.rint(np.bincount(labels, weights=counts, minlength=k + 1)[1:]).astype(np.int64)


def sample_features(
    result: Any, max_points: int, seed: int = 0, image: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A reproducible, count-weighted sample of pixels in feature space.

    Drawn from the counted distinct values (each pixel equally likely), so no
    pass over the image is made. Only when the run kept no count (OpenCV engine)
    are pixels drawn from ``image`` and the label image.

    Parameters
    ----------
    result : QuantizeResult
    max_points : int
        Largest sample size.
    seed : int
        Seed of the sample.
    image : array_like, optional
        The clustered image; needed only for runs without counted values.

    Returns
    -------
    features : ndarray (n, F)
    labels : ndarray (n,) int64
        1..K.
    values : ndarray (n, n_channels)
        The sampled pixel values in input units.

    Raises
    ------
    ValueError
        When the run kept no count and no ``image`` is given.
    """
    model = result.model
    rng = np.random.default_rng(seed)
    counted = counted_values(result)
    if counted is not None:
        values, counts = counted
        total = float(counts.sum())
        size = int(min(max_points, total))
        picks = rng.choice(len(values), size=size, p=counts / total) if size else np.zeros(0, np.int64)
        chosen = values[picks]
    else:
        if image is None:
            raise ValueError("image is needed to sample a run that kept no pixel counts")
        labels = np.asarray(result.labels).reshape(-1)
        inside = np.flatnonzero(labels)
        if inside.size > max_points:
            inside = np.sort(rng.choice(inside, size=max_points, replace=False))
        from .pixels import pixel_rows

        array, layout = model.describe(image, model.params.get("channel_axis"))
        chosen = pixel_rows(np.asarray(array), layout)[inside, : layout.n_channels]
    return model.features(chosen), model.predict_values(chosen).astype(np.int64), chosen


def chi2_radius(probability: float, df: int = 2) -> float:
    """Mahalanobis radius of the ``probability`` contour of a Gaussian in ``df`` = 2 dimensions.

    For two degrees of freedom the chi-square quantile is ``-2 ln(1 - p)``.

    Parameters
    ----------
    probability : float
        Mass inside the contour, in (0, 1).
    df : int
        Degrees of freedom; only 2 is supported.

    Returns
    -------
    float
        ``sqrt(-2 ln(1 - probability))``.

    Raises
    ------
    ValueError
        For ``df != 2`` or a probability outside (0, 1).
    """
    if df != 2:
        raise ValueError(f"only 2-D contours are drawn (df=2), got df={df}")
    if not 0.0 < probability < 1.0:
        raise ValueError(f"probability must be in (0, 1), got {probability}")
    return float(np.sqrt(-2.0 * np.log1p(-probability)))


def ellipse_polygon(
    mean: np.ndarray,
    covariance: np.ndarray,
    probability: float = ELLIPSE_PROBABILITY,
    n_vertices: int = ELLIPSE_VERTICES,
) -> np.ndarray:
    """Vertices ``(n_vertices, 2)`` of the ``probability`` contour of a 2-D Gaussian.

    Parameters
    ----------
    mean : ndarray (2,)
    covariance : ndarray (2, 2)
        Symmetric positive semi-definite.
    probability : float
        Mass inside the contour (chi-square radius with 2 degrees of freedom).
    n_vertices : int

    Returns
    -------
    ndarray (n_vertices, 2)
    """
    covariance = np.asarray(covariance, np.float64)
    if covariance.shape != (2, 2):
        raise ValueError(f"covariance must be 2 x 2, got shape {covariance.shape}")
    values, vectors = np.linalg.eigh(covariance)
    angles = np.linspace(0, 2 * np.pi, n_vertices, endpoint=False)
    circle = np.stack([np.cos(angles), np.sin(angles)])
    radius = chi2_radius(probability)
    return np.asarray(mean, np.float64) + (vectors @ (np.sqrt(np.maximum(values, 0))[:, None] * circle)).T * radius


def unit_sphere(n_rings: int = ELLIPSOID_RINGS, n_segments: int = ELLIPSOID_SEGMENTS) -> tuple[np.ndarray, np.ndarray]:
    """A closed triangle mesh of the unit sphere (a UV sphere: rings of latitude between two poles).

    Parameters
    ----------
    n_rings : int
        Bands of latitude from pole to pole (at least 2).
    n_segments : int
        Vertices around each ring of latitude (at least 3).

    Returns
    -------
    vertices : ndarray (2 + (n_rings - 1) * n_segments, 3)
        Points on the unit sphere; the first is the pole at -1 on axis 0, the last the pole at +1.
    faces : ndarray (2 * n_segments * (n_rings - 1), 3) int64
        Vertex indices of each triangle, counter-clockwise seen from outside (normals point outwards).

    Raises
    ------
    ValueError
        For fewer than 2 rings or 3 segments.
    """
    n_rings, n_segments = int(n_rings), int(n_segments)
    if n_rings < 2 or n_segments < 3:
        raise ValueError(f"a sphere needs n_rings >= 2 and n_segments >= 3, got {n_rings} and {n_segments}")
    polar = np.linspace(np.pi, 0, n_rings + 1)[1:-1]  # from the pole at -1 to the one at +1
    around = np.linspace(0, 2 * np.pi, n_segments, endpoint=False)
    ring = np.column_stack([np.repeat(np.cos(polar), n_segments),
                            np.outer(np.sin(polar), np.cos(around)).ravel(),
                            np.outer(np.sin(polar), np.sin(around)).ravel()])  # fmt: skip
    vertices = np.vstack([[-1.0, 0.0, 0.0], ring, [1.0, 0.0, 0.0]])
    last = len(vertices) - 1
    j = np.arange(n_segments)
    nxt = (j + 1) % n_segments
    faces = [np.column_stack([np.zeros(n_segments, np.int64), 1 + nxt, 1 + j])]  # the cap around the first pole
    for r in range(n_rings - 2):  # each band between two rings: two triangles per segment
        low, high = 1 + r * n_segments, 1 + (r + 1) * n_segments
        faces += [np.column_stack([low + j, low + nxt, high + j]), np.column_stack([high + j, low + nxt, high + nxt])]
    top = 1 + (n_rings - 2) * n_segments
    faces.append(np.column_stack([np.full(n_segments, last), top + j, top + nxt]))
    return vertices, np.vstack(faces).astype(np.int64)


def ellipsoid_meshes(
    means: ArrayLike, covariances: ArrayLike, radius: float, n_rings: int = ELLIPSOID_RINGS,
    n_segments: int = ELLIPSOID_SEGMENTS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """One triangle mesh of each 3-D Gaussian's ellipsoid at Mahalanobis distance ``radius`` from its mean.

    The ellipsoid ``{x : (x - mu)^T S^-1 (x - mu) = radius^2}`` is the unit sphere mapped by
    ``x = mu + radius * A u`` with ``A A^T = S``; ``A = V sqrt(L)`` from the eigendecomposition
    ``S = V L V^T`` (a semi-definite S gives a flat ellipsoid instead of failing, as a Cholesky factor
    would), with an eigenvector turned round when ``det V < 0`` so that the faces keep facing outwards.
    Its shadow on any plane through two of the features is the ``radius`` ellipse of the Gaussian's
    marginal there (:func:`ellipse_polygon`), so a ``radius`` of ``chi2_radius(0.95)`` seen along an axis
    outlines the 95 % ellipse of the two features across the screen. Its own 3-D content is
    ``P(chi2_3 <= radius^2)`` (0.888 for that radius). See e.g. Johnson & Wichern, *Applied Multivariate
    Statistical Analysis*, 6th ed., section 4.2 (constant-density contours).

    Parameters
    ----------
    means : array_like (K, 3)
        The Gaussians' means.
    covariances : array_like (K, 3, 3)
        Their covariance matrices (symmetric positive semi-definite).
    radius : float
        Mahalanobis distance of the surface from each mean (positive).
    n_rings, n_segments : int
        Resolution of the sphere mapped (see :func:`unit_sphere`).

    Returns
    -------
    vertices : ndarray (K * V, 3)
        Every ellipsoid's vertices, the K meshes one after the other.
    faces : ndarray (K * F, 3) int64
        Triangles, indexing ``vertices``; counter-clockwise seen from outside.
    component : ndarray (K * V,) int64
        The Gaussian (0..K-1) each vertex belongs to.

    Raises
    ------
    ValueError
        For means that are not (K, 3), covariances that are not (K, 3, 3) or a radius that is not positive.
    """
    means = np.asarray(means, np.float64)
    covariances = np.asarray(covariances, np.float64)
    if means.ndim != 2 or means.shape[1] != 3 or covariances.shape != (len(means), 3, 3):
        raise ValueError(f"means must be (K, 3) and covariances (K, 3, 3), got {means.shape} and {covariances.shape}")
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    sphere, sphere_faces = unit_sphere(n_rings, n_segments)
    values, vectors = np.linalg.eigh((covariances + covariances.transpose(0, 2, 1)) / 2)
    vectors[np.linalg.det(vectors) < 0, :, 0] *= -1  # a rotation: a reflection would turn the faces inside out
    maps = vectors * np.sqrt(np.maximum(values, 0.0))[:, None, :] * float(radius)  # (K, 3, 3): A = V sqrt(L)
    vertices = means[:, None, :] + np.einsum("kij,vj->kvi", maps, sphere)
    offsets = np.arange(len(means))[:, None, None] * len(sphere)
    faces = (sphere_faces[None] + offsets).reshape(-1, 3)
    component = np.repeat(np.arange(len(means)), len(sphere))
    return vertices.reshape(-1, 3), faces, component


def view_axes(n_features: int, axes: Sequence[int] | None = None, n_shown: int = 3) -> tuple[int, ...]:
    """The features a plot of at most ``n_shown`` axes shows: the chosen ones checked, or the last ones.

    With more features than axes the default is the last ``n_shown`` features (the colour spaces' chroma
    comes last, and the last two are the feature explorer's first pair too); with fewer, every feature.

    Parameters
    ----------
    n_features : int
        Features of the model (1 or more).
    axes : sequence of int, optional
        Feature indices (0-based, negative counted from the end), one per axis of the plot:
        ``min(n_shown, n_features)`` different ones. None: the default.
    n_shown : int
        Axes of the plot (3 for the separate feature window).

    Returns
    -------
    tuple of int
        Distinct feature indices in 0..n_features - 1, in the plot's axis order.

    Raises
    ------
    TypeError
        When ``axes`` holds something other than integers.
    ValueError
        When ``axes`` has the wrong length, an index out of range or a feature twice.
    """
    n_features, n_shown = int(n_features), int(n_shown)
    if n_features < 1 or n_shown < 1:
        raise ValueError(f"n_features and n_shown must be at least 1, got {n_features} and {n_shown}")
    count = min(n_shown, n_features)
    if axes is None:
        return tuple(range(n_features - count, n_features))
    axes = list(axes)
    if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
        raise TypeError(f"axes must be feature indices (integers), got {axes!r}")
    if len(axes) != count:
        raise ValueError(f"axes must name {count} of the {n_features} features (one per axis), got {len(axes)}")
    if not all(-n_features <= a < n_features for a in axes):
        raise ValueError(f"axes {tuple(axes)} out of range: there are {n_features} features (0..{n_features - 1})")
    chosen = tuple(int(a) % n_features for a in axes)
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"axes {tuple(axes)} name a feature twice: choose a different feature for each axis")
    return chosen


def marginal(means: ArrayLike, covariances: ArrayLike, axes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Each Gaussian's marginal on chosen features: the entries of its mean and the sub-matrix of its covariance.

    The projection of N(mu, S) onto features ``axes`` is exactly N(mu[axes], S[axes][:, axes]): what the
    cluster's pixels look like in a plot of those features, in that order.

    Parameters
    ----------
    means : array_like (K, F)
        The Gaussians' means.
    covariances : array_like (K, F, F)
        Their full covariance matrices.
    axes : sequence of int
        Feature indices, in the order wanted (negative counted from the end).

    Returns
    -------
    means : ndarray (K, len(axes))
    covariances : ndarray (K, len(axes), len(axes))
    """
    means = np.asarray(means, np.float64)
    covariances = np.asarray(covariances, np.float64)
    n_features = means.shape[1]
    if covariances.shape != (means.shape[0], n_features, n_features):
        raise ValueError(f"covariances must be (K, F, F) = {(means.shape[0], n_features, n_features)}, "
                         f"got {covariances.shape}")  # fmt: skip
    chosen = [int(a) % n_features for a in axes]
    return means[:, chosen], covariances[:, chosen][:, :, chosen]


def projected_ellipses(
    means: np.ndarray, covariances: np.ndarray, dims: tuple[int, int], probability: float = ELLIPSE_PROBABILITY
) -> list[np.ndarray]:
    """Each Gaussian's ``probability`` contour in the plane of two features.

    The projection of a Gaussian N(mu, S) onto features ``(i, j)`` is exactly the
    Gaussian with mean ``mu[[i, j]]`` and covariance ``S[[i, j]][:, [i, j]]``
    (the marginal), so the contour holds ``probability`` of the cluster's pixels
    as seen in that plane.

    Parameters
    ----------
    means : ndarray (K, F)
    covariances : ndarray (K, F, F)
    dims : (int, int)
        The two displayed features (negative indices allowed).
    probability : float

    Returns
    -------
    list of ndarray (ELLIPSE_VERTICES, 2)
    """
    means = np.asarray(means, np.float64)
    n_features = means.shape[1]
    pair = [int(d) % n_features for d in dims]
    if len(pair) != 2 or pair[0] == pair[1]:
        raise ValueError(f"dims must name two different features, got {dims}")
    sub_means, sub_covariances = marginal(means, covariances, pair)
    return [ellipse_polygon(m, c, probability) for m, c in zip(sub_means, sub_covariances, strict=True)]


def histogram(
    values: np.ndarray, weights: np.ndarray, labels: np.ndarray, n_clusters: int, bins: int = HISTOGRAM_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster weighted histogram of one feature.

    Parameters
    ----------
    values : ndarray (n,)
        Feature value of each distinct pixel value (or sample).
    weights : ndarray (n,)
        Pixels with that value.
    labels : ndarray (n,)
        Cluster 1..K of each value.
    n_clusters : int
    bins : int

    Returns
    -------
    edges : ndarray (bins + 1,)
    counts : ndarray (K, bins)
        Weighted counts; the column sums are the histogram of all pixels.
    """
    values = np.asarray(values, np.float64)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, bins + 1)
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    flat = (np.asarray(labels, np.int64) - 1) * bins + index
    counts = np.bincount(flat, weights=weights, minlength=n_clusters * bins).reshape(n_clusters, bins)
    return edges, counts


def gaussian_curves(
    means: np.ndarray, variances: np.ndarray, mixing: np.ndarray, x: np.ndarray, n_pixels: float, bin_width: float
) -> np.ndarray:
    """Each 1-D Gaussian scaled to a histogram's units (pixels per bin).

    Parameters
    ----------
    means, variances, mixing : ndarray (K,)
        Mean, variance and mixing weight of each component.
    x : ndarray (m,)
        Where to evaluate.
    n_pixels : float
        Pixels in the histogram.
    bin_width : float

    Returns
    -------
    ndarray (K, m)
        ``mixing_k * N(x; mean_k, variance_k) * n_pixels * bin_width``.
    """
    means = np.asarray(means, np.float64)[:, None]
    variances = np.maximum(np.asarray(variances, np.float64)[:, None], np.finfo(np.float64).tiny)
    density = np.exp(-0.5 * (np.asarray(x, np.float64)[None, :] - means) ** 2 / variances)
    density /= np.sqrt(2 * np.pi * variances)
    return np.asarray(mixing, np.float64)[:, None] * density * n_pixels * bin_width


def histogram_source(
    result: Any, max_values: int = MAX_HISTOGRAM_VALUES, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature values, weights and labels a 1-D histogram is built from (all counted values, or a sample).

    Parameters
    ----------
    result : QuantizeResult
    max_values : int
    seed : int

    Returns
    -------
    values : ndarray (n,)
    weights : ndarray (n,)
    labels : ndarray (n,)
    """
    model = result.model
    counted = counted_values(result)
    if counted is None or len(counted[0]) > max_values:
        features, labels, _ = sample_features(result, max_values, seed)
        return features[:, 0], np.ones(len(labels)), labels
    values, counts = counted
    return model.features(values)[:, 0], counts, model.predict_values(values).astype(np.int64)


def spread(means: np.ndarray, scale: float) -> float:
    """Size of the feature-space cloud, for marker sizes: the widest range of the centres, at least 5 % of scale.

    Parameters
    ----------
    means : ndarray (K, F)
        Cluster centres.
    scale : float
        The features' nominal range (e.g. 255).

    Returns
    -------
    float
    """
    means = np.asarray(means, np.float64)
    width = float(np.ptp(means, axis=0).max()) if len(means) > 1 else 0.0
    return max(width, float(scale) * 0.05)


def centre_sizes(means: np.ndarray, scale: float, weights: np.ndarray) -> np.ndarray:
    """Centre marker sizes growing with each cluster's share of the pixels (or EM weight).

    Parameters
    ----------
    means : ndarray (K, F)
        Cluster centres.
    scale : float
        The features' nominal range.
    weights : ndarray (K,)
        Pixels per cluster or mixing weights (normalised here).

    Returns
    -------
    ndarray (K,)
        Marker sizes in feature units.
    """
    weights = np.asarray(weights, np.float64)
    weights = weights / max(float(weights.sum()), 1e-12)
    return spread(means, scale) * 0.03 * (1.0 + 2.0 * np.sqrt(weights))


#: A pixel marker's size as a part of the plot's extent (see :func:`point_size`).
POINT_FRACTION = 0.008

#: Tick steps, as multiples of a power of ten, that a plot's reader adds up at a glance.
TICK_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def nice_ticks(low: float, high: float, count: int = 6, least: int = 3) -> np.ndarray:
    """Round tick values in ``[low, high]``: matplotlib's ``MaxNLocator`` with steps of 1, 2, 2.5 or 5 times 10^n.

    Parameters
    ----------
    low, high : float
        The axis's range, in feature units (finite; swapped when given the other way round).
    count : int
        The most steps across the range (2 or more): the locator's ``nbins``, so there are at most
        ``count + 1`` ticks.
    least : int
        The fewest ticks (the locator's ``min_n_ticks``): it takes a finer step to give them.

    Returns
    -------
    ndarray
        Increasing tick values, multiples of the step, inside the range (``[low]`` when ``low == high``).

    Raises
    ------
    ValueError
        When ``low`` or ``high`` is not finite, or ``count`` is below 2.
    """
    low, high, count = float(low), float(high), int(count)
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"low and high must be finite numbers, got {low} and {high}")
    if count < 2:
        raise ValueError(f"count must be at least 2 ticks, got {count}")
    low, high = min(low, high), max(low, high)
    if high == low:
        return np.array([low])
    from matplotlib.ticker import MaxNLocator  # imported when a plot is drawn: the core loads no matplotlib

    ticks = MaxNLocator(nbins=count, steps=list(TICK_STEPS), min_n_ticks=int(least)).tick_values(low, high)
    slack = 1e-9 * (high - low)  # the locator's multiples of the step, within rounding of the ends
    return ticks[(ticks >= low - slack) & (ticks <= high + slack)] + 0.0  # + 0.0: no "-0" tick


def tick_labels(ticks: ArrayLike) -> list[str]:
    """Tick values as text with as many decimals as their step needs (``"10000"``, ``"0.25"``).

    Parameters
    ----------
    ticks : array_like
        Equally spaced tick values (e.g. from :func:`nice_ticks`).

    Returns
    -------
    list of str
    """
    ticks = np.asarray(ticks, np.float64)
    step = float(np.min(np.diff(ticks))) if len(ticks) > 1 else abs(float(ticks[0])) if len(ticks) else 1.0
    decimals = 0 if step <= 0 else max(0, -int(np.floor(np.log10(step) + 1e-9)) + (1 if _has_half(step) else 0))
    return [f"{value:.{decimals}f}" for value in ticks]


def _has_half(step: float) -> bool:
    """A step such as 0.25 or 0.025 needs one more decimal than its power of ten."""
    scaled = step / 10.0 ** np.floor(np.log10(step) + 1e-9)
    return not np.isclose(scaled, np.round(scaled))


@dataclass
class PlotFrame:
    """A 2-D plot's axes drawn next to its data: lines, tick marks, tick values and the axes' names.

    Coordinates are the plot's (row, column) = (y feature, x feature), in feature units. The texts keep their size
    on screen whatever the zoom, so where each one goes is an anchor in the plot and a box in screen pixels.

    Attributes
    ----------
    lines : list of ndarray (2, 2)
        The x and y axis lines, then one short segment per tick.
    positions : ndarray (M, 2)
        Where each text goes (its centre), for the screen pixel size the frame was made for.
    texts : list of str
        The tick values, then the x and y axes' names.
    anchors : ndarray (M + T, 2)
        Where each text, then each of the T tick marks, hangs in the plot.
    boxes : ndarray (M + T, 4)
        Their extent on screen from the anchor, in pixels: top, bottom, left, right (down and right positive).
    n_x : int
        How many of the texts are x tick values (the first ones; the y tick values follow).
    """

    lines: list[np.ndarray]
    positions: np.ndarray
    texts: list[str]
    anchors: np.ndarray
    boxes: np.ndarray
    n_x: int = 0


#: Screen pixels of the plot's furniture: a tick mark's length, the gap between a tick and its value (and
#: between two texts), and the blank border kept round the plot at the canvas's edges.
TICK_PIXELS, GAP_PIXELS, BORDER_PIXELS = 5.0, 4.0, 6.0
#: A text's size on screen (pixels per character, pixels of height) before it is measured.
ESTIMATED_TEXT = (10.0, 19.0)
#: Screen pixels across the plot's extent before it is framed on a canvas.
ESTIMATED_PIXELS = 500.0


def plot_frame(coords: ArrayLike, names: Sequence[str], up: bool = True, count: int = 6,
               y_ticks: tuple[ArrayLike, Sequence[str]] | None = None, sizes: ArrayLike | None = None,
               pixel: float | None = None, least: int = 3) -> PlotFrame:  # fmt: skip
    """Axes for a 2-D scatter plot, at its data's lower-left edge (not at the origin, which may be far away).

    The x axis runs under the data, the y axis on their left, each a small gap away, with round tick values
    (:func:`nice_ticks`), the x axis's name under its values and the y axis's name over its top end, starting
    where the y values start. Tick marks, gaps and texts have their size in screen pixels (``sizes``,
    :data:`TICK_PIXELS`, :data:`GAP_PIXELS`): :func:`plot_view` frames the plot so that all of them show.

    Parameters
    ----------
    coords : array_like (N, 2)
        The plotted points (rows: y feature, columns: x feature), e.g. the pixels and the centres.
    names : sequence of str
        The x and y axes' names (with their units).
    up : bool
        The canvas draws growing rows upwards (a plot's camera); False for napari's image camera (downwards).
    count : int
        The most steps between ticks per axis (see :func:`nice_ticks`).
    y_ticks : (array_like, sequence of str), optional
        The y axis's tick rows and texts, for a y axis that is not the rows' values (a histogram's counts drawn
        as square roots); default: round values of the rows.
    sizes : array_like (M, 2), optional
        Each text's width and height on screen (pixels), in the order of :attr:`PlotFrame.texts`; default: an
        estimate from the number of characters (:data:`ESTIMATED_TEXT`).
    pixel : float, optional
        A screen pixel's size in plot units (1 / the camera's zoom); default: the data's extent over
        :data:`ESTIMATED_PIXELS`.
    least : int
        The fewest ticks per axis (see :func:`nice_ticks`).

    Returns
    -------
    PlotFrame

    Raises
    ------
    ValueError
        When ``coords`` is not (N, 2) with N >= 1 finite points, ``names`` is not two names, or ``sizes`` does not
        give one (width, height) per text.
    """
    coords = np.asarray(coords, np.float64)
    if coords.ndim != 2 or coords.shape[1] != 2 or not len(coords) or not np.isfinite(coords).all():
        raise ValueError(f"coords must be finite (N, 2) points with N >= 1, got shape {coords.shape}")
    if len(names) != 2:
        raise ValueError(f"names must be the x and y axes' names, got {list(names)!r}")
    (row_low, col_low), (row_high, col_high) = coords.min(axis=0), coords.max(axis=0)
    extent = max(row_high - row_low, col_high - col_low) or max(abs(row_low), abs(col_low), 1.0)
    pad, down = 0.03 * extent, -1.0 if up else 1.0  # down: the rows' direction down the screen
    bottom, top = (row_low if up else row_high) + down * pad, (row_high if up else row_low) - down * pad
    left, right = col_low - pad, col_high + pad  # the y axis's column, the x axis's end
    x_ticks = nice_ticks(left, right, count, least)
    if y_ticks is None:
        rows = nice_ticks(min(bottom, top), max(bottom, top), count, least)
        y_ticks = (rows, tick_labels(rows))
    y_rows, y_texts = np.asarray(y_ticks[0], np.float64), [str(text) for text in y_ticks[1]]
    texts = [*tick_labels(x_ticks), *y_texts, str(names[0]), str(names[1])]
    anchors, boxes = _frame_boxes(texts, sizes, x_ticks, y_rows, (bottom, top, left, right))
    pixel = extent / ESTIMATED_PIXELS if pixel is None else float(pixel)
    centres = anchors[: len(texts)] + pixel * np.column_stack([down * boxes[: len(texts), :2].mean(axis=1),
                                                               boxes[: len(texts), 2:].mean(axis=1)])  # fmt: skip
    tick = TICK_PIXELS * pixel
    lines = [np.array([[bottom, left], [bottom, right]]), np.array([[bottom, left], [top, left]])]
    lines += [np.array([[bottom, x], [bottom + down * tick, x]]) for x in x_ticks]
    lines += [np.array([[y, left], [y, left - tick]]) for y in y_rows]
    return PlotFrame(lines, centres, texts, anchors, boxes, len(x_ticks))


def _frame_boxes(texts: list[str], sizes: ArrayLike | None, x_ticks: np.ndarray, y_rows: np.ndarray,
                 edges: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Anchors (plot units) and screen boxes (pixels) of a frame's texts, then of its tick marks."""
    bottom, top, left, right = edges
    if sizes is None:
        sizes = [(ESTIMATED_TEXT[0] * len(text), ESTIMATED_TEXT[1]) for text in texts]
    sizes = np.asarray(sizes, np.float64)
    if sizes.shape != (len(texts), 2):
        raise ValueError(f"sizes must be one (width, height) per text, {len(texts)} of them, got {sizes.shape}")
    width, height = sizes.T
    n_x, n_y, reach = len(x_ticks), len(y_rows), TICK_PIXELS + GAP_PIXELS
    x_values, y_values = slice(0, n_x), slice(n_x, n_x + n_y)
    under = reach + max(height[x_values].max(initial=0.0), 0.0) + GAP_PIXELS  # the x name, under the x values
    widest = width[y_values].max(initial=0.0)
    boxes = np.concatenate([
        np.column_stack([np.full(n_x, reach), reach + height[x_values], -width[x_values] / 2, width[x_values] / 2]),
        np.column_stack([-height[y_values] / 2, height[y_values] / 2, -reach - width[y_values], np.full(n_y, -reach)]),
        [[under, under + height[-2], -width[-2] / 2, width[-2] / 2],
         [-GAP_PIXELS - height[-1], -GAP_PIXELS, -reach - widest, -reach - widest + width[-1]]],
        np.column_stack([np.zeros(n_x), np.full(n_x, TICK_PIXELS), np.zeros(n_x), np.zeros(n_x)]),
        np.column_stack([np.zeros(n_y), np.zeros(n_y), np.full(n_y, -TICK_PIXELS), np.zeros(n_y)]),
    ])  # fmt: skip
    anchors = np.concatenate([
        np.column_stack([np.full(n_x, bottom), x_ticks]), np.column_stack([y_rows, np.full(n_y, left)]),
        [[bottom, (left + right) / 2], [top, left]],
        np.column_stack([np.full(n_x, bottom), x_ticks]), np.column_stack([y_rows, np.full(n_y, left)]),
    ])  # fmt: skip
    return anchors, boxes


def plot_view(frame: PlotFrame, canvas: Sequence[float], up: bool = True,
              extra: ArrayLike | None = None) -> tuple[np.ndarray, float]:  # fmt: skip
    """The camera showing a plot's axes, tick marks and texts whole on a canvas: its centre and zoom.

    On each screen axis a point at plot coordinate ``a`` with a box ``[lo, hi]`` (screen pixels) covers
    ``[a z + lo, a z + hi]`` at zoom ``z``: everything fits in the canvas less its border when, for every two
    of them with ``a_i > a_j``, ``(a_i - a_j) z + hi_i - lo_j`` is at most that length. The zoom is the largest
    such ``z`` on both axes, the centre the middle of what is covered then.

    Parameters
    ----------
    frame : PlotFrame
        The plot's frame, made with the texts' measured ``sizes`` (see :func:`plot_frame`).
    canvas : (float, float)
        The canvas's height and width (screen pixels).
    up : bool
        Growing rows go up the screen (as in :func:`plot_frame`).
    extra : array_like (P, 2), optional
        More points (plot coordinates) to show, e.g. the corners of the viewer's other layers.

    Returns
    -------
    centre : ndarray (2,)
        The plot coordinates (row, column) at the canvas's centre.
    zoom : float
        Screen pixels per plot unit (positive).
    """
    corners = np.concatenate([frame.lines[0], frame.lines[1], np.zeros((0, 2)) if extra is None else extra])
    anchors = np.concatenate([corners, frame.anchors])
    boxes = np.concatenate([np.zeros((len(corners), 4)), frame.boxes])
    down = -1.0 if up else 1.0
    screen = [(down * anchors[:, 0], boxes[:, 0], boxes[:, 1]), (anchors[:, 1], boxes[:, 2], boxes[:, 3])]
    zoom = np.inf
    for (position, low, high), length in zip(screen, canvas, strict=True):
        apart = position[:, None] - position[None, :]  # a_i - a_j
        room = float(length) - 2 * BORDER_PIXELS - high[:, None] + low[None, :]
        if (apart > 0).any():
            zoom = min(zoom, float(np.min(room[apart > 0] / apart[apart > 0])))
    zoom = zoom if np.isfinite(zoom) and zoom > 0 else 1e-12  # texts alone wider than the canvas: data to a point
    middle = [((position * zoom + low).min() + (position * zoom + high).max()) / (2 * zoom)
              for position, low, high in screen]  # fmt: skip
    return np.array([down * middle[0], middle[1]]), zoom


def point_size(coords: ArrayLike, fraction: float = POINT_FRACTION) -> float:
    """Pixel markers' size for a plot of ``coords``: a fixed part of the plotted extent, whatever the data range.

    The plot is framed to its points, so a marker of 0.8 % of their extent is ~4 screen pixels on a
    500-pixel plot, for 8-bit, 16-bit or float values alike (sized by the centres' spread, a pixel point
    was ~1 pixel wide when the pixels spread far beyond the centres).

    Parameters
    ----------
    coords : array_like (N, D)
        The plotted points (pixels and centres) on the shown features.
    fraction : float
        The marker's size as a part of the widest extent.

    Returns
    -------
    float
        Marker size in feature units (positive: 1 for a single point or none).
    """
    coords = np.asarray(coords, np.float64)
    finite = coords[np.isfinite(coords).all(axis=1)] if coords.ndim == 2 else coords.reshape(0, 1)
    extent = float(np.ptp(finite, axis=0).max()) if len(finite) > 1 else 0.0
    return extent * float(fraction) if extent > 0 else 1.0


def fitted_plot(spec: dict, measure: Callable[[list[str]], ArrayLike], canvas: Sequence[float],
                extra: ArrayLike | None = None) -> tuple[PlotFrame, np.ndarray, float]:  # fmt: skip
    """A 2-D plot's frame and camera on a canvas: the most ticks (6 steps or fewer, 2 at least) that do not overlap.

    Parameters
    ----------
    spec : dict
        :func:`plot_frame`'s ``coords``, ``names``, ``up`` and ``y_ticks``.
    measure : callable
        Gives each text's (width, height) on screen, in pixels.
    canvas : (float, float)
        The canvas's height and width (screen pixels).
    extra : array_like (P, 2), optional
        More points to show (see :func:`plot_view`).

    Returns
    -------
    frame : PlotFrame
        Placed for the camera's zoom.
    centre : ndarray (2,)
        The plot coordinates at the canvas's centre.
    zoom : float
        Screen pixels per plot unit.
    """
    for count, least in ((6, 3), (5, 3), (4, 3), (3, 3), (3, 2), (2, 2)):  # fewer ticks while their values collide
        texts = plot_frame(**spec, count=count, least=least).texts
        sizes = np.asarray(measure(texts), np.float64)
        frame = plot_frame(**spec, count=count, sizes=sizes, least=least)
        centre, zoom = plot_view(frame, canvas, spec.get("up", True), extra)
        if (least == 2 and count == 2) or _apart(frame, sizes, zoom, spec.get("y_ticks") is None):
            return plot_frame(**spec, count=count, sizes=sizes, pixel=1.0 / zoom, least=least), centre, zoom
    raise AssertionError("unreachable")  # pragma: no cover


def _apart(frame: PlotFrame, sizes: np.ndarray, zoom: float, y_values: bool) -> bool:
    """Do neighbouring x tick values (and y ones, when they are the rows' values) keep a gap on screen?"""
    n_x, n_values = frame.n_x, len(frame.texts) - 2
    x, widths = frame.anchors[:n_x, 1] * zoom, sizes[:n_x, 0]
    apart = bool(np.all(np.diff(x) >= (widths[1:] + widths[:-1]) / 2 + GAP_PIXELS))
    if y_values:
        y, heights = frame.anchors[n_x:n_values, 0] * zoom, sizes[n_x:n_values, 1]
        apart &= bool(np.all(np.abs(np.diff(y)) >= (heights[1:] + heights[:-1]) / 2 + GAP_PIXELS))
    return apart


def origin_near(coords: ArrayLike, reach: float = 0.25) -> bool:
    """Is the origin, where napari draws its 3-D axes' arrows, near a cloud: inside its box grown by ``reach``?

    Parameters
    ----------
    coords : array_like (N, D)
        The plotted points.
    reach : float
        How far beyond the points' box (a part of their widest extent) the origin may lie.

    Returns
    -------
    bool
        True for 8-bit or float colours (the origin is the black corner), False for 16-bit microscopy values
        (10 000-40 000: the arrows are drawn a third of the cloud away from it, or off the canvas).
    """
    coords = np.asarray(coords, np.float64)
    coords = coords[np.isfinite(coords).all(axis=1)]
    if not len(coords):
        return True
    low, high = coords.min(axis=0), coords.max(axis=0)
    slack = float(reach) * (float(np.max(high - low)) or 1.0)
    return bool(np.all((low - slack <= 0.0) & (high + slack >= 0.0)))


def cloud_frame(coords: ArrayLike, names: Sequence[str], count: int = 4) -> PlotFrame:
    """Axes for a 3-D cloud at its data's low corner: an edge along each feature with round ticks, values and names.

    napari draws its 3-D axes' arrows at the origin, far from a cloud of 16-bit values; these axes run along the
    cloud's box from its low corner (a small gap away), each with tick marks pointing away from the cloud, the
    tick values beside them (not on the first column's, which points at the viewer until the cloud is turned) and
    the feature's name beyond its end.

    Parameters
    ----------
    coords : array_like (N, 3)
        The plotted points, in the layers' column order.
    names : sequence of str
        One name per column (short: e.g. the picker's axis letter and the feature's name, elided).
    count : int
        The most steps between ticks per axis (see :func:`nice_ticks`).

    Returns
    -------
    PlotFrame
        ``lines`` (3-D segments: the three axes, then the tick marks), ``positions`` (M, 3) and ``texts`` (each
        axis's tick values, then its name); no screen boxes.

    Raises
    ------
    ValueError
        When ``coords`` is not (N, 3) finite points with N >= 1, or ``names`` is not three names.
    """
    coords = np.asarray(coords, np.float64)
    if coords.ndim != 2 or coords.shape[1] != 3 or not len(coords) or not np.isfinite(coords).all():
        raise ValueError(f"coords must be finite (N, 3) points with N >= 1, got shape {coords.shape}")
    if len(names) != 3:
        raise ValueError(f"names must be one per column (3), got {list(names)!r}")
    low, high = coords.min(axis=0), coords.max(axis=0)
    extent = float(np.max(high - low)) or max(float(np.max(np.abs(low))), 1.0)
    corner, far = low - 0.03 * extent, high + 0.03 * extent
    lines, marks, positions, texts = [], [], [], []
    for axis in range(3):
        end = corner.copy()
        end[axis] = far[axis]
        lines.append(np.stack([corner, end]))
        away = np.where(np.arange(3) == axis, 0.0, -1.0) * 0.015 * extent  # off the cloud, along the other two
        ticks = nice_ticks(corner[axis], far[axis], count)
        for tick in ticks:
            at = corner.copy()
            at[axis] = tick
            marks.append(np.stack([at, at + away]))
            if axis:  # the first column (z) points at the viewer before a rotation: its values would pile up
                positions.append(at + (5.5 if axis == 1 else 3.5) * away)  # y values beside, x values under
        texts += tick_labels(ticks) if axis else []
        # The names: z's aside from the corner, y's over its end, x's under its values (as a 2-D plot's).
        over = np.where(np.arange(3) == axis, 0.06 * extent, 0.0)
        positions.append([end + 7.0 * away, end + over, (corner + end) / 2 + 7.0 * away][axis])
        texts.append(str(names[axis]))
    empty = np.zeros((0, 4))
    return PlotFrame(lines + marks, np.array(positions), texts, np.zeros((0, 3)), empty)

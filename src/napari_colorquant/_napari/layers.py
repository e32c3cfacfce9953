"""Build napari LayerDataTuples from a quantize result (the napari floor; no clustering maths here).

Every output layer carries ``metadata["colorquant"]`` with its role, the name
of the source layer, the fitted model (a plain dict) and every parameter, so
results can be re-applied, compared and replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import chi2, norm

from ..colorspaces import CHROMA_SPACES
from ..features import is_lazy, pixel_rows
from ..quantize import QuantizeResult

ROLES = ("clusters", "quantized", "posterior", "feature space", "gaussians", "histogram")
FEATURE_ROLES = ("feature space", "gaussians", "histogram")
ELLIPSE_PROBABILITY = 0.95
_ELLIPSE_VERTICES = 72


@dataclass
class Source:
    """What the outputs need to know about the input layer(s).

    Attributes
    ----------
    name : str
        Name of the (first) input layer; outputs are named ``"<name> <role>"``.
    geometry : dict
        ``scale``, ``translate``, ``rotate``, ``shear``, ``affine``, ``axis_labels``, ``units``
        of the input layer, for outputs that overlay it exactly.
    rgb : bool
        The input is an RGB(A) layer.
    display_colours : ndarray (K, 4)
        RGBA colour of each cluster as the input is displayed (0..1).
    colormap, contrast_limits
        Of a single gray input, reused by the quantized layer.
    channel_names, channel_colormaps, channel_limits
        Of several input layers used as channels.
    """

    name: str
    geometry: dict[str, Any]
    rgb: bool = False
    display_colours: np.ndarray | None = None
    colormap: Any = None
    contrast_limits: tuple[float, float] | None = None
    channel_names: list[str] = field(default_factory=list)
    channel_colormaps: list[Any] = field(default_factory=list)
    channel_limits: list[tuple[float, float]] = field(default_factory=list)


def output_name(source_name: str, role: str) -> str:
    """Name of an output layer, e.g. ``"photo clusters"``."""
    return f"{source_name} {role}"


def _metadata(result: QuantizeResult, source: Source, role: str, extra: dict | None = None) -> dict:
    info = {
        "role": role,
        "source": source.name,
        "model": result.model.to_dict(),
        "params": dict(result.model.params),
        "summary": result.summary(),
    }
    if extra:
        info.update(extra)
    return {"colorquant": info}


def cluster_features(result: QuantizeResult) -> dict[str, np.ndarray]:
    """Per-label table for the Labels layer: counts, fractions, mean colour, EM weight and covariance."""
    model = result.model
    k = model.n_clusters
    counts = result.cluster_counts()
    table: dict[str, np.ndarray] = {
        "index": np.arange(1, k + 1),
        "pixel_count": counts,
        "fraction": counts / max(counts.sum(), 1),
    }
    channel_names = ("R", "G", "B") if model.input_kind in ("rgb", "rgba") else None
    for c in range(model.n_channels):
        name = channel_names[c] if channel_names else ("value" if model.n_channels == 1 else f"channel {c}")
        table[f"mean {name}"] = model.palette[:, c]
    for f, name in enumerate(model.feature_names):
        table[f"centre {name}"] = model.means[:, f]
    if model.method == "em":
        table["weight"] = model.weights
        names = model.feature_names
        for i in range(model.n_features):
            for j in range(i, model.n_features):
                table[f"cov {names[i]},{names[j]}"] = model.covariances[:, i, j]
    return table


def labels_layer(result: QuantizeResult, source: Source, levels: list | None = None) -> tuple:
    """The ``<image> clusters`` Labels layer, coloured with each cluster's colour.

    ``levels``: label arrays of every pyramid level, for a multiscale layer.
    """
    from napari.utils import DirectLabelColormap

    colours = {None: np.zeros(4), 0: np.zeros(4)}
    for label, colour in enumerate(source.display_colours, start=1):
        colours[label] = np.asarray(colour, np.float64)
    meta = {
        "name": output_name(source.name, "clusters"),
        "colormap": DirectLabelColormap(color_dict=colours),
        "features": cluster_features(result),
        "metadata": _metadata(result, source, "clusters"),
        "opacity": 0.8,
        **source.geometry,
    }
    if levels is not None:
        meta["multiscale"] = True
        return levels, meta, "labels"
    return result.labels, meta, "labels"


def quantized_layers(result: QuantizeResult, source: Source, levels: list | None = None) -> list[tuple]:
    """The ``<image> quantized`` Image layer(s): RGB stays RGB, gray keeps its contrast and colormap.

    ``levels``: quantized arrays of every pyramid level, for a multiscale layer.
    """
    name = output_name(source.name, "quantized")
    meta: dict[str, Any] = {"metadata": _metadata(result, source, "quantized"), **source.geometry}
    data = result.quantized
    if levels is not None:
        meta.update(name=name, multiscale=True)
        if source.rgb:
            meta["rgb"] = True
        else:
            meta.update(colormap=source.colormap, contrast_limits=source.contrast_limits)
        return [(levels, meta, "image")]
    if source.channel_names:
        # Several input layers were stacked on a last channel axis: one output layer per channel.
        tuples = []
        for c, channel in enumerate(source.channel_names):
            channel_meta = dict(meta, name=output_name(channel, "quantized"), blending="additive")
            channel_meta["colormap"] = source.channel_colormaps[c]
            channel_meta["contrast_limits"] = source.channel_limits[c]
            channel_meta["metadata"] = _metadata(result, source, "quantized", {"channel": c})
            channel = data[..., c]
            tuples.append((channel if is_lazy(channel) else np.ascontiguousarray(channel), channel_meta, "image"))
        return tuples
    meta["name"] = name
    if source.rgb:
        meta["rgb"] = True
    else:
        meta["colormap"] = source.colormap
        meta["contrast_limits"] = source.contrast_limits
    return [(data, meta, "image")]


def posterior_layer(posteriors: np.ndarray, result: QuantizeResult, source: Source, per_cluster: bool) -> tuple:
    """EM soft segmentation: maximum posterior per pixel, or one channel per cluster (leading axis)."""
    if per_cluster:
        data = posteriors.transpose((posteriors.ndim - 1, *range(posteriors.ndim - 1)))
        geometry = _prepend_axis(source.geometry)
    else:
        data = posteriors.max(axis=-1)
        geometry = dict(source.geometry)
    meta = {
        "name": output_name(source.name, "posterior"),
        "colormap": "viridis",
        "contrast_limits": (0.0, 1.0),
        "metadata": _metadata(result, source, "posterior", {"per_cluster": per_cluster}),
        **geometry,
    }
    return data, meta, "image"


def _prepend_axis(geometry: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key in ("scale", "translate"):
        if key in geometry:
            out[key] = (1.0 if key == "scale" else 0.0, *geometry[key])
    if "axis_labels" in geometry:
        out["axis_labels"] = ("cluster", *geometry["axis_labels"])
    return out


def sample_pixels(result: QuantizeResult, image, max_points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A reproducible random sample of labelled pixels: their features ``(n, F)`` and labels ``(n,)``.

    For lazy results the sample is drawn from the values the model was fitted
    on (weighted by their counts), so no chunk is read again.
    """
    model = result.model
    rng = np.random.default_rng(seed)
    if result.fit_values is not None:
        values, counts = result.fit_values, np.asarray(result.fit_counts, np.float64)
        picks = rng.choice(len(values), size=min(max_points, int(counts.sum())), p=counts / counts.sum())
        chosen = values[picks]
        return model.features(chosen), model.predict_values(chosen).astype(np.int64)
    labels = np.asarray(result.labels).reshape(-1)
    inside = np.flatnonzero(labels)
    if inside.size > max_points:
        inside = np.sort(rng.choice(inside, size=max_points, replace=False))
    array, layout = model.describe(image, model.params.get("channel_axis"))
    values = pixel_rows(array, layout)[inside, : layout.n_channels]
    return model.features(values), labels[inside]


def feature_space_layers(
    result: QuantizeResult, source: Source, features: np.ndarray, labels: np.ndarray
) -> list[tuple]:
    """Clusters in feature space: centres and sampled pixels as Points, EM Gaussians as Shapes.

    1 feature (gray): a histogram of the sample (sqrt of counts) with each cluster's part
    coloured, the fitted Gaussians (EM, same scale) as curves, centres as points on the axis.
    2+ features: the last three features as point coordinates; EM covariance ellipses (95 %
    chi-square contour) drawn in the two displayed (last) features, at each centre.
    """
    model = result.model
    colours = np.asarray(source.display_colours, np.float64)
    if model.n_features == 1:
        return _histogram_layers(result, source, features[:, 0], labels, colours)
    names = model.feature_names[-3:]
    dims = slice(-3, None)
    means = model.means[:, dims]
    sizes = _centre_sizes(result, means)
    points = np.concatenate([features[:, dims], means])
    point_colours = np.concatenate([colours[labels - 1], colours])
    pixel_size = _pixel_point_size(model)
    point_sizes = np.concatenate([np.full(len(features), pixel_size), sizes])
    border = np.concatenate([np.zeros((len(features), 4)), np.tile([1.0, 1.0, 1.0, 1.0], (len(means), 1))])
    border_width = np.concatenate([np.zeros(len(features)), np.full(len(means), 0.12)])
    kind = np.array(["pixel"] * len(features) + ["centre"] * len(means))
    label_column = np.concatenate([labels, np.arange(1, model.n_clusters + 1)])
    meta = {
        "name": output_name(source.name, "feature space"),
        "face_color": point_colours,
        "border_color": border,
        "border_width": border_width,
        "size": point_sizes,
        "features": {"kind": kind, "label": label_column},
        "axis_labels": names,
        "metadata": _metadata(result, source, "feature space"),
    }
    layers = [(points, meta, "points")]
    if model.method == "em":
        layers.append(_ellipse_layer(result, source, colours))
    return layers


def _spread(model) -> float:
    spread = float(np.ptp(model.means, axis=0).max()) if model.n_clusters > 1 else 0.0
    return max(spread, float(model.scale) * 0.05)


def _pixel_point_size(model) -> float:
    return _spread(model) * 0.01


def _centre_sizes(result: QuantizeResult, means: np.ndarray) -> np.ndarray:
    """Centre marker sizes growing with the cluster's weight (EM) or pixel fraction (k-means)."""
    model = result.model
    if model.method == "em":
        weights = np.asarray(model.weights, np.float64)
    else:
        weights = np.bincount(result.labels.reshape(-1), minlength=model.n_clusters + 1)[1:].astype(np.float64)
    weights = weights / max(float(weights.sum()), 1e-12)
    return _spread(model) * 0.03 * (1.0 + 2.0 * np.sqrt(weights))


def ellipse_polygon(mean: np.ndarray, covariance: np.ndarray, probability: float = ELLIPSE_PROBABILITY) -> np.ndarray:
    """Vertices ``(n, 2)`` of the ``probability`` contour of a 2D Gaussian (chi-square radius)."""
    radius = np.sqrt(chi2.ppf(probability, df=2))
    values, vectors = np.linalg.eigh(covariance)
    angles = np.linspace(0, 2 * np.pi, _ELLIPSE_VERTICES, endpoint=False)
    circle = np.stack([np.cos(angles), np.sin(angles)])
    return mean + (vectors @ (np.sqrt(np.maximum(values, 0))[:, None] * circle)).T * radius


def _ellipse_layer(result: QuantizeResult, source: Source, colours: np.ndarray) -> tuple:
    model = result.model
    shapes = []
    for k in range(model.n_clusters):
        mean = model.means[k, -2:]
        cov = model.covariances[k][-2:, -2:]
        polygon = ellipse_polygon(mean, cov)
        if model.n_features >= 3:
            depth = np.full((len(polygon), 1), model.means[k, -3])
            polygon = np.hstack([depth, polygon])
        shapes.append(polygon)
    edge = colours.copy()
    edge[:, 3] = 1.0
    meta = {
        "name": output_name(source.name, "gaussians"),
        "shape_type": "polygon",
        "edge_color": edge,
        "face_color": np.zeros((len(shapes), 4)),
        "edge_width": max(float(model.scale) * 0.004, 1e-6),
        "features": {
            "label": np.arange(1, model.n_clusters + 1),
            "probability": np.full(len(shapes), ELLIPSE_PROBABILITY),
        },
        "axis_labels": model.feature_names[-3:],
        "metadata": _metadata(result, source, "gaussians", {"probability": ELLIPSE_PROBABILITY}),
    }
    return shapes, meta, "shapes"


def _histogram_layers(
    result: QuantizeResult, source: Source, values: np.ndarray, labels: np.ndarray, colours: np.ndarray
) -> list[tuple]:
    """1-D feature space: histogram bars per cluster, Gaussians (EM), centres; y grows upwards."""
    model = result.model
    low, high = float(values.min()), float(values.max())
    if high <= low:
        high = low + 1.0
    edges = np.linspace(low, high, 129)
    width = edges[1] - edges[0]
    counts = np.array([np.histogram(values[labels == k], bins=edges)[0] for k in range(1, model.n_clusters + 1)])
    # The y axis is sqrt(count) (a spike at one value would flatten a linear plot), scaled so the
    # tallest bar is half as high as the value range is wide.
    height = 0.5 * (high - low) / np.sqrt(max(counts.sum(axis=0).max(), 1))
    bars, bar_colours, bar_labels = [], [], []
    stacked = np.zeros(len(edges) - 1)
    for k in range(model.n_clusters):
        for b in np.flatnonzero(counts[k]):
            y0, y1 = np.sqrt(stacked[b]), np.sqrt(stacked[b] + counts[k, b])
            bars.append(np.array([[-y0 * height, edges[b]], [-y1 * height, edges[b + 1]]]))
            bar_colours.append(colours[k])
            bar_labels.append(k + 1)
        stacked += counts[k]
    geometry = {"axis_labels": ("sqrt(count)", model.feature_names[0])}
    histogram = (
        bars,
        {
            "name": output_name(source.name, "histogram"),
            "shape_type": "rectangle",
            "face_color": np.array(bar_colours),
            "edge_width": 0,
            "features": {"label": np.array(bar_labels)},
            "metadata": _metadata(result, source, "histogram"),
            **geometry,
        },
        "shapes",
    )
    centres = np.column_stack([np.zeros(model.n_clusters), model.means[:, 0]])
    points = (
        centres,
        {
            "name": output_name(source.name, "feature space"),
            "face_color": colours,
            "border_color": "white",
            "size": _centre_sizes(result, model.means),
            "features": {"kind": np.array(["centre"] * model.n_clusters), "label": np.arange(1, model.n_clusters + 1)},
            "metadata": _metadata(result, source, "feature space"),
            **geometry,
        },
        "points",
    )
    layers = [histogram, points]
    if model.method == "em":
        x = np.linspace(low, high, 256)
        n = len(values)
        curves = []
        for k in range(model.n_clusters):
            sigma = float(np.sqrt(model.covariances[k, 0, 0]))
            density = model.weights[k] * norm.pdf(x, loc=model.means[k, 0], scale=sigma) * n * width
            curves.append(np.column_stack([-np.sqrt(density) * height, x]))
        edge = colours.copy()
        edge[:, 3] = 1.0
        layers.append(
            (
                curves,
                {
                    "name": output_name(source.name, "gaussians"),
                    "shape_type": "path",
                    "edge_color": edge,
                    "edge_width": max((high - low) * 0.004, 1e-6),
                    "features": {"label": np.arange(1, model.n_clusters + 1)},
                    "metadata": _metadata(result, source, "gaussians"),
                    **geometry,
                },
                "shapes",
            )
        )
    return layers


def display_colours(
    palette: np.ndarray, color_space: str, kind: str, colormaps: list, limits: list[tuple[float, float]], scale: float
) -> np.ndarray:
    """RGBA (0..1) colour of each cluster as napari would show its colour.

    RGB: the palette itself. Gray: the layer's colormap at the cluster's value.
    Several channels: the additive blend of each channel's colormap.
    """
    palette = np.asarray(palette, np.float64)
    if kind in ("rgb", "rgba") or (color_space in CHROMA_SPACES):
        rgb = np.clip(palette[:, :3] / scale, 0, 1)
        return np.column_stack([rgb, np.ones(len(rgb))])
    blended = np.zeros((palette.shape[0], 3))
    for c in range(palette.shape[1]):
        low, high = limits[c]
        level = np.clip((palette[:, c] - low) / max(high - low, 1e-12), 0, 1)
        blended += np.asarray(colormaps[c].map(level))[:, :3]
    return np.column_stack([np.clip(blended, 0, 1), np.ones(len(blended))])

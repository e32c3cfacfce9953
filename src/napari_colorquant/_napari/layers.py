"""Build napari LayerDataTuples from a quantize result (the napari floor; no clustering maths here).

The maths (counts, samples, histograms, Gaussian curves, ellipses) is in
:mod:`napari_colorquant.feature_space`; these builders only dress its arrays as
layers. They are cheap to call from the worker thread, so the GUI thread only
hands the finished tuples to the viewer.

Every output layer carries ``metadata["colorquant"]`` with its role, the name
of the source layer, the fitted model (a plain dict) and every parameter, so
results can be re-applied, compared and replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import feature_space as fs
from ..colorspaces import CHROMA_SPACES
from ..model import ClusterModel
from ..quantize import QuantizeResult, as_array

ROLES = ("clusters", "quantized", "posterior", "feature space", "gaussians", "histogram", "axes", "axis labels")
FEATURE_ROLES = ("feature space", "gaussians", "histogram", "axes", "axis labels")
#: The 2-D plots' own axes, tick marks and texts (RGBA): light gray, readable on napari's black canvas.
AXES_COLOUR = (0.85, 0.85, 0.85, 1.0)
#: Their texts' size (points).
AXES_TEXT_SIZE = 10
#: The smallest and largest size (screen pixels) napari draws a feature-space marker at.
MARKER_PIXELS = (4, 10000)
ELLIPSE_PROBABILITY = fs.ELLIPSE_PROBABILITY
#: The ellipsoids' opacity: the pixels inside them stay visible.
ELLIPSOID_OPACITY = 0.3


def replace_data(layer: Any, data: Any) -> None:
    """Give an existing output layer new data; a Labels layer also forgets its paint history.

    napari keeps a Labels layer's undo/redo history across ``layer.data = …``: after a re-run or a
    merge updated the layer in place, Ctrl-Z replayed a stroke made on the earlier result and wrote
    that result's labels (another K, other clusters) back into the new one.

    Parameters
    ----------
    layer : napari.layers.Layer
        The layer to update.
    data : array_like or list of array_like
        Its new data (a pyramid's levels for a multiscale layer).
    """
    layer.data = data
    reset = getattr(layer, "_reset_history", None)  # napari's own (private): a napari without it keeps it
    if callable(reset):
        reset()


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
    channel_axis : int, optional
        The input layer's own channel axis (one layer clustered by its channels).
    channel_span : int, optional
        Set when other axes come before that channel axis (ZCYX): the outputs on the pixel grid keep it as
        an axis of length 1 whose pixel spans every channel (see :func:`.job.spanning_axis`), so that they
        line up with the input in napari, which lines layers up by their last axes.
    summary : dict, optional
        The run's :meth:`~napari_colorquant.quantize.QuantizeResult.summary`, shared by its layers'
        metadata (set by :func:`output_tuples`).
    one_channel : bool
        A gray layer clustered with a trailing channel axis of length 1 (its last axis has 3 or 4 pixels, which
        would be read as colours: :func:`.job.as_one_channel`); the quantized image drops that axis.
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
    channel_axis: int | None = None
    channel_span: int | None = None
    summary: dict[str, Any] | None = None
    one_channel: bool = False


def output_name(source_name: str, role: str) -> str:
    """Name of an output layer, e.g. ``"photo clusters"``.

    Parameters
    ----------
    source_name : str
    role : str
        One of :data:`ROLES`.

    Returns
    -------
    str
    """
    return f"{source_name} {role}"


def on_input_axes(data: Any, span: int | None) -> Any:
    """Pixel-grid output data with the length-1 axis at ``span`` that stands for the input's channels.

    A view (numpy: writable, so painting the clusters still works; dask stays lazy), not a copy.

    Parameters
    ----------
    data : ndarray or dask array
        An output on the input's pixel grid (no channel axis), e.g. the labels.
    span : int or None
        :attr:`Source.channel_span`; None leaves ``data`` as it is.

    Returns
    -------
    ndarray or dask array
    """
    if span is None:
        return data
    return data[(slice(None),) * span + (None,)]


def off_input_axes(data: Any, span: int | None) -> Any:
    """Undo :func:`on_input_axes`: an output layer's data on the pixel grid again (a view).

    Parameters
    ----------
    data : ndarray or dask array
        An output layer's data.
    span : int or None
        Its length-1 channel axis (``metadata["colorquant"]["channel_span"]``); None leaves ``data`` as it is.

    Returns
    -------
    ndarray or dask array
    """
    if span is None or np.ndim(data) <= span or np.shape(data)[span] != 1:
        return data
    return data[(slice(None),) * span + (0,)]


def _metadata(result: QuantizeResult, source: Source, role: str, extra: dict | None = None) -> dict:
    info = {
        "role": role,
        "source": source.name,
        "model": result.model.to_dict(),
        "params": dict(result.model.params),
        # One dict shared by a run's layers, so that figures computed later reach them all.
        "summary": source.summary if source.summary is not None else result.summary(),
    }
    if source.channel_span is not None and role not in FEATURE_ROLES:
        info["channel_span"] = source.channel_span  # the length-1 axis standing for the input's channels
    if extra:
        info.update(extra)
    return {"colorquant": info}


def cluster_features(result: QuantizeResult) -> dict[str, np.ndarray]:
    """Per-label table for the Labels layer: counts, fractions, mean colour, EM weight and covariance.

    Parameters
    ----------
    result : QuantizeResult

    Returns
    -------
    dict of str to ndarray
        One column per feature, one row per label 1..K.
    """
    model = result.model
    k = model.n_clusters
    counts = fs.cluster_counts(result)
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

    Parameters
    ----------
    result : QuantizeResult
    source : Source
    levels : list, optional
        Label arrays of every pyramid level, for a multiscale layer.

    Returns
    -------
    tuple
        A napari LayerDataTuple.
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
    return on_input_axes(result.labels, source.channel_span), meta, "labels"


def quantized_layers(result: QuantizeResult, source: Source, levels: list | None = None) -> list[tuple]:
    """The ``<image> quantized`` Image layer(s): RGB stays RGB, gray keeps its contrast and colormap.

    Parameters
    ----------
    result : QuantizeResult
    source : Source
    levels : list, optional
        Quantized arrays of every pyramid level, for a multiscale layer.

    Returns
    -------
    list of tuple
        napari LayerDataTuples: one, or one per channel of stacked channel layers.
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
            # Plain indexing: numpy and dask alike (a dask array has no ``take``).
            axis = data.ndim - 1 if source.channel_axis is None else source.channel_axis % data.ndim
            # Channels after other axes (ZCYX): a length-1 slice keeps the axis (see Source.channel_span).
            channel = data[(slice(None),) * axis + (c if source.channel_span is None else slice(c, c + 1),)]
            tuples.append((as_array(channel, contiguous=True), channel_meta, "image"))
        return tuples
    meta["name"] = name
    if source.one_channel:
        data = data[..., 0]
    if source.rgb:
        meta["rgb"] = True
    else:
        meta["colormap"] = source.colormap
        meta["contrast_limits"] = source.contrast_limits
    return [(data, meta, "image")]


def posterior_layer(posteriors: np.ndarray, result: QuantizeResult, source: Source, per_cluster: bool) -> tuple:
    """EM soft segmentation: maximum posterior per pixel, or one channel per cluster (leading axis).

    Parameters
    ----------
    posteriors : ndarray or dask array
        ``pixels + (K,)`` float32.
    result : QuantizeResult
    source : Source
    per_cluster : bool
        One channel per cluster (a leading axis) instead of the maximum.

    Returns
    -------
    tuple
        A napari LayerDataTuple.
    """
    unclustered = result.labels == 0  # outside the mask: no posterior (NaN is drawn transparent, not as 0)
    if unclustered.shape == posteriors.shape[:-1]:
        posteriors = np.where(unclustered[..., None], np.float32(np.nan), posteriors)
    if per_cluster:
        data = posteriors.transpose((posteriors.ndim - 1, *range(posteriors.ndim - 1)))
        span = None if source.channel_span is None else source.channel_span + 1
        data, geometry = on_input_axes(data, span), _prepend_axis(source.geometry)
    else:
        data = on_input_axes(posteriors.max(axis=-1), source.channel_span)
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


def plot_channel_names(source: Source) -> list[str] | None:
    """The channels' names on the plot's axes: one layer's own channels without its name before each.

    The title names the image already; ``"<long file name> ch1 (0–65535)"`` ran off the plot's height.

    Parameters
    ----------
    source : Source
        The run's input (``name``, ``channel_names`` and, for one layer's channels, ``channel_axis``).

    Returns
    -------
    list of str or None
    """
    names = list(source.channel_names or [])
    prefix = f"{source.name} "
    if getattr(source, "channel_axis", None) is not None and names and all(n.startswith(prefix) for n in names):
        names = [name[len(prefix) :] for name in names]
    return names or None


def feature_axis_names(model: ClusterModel, channel_names: list[str] | None = None) -> list[str]:
    """The names of a model's features on plot axes: the channels' names for the ``channels`` space.

    Parameters
    ----------
    model : ClusterModel
    channel_names : list of str, optional
        E.g. from :func:`plot_channel_names`; used when there is one per feature.

    Returns
    -------
    list of str
    """
    names = list(model.feature_names)
    if model.color_space == "channels" and channel_names and len(channel_names) == len(names):
        names = list(channel_names)
    return names


def axis_labels(model: ClusterModel, channel_names: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Names of the model's features and axis labels with their units, e.g. ``"Cr (0–255, neutral 128)"``.

    Parameters
    ----------
    model : ClusterModel
        The fitted model (its colour space gives names and units).
    channel_names : list of str, optional
        Names of the channels, used for the ``channels`` space instead of ``channel 0``, ``channel 1``...

    Returns
    -------
    names : list of str
    labels : list of str
        The names with units, for axes and table headers.
    """
    scale = float(model.scale)
    integer = np.dtype(model.dtype).kind in "biu"
    span = f"0–{int(scale)}" if integer else f"0–{scale:g}"
    names = feature_axis_names(model, channel_names)
    units = {
        "R": span, "G": span, "B": span, "Y": span, "intensity": span,
        "Cr": f"{span}, neutral {model.offset:g}", "Cb": f"{span}, neutral {model.offset:g}",
        "L*": "0–100", "a*": "green − / red +", "b*": "blue − / yellow +",
    }  # fmt: skip
    labels = []
    for f, name in enumerate(names):
        unit = units.get(model.feature_names[f], span if model.color_space == "channels" else None)
        labels.append(f"{name} ({unit})" if unit else name)
    return names, labels


def feature_space_layers(
    result: QuantizeResult, source: Source, sample: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    axes: Sequence[int] | None = None, counts: np.ndarray | None = None, ellipsoids: bool = False,
    upward: bool = False,
) -> list[tuple]:  # fmt: skip
    """Clusters in feature space: centres and sampled pixels as Points, EM Gaussians as Shapes.

    1 feature (gray): a histogram of every counted pixel (sqrt of counts) with each cluster's
    part coloured, the fitted Gaussians (EM, same scale) as curves, centres as points on the axis.
    2+ features: three (or two) features as point coordinates (``sample`` from
    :func:`napari_colorquant.feature_space.sample_features`), by default the last ones; EM covariance
    ellipses (95 % contour of each Gaussian's exact projection onto the last two shown features, which
    napari draws across the screen), at each centre.

    Parameters
    ----------
    result : QuantizeResult
    source : Source
    sample : (features, labels, weights) or None
        Sampled pixels to draw.
    axes : sequence of int, optional
        The features on the layers' axes, in their order (see
        :func:`napari_colorquant.feature_space.view_axes`); default: the last three. Two of them make a 2-D
        plot (a scatter of every sampled pixel, whatever slice a viewer shows) with its own axes next to the
        data (:func:`napari_colorquant.feature_space.plot_frame`).
    counts : ndarray (K,), optional
        Pixels per cluster (:func:`napari_colorquant.feature_space.cluster_counts`), when already counted.
    ellipsoids : bool
        With three features shown, draw EM Gaussians as 3-D ellipsoids (a translucent Surface of each
        marginal Gaussian at the ellipses' Mahalanobis radius, for a 3-D view) instead of flat ellipses.
    upward : bool
        For a canvas whose rows grow upwards (the feature window's camera). Otherwise (napari's image camera,
        rows down) a 2-D plot's layers get a scale of -1 on the rows, so that y values and a histogram's bars
        still grow up the screen; their data stay the features' values.

    Returns
    -------
    list of tuple
        napari LayerDataTuples; the points' ``metadata["colorquant"]["axes"]`` is the features shown.
    """
    model = result.model
    colours = np.asarray(source.display_colours, np.float64)
    counts = fs.cluster_counts(result) if counts is None and model.method != "em" else counts
    weights = model.weights if model.method == "em" else counts
    if model.n_features == 1:
        return _upright(_histogram_layers(result, source, colours, weights, 1.0), upward, source)
    features, labels = (sample[0], sample[1]) if sample is not None else (np.zeros((0, model.n_features)), [])
    labels = np.asarray(labels, np.int64)
    dims = list(fs.view_axes(model.n_features, axes, 3 if axes is None else len(axes)))
    all_names, units = axis_labels(model, plot_channel_names(source))
    names = [all_names[d] for d in dims]
    means = model.means[:, dims]
    n = len(features)
    points = np.concatenate([features[:, dims], means])
    pixel_size = fs.point_size(points)  # a part of the plot's extent: visible at any data range
    meta = {
        "name": output_name(source.name, "feature space"),
        "face_color": np.concatenate([colours[labels - 1], colours]),
        "border_color": np.concatenate([np.zeros((n, 4)), np.ones((len(means), 4))]),
        "border_width": np.concatenate([np.zeros(n), np.full(len(means), 0.12)]),
        "size": np.concatenate([np.full(n, pixel_size), fs.centre_sizes(model.means, model.scale, weights)]),
        "canvas_size_limits": MARKER_PIXELS,  # never a speck, whatever the zoom or the window's size
        "features": {"kind": np.array(["pixel"] * n + ["centre"] * len(means)),
                     "label": np.concatenate([labels, np.arange(1, model.n_clusters + 1)])},
        "axis_labels": names,
        "metadata": _metadata(result, source, "feature space", {"axes": dims, "axis_names": names}),
    }  # fmt: skip
    layers = [(points, meta, "points")]
    if model.method == "em" and ellipsoids and len(dims) == 3:
        layers.append(_ellipsoid_layer(result, source, colours, dims, names))
    elif model.method == "em":
        layers.append(_ellipse_layer(result, source, colours, dims, names))
    if len(dims) == 2:  # napari draws its 2-D axes at the origin, off screen for 16-bit data: the plot's own
        coords = np.concatenate([points, *(layers[1][0] if len(layers) > 1 else [])])
        layers += _frame_layers(result, source, coords, [units[d] for d in dims], names, True)
        return _upright(layers, upward, source)
    if len(dims) == 3 and upward and not fs.origin_near(points):  # napari's arrows would be far from the cloud
        short = [_short(f"{axis}: {all_names[d]}") for axis, d in zip("zyx", dims, strict=True)]  # as the pickers
        frame = fs.cloud_frame(points, short)
        layers += _axes_layers(result, source, frame, float(np.ptp(points, axis=0).max()) or 1.0, names)
    return layers


def _short(text: str, length: int = 18) -> str:
    """A name cut in the middle to ``length`` characters (both ends kept), for texts in a 3-D cloud."""
    return text if len(text) <= length else text[: length // 2] + "…" + text[len(text) - (length - length // 2 - 1) :]


def _upright(layers: list[tuple], upward: bool, source: Source) -> list[tuple]:
    """A 2-D plot made for a camera whose rows grow upwards, turned over for napari's image camera (rows down).

    The layers keep the features' values as data; a scale of -1 on the rows puts growing y values up the screen,
    as a reader of a plot expects (the user's viewer keeps its image camera for the images). There, beside the
    images, they also take the units of the input's last two axes (:func:`_beside_images`).
    """
    if upward:
        return layers
    return [(data, dict(meta, scale=(-1.0, 1.0), **_beside_images(source)), kind) for data, meta, kind in layers]


def _beside_images(source: Source) -> dict[str, Any]:
    """The units a plot's layers take in the user's viewer: those of the input's last two axes (none given: {}).

    napari lines layers up by their last axes and checks, at each draw, that their units are of one kind
    (``LayerList._get_units``): a plot in napari's default unit (pixel) beside images in micrometres made it
    show "Inconsistent units across layers" (three times in a run) and drop the units for everything. A plot's axes
    are features, in no physical unit: with the images' units, its data, scale and place stay as they were, and
    the images keep their calibration.
    """
    units = tuple(source.geometry.get("units") or ())
    return {"units": units[-2:]} if len(units) >= 2 else {}


def _frame_layers(result: QuantizeResult, source: Source, coords: np.ndarray, units: list[str], names: list[str],
                  up: bool, y_ticks: tuple | None = None) -> list[tuple]:  # fmt: skip
    """A 2-D plot's axes next to its data: lines and ticks (Shapes), tick values and axis names (text of Points).

    ``units`` are the y and x axes' names with units (the layers' column order), ``names`` the layers' axis labels.
    """
    box = np.stack([coords.min(axis=0), coords.max(axis=0)])  # all that plot_frame reads of the points
    spec = {"coords": box, "names": [units[1], units[0]], "up": up,
            "y_ticks": None if y_ticks is None else (np.asarray(y_ticks[0]), list(y_ticks[1]))}  # fmt: skip
    frame = fs.plot_frame(**spec)
    return _axes_layers(result, source, frame, float(np.ptp(coords, axis=0).max()) or 1.0, names, {"frame": spec})


def _axes_layers(result: QuantizeResult, source: Source, frame: fs.PlotFrame, extent: float, names: list[str],
                 extra: dict | None = None) -> list[tuple]:  # fmt: skip
    """A plot's own axes: its lines and tick marks (Shapes), its tick values and names (text of Points)."""
    lines = ([np.asarray(line) for line in frame.lines], {
        "name": output_name(source.name, "axes"), "shape_type": "line", "edge_color": np.asarray(AXES_COLOUR),
        "edge_width": 0.004 * extent, "face_color": np.zeros(4), "opacity": 1.0, "axis_labels": names,
        "metadata": _metadata(result, source, "axes"),
    }, "shapes")  # fmt: skip
    texts = (frame.positions, {
        "name": output_name(source.name, "axis labels"), "size": 1e-6 * extent, "face_color": "transparent",
        "border_width": 0, "border_color": "transparent", "features": {"text": np.array(frame.texts, dtype=object)},
        "text": {"string": {"feature": "text"}, "color": AXES_COLOUR, "size": AXES_TEXT_SIZE, "anchor": "center"},
        "axis_labels": names, "metadata": _metadata(result, source, "axis labels", extra),
    }, "points")  # fmt: skip
    return [lines, texts]


def _ellipsoid_layer(result: QuantizeResult, source: Source, colours: np.ndarray, dims: list[int],
                     names: list[str]) -> tuple:  # fmt: skip
    """Each Gaussian's ellipsoid on the three shown features, at the 2-D ellipses' Mahalanobis radius (a Surface)."""
    model = result.model
    means, covariances = fs.marginal(model.means, model.covariances, dims)
    radius = fs.chi2_radius(ELLIPSE_PROBABILITY)
    vertices, faces, component = fs.ellipsoid_meshes(means, covariances, radius)
    vertex_colours = colours[component].copy()
    vertex_colours[:, 3] = 1.0
    meta = {
        "name": output_name(source.name, "gaussians"),
        "vertex_colors": vertex_colours,
        "opacity": ELLIPSOID_OPACITY,
        "shading": "smooth",
        "blending": "translucent",
        "axis_labels": names,
        "metadata": _metadata(result, source, "gaussians", {"probability": ELLIPSE_PROBABILITY, "axes": dims,
                                                             "radius": radius, "ellipsoids": True}),
    }  # fmt: skip
    return (vertices, faces, (component + 1).astype(np.float64)), meta, "surface"


def _ellipse_layer(result: QuantizeResult, source: Source, colours: np.ndarray, dims: list[int],
                   names: list[str]) -> tuple:  # fmt: skip
    """Each Gaussian's 95 % contour in the plane of the last two shown features, at its centre's first one."""
    model = result.model
    shapes = fs.projected_ellipses(model.means, model.covariances, (dims[-2], dims[-1]), ELLIPSE_PROBABILITY)
    if len(dims) == 3:
        shapes = [np.hstack([np.full((len(p), 1), model.means[k, dims[0]]), p]) for k, p in enumerate(shapes)]
    edge = colours.copy()
    edge[:, 3] = 1.0
    meta = {
        "name": output_name(source.name, "gaussians"),
        "shape_type": "polygon",
        "edge_color": edge,
        "face_color": np.zeros((len(shapes), 4)),
        "edge_width": max(fs.spread(model.means, model.scale) * 0.004, 1e-6),  # as the points: the clusters' spread
        "features": {
            "label": np.arange(1, model.n_clusters + 1),
            "probability": np.full(len(shapes), ELLIPSE_PROBABILITY),
        },
        "axis_labels": names,
        "metadata": _metadata(result, source, "gaussians", {"probability": ELLIPSE_PROBABILITY, "axes": dims}),
    }
    return shapes, meta, "shapes"


def _histogram_layers(result: QuantizeResult, source: Source, colours: np.ndarray, weights, up: float) -> list[tuple]:
    """1-D feature space: histogram bars per cluster, Gaussians (EM), centres; counts go to rows of sign ``up``."""
    model = result.model
    values, value_weights, labels = fs.histogram_source(result, seed=int(model.params.get("seed", 0)))
    edges, counts = fs.histogram(values, value_weights, labels, model.n_clusters)
    low, high = float(edges[0]), float(edges[-1])
    # The y axis is sqrt(count) (a spike at one value would flatten a linear plot), scaled so the
    # tallest bar is half as high as the value range is wide.
    height = 0.5 * (high - low) / np.sqrt(max(counts.sum(axis=0).max(), 1))
    bars, bar_colours, bar_labels = [], [], []
    stacked = np.zeros(len(edges) - 1)
    for k in range(model.n_clusters):
        for b in np.flatnonzero(counts[k]):
            y0, y1 = np.sqrt(stacked[b]), np.sqrt(stacked[b] + counts[k, b])
            bars.append(np.array([[up * y0 * height, edges[b]], [up * y1 * height, edges[b + 1]]]))
            bar_colours.append(colours[k])
            bar_labels.append(k + 1)
        stacked += counts[k]
    names, named_units = axis_labels(model, plot_channel_names(source))
    geometry = {"axis_labels": ("sqrt(count)", names[0])}
    histogram = (bars, {
        "name": output_name(source.name, "histogram"), "shape_type": "rectangle",
        "face_color": np.array(bar_colours).reshape(-1, 4), "edge_width": 0,
        "features": {"label": np.array(bar_labels, np.int64)},
        "metadata": _metadata(result, source, "histogram"), **geometry,
    }, "shapes")  # fmt: skip
    points = (np.column_stack([np.zeros(model.n_clusters), model.means[:, 0]]), {
        "name": output_name(source.name, "feature space"), "face_color": colours, "border_color": "white",
        "size": fs.centre_sizes(model.means, model.scale, weights),
        "features": {"kind": np.array(["centre"] * model.n_clusters), "label": np.arange(1, model.n_clusters + 1)},
        "metadata": _metadata(result, source, "feature space"), **geometry,
    }, "points")  # fmt: skip
    layers = [histogram, points]
    # The y axis counts pixels: round counts where their square roots are drawn.
    tops = fs.nice_ticks(0.0, float(counts.sum(axis=0).max()), 4)
    y_ticks = (up * np.sqrt(tops) * height, fs.tick_labels(tops))
    coords = np.concatenate([np.concatenate(bars), points[0]]) if bars else points[0]
    frame = _frame_layers(result, source, coords, ["pixels per bin (square-root scale)", named_units[0]],
                          list(geometry["axis_labels"]), up > 0, y_ticks)  # fmt: skip
    if model.method == "em":
        x = np.linspace(low, high, 256)
        density = fs.gaussian_curves(
            model.means[:, 0],
            model.covariances[:, 0, 0],
            model.weights,
            x,
            float(value_weights.sum()),
            edges[1] - edges[0],
        )
        curves = [np.column_stack([up * np.sqrt(d) * height, x]) for d in density]
        edge = colours.copy()
        edge[:, 3] = 1.0
        layers.append((curves, {
            "name": output_name(source.name, "gaussians"), "shape_type": "path", "edge_color": edge,
            "edge_width": max((high - low) * 0.004, 1e-6),
            "features": {"label": np.arange(1, model.n_clusters + 1)},
            "metadata": _metadata(result, source, "gaussians"), **geometry,
        }, "shapes"))  # fmt: skip
    return layers + frame


def display_colours(
    palette: np.ndarray, color_space: str, kind: str, colormaps: list, limits: list[tuple[float, float]], scale: float
) -> np.ndarray:
    """RGBA (0..1) colour of each cluster as napari would show its colour.

    RGB: the palette itself. Gray: the layer's colormap at the cluster's value.
    Several channels: the additive blend of each channel's colormap.

    Parameters
    ----------
    palette : ndarray (K, C)
        Cluster colours in the input's units.
    color_space : str
    kind : str
        The input kind (``"rgb"``, ``"gray"``, ``"channels"`` …).
    colormaps : list
        napari colormaps of the input channels.
    limits : list of (float, float)
        Their contrast limits.
    scale : float
        The input's nominal maximum.

    Returns
    -------
    ndarray (K, 4)
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


def output_tuples(
    result: QuantizeResult,
    source: Source,
    colour_info: tuple[str, list, list],
    *,
    label_levels: list | None = None,
    quantized_levels: list | None = None,
    posteriors: Any = None,
    per_cluster: bool = False,
    perceptual: bool = True,
) -> list[tuple]:
    """Every image-grid output of a run: clusters, quantized (per channel) and the EM posterior.

    ``colour_info`` is ``(kind, colormaps, contrast_limits)`` of the input, to colour each
    cluster as the input is displayed. Sets ``source.display_colours`` and ``source.summary``
    (one summary dict in every layer's metadata).

    Parameters
    ----------
    result : QuantizeResult
    source : Source
    colour_info : (str, list, list)
        ``(kind, colormaps, contrast_limits)`` of the input.
    label_levels, quantized_levels : list, optional
        Every pyramid level's labels and colours.
    posteriors : ndarray or dask array, optional
        EM posteriors to show.
    per_cluster : bool
        One posterior channel per cluster.
    perceptual : bool
        False leaves the CIEDE2000 figures out of the summary, for a caller that adds them once computed.

    Returns
    -------
    list of tuple
        napari LayerDataTuples.
    """
    kind, colormaps, limits = colour_info
    model = result.model
    source.summary = result.summary(perceptual=perceptual)
    source.display_colours = display_colours(model.palette, model.color_space, kind, colormaps, limits, model.scale)
    tuples = [labels_layer(result, source, label_levels), *quantized_layers(result, source, quantized_levels)]
    if posteriors is not None:
        tuples.append(posterior_layer(posteriors, result, source, per_cluster))
    return tuples

"""Gather a run's inputs from the viewer's layers on the GUI thread: data, mask, slice, display info.

The result is a :class:`Job`: a core :class:`~napari_colorquant.workflows.RunRequest`
plus what the output layers need to overlay the input. Dask-backed layers stay lazy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from napari.layers import Image, Layer, Shapes

from ..quantize import as_array, channel_ranges
from ..workflows import RunRequest, stack_channels
from .layers import Source

MAX_FEATURE_POINTS = 5000


@dataclass
class Job:
    """One run: the core request, the input layer and what the outputs need."""

    layer: Image
    request: RunRequest
    source: Source
    kind: str
    colormaps: list = field(default_factory=list)
    limits: list = field(default_factory=list)
    posterior: str = "none"
    feature_view: str = "separate window"
    stale: list[str] = field(default_factory=list)
    #: The viewer's choice of feature axes (:class:`.feature_axes.AxisChoice`): the explorer's first plot is
    #: prepared in the worker on the pair it gives.
    axis_choice: Any = None
    #: Set by the GUI thread once the outputs are placed (or dropped): the worker's last work waits for it.
    placed: threading.Event = field(default_factory=threading.Event)


def layer_geometry(layer: Layer) -> dict[str, Any]:
    """Everything that places a layer in the world, for outputs that overlay it exactly.

    Parameters
    ----------
    layer : napari.layers.Layer

    Returns
    -------
    dict
        ``scale``, ``translate``, ``rotate``, ``shear``, ``affine`` and, where the layer has them,
        ``axis_labels`` and ``units``.
    """
    geometry = {
        "scale": tuple(layer.scale),
        "translate": tuple(layer.translate),
        "rotate": layer.rotate,
        "shear": layer.shear,
        "affine": layer.affine.affine_matrix,
    }
    for name in ("axis_labels", "units"):
        if hasattr(layer, name):
            geometry[name] = tuple(getattr(layer, name))
    return geometry


def without_axis(geometry: dict[str, Any], axis: int) -> dict[str, Any]:
    """A layer's geometry with one data axis (its channel axis) left out, for outputs on the pixel grid.

    Parameters
    ----------
    geometry : dict
        From :func:`layer_geometry`.
    axis : int
        The data axis to leave out.

    Returns
    -------
    dict

    A rotation, shear or affine transform among the other axes is kept (napari's own ``set_slice`` of
    its transforms leaves the axis out): the outputs are drawn exactly over the input's pixels.

    Raises
    ------
    ValueError
        When the layer is rotated or sheared in a way that mixes the channel axis with the others.
    """
    rotate, shear = _check_channel_apart(geometry, axis)
    out = dict(geometry)
    for key in ("scale", "translate", "axis_labels", "units"):
        if key in out:
            out[key] = tuple(v for i, v in enumerate(out[key]) if i != axis)
    keep = [i for i in range(len(geometry["scale"])) if i != axis]
    out["rotate"], out["shear"] = rotate[np.ix_(keep, keep)], shear[np.ix_(keep, keep)]
    matrix = np.asarray(out.pop("affine"))
    out["affine"] = np.delete(np.delete(matrix, axis, axis=0), axis, axis=1)
    return out


def spanning_axis(geometry: dict[str, Any], axis: int, n: int) -> dict[str, Any]:
    """A layer's geometry for outputs that keep its channel axis as one pixel spanning its ``n`` channels.

    napari lines layers up by their last axes, so the outputs of a Z, C, Y, X layer keep an axis where
    its channels are: of length 1, ``n`` times the channels' scale, centred on them. Every channel's
    position then falls on that one pixel (data coordinate within ±(n - 1) / 2n, which napari rounds to
    0), so the outputs show at every channel the slider picks, over the right plane of the other axes.
    Everything else (the other axes' scale and translate, a rotation, shear or ``affine`` among them,
    ``axis_labels``, ``units``) is kept.

    Parameters
    ----------
    geometry : dict
        From :func:`layer_geometry`.
    axis : int
        The channel axis (data axis of the layer).
    n : int
        The number of channels.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        When the layer is rotated or sheared in a way that mixes the channel axis with the others.
    """
    _check_channel_apart(geometry, axis)
    out = dict(geometry)
    scale, translate = list(out["scale"]), list(out["translate"])
    translate[axis] = translate[axis] + scale[axis] * (n - 1) / 2
    scale[axis] = scale[axis] * n
    out["scale"], out["translate"] = tuple(scale), tuple(translate)
    return out


def _check_channel_apart(geometry: dict[str, Any], axis: int) -> tuple[np.ndarray, np.ndarray]:
    """The rotation and shear matrices of ``geometry``; a ValueError when they, or ``affine``, mix ``axis`` in.

    A channel axis that a rotation, shear or affine transform mixes with the other axes puts each channel's
    plane somewhere else in the world: no output without that axis can lie over all of them.
    """
    from napari.utils.transforms.transform_utils import rotate_to_matrix, shear_to_matrix

    ndim = len(geometry["scale"])
    rotate = rotate_to_matrix(geometry.get("rotate"), ndim=ndim) if geometry.get("rotate") is not None else np.eye(ndim)
    shear = shear_to_matrix(geometry.get("shear"), ndim=ndim) if geometry.get("shear") is not None else np.eye(ndim)
    affine = np.asarray(geometry["affine"], float)[:ndim, :ndim]
    others = [i for i in range(ndim) if i != axis]
    for name, matrix in (("rotate", rotate), ("shear", shear), ("affine", affine)):
        if not (np.allclose(matrix[axis, others], 0.0) and np.allclose(matrix[others, axis], 0.0)):
            raise ValueError(
                f"this layer's {name} mixes its channel axis (axis {axis}) with the others, so its channels do not "
                "lie over the same pixels and cannot be clustered together: keep the rotation, shear or affine to "
                f"the other axes, or reset its {name}"
            )
    return np.asarray(rotate, float), np.asarray(shear, float)


def _single_layer_channels(layer: Image, axis: int) -> tuple[list, list, list]:
    """Names, colormaps and contrast limits for the channels of one layer's ``axis``."""
    from napari.utils.colormaps import ensure_colormap

    from .reader import FALLBACK_COLORMAPS

    n = layer.data.shape[axis]
    label = str(tuple(layer.axis_labels)[axis])
    if label.lstrip("-").isdigit():  # napari's default label ("-3"): "photo -30" would read as minus thirty
        label = "ch"
    names = [f"{layer.name} {label}{c}" for c in range(n)]
    colormaps = [ensure_colormap(FALLBACK_COLORMAPS[c % len(FALLBACK_COLORMAPS)]) for c in range(n)]
    limits = channel_ranges(layer.data, axis) or [tuple(layer.contrast_limits)] * n  # lazy: the layer's own
    return names, colormaps, limits


def source_of(
    layer: Image, extra: list[Image] | None = None, channel_axis: int | None = None
) -> tuple[Source, str, list, list]:
    """The :class:`Source` of an input (plus extra channel layers, or its own ``channel_axis``).

    Parameters
    ----------
    layer : napari.layers.Image
    extra : list of napari.layers.Image, optional
        Same-shape layers stacked as more channels.
    channel_axis : int, optional
        The layer's own channel axis.

    Returns
    -------
    source : Source
    kind : str
        ``"rgb"``, ``"gray"`` or ``"channels"``.
    colormaps, limits : list
        Of the input channels, to colour the clusters as the input is shown.
    """
    if channel_axis is not None:
        channel_axis = channel_axis % layer.ndim
        names, colormaps, limits = _single_layer_channels(layer, channel_axis)
        # Channels first (CYX, CZYX): the outputs are the layer's last axes. Other axes before them (ZCYX):
        # the outputs keep the channel axis as one pixel spanning the channels, or they would fall on C, Y, X.
        span = channel_axis or None
        geometry = layer_geometry(layer)
        if span is None:
            geometry = without_axis(geometry, channel_axis)
        else:
            geometry = spanning_axis(geometry, channel_axis, layer.data.shape[channel_axis])
        source = Source(
            name=layer.name, geometry=geometry, rgb=False, colormap=layer.colormap,
            contrast_limits=tuple(layer.contrast_limits), channel_names=names, channel_colormaps=colormaps,
            channel_limits=limits, channel_axis=channel_axis, channel_span=span,
        )  # fmt: skip
        return source, "channels", colormaps, limits
    layers = [layer, *(extra or [])]
    if layer.rgb:
        kind, colormaps, limits = "rgb", [], []
    else:
        kind = "channels" if extra else "gray"
        colormaps = [c.colormap for c in layers]
        limits = [tuple(c.contrast_limits) for c in layers]
    source = Source(
        name=layer.name,
        geometry=layer_geometry(layer),
        rgb=layer.rgb,
        colormap=None if layer.rgb else layer.colormap,
        contrast_limits=None if layer.rgb else tuple(layer.contrast_limits),
        channel_names=[c.name for c in layers] if extra else [],
        channel_colormaps=colormaps if extra else [],
        channel_limits=limits if extra else [],
    )
    return source, kind, colormaps, limits


def layer_data(layer: Image) -> Any:
    """The layer's array (numpy, or dask left lazy); a pyramid's levels as a list.

    Parameters
    ----------
    layer : napari.layers.Image

    Returns
    -------
    ndarray, dask array or list of them
    """
    if layer.multiscale:
        return list(layer.data)
    return as_array(layer.data)


def collect(controls: Any, viewer: Any) -> Job:
    """Build the :class:`Job` for the controls' current values.

    Parameters
    ----------
    controls : Controls
        The widget's controls.
    viewer : napari.Viewer

    Returns
    -------
    Job

    Raises
    ------
    ValueError
        With a message for the user when the inputs cannot be clustered together.
    """
    layer = controls.image.value
    if layer is None or layer not in viewer.layers:
        raise ValueError("choose an image layer to cluster")
    extra = [c for c in (controls.channels.value or []) if c is not layer]
    levels = None
    if layer.multiscale:
        if extra:
            raise ValueError("extra channels cannot be combined with a multiscale (pyramid) layer")
        if controls.mask.value is not None:
            raise ValueError("masks cannot be combined with a multiscale (pyramid) layer yet; choose one level")
        levels = layer_data(layer)
        data, channel_axis = levels[0], None
    elif extra:
        data = stack_channels([layer_data(c) for c in [layer, *extra]])
        channel_axis = data.ndim - 1
    else:
        own_axis = None if layer.rgb else controls.channel_axis.value
        data, channel_axis = layer_data(layer), own_axis
    if levels is not None and not layer.rgb:
        _refuse_colour_like_axis(layer, data)
    own_axis = channel_axis if not (extra or levels is not None) else None
    gray = levels is None and channel_axis is None and not layer.rgb and colour_like(data)
    if gray:  # one channel said explicitly: the clustering would read the last axis as colours
        data, channel_axis = as_one_channel(data)
    mask = mask_array(controls.mask.value, layer, own_axis)
    fit_index = frames = None
    if layer.ndim > 2 and controls.scope.value == "current slice" and levels is None:
        fit_index = slice_index(layer, viewer)
        if layer.rgb or extra or gray:
            fit_index = (*fit_index, slice(None))
        if own_axis is not None:
            fit_index = tuple(slice(None) if i == own_axis else item for i, item in enumerate(fit_index))
    elif layer.ndim > 2 and controls.scope.value == "every n-th frame" and levels is None:
        frames = (frame_axis(layer, own_axis), int(controls.frame_step.value))
    source, kind, colormaps, limits = source_of(layer, extra, own_axis)
    source.one_channel = gray
    is_em = controls.method.value == "em"
    posterior = controls.posterior.value if is_em else "none"
    view = controls.feature_view.value
    request = RunRequest(
        data=data, params=controls.params(), channel_axis=channel_axis, mask=mask, fit_index=fit_index,
        levels=levels, frames=frames, posterior=posterior, sample_points=MAX_FEATURE_POINTS if view != "none" else 0,
    )  # fmt: skip
    return Job(layer, request, source, kind, colormaps, limits, posterior, view)


def colour_like(data: Any) -> bool:
    """Whether :func:`~napari_colorquant.quantize` reads ``data``'s last axis as colours (given no channel axis).

    Parameters
    ----------
    data : ndarray or dask array

    Returns
    -------
    bool
        True for an array of 3 or more dimensions whose last axis holds 3 or 4 values (RGB / RGBA).
    """
    return data.ndim >= 3 and data.shape[-1] in (3, 4)


def as_one_channel(data: Any) -> tuple[Any, int]:
    """A gray layer's data as one channel: a trailing channel axis of length 1, and that axis.

    napari shows a layer with ``rgb=False`` as a stack whatever its last axis, but
    :func:`~napari_colorquant.quantize` reads a last axis of 3 or 4 values as colours unless told otherwise; a
    channel axis of length 1 says "gray". The labels keep the layer's shape; the quantized image has the extra
    axis (:class:`.layers.Source` ``one_channel`` drops it).

    Parameters
    ----------
    data : ndarray or dask array
        The layer's data (a view is taken, nothing is copied).

    Returns
    -------
    data : ndarray or dask array
        Shape ``data.shape + (1,)``.
    channel_axis : int
        Its last axis.
    """
    return data[..., np.newaxis], data.ndim


def apply_input(layer: Image, model_kind: str, channel_axis: int | None) -> tuple[tuple, Any, int | None]:
    """What "Apply fitted model" passes for ``layer``: its source, its data and their channel axis.

    Parameters
    ----------
    layer : napari.layers.Image
        The layer the model is applied to.
    model_kind : str
        The model's ``input_kind`` (``"gray"``, ``"rgb"``, ...).
    channel_axis : int or None
        The layer's channel axis for the model (``widget.apply_axis``).

    Returns
    -------
    (source, kind, colormaps, limits), data, channel_axis
        As :func:`source_of`; the layer's data (:func:`layer_data`) and its channel axis: a gray model applied to
        a gray stack whose last axis has 3 or 4 pixels gets it as one channel (:func:`as_one_channel`).
    """
    described, data = source_of(layer, None, channel_axis), layer_data(layer)
    if channel_axis is None and model_kind == "gray" and not (layer.multiscale or layer.rgb) and colour_like(data):
        data, channel_axis = as_one_channel(data)
        described[0].one_channel = True
    return described, data, channel_axis


def _refuse_colour_like_axis(layer: Image, data: Any) -> None:
    """A ValueError for a gray pyramid whose last axis has 3 or 4 pixels: the clustering reads such an axis as colours.

    napari shows the layer as a stack (it is not RGB), but an array of 3 or more dimensions whose last axis holds
    3 or 4 values is an RGB(A) image to :func:`~napari_colorquant.quantize`, and a pyramid's levels are clustered
    without a channel axis (a single-scale layer is passed with a length-1 channel axis instead:
    :func:`as_one_channel`).
    """
    if colour_like(data):
        n = data.shape[-1]
        raise ValueError(
            f"image: layer {layer.name!r} is shown as a stack, not as RGB, but its last axis has {n} pixels, which "
            f"the clustering reads as the {n} colour values of each pixel: if they are colours, add the data again "
            "as an RGB layer (viewer.add_image(data, rgb=True)); if another axis holds channels, set the channel "
            "axis"
        )


def frame_axis(layer: Image, channel_axis: int | None) -> int:
    """The time axis of a layer (axis label 't' / 'time'), else its first axis that is not the channel axis.

    Parameters
    ----------
    layer : napari.layers.Image
    channel_axis : int or None
        Never the frame axis.

    Returns
    -------
    int
    """
    labels = [str(label).lower() for label in layer.axis_labels]
    named = [axis for axis, label in enumerate(labels) if label in ("t", "time") and axis != channel_axis]
    return named[0] if named else (1 if channel_axis == 0 else 0)


def mask_array(mask_layer: Layer | None, layer: Image, channel_axis: int | None = None) -> np.ndarray | None:
    """The mask layer as a boolean pixel grid of ``layer`` (None without a mask).

    Parameters
    ----------
    mask_layer : napari.layers.Labels or napari.layers.Shapes or None
    layer : napari.layers.Image
        The clustered layer, whose pixel grid the mask must match.
    channel_axis : int, optional
        The layer's own channel axis, not part of the pixel grid.

    Returns
    -------
    ndarray of bool, dask array or None
        A mask with fewer axes than the image (a 2-D Shapes or Labels layer over a stack, which napari
        draws on every plane) masks the same region of every plane (broadcast, not copied). One with the layer's
        channel axis too (drawn over a ZCYX layer, or lined up with it as its clusters are) holds a pixel that
        it holds at any channel.
    """
    if mask_layer is None:
        return None
    spatial = tuple(layer.data.shape[:-1] if layer.rgb else layer.data.shape)
    if channel_axis is not None:
        spatial = tuple(size for axis, size in enumerate(layer.data.shape) if axis != channel_axis)
        if mask_layer.ndim == layer.ndim:  # drawn over the layer, or an output lined up with it (see Source)
            return _over_channels(mask_layer, layer, channel_axis)
    if mask_layer.ndim > len(spatial):
        raise ValueError(
            f"mask layer {mask_layer.name!r} has {mask_layer.ndim} dimensions; the image's pixel grid {spatial} has "
            f"{len(spatial)}: draw the mask in a {len(spatial)}-D layer"
        )
    plane = spatial[len(spatial) - mask_layer.ndim :]  # the mask's own axes: the image's last ones
    # Only when those are the image layer's last axes does napari draw the mask over the same pixels.
    own = channel_axis % layer.ndim if channel_axis is not None and not layer.rgb else None
    moved = (own is None or own < layer.ndim - mask_layer.ndim) and _placed_apart(mask_layer, layer)
    if isinstance(mask_layer, Shapes):
        if len(mask_layer.data) == 0:
            raise ValueError(f"mask layer {mask_layer.name!r} has no shapes")
        shapes = _on_image_grid(mask_layer, layer) if moved else mask_layer
        mask = shapes.to_labels(labels_shape=plane) > 0
    else:
        mask = as_array(mask_layer.data)
        if mask.shape != plane:
            raise ValueError(
                f"mask layer {mask_layer.name!r} has shape {mask.shape}; the image's pixel grid is {spatial}"
            )
        if moved:
            n = mask_layer.ndim
            raise ValueError(
                f"mask layer {mask_layer.name!r} lies elsewhere on the canvas than image {layer.name!r} (scale "
                f"{tuple(mask_layer.scale)} vs {tuple(layer.scale[-n:])}, translate {tuple(mask_layer.translate)} "
                f"vs {tuple(layer.translate[-n:])}), and a Labels mask is applied pixel by pixel: give it the "
                "image's scale, translate, rotate, shear and affine, or draw the mask as Shapes"
            )
        mask = mask != 0
    if mask.shape == spatial:
        return mask
    return np.broadcast_to(mask, spatial)  # numpy, or dask through __array_function__


def _placed_apart(mask_layer: Layer, layer: Image) -> bool:
    """Whether the mask's pixel grid lands elsewhere on the canvas than the image's last axes.

    napari's own transforms map the mask's origin and unit steps, and the image's, to world coordinates.
    """
    n = mask_layer.ndim
    lead = [0.0] * (layer.ndim - n)
    for probe in [np.zeros(n), *np.eye(n)]:
        here = np.asarray(mask_layer.data_to_world(list(probe)))[-n:]
        there = np.asarray(layer.data_to_world(lead + list(probe)))[-n:]
        if not np.allclose(here, there, rtol=1e-9, atol=1e-9 * max(1.0, float(np.abs(there).max()))):
            return True
    return False


def _on_image_grid(mask_layer: Shapes, layer: Image) -> Shapes:
    """A copy of the Shapes mask whose vertices are in the image's pixel coordinates (where napari draws them)."""
    n = mask_layer.ndim
    lead = [0.0] * (layer.ndim - n)
    data = [
        np.array([layer.world_to_data(lead + list(mask_layer.data_to_world(list(v))))[-n:] for v in shape])
        for shape in mask_layer.data
    ]
    return Shapes(data, shape_type=list(mask_layer.shape_type), ndim=n)


def _over_channels(mask_layer: Layer, layer: Image, channel_axis: int) -> Any:
    """A mask with the layer's channel axis too: a pixel is in it when it is in it at any channel."""
    shape = tuple(layer.data.shape)
    if isinstance(mask_layer, Shapes):
        if len(mask_layer.data) == 0:
            raise ValueError(f"mask layer {mask_layer.name!r} has no shapes")
        mask = mask_layer.to_labels(labels_shape=shape) > 0
    else:
        mask = as_array(mask_layer.data) != 0
    if mask.shape[channel_axis] == 1 or mask.shape == shape:
        mask = mask.any(axis=channel_axis)
    spatial = tuple(size for axis, size in enumerate(shape) if axis != channel_axis)
    if mask.shape != spatial:
        raise ValueError(f"mask layer {mask_layer.name!r} has shape {mask_layer.data.shape}; the image's is {shape}")
    return mask


def slice_index(layer: Image, viewer: Any) -> tuple:
    """Index of the slice on screen over the layer's pixel axes (displayed axes kept whole).

    Parameters
    ----------
    layer : napari.layers.Image
    viewer : napari.Viewer
        Its dims give the slice on screen.

    Returns
    -------
    tuple
        An int per sliced axis, ``slice(None)`` per displayed axis.
    """
    data_point = np.round(layer.world_to_data(viewer.dims.point)).astype(int)
    n_spatial = layer.ndim
    offset = viewer.dims.ndim - n_spatial
    displayed = {axis - offset for axis in viewer.dims.displayed}
    shape = layer.data.shape
    index = []
    for axis in range(n_spatial):
        if axis in displayed:
            index.append(slice(None))
        else:
            index.append(int(np.clip(data_point[axis], 0, shape[axis] - 1)))
    return tuple(index)

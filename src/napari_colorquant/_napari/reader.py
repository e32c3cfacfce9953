"""npe2 reader for OME-TIFF and OME-Zarr: one image layer per channel, named and coloured as the file says.

The metadata comes from :mod:`napari_colorquant.ome` (tifffile / zarr); this
module only turns it into napari layer data tuples: ``channel_axis`` splits the
channels, each gets its OME name and a colormap from its OME colour, pixel sizes
become the layer scale, the remaining axes keep their names. Large images and
pyramids stay lazy (dask), multiscale files open as multiscale layers.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from ..ome import UNIT_NAMES, AxesInfo, is_ome_path, ngff_label_colors, read_axes, read_levels

#: Colours for channels whose file names none (napari's own channel cycle).
FALLBACK_COLORMAPS = ("magenta", "green", "cyan", "yellow", "red", "blue")


def get_reader(path: str | os.PathLike | list) -> Callable[[str], list[tuple]] | None:
    """npe2 ``get_reader``: a reader for ``.ome.tif``, ``.ome.tiff`` and ``.ome.zarr`` paths, else None.

    Parameters
    ----------
    path : str, os.PathLike or list
        What napari asks about (a list: its first path decides).

    Returns
    -------
    callable or None
        :func:`read_ome`, or None to let other readers try.
    """
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    return read_ome if is_ome_path(path) else None


def _colormaps(info: AxesInfo) -> list:
    from napari.utils.colormaps import Colormap

    out = []
    for index in range(info.size("C")):
        color = info.channel_colors[index] if index < len(info.channel_colors) else None
        if color is None or tuple(color[:3]) in ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)):
            out.append(FALLBACK_COLORMAPS[index % len(FALLBACK_COLORMAPS)] if info.size("C") > 1 else "gray")
        else:
            name = info.channel_names[index] if index < len(info.channel_names) else f"C{index}"
            out.append(Colormap([[0, 0, 0, 1], [*color[:3], 1]], name=f"{name} ({index})"))
    return out


def layer_data(levels: list, info: AxesInfo | None, name: str) -> list[tuple]:
    """Layer data tuples for the resolution ``levels`` of an image with metadata ``info``.

    Parameters
    ----------
    levels : list of array
        Finest first (one entry: not multiscale).
    info : AxesInfo or None
    name : str
        Layer name (file stem) used when the file names no channels.

    Returns
    -------
    list of tuple
        ``[(data, metadata, "image")]`` with ``channel_axis`` when there is a channel axis.
    """
    data = levels if len(levels) > 1 else levels[0]
    meta: dict = {"multiscale": len(levels) > 1}
    if info is None or tuple(info.shape) != tuple(levels[0].shape):
        return [(data, {**meta, "name": name}, "image")]
    axis = info.channel_axis
    # An RGB(A) file (OME "S" samples last, 3 or 4 of them): napari shows the samples as the pixel's colour,
    # so they have no scale, unit or label of their own (a scale for them made napari refuse the layer).
    rgb = info.axes.endswith("S") and info.shape[-1] in (3, 4)
    if rgb:
        meta["rgb"] = True
    keep = [
        i for i in range(len(info.axes)) if (i != axis or info.size("C") == 1) and not (rgb and info.axes[i] == "S")
    ]
    meta["scale"] = [info.scale[i] for i in keep] if info.scale else None
    if info.levels and any(info.levels[0].translation):  # napari places the finest level; it derives the others
        meta["translate"] = [info.levels[0].translation[i] for i in keep]
    units = [UNIT_NAMES.get(info.units[i]) for i in keep] if info.units else []
    if any(units):  # napari knows these names; the writer keeps them when the layer is saved
        meta["units"] = [unit or "pixel" for unit in units]  # an axis without a known unit: napari's none
    meta["axis_labels"] = [info.axes[i].lower() for i in keep]
    meta["metadata"] = {"ome": {"axes": info.axes, "source": info.source, "channel_names": list(info.channel_names)}}
    if axis is None or info.size("C") == 1:
        return [(data, {**meta, "name": (info.channel_names or (name,))[0]}, "image")]
    n = info.size("C")
    names = list(info.channel_names) if len(info.channel_names) == n else [f"{name} C{i}" for i in range(n)]
    meta.update(channel_axis=axis, name=names, colormap=_colormaps(info), blending="additive")
    return [(data, meta, "image")]


def read_ome(path: str | os.PathLike) -> list[tuple]:
    """Read an OME-TIFF / OME-Zarr file into per-channel layer data (see :func:`layer_data`).

    Parameters
    ----------
    path : str or os.PathLike
        The file (or a one-element list of it, as napari passes it).

    Returns
    -------
    list of LayerDataTuple
        One image layer per channel, with the file's channel names, colours and scale.

    Raises
    ------
    ValueError
        If the file cannot be read.
    """
    path = os.fspath(path[0] if isinstance(path, list) else path)
    stem = os.path.basename(path.rstrip("/\\")).split(".")[0]
    layers = layer_data(read_levels(path), read_axes(path), stem)
    colors = ngff_label_colors(path) if os.path.isdir(path) else None
    if colors is None or len(layers) != 1 or "channel_axis" in layers[0][1]:
        return layers
    data, meta, _ = layers[0]
    if not np.issubdtype((data[0] if isinstance(data, list) else data).dtype, np.integer):
        return layers
    return [(data, _as_labels_meta(meta, colors), "labels")]


def _as_labels_meta(meta: dict, colors: dict) -> dict:
    """An OME-Zarr label image's layer attributes: its geometry and name, and its label colours if it has any."""
    from napari.utils import DirectLabelColormap

    meta = {key: value for key, value in meta.items() if key not in ("rgb", "colormap", "blending")}
    if colors:
        meta["colormap"] = DirectLabelColormap(color_dict={None: (0.0,) * 4, 0: (0.0,) * 4, **colors})
    return meta

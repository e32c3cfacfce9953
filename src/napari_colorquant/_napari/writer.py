"""napari writers: save what the user sees, or say in a notification what can be written and how.

Clusters (labels) go to TIFF in the smallest integer dtype that fits, or to an indexed PNG whose
palette index is the label; quantized images are written pixel for pixel (indexed when every pixel
is exactly a palette colour), never re-predicted from the model. The file writing is in
:mod:`..files`; this module only picks the writer and reports refusals.

File → Save picks these writers by default (see :func:`prefer_plugin_writers`); a layer this
plugin did not make, saved under a suffix these writers do not claim, goes on to napari's own
writer, so saving other layers works as before. Points and Shapes layers (the feature-space plot's) saved
under a picture's name get a notification saying what can be written (:func:`refuse_points_picture`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..files import (
    PNG_HELP,
    TIFF_SUFFIXES,
    ZARR_SUFFIXES,
    ZarrOptions,
    save_zarr,
    write_image,
    write_labels_png,
    write_labels_tiff,
    write_quantized_png,
    zarr_store_suffix,
)
from ..ome import AXIS_LETTERS, MICRON_SPELLINGS, AxesInfo, napari_levels
from .layers import off_input_axes

PLUGIN = "napari-colorquant"
OWN_SUFFIXES = frozenset({".png", *TIFF_SUFFIXES, *ZARR_SUFFIXES})
#: Formats of one 2-D picture, written by napari's own image writer: an image layer of several planes made it
#: fail in Pillow (KeyError 'JPEG') after it had emptied the file, an existing picture of that name included.
PICTURE_SUFFIXES = frozenset({".jpg", ".jpeg", ".bmp"})
#: The writers that write nothing and say what to use instead (napari.yaml): last in npe2's index, after napari's.
REFUSING_WRITERS = frozenset({f"{PLUGIN}.refuse_points_picture", f"{PLUGIN}.refuse_shapes_picture"})
#: A layer's axis label (lower case) -> tifffile / OME axis letter (the reader names axes by these letters).
_AXIS_LETTERS = {**AXIS_LETTERS, "depth": "Z", "plane": "Z"}
#: napari's unit of an axis with no physical size.
_NO_UNITS = {"", "pixel", "pixels", "px", "dimensionless", "none"}


def prefer_plugin_writers(manager: Any = None) -> bool:
    """Put this plugin's writers ahead of napari's built-in ones, so File → Save picks them by default.

    napari 0.9 gives a plugin no setting for this. npe2 picks the writer whose extension is the
    longest match and, on a tie, the first one indexed (``npe2/_plugin_manager.py``,
    ``PluginManager.get_writer``); the Save dialog's pre-selected file type is also the first
    compatible writer (``napari/_qt/qt_viewer.py``, ``_save_layers_dialog``). napari's builtins are
    indexed first, and the ``plugins.extension2writer`` setting (``napari/settings/_plugins.py``)
    is read by nothing. napari's labels writer widens everything to 32 bits
    (``napari_builtins/io/_write.py``, ``napari_write_labels``), so no layer dtype helps either.
    So this moves our entries to the front of npe2's writer index, a private list: if npe2 changes
    it, nothing happens and napari's writers stay the default (pick ours in the dialog). The writers that only
    refuse (:data:`REFUSING_WRITERS`) go to its end instead: napari's and other plugins' writers of those layers
    come first, and napari's .csv stays the default of a Points or Shapes layer saved without a suffix.

    Parameters
    ----------
    manager : npe2.PluginManager, optional
        The plugin manager (default: the running one).

    Returns
    -------
    bool
        Whether this plugin's writers now come first.
    """
    if manager is None:
        from npe2 import PluginManager

        manager = PluginManager.instance()
    entries = getattr(getattr(manager, "_contrib", None), "_writers", None)
    if not isinstance(entries, list):
        return False
    ours = [entry for entry in entries if getattr(entry[-1], "plugin_name", None) == PLUGIN]
    if not ours:
        return False
    last = [entry for entry in ours if getattr(entry[-1], "command", None) in REFUSING_WRITERS]
    first = [entry for entry in ours if entry not in last]
    entries[:] = first + [entry for entry in entries if getattr(entry[-1], "plugin_name", None) != PLUGIN] + last
    return True


def on_activate(context: Any = None) -> None:
    """npe2 activation hook (the plugin's first command): make this plugin's writers the default.

    Parameters
    ----------
    context : object, optional
        npe2's activation context (unused).
    """
    prefer_plugin_writers()


def _is_ours(meta: dict[str, Any]) -> bool:
    return isinstance((meta.get("metadata") or {}).get("colorquant"), dict)


def _colors(meta: dict[str, Any]) -> np.ndarray | None:
    """The cluster colours recorded with a napari-colorquant output layer (None for other layers)."""
    info = (meta.get("metadata") or {}).get("colorquant") or {}
    model = info.get("model") if isinstance(info, dict) else None
    palette = model.get("palette") if isinstance(model, dict) else None
    try:
        return None if palette is None else np.asarray(palette, np.float64)
    except (TypeError, ValueError):
        return None


def _shown_colors(meta: dict[str, Any]) -> np.ndarray | None:
    """The colours (0..255 RGB) a clusters layer shows its labels 1..K in, as its colormap maps them.

    The model's palette is in the image's own units (four values per cluster for four channels, 33000
    for a 16-bit gray level), so the PNG takes the colours on screen, recolouring included.
    """
    palette, colormap = _colors(meta), meta.get("colormap")
    if palette is None or colormap is None or not hasattr(colormap, "map"):
        return palette
    rgba = np.asarray(colormap.map(np.arange(1, min(len(palette), 255) + 1)), np.float64)
    return rgba[:, :3] * 255  # labels painted above K stay mid-gray


def layer_axes(meta: dict[str, Any], shape: tuple[int, ...], rgb: bool = False) -> AxesInfo | None:
    """The axes, pixel sizes and units of a layer, from its ``axis_labels``, ``scale`` and ``units``.

    Named axes keep their letters (``"z"`` -> ``Z``: as the reader names them); unnamed ones (napari's
    ``"-1"``, ``"-2"``, ...) are the image plane ``YX`` last, then ``Z``, then ``T``. A scale whose unit is
    napari's default (``pixel``) or none has no physical size in the file: no unit is invented for it.

    Parameters
    ----------
    meta : dict
        The layer's attributes, as napari passes them to a writer.
    shape : tuple of int
        The array to write (an RGB(A) image's last axis holds the samples).
    rgb : bool
        The last axis holds an RGB(A) pixel's samples.

    Returns
    -------
    AxesInfo or None
        None when the axes cannot be told (the file is then written without axes).
    """
    spatial = len(shape) - (1 if rgb else 0)
    labels = [str(label).strip().lower() for label in (meta.get("axis_labels") or ())][-spatial:]
    if len(labels) != spatial:
        labels = [""] * spatial
    letters = [_AXIS_LETTERS.get(label, "") for label in labels]
    unnamed = [i for i, letter in enumerate(letters) if not letter]
    free = [letter for letter in "TZYX" if letter not in letters]
    if len(unnamed) > len(free):
        return None
    for index, letter in zip(unnamed, free[len(free) - len(unnamed) :], strict=True):
        letters[index] = letter
    axes = "".join(letters) + ("S" if rgb else "")
    if len(set(axes)) != len(axes) or not axes.endswith(("YX", "YXS")):
        return None
    scale, units = _sizes(meta, spatial)
    if rgb:
        scale, units = (*scale, 1.0), (*units, None)
    return AxesInfo(axes, tuple(shape), "the napari layer", scale=scale, units=units)


def _sizes(meta: dict[str, Any], n: int) -> tuple[tuple[float, ...], tuple]:
    """Pixel size and unit of the last ``n`` axes of a layer (unit None: no physical size)."""
    scale = [float(value) for value in (meta.get("scale") if meta.get("scale") is not None else ())][-n:]
    scale = scale if len(scale) == n else [1.0] * n
    given = list(meta.get("units") or ())[-n:]
    given = given if len(given) == n else [None] * n
    units = []
    for unit in given:
        name = "" if unit is None else (f"{unit:~}" if hasattr(unit, "dimensionality") else str(unit)).strip()
        # a size without a unit is not invented one: no physical size is written
        units.append(None if name.lower() in _NO_UNITS else MICRON_SPELLINGS.get(name, name))
    return tuple(scale), tuple(units)


def _notify(message: str) -> None:
    from napari.utils.notifications import show_error

    show_error(message)


def _warn(message: str) -> None:
    from napari.utils.notifications import show_warning

    show_warning(message)


def _suffixed(path: str, default: str) -> Path:
    target = Path(path)
    return target if target.suffix else target.with_suffix(default)


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Clusters: ``.tif``/``.tiff`` (smallest integer dtype), ``.png`` (palette index = label, 2-D, 0..255)
    or ``.zarr`` / ``.ome.zarr`` (chunk by chunk, an OME-Zarr image when the layer's axes fit).

    Parameters
    ----------
    path : str
        The file to write.
    data : array_like
        The labels layer's data.
    meta : dict
        The layer's attributes (its ``metadata`` gives the model's colours).

    Returns
    -------
    list of str
        The paths written; empty when the labels cannot be saved so (another suffix, labels a PNG
        cannot hold): a notification says why, nothing is raised to napari.
    """
    target = _suffixed(path, ".tif")
    try:
        if target.suffix.lower() in ZARR_SUFFIXES:
            return [str(_save_chunked(target, data, meta, labels=True))]
        labels, meta = pixel_grid(full_resolution(data, meta), meta)
        if target.suffix.lower() in TIFF_SUFFIXES:
            return [str(write_labels_tiff(target, labels, layer_axes(meta, labels.shape)))]
        if target.suffix.lower() == ".png":
            return [str(write_labels_png(target, labels, _shown_colors(meta)))]
        raise ValueError(f"cannot save clusters as {target.suffix}; {PNG_HELP}")
    except (ValueError, OSError) as error:
        return _not_saved(target, error)


def write_quantized(path: str, data: Any, meta: dict) -> list[str]:
    """A quantized image as shown: ``.png`` (indexed when it is exactly the palette's colours), ``.tif`` or ``.zarr``.

    Parameters
    ----------
    path : str
        The file to write.
    data : array_like
        The image layer's data.
    meta : dict
        The layer's attributes (its ``metadata`` gives the palette).

    Returns
    -------
    list of str
        The paths written; empty when the image cannot be saved so (another suffix, an image a PNG
        cannot hold): a notification says why, nothing is raised to napari.
    """
    target = _suffixed(path, ".png")
    try:
        if target.suffix.lower() in ZARR_SUFFIXES:
            return [str(_save_chunked(target, data, meta, rgb=bool(meta.get("rgb"))))]
        image, meta = pixel_grid(full_resolution(data, meta), meta)
        if target.suffix.lower() == ".png":
            return [str(write_quantized_png(target, image, _colors(meta)))]
        return [str(write_image(target, image, layer_axes(meta, image.shape, rgb=bool(meta.get("rgb")))))]
    except (ValueError, OSError) as error:
        return _not_saved(target, error)


def _not_saved(target: Path, error: ValueError | OSError) -> list[str]:
    """Say in a notification why nothing was written, never as a traceback; the writers' empty answer.

    A ValueError is a refusal that names what can be written; an OSError a folder that cannot be written
    (missing, read-only, disk full).
    """
    reason = f"{target}: {error.strerror or error}" if isinstance(error, OSError) else str(error)
    _notify(f"Not saved: {reason}")
    return []


def _save_chunked(target: Path, data: Any, meta: dict, rgb: bool = False, labels: bool = False) -> Path:
    """A zarr store (OME-Zarr when the axes fit) written chunk by chunk: a lazy layer never goes into memory whole.

    A multiscale layer is written as an OME-Zarr pyramid: every level, each placed where napari shows it
    (:func:`~napari_colorquant.ome.napari_levels`), as the command line writes the outputs of a pyramid; an
    RGB(A) layer's samples become the store's colour channels (:func:`~napari_colorquant.files.write_zarr`).
    """
    multiscale = meta.get("multiscale") or isinstance(data, list | tuple)
    levels = [pixel_grid(level, meta)[0] for level in (data if multiscale else [data])]
    meta = pixel_grid(data[0] if multiscale else data, meta)[1]
    axes = layer_axes(meta, tuple(levels[0].shape), rgb=rgb)
    if axes is not None:
        shift = _translation(meta, len(axes.axes), rgb)
        if len(levels) > 1 or any(shift):
            placed = napari_levels(axes.scale, shift, [tuple(level.shape) for level in levels])
            axes = dataclasses.replace(axes, levels=placed)
    if axes is None or zarr_store_suffix(tuple(levels[0].shape), axes) != ".ome.zarr":
        if len(levels) > 1:
            names = ", ".join(str(label) for label in meta.get("axis_labels") or ()) or "unnamed"
            _warn(
                f"{target.name}: saved the finest of the layer's {len(levels)} levels only: OME-Zarr, which holds "
                f"a pyramid, cannot name its axes ({names}), and a plain zarr array holds one level. To keep every "
                "level, name the axes t, c, z, y, x in that order (the layer's axis labels)."
            )
        levels = levels[:1]  # a plain zarr array holds one level: the finest
    colors = _shown_colors(meta) if labels else None
    return save_zarr(target, levels[0], ZarrOptions(axes, labels, colors, levels[1:]))


def _translation(meta: dict[str, Any], n: int, rgb: bool) -> tuple[float, ...]:
    """The origin of the last ``n`` axes of a layer (an RGB pixel's samples at 0)."""
    spatial = n - (1 if rgb else 0)
    given = [float(value) for value in (meta.get("translate") if meta.get("translate") is not None else ())][-spatial:]
    given = given if len(given) == spatial else [0.0] * spatial
    return (*given, 0.0) if rgb else tuple(given)


def full_resolution(data: Any, meta: dict) -> np.ndarray:
    """A layer's pixels at full resolution: level 0 of a multiscale layer.

    ``np.asarray`` of napari's multiscale data is its *coarsest* level (what the canvas needs for a
    thumbnail), so a pyramid's clusters were saved at a fraction of their size without a word.

    Parameters
    ----------
    data : array_like, or a sequence of levels (napari's ``MultiScaleData``)
        The layer's data.
    meta : dict
        The layer's attributes (``multiscale``).

    Returns
    -------
    ndarray
    """
    if meta.get("multiscale") or isinstance(data, list | tuple):
        data = data[0]
    return np.asarray(data)


def pixel_grid(data: Any, meta: dict) -> tuple[Any, dict]:
    """An output of a ZCYX layer without the length-1 axis that lined it up with the layer's channels.

    The file holds the clusters of every Z, Y, X pixel (as the command line writes them), not an axis
    of one pixel whose size is that of every channel together.

    Parameters
    ----------
    data : ndarray or dask array
        The layer's pixels.
    meta : dict
        The layer's attributes; ``metadata["colorquant"]["channel_span"]`` names the axis.

    Returns
    -------
    (array, dict)
        The pixels (a view) and attributes (``scale``, ``translate``, ``axis_labels``, ``units``) without that axis;
        ``data`` and ``meta`` themselves for any other layer.
    """
    info = (meta.get("metadata") or {}).get("colorquant")
    span = info.get("channel_span") if isinstance(info, dict) else None
    if not isinstance(span, int) or not 0 <= span < data.ndim or data.shape[span] != 1:
        return data, meta
    meta = dict(meta)
    for key in ("scale", "translate", "axis_labels", "units"):
        values = meta.get(key)
        if values is not None and len(values) == data.ndim:
            meta[key] = tuple(value for axis, value in enumerate(values) if axis != span)
    return off_input_axes(data, span), meta


def _unclaimed(path: str, default: str, meta: dict) -> bool:
    """A layer this plugin did not make, under a suffix its writers do not claim: napari's writer's job."""
    return not _is_ours(meta) and _suffixed(path, default).suffix.lower() not in OWN_SUFFIXES


def save_labels_layer(path: str, data: Any, meta: dict) -> list[str]:
    """File → Save of a labels layer: :func:`write_labels`, or napari's labels writer for other suffixes.

    ``.jpg`` / ``.jpeg`` / ``.bmp`` are refused with a notification saying what can be written.

    Parameters
    ----------
    path : str
        The file to write.
    data : array_like
        The layer's data.
    meta : dict
        The layer's attributes.

    Returns
    -------
    list of str
        The paths written.
    """
    suffix = Path(path).suffix.lower()
    if suffix in PICTURE_SUFFIXES:  # napari has no labels writer for them: it wrote nothing, said so on the terminal
        return _not_saved(Path(path), ValueError(f"a {suffix} picture does not keep labels; {PNG_HELP}"))
    if _unclaimed(path, ".tif", meta):
        from napari_builtins.io import napari_write_labels

        written = napari_write_labels(path, data, meta)
        return [written] if written else []
    return write_labels(path, data, meta)


def save_image_layer(path: str, data: Any, meta: dict) -> list[str]:
    """File → Save of an image layer: :func:`write_quantized`, or napari's image writer for other suffixes.

    ``.jpg`` / ``.jpeg`` / ``.bmp`` go to napari's image writer too, unless the image holds several pictures
    (a stack): that is refused with a notification, before napari's writer empties the file and fails.

    Parameters
    ----------
    path : str
        The file to write.
    data : array_like
        The layer's data.
    meta : dict
        The layer's attributes.

    Returns
    -------
    list of str
        The paths written.
    """
    if _several_planes(path, data, meta):
        return []
    if _unclaimed(path, ".png", meta) or Path(path).suffix.lower() in PICTURE_SUFFIXES:
        from napari_builtins.io import napari_write_image

        written = napari_write_image(path, data, meta)
        return [written] if written else []
    return write_quantized(path, data, meta)


def _several_planes(path: str, data: Any, meta: dict) -> bool:
    """An image of more than one picture named as a picture format (:data:`PICTURE_SUFFIXES`): refused with a
    notification, before any file is opened (an array napari's writer hands Pillow as one picture goes on)."""
    target = Path(path)
    if target.suffix.lower() not in PICTURE_SUFFIXES:
        return False
    shape = tuple((data[0] if meta.get("multiscale") else data).shape)
    picture = shape[next((axis for axis, n in enumerate(shape) if n != 1), len(shape)) :]  # leading 1s dropped
    if len(picture) == 2 or (len(picture) == 3 and picture[-1] in (3, 4)):  # what Pillow writes as one picture
        return False
    _not_saved(target, ValueError(
        f"a {target.suffix[1:].upper()} file holds one 2-D image; this layer has shape {shape}: save it as .tif "
        "or .zarr (every plane), or show one plane and save that as a layer of its own"
    ))  # fmt: skip
    return True


def refuse_points_picture(path: str, data: Any, meta: dict) -> list[str]:
    """File → Save of a Points layer under a picture's name: nothing is written, a notification says what can be.

    napari writes Points layers as .csv (and napari-svg, a dependency of napari, as .svg); under .png / .tif
    nothing was written, with a warning on the terminal alone (a feature-space plot's points and axis labels are
    Points layers).

    Parameters
    ----------
    path : str
        The file asked for (not written).
    data : array_like
        The layer's coordinates.
    meta : dict
        The layer's attributes.

    Returns
    -------
    list of str
        Empty: nothing is written.
    """
    return _picture_refused(path, meta, "Points")


def refuse_shapes_picture(path: str, data: Any, meta: dict) -> list[str]:
    """File → Save of a Shapes layer under a picture's name: nothing is written, a notification says what can be.

    As :func:`refuse_points_picture` (a plot's axes, histogram bars and Gaussian ellipses are Shapes layers).

    Parameters
    ----------
    path : str
        The file asked for (not written).
    data : list of arrays
        The layer's shapes.
    meta : dict
        The layer's attributes.

    Returns
    -------
    list of str
        Empty: nothing is written.
    """
    return _picture_refused(path, meta, "Shapes")


def _picture_refused(path: str, meta: dict, kind: str) -> list[str]:
    """The notification of :func:`refuse_points_picture` and :func:`refuse_shapes_picture`."""
    target = Path(path)
    reason = (
        f"{target.name}: {kind} layer {meta.get('name', '')!r} holds coordinates, not pixels: save it under a name "
        "ending in .csv (a table of them, napari's own writer) or .svg (a drawing, napari-svg's writer)"
    )
    if _is_ours(meta):
        reason += "; for a picture of the plot, use File → Save Screenshot… or the explorer's Export plot… button"
    return _not_saved(target, ValueError(reason))

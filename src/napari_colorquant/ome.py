"""OME-TIFF and OME-Zarr metadata: which axis holds the channels, their names, colours and pixel sizes.

tifffile reads an OME-TIFF's axes (``TiffFile.series[0].axes``) and parses its
OME-XML (:func:`tifffile.xml2dict`); zarr reads an OME-Zarr's NGFF attributes
(``multiscales[].axes``, ``omero.channels``). This module only maps those
parsed structures to one small record, :class:`AxesInfo`, that the CLI, the
napari reader and the widget share. Nothing here parses XML by hand.

Axis letters are tifffile's (``T`` time, ``C`` channel, ``Z`` depth, ``Y``,
``X``, ``S`` samples of an RGB pixel, ``Q``/``I`` unknown); NGFF axis names
are mapped to the same letters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .tiff_codecs import check_decodable, read_with_pillow

OME_TIFF_SUFFIXES = (".ome.tif", ".ome.tiff")
OME_ZARR_SUFFIXES = (".ome.zarr",)
#: Above this many bytes the reader keeps the full-resolution data lazy (dask).
LAZY_BYTES = 256 * 2**20
#: Axis names (lower case) -> OME / tifffile axis letters: OME-Zarr's names, and napari's labels of those axes.
AXIS_LETTERS = {"t": "T", "time": "T", "c": "C", "channel": "C", "z": "Z", "y": "Y", "x": "X"}


class Level(NamedTuple):
    """Where one resolution level of an image lies: pixel ``i`` of axis ``a`` is at ``scale[a] * i + translation[a]``.

    Attributes
    ----------
    scale : tuple of float
        Pixel size per axis at this level.
    translation : tuple of float
        Position of the level's first pixel per axis (empty: at the origin).
    """

    scale: tuple[float, ...]
    translation: tuple[float, ...] = ()


@dataclass(frozen=True)
class AxesInfo:
    """What a file's metadata says about its axes.

    Attributes
    ----------
    axes : str
        One upper-case letter per array dimension, e.g. ``"TCZYX"`` or ``"CYX"``.
    shape : tuple of int
    source : str
        Where the axes came from, e.g. ``"OME metadata"``, ``"OME-Zarr metadata"``, ``"ImageJ metadata"``.
    channel_names : tuple of str
        One name per channel (empty when there is no channel axis).
    channel_colors : tuple
        One RGBA tuple (0..1) per channel, or ``None`` where the file gives no colour.
    scale : tuple of float
        Physical pixel size per axis (1.0 where unknown).
    units : tuple of str or None
        Unit per axis where the file names one.
    levels : tuple of Level
        An OME-Zarr image's resolution levels, finest first, each with its pixel size and translation per
        axis (the multiscale's own transformations folded in), or an OME-TIFF / ImageJ pyramid's (placed as
        napari places them, :func:`napari_levels`); empty when the file has one level without a
        translation (then ``scale`` says it all).
    """

    axes: str
    shape: tuple[int, ...]
    source: str
    channel_names: tuple[str, ...] = ()
    channel_colors: tuple = ()
    scale: tuple[float, ...] = ()
    units: tuple = field(default=())
    levels: tuple[Level, ...] = ()

    @property
    def channel_axis(self) -> int | None:
        """Index of the channel (``C``) axis, or None."""
        return self.axes.index("C") if "C" in self.axes else None

    def size(self, letter: str) -> int:
        """Length of the axis named ``letter`` (1 if absent).

        Parameters
        ----------
        letter : str
            An axis letter, e.g. ``"T"``, ``"Z"`` or ``"C"``.

        Returns
        -------
        int
        """
        return self.shape[self.axes.index(letter)] if letter in self.axes else 1

    def describe(self) -> str:
        """One line for users, e.g. ``3 channels (C axis from OME metadata) × 1 z × 10 t``.

        Returns
        -------
        str
        """
        if self.channel_axis is None:
            head = f"gray: no channel axis in {self.source} (axes {self.axes})"
        else:
            n = self.size("C")
            names = f" [{', '.join(self.channel_names)}]" if self.channel_names else ""
            head = f"{n} channel{'s' if n != 1 else ''}{names} (C axis from {self.source})"
        return f"{head} × {self.size('Z')} z × {self.size('T')} t"


def is_ome_path(path: str | os.PathLike) -> bool:
    """True if the file name ends in ``.ome.tif``, ``.ome.tiff`` or ``.ome.zarr``.

    Parameters
    ----------
    path : str or os.PathLike
        A file or store name (only the name is read).

    Returns
    -------
    bool
    """
    name = str(path).rstrip("/\\").lower()
    return name.endswith(OME_TIFF_SUFFIXES + OME_ZARR_SUFFIXES)


def ome_color(value: int | str | None) -> tuple[float, float, float, float] | None:
    """An OME ``Color`` (signed 32-bit RGBA integer) or NGFF ``color`` (hex ``RRGGBB``) as RGBA in 0..1.

    Parameters
    ----------
    value : int, str or None
        The metadata's colour: an OME-XML ``Color`` integer, or an OME-Zarr (NGFF) ``omero`` hex string
        (``RRGGBB`` or ``RRGGBBAA``, with or without ``#``).

    Returns
    -------
    (float, float, float, float) or None
        RGBA in 0..1; None for no colour or a string that is not hex.

    References
    ----------
    OME Data Model and File Formats, ``Channel/@Color``; OME-NGFF 0.4, ``omero.channels[].color``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.lstrip("#")
        if len(text) not in (6, 8):
            return None
        try:
            parts = [int(text[i : i + 2], 16) for i in range(0, len(text), 2)]
        except ValueError:
            return None
        return tuple(p / 255 for p in (*parts, 255)[:4])
    rgba = int(value) & 0xFFFFFFFF
    return tuple(((rgba >> shift) & 0xFF) / 255 for shift in (24, 16, 8, 0))


def read_axes(path: str | os.PathLike) -> AxesInfo | None:
    """Axes, channel names and colours of a TIFF (OME or ImageJ metadata) or an OME-Zarr store.

    Parameters
    ----------
    path : str or os.PathLike
        A TIFF file or a zarr store.

    Returns
    -------
    AxesInfo or None
        None when the file's metadata names no axes (a plain TIFF, a bare zarr array) or the
        file is neither a TIFF nor a zarr store.

    Raises
    ------
    ValueError
        If the file is missing or cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    try:
        if path.is_dir() or path.suffix.lower() == ".zarr":
            try:
                return _zarr_axes(path)
            except ValueError as error:  # the metadata's own faults (_first_multiscale): name the store
                raise ValueError(f"{path}: {error}") from error
        if path.suffix.lower() in (".tif", ".tiff"):
            return _tiff_axes(path)
        return None
    except ValueError:
        raise
    except Exception as error:
        raise ValueError(f"{path}: cannot read its metadata ({type(error).__name__}: {error})") from error


#: What tifffile logs (instead of raising) when a file's pages or tags point past its end: a truncated or
#: damaged file, of which it then reads what it can (e.g. one plane of a 5-D stack) without an error.
_DAMAGE = re.compile(r"invalid (page |value )?offset|failed to read|unexpected end", re.IGNORECASE)


class DamagedTiffError(ValueError):
    """A TIFF file that is truncated or damaged (see :func:`intact_tiff`)."""


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def intact_tiff(path: str | os.PathLike) -> Iterator[None]:
    """Read a TIFF inside this block: a truncated or damaged file raises instead of being read in part.

    tifffile logs broken page and tag offsets and goes on with the pages it could reach, so a 5-D stack cut
    short opened as its first plane, clustered and saved as if it were the whole file. What it logs in the
    block is collected (not printed); a damage message raises.

    Parameters
    ----------
    path : str or os.PathLike
        The file being read (for the message).

    Yields
    ------
    None
        While the file is read.

    Raises
    ------
    DamagedTiffError
        A ValueError naming the file and what tifffile found, when the file is damaged.
    """
    logger = logging.getLogger("tifffile")
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield
    except Exception as error:  # what failed in the block may be the damage itself: say that, not its echo
        _refuse_damage(path, handler.messages, error)
        raise
    finally:
        logger.removeHandler(handler)
    _refuse_damage(path, handler.messages)


def _refuse_damage(path: str | os.PathLike, messages: list[str], cause: Exception | None = None) -> None:
    damage = [message for message in messages if _DAMAGE.search(message)]
    if damage and not isinstance(cause, DamagedTiffError):
        raise DamagedTiffError(
            f"{path}: the TIFF file is truncated or damaged ({damage[0]}); only part of it could be read, so it "
            "is not used: copy the file again, or re-export it"
        ) from cause


def _tiff_axes(path: Path) -> AxesInfo | None:
    import tifffile

    try:
        with intact_tiff(path):
            tif = tifffile.TiffFile(path)
            series = tif.series[0]
    except DamagedTiffError:
        raise
    except (tifffile.TiffFileError, ValueError):  # e.g. a TIFF only Pillow reads: it has no OME/ImageJ axes
        return None
    with tif:
        axes, shape = series.axes.upper(), tuple(series.shape)
        if tif.is_ome:
            info = _from_ome_xml(tif.ome_metadata, axes, shape)
        elif tif.is_imagej:
            info = _from_imagej(tif, axes, shape)
        else:
            return None
        shapes = [tuple(level.shape) for level in series.levels]
    if len(shapes) < 2:
        return info
    # A pyramid (SubIFDs, or levels tifffile finds as reduced series): nothing in the file places its levels,
    # so they lie as napari shows them (the reader opens it as a multiscale layer), each at the first's origin.
    return dataclasses.replace(info, levels=napari_levels(info.scale, (), shapes))


#: Spellings of the micrometre (ImageJ's, plain text) -> OME's symbol.
MICRON_SPELLINGS = {"micron": "µm", "microns": "µm", "um": "µm", "\\u00B5m": "µm"}


def _from_imagej(tif, axes: str, shape: tuple[int, ...]) -> AxesInfo:
    """Axes and pixel size of an ImageJ TIFF: X/Y from the resolution tags, Z from ``spacing``, in its ``unit``."""
    metadata = tif.imagej_metadata or {}
    unit = metadata.get("unit")
    unit = MICRON_SPELLINGS.get(str(unit), str(unit)) if unit not in (None, "", "pixel", "pixels") else None
    sizes: dict[str, float] = {}
    if unit is not None:
        for letter, tag in (("X", "XResolution"), ("Y", "YResolution")):
            found = tif.pages[0].tags.get(tag)
            numerator, denominator = found.value if found is not None else (0, 0)
            if numerator > 0 and denominator > 0:
                sizes[letter] = denominator / numerator  # the tag is pixels per unit
        if float(metadata.get("spacing", 0) or 0) > 0:
            sizes["Z"] = float(metadata["spacing"])
    scale = tuple(sizes.get(letter, 1.0) for letter in axes)
    units = tuple(unit if letter in sizes else None for letter in axes)
    return AxesInfo(axes, shape, "ImageJ metadata", scale=scale, units=units)


def _as_list(value) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _from_ome_xml(xml: str, axes: str, shape: tuple[int, ...]) -> AxesInfo:
    import tifffile

    ome = tifffile.xml2dict(xml).get("OME", {})
    image = (_as_list(ome.get("Image")) or [{}])[0]
    pixels = image.get("Pixels", {})
    channels = _as_list(pixels.get("Channel"))
    n = shape[axes.index("C")] if "C" in axes else 0
    names = tuple(str(c.get("Name", f"C{i}")) for i, c in enumerate(channels[:n])) if len(channels) >= n else ()
    colors = tuple(ome_color(c.get("Color")) for c in channels[:n]) if names else ()
    scale = tuple(float(pixels.get(f"PhysicalSize{a}", 1.0)) if a in "XYZ" else 1.0 for a in axes)
    units = tuple(pixels.get(f"PhysicalSize{a}Unit", "µm") if f"PhysicalSize{a}" in pixels else None for a in axes)
    return AxesInfo(axes, shape, "OME metadata", names, colors, scale, units)


def _ngff_attributes(node) -> dict:
    attributes = dict(node.attrs)
    return attributes.get("ome", attributes)  # NGFF 0.5 nests everything under "ome"


#: What to do with a store whose OME-Zarr metadata does not describe its arrays.
_REEXPORT = "re-export the image (e.g. with ome-zarr-py, or napari-colorquant's .ome.zarr writer)"


def _first_multiscale(node) -> dict | None:
    """The group's first ``multiscales`` entry, checked against the store; None without OME-Zarr metadata."""
    multiscales = _ngff_attributes(node).get("multiscales")
    if not multiscales:
        return None
    first = multiscales[0] if isinstance(multiscales, list) else None
    datasets = first.get("datasets") if isinstance(first, dict) else None
    if not (isinstance(datasets, list) and datasets and all(isinstance(d, dict) and "path" in d for d in datasets)):
        raise ValueError(
            "its OME-Zarr 'multiscales' metadata is malformed (expected a list whose first entry has a non-empty "
            f"'datasets' list of {{'path': ...}}): {_REEXPORT}"
        )
    missing = [str(d["path"]) for d in datasets if str(d["path"]) not in node]
    if missing:
        raise ValueError(
            f"its OME-Zarr 'multiscales' metadata names the array {missing[0]!r}, which the store does not hold: "
            f"{_REEXPORT}"
        )
    return first


def _zarr_axes(path: Path) -> AxesInfo | None:
    import zarr

    node = zarr.open(str(path), mode="r")
    if not isinstance(node, zarr.Group):
        return None
    attributes = _ngff_attributes(node)
    first = _first_multiscale(node)
    if first is None:
        return None
    names = [a["name"] if isinstance(a, dict) else str(a) for a in first.get("axes", [])]
    types = [a.get("type") if isinstance(a, dict) else None for a in first.get("axes", [])]
    array = node[str(first["datasets"][0]["path"])]
    if not names:  # NGFF 0.1/0.2 fixed TCZYX
        names = list("tczyx")[-array.ndim :]
    letters = "".join(
        "C" if t == "channel" else AXIS_LETTERS.get(n.lower(), "Q") for n, t in zip(names, types, strict=True)
    )
    shape = tuple(array.shape)
    channels = attributes.get("omero", {}).get("channels", [])
    n = shape[letters.index("C")] if "C" in letters else 0
    labels = tuple(str(c.get("label", f"C{i}")) for i, c in enumerate(channels[:n])) if len(channels) >= n else ()
    colors = tuple(ome_color(c.get("color")) for c in channels[:n]) if labels else ()
    levels = tuple(
        _placement([*dataset.get("coordinateTransformations", []), *first.get("coordinateTransformations", [])],
                   len(letters))
        for dataset in first["datasets"]
    )  # fmt: skip
    scale = levels[0].scale
    if len(levels) == 1 and not any(levels[0].translation):
        levels = ()  # one level at the origin: the scale says it all
    units = tuple(
        _OME_SYMBOLS.get(a.get("unit"), a.get("unit")) if isinstance(a, dict) else None for a in first.get("axes", [])
    ) or (None,) * len(letters)
    info = AxesInfo(letters, shape, "OME-Zarr metadata", labels, colors, tuple(scale), units, levels)
    return info if samples_channel_axis(node) is None else channels_as_samples(info)


def _placement(transforms: list, ndim: int) -> Level:
    """The scale and translation that a list of NGFF ``scale`` / ``translation`` transformations make, in order."""
    scale, shift = np.ones(ndim), np.zeros(ndim)
    for transform in transforms:
        if transform.get("type") == "scale":
            factor = np.asarray(transform["scale"], float)
            scale, shift = scale * factor, shift * factor
        elif transform.get("type") == "translation":
            shift = shift + np.asarray(transform["translation"], float)
    return Level(tuple(map(float, scale)), tuple(map(float, shift)))


def napari_levels(
    scale: Sequence[float], translation: Sequence[float], shapes: Sequence[tuple[int, ...]]
) -> tuple[Level, ...]:
    """Where each level of a pyramid lies as napari places it: no offset between levels, sizes by shape ratios.

    napari shows pixel ``j`` of level ``i`` at ``scale * j * shape_0 / shape_i + translation``
    (its ``downsample_factors``), so level ``i``'s pixel size is level 0's times the ratio of the shapes and
    every level starts at level 0's origin. An OME-TIFF pyramid says nothing more about its levels, and a
    multiscale napari layer is saved so that each level lies where the user saw it.

    Parameters
    ----------
    scale : sequence of float
        Level 0's pixel size per axis.
    translation : sequence of float
        Level 0's origin per axis (empty: at 0).
    shapes : sequence of tuple of int
        Every level's shape, finest first, each with ``len(scale)`` axes.

    Returns
    -------
    tuple of Level
        One per level.

    Raises
    ------
    ValueError
        When a shape has another number of axes than ``scale``, or an axis of length 0.
    """
    first = np.asarray(shapes[0], float)
    shift = tuple(float(t) for t in translation) or (0.0,) * len(scale)
    levels = []
    for shape in shapes:
        if len(shape) != len(scale) or len(shift) != len(scale) or 0 in shape:
            raise ValueError(f"a pyramid level of shape {tuple(shape)} does not fit pixel sizes {tuple(scale)}")
        factor = first / np.asarray(shape, float)
        levels.append(Level(tuple(float(s * f) for s, f in zip(scale, factor, strict=True)), shift))
    return tuple(levels)


def read_levels(path: str | os.PathLike) -> list:
    """The resolution levels of an OME-TIFF or OME-Zarr image, finest first.

    The finest level is a NumPy array when it is smaller than ``LAZY_BYTES``
    (and the file has one level); otherwise every level is a lazy dask array (:func:`lazy_levels`).

    Parameters
    ----------
    path : str or os.PathLike
        An OME-TIFF file or an OME-Zarr store.

    Returns
    -------
    list of ndarray or dask arrays
        One array per level, finest first.

    Raises
    ------
    ValueError
        If the file cannot be read.
    """
    path = Path(path)
    try:
        if not _is_zarr_path(path):
            import tifffile

            with intact_tiff(path), tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                nbytes = int(np.prod(series.shape)) * series.dtype.itemsize
                if len(series.levels) == 1 and nbytes <= LAZY_BYTES:
                    try:
                        return [series.asarray()]
                    except ValueError as tiff_error:  # a compression (LZW) tifffile decodes only with imagecodecs
                        try:
                            return [read_with_pillow(path)]
                        except Exception:  # not that: tifffile's reason is the one to give
                            raise tiff_error from None
        return lazy_levels(path)
    except DamagedTiffError:
        raise
    except Exception as error:
        raise ValueError(f"{path}: cannot read image ({type(error).__name__}: {error})") from error


def _is_zarr_path(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() == ".zarr"


def lazy_levels(path: str | os.PathLike, finest_only: bool = False) -> list:
    """The resolution levels of a zarr store or a TIFF as dask arrays, finest first; no pixel is read.

    A zarr array is one level; an OME-Zarr image group gives its ``multiscales[0].datasets`` (an RGB(A) image
    stored by channels with its samples last again: :func:`samples_channel_axis`); a TIFF its pyramid's levels
    (one for most files). :func:`read_levels` and :func:`napari_colorquant.files.open_lazy` (the finest level)
    both open files this way.

    Parameters
    ----------
    path : str or os.PathLike
        A zarr store (a folder, or a name ending in ``.zarr``) or a TIFF file.
    finest_only : bool
        Open the finest level only.

    Returns
    -------
    list of dask arrays

    Raises
    ------
    ValueError
        For a zarr group without OME-Zarr ``multiscales`` metadata, or a damaged TIFF (:class:`DamagedTiffError`);
        zarr's and tifffile's own errors are passed on (the callers name the file).
    """
    import dask.array as da
    import zarr

    path = Path(path)
    if _is_zarr_path(path):
        node = zarr.open(str(path), mode="r")
        if not isinstance(node, zarr.Group):
            return [da.from_zarr(node)]
        first = _first_multiscale(node)
        if first is None:
            raise ValueError("a zarr group without OME-Zarr 'multiscales' metadata")
        levels = [da.from_zarr(node[str(d["path"])]) for d in first["datasets"][: 1 if finest_only else None]]
        samples = samples_channel_axis(node)  # an RGB(A) image stored by channels: its samples last again
        return levels if samples is None else [da.moveaxis(level, samples, -1) for level in levels]
    import tifffile

    with intact_tiff(path):
        check_decodable(path)  # otherwise found out only when the chunks are read
        n_levels = 1
        if not finest_only:
            with tifffile.TiffFile(path) as tif:
                n_levels = len(tif.series[0].levels)
        return [da.from_zarr(zarr.open(tifffile.imread(path, aszarr=True, level=i), mode="r")) for i in range(n_levels)]


def decide_channel_axis(
    info: AxesInfo | None, channel_axis: int | None, color_space: str, shape: tuple[int, ...]
) -> tuple[int | None, str | None]:
    """The channel axis to cluster with, and a line saying why.

    An explicit ``channel_axis`` wins; otherwise the metadata's ``C`` axis is
    used (its channels become the features), unless ``color_space`` is
    ``"gray"``. Without metadata nothing is decided here (``None, None``).

    Parameters
    ----------
    info : AxesInfo or None
        From :func:`read_axes` (or a sample's known axes).
    channel_axis : int or None
        What the user asked for.
    color_space : str
        The requested colour space (``"gray"`` clusters each channel's values as gray levels).
    shape : tuple of int
        Shape of the array that will be clustered.

    Returns
    -------
    channel_axis : int or None
    message : str or None
    """
    extra = ""
    if info is not None and tuple(info.shape) == tuple(shape):
        extra = f" × {info.size('Z')} z × {info.size('T')} t"
    if channel_axis is not None:
        if not -len(shape) <= channel_axis < len(shape):
            return channel_axis, None  # the front door reports the bad axis
        return channel_axis, f"{shape[channel_axis]} channels (axis {channel_axis} from --channel-axis){extra}"
    if info is None or tuple(info.shape) != tuple(shape):
        return None, None
    if info.channel_axis is None and info.axes.endswith("S") and info.shape[-1] in (3, 4):
        # the samples of an RGB(A) pixel: clustered as colours, not as gray
        kind = "RGB" if info.shape[-1] == 3 else "RGBA"
        return None, f"{kind} (samples axis S in {info.source}, axes {info.axes}){extra}"
    if info.channel_axis is None or info.size("C") == 1:
        return None, f"gray (no channel axis in {info.source}, axes {info.axes}){extra}"
    if color_space == "gray":
        return None, f"gray as asked: the {info.size('C')} channels of the C axis are pooled{extra}"
    return info.channel_axis, info.describe()


#: Axis letters an OME-TIFF written by tifffile can name.
_OME_WRITABLE = set("TZCYXSQ")


def output_axes(info: AxesInfo | None, shape: tuple[int, ...], image_shape: tuple[int, ...],
                channel_axis: int | None) -> AxesInfo | None:  # fmt: skip
    """What an output array made from an input described by ``info`` holds on each axis.

    The quantized image has the input's axes; the label image has them without the axis whose values
    were the features (the channel axis, or an RGB pixel's ``S``).

    Parameters
    ----------
    info : AxesInfo or None
        The input's axes (:func:`read_axes`).
    shape : tuple of int
        Shape of the output array (labels or quantized image).
    image_shape : tuple of int
        Shape of the input array that was clustered.
    channel_axis : int or None
        The axis clustered as features, or None.

    Returns
    -------
    AxesInfo or None
        None when ``info`` is None or does not describe ``image_shape``, or when the output's axes
        cannot be told (then the output is written without axes, as before).
    """
    if info is None or tuple(info.shape) != tuple(image_shape) or not set(info.axes) <= _OME_WRITABLE:
        return None
    if tuple(shape) == tuple(image_shape):
        return info
    drop = None
    if channel_axis is not None and -len(image_shape) <= channel_axis < len(image_shape):
        drop = channel_axis % len(image_shape)
    elif info.axes.endswith("S"):
        drop = len(image_shape) - 1
    if drop is None or len(shape) != len(image_shape) - 1:
        return None
    keep = [i for i in range(len(image_shape)) if i != drop]
    if tuple(image_shape[i] for i in keep) != tuple(shape) or not "".join(info.axes[i] for i in keep).endswith("YX"):
        return None  # e.g. X held the features: the labels' last axes are not an image plane
    return AxesInfo(
        "".join(info.axes[i] for i in keep),
        tuple(shape),
        info.source,
        scale=tuple(info.scale[i] for i in keep) if info.scale else (),
        units=tuple(info.units[i] for i in keep) if info.units else (),
        levels=tuple(_keep_axes(level, keep) for level in info.levels),
    )


def _keep_axes(level: Level, keep: list[int]) -> Level:
    shift = tuple(level.translation[i] for i in keep) if level.translation else ()
    return Level(tuple(level.scale[i] for i in keep), shift)


#: Length and time units: OME-XML's symbols -> the names OME-Zarr (NGFF) and napari use; others are left out.
UNIT_NAMES = {"µm": "micrometer", "μm": "micrometer", "um": "micrometer", "micron": "micrometer",
              "nm": "nanometer", "mm": "millimeter", "cm": "centimeter", "m": "meter", "pm": "picometer",
              "Å": "angstrom", "s": "second", "ms": "millisecond", "µs": "microsecond", "min": "minute",
              "h": "hour"}  # fmt: skip
#: OME-Zarr's unit names -> OME-XML's symbols (the first spelling above), the spelling AxesInfo keeps.
_OME_SYMBOLS = {name: symbol for symbol, name in reversed(UNIT_NAMES.items())}
UNIT_NAMES.update({name: name for name in set(UNIT_NAMES.values())})  # OME-Zarr spells them out already
#: NGFF axis names and types of the axis letters an OME-Zarr image can hold, in the order NGFF requires.
_NGFF_AXES = {"T": ("t", "time"), "C": ("c", "channel"), "Z": ("z", "space"), "Y": ("y", "space"),
              "X": ("x", "space")}  # fmt: skip
NGFF_VERSION = "0.5"


def ngff_metadata(
    info: AxesInfo, name: str, label_colors: np.ndarray | None = None, labels: bool = False
) -> dict | None:
    """The OME-Zarr (NGFF 0.5) ``ome`` attributes of an image group holding ``info``'s array at ``"0"``.

    With ``info.levels`` the image is a pyramid whose level ``i`` is the array at ``"i"``, each level with
    its own scale and translation (the input's, for outputs of a pyramid); otherwise one level.
    Axes keep their physical pixel sizes (a ``scale`` transformation) and units; channel names and colours
    go into ``omero``. NGFF orders the axes time, channel, then 2 or 3 space axes: an array whose axes
    cannot be written that way (an RGB pixel's samples last, an unknown axis) gets None, and is then
    written as a plain zarr array.

    Parameters
    ----------
    info : AxesInfo
        Axes, pixel sizes, units and channel names of the array to write.
    name : str
        The image's name (``multiscales[0].name``).
    label_colors : ndarray (K, 3), optional
        For a label image: the RGB colour (0..255) of labels 1..K, recorded as ``image-label.colors``.
    labels : bool
        The array is a label image (``image-label``, with ``label_colors`` when given).

    Returns
    -------
    dict or None
        ``{"version": ..., "multiscales": [...], ["omero": ...]}``, or None.

    References
    ----------
    .. [1] Open Microscopy Environment, "OME-Zarr (NGFF) specification 0.5",
       https://ngff.openmicroscopy.org/0.5/
    """
    letters = info.axes
    order = "".join(letter for letter in "TCZYX" if letter in letters)
    if letters != order or not letters.endswith("YX"):
        return None
    axes = []
    for index, letter in enumerate(letters):
        axis_name, kind = _NGFF_AXES[letter]
        axis: dict = {"name": axis_name, "type": kind}
        unit = UNIT_NAMES.get(info.units[index]) if info.units and info.units[index] else None
        if unit and kind != "channel":
            axis["unit"] = unit
        axes.append(axis)
    datasets = [
        {"path": str(index), "coordinateTransformations": _ngff_transforms(level, letters)}
        for index, level in enumerate(info.levels or (Level(tuple(info.scale)),))
    ]
    metadata: dict = {"version": NGFF_VERSION, "multiscales": [{"name": name, "axes": axes, "datasets": datasets}]}
    if "C" in letters and len(info.channel_names) == info.size("C"):
        colors = info.channel_colors or (None,) * len(info.channel_names)
        channels = []
        for label, color in zip(info.channel_names, colors, strict=True):
            channel: dict = {"label": label, "active": True}
            if color is not None:
                channel["color"] = "".join(f"{round(255 * c):02X}" for c in color[:3])
            channels.append(channel)
        metadata["omero"] = {"channels": channels}
    if labels or label_colors is not None:
        colors = [] if label_colors is None else np.clip(np.rint(np.asarray(label_colors, float)), 0, 255).astype(int)
        metadata["image-label"] = {
            "colors": [{"label-value": i, "rgba": [*map(int, rgb[:3]), 255]} for i, rgb in enumerate(colors, start=1)]
        }
    return metadata


def _ngff_transforms(level: Level, letters: str) -> list[dict]:
    """One dataset's ``coordinateTransformations``: its scale, and its translation when it has one (none on C)."""
    scale = [float(s) for s in level.scale] if level.scale else [1.0] * len(letters)
    shift = [float(t) for t in level.translation] if level.translation else []
    if "C" in letters:
        scale[letters.index("C")] = 1.0
        if shift:
            shift[letters.index("C")] = 0.0
    transforms = [{"type": "scale", "scale": scale}]
    if any(shift):
        transforms.append({"type": "translation", "translation": shift})
    return transforms


def ngff_label_colors(path: str | os.PathLike) -> dict | None:
    """The label colours of an OME-Zarr label image (``image-label``), or None when it is not one.

    Parameters
    ----------
    path : str or os.PathLike
        An OME-Zarr store.

    Returns
    -------
    dict or None
        ``{label value: (r, g, b, a)}`` in 0..1 (empty when the file names no colours); None for an image
        that is not a label image, or a store that cannot be read.
    """
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
    except Exception:  # not a zarr store: not a label image either
        return None
    if not isinstance(node, zarr.Group):
        return None
    marked = _ngff_attributes(node).get("image-label")
    if not isinstance(marked, dict):
        return None
    colors = {}
    for entry in marked.get("colors") or []:
        if isinstance(entry, dict) and "label-value" in entry and len(entry.get("rgba") or ()) == 4:
            colors[int(entry["label-value"])] = tuple(float(c) / 255 for c in entry["rgba"])
    return colors


def ome_tiff_metadata(info: AxesInfo) -> dict:
    """``tifffile.imwrite(..., ome=True, metadata=...)`` keywords that record ``info`` in OME-XML.

    Parameters
    ----------
    info : AxesInfo
        Axes, pixel sizes and units, channel names of the array to write.

    Returns
    -------
    dict
        ``axes``, ``PhysicalSize{X,Y,Z}`` (and their units) where known, and the channel names.
    """
    metadata: dict = {"axes": info.axes}
    for index, letter in enumerate(info.axes):
        if letter in "XYZ" and info.units and info.units[index]:
            metadata[f"PhysicalSize{letter}"] = float(info.scale[index])
            metadata[f"PhysicalSize{letter}Unit"] = info.units[index]
    if "C" in info.axes and len(info.channel_names) == info.size("C"):
        metadata["Channel"] = {"Name": list(info.channel_names)}
    return metadata


#: OME-Zarr has no axis for an RGB(A) pixel's samples: they are written as its channel axis ``c`` (named and coloured
#: red, green, blue, alpha, with OMERO rendering that composites them), and the image group says so under this key,
#: so that reading the store gives the samples last again (an RGB image, not three channels).
SAMPLES_KEY = "napari-colorquant"
_SAMPLE_NAMES = ("red", "green", "blue", "alpha")
_SAMPLE_COLORS = ((1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0), (1.0, 1.0, 1.0, 1.0))


def samples_as_channels(info: AxesInfo) -> tuple[AxesInfo, int] | None:
    """An RGB(A) image's axes with its samples (``S``, last) as a channel axis where OME-Zarr puts one.

    Parameters
    ----------
    info : AxesInfo
        Axes ending in ``S`` (3 or 4 samples), e.g. ``"YXS"`` or ``"TZYXS"``.

    Returns
    -------
    (AxesInfo, int) or None
        The axes with ``C`` after ``T`` (if any) and before the space axes, its channels named and coloured
        red, green, blue (, alpha); and the index the samples move to (``np.moveaxis(array, -1, index)``).
        None when ``info`` has no such samples axis, or already has a channel axis.
    """
    if not info.axes.endswith("S") or info.shape[-1] not in (3, 4) or "C" in info.axes or len(info.shape) < 3:
        return None
    last = len(info.axes) - 1
    at = 1 if info.axes.startswith("T") else 0
    order = [*range(at), last, *range(at, last)]  # new axis i is old axis order[i]

    def moved(values: Sequence) -> tuple:
        return tuple(values[i] for i in order) if len(values) == len(info.axes) else tuple(values)

    n = info.shape[-1]
    channels = AxesInfo(
        "".join(info.axes[i] for i in order).replace("S", "C"), moved(info.shape), info.source, _SAMPLE_NAMES[:n],
        _SAMPLE_COLORS[:n], moved(info.scale), moved(info.units),
        tuple(Level(moved(level.scale), moved(level.translation)) for level in info.levels),
    )  # fmt: skip
    return channels, at


def channels_as_samples(info: AxesInfo) -> AxesInfo:
    """The inverse of :func:`samples_as_channels`: the ``C`` axis moved last as an RGB(A) pixel's samples ``S``.

    Parameters
    ----------
    info : AxesInfo
        Axes with a ``C`` axis of 3 or 4 channels (read from a store written with :func:`samples_as_channels`).

    Returns
    -------
    AxesInfo
        Without channel names or colours; the samples have no pixel size, unit or placement of their own.
    """
    at = info.axes.index("C")
    order = [i for i in range(len(info.axes)) if i != at] + [at]

    def moved(values: Sequence, fill) -> tuple:
        if len(values) != len(info.axes):
            return tuple(values)
        return (*(values[i] for i in order[:-1]), fill)

    return AxesInfo(
        "".join(info.axes[i] for i in order[:-1]) + "S", moved(info.shape, info.shape[at]), info.source,
        scale=moved(info.scale, 1.0), units=moved(info.units, None),
        levels=tuple(Level(moved(level.scale, 1.0), moved(level.translation, 0.0)) for level in info.levels),
    )  # fmt: skip


def samples_channel_axis(group: Any) -> int | None:
    """The axis of an OME-Zarr image group's arrays that holds RGB(A) samples (see :data:`SAMPLES_KEY`), or None.

    Parameters
    ----------
    group : zarr.Group
        An OME-Zarr image.

    Returns
    -------
    int or None
        The index of its ``c`` axis when the group was written so, with 3 or 4 channels.
    """
    attributes = dict(group.attrs)
    marker = attributes.get(SAMPLES_KEY)
    if not isinstance(marker, dict) or marker.get("samples") != "c":
        return None
    multiscale = _first_multiscale(group) or {}
    names = [axis.get("name") if isinstance(axis, dict) else axis for axis in multiscale.get("axes", [])]
    if "c" not in names:
        return None
    at = names.index("c")
    first = group[str(multiscale["datasets"][0]["path"])]
    return at if first.ndim == len(names) and first.shape[at] in (3, 4) else None


def ngff_samples_rendering(metadata: dict, dtype: Any) -> dict:
    """OME-Zarr attributes of an RGB(A) image written by channels, with OMERO rendering that shows its colours.

    Each channel (red, green, blue) in its own colour over the dtype's whole range (0..1 for floats), the
    channels composited (``rdefs.model = "color"``); alpha not shown.

    Parameters
    ----------
    metadata : dict
        :func:`ngff_metadata` of :func:`samples_as_channels`' axes.
    dtype : numpy dtype
        The image's dtype.

    Returns
    -------
    dict
        A copy with ``omero`` rendering settings.
    """
    dtype = np.dtype(dtype)
    low, high = (float(np.iinfo(dtype).min), float(np.iinfo(dtype).max)) if dtype.kind in "iu" else (0.0, 1.0)
    window = {"min": low, "max": high, "start": max(low, 0.0), "end": high}
    channels = [
        {**channel, "window": dict(window), "active": channel.get("label") != "alpha"}
        for channel in metadata.get("omero", {}).get("channels", [])
    ]
    return {**metadata, "omero": {"channels": channels, "rdefs": {"model": "color"}}}

"""Reading images and writing results: indexed (palette) PNG, TIFF labels, model JSON.

An indexed PNG stores one palette index per pixel at the smallest bit depth
that holds K colours (1, 2, 4 or 8 bits), so its size is the practical answer
to "how much memory does quantizing save".
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image

from .colorspaces import CHROMA_SPACES
from .model import ClusterModel
from .ome import (
    SAMPLES_KEY,
    AxesInfo,
    DamagedTiffError,
    intact_tiff,
    lazy_levels,
    ngff_metadata,
    ngff_samples_rendering,
    ome_tiff_metadata,
    samples_as_channels,
)
from .tiff_codecs import read_with_pillow

TIFF_SUFFIXES = (".tif", ".tiff")
ZARR_SUFFIXES = (".zarr",)
PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG/JPEG/BMP/WebP (Pillow) or TIFF/OME-TIFF (tifffile) file into an array.

    Parameters
    ----------
    path : str or os.PathLike
        The image file.

    Returns
    -------
    ndarray
        The pixels as stored (e.g. ``(Y, X, 3)`` uint8 for an RGB photo, every page and channel of a TIFF).

    Raises
    ------
    ValueError
        If the file is missing, unreadable or of an unsupported type.
    """
    path = Path(path)
    suffix = "".join(path.suffixes[-2:]).lower() if path.name.lower().endswith(".ome.tif") else path.suffix.lower()
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not an image file (zarr stores are read when their name ends in .zarr)")
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        if suffix in TIFF_SUFFIXES or suffix in (".ome.tif",):
            return _read_tiff(path)
        if suffix in PIL_SUFFIXES:
            with Image.open(path) as image:
                if image.mode == "1":
                    image = image.convert("L")  # bilevel: gray 0 / 255, not a colour photo
                if image.mode in ("P", "PA", "CMYK", "YCbCr", "LA"):
                    image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
                return np.asarray(image)
    except DamagedTiffError:
        raise
    except Exception as error:
        raise ValueError(f"{path}: cannot read image ({type(error).__name__}: {error})") from error
    raise ValueError(
        f"{path}: unsupported file type {suffix or '(none)'}; accepted: " + ", ".join(TIFF_SUFFIXES + PIL_SUFFIXES)
    )


def open_lazy(path: str | os.PathLike) -> Any:
    """Open a zarr array / OME-Zarr image or a TIFF as a dask array, without reading the pixels.

    OME-Zarr groups give their finest level (``multiscales[0].datasets[0]``), a TIFF pyramid its full image: the
    first of :func:`napari_colorquant.ome.lazy_levels`, which :func:`napari_colorquant.ome.read_levels` uses too
    (every level, a small TIFF read at once).

    Parameters
    ----------
    path : str or os.PathLike
        A ``.zarr`` store (array or OME-Zarr group) or a ``.tif``/``.tiff`` file.

    Returns
    -------
    dask array
        Chunked as stored; nothing is read until it is computed.

    Raises
    ------
    ValueError
        If the path is missing or not a readable zarr / TIFF image, or dask/zarr are not installed.
    """
    import_lazy_stack(f"{Path(path).name}: opening zarr stores, or any input lazily,")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix not in ZARR_SUFFIXES and suffix not in TIFF_SUFFIXES:
        raise ValueError(f"{path}: only zarr and TIFF files can be opened lazily, not {suffix or '(none)'}")
    try:
        return lazy_levels(path, finest_only=True)[0]
    except DamagedTiffError:
        raise
    except ValueError as error:
        raise ValueError(f"{path}: cannot open lazily ({error})") from error
    except Exception as error:
        raise ValueError(f"{path}: cannot open lazily ({type(error).__name__}: {error})") from error


LAZY_EXTRA_HINT = 'pip install "napari-colorquant[lazy]" (or "napari-colorquant[all]", which adds napari)'


def import_lazy_stack(what: str) -> ModuleType:
    """``dask.array``, after checking that dask and zarr (optional dependencies) are installed.

    Parameters
    ----------
    what : str
        What needs them, for the error message (e.g. ``"reading a zarr store"``).

    Returns
    -------
    module
        The ``dask.array`` module.

    Raises
    ------
    ValueError
        Naming the extra to install when either is missing.
    """
    try:
        import dask.array as da
        import zarr  # noqa: F401
    except ImportError as error:
        raise ValueError(
            f"{what} needs the optional packages dask and zarr ({error.name or error} is not installed): "
            f"{LAZY_EXTRA_HINT}"
        ) from error
    return da


def _read_tiff(path: Path) -> np.ndarray:
    """tifffile first (nD, OME, 16-bit); Pillow, every page, for compressions (LZW) that need a codec tifffile lacks."""
    import tifffile

    try:
        with intact_tiff(path):
            return tifffile.imread(path)
    except DamagedTiffError:
        raise
    except ValueError as tiff_error:
        try:
            return read_with_pillow(path)
        except Exception:
            raise tiff_error from None


def palette_bits(n_colours: int) -> int:
    """Bit depth an indexed PNG uses for ``n_colours`` palette entries (1, 2, 4 or 8).

    Parameters
    ----------
    n_colours : int
        Palette entries (1..256).

    Returns
    -------
    int
        The smallest of 1, 2, 4, 8 with ``2**bits >= n_colours``.

    Raises
    ------
    ValueError
        For more than 256 colours.
    """
    if n_colours > 256:
        raise ValueError(f"an indexed PNG holds at most 256 colours, got {n_colours}")
    return 1 if n_colours <= 2 else 2 if n_colours <= 4 else 4 if n_colours <= 16 else 8


def can_write_indexed(model: ClusterModel, labels: np.ndarray) -> bool:
    """True when the quantized image is exactly ``palette[labels]`` as an 8-bit 2D gray/RGB image.

    Parameters
    ----------
    model : ClusterModel
        The fitted model (its palette, colour space and input dtype).
    labels : ndarray
        The run's label image.

    Returns
    -------
    bool
        False for chroma-only spaces, non-uint8 or non gray/RGB inputs, labels that are not 2-D, or more than
        256 palette entries (K, plus one for unlabelled pixels).
    """
    return (
        model.dtype == "uint8"
        and model.input_kind in ("gray", "rgb")
        and model.color_space not in CHROMA_SPACES
        and labels.ndim == 2
        and model.n_clusters + int((labels == 0).any()) <= 256
    )


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place only if the block succeeds.

    An existing file at ``path`` is replaced in one step (``os.replace``) or left untouched if the block
    raises; the temporary file is removed either way.

    Parameters
    ----------
    path : str or os.PathLike
        The final file.

    Yields
    ------
    Path
        Where to write (same folder, so the move is atomic).
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes owner-only files
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _save_png(image: Image.Image, path: Path, **options: Any) -> None:
    """Save a Pillow image as PNG, naming the format to Pillow only when the file name does not say it.

    Pillow loads its BMP, GIF, JPEG and PPM plugins as well whenever a format is named (the JPEG plugin
    imports ``subprocess``): about 4 ms of a fresh CLI process that writes one PNG. The file is the same.

    Parameters
    ----------
    image : PIL.Image.Image
        The image to write.
    path : Path
        The file to write.
    **options
        Pillow's PNG options (``compress_level``, ``bits``, ``transparency``, ``optimize``).
    """
    image.save(path, format=None if path.suffix.lower() == ".png" else "PNG", **options)


def write_indexed_png(path: str | os.PathLike, labels: np.ndarray, model: ClusterModel) -> Path:
    """Write labels as an indexed PNG whose palette is the model's cluster colours.

    Label ``i`` (1..K) becomes palette entry ``i - 1``; if there are unlabelled
    (0) pixels they get an extra, fully transparent entry. The PNG's bit depth
    is the smallest that holds the palette.

    Parameters
    ----------
    path : str or os.PathLike
        The PNG to write (atomically).
    labels : ndarray (Y, X)
        Labels 0..K.
    model : ClusterModel
        Gives the palette (its cluster colours).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If :func:`can_write_indexed` is False for this model and labels.
    """
    if not can_write_indexed(model, labels):
        raise ValueError("an indexed PNG needs a 2D uint8 gray/RGB result with at most 256 colours (not chroma-only)")
    palette = label_display_colors(model).astype(np.uint8)  # not None: can_write_indexed holds
    has_background = bool((labels == 0).any())
    index = labels.astype(np.int64) - 1
    if has_background:
        index[labels == 0] = model.n_clusters
        palette = np.concatenate([palette, np.zeros((1, 3), np.uint8)])
    image = Image.fromarray(index.astype(np.uint8), mode="P")
    image.putpalette(palette.reshape(-1).tolist(), rawmode="RGB")
    # zlib level 1: 25-40 % larger than optimize=True but ~30x faster, so writing never outlasts the fit
    options = {"compress_level": 1, "bits": palette_bits(len(palette))}
    if has_background:
        options["transparency"] = len(palette) - 1
    with atomic_path(path) as temporary:
        _save_png(image, temporary, **options)
    return Path(path)


def write_labels_tiff(path: str | os.PathLike, labels: np.ndarray, axes: AxesInfo | None = None) -> Path:
    """Write a label image (any dimensionality) as a compressed TIFF, in the smallest integer dtype that fits.

    Parameters
    ----------
    path : str or os.PathLike
        The TIFF to write (atomically).
    labels : ndarray of int
        The label image.
    axes : AxesInfo, optional
        The labels' axes and pixel sizes (:func:`napari_colorquant.ome.output_axes`): written as OME-XML,
        so that the file opens as a Z stack / time series with its pixel size, not as unnamed pages.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If the labels are not integers.
    """
    import tifffile

    labels = np.asarray(labels)
    labels = labels.astype(smallest_label_dtype(labels), copy=False)
    with atomic_path(path) as temporary:
        tifffile.imwrite(
            temporary, labels, compression="zlib", compressionargs={"level": 1}, photometric="minisblack",
            **_ome_keywords(axes, labels.ndim),
        )  # fmt: skip
    return Path(path)


def _ome_keywords(axes: AxesInfo | None, ndim: int) -> dict:
    """tifffile keywords that record ``axes`` as OME-XML, or none (a plain TIFF) when they do not fit the array."""
    if axes is None or len(axes.axes) != ndim or not axes.axes.endswith(("YX", "YXS")):
        return {}  # OME-TIFF planes are Y, X (and an RGB pixel's samples)
    return {"ome": True, "metadata": ome_tiff_metadata(axes)}


def tiff_suffix(ndim: int, axes: AxesInfo | None) -> str:
    """``".ome.tif"`` when a TIFF of ``ndim`` axes described by ``axes`` is written as OME-TIFF, else ``".tif"``.

    OME-TIFF files are named ``*.ome.tif`` so that readers (this plugin's napari reader among them) know to
    read the axes and pixel sizes in their OME-XML; napari's own reader of a plain ``.tif`` ignores them.

    Parameters
    ----------
    ndim : int
        Number of axes of the array to write.
    axes : AxesInfo or None
        What each axis holds (:func:`napari_colorquant.ome.output_axes`).

    Returns
    -------
    str
    """
    return ".ome.tif" if _ome_keywords(axes, ndim) else ".tif"


def write_image(path: str | os.PathLike, image: np.ndarray, axes: AxesInfo | None = None) -> Path:
    """Write an image as TIFF (``.tif``/``.tiff``: any shape and dtype) or PNG (``.png``: see :func:`write_png`).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (atomically); its suffix chooses the format.
    image : ndarray
        The pixels.
    axes : AxesInfo, optional
        For a TIFF: the image's axes, pixel sizes and channel names, written as OME-XML.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        For any other suffix (no file gets bytes of another format), or an image a PNG cannot hold.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        return write_png(path, image)
    if suffix not in TIFF_SUFFIXES:
        raise ValueError(f"cannot write {suffix or 'a file without suffix'} ({path.name}); {PNG_HELP}")
    import tifffile

    image = np.asarray(image)
    with atomic_path(path) as temporary:
        # TIFF RGB(A) holds 8- and 16-bit samples; written as gray, a (Y, X, 3) image is Y pages of X x 3 pixels
        rgb = image.ndim == 3 and image.shape[-1] in (3, 4) and image.dtype in (np.uint8, np.uint16)
        keywords = _ome_keywords(axes, image.ndim)
        if keywords:
            rgb = axes.axes.endswith("S")  # the file's axes say whether the last axis is an RGB pixel's samples
        tifffile.imwrite(
            temporary, image, compression="zlib", photometric="rgb" if rgb else "minisblack", **keywords
        )  # fmt: skip
    return path


@dataclass(frozen=True)
class ZarrOptions:
    """What a zarr store holds besides its array's pixels (:func:`write_zarr`, :func:`save_zarr`).

    Attributes
    ----------
    axes : AxesInfo, optional
        What each axis of the array holds; without it (or when OME-Zarr cannot express it) the store
        is a plain zarr array.
    labels : bool
        The array is a label image: an OME-Zarr store says so (``image-label``), so it opens as labels.
    label_colors : ndarray (K, 3), optional
        RGB colours (0..255) of labels 1..K for ``image-label`` (see :func:`label_display_colors`).
    levels : sequence of array_like or dask arrays
        The coarser levels of an OME-Zarr pyramid, one per entry of ``axes.levels`` after the first, each
        written chunk by chunk as the array is. A plain zarr array (axes OME-Zarr cannot hold) has one level.
    """

    axes: AxesInfo | None = None
    labels: bool = False
    label_colors: np.ndarray | None = None
    levels: Sequence[ArrayLike] = ()


def _checked_options(options: Any) -> ZarrOptions:
    if not isinstance(options, ZarrOptions):
        raise TypeError(
            f"options must be a ZarrOptions (axes, labels, label_colors, levels), not {type(options).__name__}: "
            "e.g. write_zarr(path, array, ZarrOptions(axes=axes))"
        )
    return options


def _zarr_codecs(dtype: np.dtype) -> dict:
    """``to_zarr`` keywords: Blosc LZ4, byte shuffling for multi-byte values only, every chunk written."""
    import zarr

    shuffle = "noshuffle" if dtype.itemsize == 1 else "shuffle"
    if int(zarr.__version__.split(".")[0]) >= 3:
        return {
            "compressors": [zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle=shuffle)],
            "config": {"write_empty_chunks": True},
        }
    from numcodecs import Blosc

    mode = Blosc.NOSHUFFLE if shuffle == "noshuffle" else Blosc.SHUFFLE
    return {"compressor": Blosc(cname="lz4", clevel=5, shuffle=mode), "write_empty_chunks": True}


def write_zarr(path: str | os.PathLike, array: ArrayLike, options: ZarrOptions = ZarrOptions()) -> Path:
    """Write a (dask) array to a zarr store chunk by chunk; memory stays bounded by the chunk size.

    Chosen for speed (measured on 8 MiB uint8 label chunks of a uint16 volume): Blosc LZ4, with byte
    shuffling for multi-byte values only (bit shuffling cost 0.6 ns per byte more for a ratio of
    25.7 instead of 25.6), and every chunk written even when it holds only the fill value: zarr 3's
    check for such chunks cost 17 ms per chunk, six times the compression and the write together.

    With ``options.axes`` that OME-Zarr can hold (:func:`~napari_colorquant.ome.ngff_metadata`), the store is
    an OME-Zarr image instead: a group whose NGFF attributes keep the axes, pixel sizes, units and channel
    names, with the array as its level ``"0"`` (and the axes' names as its ``dimension_names``), and
    ``options.levels`` as the coarser levels ``"1"``, ``"2"``… of a pyramid whose placements ``axes.levels``
    gives. OME-Zarr has no axis for an RGB(A) pixel's samples (axes ending in ``S``): they are written as the
    image's channel axis ``c``, named and coloured red, green, blue (alpha) with OMERO rendering that composites
    them, and the group says so (:data:`~napari_colorquant.ome.SAMPLES_KEY`), so that this package reads the
    store back as the RGB(A) image it was (:func:`~napari_colorquant.ome.read_levels`, :func:`open_lazy`).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.zarr`` store (overwritten).
    array : array_like or dask array
        A dask array is written as chunked; anything else is wrapped in one.
    options : ZarrOptions
        Its axes, whether it is a label image, the labels' colours and a pyramid's coarser levels.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        When levels are given for an OME-Zarr image whose ``axes.levels`` name another number of levels.
    TypeError
        When ``options`` is not a :class:`ZarrOptions`.
    """
    import dask.array as da
    import zarr

    axes, levels = _checked_options(options).axes, options.levels
    path = Path(path)
    data = da.asarray(array)  # a dask array stays as it is
    codecs = _zarr_codecs(data.dtype)
    samples = _samples_as_channels(data.shape, axes)
    if samples is not None:  # OME-Zarr has no axis for an RGB(A) pixel's samples: they are its channels
        axes, at = samples
        data, levels = da.moveaxis(data, -1, at), [da.moveaxis(da.asarray(level), -1, at) for level in levels]
    metadata = _zarr_image_metadata(path.name, data.shape, axes, options.labels, options.label_colors)
    if metadata is None:
        if _describes(axes, data.shape) and "compressors" in codecs:  # zarr 3 arrays name their axes
            codecs["dimension_names"] = [letter.lower() for letter in axes.axes]
        data.to_zarr(str(path), overwrite=True, **codecs)
        return path
    datasets = metadata["multiscales"][0]["datasets"]
    if len(datasets) != 1 + len(levels) and (levels or axes.levels):
        raise ValueError(f"{len(levels) + 1} levels to write, but their axes describe {len(datasets)} levels")
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    if samples is not None:
        metadata = ngff_samples_rendering(metadata, data.dtype)
        group.attrs[SAMPLES_KEY] = {"samples": "c"}
    group.attrs["ome"] = metadata
    names = [axis["name"] for axis in metadata["multiscales"][0]["axes"]]
    for dataset, level in zip(datasets, (data, *levels), strict=True):
        da.asarray(level).to_zarr(str(path), component=dataset["path"], overwrite=True, dimension_names=names,
                                  **codecs)  # fmt: skip
    return path


def save_zarr(path: str | os.PathLike, array: ArrayLike, options: ZarrOptions = ZarrOptions()) -> Path:
    """:func:`write_zarr` into a folder beside ``path``, then moved into place: a failed write leaves no half store.

    An existing zarr store at ``path`` is replaced (napari's save dialog asked); anything else there is
    never replaced or deleted.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.zarr`` (or ``.ome.zarr``) store to write.
    array : array_like or dask array
        Written chunk by chunk.
    options : ZarrOptions
        As for :func:`write_zarr`.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If something other than a zarr store is at ``path``, or as :func:`write_zarr`.
    TypeError
        When ``options`` is not a :class:`ZarrOptions`.
    """
    import shutil

    from .outputs import is_zarr_store

    _checked_options(options)  # before anything is made on disk
    path = Path(path)
    if os.path.lexists(path) and (path.is_symlink() or not path.is_dir() or not is_zarr_store(path)):
        raise ValueError(f"{path} exists and is not a zarr store; it is never replaced: choose another name")
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        write_zarr(folder / path.name, array, options)
        if path.exists():
            os.replace(path, folder / ".replaced")
        os.replace(folder / path.name, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return path


def zarr_store_suffix(shape: tuple[int, ...], axes: AxesInfo | None) -> str:
    """``".ome.zarr"`` when :func:`write_zarr` writes an array of ``shape`` with ``axes`` as OME-Zarr, else ``".zarr"``.

    Parameters
    ----------
    shape : tuple of int
        The array's shape.
    axes : AxesInfo or None
        What each of its axes holds.

    Returns
    -------
    str
    """
    samples = _samples_as_channels(shape, axes)
    if samples is not None:
        shape, axes = samples[0].shape, samples[0]
    return ".ome.zarr" if _zarr_image_metadata("image.zarr", shape, axes) is not None else ".zarr"


def _samples_as_channels(shape: tuple[int, ...], axes: AxesInfo | None) -> tuple[AxesInfo, int] | None:
    """:func:`~napari_colorquant.ome.samples_as_channels` of an RGB(A) array's axes when OME-Zarr can hold them so."""
    if not _describes(axes, shape):
        return None
    samples = samples_as_channels(axes)
    if samples is None or _zarr_image_metadata("image.zarr", samples[0].shape, samples[0]) is None:
        return None
    return samples


def _describes(axes: AxesInfo | None, shape: tuple[int, ...]) -> bool:
    return axes is not None and tuple(axes.shape) == tuple(shape) and len(axes.axes) == len(shape)


def _zarr_image_metadata(
    name: str, shape: tuple[int, ...], axes: AxesInfo | None, labels: bool = False, label_colors: Any = None
) -> dict | None:
    """The OME-Zarr attributes for ``axes`` when they describe ``shape`` and zarr 3 (NGFF 0.5) can write them."""
    import zarr

    if not _describes(axes, shape) or int(zarr.__version__.split(".")[0]) < 3:
        return None
    stem = name[: -len(".zarr")] if name.endswith(".zarr") else name
    return ngff_metadata(axes, stem.removesuffix(".ome"), label_colors, labels)


def label_display_colors(model: ClusterModel) -> np.ndarray | None:
    """RGB colours (0..255) of labels 1..K as the quantized image shows them, for 8-bit gray or RGB models.

    Parameters
    ----------
    model : ClusterModel

    Returns
    -------
    ndarray (K, 3) or None
        None where the palette is not a displayable colour (other dtypes, channel stacks, chroma-only spaces).
    """
    if model.dtype != "uint8" or model.input_kind not in ("gray", "rgb") or model.color_space in CHROMA_SPACES:
        return None
    palette = np.clip(np.rint(model.palette), 0, 255)
    return np.repeat(palette, 3, axis=1) if palette.shape[1] == 1 else palette[:, :3]


def write_model(path: str | os.PathLike, model: ClusterModel) -> Path:
    """Write a model as indented JSON (never pickle).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.json`` file to write (atomically).
    model : ClusterModel
        The model; :meth:`ClusterModel.to_dict` is what is written.

    Returns
    -------
    Path
        ``path``.
    """
    with atomic_path(path) as temporary:
        Path(temporary).write_text(model.to_json(indent=1) + "\n", encoding="utf-8")
    return Path(path)


def read_model(path: str | os.PathLike) -> ClusterModel:
    """Read and validate a model JSON file.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`write_model` (or the CLI / widget).

    Returns
    -------
    ClusterModel

    Raises
    ------
    ValueError
        If the file cannot be read, is not JSON, or does not describe a valid model.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read model file ({error})") from error
    try:
        return ClusterModel.from_json(text)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


PNG_HELP = (
    "napari-colorquant writes .png (2-D gray or RGB(A), 8 or 16 bits; clusters as an indexed PNG whose "
    "palette index is the label), .tif/.tiff (any shape and dtype) and, in napari, .zarr / .ome.zarr "
    "(chunk by chunk, for layers too large for memory)"
)


def smallest_label_dtype(labels: np.ndarray) -> np.dtype:
    """The smallest integer dtype holding every label (unsigned unless a label is negative).

    Parameters
    ----------
    labels : ndarray of int
        A label image.

    Returns
    -------
    numpy.dtype
        One of uint8/16/32/64 or int8/16/32/64.

    Raises
    ------
    ValueError
        For non-integer labels, or labels beyond 64-bit integers.
    """
    labels = np.asarray(labels)
    if labels.dtype.kind not in "biu":
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    if labels.size == 0:
        return np.dtype(np.uint8)
    low, high = int(labels.min()), int(labels.max())
    kinds = (np.uint8, np.uint16, np.uint32, np.uint64) if low >= 0 else (np.int8, np.int16, np.int32, np.int64)
    for kind in kinds:
        info = np.iinfo(kind)
        if info.min <= low and high <= info.max:
            return np.dtype(kind)
    raise ValueError(f"labels from {low} to {high} do not fit a 64-bit integer")


def write_labels_png(path: str | os.PathLike, labels: np.ndarray, colors: np.ndarray | None = None) -> Path:
    """Write a 2-D label image as an indexed PNG whose palette index *is* the label.

    Entry 0 (background) is fully transparent; entry ``i`` is ``colors[i - 1]`` for the
    model's clusters, and mid-gray for labels painted above them. Reading the file with
    Pillow (``np.asarray(Image.open(path))``) gives the labels back exactly.

    Parameters
    ----------
    path : str or os.PathLike
        The PNG to write (atomically).
    labels : ndarray (Y, X) of int
        Labels 0..255.
    colors : ndarray (K, 3) of uint8, optional
        The clusters' colours; default: every label mid-gray.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If the labels are not 2-D integers in 0..255 (a PNG palette has 256 entries).
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"a PNG holds one 2-D image; these labels have shape {labels.shape}: save as .tif")
    if labels.dtype.kind not in "biu":
        raise ValueError(f"labels must be integers, got {labels.dtype}: save as .tif")
    high = int(labels.max()) if labels.size else 0
    if labels.size and (int(labels.min()) < 0 or high > 255):
        raise ValueError(
            f"an indexed PNG holds labels 0..255; these go from {int(labels.min())} to {high}: save as .tif"
        )
    known = np.zeros((0, 3), np.uint8) if colors is None else np.asarray(colors, np.float64)
    if known.ndim == 2 and known.shape[1] == 1:
        known = np.repeat(known, 3, axis=1)
    known = np.clip(np.rint(known), 0, 255).astype(np.uint8)[:255]
    n_entries = max(high, known.shape[0]) + 1
    palette = np.full((n_entries, 3), 128, np.uint8)
    palette[0] = 0
    palette[1 : 1 + known.shape[0]] = known
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette(palette.reshape(-1).tolist(), rawmode="RGB")
    with atomic_path(path) as temporary:
        _save_png(image, temporary, optimize=True, bits=palette_bits(n_entries), transparency=0)
    return Path(path)


def palette_index(image: np.ndarray, colors: np.ndarray) -> np.ndarray | None:
    """Index of each pixel's colour in ``colors`` (uint8 rows), or None if any pixel is not exactly one of them.

    Parameters
    ----------
    image : ndarray (Y, X) or (Y, X, C) of uint8
        The pixels.
    colors : ndarray (K, C) of uint8
        The palette.

    Returns
    -------
    ndarray (Y, X) of uint8 or None
        Palette index of every pixel; None if some pixel is not a palette colour.
    """
    image = np.asarray(image)
    colors = np.asarray(colors)
    if image.dtype != np.uint8 or colors.shape[0] == 0 or colors.shape[0] > 256:
        return None
    width = 1 if image.ndim == 2 else image.shape[-1]
    if colors.shape[1] != width:
        return None
    weights = (256 ** np.arange(width)).astype(np.int64)
    keys = image.reshape(-1, width).astype(np.int64) @ weights
    color_keys = colors.astype(np.int64) @ weights
    order = np.argsort(color_keys)
    position = np.clip(np.searchsorted(color_keys[order], keys), 0, len(order) - 1)
    if not np.array_equal(color_keys[order][position], keys):
        return None
    return order[position].reshape(image.shape[:2]).astype(np.uint8)


def write_quantized_png(path: str | os.PathLike, image: np.ndarray, colors: np.ndarray | None = None) -> Path:
    """Write the pixels of a quantized image as PNG: indexed when every pixel is exactly one of ``colors``.

    The pixels are written as they are, never re-predicted: an edited image keeps its edits (as a
    truecolour PNG when an edit is not a palette colour).

    Parameters
    ----------
    path : str or os.PathLike
        The PNG to write (atomically).
    image : ndarray
        The quantized image.
    colors : ndarray (K, C) of uint8, optional
        The palette to try; without it the image is written as truecolour / gray.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If a PNG cannot hold the image (see :func:`write_png`).
    """
    image = np.asarray(image)
    if colors is not None and image.dtype == np.uint8 and image.ndim in (2, 3):
        rows = np.clip(np.rint(np.asarray(colors, np.float64)), 0, 255).astype(np.uint8)
        index = palette_index(image, rows) if rows.ndim == 2 else None
        if index is not None and rows.shape[1] in (1, 3):
            palette = np.repeat(rows, 3, axis=1) if rows.shape[1] == 1 else rows
            indexed = Image.fromarray(index, mode="P")
            indexed.putpalette(palette.reshape(-1).tolist(), rawmode="RGB")
            with atomic_path(path) as temporary:
                _save_png(indexed, temporary, optimize=True, bits=palette_bits(len(palette)))
            return Path(path)
    return write_png(path, image)


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write a 2-D gray or RGB(A) image of 8 or 16 bits as PNG (16-bit colour through OpenCV, which Pillow lacks).

    Parameters
    ----------
    path : str or os.PathLike
        The PNG to write (atomically).
    image : ndarray (Y, X), (Y, X, 3) or (Y, X, 4) of uint8 or uint16, or (Y, X) of bool
        The pixels (RGB order); a bool image is a bilevel (1-bit) PNG, which reads back as bool.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        For float or other dtypes, and for shapes a PNG cannot hold, saying what to use instead.
    """
    image = np.asarray(image)
    shape_ok = image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in (3, 4))
    if not shape_ok:
        raise ValueError(f"a PNG holds one 2-D gray or RGB(A) image; this one has shape {image.shape}: save as .tif")
    if image.dtype == np.bool_ and image.ndim != 2:
        raise ValueError(f"a PNG holds a bool image as one 2-D plane; this one has shape {image.shape}: save as .tif")
    if image.dtype not in (np.uint8, np.uint16, np.bool_):
        raise ValueError(
            f"a PNG holds 8- or 16-bit unsigned integers; this image is {image.dtype}: save as .tif "
            "(keeps the values), or convert it first"
        )
    with atomic_path(path) as temporary:
        if image.dtype == np.uint16 and image.ndim == 3:
            import cv2

            code = cv2.COLOR_RGB2BGR if image.shape[-1] == 3 else cv2.COLOR_RGBA2BGRA
            ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), code))
            if not ok:
                raise ValueError("OpenCV could not encode this 16-bit colour PNG: save as .tif")
            Path(temporary).write_bytes(encoded.tobytes())
        else:
            _save_png(Image.fromarray(image), temporary)
    return Path(path)

"""Reading images and writing results: indexed (palette) PNG, TIFF labels, model JSON.

An indexed PNG stores one palette index per pixel at the smallest bit depth
that holds K colours (1, 2, 4 or 8 bits), so its size is the practical answer
to "how much memory does quantizing save".
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from .model import ClusterModel

TIFF_SUFFIXES = (".tif", ".tiff")
ZARR_SUFFIXES = (".zarr",)
PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG/JPEG/BMP/WebP (Pillow) or TIFF/OME-TIFF (tifffile) file into an array.

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
                if image.mode in ("P", "PA", "CMYK", "YCbCr", "LA", "1"):
                    image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
                return np.asarray(image)
    except Exception as error:
        raise ValueError(f"{path}: cannot read image ({type(error).__name__}: {error})") from error
    raise ValueError(
        f"{path}: unsupported file type {suffix or '(none)'}; accepted: " + ", ".join(TIFF_SUFFIXES + PIL_SUFFIXES)
    )


def open_lazy(path: str | os.PathLike):
    """Open a zarr array / OME-Zarr image or a TIFF as a dask array, without reading the pixels.

    OME-Zarr groups give their finest level (``multiscales[0].datasets[0]``).

    Raises
    ------
    ValueError
        If the path is missing or not a readable zarr / TIFF image.
    """
    da = import_lazy_stack(f"{Path(path).name}: opening zarr stores, or any input lazily,")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    try:
        if suffix in ZARR_SUFFIXES:
            import zarr

            node = zarr.open(str(path), mode="r")
            if isinstance(node, zarr.Group):
                attributes = dict(node.attrs)
                multiscales = attributes.get("multiscales") or attributes.get("ome", {}).get("multiscales")
                if not multiscales:
                    raise ValueError("a zarr group without OME-Zarr 'multiscales' metadata")
                node = node[multiscales[0]["datasets"][0]["path"]]
            return da.from_zarr(node)
        if suffix in TIFF_SUFFIXES:
            import tifffile
            import zarr

            return da.from_zarr(zarr.open(tifffile.imread(path, aszarr=True), mode="r"))
    except ValueError as error:
        raise ValueError(f"{path}: cannot open lazily ({error})") from error
    except Exception as error:
        raise ValueError(f"{path}: cannot open lazily ({type(error).__name__}: {error})") from error
    raise ValueError(f"{path}: only zarr and TIFF files can be opened lazily, not {suffix or '(none)'}")


LAZY_EXTRA_HINT = 'pip install "napari-colorquant[all]"'


def import_lazy_stack(what: str):
    """``dask.array``, after checking that dask and zarr (optional dependencies) are installed.

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
    """tifffile first (nD, OME, 16-bit); Pillow for 2D files whose compression needs a codec tifffile lacks."""
    import tifffile

    try:
        return tifffile.imread(path)
    except ValueError as tiff_error:
        try:
            with Image.open(path) as image:
                return np.asarray(image)
        except Exception:
            raise tiff_error from None


def palette_bits(n_colours: int) -> int:
    """Bit depth an indexed PNG uses for ``n_colours`` palette entries (1, 2, 4 or 8)."""
    if n_colours > 256:
        raise ValueError(f"an indexed PNG holds at most 256 colours, got {n_colours}")
    return 1 if n_colours <= 2 else 2 if n_colours <= 4 else 4 if n_colours <= 16 else 8


def can_write_indexed(model: ClusterModel, labels: np.ndarray) -> bool:
    """True when the quantized image is exactly ``palette[labels]`` as an 8-bit 2D gray/RGB image."""
    return (
        model.dtype == "uint8"
        and model.input_kind in ("gray", "rgb")
        and model.color_space not in ("ycrcb-chroma", "lab-chroma")
        and labels.ndim == 2
        and model.n_clusters + int((labels == 0).any()) <= 256
    )


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; move it into place only if the block succeeds."""
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


def write_indexed_png(path: str | os.PathLike, labels: np.ndarray, model: ClusterModel) -> Path:
    """Write labels as an indexed PNG whose palette is the model's cluster colours.

    Label ``i`` (1..K) becomes palette entry ``i - 1``; if there are unlabelled
    (0) pixels they get an extra, fully transparent entry. The PNG's bit depth
    is the smallest that holds the palette.
    """
    if not can_write_indexed(model, labels):
        raise ValueError("an indexed PNG needs a 2D uint8 gray/RGB result with at most 256 colours (not chroma-only)")
    palette = np.clip(np.rint(model.palette), 0, 255).astype(np.uint8)
    if palette.shape[1] == 1:
        palette = np.repeat(palette, 3, axis=1)
    has_background = bool((labels == 0).any())
    index = labels.astype(np.int64) - 1
    if has_background:
        index[labels == 0] = model.n_clusters
        palette = np.concatenate([palette, np.zeros((1, 3), np.uint8)])
    image = Image.fromarray(index.astype(np.uint8), mode="P")
    image.putpalette(palette.reshape(-1).tolist(), rawmode="RGB")
    options = {"optimize": True, "bits": palette_bits(len(palette))}
    if has_background:
        options["transparency"] = len(palette) - 1
    with atomic_path(path) as temporary:
        image.save(temporary, format="PNG", **options)
    return Path(path)


def write_labels_tiff(path: str | os.PathLike, labels: np.ndarray) -> Path:
    """Write a label image (any dimensionality) as a compressed TIFF."""
    import tifffile

    with atomic_path(path) as temporary:
        tifffile.imwrite(temporary, labels, compression="zlib", photometric="minisblack")
    return Path(path)


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an image as PNG (2D uint8/uint16 gray or RGB(A)) or TIFF (anything else, by suffix)."""
    path = Path(path)
    with atomic_path(path) as temporary:
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            rgb = image.ndim == 3 and image.shape[-1] in (3, 4) and image.dtype == np.uint8
            tifffile.imwrite(temporary, image, compression="zlib", photometric="rgb" if rgb else "minisblack")
        else:
            Image.fromarray(image).save(temporary, format="PNG")
    return path


def write_zarr(path: str | os.PathLike, array) -> Path:
    """Write a (dask) array to a zarr store chunk by chunk; memory stays bounded by the chunk size.

    Blosc LZ4 with bit shuffling: label images shrink about as much as with
    zarr's default zstd, at a fraction of the time.
    """
    import dask.array as da
    import zarr

    path = Path(path)
    data = array if isinstance(array, da.Array) else da.from_array(array)
    if int(zarr.__version__.split(".")[0]) >= 3:
        options = {"compressors": [zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")]}
    else:
        from numcodecs import Blosc

        options = {"compressor": Blosc(cname="lz4", clevel=5, shuffle=Blosc.BITSHUFFLE)}
    data.to_zarr(str(path), overwrite=True, **options)
    return path


def write_model(path: str | os.PathLike, model: ClusterModel) -> Path:
    """Write a model as indented JSON (never pickle)."""
    with atomic_path(path) as temporary:
        Path(temporary).write_text(model.to_json(indent=1) + "\n", encoding="utf-8")
    return Path(path)


def read_model(path: str | os.PathLike) -> ClusterModel:
    """Read and validate a model JSON file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read model file ({error})") from error
    try:
        return ClusterModel.from_json(text)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error

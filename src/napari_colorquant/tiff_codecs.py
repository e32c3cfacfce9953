"""TIFFs whose compression tifffile cannot decode without imagecodecs (LZW, common in microscopy).

Pillow decodes LZW, but opens one page at a time: a reader that fell back to ``Image.open`` alone
would turn a Z stack or hyperstack into its first plane without a word. :func:`read_with_pillow`
reads every page of tifffile's first series and gives it tifffile's shape (the axes still come from
tifffile, which parses the metadata without decoding pixels); :func:`check_decodable` says at once
what to install where pixels are read later, chunk by chunk.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

#: What to do when tifffile lacks a codec.
CODEC_HINT = "tifffile decodes it only with the imagecodecs package: pip install imagecodecs"


def read_with_pillow(path: str | os.PathLike) -> np.ndarray:
    """Every page of a TIFF's first series, decoded by Pillow, in the shape tifffile gives that series.

    Parameters
    ----------
    path : str or os.PathLike
        A TIFF file tifffile can parse (its pixels need not be decodable by tifffile).

    Returns
    -------
    ndarray
        Shape and dtype of tifffile's ``series[0]``.

    Raises
    ------
    ValueError
        If Pillow's pages do not make up that series (other shapes or dtype, fewer pages).
    """
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, dtype = tuple(series.shape), np.dtype(series.dtype)
    except (tifffile.TiffFileError, ValueError):  # a TIFF only Pillow parses: one page, no axes to keep
        with Image.open(path) as image:
            if getattr(image, "n_frames", 1) != 1:
                raise ValueError(f"{path}: tifffile cannot parse this TIFF and it has several pages") from None
            return np.asarray(image)
    pages = []
    with Image.open(path) as image:
        per_page = int(np.prod(np.asarray(image).shape))
        try:
            for index in range(int(np.prod(shape)) // max(per_page, 1)):
                image.seek(index)
                pages.append(np.asarray(image))
        except EOFError:
            pass  # fewer pages than the series: refused below
    stack = np.stack(pages) if pages and len({page.shape for page in pages}) == 1 else None
    if stack is None or stack.size != int(np.prod(shape)) or stack.dtype != dtype:
        got = "pages of other shapes" if stack is None else f"{stack.shape} {stack.dtype}"
        raise ValueError(f"{path}: Pillow read {got}, the file's first series is {shape} {dtype}")
    return stack.reshape(shape)


def check_decodable(path: str | os.PathLike) -> None:
    """Refuse a TIFF whose compression tifffile cannot decode, before any chunk of it is read.

    Parameters
    ----------
    path : str or os.PathLike
        A TIFF file.

    Raises
    ------
    ValueError
        Naming the compression and the package that decodes it.
    """
    import tifffile

    with tifffile.TiffFile(path) as tif:
        compression = tif.series[0].pages[0].compression
    if compression not in tifffile.TIFF.DECOMPRESSORS:
        raise ValueError(f"its pixels are {compression.name}-compressed and {CODEC_HINT}")

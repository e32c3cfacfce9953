"""TIFFs whose compression tifffile cannot decode without imagecodecs (LZW, common in microscopy): every page
is read, or the error says what to install; never the first plane of a stack without a word."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_colorquant.cli import main
from napari_colorquant.files import open_lazy, read_image

NO_CODECS = importlib.util.find_spec("imagecodecs") is None


def _lzw_stack(path, stack):
    """A multi-page LZW TIFF written by Pillow (tifffile writes LZW only with imagecodecs)."""
    frames = [Image.fromarray(plane) for plane in stack]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw")
    return path


@pytest.fixture
def stack(kidney_zcyx):
    return np.ascontiguousarray(np.asarray(kidney_zcyx)[:5, 1])  # Z, Y, X uint16


def test_every_page_of_an_lzw_stack_is_read(tmp_path, stack):
    path = _lzw_stack(tmp_path / "stack_lzw.tif", stack)
    assert tifffile.TiffFile(path).pages[0].compression == tifffile.COMPRESSION.LZW
    np.testing.assert_array_equal(read_image(path), stack)


def test_cli_clusters_every_plane_of_an_lzw_stack(tmp_path, stack):
    path = _lzw_stack(tmp_path / "stack_lzw.tif", stack)
    assert main([str(path), "-k", "3", "-o", str(tmp_path / "out"), "-q"]) == 0
    assert tifffile.imread(tmp_path / "out" / "stack_lzw_labels.tif").shape == stack.shape


def test_an_lzw_photo_still_reads(tmp_path, china):
    path = tmp_path / "photo_lzw.tif"
    Image.fromarray(np.asarray(china)).save(path, compression="tiff_lzw")
    np.testing.assert_array_equal(read_image(path), np.asarray(china))


@pytest.mark.skipif(not NO_CODECS, reason="imagecodecs is installed: tifffile decodes LZW itself")
def test_lazy_lzw_names_the_codec_package_at_once(tmp_path, stack):
    pytest.importorskip("dask")
    path = _lzw_stack(tmp_path / "stack_lzw.tif", stack)
    with pytest.raises(ValueError, match=r"LZW-compressed .*pip install imagecodecs"):
        open_lazy(path)


def test_an_lzw_ome_tiff_keeps_its_axes_and_opens_in_the_reader(tmp_path, kidney_zcyx):
    """The plugin reader's levels and the CLI's axes for an OME-TIFF whose pages are LZW-compressed."""
    from napari_colorquant.ome import read_axes, read_levels

    zcyx = np.ascontiguousarray(np.asarray(kidney_zcyx)[:4])
    plain = tmp_path / "plain.ome.tif"
    tifffile.imwrite(plain, zcyx, ome=True, metadata={"axes": "ZCYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
    description = tifffile.TiffFile(plain).pages[0].description
    frames = [Image.fromarray(page) for page in zcyx.reshape(-1, *zcyx.shape[-2:])]
    path = tmp_path / "lzw.ome.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw", tiffinfo={270: description})
    assert tifffile.TiffFile(path).pages[0].compression == tifffile.COMPRESSION.LZW
    np.testing.assert_array_equal(read_levels(path)[0], zcyx)
    assert read_axes(path).axes == "ZCYX"
    assert main([str(path), "-k", "3", "-o", str(tmp_path / "out"), "-q"]) == 0
    with tifffile.TiffFile(tmp_path / "out" / "lzw_labels.ome.tif") as labels:
        assert labels.series[0].axes == "ZYX" and labels.series[0].shape == (4, *zcyx.shape[-2:])

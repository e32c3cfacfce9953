"""Damaged OME-TIFFs and malformed OME-Zarr metadata: every way of opening them says what is wrong with the file.

A truncated TIFF read at once (``read_levels``' small-file path) said "cannot identify image file": tifffile's
failure went to the Pillow fallback meant for LZW, whose own error replaced it. An OME-Zarr store whose
``multiscales`` names no dataset, or one the store does not hold, gave "IndexError: list index out of range" or
"KeyError: 0" (or no levels at all, silently).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile
import zarr

from napari_colorquant.cli import main
from napari_colorquant.files import open_lazy, read_image
from napari_colorquant.ome import DamagedTiffError, read_axes, read_levels


def _cut(source, target, n_bytes: int):
    target.write_bytes(source.read_bytes()[:n_bytes])
    return target


@pytest.fixture
def truncated_tiffs(tmp_path):
    """A one-level OME-TIFF cut in half, and a tiled pyramid cut inside its first level."""
    image = (np.random.default_rng(0).random((3, 256, 300)) * 4000).astype(np.uint16)
    whole = tmp_path / "whole.ome.tif"
    tifffile.imwrite(whole, image, ome=True, metadata={"axes": "CYX"})
    pyramid = tmp_path / "pyramid.ome.tif"
    with tifffile.TiffWriter(pyramid, ome=True) as tif:
        tif.write(image, subifds=1, tile=(64, 64), metadata={"axes": "CYX"})
        tif.write(image[:, ::2, ::2], subfiletype=1, tile=(64, 64))
    return [
        _cut(whole, tmp_path / "half.ome.tif", os.path.getsize(whole) // 2),
        _cut(pyramid, tmp_path / "cut.ome.tif", 5000),
    ]


@pytest.mark.parametrize("reader", [read_levels, open_lazy, read_image], ids=lambda f: f.__name__)
def test_a_truncated_tiff_is_called_damaged_by_every_reader(truncated_tiffs, reader):
    for path in truncated_tiffs:
        with pytest.raises(DamagedTiffError, match=rf"{path.name}: the TIFF file is truncated or damaged"):
            np.asarray(reader(path))


def _store(tmp_path, name: str, multiscales) -> str:
    group = zarr.open_group(str(tmp_path / name), mode="w")
    group.create_array("0", data=np.zeros((8, 8), np.uint8))
    group.attrs["multiscales"] = multiscales
    return str(tmp_path / name)


MALFORMED = {
    "no datasets": ([{"datasets": []}], "malformed"),
    "a dict, not a list": ({"datasets": [{"path": "0"}]}, "malformed"),
    "a dataset without a path": ([{"datasets": [{"name": "0"}]}], "malformed"),
    "a path the store lacks": ([{"datasets": [{"path": "nope"}]}], "names the array 'nope', which the store"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=str)
@pytest.mark.parametrize("reader", [read_levels, open_lazy, read_axes], ids=lambda f: f.__name__)
def test_malformed_ome_zarr_metadata_is_named(tmp_path, case, reader):
    multiscales, says = MALFORMED[case]
    path = _store(tmp_path, "bad.ome.zarr", multiscales)
    with pytest.raises(ValueError, match=rf"bad\.ome\.zarr: .*multiscales.*{says}.*re-export") as raised:
        reader(path)
    assert not isinstance(raised.value, (IndexError, KeyError))


@pytest.mark.parametrize("case", MALFORMED, ids=str)
def test_the_command_line_names_the_malformed_store(tmp_path, case, capsys):
    path = _store(tmp_path, "bad.ome.zarr", MALFORMED[case][0])
    assert main([path, "-k", "2", "-o", str(tmp_path / "out"), "-q"]) != 0
    err = capsys.readouterr().err
    assert "bad.ome.zarr" in err and "multiscales" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())

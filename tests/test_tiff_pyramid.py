"""An OME-TIFF pyramid (SubIFDs) with --lazy: read level by level without loading it, fitted at its finest level
(exactly, by chunks, as an OME-Zarr pyramid is), and written as OME-Zarr pyramids with the input's levels.

The input is made here with tifffile (no download); outputs are read back with zarr and the NGFF JSON only.
"""

import numpy as np
import pytest

from napari_colorquant import quantize
from napari_colorquant.cli import main
from napari_colorquant.files import read_model
from pyramid_outputs import assert_levels_are_the_model_applied

tifffile = pytest.importorskip("tifffile")
zarr = pytest.importorskip("zarr")
if int(zarr.__version__.split(".")[0]) < 3:
    pytest.skip("OME-Zarr 0.5 outputs need zarr 3", allow_module_level=True)

PIXEL = {"PhysicalSizeX": 0.25, "PhysicalSizeY": 0.5}


def _levels():
    """Three levels of a two-channel CYX uint16 image with three kinds of region; 2 x 2 means in y and x."""
    rng = np.random.default_rng(8)
    regions = np.zeros((70, 90), int)
    regions[30:, :] = 1
    regions[50:, 40:] = 2
    bright = np.array([[200, 3000], [2500, 300], [900, 900]])
    full = (bright[regions].transpose(2, 0, 1) + rng.integers(0, 200, (2, 70, 90))).astype(np.uint16)
    levels = [full]
    for _ in range(2):
        c, y, x = levels[-1].shape
        block = levels[-1][:, : y // 2 * 2, : x // 2 * 2].reshape(c, y // 2, 2, x // 2, 2)
        levels.append(np.rint(block.mean(axis=(2, 4))).astype(np.uint16))
    return levels


def write_ome_pyramid(path, levels):
    """An OME-TIFF pyramid as the OME spec stores one: the full image, its reductions in its SubIFDs."""
    metadata = {"axes": "CYX", **PIXEL, "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm",
                "Channel": {"Name": ["DAPI", "GFP"]}}  # fmt: skip
    with tifffile.TiffWriter(path) as tif:
        tif.write(levels[0], subifds=len(levels) - 1, tile=(32, 32), metadata=metadata)
        for level in levels[1:]:
            tif.write(level, subfiletype=1, tile=(16, 16))
    with tifffile.TiffFile(path) as tif:  # what the test is about: tifffile sees a pyramid
        assert tif.is_ome and [level.shape for level in tif.series[0].levels] == [level.shape for level in levels]
    return path


@pytest.fixture
def pyramid_output(tmp_path):
    levels = _levels()
    path = write_ome_pyramid(tmp_path / "cells.ome.tif", levels)
    out = tmp_path / "out"
    assert main([str(path), "--lazy", "-k", "3", "-o", str(out), "-q"]) == 0
    return levels, out


def _ngff(store):
    return dict(zarr.open_group(str(store), mode="r").attrs)["ome"]


def test_lazy_ome_tiff_pyramid_gives_pyramid_outputs_with_the_input_levels(pyramid_output):
    levels, out = pyramid_output
    assert sorted(p.name for p in out.iterdir()) == [
        "cells_labels.ome.zarr", "cells_model.json", "cells_quantized.ome.zarr"
    ]  # fmt: skip
    for kind, axes in (("labels", "yx"), ("quantized", "cyx")):
        (multiscale,) = _ngff(out / f"cells_{kind}.ome.zarr")["multiscales"]
        assert [axis["name"] for axis in multiscale["axes"]] == list(axes)
        assert [d["path"] for d in multiscale["datasets"]] == ["0", "1", "2"]
        for index, dataset in enumerate(multiscale["datasets"]):
            factor = np.divide(levels[0].shape[1:], levels[index].shape[1:])  # as napari places the levels
            expected = [0.5 * factor[0], 0.25 * factor[1]]
            (scale,) = dataset["coordinateTransformations"]  # at the origin: no translation
            np.testing.assert_allclose(scale["scale"], ([1.0] if kind == "quantized" else []) + expected)
            stored = zarr.open_array(str(out / f"cells_{kind}.ome.zarr" / str(index)), mode="r")
            assert stored.shape == (levels[index].shape if kind == "quantized" else levels[index].shape[1:])


def test_lazy_ome_tiff_pyramid_is_fitted_at_its_finest_level_and_every_level_labelled(pyramid_output):
    levels, out = pyramid_output
    model = read_model(out / "cells_model.json")
    fitted = quantize(levels[0], 3, channel_axis=0)  # the whole finest level, exactly
    np.testing.assert_array_equal(model.means, fitted.model.means)
    assert model.to_dict()["approximate"] is False
    assert_levels_are_the_model_applied(out, "cells", model, levels, 3)


def test_lazy_ome_tiff_pyramid_is_read_chunk_by_chunk(tmp_path):
    """--lazy opens the finest level as a dask array over tifffile's zarr store (its tiles), not read whole."""
    from napari_colorquant.files import open_lazy
    from napari_colorquant.ome import read_axes

    levels = _levels()
    path = write_ome_pyramid(tmp_path / "cells.ome.tif", levels)
    array = open_lazy(path)
    assert array.shape == levels[0].shape and array.chunks == ((1, 1), (32, 32, 6), (32, 32, 26))
    np.testing.assert_array_equal(array.compute(), levels[0])
    info = read_axes(path)
    assert info.axes == "CYX" and info.channel_names == ("DAPI", "GFP") and len(info.levels) == 3


def test_open_lazy_gives_the_finest_of_read_levels(tmp_path):
    """files.open_lazy and ome.read_levels open a file one way (ome.lazy_levels): the same finest level, and the same
    message for a zarr group that is no OME-Zarr image (read_levels said "KeyError: 'multiscales'")."""
    from napari_colorquant.files import open_lazy
    from napari_colorquant.ome import read_levels

    levels = _levels()
    path = write_ome_pyramid(tmp_path / "cells.ome.tif", levels)
    finest, every = open_lazy(path), read_levels(path)
    assert hasattr(finest, "dask") and len(every) == len(levels)
    np.testing.assert_array_equal(np.asarray(finest), levels[0])
    for mine, theirs in zip(every, levels, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), theirs)
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w").create_array("0", data=levels[0])
    for reader in (open_lazy, read_levels):
        with pytest.raises(ValueError, match=r"plain\.zarr: cannot .*a zarr group without OME-Zarr 'multiscales'"):
            reader(tmp_path / "plain.zarr")

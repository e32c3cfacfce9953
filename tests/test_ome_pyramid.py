"""An OME-Zarr pyramid in, the same pyramid out: the CLI's labels and quantized stores have the input's levels,
shapes and per-level scale and translation, and each level is the fitted model applied to that input level.

The input is built here with zarr (NGFF 0.4 on zarr 2, and NGFF 0.5 on zarr 3) as a real pyramid writer
would: each level the 2 x 2 mean of the one before, with the half-pixel translations that placing a mean
at the centre of its block needs. The outputs are read back with zarr and the NGFF JSON only."""

import numpy as np
import pytest

from napari_colorquant import quantize
from napari_colorquant.cli import main
from napari_colorquant.files import read_model
from pyramid_outputs import assert_levels_are_the_model_applied

zarr = pytest.importorskip("zarr")
if int(zarr.__version__.split(".")[0]) < 3:
    pytest.skip("OME-Zarr 0.5 outputs need zarr 3", allow_module_level=True)

AXES = [
    {"name": "c", "type": "channel"},
    {"name": "z", "type": "space", "unit": "micrometer"},
    {"name": "y", "type": "space", "unit": "micrometer"},
    {"name": "x", "type": "space", "unit": "micrometer"},
]
SCALE0 = [1.0, 2.0, 0.5, 0.25]
ORIGIN = [0.0, 10.0, 3.0, -4.0]
CHUNKS = (1, 1, 16, 16)


def _levels():
    """Three levels of a two-channel CZYX uint16 volume with three kinds of region; 2 x 2 means in y and x."""
    rng = np.random.default_rng(3)
    regions = np.zeros((3, 40, 48), int)
    regions[:, 14:, :] = 1
    regions[:, 28:, 20:] = 2
    bright = np.array([[200, 3000], [2500, 300], [900, 900]])  # DAPI, GFP per region
    full = bright[regions].transpose(3, 0, 1, 2) + rng.integers(0, 200, (2, 3, 40, 48))
    levels = [full.astype(np.uint16)]
    for _ in range(2):
        c, z, y, x = levels[-1].shape
        block = levels[-1][:, :, : y // 2 * 2, : x // 2 * 2].reshape(c, z, y // 2, 2, x // 2, 2)
        levels.append(np.rint(block.mean(axis=(3, 5))).astype(np.uint16))
    return levels


def _transforms(level):
    factor = [1, 1, 2**level, 2**level]
    scale = [s * f for s, f in zip(SCALE0, factor, strict=True)]
    shift = [o + (f - 1) / 2 * s for o, f, s in zip(ORIGIN, factor, SCALE0, strict=True)]
    return [{"type": "scale", "scale": scale}, {"type": "translation", "translation": shift}]


def write_pyramid(path, levels, version):
    """An OME-Zarr image as NGFF ``version`` spells it (0.4: zarr 2 attributes; 0.5: zarr 3, under "ome")."""
    group = zarr.open_group(str(path), mode="w", zarr_format=2 if version == "0.4" else 3)
    for index, level in enumerate(levels):
        group.create_array(str(index), data=level, chunks=CHUNKS)
    datasets = [{"path": str(i), "coordinateTransformations": _transforms(i)} for i in range(len(levels))]
    multiscale = {"name": "cells", "axes": AXES, "datasets": datasets}
    omero = {"channels": [{"label": "DAPI", "color": "0000FF"}, {"label": "GFP", "color": "00FF00"}]}
    if version == "0.4":
        group.attrs["multiscales"] = [{"version": "0.4", **multiscale}]
        group.attrs["omero"] = omero
    else:
        group.attrs["ome"] = {"version": "0.5", "multiscales": [multiscale], "omero": omero}
    return path


def _ngff(store):
    return dict(zarr.open_group(str(store), mode="r").attrs)["ome"]


def _without_channel(transforms):
    return [{key: (value[1:] if isinstance(value, list) else value) for key, value in t.items()} for t in transforms]


@pytest.fixture(params=["0.4", "0.5"])
def pyramid_output(request, tmp_path):
    levels = _levels()
    path = write_pyramid(tmp_path / "cells.ome.zarr", levels, request.param)
    out = tmp_path / "out"
    assert main([str(path), "-k", "3", "-o", str(out), "-q"]) == 0
    return levels, out


def test_outputs_have_the_input_pyramid_levels_shapes_scales_and_translations(pyramid_output):
    levels, out = pyramid_output
    labels_ngff, quantized_ngff = _ngff(out / "cells_labels.ome.zarr"), _ngff(out / "cells_quantized.ome.zarr")
    (labels_multiscale,) = labels_ngff["multiscales"]
    (quantized_multiscale,) = quantized_ngff["multiscales"]
    assert [d["path"] for d in labels_multiscale["datasets"]] == ["0", "1", "2"]
    assert [d["path"] for d in quantized_multiscale["datasets"]] == ["0", "1", "2"]
    assert labels_multiscale["axes"] == AXES[1:] and quantized_multiscale["axes"] == AXES
    for index, level in enumerate(levels):
        expected = _transforms(index)
        assert quantized_multiscale["datasets"][index]["coordinateTransformations"] == expected
        assert labels_multiscale["datasets"][index]["coordinateTransformations"] == _without_channel(expected)
        labels = zarr.open_array(str(out / "cells_labels.ome.zarr" / str(index)), mode="r")
        quantized = zarr.open_array(str(out / "cells_quantized.ome.zarr" / str(index)), mode="r")
        assert quantized.shape == level.shape and labels.shape == level.shape[1:]
        # written chunk by chunk, chunked as the input (a pixel's two channels in one chunk)
        chunks = tuple(min(c, n) for c, n in zip(CHUNKS[1:], level.shape[1:], strict=True))
        assert quantized.chunks == (2, *chunks) and labels.chunks == chunks
        assert labels.metadata.dimension_names == ("z", "y", "x")
    assert [c["label"] for c in quantized_ngff["omero"]["channels"]] == ["DAPI", "GFP"]
    assert "image-label" in labels_ngff


def test_every_level_is_the_model_applied_to_that_input_level(pyramid_output):
    levels, out = pyramid_output
    model = read_model(out / "cells_model.json")
    fitted = quantize(levels[0], 3, channel_axis=0)  # the fit is on the finest level, as before
    np.testing.assert_array_equal(model.means, fitted.model.means)
    assert_levels_are_the_model_applied(out, "cells", model, levels, 3)


def test_applied_model_gives_the_same_pyramid(pyramid_output, tmp_path):
    levels, out = pyramid_output
    again = tmp_path / "applied"
    source = tmp_path / "cells.ome.zarr"
    assert main([str(source), "--apply", str(out / "cells_model.json"), "-o", str(again), "-q"]) == 0
    model = read_model(out / "cells_model.json")
    for index, level in enumerate(levels):
        labels = zarr.open_array(str(again / "cells_labels.ome.zarr" / str(index)), mode="r")[...]
        np.testing.assert_array_equal(labels, model.predict(level, channel_axis=0))


def test_napari_reader_opens_the_output_pyramid_as_a_multiscale_layer_in_place(pyramid_output):
    pytest.importorskip("napari")
    from napari_colorquant._napari.reader import read_ome

    levels, out = pyramid_output
    ((data, meta, kind),) = read_ome(str(out / "cells_labels.ome.zarr"))
    assert kind == "labels" and meta["multiscale"] and [d.shape for d in data] == [lv.shape[1:] for lv in levels]
    assert meta["scale"] == SCALE0[1:] and meta["translate"] == ORIGIN[1:]
    ((data, meta, kind),) = read_ome(str(out / "cells_quantized.ome.zarr"))
    assert kind == "image" and meta["multiscale"] and meta["name"] == ["DAPI", "GFP"]
    assert [d.shape for d in data] == [lv.shape for lv in levels]
    assert meta["scale"] == SCALE0[1:] and meta["translate"] == ORIGIN[1:]  # the channel axis is split off

"""The plugin's OME reader in a real viewer: one layer per channel, OME names and colours, lazy pyramids."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

RED, GREEN, BLUE = -16776961, 16711935, 65535  # OME Color: signed 32-bit RGBA


@pytest.fixture
def tczyx():
    rng = np.random.default_rng(0)
    return rng.integers(0, 4000, (3, 2, 4, 16, 20), dtype=np.uint16)  # T, C, Z, Y, X


def test_reader_opens_channels_as_named_coloured_layers(make_viewer, tmp_path, tczyx):
    path = tmp_path / "cells.ome.tif"
    tifffile.imwrite(
        path, tczyx, ome=True,
        metadata={"axes": "TCZYX", "Channel": {"Name": ["DAPI", "GFP"], "Color": [BLUE, GREEN]}, "PhysicalSizeX": 0.25},
    )  # fmt: skip
    viewer = make_viewer()
    layers = viewer.open(str(path), plugin="napari-colorquant")
    assert [layer.name for layer in layers] == ["DAPI", "GFP"]
    np.testing.assert_array_equal(np.asarray(layers[1].data), tczyx[:, 1])
    assert tuple(layers[0].axis_labels) == ("t", "z", "y", "x")
    assert layers[0].scale[-1] == pytest.approx(0.25)
    assert [str(unit) for unit in layers[0].units] == ["pixel", "pixel", "pixel", "micrometer"]  # only X has a size
    np.testing.assert_allclose(layers[0].colormap.colors[-1], [0, 0, 1, 1])
    np.testing.assert_allclose(layers[1].colormap.colors[-1], [0, 1, 0, 1])
    assert layers[0].metadata["ome"]["axes"] == "TCZYX"


@pytest.mark.parametrize("axes", ["YXS", "TYXS"])
def test_reader_opens_an_rgb_ome_tiff_as_an_rgb_layer(make_viewer, tmp_path, axes):
    # An RGB OME-TIFF (a slide scanner's H&E, a colour camera on a microscope): the samples axis got a scale of
    # its own, one more than napari's RGB layer has axes, and napari refused to open the file at all.
    from napari_colorquant.samples import load_sample

    photo = load_sample("china")[::4, ::4]
    data = photo if axes == "YXS" else np.stack([photo, photo[::-1]])
    path = tmp_path / "slide.ome.tif"
    tifffile.imwrite(path, data, ome=True, photometric="rgb",
                     metadata={"axes": axes, "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.25})  # fmt: skip
    viewer = make_viewer()
    (layer,) = viewer.open(str(path), plugin="napari-colorquant")
    assert layer.rgb
    np.testing.assert_array_equal(np.asarray(layer.data), data)
    assert tuple(layer.axis_labels)[-2:] == ("y", "x") and len(layer.axis_labels) == data.ndim - 1
    np.testing.assert_allclose(layer.scale[-2:], (0.25, 0.5))


def test_reader_ome_zarr_pyramid_stays_lazy(make_viewer, tmp_path):
    import dask.array as da
    import zarr

    rng = np.random.default_rng(1)
    full = rng.integers(0, 255, (2, 32, 32), dtype=np.uint8)
    group = zarr.open_group(str(tmp_path / "img.ome.zarr"), mode="w")
    group.create_array("0", data=full, chunks=(1, 16, 16))
    group.create_array("1", data=full[:, ::2, ::2], chunks=(1, 16, 16))
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    scale = [{"type": "scale", "scale": [1, 1, 1]}]
    datasets = [{"path": level, "coordinateTransformations": scale} for level in ("0", "1")]
    group.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": datasets}]
    group.attrs["omero"] = {"channels": [{"label": "A", "color": "FF0000"}, {"label": "B", "color": "00FF00"}]}
    viewer = make_viewer()
    layers = viewer.open(str(tmp_path / "img.ome.zarr"), plugin="napari-colorquant")
    assert [layer.name for layer in layers] == ["A", "B"]
    assert layers[0].multiscale and len(layers[0].data) == 2
    assert isinstance(layers[0].data[0], da.Array)
    np.testing.assert_array_equal(np.asarray(layers[1].data[0]), full[1])


def test_reader_declines_other_files():
    from napari_colorquant._napari.reader import get_reader

    assert get_reader("photo.png") is None and get_reader("plain.tif") is None
    assert get_reader("x.ome.tiff") is not None and get_reader(["x.ome.zarr"]) is not None


def test_cli_output_pyramid_opens_as_a_multiscale_labels_layer_over_its_input(make_viewer, tmp_path):
    """The CLI's labels of an OME-Zarr pyramid open with the plugin as a multiscale Labels layer placed as the input."""
    import zarr

    from napari_colorquant.cli import main

    rng = np.random.default_rng(2)
    full = (rng.integers(0, 3, (2, 32, 40)) * 80 + rng.integers(0, 20, (2, 32, 40))).astype(np.uint8)
    levels = [full, full[:, ::2, ::2], full[:, ::4, ::4]]
    group = zarr.open_group(str(tmp_path / "vol.ome.zarr"), mode="w")
    for index, level in enumerate(levels):
        group.create_array(str(index), data=level, chunks=(1, 16, 16))
    axes = [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"]
    datasets = [
        {"path": str(i), "coordinateTransformations": [{"type": "scale", "scale": [3.0, 0.5 * 2**i, 0.5 * 2**i]},
                                                        {"type": "translation", "translation": [6.0, 1.0, 2.0]}]}
        for i in range(3)
    ]  # fmt: skip
    group.attrs["ome"] = {"version": "0.5", "multiscales": [{"axes": axes, "datasets": datasets}]}
    assert main([str(tmp_path / "vol.ome.zarr"), "-k", "3", "-o", str(tmp_path / "out"), "-q"]) == 0
    viewer = make_viewer()
    (image,) = viewer.open(str(tmp_path / "vol.ome.zarr"), plugin="napari-colorquant")
    (labels,) = viewer.open(str(tmp_path / "out" / "vol_labels.ome.zarr"), plugin="napari-colorquant")
    assert type(labels).__name__ == "Labels" and labels.multiscale and len(labels.data) == 3
    assert [d.shape for d in labels.data] == [level.shape for level in levels]
    np.testing.assert_allclose(labels.scale, image.scale)
    np.testing.assert_allclose(labels.translate, [6.0, 1.0, 2.0])
    np.testing.assert_allclose(labels.translate, image.translate)

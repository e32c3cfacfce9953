"""Outputs keep what the input's metadata says: OME-TIFF (.ome.tif) and OME-Zarr images with axes, pixel sizes,
units and channel names, read back by zarr itself (the attributes as the NGFF 0.5 text spells them),
by this package's reader and by the CLI again."""

import numpy as np
import pytest
import tifffile

from napari_colorquant import quantize
from napari_colorquant.cli import main
from napari_colorquant.files import ZarrOptions, write_zarr, zarr_store_suffix
from napari_colorquant.ome import AxesInfo, ngff_metadata, read_axes

zarr = pytest.importorskip("zarr")
if int(zarr.__version__.split(".")[0]) < 3:
    pytest.skip("OME-Zarr 0.5 outputs need zarr 3", allow_module_level=True)

CZYX_SIZES = {"PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2, "PhysicalSizeZ": 1.5}


@pytest.fixture
def czyx(tmp_path):
    """A two-channel OME-TIFF volume with pixel sizes in µm and named channels."""
    image = np.random.default_rng(0).integers(0, 4000, (2, 5, 32, 24), dtype=np.uint16)
    image[0, :, :12] += 20000  # two regions that the clusters tell apart
    metadata = {"axes": "CZYX", "Channel": {"Name": ["DAPI", "GFP"]}}
    for key, value in CZYX_SIZES.items():
        metadata.update({key: value, key + "Unit": "µm"})
    path = tmp_path / "cells.ome.tif"
    tifffile.imwrite(path, image, ome=True, metadata=metadata)
    return path, image


def _attributes(store):
    return dict(zarr.open_group(str(store), mode="r").attrs)["ome"]


def test_lazy_ome_tiff_gives_ome_zarr_outputs_with_axes_pixel_sizes_and_channel_names(tmp_path, czyx):
    path, image = czyx
    out = tmp_path / "out"
    assert main([str(path), "--lazy", "-k", "3", "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "cells_labels.ome.zarr",
        "cells_model.json",
        "cells_quantized.ome.zarr",
    ]
    micrometer = {"type": "space", "unit": "micrometer"}
    labels_attrs = _attributes(out / "cells_labels.ome.zarr")
    assert labels_attrs["version"] == "0.5"
    (multiscale,) = labels_attrs["multiscales"]
    assert multiscale["axes"] == [{"name": a, **micrometer} for a in "zyx"]
    assert multiscale["datasets"] == [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.5, 0.2, 0.2]}]}
    ]
    quantized_attrs = _attributes(out / "cells_quantized.ome.zarr")
    (multiscale,) = quantized_attrs["multiscales"]
    assert multiscale["axes"][0] == {"name": "c", "type": "channel"}
    assert multiscale["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 1.5, 0.2, 0.2]
    assert [c["label"] for c in quantized_attrs["omero"]["channels"]] == ["DAPI", "GFP"]

    expected = quantize(image, 3, channel_axis=0)
    labels = zarr.open_array(str(out / "cells_labels.ome.zarr" / "0"), mode="r")
    assert labels.metadata.dimension_names == ("z", "y", "x")
    np.testing.assert_array_equal(labels[...], expected.labels)
    quantized = zarr.open_array(str(out / "cells_quantized.ome.zarr" / "0"), mode="r")
    np.testing.assert_array_equal(quantized[...], expected.quantized)

    # This package reads its outputs back with the same axes, sizes and the OME spelling of the unit.
    info = read_axes(out / "cells_labels.ome.zarr")
    assert (info.axes, info.scale, info.units) == ("ZYX", (1.5, 0.2, 0.2), ("µm", "µm", "µm"))
    assert read_axes(out / "cells_quantized.ome.zarr").channel_names == ("DAPI", "GFP")


def test_ome_zarr_output_is_an_input_again_with_its_channels(tmp_path, czyx):
    path, _ = czyx
    assert main([str(path), "--lazy", "-k", "3", "-o", str(tmp_path / "a"), "-q"]) == 0
    again = tmp_path / "b"
    assert main([str(tmp_path / "a" / "cells_quantized.ome.zarr"), "-k", "3", "-o", str(again), "-q"]) == 0
    # The quantized volume has three colours: clustering it again into three gives the same partition.
    first = zarr.open_array(str(tmp_path / "a" / "cells_labels.ome.zarr" / "0"), mode="r")[...]
    second = zarr.open_array(str(again / "cells_quantized_labels.ome.zarr" / "0"), mode="r")[...]
    pairs = set(zip(first.ravel().tolist(), second.ravel().tolist(), strict=True))
    assert len(pairs) == 3 == len({a for a, _ in pairs}) == len({b for _, b in pairs})


def test_napari_reader_gives_the_outputs_their_scale_and_units(tmp_path, czyx):
    pytest.importorskip("napari")
    from napari_colorquant._napari.reader import read_ome

    path, _ = czyx
    out = tmp_path / "out"
    assert main([str(path), "--lazy", "-k", "3", "-o", str(out), "-q"]) == 0
    ((_, meta, kind),) = read_ome(str(out / "cells_labels.ome.zarr"))
    assert kind == "labels" and meta["scale"] == [1.5, 0.2, 0.2]
    assert meta["units"] == ["micrometer"] * 3 and meta["axis_labels"] == ["z", "y", "x"]


def test_imagej_zcyx_labels_are_ome_zarr_and_quantized_keeps_its_axis_names(tmp_path):
    """OME-Zarr puts channels before z: ImageJ's ZCYX quantized volume stays a plain array, axes named."""
    image = np.random.default_rng(1).integers(0, 255, (4, 2, 16, 16), dtype=np.uint8)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, image, imagej=True, metadata={"axes": "ZCYX", "spacing": 2.0, "unit": "um"})
    out = tmp_path / "out"
    assert main([str(path), "--lazy", "--channel-axis", "1", "-k", "2", "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "stack_labels.ome.zarr",
        "stack_model.json",
        "stack_quantized.zarr",
    ]
    (multiscale,) = _attributes(out / "stack_labels.ome.zarr")["multiscales"]
    assert [a["name"] for a in multiscale["axes"]] == ["z", "y", "x"]
    assert multiscale["datasets"][0]["coordinateTransformations"][0]["scale"][0] == 2.0
    quantized = zarr.open_array(str(out / "stack_quantized.zarr"), mode="r")
    assert quantized.metadata.dimension_names == ("z", "c", "y", "x")
    np.testing.assert_array_equal(quantized[...], quantize(image, 2, channel_axis=1).quantized)


def test_plain_input_still_gives_plain_zarr_arrays(tmp_path):
    image = np.random.default_rng(2).integers(0, 255, (20, 30), dtype=np.uint8)
    path = tmp_path / "plain.zarr"
    zarr.create_array(str(path), data=image)
    assert main([str(path), "-k", "2", "-o", str(tmp_path / "out"), "-q"]) == 0
    labels = zarr.open(str(tmp_path / "out" / "plain_labels.zarr"), mode="r")
    assert isinstance(labels, zarr.Array)
    np.testing.assert_array_equal(labels[...], quantize(image, 2).labels)


@pytest.mark.parametrize(
    ("axes", "expected"),
    [
        ("TCZYX", ".ome.zarr"), ("ZYX", ".ome.zarr"), ("YX", ".ome.zarr"), ("ZCYX", ".zarr"),
        ("YXS", ".ome.zarr"), ("ZYXS", ".ome.zarr"), ("QYXS", ".zarr"),  # RGB samples: the channel axis c
    ],
)  # fmt: skip
def test_which_axes_become_ome_zarr(axes, expected):
    shape = tuple(range(2, 2 + len(axes)))
    if axes.endswith("S"):
        shape = (*shape[:-1], 3)  # an RGB pixel's samples
    assert zarr_store_suffix(shape, AxesInfo(axes, shape, "test")) == expected
    assert zarr_store_suffix(shape, None) == ".zarr"
    assert zarr_store_suffix(shape[:-1], AxesInfo(axes, shape, "test")) == ".zarr"  # not this array's axes


@pytest.mark.parametrize(
    ("axes", "units", "names"),
    [
        ("ZYX", ("nm", "nm", "nm"), ["nanometer"] * 3),
        ("ZYX", ("µm", "µm", "µm"), ["micrometer"] * 3),
        ("TYX", ("s", None, None), ["second", None, None]),
    ],
)
def test_units_are_written_as_ngff_names_and_read_back_as_ome_symbols(tmp_path, axes, units, names):
    info = AxesInfo(axes, (2, 3, 4), "test", scale=(5.0, 0.1, 0.1), units=units)
    metadata = ngff_metadata(info, "x")
    assert [axis.get("unit") for axis in metadata["multiscales"][0]["axes"]] == names
    store = write_zarr(tmp_path / "x.ome.zarr", np.zeros((2, 3, 4), np.uint8), ZarrOptions(info))
    assert read_axes(store).units == units and read_axes(store).scale == (5.0, 0.1, 0.1)


def test_ome_tiff_outputs_are_named_ome_tif_and_read_with_their_pixel_sizes(tmp_path, czyx):
    """napari's own reader ignores a plain .tif's OME-XML; the .ome.tif name sends it to a reader that does not."""
    pytest.importorskip("napari")
    from napari_colorquant._napari.reader import read_ome
    from napari_colorquant.ome import is_ome_path

    path, image = czyx
    out = tmp_path / "out"
    assert main([str(path), "-k", "3", "-o", str(out), "-q"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "cells_labels.ome.tif",
        "cells_model.json",
        "cells_quantized.ome.tif",
    ]
    labels = out / "cells_labels.ome.tif"
    assert is_ome_path(labels)
    with tifffile.TiffFile(labels) as tif:
        assert tif.is_ome and tif.series[0].axes == "ZYX"
        np.testing.assert_array_equal(tif.asarray(), quantize(image, 3, channel_axis=0).labels)
    ((_, meta, _),) = read_ome(str(labels))
    assert meta["scale"] == [1.5, 0.2, 0.2] and meta["units"] == ["micrometer"] * 3


def test_tiff_without_axis_metadata_gives_plain_tif_outputs(tmp_path):
    image = np.random.default_rng(3).integers(0, 60000, (3, 20, 30), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "plain.tif", image)
    assert main([str(tmp_path / "plain.tif"), "-k", "2", "-o", str(tmp_path / "out"), "-q"]) == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["plain_labels.tif", "plain_model.json", "plain_quantized.tif"]
    with tifffile.TiffFile(tmp_path / "out" / "plain_labels.tif") as tif:
        assert not tif.is_ome


def test_labels_stores_are_ome_zarr_label_images_and_reopen_as_labels(tmp_path, czyx):
    """NGFF's ``image-label`` marks the labels store, so the reader gives a Labels layer, not a gray image."""
    pytest.importorskip("napari")
    from napari_colorquant._napari.reader import read_ome

    path, _ = czyx
    out = tmp_path / "out"
    assert main([str(path), "--lazy", "-k", "3", "-o", str(out), "-q"]) == 0
    assert _attributes(out / "cells_labels.ome.zarr")["image-label"] == {"colors": []}  # 16-bit stains: no colour
    assert "image-label" not in _attributes(out / "cells_quantized.ome.zarr")
    ((_, meta, kind),) = read_ome(str(out / "cells_labels.ome.zarr"))
    assert kind == "labels" and meta["scale"] == [1.5, 0.2, 0.2] and "colormap" not in meta
    kinds = [kind for _, _, kind in read_ome(str(out / "cells_quantized.ome.zarr"))]
    assert kinds == ["image"]


def test_labels_of_an_8_bit_stack_carry_the_cluster_colours(tmp_path):
    pytest.importorskip("napari")
    from napari_colorquant._napari.reader import read_ome

    image = np.zeros((3, 20, 30), np.uint8)
    image[:, :, 10:20], image[:, :, 20:] = 120, 250
    path = tmp_path / "gray.ome.tif"
    tifffile.imwrite(path, image, ome=True, metadata={"axes": "ZYX", "PhysicalSizeX": 0.5, "PhysicalSizeXUnit": "µm"})
    out = tmp_path / "out"
    assert main([str(path), "--lazy", "-k", "3", "-o", str(out), "-q"]) == 0
    model = quantize(image, 3).model
    colors = _attributes(out / "gray_labels.ome.zarr")["image-label"]["colors"]
    expected = [[round(float(v))] * 3 + [255] for v in model.palette[:, 0]]
    assert [c["label-value"] for c in colors] == [1, 2, 3] and [c["rgba"] for c in colors] == expected
    ((_, meta, kind),) = read_ome(str(out / "gray_labels.ome.zarr"))
    assert kind == "labels"
    for label, rgba in enumerate(expected, start=1):
        np.testing.assert_allclose(meta["colormap"].map(label), np.array(rgba) / 255, atol=1e-6)


def test_write_zarr_and_save_zarr_take_one_options_record(tmp_path):
    """save_zarr wrapped write_zarr with the same six parameters written out twice; both take one ZarrOptions now,
    and anything else in its place is refused before a folder is made."""
    import inspect

    from napari_colorquant.files import save_zarr

    for function in (write_zarr, save_zarr):
        assert list(inspect.signature(function).parameters) == ["path", "array", "options"]
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    axes = AxesInfo("YX", image.shape, "test", scale=(0.5, 0.25))
    with pytest.raises(TypeError, match="options must be a ZarrOptions"):
        save_zarr(tmp_path / "x.ome.zarr", image, axes)
    assert list(tmp_path.iterdir()) == []
    store = save_zarr(tmp_path / "x.ome.zarr", image, ZarrOptions(axes, labels=True, label_colors=[[255, 0, 0]]))
    ngff = dict(zarr.open_group(str(store), mode="r").attrs)["ome"]
    assert ngff["image-label"]["colors"] == [{"label-value": 1, "rgba": [255, 0, 0, 255]}]
    assert read_axes(store).scale == (0.5, 0.25)
    np.testing.assert_array_equal(zarr.open_array(str(store / "0"), mode="r")[...], image)

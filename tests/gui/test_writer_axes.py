"""File → Save of a clusters / quantized layer as TIFF keeps the layer's axes and pixel size (OME-XML)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_colorquant.ome import read_axes


def _ome(path) -> tuple[str, dict]:
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome, "written without axes"
        pixels = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]["Pixels"]
        return tif.series[0].axes, pixels


@pytest.fixture
def stack_outputs(make_viewer, cluster_in_widget):
    """Clusters and quantized layers of a Z stack with a physical pixel size, made by the docked widget."""
    viewer = make_viewer()
    rng = np.random.default_rng(0)
    data = rng.integers(0, 4000, (4, 24, 32), dtype=np.uint16)
    viewer.add_image(data, name="stack", scale=(2.0, 0.25, 0.25), units="micrometer", axis_labels=("z", "y", "x"))
    return cluster_in_widget(viewer, 3)


def test_saved_clusters_read_back_with_axes_and_pixel_size(stack_outputs, tmp_path):
    labels = stack_outputs.layers["stack clusters"]
    written = labels.save(str(tmp_path / "clusters.tif"), plugin="napari-colorquant")
    assert written == [str(tmp_path / "clusters.tif")]
    axes, pixels = _ome(written[0])
    assert axes == "ZYX"
    assert float(pixels["PhysicalSizeX"]) == 0.25 and float(pixels["PhysicalSizeZ"]) == 2.0
    assert pixels["PhysicalSizeXUnit"] == "µm"
    np.testing.assert_array_equal(tifffile.imread(written[0]), labels.data)
    info = read_axes(written[0])  # as the plugin's reader (and the CLI) see it
    assert info.axes == "ZYX" and info.scale == (2.0, 0.25, 0.25)


def test_saved_quantized_tiff_keeps_axes_too(stack_outputs, tmp_path):
    quantized = stack_outputs.layers["stack quantized"]
    written = quantized.save(str(tmp_path / "quantized.tif"), plugin="napari-colorquant")
    axes, pixels = _ome(written[0])
    assert axes == "ZYX" and float(pixels["PhysicalSizeY"]) == 0.25
    np.testing.assert_array_equal(tifffile.imread(written[0]), quantized.data)


def test_layer_axes_of_unnamed_and_rgb_layers():
    """napari's default axis labels ("-3", ...) and scale 1: the plane is YX, a leading axis Z, no pixel size."""
    from napari_colorquant._napari.writer import layer_axes

    info = layer_axes({"axis_labels": ("-3", "-2", "-1"), "scale": (1.0, 1.0, 1.0), "units": ("pixel",) * 3}, (5, 8, 9))
    assert info.axes == "ZYX" and info.units == (None, None, None)
    info = layer_axes({"axis_labels": ("-2", "-1"), "scale": (0.5, 0.5), "units": ("pixel",) * 2}, (8, 9, 3), rgb=True)
    assert info.axes == "YXS" and info.scale[:2] == (0.5, 0.5) and info.units[:2] == (None, None)  # no unit invented
    assert layer_axes({"axis_labels": ("t", "-4", "-3", "-2", "-1")}, (2, 2, 2, 2, 2)) is None  # too many unnamed


def test_unnamed_stack_saved_from_the_fluorescence_sample_is_not_q(make_viewer, dock, run_and_wait, tmp_path):
    """The tester's case: kidney clusters of the sample stack were written 'QYX' with no axes."""
    viewer = make_viewer()
    viewer.add_image(np.random.default_rng(1).integers(0, 900, (3, 16, 16), dtype=np.uint16), name="kidney C0")
    widget = dock(viewer)
    widget.n_clusters.value = 2
    widget.feature_view.value = "none"
    run_and_wait(widget)
    written = viewer.layers["kidney C0 clusters"].save(str(tmp_path / "c.tif"), plugin="napari-colorquant")
    assert _ome(written[0])[0] == "ZYX"


def test_pixel_size_read_by_the_plugin_is_saved_in_its_unit(make_viewer, dock, run_and_wait, tmp_path):
    """The reader gives the layer its file's unit, so the clusters saved from it say µm (none is guessed)."""
    path = tmp_path / "stack.ome.tif"
    data = np.random.default_rng(1).integers(0, 4000, (3, 24, 32), dtype=np.uint16)
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "ZYX", "PhysicalSizeX": 0.125, "PhysicalSizeY": 0.125,
                                                     "PhysicalSizeZ": 0.5})  # fmt: skip
    viewer = make_viewer()
    (layer,) = viewer.open(str(path), plugin="napari-colorquant")
    assert [str(unit) for unit in layer.units] == ["micrometer"] * 3
    widget = dock(viewer)
    widget.image.value, widget.n_clusters.value, widget.feature_view.value = layer, 3, "none"
    run_and_wait(widget)
    written = viewer.layers["stack clusters"].save(str(tmp_path / "clusters.tif"), plugin="napari-colorquant")
    axes, pixels = _ome(written[0])
    assert axes == "ZYX" and float(pixels["PhysicalSizeX"]) == 0.125 and pixels["PhysicalSizeXUnit"] == "µm"
    assert float(pixels["PhysicalSizeZ"]) == 0.5


def test_saved_clusters_as_ome_zarr_keep_axes_and_pixel_size(stack_outputs, tmp_path):
    import zarr

    labels = stack_outputs.layers["stack clusters"]
    written = labels.save(str(tmp_path / "clusters.ome.zarr"), plugin="napari-colorquant")
    assert written == [str(tmp_path / "clusters.ome.zarr")]
    assert [p.name for p in tmp_path.iterdir()] == ["clusters.ome.zarr"]  # no staging folder left behind
    info = read_axes(written[0])
    assert info.axes == "ZYX" and info.scale == (2.0, 0.25, 0.25) and info.units == ("µm",) * 3
    np.testing.assert_array_equal(zarr.open_array(written[0] + "/0", mode="r")[...], labels.data)


def test_lazy_layer_saved_as_zarr_is_written_chunk_by_chunk(make_viewer, tmp_path, monkeypatch):
    """A dask layer goes to the store chunk by chunk: the layer's array is never made whole in memory."""
    import dask.array as da
    import zarr

    viewer = make_viewer()
    labels = np.random.default_rng(1).integers(0, 5, (6, 40, 50), dtype=np.uint8)
    layer = viewer.add_labels(da.from_array(labels, chunks=(1, 20, 25)), name="lazy clusters")
    monkeypatch.setattr(da.Array, "__array__", lambda *a, **k: pytest.fail("the whole dask array was loaded"))
    written = layer.save(str(tmp_path / "lazy.zarr"), plugin="napari-colorquant")
    monkeypatch.undo()
    stored = zarr.open_array(written[0] + "/0", mode="r")  # an OME-Zarr image: napari's unnamed axes are ZYX
    assert stored.chunks == (1, 20, 25)
    np.testing.assert_array_equal(stored[...], labels)


def test_saving_over_a_zarr_store_replaces_it_and_never_a_plain_folder(make_viewer, tmp_path, monkeypatch):
    from napari_colorquant._napari import writer

    shown: list[str] = []
    monkeypatch.setattr(writer, "_notify", shown.append)
    viewer = make_viewer()
    first = viewer.add_labels(np.ones((8, 9), np.uint8), name="first")
    second = viewer.add_labels(np.full((8, 9), 2, np.uint8), name="second")
    store = tmp_path / "clusters.zarr"
    assert first.save(str(store), plugin="napari-colorquant") == [str(store)]
    assert second.save(str(store), plugin="napari-colorquant") == [str(store)]
    import zarr

    assert (zarr.open_array(str(store / "0"), mode="r")[...] == 2).all()
    precious = tmp_path / "notes.zarr"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    assert second.save(str(precious), plugin="napari-colorquant") == []
    assert (precious / "keep.txt").read_text() == "mine" and [p.name for p in precious.iterdir()] == ["keep.txt"]
    assert len(shown) == 1 and "is not a zarr store; it is never replaced" in shown[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clusters.zarr", "notes.zarr"]


def test_clusters_saved_as_ome_zarr_open_again_as_labels_with_their_colours(stack_outputs, tmp_path):
    from napari.layers import Labels

    labels = stack_outputs.layers["stack clusters"]
    (written,) = labels.save(str(tmp_path / "clusters.ome.zarr"), plugin="napari-colorquant")
    (reopened,) = stack_outputs.open(written, plugin="napari-colorquant")
    assert isinstance(reopened, Labels)
    np.testing.assert_array_equal(np.asarray(reopened.data), labels.data)
    assert tuple(reopened.scale) == (2.0, 0.25, 0.25)
    for label in range(1, 4):  # the colours the user saw, to 8 bits
        np.testing.assert_allclose(reopened.colormap.map(label)[:3], labels.colormap.map(label)[:3], atol=1 / 255)


@pytest.mark.parametrize("kind", ["labels", "image"])
def test_multiscale_layer_saved_as_ome_zarr_is_a_pyramid_of_every_level(make_viewer, tmp_path, kind):
    """Every level goes to the store (it kept level 0 only), each placed where napari shows it; the reader opens it
    again as the same multiscale layer."""
    import dask.array as da
    import zarr

    rng = np.random.default_rng(4)
    full = rng.integers(1, 4, (3, 40, 50), dtype=np.uint8)
    levels = [da.from_array(full[:, ::f, ::f], chunks=(1, 16, 16)) for f in (1, 2, 4)]  # (3,40,50) (3,20,25) (3,10,13)
    viewer = make_viewer()
    place = {"scale": (2.0, 0.5, 0.25), "translate": (6.0, 1.0, -2.0), "units": "micrometer", "axis_labels": "zyx"}
    add = viewer.add_labels if kind == "labels" else viewer.add_image
    layer = add(levels, multiscale=True, name="pyramid", **place)
    (written,) = layer.save(str(tmp_path / "pyramid.ome.zarr"), plugin="napari-colorquant")
    ngff = dict(zarr.open_group(written, mode="r").attrs)["ome"]
    (multiscale,) = ngff["multiscales"]
    assert [d["path"] for d in multiscale["datasets"]] == ["0", "1", "2"]
    for index, dataset in enumerate(multiscale["datasets"]):
        factor = np.divide(full.shape, levels[index].shape)  # napari's downsample factors
        scale, translation = dataset["coordinateTransformations"]
        np.testing.assert_allclose(scale["scale"], np.multiply(place["scale"], factor))
        assert translation == {"type": "translation", "translation": list(place["translate"])}
        stored = zarr.open_array(f"{written}/{index}", mode="r")
        np.testing.assert_array_equal(stored[...], np.asarray(levels[index]))
    assert ("image-label" in ngff) == (kind == "labels")
    (reopened,) = viewer.open(written, plugin="napari-colorquant")
    assert type(reopened).__name__ == type(layer).__name__ and reopened.multiscale and len(reopened.data) == 3
    for mine, theirs in zip(reopened.data, levels, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    np.testing.assert_allclose(reopened.scale, layer.scale)
    np.testing.assert_allclose(reopened.translate, layer.translate)
    np.testing.assert_allclose(reopened.downsample_factors, layer.downsample_factors)


def test_layer_translation_is_saved_in_an_ome_zarr_and_read_back(make_viewer, tmp_path):
    """A layer moved off the origin keeps its place in the store (only its scale was written)."""
    import zarr

    viewer = make_viewer()
    labels = np.random.default_rng(5).integers(0, 4, (30, 40), dtype=np.uint8)
    layer = viewer.add_labels(labels, name="moved", scale=(0.5, 0.25), translate=(3.0, -7.5))
    (written,) = layer.save(str(tmp_path / "moved.ome.zarr"), plugin="napari-colorquant")
    (dataset,) = dict(zarr.open_group(written, mode="r").attrs)["ome"]["multiscales"][0]["datasets"]
    assert dataset["coordinateTransformations"] == [
        {"type": "scale", "scale": [0.5, 0.25]}, {"type": "translation", "translation": [3.0, -7.5]}
    ]  # fmt: skip
    (reopened,) = viewer.open(written, plugin="napari-colorquant")
    np.testing.assert_array_equal(np.asarray(reopened.data), labels)
    np.testing.assert_allclose(reopened.scale, layer.scale)
    np.testing.assert_allclose(reopened.translate, layer.translate)


@pytest.mark.parametrize("n_samples", [3, 4])
def test_multiscale_rgb_layer_saved_as_zarr_keeps_every_level_and_opens_as_the_same_rgb_layer(
    make_viewer, tmp_path, n_samples
):
    """OME-Zarr has no axis for an RGB pixel's samples: the store kept level 0 only (a plain zarr array); now the
    samples are its colour channel axis and the reader makes them an RGB(A) pixel's colour again."""
    import dask.array as da
    import zarr

    rng = np.random.default_rng(6)
    full = rng.integers(0, 256, (40, 50, n_samples), dtype=np.uint8)
    levels = [da.from_array(full[::f, ::f], chunks=(16, 16, n_samples)) for f in (1, 2, 4)]
    viewer = make_viewer()
    place = {"scale": (0.5, 0.25), "translate": (1.0, -2.0), "units": "micrometer"}
    layer = viewer.add_image(levels, multiscale=True, rgb=True, name="photo", **place)
    (written,) = layer.save(str(tmp_path / "photo.ome.zarr"), plugin="napari-colorquant")
    assert written.endswith("photo.ome.zarr")
    ngff = dict(zarr.open_group(written, mode="r").attrs)["ome"]
    (multiscale,) = ngff["multiscales"]
    assert [axis["name"] for axis in multiscale["axes"]] == ["c", "y", "x"]
    assert [d["path"] for d in multiscale["datasets"]] == ["0", "1", "2"]
    for index, level in enumerate(levels):
        stored = zarr.open_array(f"{written}/{index}", mode="r")
        np.testing.assert_array_equal(stored[...], np.moveaxis(np.asarray(level), -1, 0))
    assert [c["color"] for c in ngff["omero"]["channels"]] == ["FF0000", "00FF00", "0000FF", "FFFFFF"][:n_samples]
    (reopened,) = viewer.open(written, plugin="napari-colorquant")
    assert reopened.rgb and reopened.multiscale and len(reopened.data) == 3
    for mine, theirs in zip(reopened.data, levels, strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    np.testing.assert_allclose(reopened.scale, layer.scale)
    np.testing.assert_allclose(reopened.translate, layer.translate)
    np.testing.assert_allclose(reopened.downsample_factors, layer.downsample_factors)

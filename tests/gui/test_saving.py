"""File → Save of the plugin's outputs goes to the plugin's writers by default; other layers save as before."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_colorquant.samples import load_sample


@pytest.fixture
def outputs(make_viewer, cluster_in_widget):
    """A viewer holding a small photo's clusters and quantized layers, made by the docked widget."""
    viewer = make_viewer()
    viewer.add_image(np.ascontiguousarray(load_sample("china")[:48, :64]), name="crop")
    return cluster_in_widget(viewer, 4)


def _select(viewer, name):
    viewer.layers.selection = {viewer.layers[name]}
    return viewer.layers[name]


def test_save_of_clusters_writes_the_smallest_integer_tiff(outputs, tmp_path):
    labels = _select(outputs, "crop clusters")
    written = outputs.layers.save(str(tmp_path / "clusters.tif"), selected=True)  # no plugin named
    assert written == [str(tmp_path / "clusters.tif")]
    read = tifffile.imread(written[0])
    assert read.dtype == np.uint8  # napari's own labels writer widens to uint32
    np.testing.assert_array_equal(read, labels.data)


def test_save_of_quantized_as_png_is_the_plugins_indexed_png(outputs, tmp_path):
    quantized = _select(outputs, "crop quantized")
    written = outputs.layers.save(str(tmp_path / "quantized.png"), selected=True)
    with Image.open(written[0]) as png:
        assert png.mode == "P" and len(png.getpalette()) // 3 == 4  # napari's writer stores truecolour RGB
        np.testing.assert_array_equal(np.asarray(png.convert("RGB")), quantized.data)


def test_file_menu_save_selected_uses_the_plugin_writer_by_default(outputs, tmp_path):
    from napari._app_model import get_app_model

    labels = _select(outputs, "crop clusters")
    target = tmp_path / "from menu.tif"
    with mock.patch("napari._qt.qt_viewer.QFileDialog") as dialog:
        # The user types a name and keeps the file type the dialog pre-selects (its first entry).
        dialog.return_value.getSaveFileName.side_effect = lambda *args, **kw: (str(target), kw["filter"].split(";;")[0])
        get_app_model().commands.execute_command("napari.window.file.save_layers_dialog.selected")
    read = tifffile.imread(target)
    assert read.dtype == np.uint8
    np.testing.assert_array_equal(read, labels.data)


def test_other_layers_save_as_before(outputs, tmp_path):
    rng = np.random.default_rng(0)
    photo = outputs.add_image(rng.integers(0, 256, (8, 9, 3), dtype=np.uint8), name="photo")
    gray = outputs.add_image(rng.random((6, 7)).astype(np.float32), name="gray")
    regions = outputs.add_labels(np.arange(20, dtype=np.int32).reshape(4, 5), name="regions")
    outputs.add_points([[1, 2], [3, 4]], name="spots")

    _select(outputs, "photo")
    assert outputs.layers.save(str(tmp_path / "photo.jpg"), selected=True)  # napari's lossy writer, as before
    assert Image.open(tmp_path / "photo.jpg").format == "JPEG"
    assert outputs.layers.save(str(tmp_path / "photo.png"), selected=True)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "photo.png")), photo.data)
    _select(outputs, "gray")
    assert outputs.layers.save(str(tmp_path / "gray.tif"), selected=True)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "gray.tif"), gray.data)
    _select(outputs, "regions")
    assert outputs.layers.save(str(tmp_path / "regions.npz"), selected=True)  # a suffix only napari writes
    np.testing.assert_array_equal(next(iter(np.load(tmp_path / "regions.npz").values())), regions.data)
    _select(outputs, "spots")
    assert outputs.layers.save(str(tmp_path / "spots.csv"), selected=True)


@pytest.mark.parametrize("suffix", [".tif", ".png"])
def test_a_pyramids_outputs_save_at_full_resolution(make_viewer, dock, run_and_wait, tmp_path, suffix):
    # np.asarray of napari's multiscale data is its coarsest level: the clusters of a 427 x 640 pyramid were
    # saved as 214 x 320 without a word.
    viewer = make_viewer()
    photo = load_sample("china")
    viewer.add_image([photo, photo[::2, ::2]], multiscale=True, rgb=True, name="pyramid")
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 4, "none"
    run_and_wait(widget)
    for name in ("pyramid clusters", "pyramid quantized"):
        layer = _select(viewer, name)
        assert layer.multiscale
        written = viewer.layers.save(str(tmp_path / f"{name}{suffix}"), selected=True)
        with Image.open(written[0]) as image:
            read = np.asarray(image if name.endswith("clusters") or image.mode != "P" else image.convert("RGB"))
        assert read.shape[:2] == photo.shape[:2]
        np.testing.assert_array_equal(read, np.asarray(layer.data[0]))


@pytest.mark.parametrize("kind", ["4 channels", "uint16 gray"])
def test_clusters_png_of_microscopy_data_takes_the_colours_shown(make_viewer, dock, run_and_wait, tmp_path, kind):
    """A clusters layer of a 4-channel or 16-bit run saved as .png: the labels as palette indices, the colours
    as the layer shows them (the model's palette is in the image's units: 4 values, or 33000 for 16 bits)."""
    viewer = make_viewer()
    rng = np.random.default_rng(0)
    levels = np.array([33000, 33500, 34000, 36000], np.uint16)
    plane = levels[rng.integers(0, 4, (40, 50))] + rng.integers(0, 20, (40, 50)).astype(np.uint16)
    first = viewer.add_image(plane, name="ch0")
    others = [viewer.add_image(np.roll(plane, 7 * i, axis=1), name=f"ch{i}") for i in (1, 2, 3)]
    widget = dock(viewer)
    widget.image.value = first
    widget.channels.value = others if kind == "4 channels" else []
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    run_and_wait(widget)
    labels = _select(viewer, "ch0 clusters")
    written = viewer.layers.save(str(tmp_path / "clusters.png"), selected=True)
    assert written == [str(tmp_path / "clusters.png")]
    with Image.open(written[0]) as png:
        assert png.mode == "P"
        np.testing.assert_array_equal(np.asarray(png), labels.data)
        palette = np.asarray(png.getpalette()[: 3 * 4], np.float64).reshape(4, 3)
    shown = labels.colormap.map(np.array([1, 2, 3]))[:, :3] * 255
    np.testing.assert_allclose(palette[1:], shown, atol=1)


def test_suffixes_the_plugin_does_not_write_go_to_napari_for_its_layers_too(outputs, tmp_path, monkeypatch):
    """docs/reliability.md: a quantized layer saved as .jpg is napari's lossy JPEG; clusters saved as .jpg are
    refused with a notification saying what can be written (napari wrote nothing, with a warning on the terminal
    only: issue 13 item 9)."""
    import warnings

    from napari_colorquant._napari import writer

    said: list[str] = []
    monkeypatch.setattr(writer, "_notify", said.append)
    _select(outputs, "crop quantized")
    assert outputs.layers.save(str(tmp_path / "quantized.jpg"), selected=True) == [str(tmp_path / "quantized.jpg")]
    assert Image.open(tmp_path / "quantized.jpg").format == "JPEG"
    _select(outputs, "crop clusters")
    for suffix in (".jpg", ".bmp"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # napari's own: the writer wrote nothing
            assert outputs.layers.save(str(tmp_path / f"clusters{suffix}"), selected=True) == []
        assert not (tmp_path / f"clusters{suffix}").exists()
        assert any(f"a {suffix} picture does not keep labels" in m and ".tif" in m for m in said), said


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_a_stack_saved_as_a_picture_is_refused_and_the_file_kept(make_viewer, cluster_in_widget, tmp_path,
                                                                  monkeypatch, suffix):  # fmt: skip
    """Issue 13 item 9 for .jpg / .bmp: napari's own writer took a quantized RGB stack, emptied the file (an existing
    picture of that name too) and failed in Pillow with KeyError 'JPEG'."""
    import warnings

    from napari_colorquant._napari import writer

    said: list[str] = []
    monkeypatch.setattr(writer, "_notify", said.append)
    viewer = make_viewer()
    photo = np.ascontiguousarray(load_sample("china")[:48, :64])
    viewer.add_image(np.stack([photo, photo[::-1]]), name="movie", rgb=True)
    cluster_in_widget(viewer, 4)
    target = tmp_path / f"holiday{suffix}"
    Image.fromarray(photo).save(target)
    before = target.read_bytes()
    _select(viewer, "movie quantized")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # napari's own: the writer wrote nothing
        assert viewer.layers.save(str(target), selected=True) == []
    assert target.read_bytes() == before
    assert any("holds one 2-D image" in m and "(2, 48, 64, 3)" in m and ".tif" in m for m in said), said


def test_plot_layers_saved_as_pictures_say_what_can_be_written(make_viewer, dock, run_and_wait, tmp_path, monkeypatch):
    """The feature-space plot's Points and Shapes layers saved as .png / .tif: napari wrote nothing, with a warning
    on the terminal only (issue 13). Now a notification says to use .csv or .svg, which save as before."""
    import warnings

    from napari.plugins import _npe2

    from napari_colorquant._napari import writer

    said: list[str] = []
    monkeypatch.setattr(writer, "_notify", said.append)
    viewer = make_viewer()
    viewer.add_image(np.ascontiguousarray(load_sample("china")[:48, :64]), name="crop")
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 4, "same viewer"
    run_and_wait(widget)
    viewer.add_points([[1, 2], [3, 4]], name="spots")  # the user's own: no word about the plot
    for name, kind in (("crop feature space", "Points"), ("crop axes", "Shapes"), ("spots", "Points")):
        layer = _select(viewer, name)
        assert "*.csv" in _npe2.file_extensions_string_for_layers([layer])[0].split(";;")[0]  # the dialog's default
        for suffix in (".png", ".tif", ".jpg"):
            target, said[:] = tmp_path / f"{name}{suffix}", []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # napari's own: the writer wrote nothing
                assert viewer.layers.save(str(target), selected=True) == []
            assert not target.exists()
            assert len(said) == 1 and f"{kind} layer {name!r}" in said[0] and "ending in .csv" in said[0], said
            assert ".svg (a drawing" in said[0]
            assert ("Export plot" in said[0]) == (name != "spots")
        assert viewer.layers.save(str(tmp_path / f"{name}.csv"), selected=True) == [str(tmp_path / f"{name}.csv")]
        assert viewer.layers.save(str(tmp_path / f"{name}_"), selected=True) == [str(tmp_path / f"{name}_.csv")]
        assert viewer.layers.save(str(tmp_path / f"{name}.svg"), selected=True)  # napari-svg's, as the message says

"""napari writers save what the user sees, or refuse with a notification saying what can be written."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_colorquant import quantize
from napari_colorquant._napari import writer


@pytest.fixture
def notes(monkeypatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.setattr(writer, "_notify", shown.append)
    return shown


@pytest.fixture(scope="module")
def result(china):
    return quantize(np.asarray(china)[:40, :50], 4)


def _meta(result) -> dict:
    return {"metadata": {"colorquant": {"model": result.model.to_dict()}}}


def test_edited_quantized_png_keeps_the_painted_pixels(tmp_path, result, notes):
    edited = result.quantized.copy()
    edited[5:15, 5:15] = (255, 0, 0)  # not a palette colour: must not be re-predicted
    path = tmp_path / "edited.png"
    assert writer.write_quantized(str(path), edited, _meta(result)) == [str(path)]
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), edited)
    assert notes == []


def test_unedited_quantized_png_is_indexed(tmp_path, result):
    path = tmp_path / "q.png"
    writer.write_quantized(str(path), result.quantized, _meta(result))
    with Image.open(path) as png:
        assert png.mode == "P"
        np.testing.assert_array_equal(np.asarray(png.convert("RGB")), result.quantized)


def test_clusters_png_reads_back_as_the_labels_even_when_painted_above_k(tmp_path, result, notes):
    labels = result.labels.copy()
    labels[0:3, 0:3] = 7  # painted with a label the model does not have (K = 4)
    labels[3:5, 0:3] = 0  # erased
    path = tmp_path / "clusters.png"
    assert writer.write_labels(str(path), labels, _meta(result)) == [str(path)]
    with Image.open(path) as png:
        assert png.mode == "P" and png.info.get("transparency") == 0
        np.testing.assert_array_equal(np.asarray(png), labels)
        palette = np.asarray(png.getpalette()[: 3 * 5]).reshape(5, 3)
    np.testing.assert_array_equal(palette[1:], np.clip(np.rint(result.model.palette), 0, 255))


def test_clusters_tiff_uses_the_smallest_dtype(tmp_path, notes):
    for high, dtype in ((5, np.uint8), (300, np.uint16), (70000, np.uint32)):
        labels = np.zeros((4, 4), np.int32)
        labels[0, 0] = high
        path = tmp_path / f"l{high}.tif"
        writer.write_labels(str(path), labels, {})
        read = tifffile.imread(path)
        assert read.dtype == dtype and read[0, 0] == high


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("big.png", np.full((4, 4), 300, np.int32), "0..255"),
        ("stack.png", np.ones((2, 4, 4), np.uint8), "2-D"),
        ("clusters.jpg", np.ones((4, 4), np.uint8), ".tif"),
        ("clusters.xyz", np.ones((4, 4), np.uint8), ".tif"),
    ],
)
def test_labels_refusals_notify_and_write_nothing(tmp_path, notes, name, data, message):
    assert writer.write_labels(str(tmp_path / name), data, {}) == []
    assert len(notes) == 1 and message in notes[0] and notes[0].startswith("Not saved")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("float.png", np.random.default_rng(0).random((4, 4, 3)).astype(np.float32), "float32"),
        ("stack.png", np.ones((3, 4, 4, 3), np.uint8), "shape"),
        ("photo.jpg", np.ones((4, 4, 3), np.uint8), ".png"),
        ("photo.xyz", np.ones((4, 4, 3), np.uint8), ".tif"),
    ],
)
def test_quantized_refusals_notify_and_write_nothing(tmp_path, notes, name, data, message):
    assert writer.write_quantized(str(tmp_path / name), data, {}) == []
    assert len(notes) == 1 and message in notes[0]
    assert list(tmp_path.iterdir()) == []


def test_uint16_rgb_is_a_16_bit_png(tmp_path, notes):
    image = np.random.default_rng(1).integers(0, 65536, (6, 5, 3), dtype=np.uint16)
    path = tmp_path / "deep.png"
    assert writer.write_quantized(str(path), image, {}) == [str(path)]
    back = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(back, image)


def test_float_image_to_tiff_keeps_values(tmp_path):
    image = np.random.default_rng(2).random((4, 4)).astype(np.float32)
    writer.write_quantized(str(tmp_path / "f.tif"), image, {})
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "f.tif"), image)


def test_saving_from_the_viewer_writes_small_labels(make_viewer, tmp_path):
    viewer = make_viewer()
    labels = np.zeros((8, 8), np.int32)
    labels[2:5, 2:5] = 3
    viewer.add_labels(labels, name="clusters")
    path = tmp_path / "clusters.tif"
    viewer.layers.save(str(path), selected=True, plugin="napari-colorquant")
    read = tifffile.imread(path)
    assert read.dtype == np.uint8
    np.testing.assert_array_equal(read, labels)


def test_plugin_writers_move_ahead_of_naparis_and_activation_does_it():
    from npe2 import PluginManifest

    from napari_colorquant import __file__ as package

    manifest = PluginManifest.from_file(Path(package).parent / "napari.yaml")
    assert manifest.on_activate == "napari_colorquant._napari.writer:on_activate"

    def entry(plugin, name, command=None):
        return ("labels", 1, 2, SimpleNamespace(plugin_name=plugin, name=name, command=command))

    refusing = entry("napari-colorquant", "refuses", "napari-colorquant.refuse_points_picture")
    entries = [entry("napari", "builtin"), refusing, entry("other", "x"), entry("napari-colorquant", "ours")]
    manager = SimpleNamespace(_contrib=SimpleNamespace(_writers=entries))
    assert writer.prefer_plugin_writers(manager)
    # the writer that only says "use .csv" comes after napari's and other plugins' writers of Points layers
    assert [e[-1].name for e in manager._contrib._writers] == ["ours", "builtin", "x", "refuses"]
    declared = {w.command for w in manifest.contributions.writers}
    assert declared >= writer.REFUSING_WRITERS
    assert not writer.prefer_plugin_writers(SimpleNamespace())  # npe2 changed its index: napari's stay default


@pytest.mark.parametrize("name", ["x.tif", "x.png", "x.zarr"])
def test_a_folder_that_cannot_be_written_is_a_notification_not_a_traceback(tmp_path, notes, name):
    target = tmp_path / "missing" / name
    assert writer.write_labels(str(target), np.ones((4, 4), np.uint8), {}) == []
    assert writer.write_quantized(str(target), np.ones((4, 4), np.uint8), {}) == []
    assert len(notes) == 2 and all(n.startswith(f"Not saved: {target}") for n in notes)
    assert "No such file or directory" in notes[0]
    assert list(tmp_path.iterdir()) == []


def test_multiscale_layer_whose_axes_ome_zarr_cannot_name_says_only_its_finest_level_is_saved(
    tmp_path, notes, monkeypatch
):
    """It was saved as a plain zarr array of level 0 without a word."""
    import zarr

    warned = []
    monkeypatch.setattr(writer, "_warn", warned.append)
    full = np.random.default_rng(3).integers(1, 4, (40, 50), dtype=np.uint8)
    levels = [full, full[::2, ::2]]
    meta = {"multiscale": True, "axis_labels": ("x", "y"), "metadata": {"colorquant": {}}}  # x before y
    (written,) = writer.write_labels(str(tmp_path / "swapped.zarr"), levels, meta)
    np.testing.assert_array_equal(zarr.open_array(written, mode="r")[...], full)
    assert notes == [] and len(warned) == 1
    assert "finest of the layer's 2 levels only" in warned[0] and "(x, y)" in warned[0]
    named = {**meta, "axis_labels": ("y", "x")}
    writer.write_labels(str(tmp_path / "named.ome.zarr"), levels, named)
    assert len(warned) == 1  # an OME-Zarr pyramid of both levels: nothing to say

"""The walk-through of docs/napari.md, step by step, in a real viewer; its screenshots are made here.

They are written to a temporary folder; with ``COLORQUANT_SCREENSHOTS=docs/images`` set, to that
folder instead (how the guide's images are made):

    COLORQUANT_SCREENSHOTS=docs/images .venv/bin/python -m pytest tests/gui/test_guide.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from napari_colorquant import ClusterModel, apply_model, feature_explorer, quantize
from napari_colorquant.cli import main
from napari_colorquant.files import write_model
from napari_colorquant.samples import load_sample

NAMES = ["kidney C0", "kidney C1", "kidney C2"]
COLORS = [-16711681, 16711935, 16777215]  # OME Color (RGBA as signed int32): magenta, green, cyan


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("COLORQUANT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_stack(path: Path, data: np.ndarray) -> Path:
    metadata = {"axes": "ZCYX", "Channel": {"Name": NAMES, "Color": COLORS}, "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5}
    tifffile.imwrite(path, data, ome=True, metadata=metadata)
    return path


def _screenshot(viewer, path: Path, angles=None) -> np.ndarray:
    from qtpy.QtWidgets import QApplication

    viewer.window._qt_window.resize(1280, 1000)
    QApplication.processEvents()
    viewer.reset_view()
    if angles is not None:  # an oblique look at a 3D feature space
        viewer.camera.angles = angles
        viewer.camera.zoom *= 0.6  # the rotated cloud is wider than the face-on view reset_view fitted
        viewer.axes.visible = True  # the three channel axes, named
        viewer.axes.labels = True
    image = np.asarray(viewer.screenshot(str(path), canvas_only=False, flash=False))
    assert image.shape[0] > 600 and image[..., :3].std() > 10, f"{path.name} looks blank"
    return image


def _widget_in_front_of_the_explorer(viewer, widget) -> bool:
    """The explorer is docked, and its tab is behind the clustering widget's one."""
    from qtpy.QtWidgets import QDockWidget

    from napari_colorquant._napari.explorer import DOCK_NAME

    docks = [dock for dock in viewer.window._qt_window.findChildren(QDockWidget) if dock.windowTitle() == DOCK_NAME]
    # A tab behind another stays "visible" to Qt; what it shows on screen is its visible region.
    covered = all(dock.visibleRegion().isEmpty() for dock in docks)
    return bool(docks) and covered and not widget.native.visibleRegion().isEmpty()


def test_guide_three_channel_stack(make_viewer, dock, run_and_wait, shots, tmp_path, qtbot):
    stack = load_sample("kidney")  # Z, C, Y, X = 8, 3, 128, 128
    path = _write_stack(tmp_path / "kidney.ome.tif", stack)

    # 1. open: one layer per channel, named and coloured from the OME metadata
    viewer = make_viewer(show=True)
    layers = viewer.open(str(path), plugin="napari-colorquant")
    assert [layer.name for layer in layers] == NAMES
    viewer.dims.set_point(0, 4)  # a z in the middle

    # 2. choose the channels: the first layer is the image, the other two extra channels
    widget = dock(viewer)
    widget.image.value = layers[0]
    widget.channels.value = layers[1:]
    assert widget.color_space.choices == ("auto", "channels")
    widget.n_clusters.value = 4
    widget.feature_view.value = "separate window"
    # As a user sees it: the still-empty explorer docked as a tab behind the widget. It is docked a moment after
    # the widget opens, and napari raises its new tab before the widget comes back: shot in between, the
    # explorer was pictured instead of the widget.
    qtbot.waitUntil(lambda: _widget_in_front_of_the_explorer(viewer, widget))
    _screenshot(viewer, shots / "guide_channels.png")
    assert _widget_in_front_of_the_explorer(viewer, widget), "the explorer's tab covers the widget in the picture"

    # 3. cluster
    run_and_wait(widget)
    # The outputs placed and the explorer's plot rendered (in its background thread), as the guide shows them;
    # shot at once, the plot still said "Run the clustering" over a filled table.
    qtbot.waitUntil(lambda: not widget.busy and feature_explorer(viewer) is not None)
    qtbot.waitUntil(lambda: not feature_explorer(viewer).plot.canvas.busy)
    clusters = viewer.layers["kidney C0 clusters"]
    params = clusters.metadata["colorquant"]["params"]
    expected = quantize(stack, 4, channel_axis=1, max_iter=params["max_iter"], epsilon=params["epsilon"])
    np.testing.assert_array_equal(clusters.data, expected.labels)
    for layer in viewer.layers:
        layer.visible = layer.name == "kidney C0 clusters"
    _screenshot(viewer, shots / "guide_clusters.png")

    # 4. inspect: the clusters in the space of the three channels, and the per-cluster table
    assert "pixel_count" in clusters.features and clusters.features["pixel_count"].sum() == stack[:, 0].size
    _screenshot(widget.feature_viewer, shots / "guide_feature_space.png", angles=(-20, 35, 140))
    widget.close_feature_viewer()

    # 5. save: the labels (napari's File > Save Selected Layers) and the model (JSON)
    saved = clusters.save(str(tmp_path / "kidney_labels.tif"), plugin="napari-colorquant")
    assert saved and np.array_equal(tifffile.imread(saved[0]), expected.labels)
    model = ClusterModel.from_dict(clusters.metadata["colorquant"]["model"])
    write_model(tmp_path / "kidney_model.json", model)

    # 6. apply the model to other files with the command line (same palette)
    other = _write_stack(tmp_path / "kidney_flipped.ome.tif", stack[::-1].copy())
    out = tmp_path / "out"
    assert main([str(other), "--apply", str(tmp_path / "kidney_model.json"), "-o", str(out), "-q"]) == 0
    labels = tifffile.imread(out / "kidney_flipped_labels.ome.tif")
    np.testing.assert_array_equal(labels, apply_model(model, stack[::-1], channel_axis=1).labels)
    for name in ("guide_channels.png", "guide_clusters.png", "guide_feature_space.png"):
        assert Image.open(shots / name).size[0] >= 800

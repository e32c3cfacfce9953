"""Real screenshots of the viewer with results (used in README.md and docs/).

They are written to a temporary folder; with ``COLORQUANT_SCREENSHOTS=docs/images``
set, to that folder instead (how the docs' images are made):

    COLORQUANT_SCREENSHOTS=docs/images .venv/bin/python -m pytest tests/gui/test_screenshots.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("COLORQUANT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _save(viewer, path: Path, angles=None) -> np.ndarray:
    viewer.window._qt_window.resize(1280, 860)
    viewer.reset_view()
    if angles is not None:  # an oblique look at a 3D feature space
        camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
        camera.angles = angles
        camera.zoom *= 1.5
    image = viewer.screenshot(str(path), canvas_only=False, flash=False)
    assert path.is_file()
    return np.asarray(image)


def _assert_shows_content(image: np.ndarray) -> None:
    assert image.shape[0] > 400 and image.shape[1] > 800
    assert image[..., :3].std() > 20, "screenshot looks blank"
    assert len(np.unique(image[..., :3].reshape(-1, 3), axis=0)) > 50


def test_screenshot_kmeans_photo(make_napari_viewer, dock, run_and_wait, shots):
    viewer = make_napari_viewer(show=True)
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    widget.n_clusters.value = 8
    widget.feature_view.value = "separate window"
    run_and_wait(widget)
    try:
        viewer.layers["china clusters"].visible = False
        main = _save(viewer, shots / "kmeans_photo.png")
        _assert_shows_content(main)
        feature_viewer = widget.feature_viewer
        feature = _save(feature_viewer, shots / "kmeans_feature_space.png", angles=(-20, 35, 140))
        _assert_shows_content(feature)
        # The canvas shows the quantized photo: its colours are the 8 cluster colours.
        palette = np.rint(viewer.layers["china clusters"].metadata["colorquant"]["model"]["palette"])
        assert palette.shape == (8, 3)
    finally:
        widget.close_feature_viewer()


def test_screenshot_em_chroma(make_napari_viewer, dock, run_and_wait, shots):
    viewer = make_napari_viewer(show=True)
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer, "EM clustering")
    widget.n_clusters.value = 3
    widget.color_space.value = "ycrcb-chroma"
    widget.covariance.value = "diagonal"
    widget.feature_view.value = "separate window"
    run_and_wait(widget)
    try:
        viewer.layers["china clusters"].visible = False
        _assert_shows_content(_save(viewer, shots / "em_chroma_photo.png"))
        _assert_shows_content(_save(widget.feature_viewer, shots / "em_chroma_ellipses.png"))
    finally:
        widget.close_feature_viewer()


def test_screenshot_em_plate_histogram(make_napari_viewer, dock, run_and_wait, shots):
    viewer = make_napari_viewer(show=True)
    viewer.open_sample("napari-colorquant", "plate")
    widget = dock(viewer, "EM clustering")
    widget.n_clusters.value = 2
    widget.feature_view.value = "separate window"
    run_and_wait(widget)
    try:
        _assert_shows_content(_save(viewer, shots / "em_plate.png"))
        _assert_shows_content(_save(widget.feature_viewer, shots / "em_plate_histogram.png"))
    finally:
        widget.close_feature_viewer()


def test_screenshot_fluorescence_channels(make_napari_viewer, dock, run_and_wait, shots):
    viewer = make_napari_viewer(show=True)
    viewer.open_sample("napari-colorquant", "fluorescence")
    widget = dock(viewer)
    widget.image.value = viewer.layers["kidney ch0"]
    widget.channels.value = [viewer.layers["kidney ch1"], viewer.layers["kidney ch2"]]
    widget.n_clusters.value = 5
    widget.feature_view.value = "none"
    run_and_wait(widget)
    for name in ("kidney ch0", "kidney ch1", "kidney ch2"):
        viewer.layers[name].visible = False
    image = _save(viewer, shots / "kmeans_fluorescence.png")
    _assert_shows_content(image)
    Image.fromarray(image)  # a valid RGBA array

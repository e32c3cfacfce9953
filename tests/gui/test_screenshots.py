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
    from qtpy.QtWidgets import QApplication

    from napari_colorquant._napari.placer import frame_plot

    viewer.window._qt_window.resize(1280, 860)
    QApplication.processEvents()  # the canvas takes its new size before the view is fitted to it
    if viewer.title.startswith("napari-colorquant: feature space"):
        frame_plot(viewer)  # framed as the widget frames its window
    else:
        viewer.reset_view()
    if angles is not None:  # an oblique look at a 3D feature space, fitted as seen from there
        camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
        camera.angles = angles
        camera.zoom *= _room_for_content(viewer)  # zoomed 1.5x as seen head-on, the cloud ran off an edge
    image = viewer.screenshot(str(path), canvas_only=False, flash=False)
    assert path.is_file()
    return np.asarray(image)


def _room_for_content(viewer, fill: float = 0.92) -> float:
    """How much the camera may zoom (about the canvas's centre) for what it draws to fill ``fill`` of the canvas."""
    from qtpy.QtWidgets import QApplication

    QApplication.processEvents()
    canvas = np.asarray(viewer.screenshot(canvas_only=True, flash=False))[..., :3].astype(np.int16)
    drawn = (np.abs(canvas - canvas[0, 0]).max(axis=-1) > 20).nonzero()
    half = np.array(canvas.shape[:2]) / 2
    reach = np.max(np.abs(np.column_stack(drawn) + 0.5 - half), axis=0)  # farthest drawn pixel from the centre
    return float(fill * np.min(half / np.maximum(reach, 1.0)))


def _assert_shows_content(image: np.ndarray) -> None:
    assert image.shape[0] > 400 and image.shape[1] > 800
    assert image[..., :3].std() > 20, "screenshot looks blank"
    assert _distinct_colors(image) > 50


def _distinct_colors(image: np.ndarray) -> int:
    """How many different RGB colours the image holds (each packed into one integer: a row-wise
    ``np.unique(axis=0)`` sorts a million-pixel screenshot ~20x slower)."""
    rgb = image[..., :3].astype(np.uint32)
    return len(np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]))


def _assert_canvas_shows_palette(viewer, palette: np.ndarray, labels: np.ndarray) -> None:
    """The rendered canvas holds the palette colours, every cluster big enough to see, and the whole image."""
    canvas = np.asarray(viewer.screenshot(canvas_only=True, flash=False))[..., :3].astype(np.int16)
    background = (canvas == canvas[0, 0]).all(axis=-1)
    # (H, W, K) in int16 (exact for 0-255 differences): a quarter of int64's ~130 MB temporary
    distance = np.abs(canvas[:, :, None, :] - palette[None, None].astype(np.int16)).max(axis=-1)
    nearest, closest = distance.min(axis=-1), distance.argmin(axis=-1)
    image = ~background
    assert (nearest[image] <= 2).mean() > 0.99, "canvas pixels are not the cluster colours"
    shares = np.bincount(labels.ravel(), minlength=len(palette) + 1)[1:] / labels.size
    shown = np.bincount(closest[image & (nearest <= 2)], minlength=len(palette)) / image.sum()
    np.testing.assert_allclose(shown, shares, atol=0.01)  # each cluster covers its share of the canvas image
    # The whole image is in view: a background margin on two opposite sides, nothing cut off.
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    assert (rows[0] > 0 and rows[-1] < canvas.shape[0] - 1) or (cols[0] > 0 and cols[-1] < canvas.shape[1] - 1)
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    assert width / height == pytest.approx(labels.shape[1] / labels.shape[0], rel=0.02)


def _assert_todays_defaults(widget) -> None:
    """The pictured widget shows the library's defaults and a converged fit (as a new user sees it).

    Its dock is raised above the explorer's tab, so the screenshot shows the widget and its report.
    """
    from qtpy.QtWidgets import QApplication, QDockWidget

    from napari_colorquant.params import ClusterParameters

    dock = widget.native
    while dock is not None and not isinstance(dock, QDockWidget):
        dock = dock.parent()
    assert dock is not None
    dock.raise_()
    QApplication.processEvents()

    defaults = ClusterParameters()
    assert widget.max_iter.value == defaults.max_iter and widget.epsilon.value == pytest.approx(defaults.epsilon)
    assert "(converged)" in widget.report.value, widget.report.value


def test_screenshot_kmeans_photo(make_viewer, dock, run_and_wait, shots):
    viewer = make_viewer(show=True)
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    widget.n_clusters.value = 8
    widget.feature_view.value = "separate window"
    run_and_wait(widget)
    _assert_todays_defaults(widget)
    try:
        viewer.layers["china clusters"].visible = False
        main = _save(viewer, shots / "kmeans_photo.png")
        _assert_shows_content(main)
        # The canvas shows the whole quantized photo: its pixels are the 8 cluster colours.
        palette = np.rint(viewer.layers["china clusters"].metadata["colorquant"]["model"]["palette"])
        assert palette.shape == (8, 3)
        _assert_canvas_shows_palette(viewer, palette, viewer.layers["china clusters"].data)
        feature_viewer = widget.feature_viewer
        feature = _save(feature_viewer, shots / "kmeans_feature_space.png", angles=(-20, 35, 140))
        _assert_shows_content(feature)
        canvas = np.asarray(feature_viewer.screenshot(canvas_only=True, flash=False))[..., :3].astype(np.int16)
        edges = np.concatenate([canvas[:, :3].reshape(-1, 3), canvas[:, -3:].reshape(-1, 3),
                                canvas[:3].reshape(-1, 3), canvas[-3:].reshape(-1, 3)])  # fmt: skip
        assert (np.abs(edges - canvas[canvas.shape[0] // 2, 2]).max(axis=-1) <= 20).all()  # the whole cloud shows
    finally:
        widget.close_feature_viewer()


def test_screenshot_em_chroma(make_viewer, dock, run_and_wait, shots):
    viewer = make_viewer(show=True)
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer, "EM clustering")
    widget.n_clusters.value = 3
    widget.color_space.value = "ycrcb-chroma"
    widget.covariance.value = "diagonal"
    widget.feature_view.value = "separate window"
    run_and_wait(widget)
    _assert_todays_defaults(widget)
    try:
        viewer.layers["china clusters"].visible = False
        _assert_shows_content(_save(viewer, shots / "em_chroma_photo.png"))
        _assert_shows_content(_save(widget.feature_viewer, shots / "em_chroma_ellipses.png"))
    finally:
        widget.close_feature_viewer()


def test_screenshot_em_plate_histogram(make_viewer, dock, run_and_wait, shots):
    viewer = make_viewer(show=True)
    viewer.open_sample("napari-colorquant", "plate")
    widget = dock(viewer, "EM clustering")
    widget.n_clusters.value = 2
    widget.feature_view.value = "separate window"
    run_and_wait(widget)
    _assert_todays_defaults(widget)
    try:
        _assert_shows_content(_save(viewer, shots / "em_plate.png"))
        _assert_shows_content(_save(widget.feature_viewer, shots / "em_plate_histogram.png"))
    finally:
        widget.close_feature_viewer()


def test_screenshot_fluorescence_channels(make_viewer, dock, run_and_wait, shots):
    viewer = make_viewer(show=True)
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

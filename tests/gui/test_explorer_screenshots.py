"""Figures of the feature-space explorer, made by driving it (used in README.md and docs/explorer.md).

Written to a temporary folder; with ``COLORQUANT_SCREENSHOTS=docs/images`` set, to that folder:

    COLORQUANT_SCREENSHOTS=docs/images .venv/bin/python -m pytest tests/gui/test_explorer_screenshots.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import napari_colorquant as ncq


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("COLORQUANT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _check_figure(path: Path) -> np.ndarray:
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[0] >= 300 and image.shape[1] >= 400
    packed = (image[..., 0].astype(np.uint32) << 16) | (image[..., 1].astype(np.uint32) << 8) | image[..., 2]
    assert len(np.unique(packed)) > 50, f"{path.name} looks empty"  # distinct colours
    return image


def _run(viewer, dock, run_and_wait, name, **values):
    widget = dock(viewer, name)
    widget.feature_view.value = "none"
    for key, value in values.items():
        getattr(widget, key).value = value
    run_and_wait(widget)
    explorer = ncq.feature_explorer(viewer)
    assert explorer is not None
    return explorer


def test_figure_rgb_photo_with_selection(make_viewer, dock, run_and_wait, shots):
    viewer = make_viewer(show=True)
    viewer.open_sample("napari-colorquant", "photo")
    explorer = _run(viewer, dock, run_and_wait, "K-means clustering", n_clusters=6)
    explorer.show_axes(0, 2)
    assert explorer.axis_names == ("R", "B")
    selection = explorer.select_polygon([(150.5, 150.5), (250.5, 150.5), (250.5, 250.5), (150.5, 250.5)])
    assert np.asarray(selection.data).any()
    explorer.save_plot(shots / "explorer_rgb_photo.png")
    _check_figure(shots / "explorer_rgb_photo.png")
    viewer.layers["china clusters"].visible = False
    viewer.window._qt_window.resize(1500, 900)
    viewer.reset_view()
    viewer.screenshot(str(shots / "explorer_window.png"), canvas_only=False, flash=False)
    _check_figure(shots / "explorer_window.png")


def test_figure_ycrcb_chroma_ellipses(make_viewer, dock, run_and_wait, shots):
    viewer = make_viewer(show=True)
    viewer.open_sample("napari-colorquant", "photo")
    explorer = _run(viewer, dock, run_and_wait, "EM clustering", n_clusters=4, color_space="ycrcb-chroma")
    assert explorer.axis_names == ("Cr", "Cb")
    explorer.confidence.setCurrentText("2 sigma")
    # One closed ellipse per Gaussian, drawn in the plot.
    rings = [line for line in explorer.plot.axes.get_lines() if len(line.get_xdata()) > 50]
    assert len(rings) == 4
    explorer.save_plot(shots / "explorer_ycrcb_chroma.png")
    _check_figure(shots / "explorer_ycrcb_chroma.png")


def test_figure_gray_histogram(make_viewer, dock, run_and_wait, shots):
    viewer = make_viewer(show=True)
    viewer.open_sample("napari-colorquant", "plate")
    explorer = _run(viewer, dock, run_and_wait, "EM clustering", n_clusters=3)
    assert explorer.axis_names[0] == explorer.axis_names[1]
    explorer.save_plot(shots / "explorer_gray_histogram.png")
    _check_figure(shots / "explorer_gray_histogram.png")


def test_figure_named_channels(make_viewer, dock, run_and_wait, shots):
    viewer = make_viewer(show=True)
    viewer.open_sample("napari-colorquant", "fluorescence")
    widget = dock(viewer)
    widget.feature_view.value = "none"
    widget.image.value = viewer.layers["kidney ch0"]
    widget.channels.value = [viewer.layers["kidney ch1"], viewer.layers["kidney ch2"]]
    widget.n_clusters.value = 5
    run_and_wait(widget)
    explorer = ncq.feature_explorer(viewer)
    assert explorer.names == ["kidney ch0", "kidney ch1", "kidney ch2"]
    explorer.show_axes(0, 2)
    assert explorer.axis_names == ("kidney ch0", "kidney ch2")
    assert explorer.plot.axes.get_xlabel().startswith("kidney ch0 (0–")
    explorer.save_plot(shots / "explorer_channels.png")
    _check_figure(shots / "explorer_channels.png")
    grid = explorer.pair_overview(show=False)
    grid.savefig(shots / "explorer_pairs.png", facecolor=grid.get_facecolor())
    _check_figure(shots / "explorer_pairs.png")

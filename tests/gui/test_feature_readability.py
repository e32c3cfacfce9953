"""The feature-space views read as plots: every point visible, axes with ticks and names next to the data.

Driven as a user would (the widget's Run, a real viewer on Xvfb); checked where a user looks: the canvas
pixels, the layers' data and the explorer's pickers. 16-bit microscopy values (10000-40000) are the hard case:
napari draws its own 2-D axes at the world origin, far off screen from such data.

With ``COLORQUANT_SCREENSHOTS=docs/images`` set, the window's screenshot is written to that folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

GFP, CY5 = "Alexa Fluor 488 - GFP", "Alexa Fluor 647 - Cy5 (far red)"


def _two_stains(shape=(96, 96), seed=0) -> np.ndarray:
    """(Y, X, 2) uint16: three kinds of pixel in two stains, values in 10000-40000 as a 16-bit camera gives."""
    rng = np.random.default_rng(seed)
    centres = np.array([[12000.0, 15000.0], [25000.0, 36000.0], [38000.0, 20000.0]])
    labels = rng.integers(0, 3, shape)
    data = centres[labels] + rng.normal(0.0, 1500.0, (*shape, 2))
    return np.clip(data, 0, 65535).astype(np.uint16)


def _add_stains(viewer, data: np.ndarray) -> None:
    viewer.add_image(data[..., 0], name=GFP, colormap="green", blending="additive")
    viewer.add_image(data[..., 1], name=CY5, colormap="magenta", blending="additive")


def _run(viewer, dock, run_and_wait, view: str, widget_name: str = "K-means clustering"):
    widget = dock(viewer, widget_name)
    widget.controls.image.value = viewer.layers[GFP]
    widget.channels.value = [viewer.layers[CY5]]
    widget.n_clusters.value, widget.feature_view.value = 3, view
    run_and_wait(widget)
    return widget


def _canvas(viewer) -> np.ndarray:
    return np.asarray(viewer.screenshot(canvas_only=True, flash=False))[..., :3].astype(np.int16)


def _lines(canvas: np.ndarray, colour, length: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of ``canvas`` holding a run of ``colour`` at least ``length`` of the canvas's size long."""
    near = (np.abs(canvas - np.asarray(colour, np.int16)).max(axis=-1) <= 40).astype(np.int64)

    def longest(mask: np.ndarray) -> np.ndarray:  # longest run of True along the last axis, per row
        best = np.zeros(mask.shape[0], np.int64)
        run = np.zeros(mask.shape[0], np.int64)
        for column in mask.T:
            run = (run + 1) * column
            best = np.maximum(best, run)
        return best

    rows = np.flatnonzero(longest(near) >= length * canvas.shape[1])
    columns = np.flatnonzero(longest(near.T) >= length * canvas.shape[0])
    return rows, columns


def test_16_bit_window_shows_every_point_and_its_axes_next_to_the_data(make_viewer, dock, run_and_wait, shots):
    viewer = make_viewer(show=True)
    data = _two_stains()
    _add_stains(viewer, data)
    widget = _run(viewer, dock, run_and_wait, "separate window")
    try:
        window = widget.feature_viewer
        window.window._qt_window.resize(1280, 860)
        from qtpy.QtWidgets import QApplication

        from napari_colorquant._napari.placer import frame_plot

        QApplication.processEvents()
        frame_plot(window)
        window.screenshot(str(shots / "feature_window_16bit.png"), canvas_only=False, flash=False)
        canvas = _canvas(window)
        background = canvas[2, 2]
        points = window.layers[f"{GFP} feature space"]
        pixels = points.features["kind"].to_numpy() == "pixel"
        assert pixels.sum() > 500
        # Each pixel point is at least 3 screen pixels wide (it was ~1 px: sized by the centres' spread).
        assert (np.clip(np.asarray(points.size)[pixels] * window.camera.zoom, *points.canvas_size_limits) >= 3).all()
        # ... and drawn: the points cover a good part of the canvas where the data lie.
        drawn = (np.abs(canvas - background).max(axis=-1) > 30).mean()
        assert drawn > 0.03, drawn
        # Axes with ticks next to the data: a horizontal and a vertical line in the axes' colour on the canvas
        # (napari's own 2-D axes sat at the world origin, 10000 units away from the data).
        colour = (217, 217, 217)  # light gray on the black canvas
        rows, columns = _lines(canvas, colour, 0.3)
        assert len(rows) and len(columns), "no axis lines on the canvas"
        assert not window.axes.visible  # napari's arrows at the origin are replaced by the plot's axes
        for combo, name in zip(widget.placer.axis_picker.combos, (GFP, CY5), strict=False):  # x, y: cut, whole here
            assert combo.native.currentText() == name and combo.tooltip.startswith(name)
            assert combo.native.view().minimumWidth() >= combo.native.fontMetrics().horizontalAdvance(name)
        labels = window.layers[f"{GFP} axis labels"]
        texts = list(labels.text.values)
        assert any(GFP in t for t in texts) and any(CY5 in t for t in texts)  # the features' names...
        assert any("0–65535" in t for t in texts)  # ... with their units
        ticks = [float(t) for t in texts if t.replace(".", "").isdigit()]
        assert ticks and min(ticks) >= 5000 and max(ticks) <= 45000  # tick values where the data are
    finally:
        widget.close_feature_viewer()


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_pixel_points_are_visible_at_any_data_range(make_viewer, dock, run_and_wait, dtype):
    # Two overlapping kinds of pixel: the centres lie close together while the pixels spread wide. The points
    # were sized by the centres' spread (1 % of it), less than a screen pixel on a plot framed to the pixels.
    peak = {"uint8": 255.0, "uint16": 65535.0, "float32": 1.0}[dtype]
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, (64, 64))
    values = np.array([[0.45, 0.5], [0.55, 0.5]])[labels] + rng.normal(0.0, 0.12, (64, 64, 2))
    data = (np.clip(values, 0.0, 1.0) * peak).astype(dtype)
    viewer = make_viewer(show=True)
    viewer.add_image(data[..., 0], name=GFP, colormap="green", blending="additive")
    viewer.add_image(data[..., 1], name=CY5, colormap="magenta", blending="additive")
    widget = _run(viewer, dock, run_and_wait, "separate window")
    try:
        window = widget.feature_viewer
        points = window.layers[f"{GFP} feature space"]
        pixels = points.features["kind"].to_numpy() == "pixel"
        on_screen = np.clip(np.asarray(points.size)[pixels] * window.camera.zoom, *points.canvas_size_limits)
        assert on_screen.min() >= 3, (on_screen.min(), window.camera.zoom)
        extent = np.ptp(points.data[pixels], axis=0).max() * window.camera.zoom
        assert on_screen.max() <= 0.02 * extent  # and small next to the plot: a cloud, not a blot
    finally:
        widget.close_feature_viewer()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("COLORQUANT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_same_viewer_shows_every_point_on_every_slice(make_viewer, dock, run_and_wait, qtbot):
    # A stack of three channels: its feature points were 3-D, so the user's 2-D viewer showed the few whose
    # third feature fell on the current z-slice, and its z slider grew to the feature's range (0-65535).
    viewer = make_viewer(show=True)
    from napari_colorquant.samples import load_sample

    stack = load_sample("fluorescence")  # Z, C, Y, X
    for c in range(3):
        viewer.add_image(stack[:, c], name=f"kidney ch{c}", blending="additive")
    widget = dock(viewer)
    widget.controls.image.value = viewer.layers["kidney ch0"]
    widget.channels.value = [viewer.layers["kidney ch1"], viewer.layers["kidney ch2"]]
    widget.n_clusters.value, widget.feature_view.value = 4, "same viewer"
    window = viewer.window._qt_window
    size = window.size()
    window.resize(1500, 950)  # a desktop's window: the canvas beside the widget's and explorer's docks
    try:
        _same_viewer_checks(viewer, widget, stack, run_and_wait, qtbot)
    finally:
        window.resize(size)  # the viewer is shared with the next tests


def _same_viewer_checks(viewer, widget, stack, run_and_wait, qtbot) -> None:
    run_and_wait(widget)
    assert viewer.dims.nsteps[0] == stack.shape[0]  # the z slider is the stack's
    points = viewer.layers["kidney ch0 feature space"]
    picker = widget.placer.viewer_picker
    shown = {combo.label: combo.native.currentText() for combo in picker.combos if combo.visible}
    assert shown == {"x": "kidney ch1", "y": "kidney ch2"}  # the chosen pair, as the explorer shows it
    assert tuple(points.axis_labels)[-2:] == ("kidney ch2", "kidney ch1")
    for z in (0, 3, 7):
        viewer.dims.set_current_step(0, z)
        assert len(points._view_indices) == len(points.data), z  # every point, whatever the slice
    assert "kidney ch0 axis labels" in viewer.layers

    def texts_whole() -> bool:  # the plot is framed with room for its texts: none cut at the canvas's edges
        canvas = _canvas(viewer)
        edges = np.concatenate(
            [side.reshape(-1, 3) for side in (canvas[:, :2], canvas[:, -2:], canvas[:2], canvas[-2:])]
        )
        return not (np.abs(edges - 217).max(axis=-1) <= 60).any()

    qtbot.waitUntil(texts_whole, timeout=5000)  # a tick value "1000" was cut to "000" at the left edge


def test_explorer_pickers_show_long_channel_names(make_viewer, dock, run_and_wait):
    from qtpy.QtWidgets import QStyle, QStyleOptionComboBox

    import napari_colorquant as ncq

    viewer = make_viewer(show=True)
    _add_stains(viewer, _two_stains((48, 48)))
    _run(viewer, dock, run_and_wait, "none")
    explorer = ncq.feature_explorer(viewer)
    assert explorer.axis_names == (GFP, CY5)
    for combo in (explorer.x_axis, explorer.y_axis):
        name = combo.currentText()
        option = QStyleOptionComboBox()
        combo.initStyleOption(option)
        field = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                             QStyle.SubControl.SC_ComboBoxEditField, combo)  # fmt: skip
        whole = combo.fontMetrics().horizontalAdvance(name) <= field.width()
        shown = combo.shown_text() if hasattr(combo, "shown_text") else name
        # Whole, or elided (the ends kept) with the whole name in the tooltip.
        assert (whole and shown == name) or (
            "…" in shown
            and combo.fontMetrics().horizontalAdvance(shown) <= field.width()
            and combo.toolTip() == name
            and name.startswith(shown.split("…")[0])
            and name.endswith(shown.split("…")[-1])
        ), (name, shown, field.width())
        # The drop-down list shows every name whole.
        view = combo.view()
        assert view.minimumWidth() >= max(combo.fontMetrics().horizontalAdvance(n) for n in (GFP, CY5))


def _light_at_edges(canvas: np.ndarray, width: int = 2) -> int:
    """Pixels of the axes' light gray (texts, lines) within ``width`` pixels of the canvas's edges."""
    sides = (canvas[:, :width], canvas[:, -width:], canvas[:width], canvas[-width:])
    edges = np.concatenate([side.reshape(-1, 3) for side in sides])
    return int((np.abs(edges - 217).max(axis=-1) <= 60).sum())


def test_tick_values_and_names_stay_on_small_and_large_canvases(make_viewer, dock, run_and_wait, tmp_path):
    # Texts were placed with an estimated character width as a part of the plot: on a ~250 px canvas the y tick
    # values ran off the left edge, the names off both sides and the x values into each other.
    from qtpy.QtWidgets import QApplication

    from napari_colorquant._napari.placer import frame_plot

    viewer = make_viewer(show=True)
    _add_stains(viewer, _two_stains())
    widget = _run(viewer, dock, run_and_wait, "separate window")
    try:
        window = widget.feature_viewer
        for size in ((800, 420), (1280, 860)):
            window.window._qt_window.resize(*size)
            QApplication.processEvents()
            frame_plot(window)
            QApplication.processEvents()
            canvas = _canvas(window)
            Image.fromarray(canvas.astype(np.uint8)).save(tmp_path / f"feature_window_{canvas.shape[1]}px.png")
            assert _light_at_edges(canvas) == 0, (size, canvas.shape)  # nothing cut at an edge
            rows, columns = _lines(canvas, (217, 217, 217), 0.15)
            assert len(rows) and len(columns), size  # the axes are drawn
            labels = window.layers[f"{GFP} axis labels"]
            values = [t for t in labels.features["text"] if t.isdigit()]
            assert len(values) >= 4, values  # two tick values per axis at least
            x_values = np.sort([float(p[1]) for p, t in zip(labels.data, labels.features["text"], strict=True)
                                if t.isdigit() and abs(p[0] - labels.data[0][0]) < 1e-9])  # fmt: skip
            apart = np.diff(x_values) * window.scene.camera.zoom
            assert (apart >= 50).all(), apart  # x values (5 digits, ~55 px wide) do not run into each other
    finally:
        widget.close_feature_viewer()


def test_same_viewer_plot_grows_upwards(make_viewer, dock, run_and_wait):
    # The user's viewer keeps its image camera (rows grow down the screen): the plot's y values grew downwards.
    viewer = make_viewer(show=True)
    _add_stains(viewer, _two_stains())
    _run(viewer, dock, run_and_wait, "same viewer")
    assert viewer.scene.camera.orientation2d[0] == "down"  # the images are shown as before
    points = viewer.layers[f"{GFP} feature space"]
    centres = points.data[points.features["kind"].to_numpy() == "centre"]
    np.testing.assert_allclose(np.sort(centres[:, 0]), [15000, 20000, 36000], atol=400)  # data: the values
    screen_rows = np.asarray([points.data_to_world(c) for c in centres])[:, 0]  # grow down the screen
    order = np.argsort(centres[:, 0])
    assert (np.diff(screen_rows[order]) < 0).all(), screen_rows  # a higher y value is higher on the screen
    labels = viewer.layers[f"{GFP} axis labels"]
    y_values = {
        t: labels.data_to_world(p)[0]
        for p, t in zip(labels.data, labels.features["text"], strict=True)
        if t.isdigit() and abs(p[0] - labels.data[0][0]) > 1e-9
    }  # fmt: skip (x values share a row)
    high, low = max(y_values, key=float), min(y_values, key=float)
    assert y_values[high] < y_values[low]  # the y axis's largest value at its top
    assert _light_at_edges(_canvas(viewer)) == 0


def test_feature_window_pickers_elide_long_names_in_the_closed_box(make_viewer, dock, run_and_wait):
    # The window's own x / y pickers cut a long channel name at the box's right edge ("Alexa Fluor 488 - "):
    # the part that tells two stains apart was lost; only the tooltip and the open list showed it whole.
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication, QStyle, QStyleOptionComboBox

    viewer = make_viewer(show=True)
    _add_stains(viewer, _two_stains((48, 48)))
    widget = _run(viewer, dock, run_and_wait, "separate window")
    try:
        widget.feature_viewer.window._qt_window.resize(1280, 860)
        QApplication.processEvents()
        for combo, name in zip(widget.placer.axis_picker.combos, (GFP, CY5), strict=False):
            box = combo.native
            option = QStyleOptionComboBox()
            box.initStyleOption(option)
            field = box.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                               QStyle.SubControl.SC_ComboBoxEditField, box)  # fmt: skip
            elided = box.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, field.width())
            assert box.currentText() == name and elided != name and "…" in elided  # too long for the box
            assert name.startswith(elided.split("…")[0]) and name.endswith(elided.split("…")[-1])
            drawn = box.grab().toImage()
            with combo.changed.blocked():  # the box showing the elided text itself, which fits: the reference
                box.setItemText(box.currentIndex(), elided)
                reference = box.grab().toImage()
                box.setItemText(box.currentIndex(), name)
            assert drawn == reference, name  # the closed box draws the name elided in the middle
            assert combo.tooltip.startswith(name)  # ... whole in the tooltip
    finally:
        widget.close_feature_viewer()


def test_3d_window_draws_axes_next_to_a_16_bit_cloud(make_viewer, dock, run_and_wait, tmp_path):
    # napari's 3-D arrows are drawn at the world origin: 10000 units from a cloud of 16-bit values, off the canvas.
    from qtpy.QtWidgets import QApplication

    from napari_colorquant._napari.placer import frame_plot

    rng = np.random.default_rng(3)
    centres = np.array([[12000.0, 15000.0, 30000.0], [25000.0, 36000.0, 14000.0], [38000.0, 20000.0, 22000.0]])
    data = np.clip(centres[rng.integers(0, 3, (64, 64))] + rng.normal(0.0, 1500.0, (64, 64, 3)), 0, 65535)
    data = data.astype(np.uint16)
    viewer = make_viewer(show=True)
    for c, (name, colour) in enumerate(zip((GFP, CY5, "DAPI"), ("red", "green", "blue"), strict=True)):
        viewer.add_image(data[..., c], name=name, colormap=colour, blending="additive")
    widget = dock(viewer)
    widget.controls.image.value = viewer.layers[GFP]
    widget.channels.value = [viewer.layers[CY5], viewer.layers["DAPI"]]
    widget.n_clusters.value, widget.feature_view.value = 3, "separate window"
    run_and_wait(widget)
    try:
        window = widget.feature_viewer
        window.window._qt_window.resize(1280, 860)
        QApplication.processEvents()
        frame_plot(window)
        assert window.dims.ndisplay == 3
        assert not window.axes.visible  # napari's arrows far away: replaced by the cloud's own axes
        points = window.layers[f"{GFP} feature space"].data
        lines = window.layers[f"{GFP} axes"].data
        corner, low, extent = lines[0][0], points.min(axis=0), np.ptp(points, axis=0).max()
        assert (corner < low).all() and (low - corner < 0.1 * extent).all()  # at the cloud's low corner
        labels = window.layers[f"{GFP} axis labels"]
        values = [float(t) for t in labels.features["text"] if t.isdigit()]
        assert len(values) >= 6 and min(values) >= 5000 and max(values) <= 45000  # ticks where the data are
        canvas = _canvas(window)
        Image.fromarray(canvas.astype(np.uint8)).save(tmp_path / "cloud_axes.png")
        light = np.abs(canvas - 217).max(axis=-1) <= 40
        assert light.sum() > 300, light.sum()  # the axes and their texts are drawn on the canvas
    finally:
        widget.close_feature_viewer()


def test_plot_is_framed_again_when_its_canvas_changes_size(make_viewer, dock, run_and_wait, qtbot):
    # A run framed the window while it was laid out (its canvas then grew or shrank): the plot kept the old framing.
    from qtpy.QtWidgets import QApplication

    viewer = make_viewer(show=True)
    _add_stains(viewer, _two_stains((48, 48)))
    widget = _run(viewer, dock, run_and_wait, "separate window")
    try:
        window = widget.feature_viewer
        for size in ((1280, 860), (800, 420)):  # the user resizes the window, the camera untouched
            window.window._qt_window.resize(*size)
            QApplication.processEvents()
            qtbot.waitUntil(lambda: _light_at_edges(_canvas(window)) == 0, timeout=5000)
            points = window.layers[f"{GFP} feature space"].data
            across = np.ptp(points[:, 1]) * window.scene.camera.zoom
            assert across >= 0.3 * window.canvas.size[1], (size, across)  # the plot fills the canvas
        window.scene.camera.zoom *= 3  # the user zooms in: a resize keeps their view
        zoom = window.scene.camera.zoom
        window.window._qt_window.resize(1000, 700)
        QApplication.processEvents()
        assert window.scene.camera.zoom == zoom
    finally:
        widget.close_feature_viewer()

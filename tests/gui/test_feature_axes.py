"""The separate feature window's x / y / z pickers: a stack of more than three channels shows the ones chosen.

Driven as a user would: the run from the widget, then a click on an item of a picker's drop-down list.
What the window shows is checked against the stack's own pixels and the fitted model.

The guide's screenshot of the pickers is made here; with ``COLORQUANT_SCREENSHOTS=docs/images`` set it is
written to that folder:

    COLORQUANT_SCREENSHOTS=docs/images .venv/bin/python -m pytest tests/gui/test_feature_axes.py -k screenshot
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from napari_colorquant import feature_space as fs
from napari_colorquant.samples import load_sample


def _five_channels() -> np.ndarray:
    """(5, 128, 128) uint16: the kidney plane's three channels and two more that are not copies of them."""
    kidney = load_sample("kidney")[3]
    rng = np.random.default_rng(0)
    fourth = np.roll(kidney[1], 20, axis=1) // 2 + rng.integers(0, 200, kidney[1].shape).astype(kidney.dtype)
    fifth = (kidney[0] * 0.3 + kidney[2] * 0.7).astype(kidney.dtype)
    return np.stack([*kidney, fourth, fifth])


def _pick(qtbot, combo, name: str) -> None:
    """Open a picker's drop-down list and click the item ``name``, as a user does."""
    from qtpy.QtCore import Qt

    box = getattr(combo, "native", combo)  # a magicgui ComboBox, or the explorer's QComboBox
    row = box.findText(name)
    assert row >= 0, f"{name!r} is not among {[box.itemText(i) for i in range(box.count())]}"
    box.showPopup()
    view = box.view()
    qtbot.waitUntil(view.isVisible)
    rect = view.visualRect(view.model().index(row, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible())
    assert box.currentText() == name


def _picked(picker) -> dict[str, str]:
    return {combo.label: combo.native.currentText() for combo in picker.combos if combo.visible}


def _run_in_window(viewer, dock, run_and_wait, name: str, n_clusters: int = 3, method: str = "em"):
    widget = dock(viewer, "EM clustering" if method == "em" else "K-means clustering")
    widget.controls.image.value = viewer.layers[name]
    widget.n_clusters.value = n_clusters
    widget.feature_view.value = "separate window"
    run_and_wait(widget)
    return widget


def _assert_ellipsoids(layer, model, dims, placer) -> None:
    """``layer`` is a Surface of each EM Gaussian's ellipsoid on features ``dims`` (z, y, x), coloured as its cluster.

    Every vertex of cluster k's mesh lies at the 2-D ellipses' Mahalanobis radius (95 %: 2.45) from its mean,
    under the covariance of the shown features taken from the model here (not from the plugin's maths).
    """
    from napari.layers import Surface

    assert isinstance(layer, Surface)
    vertices, _, values = layer.data
    radius = np.sqrt(-2 * np.log(0.05))
    assert layer._type_string == "surface" and tuple(layer.axis_labels) == tuple(f"c{d}" for d in dims)
    clusters = placer._feature_layers["feature space:"].features
    centre_colours = np.asarray(placer._feature_layers["feature space:"].face_color)[clusters["kind"] == "centre"]
    for k in range(model.n_clusters):
        mine = vertices[values == k + 1]
        assert len(mine) > 100
        offset = mine - model.means[k, list(dims)]
        inverse = np.linalg.inv(model.covariances[k][np.ix_(dims, dims)])
        distances = np.sqrt(np.einsum("vi,ij,vj->v", offset, inverse, offset))
        np.testing.assert_allclose(distances, radius, rtol=1e-6)
        colours = layer.vertex_colors[values == k + 1][:, :3]
        np.testing.assert_allclose(colours, np.broadcast_to(centre_colours[k][:3], colours.shape), atol=1e-6)
    assert 0 < layer.opacity < 1  # the pixels inside show through


def _pixels(stack: np.ndarray, channels) -> set[tuple]:
    return set(map(tuple, stack[list(channels)].reshape(len(channels), -1).T.astype(np.float64)))


def test_picking_a_channel_redraws_the_window_with_it_without_clustering_again(make_viewer, dock, run_and_wait,
                                                                                qtbot):  # fmt: skip
    viewer = make_viewer()
    stack = _five_channels()
    viewer.add_image(stack, name="cells", axis_labels=("c", "y", "x"))
    widget = _run_in_window(viewer, dock, run_and_wait, "cells")
    try:
        window, picker = widget.feature_viewer, widget.placer.axis_picker
        model = widget._last_model
        clusters = viewer.layers["cells clusters"]
        started = widget.timeline["run"]
        # The default: the last three channels, x and y the explorer's pair, named by the layer's channels.
        assert _picked(picker) == {"x": "c3", "y": "c4", "z": "c2"}
        assert [picker.combos[0].native.itemText(i) for i in range(5)] == ["c0", "c1", "c2", "c3", "c4"]
        assert tuple(window.dims.axis_labels) == ("c2", "c4", "c3")
        assert window.title == "napari-colorquant: feature space (x c3, y c4, z c2; 3 of 5 features)"
        points, gaussians = window.layers["cells feature space"], window.layers["cells gaussians"]
        _assert_ellipsoids(gaussians, model, (2, 4, 3), widget.placer)
        before = np.array(points.data)
        window.camera.angles = (-20, 35, 140)  # the user has turned the cloud

        _pick(qtbot, picker.combos[0], "c0")  # x: c3 -> c0

        np.testing.assert_allclose(window.camera.angles, (-20, 35, 140), atol=1e-6)  # and it stays turned

        assert widget.worker is None and widget.timeline["run"] == started  # no new run
        assert viewer.layers["cells clusters"] is clusters and widget._last_model is model
        assert window.layers["cells feature space"] is points  # updated in place
        assert tuple(window.dims.axis_labels) == ("c2", "c4", "c0")
        assert tuple(points.axis_labels) == ("c2", "c4", "c0")
        assert tuple(window.layers["cells gaussians"].axis_labels) == ("c2", "c4", "c0")
        assert window.title == "napari-colorquant: feature space (x c0, y c4, z c2; 3 of 5 features)"
        after = np.array(points.data)
        k = model.n_clusters
        np.testing.assert_array_equal(after[-k:], model.means[:, [2, 4, 0]])  # the centres, in the chosen channels
        np.testing.assert_array_equal(after[:, :2], before[:, :2])  # z and y kept
        assert not np.array_equal(after[:, 2], before[:, 2])
        # Every drawn pixel is a pixel of the stack, in channels (c2, c4, c0): the window shows real pixels.
        assert set(map(tuple, after[:-k])) <= _pixels(stack, (2, 4, 0))
        # EM: each Gaussian's ellipsoid on (z, y, x) = (c2, c4, c0), redrawn in place.
        assert window.layers["cells gaussians"] is gaussians
        _assert_ellipsoids(gaussians, model, (2, 4, 0), widget.placer)
    finally:
        widget.close_feature_viewer()


def test_picking_a_channel_shown_on_another_axis_swaps_the_two(make_viewer, dock, run_and_wait, qtbot):
    viewer = make_viewer()
    viewer.add_image(_five_channels(), name="cells", axis_labels=("c", "y", "x"))
    widget = _run_in_window(viewer, dock, run_and_wait, "cells", method="kmeans")
    try:
        window, picker = widget.feature_viewer, widget.placer.axis_picker
        _pick(qtbot, picker.combos[1], "c2")  # y takes z's channel: z takes y's
        assert _picked(picker) == {"x": "c3", "y": "c2", "z": "c4"}
        assert tuple(window.dims.axis_labels) == ("c4", "c2", "c3")
        points = window.layers["cells feature space"].data
        np.testing.assert_array_equal(points[-3:], widget._last_model.means[:, [4, 2, 3]])
        assert len(set(window.dims.axis_labels)) == 3  # never a channel twice
    finally:
        widget.close_feature_viewer()


def test_the_choice_is_kept_for_the_next_runs_of_the_same_channels_only(make_viewer, dock, run_and_wait, qtbot):
    viewer = make_viewer()
    stack = _five_channels()
    viewer.add_image(stack, name="cells", axis_labels=("c", "y", "x"))
    widget = _run_in_window(viewer, dock, run_and_wait, "cells")
    try:
        picker = widget.placer.axis_picker
        _pick(qtbot, picker.combos[2], "c1")  # z: c2 -> c1
        _pick(qtbot, picker.combos[0], "c0")  # x: c3 -> c0
        gaussians = widget.feature_viewer.layers["cells gaussians"]
        widget.n_clusters.value = 4
        run_and_wait(widget)  # again, K = 4: the same channels
        window = widget.feature_viewer
        assert window.layers["cells gaussians"] is gaussians  # the ellipsoids' mesh grew in place: 4 of them
        _assert_ellipsoids(gaussians, widget._last_model, (1, 4, 0), widget.placer)
        assert _picked(widget.placer.axis_picker) == {"x": "c0", "y": "c4", "z": "c1"}
        assert tuple(window.dims.axis_labels) == ("c1", "c4", "c0")
        np.testing.assert_array_equal(window.layers["cells feature space"].data[-4:],
                                      widget._last_model.means[:, [1, 4, 0]])  # fmt: skip

        viewer.add_image(stack[:4], name="four", axis_labels=("c", "y", "x"))  # other channels: the default
        widget.controls.image.value = viewer.layers["four"]
        run_and_wait(widget)
        assert _picked(widget.placer.axis_picker) == {"x": "c2", "y": "c3", "z": "c1"}
        assert "four feature space" in window.layers and "cells feature space" not in window.layers
        assert window.title == "napari-colorquant: feature space (x c2, y c3, z c1; 3 of 4 features)"
    finally:
        widget.close_feature_viewer()


@pytest.mark.parametrize("n_channels", [2, 1])
def test_fewer_than_three_features(make_viewer, dock, run_and_wait, qtbot, n_channels):
    viewer = make_viewer()
    stack = _five_channels()[:n_channels]
    if n_channels == 1:
        viewer.add_image(stack[0], name="cells")
    else:
        viewer.add_image(stack, name="cells", axis_labels=("c", "y", "x"))
    widget = _run_in_window(viewer, dock, run_and_wait, "cells", method="kmeans")
    try:
        window, picker = widget.feature_viewer, widget.placer.axis_picker
        if n_channels == 1:  # a histogram: nothing to pick
            assert _picked(picker) == {}
            assert picker.note.value == "1 feature: its histogram"
            assert window.title == "napari-colorquant: feature space (histogram of intensity)"
            return
        assert window.dims.ndisplay == 2
        assert _picked(picker) == {"x": "c0", "y": "c1"}  # as the explorer; napari's 2-D view: the last axis across
        assert picker.note.value == "all 2 features"
        _pick(qtbot, picker.combos[0], "c1")  # x takes y's channel: the two swap
        assert _picked(picker) == {"x": "c1", "y": "c0"}
        assert tuple(window.dims.axis_labels) == ("c0", "c1")
        assert window.title == "napari-colorquant: feature space (x c1, y c0)"
        np.testing.assert_array_equal(window.layers["cells feature space"].data[-3:],
                                      widget._last_model.means[:, [0, 1]])  # fmt: skip
    finally:
        widget.close_feature_viewer()


def test_two_features_keep_flat_ellipses_in_the_2d_window(make_viewer, dock, run_and_wait):
    from napari.layers import Shapes

    viewer = make_viewer()
    viewer.add_image(_five_channels()[:2], name="cells", axis_labels=("c", "y", "x"))
    widget = _run_in_window(viewer, dock, run_and_wait, "cells")
    try:
        window, model = widget.feature_viewer, widget._last_model
        assert window.dims.ndisplay == 2
        gaussians = window.layers["cells gaussians"]
        assert isinstance(gaussians, Shapes)  # a 2-D view: each Gaussian's 95 % ellipse, as before
        expected = fs.projected_ellipses(model.means, model.covariances, (1, 0))  # columns y, x: c1 down, c0 across
        for shape, ellipse in zip(gaussians.data, expected, strict=True):
            np.testing.assert_allclose(shape, ellipse, rtol=1e-5)
    finally:
        widget.close_feature_viewer()


def test_the_explorer_keeps_its_pair_for_the_next_run_of_the_same_channels(make_viewer, dock, run_and_wait):
    import napari_colorquant as ncq

    viewer = make_viewer()
    stack = _five_channels()
    viewer.add_image(stack, name="cells", axis_labels=("c", "y", "x"))
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    run_and_wait(widget)
    explorer = ncq.feature_explorer(viewer)
    assert explorer.axis_names == ("c3", "c4")  # the default: the last two
    explorer.x_axis.setCurrentIndex(0)  # the drop-downs' signal, as a click sends it
    explorer.y_axis.setCurrentIndex(2)
    assert explorer.axis_names == ("c0", "c2")
    widget.n_clusters.value = 4
    run_and_wait(widget)
    assert explorer.axis_names == ("c0", "c2")  # was back to ("c3", "c4") after every run
    assert explorer.x_axis.currentText() == "c0" and explorer.y_axis.currentText() == "c2"
    viewer.add_image(stack[:4], name="four", axis_labels=("c", "y", "x"))
    widget.controls.image.value = viewer.layers["four"]
    run_and_wait(widget)
    assert explorer.axis_names == ("c2", "c3")  # other channels: the default again


def test_screenshot_of_the_window_with_chosen_channels(make_viewer, dock, run_and_wait, qtbot, tmp_path):
    from qtpy.QtWidgets import QApplication

    folder = Path(os.environ.get("COLORQUANT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    viewer = make_viewer(show=True)
    viewer.add_image(_five_channels(), name="cells", axis_labels=("c", "y", "x"))
    widget = _run_in_window(viewer, dock, run_and_wait, "cells", n_clusters=4)
    try:
        window, picker = widget.feature_viewer, widget.placer.axis_picker
        window.window._qt_window.resize(1280, 860)
        QApplication.processEvents()
        _pick(qtbot, picker.combos[0], "c0")
        _pick(qtbot, picker.combos[1], "c3")
        _pick(qtbot, picker.combos[2], "c1")
        assert window.title == "napari-colorquant: feature space (x c0, y c3, z c1; 3 of 5 features)"
        window.reset_view()
        window.camera.angles = (-20, 35, 140)  # an oblique look: all three axes and their names
        image = np.asarray(window.screenshot(str(folder / "feature_axes_window.png"), canvas_only=False, flash=False))
        assert image.shape[0] > 600 and image[..., :3].std() > 10
    finally:
        widget.close_feature_viewer()


def test_same_viewer_view_has_the_same_pickers(make_viewer, dock, run_and_wait, qtbot):
    viewer = make_viewer(show=True)
    stack = _five_channels()
    viewer.add_image(stack, name="cells", axis_labels=("c", "y", "x"))
    widget = dock(viewer, "EM clustering")
    widget.n_clusters.value, widget.feature_view.value = 3, "same viewer"
    picker = widget.placer.viewer_picker
    assert not picker.visible  # nothing to pick before a run
    run_and_wait(widget)
    model = widget._last_model
    points, gaussians = viewer.layers["cells feature space"], viewer.layers["cells gaussians"]
    assert picker.visible and picker.native.isVisible()  # under the view's choice, in the widget
    # A 2-D plot of x and y in the user's 2-D viewer (3-D points showed on one z-slice only).
    assert _picked(picker) == {"x": "c3", "y": "c4"}  # was always the last three, unchangeable
    before = np.array(points.data)
    assert before.shape[1] == 2

    _pick(qtbot, picker.combos[0], "c0")  # x: c3 -> c0, with the widget's own drop-down

    chosen = fs.view_axes(5, (4, 0), 2)  # the layers' columns: y, x
    assert viewer.layers["cells feature space"] is points and viewer.layers["cells gaussians"] is gaussians
    assert tuple(points.axis_labels) == ("c4", "c0") and tuple(gaussians.axis_labels) == ("c4", "c0")
    assert widget.placer.choice.order == (0, 4, 2)  # the window's z is kept for it
    after = np.array(points.data)
    k = model.n_clusters
    np.testing.assert_array_equal(after[-k:], model.means[:, list(chosen)])  # the centres on the chosen features
    assert len(after) == len(before) and set(map(tuple, after[:-k])) <= _pixels(stack, chosen)
    np.testing.assert_array_equal(after[:, 0], before[:, 0])  # the same sampled pixels, y kept
    expected = fs.projected_ellipses(model.means, model.covariances, chosen)  # a 2-D view: flat ellipses
    for shape, ellipse in zip(gaussians.data, expected, strict=True):
        np.testing.assert_allclose(shape, ellipse, rtol=1e-5)

    widget.feature_view.value = "none"  # the pickers go with the view they pick for
    assert not picker.visible
    widget.feature_view.value = "same viewer"
    assert picker.visible
    widget.n_clusters.value = 4
    run_and_wait(widget)  # the same channels: the same choice
    assert _picked(picker) == {"x": "c0", "y": "c4"}
    np.testing.assert_array_equal(points.data[-4:], widget._last_model.means[:, list(chosen)])


def test_window_and_explorer_show_one_choice_of_x_and_y(make_viewer, dock, run_and_wait, qtbot):
    import napari_colorquant as ncq

    viewer = make_viewer()
    viewer.add_image(_five_channels(), name="cells", axis_labels=("c", "y", "x"))
    widget = _run_in_window(viewer, dock, run_and_wait, "cells")
    try:
        window, picker, explorer = widget.feature_viewer, widget.placer.axis_picker, ncq.feature_explorer(viewer)
        assert _picked(picker) == {"x": "c3", "y": "c4", "z": "c2"} and explorer.axis_names == ("c3", "c4")

        _pick(qtbot, picker.combos[0], "c0")  # window x -> the explorer's x
        assert explorer.axis_names == ("c0", "c4")
        assert (explorer.x_axis.currentText(), explorer.y_axis.currentText()) == ("c0", "c4")
        assert explorer.plot.view.axes == (0, 4)  # drawn, not only listed
        _pick(qtbot, picker.combos[2], "c1")  # z only: the explorer's pair stays
        assert explorer.axis_names == ("c0", "c4")

        _pick(qtbot, explorer.x_axis, "c2")  # explorer x -> the window's x; z kept
        assert _picked(picker) == {"x": "c2", "y": "c4", "z": "c1"}
        assert tuple(window.dims.axis_labels) == ("c1", "c4", "c2")
        _assert_ellipsoids(window.layers["cells gaussians"], widget._last_model, (1, 4, 2), widget.placer)
        _pick(qtbot, explorer.y_axis, "c1")  # the window's z feature: z takes the old y, as a swap in the window
        assert _picked(picker) == {"x": "c2", "y": "c1", "z": "c4"}
        _pick(qtbot, explorer.y_axis, "c2")  # a histogram of c2: the window cannot show c2 twice and stays
        assert explorer.axis_names == ("c2", "c2")
        assert _picked(picker) == {"x": "c2", "y": "c1", "z": "c4"}

        widget.n_clusters.value = 4
        run_and_wait(widget)  # the same channels: the window keeps its axes, the explorer its histogram
        assert _picked(widget.placer.axis_picker) == {"x": "c2", "y": "c1", "z": "c4"}
        assert explorer.axis_names == ("c2", "c2")
        _pick(qtbot, widget.placer.axis_picker.combos[1], "c3")  # a new window y: the explorer shows the pair again
        assert explorer.axis_names == ("c2", "c3")
    finally:
        widget.close_feature_viewer()


def test_the_explorers_pair_picked_in_the_window_is_prepared_in_the_worker(make_viewer, dock, run_and_wait, qtbot,
                                                                          monkeypatch):  # fmt: skip
    import threading

    import napari_colorquant as ncq
    from napari_colorquant import explore

    calls: list[tuple[tuple[int, int], bool]] = []
    original = explore.shown_values

    def recorded(data, axes):
        calls.append((tuple(int(a) for a in axes), threading.current_thread() is threading.main_thread()))
        return original(data, axes)

    monkeypatch.setattr(explore, "shown_values", recorded)
    viewer = make_viewer()
    viewer.add_image(_five_channels(), name="cells", axis_labels=("c", "y", "x"))
    widget = _run_in_window(viewer, dock, run_and_wait, "cells", method="kmeans")
    try:
        _pick(qtbot, widget.placer.axis_picker.combos[0], "c0")  # x c3 -> c0: the explorer shows (c0, c4)
        assert ncq.feature_explorer(viewer).axis_names == ("c0", "c4")
        calls.clear()
        widget.n_clusters.value = 4
        run_and_wait(widget)  # the next run's plot of (c0, c4): its pair index is made off the GUI thread
        assert ncq.feature_explorer(viewer).axis_names == ("c0", "c4")
        assert calls and calls[0] == ((0, 4), False), calls  # was (3, 4) in the worker, (0, 4) on the GUI thread
    finally:
        widget.close_feature_viewer()


@pytest.mark.parametrize("view", ["separate window", "same viewer"])
def test_histogram_bars_grow_the_way_the_y_arrow_points(make_viewer, dock, run_and_wait, view):
    # The window is a plot: its vertical axis grows upwards, so napari's y arrow (drawn towards growing rows)
    # points along the bars. The user's own viewer keeps napari's image camera, where negative world rows are up.
    viewer = make_viewer()
    viewer.add_image(_five_channels()[0], name="cells")
    widget = dock(viewer, "EM clustering")
    widget.controls.image.value = viewer.layers["cells"]
    widget.n_clusters.value = 2
    widget.feature_view.value = view
    run_and_wait(widget)
    try:
        shown = widget.feature_viewer if view == "separate window" else viewer
        up = 1 if view == "separate window" else -1
        assert shown.camera.orientation2d[0] == ("up" if up == 1 else "down")
        assert viewer.camera.orientation2d[0] == "down"
        for role in ("histogram", "gaussians"):
            layer = shown.layers[f"cells {role}"]  # world rows: the same viewer's plot is turned over by its scale
            rows = np.concatenate([np.asarray(shape)[:, 0] for shape in layer.data]) * layer.scale[-2]
            assert (up * rows >= 0).all() and (up * rows).max() > 0, role
    finally:
        widget.close_feature_viewer()

"""Views that fit: the launcher's window and canvas show the whole image, before and after a run."""

from __future__ import annotations

import numpy as np

from napari_colorquant._napari import launch


def _whole_image_in_view(viewer, layer) -> bool:
    """The layer's world extent, at the camera's zoom, fits inside the canvas, and the camera centres it."""
    extent = np.asarray(layer.extent.world)[:, -2:]
    size = (extent[1] - extent[0]) * viewer.camera.zoom
    canvas = np.asarray(viewer.canvas.size)
    centre = (extent[0] + extent[1]) / 2
    return bool(np.all(size <= canvas + 1) and np.allclose(viewer.camera.center[-2:], centre, atol=1))


def test_sample_and_run_show_the_whole_image(make_own_viewer, dock, run_and_wait):
    viewer = make_own_viewer(show=True)  # a new window: what it measures is the launcher's layout
    launch.fit_window(viewer)
    width = viewer.window._qt_window.width()
    assert width >= 1000 or width >= 0.9 * viewer.window._qt_window.screen().availableGeometry().width()
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    launch.show_whole_image(viewer)
    photo = viewer.layers["china"]
    assert _whole_image_in_view(viewer, photo)
    viewer.camera.zoom *= 4  # a user zoomed in; the first run shows the whole image again
    widget.n_clusters.value = 4
    widget.feature_view.value = "none"
    run_and_wait(widget)
    assert _whole_image_in_view(viewer, photo)
    # the report shows all its lines without scrolling
    edit = widget.report.native
    assert widget.report.value.count("\n") >= 5
    assert edit.verticalScrollBar().maximum() == 0
    assert edit.document().size().height() <= edit.viewport().height() + 1


def test_widget_defaults_converge_and_the_notebook_criteria_are_one_click(make_viewer, dock, run_and_wait,
                                                                           qtbot):  # fmt: skip
    viewer = make_viewer(show=True)
    viewer.open_sample("napari-colorquant", "plate")
    widget = dock(viewer, "EM clustering")
    assert widget.max_iter.value == 300 and widget.epsilon.value == 1e-6  # not rounded away by the spin box
    widget.n_clusters.value = 2
    widget.feature_view.value = "none"
    run_and_wait(widget)
    assert "(converged)" in widget.report.value
    assert viewer.layers["plate clusters"].metadata["colorquant"]["params"]["epsilon"] == 1e-6
    widget.notebook_criteria.native.click()  # QAbstractButton.click: the press-release a user makes
    assert widget.notebook_criteria.value
    assert widget.max_iter.value == 10 and widget.epsilon.value == 0.2
    widget.notebook_criteria.native.click()  # QAbstractButton.click: the press-release a user makes
    assert widget.max_iter.value == 300 and widget.epsilon.value == 1e-6

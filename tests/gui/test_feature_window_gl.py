"""Closing the separate feature window leaves the main viewer drawing (issue 13).

napari's OpenGL clean-up of a canvas whose layers are removed (``viewer.close()`` removes them all) ran in
whatever OpenGL context was current, often the main window's (painted last): the feature window's textures,
buffers and programs were deleted by number in the main window's context, which lost its own of the same
numbers. The next paints of the main viewer's input printed vispy's "Error drawing visual <Image>" with a GLError
traceback, the canvas went black, and the process could end in a segmentation fault.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest


def _canvas_mean(viewer) -> float:
    return float(np.asarray(viewer.window.screenshot(canvas_only=True, flash=False))[..., :3].mean())


def _input_alone(viewer, qtbot) -> float:
    """The main canvas's mean with the input alone shown, painted (the main window is then the last one painted)."""
    for layer in viewer.layers:
        layer.visible = layer.name == "china"
    qtbot.wait(300)
    return _canvas_mean(viewer)


def _close(window, closing: str) -> None:
    if closing == "viewer.close()":  # napari's File > Close Window, the widget's close, a script
        window.close()
    else:  # the title bar's X: Qt's close event on the window (napari deletes the window, keeps the viewer)
        window.window._qt_window.close()


def _vispy_warnings(caplog) -> list[str]:
    """What vispy logged at WARNING or above so far (its "Error drawing visual <Image ...>")."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("vispy") and r.levelno >= logging.WARNING]


@pytest.fixture
def private_access(monkeypatch):
    """Private attributes read through napari's public-only proxy of a widget's viewer (napari warns of each with a
    FutureWarning in the user's terminal), recorded whatever warning filters are in force."""
    from napari.utils._proxies import PublicOnlyProxy

    seen: list[str] = []
    monkeypatch.setattr(
        PublicOnlyProxy, "_private_attr_warning", staticmethod(lambda name, typ: seen.append(f"{typ}.{name}"))
    )
    return seen


def _run_with_window(viewer, widget, qtbot, run_and_wait, n_clusters):
    widget.n_clusters.value = n_clusters
    run_and_wait(widget)
    qtbot.waitUntil(lambda: widget.placer.feature_viewer_alive() is not None, timeout=10_000)
    qtbot.wait(300)  # the feature window painted
    return widget.feature_viewer


@pytest.mark.parametrize("closing", ["viewer.close()", "window's close event"])
def test_closing_the_feature_window_then_running_again_draws_the_main_canvas_quietly(
    make_viewer, dock, qtbot, run_and_wait, capfd, caplog, private_access, closing
):
    from napari._qt.qt_viewer import QtViewer

    viewer = make_viewer(show=True)
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    widget.feature_view.value = "separate window"
    first = None
    try:
        first = _run_with_window(viewer, widget, qtbot, run_and_wait, 4)
        before = _input_alone(viewer, qtbot)
        capfd.readouterr()
        _close(first, closing)
        qtbot.wait(300)
        _run_with_window(viewer, widget, qtbot, run_and_wait, 5)
        after = _input_alone(viewer, qtbot)
        widget.close_feature_viewer()  # the second window, as closing the widget does
        last = _input_alone(viewer, qtbot)
        assert _vispy_warnings(caplog) == []  # vispy's "Error drawing visual <Image ...>"
        assert capfd.readouterr().err == ""  # nor its GLError tracebacks
        assert before > 20
        assert after == pytest.approx(before, abs=1.0)  # the same input drawn, not a black canvas
        assert last == pytest.approx(before, abs=1.0)
        assert private_access == []  # napari's FutureWarning on the terminal (through its proxy of the widget's viewer)
    finally:
        widget.close_feature_viewer()
        if first is not None and closing != "viewer.close()":
            # napari keeps a viewer whose window was closed by its X (plain napari too): not the widget's to free
            QtViewer._instances.discard(first.window._qt_viewer)


def test_closing_the_widget_after_the_feature_window_s_x_is_quiet(make_viewer, dock, qtbot, run_and_wait, capfd,
                                                                   caplog):  # fmt: skip
    """The widget's close closed its feature viewer; after the window's X that viewer's layers were removed from
    a deleted canvas (a vispy traceback per layer) and their GL objects deleted in the main window's context."""
    from napari._qt.qt_viewer import QtViewer

    viewer = make_viewer(show=True)
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    widget.feature_view.value = "separate window"
    window = _run_with_window(viewer, widget, qtbot, run_and_wait, 4)
    try:
        before = _input_alone(viewer, qtbot)
        capfd.readouterr()
        _close(window, "window's close event")
        qtbot.wait(300)
        widget.close_feature_viewer()  # what closing the widget does
        after = _input_alone(viewer, qtbot)
        assert _vispy_warnings(caplog) == []
        assert capfd.readouterr().err == ""
        assert after == pytest.approx(before, abs=1.0)
    finally:
        QtViewer._instances.discard(window.window._qt_viewer)  # napari keeps it (see above)

"""The separate feature window is built hidden while the widget is shown and idle; the first run only shows it.

Built at the end of the first run, napari's ``Viewer()`` (~80-140 ms of the GUI thread in one piece) and the window's
docking and style sheet were the longest freezes after that run (issue 13, item 8).
"""

from __future__ import annotations

import pytest


def _prepared(qtbot, widget, timeout=60_000):
    from napari_colorquant._napari import warmup

    warmup.start().join(120)
    qtbot.waitUntil(lambda: widget.placer.prepared_window is not None, timeout=timeout)
    return widget.placer.prepared_window


def test_the_feature_window_is_built_hidden_before_the_first_run_and_shown_by_it(make_viewer, dock, qtbot,
                                                                                 run_and_wait):  # fmt: skip
    import napari

    viewer = make_viewer(show=True)
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    widget.n_clusters.value = 3
    try:
        window = _prepared(qtbot, widget)
        assert not window.window._qt_window.isVisible()
        assert "feature axes" in window.window._dock_widgets  # docked ahead too
        assert widget.feature_viewer is None  # no run has shown it
        assert napari.current_viewer() is viewer  # napari's current viewer (and its notifications) stay the user's
        run_and_wait(widget)
        assert widget.feature_viewer is window and window.window._qt_window.isVisible()
        assert "china feature space" in window.layers
        assert widget.placer.prepared_window is None  # taken: one window, not a second one
        assert widget.placer.axis_picker is not None and widget.placer.axis_picker.axes is not None
    finally:
        widget.close_feature_viewer()


@pytest.mark.parametrize("closing", ["viewer", "widget"])
def test_closing_the_viewer_or_the_widget_closes_the_prepared_window_quietly(make_own_viewer, dock, qtbot, capfd,
                                                                             closing):  # fmt: skip
    viewer = make_own_viewer(show=True)
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    window = _prepared(qtbot, widget)
    capfd.readouterr()
    if closing == "viewer":
        viewer.close()
    else:
        viewer.window.remove_dock_widget(widget.native.parentWidget())
        widget.native.deleteLater()
    qtbot.waitUntil(lambda: not hasattr(window.window, "_qt_window"), timeout=10_000)  # napari's close
    qtbot.wait(50)
    assert capfd.readouterr().err == ""


def test_no_window_is_prepared_for_a_hidden_widget_or_another_view_until_the_separate_window_is_chosen(
    make_viewer, dock, qtbot
):
    from napari_colorquant._napari import warmup

    hidden = make_viewer()  # a script's viewer, or a test's: nobody sees the widget
    widget = dock(hidden)
    warmup.start().join(120)
    qtbot.wait(300)
    assert widget.placer.prepared_window is None
    shown = make_viewer(show=True)
    other = dock(shown)
    other.feature_view.value = "none"
    qtbot.wait(300)
    assert other.placer.prepared_window is None
    other.feature_view.value = "separate window"
    try:
        assert not _prepared(qtbot, other).window._qt_window.isVisible()
    finally:
        other.close_feature_viewer()

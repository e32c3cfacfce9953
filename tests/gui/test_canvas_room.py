"""Opening the clustering widget in a small napari window leaves the canvas room to show the image."""

import pytest
from qtpy.QtWidgets import QDockWidget

from napari_colorquant._napari.canvas_room import CANVAS_FLOOR, make_room


def _small_window_with_widget(make_viewer, dock, qtbot):
    from napari_colorquant.samples import load_sample

    viewer = make_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(640, 530)  # napari's first window on a fresh profile
    viewer.add_image(load_sample("china"), rgb=True, name="photo")
    widget = dock(viewer)
    from napari_colorquant._napari.explorer import _docked

    qtbot.waitUntil(lambda: _docked(viewer) is not None, timeout=20_000)  # docked after the warm-up
    return viewer, window, widget


def test_opening_the_widget_leaves_the_canvas_its_width(make_viewer, dock, qtbot):
    """The layer docks (320 px) and the widget with its explorer tab squeezed the canvas to 0-8 px in napari's
    834 px window: the window now grows, within the screen, until the canvas has CANVAS_FLOOR px."""
    _, window, _ = _small_window_with_widget(make_viewer, dock, qtbot)
    canvas = window.centralWidget()
    screen = window.screen().availableGeometry()
    room = min(CANVAS_FLOOR, CANVAS_FLOOR - (window.frameGeometry().width() - screen.width()))
    qtbot.waitUntil(lambda: canvas.width() >= min(room, CANVAS_FLOOR) - 40, timeout=5_000)
    assert canvas.width() >= 400  # the test screen is 1280 px wide: room enough for 400 px of canvas
    assert window.frameGeometry().width() <= screen.width()
    assert screen.contains(window.frameGeometry().topLeft())


def test_without_screen_room_the_plugin_docks_narrow_to_their_minimum(make_viewer, dock, qtbot):
    """Asked for more canvas than the screen holds, the window fills the screen's width, no more, and the
    plugin's dock area narrows to its widgets' minimum width."""
    _, window, widget = _small_window_with_widget(make_viewer, dock, qtbot)
    make_room(widget.native, floor=5_000)
    qtbot.wait(300)  # the window system applies the new size
    screen = window.screen().availableGeometry()
    assert window.frameGeometry().width() <= screen.width()
    holder = widget.native
    while not isinstance(holder, QDockWidget):
        holder = holder.parentWidget()
    right = [d for d in window.findChildren(QDockWidget) if window.dockWidgetArea(d) == window.dockWidgetArea(holder)]
    narrowest = max(d.minimumSizeHint().width() for d in right if d.isVisible())
    assert holder.width() == pytest.approx(narrowest, abs=2)


def test_a_hidden_window_is_left_as_it_is(make_viewer, dock, qtbot):
    """A script's hidden viewer: nothing to make room for."""
    viewer = make_viewer(show=False)
    widget = dock(viewer)
    qtbot.wait(100)  # the dock laid out
    size = viewer.window._qt_window.size()
    make_room(widget.native)
    assert viewer.window._qt_window.size() == size


def test_the_explorer_is_no_wider_than_its_plot_needs(make_viewer, dock, qtbot):
    """The explorer's ellipse, tool and brush boxes on one row made its dock 488 px wide at least, wider than its
    plot needs: every pixel of that came off the canvas. No row of its controls is wider than the plot now."""
    from qtpy.QtWidgets import QLayout

    from napari_colorquant._napari.explorer import _docked

    viewer = make_viewer(show=True)
    dock(viewer)
    qtbot.waitUntil(lambda: _docked(viewer) is not None, timeout=20_000)
    explorer = _docked(viewer)
    plot = explorer.plot.canvas.minimumWidth()
    rows = [item.layout() for item in map(explorer.layout().itemAt, range(explorer.layout().count()))]
    widths = [row.minimumSize().width() for row in rows if isinstance(row, QLayout)]
    assert len(widths) >= 4 and max(widths) <= plot, widths

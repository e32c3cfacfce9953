"""Room for the canvas once the plugin's docks are open (Qt only; no maths).

A napari window opens small on a fresh profile (640 px wide under Xvfb). Its layer list and layer controls
take 320 px on the left; Qt's main window gives each dock at least its minimum width before the central
widget (napari's canvas) gets anything, so a clustering widget and its explorer tab on the right left the
canvas 0-8 px wide in an 834 px window: the image could not be seen at all. :func:`make_room` widens the
window, within the screen, until the canvas has :data:`CANVAS_FLOOR` pixels (or what it had, if less), and
where the screen has no more room, narrows the plugin's dock area to its minimum. A maximised or
full-screen window is left alone; so is a floating dock.
"""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QDockWidget, QMainWindow, QWidget

#: The canvas width (pixels) a dock of the plugin opening leaves, when the screen has the room.
CANVAS_FLOOR = 480


def dock_of(widget: QWidget | None) -> QDockWidget | None:
    """The dock holding ``widget`` (a parent of it), or None.

    Parameters
    ----------
    widget : QWidget or None

    Returns
    -------
    QDockWidget or None
    """
    while widget is not None and not isinstance(widget, QDockWidget):
        widget = widget.parentWidget()
    return widget


def make_room(widget: QWidget, floor: int = CANVAS_FLOOR) -> None:
    """Widen the main window holding ``widget``'s dock (within its screen) so that its canvas keeps ``floor`` px.

    Parameters
    ----------
    widget : QWidget
        A widget docked in a napari main window (the clustering widget).
    floor : int
        The canvas width to leave, in pixels.

    Notes
    -----
    The window system resizes the window a moment later (an event-loop turn or more): measure after that.
    Nothing is done for a widget not docked in a shown main window.
    """
    dock = dock_of(widget)
    window = dock.parentWidget() if dock is not None else None
    if dock is None or dock.isFloating() or not isinstance(window, QMainWindow) or not window.isVisible():
        return
    canvas = window.centralWidget()
    window.layout().activate()  # the docks' widths as laid out now, not at the next event-loop turn
    missing = floor - canvas.width()
    if missing <= 0 or window.isMaximized() or window.isFullScreen():
        return
    screen = window.screen().availableGeometry()
    frame = window.frameGeometry()
    grow = max(0, min(missing, screen.width() - frame.width()))
    if grow:  # the window system applies it a moment later: the canvas is not measured again here
        left = max(screen.left(), min(frame.left(), screen.right() + 1 - frame.width() - grow))
        window.move(left, frame.top())
        window.resize(window.width() + grow, window.height())
    area = window.dockWidgetArea(dock)
    sides = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)
    if missing > grow and area in sides:  # no more screen: the dock area narrows to what its widgets need
        docks = [d for d in window.findChildren(QDockWidget) if window.dockWidgetArea(d) == area and d.isVisible()]
        narrowest = max(d.minimumSizeHint().width() for d in docks)
        window.resizeDocks([dock], [max(narrowest, dock.width() - (missing - grow))], Qt.Orientation.Horizontal)

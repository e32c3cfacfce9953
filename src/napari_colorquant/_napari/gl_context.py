"""Run napari's OpenGL clean-up of a canvas in that canvas's own OpenGL context.

When layers are removed (``viewer.close()`` removes them all), napari's
``VispyCanvas._clean_and_update_scenegraph`` calls ``finish()`` on the vispy canvas's context: that runs,
there and then, every OpenGL command vispy queued for the canvas, among them the deletion of the removed
layers' textures, buffers and shader programs. It does not make the canvas's OpenGL context current first
(vispy's own ``Canvas.__exit__`` does, before its ``finish()``), so the commands go to whatever context
is current. With one window that is its own. With two (the separate feature window) it is often the other
window's: the window Qt painted last leaves its context current. vispy does not share contexts between
canvases under PyQt6, and OpenGL object names are per context: deleting texture 5 of the feature window
in the main window's context deletes the main window's texture 5. The main viewer then fails to draw
(vispy's ``WARNING: Error drawing visual <Image>`` with a GLError "invalid value" traceback, from the
error its next OpenGL calls find pending) and its canvas goes black. Plain napari does the same with two
viewers when one is closed or loses layers right after the other was painted.

:func:`finish_in_own_context` makes a canvas's ``finish()`` make that canvas's context current first, and
skips it when the canvas has no context: never shown (nothing of it has reached OpenGL; what is queued is
sent at its first paint, in its own context), or its widget already deleted (its OpenGL objects went with
its context).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

#: Marks a vispy context whose ``finish`` is already wrapped.
_MARK = "_napari_colorquant_own_context"


def finish_in_own_context(viewer: Any) -> bool:
    """Make napari's ``finish()`` of ``viewer``'s canvas run in the canvas's own OpenGL context.

    Parameters
    ----------
    viewer : napari.Viewer
        A viewer (its window not closed), or napari's public-only proxy of one (a widget's). Calling it again for
        the same viewer changes nothing.

    Returns
    -------
    bool
        True if the viewer's canvas finishes in its own context (now or before), False if this napari or
        vispy has no such canvas (then nothing was changed).
    """
    viewer = getattr(viewer, "__wrapped__", viewer)  # napari's proxy of a widget's viewer warns on private access
    try:  # napari's vispy canvas (private): another napari, or a closed window, has none
        canvas = viewer.window._qt_viewer.canvas._scene_canvas
        context = canvas.context
        finish = context.finish
    except (AttributeError, RuntimeError):
        return False
    if not getattr(context, _MARK, False):
        context.finish = _own_context_finish(weakref.ref(canvas), finish)
        setattr(context, _MARK, True)
    return True


def _own_context_finish(canvas_ref: weakref.ref, finish: Callable[[], None]) -> Callable[[], None]:
    def own_context_finish() -> None:
        canvas = canvas_ref()
        if canvas is not None and has_context(canvas):
            canvas.set_current()  # vispy: the Qt widget's makeCurrent(), and vispy's current canvas
            finish()

    return own_context_finish


def has_context(canvas: Any) -> bool:
    """The vispy canvas's Qt widget has an OpenGL context (shown at least once, not deleted).

    Parameters
    ----------
    canvas : vispy.app.Canvas
        A canvas on Qt's ``QOpenGLWidget`` (vispy's Qt backend).

    Returns
    -------
    bool
    """
    try:
        return bool(canvas.native.isValid())
    except (AttributeError, RuntimeError):  # closed (no backend), or the Qt widget deleted
        return False

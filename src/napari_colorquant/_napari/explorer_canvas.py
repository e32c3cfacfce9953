"""A matplotlib Qt canvas that renders its figure in a worker thread; the GUI thread only copies the pixels.

Drawing the explorer's figure (axes, ticks, log colour bar, legend: some 30 texts) takes 50–200 ms of
CPU, which on the GUI thread froze napari's canvas at the end of every run. Here a requested draw
(``draw_idle``, which matplotlib and the explorer call after changing the figure) is rendered with Agg
in a worker thread into a renderer of its own; once done, the GUI thread copies that buffer into the
canvas' renderer, sends the ``draw_event`` (selectors and the hover marker keep their blitting
backgrounds from it) and repaints. matplotlib figures are not thread-safe, so whoever changes the
figure's artists holds :attr:`BackgroundCanvas.lock`, which the worker holds while it renders; draw-event
handlers never run in the worker. A synchronous :meth:`~BackgroundCanvas.draw` (tests, exports, a resize
of a canvas already shown, so that it never flashes blank) supersedes any background render in flight.

No library offers this for Qt (matplotlib's own Qt canvas always renders on the GUI thread), hence
this small class.

A finished render reaches the GUI thread through one module-level relay object that lives as long as
the application, never through a signal of the canvas itself: the canvas may be deleted on the GUI
thread (its dock closed, the viewer reset) while the worker is about to emit, and emitting on a Qt
object being destroyed in another thread can crash the process. The relay's slot runs on the GUI
thread, where a deleted canvas is detected safely and the render dropped.
"""

from __future__ import annotations

import contextlib
import threading
import weakref

from matplotlib.backend_bases import DrawEvent
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.cbook import CallbackRegistry
from matplotlib.transforms import Bbox
from qtpy import sip
from qtpy.QtCore import QObject, QTimer, Signal, Slot

_SILENT = CallbackRegistry()  # what draw-event handlers see in the worker: nobody listens there


class _Relay(QObject):
    """Carries finished renders to the GUI thread for canvases that may be gone by then."""

    rendered = Signal(object, object)

    def __init__(self) -> None:
        super().__init__()
        self.rendered.connect(self._deliver)

    @Slot(object, object)
    def _deliver(self, canvas_ref: weakref.ref, message: tuple) -> None:
        canvas = canvas_ref()
        if canvas is not None and not sip.isdeleted(canvas):
            canvas._deliver(message)


_relay: _Relay | None = None


def _the_relay() -> _Relay:
    """The relay, made on first use by a canvas (on the GUI thread, so its slot runs there)."""
    global _relay
    if _relay is None:
        _relay = _Relay()
    return _relay


class BackgroundCanvas(FigureCanvasQTAgg):
    """``FigureCanvasQTAgg`` whose idle draws are rendered off the GUI thread.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    """

    def __init__(self, figure) -> None:
        super().__init__(figure)
        #: Held by the worker while it renders; hold it to change the figure's artists.
        self.lock = threading.RLock()
        self._gui_thread = threading.get_ident()
        self._token = 0  # the newest render; older ones are dropped when they finish
        self._scheduled = self._rendering = self._again = False
        self._shown_key: tuple | None = None  # (width, height, dpi) of the pixels on screen
        self._renderer: tuple[tuple, RendererAgg] | None = None  # the worker's, reused while the size stays
        self._relay = _the_relay()

    @property
    def callbacks(self) -> CallbackRegistry:
        """The figure's event handlers; none in the worker thread (they touch Qt and the canvas)."""
        if threading.get_ident() != self._gui_thread:
            return _SILENT
        return super().callbacks

    @property
    def busy(self) -> bool:
        """A background render is waiting or running."""
        return self._scheduled or self._rendering

    def _size_key(self) -> tuple:
        # The size of the canvas' own renderer, rounded as matplotlib rounds it: a 414-pixel canvas is
        # 413.99999999999994 figure pixels, which RendererAgg truncated to 413 (a transparent last column).
        width, height = self.get_width_height(physical=True)
        return float(width), float(height), float(self.figure.dpi)

    def draw(self) -> None:
        """Render on the GUI thread now; background renders requested or running until now are dropped."""
        self._token += 1
        self._scheduled = False
        with self.lock:
            super().draw()
        self._shown_key = self._size_key()

    def draw_idle(self) -> None:
        """Render in a worker thread at the next event-loop turn (requests coalesce)."""
        if self._shown_key is not None and self._shown_key[:2] != self._size_key()[:2]:
            super().draw_idle()  # resized: redraw before the next paint, never show a blank canvas
            return
        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(0, self._start)

    def _start(self) -> None:
        if not self._scheduled:  # superseded by a synchronous draw
            return
        self._scheduled = False
        if self._rendering:
            self._again = True  # the figure changed during this render: render once more after it
            return
        self._token += 1
        self._rendering = True
        # Not a daemon: the interpreter's exit waits for the render (a fraction of a second). A daemon
        # thread still inside matplotlib's C++ renderer at exit was unwound through it, and the process
        # ended in "terminate called without an active exception" (SIGABRT).
        thread = threading.Thread(target=self._render, args=(self._token, self._size_key()),
                                  name="napari-colorquant plot render")  # fmt: skip
        thread.start()

    def _render(self, token: int, key: tuple) -> None:
        """Worker thread: render the figure into this canvas' own Agg renderer."""
        try:
            width, height, dpi = key
            with self.lock:
                if token != self._token:
                    outcome = None
                else:
                    if self._renderer is None or self._renderer[0] != key:
                        self._renderer = (key, RendererAgg(width, height, dpi))
                    renderer = self._renderer[1]
                    renderer.clear()
                    self.figure.draw(renderer)
                    outcome = renderer
        except Exception as error:  # handed to the GUI thread, which draws there instead
            outcome = error
        with contextlib.suppress(RuntimeError):  # the relay is deleted (Qt torn down): nobody is left to show it
            self._relay.rendered.emit(weakref.ref(self), (token, key, outcome))

    def _deliver(self, message: tuple) -> None:
        """GUI thread: show a finished render (unless superseded or resized), then start a waiting one."""
        token, key, outcome = message
        self._rendering = False
        current = token == self._token and key == self._size_key()
        if isinstance(outcome, Exception) and current:
            super().draw_idle()  # render it here instead (and show any error as matplotlib does)
        elif outcome is not None and current:
            renderer = self.get_renderer()
            whole = Bbox.from_extents(0, 0, key[0], key[1])  # the figure's bbox would cut its last fraction of a pixel
            renderer.restore_region(outcome.copy_from_bbox(whole))
            self._shown_key = key
            self.callbacks.process("draw_event", DrawEvent("draw_event", self, renderer))
            self.update()
        elif not current and token == self._token:
            self._again = True  # resized during the render
        if self._again:
            self._again = False
            self.draw_idle()

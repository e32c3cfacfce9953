"""Run one job at a time in a worker thread, with progress, Cancel, and a clean stop when the widget goes.

The worker calls :meth:`Runner.progress`; it raises :class:`Cancelled` once
Cancel was pressed or the widget was closed, which ends the work at its next
step. After :meth:`Runner.shutdown` nothing is sent to the widget's controls
again (they may already be deleted with the viewer).

Progress reaches the GUI at most every :data:`PROGRESS_INTERVAL` seconds (and at
each new stage): a progress bar repaints itself at once, and with napari's OpenGL
canvas in the same window each repaint costs 5–20 ms of the GUI thread, which a
run reporting every percent spent on repaints instead of clustering.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from napari.qt.threading import create_worker
from qtpy.QtCore import QEvent, QObject
from superqt.utils import ensure_main_thread

#: Where each stage sits on the progress bar: (start, span) in percent.
STAGES = {"count": (0, 10), "fit": (10, 70), "write": (80, 10), "view": (90, 5), "layers": (95, 5)}
#: Seconds between two progress updates of the same stage.
PROGRESS_INTERVAL = 0.1


class Cancelled(Exception):
    """Raised inside the worker when the user pressed Cancel (or closed the widget)."""


class Runner:
    """Starts workers and reports their progress to ``on_progress(percent, stage)`` on the GUI thread.

    Parameters
    ----------
    on_progress : callable
        ``on_progress(percent: int, stage: str)``; called on the GUI thread, never after shutdown.
    """

    def __init__(self, on_progress: Callable[[int, str], None]) -> None:
        self._on_progress = on_progress
        self._cancel = threading.Event()
        self._closed = False
        self._worker = None
        self._last: tuple[int, str] = (-1, "")
        self._last_time = 0.0

    @property
    def busy(self) -> bool:
        """A job is running."""
        return self._worker is not None

    @property
    def worker(self) -> Any:
        """The running worker, or None."""
        return self._worker

    @property
    def closed(self) -> bool:
        """The widget is gone: nothing may touch its controls."""
        return self._closed

    @property
    def cancelled(self) -> bool:
        """Cancel was requested for the running job."""
        return self._cancel.is_set()

    def start(self, function: Callable, *args: Any, returned: Callable, errored: Callable,
              finished: Callable, yielded: Callable | None = None) -> None:  # fmt: skip
        """Run ``function(*args)`` in a worker thread; the handlers run on the GUI thread unless shut down.

        A generator ``function`` hands each yielded value to ``yielded`` while it goes on working.

        Parameters
        ----------
        function : callable
            The work (a function or a generator function).
        *args
            Its arguments.
        returned : callable
            Called with the return value.
        errored : callable
            Called with the exception (not for a cancelled job).
        finished : callable
            Called last, whatever happened.
        yielded : callable, optional
            Called with each value a generator yields.
        """
        self._cancel.clear()
        self._last = (-1, "")
        self._last_time = 0.0

        def guard(handler):
            def call(*values):
                if not self._closed:
                    handler(*values)

            return call

        def done():
            self._worker = None
            if not self._closed:
                finished()

        # Handlers go through _connect: connecting "errored" later would leave napari's
        # default handler that re-raises worker errors in the GUI thread.
        connect = {"returned": guard(returned), "errored": guard(errored), "finished": done}
        if yielded is not None:
            connect["yielded"] = guard(yielded)
        worker = create_worker(function, *args, _start_thread=False, _connect=connect)
        self._worker = worker
        worker.start()

    def cancel(self) -> bool:
        """Ask the running job to stop at its next step.

        Returns
        -------
        bool
            False when nothing was running.
        """
        if self._worker is None:
            return False
        self._cancel.set()
        return True

    def shutdown(self, *_) -> None:
        """The widget is going away: cancel the job and never touch the controls again."""
        self._closed = True
        self._cancel.set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if the job should stop (called from the worker)."""
        if self._cancel.is_set():
            raise Cancelled()

    def progress(self, stage: str, fraction: float) -> None:
        """Progress callback for the worker: stops a cancelled job, forwards whole percents to the GUI.

        Parameters
        ----------
        stage : str
            The stage (a key of ``STAGES``), which maps ``fraction`` to the overall bar.
        fraction : float
            Done within the stage, 0..1.

        Raises
        ------
        Cancelled
            When Cancel was pressed (the worker stops there).
        """
        self.check()
        start, span = STAGES.get(stage, (0, 100))
        percent = int(start + span * min(max(float(fraction), 0.0), 1.0))
        now = time.perf_counter()
        if (percent, stage) != self._last and (stage != self._last[1] or now - self._last_time >= PROGRESS_INTERVAL):
            self._last, self._last_time = (percent, stage), now
            self._forward(percent, stage)

    @ensure_main_thread
    def _forward(self, percent: int, stage: str) -> None:
        if self._closed or self._worker is None:
            return
        try:
            self._on_progress(percent, stage)
        except RuntimeError:  # the Qt widget was deleted before this queued update arrived
            self._closed = True


class _UndockWatch(QObject):
    """Calls ``callbacks`` once when the watched widget is taken out of its dock (its parent becomes None)."""

    def __init__(self, watched: QObject, callbacks: tuple[Callable[[], object], ...]) -> None:
        super().__init__(watched)
        self._callbacks = callbacks
        watched.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ParentChange and watched.parent() is None and self._callbacks:
            callbacks, self._callbacks = self._callbacks, ()
            for callback in callbacks:
                callback()
        return False


def when_undocked(widget: QObject, *callbacks: Callable[[], object]) -> None:
    """Call ``callbacks`` once when the user closes ``widget``'s dock (napari's "x" on its title bar).

    napari's "x" takes a plugin's widget out of its dock (its parent becomes None) and deletes the dock, but
    not the widget, whose ``destroyed`` signal never comes: a run went on and added its outputs, and the
    separate feature window stayed open, with no widget left to drive them. When the viewer closes, the
    widget is deleted with its window (``destroyed``), not taken out of its dock.

    Parameters
    ----------
    widget : QObject
        The docked widget's Qt widget.
    *callbacks : callable
        Called with no arguments, in order (e.g. :meth:`Runner.shutdown`).
    """
    _UndockWatch(widget, callbacks)

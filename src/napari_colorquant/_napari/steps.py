"""GUI work as a queue of short steps, one per event-loop turn, so the canvas never freezes for long.

Placing a run's outputs, redrawing the explorer and writing the report each take a few
tens of milliseconds; done in one go they stall the event loop for their sum, and the
canvas cannot paint the first layer before the last one is placed. Queued here, the
event loop turns (paints, handles the user's input, runs timers) between two steps.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from functools import partial

from qtpy.QtCore import QTimer

#: Delay before the next step, in ms. Zero-delay timers are posted events, which Qt delivers one after
#: another before it looks at expired timers or the window system's input: chained, the steps froze the
#: event loop for their sum. A 1 ms timer fires in turn with every other expired timer, after input.
_TURN_MS = 1


class StepQueue:
    """Runs queued callables in order, each in its own event-loop turn (a 1 ms timer).

    Parameters
    ----------
    alive : callable, optional
        ``alive() -> bool``; once it returns False (the widget is gone) nothing more runs.
    """

    def __init__(self, alive: Callable[[], bool] | None = None) -> None:
        self._queue: deque[Callable[[], object]] = deque()
        self._scheduled = False
        self._running = False
        self._alive = alive or (lambda: True)

    @property
    def busy(self) -> bool:
        """Steps are waiting or one is running."""
        return bool(self._queue) or self._running

    def add(self, *steps: Callable[[], object]) -> None:
        """Queue ``steps``; each runs in a later event-loop turn, after the steps queued before it.

        Parameters
        ----------
        *steps : callable
            Called with no arguments.
        """
        self._queue.extend(steps)
        self._schedule()

    def add_iterator(self, steps: Iterator[object]) -> None:
        """Queue an iterator: one ``next()`` per event-loop turn until it is exhausted.

        Parameters
        ----------
        steps : iterator
            E.g. :meth:`Placer.place_steps`.
        """
        self.add(partial(self._advance, steps))

    def clear(self) -> None:
        """Drop every waiting step."""
        self._queue.clear()

    def _advance(self, steps: Iterator[object]) -> None:
        try:
            next(steps)
        except StopIteration:
            return
        self._queue.appendleft(partial(self._advance, steps))

    def _schedule(self) -> None:
        # Not while a step runs (a step that processes events itself must not start the next one
        # inside it): the step's end schedules the next.
        if self._queue and not self._scheduled and not self._running:
            self._scheduled = True
            QTimer.singleShot(_TURN_MS, self._run_next)

    def _run_next(self) -> None:
        self._scheduled = False
        if not self._alive():
            self._queue.clear()
            return
        if not self._queue:
            return
        step = self._queue.popleft()
        self._running = True
        try:
            step()
        finally:
            self._running = False
            self._schedule()

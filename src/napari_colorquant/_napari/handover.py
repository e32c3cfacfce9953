"""Hand a run's outputs from the worker to the GUI thread: the worker waits until they are placed.

After a run the worker yields the finished layer tuples and still has work to do (the explorer's
pass over the pixels, the CIEDE2000 figures: ~0.3 s of CPU on a 12 MP photo). Done at the same
time as the GUI thread places the outputs, that work competed with it (and with the OpenGL
rasteriser's threads) for the CPU and the GIL, so the event-loop turns that set a 12 MP texture and
paint it took two to three times their own CPU time. The worker now waits until the GUI thread has
placed the outputs and the canvas has had its turn to paint them (``job.placed``), then goes on while
the event loop is idle. A dropped result (the input removed or replaced during the run) releases it
at once; Cancel and closing the widget stop it; :data:`PLACED_TIMEOUT` bounds the wait whatever happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .job import Job
    from .runner import Runner

#: Longest wait of the worker for the GUI thread (seconds); the worker goes on after it in any case.
PLACED_TIMEOUT = 5.0
_POLL = 0.02


def wait_until_placed(job: Job, runner: Runner, timeout: float = PLACED_TIMEOUT) -> bool:
    """Worker thread: block until the GUI thread has placed ``job``'s outputs (or dropped them).

    Parameters
    ----------
    job : Job
        The run; its ``placed`` event is set by the GUI thread.
    runner : Runner
        Stops the wait when the job is cancelled or the widget closed.
    timeout : float
        Seconds after which the worker goes on anyway.

    Returns
    -------
    bool
        True when the GUI thread released the worker, False after the timeout.

    Raises
    ------
    Cancelled
        When Cancel was pressed or the widget closed meanwhile.
    """
    deadline = time.perf_counter() + timeout
    while not job.placed.wait(_POLL):
        runner.check()
        if time.perf_counter() >= deadline:
            return False
    runner.check()
    return True


def drop_reason(job: Job, viewer: Any) -> tuple[str, str] | None:
    """Why a finished run's outputs must not be placed: ``(message, status)``, or None when they fit.

    Parameters
    ----------
    job : Job
        The run.
    viewer : napari.Viewer
        The main viewer.

    Returns
    -------
    (str, str) or None
        The message for the user and the widget's status.
    """
    if job.layer not in viewer.layers:
        return f"layer {job.source.name!r} was removed while clustering; nothing was added", "removed"
    if job.stale:
        return f"the data of layer {job.layer.name!r} changed while clustering; the result was dropped (run again)", (
            "dropped"
        )
    return None


def track_data(job: Job) -> Callable[[], None]:
    """Note in ``job.stale`` when the input's data is replaced during the run (its result would not fit it).

    Parameters
    ----------
    job : Job
        The run that starts.

    Returns
    -------
    callable
        Stops the tracking (called when the run ends).
    """

    def changed(*_):
        job.stale.append("data")

    job.layer.events.data.connect(changed)
    return lambda: job.layer.events.data.disconnect(changed)

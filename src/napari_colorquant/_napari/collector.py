"""Keep CPython's full garbage collections short while the widget is open, by freezing what napari built.

A napari process tracks some 370 000 container objects once napari, Qt, the plugin and the libraries a
run needs are loaded. CPython's automatic generation-2 (full) collection walks all of them: 0.14-0.19 s
of CPU holding the GIL, whichever thread triggers it. It fired every few runs while the widget placed
its outputs (or while the explorer's plot rendered in its thread) and froze the canvas for that long,
the longest event-loop stall after a run. :func:`gc.freeze` moves every object alive at that moment to
a permanent generation that collections skip (the standard library's tool for this); a full collection
then walks only what was made since (some 30 000 objects after a few runs: 3-7 ms).

When: as the widget opens (napari, Qt and the viewer are built by then), and again once its warm-up
thread has imported what a run needs (:mod:`.warmup`), so that a run started before the warm-up ends
is covered too; ``gc.freeze`` itself only relinks two lists and costs nothing.

The trade-off, and how it is bounded:

* A frozen object that later becomes cyclic garbage is not reclaimed until the objects are unfrozen.
  The ones that matter hold image data: the layers in the viewer at the freeze. When one of them is
  removed, the next event-loop turn unfreezes, runs one full collection (which reclaims it, as napari's
  own collection on a layer removal did before) and freezes the survivors again. Other garbage among
  frozen objects (a few hundred small objects at the freeze) waits until the widget closes.
* When the last widget closes, everything is unfrozen: the process is as before.
* If something else already froze objects (an application or a test harness that manages
  ``gc.freeze`` itself, such as this project's test suite), nothing here touches it.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import napari

_lock = threading.RLock()  # re-entrant: a collection may run finalizers that release a widget
_viewers: list = []  # viewers of the open widgets (one entry per widget)
_ours = False  # the frozen generation is ours (we froze it and will unfreeze it)
_frozen_layers: weakref.WeakSet = weakref.WeakSet()
_refresh_due = False


def hold(viewer: napari.Viewer) -> Callable[[], None]:
    """Freeze the objects alive now, and keep them frozen while a widget of ``viewer`` is open.

    Parameters
    ----------
    viewer : napari.Viewer
        The widget's viewer; removing a layer that was frozen reclaims it (see the module docstring).

    Returns
    -------
    callable
        ``release()``: call once when the widget goes away; the last release unfreezes.
    """
    with _lock:
        _viewers.append(viewer)
    viewer.layers.events.removed.connect(_on_removed)
    _freeze()
    released = False

    def release(*_) -> None:
        nonlocal released
        if released:
            return
        released = True
        _release(viewer)

    return release


def warmed() -> None:
    """Called by the warm-up thread once a run's libraries are loaded: freeze them too if a widget is open."""
    _freeze()


def frozen() -> bool:
    """Whether the frozen generation is this module's (for tests and the benchmark).

    Returns
    -------
    bool
    """
    return _ours


def _freeze() -> None:
    global _ours
    with _lock:
        if not _viewers or (gc.get_freeze_count() and not _ours):  # none open, or someone else's freeze
            return
        gc.freeze()
        _ours = True
        _note_layers()


def _note_layers() -> None:
    _frozen_layers.clear()
    for viewer in _viewers:
        try:
            _frozen_layers.update(viewer.layers)
        except (RuntimeError, AttributeError):  # a viewer being closed
            continue


def _release(viewer) -> None:
    global _ours
    with _lock:
        if viewer in _viewers:
            _viewers.remove(viewer)
        unfreeze = _ours and not _viewers
        if unfreeze:
            gc.unfreeze()
            _ours = False
            _frozen_layers.clear()
    with contextlib.suppress(RuntimeError, AttributeError, TypeError, ValueError):  # already torn down
        viewer.layers.events.removed.disconnect(_on_removed)


def _on_removed(event) -> None:
    """A frozen layer was removed: reclaim it one event-loop turn later (once the remover let go of it)."""
    global _refresh_due
    if not _ours or _refresh_due or event.value not in _frozen_layers:
        return
    from qtpy.QtCore import QTimer

    _refresh_due = True
    QTimer.singleShot(0, _refresh)


def _refresh() -> None:
    """Unfreeze, collect everything once (reclaiming the removed layers), freeze the survivors again."""
    global _refresh_due
    _refresh_due = False
    with _lock:
        if not _ours:
            return
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        _note_layers()

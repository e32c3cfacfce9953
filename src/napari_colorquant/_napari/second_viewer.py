"""Open the separate feature window (a second napari viewer) without the work napari repeats for nothing.

Building a napari viewer is one stretch of the GUI thread (~185 ms measured on the development
machine), the first run's longest freeze with the default "separate window" view. Two parts of it
redo, for every new viewer, work whose outcome is already known:

* **Shortcuts re-announced to every open viewer.** Each new viewer unbinds and binds again every
  shortcut of napari's settings (~90 actions): ~180 ``shortcut_changed`` events, each of which every
  open viewer's welcome screen answers by re-reading its whole shortcut table, and every button bound
  to an action by rebuilding its tooltip (~18 ms of the GUI thread with two viewers, more with more).
  The shortcuts are the same before and after: while the window is built those events are held
  back, and only an action whose shortcuts did change is announced once afterwards
  (:func:`opening_viewer`).
* **The screen's DPI asked of the X server by a subprocess.** vispy runs ``xdpyinfo`` for each new
  canvas unless its ``dpi`` setting is given (3-25 ms with the GUI thread waiting, more on a busy
  machine). The warm-up thread asks once (:func:`measure_dpi`), and while the window is built vispy's
  setting holds that value, so the canvas gets the DPI it would have asked for; the setting is put
  back afterwards, so other canvases ask as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

#: The screen's DPI as vispy measures it (None: not measured, or not a whole number vispy's setting takes).
_dpi: int | None = None


def measure_dpi() -> None:
    """Ask the screen's DPI as vispy does (a subprocess on X11); called from the warm-up thread."""
    global _dpi
    with contextlib.suppress(Exception):  # no vispy, no display: the canvas asks for itself as usual
        from vispy.util.dpi import get_dpi

        value = float(get_dpi(raise_error=False))
        _dpi = int(value) if value.is_integer() and value > 0 else None


def measured_dpi() -> int | None:
    """The DPI :func:`measure_dpi` found, or None.

    Returns
    -------
    int or None
    """
    return _dpi


@contextlib.contextmanager
def opening_viewer() -> Iterator[None]:
    """Context for building a second napari viewer (GUI thread): see the module docstring.

    Yields
    ------
    None
        The viewer is built inside; everything is as napari would leave it once the context ends.
    """
    with _known_dpi(), _shortcuts_announced_once():
        yield


@contextlib.contextmanager
def _known_dpi() -> Iterator[None]:
    try:
        from vispy.util import config
    except ImportError:
        yield
        return
    given = _dpi is not None and config["dpi"] is None
    if given:
        config["dpi"] = _dpi
    try:
        yield
    finally:
        if given:
            config["dpi"] = None


@contextlib.contextmanager
def _shortcuts_announced_once() -> Iterator[None]:
    try:
        from napari.utils.action_manager import action_manager
    except ImportError:
        yield
        return
    shortcuts = getattr(action_manager, "_shortcuts", None)  # napari's bindings (not public API)
    emit = getattr(action_manager, "_emit_shortcut_change", None)
    if not isinstance(shortcuts, dict) or emit is None:  # another napari: build as it does
        yield
        return
    before = {name: list(bound) for name, bound in shortcuts.items()}
    try:
        with action_manager.events.shortcut_changed.blocker():
            yield
    finally:
        after = {name: list(bound) for name, bound in shortcuts.items()}
        for name in sorted(before.keys() | after.keys()):
            if before.get(name, []) != after.get(name, []):
                emit(name)

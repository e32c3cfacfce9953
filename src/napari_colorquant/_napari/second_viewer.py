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

Two more parts are not repeated but need not happen in the same turn as the rest: napari saving its
settings file once per dock of the new window (the docks' default places, the same as the first viewer's:
~25 ms of YAML and file writing) and applying the theme's style sheet to the hidden window (~30 ms).
While the window is built, a save is held back (made once in a later turn if one was asked for) and the
style sheet is applied in a later turn, before the window is shown (:func:`opening_viewer` hands both back).

The window's first paints make the glyphs of its texts (napari's Qt font: ~6 ms each, ten for any text,
whose vertical alignment vispy measures on ``ÅÉÑŐjgpqy``, even the feature-space points' empty labels;
then the axis names'): :func:`glyph_steps` makes them a few per turn beforehand.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import napari

#: Characters vispy lays out for any text (their extents align the lines), and the space.
_LAYOUT_CHARACTERS = "ÅÉÑŐjgpqy "
#: Glyphs :func:`glyph_steps` makes per event-loop turn (~6 ms each on the development machine).
GLYPHS_PER_TURN = 4

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
def opening_viewer() -> Iterator[list[Callable[[], None]]]:
    """Context for building a second napari viewer (GUI thread): see the module docstring.

    Yields
    ------
    list of callable
        Filled when the context ends: what is left of napari's construction (the theme's style sheet, a
        settings save), to be called in order, each in a later event-loop turn, before the window is shown.
        Once they have run, everything is as napari would leave it.
    """
    later: list[Callable[[], None]] = []
    with _known_dpi(), _shortcuts_announced_once(), _settings_saved_later(later), _theme_later(later):
        yield later


def glyph_steps(viewer: napari.Viewer, text: str) -> Iterator[None]:
    """Make the glyphs the window's texts will need, :data:`GLYPHS_PER_TURN` per step (GUI thread).

    Parameters
    ----------
    viewer : napari.Viewer
        The window (its canvas's font: glyphs are per canvas).
    text : str
        The characters of the texts to come (e.g. the axis names).

    Yields
    ------
    None
        After every :data:`GLYPHS_PER_TURN` glyphs made, and after the last one (never when all were made before).
    """
    try:  # napari's per-canvas Qt font (not public API); another napari makes its glyphs while it paints
        info = viewer.window._qt_viewer.canvas._font_info
        font = info.font_manager.get_font(info.face)
    except (AttributeError, RuntimeError):
        return
    made = getattr(font, "_glyphs", {})  # the glyphs it has (private); without it, every one counts as new
    new = [character for character in dict.fromkeys(_LAYOUT_CHARACTERS + text) if character not in made]
    for start in range(0, len(new), GLYPHS_PER_TURN):
        with contextlib.suppress(RuntimeError, TypeError, ValueError):  # a glyph it cannot make: the paint tries
            for character in new[start : start + GLYPHS_PER_TURN]:
                font[character]
        yield


@contextlib.contextmanager
def _settings_saved_later(later: list[Callable[[], None]]) -> Iterator[None]:
    """Hold back napari's settings saves (one per dock of the new window); one save later if any was asked."""
    try:
        from napari.settings import get_settings

        settings = get_settings()
    except ImportError:
        yield
        return
    cls, asked = type(settings), []
    own = cls.__dict__.get("save")
    cls.save = lambda self, *args, **kwargs: asked.append(self)
    try:
        yield
    finally:
        if own is None:
            del cls.save
        else:
            cls.save = own
        if asked:
            later.append(settings.save)


@contextlib.contextmanager
def _theme_later(later: list[Callable[[], None]]) -> Iterator[None]:
    """Apply the theme's style sheet to the new window in a later turn (before it is shown)."""
    try:
        from napari._qt.qt_main_window import Window
    except ImportError:
        yield
        return
    original = Window.__dict__.get("_update_theme")  # napari's private method (the window's style sheet)
    if original is None:  # another napari: build as it does
        yield
        return
    held: list = []

    def update_theme(self, *args, **kwargs):
        if not args and not kwargs and held is not None:  # the constructor's own call: later
            held.append(self)
            return None
        return original(self, *args, **kwargs)

    Window._update_theme = update_theme
    try:
        yield
    finally:
        Window._update_theme = original
        windows, held = held, None  # a call kept by the new window's events (theme changes) goes through
        later.extend(partial(_apply_theme, original, window) for window in windows)


def _apply_theme(update_theme: Callable, window) -> None:
    with contextlib.suppress(RuntimeError):  # the window was closed meanwhile
        update_theme(window)


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

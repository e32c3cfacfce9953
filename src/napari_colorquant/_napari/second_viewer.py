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

Built when it is first needed, at the end of the first run, the window's construction and the turns
after it were the longest stretches of GUI work after that run (~80-140 ms for napari's ``Viewer()``
alone). :class:`SpareWindow` builds it hidden ahead of need, in idle event-loop turns once the widget is
shown with the separate window chosen: the first run then only shows it. Hidden, it is put behind the
other napari windows, so that ``napari.current_viewer()`` (and where napari shows its notifications) stays
the user's viewer.

The window's first paints make the glyphs of its texts (napari's Qt font: ~6 ms each, ten for any text,
whose vertical alignment vispy measures on ``ÅÉÑŐjgpqy``, even the feature-space points' empty labels;
then the axis names'): :func:`glyph_steps` makes them a few per turn beforehand.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Generator, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from .steps import StepQueue

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


#: What :class:`SpareWindow` is given to build a window: ``build() -> (viewer, later, extra)``, the viewer built hidden,
#: what is left to call before it is shown (a turn each), and anything the caller wants back with it (its docks).
Build = Callable[[], tuple[Any, list[Callable[[], object]], Any]]


class SpareWindow:
    """A napari window built hidden, a step per event-loop turn: ahead of need, or when first needed.

    :meth:`prepare` builds it in idle turns (its own queue of steps); :meth:`take_steps`, in the steps of the
    run that shows it, waits for that build to end, or builds it then when none was started.

    Parameters
    ----------
    build : callable
        ``build() -> (viewer, later, extra)``: see :data:`Build`.
    """

    def __init__(self, build: Build) -> None:
        self._build = build
        self._steps: Iterator[None] | None = None  # the build under way
        self._queue: StepQueue | None = None  # the idle turns driving it ahead of need
        self._made: Any = None  # the viewer, from its construction on (closed with close())
        self._ready: tuple[Any, Any] | None = None  # (viewer, extra) once built

    @property
    def started(self) -> bool:
        """A window is being built or is ready (not yet taken)."""
        return self._steps is not None or self._ready is not None

    @property
    def prepared(self) -> napari.Viewer | None:
        """The window built ahead and not yet taken (hidden), else None."""
        return None if self._ready is None else self._ready[0]

    def prepare(self, alive: Callable[[], bool]) -> None:
        """Build the window in idle event-loop turns, hidden, unless one is built or being built.

        Parameters
        ----------
        alive : callable
            ``alive() -> bool``; once False (the widget is gone) the build stops (:meth:`close` closes it).
        """
        if self.started:
            return
        self._steps = self._build_steps()
        self._queue = StepQueue(alive)
        self._queue.add_iterator(self._steps)

    def take_steps(self) -> Generator[None, None, tuple[Any, Any]]:
        """Steps (a turn each) ending with the window built, handed over: ``(viewer, extra)``.

        Yields
        ------
        None
            While the build goes on (none when it is ready).

        Returns
        -------
        (napari.Viewer, object)
            The window, hidden, and ``extra`` as :data:`Build` returned it. The next call builds another.
        """
        while self._ready is None or not window_exists(self._ready[0]):
            if self._ready is not None:  # closed meanwhile (napari's close_all): build another
                self._ready = self._made = None
            if self._steps is None:  # not built ahead (or that build failed): build it in these steps
                self.close()  # a failed build's window
                self._steps = self._build_steps()
                yield from self._steps
            else:  # being built ahead, in its own idle turns
                yield
        (viewer, extra), self._ready, self._made = self._ready, None, None
        return viewer, extra

    def close(self) -> None:
        """Close the window built or being built and not taken (the widget or its viewer is closing)."""
        viewer, self._made, self._ready, self._steps = self._made, None, None, None
        if self._queue is not None:
            self._queue.clear()
        if viewer is not None:
            with contextlib.suppress(RuntimeError, AttributeError):  # already closed
                viewer.close()

    def _build_steps(self) -> Iterator[None]:
        steps = self._steps
        try:
            yield  # the construction in a turn of its own
            viewer, later, extra = self._build()
            self._made = viewer
            _behind_other_windows(viewer)
            for step in later:
                yield
                step()
            self._ready = (viewer, extra)
        finally:
            if self._steps is steps:
                self._steps = None


def window_exists(viewer: napari.Viewer) -> bool:
    """The viewer's window still exists (napari deletes it on ``viewer.close()`` and on its title bar's X).

    Parameters
    ----------
    viewer : napari.Viewer

    Returns
    -------
    bool
    """
    try:
        viewer.window._qt_window.isVisible()
    except (AttributeError, RuntimeError):
        return False
    return True


def _behind_other_windows(viewer) -> None:
    """Put a hidden viewer behind napari's other windows: ``napari.current_viewer()`` is the last of napari's list of
    windows (the last built or activated), and napari shows its notifications in that window. Showing it later
    (activation) brings it to the front as usual. The list is private: another napari keeps its order."""
    with contextlib.suppress(ImportError, AttributeError, ValueError):
        from napari._qt.qt_main_window import _QtMainWindow

        windows = _QtMainWindow._instances
        windows.insert(0, windows.pop(windows.index(viewer.window._qt_window)))


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

    @functools.wraps(original)  # its name: napari looks a connected method up by name, and with another name
    def update_theme(self, *args, **kwargs):  # went through every attribute, reading a deprecated one (a warning)
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

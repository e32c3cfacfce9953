"""Shared fixtures: real images shipped inside installed packages or in tests/data."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).parents[1].parent / "shared" / "data"

# napari's settings live in memory only (read before napari is imported): no test reads the user's saved
# settings or writes them (napari saves the file on every change, ~150 times a run, shared by all processes).
os.environ["NAPARI_CONFIG"] = ""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Move what outlived the previous tests out of the garbage collector's sight.

    napari runs a full ``gc.collect()`` on every layer removal and viewer close; with everything the
    session has imported and built still tracked, each takes 0.2-0.5 s. Collecting here first and then
    freezing the survivors keeps those collections to the objects of the running test. This changes no
    test: garbage of earlier tests is collected here, before the freeze.
    """
    gc.collect()
    gc.freeze()


def read_only(array: np.ndarray) -> np.ndarray:
    """A read-only copy: any attempt to modify the input raises."""
    out = np.array(array)
    out.flags.writeable = False
    return out


@pytest.fixture(scope="session")
def dask_cluster():
    """One local dask.distributed cluster shared by the tests that need one (starting one takes seconds)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def china() -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return read_only(load_sample_image("china.jpg"))


@pytest.fixture(scope="session")
def flower() -> np.ndarray:
    from sklearn.datasets import load_sample_image

    return read_only(load_sample_image("flower.jpg"))


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    from skimage import data

    return read_only(data.camera())


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return read_only(data.astronaut())


@pytest.fixture(scope="session")
def plate() -> np.ndarray:
    from PIL import Image

    return read_only(np.asarray(Image.open(DATA / "plate1.png").convert("L")))


@pytest.fixture(scope="session")
def hela_u16() -> np.ndarray:
    import tifffile

    return read_only(tifffile.imread(DATA / "hela_crop256_u16.tif"))


@pytest.fixture(scope="session")
def kidney_zcyx() -> np.ndarray:
    import tifffile

    return read_only(tifffile.imread(DATA / "kidney_z4_c3_64x64_u16.tif"))


# --- one napari viewer per worker, cleaned between tests ------------------------------------------
# Making and closing a napari viewer per test (napari's ``make_napari_viewer``) costs 0.3-1 s of CPU each, for
# ~85 GUI tests. ``make_viewer`` instead hands out one hidden and one shown viewer per process, made on first
# use and reset after every test to the state of a new viewer: the plugin's docks deleted (which cancels their
# jobs and closes their feature-space windows), the callbacks the plugin and the test connected to the viewer
# removed, all layers removed, dims, camera, window size and settings back to the new viewer's.


_VIEWER_MODELS = ("dims", "camera")
_MOUSE_CALLBACKS = ("mouse_move_callbacks", "mouse_drag_callbacks", "mouse_wheel_callbacks",
                    "mouse_double_click_callbacks")  # fmt: skip


def _snapshot(viewer) -> dict:
    state = {name: getattr(viewer, name).model_dump() for name in _VIEWER_MODELS}
    state["mouse"] = {name: list(getattr(viewer, name)) for name in _MOUSE_CALLBACKS}
    state["size"] = viewer.window._qt_window.size()
    return state


def _from_tests_or_plugin(callback) -> bool:
    """A connected callback the plugin or a test made (a weak method reference or a function), or a dead one."""
    if isinstance(callback, tuple):
        owner = callback[0]() if callable(callback[0]) else callback[0]
        if owner is None:
            return True
        module = type(owner).__module__
    else:
        module = getattr(getattr(callback, "func", callback), "__module__", None) or ""
    return module.startswith(("napari_colorquant", "test_", "conftest"))


def _disconnect_foreign(viewer) -> None:
    groups = [viewer.events, viewer.layers.events, viewer.layers.selection.events, viewer.cursor.events]
    groups += [getattr(viewer, name).events for name in _VIEWER_MODELS]
    for group in groups:
        for emitter in [group, *group.emitters.values()]:
            for callback in [c for c in emitter.callbacks if _from_tests_or_plugin(c)]:
                emitter.disconnect(callback)


def _reset_viewer(viewer, state: dict) -> None:
    from napari.settings import get_settings
    from qtpy.QtCore import QEvent
    from qtpy.QtWidgets import QApplication

    from napari_colorquant._napari import explorer, feature_axes

    window = viewer.window
    for dock in list(window._wrapped_dock_widgets.values()):
        inner = dock.widget()
        window.remove_dock_widget(dock)
        if inner is not None:
            inner.deleteLater()  # destroyed: the widget cancels its job and closes its feature-space viewer
    explorer._EXPLORERS.pop(id(viewer), None)
    feature_axes._CHOICES.pop(id(viewer), None)  # a new viewer has no choice of feature axes
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    _disconnect_foreign(viewer)
    for name, callbacks in state["mouse"].items():
        getattr(viewer, name)[:] = callbacks
    viewer.layers.clear()
    for name in _VIEWER_MODELS:
        model = getattr(viewer, name)
        for field, value in state[name].items():
            if getattr(model, field) != value:
                setattr(model, field, value)
    window._qt_window.resize(state["size"])
    get_settings().reset()
    QApplication.processEvents()


def _leaked_viewers(shared) -> list:
    import gc

    from napari._qt.qt_viewer import QtViewer

    ours = {viewer.window._qt_viewer for viewer in shared}
    if len(QtViewer._instances) > len(ours):
        gc.collect()
    return [qt_viewer for qt_viewer in QtViewer._instances if qt_viewer not in ours]


@pytest.fixture(scope="session")
def _shared_viewers(qapp):
    """The process's shared viewers, by ``show``; closed at the end of the session."""
    from unittest import mock

    patches = pytest.MonkeyPatch()
    # as napari's make_napari_viewer: no status-checker thread, no IPython console
    patches.setattr("napari._qt.threads.status_checker.StatusChecker.start", lambda *_, **__: None)
    patches.setattr("napari._qt.qt_viewer.QtViewer._get_console", lambda *_: _dummy_console())
    viewers: dict[bool, tuple] = {}
    yield viewers
    for viewer, _ in viewers.values():
        with mock.patch.object(viewer.window._qt_window, "_save_current_window_settings"):
            viewer.close()
    patches.undo()


def _dummy_console():
    from qtpy.QtWidgets import QWidget

    widget = QWidget()
    widget._update_theme = lambda *_, **__: None
    return widget


@pytest.fixture
def make_viewer(_shared_viewers, qtbot):
    """``make_viewer(show=False)``: a napari viewer as new (no layers, no docks), shared with other tests.

    At the test's end it is reset (see above) and no other napari viewer may be left open.
    """
    import napari
    from napari._qt.qt_main_window import _QtMainWindow
    from napari.settings import get_settings

    used = []

    def make(show: bool = False):
        show = bool(show)
        if show not in _shared_viewers:
            get_settings().reset()  # as make_napari_viewer: no window geometry saved by an earlier viewer
            viewer = napari.Viewer(show=show, show_welcome_screen=False)
            if show:
                qtbot.wait_exposed(viewer.window._qt_window, timeout=5000)
            _shared_viewers[show] = (viewer, _snapshot(viewer))
        viewer = _shared_viewers[show][0]
        assert show not in used, "make_viewer gives one viewer of each kind per test"
        used.append(show)
        windows = _QtMainWindow._instances
        windows.append(windows.pop(windows.index(viewer.window._qt_window)))  # the current viewer
        return viewer

    yield make
    for show in used:
        viewer, state = _shared_viewers[show]
        try:
            _reset_viewer(viewer, state)
        except Exception:  # the next test gets a new viewer
            del _shared_viewers[show]
            viewer.close()
            raise
    leaked = _leaked_viewers([viewer for viewer, _ in _shared_viewers.values()])
    assert not leaked, f"viewers left open by the test: {leaked}"


@pytest.fixture
def make_own_viewer(_shared_viewers, qtbot):
    """``make_own_viewer(show=False)``: a new napari viewer of this test's own (for tests that close it or that
    measure the window's layout); closed at the end if still open."""
    from unittest import mock

    import napari
    from napari.settings import get_settings

    made, hidden = [], []

    def make(show: bool = False):
        if show and True in _shared_viewers:  # the only shown window, as under make_napari_viewer
            window = _shared_viewers[True][0].window._qt_window
            window.hide()
            hidden.append(window)
        get_settings().reset()
        viewer = napari.Viewer(show=show, show_welcome_screen=False)
        if show:
            qtbot.wait_exposed(viewer.window._qt_window, timeout=5000)
        made.append(viewer)
        return viewer

    yield make
    for viewer in made:
        if hasattr(viewer.window, "_qt_window"):
            with mock.patch.object(viewer.window._qt_window, "_save_current_window_settings"):
                viewer.close()
    for window in hidden:
        window.show()
        qtbot.wait_exposed(window, timeout=5000)
    leaked = _leaked_viewers([viewer for viewer, _ in _shared_viewers.values()])
    assert not leaked, f"viewers left open by the test: {leaked}"

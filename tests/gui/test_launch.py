"""The README's main-job command: napari opens with a sample and the widget docked, and runs.

The launcher's ``main`` runs in this (Xvfb) test process, as its console script calls it: a new Python
process would spend seconds importing napari again. Its ``python -m`` entry is run as a process by
``tests/test_launch_errors.py::test_no_display_is_said_in_one_line``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from napari_colorquant._napari import launch


def test_viewer_launcher_runs_and_saves_a_screenshot(tmp_path, qapp, capsys):
    from unittest import mock

    from napari._qt.qt_main_window import _QtMainWindow
    from napari._qt.qt_viewer import QtViewer

    shot = tmp_path / "launch.png"
    before = set(QtViewer._instances)
    # as make_napari_viewer does: closing does not store this window's geometry for the next tests' viewers
    with mock.patch.object(_QtMainWindow, "_save_current_window_settings"):
        code = launch.main(["--sample", "plate", "--widget", "em", "-k", "2", "--run", "--screenshot", str(shot)])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    assert f"saved {shot}" in out
    image = np.asarray(Image.open(shot))
    assert image.shape[0] > 400 and image[..., :3].std() > 20
    assert not [viewer for viewer in QtViewer._instances if viewer not in before and viewer.isVisible()]


def test_the_screenshot_waits_for_the_explorer_to_draw(tmp_path, qapp, capsys):
    """A screenshot taken as the run ended showed the cluster table beside the explorer's "Run" placeholder."""
    from unittest import mock

    import napari
    from napari._qt.qt_main_window import _QtMainWindow

    from napari_colorquant._napari.explorer import find_explorer

    seen = []
    original = napari.Viewer.screenshot

    def screenshot(viewer, *args, **kwargs):
        explorer = find_explorer(viewer)
        seen.append(explorer is not None and not explorer.busy and not explorer.plot.canvas.busy)
        return original(viewer, *args, **kwargs)

    shot = tmp_path / "launch.png"
    with mock.patch.object(_QtMainWindow, "_save_current_window_settings"), \
            mock.patch.object(napari.Viewer, "screenshot", screenshot):  # fmt: skip
        code = launch.main(["--sample", "photo", "-k", "3", "--run", "--screenshot", str(shot)])
    assert code == 0, capsys.readouterr().err[-2000:]
    assert seen == [True]

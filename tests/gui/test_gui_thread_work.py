"""What the GUI thread does after a run and after a pick: long work in a worker or in short event-loop turns.

Asserted on where and when the work happens (threads, turns), never on timings.
"""

from __future__ import annotations

import threading

import numpy as np
from test_feature_axes import _five_channels, _pick, _run_in_window

import napari_colorquant as ncq
from napari_colorquant import explore


def test_a_pick_in_the_window_indexes_the_explorers_new_pair_off_the_gui_thread(make_viewer, dock, run_and_wait,
                                                                                 qtbot, monkeypatch):  # fmt: skip
    from napari_colorquant._napari import explorer_background

    # Every run counts as big: its pairs are indexed (a 12 MP photo's 1.4 M distinct values took a few hundred ms).
    monkeypatch.setattr(explore, "_PLANE_MIN_VALUES", 1)
    monkeypatch.setattr(explorer_background, "BACKGROUND_VALUES", 1)
    indexed: list[tuple[tuple[int, int], bool]] = []
    original = explore._plane

    def recorded(data, axes):
        fresh = tuple(int(a) for a in axes) not in data._planes
        if fresh:
            indexed.append((tuple(int(a) for a in axes), threading.current_thread() is threading.main_thread()))
        return original(data, axes)

    monkeypatch.setattr(explore, "_plane", recorded)
    viewer = make_viewer()
    viewer.add_image(_five_channels(), name="cells", axis_labels=("c", "y", "x"))
    widget = _run_in_window(viewer, dock, run_and_wait, "cells", method="kmeans")
    explorer = ncq.feature_explorer(viewer)
    try:
        qtbot.waitUntil(lambda: not explorer.plot.canvas.busy, timeout=10_000)
        assert explorer.axis_names == ("c3", "c4")
        indexed.clear()
        _pick(qtbot, widget.placer.axis_picker.combos[0], "c0")  # window x c3 -> c0: the explorer shows (c0, c4)
        assert explorer.busy and "indexing" in explorer.status.text()  # the panel says so; the event loop runs on
        qtbot.waitUntil(lambda: not explorer.busy and not explorer.plot.canvas.busy, timeout=10_000)
        assert explorer.axis_names == ("c0", "c4")
        assert indexed == [((0, 4), False)], indexed  # made once, in a worker
        assert explorer.busy_bar.isHidden() and "indexing" not in explorer.status.text()
        # The plot is the one a draw on the GUI thread makes of the same pair.
        shown = np.asarray(explorer.plot.canvas.buffer_rgba()).copy()
        rows, counts = explore.shown_values(explorer.data, (0, 4))
        monkeypatch.setattr(explorer_background, "BACKGROUND_VALUES", 1 << 62)
        explorer.data._planes.clear()
        explorer.redraw()
        assert not explorer.busy
        qtbot.waitUntil(lambda: not explorer.plot.canvas.busy, timeout=10_000)
        np.testing.assert_array_equal(shown, np.asarray(explorer.plot.canvas.buffer_rgba()))
        again = explore.shown_values(explorer.data, (0, 4))
        np.testing.assert_array_equal(rows, again[0])
        np.testing.assert_array_equal(counts, again[1])
    finally:
        widget.close_feature_viewer()

"""The widget freezes napari's long-lived objects (short full garbage collections) and undoes it cleanly."""

from __future__ import annotations

import gc
import weakref

import numpy as np


def _open(viewer, dock, qtbot):
    from napari_colorquant._napari import collector, warmup

    layer = viewer.add_image(np.zeros((64, 64, 3), np.uint8), name="photo", rgb=True)
    widget = dock(viewer)
    assert collector.frozen()  # as it opens: a run pressed before the warm-up ends is covered too
    warmup.start().join(120)
    qtbot.waitUntil(collector.frozen, timeout=5000)
    return layer, widget


def test_objects_are_frozen_as_the_widget_opens_and_unfrozen_when_the_viewer_closes(make_own_viewer, dock, qtbot):
    from napari_colorquant._napari import collector

    gc.unfreeze()  # the test suite's own freeze (tests/conftest.py) would make the widget stay out of it
    viewer = make_own_viewer()
    _open(viewer, dock, qtbot)
    assert gc.get_freeze_count() > 10_000  # napari, Qt and the run's libraries
    gc.collect()
    assert gc.get_freeze_count() > 10_000  # a full collection leaves the frozen ones alone
    viewer.close()
    qtbot.waitUntil(lambda: not collector.frozen(), timeout=5000)
    assert gc.get_freeze_count() == 0  # the process is as before


def test_a_removed_frozen_layer_is_reclaimed_and_the_rest_stays_frozen(make_own_viewer, dock, qtbot):
    from napari_colorquant._napari import collector

    gc.unfreeze()
    viewer = make_own_viewer()
    layer, _ = _open(viewer, dock, qtbot)
    data = weakref.ref(layer.data)
    viewer.layers.remove(layer)
    del layer
    qtbot.waitUntil(lambda: data() is None, timeout=5000)  # frozen garbage would never be reclaimed
    assert collector.frozen() and gc.get_freeze_count() > 10_000
    viewer.close()
    qtbot.waitUntil(lambda: not collector.frozen(), timeout=5000)


def test_a_freeze_made_by_someone_else_is_left_alone(make_viewer, dock, qtbot):
    from napari_colorquant._napari import collector, warmup

    gc.collect()
    gc.freeze()  # as an application (or this test suite) that manages frozen objects itself
    viewer = make_viewer()
    dock(viewer)
    warmup.start().join(120)
    qtbot.wait(10)
    assert not collector.frozen()

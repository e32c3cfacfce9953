"""A first run inserts its output layers as hidden placeholders while the worker computes (issue 12, issue 13 item 8).

Inserting a layer costs napari far more GUI time than updating one, so a first run inserts
"<name> clusters (computing…)" and "<name> quantized (computing…)" as soon as Run is pressed and
fills them in place at the end, like a repeat run. Whatever ends the run otherwise (Cancel, an
error, the input removed or its data replaced) must leave no placeholder behind.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from napari_colorquant.samples import load_sample

PENDING = " (computing…)"


def _blocking_quantize(monkeypatch, release: threading.Event, started: threading.Event, error: Exception | None = None):
    from napari_colorquant import workflows

    original = workflows.quantize

    def slow(*args, **kwargs):
        started.set()
        release.wait(10)
        if error is not None:
            raise error
        return original(*args, **kwargs)

    monkeypatch.setattr(workflows, "quantize", slow)


def _names(viewer) -> list[str]:
    return [layer.name for layer in viewer.layers]


def _start_blocked(make_viewer, dock, qtbot, monkeypatch, *, gray=False, error=None):
    """A viewer with a photo and the widget; Run pressed, the worker held inside the clustering."""
    viewer = make_viewer()
    data = load_sample("china")[::4, ::4]
    layer = viewer.add_image(data[..., 1] if gray else data, name="photo", rgb=not gray)
    widget = dock(viewer)
    widget.n_clusters.value = 3
    widget.feature_view.value = "none"
    release, started = threading.Event(), threading.Event()
    _blocking_quantize(monkeypatch, release, started, error)
    widget.run()
    qtbot.waitUntil(started.is_set, timeout=5000)
    qtbot.waitUntil(lambda: len(viewer.layers) == 3, timeout=5000)  # both placeholders inserted
    return viewer, layer, widget, release


@pytest.mark.parametrize("gray", [False, True], ids=["rgb", "gray"])
def test_first_run_fills_its_hidden_placeholders_in_place(make_viewer, dock, qtbot, monkeypatch, gray):
    viewer, layer, widget, release = _start_blocked(make_viewer, dock, qtbot, monkeypatch, gray=gray)
    names = ["photo", "photo clusters" + PENDING, "photo quantized" + PENDING]
    assert _names(viewer) == names
    placeholders = [viewer.layers[name] for name in names[1:]]
    assert not any(p.visible for p in placeholders)
    assert all(p.metadata["colorquant"]["placeholder"] for p in placeholders)
    assert [p.ndim for p in placeholders] == [2, 2]
    assert np.allclose(placeholders[0].scale, layer.scale)
    assert all(choice is not placeholders[1] for choice in widget.image.choices)  # never offered as an input
    assert widget.image.value is layer
    release.set()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
    assert _names(viewer) == ["photo", "photo clusters", "photo quantized"]
    clusters, quantized = viewer.layers["photo clusters"], viewer.layers["photo quantized"]
    assert clusters is placeholders[0] and quantized is placeholders[1]  # filled in place, not replaced
    assert clusters.visible and quantized.visible and clusters.opacity == pytest.approx(0.8)
    assert "placeholder" not in clusters.metadata["colorquant"] and clusters.metadata["colorquant"]["model"]
    assert clusters.data.shape == layer.data.shape[:2] and set(np.unique(clusters.data)) == {1, 2, 3}
    assert quantized.data.shape == layer.data.shape and quantized.rgb == (not gray)
    assert viewer.layers.selection.active is layer


def test_cancel_during_a_first_run_leaves_no_placeholder(make_viewer, dock, qtbot, monkeypatch, notifications):
    viewer, _, widget, release = _start_blocked(make_viewer, dock, qtbot, monkeypatch)
    widget.cancel()
    release.set()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
    assert any("cancelled" in m for m in notifications["info"])
    assert _names(viewer) == ["photo"]
    assert widget.run_button.enabled and widget.status.value == "cancelled"


def test_cancel_before_the_placeholders_are_inserted_leaves_none(make_viewer, dock, qtbot, notifications):
    viewer = make_viewer()
    viewer.add_image(load_sample("china")[::4, ::4], name="photo", rgb=True)
    widget = dock(viewer)
    widget.feature_view.value = "none"
    widget.run()
    widget.cancel()  # in the same event-loop turn as Run: the placeholders' steps have not run yet
    qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
    assert _names(viewer) == ["photo"]


def test_a_failed_first_run_leaves_no_placeholder(make_viewer, dock, qtbot, monkeypatch, notifications):
    viewer, _, widget, release = _start_blocked(make_viewer, dock, qtbot, monkeypatch,
                                                error=ValueError("n_clusters: too many for this image"))  # fmt: skip
    release.set()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
    assert any("too many" in m for m in notifications["error"])
    assert _names(viewer) == ["photo"] and widget.status.value == "failed"


def test_replaced_data_drops_the_result_and_its_placeholders(make_viewer, dock, qtbot, monkeypatch, notifications):
    viewer, layer, widget, release = _start_blocked(make_viewer, dock, qtbot, monkeypatch)
    layer.data = np.zeros((40, 50, 3), np.uint8)
    release.set()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
    assert any("changed while clustering" in m for m in notifications["error"])
    assert _names(viewer) == ["photo"]


def test_removed_input_drops_the_result_and_its_placeholders(make_viewer, dock, qtbot, monkeypatch, notifications):
    viewer, _, widget, release = _start_blocked(make_viewer, dock, qtbot, monkeypatch)
    viewer.layers.remove("photo")
    release.set()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
    assert any("was removed while clustering" in m for m in notifications["error"])
    assert _names(viewer) == []


def test_a_placeholder_deleted_by_the_user_is_added_again_at_the_end(make_viewer, dock, qtbot, monkeypatch):
    viewer, _, widget, release = _start_blocked(make_viewer, dock, qtbot, monkeypatch)
    viewer.layers.remove("photo clusters" + PENDING)
    release.set()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
    assert sorted(_names(viewer)) == ["photo", "photo clusters", "photo quantized"]
    assert viewer.layers["photo clusters"].visible


def test_a_repeat_run_inserts_no_placeholder(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    viewer.add_image(load_sample("china")[::4, ::4], name="photo", rgb=True)
    widget = dock(viewer)
    widget.feature_view.value = "none"
    run_and_wait(widget)
    first = list(viewer.layers)
    inserted = []
    viewer.layers.events.inserted.connect(lambda event: inserted.append(event.value.name))
    widget.n_clusters.value = 4
    run_and_wait(widget)
    assert inserted == [] and list(viewer.layers) == first


def test_closing_the_widget_mid_run_leaves_no_placeholder(make_viewer, dock, qtbot, monkeypatch):
    viewer, _, widget, release = _start_blocked(make_viewer, dock, qtbot, monkeypatch)
    runner = widget.runner
    viewer.window.remove_dock_widget(widget.native.parent())
    widget.native.deleteLater()
    qtbot.waitUntil(lambda: runner.closed, timeout=5000)
    release.set()
    qtbot.waitUntil(lambda: not runner.busy, timeout=20_000)
    assert _names(viewer) == ["photo"]


def test_separate_window_opens_while_computing_and_is_filled_at_the_end(make_viewer, dock, qtbot, monkeypatch):
    viewer = make_viewer()
    viewer.add_image(load_sample("china")[::4, ::4], name="photo", rgb=True)
    widget = dock(viewer)
    widget.n_clusters.value = 3
    widget.feature_view.value = "separate window"
    release, started = threading.Event(), threading.Event()
    _blocking_quantize(monkeypatch, release, started)
    try:
        widget.run()
        qtbot.waitUntil(lambda: widget.placer.feature_viewer_alive() is not None, timeout=5000)
        window = widget.feature_viewer
        assert window.title.endswith(PENDING.strip()) and len(window.layers) == 0
        release.set()
        qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
        assert widget.feature_viewer is window and not window.title.endswith(PENDING.strip())
        assert "photo feature space" in window.layers
    finally:
        release.set()
        widget.close_feature_viewer()


def test_cancel_closes_the_still_empty_separate_window(make_viewer, dock, qtbot, monkeypatch, notifications):
    viewer = make_viewer()
    viewer.add_image(load_sample("china")[::4, ::4], name="photo", rgb=True)
    widget = dock(viewer)
    widget.feature_view.value = "separate window"
    release, started = threading.Event(), threading.Event()
    _blocking_quantize(monkeypatch, release, started)
    try:
        widget.run()
        qtbot.waitUntil(lambda: widget.placer.feature_viewer_alive() is not None, timeout=5000)
        widget.cancel()
        release.set()
        qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
        assert widget.placer.feature_viewer_alive() is None and widget.feature_viewer is None
        assert _names(viewer) == ["photo"]
    finally:
        release.set()
        widget.close_feature_viewer()


def test_explorer_is_built_while_computing_and_docked_at_the_end(make_viewer, dock, qtbot, monkeypatch):
    from napari_colorquant._napari import explorer as _explorer

    viewer, _, widget, release = _start_blocked(make_viewer, dock, qtbot, monkeypatch)
    qtbot.waitUntil(lambda: _explorer._EXPLORERS.get(id(viewer)) is not None, timeout=5000)
    built = _explorer._EXPLORERS[id(viewer)]
    assert built.parent() is None  # not docked yet: the clustering widget (Cancel) stays in front
    assert _explorer.DOCK_NAME not in viewer.window._wrapped_dock_widgets
    release.set()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
    assert _explorer.find_explorer(viewer) is built and built.parent() is not None
    assert _explorer.DOCK_NAME in viewer.window._wrapped_dock_widgets

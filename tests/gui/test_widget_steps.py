"""After a run the GUI works in short steps (issue 13 item 8, issue 12 widget round trip).

The layers are placed one per event-loop turn while the worker computes the last figures
(CIEDE2000), which reach the report and every output's metadata afterwards; progress reaches
the GUI at most a few times per stage. These tests check results, never timings.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from napari_colorquant import quantize
from napari_colorquant.samples import load_sample


def _photo(viewer, name="photo"):
    return viewer.add_image(load_sample("china")[::2, ::2], name=name, rgb=True)


def _docked_on_photo(make_viewer, dock, n_clusters, feature_view="none"):
    """A viewer with the photo and the widget docked, set to cluster it into ``n_clusters``."""
    viewer = make_viewer()
    layer = _photo(viewer)
    widget = dock(viewer)
    widget.n_clusters.value = n_clusters
    widget.feature_view.value = feature_view
    return viewer, layer, widget


def test_outputs_are_placed_in_separate_event_loop_turns(make_viewer, dock, qtbot, run_and_wait):
    from qtpy.QtCore import QTimer

    viewer, _, widget = _docked_on_photo(make_viewer, dock, 4)
    turns = [0]
    ticker = QTimer()
    ticker.setInterval(0)
    ticker.timeout.connect(lambda: turns.__setitem__(0, turns[0] + 1))
    seen: dict[str, int] = {}
    viewer.layers.events.inserted.connect(lambda event: seen.setdefault(event.value.name, turns[0]))
    ticker.start()
    try:
        run_and_wait(widget)
    finally:
        ticker.stop()
    assert set(seen) == {"photo clusters", "photo quantized"}
    assert seen["photo clusters"] != seen["photo quantized"]  # the event loop turned in between
    timeline = widget.timeline
    assert timeline["run"] < timeline["layers"] <= timeline["placed"] <= timeline["done"]


def test_delta_e_reaches_report_and_metadata_after_the_layers(make_viewer, dock, run_and_wait):
    viewer, layer, widget = _docked_on_photo(make_viewer, dock, 5)
    run_and_wait(widget)
    expected = quantize(np.asarray(layer.data), 5, **{k: v for k, v in widget.controls.params().items()
                                                      if k != "n_clusters"})  # fmt: skip
    for name in ("photo clusters", "photo quantized"):
        summary = viewer.layers[name].metadata["colorquant"]["summary"]
        assert summary["delta_e"] == pytest.approx(expected.delta_e)
        assert summary["delta_e95"] == pytest.approx(expected.delta_e95)
    assert f"{expected.delta_e:.2f}" in widget.report.value and "ΔE00" in widget.report.value
    assert widget.status.value.startswith("done") and widget.progress.value == 100
    assert widget.run_button.enabled and not widget.cancel_button.enabled


def test_run_is_refused_while_outputs_are_being_placed(make_viewer, dock, qtbot, notifications):
    viewer, _, widget = _docked_on_photo(make_viewer, dock, 3)
    original = widget._on_layers
    states = []

    def layers_then_run(outcome):
        original(outcome)  # queues the placement steps; none has run yet
        states.append((widget.busy, widget.worker is not None))
        widget.run()

    widget._on_layers = layers_then_run
    widget.run()  # the handlers are connected here, so the wrapper is the one called
    qtbot.waitUntil(lambda: widget.worker is None, timeout=30_000)
    assert states == [(True, True)]
    assert any("already in progress" in m for m in notifications["warning"])
    assert len([layer for layer in viewer.layers if layer.name.startswith("photo ")]) == 2
    assert widget.status.value.startswith("done") and widget.run_button.enabled


def test_progress_is_forwarded_a_few_times_per_stage():
    from napari_colorquant._napari.runner import STAGES, Runner

    runner = Runner(lambda percent, stage: None)
    forwarded: list[tuple[int, str]] = []
    runner._forward = lambda percent, stage: forwarded.append((percent, stage))
    for stage in STAGES:
        for step in range(200):
            runner.progress(stage, step / 199)
    assert [s for _, s in forwarded].count("count") >= 1
    assert {s for _, s in forwarded} == set(STAGES)  # every stage is shown when it starts
    assert len(forwarded) < 60  # not one repaint per percent (100 here) or per call (1000)


def test_opening_the_widget_starts_the_warm_up_imports_once(make_viewer, dock):
    import sys

    from napari_colorquant._napari import warmup

    viewer = make_viewer()
    dock(viewer)
    thread = warmup.start()
    assert warmup.start() is thread  # once per process
    thread.join(120)
    assert not thread.is_alive()
    assert all(name in sys.modules for name in warmup.MODULES)
    from vispy.visuals.line import dash_atlas

    assert dash_atlas._make_pattern.cache_info().currsize >= 13  # the first Labels layer's outline reuses them
    from napari_colorquant import _threads

    assert _threads._CONTROLLER is not None  # the tiny fit built the BLAS controller the first run needs


_FIRST_LABELS_AFTER_THE_WARM_UP = """
import sys

import napari
import numpy as np

from napari_colorquant._napari import warmup

viewer = napari.Viewer(show=False)
warmup.start().join(120)
before = set(sys.modules)
napari.layers.Labels(np.zeros((4, 4), np.uint8))
print(sorted(name for name in set(sys.modules) - before if name.split(".")[0] in ("skimage", "scipy")))
"""


def test_napari_s_first_labels_layer_imports_nothing_once_the_warm_up_has_run():
    """napari's first Labels layer makes its default colours with scikit-image's colour conversions, whose modules
    load lazily: the first run imported them on the GUI thread, in the turn that made the clusters layer."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _FIRST_LABELS_AFTER_THE_WARM_UP], capture_output=True, text=True,
                          timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_separate_feature_window_follows_the_main_outputs(make_viewer, dock, run_and_wait):
    """The main viewer's outputs are placed (and "done" shown) before the separate feature window is filled."""
    viewer, _, widget = _docked_on_photo(make_viewer, dock, 3, "separate window")
    order: list[str] = []
    viewer.layers.events.inserted.connect(lambda event: order.append(event.value.name))
    placed = widget._placed

    def note_placed():
        order.append("placed")
        placed()
        opened = widget.feature_viewer
        if opened is not None:  # a second run: its window is already open
            opened.layers.events.inserted.connect(lambda event: order.append("window " + event.value.name))

    widget._placed = note_placed
    try:
        run_and_wait(widget)
        assert order[:3] == ["photo clusters", "photo quantized", "placed"]
        assert "photo feature space" in widget.feature_viewer.layers
        order.clear()
        widget.feature_viewer.layers.clear()  # the second run adds its layer again, after "placed"
        run_and_wait(widget)
        assert order == ["placed", "window photo feature space"]
    finally:
        widget.close_feature_viewer()


def test_worker_finishes_its_figures_only_after_the_outputs_are_placed(make_viewer, dock, monkeypatch, run_and_wait):
    # The explorer's pixel pass and the CIEDE2000 figures wait for the placement (they competed with it for the CPU).
    from napari_colorquant._napari import widget as widget_module

    _, _, widget = _docked_on_photo(make_viewer, dock, 3)
    original = widget_module.prepare_outcome
    seen = []

    def recording(job, out):
        seen.append(("placed" in widget.timeline, job.placed.is_set()))  # read from the worker thread
        return original(job, out)

    monkeypatch.setattr(widget_module, "prepare_outcome", recording)
    run_and_wait(widget)
    assert seen == [(True, True)]
    assert widget.status.value.startswith("done") and "ΔE00" in widget.report.value


def test_a_dropped_result_releases_the_waiting_worker(make_viewer, dock, qtbot, monkeypatch):
    from napari_colorquant._napari import handover

    viewer, _, widget = _docked_on_photo(make_viewer, dock, 3)
    waits = []
    original = handover.wait_until_placed

    def recording(job, runner, timeout=handover.PLACED_TIMEOUT):
        released = original(job, runner, timeout=60.0)  # would only time out if nobody set job.placed
        waits.append(released)
        return released

    monkeypatch.setattr(handover, "wait_until_placed", recording)
    on_layers = widget._on_layers

    def remove_then_hand_over(outcome):
        viewer.layers.remove("photo")  # the input goes away just as the layers arrive
        on_layers(outcome)

    widget._on_layers = remove_then_hand_over
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=30_000)
    assert waits == [True]
    assert widget.status.value == "removed" and len(viewer.layers) == 0


def test_cancel_stops_a_worker_waiting_for_the_placement():
    import threading

    from napari_colorquant._napari import handover
    from napari_colorquant._napari.runner import Cancelled, Runner

    runner = Runner(lambda percent, stage: None)
    job = type("J", (), {"placed": threading.Event()})()
    threading.Timer(0.05, runner.shutdown).start()  # the widget closes while the worker waits
    with pytest.raises(Cancelled):
        handover.wait_until_placed(job, runner, timeout=60.0)
    idle = Runner(lambda percent, stage: None)
    assert not handover.wait_until_placed(job, idle, timeout=0.0)  # nobody released it: the worker goes on anyway
    job.placed.set()
    assert handover.wait_until_placed(job, idle)


def test_other_timers_run_between_two_steps(qtbot):
    """Steps chained by zero-delay timers starved every other timer: the canvas froze for the steps' sum."""
    import time

    from qtpy.QtCore import QTimer

    from napari_colorquant._napari.steps import StepQueue

    ticks: list[float] = []
    spans: list[tuple[float, float]] = []

    def step():
        start = time.perf_counter()
        time.sleep(0.02)  # a step of GUI work
        spans.append((start, time.perf_counter()))

    ticker = QTimer()
    ticker.setInterval(1)
    ticker.timeout.connect(lambda: ticks.append(time.perf_counter()))
    ticker.start()
    queue = StepQueue()
    try:
        queue.add(step, step, step)
        qtbot.waitUntil(lambda: len(spans) == 3 and not queue.busy, timeout=5_000)
    finally:
        ticker.stop()
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert any(end <= tick <= start for tick in ticks)  # the other timer had its turn in between


def test_new_outputs_are_shown_a_turn_after_insertion_and_never_made_active(make_viewer, dock, run_and_wait):
    """Each new output is inserted hidden (its controls and visual are made) and shown in the next turn
    (its data sliced and drawn); the input stays the active layer throughout."""
    viewer, layer, widget = _docked_on_photo(make_viewer, dock, 4)
    visible_when_inserted: dict[str, bool] = {}
    actives: list[str] = []
    viewer.layers.events.inserted.connect(
        lambda event: visible_when_inserted.setdefault(event.value.name, event.value.visible)
    )
    viewer.layers.selection.events.active.connect(lambda event: actives.append(getattr(event.value, "name", None)))
    run_and_wait(widget)
    assert visible_when_inserted == {"photo clusters": False, "photo quantized": False}
    assert viewer.layers["photo clusters"].visible and viewer.layers["photo quantized"].visible
    assert viewer.layers.selection.active is layer
    assert not {"photo clusters", "photo quantized"} & set(actives)


def test_separate_window_layers_are_made_after_the_main_outputs_are_placed(make_viewer, dock):
    """The worker yields the main viewer's layers, waits until they are placed, then the window's."""
    from napari_colorquant._napari import job as job_module
    from napari_colorquant._napari.runner import Runner
    from napari_colorquant._napari.widget import compute_run

    viewer, _, widget = _docked_on_photo(make_viewer, dock, 3, "separate window")
    job = job_module.collect(widget.controls, viewer)
    steps = compute_run(job, Runner(lambda percent, stage: None))
    _, _, tuples, features = next(steps)
    assert [meta["name"] for _, meta, _ in tuples] == ["photo clusters", "photo quantized"] and features is None
    job.placed.set()  # what the GUI thread does once they are painted
    _, _, tuples, features = next(steps)  # what the window's layers are made from (on the features it shows)
    assert tuples is None and [meta["name"] for _, meta, _ in features.layers()] == ["photo feature space"]
    assert features.counts.sum() == viewer.layers["photo"].data.shape[0] * viewer.layers["photo"].data.shape[1]
    assert not job.placed.is_set()  # the worker waits again, now for the window
    job.placed.set()
    with pytest.raises(StopIteration) as stop:
        next(steps)
    assert stop.value.value[2]["n_clusters"] == 3


def test_repeat_updates_share_one_turn_within_the_byte_budget(make_viewer, dock, qtbot, monkeypatch, run_and_wait):
    """A repeat run updates its outputs in place, cheap GUI work: together in one turn (one paint), unless
    their textures exceed the budget for a turn."""
    from qtpy.QtCore import QTimer

    from napari_colorquant._napari import placer as placer_module

    viewer, _, widget = _docked_on_photo(make_viewer, dock, 4)
    run_and_wait(widget)
    turns = [0]
    ticker = QTimer()
    ticker.setInterval(0)
    ticker.timeout.connect(lambda: turns.__setitem__(0, turns[0] + 1))
    seen: dict[str, int] = {}
    for name in ("photo clusters", "photo quantized"):
        viewer.layers[name].events.data.connect(lambda event, name=name: seen.__setitem__(name, turns[0]))
    ticker.start()
    try:
        widget.n_clusters.value = 5
        run_and_wait(widget)
        together = dict(seen)
        monkeypatch.setattr(placer_module, "_TURN_BYTES", 1)  # every update its own turn
        widget.n_clusters.value = 6
        run_and_wait(widget)
    finally:
        ticker.stop()
    assert together["photo clusters"] == together["photo quantized"]
    assert seen["photo clusters"] != seen["photo quantized"]
    assert viewer.layers["photo clusters"].data.max() == 6  # labels 1..6: the last update did land


def test_explorer_first_plot_index_is_built_in_the_worker(make_viewer, dock, monkeypatch, run_and_wait):
    """The pair index of the explorer's first plot (~15 ms at 12 MP) is made off the GUI thread."""
    import threading

    from napari_colorquant import explore

    built: list[bool] = []
    original = explore._plane

    def recording(data, axes):
        if (int(axes[0]), int(axes[1])) not in data._planes:
            built.append(threading.current_thread() is threading.main_thread())
        return original(data, axes)

    monkeypatch.setattr(explore, "_plane", recording)
    _, _, widget = _docked_on_photo(make_viewer, dock, 4)
    run_and_wait(widget)
    assert built == [False]


def test_showing_one_new_output_and_inserting_the_next_are_separate_turns(make_viewer, dock, qtbot, run_and_wait):
    """Showing a new layer (its texture is uploaded at the next paint) ends a turn: the next layer's
    insertion must not add its work to that paint's turn."""
    from qtpy.QtCore import QTimer

    viewer, _, widget = _docked_on_photo(make_viewer, dock, 4)
    turns = [0]
    ticker = QTimer()
    ticker.setInterval(0)
    ticker.timeout.connect(lambda: turns.__setitem__(0, turns[0] + 1))
    events: list[tuple[str, int]] = []

    def inserted(event):
        layer = event.value
        events.append((f"insert {layer.name}", turns[0]))
        layer.events.visible.connect(lambda _, name=layer.name: events.append((f"show {name}", turns[0])))

    viewer.layers.events.inserted.connect(inserted)
    ticker.start()
    try:
        run_and_wait(widget)
    finally:
        ticker.stop()
    names = [name for name, _ in events]
    assert names == ["insert photo clusters", "show photo clusters", "insert photo quantized", "show photo quantized"]
    turn = [number for _, number in events]
    assert turn[0] < turn[1] < turn[2] < turn[3]


def _front_tab(viewer, title):
    """The text of the front tab in the main window's tab bar that holds ``title`` (a shown window's)."""
    from qtpy.QtWidgets import QTabBar

    for bar in viewer.window._qt_window.findChildren(QTabBar):
        if bar.isVisible() and title in [bar.tabText(index) for index in range(bar.count())]:
            return bar.tabText(bar.currentIndex())
    return None


def test_explorer_is_docked_empty_behind_the_widget_when_it_opens(make_viewer, dock, qtbot, monkeypatch, run_and_wait):
    """Making and docking the explorer is paid while the widget opens, not when the first run's outputs arrive."""
    from napari_colorquant._napari import explorer as explorer_module

    viewer = make_viewer(show=True)
    _photo(viewer)
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 4, "none"
    qtbot.waitUntil(lambda: explorer_module._docked(viewer) is not None, timeout=5000)
    explorer = explorer_module._docked(viewer)
    assert explorer_module.find_explorer(viewer) is None  # docked, but nothing to show yet
    widget_title = explorer_module.dock_of(widget.native).windowTitle()
    qtbot.waitUntil(lambda: _front_tab(viewer, explorer_module.DOCK_NAME) == widget_title, timeout=5000)
    made: list[str] = []
    monkeypatch.setattr(explorer_module.FeatureExplorer, "__init__", lambda *a: made.append("made"))
    monkeypatch.setattr(explorer_module, "_dock", lambda *a: made.append("docked"))
    run_and_wait(widget)
    qtbot.waitUntil(lambda: "done" in widget.timeline, timeout=10_000)
    assert made == []
    assert explorer_module.find_explorer(viewer) is explorer and explorer.axis_names == ("G", "B")
    assert _front_tab(viewer, explorer_module.DOCK_NAME) == explorer_module.DOCK_NAME  # its first result in front


def test_a_widget_docked_on_the_left_does_not_cover_a_right_dock_with_an_empty_explorer(make_viewer, qtbot,
                                                                                          run_and_wait):  # fmt: skip
    """The empty explorer is docked only as a tab behind the widget: not in front of another dock elsewhere."""
    from qtpy.QtWidgets import QLabel

    from napari_colorquant._napari import explorer as explorer_module
    from napari_colorquant._napari.widget import KMeansWidget

    viewer = make_viewer(show=True)
    _photo(viewer)
    viewer.window.add_dock_widget(QLabel("another plugin"), name="Other", area="right")
    widget = KMeansWidget(viewer)
    viewer.window.add_dock_widget(widget, name="K-means on the left", area="left")
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    qtbot.wait(50)  # the turn in which the widget's timer docks the explorer beside it
    assert explorer_module._registered(viewer) is None
    assert _front_tab(viewer, "Other") in (None, "Other")  # nothing tabbed in front of the other dock
    run_and_wait(widget)
    qtbot.waitUntil(lambda: "done" in widget.timeline, timeout=10_000)
    explorer = explorer_module.find_explorer(viewer)  # the first result docks it, as before
    assert explorer is not None and explorer_module.dock_of(explorer) is not None


def test_the_empty_explorer_is_tabbed_with_its_widget_not_a_dock_added_after_it(make_viewer, dock, qtbot):
    """Another dock added on the right in the same turn as the widget: the empty explorer does not cover it."""
    from qtpy.QtWidgets import QLabel

    from napari_colorquant._napari import explorer as explorer_module

    viewer = make_viewer(show=True)
    _photo(viewer)
    widget = dock(viewer)
    viewer.window.add_dock_widget(QLabel("another plugin"), name="Other", area="right")
    qtbot.waitUntil(lambda: explorer_module._docked(viewer) is not None, timeout=5000)
    holder = explorer_module.dock_of(widget.native)
    explorer_dock = explorer_module.dock_of(explorer_module._docked(viewer))
    assert explorer_dock in viewer.window._qt_window.tabifiedDockWidgets(holder)
    qtbot.waitUntil(lambda: _front_tab(viewer, explorer_module.DOCK_NAME) == holder.windowTitle(), timeout=5000)
    assert _front_tab(viewer, "Other") in (None, "Other")


def test_the_empty_explorer_exports_no_placeholder_plot(make_viewer, dock, qtbot, monkeypatch, tmp_path):
    """Export plot… before any run says there is nothing to export; it asks for no file and writes none."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QFileDialog

    from napari_colorquant._napari import explorer as explorer_module

    viewer = make_viewer(show=True)
    _photo(viewer)
    dock(viewer)
    qtbot.waitUntil(lambda: explorer_module._docked(viewer) is not None, timeout=5000)
    explorer = explorer_module._docked(viewer)
    explorer_module._raise_tab(explorer)
    asked: list[str] = []
    target = tmp_path / "feature_space.png"

    def dialog(*_args, **_kwargs):
        asked.append("asked")
        return str(target), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    qtbot.mouseClick(explorer.export_button, Qt.MouseButton.LeftButton)
    assert not target.exists() and asked == []
    assert "no result yet" in explorer.status.text()


def test_a_closed_explorer_comes_back_with_the_next_result(make_viewer, dock, qtbot, run_and_wait):
    from qtpy.QtCore import Qt

    from napari_colorquant._napari import explorer as explorer_module

    viewer, _, widget = _docked_on_photo(make_viewer, dock, 3)
    qtbot.waitUntil(lambda: explorer_module._docked(viewer) is not None, timeout=5000)
    explorer = explorer_module._docked(viewer)
    holder = explorer_module.dock_of(explorer)
    qtbot.mouseClick(holder.titleBarWidget().close_button, Qt.MouseButton.LeftButton)  # its title bar's "x"
    assert explorer_module._docked(viewer) is None and explorer_module.dock_of(explorer) is None
    run_and_wait(widget)
    qtbot.waitUntil(lambda: "done" in widget.timeline, timeout=10_000)
    assert explorer_module.find_explorer(viewer) is explorer  # the same explorer, docked again, with the result
    assert explorer_module.dock_of(explorer) is not None and explorer.data is not None


def test_new_labels_layers_make_their_drawing_overlays_after_being_shown(make_viewer, dock, qtbot, run_and_wait):
    """A Labels layer's polygon and brush-stroke overlays (~35 ms of visuals) are not made in its insertion's turn."""
    import napari

    viewer, _, widget = _docked_on_photo(make_viewer, dock, 3)
    drawing = ("polygon", "brush_stroke")
    seen = {}

    def inserted(event):
        if isinstance(event.value, napari.layers.Labels):
            seen[event.value.name] = [event.value._overlays[name].visible for name in drawing]

    viewer.layers.events.inserted.connect(inserted)
    original_placed = widget._placed

    def placed():  # the step that shows the last output: the round trip ends with its paint
        seen["at placed"] = [viewer.layers["photo clusters"]._overlays[name].visible for name in drawing]
        original_placed()

    widget._placed = placed
    run_and_wait(widget)
    qtbot.waitUntil(lambda: "done" in widget.timeline, timeout=10_000)
    assert seen == {"photo clusters": [False, False], "at placed": [False, False]}  # made after the outputs
    layer = viewer.layers["photo clusters"]
    overlays = [layer._overlays[name] for name in drawing]
    assert all(overlay.visible for overlay in overlays)
    assert set(overlays) <= set(viewer.window._qt_viewer.canvas._layer_overlay_to_visual[layer])  # their visuals
    layer.mode = "polygon"
    assert layer._overlays["polygon"].enabled


def test_first_run_makes_and_docks_the_explorer_in_separate_turns(make_viewer, qtbot, monkeypatch, run_and_wait):
    """Without an explorer yet (a widget made outside a dock), making and docking it are two turns."""
    from qtpy.QtCore import QTimer

    from napari_colorquant._napari import explorer as explorer_module
    from napari_colorquant._napari.widget import KMeansWidget

    turns = [0]
    events: list[tuple[str, int]] = []
    original_init, original_dock = explorer_module.FeatureExplorer.__init__, explorer_module._dock

    def init(self, viewer):
        events.append(("made", turns[0]))
        original_init(self, viewer)

    def docking(viewer, explorer):
        events.append(("docked", turns[0]))
        return original_dock(viewer, explorer)

    monkeypatch.setattr(explorer_module.FeatureExplorer, "__init__", init)
    monkeypatch.setattr(explorer_module, "_dock", docking)
    viewer = make_viewer()
    _photo(viewer)
    widget = KMeansWidget(viewer)
    widget.n_clusters.value, widget.feature_view.value = 4, "none"
    qtbot.wait(50)  # the turn in which a docked widget would dock the explorer
    ticker = QTimer()
    ticker.setInterval(0)
    ticker.timeout.connect(lambda: turns.__setitem__(0, turns[0] + 1))
    ticker.start()
    try:
        run_and_wait(widget)
    finally:
        ticker.stop()
    assert [name for name, _ in events] == ["made", "docked"] and events[0][1] < events[1][1]
    assert explorer_module.find_explorer(viewer) is not None
    widget.native.close()
    widget.native.deleteLater()


def test_explorer_docking_waits_for_the_warm_up_thread(qtbot, monkeypatch):
    """GUI work after the widget opens waits until the warm-up's imports (which hold the GIL) are done."""
    import threading

    from napari_colorquant._napari import warmup

    release = threading.Event()
    busy = threading.Thread(target=release.wait, daemon=True)
    busy.start()
    monkeypatch.setattr(warmup, "_thread", busy)
    called: list[float] = []
    warmup.after(lambda: called.append(1), poll_ms=10)
    qtbot.wait(200)
    assert called == []  # still importing
    release.set()
    qtbot.waitUntil(lambda: called == [1], timeout=2000)
    stuck = threading.Thread(target=threading.Event().wait, daemon=True)
    stuck.start()
    monkeypatch.setattr(warmup, "_thread", stuck)
    warmup.after(lambda: called.append(2), poll_ms=10, limit_s=0.1)
    qtbot.waitUntil(lambda: called == [1, 2], timeout=2000)  # a stuck warm-up delays it only so long


def test_placement_dropped_half_way_leaves_the_drawing_overlays_visible(make_viewer):
    """Steps dropped after a Labels layer was inserted (the widget closed meanwhile): its tools still draw."""
    import napari

    from napari_colorquant._napari.placer import Placer

    viewer = make_viewer()
    layer = _photo(viewer)
    result = quantize(np.asarray(layer.data), 3)

    def meta(role):
        return {"name": f"photo {role}", "metadata": {"colorquant": {"source": "photo", "role": role}}}

    tuples = [(result.labels, meta("clusters"), "labels"), (result.quantized, meta("quantized"), "image")]
    steps = Placer(viewer).place_steps(layer, tuples)
    labels = []
    while not labels:  # the clusters layer is made, then inserted, hidden, with its overlays hidden
        next(steps)
        labels = [item for item in viewer.layers if isinstance(item, napari.layers.Labels)]
    assert len(labels) == 1 and not labels[0]._overlays["polygon"].visible
    steps.close()
    assert labels[0]._overlays["polygon"].visible and labels[0]._overlays["brush_stroke"].visible


def test_the_explorer_api_keeps_working_while_its_dock_is_closed(make_viewer, dock, qtbot, run_and_wait):
    """``feature_explorer(viewer)`` after the user closed the panel: the last result's explorer, still usable."""
    from qtpy.QtCore import Qt

    import napari_colorquant as ncq
    from napari_colorquant._napari import explorer as explorer_module

    viewer, _, widget = _docked_on_photo(make_viewer, dock, 3)
    run_and_wait(widget)
    qtbot.waitUntil(lambda: "done" in widget.timeline, timeout=10_000)
    explorer = ncq.feature_explorer(viewer)
    holder = explorer_module.dock_of(explorer)
    qtbot.mouseClick(holder.titleBarWidget().close_button, Qt.MouseButton.LeftButton)
    assert explorer_module.dock_of(explorer) is None
    assert ncq.feature_explorer(viewer) is explorer
    explorer.select_clusters([2])
    clusters = viewer.layers["photo clusters"]
    assert clusters.selected_label == 2 and clusters.show_selected_label  # the selection reached the layer


def test_an_explorer_hidden_while_empty_comes_back_with_the_first_result(make_viewer, dock, qtbot, run_and_wait):
    """Hidden with its title bar's button before any run (it showed only a placeholder): the first result shows it."""
    from qtpy.QtCore import Qt

    from napari_colorquant._napari import explorer as explorer_module

    viewer, _, widget = _docked_on_photo(make_viewer, dock, 3)
    qtbot.waitUntil(lambda: explorer_module._docked(viewer) is not None, timeout=5000)
    holder = explorer_module.dock_of(explorer_module._docked(viewer))
    qtbot.mouseClick(holder.titleBarWidget().hide_button, Qt.MouseButton.LeftButton)
    assert holder.isHidden()
    run_and_wait(widget)
    qtbot.waitUntil(lambda: "done" in widget.timeline, timeout=10_000)
    assert not holder.isHidden() and explorer_module.find_explorer(viewer) is not None


def test_closing_the_widget_takes_its_still_empty_explorer_away(make_viewer, dock, qtbot):
    """napari's "x" on the clustering widget does not delete it: the empty explorer it docked must not stay behind."""
    from qtpy.QtCore import Qt

    from napari_colorquant._napari import explorer as explorer_module

    viewer, _, widget = _docked_on_photo(make_viewer, dock, 3)
    qtbot.waitUntil(lambda: explorer_module._docked(viewer) is not None, timeout=5000)
    holder = explorer_module.dock_of(widget.native)
    qtbot.mouseClick(holder.titleBarWidget().close_button, Qt.MouseButton.LeftButton)  # the widget's title bar "x"
    qtbot.waitUntil(lambda: explorer_module._docked(viewer) is None, timeout=5000)
    assert explorer_module.DOCK_NAME not in viewer.window._wrapped_dock_widgets


def test_closing_the_widget_keeps_an_explorer_with_a_result(make_viewer, dock, qtbot, run_and_wait):
    from qtpy.QtCore import Qt

    from napari_colorquant._napari import explorer as explorer_module

    viewer, _, widget = _docked_on_photo(make_viewer, dock, 3)
    qtbot.waitUntil(lambda: explorer_module._docked(viewer) is not None, timeout=5000)
    run_and_wait(widget)
    qtbot.waitUntil(lambda: "done" in widget.timeline, timeout=10_000)
    explorer = explorer_module.find_explorer(viewer)
    holder = explorer_module.dock_of(widget.native)
    qtbot.mouseClick(holder.titleBarWidget().close_button, Qt.MouseButton.LeftButton)
    qtbot.wait(50)  # the turn in which an empty explorer would be undocked
    assert explorer_module._docked(viewer) is explorer and explorer.data is not None


def test_inserting_outputs_touches_no_private_attribute_through_napari_s_proxy(make_viewer):
    """napari hands plugin widgets a public-only proxy of the viewer, which warns (FutureWarning) on private access."""
    import warnings

    import napari
    from napari.utils._proxies import PublicOnlyProxy

    from napari_colorquant._napari.placer import _not_activated

    viewer = make_viewer()
    first = viewer.add_image(np.zeros((8, 8), np.uint8), name="input")
    proxy = PublicOnlyProxy(viewer)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        with _not_activated(proxy.layers):
            proxy.layers.insert(1, napari.layers.Labels(np.zeros((8, 8), np.uint8), name="output"))
    assert viewer.layers.selection.active is first  # still not activated


def test_the_separate_feature_window_shows_axes_named_by_the_features(make_viewer, dock, qtbot, run_and_wait):
    _, _, widget = _docked_on_photo(make_viewer, dock, 3, "separate window")
    try:
        run_and_wait(widget)
        filled = lambda: widget.feature_viewer is not None and "photo feature space" in widget.feature_viewer.layers  # noqa: E731
        qtbot.waitUntil(filled, timeout=10_000)
        window = widget.feature_viewer
        assert window.axes.visible and window.axes.labels
        assert tuple(window.dims.axis_labels) == ("R", "B", "G")  # x G and y B, as the explorer's first pair
    finally:
        widget.close_feature_viewer()

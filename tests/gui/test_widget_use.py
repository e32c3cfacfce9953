"""The widget under real use (issue 13): odd layers, closing mid-run, renames, replaced data, in-place outputs.

Each test drives a real viewer the way the hostile-user session did and checks what the user sees.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from napari_colorquant import ClusterModel, quantize
from napari_colorquant.samples import load_sample


def _blocking_quantize(monkeypatch, release: threading.Event, started: threading.Event):
    """Make the widget's quantize wait for ``release`` (then report progress, which checks Cancel)."""
    from napari_colorquant import workflows

    original = workflows.quantize

    def slow(*args, progress=None, **kwargs):
        started.set()
        release.wait(10)
        if progress is not None:
            progress("fit", 0.5)
        return original(*args, progress=progress, **kwargs)

    monkeypatch.setattr(workflows, "quantize", slow)


def _run_held(widget, qtbot, monkeypatch) -> threading.Event:
    """Press Run with quantize held at its start (see :func:`_blocking_quantize`); set the returned event to go on."""
    release, started = threading.Event(), threading.Event()
    _blocking_quantize(monkeypatch, release, started)
    widget.run()
    qtbot.waitUntil(started.is_set, timeout=5000)
    return release


def _wait(qtbot, widget, timeout=30_000):
    qtbot.waitUntil(lambda: widget.worker is None, timeout=timeout)


def _photo_layer(viewer, name="photo", step=2):
    return viewer.add_image(load_sample("china")[::step, ::step], name=name, rgb=True)


# --- item 1: dask and multiscale layers with the separate feature window -----------------------
@pytest.mark.parametrize("kind", ["dask", "multiscale"])
def test_lazy_layers_with_the_separate_feature_window(make_viewer, dock, qtbot, run_and_wait, kind):
    da = pytest.importorskip("dask.array")
    viewer = make_viewer()
    photo = load_sample("china")
    if kind == "dask":
        layer = viewer.add_image(da.from_array(photo, chunks=(200, 200, 3)), name="lazy", rgb=True)
    else:
        layer = viewer.add_image([photo, photo[::2, ::2]], multiscale=True, rgb=True, name="lazy")
    widget = dock(viewer)
    widget.image.value = layer
    widget.n_clusters.value = 3
    widget.feature_view.value = "separate window"
    try:
        run_and_wait(widget)
        assert widget.progress.value == 100 and widget.status.value.startswith("done")
        assert "PSNR" in widget.report.value
        points = widget.feature_viewer.layers["lazy feature space"]
        assert isinstance(points.size, np.ndarray) and points.data.shape[1] == 3
        # The model was stored: Apply works.
        other = viewer.add_image(photo[::3, ::3], name="other", rgb=True)
        widget.apply_target.value = other
        widget.apply_to_target()
        _wait(qtbot, widget)
        assert "other clusters" in viewer.layers
    finally:
        widget.close_feature_viewer()


# --- item 2: closing the viewer during a run -------------------------------------------------
def test_closing_the_viewer_mid_run_cancels_quietly(make_own_viewer, dock, qtbot, monkeypatch, capfd):
    viewer = make_own_viewer()
    _photo_layer(viewer)
    widget = dock(viewer)
    runner = widget.runner
    capfd.readouterr()
    release = _run_held(widget, qtbot, monkeypatch)
    viewer.close()
    release.set()
    qtbot.waitUntil(lambda: not runner.busy, timeout=20_000)
    qtbot.wait(50)  # let queued progress updates arrive at the deleted controls
    assert runner.cancelled
    assert capfd.readouterr().err == ""


_SCRIPT_LEAVING_THE_FEATURE_WINDOW_OPEN = """
import time
import napari
from napari._qt.qt_event_loop import get_qapp
from napari_colorquant.samples import load_sample

app = get_qapp()
viewer = napari.Viewer()
viewer.add_image(load_sample("china")[::4, ::4], name="photo", rgb=True)
_, widget = viewer.window.add_plugin_dock_widget("napari-colorquant", "K-means clustering")
widget.n_clusters.value = 3
widget.feature_view.value = "separate window"
widget.run()
deadline = time.monotonic() + 60
while (widget.worker is not None or widget.feature_viewer is None) and time.monotonic() < deadline:
    app.processEvents()
    time.sleep(0.005)
print("feature window open:", widget.feature_viewer is not None, flush=True)
"""


def test_a_script_ending_with_the_feature_window_open_exits_cleanly(tmp_path):
    """A script (or notebook kernel) that ends with the separate feature window open exits with 0, silently."""
    script = tmp_path / "leave_open.py"
    script.write_text(textwrap.dedent(_SCRIPT_LEAVING_THE_FEATURE_WINDOW_OPEN))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert "feature window open: True" in done.stdout, done.stderr[-2000:]
    assert done.returncode == 0, done.stderr[-2000:]  # was -11: a segmentation fault in Qt's teardown
    assert "Traceback" not in done.stderr and "has been deleted" not in done.stderr, done.stderr[-2000:]


# --- item 3: fit on the current slice of an RGB time-lapse -----------------------------------
def test_fit_on_current_slice_of_an_rgb_timelapse(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    photo = load_sample("china")[::2, ::2]
    movie = np.stack([photo, photo[::-1], photo[:, ::-1]])
    layer = viewer.add_image(movie, name="movie", rgb=True)
    viewer.dims.set_current_step(0, 2)
    widget = dock(viewer)
    widget.image.value = layer
    widget.scope.value = "current slice"
    widget.n_clusters.value = 4
    widget.feature_view.value = "none"
    run_and_wait(widget)
    assert widget.status.value.startswith("done"), widget.report.value
    labels = viewer.layers["movie clusters"]
    model = ClusterModel.from_dict(labels.metadata["colorquant"]["model"])
    np.testing.assert_allclose(model.means, quantize(movie[2], 4).model.means)
    np.testing.assert_array_equal(labels.data, model.predict(movie))
    assert "fitted on slice [2, :, :" in widget.report.value


# --- item 4: the feature window shows the latest run only ------------------------------------
def test_feature_window_shows_only_the_latest_run(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    _photo_layer(viewer)
    gray = viewer.add_image(load_sample("plate"), name="gray2d")
    widget = dock(viewer, "EM clustering")
    widget.n_clusters.value = 3
    widget.feature_view.value = "separate window"
    try:
        widget.image.value = viewer.layers["photo"]
        run_and_wait(widget)
        assert "photo feature space" in widget.feature_viewer.layers
        widget.image.value = gray
        widget.n_clusters.value = 2
        run_and_wait(widget)
        names = [layer.name for layer in widget.feature_viewer.layers]
        assert all(name.startswith("gray2d ") for name in names), names
        assert "gray2d histogram" in names
        assert tuple(widget.feature_viewer.dims.axis_labels)[-1] == "intensity"
        assert widget.feature_viewer.dims.ndisplay == 2
    finally:
        widget.close_feature_viewer()


# --- two widgets on one image -----------------------------------------------------------------
def test_a_second_widgets_outputs_are_named_by_their_method(make_viewer, dock, run_and_wait):
    viewer = make_viewer()
    layer = _photo_layer(viewer, step=4)
    kmeans, em = dock(viewer), dock(viewer, "EM clustering")
    for widget in (kmeans, em):
        widget.image.value = layer
        widget.n_clusters.value, widget.feature_view.value = 3, "none"
    run_and_wait(kmeans)
    run_and_wait(em)
    run_and_wait(em)  # a repeat updates its own outputs in place, names unchanged
    run_and_wait(kmeans)
    names = [layer.name for layer in viewer.layers]
    assert sorted(names) == sorted(["photo", "photo clusters", "photo quantized", "photo clusters (EM)",
                                    "photo quantized (EM)"])  # fmt: skip
    assert viewer.layers["photo clusters (EM)"].metadata["colorquant"]["params"]["method"] == "em"
    assert viewer.layers["photo clusters"].metadata["colorquant"]["params"]["method"] == "kmeans"


# --- item 5: layers tracked by identity, not name --------------------------------------------
def test_renamed_input_stays_selected_and_keeps_its_outputs(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    layer = _photo_layer(viewer)
    widget = dock(viewer)
    widget.n_clusters.value = 3
    widget.feature_view.value = "none"
    layer.name = "renamed"
    assert widget.image.value is layer
    shown = [widget.image.native.itemText(i) for i in range(widget.image.native.count())]
    assert "renamed" in shown, shown
    run_and_wait(widget)
    assert widget.status.value.startswith("done"), widget.report.value
    clusters = viewer.layers["renamed clusters"]
    layer.name = "again"
    widget.n_clusters.value = 4
    run_and_wait(widget)
    assert viewer.layers["again clusters"] is clusters and clusters.data.max() == 4
    assert [x.name for x in viewer.layers] == ["again", "again clusters", "again quantized"]


def test_rename_during_a_run_names_outputs_after_the_new_name(make_viewer, dock, qtbot, monkeypatch):
    viewer = make_viewer()
    layer = _photo_layer(viewer)
    widget = dock(viewer)
    widget.n_clusters.value = 3
    widget.feature_view.value = "none"
    release = _run_held(widget, qtbot, monkeypatch)
    layer.name = "new name"
    release.set()
    _wait(qtbot, widget)
    assert [x.name for x in viewer.layers] == ["new name", "new name clusters", "new name quantized"]
    assert viewer.layers["new name clusters"].metadata["colorquant"]["source"] == "new name"
    monkeypatch.undo()
    widget.run()
    _wait(qtbot, widget)
    assert len(viewer.layers) == 3  # the next run replaced them instead of adding another set


# --- item 6: the input's data replaced during a run ------------------------------------------
def test_data_replaced_mid_run_drops_the_stale_result(make_viewer, dock, qtbot, monkeypatch, notifications):
    viewer = make_viewer()
    layer = _photo_layer(viewer)
    widget = dock(viewer)
    widget.feature_view.value = "none"
    release = _run_held(widget, qtbot, monkeypatch)
    layer.data = np.zeros((100, 120, 3), np.uint8)
    release.set()
    _wait(qtbot, widget)
    assert [x.name for x in viewer.layers] == ["photo"]
    assert "changed while clustering" in widget.report.value
    assert any("changed while clustering" in m for m in notifications["error"])


# --- item 7: the feature-view sample only when shown, cancellable, inside the progress range -------
def test_no_feature_sample_when_the_view_is_none(make_viewer, dock, qtbot, run_and_wait, monkeypatch):
    from napari_colorquant import feature_space

    calls = []
    original = feature_space.sample_features
    monkeypatch.setattr(feature_space, "sample_features", lambda *a, **k: calls.append(1) or original(*a, **k))
    viewer = make_viewer()
    _photo_layer(viewer)
    widget = dock(viewer)
    widget.feature_view.value = "none"
    run_and_wait(widget)
    assert calls == []
    widget.feature_view.value = "same viewer"
    run_and_wait(widget)
    assert calls == [1]


def test_feature_sample_is_cancellable_and_inside_the_progress(make_viewer, dock, qtbot, monkeypatch):
    from napari_colorquant import feature_space

    release, started = threading.Event(), threading.Event()
    original = feature_space.sample_features

    def slow(*args, **kwargs):
        started.set()
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(feature_space, "sample_features", slow)
    viewer = make_viewer()
    _photo_layer(viewer)
    widget = dock(viewer)
    widget.feature_view.value = "same viewer"
    widget.run()
    qtbot.waitUntil(started.is_set, timeout=10_000)
    qtbot.waitUntil(lambda: widget.status.value == "view…", timeout=5000)
    assert 0 < widget.progress.value < 100
    widget.cancel()
    release.set()
    _wait(qtbot, widget)
    assert widget.status.value == "cancelled"
    assert [x.name for x in viewer.layers] == ["photo"]


# --- item 8: outputs updated in place ---------------------------------------------------------
def test_rerun_updates_output_layers_in_place(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    _photo_layer(viewer)
    widget = dock(viewer, "EM clustering")
    widget.n_clusters.value = 3
    widget.posterior.value = "max posterior"
    widget.feature_view.value = "same viewer"
    run_and_wait(widget)
    before = {layer.name: layer for layer in viewer.layers}
    removed = []
    viewer.layers.events.removed.connect(lambda event: removed.append(event.value.name))
    widget.n_clusters.value = 5
    run_and_wait(widget)
    assert removed == []
    assert {layer.name: layer for layer in viewer.layers} == before  # the same layer objects
    clusters = viewer.layers["photo clusters"]
    expected = quantize(viewer.layers["photo"].data, 5, method="em")
    np.testing.assert_array_equal(clusters.data, expected.labels)
    assert list(clusters.features["index"]) == [1, 2, 3, 4, 5]
    assert set(clusters.colormap.color_dict) >= {1, 2, 3, 4, 5}
    np.testing.assert_array_equal(viewer.layers["photo quantized"].data, expected.quantized)
    assert (viewer.layers["photo feature space"].features["kind"] == "centre").sum() == 5
    assert len(viewer.layers["photo gaussians"].data) == 5
    assert viewer.layers["photo clusters"].metadata["colorquant"]["params"]["n_clusters"] == 5


# --- item 10 and issue 8 item 16: status and report after failures ------------------------------
def test_removed_mid_run_says_so_in_the_status(make_viewer, dock, qtbot, monkeypatch):
    viewer = make_viewer()
    _photo_layer(viewer)
    widget = dock(viewer)
    widget.feature_view.value = "none"
    release = _run_held(widget, qtbot, monkeypatch)
    viewer.layers.remove("photo")
    release.set()
    _wait(qtbot, widget)
    assert widget.status.value == "removed" and "was removed while clustering" in widget.report.value
    assert widget.progress.value == 0


def test_cancel_while_idle_changes_nothing(make_viewer, dock):
    viewer = make_viewer()
    _photo_layer(viewer)
    widget = dock(viewer)
    widget.cancel()
    assert widget.status.value == ""
    assert widget.run_button.enabled and not widget.cancel_button.enabled


def test_failed_run_explains_itself_in_the_report(make_viewer, dock, qtbot, run_and_wait, notifications):
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "plate")
    widget = dock(viewer)
    widget.n_clusters.value = 250  # more clusters than the plate has gray levels
    widget.feature_view.value = "none"
    run_and_wait(widget)
    assert widget.status.value == "failed"
    assert "larger than the number of distinct" in widget.report.value
    assert widget.progress.value == 0
    assert any("larger than the number of distinct" in m for m in notifications["error"])


# --- issue 12: live preview ------------------------------------------------------------------
def _ran_once_with_live_limit(monkeypatch, viewer, dock, run_and_wait, limit: float):
    """The widget run once (K = 3, no feature view) with live preview's time limit set to ``limit`` seconds."""
    from napari_colorquant._napari import widget as widget_module

    monkeypatch.setattr(widget_module, "LIVE_MAX_SECONDS", limit)
    _photo_layer(viewer, step=4)
    widget = dock(viewer)
    widget.feature_view.value = "none"
    widget.n_clusters.value = 3
    run_and_wait(widget)
    return widget


def test_live_preview_reruns_on_k_feature_space_and_smoothing(make_viewer, dock, qtbot, run_and_wait, monkeypatch):
    viewer = make_viewer()
    # Runs of ~0.05 s: a loaded machine must not push one over the half second that turns live preview off.
    widget = _ran_once_with_live_limit(monkeypatch, viewer, dock, run_and_wait, 30.0)
    clusters = viewer.layers["photo clusters"]
    widget.live.value = True
    widget.n_clusters.value = 4
    widget.n_clusters.value = 5  # a drag: only the last value is run (debounced)
    qtbot.waitUntil(lambda: clusters.data.max() == 5 and widget.worker is None, timeout=20_000)
    widget.color_space.value = "lab"
    qtbot.waitUntil(lambda: clusters.metadata["colorquant"]["model"]["color_space"] == "lab", timeout=20_000)
    widget.controls.parameters["smoothing"].value = 1.0  # the fourth value issue 12 names
    qtbot.waitUntil(lambda: clusters.metadata["colorquant"]["params"]["smoothing"] == 1.0, timeout=20_000)
    assert viewer.layers["photo clusters"] is clusters


def test_live_preview_waits_for_run_when_the_last_run_was_slow(make_viewer, dock, qtbot, run_and_wait, monkeypatch):
    viewer = make_viewer()
    widget = _ran_once_with_live_limit(monkeypatch, viewer, dock, run_and_wait, 0.0)  # every run "too slow"
    widget.live.value = True
    widget.n_clusters.value = 4
    qtbot.wait(600)
    assert widget.worker is None and viewer.layers["photo clusters"].data.max() == 3


def test_live_preview_is_off_by_default(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    _photo_layer(viewer, step=4)
    widget = dock(viewer)
    widget.feature_view.value = "none"
    run_and_wait(widget)
    widget.n_clusters.value = 4
    qtbot.wait(600)
    assert widget.worker is None and viewer.layers["photo clusters"].data.max() == 8


@pytest.mark.parametrize("posterior", ["max posterior", "per cluster"])
def test_posterior_outside_the_mask_is_transparent_not_zero(make_viewer, dock, run_and_wait, posterior):
    """Outside a mask nothing was clustered: a posterior of 0 there painted an opaque band over the image."""
    viewer = make_viewer()
    photo = _photo_layer(viewer)
    rows, cols = photo.data.shape[:2]
    box = np.array([[rows // 4, cols // 4], [rows // 4, cols // 2], [rows // 2, cols // 2], [rows // 2, cols // 4]])
    viewer.add_shapes([box], shape_type="rectangle", name="roi")
    widget = dock(viewer, "EM clustering")
    widget.image.value, widget.mask.value = photo, viewer.layers["roi"]
    widget.n_clusters.value, widget.posterior.value, widget.feature_view.value = 3, posterior, "none"
    run_and_wait(widget)
    data = np.asarray(viewer.layers["photo posterior"].data)
    inside = viewer.layers["photo clusters"].data > 0
    assert 0 < inside.sum() < inside.size
    per_pixel = data if posterior == "max posterior" else np.moveaxis(data, 0, -1)
    assert np.isnan(per_pixel[~inside]).all()
    assert np.isfinite(per_pixel[inside]).all() and (per_pixel[inside] >= 0).all()


# --- closing the widget with napari's "x" on its title bar (item 2's other half) ---------------
def _close_with_title_bar_x(qtbot, widget):
    """napari's "x" on the widget's dock: the widget is taken out of its dock, not deleted."""
    from qtpy.QtCore import Qt

    from napari_colorquant._napari.canvas_room import dock_of

    holder = dock_of(widget.native)
    qtbot.mouseClick(holder.titleBarWidget().close_button, Qt.MouseButton.LeftButton)


def test_closing_the_widget_mid_run_cancels_the_run(make_viewer, dock, qtbot, monkeypatch, capfd):
    """The run went on and added its outputs, and the feature window opened, after the widget was closed."""
    viewer = make_viewer()
    _photo_layer(viewer)
    widget = dock(viewer)
    widget.feature_view.value = "separate window"
    runner = widget.runner
    capfd.readouterr()
    release = _run_held(widget, qtbot, monkeypatch)
    _close_with_title_bar_x(qtbot, widget)
    release.set()
    qtbot.waitUntil(lambda: not runner.busy, timeout=20_000)
    qtbot.wait(100)  # any queued step or progress update
    assert runner.cancelled
    assert [x.name for x in viewer.layers] == ["photo"]
    assert widget.placer.feature_viewer_alive() is None
    assert "Traceback" not in capfd.readouterr().err


def test_closing_the_widget_after_a_run_closes_its_feature_window(make_viewer, dock, qtbot, run_and_wait):
    """The window stayed open with no widget to drive it; a widget opened again then opened a second one."""
    viewer = make_viewer()
    _photo_layer(viewer, step=4)
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 3, "separate window"
    run_and_wait(widget)
    qtbot.waitUntil(lambda: "done" in widget.timeline, timeout=10_000)
    assert widget.placer.feature_viewer_alive() is not None
    _close_with_title_bar_x(qtbot, widget)
    assert widget.placer.feature_viewer_alive() is None
    assert [x.name for x in viewer.layers] == ["photo", "photo clusters", "photo quantized"]  # the outputs stay


# --- Cancel right at the end -----------------------------------------------------------------
def _on_layers_with(monkeypatch, before=None, after=None):
    """Make the widget do ``before(widget)`` / ``after(widget)`` around its handling of the run's main outputs."""
    from napari_colorquant._napari.widget import ClusterWidget

    original = ClusterWidget._on_layers

    def handle(self, outcome):
        main = outcome[2] is not None
        if main and before is not None:
            before(self)
        original(self, outcome)
        if main and after is not None:
            after(self)

    monkeypatch.setattr(ClusterWidget, "_on_layers", handle)


def test_cancel_clicked_as_the_outputs_arrive_adds_nothing(make_viewer, dock, qtbot, monkeypatch, notifications):
    """A Cancel click handled just before the worker's outputs: they were placed, and it said 'nothing was added'."""
    viewer = make_viewer()
    _photo_layer(viewer, step=4)
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    _on_layers_with(monkeypatch, before=lambda w: w.cancel_button.native.click())
    widget.run()
    _wait(qtbot, widget)
    assert [x.name for x in viewer.layers] == ["photo"]
    assert widget.status.value == "cancelled" and widget.progress.value == 0
    assert any("nothing was added" in m for m in notifications["info"])


def test_cancel_once_the_outputs_are_on_their_way_changes_nothing(make_viewer, dock, qtbot, monkeypatch,
                                                                  notifications):  # fmt: skip
    """Cancel (from a script: the button is disabled then) stopped the worker after its outputs were placed: the
    status said 'cancelled', a notification 'nothing was added', and the report was never shown."""
    viewer = make_viewer()
    _photo_layer(viewer, step=4)
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    _on_layers_with(monkeypatch, after=lambda w: w.cancel())
    widget.run()
    _wait(qtbot, widget)
    qtbot.waitUntil(lambda: "done" in widget.timeline, timeout=10_000)
    assert [x.name for x in viewer.layers] == ["photo", "photo clusters", "photo quantized"]
    assert widget.status.value.startswith("done") and "PSNR" in widget.report.value
    assert not any("nothing was added" in m for m in notifications["info"])


# --- a gray stack whose last axis has 3 or 4 pixels ------------------------------------------
def _thin_gray_stack(width: int) -> np.ndarray:
    """A (20, 64, width) uint16 gray stack of three well-apart levels plus noise: any k-means finds the same three."""
    rng = np.random.default_rng(width)
    levels = np.array([5000, 30000, 55000])[rng.integers(0, 3, (20, 64, width))]
    return (levels + rng.integers(-2000, 2000, levels.shape)).astype(np.uint16)


def _same_partition(labels: np.ndarray, reference: np.ndarray) -> bool:
    """Whether two labellings split the pixels alike (whatever numbers they give the clusters)."""
    pairs = np.unique(np.stack([labels.ravel(), reference.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]


@pytest.mark.parametrize("width", [3, 4])
@pytest.mark.parametrize("scope", ["whole stack", "current slice", "every n-th frame"])
def test_gray_stack_with_a_colour_like_last_axis_is_clustered_as_gray(make_viewer, dock, run_and_wait, scope, width):
    """napari shows it as a stack (rgb=False); the clustering read the last axis as colours: the run failed on 'list
    index out of range', then (41aae17) was refused. The layer is gray: it is clustered as one channel."""
    from sklearn.cluster import KMeans

    viewer = make_viewer()
    data = _thin_gray_stack(width)
    viewer.add_image(data, name="thin", rgb=False)
    viewer.dims.set_current_step(0, 7)
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value, widget.scope.value = 3, "none", scope
    run_and_wait(widget)
    assert widget.status.value.startswith("done"), widget.report.value
    labels, quantized = viewer.layers["thin clusters"].data, viewer.layers["thin quantized"].data
    assert labels.shape == quantized.shape == data.shape and not viewer.layers["thin quantized"].rgb
    fitted = {"whole stack": data, "current slice": data[7], "every n-th frame": data[::5]}[scope]
    reference = KMeans(3, n_init=10, random_state=0).fit(fitted.reshape(-1, 1).astype(float))
    assert _same_partition(labels, reference.predict(data.reshape(-1, 1).astype(float)).reshape(data.shape))
    model = ClusterModel.from_dict(viewer.layers["thin clusters"].metadata["colorquant"]["model"])
    assert model.input_kind == "gray" and model.n_channels == 1
    np.testing.assert_allclose(np.sort(model.means[:, 0]), np.sort(reference.cluster_centers_[:, 0]), rtol=1e-9)
    np.testing.assert_array_equal(quantized, np.rint(model.means[labels - 1, 0]).astype(np.uint16))


def test_gray_model_applied_to_a_gray_stack_with_a_colour_like_last_axis(make_viewer, dock, run_and_wait, qtbot):
    """Apply fitted model reads the target as the run reads its input: a gray (T, Y, 4) stack stays gray."""
    viewer = make_viewer()
    first, second = _thin_gray_stack(4), _thin_gray_stack(4)[::-1]
    viewer.add_image(first, name="first", rgb=False)
    target = viewer.add_image(second, name="second", rgb=False)
    widget = dock(viewer)
    widget.image.value = viewer.layers["first"]
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    run_and_wait(widget)
    model = ClusterModel.from_dict(viewer.layers["first clusters"].metadata["colorquant"]["model"])
    widget.apply_target.value = target
    widget.apply_button.native.click()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=30_000)
    assert "second clusters" in viewer.layers, widget.report.value
    expected = model.predict(second[..., None], channel_axis=3)
    np.testing.assert_array_equal(viewer.layers["second clusters"].data, expected)
    assert viewer.layers["second quantized"].data.shape == second.shape


def _fit_then_apply(widget, source, target, run_and_wait, qtbot):
    """Fit K = 3 on ``source`` (no feature view), then press Apply fitted model on ``target`` and wait for it."""
    widget.image.value = source
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    run_and_wait(widget)
    widget.apply_target.value = target
    widget.apply_button.native.click()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=30_000)
    return widget


@pytest.mark.parametrize("width", [3, 4])
def test_rgb_model_applied_to_a_gray_stack_with_a_colour_like_last_axis_is_refused(make_viewer, dock, run_and_wait,
                                                                                   qtbot, width):  # fmt: skip
    """An RGB model read a gray (T, Y, 3) stack's last axis as colours: labels of shape (T, Y) and the run failed on
    'list index out of range' (only the first outputs kept). The widget fits such a layer as gray: refuse clearly."""
    viewer = make_viewer()
    viewer.add_image(load_sample("china")[:40, :60], name="photo", rgb=True)
    target = viewer.add_image(_thin_gray_stack(width), name="thin", rgb=False)
    widget = _fit_then_apply(dock(viewer), viewer.layers["photo"], target, run_and_wait, qtbot)
    assert widget.status.value == "failed"
    assert "'thin' is shown as a gray stack" in widget.report.value, widget.report.value
    assert [layer.name for layer in viewer.layers] == ["photo", "thin", "photo clusters", "photo quantized"]


def test_model_applied_to_a_gray_pyramid_with_a_colour_like_last_axis_is_refused(make_viewer, dock, run_and_wait,
                                                                                 qtbot):  # fmt: skip
    """A pyramid's levels have no channel axis: a gray model met a gray (T, Y, 3) pyramid as an 'rgb image'."""
    viewer = make_viewer()
    data = _thin_gray_stack(3)
    viewer.add_image(data, name="thin", rgb=False)
    target = viewer.add_image([data, data[:, ::2]], name="pyramid", multiscale=True, rgb=False)
    widget = _fit_then_apply(dock(viewer), viewer.layers["thin"], target, run_and_wait, qtbot)
    assert widget.status.value == "failed"
    assert "'pyramid' is a pyramid shown as a stack" in widget.report.value, widget.report.value
    assert "pyramid clusters" not in viewer.layers


def test_same_viewer_plot_touches_no_private_attribute_through_napari_s_proxy(make_viewer, dock, run_and_wait,
                                                                              recwarn):  # fmt: skip
    """The same viewer's plot measured its texts through napari's public-only proxy of the viewer (the widget's):
    a FutureWarning on the terminal at every first run of a session."""
    viewer = make_viewer()
    _photo_layer(viewer, step=4)
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 3, "same viewer"
    run_and_wait(widget)
    assert "photo axis labels" in viewer.layers
    private = [str(w.message) for w in recwarn if "Private attribute access" in str(w.message)]
    assert private == []


def test_data_replaced_while_the_outputs_are_placed_is_said(make_viewer, dock, qtbot, monkeypatch, notifications):
    """Item 6 a moment later: data replaced once the outputs had reached the GUI thread left them over data of
    another shape, and the run said 'done'."""
    viewer = make_viewer()
    layer = _photo_layer(viewer, step=4)
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    _on_layers_with(monkeypatch, after=lambda w: setattr(layer, "data", np.zeros((30, 40, 3), np.uint8)))
    widget.run()
    _wait(qtbot, widget)
    qtbot.wait(50)
    assert widget.status.value == "stale" and widget.progress.value == 0
    assert "changed while its outputs were being placed" in widget.report.value
    assert any("changed while its outputs were being placed" in m for m in notifications["error"])


# --- "same viewer" plot beside calibrated images -----------------------------------------------
@pytest.mark.parametrize("extra_channels", [True, False])
def test_same_viewer_plot_beside_micrometre_channels_has_their_units(make_viewer, dock, run_and_wait, qtbot, tmp_path,
                                                                     extra_channels):  # fmt: skip
    """A "same viewer" run on a 4-channel OME-TIFF in micrometres raised napari's "Inconsistent units across
    layers" notification 3-4 times: the plot's layers had napari's default unit (pixel) beside micrometres."""
    import tifffile
    from napari.utils.notifications import notification_manager

    rng = np.random.default_rng(4)
    base = rng.integers(0, 3, (40, 50))
    data = np.stack([base * 900 + rng.integers(0, 50, base.shape) + 300 * c for c in range(4)]).astype(np.uint16)
    path = tmp_path / "neuron.ome.tif"
    meta = {"axes": "CYX", "Channel": {"Name": ["AF647", "AF568", "AF488", "DAPI"]}, "PhysicalSizeX": 0.1241,
            "PhysicalSizeXUnit": "µm", "PhysicalSizeY": 0.1241, "PhysicalSizeYUnit": "µm"}  # fmt: skip
    tifffile.imwrite(path, data, ome=True, metadata=meta)
    viewer = make_viewer(show=True)
    viewer.open(str(path), plugin="napari-colorquant")
    said: list[str] = []
    notification_manager.notification_ready.connect(record := lambda n: said.append(str(n.message)))
    try:
        widget = dock(viewer)
        widget.image.value = viewer.layers["DAPI"]
        widget.channels.value = [viewer.layers[n] for n in ("AF647", "AF568", "AF488")] if extra_channels else []
        widget.n_clusters.value, widget.feature_view.value = 3, "same viewer"
        run_and_wait(widget)
        qtbot.wait(300)  # napari checks the layers' units when it next draws the canvas
    finally:
        notification_manager.notification_ready.disconnect(record)
    assert widget.status.value.startswith("done"), widget.report.value
    assert "DAPI feature space" in viewer.layers
    assert not [m for m in said if "Inconsistent units" in m], said
    image = viewer.layers["DAPI"]
    for name in ("DAPI clusters", "DAPI quantized"):  # the outputs' calibration is the input's
        assert viewer.layers[name].units == image.units and tuple(viewer.layers[name].scale) == tuple(image.scale)
    assert str(viewer.layers.units[-1]) == "micrometer"

"""Automatic K (with its curve), pinned colours, smoothing and dithering in the widget, in a real viewer."""

from __future__ import annotations

import re

import numpy as np
from qtpy.QtCore import Qt

from napari_colorquant import quantize
from napari_colorquant._napari import controls as _controls
from napari_colorquant._napari import launch
from napari_colorquant.samples import load_sample


def _four_colours() -> np.ndarray:
    """96 x 96 uint8 RGB: four well-separated colours with noise (true K = 4)."""
    rng = np.random.default_rng(0)
    colours = np.array([[30.0, 40, 200], [200, 50, 40], [60, 190, 70], [220, 220, 90]])
    classes = rng.permutation(np.repeat(np.arange(4), 96 * 96 // 4))
    pixels = colours[classes] + rng.normal(0, 6, (classes.size, 3))
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8).reshape(96, 96, 3)


def _shown(widget, name) -> bool:
    return getattr(widget, name).native.isVisibleTo(widget.native)


def test_auto_k_runs_the_sweep_and_draws_the_curve(make_viewer, dock, run_and_wait, qtbot):
    viewer = make_viewer(show=True)
    viewer.add_image(_four_colours(), name="four", rgb=True)
    widget = dock(viewer)
    widget.feature_view.value = "none"
    assert not any(_shown(widget, name) for name in _controls.ONLY_FOR_AUTO_K)
    assert not _shown(widget, "k_curve")
    spin = widget.n_clusters.native
    qtbot.keyClick(spin, Qt.Key.Key_PageDown)  # a user pages the K box down to its bottom: "auto"
    assert widget.n_clusters.value == 0 and widget.n_clusters.label.endswith("(0: auto)") and widget.controls.auto_k
    assert all(_shown(widget, name) for name in _controls.ONLY_FOR_AUTO_K)
    widget.k_range.native.clear()
    qtbot.keyClicks(widget.k_range.native, "2,6")
    assert widget.controls.params()["k_range"] == (2, 6) and widget.controls.params()["n_clusters"] == "auto"
    run_and_wait(widget)
    layer = viewer.layers["four clusters"]
    params = layer.metadata["colorquant"]["params"]
    assert params["n_clusters"] == "auto" and params["k_curve"]["ks"] == [2, 3, 4, 5, 6]
    assert int(layer.data.max()) == params["k_curve"]["chosen"] == 4
    np.testing.assert_array_equal(layer.data, quantize(_four_colours(), "auto", k_range=(2, 6)).labels)
    assert "K chosen automatically (bic)" in widget.report.value
    # The curve: a small plot with real axes, the chosen K marked.
    assert _shown(widget, "k_curve")
    axes = widget.k_curve.axes
    # the label may break in two lines and name a scale (BIC ~ 1e7 is drawn as 10.0 with "×10⁶" in the label)
    ylabel = re.sub(r" ×10\S+", "", " ".join(axes.get_ylabel().split()))
    assert axes.get_xlabel() == "K (clusters)" and ylabel == "BIC (lower is better)"
    assert list(axes.lines[0].get_xdata()) == [2, 3, 4, 5, 6]
    assert list(axes.lines[1].get_xdata()) == [4]
    assert widget.k_curve.canvas.height() <= 200
    # Back to a fixed K: the auto-K rows and the curve go away after the next run.
    widget.n_clusters.value = 3
    assert not any(_shown(widget, name) for name in _controls.ONLY_FOR_AUTO_K)
    run_and_wait(widget)
    assert not _shown(widget, "k_curve")


def test_auto_k_with_a_target_and_the_dock_stays_compact(make_viewer, dock, run_and_wait):
    viewer = make_viewer(show=True)
    launch.fit_window(viewer)
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    launch.show_whole_image(viewer)
    widget.feature_view.value = "none"
    widget.n_clusters.value = widget.n_clusters.min
    widget.target_psnr.value = 22.0
    widget.advanced.native.click()  # every advanced row open too
    run_and_wait(widget, timeout=180_000)
    photo = viewer.layers["china"]
    curve = viewer.layers["china clusters"].metadata["colorquant"]["params"]["k_curve"]
    assert curve["criterion"] == "psnr" and curve["target_met"] and curve["values"][-1] >= 22.0
    assert " ".join(widget.k_curve.axes.get_ylabel().split()) == "PSNR (dB)"
    # As tests/gui/test_views.py asks: the whole image in view and the report without scrolling.
    extent = np.asarray(photo.extent.world)[:, -2:]
    assert np.all((extent[1] - extent[0]) * viewer.camera.zoom <= np.asarray(viewer.canvas.size) + 1)
    edit = widget.report.native
    assert edit.verticalScrollBar().maximum() == 0


def test_advanced_smoothing_dither_and_fixed_colours(make_viewer, dock, run_and_wait, qtbot):
    viewer = make_viewer(show=True)
    image = load_sample("china")[::4, ::4]
    viewer.add_image(image, name="small", rgb=True)
    widget = dock(viewer)
    widget.feature_view.value = "none"
    widget.n_clusters.value = 5
    for name in ("smoothing", "dither", "fixed_colors"):
        assert not _shown(widget, name)
        assert getattr(widget, name).tooltip  # each control says what it does
    widget.advanced.native.click()
    assert all(_shown(widget, name) for name in ("smoothing", "dither", "fixed_colors"))
    qtbot.keyClicks(widget.fixed_colors.native, "255,255,255; 20, 20, 20")
    widget.smoothing.value = 1.0
    widget.dither.value = "floyd-steinberg"
    run_and_wait(widget)
    expected = quantize(image, 5, smoothing=1.0, dither=True, fixed_colors=[[255, 255, 255], [20, 20, 20]])
    info = viewer.layers["small clusters"].metadata["colorquant"]
    assert info["params"]["fixed_colors"] == [[255.0, 255.0, 255.0], [20.0, 20.0, 20.0]]
    assert info["params"]["smoothing"] == 1.0 and info["params"]["dither"] == "floyd-steinberg"
    np.testing.assert_array_equal(viewer.layers["small clusters"].data, expected.labels)
    np.testing.assert_array_equal(viewer.layers["small quantized"].data, expected.quantized)
    palette = expected.model.palette.tolist()
    assert [255.0, 255.0, 255.0] in palette and [20.0, 20.0, 20.0] in palette
    assert "smoothing changed" in widget.report.value
    # EM: the pinned-colour row goes away (k-means only)
    widget.method.value = "em"
    assert not _shown(widget, "fixed_colors")


def test_bad_fixed_colours_text_is_reported_not_raised(make_viewer, dock, run_and_wait, notifications):
    viewer = make_viewer()
    viewer.add_image(_four_colours(), name="four", rgb=True)
    widget = dock(viewer)
    widget.feature_view.value = "none"
    widget.fixed_colors.value = "255,255,x"
    widget.run()
    assert "fixed colours: expected R,G,B" in widget.report.value  # the control's label, not the parameter
    assert widget.status.value == "failed" and "four clusters" not in viewer.layers
    assert any("fixed colours" in message for message in notifications["error"])
    widget.fixed_colors.value = "255,255"
    run_and_wait(widget)
    assert "fixed colours must be a list of colours with 3 value" in widget.report.value

"""One layer holding channels (CYX, ZCYX) clusters its channels; a time-lapse fits once on every n-th frame."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant import ClusterModel, apply_model, quantize
from napari_colorquant.samples import load_sample


def _params(widget):
    return widget.controls.params()


def test_channel_axis_is_picked_from_axis_labels(make_viewer, dock, run_and_wait):
    viewer = make_viewer()
    cyx = np.moveaxis(load_sample("kidney")[3], 0, 0)  # (3, 128, 128), C first
    viewer.add_image(cyx, name="cells", axis_labels=("c", "y", "x"))
    widget = dock(viewer)
    assert widget.channel_axis.value == 0
    assert widget.color_space.choices == ("auto", "channels")
    widget.n_clusters.value = 4
    widget.feature_view.value = "none"
    run_and_wait(widget)
    labels = viewer.layers["cells clusters"]
    expected = quantize(cyx, channel_axis=0, **_params(widget))
    assert labels.data.shape == (128, 128)
    np.testing.assert_array_equal(labels.data, expected.labels)
    assert labels.metadata["colorquant"]["model"]["color_space"] == "channels"
    quantized = [layer for layer in viewer.layers if layer.name.endswith("quantized")]
    assert len(quantized) == 3
    np.testing.assert_array_equal(quantized[1].data, expected.quantized[1])
    assert tuple(labels.axis_labels) == ("y", "x")


def test_setting_channel_axis_on_an_unlabelled_zcyx_stack(make_viewer, dock, run_and_wait):
    viewer = make_viewer()
    zcyx = load_sample("kidney")[:4, :, :64, :64]
    layer = viewer.add_image(zcyx, name="stack", scale=(2.0, 1.0, 0.5, 0.5))
    widget = dock(viewer)
    assert widget.channel_axis.value is None  # nothing names a channel axis: gray until told
    assert tuple(widget.channel_axis.choices) == (None, 0, 1, 2, 3)
    widget.channel_axis.value = 1
    widget.n_clusters.value = 3
    widget.feature_view.value = "none"
    run_and_wait(widget)
    labels = viewer.layers["stack clusters"]
    assert labels.data.shape == (4, 1, 64, 64)  # the channel axis kept, one pixel spanning the 3 channels
    np.testing.assert_array_equal(labels.data[:, 0], quantize(zcyx, channel_axis=1, **_params(widget)).labels)
    np.testing.assert_allclose(labels.scale, (2.0, 3.0, 0.5, 0.5))
    assert layer.data.shape == zcyx.shape


def test_time_lapse_fit_on_every_nth_frame(make_viewer, dock, run_and_wait):
    viewer = make_viewer()
    rng = np.random.default_rng(3)
    frames = np.stack([rng.integers(0, 200, (24, 24)) + 5 * t for t in range(6)]).astype(np.uint8)  # T, Y, X
    viewer.add_image(frames, name="movie", axis_labels=("t", "y", "x"))
    widget = dock(viewer)
    widget.scope.value = "every n-th frame"
    assert not widget.frame_step.native.isHidden()
    widget.frame_step.value = 2
    widget.n_clusters.value = 3
    widget.feature_view.value = "none"
    run_and_wait(widget)
    model = quantize(frames[::2], **_params(widget)).model
    labels = viewer.layers["movie clusters"]
    np.testing.assert_array_equal(labels.data, apply_model(model, frames).labels)
    assert "fitted on frames: 3 of 6 (every 2)" in widget.report.value


def test_fit_on_frames_core_is_one_model_for_all_frames():
    from napari_colorquant.workflows import fit_on_frames

    tcyx = np.stack([load_sample("kidney")[2, :, :32, :32] + t for t in range(5)])
    result, fit = fit_on_frames(tcyx, 0, 2, channel_axis=1, n_clusters=3)
    expected = quantize(tcyx[::2], 3, channel_axis=1)
    np.testing.assert_allclose(fit.model.means, expected.model.means)
    np.testing.assert_array_equal(result.labels, apply_model(expected.model, tcyx, channel_axis=1).labels)
    with pytest.raises(ValueError, match="channel axis"):
        fit_on_frames(tcyx, 1, 2, channel_axis=1, n_clusters=3)
    with pytest.raises(ValueError, match="step"):
        fit_on_frames(tcyx, 0, 0, channel_axis=1, n_clusters=3)


def test_apply_a_channels_model_to_another_one_layer_stack(make_viewer, dock, run_and_wait, qtbot):
    viewer = make_viewer()
    kidney = load_sample("kidney")
    first, second = kidney[2], kidney[5]  # (3, 128, 128) each, C first
    viewer.add_image(first, name="a", axis_labels=("c", "y", "x"))
    other = viewer.add_image(second, name="b", axis_labels=("c", "y", "x"))
    widget = dock(viewer)
    widget.image.value = viewer.layers["a"]
    widget.n_clusters.value = 3
    widget.feature_view.value = "none"
    run_and_wait(widget)
    model = quantize(first, channel_axis=0, **_params(widget)).model
    widget.apply_target.value = other
    widget.apply_to_target()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    labels = viewer.layers["b clusters"]
    assert labels.data.shape == (128, 128)
    np.testing.assert_array_equal(labels.data, apply_model(model, second, channel_axis=0).labels)


def test_large_time_lapse_is_labelled_lazily_frame_by_frame_with_one_model(monkeypatch):
    from napari_colorquant import workflows

    monkeypatch.setattr(workflows, "LAZY_STACK_BYTES", 10_000)  # "large" for a test: this stack is 37 kB
    tcyx = np.stack([load_sample("kidney")[2, :, :32, :32] + t for t in range(6)])
    for label_stack in (
        lambda: workflows.fit_on_frames(tcyx, 0, 2, channel_axis=1, n_clusters=3, method="em"),
        lambda: workflows.fit_on_slice(
            tcyx, (1, slice(None), slice(None), slice(None)), channel_axis=1, n_clusters=3, method="em"
        ),
    ):
        result, fit = label_stack()
        assert hasattr(result.labels, "dask") and hasattr(result.quantized, "dask")
        assert result.labels.chunksize == (1, 32, 32) and result.quantized.chunksize == (1, 3, 32, 32)
        eager = apply_model(fit.model, tcyx, channel_axis=1)  # the same model, every frame at once
        np.testing.assert_array_equal(result.labels.compute(), eager.labels)
        np.testing.assert_array_equal(result.quantized.compute(), eager.quantized)
    small, _ = workflows.fit_on_frames(tcyx[:1], 0, 1, channel_axis=1, n_clusters=3)
    assert isinstance(small.labels, np.ndarray)  # below the limit: in memory as before


def test_widget_labels_a_large_time_lapse_lazily(make_viewer, dock, run_and_wait, monkeypatch):
    from napari_colorquant import workflows

    monkeypatch.setattr(workflows, "LAZY_STACK_BYTES", 2_000)
    rng = np.random.default_rng(4)
    frames = np.stack([rng.integers(0, 200, (24, 24)) + 5 * t for t in range(6)]).astype(np.uint8)  # 3.5 kB
    viewer = make_viewer()
    viewer.add_image(frames, name="movie", axis_labels=("t", "y", "x"))
    widget = dock(viewer, "EM clustering")
    widget.scope.value = "every n-th frame"
    widget.frame_step.value = 3
    widget.n_clusters.value = 3
    widget.posterior.value = "max posterior"
    widget.feature_view.value = "none"
    run_and_wait(widget)
    labels = viewer.layers["movie clusters"]
    assert hasattr(labels.data, "dask")  # not computed for every frame up front
    model = ClusterModel.from_dict(labels.metadata["colorquant"]["model"])
    np.testing.assert_array_equal(np.asarray(labels.data), apply_model(model, frames).labels)
    assert "fitted on frames: 2 of 6 (every 3)" in widget.report.value


def test_an_unnamed_short_axis_is_offered_as_channels_before_it_is_pooled_as_gray(make_viewer, dock, qtbot):
    """napari's own reader opens a ZCYX file with numbered axes: the widget says which axis may be channels."""
    viewer = make_viewer(show=True)
    zcyx = load_sample("kidney")[:6, :, :48, :48]  # (6, 3, 48, 48), axes named -4..-1 by napari
    viewer.add_image(zcyx, name="kidney")
    widget = dock(viewer)
    hint = widget.controls.channel_hint
    assert widget.channel_axis.value is None
    qtbot.waitUntil(lambda: hint.visible, timeout=5000)  # shown with the widget, under the channel axis
    assert hint.value == "↑ axis 1 (3) may be channels" and "one gray value" in hint.tooltip
    widget.channel_axis.value = 1
    assert not hint.visible
    widget.channel_axis.value = None
    assert hint.visible
    viewer.add_image(np.zeros((20, 32, 32), np.uint8), name="movie")  # 20 frames: not channels
    widget.image.value = viewer.layers["movie"]
    assert not hint.visible
    viewer.add_image(zcyx, name="named", axis_labels=("z", "c", "y", "x"))
    widget.image.value = viewer.layers["named"]
    assert widget.channel_axis.value == 1 and not hint.visible
    widget.image.value = viewer.layers["kidney"]
    assert hint.visible


def test_explorer_names_a_one_layer_stacks_channels_without_repeating_the_layer_name(make_viewer, dock, run_and_wait):
    """An ImageJ ZCYX file opened by napari as one layer: the plot's axes read 'ch1 (0–65535)', not
    '<long file name> ch1 (0–65535)', which ran off the plot (the title already names the image)."""
    import napari_colorquant as ncq

    viewer = make_viewer()
    viewer.add_image(load_sample("kidney")[:4, :, :48, :48], name="micro_skimage_kidney_3d_3ch_u16_crop256")
    widget = dock(viewer)
    widget.channel_axis.value = 1
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    run_and_wait(widget)
    explorer = ncq.feature_explorer(viewer)
    assert set(explorer.axis_names) <= {"ch0", "ch1", "ch2"}, explorer.axis_names
    assert explorer.plot.axes.get_xlabel().startswith("ch") and explorer.plot.axes.get_ylabel().startswith("ch")


def test_apply_a_model_of_channel_layers_to_the_same_stack_as_one_unlabelled_layer(
    make_viewer, dock, run_and_wait, qtbot, notifications
):
    # Fitted on three channel layers (as the plugin's reader opens a file), applied to the same ZCYX stack as napari's
    # own reader opens it (one layer, axes numbered): "got a gray image of shape (8, 3, 128, 128)", nothing to do.
    viewer = make_viewer()
    kidney = load_sample("kidney")[:4, :, :48, :48]
    channels = [viewer.add_image(kidney[:, c], name=f"k{c}") for c in range(3)]
    widget = dock(viewer)
    widget.image.value = channels[0]
    widget.channels.value = channels[1:]
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    run_and_wait(widget)
    stack = viewer.add_image(kidney, name="stack")
    widget.apply_target.value = stack
    widget.apply_to_target()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert notifications["error"] == []
    model = widget._last_model
    applied = viewer.layers["stack clusters"]
    assert applied.data.shape == (4, 1, 48, 48)  # lined up with the stack: its channel axis kept, of length 1
    np.testing.assert_array_equal(applied.data[:, 0], apply_model(model, kidney, channel_axis=1).labels)
    # Two axes of 3 planes: which one holds the channels cannot be told; the message says what to do.
    ambiguous = viewer.add_image(kidney[:3], name="ambiguous")  # (3 z, 3 c, Y, X)
    widget.apply_target.value = ambiguous
    widget.apply_to_target()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert notifications["error"] == [
        "napari-colorquant: the fitted model has 3 channels; layer 'ambiguous' has no channel axis of that size it can "
        "be told by: choose it as image and set its channel axis, or name the axis 'c' in its axis labels"
    ]


def test_separate_feature_window_names_a_stacks_channels_and_says_which_it_shows(make_viewer, dock, run_and_wait):
    viewer = make_viewer()
    kidney = load_sample("kidney")[3]  # (3, 128, 128)
    cyx = np.concatenate([kidney, kidney[:1] // 2])  # four channels: the window can show three
    viewer.add_image(cyx, name="cells", axis_labels=("c", "y", "x"))
    widget = dock(viewer)
    widget.n_clusters.value = 3
    widget.feature_view.value = "separate window"
    try:
        run_and_wait(widget)
        window = widget.feature_viewer
        assert tuple(window.dims.axis_labels) == ("c1", "c3", "c2")  # was ("channel 1", "channel 3", "channel 2")
        assert tuple(window.layers["cells feature space"].axis_labels) == ("c1", "c3", "c2")
        assert window.title == "napari-colorquant: feature space (x c2, y c3, z c1; 3 of 4 features)"
    finally:
        widget.close_feature_viewer()

"""The plugin used as a person would: dock by name, run on real images, look at the layers."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from napari.layers import Image, Labels, Points, Shapes

from napari_colorquant import ClusterModel, quantize
from napari_colorquant.samples import load_sample


def _layer(viewer, name):
    assert name in viewer.layers, [layer.name for layer in viewer.layers]
    return viewer.layers[name]


def test_widgets_open_by_plugin_name_with_their_method(make_viewer, dock):
    viewer = make_viewer()
    assert dock(viewer, "K-means clustering").method.value == "kmeans"
    assert dock(viewer, "EM clustering").method.value == "em"


def test_widgets_are_in_the_segment_and_classify_menus(make_viewer):
    from napari._app_model import get_app_model

    make_viewer()
    app = get_app_model()
    for menu in ("napari/layers/segment", "napari/layers/classify"):
        commands = [item.command.id for item in app.menus.get_menu(menu) if hasattr(item, "command")]
        assert any("napari-colorquant" in c and "kmeans" in c.lower() for c in commands), commands
        assert any("napari-colorquant" in c and "em" in c.lower() for c in commands), commands


def test_kmeans_on_rgb_photo_adds_overlaying_layers(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "photo")
    source = viewer.layers["china"]
    source.scale = (0.5, 0.25)
    source.translate = (10, 20)
    before = source.data.copy()
    widget = dock(viewer)
    assert widget.image.value is source
    assert "ycrcb-chroma" in widget.color_space.choices
    widget.n_clusters.value = 6
    widget.feature_view.value = "same viewer"
    run_and_wait(widget)

    expected = quantize(load_sample("china"), 6)
    labels = _layer(viewer, "china clusters")
    quantized = _layer(viewer, "china quantized")
    assert isinstance(labels, Labels) and isinstance(quantized, Image)
    assert labels.data.shape == (427, 640) and labels.data.dtype == np.uint8
    np.testing.assert_array_equal(labels.data, expected.labels)
    assert quantized.rgb and quantized.data.dtype == np.uint8
    np.testing.assert_array_equal(quantized.data, expected.quantized)
    for layer in (labels, quantized):
        np.testing.assert_allclose(layer.scale, source.scale)
        np.testing.assert_allclose(layer.translate, source.translate)
    # Each label is coloured with its cluster's colour.
    for label in range(1, 7):
        colour = labels.colormap.color_dict[label][:3]
        np.testing.assert_allclose(colour, expected.model.palette[label - 1] / 255, atol=1e-6)
    features = labels.features
    assert list(features["index"]) == [1, 2, 3, 4, 5, 6]
    assert features["pixel_count"].sum() == 427 * 640
    np.testing.assert_allclose(features["fraction"].sum(), 1)
    info = labels.metadata["colorquant"]
    model = ClusterModel.from_dict(info["model"])
    np.testing.assert_allclose(model.means, expected.model.means)
    assert info["params"]["n_clusters"] == 6 and info["params"]["init"] == "auto"
    assert info["summary"]["psnr"] == pytest.approx(expected.psnr)
    points = _layer(viewer, "china feature space")
    assert isinstance(points, Points) and points.data.shape[1] == 2  # a 2-D plot of x and y in the user's viewer
    assert (points.features["kind"] == "centre").sum() == 6
    assert "PSNR" in widget.report.value and "bits/pixel" in widget.report.value
    np.testing.assert_array_equal(source.data, before)

    # Re-running replaces the outputs instead of piling them up.
    names = [layer.name for layer in viewer.layers]
    widget.n_clusters.value = 4
    run_and_wait(widget)
    assert [layer.name for layer in viewer.layers] == names
    assert viewer.layers["china clusters"].data.max() == 4


def test_em_on_gray_plate_with_posterior_and_histogram(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "plate")
    widget = dock(viewer, "EM clustering")
    assert widget.color_space.choices == ("auto", "gray")
    widget.n_clusters.value = 2
    widget.covariance.value = "spherical"
    widget.posterior.value = "max posterior"
    widget.feature_view.value = "same viewer"
    run_and_wait(widget)
    plate = load_sample("plate")
    labels = _layer(viewer, "plate clusters")
    np.testing.assert_array_equal(labels.data, quantize(plate, 2, method="em", covariance="spherical").labels)
    quantized = _layer(viewer, "plate quantized")
    assert quantized.data.dtype == np.uint8 and quantized.colormap.name == "gray"
    assert tuple(quantized.contrast_limits) == tuple(viewer.layers["plate"].contrast_limits)
    posterior = _layer(viewer, "plate posterior")
    assert posterior.data.shape == plate.shape and posterior.data.min() >= 0.5 - 1e-6 and posterior.data.max() <= 1
    assert isinstance(_layer(viewer, "plate histogram"), Shapes)
    gaussians = _layer(viewer, "plate gaussians")
    assert isinstance(gaussians, Shapes) and len(gaussians.data) == 2
    assert "weight" in labels.features and "cov intensity,intensity" in labels.features
    assert "log-likelihood" in widget.report.value and "BIC" in widget.report.value


def test_uint16_stack_fitted_on_current_slice(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "fluorescence")
    channel = viewer.layers["kidney ch1"]
    assert channel.data.shape == (8, 128, 128) and channel.data.dtype == np.uint16
    viewer.dims.set_current_step(0, 5)
    widget = dock(viewer)
    widget.image.value = channel
    assert not widget.scope.native.isHidden()  # offered for nD layers only
    widget.scope.value = "current slice"
    widget.n_clusters.value = 3
    widget.feature_view.value = "none"
    run_and_wait(widget)
    labels = _layer(viewer, "kidney ch1 clusters")
    assert labels.data.shape == (8, 128, 128)
    model = ClusterModel.from_dict(labels.metadata["colorquant"]["model"])
    assert model.params["fitted_on_slice"] == "[5, :, :]"
    fitted = quantize(np.asarray(channel.data)[5], 3)
    np.testing.assert_allclose(model.means, fitted.model.means)
    np.testing.assert_array_equal(labels.data, fitted.model.predict(np.asarray(channel.data)))
    quantized = _layer(viewer, "kidney ch1 quantized")
    assert quantized.data.dtype == np.uint16 and quantized.data.shape == (8, 128, 128)


def test_two_channel_layers_as_features(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "fluorescence")
    widget = dock(viewer)
    widget.image.value = viewer.layers["kidney ch0"]
    widget.channels.value = [viewer.layers["kidney ch2"]]
    assert widget.color_space.choices == ("auto", "channels")
    widget.n_clusters.value = 4
    widget.feature_view.value = "same viewer"
    run_and_wait(widget)
    labels = _layer(viewer, "kidney ch0 clusters")
    model = ClusterModel.from_dict(labels.metadata["colorquant"]["model"])
    assert model.color_space == "channels" and model.n_features == 2
    stacked = np.stack([viewer.layers["kidney ch0"].data, viewer.layers["kidney ch2"].data], axis=-1)
    np.testing.assert_array_equal(labels.data, quantize(stacked, 4, channel_axis=-1).labels)
    for name in ("kidney ch0 quantized", "kidney ch2 quantized"):
        assert _layer(viewer, name).data.shape == (8, 128, 128)
    # The plugin's own outputs are not offered as extra channels.
    assert [layer.name for layer in widget.channels.choices] == ["kidney ch1", "kidney ch2"]
    assert _layer(viewer, "kidney ch0 feature space").data.shape[1] == 2


def test_mask_from_shapes_layer(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "photo")
    shapes = viewer.add_shapes([np.array([[50, 60], [50, 300], [250, 300], [250, 60]])], shape_type="polygon")
    widget = dock(viewer)
    widget.image.value = viewer.layers["china"]
    widget.mask.value = shapes
    widget.n_clusters.value = 3
    widget.feature_view.value = "none"
    run_and_wait(widget)
    labels = _layer(viewer, "china clusters").data
    assert (labels[:40] == 0).all() and (labels[60:240, 70:290] > 0).all()


def test_bad_input_notifies_and_adds_nothing(make_viewer, dock, qtbot, notifications, run_and_wait):
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "plate")
    widget = dock(viewer)
    widget.n_clusters.value = 250  # more clusters than the plate has gray levels
    run_and_wait(widget)
    assert any("larger than the number of distinct" in m for m in notifications["error"])
    assert [layer.name for layer in viewer.layers] == ["plate"]

    viewer.layers.clear()
    widget.run()
    assert any("choose an image layer" in m for m in notifications["error"])
    assert len(viewer.layers) == 0


def _blocking_quantize(monkeypatch, release: threading.Event, started: threading.Event):
    from napari_colorquant import workflows

    original = workflows.quantize

    def slow(*args, progress=None, **kwargs):
        started.set()
        release.wait(10)
        if progress is not None:
            progress("fit", 0.5)
        return original(*args, progress=progress, **kwargs)

    monkeypatch.setattr(workflows, "quantize", slow)


def test_cancel_adds_nothing_and_keeps_the_gui_responsive(make_viewer, dock, qtbot, monkeypatch, notifications):
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    release, started = threading.Event(), threading.Event()
    _blocking_quantize(monkeypatch, release, started)
    widget.run()
    qtbot.waitUntil(started.is_set, timeout=5000)
    assert widget.cancel_button.enabled and not widget.run_button.enabled
    # The GUI thread is free while the worker runs: the viewer still reacts.
    viewer.layers["china"].opacity = 0.5
    qtbot.wait(50)
    widget.cancel()
    release.set()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
    assert any("cancelled" in m for m in notifications["info"])
    assert [layer.name for layer in viewer.layers] == ["china"]


def test_layer_removed_mid_run_adds_nothing(make_viewer, dock, qtbot, monkeypatch, notifications):
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    widget.feature_view.value = "same viewer"
    release, started = threading.Event(), threading.Event()
    _blocking_quantize(monkeypatch, release, started)
    widget.run()
    qtbot.waitUntil(started.is_set, timeout=5000)
    viewer.layers.remove("china")
    release.set()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
    assert any("was removed while clustering" in m for m in notifications["error"])
    assert len(viewer.layers) == 0


def test_apply_fitted_model_to_another_layer(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "photo")
    flower = viewer.add_image(load_sample("flower"), name="flower", rgb=True)
    widget = dock(viewer)
    widget.image.value = viewer.layers["china"]
    widget.n_clusters.value = 5
    widget.feature_view.value = "none"
    run_and_wait(widget)
    widget.apply_target.value = flower
    widget.apply_to_target()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=20_000)
    china_model = viewer.layers["china clusters"].metadata["colorquant"]["model"]
    flower_labels = _layer(viewer, "flower clusters")
    assert flower_labels.metadata["colorquant"]["model"]["means"] == china_model["means"]
    np.testing.assert_array_equal(flower_labels.data, ClusterModel.from_dict(china_model).predict(flower.data))


def test_separate_feature_viewer_keeps_main_dims(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer, "EM clustering")
    widget.n_clusters.value = 3
    widget.feature_view.value = "separate window"
    ndim = viewer.dims.ndim
    run_and_wait(widget)
    try:
        feature_viewer = widget.feature_viewer
        assert feature_viewer is not None and feature_viewer is not viewer
        assert "china feature space" in feature_viewer.layers and "china gaussians" in feature_viewer.layers
        assert "china feature space" not in viewer.layers and viewer.dims.ndim == ndim
        assert feature_viewer.dims.ndisplay == 3
    finally:
        widget.close_feature_viewer()


def test_writer_saves_indexed_png_and_tiff(make_viewer, dock, qtbot, tmp_path, run_and_wait):
    from napari_colorquant._napari.writer import write_labels, write_quantized
    from napari_colorquant.files import read_image

    viewer = make_viewer()
    viewer.open_sample("napari-colorquant", "photo")
    widget = dock(viewer)
    widget.n_clusters.value = 4
    widget.feature_view.value = "none"
    run_and_wait(widget)
    labels = viewer.layers["china clusters"]
    _, meta, _ = labels.as_layer_data_tuple()
    png = write_labels(str(tmp_path / "labels.png"), labels.data, meta)[0]
    raw = Path(png).read_bytes()
    # Palette index = label (entry 0 transparent background): 5 entries, so a 4-bit indexed PNG that reads back
    # as the labels themselves.
    assert raw[24] == 4 and raw[25] == 3
    from PIL import Image

    np.testing.assert_array_equal(np.asarray(Image.open(png)), labels.data)
    tif = write_labels(str(tmp_path / "labels.tif"), labels.data, meta)[0]
    np.testing.assert_array_equal(read_image(tif), labels.data)
    quantized = viewer.layers["china quantized"]
    _, qmeta, _ = quantized.as_layer_data_tuple()
    qpng = write_quantized(str(tmp_path / "quantized.png"), quantized.data, qmeta)[0]
    np.testing.assert_array_equal(read_image(qpng), quantized.data)
    assert (tmp_path / "quantized.png").stat().st_size < quantized.data.nbytes / 8


def test_dask_stack_layer_stays_lazy(make_viewer, dock, run_and_wait, monkeypatch):
    import dask.array as da

    viewer = make_viewer()
    stack = load_sample("kidney")[:, 1]
    lazy = da.from_array(stack, chunks=(2, 64, 64))
    layer = viewer.add_image(lazy, name="lazy stack")
    from napari_colorquant import feature_space, workflows
    from napari_colorquant._napari import job, layers, placer

    for module in (job, layers, placer, workflows, feature_space):  # the plugin's own code must never load the layer
        monkeypatch.setattr(module, "np", _NumpyRefusingDask())
    widget = dock(viewer)
    widget.image.value = layer
    widget.n_clusters.value = 3
    widget.method.value = "em"
    widget.posterior.value = "max posterior"
    widget.feature_view.value = "same viewer"
    run_and_wait(widget)
    monkeypatch.undo()
    labels = _layer(viewer, "lazy stack clusters")
    assert isinstance(labels.data, da.Array)
    expected = quantize(stack, 3, method="em")
    np.testing.assert_array_equal(np.asarray(labels.data), expected.labels)
    assert isinstance(_layer(viewer, "lazy stack quantized").data, da.Array)
    assert isinstance(_layer(viewer, "lazy stack posterior").data, da.Array)
    assert _layer(viewer, "lazy stack feature space").data.shape[1] == 2
    assert labels.features["pixel_count"].sum() == stack.size


class _NumpyRefusingDask:
    """numpy, except that np.asarray / np.array of a dask array fails the test."""

    def __getattr__(self, name):
        attribute = getattr(np, name)
        if name not in ("asarray", "array", "ascontiguousarray"):
            return attribute

        def guarded(array, *args, **kwargs):
            if type(array).__module__.startswith("dask."):
                raise AssertionError(f"np.{name} called on a lazy layer")
            return attribute(array, *args, **kwargs)

        return guarded


def test_multiscale_layer_gives_multiscale_outputs(make_viewer, dock, run_and_wait):
    viewer = make_viewer()
    photo = load_sample("china")
    levels = [photo, photo[::2, ::2], photo[::4, ::4]]
    layer = viewer.add_image(levels, multiscale=True, rgb=True, name="pyramid")
    widget = dock(viewer)
    widget.image.value = layer
    widget.n_clusters.value = 5
    widget.feature_view.value = "none"
    run_and_wait(widget)
    labels = _layer(viewer, "pyramid clusters")
    quantized = _layer(viewer, "pyramid quantized")
    assert labels.multiscale and len(labels.data) == 3 and quantized.multiscale and quantized.rgb
    model = ClusterModel.from_dict(labels.metadata["colorquant"]["model"])
    assert model.params["fit_level"] == 0  # the photo is within the default pixel budget
    for level, data in zip(levels, labels.data, strict=True):
        np.testing.assert_array_equal(np.asarray(data), model.predict(level))


def test_the_same_viewer_shows_the_latest_run_s_plot_only(make_viewer, dock, run_and_wait):
    """A "same viewer" plot stayed in the viewer, out of date, after a run with another view (its 3 centres after
    a K = 5 run), and a second image's plot was drawn over the first one's: the viewer shows the latest run's plot
    only, and none after a run with another view."""
    from napari_colorquant._napari.layers import FEATURE_ROLES

    def plots(name):
        return [layer for layer in viewer.layers if layer.name.startswith(name + " ")
                and layer.metadata.get("colorquant", {}).get("role") in FEATURE_ROLES]  # fmt: skip

    viewer = make_viewer()
    photo = load_sample("china")[::4, ::4]
    first = viewer.add_image(photo, rgb=True, name="photo")
    widget = dock(viewer)
    widget.image.value = first
    widget.n_clusters.value, widget.feature_view.value = 3, "same viewer"
    run_and_wait(widget)
    assert plots("photo")
    for view in ("none", "separate window"):
        widget.n_clusters.value, widget.feature_view.value = widget.n_clusters.value + 1, view
        run_and_wait(widget)
        assert not plots("photo"), view
    widget.close_feature_viewer()
    widget.feature_view.value = "same viewer"
    run_and_wait(widget)
    centres = viewer.layers["photo feature space"].features["kind"] == "centre"
    assert int(centres.sum()) == widget.n_clusters.value == 5
    widget.image.value = viewer.add_image(photo[..., 0], name="gray")
    run_and_wait(widget)
    assert plots("gray") and not plots("photo")

"""Inputs a user really has, driven through the docked widget (hostile round 2).

Float microscopy images with the default feature view, a dask stack with its own channel axis, and the
names of the channels of a layer whose axes napari numbered itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant import quantize
from napari_colorquant.samples import load_sample


def _float_image(nan: bool) -> np.ndarray:
    image = np.random.default_rng(0).random((60, 70)).astype(np.float32)
    if nan:
        image[:5] = np.nan
        image[5:8] = np.inf
    return image


@pytest.mark.parametrize("view", ["separate window", "same viewer"])
@pytest.mark.parametrize("nan", [False, True])
def test_float_gray_image_with_the_feature_view(make_viewer, dock, run_and_wait, notifications, view, nan):
    # A float32 image (e.g. a deconvolved or normalised microscopy plane) with the default view: the histogram
    # of a float image was sampled as if the run kept no counts, and the run failed after adding its layers.
    viewer = make_viewer()
    image = _float_image(nan)
    viewer.add_image(image, name="flt")
    widget = dock(viewer)
    widget.n_clusters.value = 3
    widget.feature_view.value = view
    try:
        run_and_wait(widget)
        assert notifications["error"] == []
        assert widget.status.value.startswith("done"), widget.report.value
        assert "PSNR" in widget.report.value
        shown = widget.feature_viewer if view == "separate window" else viewer
        histogram = shown.layers["flt histogram"]
        # The histogram counts every valid pixel once.
        assert len(histogram.data) > 0
        expected = quantize(image, 3)
        np.testing.assert_array_equal(viewer.layers["flt clusters"].data, expected.labels)
    finally:
        widget.close_feature_viewer()


def test_dask_stack_with_its_own_channel_axis(make_viewer, dock, run_and_wait, notifications):
    # A ZCYX stack opened lazily (dask) with channel axis 1: building the per-channel quantized layers
    # raised "'Array' object has no attribute 'take'".
    da = pytest.importorskip("dask.array")
    viewer = make_viewer()
    stack = load_sample("kidney")[:4]
    viewer.add_image(da.from_array(stack, chunks=(2, 3, 64, 64)), name="stack")
    widget = dock(viewer)
    widget.channel_axis.value = 1
    widget.n_clusters.value = 4
    widget.feature_view.value = "none"
    run_and_wait(widget)
    assert notifications["error"] == []
    assert widget.status.value.startswith("done"), widget.report.value
    expected = quantize(stack, channel_axis=1, **widget.controls.params())
    # lined up with the stack: its channel axis kept, of length 1
    np.testing.assert_array_equal(np.asarray(viewer.layers["stack clusters"].data)[:, 0], expected.labels)
    for c in range(3):
        layer = viewer.layers[f"stack ch{c} quantized"]
        np.testing.assert_array_equal(np.asarray(layer.data)[:, 0], expected.quantized[:, c])


def test_channels_of_numbered_axes_are_named_ch(make_viewer, dock, run_and_wait):
    # napari numbers unlabelled axes "-4", "-3", …: channels were named "stack -30", "stack -31" (minus thirty).
    viewer = make_viewer()
    viewer.add_image(load_sample("kidney")[:2, :, :32, :32], name="stack")
    widget = dock(viewer)
    widget.channel_axis.value = 1
    widget.n_clusters.value = 3
    widget.feature_view.value = "none"
    run_and_wait(widget)
    names = [layer.name for layer in viewer.layers]
    assert names == ["stack", "stack clusters", "stack ch0 quantized", "stack ch1 quantized", "stack ch2 quantized"]


@pytest.mark.parametrize("kind", ["shapes", "labels"])
def test_a_2d_mask_over_a_stack_masks_every_plane(make_viewer, dock, run_and_wait, notifications, kind):
    # napari draws a 2-D Shapes or Labels layer on every plane of a stack; as a mask it failed with napari's
    # "mask shape length must either be 2 or the same as the dimensionality of the shape, expected 2 got 3".
    viewer = make_viewer()
    stack = load_sample("kidney")[:4, 0]  # Z, Y, X
    viewer.add_image(stack, name="stack")
    plane = np.zeros(stack.shape[1:], bool)
    plane[20:90, 30:100] = True
    if kind == "shapes":
        mask_layer = viewer.add_shapes([np.array([[20, 30], [20, 99], [89, 99], [89, 30]])], name="region")
    else:
        mask_layer = viewer.add_labels(plane.astype(np.uint8), name="region")
    widget = dock(viewer)
    widget.image.value = viewer.layers["stack"]
    widget.mask.value = mask_layer
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    run_and_wait(widget)
    assert notifications["error"] == [], notifications["error"]
    labels = np.asarray(viewer.layers["stack clusters"].data)
    inside = np.broadcast_to(plane, stack.shape)
    assert (labels[~inside] == 0).all() and (labels[inside] > 0).all()
    expected = quantize(
        stack, 3, mask=inside, **{k: v for k, v in widget.controls.params().items() if k != "n_clusters"}
    )
    np.testing.assert_array_equal(labels, expected.labels)


def test_a_3d_mask_over_a_2d_image_is_refused_clearly(make_viewer, dock, run_and_wait, notifications):
    viewer = make_viewer()
    viewer.add_image(load_sample("plate"), name="plate")
    region = viewer.add_labels(np.ones((2, 54, 151), np.uint8), name="region 3d")
    widget = dock(viewer)
    widget.image.value = viewer.layers["plate"]
    widget.mask.value = region
    widget.feature_view.value = "none"
    run_and_wait(widget)
    assert notifications["error"] == ["napari-colorquant: mask layer 'region 3d' has 3 dimensions; the image's pixel "
                                      "grid (54, 151) has 2: draw the mask in a 2-D layer"]  # fmt: skip


def test_bool_image_gives_a_bool_quantized_layer_that_saves_as_bool(make_viewer, dock, run_and_wait, notifications,
                                                                       tmp_path):  # fmt: skip
    # A mask opened as an image: its quantized layer was uint8 0 / 1 (shown and saved as nearly black).
    from PIL import Image

    viewer = make_viewer()
    mask = np.random.default_rng(3).random((40, 50)) > 0.3
    viewer.add_image(mask, name="mask")
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 2, "none"
    run_and_wait(widget)
    assert notifications["error"] == [] and widget.status.value.startswith("done"), widget.report.value
    quantized = viewer.layers["mask quantized"]
    assert quantized.data.dtype == bool
    np.testing.assert_array_equal(quantized.data, quantize(mask, 2).quantized)
    (written,) = quantized.save(str(tmp_path / "mask.png"), plugin="napari-colorquant")
    with Image.open(written) as png:
        np.testing.assert_array_equal(np.asarray(png), mask)

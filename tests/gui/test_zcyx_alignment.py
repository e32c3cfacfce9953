"""One layer holding channels after other axes (ZCYX, TZCYX, ZYXC): the outputs line up with it in the viewer.

napari lines layers up by their last axes: Z, Y, X outputs of a Z, C, Y, X layer fell on its C, Y, X axes (the
clusters' plane z = 1 was shown over the input's z = 7). The outputs now keep the channel axis as one pixel
spanning the channels; these tests look at what the viewer shows (the layers' slices) at several slider positions.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_colorquant import ClusterModel, apply_model, quantize
from napari_colorquant.samples import load_sample

SCALE, TRANSLATE = (2.0, 1.0, 0.5, 0.5), (5.0, 0.0, 1.0, 2.0)


def _zcyx(size=40):
    return load_sample("kidney")[:, :, :size, :size]  # (8, 3, size, size) uint16, ImageJ's axis order


def _shown(viewer, layer, step):
    """What ``layer`` shows with the sliders at ``step`` (one index per world axis; None: displayed)."""
    for axis, index in enumerate(step):
        if index is not None:
            viewer.dims.set_current_step(axis, index)
    return np.asarray(layer._slice.image.raw)


def test_zcyx_outputs_show_the_right_plane_at_every_z_and_channel(cluster_stack, notifications):
    zcyx = _zcyx()
    viewer, widget = cluster_stack(zcyx, 1, widget_name="EM clustering", scale=SCALE, translate=TRANSLATE)
    stack = viewer.layers["stack"]
    expected = quantize(zcyx, channel_axis=1, **widget.controls.params())
    clusters = viewer.layers["stack clusters"]
    quantized = [viewer.layers[f"stack ch{c} quantized"] for c in range(3)]
    assert viewer.dims.nsteps == (8, 3, 40, 40)  # the outputs add no slider positions
    for z in (0, 1, 4, 7):
        for c in (0, 1, 2):
            np.testing.assert_array_equal(_shown(viewer, stack, (z, c, None, None)), zcyx[z, c])
            np.testing.assert_array_equal(np.asarray(clusters._slice.image.raw), expected.labels[z], f"z={z} c={c}")
            for k, layer in enumerate(quantized):  # every channel's quantized plane, whichever channel is shown
                np.testing.assert_array_equal(np.asarray(layer._slice.image.raw), expected.quantized[z, k])
            point = np.round(clusters.world_to_data(viewer.dims.point)).astype(int)
            assert tuple(point[:2]) == (z, 0)
    # The other axes keep the input's placement exactly; the channel axis is one pixel as wide as the channels.
    assert clusters.data.shape == (8, 1, 40, 40)
    np.testing.assert_array_equal(clusters.data[:, 0], expected.labels)
    np.testing.assert_allclose(clusters.scale, (2.0, 3.0, 0.5, 0.5))
    np.testing.assert_allclose(clusters.translate, (5.0, 1.0, 1.0, 2.0))
    np.testing.assert_allclose(clusters.affine.affine_matrix, stack.affine.affine_matrix)
    assert tuple(clusters.axis_labels) == tuple(stack.axis_labels)
    assert not notifications["warning"]  # the old "outputs do not line up" warning is gone: they do


def test_em_posterior_of_a_zcyx_stack_lines_up(make_viewer, dock, run_and_wait):
    zcyx = _zcyx(24)
    viewer = make_viewer()
    viewer.add_image(zcyx, name="stack")
    widget = dock(viewer, "EM clustering")
    widget.channel_axis.value = 1
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    widget.posterior.value = "max posterior"
    run_and_wait(widget)
    model = ClusterModel.from_dict(viewer.layers["stack clusters"].metadata["colorquant"]["model"])
    posterior = viewer.layers["stack posterior"]
    assert posterior.data.shape == (8, 1, 24, 24)
    for z, c in ((2, 0), (6, 2)):
        shown = _shown(viewer, posterior, (z, c, None, None))
        np.testing.assert_allclose(shown, model.predict_proba(zcyx[z], channel_axis=0).max(axis=-1), rtol=1e-5)


def test_painting_the_clusters_at_any_channel_changes_that_z_plane(cluster_stack):
    viewer, _ = cluster_stack(_zcyx(), 1, scale=SCALE, translate=TRANSLATE)
    clusters = viewer.layers["stack clusters"]
    before = np.array(clusters.data)
    _shown(viewer, clusters, (5, 2, None, None))  # channel 2 on screen
    world = list(viewer.dims.point)
    world[2], world[3] = TRANSLATE[2] + 0.5 * 20, TRANSLATE[3] + 0.5 * 10  # pixel y = 20, x = 10
    clusters.brush_size = 1
    clusters.paint(clusters.world_to_data(world), 9)
    changed = np.argwhere(np.asarray(clusters.data) != before)
    assert changed.tolist() == [[5, 0, 20, 10]]


@pytest.mark.parametrize(
    ("order", "axis", "step"),
    [
        ("czyx", 0, (1, 3, None, None)),  # channels first: the outputs are the layer's last axes, as before
        ("zyxc", 3, (6, None, None, 1)),  # channels last (2 of them: not RGB), Y and X on screen
        ("tzcyx", 2, (1, 5, 1, None, None)),
    ],
)
def test_other_channel_axis_positions_line_up(cluster_stack, order, axis, step):
    zcyx = _zcyx(24)
    if order == "czyx":
        data = np.ascontiguousarray(np.moveaxis(zcyx, 1, 0))
    elif order == "zyxc":
        data = np.ascontiguousarray(np.moveaxis(zcyx[:, :2], 1, -1))
    else:
        data = np.stack([zcyx, zcyx[::-1]])  # two time points
    viewer, widget = cluster_stack(data, axis, rgb=False)
    if order == "zyxc":
        viewer.dims.order = (0, 3, 1, 2)  # show Y, X; Z and C on sliders
    expected = quantize(data, channel_axis=axis, **widget.controls.params()).labels
    clusters = viewer.layers["stack clusters"]
    stack = viewer.layers["stack"]
    plane = tuple(index for i, index in enumerate(step) if index is not None and i != axis)
    shown = _shown(viewer, clusters, step)
    np.testing.assert_array_equal(shown, expected[plane])
    channel_plane = tuple(slice(None) if index is None else index for index in step)
    np.testing.assert_array_equal(np.asarray(stack._slice.image.raw), data[channel_plane])
    if axis == 0:
        assert clusters.data.shape == expected.shape  # unchanged: no axis was needed
    else:
        assert clusters.data.shape[axis] == 1


def test_fit_on_the_slice_on_screen_and_apply_the_model_line_up(make_viewer, dock, run_and_wait, qtbot):
    zcyx = _zcyx(32)
    viewer = make_viewer()
    viewer.add_image(zcyx, name="stack", scale=SCALE)
    other = viewer.add_image(zcyx[::-1].copy(), name="other", scale=SCALE)
    widget = dock(viewer)
    widget.image.value = viewer.layers["stack"]
    widget.channel_axis.value = 1
    widget.scope.value = "current slice"
    widget.n_clusters.value, widget.feature_view.value = 3, "none"
    viewer.dims.set_current_step(0, 5)
    viewer.dims.set_current_step(1, 2)
    run_and_wait(widget)
    clusters = viewer.layers["stack clusters"]
    model = ClusterModel.from_dict(clusters.metadata["colorquant"]["model"])
    np.testing.assert_allclose(model.means, quantize(zcyx[5], channel_axis=0, **widget.controls.params()).model.means)
    labels = apply_model(model, zcyx, channel_axis=1).labels
    widget.apply_target.value = other
    widget.apply_to_target()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    applied = viewer.layers["other clusters"]
    for z, c in ((0, 1), (5, 2), (7, 0)):
        np.testing.assert_array_equal(_shown(viewer, clusters, (z, c, None, None)), labels[z])
        np.testing.assert_array_equal(np.asarray(applied._slice.image.raw), labels[::-1][z])


def test_live_preview_and_repeat_runs_update_the_lined_up_layers_in_place(
    cluster_stack, run_and_wait, qtbot, monkeypatch
):
    from napari_colorquant._napari import widget as widget_module

    monkeypatch.setattr(widget_module, "LIVE_MAX_SECONDS", 30.0)  # a loaded machine must not turn live preview off
    zcyx = _zcyx(24)
    viewer, widget = cluster_stack(zcyx, 1)
    first, quantized = viewer.layers["stack clusters"], viewer.layers["stack ch2 quantized"]
    widget.live.value = True
    widget.n_clusters.value = 4  # live preview re-runs by itself
    qtbot.waitUntil(lambda: first.data.max() == 4 and widget.worker is None, timeout=20_000)
    assert viewer.layers["stack clusters"] is first and viewer.layers["stack ch2 quantized"] is quantized
    expected = quantize(zcyx, channel_axis=1, **widget.controls.params())
    np.testing.assert_array_equal(_shown(viewer, first, (6, 1, None, None)), expected.labels[6])
    np.testing.assert_array_equal(np.asarray(quantized._slice.image.raw), expected.quantized[6, 2])
    widget.live.value = False
    widget.n_clusters.value = 2
    run_and_wait(widget)
    assert viewer.layers["stack clusters"] is first and first.data.shape == (8, 1, 24, 24)
    expected = quantize(zcyx, channel_axis=1, **widget.controls.params()).labels
    np.testing.assert_array_equal(_shown(viewer, first, (2, 0, None, None)), expected[2])


def test_saved_outputs_of_a_zcyx_stack_are_z_y_x(cluster_stack, tmp_path):
    zcyx = _zcyx(24)
    # napari's own reader numbers the axes (-4 .. -1): the file's axes come from their order, Z, Y, X, and their
    # pixel sizes from the layer's scale (not the spanning axis's: 3 channels x 1 µm would be the z size)
    viewer, widget = cluster_stack(zcyx, 1, scale=SCALE, units=("µm",) * 4)
    expected = quantize(zcyx, channel_axis=1, **widget.controls.params())
    for name, values in (("clusters", expected.labels), ("ch1 quantized", expected.quantized[:, 1])):
        viewer.layers.selection = {viewer.layers[f"stack {name}"]}
        written = viewer.layers.save(str(tmp_path / f"{name.replace(' ', '_')}.tif"), selected=True)
        with tifffile.TiffFile(written[0]) as tif:
            read, axes, ome = tif.asarray(), tif.series[0].axes, tif.ome_metadata
        assert axes == "ZYX", axes
        assert 'PhysicalSizeZ="2.0"' in ome and 'PhysicalSizeX="0.5"' in ome
        np.testing.assert_array_equal(read, values)
    zarr = pytest.importorskip("zarr")
    from napari_colorquant.ome import read_axes

    written = viewer.layers["stack clusters"].save(str(tmp_path / "clusters.ome.zarr"), plugin="napari-colorquant")
    info = read_axes(written[0])
    assert info.axes == "ZYX" and info.scale == (2.0, 0.5, 0.5), info
    np.testing.assert_array_equal(zarr.open_array(written[0] + "/0", mode="r")[...], expected.labels)


def test_explorer_layers_and_a_mask_from_them_line_up(cluster_stack, run_and_wait):
    import napari_colorquant as ncq

    zcyx = _zcyx(24)
    viewer, widget = cluster_stack(zcyx, 1, scale=SCALE)
    clusters = viewer.layers["stack clusters"]
    labels = np.asarray(clusters.data)[:, 0]
    explorer = ncq.feature_explorer(viewer)
    mask_layer = explorer.clusters_to_mask([1])
    assert mask_layer.data.shape == clusters.data.shape
    np.testing.assert_allclose(mask_layer.scale, clusters.scale)
    np.testing.assert_allclose(mask_layer.translate, clusters.translate)
    explorer.show_axes(0, 1)
    selection = explorer.select_polygon([(-1, -1), (70000, -1), (70000, 70000), (-1, 70000)])  # every pixel
    assert selection.data.shape == clusters.data.shape and np.asarray(selection.data).all()
    np.testing.assert_array_equal(_shown(viewer, mask_layer, (3, 2, None, None)), labels[3] == 1)
    # a Labels layer lined up with the stack (here a copy of the mask: the plugin's own layers are not offered as
    # masks) masks the next run; so does one of the stack's own shape (painted over it at some channel)
    own = viewer.add_labels(np.array(mask_layer.data), name="own mask", scale=mask_layer.scale,
                            translate=mask_layer.translate)  # fmt: skip
    assert explorer.brush(own) == (labels == 1).sum()  # as a brush in the explorer: the pixels of that region
    explorer.brush(None)
    widget.mask.value = own
    run_and_wait(widget)
    masked = np.asarray(viewer.layers["stack clusters"].data)[:, 0]
    assert np.all(masked[labels != 1] == 0) and np.all(masked[labels == 1] > 0)
    full = np.zeros(zcyx.shape, np.uint8)
    full[:, 2] = labels == 1  # drawn at channel 2 only: the pixel is in the mask
    widget.mask.value = viewer.add_labels(full, name="full mask", scale=SCALE)
    run_and_wait(widget)
    np.testing.assert_array_equal(np.asarray(viewer.layers["stack clusters"].data)[:, 0], masked)


def test_a_shapes_mask_drawn_over_a_zcyx_stack_masks_its_plane_whatever_the_channel(cluster_stack, run_and_wait):
    zcyx = _zcyx(24)
    viewer, widget = cluster_stack(zcyx, 1)
    # drawn with z = 3 and channel 1 on the sliders (napari gives a new Shapes layer the viewer's 4 axes)
    region = viewer.add_shapes([np.array([[3, 1, 4, 5], [3, 1, 4, 15], [3, 1, 12, 15], [3, 1, 12, 5]])], name="region")
    widget.mask.value = region
    run_and_wait(widget)
    labels = np.asarray(viewer.layers["stack clusters"].data)[:, 0]
    inside = np.zeros(labels.shape, bool)
    inside[3, 4:13, 5:16] = True
    assert np.all(labels[~inside] == 0) and np.all(labels[inside] > 0)

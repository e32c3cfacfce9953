"""A layer rotated or sheared among its image axes, clustered along its channel axis: the outputs (which drop the
channel axis, or keep it as one spanning pixel) are placed with the same rotation and shear, so they are drawn over
the input's pixels. Only a rotation or shear that mixes the channel axis in is refused: then the channels do not
lie over the same pixels."""

from __future__ import annotations

import numpy as np
import pytest

ANGLE = np.radians(30)
ROTATE_YX = np.array([[1, 0, 0], [0, np.cos(ANGLE), -np.sin(ANGLE)], [0, np.sin(ANGLE), np.cos(ANGLE)]])
SHEAR_YX = [0.0, 0.0, 0.3]  # the upper-triangular entries (c-y, c-x, y-x) of a 3-D layer's shear
SCALE, TRANSLATE = (1.0, 0.5, 0.7), (0.0, 5.0, -3.0)


def _cyx():
    """Three channels; channel 0 has a bright rectangle off the centre, which the clusters must find in place."""
    rng = np.random.default_rng(4)
    image = rng.integers(100, 300, (3, 60, 80)).astype(np.uint16)
    image[0, 8:30, 44:72] += 4000
    image[1, 40:, :20] += 3000
    return image


def test_outputs_of_a_rotated_sheared_cyx_layer_lie_over_its_pixels(cluster_stack, notifications):
    data = _cyx()
    placement = {"rotate": ROTATE_YX, "shear": SHEAR_YX, "scale": SCALE, "translate": TRANSLATE}
    viewer, widget = cluster_stack(data, 0, True, **placement)
    assert widget.status.value != "failed" and not notifications["error"]
    stack, clusters = viewer.layers["stack"], viewer.layers["stack clusters"]
    assert clusters.data.shape == (60, 80)
    # every pixel of the labels sits where that pixel of each channel of the input sits in the world
    for y, x in ((0, 0), (59, 0), (0, 79), (17, 55), (59, 79)):
        for c in range(3):
            np.testing.assert_allclose(clusters.data_to_world((y, x)), stack.data_to_world((c, y, x))[1:], atol=1e-9)
    # what is drawn: the rectangle of channel 0 and its cluster cover the same canvas pixels
    viewer.dims.set_current_step(0, 0)
    rectangle_label = int(clusters.data[18, 58])
    assert set(np.unique(clusters.data[8:30, 44:72]).tolist()) == {rectangle_label}
    for layer in viewer.layers:
        layer.visible = False
    stack.visible, stack.colormap, stack.contrast_limits = True, "gray", (2000, 2001)
    viewer.reset_view()
    shown_input = _bright(viewer)
    stack.visible, clusters.visible = False, True
    from napari.utils import DirectLabelColormap

    clusters.colormap = DirectLabelColormap(color_dict={None: (0, 0, 0, 0), rectangle_label: (1, 1, 1, 1)})
    shown_clusters = _bright(viewer)
    assert shown_input.sum() > 2000  # the rectangle is on screen, rotated and sheared
    differ = np.count_nonzero(shown_input != shown_clusters)
    assert differ <= 0.005 * shown_input.sum()  # the same pixels (0 of 3253 differed here), up to rasterisation


def _bright(viewer) -> np.ndarray:
    shot = np.asarray(viewer.screenshot(canvas_only=True, flash=False))
    return shot[..., :3].min(axis=-1) > 200


def test_a_rotated_zcyx_stack_keeps_its_spanning_channel_pixel_and_its_rotation(cluster_stack):
    data = np.stack([_cyx()] * 2)  # Z, C, Y, X
    angle = np.radians(-20)
    rotate = np.eye(4)
    rotate[2:, 2:] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    viewer, _ = cluster_stack(data, 1, rotate=rotate, scale=(2.0, 1.0, 0.5, 0.5))
    stack, clusters = viewer.layers["stack"], viewer.layers["stack clusters"]
    assert clusters.data.shape == (2, 1, 60, 80)
    for z, y, x in ((0, 0, 0), (1, 17, 55), (1, 59, 79)):
        for c in range(3):
            world = stack.data_to_world((z, c, y, x))
            mine = clusters.data_to_world((z, 0, y, x))
            np.testing.assert_allclose(np.delete(mine, 1), np.delete(world, 1), atol=1e-9)
            assert round(float(clusters.world_to_data(world)[1])) == 0  # every channel falls on the one pixel


@pytest.mark.parametrize("across", ["rotate", "shear"])
def test_a_rotation_or_shear_across_the_channel_axis_is_refused_saying_why(cluster_stack, notifications, across):
    angle = np.radians(10)
    mixed = {
        "rotate": {
            "rotate": np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
        },
        "shear": {"shear": [0.2, 0.0, 0.0]},  # c-y
    }[across]
    viewer, widget = cluster_stack(_cyx(), 0, **mixed)
    assert widget.status.value == "failed"
    assert f"this layer's {across} mixes its channel axis (axis 0) with the others" in widget.report.value
    assert "stack clusters" not in [layer.name for layer in viewer.layers]

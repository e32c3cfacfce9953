"""A mask applies where napari draws it: Shapes drawn on a layer with another scale or translate are
rasterized on the image's pixel grid through napari's transforms; a Labels mask placed elsewhere than
the image is refused with a message, not applied by pixel index."""

from __future__ import annotations

import numpy as np
import pytest


def _layer(viewer, name):
    return viewer.layers[name]


def _image(viewer):
    """A 60 x 80 gray image shown at 0.5 units per pixel, shifted by (10, 20)."""
    data = np.random.default_rng(0).integers(0, 255, (60, 80), dtype=np.uint8)
    return viewer.add_image(data, name="cells", scale=(0.5, 0.5), translate=(10.0, 20.0))


def test_shapes_mask_on_a_layer_of_other_scale_masks_the_pixels_under_it(
    make_viewer, dock, qtbot, run_and_wait, notifications
):
    viewer = make_viewer()
    image = _image(viewer)
    # Drawn on a layer of 1 unit per pixel at the origin: the square covers world (15..25, 30..40), which is
    # the image's pixels rows 10..30, columns 20..40 (world = 10 + 0.5 row, 20 + 0.5 column).
    square = np.array([[15.0, 30.0], [15.0, 40.0], [25.0, 40.0], [25.0, 30.0]])
    shapes = viewer.add_shapes([square], shape_type="polygon", name="region")
    widget = dock(viewer)
    widget.image.value = image
    widget.mask.value = shapes
    widget.n_clusters.value, widget.feature_view.value = 2, "none"
    run_and_wait(widget)
    assert notifications["error"] == []
    labels = np.asarray(_layer(viewer, "cells clusters").data)
    inside = labels > 0
    rows, columns = np.nonzero(inside)
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (10, 30, 20, 40)
    # Independent reference: the pixels whose centres napari maps inside the square.
    world_rows = 10 + 0.5 * np.arange(60)
    world_columns = 20 + 0.5 * np.arange(80)
    expected = ((world_rows >= 15) & (world_rows <= 25))[:, None] & ((world_columns >= 30) & (world_columns <= 40))[
        None, :
    ]
    np.testing.assert_array_equal(inside, expected)


def test_shapes_mask_with_the_image_placement_is_unchanged(make_viewer, dock, qtbot, run_and_wait):
    viewer = make_viewer()
    image = _image(viewer)
    corners = np.array([[5.0, 6.0], [5.0, 30.0], [40.0, 30.0], [40.0, 6.0]])  # in the image's pixels
    shapes = viewer.add_shapes([corners], shape_type="rectangle", scale=image.scale, translate=image.translate)
    widget = dock(viewer)
    widget.image.value, widget.mask.value = image, shapes
    widget.n_clusters.value, widget.feature_view.value = 2, "none"
    run_and_wait(widget)
    inside = np.asarray(_layer(viewer, "cells clusters").data) > 0
    np.testing.assert_array_equal(inside, shapes.to_labels(labels_shape=(60, 80)) > 0)


@pytest.mark.parametrize("placement", [{"scale": (1.0, 1.0)}, {"scale": (0.5, 0.5), "translate": (0.0, 0.0)}])
def test_labels_mask_placed_elsewhere_is_refused_with_a_message(
    make_viewer, dock, qtbot, run_and_wait, notifications, placement
):
    viewer = make_viewer()
    image = _image(viewer)
    mask = np.zeros((60, 80), dtype=np.uint8)
    mask[:30] = 1
    labels = viewer.add_labels(mask, name="drawn", **placement)
    widget = dock(viewer)
    widget.image.value, widget.mask.value = image, labels
    widget.n_clusters.value, widget.feature_view.value = 2, "none"
    run_and_wait(widget)
    (message,) = notifications["error"]
    assert "mask layer 'drawn' lies elsewhere on the canvas than image 'cells'" in message
    assert "give it the image's scale, translate" in message
    assert [layer.name for layer in viewer.layers] == ["cells", "drawn"]


def test_labels_mask_made_by_napari_for_the_image_is_applied(make_viewer, dock, qtbot, run_and_wait, notifications):
    viewer = make_viewer()
    image = _image(viewer)
    viewer.layers.selection.active = image
    viewer._new_labels()  # what napari's "new labels layer" button does: the image's placement
    drawn = viewer.layers[-1]
    drawn.data[:, :40] = 1
    widget = dock(viewer)
    widget.image.value, widget.mask.value = image, drawn
    widget.n_clusters.value, widget.feature_view.value = 2, "none"
    run_and_wait(widget)
    assert notifications["error"] == []
    inside = np.asarray(_layer(viewer, "cells clusters").data) > 0
    assert inside[:, :40].all() and not inside[:, 40:].any()

"""A clusters layer the user has painted on: merges, masks, re-runs and undo (issue 13, second hostile pass).

napari lets the user paint any label on the clusters layer (the writers even colour labels above K); the
explorer's actions and a repeat run must neither fail on such labels nor bring back labels of an older result.
"""

from __future__ import annotations

import numpy as np
import pytest

import napari_colorquant as ncq
from napari_colorquant.samples import load_sample


@pytest.fixture
def painted(make_viewer, dock, run_and_wait):
    """A photo clustered with K = 4, its clusters layer painted with label 99 (above K) at the top-left."""
    viewer = make_viewer()
    viewer.add_image(np.ascontiguousarray(load_sample("china")[::8, ::8]), name="photo", rgb=True)
    widget = dock(viewer)
    widget.n_clusters.value, widget.feature_view.value = 4, "none"
    run_and_wait(widget)
    layer = viewer.layers["photo clusters"]
    layer.paint((4, 4), 99, refresh=False)
    return viewer, widget, layer, layer.data == 99


def test_merge_keeps_a_label_painted_above_k(painted):
    viewer, _, layer, where = painted
    before = layer.data.copy()
    explorer = ncq.feature_explorer(viewer)
    merged = explorer.merge_clusters([2, 3])
    assert merged.data.max() == 99 and np.array_equal(merged.data == 99, where)
    outside = ~where
    # Every other pixel is relabelled by the merge's mapping: clusters 2 and 3 share one label, others keep theirs.
    pairs = set(zip(before[outside].tolist(), merged.data[outside].tolist(), strict=True))
    assert len({new for old, new in pairs if old in (2, 3)}) == 1 and len(pairs) == 4


def test_mask_of_clusters_leaves_out_a_label_painted_above_k(painted):
    viewer, _, layer, where = painted
    mask = ncq.feature_explorer(viewer).clusters_to_mask([1, 2])
    np.testing.assert_array_equal(mask.data.astype(bool), np.isin(layer.data, [1, 2]))
    assert not mask.data[where].any()


def test_undo_after_a_rerun_does_not_bring_back_the_old_labels(painted, run_and_wait):
    viewer, widget, layer, _ = painted
    image = viewer.layers["photo"].data
    layer.undo()  # start again: one stroke where the K = 4 and K = 6 labels differ
    old = layer.data.copy()
    differ = np.argwhere(ncq.quantize(image, 6).labels != old)
    layer.paint(tuple(differ[len(differ) // 2]), 99, refresh=False)
    widget.n_clusters.value = 6
    run_and_wait(widget)
    assert viewer.layers["photo clusters"] is layer  # updated in place
    fresh = layer.data.copy()
    layer.undo()  # Ctrl-Z: the stroke was made on the K = 4 labels, which are no longer shown
    np.testing.assert_array_equal(layer.data, fresh)


def test_undo_after_a_merge_does_not_bring_back_the_unmerged_labels(painted):
    viewer, _, layer, _ = painted
    merged = ncq.feature_explorer(viewer).merge_clusters([1, 2]).data.copy()
    layer.undo()
    np.testing.assert_array_equal(layer.data, merged)
    assert layer.data.max() == 99 or not (layer.data == 4).any()

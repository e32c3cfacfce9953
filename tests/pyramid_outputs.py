"""A check shared by the pyramid tests: every output level is the fitted model applied to that input level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

from napari_colorquant import apply_model


def assert_levels_are_the_model_applied(out: Path, stem: str, model, levels, n_clusters: int) -> None:
    """Each level of ``out/<stem>_labels.ome.zarr`` and ``..._quantized.ome.zarr`` against ``apply_model``."""
    for index, level in enumerate(levels):
        labels = zarr.open_array(str(out / f"{stem}_labels.ome.zarr" / str(index)), mode="r")[...]
        quantized = zarr.open_array(str(out / f"{stem}_quantized.ome.zarr" / str(index)), mode="r")[...]
        expected = apply_model(model, level, channel_axis=0)
        np.testing.assert_array_equal(labels, expected.labels)
        np.testing.assert_array_equal(quantized, expected.quantized)
        # never an average of label numbers: every level's labels are clusters 1..K
        assert set(np.unique(labels).tolist()) <= set(range(1, n_clusters + 1))
        # each pixel's colour its own cluster's (channels first)
        np.testing.assert_array_equal(np.moveaxis(quantized, 0, -1), np.rint(model.palette[labels - 1]))

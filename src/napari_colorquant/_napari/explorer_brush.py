"""Brushing: a Shapes or Labels region drawn on the image overlays the density of its own pixels.

A mixin of :class:`~.explorer.FeatureExplorer` (which holds ``viewer``, ``data``, ``plot``, ``status``
and the ``brush_layer`` choice).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import explore
from .layers import off_input_axes

if TYPE_CHECKING:
    import napari


class Brushing:
    """Overlay a region's density on the plot and follow the region's edits."""

    # --- brushing ----------------------------------------------------------------------------
    def brush(self, layer: napari.layers.Layer | None) -> float | None:
        """Overlay the density of the pixels inside a Shapes or Labels ``layer`` (None removes it).

        The overlay follows the layer as it is edited.

        Parameters
        ----------
        layer : napari.layers.Shapes, napari.layers.Labels or None
            The region drawn on the image.

        Returns
        -------
        float or None
            The number of valid pixels inside, or None when they are counted in a worker (a lazy image,
            or a region of at least ``BACKGROUND_PIXELS`` pixels): the overlay appears when the count is done.
        """
        self._require_current()
        if self._brushed is not None:
            self._brushed.events.data.disconnect(self._update_brush)
        self._brushed = layer
        if layer is not None:
            layer.events.data.connect(self._update_brush)
        return self._update_brush()

    def _update_brush(self, *_) -> float | None:
        from .explorer_background import BACKGROUND_PIXELS

        layer = self._brushed
        if layer is None or self.data is None:
            self.plot.show_brush(None, None)
            return 0.0
        shape = tuple(self.data.spatial_shape)
        if hasattr(layer, "to_labels"):  # Shapes
            region = layer.to_labels(labels_shape=shape) > 0 if len(layer.data) else np.zeros(shape, bool)
        else:
            region = np.asarray(layer.data) != 0
        if region.ndim == len(shape) + 1:  # a layer lined up with a ZCYX input (its clusters, mask, selection)
            region = off_input_axes(region, getattr(self, "_channel_span", None))
        data, name = self.data, layer.name

        def done(out) -> float:
            features, counts = out
            self.plot.show_brush(features, counts)
            self.status.setText(f"brush {name!r}: {counts.sum():,.0f} pixels")
            return float(counts.sum())

        def compute():
            return explore.region_values(data, region)

        if data.lazy or np.count_nonzero(region) >= BACKGROUND_PIXELS:  # a count of the region's pixels
            self._in_background("brush", compute, done, f"counting the pixels of {name!r}…")
            return None
        return done(compute())

    def _refresh_brush_choices(self, *_) -> None:
        from napari.layers import Labels, Shapes

        current = self.brush_layer.currentText()
        self.brush_layer.blockSignals(True)
        self.brush_layer.clear()
        self.brush_layer.addItem("none")
        for layer in self.viewer.layers:
            if isinstance(layer, (Labels, Shapes)) and "colorquant" not in layer.metadata:
                self.brush_layer.addItem(layer.name)
        self.brush_layer.setCurrentText(current if self.brush_layer.findText(current) >= 0 else "none")
        self.brush_layer.blockSignals(False)

    def _on_brush_choice(self, *_) -> None:
        name = self.brush_layer.currentText()
        layer = next((candidate for candidate in self.viewer.layers if candidate.name == name), None)
        if self.data is not None:
            self._guarded(self.brush, layer)

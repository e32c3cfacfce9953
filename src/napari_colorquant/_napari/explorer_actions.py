"""The explorer's actions on napari layers: selections, cluster display, merges, masks, objects, names, colours.

A mixin of :class:`~.explorer.FeatureExplorer` (which holds ``viewer``, ``data``, ``source``, ``selection``,
``plot``, ``table`` and ``status``); the maths is :mod:`napari_colorquant.explore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .. import explore
from .layers import on_input_axes, replace_data

if TYPE_CHECKING:
    import napari

SELECTION_COLOURS = {None: (0, 0, 0, 0), 0: (0, 0, 0, 0), 1: (1.0, 0.8, 0.0, 1.0)}


class LayerActions:
    """Everything the explorer adds to or changes in the viewer's layers (the public surface)."""

    # --- layers ----------------------------------------------------------------------------
    def _require_current(self) -> None:
        """Refuse an action that makes layers over the image when its data was replaced since the run.

        The selection, mask and objects are computed from the clustered pixels: over another image (or
        another size of it) they would mark the wrong pixels without a word.
        """
        self._require()
        if self.source is not None and self.source.data is not self._source_data:
            raise ValueError(
                f"the data of layer {self.source.name!r} was replaced after the clustering, so selections, "
                "masks and merges of that result would not fit it: run the clustering again"
            )

    def output_layer(self, role: str) -> napari.layers.Layer | None:
        """The output layer of this source with ``role`` (e.g. ``"clusters"``), or None.

        Parameters
        ----------
        role : str
            The layer's role in its ``colorquant`` metadata: ``"clusters"``, ``"quantized"``, ``"selection"``, ...

        Returns
        -------
        napari.layers.Layer or None
        """
        for layer in self.viewer.layers:
            info = layer.metadata.get("colorquant") or {}
            if info.get("source") == self.source.name and info.get("role") == role:
                return layer
        return None

    def cluster_colours(self) -> np.ndarray:
        """RGBA colour of each cluster as the plot and table show it.

        Returns
        -------
        ndarray (K, 4)
            A copy, in 0..1.
        """
        return self._colours.copy()

    def _layer_colours(self) -> np.ndarray:
        """RGBA colour of each cluster as the clusters layer shows it (the model's palette otherwise)."""
        model = self.data.model
        layer = self.output_layer("clusters")
        colours = np.zeros((model.n_clusters, 4))
        mapping = getattr(getattr(layer, "colormap", None), "color_dict", None)
        for k in range(model.n_clusters):
            colour = None if mapping is None else mapping.get(k + 1)
            if colour is None:
                palette = np.clip(np.asarray(model.palette[k], np.float64) / model.scale, 0, 1)
                colour = (*np.resize(palette, 3), 1.0)
            colours[k] = np.asarray(colour, np.float64)[:4]
        return colours

    def _put_layer(self, role: str, data, metadata: dict[str, Any], colormap=None):
        """Add (or update) the ``<source> <role>`` Labels layer over the source layer."""
        from napari.utils import DirectLabelColormap

        layer = self.output_layer(role)
        info = {"role": role, "source": self.source.name, **metadata}
        multiscale = isinstance(data, list)  # a pyramid's levels: on the source's own grid
        span = getattr(self, "_channel_span", None)
        if span is not None and not multiscale and np.ndim(data) < len(self._geometry.get("scale", ())):
            data = on_input_axes(data, span)  # over a ZCYX layer: lined up as the clusters are
            info["channel_span"] = span
        if layer is not None and layer.multiscale == multiscale:
            replace_data(layer, data)
            layer.metadata = {**layer.metadata, "colorquant": info}
            return layer
        if layer is not None:
            self.viewer.layers.remove(layer)
        geometry = dict(self._geometry)
        if self._downsample is not None and not multiscale:
            geometry["scale"] = np.asarray(geometry["scale"]) * self._downsample
        kwargs = {} if colormap is None else {"colormap": DirectLabelColormap(color_dict=colormap)}
        return self.viewer.add_labels(data, name=f"{self.source.name} {role}", metadata={"colorquant": info},
                                      opacity=0.7, **geometry, **kwargs)  # fmt: skip

    # --- actions (the public surface) ---------------------------------------------------------
    def select_region(
        self, region: explore.Region, mode: str = "replace", background: bool = False
    ) -> napari.layers.Labels | None:
        """Apply one selection step and update the ``<image> selection`` layer.

        With ``background`` (the plot's gestures), an in-memory image of at least ``BACKGROUND_PIXELS``
        pixels is looked up in a worker: the layer appears when it is done.

        Parameters
        ----------
        region : explore.Region
            The region, in feature units.
        mode : {"replace", "add", "subtract"}
            How it combines with the current selection.
        background : bool
            Look big images up in a worker thread.

        Returns
        -------
        napari.layers.Labels or None
            The selection layer; None when the look-up runs in the background.

        Raises
        ------
        ValueError
            Before a run (the explorer has no result yet).
        """
        from .explorer_background import BACKGROUND_PIXELS

        self._require_current()
        self.selection = self.selection.then(region, mode)
        self.plot.show_selection(self.selection.steps)
        data, selection, levels = self.data, self.selection, self._levels

        def compute():
            per_value = explore.selected_values(data, selection)
            share = float(data.counts[per_value].sum()) / max(data.n_pixels, 1.0)
            if levels is not None:  # a pyramid: every level, lazily
                return explore.selection_levels(data, selection, levels), share
            return explore.selection_pixels(data, per_value, selection), share

        def done(out):
            return self._show_selection(selection, *out)

        if background and not data.lazy and np.prod(data.spatial_shape) >= BACKGROUND_PIXELS:
            n = int(np.prod(data.spatial_shape))
            self._in_background("selection", compute, done, f"selecting… ({n:,} pixels)")
            return None
        return done(compute())

    def _show_selection(self, selection: explore.Selection, mask, share: float):
        self.status.setText(f"selection: {100 * share:.2f} % of the counted pixels ({len(selection.steps)} step(s))")
        return self._put_layer("selection", mask, {"selection": selection.to_list(), "fraction": share},
                               SELECTION_COLOURS)  # fmt: skip

    def _fitted_level(self, levels):
        """The level of a multiscale layer's data on the explorer's pixel grid (the fitted one)."""
        grid = tuple(self.data.spatial_shape)
        return next((level for level in levels if tuple(level.shape) == grid), levels[0])

    def select_polygon(self, vertices: ArrayLike, mode: str = "replace") -> napari.layers.Labels:
        """Select the pixels whose shown features fall inside ``vertices`` (in those features' units).

        Parameters
        ----------
        vertices : array_like (n, 2)
            Polygon vertices on the shown (x, y) features.
        mode : {"replace", "add", "subtract"}
            How it combines with the current selection.

        Returns
        -------
        napari.layers.Labels
            The ``<image> selection`` layer.

        Raises
        ------
        ValueError
            Before a run (the explorer has no result yet).
        """
        self._require()
        return self.select_region(explore.Region("polygon", self._axes, vertices), mode)

    def select_clusters(self, labels: Sequence[int]) -> napari.layers.Labels:
        """Show only ``labels`` in the clusters layer (napari's selected-label display for one label).

        Parameters
        ----------
        labels : sequence of int
            Cluster labels 1..K; empty shows every cluster.

        Returns
        -------
        napari.layers.Labels
            The clusters layer.

        Raises
        ------
        ValueError
            Before a run, or when the clusters layer was removed.
        """
        self._require()
        chosen = explore._check_labels(labels, self.data.model.n_clusters)
        layer = self.output_layer("clusters")
        if layer is None:
            raise ValueError(f"the layer {self.source.name!r} clusters was removed; run the clustering again")
        layer.selected_label = chosen[0]
        layer.show_selected_label = len(chosen) == 1
        if len(chosen) > 1:
            from napari.utils import DirectLabelColormap

            colours = {None: (0, 0, 0, 0), 0: (0, 0, 0, 0)}
            for k, colour in enumerate(self.cluster_colours(), start=1):
                colours[k] = tuple(colour) if k in chosen else (0, 0, 0, 0)
            layer.colormap = DirectLabelColormap(color_dict=colours)
        self.redraw(highlighted=chosen)
        self.table.select_labels(chosen)
        return layer

    def merge_clusters(self, labels: Sequence[int], background: bool = False) -> napari.layers.Labels | None:
        """Merge clusters into one (model updated, labels renumbered).

        With ``background`` (the table's Merge button), a big in-memory image's layers are rewritten in a
        worker and the layers change when it is done.

        Parameters
        ----------
        labels : sequence of int
            At least two cluster labels 1..K.
        background : bool
            Rewrite big images' layers in a worker thread.

        Returns
        -------
        napari.layers.Labels or None
            The updated clusters layer; None when it is rewritten in the background.

        Raises
        ------
        ValueError
            Before a run, for fewer than two labels or labels out of range, or when the clusters layer was removed.
        """
        from .merge_layers import apply_merge

        self._require_current()
        return apply_merge(self, labels, background)

    def clusters_to_mask(self, labels: int | Sequence[int]) -> napari.layers.Labels:
        """A binary ``<image> mask`` Labels layer of the pixels in clusters ``labels``.

        Parameters
        ----------
        labels : int or sequence of int
            Cluster labels 1..K.

        Returns
        -------
        napari.layers.Labels

        Raises
        ------
        ValueError
            Before a run, for labels out of range, or when the clusters layer was removed.
        """
        self._require_current()
        layer = self.output_layer("clusters")
        if layer is None:
            raise ValueError(f"the layer {self.source.name!r} clusters was removed; run the clustering again")
        chosen = explore._check_labels(labels, self.data.model.n_clusters)
        labels_image = self._fitted_level(layer.data) if layer.multiscale else layer.data
        mask = explore.clusters_mask(labels_image, chosen, self.data.model.n_clusters)
        return self._put_layer("mask", mask, {"clusters": chosen}, SELECTION_COLOURS)

    def selection_to_objects(self, min_size: int = 1) -> napari.layers.Labels:
        """Connected components of the current selection (at least ``min_size`` pixels) as ``<image> objects``.

        Parameters
        ----------
        min_size : int
            Smallest object kept, in pixels.

        Returns
        -------
        napari.layers.Labels

        Raises
        ------
        ValueError
            Before a run, when nothing is selected, or for ``min_size`` < 1.
        """
        self._require_current()
        selection = self.output_layer("selection")
        if selection is None or not self.selection.steps:
            raise ValueError("nothing is selected: draw a selection in the plot first")
        mask = selection.data
        if selection.multiscale:  # objects on the pyramid level the explorer works on (the fitted one)
            mask = self._fitted_level(mask)
        found = explore.objects(mask, min_size)
        meta = {"selection": self.selection.to_list(), "min_size": int(min_size), "n_objects": int(found.max())}
        return self._put_layer("objects", found, meta)

    def show_all_clusters(self) -> napari.layers.Labels:
        """Show every cluster again in the clusters layer.

        Returns
        -------
        napari.layers.Labels
            The clusters layer.

        Raises
        ------
        ValueError
            Before a run, or when the clusters layer was removed.
        """
        from napari.utils import DirectLabelColormap

        self._require()
        layer = self.output_layer("clusters")
        if layer is not None:
            layer.show_selected_label = False
            colours = {None: (0, 0, 0, 0), 0: (0, 0, 0, 0)}
            colours.update({k: tuple(c) for k, c in enumerate(self._colours, start=1)})
            layer.colormap = DirectLabelColormap(color_dict=colours)
        self.redraw()
        return layer

    def rename_cluster(self, label: int, name: str) -> None:
        """Name a cluster; the name is kept in the clusters layer's features and its model's parameters.

        Parameters
        ----------
        label : int
            Cluster label 1..K.
        name : str
            The new name.

        Raises
        ------
        ValueError
            Before a run (the explorer has no result yet).
        """
        self._require()
        label = explore._check_labels([label], self.data.model.n_clusters)[0]
        self._cluster_names[label - 1] = str(name)
        self.data.model.params["cluster_names"] = list(self._cluster_names)
        layer = self.output_layer("clusters")
        if layer is not None:
            features = layer.features
            features["name"] = list(self._cluster_names)[: len(features)]
            layer.features = features
            info = dict(layer.metadata.get("colorquant", {}))
            info["model"] = self.data.model.to_dict()
            layer.metadata = {**layer.metadata, "colorquant": info}
        self.redraw()

    def recolour_cluster(self, label: int, colour: Sequence[float]) -> None:
        """Give a cluster another display colour (RGB or RGBA in 0..1) in the clusters layer and the plot.

        Parameters
        ----------
        label : int
            Cluster label 1..K.
        colour : sequence of float
            RGB or RGBA in 0..1.

        Raises
        ------
        ValueError
            Before a run (the explorer has no result yet).
        """
        self._require()
        label = explore._check_labels([label], self.data.model.n_clusters)[0]
        rgba = np.ones(4)
        rgba[: len(colour)] = np.clip(np.asarray(colour, np.float64)[:4], 0, 1)
        self._colours[label - 1] = rgba
        self.show_all_clusters()

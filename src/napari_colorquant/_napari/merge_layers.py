"""Carry a cluster merge into the napari layers: labels, colours, table, model metadata, quantized image."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .. import explore
from .layers import replace_data

if TYPE_CHECKING:
    import napari


class _Explorer(Protocol):
    """What a merge uses of the feature explorer (:class:`~.explorer.FeatureExplorer`): its run and its layers.

    Described here rather than imported: the explorer's actions call :func:`apply_merge`, so naming the explorer's
    class here, even for type checking only, tied the explorer, its actions and this module in a circle.
    """

    data: explore.FeatureData
    source: Any  # the clustered napari layer
    selection: explore.Selection
    status: Any  # a QLabel
    _cluster_names: list[str]
    _colours: np.ndarray

    def output_layer(self, role: str) -> napari.layers.Layer | None: ...

    def running(self, kind: str) -> bool: ...

    def cluster_colours(self) -> np.ndarray: ...

    def redraw(self, highlighted: list[int] | None = None) -> None: ...

    def _in_background(self, kind: str, compute: Callable, done: Callable, message: str) -> None: ...


def merged_colours(colours: np.ndarray, counts: np.ndarray, mapping: np.ndarray) -> dict:
    """Display colour of each new label: the pixel-weighted mean of the old clusters' colours.

    Parameters
    ----------
    colours : ndarray (K, 3) or (K, 4)
        The old clusters' colours (0..1).
    counts : ndarray (K,)
        Pixels per old cluster.
    mapping : ndarray (K + 1,)
        New label of each old label (``Merge.mapping``).

    Returns
    -------
    dict
        New label (and ``None``/0, transparent) to its RGBA colour: a napari ``DirectLabelColormap`` mapping.
    """
    out: dict = {None: (0.0, 0.0, 0.0, 0.0), 0: (0.0, 0.0, 0.0, 0.0)}
    for new in np.unique(mapping[1:]):
        old = np.flatnonzero(mapping[1:] == new)
        weights = np.maximum(counts[old], 1e-12)
        out[int(new)] = tuple((weights[:, None] * colours[old]).sum(axis=0) / weights.sum())
    return out


def apply_merge(explorer: _Explorer, labels: Sequence[int], background: bool = False) -> napari.layers.Labels | None:
    """Merge clusters in the explorer's model and update the clusters (and quantized) layers.

    The new model comes from the distinct values; the label and quantized images are rewritten by one
    lookup each, in a worker when ``background`` and the image is big (the layers change when it is done).

    Parameters
    ----------
    explorer : FeatureExplorer
        The explorer holding the run's feature data and layers (anything with the attributes a merge uses).
    labels : sequence of int
        At least two cluster labels 1..K.
    background : bool
        Rewrite big images' layers in a worker thread.

    Returns
    -------
    napari.layers.Labels or None
        The clusters layer; None when the layers are rewritten in the background.

    Raises
    ------
    ValueError
        When the clusters layer was removed, a merge is still being written, or the labels are not valid.
    """
    from .explorer_background import BACKGROUND_PIXELS

    data = explorer.data
    layer = explorer.output_layer("clusters")
    if layer is None:
        raise ValueError(f"the layer {explorer.source.name!r} clusters was removed; run the clustering again")
    if explorer.running("merge"):
        raise ValueError("a merge is still being written to the layers: wait until it is done")
    merge = explore.merge_clusters(data, labels)
    stats = explore.cluster_statistics(data)
    colours = merged_colours(explorer.cluster_colours(), stats["count"], merge.mapping)
    names = _merged_names(explorer._cluster_names, merge.mapping)
    merged = replace(data, model=merge.model, labels=merge.mapping[data.labels].astype(data.labels.dtype))
    merged._planes = data._planes  # same features, same pair indices
    quantized_layer = explorer.output_layer("quantized")
    old_labels, old_quantized = layer.data, None if quantized_layer is None else quantized_layer.data
    multiscale = layer.multiscale

    def compute():
        if multiscale:
            new_labels = [explore.relabel(level, merge.mapping) for level in old_labels]
        else:
            new_labels = explore.relabel(old_labels, merge.mapping)
        return new_labels, _recoloured(merged, old_quantized)

    def done(out):
        return _show_merge(explorer, layer, merged, merge, colours, names, *out)

    if background and not data.lazy and np.prod(data.spatial_shape) >= BACKGROUND_PIXELS:
        explorer._in_background("merge", compute, done, "merging: writing the labels…")
        return None
    return done(compute())


def _show_merge(explorer: _Explorer, layer, merged, merge, colours, names, new_labels, quantized):
    """GUI thread: put a computed merge into the explorer and its layers."""
    from napari.utils import DirectLabelColormap

    explorer.data = merged
    explorer._cluster_names = names
    explorer._colours = np.array([colours[k] for k in range(1, merge.model.n_clusters + 1)], np.float64)
    replace_data(layer, new_labels)
    layer.colormap = DirectLabelColormap(color_dict=colours)
    layer.features = table_features(explorer.data, names)
    info = dict(layer.metadata.get("colorquant", {}))
    model = merge.model
    model.params["cluster_names"] = names
    info["model"] = model.to_dict()
    info["params"] = dict(model.params)
    info["merges"] = model.params["merges"]
    layer.metadata = {**layer.metadata, "colorquant": info}
    quantized_layer = explorer.output_layer("quantized")
    if quantized is not None and quantized_layer is not None:
        replace_data(quantized_layer, quantized)
    explorer.selection = explore.Selection()
    explorer.redraw(highlighted=[merge.label])
    explorer.status.setText(f"merged clusters {', '.join(map(str, model.params['merges'][-1]['merged']))} "
                            f"into label {merge.label}")  # fmt: skip
    return layer


def _merged_names(names: list[str], mapping: np.ndarray) -> list[str]:
    out = []
    for new in range(1, int(mapping.max()) + 1):
        old = np.flatnonzero(mapping[1:] == new)
        out.append(" + ".join(names[k] for k in old))
    return out


def table_features(data: explore.FeatureData, names: list[str]) -> dict[str, np.ndarray]:
    """Per-label features for the clusters Labels layer (napari's ``features`` table).

    Parameters
    ----------
    data : explore.FeatureData
        The run's feature data.
    names : list of str
        Each cluster's name.

    Returns
    -------
    dict of str to ndarray
        Columns of one row per label 1..K: index, name, pixel count, fraction, feature means (and EM weight).
    """
    stats = explore.cluster_statistics(data)
    features = {"index": stats["label"], "name": np.asarray(names, dtype=object), "pixel_count": stats["count"],
                "fraction": stats["percent"] / 100.0}  # fmt: skip
    for key, value in stats.items():
        if key.startswith("mean ") or key == "weight":
            features[key] = value
    return features


def _recoloured(data: explore.FeatureData, quantized):
    """The in-memory quantized image of an RGB or gray layer recoloured by the merged model (one lookup), or None."""
    from ..result import to_dtype

    if quantized is None or data.lazy or isinstance(quantized, list) or not isinstance(quantized, np.ndarray):
        return None
    model = data.model
    dtype = np.dtype(model.dtype)
    per_value = to_dtype(model.quantized_values(data.values, data.labels), dtype)
    pixels = explore.to_pixels(data.table, per_value, fill=0)
    valid = explore.to_pixels(data.table, np.ones(data.values.shape[0], np.uint8), fill=0).astype(bool)
    updated = np.array(quantized)
    if updated.shape == data.spatial_shape and pixels.shape[-1] == 1:  # gray
        updated[valid] = pixels[..., 0][valid]
    elif updated.shape[:-1] == data.spatial_shape and updated.shape[-1] >= pixels.shape[-1]:  # RGB(A)
        channels = updated[..., : pixels.shape[-1]]
        channels[valid] = pixels[valid]
    else:  # channels stacked from several layers: their own layers are left as they are
        return None
    return updated

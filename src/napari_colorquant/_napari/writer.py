"""napari writers: labels as TIFF or indexed PNG; quantized images as indexed PNG when they fit a palette."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..files import can_write_indexed, write_image, write_indexed_png, write_labels_tiff
from ..model import ClusterModel


def _model(meta: dict[str, Any]) -> ClusterModel | None:
    info = (meta.get("metadata") or {}).get("colorquant")
    return ClusterModel.from_dict(info["model"]) if info and "model" in info else None


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Labels: ``.png`` gives an indexed PNG with the cluster colours (2D, K <= 255), else TIFF."""
    labels = np.asarray(data)
    model = _model(meta)
    if Path(path).suffix.lower() == ".png":
        if model is None or not can_write_indexed(model, labels):
            raise ValueError(
                "an indexed PNG needs a 2D napari-colorquant clusters layer of a uint8 gray/RGB image "
                "(not chroma-only); save as .tif instead"
            )
        return [str(write_indexed_png(path, labels, model))]
    if Path(path).suffix.lower() not in (".tif", ".tiff"):
        path = str(Path(path).with_suffix(".tif"))
    return [str(write_labels_tiff(path, labels))]


def write_quantized(path: str, data: Any, meta: dict) -> list[str]:
    """A quantized image: indexed PNG (smallest bit depth for K colours) when it fits a palette."""
    image = np.asarray(data)
    model = _model(meta)
    if Path(path).suffix.lower() == ".png" and model is not None:
        labels = model.predict(image) if model.color_space not in ("ycrcb-chroma", "lab-chroma") else None
        if labels is not None and can_write_indexed(model, labels):
            return [str(write_indexed_png(path, labels, model))]
    return [str(write_image(path, image))]

"""napari writers: save what the user sees, or say in a notification what can be written and how.

Clusters (labels) go to TIFF in the smallest integer dtype that fits, or to an indexed PNG whose
palette index is the label; quantized images are written pixel for pixel (indexed when every pixel
is exactly a palette colour), never re-predicted from the model. The file writing is in
:mod:`..files`; this module only picks the writer and reports refusals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..files import PNG_HELP, TIFF_SUFFIXES, write_image, write_labels_png, write_labels_tiff, write_quantized_png


def _colors(meta: dict[str, Any]) -> np.ndarray | None:
    """The cluster colours recorded with a napari-colorquant output layer (None for other layers)."""
    info = (meta.get("metadata") or {}).get("colorquant") or {}
    model = info.get("model") if isinstance(info, dict) else None
    palette = model.get("palette") if isinstance(model, dict) else None
    try:
        return None if palette is None else np.asarray(palette, np.float64)
    except (TypeError, ValueError):
        return None


def _notify(message: str) -> None:
    from napari.utils.notifications import show_error

    show_error(message)


def _suffixed(path: str, default: str) -> Path:
    target = Path(path)
    return target if target.suffix else target.with_suffix(default)


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Clusters: ``.tif``/``.tiff`` (smallest integer dtype) or ``.png`` (palette index = label, 2-D, 0..255)."""
    target = _suffixed(path, ".tif")
    try:
        labels = np.asarray(data)
        if target.suffix.lower() in TIFF_SUFFIXES:
            return [str(write_labels_tiff(target, labels))]
        if target.suffix.lower() == ".png":
            return [str(write_labels_png(target, labels, _colors(meta)))]
        raise ValueError(f"cannot save clusters as {target.suffix}; {PNG_HELP}")
    except ValueError as error:
        _notify(f"Not saved: {error}")
        return []


def write_quantized(path: str, data: Any, meta: dict) -> list[str]:
    """A quantized image as shown: ``.png`` (indexed when it is exactly the palette's colours) or ``.tif``."""
    target = _suffixed(path, ".png")
    try:
        image = np.asarray(data)
        if target.suffix.lower() == ".png":
            return [str(write_quantized_png(target, image, _colors(meta)))]
        return [str(write_image(target, image))]
    except ValueError as error:
        _notify(f"Not saved: {error}")
        return []

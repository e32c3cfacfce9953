"""Frame a 2-D feature plot on its canvas with every tick value and axis name whole, at any canvas size.

The plot's texts are napari text of a fixed size on screen, so where they go in the plot depends on the zoom.
Their sizes are measured with the Qt font metrics napari measures its own text with; the camera and the texts'
places come from :func:`napari_colorquant.feature_space.plot_view` and
:func:`~napari_colorquant.feature_space.plot_frame`. No maths here.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtGui import QFontMetricsF, QGuiApplication

from .. import feature_space as fs
from .layers import AXES_TEXT_SIZE, FEATURE_ROLES

if TYPE_CHECKING:
    import napari

#: Margin (fraction of the canvas) of napari's own framing, for what is not a 2-D plot (the 3-D cloud).
VIEW_MARGIN = 0.05
#: Margin of a 3-D cloud drawn with its own axes (their tick values and names stick out of the data's box).
CLOUD_MARGIN = 0.25
#: The axes' lines and tick marks are this many screen pixels wide.
LINE_PIXELS = 1.5
#: Slack on a measured text's width (a part of it, and pixels): Qt's advance and vispy's drawing differ slightly.
_WIDTH_SLACK = (1.03, 2.0)


def frame_plot(viewer: napari.Viewer) -> None:
    """Fit a viewer's 2-D feature plot to its canvas with every tick value and axis name whole.

    The texts are measured, the names elided in the middle when longer than the canvas allows, the camera
    set so that the axes, tick marks and texts all show (and the viewer's other layers), and the texts and
    tick marks placed for that zoom. Anything else (a 3-D cloud, no plot) is framed by napari's ``reset_view``.

    Parameters
    ----------
    viewer : napari.Viewer
        The separate feature-space window, or the user's viewer with a "same viewer" plot.
    """
    _follow_canvas(viewer)
    labels = _plot_labels(viewer)
    if viewer.dims.ndisplay != 2 or labels is None:  # a 3-D cloud's own axes: room for their texts round it
        viewer.reset_view(margin=CLOUD_MARGIN if _cloud_axes(viewer) else VIEW_MARGIN)
        _FRAMED[viewer] = _camera_state(viewer)
        return
    spec = dict(labels.metadata["colorquant"]["frame"])
    canvas = tuple(float(size) for size in viewer.canvas.size)  # (height, width) in screen pixels
    metrics, to_screen = _text_metrics(viewer, labels)
    spec["names"] = _elided(metrics, to_screen, fs.plot_frame(**spec).texts, canvas[1])
    scale = np.asarray(labels.scale[-2:], np.float64)
    extra = [np.asarray(layer.extent.world)[:, -2:] / scale for layer in viewer.layers
             if layer.visible and layer.metadata.get("colorquant", {}).get("role") not in FEATURE_ROLES]  # fmt: skip
    height = _text_height(metrics) * to_screen
    frame, centre, zoom = fs.fitted_plot(spec, lambda texts: [(_width(metrics, t) * to_screen, height) for t in texts],
                                         canvas, np.concatenate(extra) if extra else None)  # fmt: skip
    _place(viewer, labels, frame, LINE_PIXELS / zoom)
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera  # napari 0.9 moved it
    camera.center = tuple(float(c) for c in centre * scale)
    camera.zoom = zoom / float(np.abs(scale).max())
    _FRAMED[viewer] = _camera_state(viewer)


#: The camera each viewer was last framed with (center, zoom, angles), to tell whether the user moved it since.
_FRAMED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _camera_state(viewer) -> tuple:
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    return tuple(camera.center), float(camera.zoom), tuple(camera.angles)


def _follow_canvas(viewer) -> None:
    """Frame the plot again when its canvas changes size, while the camera is where the framing put it.

    A run frames the window while it is still being laid out (a 290 px wide canvas that then grows): the plot
    stayed framed for the small canvas. Once the user pans, zooms or turns the view, their camera is kept.
    """
    if viewer in _FRAMED:
        return

    held = weakref.ref(viewer)  # the canvas's event must not keep a closed viewer alive

    def resized(*_) -> None:
        shown = held()
        if shown is not None and _FRAMED.get(shown) == _camera_state(shown):
            frame_plot(shown)

    viewer.canvas.events.size.connect(resized)


def _plot_labels(viewer) -> Any:
    """The visible texts layer of a 2-D plot's frame in ``viewer`` (None: no such plot)."""
    for layer in viewer.layers:
        info = layer.metadata.get("colorquant", {}) if isinstance(layer.metadata, dict) else {}
        if info.get("role") == "axis labels" and "frame" in info and layer.visible:
            return layer
    return None


def _cloud_axes(viewer) -> bool:
    """Does the viewer show a 3-D cloud's own axes (texts of role "axis labels" without a 2-D frame)?"""
    return any(isinstance(layer.metadata, dict) and layer.metadata.get("colorquant", {}).get("role") == "axis labels"
               for layer in viewer.layers)  # fmt: skip


def _place(viewer, labels, frame: fs.PlotFrame, line_width: float) -> None:
    """The frame's texts and lines into the texts layer and its lines layer (the one of the same source)."""
    source = labels.metadata["colorquant"].get("source")
    labels.data = frame.positions  # the number of ticks may change with the canvas's size
    labels.features = {"text": np.array(frame.texts, dtype=object)}
    for layer in viewer.layers:
        info = layer.metadata.get("colorquant", {}) if isinstance(layer.metadata, dict) else {}
        if info.get("role") == "axes" and info.get("source") == source and layer.nshapes:
            colour = layer.edge_color[0]
            layer.data = []
            layer.add(frame.lines, shape_type="line", edge_width=line_width, edge_color=colour)


def _elided(metrics: QFontMetricsF, to_screen: float, texts: list[str], width: float) -> list[str]:
    """The x and y axes' names (the last two texts), elided in the middle where the canvas is too narrow."""
    y_values = max((_width(metrics, text) for text in texts[:-2]), default=0.0) * to_screen
    room = width - 2 * fs.BORDER_PIXELS
    rooms = (room, room - y_values - fs.TICK_PIXELS - fs.GAP_PIXELS)  # the y name starts left of the y values
    return [metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, max(space, 0.0) / to_screen)
            for name, space in zip(texts[-2:], rooms, strict=True)]  # fmt: skip


def _width(metrics: QFontMetricsF, text: str) -> float:
    """A text's width with a little slack (napari's measure was up to 3 % short of what vispy drew)."""
    return metrics.horizontalAdvance(text) * _WIDTH_SLACK[0] + _WIDTH_SLACK[1]


def _text_height(metrics: QFontMetricsF) -> float:
    """A line's height as vispy centres it: from the top of an 'h' to the bottom of a 'y'."""
    return metrics.tightBoundingRect("hy").height()


def _text_metrics(viewer, labels) -> tuple[QFontMetricsF, float]:
    """The metrics napari measures the texts layer's text with, and their factor to screen pixels.

    napari draws a layer's text with Qt's fonts and measures it with Qt's metrics of the same font
    (``napari._vispy.utils.text``, not public API); without it, the application's font at the texts' size.
    """
    with contextlib.suppress(ImportError, AttributeError, KeyError, TypeError):
        from napari._vispy.utils.text import get_text_metrics

        viewer = getattr(viewer, "__wrapped__", viewer)  # napari's public-only proxy warns on private access
        node = viewer.window._qt_viewer.canvas.layer_to_visual[labels].node.text
        return get_text_metrics(node), float(node._vispy_dpi_ratio)
    font = QGuiApplication.font()
    font.setPointSizeF(AXES_TEXT_SIZE)
    return QFontMetricsF(font), 96 / 72

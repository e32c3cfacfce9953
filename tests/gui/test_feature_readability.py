"""The feature-space views read as plots: every point visible, axes with ticks and names next to the data.

Driven as a user would (the widget's Run, a real viewer on Xvfb); checked where a user looks: the canvas
pixels, the layers' data and the explorer's pickers. 16-bit microscopy values (10000-40000) are the hard case:
napari draws its own 2-D axes at the world origin, far off screen from such data.

With ``COLORQUANT_SCREENSHOTS=docs/images`` set, the window's screenshot is written to that folder.
"""

from __future__ import annotations

import numpy as np

GFP, CY5 = "Alexa Fluor 488 - GFP", "Alexa Fluor 647 - Cy5 (far red)"


def _two_stains(shape=(96, 96), seed=0) -> np.ndarray:
    """(Y, X, 2) uint16: three kinds of pixel in two stains, values in 10000-40000 as a 16-bit camera gives."""
    rng = np.random.default_rng(seed)
    centres = np.array([[12000.0, 15000.0], [25000.0, 36000.0], [38000.0, 20000.0]])
    labels = rng.integers(0, 3, shape)
    data = centres[labels] + rng.normal(0.0, 1500.0, (*shape, 2))
    return np.clip(data, 0, 65535).astype(np.uint16)


def _add_stains(viewer, data: np.ndarray) -> None:
    viewer.add_image(data[..., 0], name=GFP, colormap="green", blending="additive")
    viewer.add_image(data[..., 1], name=CY5, colormap="magenta", blending="additive")


def _run(viewer, dock, run_and_wait, view: str, widget_name: str = "K-means clustering"):
    widget = dock(viewer, widget_name)
    widget.controls.image.value = viewer.layers[GFP]
    widget.channels.value = [viewer.layers[CY5]]
    widget.n_clusters.value, widget.feature_view.value = 3, view
    run_and_wait(widget)
    return widget


def _canvas(viewer) -> np.ndarray:
    return np.asarray(viewer.screenshot(canvas_only=True, flash=False))[..., :3].astype(np.int16)


def _lines(canvas: np.ndarray, colour, length: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of ``canvas`` holding a run of ``colour`` at least ``length`` of the canvas's size long."""
    near = (np.abs(canvas - np.asarray(colour, np.int16)).max(axis=-1) <= 40).astype(np.int64)

    def longest(mask: np.ndarray) -> np.ndarray:  # longest run of True along the last axis, per row
        best = np.zeros(mask.shape[0], np.int64)
        run = np.zeros(mask.shape[0], np.int64)
        for column in mask.T:
            run = (run + 1) * column
            best = np.maximum(best, run)
        return best

    rows = np.flatnonzero(longest(near) >= length * canvas.shape[1])
    columns = np.flatnonzero(longest(near.T) >= length * canvas.shape[0])
    return rows, columns


def test_explorer_pickers_show_long_channel_names(make_viewer, dock, run_and_wait):
    from qtpy.QtWidgets import QStyle, QStyleOptionComboBox

    import napari_colorquant as ncq

    viewer = make_viewer(show=True)
    _add_stains(viewer, _two_stains((48, 48)))
    _run(viewer, dock, run_and_wait, "none")
    explorer = ncq.feature_explorer(viewer)
    assert explorer.axis_names == (GFP, CY5)
    for combo in (explorer.x_axis, explorer.y_axis):
        name = combo.currentText()
        option = QStyleOptionComboBox()
        combo.initStyleOption(option)
        field = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                             QStyle.SubControl.SC_ComboBoxEditField, combo)  # fmt: skip
        whole = combo.fontMetrics().horizontalAdvance(name) <= field.width()
        shown = combo.shown_text() if hasattr(combo, "shown_text") else name
        # Whole, or elided (the ends kept) with the whole name in the tooltip.
        assert (whole and shown == name) or (
            "…" in shown
            and combo.fontMetrics().horizontalAdvance(shown) <= field.width()
            and combo.toolTip() == name
            and name.startswith(shown.split("…")[0])
            and name.endswith(shown.split("…")[-1])
        ), (name, shown, field.width())
        # The drop-down list shows every name whole.
        view = combo.view()
        assert view.minimumWidth() >= max(combo.fontMetrics().horizontalAdvance(n) for n in (GFP, CY5))

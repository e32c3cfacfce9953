"""The explorer's and the K curve's plots keep their labels, ticks, title and legend readable (geometry, not pixels)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import napari_colorquant as ncq

pytest.importorskip("matplotlib")


def _inside(inner, outer, slack: float = 0.5) -> bool:
    return (
        inner.x0 >= outer.x0 - slack
        and inner.y0 >= outer.y0 - slack
        and inner.x1 <= outer.x1 + slack
        and inner.y1 <= outer.y1 + slack
    )


def _shown_tick_labels(axes) -> list:
    """The tick labels drawn (matplotlib also keeps labels of ticks outside the view limits, not drawn)."""
    shown = []
    for axis, index in ((axes.xaxis, 0), (axes.yaxis, 1)):
        low, high = sorted(axis.get_view_interval())
        for label in axis.get_ticklabels():
            if label.get_visible() and label.get_text() and low <= label.get_position()[index] <= high:
                shown.append(label)
    return shown


def _title(plot):
    """The plot's title, wherever it is drawn (an axes or a figure title)."""
    from matplotlib.text import Text

    found = [t for t in plot.figure.findobj(Text) if t.get_text() == plot.view.title and t.get_visible()]
    assert len(found) == 1
    return found[0]


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 - 0.5 and b.x0 < a.x1 - 0.5 and a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5


@pytest.fixture
def two_channel_model():
    rng = np.random.default_rng(1)
    image = np.empty((64, 64, 2), np.uint16)
    image[..., 0] = rng.normal(20000, 6000, (64, 64)).clip(0, 65535)
    image[..., 1] = rng.normal(30000, 9000, (64, 64)).clip(0, 65535)
    image[:32] //= 4
    result = ncq.quantize(image, 5, color_space="channels", channel_axis=-1)
    return image, result.model


def _plot(qtbot, image, model, axes, size):
    from napari_colorquant._napari.explorer_plot import FeaturePlot, PlotView

    plot = FeaturePlot()
    qtbot.addWidget(plot.canvas)
    plot.canvas.resize(*size)
    plot.canvas.show()
    qtbot.waitExposed(plot.canvas)
    features = image.reshape(-1, 2).astype(np.float64)
    values, counts = np.unique(features, axis=0, return_counts=True)
    labels = ["kidney ch2 (0–65535)", "DAPI nuclear stain (0–65535)"]
    k = model.n_clusters
    view = PlotView(
        features=values, counts=counts.astype(np.float64), model=model, axes=axes, axis_labels=labels,
        colours=np.c_[np.linspace(0.2, 1, k), np.full(k, 0.5), np.full(k, 0.5), np.ones(k)],
        names=[f"cluster {i}" for i in range(1, k + 1)], title="kidney · kmeans · K = 5 · channels",
        sizes=np.ones(k),
    )  # fmt: skip
    plot.draw(view)
    qtbot.waitUntil(lambda: not plot.canvas.busy, timeout=5000)
    return plot


@pytest.mark.parametrize("axes", [(0, 1), (1, 1)], ids=["density", "histogram"])
@pytest.mark.parametrize("size", [(380, 360), (640, 480)])
def test_explorer_labels_and_legend_lie_in_the_figure_off_the_data(qtbot, two_channel_model, axes, size):
    """The y label (long channel names with units) is whole; the legend is not drawn over the axes."""
    image, model = two_channel_model
    plot = _plot(qtbot, image, model, axes, size)
    plot.canvas.draw()
    renderer = plot.canvas.get_renderer()
    figure = plot.figure.bbox
    for text in (plot.axes.yaxis.label, plot.axes.xaxis.label, _title(plot)):
        assert _inside(text.get_window_extent(renderer), figure), text.get_text()
    for label in _shown_tick_labels(plot.axes):
        assert _inside(label.get_window_extent(renderer), figure), label.get_text()
    legend = plot.axes.get_legend().get_window_extent(renderer)
    assert _inside(legend, figure)
    assert not _overlap(legend, plot.axes.bbox), "the legend covers the data"
    assert not _overlap(legend, _title(plot).get_window_extent(renderer))
    if axes[0] != axes[1]:
        bar = plot.colorbar_axes.get_tightbbox(renderer)
        assert _inside(bar, figure)
        assert not _overlap(bar, plot.axes.bbox)
    # the data keeps most of the figure
    assert plot.axes.bbox.width > 0.45 * figure.width and plot.axes.bbox.height > 0.4 * figure.height


def test_explorer_layout_follows_a_resize(qtbot, two_channel_model):
    image, model = two_channel_model
    plot = _plot(qtbot, image, model, (0, 1), (640, 480))
    plot.canvas.resize(360, 320)
    qtbot.waitUntil(lambda: abs(plot.figure.bbox.width - 360 * plot.canvas.device_pixel_ratio) < 2, timeout=3000)
    plot.canvas.draw()
    renderer = plot.canvas.get_renderer()
    assert _inside(plot.axes.yaxis.label.get_window_extent(renderer), plot.figure.bbox)
    assert _inside(plot.colorbar_axes.get_tightbbox(renderer), plot.figure.bbox)


@pytest.mark.parametrize("width", [260, 420])
def test_k_curve_ticks_are_whole_ks_apart_and_labels_fit(qtbot, width):
    """K = 2..16 with BIC ~ 1e7: integer x ticks that do not touch, no offset text, every label in the figure."""
    from napari_colorquant._napari.k_curve_plot import KCurvePlot
    from napari_colorquant.autok import KCurve

    plot = KCurvePlot()
    qtbot.addWidget(plot.native)
    ks = list(range(2, 17))
    values = [9.8e6 - 1.8e6 * (1 - np.exp(-(k - 2) / 4)) + (0.6e6 if k > 11 else 0) for k in ks]
    plot.show_curve(KCurve("bic", ks, values, chosen=11))
    plot.native.resize(width, 200)
    plot.native.show()
    qtbot.waitExposed(plot.native)
    plot.canvas.resize(width, plot.canvas.height())
    plot.canvas.draw()
    renderer = plot.canvas.get_renderer()
    figure = plot.figure.bbox
    ticks = _shown_tick_labels(plot.axes)
    x_ticks = [t for t in ticks if t in plot.axes.get_xticklabels()]
    assert len(x_ticks) >= 3
    assert all(float(t.get_position()[0]).is_integer() for t in x_ticks)
    boxes = sorted((t.get_window_extent(renderer) for t in x_ticks), key=lambda b: b.x0)
    for a, b in itertools.pairwise(boxes):
        assert a.x1 + 2 <= b.x0, "x tick labels touch"
    for text in [*ticks, plot.axes.xaxis.label, plot.axes.yaxis.label, plot.axes.get_legend()]:
        assert _inside(text.get_window_extent(renderer), figure), text
    assert not plot.axes.yaxis.get_offset_text().get_text()  # no "1e6" in a corner: the scale is in the label
    assert "×10⁶" in plot.axes.get_ylabel()


def test_a_redraw_measures_its_labels_in_the_render_thread_not_the_gui_thread(qtbot, monkeypatch, two_channel_model):
    """Placing the axes measures every label (the log colour bar's are mathtext): ~0.1 s, kept off the GUI thread."""
    import threading

    from napari_colorquant._napari import explorer_plot

    image, model = two_channel_model
    plot = _plot(qtbot, image, model, (0, 1), (420, 380))
    threads = []
    place = explorer_plot._place_axes
    monkeypatch.setattr(explorer_plot, "_place_axes", lambda *a: (threads.append(threading.get_ident()), place(*a)))
    plot.draw(plot.view)
    assert threads == []  # nothing measured while the GUI thread builds the figure
    qtbot.waitUntil(lambda: not plot.canvas.busy and bool(threads), timeout=5000)
    assert threading.get_ident() not in threads

"""The explorer's matplotlib figure: density, centres, ellipses, histograms and selection tools.

matplotlib embedded in Qt (``FigureCanvasQTAgg``, as napari-matplotlib does, rendered off the GUI
thread by :class:`~.explorer_canvas.BackgroundCanvas`): real axes,
ticks, log colour scales, vector export (SVG) and ready-made lasso / rectangle / ellipse /
span selectors. The distinct-value design keeps what is drawn small (a 2-D histogram of
at most 256 x 256 cells and K centres), so matplotlib stays interactive on any image size.
No maths here: the numbers come from :mod:`napari_colorquant.explore`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib import patheffects
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.layout_engine import LayoutEngine
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from .. import explore
from .explorer_canvas import BackgroundCanvas
from .explorer_gestures import Gestures

_BACKGROUND = "#262930"  # napari's dark theme
_FOREGROUND = "#f0f1f2"
_AXES_BOX = (0.15, 0.16, 0.64, 0.76)
_COLORBAR_BOX = (0.83, 0.16, 0.035, 0.76)
_PAD = 6.0  # pixels between the figure's edge and any text, and between the title, legend and axes
_COLORBAR_WIDTH = 14.0  # pixels
_COLORBAR_GAP = 10.0  # pixels between the axes and the colour bar
#: Above this share of the figure's height the legend goes inside the axes (many clusters).
_LEGEND_SHARE = 0.3


@dataclass
class PlotView:
    """What the figure shows (prepared by the explorer).

    Attributes
    ----------
    features, counts : ndarray
        Distinct values in feature space and their pixel counts.
    model : ClusterModel
    axes : (int, int)
        Shown features (x, y); equal for a 1-D histogram.
    axis_labels : list of str
        Label of every feature, with its unit.
    colours : ndarray (K, 4)
        Display colour of each cluster.
    names : list of str
        Name of each cluster (legend).
    title : str
    confidence : str
        EM ellipse contour (see :data:`explore.CONFIDENCES`).
    sizes : ndarray (K,)
        Relative weight of each cluster (marker sizes).
    """

    features: np.ndarray
    counts: np.ndarray
    model: object
    axes: tuple[int, int]
    axis_labels: list[str]
    colours: np.ndarray
    names: list[str]
    title: str
    confidence: str = "95 %"
    sizes: np.ndarray | None = None
    highlighted: list[int] = field(default_factory=list)


class FeaturePlot(Gestures):
    """A matplotlib figure on a Qt canvas, with selection tools and pickable centres.

    Callbacks (set by the owner): ``on_region(region, mode)`` after a selection gesture,
    ``on_cluster(label)`` after a click on a centre or a legend entry.
    """

    def __init__(self) -> None:
        # Positions measured by the plot itself at each draw (no layout engine of matplotlib: see _MeasuredLayout).
        self.figure = Figure(figsize=(5.0, 4.2), facecolor=_BACKGROUND)
        self.canvas = BackgroundCanvas(self.figure)
        self.figure.set_layout_engine(_MeasuredLayout(self._fit_layout))
        self.canvas.setMinimumHeight(360)
        self.axes = self.figure.add_axes(_AXES_BOX)
        self.colorbar_axes = self.figure.add_axes(_COLORBAR_BOX)
        self.view: PlotView | None = None
        self.tool = "lasso"
        self.on_region: Callable | None = None
        self.on_cluster: Callable | None = None
        self._selector = None
        self._modifiers: frozenset = frozenset()
        self._marker: Line2D | None = None
        self._centres = None
        self._legend_lines: dict = {}
        self._legend_above = False
        self._title = None
        self._picked: int | None = None
        self._outlines: list = []
        self._brush = None
        self._press_xy = (0.0, 0.0)
        self._background = None  # the drawn figure without the hover marker, for blitting
        self.canvas.mpl_connect("draw_event", self._on_draw)
        self.canvas.mpl_connect("button_press_event", self._remember_modifiers)
        self.canvas.mpl_connect("pick_event", self._on_pick)
        self.canvas.mpl_connect("button_release_event", self._on_release)
        self._show_empty()

    def _show_empty(self) -> None:
        """Before the first result (the explorer is docked when the clustering widget opens): say what comes here."""
        self.colorbar_axes.set_visible(False)
        self.axes.set_axis_off()
        message = "Run the clustering:\nits clusters appear here in feature space."
        self.axes.text(0.5, 0.5, message, ha="center", va="center", color=_FOREGROUND, fontsize=11,
                       transform=self.axes.transAxes)  # fmt: skip

    # --- drawing --------------------------------------------------------------------------
    def draw(self, view: PlotView) -> None:
        """Redraw everything for ``view`` (rendered in a worker thread; see :class:`.BackgroundCanvas`).

        Parameters
        ----------
        view : PlotView
            What to draw: the feature data, the shown axes, names, colours, highlighted clusters.
        """
        with self.canvas.lock:
            self._build(view)
        self.canvas.draw_idle()

    def _build(self, view: PlotView) -> None:
        self.view = view
        self._background = None
        self._outlines = []
        self._brush = None
        self.axes.clear()
        self.colorbar_axes.clear()
        self.axes.set_axis_on()
        _style(self.axes)
        one_feature = view.axes[0] == view.axes[1]
        self.colorbar_axes.set_visible(not one_feature)
        if one_feature:
            self._draw_histogram(view)
        else:
            self._draw_density(view)
        # A figure title: the legend sits between it and the axes.
        self._title = self.figure.suptitle(view.title, color=_FOREGROUND, fontsize=10, y=1.0, va="top")
        # Placed when the figure is drawn (_MeasuredLayout), in the render thread: measuring every label here
        # (the log colour bar's are mathtext) took ~0.1 s of the GUI thread after each run.
        # Animated: left out of full draws (and exports), blitted over the cached background on hover.
        # Hidden while it marks nothing: a selector redraws the whole figure once more after every full
        # draw when it finds a visible animated artist (to keep it out of its own blitting background).
        self._marker = self.axes.plot([], [], marker="+", markersize=18, markeredgewidth=2.0, color="#ff3b30",
                                      linestyle="none", zorder=6, label="_hover", animated=True,
                                      visible=False)[0]  # fmt: skip
        self._make_selector()

    def _draw_density(self, view: PlotView) -> None:
        i, j = view.axes
        hist, xedges, yedges = explore.density(view.features, view.counts, (i, j), bins=256)
        image = self.axes.imshow(
            np.ma.masked_equal(hist.T, 0), origin="lower", aspect="auto", interpolation="nearest", cmap="viridis",
            extent=(xedges[0], xedges[-1], yedges[0], yedges[-1]), norm=LogNorm(vmin=1, vmax=max(hist.max(), 2)),
        )  # fmt: skip
        colorbar = self.figure.colorbar(image, cax=self.colorbar_axes)
        colorbar.set_label("pixels per bin (log scale)", color=_FOREGROUND)
        colorbar.ax.tick_params(colors=_FOREGROUND)
        model = view.model
        if model.method == "em":
            for k in range(model.n_clusters):
                ring = explore.ellipse(model.means[k], model.covariances[k], (i, j), view.confidence)
                self.axes.plot(ring[:, 0], ring[:, 1], color=view.colours[k], linewidth=1.6, zorder=4)
        sizes = 40 + 400 * np.sqrt(view.sizes / max(view.sizes.max(), 1e-12))
        edges = ["#ff3b30" if k + 1 in view.highlighted else "white" for k in range(model.n_clusters)]
        self._centres = self.axes.scatter(model.means[:, i], model.means[:, j], s=sizes, c=view.colours[:, :3],
                                          edgecolors=edges, linewidths=1.5, zorder=5, picker=True)  # fmt: skip
        # The data's range, not the ellipses', sets the view: a wide Gaussian must not shrink the density.
        self.axes.set_xlim(xedges[0], xedges[-1])
        self.axes.set_ylim(yedges[0], yedges[-1])
        self.axes.set_xlabel(view.axis_labels[i])
        self.axes.set_ylabel(view.axis_labels[j])
        self._legend(view)

    def _draw_histogram(self, view: PlotView) -> None:
        axis = view.axes[0]
        model = view.model
        counts, edges = explore.histogram(view.features, view.counts, axis, bins=256)
        self.axes.stairs(counts, edges, fill=True, color="#8a8f99", alpha=0.85, label="pixels")
        centres = (edges[:-1] + edges[1:]) / 2
        outline = [patheffects.withStroke(linewidth=3.2, foreground=_FOREGROUND)]
        if model.method == "em":
            curves = explore.gaussian_curves(model, axis, centres, float(view.counts.sum()), float(edges[1] - edges[0]))
            for k, curve in enumerate(curves):
                self.axes.plot(centres, curve, color=view.colours[k], linewidth=1.8, path_effects=outline)
            self.axes.plot(centres, curves.sum(axis=0), color=_FOREGROUND, linestyle="--", linewidth=1.2,
                           label="mixture")  # fmt: skip
        elif model.n_features == 1:
            for threshold in explore.kmeans_thresholds(model, axis):
                self.axes.axvline(threshold, color=_FOREGROUND, linestyle="--", linewidth=1.2)
        baseline = np.full(model.n_clusters, 0.7)  # just above the log axis' floor
        self._centres = self.axes.scatter(model.means[:, axis], baseline, s=90, c=view.colours[:, :3],
                                          edgecolors="white", zorder=5, picker=True, clip_on=False)  # fmt: skip
        self.axes.set_xlabel(view.axis_labels[axis])
        # Log counts: a spike at one value (saturation, background) must not flatten everything else.
        self.axes.set_yscale("log")
        self.axes.set_ylabel("pixels per bin (log scale)")
        self.axes.set_xlim(edges[0], edges[-1])
        self.axes.set_ylim(0.5, max(float(counts.max()), 1.0) * 2.0)
        self._legend(view)

    def _legend(self, view: PlotView) -> None:
        handles = [
            Line2D([], [], marker="o", linestyle="none", markersize=8, markerfacecolor=view.colours[k][:3],
                   markeredgecolor="white", label=view.names[k])
            for k in range(len(view.names))
        ]  # fmt: skip
        legend, order, self._legend_above = _place_legend(self.axes, self.canvas.get_renderer(), handles)
        self._legend_lines = {}
        for k, line, text in zip(order, legend.get_lines(), legend.get_texts(), strict=True):
            for artist in (line, text):
                artist.set_picker(True)
                self._legend_lines[artist] = k + 1

    def _fit_layout(self) -> None:
        """Place the axes and colour bar so every label, tick label, the title and the legend lie in the figure.

        Measured in pixels at every draw, by :class:`_MeasuredLayout` (so in the render thread, and after a
        resize too); twice, since the ticks shown depend on the axes' size.
        """
        if self.view is None:
            return
        with self.canvas.lock:
            if self._title is not None:  # a long image name: a smaller title rather than a clipped one
                self._title.set_fontsize(10)
                room = self.figure.bbox.width - 2 * _PAD
                wide = self._title.get_window_extent(self.canvas.get_renderer()).width
                self._title.set_fontsize(max(7.0, min(10.0, 10.0 * room / max(wide, 1.0))))
            for _ in range(2):
                _place_axes(self.axes, self.colorbar_axes, self._title, self._legend_above, self.canvas.get_renderer())

    def show_selection(self, steps: Sequence[tuple[str, explore.Region]]) -> None:
        """Outline the selection's regions drawn on the shown features (added: yellow, subtracted: red dashed).

        Parameters
        ----------
        steps : sequence of (str, explore.Region)
            The selection's ``(mode, region)`` steps (``Selection.steps``).
        """
        with self.canvas.lock:
            self._outline_selection(steps)
        self._background = None
        self.canvas.draw_idle()

    def _outline_selection(self, steps) -> None:
        for artist in self._outlines:
            artist.remove()
        self._outlines = []
        if self.view is None:
            return
        for mode, region in steps:
            if tuple(region.axes) != tuple(self.view.axes) and not (
                region.shape == "interval" and self.view.axes[0] == self.view.axes[1] == region.axes[0]
            ):
                continue
            style = dict(color="#ff3b30" if mode == "subtract" else "#ffcc00", linewidth=1.4,
                         linestyle="--" if mode == "subtract" else "-", zorder=4.5)  # fmt: skip
            if region.shape == "interval":
                low, high = sorted(region.points[0])
                self._outlines += [self.axes.axvline(low, **style), self.axes.axvline(high, **style)]
                continue
            x, y = _outline(region)
            self._outlines += self.axes.plot(x, y, **style)

    def show_brush(self, features: np.ndarray | None, counts: np.ndarray | None) -> None:
        """Overlay the density of a region's pixels (None removes it), on the same bins as the main plot.

        Parameters
        ----------
        features : ndarray (V, F) or None
            Feature rows of the region's distinct values.
        counts : ndarray (V,) or None
            Pixels per row.
        """
        with self.canvas.lock:
            self._overlay_brush(features, counts)
        self.canvas.draw_idle()

    def _overlay_brush(self, features: np.ndarray | None, counts: np.ndarray | None) -> None:
        if self._brush is not None:
            self._brush.remove()
            self._brush = None
        self._background = None
        if self.view is None or features is None or len(counts) == 0:
            return
        i, j = self.view.axes
        if i == j:
            hist, edges = explore.histogram(features, counts, i, bins=256, extent=self.axes.get_xlim())
            self._brush = self.axes.stairs(hist, edges, color="#ff7f0e", linewidth=1.5, zorder=3.5, label="region")
        else:
            extent = (self.axes.get_xlim(), self.axes.get_ylim())
            hist, xe, ye = explore.density(features, counts, (i, j), bins=256, extent=extent)
            self._brush = self.axes.imshow(
                np.ma.masked_equal(hist.T, 0), origin="lower", aspect="auto", interpolation="nearest", cmap="autumn",
                extent=(xe[0], xe[-1], ye[0], ye[-1]), norm=LogNorm(vmin=1, vmax=max(hist.max(), 2)), zorder=3.5,
                alpha=0.9,
            )  # fmt: skip

    def mark(self, point: tuple[float, float] | None) -> None:
        """Mark one position ``(x, y)`` in the shown features (None hides the mark).

        Only the marker is redrawn (blitting): the figure drawn last is restored from its cached
        pixels, the marker drawn over it and that rectangle repainted, whatever the density's size.

        Parameters
        ----------
        point : (float, float) or None
            The position in the shown features' units.
        """
        if self._marker is None:
            return
        if point is None:
            self._marker.set_data([], [])
        else:
            self._marker.set_data([point[0]], [point[1]])
        self._marker.set_visible(point is not None)
        if self.canvas.busy:  # a full draw is on its way: it draws the marker when done
            return
        if self._background is None:
            self.canvas.draw_idle()
            return
        self.canvas.restore_region(self._background)
        self.axes.draw_artist(self._marker)
        self.canvas.blit(self.axes.bbox)

    def _on_draw(self, _event) -> None:
        """After each full draw: keep its pixels (without the marker), then draw the marker over them."""
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        if self._marker is not None and len(self._marker.get_xdata()):
            self.axes.draw_artist(self._marker)

    def data_to_widget(self, x: float, y: float) -> tuple[float, float]:
        """Widget coordinates (logical pixels, origin top-left) of a point in data units (for tests and scripts).

        Parameters
        ----------
        x, y : float
            The point in the shown features' units.

        Returns
        -------
        (float, float)
        """
        px, py = self.axes.transData.transform((x, y))
        ratio = self.canvas.device_pixel_ratio or 1.0
        return px / ratio, (self.figure.bbox.height - py) / ratio

    def save(self, path: str | os.PathLike) -> None:
        """Write the figure (PNG, SVG, PDF: by the file's extension).

        Parameters
        ----------
        path : str or os.PathLike
            The file to write.
        """
        # "tight": axis labels are kept whole even when the docked canvas is short.
        self.figure.savefig(path, facecolor=self.figure.get_facecolor(), bbox_inches="tight", pad_inches=0.08)


class _MeasuredLayout(LayoutEngine):
    """Runs the plot's own placement (:meth:`FeaturePlot._fit_layout`) whenever the figure is drawn.

    Not one of matplotlib's engines: those move the axes as the content changes, and a selection gesture
    must map the same way from press to release; this one gives the same positions for the same figure.
    """

    _adjust_compatible = True
    _colorbar_gridspec = False

    def __init__(self, fit: Callable[[], None]) -> None:
        super().__init__()
        self._fit = fit

    def execute(self, fig) -> None:
        """Place the axes (called by ``Figure.draw``)."""
        self._fit()


def _place_legend(axes, renderer, handles: list) -> tuple[object, list[int], bool]:
    """Above the axes (off the data) in as many columns as fit, or inside at the emptiest spot when too tall.

    Returns the legend, the cluster index (0-based) of each of its entries in its order, and whether it is above.
    """
    style = dict(fontsize=8, facecolor=_BACKGROUND, labelcolor=_FOREGROUND, handletextpad=0.3, columnspacing=1.0,
                 borderaxespad=0.0)  # fmt: skip
    figure = axes.figure
    n = len(handles)
    one_row = axes.legend(handles=handles, ncols=max(n, 1), **style)
    column = one_row.get_window_extent(renderer).width / max(n, 1)
    columns = int(max(1, min(n, (figure.bbox.width - 2 * _PAD) // max(column, 1.0))))
    rows = -(-n // columns)
    columns = -(-n // rows)  # balanced: 3 + 2 rather than 4 + 1
    # matplotlib fills a column before the next: reorder so that the entries read by rows, 1 2 3 / 4 5
    order = [j + i * columns for j in range(columns) for i in range(rows) if j + i * columns < n]
    # Centred in the figure (x), on the axes' top (y): it may be wider than the axes.
    anchor = blended_transform_factory(figure.transFigure, axes.transAxes)
    legend = axes.legend(handles=[handles[k] for k in order], ncols=columns, loc="lower center",
                         bbox_to_anchor=(0.5, 1.0), bbox_transform=anchor, frameon=False, **style)  # fmt: skip
    above = legend.get_window_extent(renderer).height <= _LEGEND_SHARE * figure.bbox.height
    if not above:
        order = list(range(n))
        legend = axes.legend(handles=handles, loc="best", framealpha=0.75, title="clusters", **style)
        legend.get_title().set_color(_FOREGROUND)
    return legend, order, above


def _place_axes(axes, colorbar_axes, title, legend_above: bool, renderer) -> None:
    """Axes and colour bar positions leaving room for the labels, the title and a legend above (one pass)."""
    figure = axes.figure
    width, height = figure.bbox.width, figure.bbox.height
    box = axes.bbox
    y_axis, x_axis = axes.yaxis.get_tightbbox(renderer), axes.xaxis.get_tightbbox(renderer)
    left = _PAD + (box.x0 - y_axis.x0 if y_axis is not None else 0.0)
    bottom = _PAD + (box.y0 - x_axis.y0 if x_axis is not None else 0.0)
    top = _PAD
    if title is not None:
        title.set_y(1.0 - _PAD / height)
        top += title.get_window_extent(renderer).height + _PAD
    legend = axes.get_legend()
    if legend is not None and legend_above:
        top += legend.get_window_extent(renderer).height + _PAD
    right = _PAD + max(0.0, (x_axis.x1 - box.x1) if x_axis is not None else 0.0)
    if colorbar_axes.get_visible():
        bar = colorbar_axes.get_tightbbox(renderer)
        right = _PAD + (bar.x1 - colorbar_axes.bbox.x1) + _COLORBAR_WIDTH + _COLORBAR_GAP
    tall = max(height - bottom - top, 1.0) / height
    if colorbar_axes.get_visible():
        x0 = (width - right + _COLORBAR_GAP) / width
        colorbar_axes.set_position((x0, bottom / height, _COLORBAR_WIDTH / width, tall))
    axes.set_position((left / width, bottom / height, max(width - left - right, 1.0) / width, tall))


def _outline(region: explore.Region) -> tuple[np.ndarray, np.ndarray]:
    """Closed outline (x, y) of a polygon, rectangle or ellipse region."""
    points = np.asarray(region.points, np.float64)
    if region.shape == "polygon":
        closed = np.vstack([points, points[:1]])
        return closed[:, 0], closed[:, 1]
    (x0, y0), (x1, y1) = points[:2]
    if region.shape == "rectangle":
        return np.array([x0, x1, x1, x0, x0]), np.array([y0, y0, y1, y1, y0])
    angles = np.linspace(0, 2 * np.pi, 97)
    return (x0 + x1) / 2 + abs(x1 - x0) / 2 * np.cos(angles), (y0 + y1) / 2 + abs(y1 - y0) / 2 * np.sin(angles)


def _style(axes) -> None:
    axes.set_facecolor("#1a1b1f")
    axes.tick_params(colors=_FOREGROUND)
    for spine in axes.spines.values():
        spine.set_color(_FOREGROUND)
    axes.xaxis.label.set_color(_FOREGROUND)
    axes.yaxis.label.set_color(_FOREGROUND)

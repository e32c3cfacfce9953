"""A small plot of the automatic-K sweep under the widget's report: the criterion per K, the chosen K marked.

matplotlib on a Qt canvas, as the explorer panel draws (``FigureCanvasQTAgg``); made on the first
run with ``n_clusters="auto"`` so that opening the widget does not import matplotlib. It only draws
:class:`~napari_colorquant.autok.KCurve`, which the core computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from magicgui.widgets import Container

if TYPE_CHECKING:
    from ..autok import KCurve

_BACKGROUND = "#262930"  # napari's dark theme
_FOREGROUND = "#f0f1f2"
_LINE = "#5fb0ff"
_CHOSEN = "#ff9f0a"
#: Height of the plot in pixels: enough for ticks and axis labels, small enough to keep the dock compact.
HEIGHT = 170
#: Axis label of each criterion, with its unit and direction.
CRITERION_LABELS = {"bic": "BIC (lower is better)", "psnr": "PSNR (dB)", "delta_e": "mean ΔE00"}


class KCurvePlot(Container):
    """The K curve of the last run, hidden when the run had a fixed K."""

    def __init__(self) -> None:
        super().__init__(name="k_curve", label="K curve", labels=False)
        self.tooltip = "Automatic K: the criterion at each K tried; the chosen K is marked (and the target, if any)."
        self.figure = None
        self.canvas = None
        self.axes = None
        self.visible = False

    def _make_canvas(self) -> None:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(3.2, 1.7), facecolor=_BACKGROUND)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setFixedHeight(HEIGHT)
        self.axes = self.figure.add_axes((0.22, 0.27, 0.74, 0.66))
        self.native.layout().addWidget(self.canvas)

    def show_curve(self, curve: KCurve | None) -> None:
        """Draw ``curve`` (a :class:`~napari_colorquant.autok.KCurve`), or hide the plot for None.

        Parameters
        ----------
        curve : KCurve or None
            The sweep of the last run.
        """
        if curve is None:
            self.visible = False
            return
        if self.canvas is None:
            self._make_canvas()
        axes = self.axes
        axes.clear()
        axes.set_facecolor(_BACKGROUND)
        for spine in axes.spines.values():
            spine.set_color(_FOREGROUND)
        axes.tick_params(colors=_FOREGROUND, labelsize=7)
        axes.plot(curve.ks, curve.values, marker="o", markersize=3, color=_LINE, linewidth=1.2)
        chosen = curve.values[curve.ks.index(curve.chosen)]
        axes.plot([curve.chosen], [chosen], marker="o", markersize=7, color=_CHOSEN, linestyle="none",
                  label=f"chosen K = {curve.chosen}")  # fmt: skip
        if curve.target is not None:
            axes.axhline(curve.target, color=_CHOSEN, linestyle="--", linewidth=0.8, label=f"target {curve.target:g}")
        axes.set_xlabel("K (clusters)", color=_FOREGROUND, fontsize=8)
        axes.set_ylabel(CRITERION_LABELS.get(curve.criterion, curve.criterion), color=_FOREGROUND, fontsize=8)
        step = max(1, len(curve.ks) // 8)
        axes.set_xticks(curve.ks[::step])
        legend = axes.legend(fontsize=7, frameon=False, labelcolor=_FOREGROUND, loc="best")
        legend.set_zorder(5)
        self.visible = True
        self.canvas.draw_idle()

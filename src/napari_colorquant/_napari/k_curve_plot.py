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


def _scale(curve: KCurve) -> tuple[float, str]:
    """A power of 1000 to divide the values by (BIC ~ 1e7 reads as 10.0, with ×10⁶ in the axis label) and the label.

    The label is two short lines (name and scale, then the unit or direction): one line is longer than the plot is high.
    """
    import math

    label = CRITERION_LABELS.get(curve.criterion, curve.criterion)
    finite = [abs(v) for v in curve.values if math.isfinite(v)]
    exponent = 3 * math.floor(math.log10(max(finite)) / 3) if finite and max(finite) >= 1e4 else 0
    name, _, rest = label.partition(" ")
    if exponent:
        name += f" ×10{str(exponent).translate(_SUPERSCRIPT)}"
    return 10.0**exponent, f"{name}\n{rest}" if rest else name


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


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

        # Constrained layout: the margins fit the tick and axis labels at any dock width (nothing is dragged here).
        self.figure = Figure(figsize=(3.2, 1.7), facecolor=_BACKGROUND, layout="constrained")
        self.figure.get_layout_engine().set(w_pad=0.04, h_pad=0.04)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setFixedHeight(HEIGHT)
        self.axes = self.figure.add_subplot()
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
        from matplotlib.ticker import MaxNLocator

        axes = self.axes
        axes.clear()
        axes.set_facecolor(_BACKGROUND)
        for spine in axes.spines.values():
            spine.set_color(_FOREGROUND)
        axes.tick_params(colors=_FOREGROUND, labelsize=7)
        scale, label = _scale(curve)
        values = [v / scale for v in curve.values]
        axes.plot(curve.ks, values, marker="o", markersize=3, color=_LINE, linewidth=1.2)
        chosen = values[curve.ks.index(curve.chosen)]
        axes.plot([curve.chosen], [chosen], marker="o", markersize=7, color=_CHOSEN, linestyle="none",
                  label=f"chosen K = {curve.chosen}")  # fmt: skip
        if curve.target is not None:
            axes.axhline(curve.target / scale, color=_CHOSEN, linestyle="--", linewidth=0.8,
                         label=f"target {curve.target:g}")  # fmt: skip
        axes.set_xlabel("K (clusters)", color=_FOREGROUND, fontsize=8)
        axes.set_ylabel(label, color=_FOREGROUND, fontsize=8)
        # Whole K only, as many as fit without touching (K = 2..16 in a narrow dock: every other one).
        axes.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True, min_n_ticks=2))
        axes.yaxis.set_major_locator(MaxNLocator(nbins=4))
        axes.yaxis.get_major_formatter().set_useOffset(False)
        legend = axes.legend(fontsize=7, frameon=False, labelcolor=_FOREGROUND, loc="best")
        legend.set_zorder(5)
        self.visible = True
        self.canvas.draw_idle()

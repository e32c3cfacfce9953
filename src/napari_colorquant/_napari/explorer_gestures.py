"""Selection gestures on the explorer's plot: lasso, rectangle, ellipse, span; modifiers; clicks on centres.

A mixin of :class:`~.explorer_plot.FeaturePlot` (which holds ``axes``, ``view``, ``tool`` and the callbacks
``on_region(region, mode)`` and ``on_cluster(label)``). matplotlib's own selectors do the drawing.
"""

from __future__ import annotations

import numpy as np
from matplotlib.widgets import EllipseSelector, LassoSelector, RectangleSelector, SpanSelector

from .. import explore

TOOLS = ("lasso", "rectangle", "ellipse", "none")


class Gestures:
    """Turn mouse gestures on the plot into feature-space regions and cluster clicks."""

    # --- interaction ----------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        """Choose the selection gesture: lasso, rectangle, ellipse or none (a span for histograms).

        Parameters
        ----------
        tool : str
            One of ``TOOLS``.
        """
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; accepted: {', '.join(TOOLS)}")
        self.tool = tool
        with self.canvas.lock:  # a selector adds its artists to the axes
            self._make_selector()

    def _make_selector(self) -> None:
        if self._selector is not None:
            self._selector.set_active(False)
            self._selector = None
        if self.view is None or self.tool == "none":
            return
        if self.view.axes[0] == self.view.axes[1]:
            self._selector = SpanSelector(self.axes, self._on_span, "horizontal", useblit=True,
                                          props=dict(alpha=0.3, facecolor="#ffcc00"))  # fmt: skip
        elif self.tool == "lasso":
            self._selector = LassoSelector(self.axes, self._on_lasso, useblit=True, props=dict(color="#ffcc00"))
        else:
            kind = RectangleSelector if self.tool == "rectangle" else EllipseSelector
            self._selector = kind(self.axes, self._on_box, useblit=True, minspanx=0, minspany=0,
                                  props=dict(edgecolor="#ffcc00", fill=False),
                                  state_modifier_keys=dict(square="", center="", rotate=""))  # fmt: skip

    def _remember_modifiers(self, event) -> None:
        from qtpy.QtCore import Qt

        modifiers = set(getattr(event, "modifiers", None) or ())
        gui = getattr(event, "guiEvent", None)
        if gui is not None:  # the Qt event's own modifiers (matplotlib reads the application's key state)
            flags = gui.modifiers()
            for flag, name in (
                (Qt.KeyboardModifier.ShiftModifier, "shift"),
                (Qt.KeyboardModifier.ControlModifier, "ctrl"),
                (Qt.KeyboardModifier.AltModifier, "alt"),
            ):
                if flags & flag:
                    modifiers.add(name)
        self._modifiers = frozenset(modifiers)
        self._press_xy = (event.x, event.y)

    def _mode(self) -> str:
        if self._modifiers & {"ctrl", "alt", "cmd"}:
            return "subtract"
        return "add" if "shift" in self._modifiers else "replace"

    def _emit(self, shape: str, points) -> None:
        if self.on_region is None or self.view is None:
            return
        try:
            region = explore.Region(shape, self.view.axes, points)
        except ValueError:  # a click without a drag: nothing to select
            return
        self.on_region(region, self._mode())

    def _on_lasso(self, vertices) -> None:
        self._emit("polygon", vertices)

    def _on_box(self, press, release) -> None:
        shape = "rectangle" if self.tool == "rectangle" else "ellipse"
        self._emit(shape, [(press.xdata, press.ydata), (release.xdata, release.ydata)])

    def _on_span(self, low: float, high: float) -> None:
        if high > low:
            self._emit("interval", [(low, high)])

    def _on_pick(self, event) -> None:
        # Remembered until the release: a drag that starts on a centre is a selection, not a click.
        if event.artist is self._centres and len(event.ind):
            self._picked = int(event.ind[0]) + 1
        elif event.artist in self._legend_lines:
            self._picked = self._legend_lines[event.artist]

    def _on_release(self, event) -> None:
        picked, self._picked = self._picked, None
        moved = np.hypot(event.x - self._press_xy[0], event.y - self._press_xy[1])
        if picked is not None and moved < 4 and self.on_cluster is not None:
            self.on_cluster(picked)

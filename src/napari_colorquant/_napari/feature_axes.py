"""Which features the separate feature window shows on its axes: the x / y / z pickers and the kept choice.

With more features than the window's three axes (a 4- or 5-channel stack), the user picks the features
by their names (the layers' channel names); the window redraws at once from what the run kept (its sample
of pixels, its centres and Gaussians), without clustering again. The choice is kept for the next runs while
their features have the same names. The feature explorer's x / y pickers keep theirs by the same rule
(:func:`kept_axes`). No maths here: the features shown and the Gaussians' marginals come from
:mod:`napari_colorquant.feature_space`.

napari's 3-D view draws a layer's last axis across the screen (x), the one before it downwards (y) and
the first towards the viewer (z); its 2-D view the last across and the first downwards. The pickers are
named by what the user sees: x, y, z.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, Container, Label

from .. import feature_space as fs
from .layers import Source, feature_axis_names, feature_space_layers, plot_channel_names

#: The window's pickers, in the order they are shown.
AXIS_NAMES = ("x", "y", "z")
TITLE = "napari-colorquant: feature space"


def kept_axes(previous_names: Sequence[str], previous_axes: Sequence[int] | None, names: Sequence[str],
              default: Sequence[int]) -> tuple[int, ...]:  # fmt: skip
    """The axes chosen for the previous run when the new run's features have the same names, else ``default``.

    Parameters
    ----------
    previous_names : sequence of str
        The previous run's feature names (empty before the first run).
    previous_axes : sequence of int or None
        The features it showed (feature indices, in the plot's axis order).
    names : sequence of str
        The new run's feature names.
    default : sequence of int
        What the new run shows when its features differ.

    Returns
    -------
    tuple of int
    """
    if previous_axes is not None and list(previous_names) == list(names):
        return tuple(int(a) for a in previous_axes)
    return tuple(int(a) for a in default)


def swapped(axes: Sequence[int], column: int, feature: int) -> tuple[int, ...]:
    """``axes`` with ``feature`` on ``column``; when another column shows it already, that one takes the old feature.

    A feature cannot be on two axes of a 3-D cloud (the points would lie on a plane): picking one shown
    on another axis swaps the two, as spreadsheet-like pickers do.

    Parameters
    ----------
    axes : sequence of int
        The features shown, in the layers' column order.
    column : int
        The column whose feature changes.
    feature : int
        The feature picked for it.

    Returns
    -------
    tuple of int
    """
    axes = [int(a) for a in axes]
    old, feature = axes[column], int(feature)
    if feature in axes:
        axes[axes.index(feature)] = old
    axes[column] = feature
    return tuple(axes)


def window_title(names: Sequence[str], shown: Sequence[str] | None) -> str:
    """The separate window's title: which features are on x, y (and z), and how many there are.

    Parameters
    ----------
    names : sequence of str
        Every feature's name.
    shown : sequence of str or None
        The shown features' names in the layers' column order (None: a histogram of the only feature).

    Returns
    -------
    str
    """
    if not shown:
        return TITLE if not names else f"{TITLE} (histogram of {names[0]})"
    on_axes = ", ".join(f"{axis} {name}" for axis, name in zip(AXIS_NAMES, reversed(shown), strict=False))
    extra = f"; {len(shown)} of {len(names)} features" if len(names) > len(shown) else ""
    return f"{TITLE} ({on_axes}{extra})"


@dataclass
class FeatureRun:
    """What the separate window needs to draw a run on any of its features (made in the run's worker).

    Attributes
    ----------
    result : QuantizeResult
    source : Source
        The run's input, as the output layers describe it.
    sample : (features, labels, values) or None
        The run's sample of pixels in feature space (every feature).
    counts : ndarray (K,)
        Pixels per cluster (counted once, in the worker).
    names : list of str
        Every feature's name on the axes (a stack's channel names).
    """

    result: Any
    source: Source
    sample: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    counts: np.ndarray
    names: list[str]

    @classmethod
    def make(cls, result: Any, source: Source, sample: tuple | None) -> FeatureRun:
        """Count the clusters' pixels (in the worker: the counted values may be millions) and name the features.

        Parameters
        ----------
        result : QuantizeResult
        source : Source
        sample : (features, labels, values) or None

        Returns
        -------
        FeatureRun
        """
        names = feature_axis_names(result.model, plot_channel_names(source))
        return cls(result, source, sample, fs.cluster_counts(result), names)

    def layers(self, axes: Sequence[int] | None = None) -> list[tuple]:
        """The window's layers with features ``axes`` on its axes (default: the last three).

        Parameters
        ----------
        axes : sequence of int, optional
            Feature indices in the layers' column order (z, y, x in 3-D).

        Returns
        -------
        list of tuple
            napari LayerDataTuples.
        """
        return feature_space_layers(self.result, self.source, self.sample, axes=axes, counts=self.counts,
                                    ellipsoids=True)  # fmt: skip


class AxisPicker(Container):
    """x / y / z drop-downs naming the features, docked in the separate window.

    Parameters
    ----------
    on_pick : callable
        Called with the new axes (feature indices in the layers' column order) when the user picks one.
    """

    def __init__(self, on_pick: Callable[[tuple[int, ...]], object]) -> None:
        self.combos = [ComboBox(name=axis, label=axis, choices=[], tooltip=_TIPS[axis]) for axis in AXIS_NAMES]
        self.note = Label(name="note", label=" ", value="", tooltip=_SWAP_TIP)
        super().__init__(widgets=[*self.combos, self.note], labels=True)
        self.native.setMinimumWidth(190)  # the dock's title, "feature axes", shows whole
        self.note.native.setWordWrap(True)
        self._on_pick = on_pick
        self.names: list[str] = []
        self.axes: tuple[int, ...] | None = None
        for slot, combo in enumerate(self.combos):
            combo.changed.connect(lambda value, _slot=slot: self._picked(_slot, value))

    def show_axes(self, names: Sequence[str], axes: Sequence[int] | None) -> None:
        """Show the run's features as choices and ``axes`` as chosen (no redraw is asked for).

        Parameters
        ----------
        names : sequence of str
            Every feature's name.
        axes : sequence of int or None
            The features shown, in the layers' column order (None: the histogram of a single feature).
        """
        self.names, self.axes = list(names), None if axes is None else tuple(int(a) for a in axes)
        shown = 0 if self.axes is None else len(self.axes)
        choices = [(name, index) for index, name in enumerate(self.names)]
        for slot, combo in enumerate(self.combos):
            with combo.changed.blocked():
                combo.choices = choices
                if slot < shown:
                    combo.value = self.axes[shown - 1 - slot]
            combo.visible = slot < shown
        self.note.value = _note(len(self.names), shown)

    def _picked(self, slot: int, feature: int | None) -> None:
        if self.axes is None or feature is None or slot >= len(self.axes):
            return
        axes = swapped(self.axes, len(self.axes) - 1 - slot, feature)
        if axes == self.axes:
            return
        self.show_axes(self.names, axes)  # the swapped picker shows its new feature too
        self._on_pick(axes)


_SWAP_TIP = "Picking a feature that another axis shows swaps the two axes."
_TIPS = {
    "x": "The feature across the window (left to right). " + _SWAP_TIP,
    "y": "The feature down the window (top to bottom). " + _SWAP_TIP,
    "z": "The feature towards you (rotate the cloud with the mouse to see it). " + _SWAP_TIP,
}


def _note(n_features: int, shown: int) -> str:
    if shown == 0:
        return "1 feature: its histogram"
    return f"{shown} of {n_features} features" if n_features > shown else f"all {n_features} features"

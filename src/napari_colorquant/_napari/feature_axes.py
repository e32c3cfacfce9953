"""Which features the feature views show on their axes: the x / y / z pickers and the one choice they share.

With more features than the window's three axes (a 4- or 5-channel stack), the user picks the features
by their names (the layers' channel names); the view redraws at once from what the run kept (its sample
of pixels, its centres and Gaussians), without clustering again. The separate window, the "same viewer"
view and the feature explorer of one viewer share one choice (:class:`AxisChoice`): a pick in one is
shown by the others (the explorer is 2-D: its x / y are the window's x / y), and it is kept for the next
runs while their features have the same names (:func:`kept_axes`). No maths here: the features shown and
the Gaussians' marginals come from :mod:`napari_colorquant.feature_space`.

napari's 3-D view draws a layer's last axis across the screen (x), the one before it downwards (y) and
the first towards the viewer (z); its 2-D view the last across and the first downwards. The pickers are
named by what the user sees: x, y, z.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, Container, Label

from .. import feature_space as fs
from .elided_combo import elide_in_middle, fit_list
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


def default_order(n_features: int) -> tuple[int, ...]:
    """The features on x, y and z before any pick: the last two on x and y (the explorer's pair), the third last on z.

    Parameters
    ----------
    n_features : int
        The run's features (1 or more).

    Returns
    -------
    tuple of int
        Feature indices in the user's order x, y, z: ``min(3, n_features)`` of them.
    """
    n = int(n_features)
    return (0,) if n == 1 else (n - 2, n - 1, n - 3)[: min(3, n)]


def layer_columns(order: Sequence[int], n_shown: int = 3) -> tuple[int, ...]:
    """The layers' column order (z, y, x; napari draws the last column across) of features on x, y, z.

    Parameters
    ----------
    order : sequence of int
        Feature indices on x, y, z (the user's order).
    n_shown : int
        Axes of the view.

    Returns
    -------
    tuple of int
    """
    return tuple(int(a) for a in reversed(list(order)[:n_shown]))


class AxisChoice:
    """The features on x, y (and z) for every feature view of one viewer: one choice, kept per feature names.

    The separate window, the "same viewer" view and the explorer each draw what it says and tell it the
    user's picks (:meth:`choose`); each is called back when another changed it (:meth:`connect`).
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        #: Feature indices on x, y, z (at most three), or None before the first run.
        self.order: tuple[int, ...] | None = None
        self._listeners: list[weakref.WeakMethod] = []
        self.viewer: Callable[[], Any] = lambda: None

    def for_run(self, names: Sequence[str]) -> tuple[int, ...]:
        """The features on x, y, z for a run with features ``names``: the choice if they are the same, else the default.

        Parameters
        ----------
        names : sequence of str
            The run's feature names.

        Returns
        -------
        tuple of int
            Feature indices on x, y, z.
        """
        return kept_axes(self.names, self.order, names, default_order(len(names)))

    def choose(self, names: Sequence[str], order: Sequence[int]) -> None:
        """Record features ``order`` on x, y, z for features ``names``; tell the listeners if it changed.

        Parameters
        ----------
        names : sequence of str
            The run's feature names.
        order : sequence of int
            Feature indices on x, y, z.
        """
        old = self.order if list(names) == self.names else None
        self.names, self.order = list(names), tuple(int(a) for a in order)
        if old == self.order:
            return
        for ref in list(self._listeners):
            listener = ref()
            if listener is None:
                self._listeners.remove(ref)
            else:
                listener(self.names, old, self.order)

    def connect(self, method: Callable[[list[str], tuple | None, tuple], object]) -> None:
        """Call ``method(names, old_order, new_order)`` after each change (held weakly: a bound method).

        Parameters
        ----------
        method : bound method
            The listener; ``old_order`` is None when the names changed.
        """
        self._listeners.append(weakref.WeakMethod(method))


_CHOICES: weakref.WeakValueDictionary[int, AxisChoice] = weakref.WeakValueDictionary()


def axis_choice(viewer: Any) -> AxisChoice:
    """The axis choice shared by the feature views of ``viewer`` (made on first use; held by its users).

    Parameters
    ----------
    viewer : napari.Viewer
        The main viewer (or napari's public proxy of it).

    Returns
    -------
    AxisChoice
    """
    viewer = getattr(viewer, "__wrapped__", viewer)
    choice = _CHOICES.get(id(viewer))
    if choice is None or choice.viewer() is not viewer:
        choice = AxisChoice()
        choice.viewer = weakref.ref(viewer)
        _CHOICES[id(viewer)] = choice
    return choice


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


def picked_order(order: Sequence[int], picked: Sequence[int]) -> tuple[int, ...]:
    """The features on x, y, z after a pick of the first ``len(picked)`` of them (a 2-D view picks x and y only).

    Each picked feature goes on its axis as :func:`swapped` puts it; the axes not picked keep theirs.

    Parameters
    ----------
    order : sequence of int
        The features on x, y, z now.
    picked : sequence of int
        The features picked for x, y (and z).

    Returns
    -------
    tuple of int
    """
    order = tuple(int(a) for a in order)
    for slot, feature in enumerate(picked):
        order = swapped(order, slot, feature) if slot < len(order) else order
    return order


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

    def layers(self, axes: Sequence[int] | None = None, ellipsoids: bool = True) -> list[tuple]:
        """The view's layers with features ``axes`` on its axes (default: the last three).

        Parameters
        ----------
        axes : sequence of int, optional
            Feature indices in the layers' column order (z, y, x in 3-D).
        ellipsoids : bool
            For the separate window: EM Gaussians as 3-D ellipsoids (its 3-D view) and a histogram growing
            towards positive rows (its camera grows upwards); else flat ellipses for napari's image camera.

        Returns
        -------
        list of tuple
            napari LayerDataTuples.
        """
        return feature_space_layers(self.result, self.source, self.sample, axes=axes, counts=self.counts,
                                    ellipsoids=ellipsoids, upward=ellipsoids)  # fmt: skip


class AxisPicker(Container):
    """x / y / z drop-downs naming the features: docked in the separate window, or in the widget for the same viewer.

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
            _show_whole_names(combo, AXIS_NAMES[slot])
        self.note.value = _note(len(self.names), shown)

    def _picked(self, slot: int, feature: int | None) -> None:
        if self.axes is None or feature is None or slot >= len(self.axes):
            return
        axes = swapped(self.axes, len(self.axes) - 1 - slot, feature)
        if axes == self.axes:
            return
        self.show_axes(self.names, axes)  # the swapped picker shows its new feature too
        self._on_pick(axes)


def _show_whole_names(combo: ComboBox, axis: str) -> None:
    """A long name (``"Alexa Fluor 488 - GFP"``) is elided in the middle in the narrow box, whole in its tooltip
    and the open list (as the explorer's pickers show it)."""
    box = combo.native
    combo.tooltip = f"{box.currentText()}\n{_TIPS[axis]}" if box.currentText() else _TIPS[axis]
    elide_in_middle(box)
    fit_list(box)


_SWAP_TIP = "Picking a feature that another axis shows swaps the two axes."
_TIPS = {
    "x": "The feature across the window (left to right). " + _SWAP_TIP,
    "y": "The feature up the window (bottom to top). " + _SWAP_TIP,
    "z": "The feature towards you (rotate the cloud with the mouse to see it). " + _SWAP_TIP,
}


def _note(n_features: int, shown: int) -> str:
    if shown == 0:
        return "1 feature: its histogram"
    return f"{shown} of {n_features} features" if n_features > shown else f"all {n_features} features"

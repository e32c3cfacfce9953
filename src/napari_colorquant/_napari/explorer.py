"""The feature-space explorer: a docked plot linked both ways with the image.

Plot -> image: lasso / rectangle / ellipse selections (shift adds, ctrl or alt subtracts)
update the ``<image> selection`` Labels layer; a click on a centre or a legend entry shows
only that cluster in the ``<image> clusters`` layer. Image -> plot: hovering the image marks
that pixel's features. Clusters can be merged, turned into a mask or into objects.
The maths lives in :mod:`napari_colorquant.explore`; this module only wires it to napari.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .. import explore
from .canvas_room import dock_of
from .cluster_table import ClusterTable
from .elided_combo import ElidedComboBox
from .explorer_actions import LayerActions
from .explorer_background import Background
from .explorer_brush import Brushing
from .explorer_gestures import TOOLS
from .explorer_plot import FeaturePlot, PlotView
from .feature_axes import axis_choice, default_order, swapped
from .layers import axis_labels, plot_channel_names
from .runner import when_undocked

if TYPE_CHECKING:
    import napari
    from matplotlib.figure import Figure

    from ..model import ClusterModel
    from ..result import QuantizeResult
    from ..workflows import RunOutput
    from .job import Job

_EXPLORERS: weakref.WeakValueDictionary[int, FeatureExplorer] = weakref.WeakValueDictionary()
DOCK_NAME = "Feature space explorer"


def _unwrap(viewer):
    """The viewer itself (plugin widgets receive it behind napari's public-only proxy)."""
    return getattr(viewer, "__wrapped__", viewer)


def find_explorer(viewer: napari.Viewer) -> FeatureExplorer | None:
    """The explorer of ``viewer`` once a run has shown a result there, else None.

    Also while the user has closed its dock (the next run docks it again): a script's selections on the
    last result go on working.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer (or napari's public proxy of it).

    Returns
    -------
    FeatureExplorer or None
    """
    explorer = _registered(_unwrap(viewer))
    return explorer if explorer is not None and explorer.data is not None else None


def explorer_for(viewer: napari.Viewer, settle: bool = True) -> FeatureExplorer:
    """The explorer of ``viewer``, created and docked on first use.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer (or napari's public proxy of it).
    settle : bool
        Let a new dock take its room at once (events are processed here). False when the caller
        lets the event loop turn before it draws in the explorer.

    Returns
    -------
    FeatureExplorer
    """
    viewer = _unwrap(viewer)
    explorer = _docked(viewer)
    if explorer is None:
        explorer = _dock(viewer, _registered(viewer) or FeatureExplorer(viewer))
        if settle:  # let the new dock take its room now, so that a view reset after the run fits the smaller canvas
            from qtpy.QtWidgets import QApplication

            QApplication.processEvents()
    return explorer


def _registered(viewer: napari.Viewer) -> FeatureExplorer | None:
    """The explorer made for ``viewer`` (unwrapped), docked or closed by the user; None before the first."""
    explorer = _EXPLORERS.get(id(viewer))
    return explorer if explorer is not None and explorer.viewer is viewer else None


def _docked(viewer: napari.Viewer) -> FeatureExplorer | None:
    """The explorer docked in ``viewer`` (unwrapped), with or without a result; None before the first.

    None as well once the user has closed its dock (napari keeps the widget, without a parent): the next
    run docks the same explorer again rather than drawing in one nobody can see.
    """
    explorer = _registered(viewer)
    return explorer if explorer is not None and dock_of(explorer) is not None else None


def _dock(viewer: napari.Viewer, explorer: FeatureExplorer) -> FeatureExplorer:
    """Dock ``explorer`` in ``viewer``, unless one is docked there already (then that one is returned)."""
    docked = _docked(viewer)
    if docked is not None:
        return docked
    # A tab next to the clustering widget: stacked under it, both would be squeezed on a laptop screen.
    viewer.window.add_dock_widget(explorer, name=DOCK_NAME, area="right", tabify=True)
    _EXPLORERS[id(viewer)] = explorer
    return explorer


def dock_beside(viewer: napari.Viewer, widget: QWidget) -> FeatureExplorer | None:
    """Dock the viewer's explorer, still empty, as a tab behind ``widget``'s dock (a clustering widget opening).

    Docked when the clustering widget opens rather than after the first run: making and docking it (its
    figure, the main window's new layout, napari saving the dock's place in its settings) is ~0.1-0.15 s
    of the GUI thread in one piece, which froze the canvas just as the first run's outputs were shown.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer (or napari's public proxy of it).
    widget : QWidget
        The clustering widget's Qt widget; its dock stays in front.

    Returns
    -------
    FeatureExplorer or None
        None when the viewer has its explorer already, or ``widget`` is not in a dock on the main window's
        right (the first run then docks the explorer).
    """
    viewer = _unwrap(viewer)
    holder = dock_of(widget)
    if _docked(viewer) is not None or not _on_the_right(holder):
        return None
    explorer = _dock(viewer, _registered(viewer) or FeatureExplorer(viewer))
    # napari tabs a new dock with the area's last one, which is not the widget's when another dock was added since.
    holder.parentWidget().tabifyDockWidget(holder, dock_of(explorer))
    # napari brings a new tab to the front once the main window has laid it out: the widget being opened
    # comes back in front after that.
    QTimer.singleShot(0, holder.raise_)
    _undock_when_closed(holder.widget(), viewer, explorer)
    return explorer


def _undock_when_closed(watched: QWidget, viewer: napari.Viewer, explorer: FeatureExplorer) -> None:
    """Undock the explorer, if it is still empty, when the user closes the clustering widget ``watched`` that docked it.

    napari's "x" on a plugin dock takes the widget out of its dock (its parent becomes None) and deletes the
    dock, without deleting the widget: the widget is never told. An empty explorer left behind would be a
    panel with nothing to show and no widget to fill it; one with a result stays (its selections still work).
    Watching the parent, not the dock's deletion: when the viewer closes, the docks are deleted with the
    window and nothing may be undocked.
    """
    viewer_ref, explorer_ref = weakref.ref(viewer), weakref.ref(explorer)

    def undock_if_empty() -> None:
        viewer, explorer = viewer_ref(), explorer_ref()
        if viewer is not None and explorer is not None and explorer.data is None and _docked(viewer) is explorer:
            viewer.window.remove_dock_widget(explorer)

    # after napari has finished removing the widget's dock
    when_undocked(watched, partial(QTimer.singleShot, 0, undock_if_empty))


def _on_the_right(holder: QWidget | None) -> bool:
    """``holder`` is a dock in its main window's right area, where :func:`_dock` puts the explorer as a tab.

    Elsewhere (docked left, floating) the explorer's new tab would not be behind the widget but in front of
    another dock on the right, hiding it behind an empty plot: the first run docks the explorer then.
    """
    from qtpy.QtCore import Qt

    window = holder.parentWidget() if holder is not None else None
    if window is None or holder.isFloating() or not window.inherits("QMainWindow"):
        return False
    return window.dockWidgetArea(holder) == Qt.DockWidgetArea.RightDockWidgetArea


def prepare_outcome(job: Job, output: RunOutput) -> dict:
    """What :meth:`FeatureExplorer.show_result` needs from a run, gathered in the run's worker thread.

    The feature data (the run's counted table, or the lazy fit's merged histogram) and each distinct
    value's label are the only parts that pass over pixels: they are made here, never on the GUI thread.

    Parameters
    ----------
    job : Job
        The clustering widget's job (its request: layer, mask, channel axis, pyramid levels).
    output : RunOutput
        What the run returned.

    Returns
    -------
    dict
        The keyword arguments of ``show_result`` (or ``{"error": message}`` when the feature data cannot be made).
    """
    request, result = job.request, output.result
    data, mask, downsample = request.data, request.mask, None
    if request.levels is not None:  # a pyramid: the model was fitted on one level, whose labels the result holds
        level = int(result.model.params.get("fit_level", 0))
        data, mask = request.levels[level], None
        spatial = np.shape(result.labels)
        full = np.shape(request.levels[0])[: len(spatial)]
        downsample = [a / b for a, b in zip(full, spatial, strict=True)]
    try:
        features = explore.feature_data(result, data, mask=mask, channel_axis=request.channel_axis)
    except (ValueError, TypeError, MemoryError) as error:
        return {"error": str(error)}
    # The first plot's pair index (cached in ``features``), made here rather than on the GUI thread: the pair
    # the feature views show (a pair picked in the window before this run, too).
    channel_names = plot_channel_names(job.source)
    names = axis_labels(result.model, channel_names)[0]
    choice = getattr(job, "axis_choice", None)
    order = choice.for_run(names) if choice is not None else default_order(len(names))
    explore.shown_values(features, first_pair(order, False, (0, 0)))
    return dict(features=features, channel_names=channel_names, downsample=downsample,
                geometry=job.source.geometry, layer_channel_axis=getattr(job.source, "channel_axis", None),
                channel_span=getattr(job.source, "channel_span", None), levels=request.levels)  # fmt: skip


def show_outcome(viewer: napari.Viewer, job: Job, output: RunOutput) -> FeatureExplorer | None:
    """Hand a finished run of the clustering widget to the viewer's explorer (errors become notifications).

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer the run's layers were added to.
    job : Job
        The widget's :class:`~.job.Job`.
    output : RunOutput
        The :class:`~napari_colorquant.workflows.RunOutput`, whose ``extra["explorer"]`` holds what
        :func:`prepare_outcome` made in the worker (made here otherwise).

    Returns
    -------
    FeatureExplorer or None
        None when the outcome could not be shown (a notification says why).
    """
    from napari.utils.notifications import show_error

    prepared = output.extra.get("explorer") or prepare_outcome(job, output)
    try:
        if "error" in prepared:
            raise ValueError(prepared["error"])
        explorer = explorer_for(viewer)
        explorer.show_result(output.result, job.layer, **prepared)
    except (ValueError, TypeError, MemoryError) as error:
        show_error(f"napari-colorquant explorer: {error}")
        return None
    return explorer


def default_axes(model: ClusterModel) -> tuple[int, int]:
    """The features a run's plot shows first: the last two, or the histogram of the only one.

    Parameters
    ----------
    model : ClusterModel
        The fitted model.

    Returns
    -------
    (int, int)
        Feature indices on x and y (equal for a histogram).
    """
    return (0, 0) if model.n_features == 1 else (model.n_features - 2, model.n_features - 1)


def outcome_steps(viewer: napari.Viewer, job: Job, output: RunOutput) -> list[Callable[[], object]]:
    """:func:`show_outcome` as steps of GUI work: on the first run making the explorer, then docking it; drawing in it.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer the run's layers were added to.
    job : Job
        The widget's :class:`~.job.Job`.
    output : RunOutput
        The run's output.

    Returns
    -------
    list of callable
        To be called in order, each in its own event-loop turn.
    """
    steps: list[Callable[[], object]] = [partial(show_outcome, viewer, job, output)]
    viewer = _unwrap(viewer)
    if "error" in output.extra.get("explorer", {}):
        return steps
    docked, registered = _docked(viewer), _registered(viewer)
    if registered is not None and docked is None:  # the user closed its dock: the run's result brings it back
        steps[:0] = [partial(_dock, viewer, registered)]
    elif docked is None:
        made: list[FeatureExplorer] = []  # holds the new explorer between its two steps (the registry is weak)
        steps[:0] = [lambda: made.append(FeatureExplorer(viewer)), lambda: _dock(viewer, made[0])]
    elif docked.data is None:  # docked empty when the widget opened: its first result brings its tab to the front
        steps[:0] = [partial(_raise_tab, docked)]
    return steps


def _raise_tab(explorer: FeatureExplorer) -> None:
    """Bring the explorer to the front for its first result (shown again if the user hid it while empty)."""
    holder = dock_of(explorer)
    if holder is not None:
        holder.show()
        holder.raise_()


def first_pair(order: Sequence[int], same_features: bool, shown: tuple[int, int]) -> tuple[int, int]:
    """The features a run's plot shows first: the feature views' x and y; a histogram shown stays for the same features.

    Parameters
    ----------
    order : sequence of int
        The features on x, y, z of the viewer's feature views for this run (:meth:`.AxisChoice.for_run`).
    same_features : bool
        The previous run had features of the same names.
    shown : (int, int)
        What the plot showed for it.

    Returns
    -------
    (int, int)
        Feature indices on x and y (equal for a histogram).
    """
    if same_features and shown[0] == shown[1]:
        return shown  # the feature views have no histogram of one feature: the plot keeps its own
    return (int(order[0]), int(order[1])) if len(order) > 1 else (0, 0)


class FeatureExplorer(LayerActions, Brushing, Background, QWidget):
    """Docked panel: the feature-space plot, a cluster table and actions that add layers."""

    def __init__(self, viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.data: explore.FeatureData | None = None
        self.result = None
        self.source = None
        self._source_data = None  # the source layer's data object when the run was shown
        self.selection = explore.Selection()
        self.names: list[str] = []
        self.axis_labels_all: list[str] = []
        self._axes = (0, 1)
        self._cluster_names: list[str] = []
        self._colours = np.zeros((0, 4))
        self._downsample = None
        self._geometry: dict = {}
        self._layer_channel_axis = None
        self._channel_span: int | None = None
        self._levels = None
        self._init_background()
        self.plot = FeaturePlot()
        # A gesture's selection of a big image is looked up in a worker (the Python surface waits for it).
        self.plot.on_region = lambda region, mode: self._guarded(self.select_region, region, mode, True)
        self.plot.on_cluster = lambda label: self.select_clusters([label])
        self.table = ClusterTable(self)
        self._build()
        viewer.mouse_move_callbacks.append(self._on_mouse_move)
        self.choice = axis_choice(viewer)  # x / y shared with the viewer's feature window and "same viewer" view
        self.choice.connect(self._on_choice)

    def _build(self) -> None:
        # Long channel names ("Alexa Fluor 488 - GFP") elided in the middle, whole in the tooltip and the list.
        self.x_axis, self.y_axis = ElidedComboBox(), ElidedComboBox()
        self.confidence = QComboBox()
        self.confidence.addItems(list(explore.CONFIDENCES))
        self.confidence.setCurrentText("95 %")
        self.tool = QComboBox()
        self.tool.addItems(list(TOOLS))
        self.export_button = QPushButton("Export plot…")
        self.min_size = QSpinBox()
        self.min_size.setRange(1, 1_000_000_000)
        self.min_size.setValue(20)
        self.objects_button = QPushButton("Selection → objects")
        self.pairs_button = QPushButton("All pairs…")
        self.brush_layer = QComboBox()
        self.brush_layer.setToolTip("A Shapes or Labels layer drawn on the image: its pixels' density is overlaid")
        self.status = QLabel("Run a clustering to explore its feature space.")
        self.status.setWordWrap(True)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # busy, no percentage
        self.busy_bar.setMaximumHeight(8)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.hide()
        # Short rows: the dock must stay narrow enough to leave the canvas its width (three boxes a row: 488 px).
        # x and y on a row of their own: a channel's name needs the width ("kidney ch1" was cut to "ki…h1").
        rows = [(("x", self.x_axis), ("y", self.y_axis)), (("ellipse", self.confidence), ("tool", self.tool)),
                (("brush", self.brush_layer),)]  # fmt: skip
        layout = QVBoxLayout(self)
        for row in rows:
            line = QHBoxLayout()
            for text, widget in row:
                line.addWidget(QLabel(text))
                line.addWidget(widget, stretch=1)
            layout.addLayout(line)
        self.plot.canvas.setMinimumWidth(400)  # the narrowest plot whose ticks and names read well
        layout.addWidget(self.plot.canvas, stretch=3)
        actions = ((self.export_button, self.pairs_button), (QLabel("min size"), self.min_size, self.objects_button))
        for widgets in actions:
            line = QHBoxLayout()
            for widget in widgets:
                line.addWidget(widget)
            layout.addLayout(line)
        layout.addWidget(self.table, stretch=2)
        layout.addWidget(self.busy_bar)
        layout.addWidget(self.status)
        self.x_axis.currentIndexChanged.connect(self._on_axes_changed)
        self.y_axis.currentIndexChanged.connect(self._on_axes_changed)
        self.confidence.currentTextChanged.connect(lambda *_: self.redraw())
        self.tool.currentTextChanged.connect(self.plot.set_tool)
        self.export_button.clicked.connect(self._export_dialog)
        self.objects_button.clicked.connect(lambda: self._guarded(self.selection_to_objects, self.min_size.value()))
        self.brush_layer.currentIndexChanged.connect(self._on_brush_choice)
        self.pairs_button.clicked.connect(lambda: self._guarded(self.pair_overview))
        self.viewer.layers.events.inserted.connect(self._refresh_brush_choices)
        self.viewer.layers.events.removed.connect(self._refresh_brush_choices)
        self._brushed = None

    # --- results ---------------------------------------------------------------------------
    def show_result(
        self, result: QuantizeResult, source_layer: napari.layers.Image, *, data: ArrayLike | None = None,
        mask: ArrayLike | None = None, channel_axis: int | None = None, channel_names: list[str] | None = None,
        downsample: Sequence[float] | None = None, geometry: dict | None = None, layer_channel_axis: int | None = None,
        features: explore.FeatureData | None = None, levels: list | None = None, channel_span: int | None = None,
    ) -> None:  # fmt: skip
        """Show a run's feature space (called by the clustering widget after each run).

        Parameters
        ----------
        result : QuantizeResult
        source_layer : napari.layers.Image
            The clustered layer (outputs overlay it).
        data, mask, channel_axis
            The array the run clustered (default: the layer's data), its mask and channel axis.
        channel_names : list of str, optional
            Names of the channels (the layers stacked as channels).
        downsample : sequence of float, optional
            For a pyramid: how much smaller the clustered level is than the layer's full resolution, per axis.
        geometry : dict, optional
            Placement of outputs on the pixel grid (scale, translate, rotate, shear, affine); default: the layer's.
        layer_channel_axis : int, optional
            The layer's own data axis holding the channels (one layer clustered by its channels).
        features : FeatureData, optional
            The run's feature data, already made (in the run's worker, see :func:`prepare_outcome`).
        levels : list of arrays, optional
            For a pyramid: every level, finest first (selections are lazy masks of each level).
        channel_span : int, optional
            The length-1 axis that the run's outputs keep for the layer's channels (ZCYX: see
            :attr:`~.layers.Source.channel_span`); the selection, mask and objects layers keep it too.
        """
        if features is None:
            image = source_layer.data if data is None else data
            features = explore.feature_data(result, image, mask=mask, channel_axis=channel_axis)
        self.data = features
        self._levels = None if levels is None else list(levels)
        self.result, self.source, self._source_data = result, source_layer, source_layer.data
        self._downsample = None if downsample is None else np.asarray(downsample, np.float64)
        names = ("scale", "translate", "rotate", "shear", "affine")
        self._geometry = {k: v for k, v in (geometry or {}).items() if k in names} or {
            name: getattr(source_layer, name) for name in names
        }
        self._layer_channel_axis, self._channel_span = layer_channel_axis, channel_span
        self.selection = explore.Selection()
        model, previous = result.model, self.names
        self.names, self.axis_labels_all = axis_labels(model, channel_names)
        self._cluster_names = list(
            model.params.get("cluster_names") or [f"cluster {k}" for k in range(1, model.n_clusters + 1)]
        )
        self._colours = self._layer_colours()
        for combo in (self.x_axis, self.y_axis):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(self.names)
            combo.blockSignals(False)
        self.y_axis.setEnabled(model.n_features > 1)
        self.confidence.setEnabled(model.method == "em")
        self.pairs_button.setEnabled(model.n_features >= 3)
        self.show_axes(*first_pair(self.choice.for_run(self.names), previous == self.names, self._axes))
        self._refresh_brush_choices()
        kind = "counted values" if self.data.exact else "fitted sample"
        self.status.setText(
            f"{self.data.values.shape[0]:,} distinct values ({kind}) of {self.data.n_pixels:,.0f} pixels. "
            "Drag to select (shift adds, ctrl/alt subtracts); click a centre to show its cluster."
        )

    @property
    def axis_names(self) -> tuple[str, str]:
        """Names of the two shown features (the same name twice for a 1-D histogram)."""
        return self.names[self._axes[0]], self.names[self._axes[1]]

    def show_axes(self, i: int, j: int) -> None:
        """Show features ``i`` (x) and ``j`` (y); ``i == j`` shows the histogram of one feature.

        Two different features go on x and y of the viewer's feature window and "same viewer" view too.

        Parameters
        ----------
        i, j : int
            Feature indices of the run's model.
        """
        self._require()
        explore._check_axes((i, j), self.data.model.n_features)
        self._axes = (int(i), int(j))
        for combo, value in ((self.x_axis, i), (self.y_axis, j)):
            combo.blockSignals(True)
            combo.setCurrentIndex(int(value))
            combo.blockSignals(False)
        self.redraw()
        if i != j:  # the feature views show this pair on x and y too (a histogram has no pair to share)
            order = self.choice.for_run(self.names)
            self.choice.choose(self.names, swapped(swapped(order, 0, int(i)), 1, int(j)))

    def _on_choice(self, names: list[str], old: tuple | None, order: tuple[int, ...]) -> None:
        """A feature view's x / y changed: show them, for the same features (a change of z only is not a pair)."""
        moved = len(order) > 1 and (old is None or old[:2] != order[:2]) and tuple(order[:2]) != self._axes
        if self.data is not None and names == self.names and moved:
            self.show_axes(order[0], order[1])

    def pair_overview(self, show: bool = True) -> Figure:
        """A pair grid of every two features (three or more features); shown in a window unless ``show`` is False.

        Parameters
        ----------
        show : bool
            Open the figure in its own window.

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        ValueError
            Before a run (there is nothing to show).
        """
        from .explorer_pairs import pair_grid

        self._require()
        figure = pair_grid(self.data.features, self.data.counts, self.names, self.data.model.means,
                           self.cluster_colours())  # fmt: skip
        if show:
            from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

            canvas = FigureCanvasQTAgg(figure)
            canvas.setWindowTitle(f"{self.source.name}: every pair of features")
            canvas.resize(620, 620)
            canvas.show()
            self._pair_window = canvas
        return figure

    def _on_axes_changed(self, *_) -> None:
        if self.data is not None:
            self.show_axes(self.x_axis.currentIndex(), self.y_axis.currentIndex())

    def redraw(self, highlighted: list[int] | None = None) -> None:
        """Draw the plot again (after a change of axes, confidence, merge or names).

        Parameters
        ----------
        highlighted : list of int, optional
            Cluster labels drawn highlighted (the others dimmed).
        """
        if self.data is None or self._indexing(self._axes, partial(self.redraw, highlighted)):
            return  # the pair's index is made in a worker first (redrawn then): not on the GUI thread
        stats = explore.cluster_statistics(self.data)
        model = self.data.model
        sizes = model.mixing_weights if model.method == "em" else stats["count"]
        title = f"{self.source.name} · {model.method} · K = {model.n_clusters} · {model.color_space}"
        # One row per distinct shown pair when fewer (same density); selections on these axes reuse its index.
        features, counts = explore.shown_values(self.data, self._axes)
        self.plot.draw(PlotView(
            features=features, counts=counts, model=model, axes=self._axes,
            axis_labels=self.axis_labels_all, colours=self.cluster_colours(), names=self._cluster_names,
            title=title, confidence=self.confidence.currentText(), sizes=np.asarray(sizes, np.float64),
            highlighted=highlighted or [],
        ))  # fmt: skip
        self.plot.show_selection(self.selection.steps)
        if self._brushed is not None:
            self._update_brush()
        self.table.show(stats, self.cluster_colours(), self._cluster_names, self.axis_labels_all)

    def save_plot(self, path: str | os.PathLike) -> None:
        """Save the plot as PNG or SVG (by the file's extension).

        Parameters
        ----------
        path : str or os.PathLike
            The file to write.

        Raises
        ------
        ValueError
            Before a run (the explorer, docked empty when a clustering widget opens, shows only a placeholder),
            for a format matplotlib cannot write, or when the file cannot be written (no such folder, no
            permission, disk full): the Export button shows it as a notification instead of a traceback.
        """
        self._require()
        try:
            self.plot.save(path)
        except OSError as error:
            reason = error.strerror or str(error)
            raise ValueError(f"cannot write the plot to {path}: {reason}; choose another folder") from error

    # --- plumbing ---------------------------------------------------------------------------
    def _require(self) -> None:
        if self.data is None:
            raise ValueError("the explorer has no result yet: run a clustering first")

    def _guarded(self, action, *args):
        from napari.utils.notifications import show_error

        try:
            return action(*args)
        except (ValueError, TypeError) as error:
            show_error(f"napari-colorquant explorer: {error}")
            self.status.setText(str(error))
            return None

    def _export_dialog(self) -> None:
        if self.data is None:  # say so before asking for a file name that nothing would be written to
            self._guarded(self._require)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export plot", "feature_space.png", "Images (*.png *.svg *.pdf)")
        if path:
            self._guarded(self.save_plot, path)

    def _on_mouse_move(self, viewer, event) -> None:
        if self.data is None or self.source not in viewer.layers:
            return
        self.plot.mark(self.pixel_point(event.position))

    def pixel_point(self, world_position: Sequence[float]) -> tuple[float, float] | None:
        """The shown features of the pixel under a world position (None outside the image or mask).

        Parameters
        ----------
        world_position : sequence of float
            A position in the viewer's world coordinates (e.g. the mouse event's ``position``).

        Returns
        -------
        (float, float) or None
            The pixel's (x, y) in the shown features (y is 0 for a histogram).
        """
        position = np.asarray(self.source.world_to_data(world_position), np.float64)
        if self._layer_channel_axis is not None and len(position) == len(self.data.spatial_shape) + 1:
            position = np.delete(position, self._layer_channel_axis)
        if self._downsample is not None:
            position = position / self._downsample
        position = np.round(position).astype(int)
        shape = self.data.spatial_shape
        position = position[-len(shape) :]
        if len(position) != len(shape) or np.any(position < 0) or np.any(position >= np.asarray(shape)):
            return None
        if self.data.mask is not None and not np.asarray(self.data.mask[tuple(position)]):
            return None
        index: list = list(position)
        if self.data.channel_axis is not None:
            index.insert(self.data.channel_axis, slice(None))
        value = self.data.image[tuple(index)]
        value = np.asarray(value)  # one pixel: a dask or zarr layer reads just that chunk
        n = self.data.model.n_channels
        features = self.data.model.features(np.reshape(value, (-1,))[:n][None, :])[0]
        i, j = self._axes
        return (features[i], 0.0) if i == j else (features[i], features[j])

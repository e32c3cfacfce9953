"""The napari dock widget: a composition of controls, a runner and an output placer.

* :mod:`.controls` — the magicgui inputs (layers, parameters);
* :mod:`.job` — reads the layers into a core :class:`~napari_colorquant.workflows.RunRequest`;
* :mod:`.runner` — the worker thread, progress bar, Cancel, clean stop when the viewer closes;
* :mod:`.placer` — puts the outputs into the viewer (in place), for Run and Apply alike;
* :mod:`.steps` — runs the GUI work after a run in short steps, one per event-loop turn.

The clustering itself is :func:`napari_colorquant.workflows.run`, the same from Python.

After a run, the worker hands over finished layer tuples as soon as they exist; the GUI thread
places them in short steps (a new layer in two: inserted hidden, then shown), and once the canvas has
painted them the worker goes on with the separate feature window's layers, the explorer's data and the
costliest quality figure (CIEDE2000, one colour conversion per distinct colour), no longer competing
with the placement for the CPU (:mod:`.handover`); the report follows.
:attr:`ClusterWidget.timeline` records when each stage happened (for the GUI benchmark).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import napari
from magicgui.widgets import Container, Label, ProgressBar, PushButton, TextEdit
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QTimer

from .. import workflows
from ..model import ClusterModel
from ..quantize import apply_model
from ..report import report_text
from . import collector, handover, warmup
from . import job as _job
from . import layers as _layers
from .canvas_room import make_room
from .controls import Controls, guess_channel_axis, in_widget_words
from .explorer import dock_beside, outcome_steps, prepare_outcome
from .feature_axes import FeatureRun
from .k_curve_plot import KCurvePlot
from .placer import Placer, drop_viewer_plots, frame_plot
from .runner import Cancelled, Runner, when_undocked
from .steps import StepQueue
from .writer import prefer_plugin_writers

LIVE_DEBOUNCE_MS = 250
LIVE_MAX_SECONDS = 0.5


def _framing(viewer: napari.Viewer, view: str) -> Callable[[], object]:
    """How a run frames the viewer: a feature plot in it ("same viewer") as the window's, with room for its texts."""
    return partial(frame_plot, viewer) if view == "same viewer" else viewer.reset_view


class ClusterWidget(Container):
    """Cluster the pixels of an image layer with k-means or EM and add the results as layers.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        Injected by napari.
    method : {"kmeans", "em"}
        Method selected when the widget opens.
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer, method: str = "kmeans") -> None:
        super().__init__(labels=True)
        self._viewer = napari_viewer
        prefer_plugin_writers()  # File → Save of this widget's outputs goes to the plugin's writers
        self._last_model: ClusterModel | None = None
        self._last_seconds: float | None = None
        self._untrack = None
        self._superseded = False
        self._dropped = self._reset_view = False
        #: ``time.perf_counter()`` of the last run's stages: "run" (Run pressed), "layers" (the worker's
        #: layers reached the GUI thread), "placed" (every output in the viewer), "done" (report, view).
        self.timeline: dict[str, float] = {}
        self.controls = Controls(napari_viewer, method)
        self.placer = Placer(napari_viewer)
        self.runner = Runner(self._show_progress)
        self._steps = StepQueue(alive=lambda: not self.runner.closed)
        self.run_button = PushButton(name="run_button", text="Run", tooltip="Cluster the image (in the background).")
        self.cancel_button = PushButton(name="cancel_button", text="Cancel", enabled=False,
                                        tooltip="Stop the running job; nothing is added.")  # fmt: skip
        self.progress = ProgressBar(name="progress", label="progress", min=0, max=100, value=0,
                                    tooltip="Progress of the running job.")  # fmt: skip
        self.status = Label(name="status", value="")
        self.report = TextEdit(name="report", label="report", value="", tooltip="Fit figures of the last run.")
        self.report.read_only = True
        self.report.changed.connect(lambda *_: fit_to_text(self.report.native))
        self.k_curve = KCurvePlot()
        self.apply_button = PushButton(name="apply_button", text="Apply fitted model",
                                       tooltip="Apply the last fitted model to the layer.")  # fmt: skip
        self.extend([*self.controls.input_widgets(), self.run_button, self.cancel_button, self.progress,
                     self.status, self.report, self.k_curve, self.controls.apply_target,
                     self.apply_button])  # fmt: skip
        self.insert(self.index(self.controls.feature_view) + 1, self.placer.viewer_picker)  # "same viewer" x / y / z
        self._live_timer = QTimer()
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_DEBOUNCE_MS)
        self._live_timer.timeout.connect(self._live_run)
        self._connect()
        warmup.start()
        warmup.after(partial(_after_warmup, self))

    def _connect(self) -> None:
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.apply_button.changed.connect(self.apply_to_target)
        self.controls.watch(self._schedule_live)
        self.controls.feature_view.changed.connect(self.placer.feature_view_chosen)
        layer_events = self._viewer.layers.events
        for event in (layer_events.inserted, layer_events.removed, layer_events.moved, layer_events.renamed):
            event.connect(self.controls.reset_choices)
        self._viewer.layers.selection.events.active.connect(self._on_active_layer)
        self.native.destroyed.connect(self.runner.shutdown)
        self.native.destroyed.connect(self.placer.close_feature_viewer)
        self.native.destroyed.connect(collector.hold(self._viewer))  # frozen after the warm-up: short full gcs
        when_undocked(self.native, self.runner.shutdown, self.placer.close_feature_viewer)  # napari's "x"
        self.controls.reset_choices()
        self._on_active_layer()
        self.controls.update_visibility()

    def reset_choices(self, *_) -> None:
        """Re-read the layer lists, keeping the selected layers (napari calls this on layer events)."""
        self.controls.reset_choices()

    def _on_active_layer(self, *_) -> None:
        active = self._viewer.layers.selection.active
        if self.placer.placing or not isinstance(active, napari.layers.Image):
            return
        if active.metadata.get("colorquant") is None:
            self.controls.image.value = active

    # --- running ----------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A run is computing, or its outputs are still being placed."""
        return self.runner.busy or self._steps.busy

    def run(self) -> None:
        """Start a clustering run in a worker thread (the GUI stays responsive)."""
        if self.busy:
            show_warning("napari-colorquant: a run is already in progress")
            return
        try:
            job = _job.collect(self.controls, self._viewer)
        except (ValueError, TypeError) as error:
            self._fail(str(error))
            return
        job.axis_choice = self.placer.choice
        self._untrack = handover.track_data(job)
        self._superseded = self._dropped = False
        self.timeline = {"run": time.perf_counter()}
        self._set_running(True, "clustering…")
        # A plain function, not a bound method: napari's worker messages repr() it, and the repr of a
        # bound method reads every control (deleted ones too, once the viewer is closed).
        self.runner.start(compute_run, job, self.runner, yielded=self._on_layers, returned=self._on_done,
                          errored=self._on_error, finished=self._on_finished)  # fmt: skip

    def _show_progress(self, percent: int, stage: str) -> None:
        self.progress.value = percent
        self.status.value = f"{stage}…"

    def _set_running(self, running: bool, message: str = "") -> None:
        self.run_button.enabled = not running
        self.apply_button.enabled = not running
        self.cancel_button.enabled = running
        if running:
            self.progress.value = 0
        self.status.value = message

    def _on_finished(self) -> None:
        untrack, self._untrack = self._untrack, None
        if untrack is not None:
            untrack()
        self._steps.add(lambda: self._set_running(False, self.status.value))  # after the outputs are placed

    def cancel(self) -> None:
        """Ask the running job to stop at its next step; nothing will be added."""
        if self.cancel_button.enabled and self.runner.cancel():  # not once the outputs are on their way
            self.status.value = "cancelling…"

    def _fail(self, message: str, status: str = "failed") -> None:
        """Say what went wrong in a notification, the status line and the report; reset the progress bar."""
        message = in_widget_words(message)
        show_error(f"napari-colorquant: {message}")
        self.status.value = status
        set_report(self.report, message)
        self.progress.value = 0

    def _on_error(self, error: Exception) -> None:
        if isinstance(error, Cancelled) and self._superseded:
            self.status.value = "updating…"  # live preview replaced a stale run: no notification
        elif isinstance(error, Cancelled):
            show_info("napari-colorquant: cancelled; nothing was added")
            self.status.value = "cancelled"
            self.progress.value = 0
        else:
            self._fail(str(error) or type(error).__name__)

    def _on_layers(self, outcome: tuple) -> None:
        """The worker's layers are ready: place them one per event-loop turn (the worker waits for them)."""
        job, out, tuples, features = outcome
        if tuples is None:  # the separate window's layers, made once the main viewer's were placed
            queue_window(self._steps, self.placer, outcome, show=not self._dropped and job.layer in self._viewer.layers)
            return
        self.timeline["layers"] = time.perf_counter()
        dropped = handover.drop_reason(job, self._viewer)
        if dropped is not None or self.runner.cancelled:  # Cancel clicked as the outputs arrived: none is placed
            self._dropped = True
            job.placed.set()  # nothing to place: the worker may go on (a cancelled one stops there)
            if dropped is not None:
                self._fail(*dropped)
            return
        self.cancel_button.enabled = False  # nothing left to cancel: the outputs are on their way
        queue_placement(self._steps, self.placer, (job, out, tuples, features), self._placed,
                        partial(setattr, self.progress, "value", 100))  # fmt: skip
        self._reset_view = self._last_model is None or job.feature_view == "same viewer"
        self._last_model = out.result.model
        self._last_seconds = out.seconds

    def _placed(self) -> None:
        self.timeline["placed"] = time.perf_counter()
        self.status.value = f"done in {self.timeline['placed'] - self.timeline['run']:.2f} s"

    def _on_done(self, outcome: tuple) -> None:
        """The worker has finished the explorer's data and the figures: show them once the outputs are placed."""
        if self._dropped or went_stale(self, outcome[0]):
            return
        job, out, summary = outcome
        self._steps.add(*outcome_steps(self._viewer, job, out))
        self._steps.add(partial(self._show_report, out, job.source, summary))
        if self._reset_view:  # last: the explorer's dock and the report's lines took canvas space
            self._steps.add(_framing(self._viewer, job.feature_view))
        self._steps.add(self._mark_done)

    def _show_report(self, out, source: _layers.Source, summary: dict) -> None:
        if source.summary is not None:  # the dict every output's metadata holds: it gains the last figures
            source.summary.update(summary)
        set_report(self.report, report_text(summary, seconds=out.seconds))
        self.k_curve.show_curve(out.result.k_curve)

    def _mark_done(self) -> None:
        self.timeline["done"] = time.perf_counter()

    # --- live preview -----------------------------------------------------------------
    def _schedule_live(self, *_) -> None:
        if self.controls.live.value and self._last_seconds is not None and self._last_seconds < LIVE_MAX_SECONDS:
            self._live_timer.start()

    def _live_run(self) -> None:
        if self.runner.closed:
            return
        if self.busy:
            self._superseded = self.runner.cancel()
            self._live_timer.start()  # run once the stale run has stopped (or its outputs are placed)
            return
        self.run()

    # --- apply a fitted model -----------------------------------------------------------
    def apply_to_target(self) -> None:
        """Label ``apply model to`` with the last fitted model (fit once, apply to a whole time-lapse)."""
        target = self.controls.apply_target.value
        model = self._last_model
        if model is None:
            self._fail("run the clustering first; there is no fitted model to apply")
            return
        if target is None or target not in self._viewer.layers:
            self._fail("choose the image layer to apply the fitted model to")
            return
        if self.busy:
            show_warning("napari-colorquant: a run is already in progress")
            return
        multiscale = target.multiscale
        chosen = self.controls.channel_axis.value if target is self.controls.image.value else None
        try:
            axis = apply_axis(target, model, chosen)
        except ValueError as error:
            self._fail(str(error))
            return
        (source, kind, colormaps, limits), data, axis = _job.apply_input(target, model.input_kind, axis)

        def compute():
            if multiscale:
                pyramid = workflows.apply_to_pyramid(model, data)
                result, label_levels, quantized_levels = pyramid.result, pyramid.labels, pyramid.quantized
            else:
                result, label_levels, quantized_levels = apply_model(model, data, channel_axis=axis), None, None
            self.runner.check()
            tuples = _layers.output_tuples(result, source, (kind, colormaps, limits), label_levels=label_levels,
                                           quantized_levels=quantized_levels)  # fmt: skip
            return result, tuples

        def done(outcome):
            result, tuples = outcome
            if target not in self._viewer.layers:
                self._fail(f"layer {source.name!r} was removed; nothing was added", "removed")
                return
            self.placer.place(target, tuples, result=result)
            self.progress.value = 100
            self.status.value = f"applied the model to {target.name!r}"
            set_report(self.report, report_text(result.summary(), applied=True))

        self._set_running(True, "applying model…")
        self.runner.start(compute, returned=done, errored=self._on_error, finished=self._on_finished)

    # --- for tests and other widgets ----------------------------------------------------
    @property
    def worker(self) -> Any:
        """The running worker (or the queue still placing its outputs); None once the run is complete."""
        if self.runner.worker is not None:
            return self.runner.worker
        return self._steps if self._steps.busy else None

    @property
    def feature_viewer(self) -> napari.Viewer | None:
        """The separate feature-space viewer (None until a run opened it)."""
        return self.placer.feature_viewer

    def close_feature_viewer(self, *_) -> None:
        """Close the separate feature-space viewer, if open."""
        self.placer.close_feature_viewer()


def went_stale(widget: ClusterWidget, job: _job.Job) -> bool:
    """Whether the input's data was replaced while a run's outputs were being placed; if so, say so in the widget.

    A replacement before the outputs reach the GUI thread drops them (:func:`.handover.drop_reason`); one
    during their placement (a few event-loop turns) left them placed over data they do not fit, the run
    reported as done.

    Parameters
    ----------
    widget : ClusterWidget
        Shows the message (notification, status, report).
    job : Job
        The run, its outputs placed.

    Returns
    -------
    bool
        True when the outputs show data the layer no longer holds (the report and explorer are then not updated).
    """
    if not job.stale:
        return False
    widget._fail(
        f"the data of layer {job.layer.name!r} changed while its outputs were being placed: they show the data it "
        "had before; run again",
        "stale",
    )
    return True


def _after_warmup(widget: ClusterWidget) -> None:
    if not widget.runner.closed:
        dock_beside(widget._viewer, widget.native)  # the explorer, docked by then
        QTimer.singleShot(0, partial(_make_room, widget))  # once the explorer's tab is laid out
        _prepare_window(widget)
        widget.controls.feature_view.changed.connect(partial(_prepare_window, widget))  # chosen later


def _make_room(widget: ClusterWidget) -> None:
    if not widget.runner.closed:  # not closed with its viewer in the meantime (its Qt widget deleted)
        make_room(widget.native)


def _prepare_window(widget: ClusterWidget, *_) -> None:
    """Build the separate feature window hidden while the widget is shown and idle: the first run only shows it
    (built at the end of that run, napari's ``Viewer()`` alone froze the canvas ~80-140 ms). Not for a widget
    nobody sees (a script's, a hidden viewer's), nor with another view chosen."""
    runner = widget.runner
    shown = widget.native.window().isVisible()  # in a shown window (its tab may be behind the explorer's)
    if shown and not runner.closed and widget.controls.feature_view.value == "separate window":
        widget.placer.prepare_window(alive=lambda: not runner.closed)


def apply_axis(target: Any, model: ClusterModel, chosen: int | None = None) -> int | None:
    """The channel axis of the layer a fitted model is applied to (None: no channel axis).

    A model fitted on channels, applied to one layer holding them (CYX, ZCYX): the axis chosen for it in
    the widget, the one its labels name (``c``), or its only axis before the image plane with as many
    planes as the model has channels (napari's own reader numbers a ZCYX file's axes).

    Parameters
    ----------
    target : napari.layers.Image
    model : ClusterModel
    chosen : int, optional
        The widget's channel axis, when ``target`` is the layer it clusters.

    Returns
    -------
    int or None

    Raises
    ------
    ValueError
        When a stack's channel axis cannot be told (no axis, or several, of the model's channel count), or when a
        colour model meets a layer napari shows as gray, or a gray pyramid's last axis has 3 or 4 pixels (each
        would be read as colours).
    """
    if model.input_kind in ("rgb", "rgba") and not target.rgb:
        raise ValueError(
            f"the fitted model is for {model.input_kind.upper()} images; layer {target.name!r} is shown as a gray "
            "stack, not as RGB: apply it to an RGB layer, or fit a new model on this one"
        )
    if target.multiscale and not target.rgb and _job.colour_like(target.data[0]):  # levels have no channel axis
        n = target.data[0].shape[-1]
        raise ValueError(
            f"layer {target.name!r} is a pyramid shown as a stack, not as RGB, but its last axis has {n} pixels, "
            f"which would be read as {n} colour values: if they are colours, add it again as an RGB layer "
            "(rgb=True); else apply the model to a single-scale copy of it"
        )
    if model.input_kind != "channels" or target.multiscale or target.rgb:
        return None
    axis = chosen if chosen is not None else guess_channel_axis(target)
    if axis is None:
        matches = [axis for axis, n in enumerate(target.data.shape[:-2]) if n == model.n_channels]
        axis = matches[0] if len(matches) == 1 else None
    if axis is None and target.ndim > 2:
        raise ValueError(
            f"the fitted model has {model.n_channels} channels; layer {target.name!r} has no channel axis of that size "
            "it can be told by: choose it as image and set its channel axis, or name the axis 'c' in its axis labels"
        )
    return axis


def set_report(report: TextEdit, text: str) -> None:
    """Show ``text`` in ``report``, grown to its lines (``changed`` is not emitted for every programmatic set).

    Parameters
    ----------
    report : TextEdit
        The widget's report box.
    text : str
        The report.
    """
    report.value = text
    fit_to_text(report.native)


def fit_to_text(edit: TextEdit) -> None:
    """Grow the report box to its text, so every line shows without scrolling.

    Parameters
    ----------
    edit : TextEdit
        The report box.
    """
    document = edit.document()
    document.setTextWidth(max(edit.viewport().width(), 200))
    margins = edit.contentsMargins()
    edit.setMinimumHeight(int(document.size().height()) + margins.top() + margins.bottom() + 2 * edit.frameWidth())


def queue_placement(steps: StepQueue, placer: Placer, outcome: tuple, placed: Callable[[], object],
                    shown: Callable[[], object] | None = None) -> None:  # fmt: skip
    """Queue a run's outputs for the main viewer, one per step (the worker waits until they are painted).

    Parameters
    ----------
    steps : StepQueue
        The widget's queue of event-loop steps.
    placer : Placer
        Puts the layers into the viewer(s).
    outcome : tuple
        What the worker yielded, ``(job, output, tuples, feature_run)`` (a :class:`~.feature_axes.FeatureRun`
        for the "same viewer" view, else None).
    placed : callable
        Runs in the step that sets the main viewer's last output, before the canvas paints it
        (not one turn later).
    shown : callable, optional
        Runs one turn later, once the canvas has painted the outputs (e.g. the progress bar's 100 %: a
        progress bar repaints at once, and with it the canvas just given a layer, whose paint, ~50 ms
        at 12 MP, was then added to that layer's step).
    """
    job, out, tuples, features = outcome  # the separate window's features come later (queue_window)
    steps.add_iterator(placer.place_steps(job.layer, tuples, feature_run=features, feature_view=job.feature_view,
                                          result=out.result, on_placed=placed))  # fmt: skip
    steps.add(partial(drop_viewer_plots, placer, job.layer if job.feature_view == "same viewer" else None))
    if shown is not None:
        steps.add(shown)
    steps.add(job.placed.set)  # a turn after the last output (the canvas has painted it): the worker goes on


def queue_window(steps: StepQueue, placer: Placer, outcome: tuple, show: bool = True) -> None:
    """Queue the separate feature window's layers, one per step, then let the worker go on.

    Parameters
    ----------
    steps : StepQueue
        The widget's queue of event-loop steps.
    placer : Placer
        Puts the layers into the window.
    outcome : tuple
        What the worker yielded, ``(job, output, None, feature_run)`` (a :class:`~.feature_axes.FeatureRun`).
    show : bool
        False when the run's outputs were dropped or its input removed: nothing is shown, the worker goes on.
    """
    job, _, _, run = outcome
    if show and run is not None:
        steps.add_iterator(placer.feature_window_steps(job.layer, run))
    steps.add(job.placed.set)


def compute_run(job: _job.Job, runner: Runner) -> Generator[tuple, None, tuple]:
    """Worker thread: cluster, build every layer tuple and yield them, then compute the last figures.

    Parameters
    ----------
    job : Job
        What to run (request, parameters, source layer).
    runner : Runner
        Gives the progress callback (and stops a cancelled job).

    Yields
    ------
    (job, output, tuples, feature_run)
        As soon as the layers exist (``feature_run`` for the "same viewer" view, else None); then, with the
        separate feature window, ``(job, output, None, feature_run)`` once the main viewer's outputs are placed
        (each waits for the GUI thread).

    Returns
    -------
    (job, output, summary)
        Once the explorer's data and the perceptual figures (CIEDE2000) are computed too.
    """
    out = workflows.run(job.request, runner.progress)
    runner.progress("layers", 0.0)
    tuples = _layers.output_tuples(
        out.result, job.source, (job.kind, job.colormaps, job.limits), label_levels=out.label_levels,
        quantized_levels=out.quantized_levels, posteriors=out.posteriors, per_cluster=job.posterior == "per cluster",
        perceptual=False,
    )  # fmt: skip
    features = None
    if job.feature_view == "same viewer":  # drawn on the features chosen in the viewer (on the GUI thread)
        features = FeatureRun.make(out.result, job.source, out.sample)
    runner.check()
    yield job, out, tuples, features
    handover.wait_until_placed(job, runner)  # not competing with the GUI thread while it places and paints
    if job.feature_view == "separate window":  # shown after the main viewer's outputs: made after them too
        job.placed.clear()  # the window's layers are made from it on the GUI thread, on the features it shows
        yield job, out, None, FeatureRun.make(out.result, job.source, out.sample)
        handover.wait_until_placed(job, runner)
    # Once the layers are placed and painted: the explorer's pixel pass (off the GUI thread) and the CIEDE2000 figures.
    out.extra["explorer"] = prepare_outcome(job, out)
    return job, out, out.result.summary()


class KMeansWidget(ClusterWidget):
    """Dock widget with k-means selected (Plugins → napari-colorquant → K-means clustering)."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__(napari_viewer, method="kmeans")


class EMWidget(ClusterWidget):
    """Dock widget with EM selected (Plugins → napari-colorquant → EM clustering)."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__(napari_viewer, method="em")

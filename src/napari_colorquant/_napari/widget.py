"""The napari dock widget: pick a layer and parameters, cluster in a worker thread, add layers.

All clustering goes through :func:`napari_colorquant.quantize` /
:func:`napari_colorquant.apply_model`; this module only gathers inputs from
layers, runs the work off the GUI thread (progress bar, cancel button) and
turns results into layers via :mod:`._layers`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import napari
import numpy as np
from magicgui.widgets import (
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
    Select,
    SpinBox,
    TextEdit,
)
from napari.layers import Image, Labels, Layer, Shapes
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning
from superqt.utils import ensure_main_thread

from ..colorspaces import CHROMA_SPACES
from ..features import is_lazy
from ..lazy import apply_lazy, lazy_posteriors, predict_lazy, quantize_multiscale
from ..model import ClusterModel
from ..quantize import QuantizeResult, apply_model, quantize
from . import layers as _layers

RGB_SPACES = ["auto", "rgb", "ycrcb", "ycrcb-chroma", "lab", "lab-chroma", "gray"]
FEATURE_VIEWS = ["separate window", "same viewer", "none"]
POSTERIOR_CHOICES = ["none", "max posterior", "per cluster"]
MAX_FEATURE_POINTS = 5000


class Cancelled(Exception):
    """Raised inside the worker when the user pressed Cancel."""


@dataclass
class Job:
    """Everything a run needs, gathered on the GUI thread before the worker starts."""

    layer: Image
    data: np.ndarray
    channel_axis: int | None
    mask: np.ndarray | None
    fit_index: tuple | None
    params: dict[str, Any]
    source: _layers.Source
    kind: str
    colormaps: list = field(default_factory=list)
    limits: list = field(default_factory=list)
    posterior: str = "none"
    feature_view: str = "separate window"
    levels: list | None = None


@dataclass
class Outcome:
    """What the worker hands back to the GUI thread."""

    job: Job
    result: QuantizeResult
    label_levels: list | None
    quantized_levels: list | None
    fit_result: QuantizeResult | None
    posteriors: np.ndarray | None
    sample_features: np.ndarray
    sample_labels: np.ndarray
    seconds: float


def _layer_geometry(layer: Layer) -> dict[str, Any]:
    geometry = {
        "scale": tuple(layer.scale),
        "translate": tuple(layer.translate),
        "rotate": layer.rotate,
        "shear": layer.shear,
        "affine": layer.affine.affine_matrix,
    }
    for name in ("axis_labels", "units"):
        if hasattr(layer, name):
            geometry[name] = tuple(getattr(layer, name))
    return geometry


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
        self._worker = None
        self._cancel = threading.Event()
        self._adding = False
        self._last_model: ClusterModel | None = None
        self._feature_viewer = None

        self.image = ComboBox(
            label="image",
            choices=self._image_choices,
            nullable=True,
            tooltip="Image layer to cluster (follows the selected layer).",
        )
        self.channels = Select(
            label="extra channels",
            choices=self._channel_choices,
            tooltip="Other image layers of the same shape used as extra feature channels "
            "(napari splits multichannel files into one layer per channel).",
        )
        self.method = ComboBox(
            label="method",
            choices=[("k-means", "kmeans"), ("EM (Gaussian mixture)", "em")],
            value=method,
            tooltip="k-means: nearest centre. EM: Gaussian mixture, soft clusters.",
        )
        self.n_clusters = SpinBox(
            label="clusters (K)",
            value=8,
            min=1,
            max=255,
            tooltip="Number of clusters = number of colours in the quantized image.",
        )
        self.color_space = ComboBox(
            label="feature space",
            choices=self._space_choices,
            tooltip="Space the pixels are clustered in. Chroma-only: cluster Cr/Cb or a/b "
            "and keep each pixel's Y or L* (only for RGB layers).",
        )
        self.covariance = ComboBox(
            label="covariance",
            choices=["full", "diagonal", "spherical"],
            value="full",
            tooltip="EM covariance type: full ellipses, axis-aligned, or round.",
        )
        self.max_iter = SpinBox(
            label="max iterations",
            value=10,
            min=1,
            max=10000,
            tooltip="Stop after this many iterations (the notebook's 'it').",
        )
        self.epsilon = FloatSpinBox(
            label="epsilon",
            value=0.2,
            min=0.0,
            max=1e6,
            step=0.05,
            tooltip="k-means: stop when no centre moves more than this. EM: stop when "
            "the log-likelihood grows by less than epsilon x its size (0: never).",
        )
        self.attempts = SpinBox(
            label="attempts",
            value=1,
            min=1,
            max=100,
            tooltip="Independent k-means starts; the best (lowest inertia) is kept.",
        )
        self.init = ComboBox(
            label="init",
            choices=["kmeans++", "random"],
            value="kmeans++",
            tooltip="Initial centres: k-means++ spreading, or random pixels.",
        )
        self.seed = SpinBox(
            label="seed", value=0, min=0, max=2**31 - 1, tooltip="Random seed: the same seed gives the same result."
        )
        self.mask = ComboBox(
            label="mask",
            choices=self._mask_choices,
            nullable=True,
            value=None,
            tooltip="Optional Labels or Shapes layer: only pixels inside are clustered.",
        )
        self.scope = ComboBox(
            label="fit on",
            choices=["whole stack", "current slice"],
            value="whole stack",
            tooltip="nD data: fit on all pixels, or on the slice on screen and then label "
            "the whole stack with that model.",
        )
        self.posterior = ComboBox(
            label="posterior",
            choices=POSTERIOR_CHOICES,
            value="none",
            tooltip="EM only: add the soft segmentation (maximum posterior probability, "
            "or one channel per cluster) as an image layer.",
        )
        self.feature_view = ComboBox(
            label="feature space view",
            choices=FEATURE_VIEWS,
            value="separate window",
            tooltip="Where to show the clusters in feature space (a separate viewer "
            "keeps this viewer's dimensions untouched).",
        )
        self.run_button = PushButton(text="Run", tooltip="Cluster the image (runs in the background).")
        self.cancel_button = PushButton(text="Cancel", enabled=False, tooltip="Stop the running job; nothing is added.")
        self.progress = ProgressBar(label="progress", min=0, max=100, value=0, tooltip="Progress of the running job.")
        self.report = TextEdit(label="report", value="", tooltip="Fit figures of the last run.")
        self.report.read_only = True
        self.apply_target = ComboBox(
            label="apply model to",
            choices=self._image_choices,
            nullable=True,
            value=None,
            tooltip="Label another image layer with the last fitted model (same palette).",
        )
        self.apply_button = PushButton(text="Apply fitted model", tooltip="Apply the last fitted model to the layer.")
        self.status = Label(value="")
        self.extend([
            self.image, self.channels, self.method, self.n_clusters, self.color_space, self.covariance,
            self.max_iter, self.epsilon, self.attempts, self.init, self.seed, self.mask, self.scope,
            self.posterior, self.feature_view, self.run_button, self.cancel_button, self.progress, self.status,
            self.report, self.apply_target, self.apply_button,
        ])  # fmt: skip

        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.apply_button.changed.connect(self.apply_to_target)
        self.method.changed.connect(self._update_visibility)
        self.image.changed.connect(self._on_image_changed)
        self.channels.changed.connect(lambda: self.color_space.reset_choices())
        layer_events = self._viewer.layers.events
        for event in (layer_events.inserted, layer_events.removed, layer_events.moved):
            event.connect(self.reset_choices)
        self._viewer.layers.selection.events.active.connect(self._on_active_layer)
        self.native.destroyed.connect(self.close_feature_viewer)
        self.reset_choices()
        self._on_active_layer()
        self._update_visibility()

    # --- choices ------------------------------------------------------------------
    def _image_choices(self, widget=None) -> list[tuple[str, Image]]:
        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Image)]

    def _channel_choices(self, widget=None) -> list[tuple[str, Image]]:
        current = self.image.value if hasattr(self, "image") else None
        if current is None or current.rgb:
            return []
        return [
            (layer.name, layer)
            for layer in self._viewer.layers
            if isinstance(layer, Image)
            and layer is not current
            and not layer.rgb
            and layer.data.shape == current.data.shape
            and layer.metadata.get("colorquant") is None  # not this plugin's own outputs
        ]

    def _mask_choices(self, widget=None) -> list[tuple[str, Layer]]:
        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Labels | Shapes)
                and (layer.metadata.get("colorquant") is None)]  # fmt: skip

    def _space_choices(self, widget=None) -> list[str]:
        layer = self.image.value if hasattr(self, "image") else None
        if layer is None:
            return ["auto"]
        if layer.rgb:
            return RGB_SPACES
        if hasattr(self, "channels") and self.channels.value:
            return ["auto", "channels"]
        return ["auto", "gray"]

    def _on_image_changed(self, *_):
        self.channels.reset_choices()
        self.color_space.reset_choices()
        self._update_visibility()

    def _on_active_layer(self, *_):
        active = self._viewer.layers.selection.active
        if self._adding or not isinstance(active, Image):
            return
        if active.metadata.get("colorquant") is None:
            self.image.value = active

    def _update_visibility(self, *_):
        is_em = self.method.value == "em"
        self.covariance.visible = is_em
        self.posterior.visible = is_em
        layer = self.image.value
        self.scope.visible = layer is not None and layer.ndim > 2

    # --- running ------------------------------------------------------------------------
    def _collect(self) -> Job:
        layer = self.image.value
        if layer is None or layer not in self._viewer.layers:
            raise ValueError("choose an image layer to cluster")
        extra = [c for c in (self.channels.value or []) if c is not layer]
        layers = [layer, *extra]
        levels = None
        if layer.multiscale:
            if extra:
                raise ValueError("extra channels cannot be combined with a multiscale (pyramid) layer")
            levels = list(layer.data)
            data, channel_axis = levels[0], None
        elif extra:
            shapes = {tuple(c.data.shape) for c in layers}
            if len(shapes) != 1:
                raise ValueError(f"channel layers must all have the same shape, got {sorted(shapes)}")
            if any(is_lazy(c.data) for c in layers):
                import dask.array as da

                data = da.stack([da.asarray(c.data) for c in layers], axis=-1)
            else:
                data = np.stack([np.asarray(c.data) for c in layers], axis=-1)
            channel_axis = data.ndim - 1
        else:
            # Dask-backed layers stay lazy: never np.asarray them.
            data = layer.data if is_lazy(layer.data) else np.asarray(layer.data)
            channel_axis = None
        if levels is not None and self.mask.value is not None:
            raise ValueError("masks cannot be combined with a multiscale (pyramid) layer yet; choose one level")
        mask = self._mask_array(layer)
        scope_slice = layer.ndim > 2 and self.scope.value == "current slice" and levels is None
        fit_index = self._slice_index(layer) if scope_slice else None
        params = dict(
            n_clusters=int(self.n_clusters.value),
            method=self.method.value,
            color_space=self.color_space.value,
            max_iter=int(self.max_iter.value),
            epsilon=float(self.epsilon.value),
            attempts=int(self.attempts.value),
            init=self.init.value,
            covariance=self.covariance.value,
            seed=int(self.seed.value),
        )
        if layer.rgb:
            kind, colormaps, limits = "rgb", [], []
        else:
            kind = "channels" if extra else "gray"
            colormaps = [c.colormap for c in layers]
            limits = [tuple(c.contrast_limits) for c in layers]
        source = _layers.Source(
            name=layer.name,
            geometry=_layer_geometry(layer),
            rgb=layer.rgb,
            colormap=None if layer.rgb else layer.colormap,
            contrast_limits=None if layer.rgb else tuple(layer.contrast_limits),
            channel_names=[c.name for c in layers] if extra else [],
            channel_colormaps=colormaps if extra else [],
            channel_limits=limits if extra else [],
        )
        return Job(
            layer=layer,
            data=data,
            channel_axis=channel_axis,
            mask=mask,
            fit_index=fit_index,
            params=params,
            source=source,
            kind=kind,
            colormaps=colormaps,
            limits=limits,
            posterior=self.posterior.value if self.method.value == "em" else "none",
            feature_view=self.feature_view.value,
            levels=levels,
        )

    def _mask_array(self, layer: Image) -> np.ndarray | None:
        mask_layer = self.mask.value
        if mask_layer is None:
            return None
        spatial = tuple(layer.data.shape[:-1] if layer.rgb else layer.data.shape)
        if isinstance(mask_layer, Shapes):
            if len(mask_layer.data) == 0:
                raise ValueError(f"mask layer {mask_layer.name!r} has no shapes")
            return mask_layer.to_labels(labels_shape=spatial) > 0
        mask = mask_layer.data if is_lazy(mask_layer.data) else np.asarray(mask_layer.data)
        if mask.shape != spatial:
            raise ValueError(
                f"mask layer {mask_layer.name!r} has shape {mask.shape}; the image's pixel grid is {spatial}"
            )
        return mask != 0

    def _slice_index(self, layer: Image) -> tuple:
        """Index of the slice on screen, in the layer's data axes (displayed axes kept whole)."""
        data_point = np.round(layer.world_to_data(self._viewer.dims.point)).astype(int)
        n_spatial = layer.ndim
        offset = self._viewer.dims.ndim - n_spatial
        displayed = {axis - offset for axis in self._viewer.dims.displayed}
        index = []
        for axis in range(n_spatial):
            if axis in displayed:
                index.append(slice(None))
            else:
                size = layer.data.shape[axis]
                index.append(int(np.clip(data_point[axis], 0, size - 1)))
        return tuple(index)

    def run(self) -> None:
        """Start a clustering run in a worker thread (the GUI stays responsive)."""
        if self._worker is not None:
            show_warning("napari-colorquant: a run is already in progress")
            return
        try:
            job = self._collect()
        except (ValueError, TypeError) as error:
            show_error(f"napari-colorquant: {error}")
            return
        self._cancel.clear()
        self._set_running(True, "clustering…")
        self._start_worker(self._compute, job, returned=self._on_done)

    def _start_worker(self, function, *args, returned) -> None:
        # Handlers go through _connect: connecting "errored" later would leave the
        # default handler that re-raises worker errors in the GUI thread.
        worker = create_worker(
            function,
            *args,
            _start_thread=False,
            _connect={"returned": returned, "errored": self._on_error, "finished": self._on_finished},
        )
        self._worker = worker
        worker.start()

    def _on_finished(self) -> None:
        self._set_running(False, self.status.value)

    def cancel(self) -> None:
        """Ask the running job to stop at its next step; nothing will be added."""
        self._cancel.set()
        self.status.value = "cancelling…"

    @ensure_main_thread
    def _show_progress(self, stage: str, fraction: float) -> None:
        offsets = {"count": (0, 10), "fit": (10, 80), "write": (90, 10)}
        start, span = offsets.get(stage, (0, 100))
        self.progress.value = int(start + span * min(max(fraction, 0.0), 1.0))
        self.status.value = f"{stage}…"

    def _progress_callback(self, stage: str, fraction: float) -> None:
        if self._cancel.is_set():
            raise Cancelled()
        self._show_progress(stage, fraction)

    def _compute(self, job: Job) -> Outcome:
        start = time.perf_counter()
        callback = self._progress_callback
        fit_result = label_levels = quantized_levels = None
        if job.levels is not None:
            pyramid = quantize_multiscale(job.levels, progress=callback, **job.params)
            result, label_levels, quantized_levels = pyramid.fit_result, pyramid.labels, pyramid.quantized
        elif job.fit_index is not None:
            fit_data = job.data[job.fit_index]
            fit_mask = None if job.mask is None else job.mask[job.fit_index]
            fit_result = quantize(fit_data, channel_axis=_axis_after_slice(job), mask=fit_mask, progress=callback,
                                  **job.params)  # fmt: skip
            callback("write", 0.5)
            apply = apply_lazy if is_lazy(job.data) else apply_model
            result = apply(fit_result.model, job.data, mask=job.mask, channel_axis=job.channel_axis)
        else:
            result = quantize(job.data, channel_axis=job.channel_axis, mask=job.mask, progress=callback, **job.params)
        callback("write", 1.0)
        posteriors = None
        if job.posterior != "none":
            if job.levels is not None:
                posteriors = lazy_posteriors(result.model, job.levels[0], mask=job.mask)
            elif is_lazy(job.data):
                posteriors = lazy_posteriors(result.model, job.data, mask=job.mask, channel_axis=job.channel_axis)
            else:
                posteriors = result.model.predict_proba(job.data, mask=job.mask, channel_axis=job.channel_axis)
        features, labels = _layers.sample_pixels(result, job.data, MAX_FEATURE_POINTS, seed=job.params["seed"])
        if self._cancel.is_set():
            raise Cancelled()
        return Outcome(
            job, result, label_levels, quantized_levels, fit_result, posteriors, features, labels,
            time.perf_counter() - start,
        )  # fmt: skip

    def _set_running(self, running: bool, message: str = "") -> None:
        self.run_button.enabled = not running
        self.apply_button.enabled = not running
        self.cancel_button.enabled = running
        if running:
            self.progress.value = 0
        else:
            self._worker = None
        self.status.value = message

    def _on_error(self, error: Exception) -> None:
        if isinstance(error, Cancelled):
            show_info("napari-colorquant: cancelled; nothing was added")
            self.status.value = "cancelled"
        else:
            show_error(f"napari-colorquant: {error}")
            self.status.value = "failed"

    def _on_done(self, outcome: Outcome) -> None:
        job, result = outcome.job, outcome.result
        if job.layer not in self._viewer.layers:
            show_error(f"napari-colorquant: layer {job.source.name!r} was removed while clustering; nothing was added")
            return
        if job.fit_index is not None:
            result.model.params["fitted_on_slice"] = _describe_index(job.fit_index)
        job.source.display_colours = _layers.display_colours(
            result.model.palette, result.model.color_space, job.kind,
            job.colormaps, job.limits, result.model.scale,
        )  # fmt: skip
        tuples = [
            _layers.labels_layer(result, job.source, outcome.label_levels),
            *_layers.quantized_layers(result, job.source, outcome.quantized_levels),
        ]
        if outcome.posteriors is not None:
            tuples.append(
                _layers.posterior_layer(outcome.posteriors, result, job.source, job.posterior == "per cluster")
            )
        self._replace_outputs(self._viewer, job.source.name, tuples, job.layer)
        if job.feature_view != "none":
            feature_tuples = _layers.feature_space_layers(
                result, job.source, outcome.sample_features, outcome.sample_labels
            )
            target = self._viewer if job.feature_view == "same viewer" else self._get_feature_viewer(result)
            self._replace_outputs(target, job.source.name, feature_tuples, None, roles=_layers.FEATURE_ROLES)
            if target is not self._viewer:
                target.reset_view()
        self._last_model = result.model
        self.progress.value = 100
        self.status.value = f"done in {outcome.seconds:.2f} s"
        self.report.value = report_text(result, outcome.fit_result, outcome.seconds)

    def _replace_outputs(self, viewer, source_name: str, tuples: list[tuple], source_layer, roles=None) -> None:
        """Remove this widget's earlier outputs for ``source_name`` (same roles) and add the new layers."""
        roles = set(roles or [t[1]["metadata"]["colorquant"]["role"] for t in tuples])
        self._adding = True
        try:
            old = [
                layer
                for layer in viewer.layers
                if (info := layer.metadata.get("colorquant")) and info.get("source") == source_name
                and info.get("role") in roles
            ]  # fmt: skip
            position = min((viewer.layers.index(layer) for layer in old), default=len(viewer.layers))
            for layer in old:
                viewer.layers.remove(layer)
            position = min(position, len(viewer.layers))
            for offset, (data, meta, layer_type) in enumerate(tuples):
                viewer.layers.insert(position + offset, Layer.create(data, meta, layer_type))
            if source_layer is not None and source_layer in viewer.layers:
                viewer.layers.selection.active = source_layer
        finally:
            self._adding = False

    # --- feature-space viewer -------------------------------------------------------------
    def _get_feature_viewer(self, result: QuantizeResult):
        viewer = self._feature_viewer
        alive = False
        if viewer is not None:
            try:
                alive = viewer.window._qt_window.isVisible()
            except (RuntimeError, AttributeError):
                alive = False
        if not alive:
            viewer = napari.Viewer(title="napari-colorquant: feature space", show=True)
            self._feature_viewer = viewer
        viewer.dims.ndisplay = 3 if result.model.n_features >= 3 else 2
        viewer.dims.axis_labels = tuple(result.model.feature_names[-3:]) if result.model.n_features > 1 else (
            "sqrt(count)", result.model.feature_names[0])  # fmt: skip
        return viewer

    def close_feature_viewer(self, *_) -> None:
        """Close the separate feature-space viewer, if open."""
        viewer, self._feature_viewer = self._feature_viewer, None
        if viewer is not None:
            with contextlib.suppress(RuntimeError):  # already closed by the user
                viewer.close()

    @property
    def feature_viewer(self):
        """The separate feature-space viewer (None until a run opened it)."""
        return self._feature_viewer

    # --- apply a fitted model -------------------------------------------------------------
    def apply_to_target(self) -> None:
        """Label ``apply model to`` with the last fitted model (fit once, apply to a whole time-lapse)."""
        target = self.apply_target.value
        model = self._last_model
        if model is None:
            show_error("napari-colorquant: run the clustering first; there is no fitted model to apply")
            return
        if target is None or target not in self._viewer.layers:
            show_error("napari-colorquant: choose the image layer to apply the fitted model to")
            return
        source = _layers.Source(
            name=target.name,
            geometry=_layer_geometry(target),
            rgb=target.rgb,
            colormap=None if target.rgb else target.colormap,
            contrast_limits=None if target.rgb else tuple(target.contrast_limits),
        )
        kind = "rgb" if target.rgb else "gray"
        colormaps = [] if target.rgb else [target.colormap]
        limits = [] if target.rgb else [tuple(target.contrast_limits)]
        data = list(target.data) if target.multiscale else target.data
        self._set_running(True, "applying model…")

        def compute():
            if target.multiscale:
                return apply_lazy(model, data[0]), [predict_lazy(model, level) for level in data]
            if is_lazy(data):
                return apply_lazy(model, data), None
            return apply_model(model, np.asarray(data)), None

        def done(outcome):
            result, label_levels = outcome
            if target not in self._viewer.layers:
                show_error(f"napari-colorquant: layer {target.name!r} was removed; nothing was added")
                return
            source.display_colours = _layers.display_colours(
                model.palette, model.color_space, kind, colormaps, limits, model.scale
            )
            if label_levels is not None:
                tuples = [
                    _layers.labels_layer(result, source, [labels for labels, _ in label_levels]),
                    *_layers.quantized_layers(result, source, [colours for _, colours in label_levels]),
                ]
            else:
                tuples = [_layers.labels_layer(result, source), *_layers.quantized_layers(result, source)]
            self._replace_outputs(self._viewer, target.name, tuples, target)
            self.status.value = f"applied the model to {target.name!r}"
            self.report.value = report_text(result, None, sum(result.timings.values()), applied=True)

        self._start_worker(compute, returned=done)

    @property
    def worker(self):
        """The running worker, or None."""
        return self._worker


def _axis_after_slice(job: Job) -> int | None:
    if job.channel_axis is None:
        return None
    removed = sum(1 for item in job.fit_index if not isinstance(item, slice))
    return job.channel_axis - removed


def _describe_index(index: tuple) -> str:
    return "[" + ", ".join(":" if isinstance(i, slice) else str(i) for i in index) + "]"


def report_text(
    result: QuantizeResult, fit_result: QuantizeResult | None, seconds: float, applied: bool = False
) -> str:
    """Human-readable fit figures of a run."""
    model = result.model
    lines = [f"{model.method} · K = {model.n_clusters} · {model.color_space}"]
    if applied:
        lines.append("applied a previously fitted model")
    else:
        converged = {True: "converged", False: "not converged", None: "n/a"}[model.converged]
        lines.append(f"iterations: {model.n_iter} ({converged})")
        if model.method == "kmeans":
            lines.append(f"inertia: {model.inertia:.6g}")
        else:
            lines.append(f"log-likelihood: {model.log_likelihood:.4f} per pixel · BIC: {model.bic:.6g}")
        if fit_result is not None:
            lines.append(f"fitted on slice {model.params.get('fitted_on_slice', '')}")
    lines.append(f"MSE: {result.mse:.4g} · PSNR: {result.psnr:.2f} dB")
    chroma = " (incl. kept luminance)" if model.color_space in CHROMA_SPACES else ""
    lines.append(
        f"{result.bits_per_pixel} bits/pixel{chroma} vs {result.input_bits_per_pixel} · "
        f"compression x{result.compression_ratio:.3g}"
    )
    if result.approximate:
        lines.append(f"fitted on a sample of {model.n_fit_pixels} pixels")
    lines.append(f"pixels: {result.n_valid} of {result.n_pixels} · time: {seconds:.2f} s")
    return "\n".join(lines)


class KMeansWidget(ClusterWidget):
    """Dock widget with k-means selected (Plugins → napari-colorquant → K-means clustering)."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__(napari_viewer, method="kmeans")


class EMWidget(ClusterWidget):
    """Dock widget with EM selected (Plugins → napari-colorquant → EM clustering)."""

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        super().__init__(napari_viewer, method="em")

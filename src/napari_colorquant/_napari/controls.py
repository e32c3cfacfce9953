"""The widget's magicgui controls: layer pickers and the clustering parameters.

Parameter controls are made from one table (:data:`PARAMETER_SPECS`) whose
choice lists come from the core (methods, inits, covariances, colour spaces), so
no list of names is copied here. Layer pickers hold layers, not names: a renamed
layer stays selected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, Select, SpinBox, Widget
from napari.layers import Image, Labels, Layer, Shapes

from ..colorspaces import COLOR_SPACES
from ..em import COVARIANCE_TYPES
from ..model import METHODS
from ..params import DEFAULT_EPSILON, DEFAULT_MAX_ITER, NOTEBOOK_CRITERIA
from ..quantize import INITS

FEATURE_VIEWS = ("separate window", "same viewer", "none")
POSTERIOR_CHOICES = ("none", "max posterior", "per cluster")
SCOPES = ("whole stack", "current slice", "every n-th frame")
#: Axis labels that name a channel axis (compared lower-case).
CHANNEL_AXIS_NAMES = ("c", "ch", "channel", "channels")
METHOD_LABELS = {"kmeans": "k-means", "em": "EM (Gaussian mixture)"}
MAX_CLUSTERS = 255  # labels are stored as uint8 in indexed PNGs
_RGB_SPACES = tuple(space for space in COLOR_SPACES if space != "channels")


@dataclass(frozen=True)
class ParameterSpec:
    """How one clustering parameter is shown: widget kind, label, default, bounds, choices, help."""

    name: str
    label: str
    default: Any
    tooltip: str
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


PARAMETER_SPECS = (
    ParameterSpec("method", "method", "kmeans", "k-means: nearest centre. EM: Gaussian mixture, soft clusters.",
                  choices=tuple((METHOD_LABELS.get(m, m), m) for m in METHODS)),
    ParameterSpec("n_clusters", "clusters (K)", 8, "Number of clusters = number of colours in the quantized image.",
                  minimum=1, maximum=MAX_CLUSTERS),
    ParameterSpec("covariance", "covariance", "full", "EM covariance type: full ellipses, axis-aligned, or round.",
                  choices=COVARIANCE_TYPES),
    ParameterSpec("max_iter", "max iterations", DEFAULT_MAX_ITER, "Iteration cap; the default tolerance stops the "
                  "fit at convergence long before it (the notebook used 10).", minimum=1, maximum=10000),
    ParameterSpec("epsilon", "epsilon", DEFAULT_EPSILON, "Convergence tolerance. k-means: stop when no centre moves "
                  "more than this. EM: stop when the log-likelihood grows by less than epsilon x its size "
                  "(0: never). The notebook used 0.2.", minimum=0.0, maximum=1e6, step=0.05),
    ParameterSpec("attempts", "attempts", 1, "Independent k-means starts; the best (lowest inertia) is kept.",
                  minimum=1, maximum=100),
    ParameterSpec("init", "init", "auto", "Initial centres: auto (exact optimum for one feature, else "
                  "k-means++), k-means++ spreading, random pixels, or optimal (exact 1-D k-means).", choices=INITS),
    ParameterSpec("seed", "seed", 0, "Random seed: the same seed gives the same result.", minimum=0,
                  maximum=2**31 - 1),
)  # fmt: skip


def make_control(spec: ParameterSpec) -> Widget:
    """A magicgui widget for one parameter: a combo box for choices, else a (float) spin box."""
    common = dict(name=spec.name, label=spec.label, value=spec.default, tooltip=spec.tooltip)
    if spec.choices:
        return ComboBox(choices=list(spec.choices), **common)
    if isinstance(spec.default, float):
        # Qt rounds a value to the box's decimals, and magicgui sets the decimals from the step: a first step as
        # small as the default gives enough of them to show 1e-6, then the arrows get the spec's step.
        fine = min(x for x in (spec.step, spec.default, 1.0) if x)
        widget = FloatSpinBox(min=spec.minimum, max=spec.maximum, step=fine, **common)
        widget.step = spec.step
        widget.value = spec.default
        return widget
    return SpinBox(min=spec.minimum, max=spec.maximum, **common)


class Controls:
    """Every input control of the cluster widget, and the choices that depend on the viewer's layers.

    Parameters
    ----------
    viewer : napari.Viewer
    method : str
        Method selected at first.
    """

    def __init__(self, viewer, method: str = "kmeans") -> None:
        self._viewer = viewer
        self._make_layer_pickers()
        self.parameters = {spec.name: make_control(spec) for spec in PARAMETER_SPECS}
        self.parameters["method"].value = method
        self._make_run_options()
        self.image.changed.connect(self._on_image_changed)
        self.channels.changed.connect(lambda: self.color_space.reset_choices())
        self.channel_axis.changed.connect(self._on_channel_axis_changed)
        self.scope.changed.connect(self.update_visibility)
        self.parameters["method"].changed.connect(self.update_visibility)

    def _make_layer_pickers(self) -> None:
        self.image = ComboBox(
            name="image",
            label="image",
            choices=self._image_choices,
            nullable=True,
            tooltip="Image layer to cluster (follows the selected layer).",
        )
        self.channels = Select(
            name="channels",
            label="extra channels",
            choices=self._channel_choices,
            tooltip="Other image layers of the same shape used as extra feature channels "
            "(napari splits multichannel files into one layer per channel).",
        )
        self.channel_axis = ComboBox(
            name="channel_axis",
            label="channel axis",
            choices=self._channel_axis_choices,
            nullable=True,
            value=None,
            tooltip="Axis of the image layer that holds channels (a CYX or CZYX stack in one layer): its "
            "channels become the features. Empty: gray. Picked from the layer's axis labels ('c', 'channel').",
        )
        self.mask = ComboBox(
            name="mask",
            label="mask",
            choices=self._mask_choices,
            nullable=True,
            value=None,
            tooltip="Optional Labels or Shapes layer: only pixels inside are clustered.",
        )
        self.apply_target = ComboBox(
            name="apply_target",
            label="apply model to",
            choices=self._image_choices,
            nullable=True,
            value=None,
            tooltip="Label another image layer with the last fitted model (same palette).",
        )

    def _make_run_options(self) -> None:
        self.color_space = ComboBox(
            name="color_space",
            label="feature space",
            choices=self._space_choices,
            tooltip="Space the pixels are clustered in. Chroma-only: cluster Cr/Cb or a/b "
            "and keep each pixel's Y or L* (only for RGB layers).",
        )
        self.scope = ComboBox(
            name="scope",
            label="fit on",
            choices=list(SCOPES),
            value=SCOPES[0],
            tooltip="nD data: fit on all pixels, on the slice on screen, or on every n-th frame (time-lapse), "
            "then label the whole stack with that one model (one palette for all frames).",
        )
        self.frame_step = SpinBox(
            name="frame_step",
            label="every n frames",
            value=5,
            min=1,
            max=10000,
            tooltip="With 'every n-th frame': fit on frames 0, n, 2n, … of the time (or first) axis.",
        )
        self.posterior = ComboBox(
            name="posterior",
            label="posterior",
            choices=list(POSTERIOR_CHOICES),
            value="none",
            tooltip="EM only: add the soft segmentation (maximum posterior probability, "
            "or one channel per cluster) as an image layer.",
        )
        self.feature_view = ComboBox(
            name="feature_view",
            label="feature space view",
            choices=list(FEATURE_VIEWS),
            value=FEATURE_VIEWS[0],
            tooltip="Where to show the clusters in feature space "
            "(a separate viewer keeps this viewer's dimensions untouched).",
        )
        self.notebook_criteria = CheckBox(
            name="notebook_criteria",
            label="notebook criteria",
            value=False,
            tooltip="The course notebook's termination criteria: at most 10 iterations, epsilon 0.2 (fast, not "
            "converged). Unticked: the defaults, which run to convergence.",
        )
        self.notebook_criteria.changed.connect(self._on_notebook_criteria)
        self.live = CheckBox(
            name="live",
            label="live",
            value=False,
            tooltip="Re-run by itself when K, the feature space or the method changes "
            "(only while a run takes under half a second).",
        )

    def __getattr__(self, name: str):
        parameters = self.__dict__.get("parameters", {})
        if name in parameters:
            return parameters[name]
        raise AttributeError(name)

    def input_widgets(self) -> list[Widget]:
        """The controls above the Run button, in display order."""
        p = self.parameters
        return [self.image, self.channel_axis, self.channels, p["method"], p["n_clusters"], self.color_space,
                p["covariance"], p["max_iter"], p["epsilon"], self.notebook_criteria, p["attempts"], p["init"],
                p["seed"], self.mask, self.scope, self.frame_step, self.posterior, self.feature_view,
                self.live]  # fmt: skip

    def params(self) -> dict[str, Any]:
        """Clustering parameters as :func:`napari_colorquant.quantize` takes them."""
        values = {name: widget.value for name, widget in self.parameters.items()}
        values["color_space"] = self.color_space.value
        for spec in PARAMETER_SPECS:
            if not spec.choices:
                values[spec.name] = type(spec.default)(values[spec.name])
        return values

    def reset_choices(self, *_) -> None:
        """Re-read the layer lists (after layers were added, removed, moved or renamed)."""
        for widget in (self.image, self.channel_axis, self.channels, self.color_space, self.mask, self.apply_target):
            before = widget.value
            widget.reset_choices()
            # magicgui matches choices by name: after a rename, re-select the same layer object.
            if isinstance(before, Layer) and widget.value is not before and before in widget.choices:
                widget.value = before
            elif isinstance(before, list) and before and widget.value != before:
                widget.value = [layer for layer in before if layer in widget.choices]

    # --- choices ------------------------------------------------------------------
    def _image_choices(self, widget=None) -> list[tuple[str, Image]]:
        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Image)]

    def _channel_axis_choices(self, widget=None) -> list[tuple[str, int]]:
        layer = self.image.value if "image" in self.__dict__ else None
        if layer is None or layer.rgb or layer.multiscale or layer.ndim < 3:
            return []
        labels = tuple(layer.axis_labels)
        return [(f"{axis}: {labels[axis]} ({size})", axis) for axis, size in enumerate(layer.data.shape)]

    def _channel_choices(self, widget=None) -> list[tuple[str, Image]]:
        current = self.image.value if "image" in self.__dict__ else None
        if current is None or current.rgb or current.multiscale:
            return []
        if "channel_axis" in self.__dict__ and self.channel_axis.value is not None:
            return []  # the layer's own channel axis gives the channels
        return [
            (layer.name, layer)
            for layer in self._viewer.layers
            if isinstance(layer, Image) and layer is not current and not layer.rgb and not layer.multiscale
            and layer.data.shape == current.data.shape
            and layer.metadata.get("colorquant") is None  # not this plugin's own outputs
        ]  # fmt: skip

    def _mask_choices(self, widget=None) -> list[tuple[str, Layer]]:
        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Labels | Shapes)
                and (layer.metadata.get("colorquant") is None)]  # fmt: skip

    def _space_choices(self, widget=None) -> list[str]:
        layer = self.image.value if "image" in self.__dict__ else None
        if layer is None:
            return ["auto"]
        if layer.rgb:
            return ["auto", *_RGB_SPACES]
        if "channels" in self.__dict__ and self.channels.value:
            return ["auto", "channels"]
        if "channel_axis" in self.__dict__ and self.channel_axis.value is not None:
            return ["auto", "channels"]
        return ["auto", "gray"]

    def _on_image_changed(self, *_) -> None:
        self.channel_axis.reset_choices()
        self.channel_axis.value = guess_channel_axis(self.image.value)
        self.channels.reset_choices()
        self.color_space.reset_choices()
        self.update_visibility()

    def _on_notebook_criteria(self, checked: bool) -> None:
        values = NOTEBOOK_CRITERIA if checked else {"max_iter": DEFAULT_MAX_ITER, "epsilon": DEFAULT_EPSILON}
        for name, value in values.items():
            self.parameters[name].value = value

    def _on_channel_axis_changed(self, *_) -> None:
        self.channels.reset_choices()
        self.color_space.reset_choices()

    def update_visibility(self, *_) -> None:
        """Show method-specific and nD-only controls only when they apply."""
        is_em = self.parameters["method"].value == "em"
        self.parameters["covariance"].visible = is_em
        self.posterior.visible = is_em
        layer = self.image.value
        stack = layer is not None and layer.ndim > 2 and not layer.multiscale
        self.scope.visible = stack
        self.channel_axis.visible = stack and not layer.rgb
        self.frame_step.visible = stack and self.scope.value == "every n-th frame"

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when a value that live preview re-runs on changes (K, feature space, method)."""
        for widget in (self.parameters["n_clusters"], self.color_space, self.parameters["method"]):
            widget.changed.connect(callback)


def guess_channel_axis(layer) -> int | None:
    """The axis a layer names as its channel axis (``axis_labels`` 'c' / 'channel'), or None."""
    if layer is None or layer.rgb or layer.multiscale or layer.ndim < 3:
        return None
    labels = [str(label).lower() for label in layer.axis_labels]
    return next((axis for axis, label in enumerate(labels) if label in CHANNEL_AXIS_NAMES), None)

"""The widget's magicgui controls: layer pickers and the clustering parameters.

The parameter controls are made from the parameter record,
:meth:`~napari_colorquant.params.ClusterParameters.fields`: each field's default, help
(the tooltip), choices and bounds come from there, so adding a field to the record adds
its control here (a combo box for choices, else a spin box), as it adds a CLI option.
This module keeps only how a control *looks*: its label, the names shown for choices,
the arrow step of a float box, which method it belongs to, and whether it sits under
"advanced". Layer pickers hold layers, not names: a renamed layer stays selected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, Label, LineEdit, Select, SpinBox, Widget
from napari.layers import Image, Labels, Layer, Shapes

from ..colorspaces import spaces_for
from ..methods import REGISTRY as METHOD_REGISTRY
from ..params import NOTEBOOK_CRITERIA, ClusterParameters, ParameterField

FEATURE_VIEWS = ("separate window", "same viewer", "none")
POSTERIOR_CHOICES = ("none", "max posterior", "per cluster")
SCOPES = ("whole stack", "current slice", "every n-th frame")
#: Axis labels that name a channel axis (compared lower-case).
CHANNEL_AXIS_NAMES = ("c", "ch", "channel", "channels")
#: Parameters whose control depends on the image layer; made by :class:`Controls` from the record's choices.
LAYER_PICKED = ("channel_axis", "color_space")
#: Labels that differ from the parameter's name (underscores read as spaces).
LABELS = {"n_clusters": "clusters (K)", "max_iter": "max iterations", "color_space": "feature space",
          "reg_covar": "EM regularisation", "max_samples": "sample above", "k_range": "K range",
          "target_psnr": "target PSNR", "target_delta_e": "target ΔE", "fixed_colors": "fixed colours",
          "smoothing": "smoothing β", "data_range": "PSNR peak"}  # fmt: skip
#: Names shown for choices (the value passed on stays the record's): the method registry's labels.
CHOICE_LABELS = {name: method.label for name, method in METHOD_REGISTRY.items()}
#: Arrow step of float spin boxes (others: 0.1).
STEPS = {"epsilon": 0.05, "reg_covar": 1e-6}
#: Parameters shown only while this method is selected.
ONLY_FOR_METHOD = {"covariance": "em", "reg_covar": "em", "fixed_colors": "kmeans"}
#: Parameters shown only while K is "auto" (the K box at its bottom).
ONLY_FOR_AUTO_K = ("k_range", "target_psnr", "target_delta_e")
#: Parameters shown only with "advanced" ticked (the widget must fit a laptop screen with its report).
ADVANCED = ("attempts", "init", "seed", "engine", "reg_covar", "max_samples", "dither", "smoothing", "fixed_colors",
            "data_range")  # fmt: skip
#: Spin boxes need bounds; a field the record leaves unbounded gets Qt's largest int, and a float box this
#: (a spin box is as wide as its largest value's text).
INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e6
#: What an optional number's lowest value (None) means, in its label.
NONE_TEXT = "never"
#: ... where "never" does not say it (a target that is not set).
NONE_TEXTS = {"target_psnr": "none", "target_delta_e": "none", "data_range": "dtype"}
#: Between the items of a sequence typed in a text box (``255,255,255; 0,0,0``).
ITEM_SEPARATOR = ";"


def control_label(name: str) -> str:
    """The label of the control for parameter ``name`` (without the "(0: auto)" of optional values).

    Parameters
    ----------
    name : str
        A field of :class:`~napari_colorquant.params.ClusterParameters`.

    Returns
    -------
    str
    """
    return LABELS.get(name, name.replace("_", " "))


def in_widget_words(message: str) -> str:
    """An error from the library in the widget's words: ``n_clusters=300 is …`` → ``clusters (K) = 300 is …``.

    The library names its Python parameters, which a widget user never sees.

    Parameters
    ----------
    message : str

    Returns
    -------
    str
    """
    names = "|".join(sorted((spec.name for spec in ClusterParameters.fields()), key=len, reverse=True))
    message = re.sub(rf"\b({names})=", lambda match: control_label(match.group(1)) + " = ", message)
    return re.sub(rf"\b({names})\b", lambda match: control_label(match.group(1)), message)


def make_control(spec: ParameterField) -> Widget:
    """A magicgui widget for one parameter of the record: a combo box for choices, else a (float) spin box.

    Parameters
    ----------
    spec : ParameterField
        The field's description (:meth:`~napari_colorquant.params.ClusterParameters.field`).

    Returns
    -------
    magicgui.widgets.Widget
        Named after the parameter; its tooltip is the field's help.
    """
    common = dict(name=spec.name, label=control_label(spec.name), tooltip=spec.help)
    if spec.choices:
        choices = [(CHOICE_LABELS.get(choice, choice), choice) for choice in spec.choices]
        return ComboBox(choices=choices, value=spec.default, **common)
    if spec.type is tuple:
        return LineEdit(value=format_value(spec, spec.default), **common)
    if spec.type is float and spec.optional:
        # None is one below the field's minimum, as for optional integers; the label says so.
        low = spec.minimum - 1.0
        common["label"] += f" ({low:g}: {NONE_TEXTS.get(spec.name, NONE_TEXT)})"
        maximum = FLOAT_LIMIT if spec.maximum is None else spec.maximum
        value = low if spec.default is None else spec.default
        return FloatSpinBox(min=low, max=maximum, step=STEPS.get(spec.name, 0.5), value=value, **common)
    if spec.type is float:
        step = STEPS.get(spec.name, 0.1)
        # Qt rounds a value to the box's decimals, and magicgui sets the decimals from the step: a first step as
        # small as the default gives enough of them to show 1e-6, then the arrows get the usual step.
        fine = min(x for x in (step, spec.default, 1.0) if x)
        maximum = FLOAT_LIMIT if spec.maximum is None else spec.maximum
        widget = FloatSpinBox(min=spec.minimum, max=maximum, step=fine, value=spec.default, **common)
        widget.step = step
        widget.value = spec.default
        return widget
    low = -INT_LIMIT if spec.minimum is None else int(spec.minimum)
    high = INT_LIMIT if spec.maximum is None else int(spec.maximum)
    if spec.words:
        # The word (n_clusters: "auto") is one below the field's minimum; the label says so (magicgui's
        # superqt spin box does not show Qt's special-value text).
        common["label"] += f" ({low - 1}: {spec.words[0]})"
        return SpinBox(min=low - 1, max=high, value=spec.default, **common)
    if not spec.optional:
        return SpinBox(min=low, max=high, value=spec.default, **common)
    # None is the box's lowest value, one below the field's minimum; the label says so.
    common["label"] += f" ({low - 1}: {NONE_TEXT})"
    return SpinBox(min=low - 1, max=high, value=low - 1 if spec.default is None else spec.default, **common)


def control_value(spec: ParameterField, widget: Widget) -> Any:
    """The parameter value a control holds, typed as the record wants it (None for an optional box at its bottom).

    Parameters
    ----------
    spec : ParameterField
    widget : magicgui.widgets.Widget
        The control :func:`make_control` made for ``spec``.

    Returns
    -------
    object
    """
    value = widget.value
    if spec.choices:
        return value
    if spec.type is tuple:
        return parse_text(spec, value)
    if spec.words and value == widget.min:
        return spec.words[0]
    if spec.optional and value == widget.min:
        return None
    return spec.type(value)


#: The widget's own options, not clustering parameters: name -> (label, choices or default, tooltip).
RUN_OPTIONS: dict[str, tuple[str, Any, str]] = {
    "notebook_criteria": ("notebook criteria", False, "The course notebook's termination criteria: "
                          + ", ".join(f"{name} {value}" for name, value in NOTEBOOK_CRITERIA.items())
                          + " (fast, not converged). Unticked: the defaults, which run to convergence."),
    "scope": ("fit on", SCOPES, "nD data: fit on all pixels, on the slice on screen, or on every n-th frame "
              "(time-lapse), then label the whole stack with that one model (one palette for all frames)."),
    "frame_step": ("every n frames", 5, "With 'every n-th frame': fit on frames 0, n, 2n, … of the time (or first) "
                   "axis."),
    "posterior": ("posterior", POSTERIOR_CHOICES, "EM only: add the soft segmentation (maximum posterior "
                  "probability, or one channel per cluster) as an image layer."),
    "feature_view": ("feature space view", FEATURE_VIEWS, "Where to show the clusters in feature space (a separate "
                     "viewer keeps this viewer's dimensions untouched)."),
    "live": ("live", False, "Re-run by itself when K, the feature space, the method or the smoothing changes (only "
             "while a run takes under half a second)."),
    "advanced": ("advanced", False, "Show the rarely changed parameters: " + ", ".join(ADVANCED) + "."),
}  # fmt: skip


def make_option(name: str, label: str, default: Any, tooltip: str) -> Widget:
    """A widget option: a combo box for a tuple of choices (the first selected), a check box, or a spin box (>= 1).

    Parameters
    ----------
    name, label, tooltip : str
    default : tuple, bool or int
        The choices, or the starting value.

    Returns
    -------
    magicgui.widgets.Widget
    """
    common = dict(name=name, label=label, tooltip=tooltip)
    if isinstance(default, tuple):
        return ComboBox(choices=list(default), value=default[0], **common)
    if isinstance(default, bool):
        return CheckBox(value=default, **common)
    return SpinBox(value=default, min=1, max=INT_LIMIT, **common)


def parse_text(spec: ParameterField, text: str) -> Any:
    """The value of a text box: the field's parser, item by item for a sequence (``;`` between items).

    Parameters
    ----------
    spec : ParameterField
        The field the box is for.
    text : str
        What the user typed.

    Returns
    -------
    object
        The value (None for an empty optional field).

    Raises
    ------
    ValueError
        Naming the parameter and the expected form (shown in the widget's report and as a notification).
    """
    text = str(text).strip()
    if not text:
        if spec.optional:
            return None
        raise ValueError(f"{spec.name}: give {spec.metavar or 'a value'}")
    if spec.repeat:
        return tuple(spec.parse(item) for item in text.split(ITEM_SEPARATOR) if item.strip())
    return spec.parse(text)


def format_value(spec: ParameterField, value: Any) -> str:
    """A sequence value as the text :func:`parse_text` reads back (``"2,16"``, ``"255,255,255; 0,0,0"``).

    Parameters
    ----------
    spec : ParameterField
    value : tuple or None

    Returns
    -------
    str
    """
    if value is None:
        return ""

    def row(items) -> str:
        return ",".join(f"{item:g}" if isinstance(item, float) else str(item) for item in items)

    if spec.repeat:
        return f"{ITEM_SEPARATOR} ".join(row(item) for item in value)
    return row(value)


class Controls:
    """Every input control of the cluster widget, and the choices that depend on the viewer's layers.

    Parameters
    ----------
    viewer : napari.Viewer
    method : str
        Method selected at first.
    """

    def __init__(self, viewer: Any, method: str = "kmeans") -> None:
        self._viewer = viewer
        self._make_layer_pickers()
        self._fields = {spec.name: spec for spec in ClusterParameters.fields() if spec.name not in LAYER_PICKED}
        self.parameters = {name: make_control(spec) for name, spec in self._fields.items()}
        self.parameters["method"].value = method
        self._make_run_options()
        self.image.changed.connect(self._on_image_changed)
        self.channels.changed.connect(lambda: (self.color_space.reset_choices(), self._update_channel_hint()))
        self.channel_axis.changed.connect(self._on_channel_axis_changed)
        self.scope.changed.connect(self.update_visibility)
        self.advanced.changed.connect(self.update_visibility)
        self.parameters["method"].changed.connect(self.update_visibility)
        self.parameters["n_clusters"].changed.connect(self.update_visibility)

    def _make_layer_pickers(self) -> None:
        nullable = dict(nullable=True, value=None)
        pickers = {  # name: (widget kind, label, choices, tooltip, extra options)
            "image": (ComboBox, "image", self._image_choices, "Image layer to cluster (follows the selected layer).",
                      dict(nullable=True)),
            "channels": (Select, "extra channels", self._channel_choices, "Other image layers of the same shape used "
                         "as extra feature channels (napari splits a multichannel file into one layer per channel).",
                         {}),
            "channel_axis": (ComboBox, "channel axis", self._channel_axis_choices,
                             ClusterParameters.field("channel_axis").help
                             + ". Picked from the layer's axis labels ('c', 'channel'); empty: none.", nullable),
            "mask": (ComboBox, "mask", self._mask_choices,
                     "Optional Labels or Shapes layer: only pixels inside are clustered.", nullable),
            "apply_target": (ComboBox, "apply model to", self._image_choices,
                             "Label another image layer with the last fitted model (same palette).", nullable),
            "color_space": (ComboBox, LABELS["color_space"], self._space_choices,
                            ClusterParameters.field("color_space").help, {}),
        }  # fmt: skip
        for name, (kind, label, choices, tooltip, extra) in pickers.items():
            setattr(self, name, kind(name=name, label=label, choices=choices, tooltip=tooltip, **extra))
        self.channel_hint = Label(name="channel_hint", label=" ", visible=False)

    def _make_run_options(self) -> None:
        for name, (label, default, tooltip) in RUN_OPTIONS.items():
            setattr(self, name, make_option(name, label, default, tooltip))
        self.notebook_criteria.changed.connect(self._on_notebook_criteria)

    def __getattr__(self, name: str):
        parameters = self.__dict__.get("parameters", {})
        if name in parameters:
            return parameters[name]
        raise AttributeError(name)

    def input_widgets(self) -> list[Widget]:
        """The controls above the Run button, in display order: layers, the record's parameters, run options.

        Returns
        -------
        list of magicgui.widgets.Widget
        """
        after = {"epsilon": [self.notebook_criteria]}
        basic: list[Widget] = []
        advanced: list[Widget] = []
        for name in ClusterParameters.__dataclass_fields__:
            if name == "channel_axis":
                continue  # a layer picker, above
            widget = self.color_space if name == "color_space" else self.parameters[name]
            (advanced if name in ADVANCED else basic).extend([widget, *after.get(name, [])])
        layers = [self.image, self.channel_axis, self.channel_hint, self.channels]
        options = [self.mask, self.scope, self.frame_step, self.posterior, self.feature_view, self.live]
        return [*layers, *basic, *options, self.advanced, *advanced]

    def params(self) -> dict[str, Any]:
        """Clustering parameters as :func:`napari_colorquant.quantize` takes them (the channel axis apart).

        Returns
        -------
        dict
            One entry per field of :class:`~napari_colorquant.params.ClusterParameters` but ``channel_axis``.
        """
        values = {name: control_value(self._fields[name], widget) for name, widget in self.parameters.items()}
        values["color_space"] = self.color_space.value
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
        offered = ClusterParameters.field("color_space").choices  # "auto", then the registry's spaces
        if layer is None:
            return [offered[0]]
        if layer.rgb:
            kind = "rgb"
        elif ("channels" in self.__dict__ and self.channels.value) or (
            "channel_axis" in self.__dict__ and self.channel_axis.value is not None
        ):
            kind = "channels"
        else:
            kind = "gray"
        return [offered[0], *(space for space in offered[1:] if space in spaces_for(kind))]

    def _on_image_changed(self, *_) -> None:
        self.channel_axis.reset_choices()
        self.channel_axis.value = guess_channel_axis(self.image.value)
        self.channels.reset_choices()
        self.color_space.reset_choices()
        self.update_visibility()

    def _on_notebook_criteria(self, checked: bool) -> None:
        for name, value in NOTEBOOK_CRITERIA.items():
            self.parameters[name].value = value if checked else ClusterParameters.field(name).default

    def _on_channel_axis_changed(self, *_) -> None:
        self.channels.reset_choices()
        self.color_space.reset_choices()
        self.update_visibility()

    def update_visibility(self, *_) -> None:
        """Show method-specific, advanced and nD-only controls only when they apply."""
        method = self.parameters["method"].value
        auto_k = self.auto_k
        for name, widget in self.parameters.items():
            widget.visible = (
                ONLY_FOR_METHOD.get(name, method) == method
                and (name not in ADVANCED or self.advanced.value)
                and (name not in ONLY_FOR_AUTO_K or auto_k)
            )
        self.posterior.visible = method == "em"
        layer = self.image.value
        stack = layer is not None and layer.ndim > 2 and not layer.multiscale
        self.scope.visible = stack
        self.channel_axis.visible = stack and not layer.rgb
        self._update_channel_hint(stack and not layer.rgb)
        self.frame_step.visible = stack and self.scope.value == "every n-th frame"

    def _update_channel_hint(self, pickable: bool = True) -> None:
        """Say so when an unnamed short axis may be channels that would otherwise be pooled as one gray value."""
        layer = self.image.value
        axis = None
        if pickable and self.channel_axis.value is None and not self.channels.value:
            axis = possible_channel_axis(layer)
        if axis is not None:  # short, unwrapped: a wrapping label re-flows the dock over several turns
            self.channel_hint.value = f"↑ axis {axis} ({layer.data.shape[axis]}) may be channels"
            self.channel_hint.tooltip = (
                f"Axis {axis} has {layer.data.shape[axis]} planes: if they are channels, pick it as channel axis to "
                "cluster them as features. Left empty, every voxel is clustered as one gray value."
            )
        self.channel_hint.visible = axis is not None

    @property
    def auto_k(self) -> bool:
        """True while the K box is at "auto"."""
        return self.parameters["n_clusters"].value == self.parameters["n_clusters"].min

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when a value that live preview re-runs on changes (K, feature space, method, smoothing).

        Parameters
        ----------
        callback : callable
            Called with no arguments.
        """
        watched = (self.parameters["n_clusters"], self.color_space, self.parameters["method"],
                   self.parameters["smoothing"])  # fmt: skip
        for widget in watched:
            widget.changed.connect(callback)


#: An unnamed axis this short, not one of the last two (the image plane), may hold channels.
MAX_UNNAMED_CHANNELS = 8


def possible_channel_axis(layer: Layer | None) -> int | None:
    """An axis that may be channels although the layer does not name it so, or None.

    napari's own reader opens a ZCYX or TCYX file as one layer with axes named by number: its few channels
    would be clustered as one gray value per voxel, a silently poor segmentation. Of the axes before the image
    plane with at most :data:`MAX_UNNAMED_CHANNELS` planes and a numeric (default) label, the shortest (the
    later on a tie: C usually comes right before Y, X) is returned; the widget only suggests it, since a short
    Z stack or time-lapse looks the same.

    Parameters
    ----------
    layer : napari.layers.Layer or None

    Returns
    -------
    int or None
    """
    if layer is None or layer.rgb or layer.multiscale or layer.ndim < 3 or guess_channel_axis(layer) is not None:
        return None
    short = [
        (size, -axis)
        for axis, (label, size) in enumerate(zip(layer.axis_labels[:-2], layer.data.shape[:-2], strict=True))
        if 2 <= size <= MAX_UNNAMED_CHANNELS and str(label).lstrip("-").isdigit()
    ]
    return -min(short)[1] if short else None


def guess_channel_axis(layer: Layer | None) -> int | None:
    """The axis a layer names as its channel axis (``axis_labels`` 'c' / 'channel'), or None.

    Parameters
    ----------
    layer : napari.layers.Layer or None
        An image layer; RGB, multiscale and 2-D layers have no channel axis to pick.

    Returns
    -------
    int or None
    """
    if layer is None or layer.rgb or layer.multiscale or layer.ndim < 3:
        return None
    labels = [str(label).lower() for label in layer.axis_labels]
    return next((axis for axis, label in enumerate(labels) if label in CHANNEL_AXIS_NAMES), None)

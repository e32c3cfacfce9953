"""Put a run's layers into the viewer: update earlier outputs in place, add only what is new.

Used by both Run and "Apply fitted model". Outputs are tracked by the identity
of their source layer, not by name: renaming the input (even during a run)
keeps its outputs, which follow the new name. Replacing a layer's data in place
(``layer.data = …``) avoids napari's garbage collection on every removal, which
froze the canvas for ~0.2 s per layer.

The separate feature-space window shows the latest run only.

:meth:`Placer.place_steps` does the same work in steps, so that the widget can let the
event loop turn (and the canvas paint) between them: a new layer is inserted hidden (its
controls and visual are made) and shown a step later (its data sliced and drawn); in-place
updates share a step up to a texture budget. No single stretch of GUI work grows with the
number of outputs.
"""

from __future__ import annotations

import atexit
import contextlib
import weakref
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Layer

from ..methods import REGISTRY as METHOD_REGISTRY
from .feature_axes import TITLE as _FEATURE_TITLE
from .feature_axes import AxisPicker, FeatureRun, axis_choice, layer_columns, picked_order, window_title
from .gl_context import finish_in_own_context
from .layers import FEATURE_ROLES, output_name, replace_data
from .plot_framing import frame_plot
from .second_viewer import SpareWindow, glyph_steps, opening_viewer, window_exists

if TYPE_CHECKING:
    import napari

_GEOMETRY = ("scale", "translate", "rotate", "shear", "affine", "axis_labels", "units")
_FIXED = ("multiscale", "rgb", "shape_type", "name")


#: Texture bytes that in-place updates may give the canvas to upload in one turn (the 12 MP clusters
#: and RGB quantized layers together are 48 MB, ~25 ms of upload; an EM posterior is 48 MB alone).
_TURN_BYTES = 64 << 20


def _plane_bytes(data, meta: dict, layer_type: str) -> int:
    """Bytes of the plane a layer's paint uploads (an image's last 2 axes, 3 for RGB); 0 for points and shapes."""
    if layer_type not in ("image", "labels"):
        return 0
    level = data[0] if meta.get("multiscale") else data  # a pyramid: its largest level, to be safe
    shape = np.shape(level)
    axes = 3 if meta.get("rgb") else 2
    return int(np.prod(shape[-axes:], dtype=np.int64)) * np.dtype(getattr(level, "dtype", np.float64)).itemsize


def _info(meta: dict) -> dict:
    return meta["metadata"]["colorquant"]


def _key(meta: dict) -> str:
    info = _info(meta)
    return f"{info['role']}:{info.get('channel', '')}"


def _data_ndim(data, layer_type: str, multiscale: bool) -> int:
    if layer_type == "shapes":
        return int(np.shape(data[0])[1]) if len(data) else -1
    if layer_type == "points":
        return int(np.shape(data)[1])
    if layer_type == "surface":  # (vertices, faces, values): the vertices' coordinates
        return int(np.shape(data[0])[1])
    return len(np.shape(data[0] if multiscale else data))


def _compatible(layer: Layer, data, meta: dict, layer_type: str) -> bool:
    """Can ``layer`` take this tuple in place (same type, pyramid, RGB-ness and dimensions)?"""
    if layer._type_string != layer_type:
        return False
    multiscale = bool(meta.get("multiscale", False))
    if bool(getattr(layer, "multiscale", False)) != multiscale or bool(getattr(layer, "rgb", False)) != bool(
        meta.get("rgb", False)
    ):
        return False
    ndim = _data_ndim(data, layer_type, multiscale)
    if layer_type == "shapes":
        return ndim in (-1, layer.ndim)
    if layer_type in ("points", "surface"):
        return ndim == layer.ndim
    current = layer.data[0] if multiscale else layer.data
    return ndim == len(np.shape(current))


def _same(a, b) -> bool:
    try:
        return bool(np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object)))
    except (TypeError, ValueError):
        return False


def _current(layer: Layer, key: str):
    value = getattr(layer, key)
    return value.affine_matrix if key == "affine" else value


#: Attributes set again without comparing (arrays per point, shape or vertex; dicts).
_ALWAYS_SET = ("features", "metadata", "face_color", "border_color", "edge_color", "size", "border_width",
               "vertex_colors")  # fmt: skip


def _unchanged(layer: Layer, key: str, value) -> bool:
    """True when setting ``key`` would change nothing (each setter costs a refresh)."""
    try:
        current = _current(layer, key)
        if key == "colormap" and hasattr(value, "color_dict") and hasattr(current, "color_dict"):
            a, b = current.color_dict, value.color_dict
            return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        if key == "colormap":
            return getattr(current, "name", None) == getattr(value, "name", value) and not hasattr(value, "colors")
        if key in _ALWAYS_SET:
            return False
        return _same(current, value)
    except (AttributeError, TypeError, ValueError):
        return False


def _named_apart(meta: dict, viewer, owned: dict[str, Layer]) -> dict:
    """``meta`` with the method in its name when another layer, not one of ``owned``, holds the name.

    A second widget's outputs of the same image (EM beside k-means) are then "photo clusters (EM)",
    not napari's "photo clusters [1]", which said nothing of what they hold.
    """
    name, mine = meta["name"], {id(layer) for layer in owned.values()}
    if not any(layer.name == name and id(layer) not in mine for layer in viewer.layers):
        return meta
    method = _info(meta).get("params", {}).get("method")
    if method not in METHOD_REGISTRY:
        return meta
    return dict(meta, name=f"{name} ({METHOD_REGISTRY[method].label.split(' (')[0]})")


def _update(layer: Layer, data, meta: dict, layer_type: str) -> None:
    """Give ``layer`` the tuple's data and attributes without removing it from the viewer.

    The layer's refresh is held back until everything is set, so it is sliced and drawn once.
    """
    rest = {k: v for k, v in meta.items() if k not in _FIXED and not _unchanged(layer, k, v)}
    block = getattr(layer, "_block_refresh", None)
    if layer_type == "points":  # sliced now: with fewer points, colours set under a held refresh read stale indices
        layer.data = data
    with block() if block is not None else contextlib.nullcontext():
        if layer_type == "shapes":
            layer.data = []
            layer.add(
                data,
                shape_type=meta.get("shape_type", "rectangle"),
                edge_width=meta.get("edge_width", 1),
                edge_color=meta.get("edge_color", "black"),
                face_color=meta.get("face_color", "white"),
            )
            for key in ("edge_width", "edge_color", "face_color"):
                rest.pop(key, None)
        elif layer_type == "surface":  # the new mesh first: the vertex colours that follow must match its vertices
            layer.vertex_colors = None
            layer.data = data
        for key, value in rest.items():
            setattr(layer, key, value)
        if layer_type not in ("shapes", "points", "surface"):
            replace_data(layer, data)
        layer.name = meta["name"]
    layer.refresh()


@contextlib.contextmanager
def _not_activated(layers) -> Iterator[None]:
    """Insert without making the new layer the active one (napari's default).

    The run ends by selecting its input again; activating each output on the way switched the layer
    controls and emitted the selection's events for nothing (~10-20 ms of the GUI thread per layer).
    The flag is private: it is set on the list itself, not through napari's public-only proxy of the
    viewer (which warns that private attributes will go), and a napari without it inserts as usual.
    """
    layers = getattr(layers, "__wrapped__", layers)
    before = getattr(layers, "_activate_on_insert", None)
    if before is None:  # not this napari: insert as usual
        yield
        return
    layers._activate_on_insert = False
    try:
        yield
    finally:
        layers._activate_on_insert = before


def _hide_overlays(layer: Layer) -> list:
    """Hide a new layer's visible overlays until the run's outputs are shown (see :func:`_show_overlays`).

    napari makes an overlay's visuals only once it is visible. A Labels layer's polygon and brush-stroke
    overlays (shown only while drawing) took ~35 ms of the turn that inserts the layer; they are made in
    a turn of their own once every output is shown.
    """
    overlays = getattr(layer, "_overlays", None)  # napari's per-layer overlays (not public API)
    hidden = [overlay for overlay in getattr(overlays, "values", list)() if getattr(overlay, "visible", False)]
    for overlay in hidden:
        overlay.visible = False
    return hidden


def _show_overlays(overlays: list) -> None:
    """Undo :func:`_hide_overlays`."""
    for overlay in overlays:
        with contextlib.suppress(RuntimeError):  # a closed viewer's canvas no longer listens
            overlay.visible = True


def _axis_text(tuples: list[tuple]) -> list[str]:
    """The axis names the feature window's layers give it (drawn by napari's axes once shown)."""
    return [str(name) for _, meta, _ in tuples for name in meta.get("axis_labels", ())]


def _axes_steps(viewer, shown: bool) -> Iterator[None]:
    """napari's axes in the window, a turn later: in 3-D arrows named by the features, in 2-D none (the plot's own
    axes, next to the data, not at the origin). Turned on, the arrows' first paint and their names' are a turn
    apart: each builds its own visuals' shaders (lines and arrow heads; text), together one long paint.
    """
    if viewer.axes.visible == shown:
        return
    yield
    if not shown:
        viewer.axes.visible = False
        return
    named, viewer.axes.labels = viewer.axes.labels, False
    viewer.axes.visible = True
    if named:
        yield
        viewer.axes.labels = True


def _until_exposed(viewer, turns: int = 200) -> Iterator[None]:
    """Yield until the window just shown is on the screen (at most ``turns`` times), then once more.

    A new window's first paint is Qt's own work (every widget styled and drawn: ~45 ms of the GUI thread). It comes
    when the window system exposes the window, a few turns after ``show()``, and lengthened whatever step ran just
    before it in the same turn; with this, no step of ours shares that turn.
    """
    try:  # napari's Qt window (a private attribute); without it, one turn
        handle = viewer.window._qt_window.windowHandle()
    except (AttributeError, RuntimeError):
        handle = None
    for _ in range(turns if handle is not None else 0):
        yield
        try:
            if handle.isExposed():
                break
        except RuntimeError:  # closed meanwhile
            break
    yield


def _dims_ahead(viewer, tuples: list[tuple]) -> None:
    """Give an empty window the dimensions of the layers to come: inserting the first 3-D layer into a 2-D viewer
    made napari rebuild every dimension slider (~10 ms of that turn)."""
    ndim = max((_data_ndim(data, kind, bool(meta.get("multiscale"))) for data, meta, kind in tuples), default=0)
    if not len(viewer.layers) and ndim > viewer.dims.ndim:
        viewer.dims.ndim = ndim


def _own_axes(tuples: list[tuple]) -> bool:
    """Do the feature layers draw their own axes (a 2-D plot, or a 3-D cloud far from the origin)?"""
    return any(_info(meta).get("role") == "axes" for _, meta, _ in tuples)


def _drawn_axes(owned: dict[str, Layer], viewer) -> tuple[int, ...] | None:
    """The features on the axes of the feature-space points among ``owned`` (None: none in ``viewer``, a histogram)."""
    layer = owned.get("feature space:")
    if viewer is None or layer is None or layer not in viewer.layers:
        return None
    axes = layer.metadata.get("colorquant", {}).get("axes")
    return None if axes is None else tuple(int(a) for a in axes)


def _stale(drawn: tuple[int, ...] | None, order: tuple[int, ...]) -> bool:
    """Do the drawn features (layer columns; None: nothing drawn) differ from the first ones of ``order`` (x, y, z)?"""
    return drawn is not None and drawn != layer_columns(order, len(drawn))


def drop_viewer_plots(placer: Placer, keep: Layer | None) -> None:
    """Remove the "same viewer" plots of every input layer but ``keep`` from the user's viewer.

    The viewer shows the latest run's plot only: a run with another view left the plot of an earlier run
    there, out of date (its centres, its K), and a run of another image drew its plot over the first one's.

    Parameters
    ----------
    placer : Placer
        The clustering widget's placer (the plots are its outputs).
    keep : Layer or None
        The input whose plot stays (the run just placed with the "same viewer" view); None: no plot stays.
    """
    for source_id, owned in placer._outputs.items():
        if keep is not None and source_id == id(keep):
            continue
        for key in [key for key in owned if key.split(":")[0] in FEATURE_ROLES]:
            layer = owned.pop(key)
            if layer in placer._viewer.layers:
                placer._viewer.layers.remove(layer)
    if keep is None and placer._viewer_run is not None:
        placer._viewer_run = None
        placer.viewer_picker.axes, placer.viewer_picker.visible = None, False  # nothing left for them to pick


#: Placers whose separate feature window may be open (closed at interpreter exit, see below).
_WITH_WINDOW: weakref.WeakSet[Placer] = weakref.WeakSet()


@atexit.register
def _close_feature_windows() -> None:
    """Close the separate feature windows still open when the interpreter exits, while Qt is whole.

    A script that ends with the window open left it to Qt's teardown: the widget's ``destroyed``
    signal then closed a viewer whose canvas was already deleted, vispy drew on it, and the process
    ended in a segmentation fault. Registered after napari's own exit handler, this runs before it.
    """
    for placer in list(_WITH_WINDOW):
        placer.close_feature_viewer()


def _build_window(placer: Placer) -> tuple[Any, list[Callable[[], object]], AxisPicker]:
    """Build the separate window, hidden; what is left to call, a turn each, before it is shown; its pickers."""
    import napari

    with opening_viewer() as later:  # the same viewer, without napari's repeated work (see .second_viewer)
        viewer = napari.Viewer(title=_FEATURE_TITLE, show=False)
    for each in (viewer, placer._viewer):  # two windows: napari's GL clean-up of either must not hit the other's
        finish_in_own_context(each)
    # A plot, not an image: its vertical axis grows upwards, so the y arrow points along a histogram's bars
    # and a 2-D scatter's y values rise (FeatureRun.layers draws for this camera).
    viewer.camera.orientation2d = ("up", "right")
    _WITH_WINDOW.add(placer)
    picker = AxisPicker(partial(placer._pick, "window"))
    # Docked a turn before the window is shown (with show() and the window's first paint, one of the longest
    # stretches after the first run).
    dock = partial(viewer.window.add_dock_widget, picker, name="feature axes", area="right")
    return viewer, [dock, *later], picker


class Placer:
    """Places output layers for source layers; remembers which layers it made, by source identity.

    Parameters
    ----------
    viewer : napari.Viewer
        The main viewer.
    """

    def __init__(self, viewer) -> None:
        self._viewer = viewer
        self._outputs: dict[int, dict[str, Layer]] = {}
        self._feature_viewer = None
        self._feature_layers: dict[str, Layer] = {}
        self._picker: AxisPicker | None = None
        #: The separate window, built hidden before a run needs it (see :meth:`prepare_window`).
        self._spare = SpareWindow(partial(_build_window, self))
        self._window_run: tuple[FeatureRun, Layer] | None = None
        self._viewer_run: tuple[FeatureRun, Layer] | None = None
        #: The features on x, y, z, shared with the viewer's other feature views and its explorer.
        self.choice = axis_choice(viewer)
        self.choice.connect(self._on_choice)
        #: The x / y / z pickers of the "same viewer" view (the clustering widget shows them under its choice).
        self.viewer_picker = AxisPicker(partial(self._pick, "viewer"))
        self.viewer_picker.visible = False
        self.placing = False
        #: Called as ``hook(result, source_layer)`` after a run's outputs are placed
        #: (e.g. ``explorer.show_result``).
        self.after_run: list[Callable[[Any, Layer], None]] = []

    # --- main viewer -----------------------------------------------------------------
    def outputs(self, source: Layer) -> dict[str, Layer]:
        """The live output layers of ``source`` by role key (``"clusters:"``, ``"quantized:0"``, …).

        Parameters
        ----------
        source : Layer
            The input layer.

        Returns
        -------
        dict of str to Layer
            Only layers still in a viewer.
        """
        owned = self._outputs.get(id(source), {})
        return {key: layer for key, layer in owned.items() if layer in self._viewer.layers}

    def place(self, source: Layer, tuples: list[tuple], *, feature_run: FeatureRun | None = None,
              feature_view: str = "none", result: Any = None) -> None:  # fmt: skip
        """Put a run's outputs for ``source`` into the viewer(s), then call the ``after_run`` hooks.

        Parameters
        ----------
        source : Layer
            The input layer (outputs follow its current name).
        tuples : list of LayerDataTuple
            Labels, quantized, posterior layers.
        feature_run : FeatureRun, optional
            The run's feature space, for the "same viewer" view.
        feature_view : {"separate window", "same viewer", "none"}
        result : QuantizeResult, optional
            Passed to the hooks.
        """
        for _ in self.place_steps(source, tuples, feature_run=feature_run, feature_view=feature_view,
                                  result=result):  # fmt: skip
            pass

    def place_steps(self, source: Layer, tuples: list[tuple], *, feature_run: FeatureRun | None = None,
                    feature_view: str = "none", result: Any = None,
                    on_placed: Callable[[], object] | None = None) -> Iterator[None]:  # fmt: skip
        """:meth:`place`, pausing (yielding) between two layers and before the feature window.

        ``on_placed`` runs in the step that shows the last output (before the canvas paints it); new
        Labels layers' drawing overlays are made a turn after that (see :func:`_hide_overlays`).

        The caller resumes it one event-loop turn later, so the canvas paints between layers.

        Parameters
        ----------
        source : Layer
            The input layer (outputs follow its current name).
        tuples : list of LayerDataTuple
            Labels, quantized, posterior layers.
        feature_run : FeatureRun, optional
            The run's feature space, drawn in this viewer with the "same viewer" view (the separate window's
            comes later, see :meth:`feature_window_steps`).
        feature_view : {"separate window", "same viewer", "none"}
            Where the feature-space layers go.
        result : QuantizeResult, optional
            Passed to the ``after_run`` hooks.
        on_placed : callable, optional
            Called once every output is in the viewer.

        Yields
        ------
        None
            Once after each layer is placed.
        """
        tuples = [self._renamed(t, source) for t in tuples]
        owned = self._outputs.setdefault(id(source), {})
        deferred: list = []
        try:
            self.placing = True
            try:
                yield from self._put_steps(self._viewer, owned, tuples, deferred=deferred)
                if feature_run is not None and feature_view == "same viewer":
                    self._viewer_run = (feature_run, source)
                    yield
                    yield from self._put_steps(self._viewer, owned, self._viewer_tuples(), prune=FEATURE_ROLES)
                if source in self._viewer.layers:
                    self._viewer.layers.selection.active = source
            finally:
                self.placing = False
            if on_placed is not None:
                on_placed()
            if deferred:
                yield
        finally:  # also when the steps are dropped half-way (the widget closed): the layers stay usable
            _show_overlays(deferred)
        for hook in self.after_run:
            hook(result, source)

    def feature_window_steps(self, source: Layer, run: FeatureRun) -> Iterator[None]:
        """Show a run's feature space in the separate window, pausing (yielding) after the window and each layer.

        The widget runs it after the main viewer's outputs are placed: those are what a user waits for. The
        window shows the features shown last when the run's features have the same names, else the last three;
        its x / y / z pickers redraw it from ``run`` (see :meth:`show_window_axes`).

        Parameters
        ----------
        source : Layer
            The input layer (outputs follow its current name).
        run : FeatureRun
            The run's result, sample and cluster counts.

        Yields
        ------
        None
            Once after the window opens and after each layer.
        """
        self._window_run = (run, source)
        order = self.choice.for_run(run.names)
        tuples = run.layers(layer_columns(order))
        yield from self._show_features(run.result, [self._renamed(t, source) for t in tuples])
        self.choice.choose(run.names, order)  # the explorer's pair is the window's x / y

    def _pick(self, view: str, axes: tuple[int, ...]) -> None:
        """A picker of ``view`` ("window" or "viewer") chose ``axes`` (layer columns): every view shows them."""
        run = (self._window_run if view == "window" else self._viewer_run) or (None, None)
        if run[0] is not None:  # the "same viewer" view picks x and y only: the window's z is kept
            self.choice.choose(run[0].names, picked_order(self.choice.for_run(run[0].names), layer_columns(axes)))

    def feature_view_chosen(self, view: str) -> None:
        """The "same viewer" view's pickers show while that view is chosen, once a run has drawn it.

        Parameters
        ----------
        view : {"separate window", "same viewer", "none"}
            The clustering widget's feature space view.
        """
        self.viewer_picker.visible = view == "same viewer" and self.viewer_picker.axes is not None

    def _on_choice(self, names: list[str], _old: tuple | None, order: tuple[int, ...]) -> None:
        """The shared choice changed: redraw the window and this viewer's feature layers showing these features."""
        window = self._window_run is not None and self._window_run[0].names == names
        if window and _stale(_drawn_axes(self._feature_layers, self.feature_viewer_alive()), order):
            self._redraw_window(layer_columns(order))
        if self._viewer_run is not None and self._viewer_run[0].names == names:
            owned = self._outputs.get(id(self._viewer_run[1]), {})
            if _stale(_drawn_axes(owned, self._viewer), order):
                self._put(self._viewer, owned, self._viewer_tuples(), prune=FEATURE_ROLES)

    def _viewer_tuples(self) -> list[tuple]:
        """The "same viewer" view's layers on the chosen features (its pickers say which)."""
        run, source = self._viewer_run
        order = self.choice.for_run(run.names)
        # A 2-D plot of x and y: the user's 2-D viewer shows every point whatever its z-slice (3-D points were
        # shown on one slice only, and their z grew the viewer's slider to the feature's range).
        tuples = [self._renamed(t, source) for t in run.layers(layer_columns(order, 2), ellipsoids=False)]
        axes = next((_info(meta).get("axes") for _, meta, _ in tuples if _info(meta).get("axes")), None)
        self.viewer_picker.show_axes(run.names, axes)
        self.viewer_picker.visible = True
        self.choice.choose(run.names, order)
        return tuples

    def show_window_axes(self, axes: tuple[int, ...]) -> None:
        """Show features ``axes`` in the separate window (the last run's, not clustered again), and in the other views.

        Parameters
        ----------
        axes : tuple of int
            Feature indices in the layers' column order (z, y, x in 3-D; see
            :func:`napari_colorquant.feature_space.view_axes`).
        """
        self._pick("window", tuple(axes))

    def _redraw_window(self, axes: tuple[int, ...]) -> None:
        """Redraw the separate window with features ``axes`` (layer columns) on its axes."""
        viewer = self.feature_viewer_alive()
        if viewer is None or self._window_run is None:
            return
        run, source = self._window_run
        try:
            tuples = [self._renamed(t, source) for t in run.layers(axes)]
        except (ValueError, TypeError) as error:
            from napari.utils.notifications import show_error

            show_error(f"napari-colorquant: {error}")
            return
        self._put(viewer, self._feature_layers, tuples, prune=FEATURE_ROLES)
        self._name_window(viewer, tuples, run.names)
        viewer.axes.visible = viewer.dims.ndisplay == 3 and not _own_axes(tuples)
        angles = viewer.camera.angles  # the cloud keeps the user's rotation; it is only framed again
        frame_plot(viewer)
        viewer.camera.angles = angles

    def _renamed(self, layer_tuple: tuple, source: Layer) -> tuple:
        """Outputs named after the source's current name (it may have been renamed during the run)."""
        data, meta, layer_type = layer_tuple
        info = _info(meta)
        old = info["source"]
        if old == source.name:
            return layer_tuple
        meta = dict(meta, metadata={"colorquant": dict(info, source=source.name)})
        if meta["name"].startswith(old + " "):
            meta["name"] = source.name + meta["name"][len(old) :]
        else:
            meta["name"] = output_name(source.name, info["role"]) if "channel" not in info else meta["name"]
        return data, meta, layer_type

    def _put(self, viewer, owned: dict[str, Layer], tuples: list[tuple], prune: tuple[str, ...] = ()) -> None:
        for _ in self._put_steps(viewer, owned, tuples, prune):
            pass

    def _put_steps(self, viewer, owned: dict[str, Layer], tuples: list[tuple], prune: tuple[str, ...] = (),
                   deferred: list | None = None) -> Iterator[None]:  # fmt: skip
        """Place ``tuples`` in ``viewer`` (in place where possible), yielding between two steps of GUI work.

        A new layer takes two turns (inserted hidden, then shown); in-place updates share one turn up to
        :data:`_TURN_BYTES` of texture. New layers' drawing overlays are hidden and added to ``deferred``
        when it is given (the caller shows them later).
        """
        keys = {_key(meta) for _, meta, _ in tuples}
        for key in [k for k in owned if k.split(":")[0] in prune and k not in keys]:
            layer = owned.pop(key)
            if layer in viewer.layers:
                viewer.layers.remove(layer)
        live = [layer for layer in owned.values() if layer in viewer.layers]
        position = max((viewer.layers.index(layer) + 1 for layer in live), default=len(viewer.layers))
        turn_bytes: int | None = 0  # texture this turn's paint will upload; None: a layer was shown, yield first
        for number, (data, meta, layer_type) in enumerate(tuples):
            plane = _plane_bytes(data, meta, layer_type)
            if number and (turn_bytes is None or turn_bytes + plane > _TURN_BYTES):
                yield
                turn_bytes = 0
            key = _key(meta)
            layer = owned.get(key)
            meta = _named_apart(meta, viewer, owned)
            if layer is not None and layer in viewer.layers and _compatible(layer, data, meta, layer_type):
                # In-place updates are cheap: several share a turn (and a paint) up to _TURN_BYTES of texture.
                _update(layer, data, meta, layer_type)
                turn_bytes += plane
                continue
            shown = meta.get("visible", True)
            # Made, inserted hidden, shown: the layer itself, its controls and visual, then slicing and
            # drawing its data (a 12 MP texture), are three stretches of GUI work instead of one.
            new = Layer.create(data, dict(meta, visible=False) if shown else meta, layer_type)
            if deferred is not None:
                deferred += _hide_overlays(new)
            yield
            if layer is not None and layer in viewer.layers:  # one that cannot take the new data in place
                position = viewer.layers.index(layer)
                viewer.layers.remove(layer)
            position = min(position, len(viewer.layers))
            with _not_activated(viewer.layers):
                viewer.layers.insert(position, new)
            position += 1
            owned[key] = new
            if shown:
                yield
                new.visible = True
            turn_bytes = None

    # --- separate feature-space window ----------------------------------------------------
    def _show_features(self, result: Any, tuples: list[tuple]) -> Iterator[None]:
        """Show the run's feature space in the separate window, yielding after the window and each layer."""
        viewer = self.feature_viewer_alive()
        if viewer is None:  # built hidden ahead (prepare_window), or now: built, docked, themed, a turn each; shown
            viewer, self._picker = yield from self._spare.take_steps()
            self._feature_viewer, self._feature_layers = viewer, {}
            yield
            self._show_feature_viewer(viewer)
            yield from _until_exposed(viewer)
        viewer.dims.ndisplay = 3 if result.model.n_features >= 3 else 2
        _dims_ahead(viewer, tuples)
        yield
        # The texts' glyphs before the layers: made by the points' first paint and the axes', they lengthened both.
        yield from glyph_steps(viewer, "".join(_axis_text(tuples)))
        yield from self._put_steps(viewer, self._feature_layers, tuples, prune=FEATURE_ROLES)
        yield
        for layer in [layer for layer in viewer.layers if layer not in self._feature_layers.values()]:
            viewer.layers.remove(layer)  # earlier runs' layers, whatever their source
        self._name_window(viewer, tuples, self._window_run[0].names if self._window_run else [])
        frame_plot(viewer)
        yield from _axes_steps(viewer, result.model.n_features >= 3 and not _own_axes(tuples))

    def _name_window(self, viewer, tuples: list[tuple], names: list[str]) -> None:
        """Axis labels, title and pickers saying which features the window shows (and keep the choice)."""
        shown = next((tuple(meta["axis_labels"]) for _, meta, _ in tuples if "axis_labels" in meta), None)
        if shown is not None:  # the layers' names of the features (a stack's channel names), not "channel 0"
            viewer.dims.axis_labels = shown
        axes = next((_info(meta).get("axes") for _, meta, _ in tuples if _info(meta).get("axes")), None)
        viewer.title = window_title(names, None if axes is None else shown)
        if self._picker is not None:
            self._picker.show_axes(names, axes)

    def prepare_window(self, alive: Callable[[], bool]) -> None:
        """Build the separate window hidden, in idle event-loop turns, so that the first run only shows it.

        Parameters
        ----------
        alive : callable
            ``alive() -> bool``; once False (the widget is gone) the build stops.
        """
        if self.feature_viewer_alive() is None:
            self._spare.prepare(alive)

    @property
    def prepared_window(self) -> napari.Viewer | None:
        """The separate window built ahead, hidden, that the next run will show (None: none ready)."""
        return self._spare.prepared

    def _show_feature_viewer(self, viewer) -> None:
        """Show the window just built (its pickers docked a turn or more before, see :func:`_build_window`)."""
        viewer.show()

    def feature_viewer_alive(self) -> napari.Viewer | None:
        """The separate feature-space viewer if it is open, else None.

        Returns
        -------
        napari.Viewer or None
        """
        viewer = self._feature_viewer
        if viewer is None:
            return None
        try:
            return viewer if viewer.window._qt_window.isVisible() else None
        except (RuntimeError, AttributeError):
            return None

    @property
    def feature_viewer(self) -> napari.Viewer | None:
        """The separate feature-space viewer (None until a run opened it)."""
        return self._feature_viewer

    @property
    def axis_picker(self) -> AxisPicker | None:
        """The separate window's x / y / z pickers (None while it is closed)."""
        return self._picker

    def close_feature_viewer(self, *_) -> None:
        """Close the separate feature-space viewer, if open."""
        viewer, self._feature_viewer = self._feature_viewer, None
        self._feature_layers, self._picker = {}, None
        self._spare.close()  # built ahead and never shown
        # A window closed by its title bar's X is deleted but its viewer kept (napari's): closing that viewer made
        # its layers' removal update the deleted canvas, and vispy printed a RuntimeError traceback per layer.
        if viewer is not None and window_exists(viewer):
            with contextlib.suppress(RuntimeError, AttributeError):
                viewer.close()

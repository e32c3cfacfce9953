"""A fitted clustering model: predict labels and posteriors, render colours, round-trip JSON.

Labels are 1..K (0 is kept for masked / NaN pixels), ordered by the
brightness of each cluster (see :func:`colorspaces.luminance_key`), so the
same image and parameters always give the same label numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import colorspaces
from .em import check_covariance
from .methods import METHODS, FittedClusters, get_method
from .pixels import ImageLayout, PixelTable, build_table, check_mask, describe_image

__all__ = ["METHODS", "ClusterModel", "FitOutcome", "build_model"]
_SCHEMA = "napari-colorquant/model"
_SCHEMA_VERSION = 1


@dataclass
class ClusterModel:
    """Clusters fitted to an image, in a feature (colour) space.

    Attributes
    ----------
    method : {"kmeans", "em"}
    color_space : str
        Feature space the model was fitted in (see :mod:`colorspaces`).
    means : ndarray (K, F)
        Cluster centres in that space, row ``i`` for label ``i + 1``.
    palette : ndarray (K, C)
        Colour of each cluster in the input's units (for chroma-only spaces:
        the cluster's chroma at its mean luminance).
    covariances : ndarray (K, F, F) or None
        EM only; full matrices whatever the covariance type.
    mixing_weights : ndarray (K,) or None
        EM mixing proportions (sum to 1); ``weights`` in model files before 0.2.
    input_kind : {"gray", "rgb", "rgba", "channels"}
    n_channels : int
        Colour channels of the input (alpha excluded).
    dtype : str
        Input dtype the model was fitted on.
    scale, offset : float
        Nominal maximum and chroma offset used by the colour conversions.
    n_iter : int or None
        Iterations run (None when the OpenCV engine does not report it).
    converged : bool or None
    inertia : float or None
        k-means: sum of squared distances of the fitted pixels to their centre.
    log_likelihood : float or None
        EM: mean log-likelihood per fitted pixel.
    bic : float or None
        EM: Bayesian information criterion.
    approximate : bool
        True if the fit used a sample of the pixels.
    n_fit_pixels : int
        Pixels the fit used (weights summed).
    params : dict
        Every parameter of the run (max_iter, epsilon, attempts, init, seed,
        covariance, engine, ...).
    """

    method: str
    color_space: str
    means: np.ndarray
    palette: np.ndarray
    input_kind: str
    n_channels: int
    dtype: str
    scale: float
    offset: float
    covariances: np.ndarray | None = None
    mixing_weights: np.ndarray | None = None
    n_iter: int | None = None
    converged: bool | None = None
    inertia: float | None = None
    log_likelihood: float | None = None
    bic: float | None = None
    approximate: bool = False
    n_fit_pixels: int = 0
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def n_clusters(self) -> int:
        """Number of clusters K."""
        return int(self.means.shape[0])

    @property
    def weights(self) -> np.ndarray | None:
        """Alias of :attr:`mixing_weights` (the name before 0.2; prefer ``mixing_weights``)."""
        return self.mixing_weights

    @property
    def n_features(self) -> int:
        """Number of clustering features F."""
        return int(self.means.shape[1])

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the features, e.g. ``("Cr", "Cb")``; for channels, the file's channel names when recorded.

        ``params["channel_names"]`` (written by the command line from OME metadata) names the channel
        features, e.g. ``("DAPI", "GFP")``; otherwise they are ``"channel 0"``, ``"channel 1"``, ...
        """
        names = self.params.get("channel_names")
        if (
            self.color_space == "channels"
            and isinstance(names, list | tuple)
            and len(names) == self.n_features
            and all(isinstance(name, str) and name for name in names)
        ):
            return tuple(names)
        return colorspaces.feature_names(self.color_space, self.n_features)

    @property
    def label_dtype(self) -> np.dtype:
        """Smallest unsigned dtype holding labels 0..K."""
        return np.dtype(np.uint8 if self.n_clusters < 256 else np.uint16 if self.n_clusters < 65536 else np.uint32)

    # --- features -----------------------------------------------------------------
    def features(self, values: np.ndarray) -> np.ndarray:
        """Pixel value rows ``(n, C)`` in the input's units to feature rows ``(n, F)``.

        Parameters
        ----------
        values : ndarray (n, C)

        Returns
        -------
        ndarray (n, F) of float64
        """
        return colorspaces.to_features(values, self.color_space, self.scale, self.offset)

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """Labels 1..K for feature rows: nearest centre (k-means) or most probable component (EM).

        Parameters
        ----------
        features : ndarray (n, F)

        Returns
        -------
        ndarray (n,) of the model's label dtype
        """
        labels = get_method(self.method).predict(self, np.asarray(features, np.float64))
        return (labels + 1).astype(self.label_dtype)

    def log_posteriors(self, features: np.ndarray) -> np.ndarray:
        """Log posterior probability of each cluster, ``(n, K)`` (methods with posteriors, e.g. EM).

        Parameters
        ----------
        features : ndarray (n, F)

        Returns
        -------
        ndarray (n, K)

        Raises
        ------
        ValueError
            For a method without posteriors (k-means).
        """
        return self._posterior_method().log_posteriors(self, features)

    def _posterior_method(self):
        method = get_method(self.method)
        if not method.has_posteriors:
            raise ValueError("posterior probabilities exist only for EM models (method='em')")
        return method

    def predict_values(self, values: np.ndarray) -> np.ndarray:
        """Labels 1..K for pixel value rows in the input's units.

        Parameters
        ----------
        values : ndarray (n, C)
            In the input's units.

        Returns
        -------
        ndarray (n,)
        """
        return self.predict_features(self.features(values))

    def quantized_values(self, values: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Each pixel value row replaced by its cluster's colour (float, input units).

        For chroma-only spaces each pixel keeps its own luminance.

        Parameters
        ----------
        values : ndarray (n, C)
            In the input's units.
        labels : ndarray (n,), optional
            Their labels 1..K, when already known.

        Returns
        -------
        ndarray (n, C) of float64
        """
        if labels is None:
            labels = self.predict_values(values)
        index = labels.astype(np.intp) - 1
        if self.color_space not in colorspaces.CHROMA_SPACES:
            return self.palette[index]
        luminance = colorspaces.kept_luminance(values, self.color_space, self.scale, self.offset)
        return colorspaces.from_features(self.means[index], self.color_space, self.scale, self.offset, luminance)

    # --- images ---------------------------------------------------------------------
    def predict(
        self, image: ArrayLike, *, mask: ArrayLike | None = None, channel_axis: int | None = None
    ) -> np.ndarray:
        """Label image (1..K, 0 outside the mask and at NaN pixels) for a new image.

        The image must have the same channels and dtype as the one the model
        was fitted on. Uses the same count-once, lookup-back path as fitting.

        Parameters
        ----------
        image : array_like
            Same channels and dtype as the fitted input.
        mask : array_like of bool, optional
            On the image's pixel grid.
        channel_axis : int, optional
            As for :func:`~napari_colorquant.quantize`.

        Returns
        -------
        ndarray
            The pixel grid, in the model's label dtype.
        """
        table = self.pixel_table(image, mask=mask, channel_axis=channel_axis)
        return table.map(self.predict_values, self.label_dtype, fill=0)

    def predict_proba(
        self, image: ArrayLike, *, mask: ArrayLike | None = None, channel_axis: int | None = None
    ) -> np.ndarray:
        """EM: posterior probability of each cluster per pixel, float32, shape ``pixels + (K,)``.

        Masked and NaN pixels get 0 for every cluster.

        Parameters
        ----------
        image, mask, channel_axis
            As for :meth:`predict`.

        Returns
        -------
        ndarray of float32
        """
        self._posterior_method()
        table = self.pixel_table(image, mask=mask, channel_axis=channel_axis)
        return self.posteriors_of_table(table)

    def posteriors_of_table(self, table: PixelTable) -> np.ndarray:
        """Posteriors per pixel from an already counted table (no second count of the image).

        Parameters
        ----------
        table : PixelTable
            The image's distinct values, counted once.

        Returns
        -------
        ndarray of float32
            ``pixels + (K,)``.
        """
        self._posterior_method()
        return table.map(lambda v: np.exp(self.log_posteriors(self.features(v))), np.float32, fill=0)

    def describe(self, image: ArrayLike, channel_axis: int | None = None) -> tuple[ArrayLike, ImageLayout]:
        """Read ``image`` as this model's input was read; checks channels, kind and dtype match.

        Parameters
        ----------
        image : array_like or dask array
        channel_axis : int, optional

        Returns
        -------
        array : ndarray or dask array
            Not copied.
        layout : ImageLayout

        Raises
        ------
        ValueError
            When the image's channels, kind or dtype differ from the fitted input's.
        """
        requested = "rgb" if self.input_kind in ("rgb", "rgba") else "auto"  # an explicit axis of 3 is RGB here
        try:
            array, layout, _ = describe_image(image, channel_axis, requested, scale=self.scale)
        except ValueError as error:
            shape = getattr(image, "shape", None)
            # With channel_axis given, the image check's own words say what is wrong with it; without, they advise
            # another colour space, which a fitted model cannot take.
            detail = "" if channel_axis is None else f" ({error})"
            got = f"the image of shape {shape} is not one{detail}"
            raise ValueError(_mismatch(self, got, shape, channel_axis)) from error
        kind = "rgb" if layout.kind == "rgba" else layout.kind
        fitted_kind = "rgb" if self.input_kind == "rgba" else self.input_kind
        if kind != fitted_kind and not (self.input_kind == "channels" and layout.n_channels == self.n_channels):
            got = f"got a {layout.kind} image of shape {layout.shape}"
            raise ValueError(_mismatch(self, got, getattr(image, "shape", None), channel_axis))
        if layout.n_channels != self.n_channels:
            raise ValueError(
                f"this model needs {self.n_channels} channel(s); the image has {layout.n_channels}: {_OTHER_MODEL}"
            )
        if layout.given_dtype != np.dtype(self.dtype):
            raise ValueError(
                f"this model was fitted on {self.dtype} images; got {layout.given_dtype} (convert the image first, "
                "so that colour values mean the same)"
            )
        return array, layout

    def pixel_table(
        self, image: ArrayLike, *, mask: ArrayLike | None = None, channel_axis: int | None = None
    ) -> PixelTable:
        """Distinct values of an image this model can label (checks it matches the fitted input).

        Parameters
        ----------
        image, mask, channel_axis
            As for :meth:`predict`.

        Returns
        -------
        PixelTable
        """
        array, layout = self.describe(image, channel_axis)
        return build_table(array, layout, check_mask(mask, layout), max_samples=None, allow_empty=True)

    # --- JSON -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-able dict holding everything needed to rebuild the model.

        Returns
        -------
        dict of str to object
            Schema name and version, method, colour space, K, centres, covariances, weights and parameters;
            :meth:`from_dict` reads it back.
        """
        out: dict[str, Any] = {
            "schema": _SCHEMA,
            "version": _SCHEMA_VERSION,
            "method": self.method,
            "color_space": self.color_space,
            "n_clusters": self.n_clusters,
            "feature_names": list(self.feature_names),
            "means": self.means.tolist(),
            "palette": self.palette.tolist(),
            "input_kind": self.input_kind,
            "n_channels": self.n_channels,
            "dtype": self.dtype,
            "scale": self.scale,
            "offset": self.offset,
            "n_iter": self.n_iter,
            "converged": self.converged,
            "inertia": _finite_or_none(self.inertia),
            "log_likelihood": _finite_or_none(self.log_likelihood),
            "bic": _finite_or_none(self.bic),
            "approximate": self.approximate,
            "n_fit_pixels": self.n_fit_pixels,
            "params": _jsonable(self.params),
        }
        if self.covariances is not None:
            out["covariances"] = self.covariances.tolist()
        if self.mixing_weights is not None:
            out["mixing_weights"] = self.mixing_weights.tolist()
        return out

    def to_json(self, **kwargs: Any) -> str:
        """The model as a JSON string (see :meth:`to_dict`).

        Parameters
        ----------
        **kwargs
            Passed to :func:`json.dumps` (e.g. ``indent=2``).

        Returns
        -------
        str
        """
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> ClusterModel:
        """Rebuild a model from :meth:`to_json` output (validated, never executed).

        Parameters
        ----------
        text : str
            JSON text.

        Returns
        -------
        ClusterModel

        Raises
        ------
        ValueError
            If the text is not JSON, is nested too deeply, or any field is wrong (see :meth:`from_dict`).
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"model file is not valid JSON: {error}") from error
        except RecursionError as error:
            raise ValueError("model file is nested too deeply to be a napari-colorquant model") from error
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterModel:
        """Rebuild a model from :meth:`to_dict` output, checking every field's type, shape and consistency.

        Parameters
        ----------
        data : dict
            As :meth:`to_dict` gives it.

        Returns
        -------
        ClusterModel

        Raises
        ------
        ValueError
            If a field is missing, of the wrong type or shape, not finite, out of range, or
            inconsistent with the others (colour space, channels and the width of ``means``);
            the message names the field.
        """
        if not isinstance(data, dict):
            raise ValueError(f"a model must be a JSON object (dict), got {type(data).__name__}")
        kwargs = _core_fields(data)
        if get_method(kwargs["method"]).has_posteriors:  # a mixture: covariances and mixing weights
            kwargs.update(_mixture_fields(data, kwargs["means"].shape))
        return cls(**kwargs)


_OTHER_MODEL = "apply it to images like the one it was fitted on, or fit a new model on this one"


def _mismatch(model: ClusterModel, got: str, shape, channel_axis: int | None) -> str:
    """Why ``model`` cannot label an image of another kind, and what to do: name the channel axis, or fit anew.

    A model's colour space and channels are fixed, so the colour-space advice of the image check (``use 'gray'``)
    does not apply here; the command line ignores ``--color-space`` with ``--apply``.
    """
    text = f"this model was fitted on a {model.input_kind} image with {model.n_channels} channel(s); {got}"
    sizes = tuple(shape) if isinstance(shape, tuple) else ()
    if model.input_kind == "channels" and channel_axis is None and model.n_channels in sizes:
        axis = sizes.index(model.n_channels)
        return f"{text}: if axis {axis} holds its channels, pass channel_axis={axis}; else {_OTHER_MODEL}"
    return f"{text}: {_OTHER_MODEL}"


def _finite_or_none(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_INPUT_CHANNELS = {"gray": (1, 1), "rgb": (3, 3), "rgba": (3, 3), "channels": (2, None)}
_MAX_PARAMS_DEPTH = 4


def _choice(data: dict, name: str, choices) -> str:
    value = _field(data, name, str)
    if value not in choices:
        raise ValueError(f"model field {name!r} must be one of {tuple(choices)}, got {value!r}")
    return value


def _core_fields(data: dict) -> dict[str, Any]:
    """Every field but the EM ones, checked one by one and against each other."""
    method = _choice(data, "method", METHODS)
    color_space = _choice(data, "color_space", colorspaces.COLOR_SPACES)
    input_kind = _choice(data, "input_kind", tuple(_INPUT_CHANNELS))
    means = _matrix(data, "means", ndim=2)
    n_clusters, n_features = means.shape
    if n_clusters < 1 or n_features < 1:
        raise ValueError("model field 'means' must be a non-empty K x F matrix")
    if "n_clusters" in data and _field(data, "n_clusters", int) != n_clusters:
        raise ValueError(f"model field 'n_clusters' is {data['n_clusters']} but 'means' has {n_clusters} rows")
    n_channels = _field(data, "n_channels", int)
    low, high = _INPUT_CHANNELS[input_kind]
    if n_channels < low or (high is not None and n_channels > high):
        raise ValueError(f"model field 'n_channels' is {n_channels}, which does not fit input_kind {input_kind!r}")
    space = colorspaces.get_color_space(color_space)
    if ("rgb" if input_kind == "rgba" else input_kind) not in space.input_kinds:
        raise ValueError(
            f"model field 'color_space' {color_space!r} does not fit input_kind {input_kind!r} "
            f"(it accepts {', '.join(space.input_kinds)} images)"
        )
    expected = space.n_features or n_channels
    if n_features != expected:
        raise ValueError(
            f"model field 'means' has {n_features} features per cluster; color_space {color_space!r} "
            f"with n_channels={n_channels} has {expected}"
        )
    if color_space in colorspaces.THREE_CHANNEL_SPACES and n_channels != 3:
        raise ValueError(f"model field 'n_channels' must be 3 for color_space {color_space!r}, got {n_channels}")
    palette = _matrix(data, "palette", ndim=2)
    if palette.shape != (n_clusters, n_channels):
        raise ValueError(f"model field 'palette' must have shape ({n_clusters}, {n_channels}), got {palette.shape}")
    scale = _number(data, "scale")
    if scale <= 0:
        raise ValueError(f"model field 'scale' (the input's nominal maximum) must be > 0, got {scale}")
    return dict(
        method=method,
        color_space=color_space,
        means=means,
        palette=palette,
        input_kind=input_kind,
        n_channels=n_channels,
        dtype=_image_dtype(data),
        scale=scale,
        offset=_number(data, "offset"),
        n_iter=_count(data, "n_iter"),
        converged=_optional(data, "converged", bool),
        inertia=_optional_number(data, "inertia"),
        log_likelihood=_optional_number(data, "log_likelihood"),
        bic=_optional_number(data, "bic"),
        approximate=bool(_optional(data, "approximate", bool) or False),
        n_fit_pixels=_count(data, "n_fit_pixels") or 0,
        params=_params(data),
    )


def _mixture_fields(data: dict, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """A mixture's covariances (symmetric positive definite) and mixing weights (positive, summing to 1)."""
    n_clusters, n_features = shape
    covariances = _matrix(data, "covariances", ndim=3)
    if covariances.shape != (n_clusters, n_features, n_features):
        raise ValueError(
            f"model field 'covariances' must have shape ({n_clusters}, {n_features}, {n_features}), "
            f"got {covariances.shape}"
        )
    if not np.allclose(covariances, covariances.transpose(0, 2, 1)):
        raise ValueError("model field 'covariances' must hold symmetric matrices")
    if (np.linalg.eigvalsh(covariances) <= 0).any():
        raise ValueError("model field 'covariances' must hold positive definite matrices")
    key = "mixing_weights" if "mixing_weights" in data else "weights"  # 'weights' in files before 0.2
    weights = _matrix(data, key, ndim=1)
    if weights.shape != (n_clusters,) or (weights <= 0).any() or not math.isclose(weights.sum(), 1.0, rel_tol=1e-6):
        raise ValueError(f"model field {key!r} must be {n_clusters} positive numbers summing to 1")
    covariance = (_optional(data, "params", dict) or {}).get("covariance", "full")
    try:
        check_covariance(str(covariance))
    except ValueError as error:
        raise ValueError(f"model field 'params': {error}") from error
    return dict(covariances=covariances, mixing_weights=weights)


def _image_dtype(data: dict) -> str:
    dtype = _field(data, "dtype", str)
    try:
        np_dtype = np.dtype(dtype)
    except TypeError as error:
        raise ValueError(f"model field 'dtype' is not a numpy dtype name: {dtype!r}") from error
    if np_dtype.kind not in "biuf":
        raise ValueError(f"model field 'dtype' must be a numeric image dtype, got {dtype!r}")
    return np_dtype.name


def _params(data: dict) -> dict[str, Any]:
    """The run's parameters: a JSON object nested no deeper than an init array of rows."""
    params = _optional(data, "params", dict) or {}
    stack = [(params, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > _MAX_PARAMS_DEPTH:
            raise ValueError(f"model field 'params' is nested more than {_MAX_PARAMS_DEPTH} levels deep")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return params


def _count(data: dict, name: str) -> int | None:
    value = _optional(data, name, int)
    if value is not None and value < 0:
        raise ValueError(f"model field {name!r} must be >= 0, got {value}")
    return value


def _type_name(kind) -> str:
    return " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))


def _field(data: dict, name: str, kind):
    if name not in data:
        raise ValueError(f"model is missing the field {name!r}")
    value = data[name]
    if (int in (kind if isinstance(kind, tuple) else (kind,)) and isinstance(value, bool)) or not isinstance(
        value, kind
    ):
        raise ValueError(f"model field {name!r} must be {_type_name(kind)}, got {type(value).__name__} {value!r:.40}")
    return value


def _optional(data: dict, name: str, kind: type):
    if data.get(name) is None:
        return None
    return _field(data, name, kind)


def _number(data: dict, name: str) -> float:
    value = _field(data, name, (int, float))
    if not math.isfinite(value):
        raise ValueError(f"model field {name!r} must be a finite number")
    return float(value)


def _optional_number(data: dict, name: str) -> float | None:
    return None if data.get(name) is None else _number(data, name)


def _matrix(data: dict, name: str, ndim: int) -> np.ndarray:
    value = _field(data, name, list)
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError, RecursionError) as error:
        raise ValueError(f"model field {name!r} must be a rectangular array of numbers") from error
    if array.ndim != ndim:
        raise ValueError(f"model field {name!r} must be a {ndim}-D array, got {array.ndim}-D")
    if not np.isfinite(array).all():
        raise ValueError(f"model field {name!r} must hold finite numbers")
    return array


def _cluster_order(means: np.ndarray, color_space: str, scale: float, offset: float) -> np.ndarray:
    """Permutation sorting clusters by brightness, then by each feature (deterministic labels)."""
    key = colorspaces.luminance_key(means, color_space, scale, offset)
    return np.lexsort((*tuple(means[:, f] for f in reversed(range(means.shape[1]))), key))


def _palette(color_space, layout, values, weights, labels, means) -> np.ndarray:
    """Colour of each cluster in the input's units."""
    n_clusters = means.shape[0]
    by_luma = color_space == "gray" and layout.n_channels > 1
    if not by_luma and color_space not in colorspaces.CHROMA_SPACES:
        # The means themselves: no pass over the values (a bincount of every value, spared).
        return colorspaces.from_features(means, color_space, layout.scale, layout.offset)
    mass = np.maximum(np.bincount(labels, weights=weights, minlength=n_clusters), 1e-300)
    if by_luma:
        # Clustered on luma: the cluster's colour is the mean colour of its pixels.
        values = np.asarray(values, np.float64)
        sums = np.column_stack(
            [np.bincount(labels, weights=weights * values[:, c], minlength=n_clusters) for c in range(values.shape[1])]
        )
        return sums / mass[:, None]
    luminance = colorspaces.kept_luminance(values, color_space, layout.scale, layout.offset)
    mean_luminance = np.bincount(labels, weights=weights * luminance, minlength=n_clusters) / mass
    return colorspaces.from_features(means, color_space, layout.scale, layout.offset, mean_luminance)


@dataclass
class FitOutcome:
    """Everything a fit produced, as :func:`build_model` assembles it into a model.

    Attributes
    ----------
    method, color_space : str
    layout : ImageLayout
        How the fitted image was read.
    values : ndarray (n, C)
        The fitted samples in the input's units (distinct values or a sample).
    sample_weight : ndarray (n,)
        Their pixel counts.
    clusters : FittedClusters
        The method's output, clusters in fit order.
    """

    method: str
    color_space: str
    layout: ImageLayout
    values: np.ndarray
    sample_weight: np.ndarray
    clusters: FittedClusters


def build_model(fit: FitOutcome, params: dict[str, Any]) -> tuple[ClusterModel, np.ndarray]:
    """Assemble a model from a fit, with clusters numbered by brightness.

    Parameters
    ----------
    fit : FitOutcome
        The fitted samples, their weights and the method's clusters (fit order).
    params : dict
        Every parameter of the run, recorded in ``model.params``.

    Returns
    -------
    model : ClusterModel
    rank : ndarray (K,)
        Label (1..K) of each fit-order cluster.
    """
    layout, clusters, means = fit.layout, fit.clusters, fit.clusters.means
    order = _cluster_order(means, fit.color_space, layout.scale, layout.offset)
    rank = np.empty_like(order)
    rank[order] = np.arange(1, order.size + 1)
    palette = _palette(fit.color_space, layout, fit.values, fit.sample_weight, clusters.labels, means)
    model = ClusterModel(
        method=fit.method,
        color_space=fit.color_space,
        means=means[order],
        palette=palette[order],
        input_kind=layout.kind,
        n_channels=layout.n_channels,
        dtype=layout.given_dtype.name,  # bool, not the uint8 0 / 1 it is read as
        scale=layout.scale,
        offset=layout.offset,
        covariances=None if clusters.covariances is None else clusters.covariances[order],
        mixing_weights=None if clusters.mixing_weights is None else clusters.mixing_weights[order],
        n_fit_pixels=round(float(np.sum(fit.sample_weight))),
        params=dict(params),
        **clusters.figures,
    )
    return model, rank

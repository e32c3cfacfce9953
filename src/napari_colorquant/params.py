"""One record of the clustering parameters: validated once, stored in models, built into the CLI and the widget.

:class:`ClusterParameters` is a frozen dataclass. Each field carries, in one
place, its default, help text, bounds and choices (the choices come from the
method and colour-space registries, the covariance types from :mod:`em` and the
inits from :mod:`kmeans`), so the command line (:func:`napari_colorquant.cli.build_parser`)
and the widget controls are made from :meth:`ClusterParameters.fields` and never
copy a list of names. Adding a parameter is adding one field here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .colorspaces import CHROMA_SPACES, COLOR_SPACES
from .dither import DITHER_CHOICES
from .em import COVARIANCE_TYPES, check_covariance
from .kmeans import INITS
from .methods import ENGINES, METHODS
from .pixels import DEFAULT_MAX_SAMPLES

#: Largest number of clusters: labels are stored as uint16 (0 is kept for masked pixels).
#: The one K limit of the CLI, the widget and the viewer launcher. Indexed PNG output holds at most 256 colours:
#: above that the CLI writes a full-colour image, and the napari writer refuses a labels PNG, saying to use .tif.
MAX_CLUSTERS = 65535
#: Default iteration cap: a cap, not a stopping rule; the fits stop on ``DEFAULT_EPSILON`` long before on real images.
DEFAULT_MAX_ITER = 300
#: Default tolerance. k-means: no centre moved more than this (in the features' units, e.g. 0..255),
#: i.e. the assignment is stable; EM: the log-likelihood grew by less than this fraction of itself (OpenCV's
#: rule; OpenCV's own default is 1e-7, scikit-learn's absolute tol 1e-3 per sample). Measured on five real
#: images (tests/test_convergence.py): within 0.0002 log-likelihood per pixel and 0.0001 % inertia of a run
#: with epsilon 0 and 300 iterations.
DEFAULT_EPSILON = 1e-6
#: The course notebook's termination criteria (``cv2.TERM_CRITERIA_EPS + MAX_ITER, 10, 0.2``): fast, not converged.
NOTEBOOK_CRITERIA = {"max_iter": 10, "epsilon": 0.2}
#: Largest seed OpenCV accepts (``cv2.setRNGSeed`` takes a signed 32-bit int).
MAX_OPENCV_SEED = 2**31 - 1
#: ``color_space`` choices: ``"auto"`` then every registered colour space.
COLOR_SPACE_CHOICES = ("auto", *COLOR_SPACES)


@dataclass(frozen=True)
class ParameterField:
    """How one parameter is described to a user interface (see :meth:`ClusterParameters.fields`).

    Attributes
    ----------
    name : str
        Keyword of :func:`~napari_colorquant.quantize`; ``--name-with-dashes`` on the command line.
    type : type
        ``int``, ``float`` or ``str`` (the type a user enters).
    default : object
    help : str
    choices : tuple
        Accepted values for a choice, empty otherwise.
    minimum, maximum : float or None
        Bounds for numbers (None: unbounded).
    optional : bool
        None is accepted (``channel_axis``, ``max_samples``).
    """

    name: str
    type: type
    default: Any
    help: str
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False

    @property
    def flag(self) -> str:
        """The command-line option, e.g. ``--max-iter``."""
        return "--" + self.name.replace("_", "-")


def _spec(default, help: str, kind: type, *, choices=(), minimum=None, maximum=None, optional=False):
    """A dataclass field whose metadata describes it to the CLI and the widget."""
    meta = dict(help=help, type=kind, choices=tuple(choices), minimum=minimum, maximum=maximum, optional=optional)
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class ClusterParameters:
    """Every clustering parameter of a run, validated when the record is made.

    Parameters
    ----------
    n_clusters : int
        Number of clusters K (1..``MAX_CLUSTERS``; at most the number of distinct values).
    method : str
        One of :data:`~napari_colorquant.methods.METHODS`.
    color_space : str
        ``"auto"`` or one of :data:`~napari_colorquant.colorspaces.COLOR_SPACES`.
    channel_axis : int or None
        Axis holding channels (None: last axis if it has 3 or 4 entries, else gray).
    max_iter : int
        Maximum iterations per run.
    epsilon : float
        Stopping tolerance (k-means: centre shift; EM: relative log-likelihood gain), in the
        features' units for integer images (as ``cv2.kmeans``) and in 1/255 of the features'
        range for float images, so that a float image's unit changes nothing.
    attempts : int
        k-means starts; the lowest inertia is kept.
    init : str or array (K, F)
        ``"kmeans++"``, ``"random"`` or initial centres in the fitted feature space
        (stored as a tuple of tuples of float, so the record stays hashable).
    covariance : str
        EM covariance type (``"diag"`` is read as ``"diagonal"``).
    seed : int
        Random seed (0..2**31-1 with the OpenCV engine).
    engine : str
        One of :data:`~napari_colorquant.methods.ENGINES`.
    reg_covar : float
        Times the features' mean variance, added to EM covariance diagonals (>= 0): relative
        to the data's spread, so results do not depend on the data's unit.
    max_samples : int or None
        Fit on a reproducible sample above this many distinct values (None: never).
    dither : str
        ``"none"`` or ``"floyd-steinberg"`` (``dither=True`` in :func:`~napari_colorquant.quantize`).
    smoothing : float
        Potts smoothing strength beta (>= 0; 0 = off), see :mod:`~napari_colorquant.smoothing`.

    Raises
    ------
    TypeError
        A parameter has the wrong type (booleans are not numbers here).
    ValueError
        A parameter is out of range or not one of its choices; the message names it and what is accepted.
    """

    n_clusters: int = _spec(8, "number of clusters / colours", int, minimum=1, maximum=MAX_CLUSTERS)
    method: str = _spec(
        "kmeans", "k-means (nearest centre) or EM (Gaussian mixture, soft clusters)", str, choices=METHODS
    )
    color_space: str = _spec(
        "auto",
        "feature space the pixels are clustered in ('-chroma': cluster colour only; each pixel keeps its luminance)",
        str,
        choices=COLOR_SPACE_CHOICES,
    )
    channel_axis: int | None = _spec(
        None,
        "axis holding channels, clustered as features (default: RGB if the last axis has 3 or 4 entries, else gray)",
        int,
        optional=True,
    )
    max_iter: int = _spec(DEFAULT_MAX_ITER, "iteration cap (the notebook used 10)", int, minimum=1)
    epsilon: float = _spec(
        DEFAULT_EPSILON,
        "convergence tolerance; k-means: stop when no centre moves more than this; EM: when the log-likelihood "
        "grows by less than epsilon x its size (the notebook used 0.2)",
        float,
        minimum=0.0,
    )
    attempts: int = _spec(1, "k-means starts; the lowest inertia is kept", int, minimum=1)
    init: Any = _spec(  # noqa: RUF009
        "auto",
        "initial centres: auto (the exact optimum for one feature, else k-means++), k-means++ spreading, random "
        "pixels, or optimal (exact 1-D k-means, one feature only)",
        str,
        choices=INITS,
    )
    covariance: str = _spec(
        "full", "EM covariance type: full ellipses, axis-aligned or round", str, choices=COVARIANCE_TYPES
    )
    seed: int = _spec(0, "random seed: the same seed gives the same result", int, minimum=0)
    engine: str = _spec(
        "fast", "fast: exact weighted fit on distinct values; opencv: the notebook's cv2 calls", str, choices=ENGINES
    )
    reg_covar: float = _spec(
        1e-6, "x the features' mean variance, added to EM covariance diagonals", float, minimum=0.0
    )
    max_samples: int | None = _spec(DEFAULT_MAX_SAMPLES, "fit on a reproducible sample above this many distinct "
                                    "values", int, minimum=1, optional=True)  # fmt: skip
    dither: str = _spec(
        "none",
        "render the quantized image (and indexed PNG) with Floyd-Steinberg error diffusion over the palette "
        "(Pillow; uint8 gray/RGB, not chroma-only spaces); labels stay nearest-centre",
        str,
        choices=DITHER_CHOICES,
    )
    smoothing: float = _spec(
        0.0,
        "spatial smoothing: Potts prior strength beta (nats per disagreeing neighbour; 0 = off, 1 = a good "
        "start) by mean-field on the cluster posteriors, in nD",
        float,
        minimum=0.0,
    )

    def __post_init__(self) -> None:
        for spec in self.fields():
            value = getattr(self, spec.name)
            if spec.name == "init" and not isinstance(value, str):
                object.__setattr__(self, "init", _check_init_array(value, self.n_clusters))
                continue
            object.__setattr__(self, spec.name, _check_value(spec, value))
        if self.dither != "none" and self.color_space in CHROMA_SPACES:
            raise ValueError(
                f"dither: {self.color_space} keeps each pixel's luminance, so there is no fixed palette to dither "
                "over; use a space without '-chroma'"
            )
        if self.engine == "opencv" and self.smoothing > 0:
            raise ValueError("smoothing needs engine='fast' (the OpenCV engine labels pixels on its own)")
        if self.engine == "opencv" and self.init == "optimal":
            raise ValueError("init='optimal' needs engine='fast' (OpenCV seeds with k-means++ or random centres)")
        if self.engine == "opencv" and self.seed > MAX_OPENCV_SEED:
            raise ValueError(f"seed must be at most {MAX_OPENCV_SEED} with engine='opencv', got {self.seed}")

    @classmethod
    def fields(cls) -> Iterator[ParameterField]:
        """Each parameter's name, type, default, help, choices and bounds, in declaration order."""
        for item in dataclasses.fields(cls):
            yield ParameterField(name=item.name, default=item.default, **item.metadata)

    @classmethod
    def field(cls, name: str) -> ParameterField:
        """The description of one parameter (see :meth:`fields`).

        Parameters
        ----------
        name : str
            A field of the record, e.g. ``"n_clusters"``.

        Returns
        -------
        ParameterField

        Raises
        ------
        ValueError
            For a name that is not a parameter.
        """
        for spec in cls.fields():
            if spec.name == name:
                return spec
        raise ValueError(f"unknown parameter {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-able dict (an init array as nested lists)."""
        out = dataclasses.asdict(self)
        if not isinstance(self.init, str):
            out["init"] = [list(row) for row in self.init]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClusterParameters:
        """Rebuild (and validate) parameters from :meth:`to_dict`; unknown keys are ignored.

        Parameters
        ----------
        data : mapping
            Parameter names to values (missing ones take their defaults).

        Returns
        -------
        ClusterParameters

        Raises
        ------
        TypeError, ValueError
            As the constructor.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"parameters must be a mapping, got {type(data).__name__}")
        names = {spec.name for spec in cls.fields()}
        return cls(**{k: v for k, v in data.items() if k in names})

    def replace(self, **changes: Any) -> ClusterParameters:
        """A copy with some parameters changed, validated again (a ``TypeError``/``ValueError`` as the constructor).

        Parameters
        ----------
        **changes
            New values by parameter name.

        Returns
        -------
        ClusterParameters
        """
        return dataclasses.replace(self, **changes)

    @property
    def init_array(self) -> np.ndarray | None:
        """Initial centres as a float64 array, or None for a named init."""
        return None if isinstance(self.init, str) else np.array(self.init, np.float64)

    def fit_options(self) -> dict[str, Any]:
        """The parameters as the method registry's ``fit`` reads them (init as an array)."""
        out = dataclasses.asdict(self)
        if not isinstance(self.init, str):
            out["init"] = self.init_array
        return out


def _check_value(spec: ParameterField, value: Any) -> Any:
    """One parameter checked against its field description; returns it normalised."""
    name = spec.name
    if value is None and spec.optional:
        return None
    if spec.type is str:
        return _check_choice(name, value, spec.choices)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)):
        kind = "an integer" if spec.type is int else "a number"
        raise TypeError(f"{name} must be {kind}, got {value!r}" + (" (or None)" if spec.optional else ""))
    if spec.type is int:
        if not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {value!r}")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if spec.minimum is not None and value < spec.minimum:
        raise ValueError(_range_message(spec, value))
    if spec.maximum is not None and value > spec.maximum:
        raise ValueError(_range_message(spec, value))
    return value


def _range_message(spec: ParameterField, value) -> str:
    kind = "an integer" if spec.type is int else "a finite number"
    if spec.name == "n_clusters" and spec.minimum is not None and value < spec.minimum:
        return f"n_clusters must be at least 1, got {value}"
    if spec.name == "seed":
        return f"seed must be a non-negative integer, got {value!r}"
    bounds = f">= {spec.minimum:g}" if spec.maximum is None else f"in {spec.minimum:g}..{spec.maximum:g}"
    if spec.name == "n_clusters":
        bounds += " (the largest K: labels are stored as uint16, see docs/reliability.md)"
    return f"{spec.name} must be {kind} {bounds}, got {value!r}"


def _check_choice(name: str, value: Any, choices: tuple) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {', '.join(map(repr, choices))}; got {value!r}")
    if name == "covariance":
        return check_covariance(value)
    if name == "color_space":
        value = value.lower()
    if value not in choices:
        accepted = ", ".join(repr(c) for c in choices)
        extra = " or an array of initial centres" if name == "init" else ""
        raise ValueError(f"unknown {name} {value!r}; accepted: {accepted}{extra}")
    return value


def _check_init_array(value: Any, n_clusters: int) -> tuple[tuple[float, ...], ...]:
    """Initial centres as a tuple of row tuples; shape against the features is checked at fit time."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"init must be 'kmeans++', 'random' or an array of initial centres, got {value!r}") from error
    if array.dtype == object or array.dtype.kind not in "iuf" or array.ndim != 2:
        raise TypeError(
            "init must be 'kmeans++', 'random' or a 2-D numeric array (n_clusters, n_features) of initial "
            f"centres, got {type(value).__name__} of shape {array.shape}"
        )
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError("init array contains NaN or inf; give finite initial centres")
    return tuple(tuple(float(x) for x in row) for row in array)

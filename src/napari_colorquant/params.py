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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .autok import DEFAULT_K_RANGE, check_k_range
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
#: Most k-means starts (``attempts``). Each is a full k-means run; best-of-n misses a start that finds the best
#: solution with probability (1 - p)^n, below 1e-4 at n = 1000 even when only p = 1 % of the starts find it
#: (k-means++ starts find it far more often), while 10**6 starts ran practically forever.
MAX_ATTEMPTS = 1000
#: Largest ``reg_covar``: the regularisation added to EM covariances is at most a tenth of the features' mean
#: variance. Above it the added variance swamps the clusters' own: on scikit-learn's china photo and the licence
#: plate (K = 4, at a quarter of their size) every cluster still held over 1 % of the pixels at 0.1; at 0.5 one
#: held under 1 % or none, at 1-2 only 1-3 of 4 were used, and from 2 (plate) or 10 (china) up every pixel got
#: one label (1e300 as well).
MAX_REG_COVAR = 0.1
#: ``color_space`` choices: ``"auto"`` then every registered colour space.
COLOR_SPACE_CHOICES = ("auto", *COLOR_SPACES)
#: ``n_clusters`` value that chooses K automatically (see :mod:`~napari_colorquant.autok`).
AUTO_K = "auto"


@dataclass(frozen=True)
class ParameterField:
    """How one parameter is described to a user interface (see :meth:`ClusterParameters.fields`).

    Attributes
    ----------
    name : str
        Keyword of :func:`~napari_colorquant.quantize`; ``--name-with-dashes`` on the command line.
    type : type
        ``int``, ``float`` or ``str`` (the type a user enters); ``tuple`` for a sequence entered as
        text (``"2,16"``; see :meth:`parse`).
    default : object
    help : str
    choices : tuple
        Accepted values for a choice, empty otherwise.
    minimum, maximum : float or None
        Bounds for numbers (None: unbounded).
    optional : bool
        None is accepted (``channel_axis``, ``max_samples``).
    words : tuple of str
        Words accepted besides a number (``n_clusters``: ``"auto"``).
    repeat : bool
        A sequence given one item at a time (``--fixed-color`` repeated; ``;`` between items in a text box).
    metavar : str
        How a value is written, for help texts (``"KMIN,KMAX"``).
    """

    name: str
    type: type
    default: Any
    help: str
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False
    words: tuple = ()
    repeat: bool = False
    metavar: str | None = None

    @property
    def flag(self) -> str:
        """The command-line option, e.g. ``--max-iter``."""
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str) -> Any:
        """A value (one item of a ``repeat`` field) from its text, as a user types it (CLI, widget text box).

        Only the form is checked here (numbers where numbers are due); :class:`ClusterParameters`
        validates the value.

        Parameters
        ----------
        text : str
            As typed (``"auto"``, ``"2,16"``, ``"255,255,255"``).

        Returns
        -------
        object
            A number, a word, a tuple of numbers or None.

        Raises
        ------
        ValueError
            Naming the parameter and the expected form.
        """
        text = str(text).strip()
        if text.lower() in self.words:
            return text.lower()
        if self.optional and text.lower() in ("", "none"):
            return None
        try:
            if self.type is tuple:
                return tuple(_number_text(part) for part in text.replace(";", ",").split(",") if part.strip())
            return self.type(text) if self.type is not int else int(text)
        except ValueError:
            form = self.metavar or ("an integer" if self.type is int else "a number" if self.type is float else "text")
            extra = "".join(f" or {word!r}" for word in self.words)
            raise ValueError(f"{self.name}: expected {form}{extra}, got {text!r}") from None


def _number_text(text: str) -> float | int:
    """An int when the text is one, else a float."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return float(text)


def _spec(default, help: str, kind: type, *, choices=(), minimum=None, maximum=None, optional=False, **more):
    """A dataclass field whose metadata describes it to the CLI and the widget (``more``: words, repeat, metavar)."""
    meta = dict(help=help, type=kind, choices=tuple(choices), minimum=minimum, maximum=maximum, optional=optional)
    return dataclasses.field(default=default, metadata=dict(meta, **more))


@dataclass(frozen=True)
class ClusterParameters:
    """Every clustering parameter of a run, validated when the record is made.

    Parameters
    ----------
    n_clusters : int or "auto"
        Number of clusters K (1..``MAX_CLUSTERS``; at most the number of distinct values), or
        ``"auto"``: K chosen in ``k_range`` (see :mod:`~napari_colorquant.autok`).
    method : str
        One of :data:`~napari_colorquant.methods.METHODS`.
    color_space : str
        ``"auto"`` or one of :data:`~napari_colorquant.colorspaces.COLOR_SPACES`.
    channel_axis : int or None
        Axis holding channels (None: last axis if it has 3 or 4 entries, else gray). An axis of length 1
        is gray (a gray stack whose last axis has 3 or 4 pixels: add a length-1 axis and point to it).
    max_iter : int
        Maximum iterations per run (EM: exact iterations after its start, which runs to convergence on
        its own on a coarse summary of the values; see :mod:`~napari_colorquant.em_start`).
    epsilon : float
        Stopping tolerance (k-means: centre shift; EM: relative log-likelihood gain), in the
        features' units for integer images (as ``cv2.kmeans``) and in 1/255 of the features'
        range for float images, so that a float image's unit changes nothing.
    attempts : int
        k-means starts (also of EM's start); the lowest inertia is kept. 1..``MAX_ATTEMPTS`` (1000): each
        start is a full k-means run, and 1000 starts miss one that finds the best solution with probability
        below 1e-4 even when only 1 start in 100 finds it.
    init : str or array (K, F)
        ``"auto"``, ``"kmeans++"``, ``"random"``, ``"uniform"``, ``"optimal"`` or initial centres in the fitted
        feature space
        (stored as a tuple of tuples of float, so the record stays hashable).
    covariance : str
        EM covariance type (``"diag"`` is read as ``"diagonal"``).
    seed : int
        Random seed (0..2**31-1 with the OpenCV engine).
    engine : str
        One of :data:`~napari_colorquant.methods.ENGINES`.
    reg_covar : float
        Times the features' mean variance, added to EM covariance diagonals: relative
        to the data's spread, so results do not depend on the data's unit. 0..``MAX_REG_COVAR`` (0.1):
        above a tenth of the data's own variance the added variance swamps the clusters' (on two test photos
        with K = 4 clusters emptied from 0.5, and every pixel got one label from 2 or 10 up).
    max_samples : int or None
        Fit on a reproducible sample above this many distinct values (None: never).
    dither : str
        ``"none"`` or ``"floyd-steinberg"`` (``dither=True`` in :func:`~napari_colorquant.quantize`).
    smoothing : float
        Potts smoothing strength beta (>= 0; 0 = off), see :mod:`~napari_colorquant.smoothing`.
    k_range : (int, int)
        With ``n_clusters="auto"``: the smallest and largest K tried (default (2, 16)).
    target_psnr : float or None
        With ``n_clusters="auto"``: the smallest K whose PSNR (dB) is at least this.
    target_delta_e : float or None
        With ``n_clusters="auto"``: the smallest K whose mean CIEDE2000 ΔE is at most this (gray/RGB).
        Without a target, K is the one of least BIC.
    data_range : float or None
        The PSNR peak: the distance between the smallest and largest possible values, as
        ``skimage.metrics.peak_signal_noise_ratio``'s ``data_range`` (> 0). None: what scikit-image takes
        for the dtype (255 for uint8, 65535 for uint16, 1 for float data in 0..1; see
        :func:`~napari_colorquant.quality.default_data_range`), which for 12-bit microscopy stored as
        uint16 is 16 times too large: give 4095 there. Also the scale of ``target_psnr``.
    fixed_colors : tuple of colours or None
        Colours in the input's own values kept exactly in the palette (k-means, fast engine, not
        chroma-only spaces), see :mod:`~napari_colorquant.pinned`; stored as a tuple of tuples of float.

    Raises
    ------
    TypeError
        A parameter has the wrong type (booleans are not numbers here).
    ValueError
        A parameter is out of range or not one of its choices; the message names it and what is accepted.
    """

    n_clusters: int | str = _spec(
        8,
        "number of clusters / colours, or 'auto': chosen in --k-range by BIC, or the smallest K reaching "
        "--target-psnr / --target-delta-e",
        int,
        minimum=1,
        maximum=MAX_CLUSTERS,
        words=(AUTO_K,),
        metavar="K",
    )
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
    max_iter: int = _spec(
        DEFAULT_MAX_ITER,
        "iteration cap (the notebook used 10); EM: exact iterations after its start (k-means, then EM on a coarse "
        "grid of the values, each to convergence)",
        int,
        minimum=1,
    )
    epsilon: float = _spec(
        DEFAULT_EPSILON,
        "convergence tolerance; k-means: stop when no centre moves more than this; EM: when the log-likelihood "
        "grows by less than epsilon x its size (the notebook used 0.2)",
        float,
        minimum=0.0,
    )
    attempts: int = _spec(
        1, "k-means starts; the lowest inertia is kept (10, scikit-learn's n_init, is plenty)", int, minimum=1,
        maximum=MAX_ATTEMPTS,
    )  # fmt: skip
    init: Any = _spec(  # noqa: RUF009
        "auto",
        "initial centres: auto (the exact optimum for one feature, else k-means++), k-means++ spreading, random "
        "pixels, uniform in the colour range (cv2's random centres), or optimal (exact 1-D k-means, one feature only)",
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
        1e-6, "x the features' mean variance, added to EM covariance diagonals", float, minimum=0.0,
        maximum=MAX_REG_COVAR,
    )  # fmt: skip
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
    k_range: tuple[int, int] = _spec(
        DEFAULT_K_RANGE, "with -k auto: the smallest and largest K tried", tuple, metavar="KMIN,KMAX"
    )
    target_psnr: float | None = _spec(
        None, "with -k auto: the smallest K whose PSNR (dB) reaches this", float, minimum=0.0, optional=True
    )
    target_delta_e: float | None = _spec(
        None,
        "with -k auto: the smallest K whose mean CIEDE2000 colour difference is at most this (gray/RGB; about 1 "
        "is just noticeable)",
        float,
        minimum=0.0,
        optional=True,
    )
    data_range: float | None = _spec(
        None,
        "PSNR peak, as scikit-image's data_range: the distance between the smallest and largest possible values "
        "(default: the dtype's, 255 for uint8, 65535 for uint16, 1 for float in 0..1; 4095 for 12-bit data)",
        float,
        minimum=0.0,
        optional=True,
    )
    fixed_colors: tuple | None = _spec(
        None,
        "a colour kept exactly in the palette while the other centres move, in the input's own values; "
        "a gray image takes one value or R = G = B (k-means; repeat for several)",
        tuple,
        optional=True,
        repeat=True,
        metavar="R,G,B",
    )

    def __post_init__(self) -> None:
        for spec in self.fields():
            value = getattr(self, spec.name)
            if spec.name == "init" and not isinstance(value, str):
                object.__setattr__(self, "init", _check_init_array(value, self.n_clusters))
                continue
            if spec.name in _CHECKS:
                object.__setattr__(self, spec.name, _CHECKS[spec.name](value))
                continue
            object.__setattr__(self, spec.name, _check_value(spec, value))
        self._check_combinations()

    def _check_combinations(self) -> None:
        """Parameters that are fine alone but not together."""
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
        self._check_auto_k()
        self._check_fixed_colors()

    def _check_auto_k(self) -> None:
        if self.k_range[1] > MAX_CLUSTERS:
            raise ValueError(f"k_range must end at most at {MAX_CLUSTERS}, got {self.k_range}")
        targets = [name for name in ("target_psnr", "target_delta_e") if getattr(self, name) is not None]
        if self.n_clusters != AUTO_K:
            if targets:
                raise ValueError(
                    f"{targets[0]} chooses K: it needs n_clusters='auto' (got n_clusters={self.n_clusters})"
                )
            return
        if len(targets) > 1:
            raise ValueError("give one of target_psnr and target_delta_e, not both")
        if self.engine == "opencv":
            raise ValueError("n_clusters='auto' needs engine='fast' (the sweep reuses the counted values)")
        if not isinstance(self.init, str):
            raise ValueError(
                "n_clusters='auto' needs a named init ('auto', 'kmeans++', ...), not an array of K centres"
            )

    def _check_fixed_colors(self) -> None:
        if self.fixed_colors is None:
            return
        if self.method != "kmeans":
            raise ValueError(
                "fixed_colors needs method='kmeans' (an EM mixture's means are not palette colours it could keep)"
            )
        if self.engine == "opencv":
            raise ValueError("fixed_colors needs engine='fast' (cv2.kmeans moves every centre)")
        if self.color_space in CHROMA_SPACES:
            raise ValueError(
                f"fixed_colors: {self.color_space} gives each pixel its own luminance, so no palette colour can be "
                "kept; use a space without '-chroma'"
            )
        if self.init not in ("auto", "kmeans++"):
            raise ValueError("fixed_colors needs init 'auto' or 'kmeans++' (the free centres start by k-means++)")
        pinned = len(self.fixed_colors)
        smallest = self.k_range[0] if self.n_clusters == AUTO_K else self.n_clusters
        if pinned >= smallest:
            what = "k_range must start" if self.n_clusters == AUTO_K else "n_clusters must be"
            raise ValueError(f"fixed_colors pins {pinned} colour(s); {what} above {pinned} (got {smallest})")

    @classmethod
    def fields(cls) -> Iterator[ParameterField]:
        """Each parameter's name, type, default, help, choices and bounds, in declaration order.

        The CLI parser and the widget's controls are built from these.

        Yields
        ------
        ParameterField
        """
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
        """The parameters as a JSON-able dict (an init array as nested lists).

        Returns
        -------
        dict of str to object
            Round-trips through :meth:`from_dict`.
        """
        out = dataclasses.asdict(self)
        if not isinstance(self.init, str):
            out["init"] = [list(row) for row in self.init]
        out["k_range"] = list(self.k_range)
        if self.fixed_colors is not None:
            out["fixed_colors"] = [list(row) for row in self.fixed_colors]
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
    def is_auto(self) -> bool:
        """True when K is chosen automatically (``n_clusters="auto"``)."""
        return self.n_clusters == AUTO_K

    @property
    def init_array(self) -> np.ndarray | None:
        """Initial centres as a float64 array, or None for a named init."""
        return None if isinstance(self.init, str) else np.array(self.init, np.float64)

    def fit_options(self) -> dict[str, Any]:
        """The parameters as the method registry's ``fit`` reads them (init as an array).

        Returns
        -------
        dict of str to object
        """
        out = dataclasses.asdict(self)
        if not isinstance(self.init, str):
            out["init"] = self.init_array
        return out


def _check_value(spec: ParameterField, value: Any) -> Any:
    """One parameter checked against its field description; returns it normalised."""
    name = spec.name
    if value is None and spec.optional:
        return None
    if isinstance(value, str) and spec.words and spec.type is not str:
        if value.strip().lower() in spec.words:
            return value.strip().lower()
        words = " or ".join(repr(word) for word in spec.words)
        raise ValueError(f"{name} must be an integer or {words}, got {value!r}")
    if spec.type is str:
        return _check_choice(name, value, spec.choices)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)):
        kind = "an integer" if spec.type is int else "a number"
        kind += "".join(f" or {word!r}" for word in spec.words)
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
    hint = _RANGE_HINTS.get(spec.name, "") if spec.maximum is not None and value > spec.maximum else ""
    return f"{spec.name} must be {kind} {bounds}, got {value!r}{hint}"


#: What to do instead, for the parameters whose upper bound is a judgement rather than a representation limit.
_RANGE_HINTS = {
    "attempts": f"; each start is a full k-means run and {MAX_ATTEMPTS} starts already find the best of them "
    "almost surely: use 10 (scikit-learn's n_init) to 100",
    "reg_covar": f"; it is a fraction of the features' mean variance added to every Gaussian, and above "
    f"{MAX_REG_COVAR:g} it swamps the clusters' own (clusters empty, then one label for every pixel): keep the "
    "default 1e-06, or up to 0.01 to steady an ill-conditioned fit",
}


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


def _check_k_range(value: Any) -> tuple[int, int]:
    if isinstance(value, str):
        raise ValueError(f"k_range must be two integers (k_min, k_max) with 1 <= k_min <= k_max, got {value!r}")
    return check_k_range(value)


def _check_fixed_colors(value: Any) -> tuple[tuple[float, ...], ...] | None:
    """Colours as a tuple of row tuples; their channel count is checked against the image at fit time."""
    if value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.zeros((0, 0))
    if array.ndim == 1 and array.size:
        array = array[None]  # one colour
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"fixed_colors must be a list of colours, each one value per channel, got {value!r}")
    if not np.isfinite(array).all():
        raise ValueError("fixed_colors must be finite numbers")
    if np.unique(array, axis=0).shape[0] != array.shape[0]:
        raise ValueError("fixed_colors contains the same colour twice")
    return tuple(tuple(float(x) for x in row) for row in array)


#: Fields whose values are not a single number or name.
def check_data_range(value: Any) -> float | None:
    """A PSNR peak (``data_range``) checked as every entry point takes it: a positive finite number, or None.

    Parameters
    ----------
    value : float or None
        The peak given by the caller.

    Returns
    -------
    float or None
        The peak as a float; None for the dtype's default.

    Raises
    ------
    TypeError
        If it is not a number.
    ValueError
        If it is not finite or not above 0.
    """
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if number and not value > 0:  # NaN too
        raise ValueError(
            f"data_range must be a positive number (the distance between the smallest and largest possible "
            f"values, e.g. 4095 for 12-bit data), got {value!r}; or None for the dtype's"
        )
    return _check_value(ClusterParameters.field("data_range"), value)


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "k_range": _check_k_range,
    "fixed_colors": _check_fixed_colors,
    "data_range": check_data_range,
}


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

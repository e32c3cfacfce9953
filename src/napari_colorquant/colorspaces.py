"""Colour spaces used as clustering feature spaces.

Every conversion works on rows of pixel values, shape ``(n, channels)``, in
float64 and in the *input's own units*: ``scale`` is the input's nominal
maximum (255 for uint8, 65535 for uint16, 1.0 for float images in [0, 1]).

* ``gray``: one feature, the pixel value (or the Rec. 601 luma of a colour pixel).
* ``rgb``: the three colour channels as they are.
* ``ycrcb``: Y, Cr, Cb with OpenCV's definition (Rec. 601, chroma offset by
  half the range), so uint8 values match ``cv2.cvtColor(..., COLOR_RGB2YCrCb)``
  up to OpenCV's rounding.
* ``lab``: CIE L*a*b* (D65, sRGB transfer), L in [0, 100], a/b around 0.
* ``ycrcb-chroma`` / ``lab-chroma``: only the two chroma features are
  clustered; the luminance (Y or L) of each pixel is kept and recombined.
* ``channels``: any number of channels used as they are (multichannel
  microscopy); no conversion.

Every space is one :class:`ColorSpace` entry in :data:`REGISTRY`; everything
else (the CLI choices, the widget's combo box, model validation, feature counts)
reads the registry. See ``docs/architecture.md`` for adding a space.

The conversions are written here rather than taken from ``skimage.color`` because
they must run on rows in the input's own units (uint16, float, any ``scale``) and
match OpenCV's 8-bit YCrCb offsets; ``tests/test_colorspaces.py`` checks them
against ``skimage.color.rgb2lab`` and ``cv2.cvtColor``.

References
----------
.. [1] ITU-R Recommendation BT.601-7, "Studio encoding parameters of digital television", 2011.
.. [2] CIE 15:2004, "Colorimetry", 3rd edition (CIE L*a*b*).
.. [3] IEC 61966-2-1:1999, "Default RGB colour space - sRGB".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .oklab import oklab_to_rgb, rgb_to_oklab
from .registry import lookup

# Rec. 601 luma weights, as OpenCV's RGB2GRAY and RGB2YCrCb use them.
_LUMA = np.array([0.299, 0.587, 0.114])
_CR_SCALE = 0.713
_CB_SCALE = 0.564

# sRGB (D65) to XYZ, and the D65 white point.
_RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE = _RGB_TO_XYZ @ np.ones(3)


def chroma_offset(scale: float, is_integer: bool) -> float:
    """The Cr/Cb offset OpenCV uses: 128 for uint8, 32768 for uint16, 0.5 for float.

    Parameters
    ----------
    scale : float
        Nominal maximum of the input.
    is_integer : bool
        Integer input (the offset is half of ``scale + 1``).

    Returns
    -------
    float
    """
    return (scale + 1.0) / 2.0 if is_integer else scale / 2.0


def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 (ITU-R BT.601) luma of RGB rows, in the same units.
    Parameters
    ----------
    rgb : ndarray (n, 3)

    Returns
    -------
    ndarray
        Shape (n,).
    """
    return rgb @ _LUMA


def rgb_to_ycrcb(rgb: np.ndarray, offset: float) -> np.ndarray:
    """RGB rows to Y, Cr, Cb rows (ITU-R BT.601 with OpenCV's chroma scale and offset).
    Parameters
    ----------
    rgb : ndarray (n, 3)
    offset : float
        Chroma offset (see :func:`chroma_offset`).

    Returns
    -------
    ndarray
        Shape (n, 3).
    """
    y = rgb @ _LUMA
    cr = (rgb[:, 0] - y) * _CR_SCALE + offset
    cb = (rgb[:, 2] - y) * _CB_SCALE + offset
    return np.column_stack([y, cr, cb])


def ycrcb_to_rgb(ycrcb: np.ndarray, offset: float) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycrcb` (exact, unlike OpenCV's rounded inverse coefficients).
    Parameters
    ----------
    ycrcb : ndarray (n, 3)
    offset : float

    Returns
    -------
    ndarray
        RGB rows, shape (n, 3).
    """
    y = ycrcb[:, 0]
    r = y + (ycrcb[:, 1] - offset) / _CR_SCALE
    b = y + (ycrcb[:, 2] - offset) / _CB_SCALE
    g = (y - _LUMA[0] * r - _LUMA[2] * b) / _LUMA[1]
    return np.column_stack([r, g, b])


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, None)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def _f_lab(t: np.ndarray) -> np.ndarray:
    delta = 6.0 / 29.0
    return np.where(t > delta**3, np.cbrt(t), t / (3 * delta**2) + 4.0 / 29.0)


def _f_lab_inverse(f: np.ndarray) -> np.ndarray:
    delta = 6.0 / 29.0
    return np.where(f > delta, f**3, 3 * delta**2 * (f - 4.0 / 29.0))


def rgb_to_lab(rgb: np.ndarray, scale: float) -> np.ndarray:
    """RGB rows (sRGB, IEC 61966-2-1, in ``[0, scale]``) to CIE L*a*b* rows (CIE 15, D65 white).
    Parameters
    ----------
    rgb : ndarray (n, 3)
    scale : float
        Nominal maximum of the input.

    Returns
    -------
    ndarray
        L* in [0, 100], a* and b* around 0; shape (n, 3).
    """
    linear = _srgb_to_linear(np.clip(rgb / scale, 0.0, 1.0))
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE
    f = _f_lab(xyz)
    lightness = 116.0 * f[:, 1] - 16.0
    a = 500.0 * (f[:, 0] - f[:, 1])
    b = 200.0 * (f[:, 1] - f[:, 2])
    return np.column_stack([lightness, a, b])


def lab_to_rgb(lab: np.ndarray, scale: float) -> np.ndarray:
    """Inverse of :func:`rgb_to_lab`; out-of-gamut colours are clipped.
    Parameters
    ----------
    lab : ndarray (n, 3)
    scale : float

    Returns
    -------
    ndarray
        RGB rows in ``[0, scale]``, shape (n, 3).
    """
    fy = (lab[:, 0] + 16.0) / 116.0
    fx = fy + lab[:, 1] / 500.0
    fz = fy - lab[:, 2] / 200.0
    xyz = _f_lab_inverse(np.column_stack([fx, fy, fz])) * _WHITE
    linear = xyz @ _XYZ_TO_RGB.T
    return np.clip(_linear_to_srgb(linear), 0.0, 1.0) * scale


def check_nominal_range(rgb: np.ndarray, color_space: str, scale: float) -> None:
    """Refuse colours outside ``[0, scale]`` for a space whose conversion assumes that range.

    CIE L*a*b* converts through sRGB, defined on ``[0, scale]``; clipping values outside
    (negative int8 values, float data above the model's scale) would silently merge colours.

    Parameters
    ----------
    rgb : ndarray (n, 3)
        Colour rows in the input's units.
    color_space : str
        The space asked for (named in the message).
    scale : float
        The input's nominal maximum.

    Raises
    ------
    ValueError
        Naming ``color_space`` and what to use instead.
    """
    if rgb.size == 0:
        return
    low, high = float(np.min(rgb)), float(np.max(rgb))
    if low < 0 or high > scale:
        raise ValueError(
            f"color_space={color_space!r} converts colours in [0, {scale:g}] (the image's nominal range), but "
            f"these values run from {low:g} to {high:g}; use color_space='rgb' or 'ycrcb', or rescale the "
            f"image into [0, {scale:g}] first"
        )


def _identity(values: np.ndarray, scale: float, offset: float) -> np.ndarray:
    return values


def _gray_forward(values: np.ndarray, scale: float, offset: float) -> np.ndarray:
    return values if values.shape[1] == 1 else rgb_to_luma(values)[:, None]


def _ycrcb_forward(values: np.ndarray, scale: float, offset: float) -> np.ndarray:
    return rgb_to_ycrcb(values, offset)


def _ycrcb_inverse(full: np.ndarray, scale: float, offset: float) -> np.ndarray:
    return ycrcb_to_rgb(full, offset)


def _lab_forward(values: np.ndarray, scale: float, offset: float, name: str = "lab") -> np.ndarray:
    check_nominal_range(values, name, scale)
    return rgb_to_lab(values, scale)


def _lab_chroma_forward(values: np.ndarray, scale: float, offset: float) -> np.ndarray:
    return _lab_forward(values, scale, offset, "lab-chroma")


def _lab_inverse(full: np.ndarray, scale: float, offset: float) -> np.ndarray:
    return lab_to_rgb(full, scale)


def _oklab_forward(values: np.ndarray, scale: float, offset: float) -> np.ndarray:
    return rgb_to_oklab(values, scale)


def _oklab_inverse(full: np.ndarray, scale: float, offset: float) -> np.ndarray:
    return oklab_to_rgb(full, scale)


def _luma_key(features: np.ndarray) -> np.ndarray:
    return rgb_to_luma(features)


def _first_feature(features: np.ndarray) -> np.ndarray:
    return features[:, 0]


Conversion = Callable[[np.ndarray, float, float], np.ndarray]


@dataclass(frozen=True)
class ColorSpace:
    """One clustering feature space: its names, units, conversions and what input it accepts.

    Attributes
    ----------
    name : str
        Identifier used everywhere (``color_space="lab"``, ``--color-space lab``, model JSON).
    label : str
        Short human description (widget tooltips, CLI help).
    feature_names : tuple of str
        Names of the *clustered* features, in order; empty for ``channels`` (one per channel).
    units : tuple of str
        Unit of each clustered feature (``"input"``: the input's own units).
    input_kinds : tuple of str
        Image kinds the space accepts (``"gray"``, ``"rgb"``, ``"channels"``; RGBA counts as rgb).
    forward : callable
        ``forward(rows, scale, offset)``: pixel rows ``(n, C)`` float64 in the input's units to the
        *full* feature rows (for a chroma space: luminance first, then the chroma features).
    inverse : callable
        ``inverse(full_rows, scale, offset)``: the reverse of ``forward``, back to pixel rows.
    chroma : bool
        Cluster only the chroma features; each pixel keeps its own luminance (the full row's
        first feature) when colours are written back.
    sort_key : callable
        Brightness-like key per clustered feature row, used to number the labels.
    """

    name: str
    label: str
    feature_names: tuple[str, ...]
    units: tuple[str, ...]
    input_kinds: tuple[str, ...]
    forward: Conversion = _identity
    inverse: Conversion = _identity
    chroma: bool = False
    sort_key: Callable[[np.ndarray], np.ndarray] = _first_feature

    @property
    def n_features(self) -> int | None:
        """Number of clustered features (None: as many as the input has channels)."""
        return len(self.feature_names) or None

    def names(self, n_channels: int) -> tuple[str, ...]:
        """Feature names for an input with ``n_channels`` colour channels.

        Parameters
        ----------
        n_channels : int
            Colour channels of the input (used only by a space without fixed feature names).

        Returns
        -------
        tuple of str
        """
        return self.feature_names or tuple(f"channel {i}" for i in range(n_channels))


_RGB_ONLY = ("rgb",)
REGISTRY: dict[str, ColorSpace] = {
    space.name: space
    for space in (
        ColorSpace("gray", "one intensity (Rec. 601 luma of a colour image)", ("intensity",), ("input",),
                   ("gray", "rgb"), forward=_gray_forward),
        ColorSpace("rgb", "the R, G, B channels as they are", ("R", "G", "B"), ("input",) * 3, _RGB_ONLY,
                   sort_key=_luma_key),
        ColorSpace("ycrcb", "Y, Cr, Cb (BT.601, OpenCV's offsets)", ("Y", "Cr", "Cb"), ("input",) * 3, _RGB_ONLY,
                   forward=_ycrcb_forward, inverse=_ycrcb_inverse),
        ColorSpace("ycrcb-chroma", "Cr, Cb only; each pixel keeps its Y", ("Cr", "Cb"), ("input",) * 2,
                   _RGB_ONLY, forward=_ycrcb_forward, inverse=_ycrcb_inverse, chroma=True),
        ColorSpace("lab", "CIE L*a*b* (D65, sRGB)", ("L*", "a*", "b*"), ("L* (0-100)", "a*", "b*"), _RGB_ONLY,
                   forward=_lab_forward, inverse=_lab_inverse),
        ColorSpace("lab-chroma", "a*, b* only; each pixel keeps its L*", ("a*", "b*"), ("a*", "b*"), _RGB_ONLY,
                   forward=_lab_chroma_forward, inverse=_lab_inverse, chroma=True),
        ColorSpace("oklab", "Oklab x 100 (Ottosson 2020; perceptual, sRGB)", ("L", "a", "b"), ("L (0-100)", "a", "b"),
                   _RGB_ONLY, forward=_oklab_forward, inverse=_oklab_inverse),
        ColorSpace("oklab-chroma", "Oklab a, b only; each pixel keeps its L", ("a", "b"), ("a", "b"), _RGB_ONLY,
                   forward=_oklab_forward, inverse=_oklab_inverse, chroma=True),
        ColorSpace("channels", "any number of channels as they are", (), (), ("gray", "rgb", "channels")),
    )
}  # fmt: skip

#: Every colour space name, in registry order.
COLOR_SPACES = tuple(REGISTRY)
#: Spaces that need an RGB(A) input.
THREE_CHANNEL_SPACES = tuple(name for name, space in REGISTRY.items() if space.input_kinds == _RGB_ONLY)
#: Spaces that cluster chroma only and keep each pixel's luminance.
CHROMA_SPACES = tuple(name for name, space in REGISTRY.items() if space.chroma)
#: Clustered feature names of the spaces with a fixed feature count.
FEATURE_NAMES = {name: space.feature_names for name, space in REGISTRY.items() if space.feature_names}


def spaces_for(kind: str) -> tuple[str, ...]:
    """The colour spaces a user is offered for an input kind, in registry order.

    ``"channels"`` takes any input as it is, so it is offered only for channel stacks
    (for RGB it is ``"rgb"``, for gray ``"gray"``).

    Parameters
    ----------
    kind : {"gray", "rgb", "channels"}
        The input kind (:attr:`~napari_colorquant.pixels.ImageLayout.kind`).

    Returns
    -------
    tuple of str
    """
    return tuple(
        name
        for name, space in REGISTRY.items()
        if kind in space.input_kinds and (name != "channels" or kind == "channels")
    )


def get_color_space(name: str) -> ColorSpace:
    """The registry entry of a colour space.

    Parameters
    ----------
    name : str
        A resolved colour space name (one of :data:`COLOR_SPACES`; ``"auto"`` is resolved by
        :func:`~napari_colorquant.pixels.describe_image` first).

    Returns
    -------
    ColorSpace

    Raises
    ------
    ValueError
        For an unknown name, listing the accepted ones.
    """
    return lookup(REGISTRY, "color_space", name)


def feature_names(color_space: str, n_channels: int) -> tuple[str, ...]:
    """Names of the clustering features of a colour space.

    Parameters
    ----------
    color_space : str
        A resolved colour space (one of ``COLOR_SPACES``).
    n_channels : int
        Number of feature channels (used for ``channels``).

    Returns
    -------
    tuple of str
        One name per feature, in feature order.
    """
    return get_color_space(color_space).names(n_channels)


def to_features(values: np.ndarray, color_space: str, scale: float, offset: float) -> np.ndarray:
    """Pixel rows in the input's space to clustering features.

    Parameters
    ----------
    values : ndarray, shape (n, channels)
        Pixel values (alpha already removed), any real dtype.
    color_space : str
        Resolved colour space.
    scale, offset : float
        Nominal maximum of the input and the chroma offset (see module doc).

    Returns
    -------
    ndarray, shape (n, n_features), float64
    """
    space = get_color_space(color_space)
    full = space.forward(np.asarray(values, dtype=np.float64), scale, offset)
    return full[:, 1:] if space.chroma else full


def kept_luminance(values: np.ndarray, color_space: str, scale: float, offset: float) -> np.ndarray:
    """The luminance feature (Y or L*) a chroma-only space keeps per pixel.
    Parameters
    ----------
    values : ndarray (n, C)
        Pixel rows in the input's units.
    color_space : str
    scale, offset : float

    Returns
    -------
    ndarray
        Shape (n,).
    """
    return get_color_space(color_space).forward(np.asarray(values, np.float64), scale, offset)[:, 0]


def from_features(
    features: np.ndarray,
    color_space: str,
    scale: float,
    offset: float,
    luminance: np.ndarray | None = None,
) -> np.ndarray:
    """Clustering features back to pixel rows in the input's space.

    For the chroma-only spaces ``luminance`` (one Y or L* per row) is merged
    with the two chroma features before converting back. For ``gray`` the
    result has one column.

    Parameters
    ----------
    features : ndarray (n, F)
    color_space : str
    scale, offset : float
    luminance : ndarray (n,), optional
        The kept luminance (chroma-only spaces).

    Returns
    -------
    ndarray (n, C)

    Raises
    ------
    ValueError
        For a chroma-only space without ``luminance``, or an unknown space.
    """
    space = get_color_space(color_space)
    features = np.asarray(features, dtype=np.float64)
    if space.chroma:
        if luminance is None:
            raise ValueError(f"{color_space} needs the kept luminance to convert back")
        features = np.column_stack([luminance, features])
    return space.inverse(features, scale, offset)


def luminance_key(features: np.ndarray, color_space: str, scale: float, offset: float) -> np.ndarray:
    """A brightness-like sort key per feature row, used to order labels.

    Gray, Y and L* sort by brightness; RGB by luma; chroma-only and
    multichannel spaces by their first feature (the entry's ``sort_key``).

    Parameters
    ----------
    features : ndarray (n, F)
    color_space : str
    scale, offset : float
        Unused; kept for a uniform signature.

    Returns
    -------
    ndarray (n,)
    """
    return get_color_space(color_space).sort_key(np.asarray(features, dtype=np.float64))

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
"""

from __future__ import annotations

import numpy as np

COLOR_SPACES = ("gray", "rgb", "ycrcb", "ycrcb-chroma", "lab", "lab-chroma", "channels")
THREE_CHANNEL_SPACES = ("rgb", "ycrcb", "ycrcb-chroma", "lab", "lab-chroma")
CHROMA_SPACES = ("ycrcb-chroma", "lab-chroma")

FEATURE_NAMES = {
    "gray": ("intensity",),
    "rgb": ("R", "G", "B"),
    "ycrcb": ("Y", "Cr", "Cb"),
    "ycrcb-chroma": ("Cr", "Cb"),
    "lab": ("L*", "a*", "b*"),
    "lab-chroma": ("a*", "b*"),
}

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
    if color_space == "channels":
        return tuple(f"channel {i}" for i in range(n_channels))
    return FEATURE_NAMES[color_space]


def chroma_offset(scale: float, is_integer: bool) -> float:
    """The Cr/Cb offset OpenCV uses: 128 for uint8, 32768 for uint16, 0.5 for float."""
    return (scale + 1.0) / 2.0 if is_integer else scale / 2.0


def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of ``(n, 3)`` RGB rows, in the same units."""
    return rgb @ _LUMA


def rgb_to_ycrcb(rgb: np.ndarray, offset: float) -> np.ndarray:
    """``(n, 3)`` RGB rows to Y, Cr, Cb rows (OpenCV's definition)."""
    y = rgb @ _LUMA
    cr = (rgb[:, 0] - y) * _CR_SCALE + offset
    cb = (rgb[:, 2] - y) * _CB_SCALE + offset
    return np.column_stack([y, cr, cb])


def ycrcb_to_rgb(ycrcb: np.ndarray, offset: float) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycrcb`."""
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
    """``(n, 3)`` RGB rows (in ``[0, scale]``) to CIE L*a*b* rows (D65)."""
    linear = _srgb_to_linear(np.clip(rgb / scale, 0.0, 1.0))
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE
    f = _f_lab(xyz)
    lightness = 116.0 * f[:, 1] - 16.0
    a = 500.0 * (f[:, 0] - f[:, 1])
    b = 200.0 * (f[:, 1] - f[:, 2])
    return np.column_stack([lightness, a, b])


def lab_to_rgb(lab: np.ndarray, scale: float) -> np.ndarray:
    """Inverse of :func:`rgb_to_lab`; out-of-gamut colours are clipped."""
    fy = (lab[:, 0] + 16.0) / 116.0
    fx = fy + lab[:, 1] / 500.0
    fz = fy - lab[:, 2] / 200.0
    xyz = _f_lab_inverse(np.column_stack([fx, fy, fz])) * _WHITE
    linear = xyz @ _XYZ_TO_RGB.T
    return np.clip(_linear_to_srgb(linear), 0.0, 1.0) * scale


def to_full_space(rgb: np.ndarray, color_space: str, scale: float, offset: float) -> np.ndarray:
    """Convert RGB rows to the full 3-feature version of a colour space."""
    base = color_space.removesuffix("-chroma")
    if base == "rgb":
        return rgb
    if base == "ycrcb":
        return rgb_to_ycrcb(rgb, offset)
    if base == "lab":
        return rgb_to_lab(rgb, scale)
    raise ValueError(f"no 3-channel conversion for colour space {color_space!r}")


def from_full_space(full: np.ndarray, color_space: str, scale: float, offset: float) -> np.ndarray:
    """Convert rows of a full 3-feature colour space back to RGB."""
    base = color_space.removesuffix("-chroma")
    if base == "rgb":
        return full
    if base == "ycrcb":
        return ycrcb_to_rgb(full, offset)
    if base == "lab":
        return lab_to_rgb(full, scale)
    raise ValueError(f"no 3-channel conversion for colour space {color_space!r}")


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
    values = np.asarray(values, dtype=np.float64)
    if color_space == "channels":
        return values
    if color_space == "gray":
        return values if values.shape[1] == 1 else rgb_to_luma(values)[:, None]
    full = to_full_space(values, color_space, scale, offset)
    return full[:, 1:] if color_space in CHROMA_SPACES else full


def kept_luminance(values: np.ndarray, color_space: str, scale: float, offset: float) -> np.ndarray:
    """The luminance feature (Y or L*) a chroma-only space keeps per pixel."""
    return to_full_space(np.asarray(values, np.float64), color_space, scale, offset)[:, 0]


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
    """
    features = np.asarray(features, dtype=np.float64)
    if color_space in ("channels", "gray"):
        return features
    if color_space in CHROMA_SPACES:
        if luminance is None:
            raise ValueError(f"{color_space} needs the kept luminance to convert back")
        full = np.column_stack([luminance, features])
    else:
        full = features
    return from_full_space(full, color_space, scale, offset)


def luminance_key(features: np.ndarray, color_space: str, scale: float, offset: float) -> np.ndarray:
    """A brightness-like sort key per feature row, used to order labels.

    Gray, Y and L* sort by brightness; RGB by luma; chroma-only and
    multichannel spaces by their first feature.
    """
    features = np.asarray(features, dtype=np.float64)
    if color_space == "rgb":
        return rgb_to_luma(features)
    return features[:, 0]

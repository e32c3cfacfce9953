"""Björn Ottosson's Oklab perceptual colour space, from its published matrices.

Oklab predicts lightness, chroma and hue like CIELAB but with more uniform
hue (blue stays blue as it darkens) and a simpler definition: sRGB is decoded
to linear light with the IEC 61966-2-1 transfer function, mapped to an LMS
cone response by a 3x3 matrix, compressed by a cube root, and mapped to
``L, a, b`` by a second 3x3 matrix. Both matrices are the published ones.

The features are **Oklab × 100** (L from 0 to 100, a and b roughly ±40), so
that the engine's centre-shift tolerance ``epsilon`` and EM's ``reg_covar``
mean about what they mean in CIELAB units.

Hand-written because it is two matrix products and a cube root, and
scikit-image (our colour library) has no Oklab conversion.

References
----------
.. [1] B. Ottosson, "A perceptual color space for image processing", 2020,
   https://bottosson.github.io/posts/oklab/
.. [2] IEC 61966-2-1:1999, sRGB transfer function.
"""

from __future__ import annotations

import numpy as np

#: Oklab features are the published Oklab coordinates times this.
OKLAB_SCALE = 100.0

# Linear sRGB -> LMS (Ottosson's published, already composed with the sRGB -> XYZ matrix).
_RGB_TO_LMS = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
# XYZ (D65) -> LMS, as published (M1), for conversions from XYZ.
XYZ_TO_LMS = np.array(
    [
        [0.8189330101, 0.3618667424, -0.1288597137],
        [0.0329845436, 0.9293118715, 0.0361456387],
        [0.0482003018, 0.2643662691, 0.6338517070],
    ]
)
# Cube-rooted LMS -> Lab (M2).
_LMS_TO_LAB = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
# Exact inverses: the published 10-digit inverse matrices round-trip only to ~1e-6 of full scale.
_LAB_TO_LMS = np.linalg.inv(_LMS_TO_LAB)
_LMS_TO_RGB = np.linalg.inv(_RGB_TO_LMS)


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """Decode sRGB values in [0, 1] to linear light (IEC 61966-2-1).

    Parameters
    ----------
    encoded : ndarray
        sRGB-encoded values in [0, 1], any shape.

    Returns
    -------
    ndarray
        Linear-light values, same shape.

    References
    ----------
    IEC 61966-2-1:1999, Multimedia systems and equipment - Colour measurement and management - Part 2-1:
    Default RGB colour space - sRGB.
    """
    encoded = np.asarray(encoded, dtype=np.float64)
    return np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Encode linear light to sRGB in [0, 1] (negative values clip to 0).

    Parameters
    ----------
    linear : ndarray
        Linear-light values, any shape.

    Returns
    -------
    ndarray
        sRGB-encoded values, same shape.

    References
    ----------
    IEC 61966-2-1:1999, Multimedia systems and equipment - Colour measurement and management - Part 2-1:
    Default RGB colour space - sRGB.
    """
    linear = np.clip(np.asarray(linear, dtype=np.float64), 0.0, None)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def lms_to_oklab(lms: np.ndarray) -> np.ndarray:
    """Linear LMS rows to Oklab rows (published units: L in [0, 1]).

    Parameters
    ----------
    lms : ndarray (n, 3)
        Linear cone responses (Ottosson's M1 applied to CIE XYZ).

    Returns
    -------
    ndarray (n, 3)
        Oklab L, a, b (not scaled by :data:`OKLAB_SCALE`).

    References
    ----------
    B. Ottosson, "A perceptual color space for image processing", 2020, https://bottosson.github.io/posts/oklab/
    """
    return np.cbrt(np.asarray(lms, np.float64)) @ _LMS_TO_LAB.T


def xyz_to_oklab(xyz: np.ndarray) -> np.ndarray:
    """CIE XYZ (D65, Y = 1 for white) rows to Oklab rows (published units).

    Parameters
    ----------
    xyz : ndarray (n, 3)
        CIE 1931 XYZ tristimulus values, D65 white point.

    Returns
    -------
    ndarray (n, 3)
        Oklab L, a, b (not scaled by :data:`OKLAB_SCALE`).

    References
    ----------
    B. Ottosson, "A perceptual color space for image processing", 2020, https://bottosson.github.io/posts/oklab/
    """
    return lms_to_oklab(np.asarray(xyz, np.float64) @ XYZ_TO_LMS.T)


def rgb_to_oklab(rgb: np.ndarray, scale: float) -> np.ndarray:
    """``(n, 3)`` sRGB rows in ``[0, scale]`` to Oklab features (Oklab × 100).

    Parameters
    ----------
    rgb : ndarray (n, 3)
        sRGB-encoded values in the input's units.
    scale : float
        The input's nominal maximum (255 for uint8, 65535 for uint16, 1 for float).

    Returns
    -------
    ndarray (n, 3) of float64
        L, a, b times :data:`OKLAB_SCALE`.
    """
    linear = srgb_to_linear(np.clip(np.asarray(rgb, np.float64) / scale, 0.0, 1.0))
    return lms_to_oklab(linear @ _RGB_TO_LMS.T) * OKLAB_SCALE


def oklab_to_rgb(lab: np.ndarray, scale: float) -> np.ndarray:
    """Inverse of :func:`rgb_to_oklab`; colours outside the sRGB gamut are clipped.

    Parameters
    ----------
    lab : ndarray (n, 3)
        Oklab features (Oklab × :data:`OKLAB_SCALE`).
    scale : float
        The output's nominal maximum (255 for uint8, 65535 for uint16, 1 for float).

    Returns
    -------
    ndarray (n, 3) of float64
        sRGB-encoded values in ``[0, scale]``.

    References
    ----------
    B. Ottosson, "A perceptual color space for image processing", 2020, https://bottosson.github.io/posts/oklab/
    """
    lms = (np.asarray(lab, np.float64) / OKLAB_SCALE @ _LAB_TO_LMS.T) ** 3
    return np.clip(linear_to_srgb(lms @ _LMS_TO_RGB.T), 0.0, 1.0) * scale

"""Perceptual quality of a quantization: CIEDE2000 colour differences.

What is computed here is the CIEDE2000 ΔE of each distinct input colour to
the colour it was quantized to, summarised over the *distinct* input colours
weighted by their pixel counts, which gives the same mean and percentile as
over every pixel at the cost of one conversion per distinct colour.

The 95th percentile is the weighted "inverted CDF" percentile: the smallest
ΔE such that at least 95 % of the pixels have a ΔE at most that large, which
is ``numpy.percentile(per_pixel, 95, method="inverted_cdf")``.

The sRGB to CIE L*a*b* conversion (:func:`srgb_to_lab`) and the CIEDE2000
formula (:func:`ciede2000`) are written here in NumPy rather than taken from
scikit-image's ``rgb2lab`` and ``deltaE_ciede2000``, whose results they
reproduce (the same constants: the sRGB curve and matrix of [2]_, the D65
2 degree white; the tests compare them at a relative 1e-9 and on the published
test pairs of [1]_): importing ``skimage.color`` imports SciPy's linear
algebra, ~0.12-0.16 s of CPU in every CLI call that prints its summary line,
about as long as the fit of a 0.27 MP photo. The conversion is scikit-image's, not
:func:`napari_colorquant.colorspaces.rgb_to_lab` (the feature space, whose
white point is the sRGB matrix's row sums, not scikit-image's D65 white).

References
----------
.. [1] G. Sharma, W. Wu and E. N. Dalal, "The CIEDE2000 color-difference
   formula: implementation notes, supplementary test data, and mathematical
   observations", Color Res. Appl. 30(1), 21-30, 2005.
.. [2] IEC 61966-2-1:1999, Multimedia systems and equipment - Colour
   measurement and management - Part 2-1: Default RGB colour space - sRGB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import DTypeLike

if TYPE_CHECKING:
    from .model import ClusterModel


#: Linear sRGB to CIE XYZ, the sRGB specification's matrix as scikit-image's ``xyz_from_rgb`` has it.
XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)

#: CIE XYZ of the reference white: D65, 2 degree observer, scikit-image's default for ``rgb2lab``.
D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def default_data_range(dtype: DTypeLike, low: float, high: float) -> tuple[float, str]:
    """The PSNR peak scikit-image's ``peak_signal_noise_ratio`` takes for data of ``dtype`` and range ``low..high``.

    scikit-image uses the dtype's largest value when the data have no negative values, else the
    dtype's whole range (``skimage.util.dtype.dtype_range``: bool 0..1, integers their limits, float
    -1..1). Float data beyond -1..1 it refuses, asking for ``data_range``; here they get the data's
    largest value (or its range, with negative values), and the description says to pass
    ``data_range``.

    Parameters
    ----------
    dtype : numpy dtype
        The image's dtype as given (bool, not the uint8 0 / 1 it is read as).
    low, high : float
        The smallest and largest value of the data (finite values only).

    Returns
    -------
    peak : float
    description : str
        Why, e.g. ``"the uint16 maximum"``, ``"float data in 0..1"``.
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return 1.0, "bool: 0..1"
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if low >= 0:
            return float(info.max), f"the {dtype.name} maximum"
        return float(info.max) - float(info.min), f"the {dtype.name} range (negative values)"
    if low >= 0 and high <= 1:
        return 1.0, "float data in 0..1"
    if low >= -1 and high <= 1:
        return 2.0, "float data in -1..1"
    if low >= 0:
        return float(high), "the data's largest value (float beyond 0..1: pass data_range)"
    return float(high) - float(low), "the data's range (float beyond -1..1: pass data_range)"


def psnr_peak(dtype: DTypeLike, values: np.ndarray, data_range: float | None = None) -> dict[str, float | str]:
    """The peak a run's PSNR uses, and why: ``data_range`` when given, else :func:`default_data_range`.

    Parameters
    ----------
    dtype : numpy dtype
        The image's dtype as given.
    values : ndarray (U, C)
        The (distinct) pixel values the fit saw, colour channels only.
    data_range : float, optional
        The user's peak (the distance between the smallest and largest possible values).

    Returns
    -------
    dict
        ``{"psnr_peak": float, "psnr_peak_is": str}``, recorded in ``model.params``.
    """
    if data_range is not None:
        return {"psnr_peak": float(data_range), "psnr_peak_is": "data_range"}
    if np.dtype(dtype).kind in "bu":  # the dtype's maximum whatever the values: no pass over them (~12 ms at 1.4 M)
        peak, why = default_data_range(dtype, 0.0, 0.0)
        return {"psnr_peak": peak, "psnr_peak_is": why}
    finite = np.asarray(values, np.float64)
    finite = finite[np.isfinite(finite)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    peak, why = default_data_range(dtype, low, high)
    return {"psnr_peak": peak, "psnr_peak_is": why}


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65, 2 degree observer) of sRGB colours in [0, 1], as ``skimage.color.rgb2lab``.

    Parameters
    ----------
    rgb : array_like (..., 3)
        Non-linear sRGB values, nominally in [0, 1].

    Returns
    -------
    ndarray (..., 3), float64
        L* in [0, 100], a*, b*.

    References
    ----------
    IEC 61966-2-1 (the sRGB transfer function and matrix); CIE 15 (CIELAB).
    """
    linear = np.array(rgb, np.float64)  # a copy: the transfer function is applied in place
    curved = linear > 0.04045
    linear[curved] = np.power((linear[curved] + 0.055) / 1.055, 2.4)
    linear[~curved] /= 12.92
    xyz = linear @ XYZ_FROM_RGB.T / D65_WHITE
    cubic = xyz > 0.008856
    xyz[cubic] = np.cbrt(xyz[cubic])
    xyz[~cubic] = 7.787 * xyz[~cubic] + 16.0 / 116.0
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    return np.stack([116.0 * y - 16.0, 500.0 * (x - y), 200.0 * (y - z)], axis=-1)


def _primed_polar(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """C' and h' (radians in [0, 2 pi); 0 for a neutral colour) of a* stretched by ``scale`` = 1 + G."""
    hue = np.arctan2(b, a * scale)
    return np.hypot(a * scale, b), np.where(hue < 0.0, hue + 2.0 * np.pi, hue)


def _hue_difference_and_mean(h1: np.ndarray, h2: np.ndarray, neutral: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Δh' and the mean hue h̄' (radians), with the cases Sharma, Wu and Dalal (2005) spell out.

    The hue difference takes the shorter way round the circle and the mean is the hue halfway along it;
    when either colour is neutral (C1' C2' = 0) Δh' is 0 and h̄' is the sum h1' + h2' (the other's hue).
    """
    difference = h2 - h1
    wraps = np.abs(difference) > np.pi
    total = h1 + h2
    delta = np.where(wraps, difference - np.copysign(2.0 * np.pi, difference), difference)
    mean = np.where(wraps, np.where(total < 2.0 * np.pi, total + 2.0 * np.pi, total - 2.0 * np.pi), total) / 2.0
    return np.where(neutral, 0.0, delta), np.where(neutral, total, mean)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray, kL: float = 1.0, kC: float = 1.0, kH: float = 1.0) -> np.ndarray:
    """CIEDE2000 colour difference ΔE00 between CIE L*a*b* colours, as ``skimage.color.deltaE_ciede2000``.

    Parameters
    ----------
    lab1, lab2 : array_like (..., 3)
        Reference and compared colours (L*, a*, b*); broadcast against each other.
    kL, kC, kH : float, optional
        Parametric weights of the lightness, chroma and hue terms (1 under the reference conditions).

    Returns
    -------
    ndarray (...), float64
        ΔE00 of each pair.

    References
    ----------
    G. Sharma, W. Wu and E. N. Dalal (2005), "The CIEDE2000 color-difference formula: implementation
    notes, supplementary test data, and mathematical observations", Color Res. Appl. 30(1), 21-30.
    """
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, np.float64), -1, 0)[:3]
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, np.float64), -1, 0)[:3]
    chroma7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2.0) ** 7
    scale = 1.0 + 0.5 * (1.0 - np.sqrt(chroma7 / (chroma7 + 25.0**7)))  # 1 + G
    C1, h1 = _primed_polar(a1, b1, scale)
    C2, h2 = _primed_polar(a2, b2, scale)
    dh, h_mean = _hue_difference_and_mean(h1, h2, C1 * C2 == 0.0)
    dH = 2.0 * np.sqrt(C1 * C2) * np.sin(dh / 2.0)
    L_mean, C_mean = (L1 + L2) / 2.0, (C1 + C2) / 2.0
    T = (
        1.0
        - 0.17 * np.cos(h_mean - np.radians(30.0))
        + 0.24 * np.cos(2.0 * h_mean)
        + 0.32 * np.cos(3.0 * h_mean + np.radians(6.0))
        - 0.20 * np.cos(4.0 * h_mean - np.radians(63.0))
    )
    d_theta = np.radians(30.0) * np.exp(-(((np.degrees(h_mean) - 275.0) / 25.0) ** 2))
    mean7 = C_mean**7
    R_C = 2.0 * np.sqrt(mean7 / (mean7 + 25.0**7))
    S_L = 1.0 + 0.015 * (L_mean - 50.0) ** 2 / np.sqrt(20.0 + (L_mean - 50.0) ** 2)
    S_C = 1.0 + 0.045 * C_mean
    S_H = 1.0 + 0.015 * C_mean * T
    R_T = -np.sin(2.0 * d_theta) * R_C
    lightness, chroma, hue = (L2 - L1) / (kL * S_L), (C2 - C1) / (kC * S_C), dH / (kH * S_H)
    # the sum is >= 0 in exact arithmetic (|R_T| < 2), the clip only absorbs rounding
    return np.sqrt(np.maximum(lightness**2 + chroma**2 + hue**2 + R_T * chroma * hue, 0.0))


def weighted_percentile(values: np.ndarray, weights: np.ndarray, percent: float) -> float:
    """Smallest value with at least ``percent`` % of the total weight at or below it.

    Equals ``numpy.percentile(np.repeat(values, weights), percent, method="inverted_cdf")``
    for integer weights.

    Parameters
    ----------
    values : ndarray (n,)
        The values.
    weights : ndarray (n,)
        Non-negative weights (pixel counts).
    percent : float
        In [0, 100].

    Returns
    -------
    float
        NaN for no weight.
    """
    values = np.asarray(values, np.float64)
    weights = np.asarray(weights, np.float64)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    index = np.searchsorted(cumulative, percent / 100.0 * cumulative[-1], side="left")
    return float(values[order][min(index, values.size - 1)])


def delta_e_figures(
    original: np.ndarray, quantized: np.ndarray, counts: np.ndarray, scale: float
) -> tuple[float, float]:
    """Weighted mean and 95th percentile of CIEDE2000 ΔE between colours.

    Parameters
    ----------
    original, quantized : ndarray (n, 3) or (n, 1)
        sRGB (or gray) rows in the input's units: each distinct input colour and
        the colour it was quantized to. Gray rows are read as neutral colours.
    counts : ndarray (n,)
        Pixels of each distinct colour.
    scale : float
        The input's nominal maximum (255, 65535, 1.0).

    Returns
    -------
    delta_e, delta_e95 : float
    """

    def lab(rows: np.ndarray) -> np.ndarray:
        rows = np.clip(np.asarray(rows, np.float64) / scale, 0.0, 1.0)
        if rows.shape[1] == 1:
            rows = np.repeat(rows, 3, axis=1)
        return srgb_to_lab(rows)

    counts = np.asarray(counts, np.float64)
    if counts.size == 0 or counts.sum() <= 0:
        return float("nan"), float("nan")
    differences = ciede2000(lab(original), lab(quantized))
    mean = float(differences @ counts / counts.sum())
    return mean, weighted_percentile(differences, counts, 95.0)


def delta_e_of_model(
    model: ClusterModel, dtype: DTypeLike, values: np.ndarray, counts: np.ndarray
) -> tuple[float, float]:
    """CIEDE2000 mean and 95th percentile of a model's quantization of counted values.

    Parameters
    ----------
    model : ClusterModel
    dtype : numpy dtype
        The image's dtype: quantized colours are rounded into it, as in the output image.
    values : ndarray (U, C)
        Distinct pixel values (alpha excluded), in the input's units.
    counts : ndarray (U,)

    Returns
    -------
    delta_e, delta_e95 : float
        NaN for images that are neither gray nor RGB (ΔE is defined for colours).
    """
    values = np.asarray(values)
    if model.input_kind not in ("gray", "rgb", "rgba") or values.shape[1] not in (1, 3):
        return float("nan"), float("nan")
    quantized = model.quantized_values(values)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        quantized = np.clip(np.rint(quantized), info.min, info.max)
    return delta_e_figures(values, quantized, counts, model.scale)


def delta_e_of_pixels(
    model: ClusterModel, original: np.ndarray, quantized: np.ndarray, valid: np.ndarray | None = None
) -> tuple[float, float]:
    """CIEDE2000 mean and 95th percentile over pixels (rows), counted as distinct (input, output) pairs.

    For results whose labels are not a function of the pixel value (spatial smoothing).

    Parameters
    ----------
    model : ClusterModel
        Gives the input kind and the nominal maximum (scale).
    original : ndarray (n, C)
        Pixel rows of the input.
    quantized : ndarray (n, C)
        The same pixels after quantization.
    valid : ndarray of bool (n,), optional
        Pixels to count (default: all).

    Returns
    -------
    delta_e, delta_e95 : float
        NaN for images that are neither gray nor RGB.

    References
    ----------
    CIE 142-2001, Improvement to industrial colour-difference evaluation (CIEDE2000);
    Sharma, Wu and Dalal (2005), Color Research & Application 30(1), 21-30.
    """
    if model.input_kind not in ("gray", "rgb", "rgba") or original.shape[1] not in (1, 3):
        return float("nan"), float("nan")
    if valid is not None:
        original, quantized = original[valid], quantized[valid]
    pairs, counts = np.unique(np.concatenate([original, quantized], axis=1), axis=0, return_counts=True)
    width = original.shape[1]
    return delta_e_figures(pairs[:, :width], pairs[:, width:], counts, model.scale)

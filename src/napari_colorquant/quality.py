"""Perceptual quality of a quantization: CIEDE2000 colour differences.

The CIEDE2000 formula itself is scikit-image's ``deltaE_ciede2000`` (on CIE
L*a*b* from ``skimage.color.rgb2lab``). What is computed here is only how it
is summarised: over the *distinct* input colours weighted by their pixel
counts, which gives the same mean and percentile as over every pixel at the
cost of one conversion per distinct colour.

The 95th percentile is the weighted "inverted CDF" percentile: the smallest
ΔE such that at least 95 % of the pixels have a ΔE at most that large, which
is ``numpy.percentile(per_pixel, 95, method="inverted_cdf")``.

References
----------
.. [1] G. Sharma, W. Wu and E. N. Dalal, "The CIEDE2000 color-difference
   formula: implementation notes, supplementary test data, and mathematical
   observations", Color Res. Appl. 30(1), 21-30, 2005.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import DTypeLike

if TYPE_CHECKING:
    from .model import ClusterModel


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
    from skimage.color import deltaE_ciede2000, rgb2lab

    def lab(rows: np.ndarray) -> np.ndarray:
        rows = np.clip(np.asarray(rows, np.float64) / scale, 0.0, 1.0)
        if rows.shape[1] == 1:
            rows = np.repeat(rows, 3, axis=1)
        return rgb2lab(rows[None])[0]

    counts = np.asarray(counts, np.float64)
    if counts.size == 0 or counts.sum() <= 0:
        return float("nan"), float("nan")
    differences = deltaE_ciede2000(lab(original), lab(quantized))
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

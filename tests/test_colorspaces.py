"""Colour conversions against independent references (scikit-image, OpenCV), not against themselves."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import color

from napari_colorquant import colorspaces


@pytest.fixture(scope="module")
def rgb_rows() -> np.ndarray:
    rng = np.random.default_rng(11)
    corners = np.array(np.meshgrid([0, 1], [0, 1], [0, 1])).reshape(3, -1).T  # gamut corners
    return np.concatenate([corners, rng.random((2000, 3))]).astype(np.float64)


@pytest.mark.parametrize("scale", [1.0, 255.0, 65535.0])
def test_lab_matches_skimage(rgb_rows, scale):
    expected = color.rgb2lab(rgb_rows[None])[0]  # D65, sRGB transfer: CIE 15 / IEC 61966-2-1
    got = colorspaces.to_features(rgb_rows * scale, "lab", scale, 0.0)
    # The D65 white point is rounded differently (0.95047 vs 0.950456): a/b differ by < 0.01, 1/100 of a JND.
    np.testing.assert_allclose(got, expected, atol=1e-2)
    back = colorspaces.from_features(expected, "lab", scale, 0.0)
    np.testing.assert_allclose(back, rgb_rows * scale, atol=2e-3 * scale)


def test_lab_chroma_keeps_skimage_lightness(rgb_rows):
    expected = color.rgb2lab(rgb_rows[None])[0]
    np.testing.assert_allclose(colorspaces.to_features(rgb_rows, "lab-chroma", 1.0, 0.0), expected[:, 1:], atol=1e-2)
    np.testing.assert_allclose(colorspaces.kept_luminance(rgb_rows, "lab-chroma", 1.0, 0.0), expected[:, 0], atol=1e-2)


def test_ycrcb_matches_opencv_on_float32(rgb_rows):
    pixels = rgb_rows.astype(np.float32)[None]
    expected = cv2.cvtColor(pixels, cv2.COLOR_RGB2YCrCb)[0].astype(np.float64)  # BT.601, offset 0.5 for float
    got = colorspaces.to_features(rgb_rows, "ycrcb", 1.0, colorspaces.chroma_offset(1.0, is_integer=False))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    back = cv2.cvtColor(expected.astype(np.float32)[None], cv2.COLOR_YCrCb2RGB)[0]
    # OpenCV's inverse uses coefficients rounded to 3 decimals (1.403, 0.714, 0.344, 1.773); ours is exact.
    np.testing.assert_allclose(colorspaces.from_features(got, "ycrcb", 1.0, 0.5), back, atol=5e-4)
    np.testing.assert_allclose(colorspaces.from_features(got, "ycrcb", 1.0, 0.5), rgb_rows, atol=1e-12)


def test_ycrcb_matches_opencv_on_uint8_up_to_rounding(rgb_rows):
    pixels = np.rint(rgb_rows * 255).astype(np.uint8)
    expected = cv2.cvtColor(pixels[None], cv2.COLOR_RGB2YCrCb)[0].astype(np.float64)
    got = colorspaces.to_features(pixels, "ycrcb", 255.0, colorspaces.chroma_offset(255.0, is_integer=True))
    # OpenCV's 8-bit path is fixed-point (Cr, Cb from the rounded Y) and saturates at 255: within one step.
    assert np.abs(np.clip(got, 0, 255) - expected).max() <= 1.0


def test_gray_luma_matches_opencv(rgb_rows):
    pixels = rgb_rows.astype(np.float32)[None]
    expected = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)[0].astype(np.float64)
    np.testing.assert_allclose(colorspaces.to_features(rgb_rows, "gray", 1.0, 0.5)[:, 0], expected, atol=1e-5)

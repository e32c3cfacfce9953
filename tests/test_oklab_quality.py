"""Oklab against Björn Ottosson's published values; CIEDE2000 figures against scikit-image on pixels."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant.oklab import OKLAB_SCALE, oklab_to_rgb, rgb_to_oklab, xyz_to_oklab
from napari_colorquant.quality import delta_e_figures, weighted_percentile

# The table "XYZ -> Oklab" published with Oklab (bottosson.github.io/posts/oklab), three decimals.
PUBLISHED = [
    ((0.950, 1.000, 1.089), (1.000, 0.000, 0.000)),
    ((1.000, 0.000, 0.000), (0.450, 1.236, -0.019)),
    ((0.000, 1.000, 0.000), (0.922, -0.671, 0.263)),
    ((0.000, 0.000, 1.000), (0.153, -1.415, -0.449)),
]


@pytest.mark.parametrize(("xyz", "expected"), PUBLISHED)
def test_xyz_to_oklab_matches_published_table(xyz, expected):
    np.testing.assert_allclose(xyz_to_oklab(np.array([xyz]))[0], expected, atol=1.5e-3)


def test_srgb_through_xyz_agrees_with_direct_matrix():
    # sRGB -> XYZ (IEC 61966-2-1, D65) then the published XYZ matrix equals the published sRGB matrix.
    from skimage.color import rgb2xyz

    rgb = np.random.default_rng(0).integers(0, 256, (200, 3)).astype(np.uint8)
    via_xyz = xyz_to_oklab(rgb2xyz(rgb[None])[0]) * OKLAB_SCALE
    np.testing.assert_allclose(rgb_to_oklab(rgb, 255.0), via_xyz, atol=0.2)


def test_reference_colours():
    rgb = np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], np.float64)
    # White and black; sRGB primaries as listed by CSS Color 4 (oklab() examples) to 3 decimals.
    expected = np.array(
        [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.628, 0.225, 0.126], [0.866, -0.234, 0.179], [0.452, -0.032, -0.312]]
    )
    np.testing.assert_allclose(rgb_to_oklab(rgb, 255.0) / OKLAB_SCALE, expected, atol=1e-3)


def test_inverse_matrices_agree_with_published_ones():
    from napari_colorquant import oklab

    published_lab_to_lms = [[1.0, 0.3963377774, 0.2158037573], [1.0, -0.1055613458, -0.0638541728],
                            [1.0, -0.0894841775, -1.2914855480]]  # fmt: skip
    published_lms_to_rgb = [[4.0767416621, -3.3077115913, 0.2309699292], [-1.2684380046, 2.6097574011, -0.3413193965],
                            [-0.0041960863, -0.7034186147, 1.7076147010]]  # fmt: skip
    np.testing.assert_allclose(oklab._LAB_TO_LMS, published_lab_to_lms, atol=1e-6)
    np.testing.assert_allclose(oklab._LMS_TO_RGB, published_lms_to_rgb, atol=1e-6)


@pytest.mark.parametrize("scale", [255.0, 65535.0, 1.0])
def test_round_trip_in_input_units(scale):
    rgb = np.random.default_rng(1).uniform(0, scale, (500, 3))
    np.testing.assert_allclose(oklab_to_rgb(rgb_to_oklab(rgb, scale), scale), rgb, atol=1e-7 * scale)


def test_weighted_percentile_is_inverted_cdf():
    rng = np.random.default_rng(2)
    values, weights = rng.normal(size=50), rng.integers(1, 9, 50)
    for percent in (5, 50, 95, 100):
        expected = np.percentile(np.repeat(values, weights), percent, method="inverted_cdf")
        assert weighted_percentile(values, weights, percent) == expected


@pytest.mark.parametrize("gray", [False, True])
def test_delta_e_on_distinct_colours_equals_scikit_image_on_pixels(china, gray):
    from skimage.color import deltaE_ciede2000, gray2rgb, rgb2lab

    image = np.asarray(china[100:180, 200:300])
    if gray:
        image = image[..., 1:2]
    quantized = (image // 40) * 40 + 20  # any map from each distinct colour to one colour

    def rgb(a):
        return gray2rgb(a[..., 0]) if gray else a

    per_pixel = deltaE_ciede2000(rgb2lab(rgb(image) / 255.0), rgb2lab(rgb(quantized) / 255.0)).ravel()
    rows = image.reshape(-1, image.shape[-1])
    distinct, index, counts = np.unique(rows, axis=0, return_index=True, return_counts=True)
    mean, p95 = delta_e_figures(distinct, quantized.reshape(rows.shape)[index], counts, 255.0)
    assert mean == pytest.approx(per_pixel.mean(), rel=1e-9)
    assert p95 == pytest.approx(np.percentile(per_pixel, 95, method="inverted_cdf"), rel=1e-9)
    assert p95 > mean > 0


def test_delta_e_of_a_fitted_model(china):
    from napari_colorquant.quality import delta_e_of_model
    from napari_colorquant.quantize import quantize

    image = np.asarray(china)[:100, :100]
    coarse, fine = (quantize(image, k, seed=0) for k in (4, 32))
    rows, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
    e4 = delta_e_of_model(coarse.model, np.uint8, rows, counts)
    e32 = delta_e_of_model(fine.model, np.uint8, rows, counts)
    assert e32[0] < e4[0] and e32[1] < e4[1]
    from skimage.color import deltaE_ciede2000, rgb2lab

    per_pixel = deltaE_ciede2000(rgb2lab(image / 255.0), rgb2lab(coarse.quantized / 255.0))
    assert e4[0] == pytest.approx(per_pixel.mean(), rel=1e-9)


@pytest.mark.parametrize("space", ["oklab", "oklab-chroma"])
def test_oklab_is_a_registered_colour_space(china, space):
    from napari_colorquant.colorspaces import get_color_space
    from napari_colorquant.model import ClusterModel
    from napari_colorquant.quantize import quantize

    image = np.asarray(china)[:80, :120]
    result = quantize(image, 6, color_space=space, seed=0)
    model = result.model
    assert model.color_space == space and model.n_features == (3 if space == "oklab" else 2)
    assert get_color_space(space).chroma == (space == "oklab-chroma")
    features = rgb_to_oklab(image.reshape(-1, 3).astype(np.float64), 255.0)
    if space == "oklab-chroma":
        features = features[:, 1:]
    # The centres are the weighted means of their clusters' Oklab features (a Lloyd fixed point or close to it).
    labels = result.labels.reshape(-1) - 1
    for k in range(6):
        np.testing.assert_allclose(model.means[k], features[labels == k].mean(axis=0), atol=0.5)
    again = ClusterModel.from_json(model.to_json())
    np.testing.assert_array_equal(again.predict(image), result.labels)
    assert result.quantized.dtype == np.uint8 and result.psnr > 20


def test_result_and_report_carry_delta_e(china, hela_u16):
    from napari_colorquant.quality import delta_e_of_model
    from napari_colorquant.quantize import quantize
    from napari_colorquant.report import report_lines

    image = np.asarray(china)[:100, :100]
    result = quantize(image, 8, seed=0)
    rows, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
    assert (result.delta_e, result.delta_e95) == delta_e_of_model(result.model, np.uint8, rows, counts)
    summary = result.summary()
    assert summary["delta_e"] == result.delta_e and summary["delta_e95"] >= summary["delta_e"] > 0
    assert any("ΔE00" in line for line in report_lines(summary))
    stack = quantize(np.stack([hela_u16[:32, :32]] * 2, axis=-1), 3, channel_axis=2)
    assert np.isnan(stack.delta_e) and not any("ΔE00" in line for line in report_lines(stack.summary()))

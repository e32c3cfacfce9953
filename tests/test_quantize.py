"""Behaviour of the front door: shapes, dtypes, masks, NaN, label order, figures, models."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from napari_colorquant import ClusterModel, apply_model, quantize
from napari_colorquant.colorspaces import luminance_key
from reference import match_clusters, pixel_lloyd, relabel


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64, np.int16])
def test_gray_dtypes_keep_shape_and_dtype(camera, dtype):
    image = camera.astype(dtype)
    if dtype in (np.float32, np.float64):
        image = image / 255.0
    result = quantize(image, 4)
    assert result.labels.shape == image.shape and result.labels.dtype == np.uint8
    assert result.quantized.shape == image.shape and result.quantized.dtype == image.dtype
    assert set(np.unique(result.labels)) == {1, 2, 3, 4}
    assert len(np.unique(result.quantized)) == 4


def test_rgba_alpha_is_kept_and_not_a_feature(china):
    rgba = np.dstack([china[:80, :90], np.linspace(0, 255, 80 * 90).reshape(80, 90).astype(np.uint8)])
    result = quantize(rgba, 5)
    rgb_result = quantize(np.ascontiguousarray(china[:80, :90]), 5)
    np.testing.assert_array_equal(result.quantized[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(result.labels, rgb_result.labels)
    assert result.model.n_features == 3 and result.input_bits_per_pixel == 32
    assert result.bits_per_pixel == 3 + 8


def test_3d_stack_is_one_data_set(hela_u16):
    stack = np.stack([hela_u16, hela_u16[::-1], hela_u16.T])
    result = quantize(stack, 3)
    assert result.labels.shape == stack.shape
    single = quantize(stack.reshape(-1, stack.shape[-1]), 3)
    np.testing.assert_array_equal(result.labels.reshape(-1), single.labels.reshape(-1))


def test_gray_stack_with_a_colour_like_last_axis_is_gray_with_a_length_1_channel_axis(hela_u16):
    """A last axis of 3 values is read as RGB; the documented way to say "gray" is a length-1 channel axis."""
    stack = np.stack([hela_u16[:40, :50], hela_u16[40:80, :50], hela_u16[80:120, :50]], axis=-1)  # (40, 50, 3)
    assert quantize(stack, 3).model.input_kind == "rgb"
    result = quantize(stack[..., np.newaxis], 3, channel_axis=-1)
    assert result.model.input_kind == "gray" and result.model.n_channels == 1
    assert result.labels.shape == stack.shape and result.quantized.shape == (*stack.shape, 1)
    flat = quantize(stack.reshape(40, 150), 3)  # the same values as a 2-D gray image
    np.testing.assert_array_equal(result.labels, flat.labels.reshape(stack.shape))
    np.testing.assert_array_equal(result.quantized[..., 0], flat.quantized.reshape(stack.shape))


def test_multichannel_zcyx_uses_channels_as_features(kidney_zcyx):
    result = quantize(kidney_zcyx, 4, channel_axis=1)
    z, _c, y, x = kidney_zcyx.shape
    assert result.model.color_space == "channels" and result.model.n_features == 3
    assert result.labels.shape == (z, y, x)
    assert result.quantized.shape == kidney_zcyx.shape and result.quantized.dtype == np.uint16
    # Exact against plain Lloyd on every pixel (uint16 x 3 channels: the np.unique path).
    pixels = np.moveaxis(kidney_zcyx, 1, -1).reshape(-1, 3).astype(float)
    init = pixels[[0, 500, 5000, 9000]]
    exact = quantize(kidney_zcyx, 4, channel_axis=1, init=init, epsilon=0.0, max_iter=5)
    centers, labels, _ = pixel_lloyd(pixels, init, 5, 0.0)
    match = match_clusters(exact.model.means, centers)
    np.testing.assert_array_equal(exact.labels.reshape(-1), relabel(labels, match))


def test_float_rgb_direct_path_is_exact(flower):
    image = flower[:60, :70].astype(np.float32) / 255
    pixels = image.reshape(-1, 3).astype(float)
    init = pixels[[0, 100, 2000]]
    result = quantize(image, 3, init=init, epsilon=0.0, max_iter=6)
    centers, labels, _ = pixel_lloyd(pixels, init, 6, 0.0)
    match = match_clusters(result.model.means, centers)
    np.testing.assert_array_equal(result.labels.reshape(-1), relabel(labels, match))


def test_same_seed_same_result_bit_for_bit(flower):
    runs = [quantize(flower, 6, method=m, seed=11, init="random", attempts=2) for m in ("kmeans", "em") for _ in (0, 1)]
    for a, b in (runs[:2], runs[2:]):
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.quantized, b.quantized)
        assert a.model.to_dict() == b.model.to_dict()


def test_labels_are_ordered_by_brightness(astronaut):
    for space in ("rgb", "lab", "ycrcb", "gray"):
        model = quantize(astronaut, 6, color_space=space).model
        key = luminance_key(model.means, model.color_space, model.scale, model.offset)
        assert (np.diff(key) >= 0).all(), space


def test_mask_fits_and_labels_inside_only(china):
    mask = np.zeros(china.shape[:2], bool)
    mask[100:300, 150:500] = True
    result = quantize(china, 4, mask=mask)
    assert (result.labels[~mask] == 0).all() and (result.labels[mask] > 0).all()
    np.testing.assert_array_equal(result.quantized[~mask], china[~mask])
    inside = np.ascontiguousarray(china[100:300, 150:500])
    alone = quantize(inside, 4)
    np.testing.assert_allclose(result.model.means, alone.model.means)
    np.testing.assert_array_equal(result.labels[100:300, 150:500], alone.labels)
    assert result.n_valid == mask.sum()


def test_nan_pixels_get_label_zero_and_stay_nan():
    image = np.random.default_rng(0).random((40, 50)).astype(np.float32)
    image[3:7, 4:9] = np.nan
    image[10, 10] = np.inf
    result = quantize(image, 3, method="em")
    assert (result.labels[3:7, 4:9] == 0).all() and result.labels[10, 10] == 0
    assert np.isnan(result.quantized[3:7, 4:9]).all()
    assert result.n_valid == image.size - 21


def test_quality_figures_match_brute_force(china):
    for space, k in (("rgb", 16), ("ycrcb-chroma", 4), ("lab-chroma", 3), ("gray", 2)):
        result = quantize(china, k, color_space=space)
        diff = result.quantized.astype(float) - china.astype(float)
        mse = (diff**2).mean()
        assert result.mse == pytest.approx(mse, rel=1e-12)
        assert result.psnr == pytest.approx(10 * math.log10(255**2 / mse))
        expected_bits = math.ceil(math.log2(k)) + (8 if "chroma" in space else 0)
        assert result.bits_per_pixel == expected_bits
        assert result.input_bits_per_pixel == 24
        assert result.compression_ratio == pytest.approx(24 / expected_bits)


def test_notebook_compression_question(china):
    # 16 colours in RGB vs 4 chroma colours with Y kept: 4 bits vs 2 + 8 bits per pixel.
    rgb16 = quantize(china, 16)
    chroma4 = quantize(china, 4, color_space="ycrcb-chroma")
    assert (rgb16.bits_per_pixel, chroma4.bits_per_pixel) == (4, 10)
    assert rgb16.compression_ratio == 6.0 and chroma4.compression_ratio == 2.4
    assert quantize(china, 1).bits_per_pixel == 0


def test_model_json_round_trip_predicts_the_same(china, astronaut):
    for method in ("kmeans", "em"):
        result = quantize(china, 5, method=method, color_space="lab")
        data = json.loads(json.dumps(result.model.to_dict()))
        for name in ("method", "color_space", "means", "n_iter", "converged"):
            assert name in data
        assert np.array(data["means"]).shape == (5, 3)
        if method == "em":
            assert np.array(data["covariances"]).shape == (5, 3, 3) and len(data["mixing_weights"]) == 5
            assert "log_likelihood" in data and "bic" in data
        else:
            assert "inertia" in data
        model = ClusterModel.from_dict(data)
        np.testing.assert_array_equal(model.predict(china), result.labels)
        if method == "em":  # files written before 0.2 call the mixing weights "weights"
            data["weights"] = data.pop("mixing_weights")
            np.testing.assert_array_equal(ClusterModel.from_dict(data).mixing_weights, result.model.mixing_weights)
        other = apply_model(model, astronaut)
        np.testing.assert_array_equal(other.labels, result.model.predict(astronaut))
        assert other.model is model and other.quantized.shape == astronaut.shape


def test_em_posteriors(flower):
    result = quantize(flower, 4, method="em", color_space="ycrcb-chroma", covariance="diagonal")
    proba = result.model.predict_proba(flower)
    assert proba.shape == (*flower.shape[:2], 4) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=-1), 1, rtol=1e-5)
    np.testing.assert_array_equal(proba.argmax(axis=-1) + 1, result.labels)


def test_sampled_fit_is_flagged_and_labels_follow_the_model(astronaut):
    result = quantize(astronaut, 8, max_samples=5000)
    assert result.approximate and result.model.approximate
    np.testing.assert_array_equal(result.labels, result.model.predict(astronaut))
    exact = quantize(astronaut, 8)
    assert not exact.approximate
    assert result.mse < 1.2 * exact.mse


@settings(max_examples=30, deadline=None)
@given(
    image=arrays(np.uint8, st.tuples(st.integers(2, 16), st.integers(2, 16), st.just(3)), elements=st.integers(0, 255)),
    k=st.integers(1, 5),
    method=st.sampled_from(["kmeans", "em"]),
)
def test_same_colour_same_label_and_palette_colour(image, k, method):
    distinct = np.unique(image.reshape(-1, 3), axis=0)
    assume(len(distinct) >= k)
    try:
        result = quantize(image, k, method=method, covariance="spherical")
    except ValueError as error:  # EM may collapse a cluster onto one colour: must say so clearly
        assert "positive definite" in str(error)
        return
    labels = result.labels.reshape(-1)
    pixels = image.reshape(-1, 3)
    assert labels.min() >= 1 and labels.max() <= k
    _, inverse = np.unique(pixels, axis=0, return_inverse=True)
    for value in range(len(distinct)):
        assert len(np.unique(labels[inverse.reshape(-1) == value])) == 1
    np.testing.assert_array_equal(
        result.quantized.reshape(-1, 3), np.clip(np.rint(result.model.palette), 0, 255).astype(np.uint8)[labels - 1]
    )


@pytest.mark.parametrize("k", [2, 16, 255, 300])
def test_mse_of_uint8_values_from_byte_tables_is_the_float_sum_exactly(k):
    """weighted_mse of uint8 values (squared errors read from per-feature tables of label and byte) equals the
    brute-force sum over every pixel of the rounded palette colour's squared error, to the last bit."""
    from napari_colorquant.result import to_dtype, weighted_mse

    rng = np.random.default_rng(k)
    image = rng.integers(0, 256, (60, 70, 3), dtype=np.uint8)
    result = quantize(image, k, max_iter=2)
    table, model = result.table, result.model
    labels = model.predict_values(table.values)
    palette = to_dtype(model.palette, np.uint8).astype(np.float64)
    errors = ((table.values.astype(np.float64) - palette[labels.astype(np.intp) - 1]) ** 2).sum(axis=1)
    expected = float(errors @ table.counts / (table.counts.sum() * 3))
    assert weighted_mse(model, table.layout, table.values, table.counts, labels) == expected
    diff = result.quantized.astype(np.float64) - image
    assert expected == pytest.approx((diff**2).mean(), rel=1e-12)

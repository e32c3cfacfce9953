"""Property-based robustness: any input gives a right answer or a clear ValueError/TypeError.

Random shapes, dtypes (big-endian, non-contiguous, wide integers, many channels),
masks, NaN patterns, dask chunkings, parameters and model dicts. A result is
checked against an independent pixel-level reference (brute-force nearest
centre / most probable component on every pixel, and pixel-level Lloyd from the
same start); an error must be a ValueError or TypeError whose message names
the parameter (or field) at fault.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from napari_colorquant import ClusterModel, apply_model, quantize
from reference import match_clusters, pixel_lloyd, relabel

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
# Words an error message must contain at least one of: the parameter (or model field) it is about.
PARAMETER_WORDS = (
    "n_clusters", "mask", "image", "dtype", "color_space", "channel_axis", "reg_covar", "init", "covariance",
    "max_samples", "model field", "model is missing", "channel(s)", "fitted on",
)  # fmt: skip
DTYPES = ("uint8", "uint16", ">u2", "uint32", "int8", "int16", "int32", ">i4", "float32", ">f4", "float64", "bool")


def _assert_clear(error: Exception) -> None:
    assert isinstance(error, (ValueError, TypeError)), repr(error)
    message = str(error)
    event(f"refused: {message[:40]}")
    assert any(word in message for word in PARAMETER_WORDS), message


@st.composite
def images(draw, max_side: int = 9):
    """An image with its channel axis (or None), a mask (or None) and whether it is chunked."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    channels = draw(st.sampled_from([1, 1, 3, 3, 4, 5, 6, 9]))
    height, width = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    n_colours = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype.kind == "b":
        palette = rng.integers(0, 2, size=(n_colours, channels)).astype(bool)
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        palette = rng.integers(info.min, info.max, size=(n_colours, channels), endpoint=True, dtype=np.int64)
    else:
        palette = rng.random((n_colours, channels)) * draw(st.sampled_from([1.0, 1e-6, 255.0, 1e6]))
    pixels = palette[rng.integers(0, n_colours, size=(height, width))].astype(dtype)
    if dtype.kind == "f" and draw(st.booleans()):
        holes = rng.random((height, width)) < draw(st.sampled_from([0.1, 0.5, 1.0]))
        pixels[holes, rng.integers(0, channels)] = np.nan
    axis = None
    image = pixels[..., 0] if channels == 1 else pixels
    if channels not in (1, 3, 4) or (channels > 1 and draw(st.booleans())):
        axis = draw(st.sampled_from([0, 2]))
        image = np.moveaxis(pixels, -1, 0) if axis == 0 else pixels
    if draw(st.booleans()):  # non-contiguous: a strided view of a bigger array
        big = np.repeat(image, 2, axis=image.ndim - 1 if axis != image.ndim - 1 else 0)
        image = big[..., ::2] if axis != image.ndim - 1 else big[::2]
    mask = None
    if draw(st.booleans()):
        mask = rng.random((height, width)) < draw(st.sampled_from([0.0, 0.5, 0.9]))
    chunks = draw(st.none() | st.integers(1, max_side))
    return image, axis, mask, chunks


def _rows(image: np.ndarray, axis) -> np.ndarray:
    """Every pixel as a float row, independently of the package."""
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8)
    moved = image[..., None] if axis is None and (image.ndim == 2 or image.shape[-1] not in (3, 4)) else image
    if axis is not None:
        moved = np.moveaxis(image, axis, -1)
    return moved.reshape(-1, moved.shape[-1]).astype(np.float64)


def _expected_valid(rows: np.ndarray, mask) -> np.ndarray:
    valid = np.isfinite(rows).all(axis=1)
    return valid if mask is None else valid & mask.reshape(-1)


def _check_labels(model: ClusterModel, rows: np.ndarray, labels: np.ndarray, valid: np.ndarray) -> None:
    """Label 0 exactly at invalid pixels; elsewhere the nearest centre / most probable component."""
    labels = np.asarray(labels).reshape(-1)
    assert (labels[~valid] == 0).all()
    if not valid.any():
        return
    got = labels[valid].astype(np.intp) - 1
    assert (got >= 0).all() and (got < model.n_clusters).all()
    x = rows[valid][:, : model.n_channels]
    if model.color_space not in ("rgb", "gray", "channels") or (model.color_space == "gray" and x.shape[1] > 1):
        return  # features are a conversion: the label check below needs them as values
    if model.method == "kmeans":
        distances = ((x[:, None, :] - model.means[None]) ** 2).sum(axis=2)
        best = distances.min(axis=1)
        chosen = distances[np.arange(len(got)), got]
        np.testing.assert_allclose(chosen, best, rtol=1e-9, atol=1e-9 * (1 + best.max()))
    else:
        pairs = zip(model.means, model.covariances, strict=True)
        densities = [multivariate_normal(m, c, allow_singular=True).logpdf(x) for m, c in pairs]
        joint = np.column_stack(densities).reshape(len(x), -1) + np.log(model.weights)
        best = joint.max(axis=1)
        chosen = joint[np.arange(len(got)), got]
        np.testing.assert_allclose(chosen, best, rtol=1e-6, atol=1e-6)


@SETTINGS
@given(data=images(), k=st.integers(1, 4), method=st.sampled_from(["kmeans", "em"]), seed=st.integers(0, 3))
def test_quantize_is_right_or_refuses_clearly(data, k, method, seed):
    image, axis, mask, chunks = data
    original = np.array(image, copy=True)
    source = image if chunks is None else da.from_array(image, chunks=chunks)
    try:
        result = quantize(source, k, method=method, channel_axis=axis, mask=mask, seed=seed)
    except Exception as error:
        _assert_clear(error)
        return
    np.testing.assert_array_equal(image, original)  # never modified
    rows = _rows(image, axis)
    valid = _expected_valid(rows, mask)
    labels = np.asarray(result.labels)
    _check_labels(result.model, rows, labels, valid)
    quantized = _rows(np.asarray(result.quantized), axis)
    assert quantized.shape == rows.shape
    np.testing.assert_array_equal(quantized[~valid], rows[~valid])
    if chunks is not None:  # the dask path gives the in-memory answer
        eager = quantize(image, k, method=method, channel_axis=axis, mask=mask, seed=seed)
        if not result.model.approximate:
            np.testing.assert_allclose(result.model.means, eager.model.means, rtol=1e-9)
            np.testing.assert_array_equal(labels, eager.labels)


@SETTINGS
@given(
    side=st.integers(2, 8),
    channels=st.sampled_from([1, 3, 5]),
    k=st.integers(1, 4),
    dtype=st.sampled_from(["float32", ">f4", "float64"]),
    unit=st.sampled_from([1e-6, 1.0, 1e6]),
    seed=st.integers(0, 2**32 - 1),
)
def test_kmeans_equals_pixel_lloyd_from_the_same_start(side, channels, k, dtype, unit, seed):
    rng = np.random.default_rng(seed)
    image = (rng.random((side, side + 1, channels)) * unit).astype(dtype)
    rows = image.reshape(-1, channels).astype(np.float64)
    assume(np.unique(rows, axis=0).shape[0] >= k)
    init = np.unique(rows, axis=0)[rng.choice(np.unique(rows, axis=0).shape[0], k, replace=False)]
    axis = None if channels == 3 else 2
    data = image[..., 0] if channels == 1 else image
    axis = None if channels in (1, 3) else 2
    result = quantize(data, k, init=init, channel_axis=axis, max_iter=6, epsilon=0.0)
    centers, labels, _ = pixel_lloyd(rows, init, max_iter=6, epsilon=0.0)
    match = match_clusters(result.model.means, centers, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(result.labels).reshape(-1), relabel(labels, match))


@SETTINGS
@given(fit=images(max_side=7), other=images(max_side=7), k=st.integers(1, 3), method=st.sampled_from(["kmeans", "em"]))
def test_apply_and_predict_are_right_or_refuse_clearly(fit, other, k, method):
    image, axis, _, _ = fit
    try:
        model = quantize(image, k, method=method, channel_axis=axis).model
    except (ValueError, TypeError) as error:
        _assert_clear(error)
        assume(False)
    target, target_axis, mask, _ = other
    for candidate, candidate_axis in ((image, axis), (target, target_axis)):
        candidate_mask = mask if candidate is target else None
        try:
            labels = model.predict(candidate, mask=candidate_mask, channel_axis=candidate_axis)
            applied = apply_model(model, candidate, mask=candidate_mask, channel_axis=candidate_axis)
        except Exception as error:
            assert candidate is target, f"a model refused the image it was fitted on: {error!r}"
            _assert_clear(error)
            continue
        rows = _rows(candidate, candidate_axis)
        valid = _expected_valid(rows, candidate_mask)
        _check_labels(model, rows, labels, valid)
        np.testing.assert_array_equal(applied.labels, labels)

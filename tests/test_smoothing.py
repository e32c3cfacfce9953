"""Potts mean-field smoothing on synthetic ground truth, in nD, and lazily on dask arrays."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant.kmeans import weighted_kmeans
from napari_colorquant.smoothing import potts_mean_field

MEANS = np.array([50.0, 100.0, 150.0])


def synthetic_scene(shape=(128, 128)) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-constant classes 0/1/2 (discs, blocks) with 1- and 2-pixel-wide lines of class 2."""
    truth = np.zeros(shape, np.intp)
    yy, xx = np.indices(shape)
    for cy, cx, r in [(30, 30, 18), (90, 40, 22), (60, 100, 25)]:
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 1
    truth[40:100, 84:104] = 2
    block = truth[20:60, 0:50]
    block[block == 0] = 2
    thin = np.zeros(shape, bool)
    thin[10:120, 70] = True
    thin[115:117, 5:120] = True
    thin[5:60, 110] = True
    truth[thin] = 2
    return truth, thin


def _kmeans_log_posteriors(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log posteriors (spherical k-means mixture) with clusters ordered by centre, and the centres."""
    rows = image.reshape(-1, 1)
    fit = weighted_kmeans(rows, np.ones(rows.shape[0]), 3, seed=0, max_iter=50, epsilon=1e-3)
    centers = np.sort(fit.centers[:, 0])
    variance = fit.inertia / rows.shape[0]
    return -((image[..., None] - centers) ** 2) / (2 * variance), centers


@pytest.mark.parametrize("sigma", [17.0, 19.0])
def test_removes_half_of_the_errors_without_eroding_thin_lines(sigma):
    truth, thin = synthetic_scene()
    image = MEANS[truth] + np.random.default_rng(1).normal(0, sigma, truth.shape)
    log_post, _ = _kmeans_log_posteriors(image)
    before = log_post.argmax(axis=-1)
    error_before = np.mean(before != truth)
    assert 0.10 <= error_before <= 0.20  # the noise level the issue asks for
    after = potts_mean_field(log_post, beta=1.0)
    assert np.mean(after != truth) <= 0.5 * error_before
    assert np.mean(after[thin] != 2) <= np.mean(before[thin] != 2)


def test_beta_zero_is_pixelwise_and_valid_mask_is_respected():
    scores = np.random.default_rng(0).normal(size=(20, 30, 4))
    np.testing.assert_array_equal(potts_mean_field(scores, 0.0), scores.argmax(axis=-1))
    valid = np.ones((20, 30), bool)
    valid[5:9, 5:9] = False
    labels = potts_mean_field(scores, 2.0, valid)
    assert (labels[~valid] == -1).all() and (labels[valid] >= 0).all()
    with pytest.raises(ValueError, match="smoothing"):
        potts_mean_field(scores, -1.0)


def test_three_dimensional_stack():
    truth, _ = synthetic_scene()
    truth3 = np.stack([truth[:64, :64]] * 4)
    image = MEANS[truth3] + np.random.default_rng(3).normal(0, 19.0, truth3.shape)
    log_post, _ = _kmeans_log_posteriors(image)
    before = np.mean(log_post.argmax(axis=-1) != truth3)
    after_2d = np.mean(np.stack([potts_mean_field(p, 1.0) for p in log_post]) != truth3)
    after_3d = np.mean(potts_mean_field(log_post, 1.0) != truth3)
    assert after_3d < after_2d < before  # neighbours across slices help too


@pytest.mark.parametrize("kind", ["gray", "rgb"])
@pytest.mark.parametrize("method", ["kmeans", "em"])
def test_dask_chunks_give_the_in_memory_labels(kind, method):
    import dask.array as da

    from napari_colorquant.quantize import quantize
    from napari_colorquant.smoothing import smooth_lazy, smooth_table

    truth = synthetic_scene()[0][20:84, 30:110]
    noisy = MEANS[truth] + np.random.default_rng(4).normal(0, 19.0, truth.shape)
    image = np.clip(noisy, 0, 255).astype(np.uint8)
    if kind == "rgb":
        image = np.stack([image, 255 - image, image // 2], axis=-1)
    model = quantize(image, 3, method=method, seed=0).model
    eager = smooth_table(model, model.pixel_table(image), 1.0)
    chunks = (24, 32, 3) if kind == "rgb" else (24, 32)
    array, layout = model.describe(da.from_array(image, chunks=chunks))
    mask = np.ones(truth.shape, bool)
    mask[:10, :10] = False
    lazy = smooth_lazy(model, array, layout, 1.0)
    assert lazy.shape == truth.shape
    np.testing.assert_array_equal(lazy.compute(), eager)
    assert (eager != model.predict(image)).sum() > 0.02 * eager.size
    masked = smooth_lazy(model, array, layout, 1.0, mask=mask).compute()
    np.testing.assert_array_equal(masked, smooth_table(model, model.pixel_table(image, mask=mask), 1.0))
    assert (masked[~mask] == 0).all()


@pytest.mark.parametrize("method", ["kmeans", "em"])
def test_front_door_smoothing_reports_changes_and_lowers_errors(method):
    from napari_colorquant.quantize import quantize
    from napari_colorquant.report import report_lines

    truth, _ = synthetic_scene()
    image = np.clip(MEANS[truth] + np.random.default_rng(1).normal(0, 19.0, truth.shape), 0, 255).astype(np.uint8)
    plain = quantize(image, 3, method=method, max_iter=50, epsilon=1e-3)
    smooth = quantize(image, 3, method=method, max_iter=50, epsilon=1e-3, smoothing=1.0)
    assert plain.smoothing_changed is None and smooth.model.params["smoothing"] == 1.0
    assert smooth.smoothing_changed == np.count_nonzero(smooth.labels != plain.labels) > 0
    assert np.mean(smooth.labels - 1 != truth) <= 0.5 * np.mean(plain.labels - 1 != truth)
    # Colours follow the smoothed labels.
    np.testing.assert_array_equal(smooth.quantized, np.rint(smooth.model.palette[smooth.labels - 1, 0]))
    assert any(line.startswith("smoothing changed") for line in report_lines(smooth.summary()))
    with pytest.raises(ValueError, match="smoothing"):
        quantize(image, 3, smoothing=-1.0)
    with pytest.raises(ValueError, match="engine='fast'"):
        quantize(image, 3, smoothing=1.0, engine="opencv")


def test_cli_smoothing_and_delta_e_in_report_and_model(tmp_path, capsys):
    import json

    from napari_colorquant.cli import main

    assert main(["--sample", "china", "-k", "6", "--smoothing", "1.0", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "smoothing changed" in out and "ΔE00" in out
    model = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert json.dumps(model).count('"smoothing": 1.0') == 1


@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_front_door_smooths_dask_input_as_in_memory(kind):
    import dask.array as da

    from napari_colorquant.quantize import quantize
    from napari_colorquant.report import report_lines

    truth = synthetic_scene()[0][20:84, 30:110]
    image = np.clip(MEANS[truth] + np.random.default_rng(4).normal(0, 19.0, truth.shape), 0, 255).astype(np.uint8)
    if kind == "rgb":
        image = np.stack([image, 255 - image, image // 2], axis=-1)
    mask = np.ones(truth.shape, bool)
    mask[:10, :10] = False
    chunks = (24, 32, 3) if kind == "rgb" else (24, 32)
    eager = quantize(image, 3, seed=0, smoothing=1.0, mask=mask)
    lazy = quantize(da.from_array(image, chunks=chunks), 3, seed=0, smoothing=1.0, mask=mask)
    assert isinstance(lazy.labels, da.Array) and isinstance(lazy.quantized, da.Array)
    np.testing.assert_array_equal(lazy.labels.compute(), eager.labels)
    np.testing.assert_array_equal(lazy.quantized.compute(), eager.quantized)
    assert int(lazy.smoothing_changed.compute()) == eager.smoothing_changed > 0.02 * truth.size
    assert "smoothing_changed" not in lazy.summary()  # a lazy count is not computed by a report
    assert report_lines(lazy.summary())
    assert lazy.model.params["smoothing"] == 1.0 and lazy.model.params["lazy"]

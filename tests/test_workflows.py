"""Library workflows the widget runs: fit on a slice, stacked channels, pyramids, one report wording."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant import quantize, workflows
from napari_colorquant.report import report_lines, report_text


@pytest.fixture(scope="module")
def timelapse(china) -> np.ndarray:
    return np.stack([china, china[::-1], china[:, ::-1]])  # (T, Y, X, 3)


def test_fit_on_slice_of_an_rgb_timelapse(timelapse):
    result, fit = workflows.fit_on_slice(timelapse, (1, slice(None), slice(None), slice(None)), n_clusters=4)
    expected = quantize(timelapse[1], 4)
    np.testing.assert_allclose(fit.model.means, expected.model.means)
    assert result.labels.shape == timelapse.shape[:3]
    np.testing.assert_array_equal(result.labels, expected.model.predict(timelapse))
    assert result.model.params["fitted_on_slice"] == "[1, :, :, :]"


def test_fit_on_slice_with_a_channel_axis_in_the_middle(timelapse):
    stack = np.moveaxis(timelapse[..., :2], -1, 1)  # (T, C, Y, X) with two channels
    index = (2, slice(None), slice(None), slice(None))
    result, fit = workflows.fit_on_slice(stack, index, channel_axis=1, n_clusters=3)
    expected = quantize(stack[2], 3, channel_axis=0)
    np.testing.assert_allclose(fit.model.means, expected.model.means)
    np.testing.assert_array_equal(result.labels, expected.model.predict(stack, channel_axis=1))


def test_fit_on_slice_uses_the_mask_of_that_slice(timelapse):
    mask = np.zeros(timelapse.shape[:3], bool)
    mask[:, 100:300, 100:400] = True
    result, fit = workflows.fit_on_slice(timelapse, (0, slice(None), slice(None), slice(None)), mask=mask, n_clusters=3)
    expected = quantize(timelapse[0], 3, mask=mask[0])
    np.testing.assert_allclose(fit.model.means, expected.model.means)
    assert (result.labels[~mask] == 0).all() and (result.labels[mask] > 0).all()


def test_fit_on_slice_refuses_a_bad_index(timelapse):
    with pytest.raises(ValueError, match="one item per axis"):
        workflows.fit_on_slice(timelapse, (0, slice(None), slice(None)), n_clusters=3)
    with pytest.raises(ValueError, match="channel axis"):
        workflows.fit_on_slice(timelapse, (0, slice(None), slice(None), 1), channel_axis=3, n_clusters=3)


@pytest.mark.parametrize("options", [dict(smoothing=1.0), dict(dither=True), dict(dither="floyd-steinberg")])
def test_partial_fits_refuse_whole_image_options(timelapse, options):
    # Smoothing / dithering would apply to the fitted slice alone; the other frames are only labelled.
    name = next(iter(options))
    with pytest.raises(ValueError, match=f"{name} works on the whole image; with 'fit on one slice'"):
        workflows.fit_on_slice(timelapse, (0, slice(None), slice(None), slice(None)), n_clusters=3, **options)
    with pytest.raises(ValueError, match=f"{name} works on the whole image; with 'fit on every n-th frame'"):
        workflows.fit_on_frames(timelapse, 0, 2, n_clusters=3, **options)


def test_stack_channels_numpy_dask_and_mismatch():
    a, b = np.zeros((4, 5), np.uint16), np.ones((4, 5), np.uint16)
    assert workflows.stack_channels([a, b]).shape == (4, 5, 2)
    da = pytest.importorskip("dask.array")
    lazy = workflows.stack_channels([da.from_array(a), b])
    assert isinstance(lazy, da.Array) and lazy.shape == (4, 5, 2)
    with pytest.raises(ValueError, match="same shape"):
        workflows.stack_channels([a, np.zeros((4, 6))])


def test_pyramid_fit_and_apply_label_every_level(china):
    pytest.importorskip("dask.array")
    levels = [china, china[::2, ::2], china[::4, ::4]]
    fitted = workflows.fit_pyramid(levels, n_clusters=4)
    applied = workflows.apply_to_pyramid(fitted.result.model, levels)
    for level, a, b in zip(levels, fitted.labels, applied.labels, strict=True):
        expected = fitted.result.model.predict(level)
        np.testing.assert_array_equal(np.asarray(a), expected)
        np.testing.assert_array_equal(np.asarray(b), expected)


def test_run_draws_a_sample_only_when_asked(china):
    stages = []
    out = workflows.run(workflows.RunRequest(china, {"n_clusters": 3}), lambda s, f: stages.append(s))
    assert out.sample is None and "view" not in stages
    out = workflows.run(
        workflows.RunRequest(china, {"n_clusters": 3}, sample_points=500), lambda s, f: stages.append(s)
    )
    assert out.sample[0].shape == (500, 3) and "view" in stages


def test_run_posteriors_for_em(china):
    out = workflows.run(
        workflows.RunRequest(china[:100, :100], {"n_clusters": 2, "method": "em"}, posterior="max posterior")
    )
    assert out.posteriors.shape == (100, 100, 2)
    np.testing.assert_allclose(out.posteriors.sum(axis=-1), 1, atol=1e-5)


def test_one_report_wording_for_cli_and_widget(china):
    result = quantize(china, 8)
    summary = result.summary()
    lines = report_lines(summary)
    assert lines[0] == "kmeans K=8 rgb"
    assert any("PSNR" in line for line in lines) and any("bits/pixel" in line for line in lines)
    one = report_text(summary, one_line=True)
    assert one.startswith("kmeans K=8 rgb: ") and "\n" not in one
    assert "applied a previously fitted model" in report_text(summary, applied=True)

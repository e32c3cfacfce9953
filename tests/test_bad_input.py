"""Bad input gets a clear error naming what was wrong and what is accepted; the input is never modified."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant import ClusterModel, quantize

RGB = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
GRAY = np.random.default_rng(1).integers(0, 256, (20, 30), dtype=np.uint8)


@pytest.mark.parametrize(
    ("image", "kwargs", "error", "message"),
    [
        ([1, 2, 3], {}, ValueError, r"at least 2 dimensions .*accepted"),
        (np.zeros((0, 5), np.uint8), {}, ValueError, r"image is empty"),
        (np.zeros((4, 4), complex), {}, TypeError, r"dtype complex128 is not supported; accepted: .*uint8"),
        (np.array([[object(), 1]], dtype=object), {}, TypeError, r"dtype object is not supported"),
        ("image.png", {}, TypeError, r"must be a numeric array"),
        (np.full((5, 5), np.nan), {}, ValueError, r"nothing to cluster: all pixels are NaN"),
        (GRAY, {"n_clusters": 0}, ValueError, r"n_clusters must be at least 1"),
        (GRAY, {"n_clusters": 2.5}, TypeError, r"n_clusters must be an integer"),
        (
            np.array([[1, 2], [2, 1]], np.uint8),
            {"n_clusters": 3},
            ValueError,
            r"n_clusters=3 is larger than the number of distinct gray values to cluster \(2\)",
        ),
        (GRAY, {"color_space": "rgb"}, ValueError, r"'rgb' needs an RGB image with 3 .*has 1 channel"),
        (GRAY, {"color_space": "ycrcb-chroma"}, ValueError, r"'ycrcb-chroma' needs an RGB image"),
        (GRAY, {"color_space": "hsv"}, ValueError, r"unknown color_space 'hsv'; accepted: 'auto', 'gray'"),
        (
            RGB,
            {"mask": np.ones((20, 31), bool)},
            ValueError,
            r"mask shape \(20, 31\) does not match the image's pixel grid \(20, 30\)",
        ),
        (RGB, {"mask": np.zeros((20, 30), bool)}, ValueError, r"nothing to cluster: the mask is empty"),
        (RGB, {"method": "dbscan"}, ValueError, r"unknown method 'dbscan'; accepted: 'kmeans', 'em'"),
        (RGB, {"engine": "gpu"}, ValueError, r"unknown engine 'gpu'"),
        (RGB, {"max_iter": 0}, ValueError, r"max_iter must be an integer >= 1"),
        (RGB, {"epsilon": -1.0}, ValueError, r"epsilon must be a finite number >= 0"),
        (RGB, {"attempts": 0}, ValueError, r"attempts must be an integer in 1\.\.1000, got 0$"),
        (
            RGB,
            {"init": "forgy"},
            ValueError,
            r"unknown init 'forgy'; accepted: 'auto', 'kmeans\+\+', 'random', 'optimal'",
        ),
        (RGB, {"init": np.zeros((2, 3))}, ValueError, r"init array has shape \(2, 3\); expected .*\(4, 3\)"),
        (RGB, {"covariance": "tied"}, ValueError, r"unknown covariance 'tied'; accepted: 'full'"),
        (RGB, {"seed": -1}, ValueError, r"seed must be a non-negative integer"),
        (RGB, {"channel_axis": 5}, ValueError, r"channel_axis 5 is out of range"),
        (
            np.zeros((4, 5, 6), np.uint8),
            {"channel_axis": 0, "color_space": "gray"},
            ValueError,
            r"'gray' needs a 1-channel or RGB image, but this image has 4 channels",
        ),
    ],
)
def test_bad_input_raises_clear_error(image, kwargs, error, message):
    kwargs = {"n_clusters": 4} | kwargs
    n_clusters = kwargs.pop("n_clusters")
    with pytest.raises(error, match=message):
        quantize(image, n_clusters, **kwargs)


@pytest.mark.parametrize("engine", ["fast", "opencv"])
@pytest.mark.parametrize("method", ["kmeans", "em"])
def test_input_is_never_modified(china, engine, method):
    image = china[:60, :80]  # read-only fixture: any write raises
    before = image.copy()
    mask = np.zeros(image.shape[:2], bool)
    mask[10:50, 10:70] = True
    mask.flags.writeable = False
    quantize(image, 3, method=method, engine=engine, mask=mask, color_space="ycrcb-chroma")
    np.testing.assert_array_equal(image, before)


def test_float_input_with_nan_is_not_modified():
    image = np.random.default_rng(3).random((30, 40, 3)).astype(np.float32)
    image[5, 5] = np.nan
    image.flags.writeable = False
    result = quantize(image, 3)
    assert np.isnan(image[5, 5]).all()
    assert result.labels[5, 5] == 0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("means"), r"missing the field 'means'"),
        (lambda d: d.update(means="[[1,2,3]]"), r"'means' must be list"),
        (lambda d: d.update(means=[[1, 2], [3]]), r"'means' must be a rectangular array"),
        (lambda d: d.update(means=[[1e400, 0, 0]] * 4), r"'means' must hold finite numbers"),
        (lambda d: d.update(method="__import__('os')"), r"'method' must be one of"),
        (lambda d: d.update(palette=[[0, 0, 0]]), r"'palette' must have shape \(4, 3\)"),
        (lambda d: d.update(dtype="object"), r"'dtype' must be a numeric image dtype"),
        (lambda d: d.update(covariances=[[[1, 0, 0], [0, 1, 0], [0, 0, 0]]] * 4), r"positive definite"),
        (lambda d: d.update(covariances=[[[1, 2, 0], [0, 1, 0], [0, 0, 1]]] * 4), r"symmetric"),
        (
            lambda d: d.update(mixing_weights=[0.5, 0.5, 0.5, 0.5]),
            r"'mixing_weights' must be 4 positive numbers summing",
        ),
        (lambda d: d.update(weights=d.pop("mixing_weights")[:3]), r"'weights' must be 4 positive numbers summing to 1"),
        (lambda d: d.update(n_channels=True), r"'n_channels' must be int"),
    ],
)
def test_malformed_model_dict_is_rejected(china, mutate, message):
    data = quantize(china[:50, :50], 4, method="em").model.to_dict()
    mutate(data)
    with pytest.raises(ValueError, match=message):
        ClusterModel.from_dict(data)


def test_model_json_rejects_non_json():
    with pytest.raises(ValueError, match="not valid JSON"):
        ClusterModel.from_json("{'pickle': True")
    with pytest.raises(ValueError, match="must be a JSON object"):
        ClusterModel.from_json("[1, 2, 3]")


def test_predict_rejects_mismatched_image(china):
    model = quantize(china[:40, :40], 3).model
    with pytest.raises(ValueError, match="fitted on a rgb image with 3 channel"):
        model.predict(china[:40, :40, 0])
    with pytest.raises(ValueError, match="fitted on uint8 images; got uint16"):
        model.predict(china[:40, :40].astype(np.uint16))
    with pytest.raises(ValueError, match="posterior probabilities exist only for EM"):
        model.predict_proba(china[:40, :40])


def test_a_model_refusing_an_image_says_what_to_do_not_which_colour_space_to_use(china):
    # It said "... use 'gray' or 'channels'", but a fitted model's colour space cannot change (and the command
    # line ignores --color-space with --apply): the way out is another model, or naming the channel axis.
    with pytest.raises(ValueError, match="fitted on a rgb image") as refused:
        quantize(china[:40, :40], 3).model.predict(GRAY)
    assert "fit a new model on this one" in str(refused.value) and "'gray'" not in str(refused.value)
    with pytest.raises(ValueError, match=r"fitted on a gray image .*: apply it to images like the one"):
        quantize(GRAY, 3).model.predict(china[:40, :40])
    stack = np.random.default_rng(2).integers(0, 4096, (4, 3, 10, 12), dtype=np.uint16)
    model = quantize(stack, 2, channel_axis=1).model
    with pytest.raises(ValueError, match=r"got a gray image .*: if axis 1 holds its channels, pass channel_axis=1"):
        model.predict(stack)
    with pytest.raises(ValueError, match=r"channel_axis 7 is out of range"):  # an explicit axis keeps its reason
        model.predict(stack, channel_axis=7)
    assert np.array_equal(model.predict(stack, channel_axis=1), quantize(stack, 2, channel_axis=1).labels)


def test_masked_array_is_refused_not_clustered_with_its_masked_pixels():
    image = np.ma.masked_array(GRAY, mask=GRAY > 200)  # np.asarray would drop the mask
    for call in (lambda: quantize(image, 3), lambda: quantize(GRAY, 3).model.predict(image)):
        with pytest.raises(TypeError, match=r"masked array, whose mask would be ignored: .*mask=~np.ma.getmaskarray"):
            call()
    unmasked = np.ma.masked_array(GRAY)  # nothing masked: nothing to lose
    np.testing.assert_array_equal(quantize(unmasked, 3).labels, quantize(GRAY, 3).labels)


def test_too_few_values_in_a_small_sample_says_to_raise_max_samples():
    # 600 distinct colours, a sample of 2 of them: "use at most 2 clusters" blamed K, not max_samples.
    image = RGB
    with pytest.raises(ValueError, match=r"distinct rgb values in the fitted sample \(2; .*raise max_samples or use"):
        quantize(image, 3, max_samples=2)
    with pytest.raises(ValueError, match=r"the fitted sample has only 1 distinct .*raise max_samples or give k_range"):
        quantize(image, "auto", max_samples=1)


def test_cli_names_max_samples_when_its_sample_is_too_small(tmp_path, capsys):
    from PIL import Image

    from napari_colorquant.cli import main

    Image.fromarray(RGB).save(tmp_path / "rgb.png")
    assert main([str(tmp_path / "rgb.png"), "-k", "4", "--max-samples", "3", "-o", str(tmp_path / "out")]) == 1
    assert "raise --max-samples or use at most 3 clusters" in capsys.readouterr().err

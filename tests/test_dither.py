"""Floyd–Steinberg dithering: only palette colours, local means closer to the input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_colorquant.dither import dither_image
from napari_colorquant.kmeans import nearest_center, weighted_kmeans


def _blurred_error(image: np.ndarray, rendered: np.ndarray) -> float:
    sigma = (2.0, 2.0, 0.0) if image.ndim == 3 else 2.0
    difference = image.astype(np.float64) - rendered.astype(np.float64)
    return float(np.sqrt(np.mean(ndimage.gaussian_filter(difference, sigma) ** 2)))


@pytest.mark.parametrize(("name", "n_colours"), [("china", 16), ("camera", 6)])
def test_dithering_uses_palette_and_keeps_local_means(request, name, n_colours):
    image = np.asarray(request.getfixturevalue(name))[:160, :200]
    rows = image.reshape(-1, 3 if image.ndim == 3 else 1).astype(np.float64)
    palette = np.rint(weighted_kmeans(rows, np.ones(rows.shape[0]), n_colours, seed=0).centers).astype(np.uint8)
    plain = palette[nearest_center(rows, palette.astype(np.float64))[0]].reshape(image.shape)
    index = dither_image(image, palette)
    assert index.shape == image.shape[:2] and index.max() < palette.shape[0]
    rendered = palette[index].reshape(image.shape)
    assert set(map(tuple, rendered.reshape(-1, rows.shape[1]))) <= set(map(tuple, palette))
    assert _blurred_error(image, rendered) < 0.9 * _blurred_error(image, plain)
    assert not np.array_equal(rendered, plain)


def test_stack_is_dithered_plane_by_plane(camera):
    stack = np.stack([camera[:64, :64], camera[64:128, :64]])
    palette = np.array([[0], [128], [255]], np.uint8)
    index = dither_image(stack, palette)
    assert index.shape == stack.shape
    np.testing.assert_array_equal(index[1], dither_image(stack[1], palette))


@pytest.mark.parametrize(
    ("image", "palette", "match"),
    [
        (np.zeros((8, 8), np.uint16), np.zeros((2, 1), np.uint8), "uint16"),
        (np.zeros((8, 8), np.float32), np.zeros((2, 1), np.uint8), "float32"),
        (np.zeros((8, 8, 3), np.uint8), np.zeros((300, 3), np.uint8), "256"),
        (np.zeros(8, np.uint8), np.zeros((2, 1), np.uint8), "2-D"),
    ],
)
def test_unsupported_inputs_name_what_is_supported(image, palette, match):
    with pytest.raises(ValueError, match=match):
        dither_image(image, palette)


def test_dither_labels_of_a_fitted_model(china):
    from napari_colorquant.dither import dither_labels
    from napari_colorquant.quantize import quantize

    image = np.asarray(china)[:120, :160]
    result = quantize(image, 8, seed=0)
    array, layout = result.model.describe(image)
    valid = np.ones(image.shape[:2], bool)
    valid[:5] = False
    labels = dither_labels(result.model, array, layout, valid)
    assert labels.shape == image.shape[:2] and labels.dtype == result.labels.dtype
    assert (labels[:5] == 0).all() and labels[5:].min() >= 1 and labels.max() <= 8
    assert 0.05 < np.mean(labels[5:] != result.labels[5:]) < 0.9
    chroma = quantize(image, 4, color_space="lab-chroma", seed=0).model
    with pytest.raises(ValueError, match="chroma"):
        dither_labels(chroma, array, layout)


def test_front_door_dither_renders_with_palette_colours_only(china, tmp_path):
    from PIL import Image

    from napari_colorquant.cli import main
    from napari_colorquant.quantize import quantize

    image = np.asarray(china)[:120, :160]
    plain = quantize(image, 8, seed=0)
    dithered = quantize(image, 8, seed=0, dither=True)
    np.testing.assert_array_equal(dithered.labels, plain.labels)  # labels stay nearest-centre
    palette = set(map(tuple, np.rint(plain.model.palette).astype(np.uint8)))
    assert set(map(tuple, dithered.quantized.reshape(-1, 3))) <= palette
    assert _blurred_error(image, dithered.quantized) < _blurred_error(image, plain.quantized)
    np.testing.assert_array_equal(
        dithered.quantized, np.rint(plain.model.palette[dithered.dithered_labels - 1]).astype(np.uint8)
    )
    assert dithered.model.params["dither"] == "floyd-steinberg" and dithered.mse > plain.mse
    with pytest.raises(ValueError, match="dither"):
        quantize(image.astype(np.uint16), 4, dither=True)
    with pytest.raises(ValueError, match="dither"):
        quantize(image, 4, dither=True, color_space="lab-chroma")
    assert main(["--sample", "china", "-k", "8", "--dither", "floyd-steinberg", "-o", str(tmp_path), "-q"]) == 0
    png = np.asarray(Image.open(next(tmp_path.glob("*_quantized.png"))).convert("RGB"))
    full = quantize(np.asarray(china), 8, dither=True)
    np.testing.assert_array_equal(png, full.quantized)

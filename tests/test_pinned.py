"""Pinned colours stay exactly in the palette while the other centres move."""

from __future__ import annotations

import numpy as np
import pytest

from napari_colorquant import quantize
from napari_colorquant.kmeans import lloyd, weighted_kmeans
from napari_colorquant.pinned import check_fixed_colors, pinned_kmeans


def test_lloyd_never_moves_a_fixed_centre(china):
    rows, counts = np.unique(np.asarray(china).reshape(-1, 3), axis=0, return_counts=True)
    start = np.array([[255.0, 255.0, 255.0], [10.0, 200.0, 10.0], [100.0, 100.0, 100.0], [50.0, 50.0, 150.0]])
    fixed = np.array([True, True, False, False])
    fit = lloyd(rows, counts, start, max_iter=20, epsilon=0.0, fixed=fixed)
    np.testing.assert_array_equal(fit.centers[fixed], start[fixed])
    assert np.abs(fit.centers[~fixed] - start[~fixed]).max() > 5.0
    free = lloyd(rows, counts, start, max_iter=20, epsilon=0.0)
    assert np.abs(free.centers[fixed] - start[fixed]).max() > 5.0  # without pinning they would move


@pytest.mark.parametrize("attempts", [1, 3])
def test_pinned_kmeans_keeps_colours_and_fits_the_rest(china, attempts):
    rows, counts = np.unique(np.asarray(china)[::2, ::2].reshape(-1, 3), axis=0, return_counts=True)
    rows = rows.astype(np.float64)
    pinned = np.array([[255.0, 0.0, 0.0], [255.0, 255.0, 255.0]])
    fit = pinned_kmeans(rows, counts, 6, pinned, max_iter=30, epsilon=0.01, attempts=attempts, seed=0)
    np.testing.assert_array_equal(fit.centers[:2], pinned)
    # The free centres are a k-means fit of what the pinned colours leave: each is its cluster's mean.
    for k in range(2, 6):
        inside = fit.labels == k
        np.testing.assert_allclose(fit.centers[k], counts[inside] @ rows[inside] / counts[inside].sum(), atol=0.02)
    unpinned = weighted_kmeans(rows, counts, 6, max_iter=30, epsilon=0.01, seed=0)
    assert unpinned.inertia < fit.inertia  # pinning costs fit quality: it is a constraint


@pytest.mark.parametrize(
    ("colors", "match"),
    [
        ([[1, 2]], "3 value"),
        ([[0, 0, 0]] * 2, "twice"),
        ([[np.nan, 0, 0]], "finite"),
        ([[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3]], "larger"),
    ],
)
def test_bad_fixed_colors_are_named(colors, match):
    with pytest.raises(ValueError, match=match):
        check_fixed_colors(colors, 3, 4 if match != "twice" else 5)


# --- fixed_colors through the front door, the model JSON and the CLI -----------------------------------------


@pytest.mark.parametrize("color_space", ["rgb", "lab", "oklab", "ycrcb"])
def test_front_door_keeps_pinned_colours_unchanged(china, color_space):
    from napari_colorquant.quantize import quantize

    image = np.asarray(china)[::4, ::4]
    pinned = [[255, 255, 255], [200, 30, 30]]
    result = quantize(image, 6, color_space=color_space, fixed_colors=pinned, seed=0)
    palette = result.model.palette
    for colour in pinned:
        assert (palette == colour).all(axis=1).sum() == 1  # exactly, not after a colour-space round trip
    rendered = np.unique(result.quantized.reshape(-1, 3), axis=0)
    assert any((rendered == [255, 255, 255]).all(axis=1))  # china has near-white sky: it takes the pinned white
    free = quantize(image, 6, color_space=color_space, seed=0).model.palette
    assert not any((free == [200, 30, 30]).all(axis=1))  # unpinned, no centre lands there by itself


def test_pinned_colours_on_float_gray_dask_and_auto_k(camera):
    import dask.array as da

    from napari_colorquant.quantize import quantize

    image = np.asarray(camera)[::4, ::4].astype(np.float32) / 255.0  # float: fitted in 1/255 of the range
    result = quantize(image, 4, fixed_colors=[0.0, 1.0])
    assert sorted(result.model.palette[:, 0].tolist())[0] == 0.0 and result.model.palette.max() == 1.0
    lazy = quantize(da.from_array(image, chunks=32), 4, fixed_colors=[0.0, 1.0])
    np.testing.assert_array_equal(lazy.model.palette, result.model.palette)
    auto = quantize(image, "auto", k_range=(3, 6), fixed_colors=[[0.5]])
    assert auto.k_curve.ks[0] == 3 and (auto.model.palette[:, 0] == 0.5).sum() == 1


def test_pinned_colours_are_recorded_in_the_model_json(china):
    from napari_colorquant.model import ClusterModel
    from napari_colorquant.params import ClusterParameters
    from napari_colorquant.quantize import quantize

    result = quantize(np.asarray(china)[::8, ::8], 5, fixed_colors=[[0, 0, 0]])
    again = ClusterModel.from_json(result.model.to_json())
    assert again.params["fixed_colors"] == [[0.0, 0.0, 0.0]]
    assert ClusterParameters.from_dict(again.params).fixed_colors == ((0.0, 0.0, 0.0),)
    np.testing.assert_array_equal(again.palette, result.model.palette)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (dict(method="em"), "fixed_colors needs method='kmeans'"),
        (dict(engine="opencv"), "fixed_colors needs engine='fast'"),
        (dict(color_space="lab-chroma"), "fixed_colors: lab-chroma gives each pixel its own luminance"),
        (dict(init="optimal"), "fixed_colors needs init"),
        (dict(n_clusters=1), "n_clusters must be above 1"),
        (dict(n_clusters="auto", k_range=(1, 4)), "k_range must start above 1"),
        (dict(fixed_colors=[[1, 2, 3], [1, 2, 3]]), "twice"),
        (dict(fixed_colors=[[1, np.inf, 3]]), "finite"),
        (dict(fixed_colors="white"), "fixed_colors must be a list of colours"),
    ],
)
def test_bad_pinned_options_name_the_parameter(options, match):
    from napari_colorquant.params import ClusterParameters

    with pytest.raises(ValueError, match=match):
        ClusterParameters(**{"n_clusters": 4, "fixed_colors": [[255, 255, 255]], **options})


def test_pinned_colours_must_fit_the_image(china):
    from napari_colorquant.quantize import quantize

    image = np.asarray(china)[::8, ::8]
    with pytest.raises(ValueError, match="fixed_colors must be a list of colours with 3 value"):
        quantize(image, 4, fixed_colors=[[255, 255]])
    with pytest.raises(ValueError, match="fixed_colors: clustering a colour image on its gray level"):
        quantize(image, 4, color_space="gray", fixed_colors=[[255, 255, 255]])


def test_cli_fixed_color_is_repeatable(tmp_path, capsys):
    import json

    from napari_colorquant.cli import main

    argv = ["--sample", "china", "-k", "5", "--fixed-color", "255,255,255", "--fixed-color", "0, 0, 0"]
    assert main([*argv, "--max-iter", "20", "-o", str(tmp_path)]) == 0
    model = json.loads((tmp_path / "china_model.json").read_text())
    assert model["params"]["fixed_colors"] == [[255.0, 255.0, 255.0], [0.0, 0.0, 0.0]]
    assert [255.0, 255.0, 255.0] in model["palette"] and [0.0, 0.0, 0.0] in model["palette"]
    with pytest.raises(SystemExit):
        main(["--sample", "china", "-k", "5", "--fixed-color", "1,2,x", "-o", str(tmp_path / "b")])
    assert "fixed_colors: expected R,G,B" in capsys.readouterr().err


def test_white_as_r_g_b_is_a_gray_level_on_a_gray_image(camera):
    """The README's `scan.png --fixed-color 255,255,255` on a gray scan: white is gray level 255, not three levels."""
    from napari_colorquant.quantize import quantize

    image = np.asarray(camera)[::4, ::4]
    white = quantize(image, 4, fixed_colors=[[255, 255, 255]])
    assert white.model.palette.shape == (4, 1) and (white.model.palette[:, 0] == 255).sum() == 1
    np.testing.assert_array_equal(white.model.palette, quantize(image, 4, fixed_colors=[255]).model.palette)
    both = quantize(image, 4, fixed_colors=[[255, 255, 255], [0, 0, 0]])
    assert {0.0, 255.0} <= set(both.model.palette[:, 0].tolist())
    levels = quantize(image, 4, fixed_colors=[0, 128, 255])  # one non-neutral row: three gray levels, as before
    assert {0.0, 128.0, 255.0} <= set(levels.model.palette[:, 0].tolist())
    with pytest.raises(ValueError, match=r"the image is gray .* neutral R,G,B colour"):
        quantize(image, 4, fixed_colors=[[255, 0, 0], [0, 0, 0]])


def test_cli_white_background_on_a_gray_scan(tmp_path, camera):
    """The README line `napari-colorquant scan.png -k 6 --fixed-color 255,255,255 -o pinned/` works on a gray scan."""
    import json

    from PIL import Image

    from napari_colorquant.cli import main

    scan = tmp_path / "scan.png"
    Image.fromarray(np.asarray(camera)[::4, ::4]).save(scan)
    assert main([str(scan), "-k", "6", "--fixed-color", "255,255,255", "-q", "-o", str(tmp_path / "pinned")]) == 0
    model = json.loads((tmp_path / "pinned" / "scan_model.json").read_text())
    assert [255.0] in model["palette"]


@pytest.mark.parametrize("color", [[300, 0, 0], [-5, 0, 0], [127.5, 0, 0]])
def test_a_pinned_colour_the_image_cannot_hold_is_refused(china, color):
    # 300 on a uint8 photo was accepted: the palette said 300 while the quantized image showed 255 (clipped).
    with pytest.raises(ValueError, match=r"fixed_colors must be whole numbers in 0\.\.255 for a uint8 image"):
        quantize(china, 4, fixed_colors=[color])


def test_a_float_image_pins_any_finite_colour(china):
    result = quantize(china.astype(np.float32), 4, fixed_colors=[[300.0, 0.0, 0.0]])
    assert [300.0, 0.0, 0.0] in result.model.palette.tolist()

"""Automatic K: true K recovered on synthetic mixtures; targets hit with the smallest K."""

from __future__ import annotations

import math

import numpy as np
import pytest

from napari_colorquant.autok import KCurve, check_k_range, kmeans_bic, sweep
from napari_colorquant.kmeans import weighted_kmeans


def _mixture(n_true: int, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer-valued samples of well-separated spherical clusters, counted as (values, counts)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, 200, (n_true, n_features))
    while n_true > 1 and min(np.linalg.norm(a - b) for i, a in enumerate(centers) for b in centers[i + 1 :]) < 50:
        centers = rng.uniform(0, 200, (n_true, n_features))
    sizes = rng.integers(2000, 6000, n_true)
    points = np.concatenate([c + rng.normal(0, 6, (s, n_features)) for c, s in zip(centers, sizes, strict=True)])
    return np.unique(np.rint(points), axis=0, return_counts=True)


def _kmeans(values, counts, k):
    return weighted_kmeans(values, counts, k, attempts=3, max_iter=50, epsilon=1e-3, seed=0)


@pytest.mark.parametrize(("n_true", "n_features", "seed"), [(3, 1, 0), (4, 3, 1), (6, 3, 2), (5, 2, 3)])
def test_kmeans_bic_recovers_true_k(n_true, n_features, seed):
    values, counts = _mixture(n_true, n_features, seed)

    def score(fit):
        return kmeans_bic(fit.inertia, np.bincount(fit.labels, weights=counts, minlength=len(fit.centers)), n_features)

    best, curve = sweep(lambda k: _kmeans(values, counts, k), score, (2, 10), "bic")
    assert curve.chosen == n_true == len(best.centers)
    assert curve.ks == list(range(2, 11))
    assert curve.values[curve.ks.index(n_true)] == min(curve.values)


@pytest.mark.parametrize("n_true", [2, 4])
def test_em_bic_recovers_true_k(n_true):
    from napari_colorquant.quantize import quantize

    # Continuous (float) samples: on rounded values a converged EM can fit spikes on single values.
    rng = np.random.default_rng(5)
    centers = np.array([[40.0, 60, 200], [200, 40, 60], [60, 200, 40], [150, 150, 150]])[:n_true]
    image = np.concatenate([c + rng.normal(0, 8, (1500, 3)) for c in centers])[None].astype(np.float32)
    best, curve = sweep(lambda k: quantize(image, k, method="em", seed=0), lambda r: r.model.bic, (1, 7), "bic")
    assert curve.chosen == n_true == best.model.n_clusters


@pytest.mark.parametrize(("criterion", "target"), [("psnr", 30.0), ("psnr", 36.0), ("delta_e", 4.0)])
def test_target_is_reached_with_the_smallest_k(camera, criterion, target):
    from napari_colorquant.quality import delta_e_figures
    from napari_colorquant.quantize import quantize

    image = np.asarray(camera)[::2, ::2]

    def figure(result):
        if criterion == "psnr":
            return result.psnr
        rows = image.reshape(-1, 1)
        return delta_e_figures(rows, result.quantized.reshape(-1, 1), np.ones(rows.shape[0]), 255.0)[0]

    def fit(k):
        return quantize(image, k, seed=0, max_iter=30, epsilon=0.01)

    best, curve = sweep(fit, figure, (2, 16), criterion, target)
    assert curve.target_met and best.model.n_clusters == curve.chosen == curve.ks[-1]
    reached = (lambda v: v >= target) if criterion == "psnr" else (lambda v: v <= target)
    assert reached(curve.values[-1])
    assert not any(reached(figure(fit(k))) for k in range(2, curve.chosen))


def test_unreachable_target_uses_largest_k_and_says_so():
    values, counts = _mixture(3, 1, 0)
    _, curve = sweep(lambda k: _kmeans(values, counts, k), lambda fit: -fit.inertia, (2, 4), "psnr", 1e9)
    assert not curve.target_met and curve.chosen == 4
    assert "not reached" in curve.lines()[-1]
    assert KCurve(**{**curve.to_dict()}).to_dict() == curve.to_dict()


@pytest.mark.parametrize("bad", [(0, 4), (5, 3), (2.5, 4), "2-16", (2,), None])
def test_bad_k_range_names_the_parameter(bad):
    with pytest.raises(ValueError, match="k_range"):
        check_k_range(bad)


def test_spherical_bic_matches_a_direct_gaussian_likelihood():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(300, 2))
    fit = _kmeans(values, np.ones(300), 3)
    mass = np.bincount(fit.labels, minlength=3).astype(float)
    variance = fit.inertia / (300 * 2)
    direct = sum(
        math.log(mass[k] / 300) - ((x - fit.centers[k]) ** 2).sum() / (2 * variance) - math.log(2 * math.pi * variance)
        for x, k in zip(values, fit.labels, strict=True)
    )
    expected = -2 * direct + (2 + 6 + 1) * math.log(300)
    assert kmeans_bic(fit.inertia, mass, 2) == pytest.approx(expected, rel=1e-10)


# --- n_clusters="auto" through the front door, the model JSON and the CLI -----------------------------------


def _four_colour_image(seed: int = 0) -> np.ndarray:
    """A 96 x 96 uint8 RGB image of four well-separated colours with noise (true K = 4)."""
    rng = np.random.default_rng(seed)
    colours = np.array([[30.0, 40, 200], [200, 50, 40], [60, 190, 70], [220, 220, 90]])
    classes = np.repeat(np.arange(4), 96 * 96 // 4)
    rng.shuffle(classes)
    pixels = colours[classes] + rng.normal(0, 6, (classes.size, 3))
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8).reshape(96, 96, 3)


def test_front_door_auto_k_recovers_true_k_and_matches_separate_fits():
    from napari_colorquant.quantize import quantize

    image = _four_colour_image()
    result = quantize(image, "auto", k_range=(2, 7), seed=0)
    curve = result.k_curve
    assert curve.criterion == "bic" and curve.ks == list(range(2, 8))
    assert curve.chosen == result.model.n_clusters == 4
    # Independent of the sweep: each K fitted on its own (its own image pass), its BIC from its inertia and counts.
    for k, value in zip(curve.ks, curve.values, strict=True):
        alone = quantize(image, k, seed=0)
        assert value == pytest.approx(kmeans_bic(alone.model.inertia, alone.cluster_counts(), 3), rel=1e-9)
    np.testing.assert_array_equal(result.labels, quantize(image, 4, seed=0).labels)


@pytest.mark.parametrize(("criterion", "target"), [("psnr", 24.0), ("delta_e", 8.0)])
def test_front_door_target_is_reached_with_the_smallest_k(astronaut, criterion, target):
    from napari_colorquant.quantize import quantize
    from napari_colorquant.report import report_lines

    image = np.asarray(astronaut)[::4, ::4]
    options = dict(seed=0, max_iter=30, epsilon=0.01)
    result = quantize(image, "auto", **{f"target_{criterion}": target}, **options)
    curve = result.k_curve
    assert curve.target_met and curve.target == target and curve.chosen == result.model.n_clusters
    reached = (lambda r: r.psnr >= target) if criterion == "psnr" else (lambda r: r.delta_e <= target)
    assert reached(result)
    assert not reached(quantize(image, curve.chosen - 1, **options))  # a separate run with one colour fewer
    assert curve.ks == list(range(2, curve.chosen + 1))  # the sweep stopped at the target
    assert f"K chosen automatically ({criterion} {target:g})" in report_lines(result.summary())


def test_em_auto_k_is_the_mixture_bic():
    from napari_colorquant.quantize import quantize

    rng = np.random.default_rng(5)
    centers = np.array([[40.0, 60, 200], [200, 40, 60], [60, 200, 40]])
    image = np.concatenate([c + rng.normal(0, 8, (1500, 3)) for c in centers])[None].astype(np.float32)
    result = quantize(image, "auto", method="em", k_range=(1, 6), seed=0)
    assert result.k_curve.chosen == result.model.n_clusters == 3
    assert result.k_curve.values[result.k_curve.ks.index(3)] == pytest.approx(result.model.bic)


def test_auto_k_on_dask_sweeps_the_merged_counts():
    import dask.array as da

    from napari_colorquant.quantize import quantize

    image = _four_colour_image(1)
    eager = quantize(image, "auto", k_range=(2, 6), seed=0)
    lazy = quantize(da.from_array(image, chunks=(40, 50, 3)), "auto", k_range=(2, 6), seed=0)
    assert (lazy.k_curve.ks, lazy.k_curve.chosen) == (eager.k_curve.ks, eager.k_curve.chosen)
    np.testing.assert_allclose(lazy.k_curve.values, eager.k_curve.values, rtol=1e-12)
    np.testing.assert_allclose(lazy.model.means, eager.model.means)
    np.testing.assert_array_equal(lazy.labels.compute(), eager.labels)


def test_model_json_records_what_was_asked_and_chosen():
    from napari_colorquant.model import ClusterModel
    from napari_colorquant.params import ClusterParameters
    from napari_colorquant.quantize import quantize

    result = quantize(_four_colour_image(), "auto", k_range=(3, 5), target_psnr=20.0)
    again = ClusterModel.from_json(result.model.to_json())
    params = again.params
    assert params["n_clusters"] == "auto" and params["k_range"] == [3, 5] and params["target_psnr"] == 20.0
    assert params["k_curve"]["chosen"] == again.n_clusters == result.k_curve.chosen
    assert params["k_curve"]["criterion"] == "psnr" and params["k_curve"]["ks"] == result.k_curve.ks
    assert ClusterParameters.from_dict(params).is_auto


def test_k_range_is_cut_to_the_distinct_values():
    from napari_colorquant.quantize import quantize

    image = np.repeat(np.array([[10, 120, 240]], np.uint8), 20, axis=0)
    assert quantize(image, "auto").k_curve.ks == [2, 3]
    with pytest.raises(ValueError, match="k_range starts at 4"):
        quantize(image, "auto", k_range=(4, 8))


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        (dict(n_clusters="many"), ValueError, "n_clusters must be an integer or 'auto'"),
        (dict(n_clusters="auto", k_range=(0, 4)), ValueError, "k_range"),
        (dict(n_clusters="auto", k_range="2-16"), ValueError, "k_range"),
        (dict(n_clusters="auto", k_range=(2, 70000)), ValueError, "k_range"),
        (dict(n_clusters="auto", target_psnr=-1.0), ValueError, "target_psnr"),
        (dict(n_clusters="auto", target_delta_e=float("nan")), ValueError, "target_delta_e"),
        (dict(n_clusters=4, target_psnr=30.0), ValueError, "target_psnr chooses K: it needs n_clusters='auto'"),
        (dict(n_clusters="auto", target_psnr=30.0, target_delta_e=2.0), ValueError, "not both"),
        (dict(n_clusters="auto", engine="opencv"), ValueError, "n_clusters='auto' needs engine='fast'"),
        (dict(n_clusters="auto", init=[[0.0], [1.0]]), ValueError, "n_clusters='auto' needs a named init"),
    ],
)
def test_bad_auto_k_parameters_name_themselves(options, error, match):
    from napari_colorquant.params import ClusterParameters

    with pytest.raises(error, match=match):
        ClusterParameters(**options)


def test_delta_e_target_needs_colours(kidney_zcyx):
    from napari_colorquant.quantize import quantize

    with pytest.raises(ValueError, match="target_delta_e needs a gray or RGB image"):
        quantize(np.asarray(kidney_zcyx)[0], "auto", channel_axis=0, target_delta_e=2.0)


def test_cli_auto_k_prints_the_curve_and_help_shows_defaults(tmp_path, capsys):
    import json

    from PIL import Image

    from napari_colorquant.cli import build_parser, main

    Image.fromarray(_four_colour_image()).save(tmp_path / "four.png")
    out = tmp_path / "out"
    assert main([str(tmp_path / "four.png"), "-k", "auto", "--k-range", "2,6", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "K chosen automatically (bic)" in printed and "K=4" in printed
    curve_lines = [line.split() for line in printed.splitlines() if line.startswith("    ")]
    assert curve_lines[0][:2] == ["K", "bic"] and [row[0] for row in curve_lines[1:]] == ["2", "3", "4", "5", "6"]
    assert curve_lines[3][-2:] == ["<-", "chosen"]
    # the criterion's name stands over its values' column (it stood 8 characters left of it)
    table = [line for line in printed.splitlines() if line.startswith("    ")]
    assert table[0].index("bic") + len("bic") == len(table[1].split("  <-")[0].rstrip())
    model = json.loads((out / "four_model.json").read_text())
    assert model["n_clusters"] == 4 and model["params"]["n_clusters"] == "auto"
    assert model["params"]["k_curve"]["ks"] == [2, 3, 4, 5, 6]
    assert main([str(tmp_path / "four.png"), "-k", "6", "--target-psnr", "30", "-o", str(tmp_path / "x")]) == 2
    assert "target-psnr chooses K" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path / "four.png"), "--k-range", "2-x", "-o", str(tmp_path / "y")])
    assert "k_range: expected KMIN,KMAX" in capsys.readouterr().err
    helps = {flag: action.help for action in build_parser()._actions for flag in action.option_strings}
    expected = {"--k-range": "2,16", "--target-psnr": "none", "--target-delta-e": "none", "--fixed-color": "none",
                "--smoothing": "0.0", "--dither": "none", "-k": "8"}  # fmt: skip
    for flag, default in expected.items():
        assert f"(default {default})" in helps[flag] or f"(default: {default})" in helps[flag], flag


def test_the_sweep_counts_the_image_once(monkeypatch):
    from napari_colorquant import eager
    from napari_colorquant.quantize import quantize

    calls = []
    counted = eager.build_table

    def counting(*args, **kwargs):
        calls.append(1)
        return counted(*args, **kwargs)

    monkeypatch.setattr(eager, "build_table", counting)
    result = quantize(_four_colour_image(), "auto", k_range=(2, 9))
    assert len(result.k_curve.ks) == 8 and len(calls) == 1


def test_bic_at_the_top_of_the_k_range_says_to_widen_it(tmp_path, capsys):
    """The lowest BIC at the largest K tried may lie beyond the range: the report says so (CLI and widget)."""
    from PIL import Image

    from napari_colorquant.cli import main
    from napari_colorquant.quantize import quantize
    from napari_colorquant.report import report_lines

    image = _four_colour_image()  # true K = 4
    edge = quantize(image, "auto", k_range=(2, 3), seed=0)
    assert edge.k_curve.chosen == 3
    headline = next(line for line in report_lines(edge.summary()) if line.startswith("K chosen"))
    assert "top of the K range" in headline and "wider K range" in headline
    inside = quantize(image, "auto", k_range=(2, 7), seed=0)
    assert not any("top of the K range" in line for line in report_lines(inside.summary()))
    # The range cut short by the number of distinct values: no wider range could help, so no hint.
    three = np.repeat(np.array([[10, 20, 30], [200, 20, 30], [10, 200, 30]], np.uint8), 30, axis=0).reshape(9, 10, 3)
    few = quantize(three, "auto", seed=0)
    assert few.k_curve.ks[-1] == few.k_curve.chosen == 3
    assert not any("top of the K range" in line for line in report_lines(few.summary()))
    Image.fromarray(image).save(tmp_path / "four.png")
    assert main([str(tmp_path / "four.png"), "-k", "auto", "--k-range", "2,3", "-o", str(tmp_path / "out")]) == 0
    assert "top of the K range" in capsys.readouterr().out

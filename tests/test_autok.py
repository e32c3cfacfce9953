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

"""The feature-space maths (no napari): ellipses, histograms, curves, samples, counts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.path import Path as PolygonPath
from scipy.stats import chi2, norm

from napari_colorquant import feature_space as fs
from napari_colorquant import quantize


def test_chi2_radius_matches_scipy():
    for p in (0.5, 0.9, 0.95, 0.99):
        assert fs.chi2_radius(p) == pytest.approx(np.sqrt(chi2.ppf(p, df=2)), rel=1e-12)
    with pytest.raises(ValueError, match="probability"):
        fs.chi2_radius(1.0)


def test_projected_ellipse_holds_its_probability_of_the_projected_pixels():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 3))
    covariance = a @ a.T + 0.1 * np.eye(3)  # correlated in all three features
    mean = np.array([10.0, -4.0, 2.5])
    points = rng.multivariate_normal(mean, covariance, size=200_000)
    for dims in ((0, 2), (1, 2), (-2, -1)):
        (polygon,) = fs.projected_ellipses(mean[None], covariance[None], dims, probability=0.9)
        pair = [d % 3 for d in dims]
        inside = PolygonPath(polygon).contains_points(points[:, pair])
        # 72 vertices inscribe the ellipse: a hair under 0.9 (area ratio cos-ish 0.9987).
        assert inside.mean() == pytest.approx(0.9 * 0.9987, abs=0.004)


def test_projected_ellipses_reject_a_single_feature():
    with pytest.raises(ValueError, match="two different features"):
        fs.projected_ellipses(np.zeros((1, 3)), np.eye(3)[None], (1, 1))


def test_histogram_per_cluster_matches_numpy():
    rng = np.random.default_rng(2)
    values = rng.normal(size=500)
    weights = rng.integers(1, 5, size=500).astype(float)
    labels = rng.integers(1, 4, size=500)
    edges, counts = fs.histogram(values, weights, labels, 3, bins=20)
    for k in range(3):
        expected, expected_edges = np.histogram(values[labels == k + 1], bins=20, range=(edges[0], edges[-1]),
                                                weights=weights[labels == k + 1])  # fmt: skip
        np.testing.assert_allclose(edges, expected_edges)
        np.testing.assert_allclose(counts[k], expected)
    assert counts.sum() == pytest.approx(weights.sum())


def test_gaussian_curves_match_scipy():
    x = np.linspace(-5, 5, 41)
    curves = fs.gaussian_curves(np.array([0.0, 1.0]), np.array([1.0, 4.0]), np.array([0.25, 0.75]), x, 1000, 0.5)
    np.testing.assert_allclose(curves[0], 0.25 * norm.pdf(x, 0, 1) * 1000 * 0.5)
    np.testing.assert_allclose(curves[1], 0.75 * norm.pdf(x, 1, 2) * 1000 * 0.5)


def test_counts_come_from_the_counted_values(china):
    result = quantize(china, 5)
    assert fs.counted_values(result) is not None
    np.testing.assert_array_equal(fs.cluster_counts(result), np.bincount(result.labels.ravel(), minlength=6)[1:])


def test_counts_of_a_lazy_run_equal_the_in_memory_ones(china):
    da = pytest.importorskip("dask.array")
    eager = quantize(china, 4)
    lazy = quantize(da.from_array(china, chunks=(200, 200, 3)), 4)
    np.testing.assert_array_equal(fs.cluster_counts(lazy), fs.cluster_counts(eager))


def test_sample_is_drawn_from_counted_values_without_the_image(china):
    result = quantize(china, 4, seed=3)
    features, labels, values = fs.sample_features(result, 4000, seed=7)
    assert features.shape == (4000, 3) and labels.shape == (4000,) and values.shape == (4000, 3)
    np.testing.assert_array_equal(labels, result.model.predict_values(values))
    again = fs.sample_features(result, 4000, seed=7)
    np.testing.assert_array_equal(again[2], values)
    # Each pixel is equally likely: cluster shares in the sample follow the image's.
    shares = np.bincount(labels, minlength=5)[1:] / 4000
    expected = fs.cluster_counts(result) / china[..., 0].size
    np.testing.assert_allclose(shares, expected, atol=0.03)


def test_sample_without_counts_needs_the_image(china):
    result = quantize(china, 3, engine="opencv")
    assert fs.counted_values(result) is None
    with pytest.raises(ValueError, match="image is needed"):
        fs.sample_features(result, 100)
    features, labels, _ = fs.sample_features(result, 100, image=china)
    assert len(features) == 100 and labels.min() >= 1


def test_histogram_source_weights_every_pixel():
    gray = np.repeat(np.arange(0, 200, dtype=np.uint8), 50).reshape(100, 100)
    result = quantize(gray, 3)
    values, weights, labels = fs.histogram_source(result)
    assert weights.sum() == gray.size and len(values) == 200
    np.testing.assert_array_equal(np.bincount(labels, weights=weights)[1:], fs.cluster_counts(result))


def test_core_modules_do_not_import_napari_or_qt():
    code = (
        "import sys, napari_colorquant.feature_space, napari_colorquant.workflows, napari_colorquant.report;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('napari', 'qtpy', 'PyQt6', 'PyQt5', 'magicgui')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_float_image_counts_every_pixel_once():
    # A float image's table is one row per valid pixel (not made distinct): it still describes the pixels
    # exactly, so the histogram and the sample come from it without the image.
    image = np.random.default_rng(0).random((40, 50)).astype(np.float32)
    image[:3] = np.nan
    result = quantize(image, 3)
    values, weights, labels = fs.histogram_source(result)
    assert weights.sum() == np.isfinite(image).sum()
    np.testing.assert_array_equal(np.sort(values), np.sort(image[np.isfinite(image)]))
    np.testing.assert_array_equal(fs.cluster_counts(result), np.bincount(result.labels.ravel(), minlength=4)[1:])
    features, labels, sampled = fs.sample_features(result, 500, seed=1)
    assert features.shape == (500, 1) and np.isfinite(sampled).all()
    np.testing.assert_array_equal(labels, result.model.predict_values(sampled))


def test_marginal_on_chosen_axes_is_the_sub_covariance_of_the_points_and_of_a_fit_on_those_features():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(5, 5))
    covariance = a @ a.T + 0.2 * np.eye(5)  # five correlated features (a 5-channel stack)
    mean = np.array([100.0, -3.0, 7.0, 40.0, 0.5])
    points = rng.multivariate_normal(mean, covariance, size=400_000)
    axes = (3, 0, 4)  # any three, in the plot's order
    means, covariances = fs.marginal(mean[None], covariance[None], axes)
    # Independent reference 1: the chosen columns of sampled points.
    np.testing.assert_allclose(means[0], points[:, axes].mean(axis=0), atol=0.02)
    np.testing.assert_allclose(covariances[0], np.cov(points[:, axes].T), rtol=0.02, atol=0.02)
    # Independent reference 2: scikit-learn fitted on all five features, and on the chosen three only.
    from sklearn.mixture import GaussianMixture

    few = points[:20_000]
    full = GaussianMixture(1, covariance_type="full", reg_covar=1e-9).fit(few)
    chosen = GaussianMixture(1, covariance_type="full", reg_covar=1e-9).fit(few[:, axes])
    sub_means, sub_covariances = fs.marginal(full.means_, full.covariances_, axes)
    np.testing.assert_allclose(sub_means, chosen.means_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(sub_covariances, chosen.covariances_, rtol=1e-7, atol=1e-9)


def test_projected_ellipse_of_two_chosen_features_of_five_in_either_order_holds_its_probability():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(5, 5))
    covariance = a @ a.T + 0.1 * np.eye(5)
    mean = rng.normal(size=5) * 10
    points = rng.multivariate_normal(mean, covariance, size=200_000)
    for dims in ((4, 1), (1, 4), (0, 3)):
        (polygon,) = fs.projected_ellipses(mean[None], covariance[None], dims, probability=0.9)
        assert PolygonPath(polygon).contains_points(points[:, dims]).mean() == pytest.approx(0.9 * 0.9987, abs=0.004)
        np.testing.assert_allclose(polygon.mean(axis=0), mean[list(dims)], atol=1e-9)  # x is the first feature


def test_view_axes_defaults_to_the_last_three_and_checks_a_choice():
    assert fs.view_axes(5) == (2, 3, 4)
    assert fs.view_axes(3) == (0, 1, 2)
    assert fs.view_axes(2) == (0, 1)  # fewer features than axes: every feature
    assert fs.view_axes(1) == (0,)
    assert fs.view_axes(5, (0, -1, 2)) == (0, 4, 2)  # negative from the end, the order kept
    assert fs.view_axes(2, [1, 0]) == (1, 0)
    assert fs.view_axes(4, (3, 1), n_shown=2) == (3, 1)
    with pytest.raises(ValueError, match="twice"):
        fs.view_axes(5, (1, 3, 1))
    with pytest.raises(ValueError, match="twice"):
        fs.view_axes(5, (4, 0, -1))  # -1 is feature 4
    with pytest.raises(ValueError, match="name 3 of the 5 features"):
        fs.view_axes(5, (0, 1))
    with pytest.raises(ValueError, match="name 2 of the 2 features"):
        fs.view_axes(2, (0, 1, 1))
    with pytest.raises(ValueError, match="out of range"):
        fs.view_axes(4, (0, 1, 4))
    with pytest.raises(TypeError, match="integers"):
        fs.view_axes(4, (0, 1, True))
    with pytest.raises(TypeError, match="integers"):
        fs.view_axes(4, (0, 1, 2.0))
    with pytest.raises(ValueError, match="at least 1"):
        fs.view_axes(0)


def _signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Volume enclosed by a closed mesh (divergence theorem); negative when its faces point inwards."""
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6)


def test_unit_sphere_is_a_closed_outward_mesh_on_the_sphere():
    for rings, segments in ((2, 3), (5, 8), (16, 32)):
        vertices, faces = fs.unit_sphere(rings, segments)
        np.testing.assert_allclose(np.linalg.norm(vertices, axis=1), 1.0, rtol=1e-12)
        edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
        directed = set(map(tuple, edges))
        assert len(directed) == len(edges)  # no edge twice in one direction: consistently oriented
        assert all((b, a) in directed for a, b in directed)  # each edge shared by two faces: closed
        assert len(vertices) - len(edges) // 2 + len(faces) == 2  # Euler: a sphere
        assert _signed_volume(vertices, faces) > 0  # faces counter-clockwise seen from outside
    with pytest.raises(ValueError, match="n_segments"):
        fs.unit_sphere(4, 2)


def test_ellipsoid_vertices_lie_at_the_mahalanobis_radius_of_the_marginal_and_its_shadow_is_the_2d_ellipse():
    from scipy.spatial.distance import mahalanobis

    rng = np.random.default_rng(8)
    a = rng.normal(size=(4, 5, 5))
    covariances = a @ a.transpose(0, 2, 1) + 0.3 * np.eye(5)  # four correlated 5-feature Gaussians
    means = rng.normal(size=(4, 5)) * 20
    axes = (3, 0, 4)
    sub_means, sub_covariances = fs.marginal(means, covariances, axes)
    radius = fs.chi2_radius(0.95)
    vertices, faces, component = fs.ellipsoid_meshes(sub_means, sub_covariances, radius)
    assert np.array_equal(np.bincount(component), np.full(4, len(vertices) // 4))
    for k in range(4):
        mine = vertices[component == k]
        inverse = np.linalg.inv(covariances[k][np.ix_(axes, axes)])  # independent of fs.marginal
        distances = [mahalanobis(v, means[k, list(axes)], inverse) for v in mine]
        np.testing.assert_allclose(distances, radius, rtol=1e-9)
        own = faces[np.isin(faces, np.flatnonzero(component == k)).all(axis=1)] - np.flatnonzero(component == k)[0]
        volume = _signed_volume(mine, own)  # outward whatever the eigenvectors' handedness
        exact = 4 / 3 * np.pi * radius**3 * np.sqrt(np.linalg.det(sub_covariances[k]))
        assert 0.97 * exact < volume < exact  # an inscribed mesh: a little smaller
        # Seen along the first shown feature, its outline is the 95 % ellipse of the other two (the 2-D view's).
        (ellipse,) = fs.projected_ellipses(means[k][None], covariances[k][None], (axes[1], axes[2]), 0.95)
        for angle in np.linspace(0, np.pi, 7):
            direction = np.array([np.cos(angle), np.sin(angle)])
            shadow = (mine[:, 1:] - sub_means[k, 1:]) @ direction
            outline = (ellipse - sub_means[k, 1:]) @ direction
            assert shadow.max() == pytest.approx(outline.max(), rel=0.01)


def test_ellipsoid_of_a_flat_gaussian_is_flat_and_bad_input_is_refused():
    covariance = np.diag([4.0, 1.0, 0.0])  # no spread along the last feature
    vertices, _, _ = fs.ellipsoid_meshes(np.zeros((1, 3)), covariance[None], 2.0)
    np.testing.assert_allclose(vertices[:, 2], 0.0, atol=1e-12)
    assert np.ptp(vertices[:, 0]) == pytest.approx(8.0, rel=1e-9)
    with pytest.raises(ValueError, match=r"\(K, 3\)"):
        fs.ellipsoid_meshes(np.zeros((1, 2)), np.eye(2)[None], 2.0)
    with pytest.raises(ValueError, match="radius"):
        fs.ellipsoid_meshes(np.zeros((1, 3)), np.eye(3)[None], 0.0)

"""Explorer maths checked against computations made directly on every pixel of the image."""

from __future__ import annotations

import numpy as np
import pytest

import napari_colorquant as ncq
from napari_colorquant import explore

# Vertices off the integer grid, so no uint8 feature value lies on an edge.
TRIANGLE = [(10.37, 12.11), (201.73, 40.29), (90.13, 230.91)]


@pytest.fixture(scope="module")
def photo(astronaut) -> np.ndarray:
    return np.ascontiguousarray(astronaut[::4, ::4])  # 128 x 128 RGB


@pytest.fixture(scope="module")
def photo_run(photo):
    result = ncq.quantize(photo, 5, seed=1)
    return result, explore.feature_data(result, photo)


def _pixel_features(model, image, channel_axis=None):
    """Features of every pixel, computed pixel by pixel (no distinct values, no lookup)."""
    _, layout = model.describe(image, channel_axis)
    rows = np.moveaxis(image, layout.channel_axis, -1) if layout.channel_axis is not None else image[..., None]
    return model.features(rows.reshape(-1, layout.n_channels)), layout.spatial_shape


def test_feature_data_counts_every_pixel_with_its_label(photo, photo_run):
    result, data = photo_run
    assert data.n_pixels == photo.shape[0] * photo.shape[1]
    # Per-value labels agree with the label image: the same cluster counts.
    expected = np.bincount(result.labels.reshape(-1), minlength=6)[1:]
    np.testing.assert_array_equal(explore.cluster_statistics(data)["count"], expected)


def test_density_equals_pixel_level_histogram(photo, photo_run):
    _, data = photo_run
    extent = ((0, 256), (0, 256))
    hist, _, _ = explore.density(data.features, data.counts, (0, 2), bins=64, extent=extent)
    pixels = photo.reshape(-1, 3).astype(float)
    expected, _, _ = np.histogram2d(pixels[:, 0], pixels[:, 2], bins=64, range=extent)
    np.testing.assert_array_equal(hist, expected)


def test_polygon_selection_matches_points_in_poly_on_pixels(photo, photo_run):
    from skimage.measure import points_in_poly

    _, data = photo_run
    selection = explore.Selection().then(explore.Region("polygon", (0, 1), TRIANGLE))
    mask = explore.selection_pixels(data, selection.contains(data.features))
    pixels = photo.reshape(-1, 3).astype(float)
    expected = points_in_poly(pixels[:, :2], np.array(TRIANGLE)).reshape(photo.shape[:2])
    assert mask.dtype == np.uint8 and mask.shape == photo.shape[:2]
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(mask.astype(bool), expected)


def test_add_and_subtract_steps_combine_like_sets(photo, photo_run):
    from matplotlib.patches import Ellipse

    _, data = photo_run
    rectangle = explore.Region("rectangle", (1, 2), [(150.5, 20.5), (40.5, 120.5)])
    oval = explore.Region("ellipse", (1, 2), [(60.5, 60.5), (200.5, 140.5)])
    selection = explore.Selection().then(rectangle).then(oval, "add")
    minus = selection.then(explore.Region("rectangle", (1, 2), [(0, 0), (100.5, 255)]), "subtract")
    g, b = photo[..., 1].reshape(-1).astype(float), photo[..., 2].reshape(-1).astype(float)
    in_rect = (g >= 40.5) & (g <= 150.5) & (b >= 20.5) & (b <= 120.5)
    patch = Ellipse((130.5, 100.5), 140.0, 80.0)
    in_oval = patch.get_patch_transform().transform_path(patch.get_path()).contains_points(np.column_stack([g, b]))
    expected = (in_rect | in_oval).reshape(photo.shape[:2])
    got = explore.selection_pixels(data, selection.contains(data.features)).astype(bool)
    np.testing.assert_array_equal(got, expected)
    got_minus = explore.selection_pixels(data, minus.contains(data.features)).astype(bool)
    np.testing.assert_array_equal(got_minus, expected & (g > 100.5).reshape(photo.shape[:2]))
    assert minus.to_list()[-1]["mode"] == "subtract"


@pytest.mark.parametrize(("max_samples", "strategy"), [(None, "inverse"), (500, "direct")])
def test_chroma_selection_on_float_and_masked_image(astronaut, max_samples, strategy):
    from skimage.measure import points_in_poly

    image = astronaut[::8, ::8].astype(np.float32) / 255.0
    mask = np.zeros(image.shape[:2], bool)
    mask[5:60, 3:50] = True
    options = {} if max_samples is None else {"max_samples": max_samples}
    result = ncq.quantize(image, 3, method="em", color_space="ycrcb-chroma", mask=mask, **options)
    data = explore.feature_data(result, image, mask=mask)
    # equal float values counted once; above max_samples pixels, every pixel once (a sample is fitted)
    assert data.table.strategy == strategy
    polygon = [(0.41, 0.47), (0.62, 0.44), (0.58, 0.63), (0.43, 0.60)]
    got = explore.selection_pixels(data, explore.Selection().then(explore.Region("polygon", (0, 1), polygon)).contains(
        data.features))  # fmt: skip
    features, shape = _pixel_features(result.model, image)
    expected = (points_in_poly(features, np.array(polygon)).reshape(shape)) & mask
    assert expected.any()
    np.testing.assert_array_equal(got.astype(bool), expected)


def test_interval_on_gray_histogram(camera):
    image = camera[::4, ::4]
    result = ncq.quantize(image, 3, method="em")
    data = explore.feature_data(result, image)
    counts, edges = explore.histogram(data.features, data.counts, 0, bins=256, extent=(0, 256))
    np.testing.assert_array_equal(counts, np.bincount(image.reshape(-1), minlength=256))
    region = explore.Region("interval", (0, 0), [(99.5, 160.5)])
    got = explore.selection_pixels(data, region.contains(data.features)).astype(bool)
    np.testing.assert_array_equal(got, (image >= 100) & (image <= 160))
    curves = explore.gaussian_curves(result.model, 0, edges[:-1] + 0.5, data.n_pixels, 1.0)
    # The mixture's expected histogram holds (almost) every pixel.
    assert curves.sum() == pytest.approx(data.n_pixels, rel=0.05)


def test_merge_kmeans_centre_is_the_mean_of_the_merged_pixels(photo, photo_run):
    result, data = photo_run
    merge = explore.merge_clusters(data, [2, 4])
    model = merge.model
    assert model.n_clusters == 4
    members = np.isin(result.labels, [2, 4])
    np.testing.assert_allclose(model.means[merge.label - 1], photo[members].astype(float).mean(axis=0), rtol=1e-10)
    new_labels = merge.mapping[result.labels]
    # Renumbered consistently: merged clusters share one label, the others stay distinct and keep their pixels.
    assert set(np.unique(new_labels)) == {1, 2, 3, 4}
    np.testing.assert_array_equal(new_labels == merge.label, members)
    for old in (1, 3, 5):
        kept = merge.mapping[old]
        np.testing.assert_allclose(model.means[kept - 1], result.model.means[old - 1])
    # Labels stay in the model's brightness order, and the model survives a JSON round trip.
    luma = model.means @ [0.299, 0.587, 0.114]
    assert np.all(np.diff(luma) > 0)
    again = ncq.ClusterModel.from_json(model.to_json())
    assert again.params["merges"] == [{"merged": [2, 4], "into": merge.label}]
    inertia = ((photo.reshape(-1, 3) - model.means[new_labels.reshape(-1) - 1]) ** 2).sum()
    assert model.inertia == pytest.approx(inertia, rel=1e-9)


def test_merge_em_matches_moments_of_the_merged_components(astronaut):
    image = np.ascontiguousarray(astronaut[::6, ::6])
    result = ncq.quantize(image, 4, method="em", color_space="ycrcb-chroma", max_iter=200, epsilon=1e-9)
    data = explore.feature_data(result, image)
    model = result.model
    merge = explore.merge_clusters(data, [1, 3])
    merged = merge.model
    assert merged.mixing_weights.sum() == pytest.approx(1.0)
    # Moments of the 2-component sub-mixture from a large sample drawn from it.
    rng = np.random.default_rng(0)
    w = model.mixing_weights[[0, 2]] / model.mixing_weights[[0, 2]].sum()
    n = rng.multinomial(400_000, w)
    sample = np.concatenate([rng.multivariate_normal(model.means[i], model.covariances[i], size=m)
                             for i, m in zip((0, 2), n, strict=True)])  # fmt: skip
    k = merge.label - 1
    assert merged.mixing_weights[k] == pytest.approx(model.mixing_weights[[0, 2]].sum())
    np.testing.assert_allclose(merged.means[k], sample.mean(axis=0), atol=0.05)
    np.testing.assert_allclose(merged.covariances[k], np.cov(sample.T), rtol=0.02, atol=0.05)
    # At an EM fixed point the moment-matched Gaussian is the refit of the merged responsibilities on the pixels.
    features, _ = _pixel_features(model, image)
    resp = np.exp(model.log_posteriors(features))[:, [0, 2]].sum(axis=1)
    mean = resp @ features / resp.sum()
    centred = features - mean
    cov = (resp[:, None] * centred).T @ centred / resp.sum()
    np.testing.assert_allclose(merged.means[k], mean, atol=0.05)
    np.testing.assert_allclose(merged.covariances[k], cov, rtol=0.02, atol=0.1)
    ncq.ClusterModel.from_json(merged.to_json())  # valid: PD covariances, weights summing to 1


def test_merge_rejects_bad_labels(photo_run):
    _, data = photo_run
    with pytest.raises(ValueError, match="at least 2"):
        explore.merge_clusters(data, [3])
    with pytest.raises(ValueError, match="between 1 and 5"):
        explore.merge_clusters(data, [1, 9])


def test_cluster_statistics_match_pixels(photo, photo_run):
    result, data = photo_run
    stats = explore.cluster_statistics(data)
    for label in range(1, 6):
        members = photo[result.labels == label].astype(float)
        assert stats["count"][label - 1] == len(members)
        assert stats["mean G"][label - 1] == pytest.approx(members[:, 1].mean())
    assert stats["percent"].sum() == pytest.approx(100.0)


def test_mask_and_objects_match_scikit_image(photo_run):
    from scipy import ndimage
    from skimage.measure import label

    result, _ = photo_run
    mask = explore.clusters_mask(result.labels, [2, 3], 5)
    np.testing.assert_array_equal(mask.astype(bool), np.isin(result.labels, [2, 3]))
    found = explore.objects(mask, min_size=20)
    reference = label(mask.astype(bool), connectivity=2)
    sizes = np.bincount(reference.reshape(-1))
    big = np.flatnonzero(sizes >= 20)
    big = big[big > 0]
    assert found.max() == len(big) > 0
    np.testing.assert_array_equal(found > 0, np.isin(reference, big))
    # Same partition as scipy's 8-connected labelling restricted to the kept objects.
    scipy_labels, _ = ndimage.label(found > 0, structure=np.ones((3, 3)))
    assert len(np.unique(np.stack([found.reshape(-1), scipy_labels.reshape(-1)]), axis=1)[0]) == found.max() + 1
    with pytest.raises(ValueError, match="min_size"):
        explore.objects(mask, min_size=0)


def test_objects_of_a_single_region_raise_no_warning():
    """One connected selection is the common case; scikit-image warned 'Only one label was provided' on it."""
    import warnings

    mask = np.zeros((12, 12), np.uint8)
    mask[2:8, 3:9] = 1
    mask[10, 10] = 1  # a 1-pixel speck, removed by min_size
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = explore.objects(mask, min_size=4)
        assert found.max() == 1 and (found == 1).sum() == 36 and found[10, 10] == 0
        one = np.zeros((6, 6), bool)
        one[1:4, 1:4] = True
        np.testing.assert_array_equal(explore.objects(one, min_size=2), one.astype(np.int32))
    np.testing.assert_array_equal(explore.objects(mask, min_size=1) > 0, mask > 0)  # min_size 1 keeps the speck
    diagonal = np.eye(4, dtype=bool)
    assert explore.objects(diagonal, min_size=4).max() == 1  # all-neighbour connectivity by default
    assert explore.objects(diagonal, min_size=2, connectivity=1).max() == 0  # faces only: four 1-pixel objects


def test_projected_ellipse_is_the_marginal_contour():
    mean = np.array([1.0, 2.0, 3.0])
    cov = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, -0.7], [0.5, -0.7, 2.0]])
    vertices = explore.ellipse(mean, cov, (0, 2), "2 sigma")
    block = cov[np.ix_([0, 2], [0, 2])]
    d = vertices - mean[[0, 2]]
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", d, np.linalg.inv(block), d), 4.0)
    assert explore.mahalanobis_radius("95 %") ** 2 == pytest.approx(5.991464547107979)
    with pytest.raises(ValueError, match="confidence"):
        explore.mahalanobis_radius(1.5)


def test_lazy_selection_and_density_match_in_memory(kidney_zcyx):
    da = pytest.importorskip("dask.array")
    image = np.ascontiguousarray(kidney_zcyx[:, :2])  # z, c, y, x uint16; two channels
    lazy = da.from_array(image, chunks=(2, 2, 32, 32))
    result = ncq.quantize(lazy, 3, channel_axis=1)
    data = explore.feature_data(result, lazy, channel_axis=1)
    assert data.lazy
    eager = explore.feature_data(ncq.quantize(image, 3, channel_axis=1), image, channel_axis=1)
    extent = ((0, 65536), (0, 65536))
    np.testing.assert_array_equal(
        explore.density(data.features, data.counts, (0, 1), 32, extent)[0],
        explore.density(eager.features, eager.counts, (0, 1), 32, extent)[0],
    )
    lo, hi = np.percentile(image, [20, 80])
    polygon = [(lo + 0.3, lo + 0.1), (hi + 0.7, lo + 0.2), (hi + 0.4, hi + 0.9)]
    selection = explore.Selection().then(explore.Region("polygon", (0, 1), polygon))
    got = explore.selection_pixels(data, selection.contains(data.features), selection)
    assert isinstance(got, da.Array)
    from skimage.measure import points_in_poly

    pixels = np.moveaxis(image, 1, -1).reshape(-1, 2).astype(float)
    expected = points_in_poly(pixels, np.array(polygon)).reshape(image.shape[0], *image.shape[2:])
    assert expected.any()
    np.testing.assert_array_equal(got.compute().astype(bool), expected)
    mask = explore.clusters_mask(result.labels, [1], 3)
    np.testing.assert_array_equal(mask.compute().astype(bool), np.asarray(result.labels) == 1)


def test_region_values_are_the_pixels_of_the_region(photo, photo_run):
    _, data = photo_run
    region = np.zeros(photo.shape[:2], bool)
    region[20:70, 30:90] = True
    features, counts = explore.region_values(data, region)
    extent = ((0, 256), (0, 256))
    got = explore.density(features, counts, (0, 1), 32, extent)[0]
    pixels = photo[region].astype(float)
    np.testing.assert_array_equal(got, np.histogram2d(pixels[:, 0], pixels[:, 1], bins=32, range=extent)[0])
    assert counts.sum() == region.sum()
    with pytest.raises(ValueError, match="pixel grid"):
        explore.region_values(data, region[1:])


@pytest.mark.parametrize("dense_cells", [explore._PLANE_DENSE_KEYS, 0])
def test_selection_by_distinct_pairs_matches_every_pixel(monkeypatch, dense_cells):
    from skimage.measure import points_in_poly

    monkeypatch.setattr(explore, "_PLANE_DENSE_KEYS", dense_cells)  # 0: the sorting path
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(300, 300, 3), dtype=np.uint8)  # ~90,000 distinct colours
    data = explore.feature_data(ncq.quantize(image, 3, max_iter=2), image)
    assert data.values.shape[0] >= explore._PLANE_MIN_VALUES
    polygon = [(20.5, 30.5), (240.5, 60.5), (130.5, 250.5)]
    selection = (
        explore.Selection()
        .then(explore.Region("polygon", (0, 1), polygon))
        .then(explore.Region("rectangle", (1, 2), [(0.5, 0.5), (90.5, 200.5)]), "subtract")
        .then(explore.Region("interval", (2, 2), [(250.5, 255.5)]), "add")
    )
    # The density over the distinct shown pairs is the density over every value.
    rows, weights = explore.shown_values(data, (0, 1))
    assert rows.shape[0] < data.values.shape[0]
    np.testing.assert_array_equal(explore.density(rows, weights, (0, 1))[0],
                                  explore.density(data.features, data.counts, (0, 1))[0])  # fmt: skip
    per_value = explore.selected_values(data, selection)
    assert data._planes[(0, 1)] is not None and data._planes[(2, 2)] is not None  # the pair path was taken
    np.testing.assert_array_equal(per_value, selection.contains(data.features))
    pixels = image.reshape(-1, 3).astype(float)
    box = (pixels[:, 1] >= 0.5) & (pixels[:, 1] <= 90.5) & (pixels[:, 2] >= 0.5) & (pixels[:, 2] <= 200.5)
    expected = (points_in_poly(pixels[:, :2], np.array(polygon)) & ~box) | (pixels[:, 2] >= 250.5)
    mask = explore.selection_pixels(data, per_value)
    np.testing.assert_array_equal(mask.reshape(-1).astype(bool), expected)


@pytest.mark.parametrize("lazy", [False, True])
def test_labels_painted_above_k_are_kept_by_a_merge_and_in_no_cluster_mask(lazy):
    labels = np.array([[1, 2, 3], [99, 2, 0]], np.uint8)  # 99: painted by hand in napari, above K = 3
    image = labels
    if lazy:
        da = pytest.importorskip("dask.array")
        image = da.from_array(labels, chunks=(1, 2))
    merged = np.asarray(explore.relabel(image, np.array([0, 1, 1, 2])))
    np.testing.assert_array_equal(merged, [[1, 1, 2], [99, 1, 0]])
    mask = np.asarray(explore.clusters_mask(image, [1, 2], 3))
    np.testing.assert_array_equal(mask, [[1, 1, 0], [0, 1, 0]])

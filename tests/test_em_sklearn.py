"""Weighted EM agrees with scikit-learn's GaussianMixture on the expanded data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from napari_colorquant import quantize
from napari_colorquant.em import initial_parameters, weighted_em
from napari_colorquant.kmeans import nearest_center

_SKLEARN_TYPES = {"full": "full", "diagonal": "diag", "spherical": "spherical"}


def _distinct(rows):
    values, counts = np.unique(rows, axis=0, return_counts=True)
    return values.astype(np.float64), counts.astype(np.float64)


def _precisions(covs, covariance):
    precisions = np.linalg.inv(covs)
    if covariance == "diagonal":
        return np.array([np.diag(p) for p in precisions])
    if covariance == "spherical":
        return precisions[:, 0, 0]
    return precisions


@pytest.mark.parametrize("covariance", ["full", "diagonal", "spherical"])
@pytest.mark.parametrize("n_iter", [1, 5])
def test_weighted_em_matches_sklearn_on_expanded_pixels(china, covariance, n_iter):
    pixels = china[200:260, 300:380].reshape(-1, 3).astype(np.float64)
    values, counts = _distinct(pixels)
    rng = np.random.default_rng(7)
    start = values[rng.choice(len(values), 4, replace=False)]
    labels, _ = nearest_center(values, start)
    weights0, means0, covs0 = initial_parameters(values, counts, start, labels, covariance, 1e-6)

    fit = weighted_em(values, counts, means0, covs0, weights0, covariance=covariance, max_iter=n_iter, epsilon=0.0)
    reference = GaussianMixture(
        4,
        covariance_type=_SKLEARN_TYPES[covariance],
        max_iter=n_iter,
        tol=0.0,
        reg_covar=1e-6,
        weights_init=weights0,
        means_init=means0,
        precisions_init=_precisions(covs0, covariance),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference.fit(pixels)

    np.testing.assert_allclose(fit.means, reference.means_, rtol=1e-6)
    np.testing.assert_allclose(fit.weights, reference.weights_, rtol=1e-6)
    sk_covs = reference.covariances_
    if covariance == "diagonal":
        sk_covs = np.array([np.diag(c) for c in sk_covs])
    elif covariance == "spherical":
        sk_covs = np.array([np.eye(3) * c for c in sk_covs])
    np.testing.assert_allclose(fit.covariances, sk_covs, rtol=1e-6)
    np.testing.assert_allclose(fit.log_likelihood, reference.score(pixels), rtol=1e-9)
    expanded_labels = np.repeat(fit.labels, counts.astype(int))
    order = np.lexsort(pixels.T[::-1])
    np.testing.assert_array_equal(expanded_labels, reference.predict(pixels)[order])


@pytest.mark.parametrize("covariance", ["full", "diagonal", "spherical"])
def test_log_likelihood_never_decreases(camera, flower, covariance):
    small_camera, small_flower = camera[100:300, 150:350], flower[100:260, 200:420]
    for image, k, space in [(small_camera, 4, "auto"), (small_flower, 5, "lab"), (small_flower, 3, "ycrcb-chroma")]:
        result = quantize(image, k, method="em", covariance=covariance, color_space=space, max_iter=25, epsilon=0.0)
        assert result.model.n_iter == 25
        from napari_colorquant.colorspaces import to_features

        rows = image.reshape(-1, 1) if image.ndim == 2 else image.reshape(-1, 3)
        values, counts = _distinct(rows)
        features = to_features(values, result.model.color_space, result.model.scale, result.model.offset)
        start = result.model.means  # any start: re-run from the fitted model and check the trace
        labels, _ = nearest_center(features, start)
        w0, m0, c0 = initial_parameters(features, counts, start, labels, covariance, 1e-6)
        fit = weighted_em(features, counts, m0, c0, w0, covariance=covariance, max_iter=15, epsilon=0.0)
        history = np.array(fit.history)
        assert len(history) == 16
        assert (np.diff(history) >= -1e-9 * np.abs(history[1:])).all(), history

"""The EM kernels: precision factors, and the fused E-step + moment sums, against direct formulas."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import solve_triangular
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from napari_colorquant import _threads, em


def _spd(rng, n_clusters, n_features):
    factors = rng.normal(size=(n_clusters, n_features, n_features))
    return factors @ factors.transpose(0, 2, 1) + 0.05 * np.eye(n_features)


@pytest.mark.parametrize("n_features", [1, 2, 3, 4, 7])
def test_precision_cholesky_matches_scipy(n_features):
    covariances = _spd(np.random.default_rng(n_features), 5, n_features)
    expected = [solve_triangular(np.linalg.cholesky(c), np.eye(n_features), lower=True).T for c in covariances]
    got = em.precision_cholesky(covariances)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    assert np.array_equal(np.triu(got), got)
    for factor, covariance in zip(got, covariances, strict=True):  # P P^T is the precision
        np.testing.assert_allclose(factor @ factor.T, np.linalg.inv(covariance), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("bad", [np.diag([1.0, -1.0]), np.full((2, 2), np.nan)])
def test_precision_cholesky_names_the_cluster_that_is_not_positive_definite(bad):
    with pytest.raises(ValueError, match="covariance of cluster 2 is not positive definite"):
        em.precision_cholesky(np.stack([np.eye(2), bad]))


def _direct_step(samples, weight, means, covariances, mixing, reg_covar):
    """One E+M step written out: scipy densities, posteriors, weighted means and covariances."""
    joint = np.column_stack(
        [
            multivariate_normal(m, c).logpdf(samples) + np.log(p)
            for m, c, p in zip(means, covariances, mixing, strict=True)
        ]
    )
    log_norm = logsumexp(joint, axis=1)
    resp = np.exp(joint - log_norm[:, None]) * weight[:, None]
    mass = resp.sum(axis=0)
    new_means = resp.T @ samples / mass[:, None]
    new_covs = np.array(
        [(resp[:, k, None] * (samples - new_means[k])).T @ (samples - new_means[k]) / mass[k] for k in range(len(mass))]
    )
    new_covs += reg_covar * np.eye(samples.shape[1])
    return weight @ log_norm, mass / mass.sum(), new_means, new_covs


@pytest.mark.parametrize("n_features", [1, 3, 4])
def test_fused_e_and_m_step_equals_the_direct_formulas(n_features):
    rng = np.random.default_rng(3)
    n, k = 40_000, 3  # several chunks of the pool, the last one partial
    samples = rng.normal(size=(n, n_features)) * 40 + 120
    weight = rng.integers(1, 50, n).astype(np.float64)
    means = samples[rng.choice(n, k, replace=False)]
    covariances = _spd(rng, k, n_features) * 300
    mixing = np.array([0.2, 0.5, 0.3])
    samples_t = samples.T.copy()
    log_likelihood, maximise = em._expectation(samples_t, weight, samples_t.mean(axis=1), means, covariances, mixing)
    new_mixing, new_means, new_covs = maximise("full", 1e-3)
    expected = _direct_step(samples, weight, means, covariances, mixing, 1e-3)
    assert log_likelihood == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(new_mixing, expected[1], rtol=1e-10)
    np.testing.assert_allclose(new_means, expected[2], rtol=1e-10)
    np.testing.assert_allclose(new_covs, expected[3], rtol=1e-8, atol=1e-10)


def test_moment_sums_do_not_depend_on_the_thread_count(monkeypatch):
    rng = np.random.default_rng(5)
    samples_t = rng.normal(size=(3, 50_000)) * 30
    weight = rng.random(50_000)
    means, covariances, mixing = samples_t[:, :4].T.copy(), _spd(rng, 4, 3) * 100, np.full(4, 0.25)
    centre = samples_t.mean(axis=1)
    runs = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("COLORQUANT_THREADS", threads)
        monkeypatch.setattr(_threads, "_POOL", None)
        runs.append(em._e_step_sums(samples_t, weight, centre, means, covariances, mixing))
    for sums, log_likelihood in runs[1:]:
        assert np.array_equal(sums, runs[0][0]) and log_likelihood == runs[0][1]


@pytest.mark.parametrize("n_clusters", [4, 200])  # 200 components with 3 features: three component blocks
def test_most_probable_equals_argmax_and_logsumexp_of_the_densities(n_clusters):
    rng = np.random.default_rng(11)
    samples = rng.normal(size=(3000, 3)) * 50
    means = rng.normal(size=(n_clusters, 3)) * 50
    covariances = _spd(rng, n_clusters, 3) * 80
    mixing = rng.random(n_clusters) + 0.1
    mixing /= mixing.sum()
    means[1], covariances[1], mixing[1] = means[0], covariances[0], mixing[0]  # a tie: the lower index wins
    joint = np.column_stack(
        [
            multivariate_normal(m, c).logpdf(samples) + np.log(p)
            for m, c, p in zip(means, covariances, mixing, strict=True)
        ]
    )
    labels, log_norm = em.most_probable(samples, means, covariances, mixing)
    np.testing.assert_array_equal(labels, joint.argmax(axis=1))
    np.testing.assert_allclose(log_norm, logsumexp(joint, axis=1), rtol=1e-12)
    assert 1 not in labels

"""Weighted Expectation-Maximization for Gaussian mixtures.

Written here because no maintained library offers it: scikit-learn's
``GaussianMixture.fit`` takes no sample weights, and neither does OpenCV's
``cv2.ml.EM``. Weights are what make the fast engine possible: EM runs on the
distinct pixel values of an image, each weighted by its pixel count, which is
the same mixture as EM on every pixel (the E-step of a pixel depends only on
its value; the M-step sums are sums over repeated values).

The E- and M-steps follow scikit-learn's formulation (Cholesky factors of the
precision matrices, ``reg_covar`` added to the diagonal, ``10 * eps`` added to
the component masses) so that, without weights, the iterations match
``GaussianMixture`` from the same starting parameters. Termination follows
OpenCV's EM: stop after ``max_iter`` iterations, or when the log-likelihood
grew by less than ``epsilon`` times its magnitude.

Covariance types: ``full``, ``diagonal`` and ``spherical``; covariances are
always returned as full ``(K, F, F)`` matrices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._threads import for_chunks, run_all

COVARIANCE_TYPES = ("full", "diagonal", "spherical")
_MASS_EPS = 10 * np.finfo(np.float64).eps
_LOG_2PI = np.log(2 * np.pi)
# Up to this many features the E-step and the M-step's moment sums are one chunked pass (moment_sums).
_BASIS_FEATURES = 4


@dataclass
class EMFit:
    """Result of :func:`weighted_em`.

    Attributes
    ----------
    means : ndarray (K, F)
    covariances : ndarray (K, F, F)
    weights : ndarray (K,)
        Mixing proportions, summing to 1.
    labels : ndarray (n,)
        Most probable component (0..K-1) of each sample under the final parameters.
    log_likelihood : float
        Weighted mean log-likelihood per sample under the final parameters.
    n_iter : int
        M-steps run.
    converged : bool
    history : list of float
        Mean log-likelihood before each M-step, then the final one.
    """

    means: np.ndarray
    covariances: np.ndarray
    weights: np.ndarray
    labels: np.ndarray
    log_likelihood: float
    n_iter: int
    converged: bool
    history: list[float] = field(default_factory=list)


def precision_cholesky(covariances: np.ndarray) -> np.ndarray:
    """Upper-triangular ``P`` with ``P @ P.T`` the precision, per component.

    One batched Cholesky factorisation ``C = L L^T`` and ``P = L^{-T}`` by forward substitution
    over all components at once (:func:`_inverse_lower`).

    Parameters
    ----------
    covariances : ndarray (K, F, F)
        Covariance matrices.

    Returns
    -------
    ndarray (K, F, F)
        ``P_k = inv(L_k).T`` (scikit-learn's ``precisions_cholesky_``).

    Raises
    ------
    ValueError
        If a covariance is not positive definite.
    """
    covariances = np.asarray(covariances, dtype=np.float64)
    try:
        chol = np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError:
        chol = None
    if chol is None or not np.isfinite(chol).all():
        for k, cov in enumerate(covariances):
            try:
                factor = np.linalg.cholesky(cov)
            except np.linalg.LinAlgError:
                factor = None
            if factor is None or not np.isfinite(factor).all():
                raise ValueError(
                    f"covariance of cluster {k + 1} is not positive definite (a cluster collapsed onto "
                    "too few distinct values); use fewer clusters or a larger reg_covar"
                )
    return _inverse_lower(chol).transpose(0, 2, 1)


def _inverse_lower(lower: np.ndarray) -> np.ndarray:
    """Inverses of stacked lower-triangular matrices ``(K, F, F)`` by forward substitution.

    Hand-written because the library call is per matrix: ``scipy.linalg.solve_triangular`` on one
    3x3 factor took 16 ms inside an EM iteration (LAPACK dispatch and its thread pool competing with
    ours), more than the E-step over a million values; here every component's row ``i`` is one
    element-wise NumPy expression, F rows in all, no BLAS or LAPACK involved.
    """
    n_features = lower.shape[-1]
    inverse = np.zeros_like(lower)
    for i in range(n_features):
        pivot = lower[:, i, i]
        inverse[:, i, i] = 1.0 / pivot
        if i:
            products = lower[:, i, :i, None] * inverse[:, :i, :i]
            inverse[:, i, :i] = -products.sum(axis=1) / pivot[:, None]
    return inverse


def _gaussian_terms(means: np.ndarray, covariances: np.ndarray, weights: np.ndarray | None):
    """Stacked Cholesky factors ``(K*F, F)``, their offsets ``(K*F, 1)`` and each component's constant ``(K, 1)``.

    ``factors @ x.T - offsets`` gives every component's whitened ``((x - mean) @ P_k).T`` in one
    matmul, component-major so that the sums over features and components run along long rows;
    the constant is ``log det P_k - F/2 log 2 pi`` (plus ``log weight_k`` when weights are given).
    """
    prec_chol = precision_cholesky(covariances)
    n_clusters, n_features = means.shape
    factors = prec_chol.transpose(0, 2, 1).reshape(n_clusters * n_features, n_features)
    offsets = np.einsum("kf,kfg->kg", means, prec_chol).reshape(-1, 1)
    constant = np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1) - 0.5 * n_features * _LOG_2PI
    if weights is not None:
        constant = constant + np.log(weights)
    return factors, offsets, constant[:, None]


def _log_densities(rows_t: np.ndarray, factors: np.ndarray, offsets: np.ndarray, constant: np.ndarray) -> np.ndarray:
    """Log density (plus constant) of each row under each component, component-major ``(K, rows)``.

    ``rows_t`` is feature-major ``(F, rows)`` (a transposed view of ``(rows, F)`` samples is fine).
    """
    whitened = factors @ rows_t
    whitened -= offsets
    whitened *= whitened
    out = whitened.reshape(constant.shape[0], -1, rows_t.shape[1]).sum(axis=1)
    out *= -0.5
    out += constant
    return out


def _row_block(n_clusters: int, n_features: int) -> int:
    return max(256, min(1 << 14, (1 << 19) // max(1, n_clusters * n_features)))


def log_gaussians(samples: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """Log density of each sample under each Gaussian component, ``(n, K)``.

    Parameters
    ----------
    samples : ndarray (n, F)
        Feature rows.
    means : ndarray (K, F)
        Component means.
    covariances : ndarray (K, F, F)
        Component covariances.

    Returns
    -------
    ndarray (n, K) of float64
        ``log N(x_i; mu_k, Sigma_k)``.

    Raises
    ------
    ValueError
        If a covariance is not positive definite.
    """
    samples = np.asarray(samples, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    terms = _gaussian_terms(means, covariances, None)
    out = np.empty((samples.shape[0], means.shape[0]))

    def block(start: int, stop: int) -> None:
        out[start:stop] = _log_densities(samples[start:stop].T, *terms).T

    for_chunks(block, samples.shape[0], _row_block(*means.shape))
    return out


def e_step(
    samples: np.ndarray, means: np.ndarray, covariances: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Log posteriors ``(n, K)`` and log-likelihood ``(n,)`` of each sample (the E-step).

    Parameters
    ----------
    samples : ndarray (n, F)
        Feature rows.
    means : ndarray (K, F)
        Component means.
    covariances : ndarray (K, F, F)
        Component covariances.
    weights : ndarray (K,)
        Mixing proportions.

    Returns
    -------
    log_resp : ndarray (n, K)
        ``log P(k | x_i)``.
    log_likelihood : ndarray (n,)
        ``log sum_k w_k N(x_i; mu_k, Sigma_k)``.

    References
    ----------
    Dempster, A. P., Laird, N. M. and Rubin, D. B. (1977). Maximum likelihood from incomplete data
    via the EM algorithm. Journal of the Royal Statistical Society B, 39(1), 1-38.
    """
    joint = log_gaussians(samples, means, covariances) + np.log(weights)
    peak = joint.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(joint - peak).sum(axis=1)) + peak[:, 0]
    return joint - log_norm[:, None], log_norm


def most_probable(
    samples: np.ndarray, means: np.ndarray, covariances: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Most probable component ``(n,)`` and log-likelihood ``(n,)`` of each sample, in bounded memory.

    Rows and components are both taken in blocks (a running log-sum-exp over the component
    blocks), so memory stays a few MB per thread whatever n and K; ties go to the lowest index.

    Parameters
    ----------
    samples : ndarray (n, F)
        Feature rows.
    means : ndarray (K, F)
        Component means.
    covariances : ndarray (K, F, F)
        Component covariances.
    weights : ndarray (K,)
        Mixing proportions.

    Returns
    -------
    labels : ndarray (n,) of intp
        Component 0..K-1 of highest posterior.
    log_likelihood : ndarray (n,)
        Log-likelihood of each sample under the mixture.
    """
    samples = np.asarray(samples, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    covariances = np.asarray(covariances, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    n_clusters, n_features = means.shape
    step = max(1, min(n_clusters, 256 // n_features))
    blocks = [
        (lo, _gaussian_terms(means[lo : lo + step], covariances[lo : lo + step], weights[lo : lo + step]))
        for lo in range(0, n_clusters, step)
    ]
    labels = np.empty(samples.shape[0], dtype=np.intp)
    log_norm = np.empty(samples.shape[0])

    def block(start: int, stop: int) -> None:
        rows_t = samples[start:stop].T
        chunk_labels = np.zeros(stop - start, dtype=np.intp)
        best = np.full(stop - start, -np.inf)
        total = peak = None
        for lo, terms in blocks:
            joint = _log_densities(rows_t, *terms)
            # Component rows compared in turn (strictly greater: ties keep the lowest index), not an
            # argmax along the short component axis.
            for k, row in enumerate(joint, start=lo):
                chunk_labels[row > best] = k
                np.maximum(best, row, out=best)
            joint -= best
            np.exp(joint, out=joint)
            block_total = joint.sum(axis=0)
            total = block_total if total is None else total * np.exp(peak - best) + block_total
            peak = best.copy()
        labels[start:stop] = chunk_labels
        log_norm[start:stop] = np.log(total) + peak

    for_chunks(block, samples.shape[0], _row_block(min(step, n_clusters), n_features))
    return labels, log_norm


def _responsibilities(
    samples: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors, component-major ``(K, n)`` (not their logs: the M-step needs them), and log-likelihood ``(n,)``.

    Computed in row blocks on the thread pool; the maxima and sums over components are
    element-wise operations on K long rows rather than reductions along a short axis.
    """
    terms = _gaussian_terms(means, covariances, weights)
    resp = np.empty((means.shape[0], samples.shape[0]))
    log_norm = np.empty(samples.shape[0])

    def block(start: int, stop: int) -> None:
        joint = _log_densities(samples[start:stop].T, *terms)
        peak = joint.max(axis=0)
        joint -= peak
        np.exp(joint, out=joint)
        total = joint.sum(axis=0)
        joint /= total
        resp[:, start:stop] = joint
        log_norm[start:stop] = np.log(total) + peak

    for_chunks(block, samples.shape[0], _row_block(*means.shape))
    return resp, log_norm


def m_step(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    responsibilities: np.ndarray,
    covariance: str,
    reg_covar: float,
    means: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mixing weights, means and full covariance matrices from weighted responsibilities (the M-step).

    ``means``, when given, are used instead of re-estimating them (to build
    covariances around given initial means).

    Parameters
    ----------
    samples : ndarray (n, F)
        Feature rows.
    sample_weight : ndarray (n,)
        Pixels per row.
    responsibilities : ndarray (n, K)
        Posterior of each component per row (or a one-hot hard assignment).
    covariance : {"full", "diagonal", "spherical"}
        Covariance type; the result is always full ``(K, F, F)`` matrices.
    reg_covar : float
        Added to every covariance diagonal.
    means : ndarray (K, F), optional
        Fixed means.

    Returns
    -------
    weights : ndarray (K,)
    means : ndarray (K, F)
    covariances : ndarray (K, F, F)

    References
    ----------
    Dempster, A. P., Laird, N. M. and Rubin, D. B. (1977). Maximum likelihood from incomplete data
    via the EM algorithm. Journal of the Royal Statistical Society B, 39(1), 1-38.
    """
    weighted_t = (responsibilities * sample_weight[:, None]).T.copy()
    return _m_step_t(samples.T.copy(), weighted_t, covariance, reg_covar, means)


Weigh = Callable[[int, int], tuple[np.ndarray, float]]


def moment_sums(samples_t: np.ndarray, centre: np.ndarray, n_clusters: int, weigh: Weigh) -> tuple[np.ndarray, float]:
    """Each component's weighted moments of the samples about ``centre``, in one chunked pass.

    ``weigh(start, stop)`` gives the weighted responsibilities ``(K, stop - start)`` of a chunk of
    samples and a number to add up (the E-step's log-likelihood). Row ``k`` of the result holds
    ``sum r_ik``, ``sum r_ik y_i`` and the upper triangle of ``sum r_ik y_i y_i^T`` with
    ``y_i = x_i - centre``: all an M-step needs (:func:`_from_moments`). The responsibilities
    exist only a chunk at a time, in cache, on the thread pool; the chunks' partial sums are added
    in chunk order, so the result does not depend on the number of threads.

    Parameters
    ----------
    samples_t : ndarray (F, n)
        The samples, one feature per row.
    centre : ndarray (F,)
        The point the moments are taken about (e.g. the samples' mean, for precision).
    n_clusters : int
        K.
    weigh : callable
        ``weigh(start, stop) -> (weighted responsibilities (K, stop - start), float)``.

    Returns
    -------
    sums : ndarray (K, 1 + F + F(F+1)/2)
    total : float
        The sum of ``weigh``'s numbers.
    """
    n_features, n_samples = samples_t.shape
    pairs = list(zip(*np.triu_indices(n_features), strict=True))
    chunk = _row_block(n_clusters, n_features)
    partial = np.zeros((-(-n_samples // chunk), n_clusters, 1 + n_features + len(pairs)))
    numbers = np.zeros(partial.shape[0])

    def block(start: int, stop: int) -> None:
        weighted, numbers[start // chunk] = weigh(start, stop)
        basis = np.empty((partial.shape[2], stop - start))
        basis[0] = 1.0
        centred = basis[1 : 1 + n_features]
        np.subtract(samples_t[:, start:stop], centre[:, None], out=centred)
        for row, (i, j) in enumerate(pairs, start=1 + n_features):
            np.multiply(centred[i], centred[j], out=basis[row])
        partial[start // chunk] = weighted @ basis.T

    for_chunks(block, n_samples, chunk)
    return partial.sum(axis=0), float(numbers.sum())


def _from_moments(
    sums: np.ndarray, centre: np.ndarray, covariance: str, reg_covar: float, means: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mixing weights, means and covariances from :func:`moment_sums` (``means`` given: kept).

    With ``d_k = mean_k - centre``, ``M_k`` the first and ``S_k`` the second moments about the
    centre, ``sum r_ik (x_i - mean_k)(x_i - mean_k)^T = S_k - M_k d_k^T - d_k M_k^T + m_k d_k d_k^T``
    (``m_k`` the plain sum of the responsibilities, so an empty component gets 0, as the direct
    formula gives). Centring on the data's mean keeps the cancellation to a few digits of float64.
    """
    n_clusters, n_features = sums.shape[0], centre.size
    plain = sums[:, 0]
    mass = plain + _MASS_EPS
    first = sums[:, 1 : 1 + n_features]
    if means is None:
        means = (first + plain[:, None] * centre) / mass[:, None]
    rows, cols = np.triu_indices(n_features)
    second = np.empty((n_clusters, n_features, n_features))
    second[:, rows, cols] = sums[:, 1 + n_features :]
    second[:, cols, rows] = sums[:, 1 + n_features :]
    offset = means - centre
    cross = first[:, :, None] * offset[:, None, :]
    second -= cross + cross.transpose(0, 2, 1)
    second += plain[:, None, None] * offset[:, :, None] * offset[:, None, :]
    full = second / mass[:, None, None]
    return mass / mass.sum(), means, _shaped(full, covariance, reg_covar)


def _shaped(full: np.ndarray, covariance: str, reg_covar: float) -> np.ndarray:
    """Full covariances ``(K, F, F)`` regularised and reduced to the covariance type (still full matrices)."""
    n_features = full.shape[1]
    diagonal = np.diagonal(full, axis1=1, axis2=2) + reg_covar
    if covariance == "full":
        full[:, np.arange(n_features), np.arange(n_features)] = diagonal
        return full
    if covariance == "spherical":
        return diagonal.mean(axis=1)[:, None, None] * np.eye(n_features)
    return diagonal[:, :, None] * np.eye(n_features)


def _m_step_t(
    samples_t: np.ndarray,
    weighted_t: np.ndarray,
    covariance: str,
    reg_covar: float,
    means: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`m_step` on feature-major samples ``(F, n)`` and weighted responsibilities ``(K, n)``."""
    n_clusters, n_features = weighted_t.shape[0], samples_t.shape[0]
    if n_features <= _BASIS_FEATURES:
        centre = samples_t.mean(axis=1)
        sums, _ = moment_sums(samples_t, centre, n_clusters, lambda start, stop: (weighted_t[:, start:stop], 0.0))
        return _from_moments(sums, centre, covariance, reg_covar, means)
    mass = weighted_t.sum(axis=1) + _MASS_EPS
    if means is None:
        means = (weighted_t @ samples_t.T) / mass[:, None]

    def component(k: int) -> np.ndarray:
        diff_t = samples_t - means[k][:, None]
        if covariance == "full":
            cov = (diff_t * weighted_t[k]) @ diff_t.T / mass[k]
            cov.flat[:: n_features + 1] += reg_covar
            return cov
        variances = (diff_t * diff_t) @ weighted_t[k] / mass[k] + reg_covar
        if covariance == "spherical":
            variances = np.full(n_features, variances.mean())
        return np.diag(variances)

    covariances = np.array(run_all([lambda k=k: component(k) for k in range(n_clusters)])).reshape(
        n_clusters, n_features, n_features
    )
    mixing = mass / mass.sum()
    return mixing, means, covariances


def _e_step_sums(samples_t, sample_weight, centre, means, covariances, weights) -> tuple[np.ndarray, float]:
    """E-step and the M-step's sums in one chunked pass: :func:`moment_sums` and the weighted log-likelihood."""
    terms = _gaussian_terms(means, covariances, weights)

    def weigh(start: int, stop: int) -> tuple[np.ndarray, float]:
        joint = _log_densities(samples_t[:, start:stop], *terms)
        peak = joint.max(axis=0)
        joint -= peak
        np.exp(joint, out=joint)
        total = joint.sum(axis=0)
        weight = sample_weight[start:stop]
        log_likelihood = float(weight @ (np.log(total) + peak))
        joint *= weight / total
        return joint, log_likelihood

    return moment_sums(samples_t, centre, means.shape[0], weigh)


def _expectation(samples_t, sample_weight, centre, means, covariances, weights):
    """The E-step: weighted log-likelihood sum under the parameters, and ``maximise(covariance, reg_covar)``.

    With a ``centre`` (few features) the M-step's sums are gathered in the same pass
    (:func:`_e_step_sums`); otherwise the posteriors are kept for :func:`_m_step_t`.
    """
    if centre is not None:
        sums, log_likelihood = _e_step_sums(samples_t, sample_weight, centre, means, covariances, weights)
        return log_likelihood, lambda covariance, reg_covar: _from_moments(sums, centre, covariance, reg_covar)
    resp, log_norm = _responsibilities(samples_t.T, means, covariances, weights)
    resp *= sample_weight
    return float(sample_weight @ log_norm), lambda covariance, reg_covar: _m_step_t(
        samples_t, resp, covariance, reg_covar
    )


def check_covariance(covariance: str) -> str:
    """Validate a covariance type name (``"diag"`` is accepted for ``"diagonal"``).

    Parameters
    ----------
    covariance : str
        The name.

    Returns
    -------
    str
        One of ``COVARIANCE_TYPES``.

    Raises
    ------
    ValueError
        For an unknown name, listing the accepted ones.
    """
    name = {"diag": "diagonal", "generic": "full"}.get(covariance, covariance)
    if name not in COVARIANCE_TYPES:
        raise ValueError(f"unknown covariance {covariance!r}; accepted: 'full', 'diagonal', 'spherical'")
    return name


def weighted_em(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    weights: np.ndarray,
    *,
    covariance: str = "full",
    max_iter: int = 10,
    epsilon: float = 0.2,
    reg_covar: float = 1e-6,
    on_iteration: Callable[[int], None] | None = None,
) -> EMFit:
    """Weighted EM from given initial parameters.

    Parameters
    ----------
    samples : ndarray (n, F)
    sample_weight : ndarray (n,)
    means, covariances, weights : ndarray
        Initial parameters ``(K, F)``, ``(K, F, F)``, ``(K,)``.
    covariance : {"full", "diagonal", "spherical"}
    max_iter : int
        Maximum number of E+M iterations.
    epsilon : float
        Stop when the mean log-likelihood grew by less than
        ``epsilon * |log-likelihood|`` (OpenCV's rule); 0 runs all iterations
        unless the likelihood falls.
    reg_covar : float
        Added to covariance diagonals (as scikit-learn does).
    on_iteration : callable, optional
        Called with the number of M-steps run so far; may raise to abort.

    Returns
    -------
    EMFit

    Raises
    ------
    ValueError
        For an unknown covariance type, or a covariance that is not positive definite.

    References
    ----------
    Dempster, A. P., Laird, N. M. and Rubin, D. B. (1977). Maximum likelihood from incomplete data
    via the EM algorithm. Journal of the Royal Statistical Society B, 39(1), 1-38.
    """
    covariance = check_covariance(covariance)
    samples = np.asarray(samples, dtype=np.float64)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    total = sample_weight.sum()
    means = np.array(means, dtype=np.float64)
    covariances = np.array(covariances, dtype=np.float64)
    weights = np.array(weights, dtype=np.float64)
    samples_t = samples.T.copy()
    # Up to _BASIS_FEATURES features the E-step and the M-step's sums are one chunked pass.
    centre = samples_t.mean(axis=1) if samples.shape[1] <= _BASIS_FEATURES else None
    history: list[float] = []
    previous = None
    n_iter, converged = 0, False
    for _ in range(max_iter):
        log_likelihood, maximise = _expectation(samples_t, sample_weight, centre, means, covariances, weights)
        current = log_likelihood / total
        history.append(current)
        if previous is not None and current - previous < epsilon * abs(current):
            converged = True
            break
        weights, means, covariances = maximise(covariance, reg_covar)
        n_iter += 1
        previous = current
        if on_iteration is not None:
            on_iteration(n_iter)
    labels, log_norm = most_probable(samples, means, covariances, weights)
    if not converged:
        history.append(float(sample_weight @ log_norm / total))
    return EMFit(
        means=means,
        covariances=covariances,
        weights=weights,
        labels=labels,
        log_likelihood=history[-1],
        n_iter=n_iter,
        converged=converged,
        history=history,
    )


def initial_parameters(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    means: np.ndarray,
    labels: np.ndarray,
    covariance: str,
    reg_covar: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starting mixture from a hard assignment: given means, covariances and weights of each cluster.

    Parameters
    ----------
    samples : ndarray (n, F)
        Feature rows.
    sample_weight : ndarray (n,)
        Pixels per row.
    means : ndarray (K, F)
        The clusters' centres (kept as the initial means).
    labels : ndarray (n,) of int
        Cluster 0..K-1 of each row.
    covariance : {"full", "diagonal", "spherical"}
        Covariance type.
    reg_covar : float
        Added to every covariance diagonal.

    Returns
    -------
    weights : ndarray (K,)
    means : ndarray (K, F)
    covariances : ndarray (K, F, F)
    """
    samples = np.asarray(samples, dtype=np.float64)
    n_samples, n_clusters = samples.shape[0], means.shape[0]
    if samples.shape[1] > _BASIS_FEATURES:
        one_hot = np.zeros((n_samples, n_clusters))
        one_hot[np.arange(n_samples), labels] = 1.0
        return m_step(samples, sample_weight, one_hot, covariance, reg_covar, means=means)
    samples_t = samples.T.copy()
    centre = samples_t.mean(axis=1)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)

    def weigh(start: int, stop: int) -> tuple[np.ndarray, float]:
        weighted = np.zeros((n_clusters, stop - start))
        weighted[labels[start:stop], np.arange(stop - start)] = sample_weight[start:stop]
        return weighted, 0.0

    sums, _ = moment_sums(samples_t, centre, n_clusters, weigh)
    return _from_moments(sums, centre, check_covariance(covariance), reg_covar, np.asarray(means, np.float64))


def n_parameters(n_clusters: int, n_features: int, covariance: str) -> int:
    """Free parameters of a mixture, for the BIC.

    Parameters
    ----------
    n_clusters : int
        K.
    n_features : int
        F.
    covariance : {"full", "diagonal", "spherical"}
        Covariance type.

    Returns
    -------
    int
        Covariance parameters + ``K F`` means + ``K - 1`` weights.

    Raises
    ------
    ValueError
        For an unknown covariance type.
    """
    cov = {
        "full": n_clusters * n_features * (n_features + 1) // 2,
        "diagonal": n_clusters * n_features,
        "spherical": n_clusters,
    }[check_covariance(covariance)]
    return cov + n_clusters * n_features + n_clusters - 1


def bic(mean_log_likelihood: float, n_samples: float, n_clusters: int, n_features: int, covariance: str) -> float:
    """Bayesian information criterion ``-2 log L + p log n`` (lower is better).

    Parameters
    ----------
    mean_log_likelihood : float
        Mean log-likelihood per sample.
    n_samples : float
        Pixels (the total weight).
    n_clusters : int
        K.
    n_features : int
        F.
    covariance : {"full", "diagonal", "spherical"}
        Covariance type.

    Returns
    -------
    float

    References
    ----------
    Schwarz, G. (1978). Estimating the dimension of a model. The Annals of Statistics, 6(2), 461-464.
    """
    return float(
        -2.0 * mean_log_likelihood * n_samples + n_parameters(n_clusters, n_features, covariance) * np.log(n_samples)
    )

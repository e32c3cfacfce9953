"""Clustering methods registry: k-means and EM (Gaussian mixtures), fitted on weighted distinct values.

Each method is one :class:`Method` entry in :data:`REGISTRY`: how it fits weighted
feature rows, how a fitted model labels new rows, whether it has posteriors, which
fit figures it records and how the report words them. Everything else (the CLI
choices, the widget's combo box, model validation, :func:`~napari_colorquant.quantize`)
reads the registry, so there is no ``if method == "kmeans": ... else: EM``
fall-through anywhere. See ``docs/architecture.md`` for adding a method.

References
----------
.. [1] S. P. Lloyd, "Least squares quantization in PCM", IEEE Trans. Inf. Theory 28(2), 129-137, 1982.
.. [2] D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful seeding", SODA 2007, 1027-1035.
.. [3] A. P. Dempster, N. M. Laird and D. B. Rubin, "Maximum likelihood from incomplete data via the EM
   algorithm", J. R. Stat. Soc. B 39(1), 1-38, 1977.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .em import bic, e_step, initial_parameters, most_probable, weighted_em
from .em_start import mixture_start
from .kmeans import initial_centers, nearest_center, weighted_kmeans
from .optimal1d import optimal_centers, resolve_init
from .pinned import pinned_kmeans
from .registry import lookup

#: Engines: ``fast`` (weighted fit on distinct values, exact) and ``opencv`` (the notebook's calls).
ENGINES = ("fast", "opencv")

StepReport = Callable[[int], None]


class FittedModel(Protocol):
    """What a method's ``predict`` and ``log_posteriors`` read of a fitted model.

    :class:`~napari_colorquant.model.ClusterModel` has these; naming them here keeps this
    module below :mod:`~napari_colorquant.model` (which reads the registry), with no import back.
    """

    means: np.ndarray
    covariances: np.ndarray | None
    mixing_weights: np.ndarray | None


@dataclass
class FittedClusters:
    """What a method's fit returns, clusters in fit order (before labels are numbered).

    Attributes
    ----------
    means : ndarray (K, F)
    labels : ndarray (n,)
        Cluster index 0..K-1 of each fitted row.
    covariances : ndarray (K, F, F) or None
    mixing_weights : ndarray (K,) or None
        Mixture proportions (EM).
    figures : dict
        Fit figures recorded in the model (``n_iter``, ``converged`` and the method's own).
    label_sums : tuple or None
        k-means on the grid: :attr:`~napari_colorquant.kmeans.KMeansFit.label_sums` (not recorded in the model).
    """

    means: np.ndarray
    labels: np.ndarray
    covariances: np.ndarray | None = None
    mixing_weights: np.ndarray | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    label_sums: tuple | None = None


@dataclass(frozen=True)
class Method:
    """One clustering method of the registry.

    Attributes
    ----------
    name : str
        Identifier (``method="em"``, ``--method em``, model JSON).
    label : str
        Human name (widget combo box).
    fit : callable
        ``fit(features, sample_weight, n_clusters, params, on_step) -> FittedClusters`` with ``params``
        a mapping of the clustering parameters and ``on_step(done)`` called after each iteration.
    steps : callable
        ``steps(params) -> int``: iterations ``fit`` reports at most (for progress fractions).
    predict : callable
        ``predict(model, features) -> ndarray`` cluster index 0..K-1 per feature row.
    log_posteriors : callable or None
        ``log_posteriors(model, features) -> ndarray (n, K)``; None for hard clustering.
    figures : tuple of str
        Method-specific fit figures a model records (beyond ``n_iter`` / ``converged``).
    report_lines : callable
        ``report_lines(summary) -> list[str]``: those figures worded for a report.
    """

    name: str
    label: str
    fit: Callable[..., FittedClusters]
    steps: Callable[[Mapping[str, Any]], int]
    predict: Callable[[FittedModel, np.ndarray], np.ndarray]
    log_posteriors: Callable[[FittedModel, np.ndarray], np.ndarray] | None
    figures: tuple[str, ...]
    report_lines: Callable[[Mapping[str, Any]], list[str]]

    @property
    def has_posteriors(self) -> bool:
        """True if the method gives posterior probabilities (soft clusters)."""
        return self.log_posteriors is not None


def _kmeans_run(features, sample_weight, n_clusters, params, on_step):
    if params.get("pinned") is not None:
        return pinned_kmeans(
            features, sample_weight, n_clusters, params["pinned"], max_iter=params["max_iter"],
            epsilon=params["epsilon"], attempts=params["attempts"], seed=params["seed"], on_iteration=on_step,
        )  # fmt: skip
    init = resolve_init(params["init"], features.shape[1], features.shape[0], n_clusters)
    if isinstance(init, str) and init == "optimal":
        # The exact 1-D optimum is a fixed point of Lloyd's update: the iterations confirm it.
        init = optimal_centers(features, sample_weight, n_clusters)
    packed = params.get("packed")  # (features, their packing) from the caller: for these features only
    return weighted_kmeans(
        features,
        sample_weight,
        n_clusters,
        init=init,
        max_iter=params["max_iter"],
        epsilon=params["epsilon"],
        attempts=params["attempts"],
        seed=params["seed"],
        on_iteration=on_step,
        packed=packed[1] if packed is not None and packed[0] is features else None,
    )


def _fit_kmeans(features, sample_weight, n_clusters, params, on_step) -> FittedClusters:
    run = _kmeans_run(features, sample_weight, n_clusters, params, on_step)
    figures = dict(n_iter=run.n_iter, converged=run.converged, inertia=run.inertia)
    return FittedClusters(run.centers, run.labels, figures=figures, label_sums=run.label_sums)


def _em_starts_directly(params: Mapping[str, Any]) -> bool:
    return not isinstance(params["init"], str)


def _fit_em(features, sample_weight, n_clusters, params, on_step) -> FittedClusters:
    """EM from given means (as cv2.ml.EM.trainE), or from k-means then EM on a coarse summary (em_start)."""
    if _em_starts_directly(params):
        start_centers = initial_centers(features, sample_weight, n_clusters, params["init"], np.random.default_rng(0))
        start_labels = nearest_center(features, start_centers)[0]
        mixing, means, covariances = initial_parameters(
            features, sample_weight, start_centers, start_labels, params["covariance"], params["reg_covar"]
        )
    else:

        def cluster(samples, weight, max_iter, epsilon, on_iteration):
            criteria = dict(params, max_iter=max_iter, epsilon=epsilon)
            return _kmeans_run(samples, weight, n_clusters, criteria, on_iteration)

        mixing, means, covariances = mixture_start(
            features, sample_weight, n_clusters, cluster, params["covariance"], params["reg_covar"], on_step
        )
    run = weighted_em(
        features,
        sample_weight,
        means,
        covariances,
        mixing,
        covariance=params["covariance"],
        max_iter=params["max_iter"],
        epsilon=params["epsilon"],
        reg_covar=params["reg_covar"],
        on_iteration=on_step,
    )
    figures = dict(
        n_iter=run.n_iter,
        converged=run.converged,
        log_likelihood=run.log_likelihood,
        bic=bic(run.log_likelihood, float(np.sum(sample_weight)), n_clusters, features.shape[1], params["covariance"]),
    )
    return FittedClusters(run.means, run.labels, run.covariances, run.weights, figures)


def _predict_nearest(model: FittedModel, features: np.ndarray) -> np.ndarray:
    return nearest_center(features, model.means)[0]


def _em_log_posteriors(model: FittedModel, features: np.ndarray) -> np.ndarray:
    log_resp, _ = e_step(np.asarray(features, np.float64), model.means, model.covariances, model.mixing_weights)
    return log_resp


def _predict_most_probable(model: FittedModel, features: np.ndarray) -> np.ndarray:
    return most_probable(np.asarray(features, np.float64), model.means, model.covariances, model.mixing_weights)[0]


def _kmeans_report(summary: Mapping[str, Any]) -> list[str]:
    return [f"inertia: {summary['inertia']:.6g}"]


def _em_report(summary: Mapping[str, Any]) -> list[str]:
    return [f"log-likelihood: {summary['log_likelihood']:.4f} per pixel · BIC: {summary['bic']:.6g}"]


REGISTRY: dict[str, Method] = {
    method.name: method
    for method in (
        Method(
            name="kmeans",
            label="k-means",
            fit=_fit_kmeans,
            steps=lambda p: p["attempts"] * p["max_iter"],
            predict=_predict_nearest,
            log_posteriors=None,
            figures=("inertia",),
            report_lines=_kmeans_report,
        ),
        Method(
            name="em",
            label="EM (Gaussian mixture)",
            fit=_fit_em,
            steps=lambda p: p["max_iter"],  # the start reports 0 (em_start: a few ms on a coarse summary)
            predict=_predict_most_probable,
            log_posteriors=_em_log_posteriors,
            figures=("log_likelihood", "bic"),
            report_lines=_em_report,
        ),
    )
}

#: Every method name, in registry order.
METHODS = tuple(REGISTRY)


def get_method(name: str) -> Method:
    """The registry entry of a clustering method.

    Parameters
    ----------
    name : str
        One of :data:`METHODS`.

    Returns
    -------
    Method

    Raises
    ------
    ValueError
        For an unknown name, listing the accepted ones.
    """
    return lookup(REGISTRY, "method", name)

"""``engine="opencv"``: the course notebook's own OpenCV calls, on every pixel.

Features are built as the notebook builds them (``cv2.cvtColor`` on uint8
images, flattened to float32 rows), the RNG is seeded with ``cv2.setRNGSeed``
and the fit is ``cv2.kmeans`` or ``cv2.ml.EM``. For users who want the course's
exact assignments; it is slower and needs ~9x the image's memory.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import colorspaces
from .em import bic
from .kmeans import nearest_center
from .methods import FittedClusters
from .model import ClusterModel, FitOutcome, build_model
from .pixels import ImageLayout, pixel_rows, valid_pixels

_OPENCV_METHODS = ("kmeans", "em")  # cv2.kmeans and cv2.ml.EM
_COVARIANCE_FLAGS = {"spherical": 0, "diagonal": 1, "full": 2}  # cv2.ml.EM_COV_MAT_*


def notebook_features(values: np.ndarray, layout: ImageLayout, color_space: str) -> np.ndarray:
    """Feature rows ``(n, F)`` as float32, computed the way the notebook does.

    uint8 RGB goes through ``cv2.cvtColor`` (rounded 8-bit YCrCb / gray, and
    8-bit Lab rescaled to L in [0, 100], a/b around 0); everything else uses
    :func:`colorspaces.to_features`.
    """
    base = color_space.removesuffix("-chroma")
    if layout.dtype == np.uint8 and layout.n_channels == 3 and base in ("ycrcb", "lab", "gray"):
        pixels = np.ascontiguousarray(values, dtype=np.uint8).reshape(-1, 1, 3)
        if base == "gray":
            return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY).reshape(-1, 1).astype(np.float32)
        code = cv2.COLOR_RGB2YCrCb if base == "ycrcb" else cv2.COLOR_RGB2Lab
        full = cv2.cvtColor(pixels, code).reshape(-1, 3).astype(np.float32)
        if base == "lab":
            full = np.column_stack([full[:, 0] * (100.0 / 255.0), full[:, 1] - 128.0, full[:, 2] - 128.0])
        full = full.astype(np.float32)
        return full[:, 1:] if color_space in colorspaces.CHROMA_SPACES else full
    return colorspaces.to_features(values, color_space, layout.scale, layout.offset).astype(np.float32)


def fit_opencv(
    array: np.ndarray, layout: ImageLayout, color_space: str, mask: np.ndarray | None, params: dict
) -> tuple[ClusterModel, np.ndarray, np.ndarray | None]:
    """Fit with ``cv2.kmeans`` / ``cv2.ml.EM`` on every valid pixel.

    Returns
    -------
    model : ClusterModel
    labels : ndarray
        Label image (1..K, 0 for invalid pixels).
    valid : ndarray of bool or None
        Flat mask of the pixels used (None: all).
    """
    if params["method"] not in _OPENCV_METHODS:
        raise ValueError(f"engine='opencv' runs {_OPENCV_METHODS}, not {params['method']!r}; use engine='fast'")
    valid = valid_pixels(array, layout, mask)
    values = pixel_rows(array, layout)[:, : layout.n_channels]
    if valid is not None:
        values = values[valid]
    if values.shape[0] == 0:
        raise ValueError("nothing to cluster: no valid pixels")
    samples = notebook_features(values, layout, color_space)
    n_clusters = params["n_clusters"]
    distinct = np.unique(samples, axis=0).shape[0]
    if n_clusters > distinct:
        raise ValueError(
            f"n_clusters={n_clusters} is larger than the number of distinct {color_space} values "
            f"to cluster ({distinct}); use at most {distinct} clusters"
        )
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, params["max_iter"], params["epsilon"])
    cv2.setRNGSeed(params["seed"])
    init = params["init"]
    if params["method"] == "kmeans":
        if isinstance(init, str):
            flags = cv2.KMEANS_PP_CENTERS if init == "kmeans++" else cv2.KMEANS_RANDOM_CENTERS
            best_labels = None
        else:
            flags = cv2.KMEANS_USE_INITIAL_LABELS
            best_labels = nearest_center(samples, np.asarray(init, np.float64))[0].astype(np.int32)[:, None]
        _, fit_labels, centers = cv2.kmeans(samples, n_clusters, best_labels, criteria, params["attempts"], flags)
        fit_labels = fit_labels.reshape(-1)
        means = centers.astype(np.float64)
        diff = samples.astype(np.float64) - means[fit_labels]
        figures = dict(inertia=float(np.einsum("nf,nf->", diff, diff)), n_iter=None, converged=None)
        covariances = mixing = None
    else:
        em = cv2.ml.EM_create()
        em.setClustersNumber(n_clusters)
        em.setCovarianceMatrixType(_COVARIANCE_FLAGS[params["covariance"]])
        em.setTermCriteria(criteria)
        if isinstance(init, str):
            _, log_likelihoods, fit_labels, _ = em.trainEM(samples)
        else:
            _, log_likelihoods, fit_labels, _ = em.trainE(samples, np.asarray(init, np.float64))
        fit_labels = fit_labels.reshape(-1)
        means = np.asarray(em.getMeans(), np.float64)
        covariances = np.asarray(em.getCovs(), np.float64).reshape(n_clusters, means.shape[1], means.shape[1])
        mixing = np.asarray(em.getWeights(), np.float64).reshape(-1)
        mean_ll = float(np.mean(log_likelihoods))
        figures = dict(
            log_likelihood=mean_ll,
            bic=bic(mean_ll, samples.shape[0], n_clusters, means.shape[1], params["covariance"]),
            n_iter=None,
            converged=None,
        )
    clusters = FittedClusters(means, fit_labels, covariances, mixing, figures)
    fit = FitOutcome(params["method"], color_space, layout, values, np.ones(samples.shape[0]), clusters)
    model, rank = build_model(fit, params)
    model.n_fit_pixels = int(samples.shape[0])
    labels = np.zeros(layout.n_pixels, dtype=model.label_dtype)
    if valid is None:
        labels[:] = rank[fit_labels]
    else:
        labels[valid] = rank[fit_labels]
    return model, labels.reshape(layout.spatial_shape), valid

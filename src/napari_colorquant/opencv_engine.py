"""``engine="opencv"``: the course notebook's own OpenCV calls, on every pixel.

Features are built as the notebook builds them (``cv2.cvtColor`` on uint8
images, flattened to float32 rows), the RNG is seeded with ``cv2.setRNGSeed``
and the fit is ``cv2.kmeans`` or ``cv2.ml.EM``. For users who want the course's
exact assignments; it is slower and needs ~9x the image's memory.

Parameters OpenCV cannot honour are refused rather than recorded: ``cv2.ml.EM``
always starts from its own k-means++ (so ``init="random"`` or ``"uniform"`` and ``attempts > 1``
are errors for EM), and OpenCV's random generator takes a C ``int`` seed.
An init array is checked exactly as the fast engine checks it. OpenCV seeds k-means in two ways only:
``init="random"`` is the notebook's ``KMEANS_RANDOM_CENTERS`` here (uniform in the data's widened range,
which the fast engine calls ``"uniform"``; the fast engine's ``"random"`` draws random pixels), and
``"uniform"`` is the same flag.

OpenCV floors each covariance eigenvalue internally before using it, but returns
the unfloored matrices (all zero for a cluster of one colour). The model stores
the floored matrices, at a floor relative to the data's variance so that the
stored model predicts what the fit found and reads back from JSON.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import colorspaces
from .em import bic
from .fitting import check_cluster_work
from .kmeans import initial_centers, nearest_center
from .methods import FittedClusters
from .model import ClusterModel, FitOutcome, build_model
from .pixels import ImageLayout, pixel_rows, valid_pixels

_COVARIANCE_FLAGS = {"spherical": 0, "diagonal": 1, "full": 2}  # cv2.ml.EM_COV_MAT_*
_C_INT_MAX = 2**31 - 1
_RELATIVE_EIGENVALUE_FLOOR = 1e-10


def check_opencv_parameters(params: dict) -> None:
    """Refuse what ``cv2.kmeans`` / ``cv2.ml.EM`` cannot do, instead of recording it unused.

    Parameters
    ----------
    params : dict
        The run's parameters (``ClusterParameters.to_dict()``): ``seed``, ``method``, ``init``, ``attempts``.

    Raises
    ------
    ValueError
        For a seed beyond a C int, and for EM with ``init="random"`` or ``attempts > 1``.
    """
    if int(params["seed"]) > _C_INT_MAX:
        raise ValueError(
            f"seed={params['seed']} is too large for engine='opencv' (OpenCV's random generator takes a C int): "
            f"use a seed of at most {_C_INT_MAX}, or engine='fast'"
        )
    if params["method"] != "em":
        return
    # "auto" means k-means++ for the OpenCV engine (the exact 1-D optimum is the fast engine's).
    if isinstance(params["init"], str) and params["init"] not in ("kmeans++", "auto"):
        raise ValueError(
            f"init={params['init']!r} is not available with engine='opencv' EM, which always starts from its own "
            "k-means++: use init='kmeans++', an array of initial means, or engine='fast'"
        )
    if params["attempts"] != 1:
        raise ValueError(
            f"attempts={params['attempts']} is not available with engine='opencv' EM (cv2.ml.EM fits once): "
            "use attempts=1, or engine='fast'"
        )


def _opencv_call(function, *args):
    """Call OpenCV, turning its assertion failures into a ValueError a user can act on."""
    try:
        return function(*args)
    except cv2.error as error:
        detail = str(error).strip().splitlines()[-1] if str(error).strip() else "cv2.error"
        raise ValueError(f"OpenCV could not fit this image ({detail}); try engine='fast'") from error


def _floored_covariances(covariances: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Covariances with eigenvalues floored, as OpenCV uses them, relative to the data's variance."""
    spread = float(np.mean(np.var(samples.astype(np.float64), axis=0)))
    floor = max(np.finfo(np.float64).eps, _RELATIVE_EIGENVALUE_FLOOR * spread)
    symmetric = (covariances + covariances.transpose(0, 2, 1)) / 2
    eigenvalues, vectors = np.linalg.eigh(symmetric)
    if (eigenvalues >= floor).all():
        return symmetric
    return np.einsum("kij,kj,klj->kil", vectors, np.maximum(eigenvalues, floor), vectors)


def notebook_features(values: np.ndarray, layout: ImageLayout, color_space: str) -> np.ndarray:
    """Feature rows ``(n, F)`` as float32, computed the way the notebook does.

    uint8 RGB goes through ``cv2.cvtColor`` (rounded 8-bit YCrCb / gray, and
    8-bit Lab rescaled to L in [0, 100], a/b around 0); everything else uses
    :func:`colorspaces.to_features`.

    Parameters
    ----------
    values : ndarray (n, C)
        Pixel rows in the input's units.
    layout : ImageLayout
        The image's layout (dtype, channels).
    color_space : str
        A registered colour space.

    Returns
    -------
    ndarray (n, F) of float32

    Raises
    ------
    ValueError
        For an unknown colour space (from :func:`colorspaces.to_features`).
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


def _kmeans_cv(samples: np.ndarray, n_clusters: int, init, criteria: tuple, params: dict) -> FittedClusters:
    """``cv2.kmeans`` as the notebook calls it."""
    if isinstance(init, str):
        # OpenCV has two seedings: "random" (the notebook's flag) and "uniform" are its KMEANS_RANDOM_CENTERS.
        flags = cv2.KMEANS_RANDOM_CENTERS if init in ("random", "uniform") else cv2.KMEANS_PP_CENTERS  # auto: ++
        best_labels = None
    else:
        flags = cv2.KMEANS_USE_INITIAL_LABELS
        best_labels = nearest_center(samples, np.asarray(init, np.float64))[0].astype(np.int32)[:, None]
    if samples.shape[0] == 1:  # cv2.kmeans reads a single row as F one-feature samples
        fit_labels, centers = np.zeros(1, np.int32), samples
    else:
        _, fit_labels, centers = _opencv_call(
            cv2.kmeans, samples, n_clusters, best_labels, criteria, params["attempts"], flags
        )
    fit_labels = fit_labels.reshape(-1)
    means = centers.astype(np.float64)
    diff = samples.astype(np.float64) - means[fit_labels]
    figures = dict(inertia=float(np.einsum("nf,nf->", diff, diff)), n_iter=None, converged=None)
    return FittedClusters(means, fit_labels, figures=figures)


def _em_cv(samples: np.ndarray, n_clusters: int, init, criteria: tuple, params: dict) -> FittedClusters:
    """``cv2.ml.EM`` as the notebook calls it (``trainEM``, or ``trainE`` from given means)."""
    if samples.shape[0] < 2:
        raise ValueError(
            "engine='opencv' EM needs at least 2 valid pixels (cv2.ml.EM estimates a covariance from them); "
            "this image has 1: use engine='fast' or method='kmeans'"
        )
    em = cv2.ml.EM_create()
    em.setClustersNumber(n_clusters)
    em.setCovarianceMatrixType(_COVARIANCE_FLAGS[params["covariance"]])
    em.setTermCriteria(criteria)
    if isinstance(init, str):
        _, log_likelihoods, fit_labels, _ = _opencv_call(em.trainEM, samples)
    else:
        _, log_likelihoods, fit_labels, _ = _opencv_call(em.trainE, samples, np.asarray(init, np.float64))
    means = np.asarray(em.getMeans(), np.float64)
    covariances = np.asarray(em.getCovs(), np.float64).reshape(n_clusters, means.shape[1], means.shape[1])
    covariances = _floored_covariances(covariances, samples)
    mixing = np.asarray(em.getWeights(), np.float64).reshape(-1)
    mean_ll = float(np.mean(log_likelihoods))
    figures = dict(
        log_likelihood=mean_ll,
        bic=bic(mean_ll, samples.shape[0], n_clusters, means.shape[1], params["covariance"]),
        n_iter=None,
        converged=None,
    )
    return FittedClusters(means, fit_labels.reshape(-1), covariances, mixing, figures)


#: The OpenCV calls of each method this engine runs (a method not here is a clear error).
_OPENCV_FITS = {"kmeans": _kmeans_cv, "em": _em_cv}


def fit_opencv(
    array: np.ndarray, layout: ImageLayout, color_space: str, mask: np.ndarray | None, params: dict
) -> tuple[ClusterModel, np.ndarray, np.ndarray | None]:
    """Fit with ``cv2.kmeans`` / ``cv2.ml.EM`` on every valid pixel.

    Parameters
    ----------
    array : ndarray
        The image.
    layout : ImageLayout
        How ``array``'s axes map to pixels and channels.
    color_space : str
        A registered colour space.
    mask : ndarray of bool, optional
        Flat or in the pixel shape; pixels outside are not clustered.
    params : dict
        The run's parameters (``ClusterParameters.to_dict()``).

    Returns
    -------
    model : ClusterModel
    labels : ndarray
        Label image (1..K, 0 for invalid pixels).
    valid : ndarray of bool or None
        Flat mask of the pixels used (None: all).

    Raises
    ------
    ValueError
        For a method OpenCV does not run, no valid pixels, parameters it cannot honour, or an OpenCV failure.

    References
    ----------
    OpenCV, ``cv2.kmeans`` (k-means++ seeding: Arthur & Vassilvitskii 2007) and ``cv2.ml.EM``
    (Dempster, Laird & Rubin 1977).
    """
    if params["method"] not in _OPENCV_FITS:
        raise ValueError(f"engine='opencv' runs {tuple(_OPENCV_FITS)}, not {params['method']!r}; use engine='fast'")
    valid = valid_pixels(array, layout, mask)
    values = pixel_rows(array, layout)[:, : layout.n_channels]
    if valid is not None:
        values = values[valid]
    if values.shape[0] == 0:
        raise ValueError("nothing to cluster: no valid pixels")
    check_opencv_parameters(params)
    samples = notebook_features(values, layout, color_space)
    n_clusters = params["n_clusters"]
    init = params["init"]
    if not isinstance(init, str):  # same checks (shape, finite) as the fast engine
        init = initial_centers(samples, np.ones(samples.shape[0]), n_clusters, init, np.random.default_rng(0))
    distinct = np.unique(samples, axis=0).shape[0]
    if n_clusters > distinct:
        raise ValueError(
            f"n_clusters={n_clusters} is larger than the number of distinct {color_space} values "
            f"to cluster ({distinct}); use at most {distinct} clusters"
        )
    check_cluster_work(params["method"], n_clusters, samples.shape[0], engine="opencv")
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, params["max_iter"], params["epsilon"])
    cv2.setRNGSeed(int(params["seed"]))
    clusters = _OPENCV_FITS[params["method"]](samples, n_clusters, init, criteria, params)
    fit_labels = clusters.labels
    fit = FitOutcome(params["method"], color_space, layout, values, np.ones(samples.shape[0]), clusters)
    model, rank = build_model(fit, params)
    model.n_fit_pixels = int(samples.shape[0])
    labels = np.zeros(layout.n_pixels, dtype=model.label_dtype)
    if valid is None:
        labels[:] = rank[fit_labels]
    else:
        labels[valid] = rank[fit_labels]
    return model, labels.reshape(layout.spatial_shape), valid

"""The competitors and the machine description, shared by ``run_all.py`` and ``bench_quantize.py``.

Each competitor runs the course's criteria (10 iterations, epsilon 0.2 for k-means; 10 iterations,
tolerance 0 for EM) on the image's pixels and returns ``(labels, centres, extra)``: one label per
pixel, the centres (or palette) in the image's units, and extra figures (``log_likelihood``, or
``log_likelihood_fn`` when computing it costs a pass the timing should not include).
"""

from __future__ import annotations

import os
import platform
import warnings
from pathlib import Path

import numpy as np

MAX_ITER, EPSILON = 10, 0.2


def flat(image: np.ndarray) -> np.ndarray:
    """Pixels as rows ``(n, channels)``."""
    return image.reshape(-1, image.shape[-1] if image.ndim == 3 else 1)


def palette_image(image: np.ndarray, labels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The image with each pixel replaced by its rounded centre, same shape and dtype."""
    top = np.iinfo(image.dtype).max
    palette = np.clip(np.rint(np.asarray(centres, np.float64)), 0, top).astype(image.dtype)
    return palette[np.asarray(labels).reshape(-1)].reshape(image.shape)


def cv2_kmeans(image: np.ndarray, k: int, init: str = "kmeans++", seed: int = 0):
    import cv2

    cv2.setRNGSeed(seed)
    flags = cv2.KMEANS_RANDOM_CENTERS if init == "random" else cv2.KMEANS_PP_CENTERS
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, MAX_ITER, EPSILON)
    _, labels, centres = cv2.kmeans(np.float32(flat(image)), k, None, criteria, 1, flags)
    return labels.reshape(-1), centres, {}


def sklearn_kmeans(image: np.ndarray, k: int, seed: int = 0):
    from sklearn.cluster import KMeans

    km = KMeans(k, init="k-means++", n_init=1, max_iter=MAX_ITER, random_state=seed).fit(flat(image))
    return km.labels_, km.cluster_centers_, {}


def sklearn_minibatch(image: np.ndarray, k: int, seed: int = 0):
    from sklearn.cluster import MiniBatchKMeans

    km = MiniBatchKMeans(k, n_init=1, max_iter=MAX_ITER, random_state=seed, batch_size=4096).fit(flat(image))
    return km.labels_, km.cluster_centers_, {}


def pillow(image: np.ndarray, k: int, algorithm: str = "mediancut"):
    from PIL import Image

    if image.dtype != np.uint8 or image.ndim != 3:
        raise NotImplementedError("Pillow quantizes 8-bit RGB only")
    kind = Image.Quantize.MEDIANCUT if algorithm == "mediancut" else Image.Quantize.FASTOCTREE
    quantized = Image.fromarray(image).quantize(colors=k, method=kind)
    palette = np.array(quantized.getpalette()[: 3 * 256], np.float64).reshape(-1, 3)
    return np.asarray(quantized).reshape(-1), palette, {}


def sklearn_gmm(image: np.ndarray, k: int, seed: int = 0, labels: bool = True):
    """Full-covariance ``GaussianMixture``; ``labels=False`` skips the prediction pass."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    pixels = flat(image).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = GaussianMixture(k, covariance_type="full", max_iter=MAX_ITER, tol=0.0, random_state=seed).fit(pixels)
    predicted = gmm.predict(pixels) if labels else None
    return predicted, gmm.means_, {"log_likelihood_fn": lambda: float(gmm.score(pixels))}


def cv2_em(image: np.ndarray, k: int, seed: int = 0):
    import cv2

    cv2.setRNGSeed(seed)
    em = cv2.ml.EM_create()
    em.setClustersNumber(k)
    em.setCovarianceMatrixType(cv2.ml.EM_COV_MAT_GENERIC)
    em.setTermCriteria((cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, MAX_ITER, 0.0))
    _, log_likelihoods, labels, _ = em.trainEM(np.float32(flat(image)))
    return labels.reshape(-1), em.getMeans(), {"log_likelihood": float(np.mean(log_likelihoods))}


def machine() -> str:
    """CPU, usable cores, memory, platform and the versions that matter, in one line."""
    import cv2
    import PIL
    import sklearn

    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // (1024 * 1024)
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu}, {threads} usable cores, {memory} GiB RAM; {platform.platform()}; "
        f"Python {platform.python_version()}; numpy {np.__version__}, "
        f"OpenCV {cv2.__version__}, scikit-learn {sklearn.__version__}, Pillow {PIL.__version__}"
    )

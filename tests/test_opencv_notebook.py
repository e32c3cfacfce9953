"""engine="opencv" reproduces the course notebook's own cv2 calls, and the fast engine is no worse.

The notebook reads ``malaga.png``, which is not distributed; a crop of
scikit-learn's ``china.jpg`` (shipped inside scikit-learn) stands in for it.
Each reference below is the notebook's code, only with the image passed in.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from napari_colorquant import quantize
from napari_colorquant.colorspaces import rgb_to_luma, ycrcb_to_rgb
from napari_colorquant.params import NOTEBOOK_CRITERIA


@pytest.fixture(scope="module")
def malaga(china):
    return china[120:300, 180:420]  # RGB, 180 x 240


@pytest.fixture(scope="module")
def notebook_kmeans(malaga):
    """The notebook's k-means of the crop for K colours (seed 124), run once for the two tests that read it."""
    runs = {}

    def run(k):
        if k not in runs:
            compactness, label, center = _notebook_kmeans(malaga, k, seed=124)
            label.flags.writeable = center.flags.writeable = False
            runs[k] = compactness, label, center
        return runs[k]

    return run


def _same_partition(labels_a: np.ndarray, labels_b: np.ndarray) -> None:
    """Identical assignments up to the names of the clusters (a one-to-one relabelling)."""
    a, b = labels_a.reshape(-1), labels_b.reshape(-1)
    pairs = np.unique(np.column_stack([a, b]), axis=0)
    assert len(pairs) == len(np.unique(a)) == len(np.unique(b)), "assignments differ"


def _notebook_kmeans(image, k, seed):
    # Assignment 1 of the notebook (cv2.setRNGSeed added to make it reproducible).
    cv2.setRNGSeed(seed)
    flattened_img = image.reshape((-1, 3))
    flattened_img = np.float32(flattened_img)
    it = 10
    epsilon = 0.2
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, it, epsilon)
    compactness, label, center = cv2.kmeans(flattened_img, k, None, criteria, 30, cv2.KMEANS_RANDOM_CENTERS)
    return compactness, label, center


@pytest.mark.parametrize("k", [4, 8, 16])
def test_opencv_engine_reproduces_notebook_kmeans(malaga, notebook_kmeans, k):
    _, label, center = notebook_kmeans(k)
    result = quantize(malaga, k, engine="opencv", init="random", attempts=30, seed=124, max_iter=10, epsilon=0.2)
    _same_partition(result.labels, label)
    assert result.labels.shape == malaga.shape[:2]
    # The quantized colours are the notebook's centres (rounded instead of truncated).
    notebook_quantized = np.rint(center)[label.flatten()].reshape(malaga.shape)
    assert np.abs(result.quantized.astype(int) - notebook_quantized).max() <= 1


@pytest.mark.parametrize("k", [4, 8, 16])
def test_fast_engine_inertia_no_worse_than_cv2_kmeans(malaga, notebook_kmeans, k):
    compactness, _, _ = notebook_kmeans(k)
    result = quantize(malaga, k, attempts=30, max_iter=10, epsilon=0.2)
    assert result.model.inertia <= compactness * (1 + 1e-6), (result.model.inertia, compactness)


def test_opencv_engine_reproduces_notebook_em_ycrcb_chroma_diagonal(malaga):
    # Assignment 2: EM, 3 clusters, diagonal covariance, on Cr/Cb only (Y kept).
    cv2.setRNGSeed(5)
    em = cv2.ml.EM_create()
    em.setClustersNumber(3)
    em.setCovarianceMatrixType(1)
    em.setTermCriteria((cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 0.2))
    image = cv2.cvtColor(np.ascontiguousarray(malaga), cv2.COLOR_RGB2YCrCb)
    color_bands = image[:, :, 1:3]
    flattened_img = np.float32(color_bands.reshape((-1, 2)))
    _, _, labels, _ = em.trainEM(flattened_img)
    centers = np.uint8(em.getMeans())

    result = quantize(
        malaga,
        3,
        method="em",
        color_space="ycrcb-chroma",
        covariance="diagonal",
        engine="opencv",
        seed=5,
        **NOTEBOOK_CRITERIA,
    )
    _same_partition(result.labels, labels)
    # Y is kept: wherever Y + cluster chroma is inside the RGB gamut (no clipping),
    # the quantized pixel's luma is the input's, up to rounding.
    model = result.model
    chroma = model.means[result.labels.reshape(-1) - 1]
    luma = rgb_to_luma(malaga.reshape(-1, 3).astype(float))
    unclipped = ycrcb_to_rgb(np.column_stack([luma, chroma]), model.offset)
    in_gamut = ((unclipped >= -0.5) & (unclipped <= 255.5)).all(axis=1)
    assert in_gamut.mean() > 0.9
    ours = rgb_to_luma(result.quantized.reshape(-1, 3).astype(float))
    assert np.abs(ours - luma)[in_gamut].max() <= 1.0
    np.testing.assert_allclose(np.sort(result.model.means, axis=0), np.sort(centers.astype(float), axis=0), atol=1)


@pytest.mark.parametrize("space", ["rgb", "ycrcb-chroma"])
def test_opencv_engine_reproduces_notebook_em_four_clusters(malaga, space):
    # Assignment 4: EM, 4 clusters, full ("generic") covariance, RGB vs YCrCb chroma.
    # (The notebook reshapes the 2-band chroma to (-1, 3), which scrambles the
    # features; the correct (-1, 2) is used here.)
    cv2.setRNGSeed(5)
    em = cv2.ml.EM_create()
    em.setClustersNumber(4)
    em.setCovarianceMatrixType(2)
    em.setTermCriteria((cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 0.2))
    if space == "rgb":
        flattened = np.float32(malaga.reshape((-1, 3)))
    else:
        ycrcb = cv2.cvtColor(np.ascontiguousarray(malaga), cv2.COLOR_RGB2YCrCb)
        flattened = np.float32(ycrcb[:, :, 1:3].reshape((-1, 2)))
    _, _, labels, _ = em.trainEM(flattened)
    result = quantize(malaga, 4, method="em", color_space=space, covariance="full", engine="opencv", seed=5,
                      **NOTEBOOK_CRITERIA)  # fmt: skip
    _same_partition(result.labels, labels)
    assert result.model.covariances.shape == (4, flattened.shape[1], flattened.shape[1])


def test_opencv_engine_binarizes_plate_like_notebook(plate):
    cv2.setRNGSeed(124)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 3, 0.2)
    compactness, label, _ = cv2.kmeans(
        np.float32(plate.reshape((-1, 1))), 2, None, criteria, 3, cv2.KMEANS_RANDOM_CENTERS
    )
    result = quantize(plate, 2, engine="opencv", init="random", seed=124, max_iter=3, epsilon=0.2, attempts=3)
    _same_partition(result.labels, label)
    # Label 1 is the dark cluster (labels are ordered by brightness).
    assert result.model.means[0, 0] < result.model.means[1, 0]
    fast = quantize(plate, 2, max_iter=3, epsilon=0.2, attempts=3)
    assert fast.model.inertia <= compactness * (1 + 1e-6)


def test_fast_em_log_likelihood_close_to_cv2(malaga):
    malaga = malaga[::2, ::2]  # 90 x 120: cv2's full-covariance EM on the whole crop takes seconds
    cv2.setRNGSeed(5)
    em = cv2.ml.EM_create()
    em.setClustersNumber(4)
    em.setCovarianceMatrixType(2)
    em.setTermCriteria((cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 0.0))
    _, log_likelihoods, _, _ = em.trainEM(np.float32(malaga.reshape((-1, 3))))
    result = quantize(malaga, 4, method="em", max_iter=10, epsilon=0.0, attempts=3)
    assert result.model.log_likelihood >= float(np.mean(log_likelihoods)) - 0.05

"""Spatial smoothing of cluster labels with a Potts prior (mean-field).

Pixel-wise clustering labels every pixel from its value alone, so noise
gives salt-and-pepper labels. A Potts Markov random field adds the prior
that neighbouring pixels (face neighbours, in any number of dimensions)
usually share a label: the energy of a labelling is

``E(z) = -sum_p log P(z_p | x_p) + beta * #{neighbour pairs p~q with z_p != z_q}``.

It is minimised approximately by **mean-field** iterations (Zhang 1992;
Celeux, Forbes & Peyrard 2003): each pixel keeps a distribution ``q_p`` over
the K clusters and is updated, all pixels at once, to

``q_p(k) ∝ P(k | x_p) exp(beta * sum_{q~p} q_q(k))``.

After ``n_iter`` updates each pixel takes its most probable cluster. The
neighbour sums are ``scipy.ndimage.correlate1d`` passes with the kernel
``[1, 0, 1]`` along each spatial axis; pixels outside the mask (or NaN)
take no part (their ``q`` is 0) and keep label 0.

The data term ``log P(k | x)`` is the EM posterior for EM models. For k-means
it is the posterior of the Gaussian mixture that k-means fits implicitly
(equal weights, one spherical variance ``sigma^2`` shared by all clusters):
``-|x - c_k|^2 / (2 sigma^2)`` normalised over k, with ``sigma^2`` the
inertia per fitted pixel and feature. So ``beta`` is in the same units for
both methods: nats of evidence per disagreeing neighbour; ``beta = 0`` is off,
and 0.5–1.5 removes isolated noise while a 1-pixel line (two agreeing
neighbours along the line, two disagreeing across) is decided by its data.

Hand-written because no maintained Python library provides Potts
mean-field on arbitrary per-pixel posteriors in nD (PyMaxflow and
scikit-image's random walker solve different problems and are 2-label or
seeded); it is a few array operations on top of SciPy.

Each iteration moves information one pixel, so on dask arrays the smoothing
runs chunk by chunk with ``map_overlap`` and an overlap of ``n_iter`` pixels,
which gives the same labels as the in-memory computation.

References
----------
.. [1] J. Zhang, "The mean field theory in EM procedures for Markov random
   fields", IEEE Trans. Signal Process. 40(10), 2570-2583, 1992.
.. [2] G. Celeux, F. Forbes and N. Peyrard, "EM procedures using mean
   field-like approximations for Markov model-based image segmentation",
   Pattern Recognition 36(1), 131-144, 2003.
.. [3] J. Besag, "On the statistical analysis of dirty pictures", J. R. Stat.
   Soc. B 48(3), 259-302, 1986 (the Potts / ICM formulation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from .model import ClusterModel
    from .pixels import ImageLayout, PixelTable

#: Mean-field updates run; also the overlap (pixels) between dask chunks.
N_ITER = 8


def log_posteriors(model: ClusterModel, values: np.ndarray) -> np.ndarray:
    """Data term ``log P(k | x)`` for pixel value rows, ``(n, K)`` float64.

    EM: the mixture's posterior. k-means: the posterior of the equal-weight, shared spherical
    Gaussian mixture k-means fits implicitly, with ``sigma^2`` the model's inertia per pixel and feature
    (see the module docstring).

    Parameters
    ----------
    model : ClusterModel
        A fitted k-means or EM model.
    values : ndarray (n, C)
        Pixel values in the input's units.

    Returns
    -------
    ndarray (n, K) of float64
        Log posteriors; each row's exponentials sum to 1.
    """
    features = model.features(values)
    if model.method == "em":
        return model.log_posteriors(features)
    n_fit = max(float(model.n_fit_pixels), 1.0)
    variance = max(float(model.inertia or 0.0) / (n_fit * model.n_features), 1e-12)
    squared = ((features[:, None, :] - model.means[None, :, :]) ** 2).sum(axis=2)
    scores = -squared / (2.0 * variance)
    return scores - _logsumexp(scores)


def _logsumexp(scores: np.ndarray) -> np.ndarray:
    top = scores.max(axis=-1, keepdims=True)
    return top + np.log(np.exp(scores - top).sum(axis=-1, keepdims=True))


def _neighbour_sums(q: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    kernel = np.array([1.0, 0.0, 1.0], dtype=q.dtype)
    total = np.zeros_like(q)
    for axis in range(q.ndim - 1):
        total += ndimage.correlate1d(q, kernel, axis=axis, mode="constant", cval=0.0)
    return total


def potts_mean_field(
    log_post: np.ndarray, beta: float, valid: np.ndarray | None = None, n_iter: int = N_ITER
) -> np.ndarray:
    """Labels after mean-field smoothing of per-pixel log posteriors.

    Parameters
    ----------
    log_post : ndarray, shape ``spatial + (K,)``
        ``log P(k | x_p)`` per pixel (any finite scores; only differences over k matter).
    beta : float
        Potts interaction (>= 0); 0 returns the pixel-wise argmax.
    valid : ndarray of bool, shape ``spatial``, optional
        Pixels taking part; the others get label -1 and influence nobody.
    n_iter : int
        Mean-field updates.

    Returns
    -------
    ndarray of intp, shape ``spatial``
        Cluster 0..K-1 per pixel (-1 where not valid).

    Raises
    ------
    ValueError
        If ``beta`` is negative or not finite.

    References
    ----------
    Zhang (1992); Celeux, Forbes & Peyrard (2003): see the module docstring.
    """
    scores = np.asarray(log_post, dtype=np.float32)
    if not np.isfinite(beta) or beta < 0:
        raise ValueError(f"smoothing must be a finite number >= 0, got {beta!r}")
    scores = scores - scores.max(axis=-1, keepdims=True)
    if valid is not None:
        scores = np.where(valid[..., None], scores, 0.0)
    field = scores
    for _ in range(n_iter if beta > 0 else 0):
        q = np.exp(field - field.max(axis=-1, keepdims=True))
        q /= q.sum(axis=-1, keepdims=True)
        if valid is not None:
            q *= valid[..., None]
        field = scores + np.float32(beta) * _neighbour_sums(q)
    labels = field.argmax(axis=-1)
    if valid is not None:
        labels = np.where(valid, labels, -1)
    return labels


def smooth_table(model: ClusterModel, table: PixelTable, beta: float, n_iter: int = N_ITER) -> np.ndarray:
    """Smoothed label image (1..K, 0 outside the mask / NaN) of an in-memory image.

    Parameters
    ----------
    model : ClusterModel
        The fitted model giving the data term (:func:`log_posteriors`).
    table : PixelTable
        The image's counted values (``model.pixel_table(image)`` or the one a fit counted):
        the data term is computed once per distinct value and written back through it.
    beta : float
        Potts interaction (see module docstring).
    n_iter : int
        Mean-field updates.

    Returns
    -------
    ndarray
        Of the model's label dtype, the image's pixel shape.

    Raises
    ------
    ValueError
        If ``beta`` is negative or not finite.
    """
    scores = table.map(lambda values: log_posteriors(model, values), np.float32, fill=0)
    valid = None if table.valid is None else table.valid.reshape(table.layout.spatial_shape)
    return (potts_mean_field(scores, beta, valid, n_iter) + 1).astype(model.label_dtype)


def _block_labels(block: np.ndarray, *mask, model, layout, beta: float, n_iter: int) -> np.ndarray:
    pixels = block if layout.channel_axis is None else np.moveaxis(block, layout.channel_axis, -1)
    spatial = pixels.shape if layout.channel_axis is None else pixels.shape[:-1]
    rows = pixels.reshape(-1, 1) if layout.channel_axis is None else pixels.reshape(-1, pixels.shape[-1])
    rows = rows[:, : layout.n_channels]
    valid = np.isfinite(rows).all(axis=1) if rows.dtype.kind == "f" else np.ones(rows.shape[0], bool)
    if mask:
        valid &= np.asarray(mask[0], bool).reshape(-1)
    scores = np.zeros((rows.shape[0], model.n_clusters), np.float32)
    scores[valid] = log_posteriors(model, rows[valid])
    labels = potts_mean_field(scores.reshape(*spatial, -1), beta, valid.reshape(spatial), n_iter)
    return (labels + 1).astype(model.label_dtype)


def smooth_lazy(
    model: ClusterModel,
    array: Any,
    layout: ImageLayout,
    beta: float,
    mask: ArrayLike | None = None,
    n_iter: int = N_ITER,
) -> Any:
    """Smoothed labels of a dask image, chunk by chunk with ``map_overlap``.

    The overlap is ``n_iter`` pixels along every spatial axis (none along the
    channel axis, which must be one chunk), which is exactly how far the
    mean-field updates carry information, so the labels equal the in-memory ones.

    Parameters
    ----------
    model : ClusterModel
        The fitted model giving the data term.
    array : dask.array.Array
        The image (read with ``layout``).
    layout : ImageLayout
        How ``array``'s axes map to pixels and channels.
    beta : float
        Potts interaction (see module docstring).
    mask : dask or numpy array of bool, optional
        The image's pixel shape.
    n_iter : int
        Mean-field updates (and the chunk overlap, in pixels).

    Returns
    -------
    dask.array.Array
        Labels 1..K (0 outside the mask / NaN), the image's pixel shape.
    """
    import dask.array as da

    if layout.channel_axis is not None:
        array = array.rechunk({layout.channel_axis: -1})
    spatial_axes = [axis for axis in range(array.ndim) if axis != layout.channel_axis]
    depth = {axis: (n_iter if axis in spatial_axes else 0) for axis in range(array.ndim)}
    options = dict(model=model, layout=layout, beta=float(beta), n_iter=n_iter)
    if layout.channel_axis is None:
        arrays = [array] if mask is None else [array, da.asarray(mask).rechunk(array.chunks)]
        return da.map_overlap(_block_labels, *arrays, depth=depth, boundary="none", dtype=model.label_dtype, **options)
    arrays = [array]
    if mask is not None:
        spatial_chunks = tuple(c for axis, c in enumerate(array.chunks) if axis != layout.channel_axis)
        spatial_mask = da.asarray(mask).rechunk(spatial_chunks)
        mask_chunks = tuple((1,) if axis == layout.channel_axis else c for axis, c in enumerate(array.chunks))
        arrays.append(da.expand_dims(spatial_mask, layout.channel_axis).rechunk(mask_chunks))
    return da.map_overlap(
        _block_labels_channels,
        *arrays,
        depth=depth,
        boundary="none",
        dtype=model.label_dtype,
        drop_axis=layout.channel_axis,
        align_arrays=False,
        **options,
    )


def _block_labels_channels(block: np.ndarray, *mask, model, layout, beta: float, n_iter: int) -> np.ndarray:
    spatial_mask = [np.take(mask[0], 0, axis=layout.channel_axis)] if mask else []
    return _block_labels(block, *spatial_mask, model=model, layout=layout, beta=beta, n_iter=n_iter)

"""Weighted k-means (Lloyd's algorithm) on weighted samples.

Run on the distinct pixel values of an image weighted by their counts, this
gives exactly the result of plain Lloyd on every pixel from the same initial
centres: the assignment of a pixel depends only on its value, and a weighted
mean is the mean of the repeated values.

The loop is a few vectorized NumPy lines rather than scikit-learn's
``KMeans(sample_weight=...)`` because the course's termination rule (stop
after ``max_iter`` iterations or when no centre moves more than ``epsilon``,
as ``cv2.kmeans`` does) is not one scikit-learn offers, and because an
explicit loop is what the pixel-level reference tests compare against.
Weighted k-means++ seeding is the greedy variant (several candidates per step, the one that
lowers the potential most is kept; Arthur & Vassilvitskii 2007, as scikit-learn's
``kmeans_plusplus`` does it). It is written here, a dozen NumPy lines, because importing
scikit-learn costs about a second — more than the whole fit of a small photo, paid by every CLI
call and the widget's first run. With many distinct values it seeds on a coarse grid of the
values (each cell its weighted mean and total weight), a coarse-to-fine start that costs a
fraction of seeding on every value, after which Lloyd runs on every distinct value as before.

A cluster left empty by an assignment takes a pixel as ``cv2.kmeans`` does (:func:`relocate_empty`):
the pixel farthest from the centre of the biggest cluster becomes a one-pixel cluster, so no centre
is lost. Applied to the weighted values it moves one pixel's weight, which is exactly the rule applied
to every pixel (the tests check it against pixel-level Lloyd and against ``cv2.kmeans`` itself).
``init="uniform"`` draws the centres uniformly in the values' range widened by 1/F of it on each side,
``cv2.KMEANS_RANDOM_CENTERS``'s kind of start; ``init="random"`` draws distinct values with
probability proportional to their pixel count (random pixels of distinct colours).

Distances are taken in blocks of rows and of clusters (a few MB per thread whatever K), which
also keeps each block in cache: at K = 256 this alone halves the time of one unblocked pass.
Hamerly's bounds were tried and measured slower here at every K from 8 to 256 (keeping them
costs several passes over all values per iteration, and the lower bounds decay fast while the
centres still move). With many distinct values and exact integer sums, whole grid cells are assigned
at once instead (:mod:`~napari_colorquant.kmeans_filter`, Kanungo et al.'s filtering), with the same
result bit for bit.

References
----------
Arthur, D. and Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding. SODA, 1027-1035.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._threads import for_chunks, n_threads, run_all
from .kmeans_filter import FilterGrid, filter_applies, pack_integers, packed_lookup, steps_per_feature

#: Named initialisations of :func:`initial_centers`.
#: ``init`` names: "auto" (the exact optimum for one feature, else k-means++; see ``optimal1d.resolve_init``),
#: "kmeans++", "random" (random pixels of distinct colours), "optimal" (the exact 1-D optimum, one feature
#: only), "uniform" (uniform in the values' widened range, as ``cv2.KMEANS_RANDOM_CENTERS``).
INITS = ("auto", "kmeans++", "random", "optimal", "uniform")
_ROWS_PER_BLOCK = 1 << 14
_CLUSTERS_PER_BLOCK = 512
_BLOCK_ELEMENTS = 1 << 19
# Up to this many clusters, assignment compares whole rows of centre-major distances (no argmin),
# and up to _ONE_HOT_CLUSTERS the cluster sums are one matrix product (measured: at 16 clusters the
# comparisons still win by 13 %, the one-hot product no longer does).
_FEW_CLUSTERS = 16
_ONE_HOT_CLUSTERS = 8
# Largest chunk of an assignment pass handed to one thread at few clusters (see _rows_per_task).
_TASK_ROWS = 1 << 16
# Seeding on a coarse grid: at most this many cells, used above this many distinct values.
_COARSE_CELLS = 1 << 15
_COARSE_FROM = 1 << 18


@dataclass
class KMeansFit:
    """Result of :func:`weighted_kmeans`.

    Attributes
    ----------
    centers : ndarray (K, F)
    labels : ndarray (n,)
        Index (0..K-1) of the nearest final centre for each sample.
    inertia : float
        Weighted sum of squared distances to the nearest final centre.
    n_iter : int
        Centre updates run.
    converged : bool
        True if the last update moved no centre more than ``epsilon``.
    label_sums : tuple or None
        When the filter's grid gave them with the labels: each cluster's weight ``(K,)`` and weighted feature sums
        ``(K, F)`` by ``labels`` (exact integers), and the weighted sum of the samples' squared norms (or None).
    """

    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    converged: bool
    label_sums: tuple[np.ndarray, np.ndarray, float | None] | None = None


def _block_shape(n_clusters: int) -> tuple[int, int]:
    """Rows and clusters per block so that one block's distance matrix stays near ``_BLOCK_ELEMENTS``."""
    clusters = min(n_clusters, _CLUSTERS_PER_BLOCK)
    return max(256, min(_ROWS_PER_BLOCK, _BLOCK_ELEMENTS // clusters)), clusters


def _nearest(rows: np.ndarray, centers: np.ndarray, norms: np.ndarray, with_best: bool):
    """Nearest centre of each row and (optionally) its partial distance ``||c||^2 - 2 x.c``.

    The row's own ``||x||^2`` does not change the order, so it is left out. Clusters are taken
    in blocks, so memory is bounded whatever K; ties go to the lowest index, as one ``argmin``
    over all clusters would.
    """
    n, n_clusters = rows.shape[0], centers.shape[0]
    step = _block_shape(n_clusters)[1]
    if n_clusters <= _FEW_CLUSTERS:
        return _nearest_few(rows, centers, norms, with_best)
    if step >= n_clusters:
        partial = rows @ (-2.0 * centers.T)
        partial += norms
        labels = partial.argmin(axis=1)
        return labels, np.take_along_axis(partial, labels[:, None], axis=1)[:, 0] if with_best else None
    best = np.full(n, np.inf)
    labels = np.zeros(n, dtype=np.intp)
    for lo in range(0, n_clusters, step):
        hi = min(n_clusters, lo + step)
        partial = rows @ (-2.0 * centers[lo:hi].T)
        partial += norms[lo:hi]
        index = partial.argmin(axis=1)
        value = np.take_along_axis(partial, index[:, None], axis=1)[:, 0]
        better = value < best
        labels[better] = index[better] + lo
        np.minimum(best, value, out=best)
    return labels, best


def _nearest_few(rows: np.ndarray, centers: np.ndarray, norms: np.ndarray, with_best: bool):
    """:func:`_nearest` for a few clusters: centre-major partial distances, compared one centre at a time.

    ``argmin`` over a short last axis runs a loop per row; a few whole-row comparisons are several
    times cheaper. A centre replaces the best so far only when strictly nearer, so ties go to the
    lowest index, as with ``argmin``.
    """
    partial = (-2.0 * centers) @ rows.T
    partial += norms[:, None]
    best = partial[0]  # the best so far is kept in place of the first centre's row (no copy)
    labels = np.zeros(rows.shape[0], dtype=np.intp)
    last = centers.shape[0] - 1
    if last >= 1:
        np.less(partial[1], best, out=labels)  # 1 where the second centre is strictly nearer: one pass
    for index in range(1, last + 1):
        if index > 1:
            np.copyto(labels, index, where=partial[index] < best)
        if with_best or index < last:
            np.minimum(best, partial[index], out=best)
    return labels, best if with_best else None


def nearest_center(
    samples: np.ndarray, centers: np.ndarray, with_distances: bool = True, parallel: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Index of and squared distance to the nearest centre, for every sample.

    Rows and clusters are both taken in blocks (a few MB per thread whatever n and K);
    ties go to the lowest index. Each row's result does not depend on the blocks or threads.

    Parameters
    ----------
    samples : ndarray (n, F)
    centers : ndarray (K, F)
    with_distances : bool
        Also return the squared distances.
    parallel : bool
        Run the blocks on the thread pool; False for a caller that is itself one of several pool tasks.

    Returns
    -------
    labels : ndarray (n,) of intp
    squared_distances : ndarray (n,) of float64, or None
    """
    samples = np.asarray(samples, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    n = samples.shape[0]
    labels = np.empty(n, dtype=np.intp)
    distances = np.empty(n, dtype=np.float64) if with_distances else None
    center_norms = np.einsum("kf,kf->k", centers, centers)

    def block(start: int, stop: int) -> None:
        rows = samples[start:stop]
        labels[start:stop], best = _nearest(rows, centers, center_norms, distances is not None)
        if distances is not None:
            distances[start:stop] = np.maximum(best + np.einsum("nf,nf->n", rows, rows), 0.0)

    if parallel:
        for_chunks(block, n, _rows_per_task(n, centers.shape[0]))
    else:
        rows = _block_shape(centers.shape[0])[0]
        for start in range(0, n, rows):
            block(start, min(n, start + rows))
    return labels, distances


def nearest_labels(samples: np.ndarray, centers: np.ndarray, parallel: bool = True) -> np.ndarray:
    """The labels of :func:`nearest_center` alone.

    Parameters
    ----------
    samples : ndarray (n, F)
    centers : ndarray (K, F)
    parallel : bool
        As for :func:`nearest_center`.

    Returns
    -------
    ndarray (n,) of intp
    """
    return nearest_center(samples, centers, with_distances=False, parallel=parallel)[0]


def serial_nearest_labels(samples: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """:func:`nearest_labels` on the calling thread: the kernel of the filter's walks, which run on the pool.

    Parameters
    ----------
    samples : ndarray (n, F)
    centers : ndarray (K, F)

    Returns
    -------
    ndarray (n,) of intp
    """
    return nearest_labels(samples, centers, parallel=False)


def _rows_per_task(n: int, n_clusters: int) -> int:
    """Rows per chunk of an assignment pass: the cache-sized block, or one chunk per thread when that is small.

    At a 0.27 MP photo's ~100 000 colours, one chunk per thread spares most of the per-chunk calls
    (measured at 113 000 values, CPU per pass: K = 2 0.84 -> 0.78 ms, K = 8 3.40 -> 3.32 ms, K = 16
    5.85 -> 5.87 ms); above _FEW_CLUSTERS the cache-sized blocks are kept.
    """
    rows = _block_shape(n_clusters)[0]
    if n_clusters > _FEW_CLUSTERS:
        return rows
    per_thread = -(-n // n_threads())
    return per_thread if rows < per_thread <= _TASK_ROWS else rows


def weighted_means(
    samples: np.ndarray, sample_weight: np.ndarray, labels: np.ndarray, previous: np.ndarray
) -> np.ndarray:
    """Weighted mean of the samples of each cluster (an empty one takes a pixel: :func:`relocate_empty`).

    Parameters
    ----------
    samples : ndarray (n, F)
        Feature rows.
    sample_weight : ndarray (n,)
        Non-negative weights (pixel counts).
    labels : ndarray (n,) of int
        Cluster 0..K-1 of each row.
    previous : ndarray (K, F)
        The centres before this update.

    Returns
    -------
    ndarray (K, F) of float64
        The new centres (Lloyd's update step).
    """
    samples = np.asarray(samples, dtype=np.float64)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    return _means_from(_weighted_t(samples, sample_weight), sample_weight, labels, previous, samples=samples)


def _weighted_t(samples: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
    """Feature-major weighted samples ``(F, n)``, written in place (a transposed copy costs several times more)."""
    weighted_t = np.empty(samples.shape[::-1])
    np.multiply(samples.T, sample_weight, out=weighted_t)
    return weighted_t


def _cluster_sums(weighted_t: np.ndarray, sample_weight: np.ndarray, labels: np.ndarray, n_clusters: int):
    """Weight ``(K,)`` and weighted feature sums ``(K, F)`` of each cluster."""
    if n_clusters <= _ONE_HOT_CLUSTERS:
        # A one-hot matrix product: one pass instead of a bincount per feature.
        one_hot = np.equal(labels, np.arange(n_clusters)[:, None]).astype(np.float64)
        return one_hot @ sample_weight, one_hot @ weighted_t.T
    mass = np.bincount(labels, weights=sample_weight, minlength=n_clusters)
    sums = np.column_stack([np.bincount(labels, weights=column, minlength=n_clusters) for column in weighted_t])
    return mass, sums


class _ExactSums:
    """Cluster sums kept from one iteration to the next, moved only for the samples whose label changed.

    Used only when every weighted feature and every total is an integer below 2**53: float64
    additions of such numbers are exact in any order, so the sums equal a fresh
    :func:`_cluster_sums` bit for bit (integer images in their own unit, pixel counts as weights).
    A Lloyd iteration then costs the assignment plus a pass over the changed samples only.
    """

    def __init__(self, weighted_t: np.ndarray, sample_weight: np.ndarray, n_clusters: int) -> None:
        self.weighted_t, self.weight, self.n_clusters = weighted_t, sample_weight, n_clusters
        self.labels = self.mass = self.sums = None

    @staticmethod
    def applies(weighted_t: np.ndarray, sample_weight: np.ndarray) -> bool:
        if not np.array_equal(sample_weight, np.rint(sample_weight)):
            return False
        largest = np.zeros(weighted_t.shape[0])
        # In blocks of samples that stay in cache: at a million values, whole-array temporaries cost 3x more.
        for start in range(0, weighted_t.shape[1], _ROWS_PER_BLOCK):
            block = weighted_t[:, start : start + _ROWS_PER_BLOCK]
            if not np.array_equal(block, np.rint(block)):
                return False
            largest += np.abs(block).sum(axis=1)
        return float(largest.max(initial=0.0)) + float(sample_weight.sum()) < 2.0**53

    def update(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        changed = None if self.labels is None else np.flatnonzero(labels != self.labels)
        if changed is None or changed.size > labels.size // 4:
            self.mass, self.sums = _cluster_sums(self.weighted_t, self.weight, labels, self.n_clusters)
        elif changed.size:
            weighted, weight = self.weighted_t[:, changed], self.weight[changed]
            left = _cluster_sums(weighted, weight, self.labels[changed], self.n_clusters)
            joined = _cluster_sums(weighted, weight, labels[changed], self.n_clusters)
            self.mass = self.mass - left[0] + joined[0]
            self.sums = self.sums - left[1] + joined[1]
        self.labels = labels
        return self.mass, self.sums


def _means_from(
    weighted_t: np.ndarray,
    sample_weight: np.ndarray,
    labels: np.ndarray,
    previous: np.ndarray,
    sums: tuple[np.ndarray, np.ndarray] | None = None,
    samples: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted means from the pre-multiplied, feature-major samples ``(F, n)`` (computed once per fit).

    ``sums``: the clusters' weights and sums when already known (:class:`_ExactSums`; never changed here).
    ``samples``: the rows, to give an empty cluster a pixel (:func:`relocate_empty`); without them an
    empty cluster keeps its previous centre. ``fixed``: pinned clusters, never given a pixel.
    """
    n_clusters = previous.shape[0]
    mass, sums = _cluster_sums(weighted_t, sample_weight, labels, n_clusters) if sums is None else sums
    if samples is not None and not (mass > 0).all():
        mass, sums = relocate_empty(samples, sample_weight, labels, mass, sums, fixed)
    centers = previous.copy()
    filled = mass > 0
    centers[filled] = sums[filled] / mass[filled, None]
    return centers


def relocate_empty(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    labels: np.ndarray,
    mass: np.ndarray,
    sums: np.ndarray,
    fixed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Give every empty cluster one pixel, as ``cv2.kmeans`` does: the farthest pixel of the biggest cluster.

    For each empty cluster in index order: take the cluster with the most weight (the lowest index
    on a tie), the sample farthest from that cluster's current mean (on a tie, the lexicographically
    largest sample), and move one pixel of it (one unit of its weight, or all of it when less is left)
    into the empty cluster. The donor's weight and sum shrink by that pixel before the next empty
    cluster is served, exactly as OpenCV's loop over pixels. On weighted distinct values this is the
    rule applied to every pixel; OpenCV breaks distance ties by pixel order, which distinct values do
    not have, hence the tie rule by value.

    Parameters
    ----------
    samples : ndarray (n, F)
    sample_weight : ndarray (n,)
        Positive weights (pixel counts).
    labels : ndarray (n,) of int
        The assignment that left clusters empty.
    mass, sums : ndarray (K,), ndarray (K, F)
        Each cluster's weight and weighted feature sum under ``labels`` (not modified).
    fixed : ndarray (K,) of bool, optional
        Pinned clusters: never given a pixel.

    Returns
    -------
    mass, sums : ndarray (K,), ndarray (K, F)
        New arrays, after the moves.

    References
    ----------
    OpenCV, ``cv::kmeans`` (modules/core/src/kmeans.cpp): "if some cluster appeared to be empty then find
    the biggest cluster, find the farthest from the center point in the biggest cluster, exclude it and form
    a new 1-point cluster".
    """
    empty = mass <= 0
    if fixed is not None:
        empty &= ~fixed
    mass, sums = mass.astype(np.float64), sums.astype(np.float64)
    taken = np.zeros(samples.shape[0])  # weight already moved out of each sample (it may donate again later)
    donor = -1
    for cluster in np.flatnonzero(empty):
        biggest = int(np.argmax(mass))
        if mass[biggest] <= 0:
            break
        if biggest != donor:
            donor, members = biggest, np.flatnonzero(labels == biggest)
            rows, left = np.take(samples, members, axis=0), np.take(sample_weight, members) - np.take(taken, members)
            origin = sums[donor] / mass[donor]
            reach = _distances_to(rows, origin)
            reach[left <= 0] = -np.inf
        mean = sums[donor] / mass[donor]
        # The donor's mean moved by `shift` since `reach` was measured, so the farthest sample (and every
        # tie) is among those whose old distance is within 2 * shift of the old largest: measure only those.
        shift, top = float(np.sqrt(((mean - origin) ** 2).sum())), float(reach.max())
        near = np.flatnonzero(reach >= top - 2.0 * shift - 1e-9 * (top + 1.0))
        distance = ((rows[near] - mean) ** 2).sum(axis=1)
        ties = near[distance == distance.max()]
        pick = ties[0] if ties.size == 1 else ties[np.lexsort(rows[ties][:, ::-1].T)[-1]]
        moved = min(1.0, float(left[pick]))
        left[pick] -= moved
        if left[pick] <= 0:
            reach[pick] = -np.inf
        taken[members[pick]] += moved
        mass[donor] -= moved
        sums[donor] -= moved * rows[pick]
        mass[cluster], sums[cluster] = moved, moved * rows[pick]
    return mass, sums


def _distances_to(rows: np.ndarray, point: np.ndarray) -> np.ndarray:
    """``np.sqrt(((rows - point) ** 2).sum(axis=1))``, the same sums in the same order, a column at a time.

    Reducing an ``(n, 3)`` array along its short axis is several times slower than three passes over columns
    (the reach of gen12's biggest cluster, 361 000 values: 8 -> 2 ms).
    """
    total = np.zeros(rows.shape[0])
    step = np.empty(rows.shape[0])
    for feature in range(rows.shape[1]):
        np.subtract(rows[:, feature], point[feature], out=step)
        step *= step
        total += step
    return np.sqrt(total, out=total)


def coarse_grid(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    n_clusters: int,
    smallest: int = _COARSE_FROM,
    packed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted means and total weights of the occupied cells of a regular grid over the samples.

    At most ``_COARSE_CELLS`` cells (32 per axis for 3 features). Returns the samples themselves when
    there are at most ``smallest`` of them, or when the grid would have too few occupied cells (fewer
    than 4 per cluster) to seed from.

    Parameters
    ----------
    samples : ndarray (n, F)
    sample_weight : ndarray (n,)
    n_clusters : int
    smallest : int
        Up to this many samples, no grid.
    packed : tuple, optional
        The samples' :func:`~napari_colorquant.kmeans_filter.pack_integers` when they pack: the cells are then
        read from tables of the steps (:func:`_packed_cell_keys`), the same cells at a third of the cost.

    Returns
    -------
    cells : ndarray (m, F)
    cell_weight : ndarray (m,)
    """
    n, n_features = samples.shape
    bins = int(_COARSE_CELLS ** (1.0 / n_features))
    if n <= smallest or bins < 2:
        return samples, sample_weight
    if packed is not None:
        keys, columns = _packed_cell_keys(packed, bins), None
    else:
        # Feature-major, one contiguous column at a time: 4-5x faster than whole (n, F) temporaries, strided
        # columns and ravel_multi_index (gen12's 1.4 million values: 0.129 -> 0.030 s), with the same arithmetic.
        columns = samples.T.copy()
        keys = np.zeros(n, np.intp)
        for column in columns:
            low = column.min()
            span = column.max() - low
            cell = ((column - low) * (bins / span if span > 0 else 0.0)).astype(np.intp)
            np.minimum(cell, bins - 1, out=cell)
            keys *= bins
            keys += cell
    mass = np.bincount(keys, weights=sample_weight, minlength=bins**n_features)
    occupied = np.flatnonzero(mass > 0)
    if occupied.size < 4 * n_clusters:
        return samples, sample_weight
    sums = np.empty((occupied.size, n_features))
    for feature in range(n_features):
        if columns is None:
            column = np.multiply(samples[:, feature], sample_weight)
        else:
            column = columns[feature]
            column *= sample_weight
        sums[:, feature] = np.bincount(keys, weights=column, minlength=bins**n_features)[occupied]
    return sums / mass[occupied, None], mass[occupied]


def _packed_cell_keys(packed: tuple[np.ndarray, np.ndarray, np.ndarray], bins: int) -> np.ndarray:
    """The cells of :func:`coarse_grid` of samples packed by :func:`~napari_colorquant.kmeans_filter.pack_integers`.

    A sample's step in feature ``f`` is its value less the column's least, a whole number, so
    ``(value - low) * (bins / span)`` is that step times the same factor: each feature's cell is read from a table
    over its ``2**bits`` steps computed with the same float64 arithmetic, hence the same cells as the general
    path (gen12, 1.4 million values: the keys and the copy of the columns cost 23 ms CPU, the tables 4 ms).
    """
    _, _, span = packed
    n_features = span.size
    steps = np.arange(steps_per_feature(n_features), dtype=np.float64)
    tables = []
    for feature, width in enumerate(span):
        cell = (steps * (bins / width if width > 0 else 0.0)).astype(np.intp)
        np.minimum(cell, bins - 1, out=cell)
        tables.append(cell * bins ** (n_features - 1 - feature))
    return packed_lookup(packed[0], tables)


def _squared_distances(samples: np.ndarray, norms: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``(m, n)`` squared distances from ``centers (m, F)`` to samples (with their squared norms), at least 0.

    Centre-major, so that each centre's row of distances is contiguous for the reductions that follow.
    """
    out = (-2.0 * centers) @ samples.T
    out += np.einsum("mf,mf->m", centers, centers)[:, None]
    out += norms
    return np.maximum(out, 0.0, out=out)


def _weighted_draw(weight: np.ndarray, random_state: np.random.RandomState) -> int:
    """``random_state.choice(n, p=weight / weight.sum())``, the same draw, without its checks of ``p``.

    Those checks (a compensated sum and a sign test over every value) cost a third of the call at
    100 000 values; the weights here are pixel counts, positive by construction. ``RandomState``'s
    stream is frozen by NumPy, so this stays the draw scikit-learn's ``kmeans_plusplus`` makes.
    """
    cdf = np.cumsum(weight / weight.sum())
    cdf /= cdf[-1]
    return int(cdf.searchsorted(random_state.random_sample(), side="right"))


def kmeans_plusplus(
    samples: np.ndarray, sample_weight: np.ndarray, n_clusters: int, random_state: np.random.RandomState
) -> np.ndarray:
    """Greedy weighted k-means++ centres: each step draws ``2 + ln K`` candidates and keeps the best.

    The first centre is drawn with probability proportional to the weights; each next one from
    ``2 + ln K`` candidates drawn with probability proportional to weight times squared distance
    to the nearest centre so far, keeping the candidate that leaves the least weighted potential.
    The random draws are made in the order scikit-learn's ``kmeans_plusplus`` makes them, so the
    same seed gives the same centres (tests/test_exact_engine.py checks it).

    Parameters
    ----------
    samples : ndarray (n, F)
    sample_weight : ndarray (n,)
        Positive weights (pixel counts).
    n_clusters : int
        At most the number of distinct samples.
    random_state : numpy.random.RandomState

    Returns
    -------
    ndarray (K, F) of float64

    References
    ----------
    Arthur, D. and Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding. SODA, 1027-1035.
    """
    samples = np.asarray(samples, dtype=np.float64)
    weight = np.asarray(sample_weight, dtype=np.float64)
    n = samples.shape[0]
    norms = np.einsum("nf,nf->n", samples, samples)
    trials = 2 + int(np.log(n_clusters))
    centers = np.empty((n_clusters, samples.shape[1]))
    centers[0] = samples[_weighted_draw(weight, random_state)]
    closest = _squared_distances(samples, norms, centers[:1])[0]
    potential = closest @ weight
    cumulative = np.empty(n)
    for index in range(1, n_clusters):
        draws = random_state.uniform(size=trials) * potential
        np.multiply(weight, closest, out=cumulative)
        picks = np.minimum(np.searchsorted(np.cumsum(cumulative, out=cumulative), draws), n - 1)
        candidates = _squared_distances(samples, norms, samples[picks])
        np.minimum(closest, candidates, out=candidates)
        potentials = candidates @ weight
        best = int(np.argmin(potentials))
        potential, closest = potentials[best], candidates[best]
        centers[index] = samples[picks[best]]
    return centers


def uniform_centers(samples: np.ndarray, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    """``cv2.KMEANS_RANDOM_CENTERS``'s kind of start: points drawn uniformly in the samples' widened range.

    Each feature of each centre is ``low + (u (1 + 2 m) - m) (high - low)`` with ``u`` uniform in [0, 1),
    ``low``/``high`` the feature's smallest and largest value and ``m = 1 / F`` (F features), as OpenCV's
    ``generateRandomCenter``: the box of the data widened by 1/F of its size on each side. Centres that no
    value is nearest to are then given a pixel by Lloyd's update (:func:`relocate_empty`), as in OpenCV.
    The draws come from ``rng``, not from OpenCV's generator, so a seed gives other centres than ``cv2``'s.

    Parameters
    ----------
    samples : ndarray (n, F)
    n_clusters : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray (K, F) of float64

    References
    ----------
    OpenCV, ``cv::kmeans`` with ``KMEANS_RANDOM_CENTERS`` (modules/core/src/kmeans.cpp, ``generateRandomCenter``).
    """
    samples = np.asarray(samples, dtype=np.float64)
    # One column at a time: 30x faster than min(axis=0) on rows, and no transposed copy (gen12: 9.5 -> 4.6 ms).
    low = np.array([samples[:, feature].min() for feature in range(samples.shape[1])])
    high = np.array([samples[:, feature].max() for feature in range(samples.shape[1])])
    margin = 1.0 / samples.shape[1]
    return low + (rng.random((n_clusters, samples.shape[1])) * (1.0 + 2.0 * margin) - margin) * (high - low)


def initial_centers(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    n_clusters: int,
    init: str | np.ndarray | Callable[..., np.ndarray],
    rng: np.random.Generator,
    packed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Initial centres: ``"kmeans++"``, ``"random"`` (weighted random samples), ``"uniform"``, an array, or a callable.

    ``"random"`` picks ``n_clusters`` distinct samples with probability
    proportional to their weight, i.e. random pixels of distinct colours. ``"uniform"`` draws points
    uniformly in the samples' widened range (:func:`uniform_centers`). A callable is called as
    ``init(samples, sample_weight, n_clusters, rng)`` and its centres are checked as an array's.

    Parameters
    ----------
    samples : ndarray (n, F)
        Feature rows (distinct values).
    sample_weight : ndarray (n,)
        Pixels per row.
    n_clusters : int
        K.
    init : {"kmeans++", "random", "uniform"}, ndarray (K, F) or callable
        How to start.
    rng : numpy.random.Generator
        Source of the random draws (k-means++ draws through a ``RandomState`` seeded from it).
    packed : tuple, optional
        The samples' :func:`~napari_colorquant.kmeans_filter.pack_integers`, when made: k-means++ reads its
        coarse grid's cells from them (:func:`coarse_grid`; the same start).

    Returns
    -------
    ndarray (K, F) of float64

    Raises
    ------
    ValueError
        For an unknown init name, an init array of the wrong shape, or one holding NaN or inf.

    References
    ----------
    Arthur, D. and Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding. SODA, 1027-1035.
    """
    if callable(init):
        init = init(samples, sample_weight, n_clusters, rng)
    elif isinstance(init, str):
        if init == "kmeans++":
            seeds, seed_weights = coarse_grid(samples, sample_weight, n_clusters, packed=packed)
            return kmeans_plusplus(seeds, seed_weights, n_clusters, np.random.RandomState(int(rng.integers(2**31 - 1))))
        if init == "random":
            picks = rng.choice(samples.shape[0], size=n_clusters, replace=False, p=sample_weight / sample_weight.sum())
            return samples[np.sort(picks)].astype(np.float64)
        if init == "uniform":
            return uniform_centers(samples, n_clusters, rng)
        raise ValueError(
            f"unknown init {init!r}; accepted: 'kmeans++', 'random', 'uniform' or an array of initial centres"
        )
    centers = np.asarray(init, dtype=np.float64)
    if centers.shape != (n_clusters, samples.shape[1]):
        raise ValueError(
            f"init array has shape {centers.shape}; expected (n_clusters, n_features) = "
            f"({n_clusters}, {samples.shape[1]}) in the fitted feature space"
        )
    if not np.isfinite(centers).all():
        raise ValueError("init array contains NaN or inf")
    return centers


def lloyd(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    centers: np.ndarray,
    max_iter: int,
    epsilon: float,
    on_iteration: Callable[[int], None] | None = None,
    fixed: np.ndarray | None = None,
    prepared: _Prepared | None = None,
) -> KMeansFit:
    """Weighted Lloyd iterations from given centres.

    Each iteration assigns every sample to its nearest centre and moves each
    centre to the weighted mean of its samples; it stops after ``max_iter``
    iterations or once no centre moved more than ``epsilon`` (Euclidean).

    Parameters
    ----------
    samples : ndarray (n, F)
        Feature rows (distinct values).
    sample_weight : ndarray (n,)
        Pixels per row.
    centers : ndarray (K, F)
        Starting centres.
    max_iter : int
        Largest number of iterations.
    epsilon : float
        Stop once no centre moved more than this (feature units).
    on_iteration : callable, optional
        ``on_iteration(i)`` is called after iteration ``i`` (it may raise to abort).
    fixed : ndarray (K,) of bool, optional
        Pinned centres that never move (pinned colours).
    prepared : _Prepared, optional
        What :func:`prepare_sums` made of these samples for this K and ``max_iter`` (the filter's grid),
        when already made: attempts of one fit share it.

    Returns
    -------
    KMeansFit
        Final centres, the labels of the nearest final centre, the inertia and the iterations run.

    References
    ----------
    Lloyd, S. P. (1982). Least squares quantization in PCM. IEEE Transactions on Information Theory,
    28(2), 129-137.
    """
    samples = np.asarray(samples, dtype=np.float64)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    centers = np.array(centers, dtype=np.float64)
    if prepared is None:
        prepared = prepare_sums(samples, sample_weight, centers.shape[0], max_iter)
    weighted_t, grid = prepared.weighted_t, prepared.grid
    exact = _ExactSums(weighted_t, sample_weight, centers.shape[0]) if prepared.exact_sums and grid is None else None
    n_iter, converged, emptied = 0, False, True  # a start may leave clusters empty (uniform starts often do)
    for iteration in range(1, max_iter + 1):
        n_iter = iteration
        if grid is not None:
            labels, sums = _grid_sums(grid, centers, emptied)
            emptied = labels is not None
        else:
            labels = nearest_labels(samples, centers)
            sums = None if exact is None else exact.update(labels)
        updated = _means_from(weighted_t, sample_weight, labels, centers, sums, samples, fixed)
        if fixed is not None:
            updated[fixed] = centers[fixed]
        shift = np.sqrt(((updated - centers) ** 2).sum(axis=1)).max()
        centers = updated
        if on_iteration is not None:
            on_iteration(iteration)
        if shift <= epsilon:
            converged = True
            break
    labels, label_sums = (nearest_labels(samples, centers), None) if grid is None else grid.labels(centers, True)
    inertia = _inertia(samples, sample_weight, centers, labels)
    return KMeansFit(centers, labels, inertia, n_iter, converged, label_sums)


def _grid_sums(grid: FilterGrid, centers: np.ndarray, guess: bool) -> tuple[np.ndarray | None, tuple]:
    """One filtered iteration's cluster sums, and the labels when a cluster is left empty (else None).

    An empty cluster takes a pixel by the labels (:func:`relocate_empty`: the same labels as the plain pass). When
    ``guess`` and :meth:`~napari_colorquant.kmeans_filter.FilterGrid.may_leave_empty` says so, the labels and the sums
    come from one walk instead of a walk for the sums and another for the labels (gen12, uniform start: 6 of 16
    clusters empty after the first). The sums are the same exact integers either way.
    """
    if guess and grid.may_leave_empty(centers):
        labels, (mass, sums, _) = grid.labels(centers, with_sums=True)
        return (None if (mass > 0).all() else labels), (mass, sums)
    mass, sums = grid.cluster_sums(centers)
    return (None if (mass > 0).all() else grid.labels(centers)), (mass, sums)


@dataclass
class _Prepared:
    """How :func:`lloyd` gets its cluster sums (:func:`prepare_sums`).

    ``weighted_t``: the weighted samples ``(F, n)``, or None when the grid runs (it never reads them);
    ``exact_sums``: integer sums below 2**53 (:class:`_ExactSums`); ``grid``: the filter's grid, or None.
    """

    weighted_t: np.ndarray | None
    exact_sums: bool
    grid: FilterGrid | None


def prepare_sums(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    n_clusters: int,
    max_iter: int,
    packed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> _Prepared:
    """What Lloyd iterations on these samples need besides the centres; made once per fit.

    The filter's grid where it pays and the sums are exact; integer samples and weights are checked first
    by the grid itself, without the weighted samples (the grid's iterations never read them: 17 ms at 1.4
    million values). Otherwise the weighted samples, whether their sums are exact (:class:`_ExactSums`),
    and the grid when the sums are exact in another way (half-integer values with even weights, say).

    Parameters
    ----------
    samples : ndarray (n, F) of float64
    sample_weight : ndarray (n,) of float64
    n_clusters, max_iter : int
    packed : tuple, optional
        The samples' :func:`~napari_colorquant.kmeans_filter.pack_integers` when already made.

    Returns
    -------
    _Prepared
    """
    applies = filter_applies(samples.shape[0], n_clusters, samples.shape[1], max_iter)
    grid = FilterGrid.build_for_integers(samples, sample_weight, serial_nearest_labels, packed) if applies else None
    if grid is not None:
        return _Prepared(None, True, grid)
    weighted_t = _weighted_t(samples, sample_weight)
    exact = _ExactSums.applies(weighted_t, sample_weight)
    if exact and applies:
        grid = FilterGrid.build(samples, sample_weight, serial_nearest_labels)
    return _Prepared(weighted_t, exact, grid)


def _shared_packing(samples: np.ndarray, n_clusters: int, max_iter: int, init) -> tuple | None:
    """The samples packed (:func:`~napari_colorquant.kmeans_filter.pack_integers`) when the grid or the k-means++
    coarse grid will use them, else None.

    Packed once, on the two threads, before the grid is built beside the start: the k-means++ coarse grid then
    reads its cells from tables (two thirds of its cost spared), and the grid, which packs first anyway, waits
    no longer for it.
    """
    seeds_on_grid = isinstance(init, str) and init == "kmeans++" and samples.shape[0] > _COARSE_FROM
    if not (seeds_on_grid or filter_applies(samples.shape[0], n_clusters, samples.shape[1], max_iter)):
        return None
    return pack_integers(samples)


def _inertia(samples: np.ndarray, sample_weight: np.ndarray, centers: np.ndarray, labels: np.ndarray) -> float:
    """``sample_weight @ assigned_squared_distances(samples, centers, labels)``, the distances in parallel chunks.

    Each distance is computed on its own, so the chunks give the same numbers and the one dot product
    the same inertia.
    """
    distances = np.empty(samples.shape[0])

    def block(start: int, stop: int) -> None:
        distances[start:stop] = assigned_squared_distances(samples[start:stop], centers, labels[start:stop])

    for_chunks(block, samples.shape[0], _TASK_ROWS)
    return float(sample_weight @ distances)


def assigned_squared_distances(samples: np.ndarray, centers: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of each sample to its assigned centre.

    Computed one feature at a time: gathering a column of K centres per sample is several times
    cheaper than gathering whole centre rows.

    Parameters
    ----------
    samples : ndarray (n, F)
        Feature rows.
    centers : ndarray (K, F)
        Centres.
    labels : ndarray (n,) of int
        Centre 0..K-1 assigned to each row.

    Returns
    -------
    ndarray (n,) of float64
        ``sum_f (samples[i, f] - centers[labels[i], f]) ** 2``.
    """
    distances = np.zeros(samples.shape[0])
    for feature in range(samples.shape[1]):
        diff = samples[:, feature] - np.take(centers[:, feature], labels)
        distances += diff * diff
    return distances


def weighted_kmeans(
    samples: np.ndarray,
    sample_weight: np.ndarray,
    n_clusters: int,
    *,
    init: str | np.ndarray | Callable[..., np.ndarray] = "kmeans++",
    max_iter: int = 10,
    epsilon: float = 0.2,
    attempts: int = 1,
    seed: int = 0,
    on_iteration: Callable[[int], None] | None = None,
    fixed: np.ndarray | None = None,
    packed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> KMeansFit:
    """Weighted k-means with several attempts; the lowest inertia wins.

    Parameters
    ----------
    samples : ndarray (n, F)
        Feature vectors (e.g. distinct pixel colours).
    sample_weight : ndarray (n,)
        Non-negative sample weights (e.g. pixel counts).
    n_clusters : int
        K.
    init : {"kmeans++", "random", "uniform"}, ndarray (K, F) or callable
        A callable draws each attempt's start: ``init(samples, sample_weight, n_clusters, rng)``.
    max_iter : int
        Largest number of Lloyd iterations per attempt.
    epsilon : float
        Stop when no centre moves more than this.
    attempts : int
        Independent initialisations (only one for an init array).
    seed : int
        Same seed, same result, bit for bit.
    on_iteration : callable, optional
        Called with the number of iterations run so far over all attempts
        (at most ``attempts * max_iter``); may raise to abort.
    fixed : ndarray (K,) of bool, optional
        Centres that never move (pinned colours; give their values in an ``init`` array).
    packed : tuple, optional
        The samples' :func:`~napari_colorquant.kmeans_filter.pack_integers` when the caller already has it (it
        must be exactly that, e.g. :func:`~napari_colorquant.kmeans_filter.pack_bytes` of the bytes the samples
        were made of); else the samples are packed here when the grid or the k-means++ start will use them.

    Returns
    -------
    KMeansFit
        The attempt with the lowest inertia.

    Raises
    ------
    ValueError
        For a bad ``init`` (see :func:`initial_centers`).

    References
    ----------
    Lloyd, S. P. (1982). Least squares quantization in PCM. IEEE Trans. Information Theory, 28(2), 129-137.
    Arthur, D. and Vassilvitskii, S. (2007). k-means++: the advantages of careful seeding. SODA, 1027-1035.
    """
    rng = np.random.default_rng(seed)
    samples = np.asarray(samples, dtype=np.float64)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    best = None
    runs = attempts if isinstance(init, str) or callable(init) else 1
    packed = _shared_packing(samples, n_clusters, max_iter, init) if packed is None else packed
    # The grid (or the weighted samples) is made once for every attempt, on the pool while the first start is
    # drawn: the two read the samples only (gen12, k-means++: seeding 38 ms, grid 50 ms CPU).
    prepared, centers = run_all(
        [
            lambda: prepare_sums(samples, sample_weight, n_clusters, max_iter, packed),
            lambda: initial_centers(samples, sample_weight, n_clusters, init, rng, packed),
        ]
    )
    for attempt in range(runs):
        if attempt:
            centers = initial_centers(samples, sample_weight, n_clusters, init, rng, packed)
        report = None
        if on_iteration is not None:

            def report(iteration, offset=attempt * max_iter):
                on_iteration(offset + iteration)

        fit = lloyd(samples, sample_weight, centers, max_iter, epsilon, report, fixed, prepared)
        if best is None or fit.inertia < best.inertia:
            best = fit
    return best

"""Filtered Lloyd iterations: whole cells of values assigned at once when only one centre can own them.

Kanungo et al.'s filtering algorithm, on a hierarchy of regular grid cells instead of a kd-tree. The
distinct values are sorted once by a Morton (bit-interleaved) key of their coordinates, so that every
cell of every level of the grid (side 2, 4, 8, ... in key units) is one contiguous run of values, and
each cell keeps its total weight, its weighted feature sums and its members' bounding box. An
iteration walks the levels from the coarsest down: for each cell it takes the centre ``z*`` nearest
the box's middle and prunes every other centre ``z`` for which the box's vertex furthest in the
direction ``z - z*`` is still nearer to ``z*`` by more than the rounding error of a distance. A cell
whose every other centre is pruned belongs to ``z*`` as a whole: its sums go to ``z*`` in one step.
The children of the other cells are tested at the next level, and what is still undecided at the
finest level is assigned value by value by the ordinary kernel (``nearest_center``), ties included.

Why the result is bit for bit the plain one: a pruned centre is farther from every point of the box
by more than the rounding error, so the plain kernel gives every value of an owned cell the label
``z*`` too; near ties stay undecided and go through the plain kernel itself. The sums are used only
when :class:`~napari_colorquant.kmeans._ExactSums` applies (integer weighted values, totals below
2**53), where float64 sums are exact in any order, so the cells' precomputed sums give the same
centres as a sum over every value.

Written here because no well-kept library does weighted, filtered Lloyd on a histogram:
scikit-learn's ``KMeans`` (Lloyd or Elkan) measures every sample every iteration, OpenCV's
``cv2.kmeans`` takes no weights, and neither keeps the exact-sum property the tests rely on.

References
----------
Kanungo, T., Mount, D. M., Netanyahu, N. S., Piatko, C. D., Silverman, R. and Wu, A. Y. (2002).
An efficient k-means clustering algorithm: analysis and implementation. IEEE Transactions on
Pattern Analysis and Machine Intelligence, 24(7), 881-892.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._threads import n_threads, run_all
from .pixels import run_starts

#: Bits of the Morton key in all (at most 8 per feature); the key fits an int32 for OpenCV's sort.
_KEY_BITS = 24
#: Integer samples are packed into one int32 and turned into Morton keys through two tables of this many bits.
_CHUNK_BITS = _KEY_BITS // 2
#: About this many cells (as a power of two) on the coarsest level.
_TOP_CELL_BITS = 12
#: The finest level: cells of 2**_FINEST key steps on a side.
_FINEST = 2
#: Rows per block of :func:`_packed_steps` (a few MB: the block stays in cache between its passes).
_PACK_ROWS = 1 << 16
#: Relative margin by which a pruned centre must be farther than ``z*`` (float64 rounding of the
#: partial distances ``||c||^2 - 2 x.c`` is a few units of 1e-16 of the same scale).
_MARGIN = 1e-10

#: The filter is used from this many distinct values (below, the plain pass is cheap) ...
FILTER_FROM = 1 << 17
#: ... from 3 to 16 clusters (at K = 2 a plain iteration is cheap and the grid costs more than it saves;
#: above 16 the plain pass on two threads kept up with it), with 2 to 4 features, and for at least this
#: many iterations.
FILTER_MIN_CLUSTERS = 3
FILTER_MAX_CLUSTERS = 16
FILTER_MIN_ITER = 3
#: Walks are split between threads from this many values. On gen2's 393 000 values (walks of 1-5 ms CPU) the
#: handing over cost more CPU than the split saved while the other core was busy (K = 3, 10 iterations:
#: 13.6 ms CPU on one thread, 18.7 ms on two); on gen12's 1.4 million two threads took ten iterations
#: from 165 to 112 ms wall.
PARALLEL_FROM = 1 << 19

#: ``nearest(rows, centers) -> labels``: the plain kernel's labels (:func:`~napari_colorquant.kmeans.nearest_labels`).
Nearest = Callable[[np.ndarray, np.ndarray], np.ndarray]


def filter_applies(n_samples: int, n_clusters: int, n_features: int, max_iter: int) -> bool:
    """Whether filtered iterations are expected to be faster than plain ones (measured; see the module notes).

    Parameters
    ----------
    n_samples, n_clusters, n_features, max_iter : int

    Returns
    -------
    bool
    """
    return (
        n_samples >= FILTER_FROM
        and FILTER_MIN_CLUSTERS <= n_clusters <= FILTER_MAX_CLUSTERS
        and 2 <= n_features <= 4
        and max_iter >= FILTER_MIN_ITER
    )


@dataclass
class _Level:
    """The occupied cells of one grid level, in key order.

    ``low``/``high``: their members' bounding boxes (m, F), also as ``middle``/``half``; ``weight`` (m,);
    ``sums`` (F, m);
    ``children``: (m + 1,) bounds of each cell's run in the next finer level (of values for the finest);
    ``values``: (m + 1,) bounds of each cell's run of values; ``finest``: of its run of finest-level cells;
    ``squares``: the finest level of packed values only, the weighted sum of every value's squared norm.
    """

    low: np.ndarray
    high: np.ndarray
    weight: np.ndarray
    sums: np.ndarray
    children: np.ndarray
    values: np.ndarray
    finest: np.ndarray
    squares: float | None = None

    def __post_init__(self) -> None:
        self.middle = (self.low + self.high) / 2
        self.half = (self.high - self.low) / 2


def _spread(bits: int, n_features: int) -> np.ndarray:
    """Every ``bits``-bit number with its bits moved ``n_features`` places apart (one Morton axis)."""
    numbers = np.arange(1 << bits, dtype=np.int64)
    spread = np.zeros(1 << bits, dtype=np.int64)
    for bit in range(bits):
        spread |= ((numbers >> bit) & 1) << (bit * n_features)
    return spread


def morton_keys(samples: np.ndarray) -> tuple[np.ndarray, int]:
    """Morton keys of the samples' coordinates, each feature cut into ``2**bits`` equal steps.

    Parameters
    ----------
    samples : ndarray (n, F)

    Returns
    -------
    keys : ndarray (n,) of int32
        Key of each sample: its level-``l`` cell is ``keys >> (F * l)``.
    bits : int
        Bits per feature.
    """
    n_features = samples.shape[1]
    bits = _bits_per_feature(n_features)
    spread = _spread(bits, n_features).astype(np.int32)
    keys = np.zeros(samples.shape[0], np.int32)
    for feature in range(n_features):
        column = samples[:, feature]
        low = column.min()
        span = column.max() - low
        if span < (1 << bits):
            # Steps of one unit (8-bit data): the offset truncated is already a step, no scaling or clipping.
            step = (column - low).astype(np.int32)
        else:
            # Steps a little wider than span / 2**bits, so that the largest value stays in the last step.
            step = ((column - low) * ((1 << bits) / (span * (1 + 1e-9)))).astype(np.int32)
            np.clip(step, 0, (1 << bits) - 1, out=step)
        step = spread[step]
        step <<= n_features - 1 - feature
        keys |= step
    return keys, bits


@lru_cache(maxsize=8)
def _morton_tables(n_features: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The Morton bits of the low and of the high ``_CHUNK_BITS`` bits of packed steps (:func:`_packed_steps`).

    Bit ``j`` of feature ``f``'s step sits at bit ``bits * f + j`` of the packed number and at bit
    ``j * F + F - 1 - f`` of the Morton key (as in :func:`morton_keys`); each bit moves on its own, so a
    key is ``low_table[packed & mask] | high_table[packed >> _CHUNK_BITS]``.
    """
    chunk = np.arange(1 << _CHUNK_BITS, dtype=np.int64)
    tables = []
    for offset in (0, _CHUNK_BITS):
        table = np.zeros(chunk.size, np.int64)
        for bit in range(_CHUNK_BITS):
            feature, place = divmod(offset + bit, bits)
            if feature < n_features:
                table |= ((chunk >> bit) & 1) << (place * n_features + n_features - 1 - feature)
        tables.append(table.astype(np.int32))
    return tables[0], tables[1]


def _packed_steps(samples: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Integer samples as one int32 each: feature ``f``'s offset from its column's least value at bit ``bits * f``.

    None unless every value is an integer and every column spans fewer than ``2**bits`` (8-bit colours):
    then the packed numbers give the samples back exactly, and the grid gathers 4 bytes per value
    instead of ``8 F`` (a random gather of 1.4 million float64 rows cost 20 ms, of int32 3.6 ms).

    Returns
    -------
    packed : ndarray (n,) of int32
    low, span : ndarray (F,) of float64
        Each column's least value and its largest less its least.
    """
    n = samples.shape[0]
    head = samples[:4096]
    if n == 0 or not np.array_equal(head, np.rint(head)):
        return None  # at once for most features that are not integers (CIELAB, YCrCb)
    # Each value is packed unshifted first, in int64; the shift by the columns' least values comes after, and gives
    # the same numbers since no step overlaps the next. From PARALLEL_FROM values, one run of blocks per thread.
    wide = np.empty(n, np.int64)
    threads = n_threads() if n >= PARALLEL_FROM else 1
    per_part = -(-n // (threads * _PACK_ROWS)) * _PACK_ROWS
    parts = run_all([lambda a=a: _pack_part(samples, wide, bits, a, a + per_part) for a in range(0, n, per_part)])
    if any(part is None for part in parts):
        return None
    low, high = np.min([part[0] for part in parts], axis=0), np.max([part[1] for part in parts], axis=0)
    if not ((high - low < (1 << bits)).all() and (low > -(2**30)).all() and (high < 2**30).all()):
        return None  # too wide, or beyond the packed range
    offset = sum(int(least) << (bits * feature) for feature, least in enumerate(low))
    packed = np.empty(n, np.int32)
    np.subtract(wide, offset, out=packed, casting="unsafe")  # within int32 once shifted (checked above)
    return packed, low.astype(np.float64), (high - low).astype(np.float64)


def _pack_part(samples, wide, bits, start, stop) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_packed_steps` of the rows ``start:stop`` into ``wide``: their columns' least and largest values, or
    None if one is not an integer. One pass in blocks that stay in cache: the integer check, the bounds and the
    packing of each block at once (gen12, 1.4 million values: 14.8 -> 9.2 ms CPU)."""
    n_features = samples.shape[1]
    low = np.full(n_features, 2**31 - 1, np.int64)
    high = np.full(n_features, -(2**31), np.int64)
    with np.errstate(invalid="ignore"):  # NaN, inf or a value beyond int32 fails the comparison below
        for first in range(start, min(stop, samples.shape[0]), _PACK_ROWS):
            block = samples[first : min(stop, first + _PACK_ROWS)]
            whole = block.astype(np.int32)
            if not np.array_equal(whole, block):
                return None
            packed = wide[first : first + block.shape[0]]
            for feature, column in enumerate(whole.T):
                if feature:
                    packed += column.astype(np.int64) << (bits * feature)
                else:
                    np.copyto(packed, column)
                low[feature], high[feature] = min(low[feature], column.min()), max(high[feature], column.max())
    return low, high


def _bits_per_feature(n_features: int) -> int:
    """Bits of each feature in a Morton key: at most 8, and ``_KEY_BITS`` in all."""
    return min(8, _KEY_BITS // n_features)


def pack_integers(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The samples packed one int32 each as the grid packs them (:func:`_packed_steps`), or None if they do not pack.

    Made once per fit and shared by the grid (:meth:`FilterGrid.build_for_integers`) and the coarse grid of the
    k-means++ start (:func:`~napari_colorquant.kmeans.coarse_grid`), which both need whole-number steps.

    Parameters
    ----------
    samples : ndarray (n, F)

    Returns
    -------
    tuple (packed, low, span) or None
        ``packed`` (n,) of int32: feature ``f``'s offset from its column's least value at bit ``bits * f``;
        ``low``, ``span`` (F,): each column's least value and its largest less its least.
    """
    return _packed_steps(samples, _bits_per_feature(samples.shape[1]))


def pack_bytes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`pack_integers` of ``values.astype(float64)`` for bytes of 2 or 3 channels, from the bytes themselves.

    Bytes are whole numbers by their type and span at most 256 steps, so nothing needs checking: each row's bytes,
    read as one little-endian number (OpenCV's RGB -> RGBA copy gives every row a fourth byte), are its unshifted
    packing, less the columns' least values shifted alike (gen12, 1.4 million colours: 9 ms CPU for the float
    samples' checked packing, about 2 ms here).

    Parameters
    ----------
    values : ndarray (n, F) of uint8

    Returns
    -------
    tuple (packed, low, span) or None
        As :func:`pack_integers`; None for other dtypes or channel counts, or no rows.
    """
    if values.dtype != np.uint8 or values.ndim != 2 or values.shape[1] not in (2, 3) or not 0 < values.shape[0] < 2**31:
        return None
    import cv2

    rows = np.ascontiguousarray(values)
    columns = cv2.split(rows.reshape(1, -1, rows.shape[1]))
    low = np.array([cv2.minMaxLoc(column)[0] for column in columns])
    high = np.array([cv2.minMaxLoc(column)[1] for column in columns])
    if rows.shape[1] == 3:
        wide = cv2.cvtColor(rows.reshape(1, -1, 3), cv2.COLOR_RGB2RGBA).view(np.uint32).reshape(-1)
        np.bitwise_and(wide, 0xFFFFFF, out=wide)
    else:
        wide = rows.view(np.uint16).reshape(-1).astype(np.uint32)
    offset = sum(int(least) << (8 * feature) for feature, least in enumerate(low))
    packed = np.subtract(wide.view(np.int32), np.int32(offset))
    return packed, low, high - low


def steps_per_feature(n_features: int) -> int:
    """How many steps each feature of packed samples (:func:`pack_integers`) can take: ``2**bits``.

    Parameters
    ----------
    n_features : int

    Returns
    -------
    int
    """
    return 1 << _bits_per_feature(n_features)


def packed_lookup(packed: np.ndarray, tables: list[np.ndarray]) -> np.ndarray:
    """``sum_f tables[f][step_f]`` for every packed sample (:func:`pack_integers`), in two or three gathers.

    Each table maps one feature's step (``0 .. 2**bits - 1``) to a number; the tables of neighbouring features are
    combined into one table of up to 16 bits (for 8-bit colours: one 65 536-entry table for the first two features
    and one of 256 for the third), so the sum costs a gather per combined table instead of a shift, a mask and a
    gather per feature. Integer tables give exact sums.

    Parameters
    ----------
    packed : ndarray (n,) of int32
    tables : list of ndarray (2**bits,)
        One per feature, all of one dtype.

    Returns
    -------
    ndarray (n,)
        Of the tables' dtype.
    """
    bits = _bits_per_feature(len(tables))
    mask = (1 << bits) - 1
    per_group = max(1, 16 // bits)
    total = None
    for first in range(0, len(tables), per_group):
        group = range(first, min(len(tables), first + per_group))
        width = bits * len(group)
        index = np.arange(1 << width)
        combined = sum(tables[feature][(index >> (bits * (feature - first))) & mask] for feature in group)
        field = np.right_shift(packed, bits * first) if first else packed
        if group[-1] < len(tables) - 1:  # the last group holds the top bits: nothing above it to mask off
            field = np.bitwise_and(field, (1 << width) - 1)
        part = np.take(combined, field)
        total = part if total is None else np.add(total, part, out=total)
    return total


def _packed_reach(compact: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
    """The largest absolute value of samples packed by :func:`_packed_steps` (from each column's least and span)."""
    _, low, span = compact
    return float(np.abs(np.concatenate([low, low + span])).max())


def _unpacked_columns(packed: np.ndarray, low: np.ndarray, bits: int, dtype=np.float64) -> list[np.ndarray]:
    """The feature columns of packed steps (:func:`_packed_steps`): the samples' values exactly.

    ``dtype`` float32 only for values below 2**24 in magnitude (then exact too: half the bytes to write and to
    gather in every walk; see :func:`_narrowed`).
    """
    columns = []
    for feature, least in enumerate(low):
        column = np.bitwise_and(np.right_shift(packed, bits * feature), (1 << bits) - 1).astype(dtype)
        column += least
        columns.append(column)
    return columns


def _sorted_columns(compact: tuple[np.ndarray, np.ndarray, np.ndarray], order: np.ndarray, bits: int, scale: float):
    """The packed samples' columns in ``order`` (float32 when every value is below 2**24 in magnitude, else float64),
    and their :func:`_low_steps`."""
    dtype = np.float32 if scale < 2.0**24 else np.float64
    packed = np.take(compact[0], order)
    return _unpacked_columns(packed, compact[1], bits, dtype), _low_steps(packed, compact[1].size)


def _low_steps(packed: np.ndarray, n_features: int) -> np.ndarray:
    """Where each packed value sits in its finest cell, as bits: bit ``f * 2**_FINEST + s`` set when feature ``f``'s
    step within the cell is ``s``. OR-ed over a cell's values they give its members' bounding box (:func:`_boxes_of`).
    """
    side = 1 << _FINEST
    steps = np.arange(steps_per_feature(n_features))
    return packed_lookup(packed, [((1 << (steps % side)) << (side * f)).astype(np.uint16) for f in range(n_features)])


def _boxes_of(firsts: list[np.ndarray], low_steps: np.ndarray, least: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Members' bounding boxes ``(m, F)`` of finest cells from one member's value per feature (``firsts``) and the
    OR of the members' :func:`_low_steps` (``low_steps``): the same numbers as their least and largest values."""
    side = 1 << _FINEST
    lowest = np.array([(bit & -bit).bit_length() - 1 if bit else 0 for bit in range(1 << side)], np.float64)
    highest = np.array([bit.bit_length() - 1 if bit else 0 for bit in range(1 << side)], np.float64)
    low, high = [], []
    for feature, first in enumerate(firsts):
        first = first.astype(np.float64)
        base = first - np.mod(first - least[feature], side)  # the cell's first step
        occupied = np.bitwise_and(np.right_shift(low_steps, side * feature), (1 << side) - 1)
        low.append(base + lowest[occupied])
        high.append(base + highest[occupied])
    return np.stack(low, axis=1), np.stack(high, axis=1)


def concatenated_ranges(bounds: np.ndarray, which: np.ndarray) -> np.ndarray:
    """``np.concatenate([np.arange(bounds[i], bounds[i + 1]) for i in which])`` without the loop.

    Parameters
    ----------
    bounds : ndarray (m + 1,) of int
        Run boundaries.
    which : ndarray of int
        The runs wanted, in order.

    Returns
    -------
    ndarray of intp
    """
    starts = bounds[which]
    lengths = bounds[which + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.intp)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total)


def _narrowed(column: np.ndarray) -> np.ndarray:
    """A float64 column as float32 when that holds every value exactly (8-bit colours, pixel counts below 2**24).

    The walks gather the undecided values from these columns every iteration: half the bytes. Every use
    meets a float64 operand first (the weights are widened before the products, a box's bounds before its
    middle is taken), so the arithmetic is the float64 arithmetic on the same values.
    """
    narrowed = column.astype(np.float32)
    return narrowed if np.array_equal(narrowed, column) else column


def _finest_level(keys, columns, weight, low_steps=None) -> _Level:
    """Cells of side ``2**_FINEST`` key steps from the values sorted by their finest cells' ``keys``.

    Finer cells were measured not to pay: at side 2 the per-value sums over 300 000 cells of gen12's 1.4
    million values cost more to build (reductions over many short runs) than they saved per iteration.
    The reductions of each feature run on the thread pool (one column each; the same numbers). For packed
    values, ``low_steps`` (their :func:`_low_steps` and the columns' least values) give the members' boxes from one
    OR per cell instead of a least and a largest per feature (gen12: 10 -> 4 ms CPU).
    """
    starts = run_starts(keys)

    def reduce(column: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
        # The same products as the caller's samples.T * weight, so the cells' sums are the same integers.
        weighted = column * weight
        sums = np.add.reduceat(weighted, starts)
        if low_steps is not None:
            # And sum w x^2 (KMeansFit.label_sums: the MSE of byte values from their clusters' sums), one dot.
            return None, None, sums, float(np.dot(weighted, column.astype(np.float64)))
        return np.minimum.reduceat(column, starts), np.maximum.reduceat(column, starts), sums, None

    tasks = [lambda column=column: reduce(column) for column in columns] + [lambda: np.add.reduceat(weight, starts)]
    if low_steps is not None:
        tasks.append(lambda: np.bitwise_or.reduceat(low_steps[0], starts))
    reduced = run_all(tasks)
    lows, highs, sums, squares = zip(*reduced[: len(columns)], strict=True)
    if low_steps is None:
        # float64 bounds whatever the columns (float32 ones are exact, their middles need not be).
        low, high = np.stack(lows, axis=1).astype(np.float64), np.stack(highs, axis=1).astype(np.float64)
    else:
        low, high = _boxes_of([column[starts] for column in columns], reduced[-1], low_steps[1])
    bounds = np.append(starts, keys.size)
    squares = None if low_steps is None else sum(squares)
    return _Level(low, high, reduced[len(columns)], np.stack(sums), bounds, bounds, np.arange(bounds.size), squares)


def _coarser_level(finer: _Level, cell_keys: np.ndarray) -> _Level:
    """The cells one level up: runs of ``finer``'s cells with equal ``cell_keys``."""
    starts = run_starts(cell_keys)
    low = np.minimum.reduceat(finer.low, starts, axis=0)
    high = np.maximum.reduceat(finer.high, starts, axis=0)
    sums = np.add.reduceat(finer.sums, starts, axis=1)
    children = np.append(starts, cell_keys.size)
    weight = np.add.reduceat(finer.weight, starts)
    return _Level(low, high, weight, sums, children, finer.values[children], finer.finest[children])


def _nearest_two(partial: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index of the least row of ``partial`` (K, m) per column (ties to the lowest), its value and the next least."""
    best = partial[0].copy()
    second = np.full_like(best, np.inf)
    nearest = np.zeros(best.size, np.intp)
    for index in range(1, partial.shape[0]):
        row = partial[index]
        np.minimum(second, np.maximum(best, row), out=second)
        np.copyto(nearest, index, where=row < best)
        np.minimum(best, row, out=best)
    return nearest, best, second


def _kanungo_close(partial, best, nearest, half, centers, margin, limit) -> tuple[np.ndarray, np.ndarray]:
    """Kanungo et al.'s test: the centres that come within ``margin`` of ``z*`` somewhere in each box.

    For centre ``z``, the least of ``|x - z|^2 - |x - z*|^2`` over the box is its value at the middle less
    ``2 sum_f half_f |z_f - z*_f|``; it is exactly 0 for ``z*`` itself, so the box is owned when only one
    centre comes out at or below ``margin``. Only the centres whose partial distance from the box's middle
    is at most ``limit`` are tested: the others are farther than ``z*`` by more than ``margin`` everywhere
    in the box by the distance bounds of :func:`owners` (at a fine level, most boxes keep 2 or 3 of 16).

    Returns
    -------
    close : ndarray (m,)
        How many centres come within ``margin`` (``z*`` included).
    rival : ndarray (m,) of intp
        The last such centre that is not ``z*`` (meaningful where ``close`` is 2).
    """
    candidate = partial <= limit
    candidate[nearest, np.arange(nearest.size)] = False  # z* is close by definition
    tested, box = np.nonzero(candidate)
    gap = partial[tested, box] - best[box]
    for feature in range(centers.shape[1]):
        reach = np.abs(centers[nearest[box], feature] - centers[tested, feature])
        reach *= 2.0 * half[box, feature]
        gap -= reach
    is_close = gap <= margin
    close = 1 + np.bincount(box[is_close], minlength=nearest.size)
    rival = np.zeros(nearest.size, np.intp)
    rival[box[is_close]] = tested[is_close]
    return close, rival


def owners(
    middle: np.ndarray, half: np.ndarray, centers: np.ndarray, norms: np.ndarray, margin: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one centre that owns each whole box, or -1 where another centre may be as near to some point of it.

    A cheap sufficient test first (the second-nearest centre, measured from the box's middle, is farther
    than the nearest by more than the box's diameter), then Kanungo et al.'s exact box test on the rest.

    Parameters
    ----------
    middle, half : ndarray (m, F)
        Boxes: middle and half-widths.
    centers : ndarray (K, F)
    norms : ndarray (K,)
        Squared norms of the centres.
    margin : float
        A centre is pruned only if it is farther than ``z*`` by more than this (squared distance) at every
        point of the box.

    Returns
    -------
    owner : ndarray (m,) of intp
        The owning centre, or -1.
    nearest : ndarray (m,) of intp
        ``z*``, the centre nearest each box's middle (ties to the lowest index).
    rival : ndarray (m,) of intp
        For a box that is not owned, the one other centre that may be nearer somewhere in it; -1 where
        there are several (or the box is owned).
    """
    partial = (-2.0 * centers) @ middle.T
    partial += norms[:, None]
    nearest, best, second = _nearest_two(partial)
    middle_norms = np.einsum("mf,mf->m", middle, middle)
    radius = np.sqrt(np.einsum("mf,mf->m", half, half)) * (1 + 1e-12)
    # Distances bounded from the right side, then |x - z| >= d2 - r and |x - z*| <= d1 + r inside the box.
    far = np.sqrt(np.maximum(second + middle_norms - margin, 0.0)) - radius
    near = np.sqrt(np.maximum(best + middle_norms + margin, 0.0)) + radius
    sure = (far > near) & ((far - near) * (far + near) > margin)
    unsure = np.flatnonzero(~sure)
    rival = np.full(nearest.size, -1, np.intp)
    if unsure.size:
        # The same bounds for every centre: z is farther than z* by more than margin everywhere in the box when
        # |m - z| - r > sqrt(near^2 + margin), i.e. its partial distance exceeds the limit (widened for rounding).
        reach = (np.sqrt(near[unsure] ** 2 + margin) + radius[unsure]) * (1 + 1e-9)
        limit = reach * reach + 2.0 * margin - middle_norms[unsure]
        close, rivals = _kanungo_close(
            partial[:, unsure], best[unsure], nearest[unsure], half[unsure], centers, margin, limit
        )
        sure[unsure] = close == 1
        rival[unsure] = np.where(close == 2, rivals, -1)
    return np.where(sure, nearest, -1), nearest, rival


def pair_owners(
    middle: np.ndarray,
    half: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    centers: np.ndarray,
    norms: np.ndarray,
    margin: float,
) -> np.ndarray:
    """The one of two centres that owns each whole box, or -1, when no other centre can be nearest in it.

    With ``a = first``, ``b = second`` and ``g(x) = |b|^2 - |a|^2 - 2 x.(b - a)`` (the difference of their
    partial distances, linear in ``x``), ``g`` over a box ranges over its value at the middle plus or minus
    ``2 sum_f half_f |b_f - a_f|``: ``a`` owns the box when even the least exceeds ``margin``, ``b`` when even
    the largest is below ``-margin`` (Kanungo et al.'s test for the pair; the rounding of ``g`` is far below
    ``margin``, as in :func:`owners`).

    Parameters
    ----------
    middle, half : ndarray (m, F)
    first, second : ndarray (m,) of intp
        The two centres that can be nearest in each box.
    centers : ndarray (K, F)
    norms : ndarray (K,)
    margin : float

    Returns
    -------
    ndarray (m,) of intp
    """
    gap = norms[second] - norms[first]
    reach = np.zeros(first.size)
    for feature in range(centers.shape[1]):
        step = centers[second, feature] - centers[first, feature]
        gap -= 2.0 * middle[:, feature] * step
        reach += np.abs(step) * half[:, feature]
    reach *= 2.0
    owner = np.full(first.size, -1, np.intp)
    owner[gap - reach > margin] = first[gap - reach > margin]
    owner[gap + reach < -margin] = second[gap + reach < -margin]
    return owner


def pair_labels(
    columns: list[np.ndarray],
    lengths: np.ndarray,
    nearest: np.ndarray,
    rival: np.ndarray,
    centers: np.ndarray,
    norms: np.ndarray,
    margin: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Labels of the values of boxes where only ``nearest`` and ``rival`` can be nearest, and the values undecided.

    Every other centre is farther than ``z* = nearest`` by more than ``margin`` everywhere in the box, so a
    value's label is ``z*`` or its rival: the sign of ``g = |b|^2 - |a|^2 - 2 x.(b - a)`` (``a = z*``, ``b`` the
    rival), the difference of their partial distances, decides it. The plain kernel's partial distances
    and this ``g`` are both within a rounding error far below ``margin`` of the exact ones, so wherever
    ``|g| > margin`` the plain kernel gives the same label; values with ``|g| <= margin`` (ties and near
    ties), and those of boxes without a single rival (``rival`` -1, ``g`` taken as 0), are left undecided.

    Parameters
    ----------
    columns : list of ndarray (n,)
        The values' features, box after box.
    lengths : ndarray (m,)
        Values per box.
    nearest, rival : ndarray (m,) of intp
        Each box's ``z*`` and its rival (-1: several or none).
    centers : ndarray (K, F)
    norms : ndarray (K,)
    margin : float

    Returns
    -------
    labels : ndarray (n,) of intp
        ``z*`` or the rival (to be overwritten where undecided).
    undecided : ndarray of intp
        Positions of the values the plain kernel must label.
    """
    gap = pair_gaps(columns, lengths, nearest, rival, centers, norms)
    other = np.where(rival >= 0, rival, nearest)
    labels = np.where(gap < 0.0, np.repeat(other, lengths), np.repeat(nearest, lengths))
    np.abs(gap, out=gap)
    return labels, np.flatnonzero(gap <= margin)


def pair_gaps(
    columns: list[np.ndarray],
    lengths: np.ndarray,
    nearest: np.ndarray,
    rival: np.ndarray,
    centers: np.ndarray,
    norms: np.ndarray,
) -> np.ndarray:
    """``g = |b|^2 - |a|^2 - 2 x.(b - a)`` of every value (``a`` its box's ``nearest``, ``b`` its ``rival``; 0 where
    the box has no single rival): negative where the rival is nearer (see :func:`pair_labels`).

    Parameters
    ----------
    columns : list of ndarray (n,)
        The values' features, box after box.
    lengths : ndarray (m,)
        Values per box.
    nearest, rival : ndarray (m,) of intp
        Each box's ``z*`` and its rival (-1: several or none).
    centers : ndarray (K, F)
    norms : ndarray (K,)

    Returns
    -------
    ndarray (n,) of float64
    """
    paired = rival >= 0
    other = np.where(paired, rival, nearest)
    step = 2.0 * (centers[other] - centers[nearest])
    step[~paired] = 0.0
    gap = np.repeat(np.where(paired, norms[other] - norms[nearest], 0.0), lengths)
    for feature, column in enumerate(columns):
        gap -= column * np.repeat(step[:, feature], lengths)
    return gap


def rival_sums(
    gap: np.ndarray, weight: np.ndarray, columns: list[np.ndarray], lengths: np.ndarray, margin: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per box, the weight and weighted sums of its values that go to the rival for sure (``g < -margin``), and
    the values left undecided (``|g| <= margin``, as :func:`pair_labels`).

    The rest of a box goes to ``z*``: its sums are the box's own less these (exact: integer sums below 2**53).
    Sums over each box's run of values (``np.add.reduceat``) instead of a bincount of every value by its label
    per feature: gen12, K = 16, ~180 000 values in undecided boxes per walk.

    Parameters
    ----------
    gap : ndarray (n,)
        :func:`pair_gaps`; overwritten with its absolute value.
    weight : ndarray (n,)
    columns : list of ndarray (n,)
    lengths : ndarray (m,)
        Values per box (each at least 1).
    margin : float

    Returns
    -------
    mass : ndarray (m,)
    sums : ndarray (F, m)
    undecided : ndarray of intp
        Positions of the values the plain kernel must label.
    """
    starts = np.cumsum(lengths) - lengths
    moved = np.multiply(weight, gap < -margin, dtype=np.float64)
    mass = np.add.reduceat(moved, starts)
    sums = np.stack([np.add.reduceat(np.multiply(moved, column), starts) for column in columns])
    np.abs(gap, out=gap)
    return mass, sums, np.flatnonzero(gap <= margin)


def _side_by_side(columns: list[np.ndarray]) -> np.ndarray:
    """The columns as one ``(n, len(columns))`` array: OpenCV's channel merge for float32 (1.4 million rows of four:
    0.9 ms against 3.7 ms for NumPy's strided writes), NumPy otherwise."""
    dtype = np.result_type(*columns)
    if dtype == np.float32 and len(columns) <= 4 and 0 < columns[0].size < 2**31:
        import cv2

        return cv2.merge([column.reshape(-1, 1) for column in columns]).reshape(columns[0].size, len(columns))
    rows = np.empty((columns[0].size, len(columns)), dtype)
    for index, column in enumerate(columns):
        rows[:, index] = column
    return rows


def _add_sums(mass: np.ndarray, sums: np.ndarray, labels: np.ndarray, weight: np.ndarray, weighted) -> None:
    """Add ``weight`` to ``mass`` (K,) and each row of ``weighted`` to ``sums`` (F, K) by ``labels``."""
    np.add(mass, np.bincount(labels, weights=weight, minlength=mass.size), out=mass)
    for feature, row in enumerate(weighted):
        sums[feature] += np.bincount(labels, weights=row, minlength=mass.size)


class FilterGrid:
    """The distinct values sorted into grid cells, with each cell's weight, sums and bounding box.

    Build it once per fit (:meth:`build`); each Lloyd iteration calls :meth:`cluster_sums`, and the
    final assignment :meth:`labels`.
    """

    def __init__(self, order, columns, weight, levels, scale, nearest) -> None:
        # The features and the weight of each value side by side in one row: a walk gathers each undecided value's
        # row in one go (np.take of rows: a quarter of the time of four gathers of a column each).
        self.rows = _side_by_side([*columns, weight])
        self.order, self.columns, self.weight = order, list(self.rows[:, :-1].T), self.rows[:, -1]
        self.levels, self.scale, self.nearest = levels, scale, nearest
        self._cut = None

    @classmethod
    def build_for_integers(
        cls,
        samples: np.ndarray,
        weight: np.ndarray,
        nearest: Nearest,
        compact: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> FilterGrid | None:
        """:meth:`build` when the samples are integers that pack (:func:`_packed_steps`) and the weights integers
        with weighted sums below 2**53, else None.

        Those are sufficient for :class:`~napari_colorquant.kmeans._ExactSums` (integer products, totals below
        2**53) and cheaper to check than its pass over the weighted samples, which the grid does not need.

        Parameters
        ----------
        samples : ndarray (n, F)
        weight : ndarray (n,)
        nearest : callable
            As for :meth:`build`.
        compact : tuple, optional
            The samples' :func:`pack_integers` when already made (else made here).

        Returns
        -------
        FilterGrid or None
        """
        compact = pack_integers(samples) if compact is None else compact
        if compact is None or not np.array_equal(weight, np.rint(weight)):
            return None
        reach = _packed_reach(compact)
        if (reach + 1.0) * float(np.abs(weight).sum()) >= 2.0**53:
            return None
        return cls.build(samples, weight, nearest, compact)

    @classmethod
    def build(
        cls,
        samples: np.ndarray,
        weight: np.ndarray,
        nearest: Nearest,
        compact: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> FilterGrid:
        """Sort the samples by cell and summarise every level.

        Parameters
        ----------
        samples : ndarray (n, F)
        weight : ndarray (n,)
        nearest : callable
            ``nearest(rows, centers)``: the labels of the plain assignment kernel
            (:func:`~napari_colorquant.kmeans.nearest_labels`), for the values left undecided.
        compact : tuple, optional
            The samples' :func:`_packed_steps` when already known.

        Returns
        -------
        FilterGrid
        """
        import cv2

        n_features = samples.shape[1]
        bits = _bits_per_feature(n_features)
        compact = _packed_steps(samples, bits) if compact is None else compact
        # Sorted by the finest cells' keys only: nothing depends on the order of the values within a finest cell
        # (their sums are exact integers, their labels their own), and fewer distinct keys sort faster (gen12:
        # 13 -> 10 ms CPU).
        shift = n_features * _FINEST
        if compact is None:
            keys, bits = morton_keys(samples)
            keys >>= shift
        else:
            low_table, high_table = (table >> shift for table in _morton_tables(n_features, bits))
            keys = np.take(low_table, compact[0] & ((1 << _CHUNK_BITS) - 1))
            keys |= np.take(high_table, compact[0] >> _CHUNK_BITS)
        order = cv2.sortIdx(keys.reshape(1, -1), cv2.SORT_EVERY_ROW | cv2.SORT_ASCENDING).reshape(-1)
        if compact is None:
            columns = list(np.take(samples, order, axis=0).T.copy())
            scale = float(max(np.abs(column).max() for column in columns))
        else:
            columns = None  # unpacked on the pool below, beside the other gathers
            scale = _packed_reach(compact)
        # Independent gathers (NumPy releases the GIL in them): on the pool.
        keys, weight, unpacked = run_all(
            [
                lambda: np.take(keys, order),
                lambda: np.take(weight, order),
                lambda: (columns, None) if compact is None else _sorted_columns(compact, order, bits, scale),
            ]
        )
        columns, low_steps = unpacked
        levels = [_finest_level(keys, columns, weight, None if compact is None else (low_steps, compact[1]))]
        top = max(_FINEST, bits - _TOP_CELL_BITS // n_features)
        for level in range(_FINEST + 1, top + 1):
            finest_keys = keys[levels[-1].values[:-1]]
            levels.append(_coarser_level(levels[-1], finest_keys >> (n_features * (level - _FINEST))))
        return cls(order, columns, _narrowed(weight), levels[::-1], scale, nearest)

    def _margin(self, centers: np.ndarray) -> float:
        reach = self.scale + float(np.abs(centers).max(initial=0.0))
        return _MARGIN * centers.shape[1] * reach * reach

    def _walk(self, centers: np.ndarray, active: np.ndarray, on_cells, on_values) -> None:
        """Visit the levels from the coarsest cells ``active``: ``on_cells(level, cells, owner)`` for owned
        cells, then ``on_values(cells, nearest, rival, norms, margin)`` for the finest cells still undecided,
        each with its ``z*`` and single rival (-1: several), the centres' squared norms and the margin.

        The children of a cell left with a single rival of its ``z*`` are tested against those two centres only
        (:func:`pair_owners`): every other centre is farther than ``z*`` by more than the margin everywhere in the
        parent, so in the child too, and none of them can be nearest there (gen12: 84 % of the finest cells
        tested)."""
        norms = np.einsum("kf,kf->k", centers, centers)
        margin = self._margin(centers)
        paired = first = second = np.zeros(0, np.intp)
        for level in self.levels:
            owner, nearest, rival = owners(level.middle[active], level.half[active], centers, norms, margin)
            owned = owner >= 0
            on_cells(level, active[owned], owner[owned])
            owner = pair_owners(level.middle[paired], level.half[paired], first, second, centers, norms, margin)
            open_pairs = owner < 0
            on_cells(level, paired[~open_pairs], owner[~open_pairs])
            single = ~owned & (rival >= 0)
            several = ~owned & (rival < 0)
            paired = np.concatenate([paired[open_pairs], active[single]])
            first = np.concatenate([first[open_pairs], nearest[single]])
            second = np.concatenate([second[open_pairs], rival[single]])
            active, nearest = active[several], nearest[several]
            if level is not self.levels[-1]:
                counts = level.children[paired + 1] - level.children[paired]
                first, second = np.repeat(first, counts), np.repeat(second, counts)
                paired = concatenated_ranges(level.children, paired)
                active = concatenated_ranges(level.children, active)
        if active.size or paired.size:
            cells = np.concatenate([active, paired])
            rival = np.concatenate([np.full(active.size, -1, np.intp), second])
            on_values(cells, np.concatenate([nearest, first]), rival, norms, margin)

    def _gathered(self, cells: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, np.ndarray]:
        """The values of finest ``cells``: their sorted-order indices, feature columns, weights and the runs'
        lengths."""
        bounds = self.levels[-1].values
        indices = concatenated_ranges(bounds, cells)
        rows = np.take(self.rows, indices, axis=0)
        return indices, list(rows[:, :-1].T), rows[:, -1], bounds[cells + 1] - bounds[cells]

    def _parts(self) -> list[np.ndarray]:
        """The coarsest cells in one contiguous run per thread, with about as many values each.

        The walks of the runs are independent (each writes its own sums or its own cells' labels), so they run
        on the pool; the sums are exact integers, so adding the runs' sums gives the same numbers in any order.
        """
        top = self.levels[0]
        threads = n_threads() if self.weight.size >= PARALLEL_FROM else 1
        if self._cut is None or self._cut[0] != threads:  # made once per grid (and thread count)
            wanted = np.linspace(0, top.values[-1], threads + 1)[1:-1]
            cuts = np.unique(np.concatenate([[0], np.searchsorted(top.values, wanted), [top.weight.size]]))
            self._cut = threads, [np.arange(low, high) for low, high in itertools.pairwise(cuts) if high > low]
        return self._cut[1]

    def _sums_of(self, centers: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`cluster_sums` of the values under the coarsest cells ``active``; sums ``(F, K)``."""
        mass = np.zeros(centers.shape[0])
        sums = np.zeros((len(self.columns), centers.shape[0]))

        def add(labels, weight, weighted):
            _add_sums(mass, sums, labels, weight, weighted)

        def on_cells(level, cells, owner):
            add(owner, level.weight[cells], level.sums[:, cells])

        def on_values(cells, nearest, rival, norms, margin):
            # The whole boxes to z* first, then what goes to the rival for sure moved over box by box, then the
            # values left undecided moved from z* to their plain-kernel label (all sums exact integers).
            finest = self.levels[-1]
            add(nearest, finest.weight[cells], finest.sums[:, cells])
            _, columns, weight, lengths = self._gathered(cells)
            gap = pair_gaps(columns, lengths, nearest, rival, centers, norms)
            moved, moved_sums, undecided = rival_sums(gap, weight, columns, lengths, margin)
            add(np.where(rival >= 0, rival, nearest), moved, moved_sums)
            add(nearest, -moved, -moved_sums)
            if undecided.size:
                rows = np.stack([column[undecided] for column in columns], axis=1)
                box = np.searchsorted(np.cumsum(lengths), undecided, side="right")
                value_weight = weight[undecided].astype(np.float64)
                # Multiplied in float64, as the caller's samples.T * weight (the same products).
                weighted = rows.T * value_weight
                add(self.nearest(rows, centers), value_weight, weighted)
                add(nearest[box], -value_weight, -weighted)

        self._walk(centers, active, on_cells, on_values)
        return mass, sums

    def cluster_sums(self, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weight ``(K,)`` and weighted feature sums ``(K, F)`` of the values nearest each centre.

        Parameters
        ----------
        centers : ndarray (K, F)

        Returns
        -------
        mass : ndarray (K,)
        sums : ndarray (K, F)
        """
        parts = run_all([lambda part=part: self._sums_of(centers, part) for part in self._parts()])
        mass, sums = parts[0]
        for more_mass, more_sums in parts[1:]:
            mass, sums = mass + more_mass, sums + more_sums
        return mass, sums.T.copy()

    def may_leave_empty(self, centers: np.ndarray) -> bool:
        """Whether some centre is nearest to none of the middles of the cells one level above the finest: a cheap
        guess that it is nearest to no value at all (a choice of walks only; the result does not depend on it).

        Parameters
        ----------
        centers : ndarray (K, F)

        Returns
        -------
        bool
        """
        level = self.levels[-2] if len(self.levels) > 1 else self.levels[-1]
        partial = (-2.0 * centers) @ level.middle.T
        partial += np.einsum("kf,kf->k", centers, centers)[:, None]
        return bool(np.bincount(_nearest_two(partial)[0], minlength=centers.shape[0]).min() == 0)

    def labels(self, centers: np.ndarray, with_sums: bool = False) -> np.ndarray | tuple[np.ndarray, tuple]:
        """Index of the nearest centre of every sample, in the samples' own order (as ``nearest_center``).

        Parameters
        ----------
        centers : ndarray (K, F)
        with_sums : bool
            Also return the clusters' weights and sums by these labels (in the same walk).

        Returns
        -------
        labels : ndarray (n,) of intp
        label_sums : tuple, with ``with_sums`` only
            Weights ``(K,)``, weighted feature sums ``(K, F)`` (exact integers, as :meth:`cluster_sums`) and
            the weighted sum of the values' squared norms (None unless the values were packed).
        """
        finest, top = self.levels[-1], self.levels[0]
        # A label per finest cell (those of undecided cells are overwritten value by value below), then one
        # repeat over the values: cheaper than writing the values of every owned cell range by range. In bytes
        # up to 127 centres: the scatter into the samples' order writes a table that stays in cache.
        cell_labels = np.zeros(finest.weight.size, np.int8 if centers.shape[0] <= 127 else np.intp)
        labels = np.empty(self.order.size, cell_labels.dtype)

        def walk(part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            undecided = []
            mass, sums = np.zeros(centers.shape[0]), np.zeros((len(self.columns), centers.shape[0]))

            def on_cells(level, cells, owner):
                lengths = level.finest[cells + 1] - level.finest[cells]
                cell_labels[concatenated_ranges(level.finest, cells)] = np.repeat(owner, lengths)
                if with_sums:
                    _add_sums(mass, sums, owner, level.weight[cells], level.sums[:, cells])

            def on_values(cells, nearest, rival, norms, margin):
                indices, columns, weight, lengths = self._gathered(cells)
                found, unsure = pair_labels(columns, lengths, nearest, rival, centers, norms, margin)
                if unsure.size:
                    found[unsure] = self.nearest(np.stack([column[unsure] for column in columns], axis=1), centers)
                undecided.append((indices, found))
                if with_sums:  # multiplied in float64, as the cells' sums (the same integers)
                    weight = weight.astype(np.float64)
                    _add_sums(mass, sums, found, weight, [column * weight for column in columns])

            self._walk(centers, part, on_cells, on_values)
            # The part's values are one run in the sorted order: put back in the samples' order on this thread.
            first, last = top.finest[part[0]], top.finest[part[-1] + 1]
            start, stop = finest.values[first], finest.values[last]
            in_order = np.repeat(cell_labels[first:last], np.diff(finest.values[first : last + 1]))
            for indices, value_labels in undecided:
                in_order[indices - start] = value_labels
            labels[self.order[start:stop]] = in_order
            return mass, sums

        totals = run_all([lambda part=part: walk(part) for part in self._parts()])
        if not with_sums:
            return labels.astype(np.intp, copy=False)
        mass, sums = (sum(parts) for parts in zip(*totals, strict=True))  # integers: exact in any order
        return labels.astype(np.intp, copy=False), (mass, sums.T.copy(), finest.squares)

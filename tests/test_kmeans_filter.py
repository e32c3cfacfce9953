"""Filtered Lloyd (kmeans_filter) against the plain kernel: the same centres, labels, inertia and iterations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from napari_colorquant import kmeans, kmeans_filter


def _tied_data(n_features: int, seed: int, n: int = 6000, top: int = 48):
    """Integer values on a small range (many exact ties with integer and half-integer centres), integer weights."""
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, top, (n, n_features)).astype(np.float64)
    samples = np.unique(samples, axis=0)
    rng.shuffle(samples)
    weights = rng.integers(1, 30, samples.shape[0]).astype(np.float64)
    return samples, weights


def _plain_and_filtered(monkeypatch, samples, weights, start, max_iter=20, epsilon=0.0):
    monkeypatch.setattr(kmeans_filter, "FILTER_FROM", 1 << 62)
    plain = kmeans.lloyd(samples, weights, start, max_iter, epsilon)
    built = []
    original = kmeans_filter.FilterGrid.build.__func__

    def spy(cls, *args, **kwargs):
        built.append(True)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(kmeans_filter, "FILTER_FROM", 0)
    monkeypatch.setattr(kmeans_filter, "FILTER_MIN_ITER", 1)
    monkeypatch.setattr(kmeans_filter, "FILTER_MIN_CLUSTERS", 1)
    monkeypatch.setattr(kmeans_filter.FilterGrid, "build", classmethod(spy))
    filtered = kmeans.lloyd(samples, weights, start, max_iter, epsilon)
    assert built, "the filtered path was not taken"
    return plain, filtered


def _assert_same(plain, filtered):
    assert filtered.n_iter == plain.n_iter
    assert filtered.converged == plain.converged
    np.testing.assert_array_equal(filtered.centers, plain.centers)
    np.testing.assert_array_equal(filtered.labels, plain.labels)
    assert filtered.inertia == plain.inertia


@pytest.mark.parametrize("n_features", [2, 3, 4])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 16])
def test_filtered_lloyd_equals_plain_lloyd_bit_for_bit(n_features, k, monkeypatch):
    samples, weights = _tied_data(n_features, seed=k * 10 + n_features)
    start = kmeans.initial_centers(samples, weights, k, "random", np.random.default_rng(k))
    _assert_same(*_plain_and_filtered(monkeypatch, samples, weights, start))


@pytest.mark.parametrize("seed", range(4))
def test_filtered_lloyd_with_tied_and_duplicated_centres(seed, monkeypatch):
    """Values exactly between two centres and a duplicated centre: ties go to the lowest index in both paths."""
    samples, weights = _tied_data(3, seed=seed, top=24)
    rng = np.random.default_rng(seed)
    start = samples[rng.choice(samples.shape[0], 8, replace=False)].copy()
    start[5] = start[1]  # a duplicate: it keeps nothing, ties to centre 1
    start[6] = start[2] + 1.0  # integer neighbours: half-integer bisectors through integer values' cells
    start[7] = start[2] + np.array([2.0, 0.0, 0.0])  # midpoint start[2] + (1, 0, 0) is an integer value
    plain, filtered = _plain_and_filtered(monkeypatch, samples, weights, start, max_iter=1)
    _assert_same(plain, filtered)
    _assert_same(*_plain_and_filtered(monkeypatch, samples, weights, start, max_iter=30, epsilon=0.2))


def test_filtered_lloyd_relocates_empty_clusters_as_the_plain_pass(monkeypatch):
    """Centres far outside the data start empty: they take a pixel by the same labels in both paths."""
    samples, weights = _tied_data(3, seed=11)
    start = kmeans.initial_centers(samples, weights, 6, "random", np.random.default_rng(2))
    start[2] = [500.0, 500.0, 500.0]
    start[4] = [-300.0, 40.0, 900.0]
    _assert_same(*_plain_and_filtered(monkeypatch, samples, weights, start, max_iter=15))


@pytest.mark.parametrize("guess", [True, False])
@pytest.mark.parametrize("init", ["uniform", "far"])
def test_one_walk_for_labels_and_sums_when_clusters_may_be_empty_changes_nothing(init, guess, monkeypatch):
    """Where clusters may be left empty the labels and the sums come from one walk: whatever the guess says (right
    or wrong), the fit is the plain one, exactly."""
    samples, weights = _tied_data(3, seed=13, n=8000)
    if init == "uniform":
        start = kmeans.uniform_centers(samples, 16, np.random.default_rng(4))
    else:
        start = kmeans.initial_centers(samples, weights, 7, "random", np.random.default_rng(4))
        start[[1, 5]] = [[400.0, -90.0, 30.0], [-200.0, 300.0, 300.0]]
    guesses = []

    def forced(self, centers):
        guesses.append(True)
        return guess

    monkeypatch.setattr(kmeans_filter.FilterGrid, "may_leave_empty", forced)
    _assert_same(*_plain_and_filtered(monkeypatch, samples, weights, start, max_iter=12))
    assert guesses


def test_the_guess_of_empty_clusters_sees_a_centre_far_from_every_value():
    samples, weights = _tied_data(3, seed=17, n=20000)
    grid = kmeans_filter.FilterGrid.build(samples, weights, kmeans.nearest_labels)
    centers = kmeans.initial_centers(samples, weights, 5, "kmeans++", np.random.default_rng(0))
    assert not grid.may_leave_empty(centers)
    assert grid.may_leave_empty(np.vstack([centers, [[900.0, 900.0, 900.0]]]))


def _assert_grid_equals_plain(grid, samples, weights, centers):
    """The grid's labels and cluster sums are those of the plain kernel, exactly."""
    labels = kmeans.nearest_labels(samples, centers)
    np.testing.assert_array_equal(grid.labels(centers), labels)
    mass, sums = grid.cluster_sums(centers)
    weighted = kmeans._weighted_t(samples, weights)
    expected_mass, expected_sums = kmeans._cluster_sums(weighted, weights, labels, centers.shape[0])
    np.testing.assert_array_equal(mass, expected_mass)
    np.testing.assert_array_equal(sums, expected_sums)


@pytest.mark.parametrize("k", [2, 7, 16])
def test_grid_labels_and_sums_equal_the_plain_kernel(k):
    samples, weights = _tied_data(3, seed=k, n=20000, top=64)
    grid = kmeans_filter.FilterGrid.build(samples, weights, kmeans.nearest_labels)
    rng = np.random.default_rng(k)
    for centers in (rng.integers(0, 64, (k, 3)).astype(np.float64), rng.uniform(-5, 70, (k, 3))):
        _assert_grid_equals_plain(grid, samples, weights, centers)


def test_whole_cells_are_assigned_at_once():
    """The filter decides most values by their cells: only values near a boundary reach the per-value kernel."""
    samples, weights = _tied_data(3, seed=3, n=60000, top=256)
    seen = []

    def counting(rows, centers):
        seen.append(rows.shape[0])
        return kmeans.nearest_labels(rows, centers)

    grid = kmeans_filter.FilterGrid.build(samples, weights, counting)
    centers = np.array([[60.0, 60, 60], [190, 190, 190]])
    np.testing.assert_array_equal(grid.labels(centers), kmeans.nearest_center(samples, centers)[0])
    assert 0 < sum(seen) < samples.shape[0] // 4


def test_filter_engages_only_where_it_pays(monkeypatch):
    calls = []
    monkeypatch.setattr(kmeans_filter.FilterGrid, "build", classmethod(lambda cls, *a: calls.append(1) or 1 / 0))
    rng = np.random.default_rng(0)
    n = kmeans_filter.FILTER_FROM
    samples = rng.integers(0, 256, (n, 3)).astype(np.float64)
    weights = np.ones(n)
    start = samples[:16].copy()
    kmeans.lloyd(samples + 0.5, weights, start, 10, 0.0)  # not exact sums: plain
    kmeans.lloyd(samples[: n - 1], weights[: n - 1], start, 10, 0.0)  # too few values
    kmeans.lloyd(samples, weights, start, 2, 0.0)  # too few iterations
    kmeans.lloyd(np.repeat(samples, 6, axis=1)[:, :5], weights, np.repeat(start, 6, axis=1)[:, :5], 10, 0.0)
    assert not calls
    with pytest.raises(ZeroDivisionError):
        kmeans.lloyd(samples, weights, start, 10, 0.0)
    assert kmeans_filter.filter_applies(n, 16, 3, 10)
    assert not kmeans_filter.filter_applies(n, kmeans_filter.FILTER_MAX_CLUSTERS + 1, 3, 10)
    assert not kmeans_filter.filter_applies(n, 2, 3, 10)


def test_concatenated_ranges_equals_a_loop():
    bounds = np.array([0, 3, 3, 7, 12, 20])
    which = np.array([0, 1, 3, 4])
    expected = np.concatenate([np.arange(bounds[i], bounds[i + 1]) for i in which])
    np.testing.assert_array_equal(kmeans_filter.concatenated_ranges(bounds, which), expected)
    assert kmeans_filter.concatenated_ranges(bounds, np.array([1])).size == 0


@pytest.mark.parametrize("n_features", [2, 3, 4])
def test_packed_steps_give_the_morton_keys_and_the_values_back(n_features):
    """The integer fast path of the grid: the same Morton keys as morton_keys, and the samples exactly."""
    bits = min(8, kmeans_filter._KEY_BITS // n_features)
    rng = np.random.default_rng(n_features)
    samples = (rng.integers(0, 1 << bits, (5000, n_features)) - rng.integers(-70, 70, n_features)).astype(np.float64)
    samples[0] = samples.min(axis=0)
    samples[1] = samples.min(axis=0) + (1 << bits) - 1  # the widest span the path takes
    packed, low, span = kmeans_filter._packed_steps(samples, bits)
    np.testing.assert_array_equal(low, samples.min(axis=0))
    np.testing.assert_array_equal(span, samples.max(axis=0) - samples.min(axis=0))
    low_table, high_table = kmeans_filter._morton_tables(n_features, bits)
    keys = low_table[packed & ((1 << kmeans_filter._CHUNK_BITS) - 1)] | high_table[packed >> kmeans_filter._CHUNK_BITS]
    np.testing.assert_array_equal(keys, kmeans_filter.morton_keys(samples)[0])
    columns = kmeans_filter._unpacked_columns(packed, low, bits)
    np.testing.assert_array_equal(np.stack(columns, axis=1), samples)


def test_packed_steps_refuse_what_they_cannot_give_back():
    samples = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
    assert kmeans_filter._packed_steps(samples, 8) is not None
    assert kmeans_filter._packed_steps(samples + 0.5, 8) is None  # not integers
    assert kmeans_filter._packed_steps(samples * 100, 8) is None  # a column spans 256 or more
    assert kmeans_filter._packed_steps(samples + 2.0**31, 8) is None  # beyond int32
    with_nan = samples.copy()
    with_nan[1, 2] = np.nan
    assert kmeans_filter._packed_steps(with_nan, 8) is None


def test_filtered_lloyd_on_values_that_are_not_integers(monkeypatch):
    """Half-integer values with even weights have exact sums but no packed steps: the general grid, same result."""
    samples, weights = _tied_data(3, seed=5)
    samples = samples + 0.5
    weights = 2.0 * weights
    packed = []
    original = kmeans_filter._packed_steps
    monkeypatch.setattr(kmeans_filter, "_packed_steps", lambda *a: packed.append(original(*a)) or packed[-1])
    start = kmeans.initial_centers(samples, weights, 7, "random", np.random.default_rng(5))
    _assert_same(*_plain_and_filtered(monkeypatch, samples, weights, start))
    assert packed and all(found is None for found in packed)


@settings(max_examples=40, deadline=None)
@given(
    n_features=st.integers(2, 4),
    k=st.integers(1, 12),
    offset=st.integers(-300, 300),
    top=st.integers(2, 255),
    seed=st.integers(0, 2**16),
    integer_centres=st.booleans(),
)
def test_grid_equals_the_plain_kernel_on_generated_integer_data(n_features, k, offset, top, seed, integer_centres):
    """Any integer data the packed path takes, any centres: the grid's labels and sums are the plain kernel's."""
    rng = np.random.default_rng(seed)
    samples = np.unique(rng.integers(0, top + 1, (3000, n_features)), axis=0).astype(np.float64) + offset
    assume(samples.shape[0] >= 4 * k)
    assume(kmeans_filter._packed_steps(samples, min(8, kmeans_filter._KEY_BITS // n_features)) is not None)
    weights = rng.integers(1, 50, samples.shape[0]).astype(np.float64)
    if integer_centres:  # exact ties between values and bisectors
        centers = samples[rng.choice(samples.shape[0], k, replace=False)] + rng.integers(-1, 2, (k, n_features))
    else:
        centers = rng.uniform(offset - 10, offset + top + 10, (k, n_features))
    grid = kmeans_filter.FilterGrid.build(samples, weights, kmeans.nearest_labels)
    _assert_grid_equals_plain(grid, samples, weights, centers)


@pytest.mark.parametrize("n_features", [2, 3, 4])
@pytest.mark.parametrize("top", [3, 50, 255])
def test_finest_boxes_of_packed_values_are_their_members_least_and_largest(n_features, top):
    """Packed values get their finest cells' boxes from the bits of their places within the cell (one OR per cell):
    exactly each feature's least and largest member, as the min / max reductions of other values give them."""
    rng = np.random.default_rng(top + n_features)
    largest = min(top, kmeans_filter.steps_per_feature(n_features) - 1)
    samples = np.unique(rng.integers(0, largest + 1, (30000, n_features)), axis=0).astype(np.float64) - 17
    weights = rng.integers(1, 9, samples.shape[0]).astype(np.float64)
    grid = kmeans_filter.FilterGrid.build(samples, weights, kmeans.nearest_labels)
    finest = grid.levels[-1]
    starts = finest.values[:-1]
    columns = [column.astype(np.float64) for column in grid.columns]
    np.testing.assert_array_equal(np.stack(columns, axis=1), samples[grid.order])
    np.testing.assert_array_equal(finest.low, np.stack([np.minimum.reduceat(c, starts) for c in columns], axis=1))
    np.testing.assert_array_equal(finest.high, np.stack([np.maximum.reduceat(c, starts) for c in columns], axis=1))


def test_integer_grid_only_where_the_sums_stay_exact():
    """build_for_integers: integer values and weights with totals below 2**53, or no grid (the caller checks)."""
    samples, weights = _tied_data(3, seed=8)
    assert isinstance(kmeans_filter.FilterGrid.build_for_integers(samples, weights, kmeans.nearest_labels),
                      kmeans_filter.FilterGrid)  # fmt: skip
    assert kmeans_filter.FilterGrid.build_for_integers(samples, weights + 0.25, kmeans.nearest_labels) is None
    huge = np.full_like(weights, 2.0**40)  # integers, but their weighted sums pass 2**53
    assert kmeans_filter.FilterGrid.build_for_integers(samples, huge, kmeans.nearest_labels) is None
    assert kmeans_filter.FilterGrid.build_for_integers(samples + 0.5, weights, kmeans.nearest_labels) is None


@pytest.mark.parametrize("init", ["kmeans++", "uniform"])
def test_attempts_share_one_grid_and_equal_separate_runs(init, monkeypatch):
    """weighted_kmeans builds the grid once (beside the first start) for every attempt: the same fit as
    drawing the starts in turn and running each attempt on its own."""
    samples, weights = _tied_data(3, seed=21, n=20000, top=64)
    monkeypatch.setattr(kmeans_filter, "FILTER_FROM", 0)
    built = []
    original = kmeans_filter.FilterGrid.build.__func__
    monkeypatch.setattr(
        kmeans_filter.FilterGrid, "build", classmethod(lambda cls, *a: built.append(1) or original(cls, *a))
    )
    fit = kmeans.weighted_kmeans(samples, weights, 6, init=init, attempts=3, seed=4, max_iter=15, epsilon=0.0)
    assert len(built) == 1
    rng = np.random.default_rng(4)
    runs = [
        kmeans.lloyd(samples, weights, kmeans.initial_centers(samples, weights, 6, init, rng), 15, 0.0)
        for _ in range(3)
    ]
    assert len(built) == 4
    expected = min(runs, key=lambda run: run.inertia)
    _assert_same(expected, fit)


def _boxes_of(samples: np.ndarray, side: int):
    """Each value's box of ``side`` steps (grouped box after box), as middle/half arrays and run lengths."""
    cells = np.floor_divide(samples, side)
    inverse = np.unique(cells, axis=0, return_inverse=True)[1]
    order = np.argsort(inverse.reshape(-1), kind="stable")
    grouped = samples[order]
    lengths = np.bincount(inverse.reshape(-1))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    low = np.minimum.reduceat(grouped, starts, axis=0)
    high = np.maximum.reduceat(grouped, starts, axis=0)
    return grouped, lengths, (low + high) / 2, (high - low) / 2


@pytest.mark.parametrize("seed", range(6))
def test_pair_labels_equal_brute_force_and_leave_ties_undecided(seed):
    """Boxes cut by one bisector: the sign test labels every value as the brute-force nearest centre, and every
    value (nearly) equidistant from the two is left undecided, never guessed."""
    rng = np.random.default_rng(seed)
    samples = np.unique(rng.integers(0, 40, (4000, 3)), axis=0).astype(np.float64)
    centers = rng.integers(0, 40, (5, 3)).astype(np.float64)
    centers[1] = centers[0] + 2.0 * rng.integers(-3, 4, 3)  # integer midpoint: exact ties on lattice values
    centers[3] = centers[2] + 1e-12 * rng.standard_normal(3)  # near duplicates: near ties everywhere between them
    grouped, lengths, middle, half = _boxes_of(samples, 4)
    norms = np.einsum("kf,kf->k", centers, centers)
    margin = kmeans_filter._MARGIN * 3 * (80.0**2)
    owner, nearest, rival = kmeans_filter.owners(middle, half, centers, norms, margin)
    split = owner < 0
    assert (rival[split] >= 0).any(), "no box with a single rival: the sign test was not exercised"
    keep = np.repeat(split, lengths)
    labels, undecided = kmeans_filter.pair_labels(
        list(grouped[keep].T.copy()), lengths[split], nearest[split], rival[split], centers, norms, margin
    )
    values = grouped[keep]
    distances = ((values[:, None, :] - centers[None]) ** 2).sum(axis=2)
    brute = distances.argmin(axis=1)
    decided = np.ones(values.shape[0], bool)
    decided[undecided] = False
    np.testing.assert_array_equal(labels[decided], brute[decided])
    ordered = np.sort(distances, axis=1)
    ties = ordered[:, 1] - ordered[:, 0] <= 1e-9
    assert ties.any() and not decided[ties].any()  # every (near) tie goes to the plain kernel
    # Most values of boxes paired with a centre that is not a near duplicate of their z* are decided.
    pairs = np.repeat(rival[split], lengths[split])
    distinct_pair = (pairs >= 0) & (np.minimum(pairs, np.repeat(nearest[split], lengths[split])) != 2)
    assert distinct_pair.sum() > 0 and (distinct_pair & decided).sum() > 0.5 * distinct_pair.sum()


def test_pair_labels_of_owners_name_the_only_other_close_centre():
    """A box straddling one bisector gets that rival; one near three centres gets none; an owned box none."""
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 9.0], [100.0, 100.0]])
    norms = np.einsum("kf,kf->k", centers, centers)
    middle = np.array([[5.0, -3.0], [5.0, 3.0], [-5.0, -5.0]])
    half = np.array([[1.0, 1.0], [2.5, 2.5], [1.0, 1.0]])
    owner, nearest, rival = kmeans_filter.owners(middle, half, centers, norms, 1e-9)
    np.testing.assert_array_equal(owner, [-1, -1, 0])
    np.testing.assert_array_equal(nearest, [0, 0, 0])  # ties at the middle go to the lowest index
    np.testing.assert_array_equal(rival, [1, -1, -1])


@pytest.mark.parametrize("threads", ["1", "3"])
def test_grid_walks_split_between_threads_give_the_same_sums_and_labels(threads, monkeypatch):
    """The coarsest cells cut into one run per thread: the runs' sums add up to the plain ones, labels unchanged."""
    monkeypatch.setenv("COLORQUANT_THREADS", threads)
    samples, weights = _tied_data(3, seed=31, n=30000, top=96)
    grid = kmeans_filter.FilterGrid.build(samples, weights, kmeans.serial_nearest_labels)
    assert len(grid._parts()) == 1  # too few values to be worth the threads
    monkeypatch.setattr(kmeans_filter, "PARALLEL_FROM", 0)
    parts = grid._parts()
    assert len(parts) == min(int(threads), grid.levels[0].weight.size)
    np.testing.assert_array_equal(np.concatenate(parts), np.arange(grid.levels[0].weight.size))
    rng = np.random.default_rng(int(threads))
    centers = samples[rng.choice(samples.shape[0], 9, replace=False)] + rng.integers(-1, 2, (9, 3))
    _assert_grid_equals_plain(grid, samples, weights, centers)


@pytest.mark.parametrize("seed", range(5))
def test_owners_against_the_exact_least_gap_of_every_centre_over_each_box(seed):
    """Owners and rivals against the exact least of ``|x - z|^2 - |x - z*|^2`` over each box, centre by centre:
    an owned box has no other centre that comes near, a clearly owned box is owned, and a box with one clearly
    close centre (the rest clearly far) names it as the rival, whatever distance bounds pruned first."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, 60, (12, 3))
    centers[5] = centers[4] + rng.uniform(-0.5, 0.5, 3)  # a close pair: many boxes straddle its bisector
    middle = rng.uniform(-5, 65, (4000, 3))
    half = rng.choice([0.5, 1.0, 1.5, 3.5], (4000, 3))
    norms = np.einsum("kf,kf->k", centers, centers)
    margin = 1e-6
    owner, nearest, rival = kmeans_filter.owners(middle, half, centers, norms, margin)
    chosen = centers[nearest]
    # The least of the linear function 2 x.(z* - z) + |z|^2 - |z*|^2 over the box, for every centre z.
    gap = np.stack(
        [
            2.0 * np.einsum("mf,mf->m", middle, chosen - z)
            + z @ z
            - np.einsum("mf,mf->m", chosen, chosen)
            - 2.0 * np.einsum("mf,mf->m", half, np.abs(chosen - z))
            for z in centers
        ],
        axis=1,
    )
    gap[np.arange(gap.shape[0]), nearest] = np.inf
    owned = owner >= 0
    assert owned.any() and (~owned).any()
    assert (gap[owned] > 0).all() and (owner[owned] == nearest[owned]).all()
    np.testing.assert_array_equal(owner[(gap > 10 * margin).all(axis=1)], nearest[(gap > 10 * margin).all(axis=1)])
    one_close = ((gap <= margin / 10).sum(axis=1) == 1) & ((gap <= 10 * margin).sum(axis=1) == 1)
    assert one_close.sum() > 10
    np.testing.assert_array_equal(rival[one_close], gap[one_close].argmin(axis=1))


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_packed_steps_block_by_block_equal_the_whole_array_at_once(monkeypatch, threads):
    """Blocks of 97 rows, in one run of blocks per thread: the same packed numbers as one formula over all rows, and
    a refusal wherever in the array the value that cannot be packed sits (a fraction, NaN, or a span that only the
    last block widens)."""
    monkeypatch.setattr(kmeans_filter, "_PACK_ROWS", 97)
    monkeypatch.setattr(kmeans_filter, "PARALLEL_FROM", 1000)
    monkeypatch.setenv("COLORQUANT_THREADS", threads)
    rng = np.random.default_rng(7)
    samples = (rng.integers(0, 200, (5000, 3)) + np.array([-40, 3, 1000])).astype(np.float64)
    packed, low, span = kmeans_filter._packed_steps(samples, 8)
    steps = (samples - samples.min(axis=0)).astype(np.int64)
    np.testing.assert_array_equal(packed, steps[:, 0] | steps[:, 1] << 8 | steps[:, 2] << 16)
    np.testing.assert_array_equal(low, samples.min(axis=0))
    np.testing.assert_array_equal(span, np.ptp(samples, axis=0))
    for row, value in [(4999, 0.5), (2000, np.nan), (4998, 1300.0), (98, -(2.0**31))]:
        spoiled = samples.copy()
        spoiled[row, 2] = value
        assert kmeans_filter._packed_steps(spoiled, 8) is None, (row, value)
    assert kmeans_filter._packed_steps(samples[:0], 8) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pair_owners_against_every_vertex_of_each_box(seed):
    """The pair test against brute force: ``g = |x - b|^2 - |x - a|^2`` at every vertex of each box (its extremes,
    ``g`` being linear); ``a`` owns a box whose least exceeds the margin, ``b`` one whose largest is below minus the
    margin, and any box that straddles gets -1."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, 60, (6, 3))
    centers[3] = centers[2] + rng.uniform(-0.5, 0.5, 3)  # a close pair
    first, second = rng.integers(0, 6, (2, 5000))
    first[:500], second[:500] = 2, 3
    keep = first != second
    first, second = first[keep], second[keep]
    low = rng.integers(-5, 60, (first.size, 3)).astype(np.float64)
    high = low + rng.choice([0.0, 1.0, 3.0, 7.0], (first.size, 3))
    margin = 1e-6
    norms = np.einsum("kf,kf->k", centers, centers)
    owner = kmeans_filter.pair_owners((low + high) / 2, (high - low) / 2, first, second, centers, norms, margin)
    corners = np.array(list(itertools.product([0, 1], repeat=3)), dtype=bool)
    vertices = np.where(corners[None], high[:, None], low[:, None])  # (m, 8, 3)
    a, b = centers[first][:, None], centers[second][:, None]
    gap = ((vertices - b) ** 2).sum(axis=2) - ((vertices - a) ** 2).sum(axis=2)
    least, most = gap.min(axis=1), gap.max(axis=1)
    clear = (np.abs(least - margin) > 1e-6) & (np.abs(most + margin) > 1e-6)
    expected = np.where(least > margin, first, np.where(most < -margin, second, -1))
    np.testing.assert_array_equal(owner[clear], expected[clear])
    assert (expected == first).any() and (expected == second).any() and (expected == -1).any()


@pytest.mark.parametrize("n_channels", [2, 3])
@pytest.mark.parametrize("bounds", [(0, 256), (3, 200), (255, 256), (0, 1), (17, 18)])
def test_pack_bytes_equals_the_checked_packing_of_the_float_values(n_channels, bounds):
    """Byte values packed from their bytes: the same packed numbers, least values and spans as the float samples'."""
    rng = np.random.default_rng(bounds[0] * 7 + n_channels)
    values = rng.integers(*bounds, (5000, n_channels)).astype(np.uint8)
    values[0] = bounds[0]  # the least and largest possible byte of the range present (a step of 255 included)
    values[-1] = bounds[1] - 1
    expected = kmeans_filter.pack_integers(values.astype(np.float64))
    for got, want in zip(kmeans_filter.pack_bytes(values), expected, strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_pack_bytes_only_for_two_or_three_byte_channels():
    rng = np.random.default_rng(0)
    for values in (
        rng.integers(0, 256, (50, 1)).astype(np.uint8),
        rng.integers(0, 256, (50, 4)).astype(np.uint8),
        rng.integers(0, 256, (50, 3)).astype(np.uint16),
        np.zeros((0, 3), np.uint8),
    ):
        assert kmeans_filter.pack_bytes(values) is None


@pytest.mark.parametrize("space", ["rgb", "channels"])
def test_the_spaces_whose_bytes_are_packed_have_the_values_as_features(space):
    """fitting packs the bytes of these spaces for the grid: that is right only while their features are the values."""
    from napari_colorquant import colorspaces, fitting

    assert space in fitting._VALUE_SPACES
    values = np.random.default_rng(1).integers(0, 256, (100, 3)).astype(np.uint8)
    np.testing.assert_array_equal(colorspaces.to_features(values, space, 255.0, 128.0), values.astype(np.float64))


@pytest.mark.parametrize("init", ["kmeans++", "uniform", "random"])
def test_quantize_with_packed_bytes_equals_the_float_packing(init, monkeypatch):
    """A photo with many colours: the fit from the packed bytes is the fit from the packed float features exactly."""
    from napari_colorquant import fitting, kmeans, quantize

    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (480, 640, 3)).astype(np.uint8)
    image[:, :320] //= 4  # a dense corner and a sparse rest
    used = []
    monkeypatch.setattr(kmeans, "_shared_packing", lambda *args: used.append(True) or None)
    fast = quantize(image, 6, method="kmeans", init=init, max_iter=5, seed=3)
    assert not used, "the bytes were not packed for the fit"
    monkeypatch.undo()
    monkeypatch.setattr(fitting, "_byte_packing", lambda *args: None)
    plain = quantize(image, 6, method="kmeans", init=init, max_iter=5, seed=3)
    np.testing.assert_array_equal(fast.model.means, plain.model.means)
    np.testing.assert_array_equal(fast.labels, plain.labels)
    assert (fast.model.inertia, fast.model.n_iter, fast.mse) == (plain.model.inertia, plain.model.n_iter, plain.mse)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_labels_with_sums_give_the_sums_of_their_labels_and_the_squares(threads, monkeypatch):
    """The final labels' walk also sums each cluster (for the MSE without a pass over the values): the same integers
    as bincounts of the samples by those labels, and the weighted sum of squared norms of packed values."""
    monkeypatch.setenv("COLORQUANT_THREADS", threads)
    monkeypatch.setattr(kmeans_filter, "PARALLEL_FROM", 0)
    samples, weights = _tied_data(3, seed=7, n=30000, top=200)
    grid = kmeans_filter.FilterGrid.build(samples, weights, kmeans.nearest_labels)
    rng = np.random.default_rng(7)
    for centers in (rng.integers(0, 200, (9, 3)).astype(np.float64), rng.uniform(-5, 210, (16, 3))):
        labels, (mass, sums, squares) = grid.labels(centers, with_sums=True)
        np.testing.assert_array_equal(labels, grid.labels(centers))
        np.testing.assert_array_equal(labels, kmeans.nearest_center(samples, centers)[0])
        np.testing.assert_array_equal(mass, np.bincount(labels, weights, minlength=centers.shape[0]))
        for feature in range(3):
            expected = np.bincount(labels, weights * samples[:, feature], minlength=centers.shape[0])
            np.testing.assert_array_equal(sums[:, feature], expected)
        assert squares == float(np.sum(weights * (samples**2).sum(axis=1)))


def test_mse_of_sums_equals_weighted_mse_of_every_value():
    """The MSE from the clusters' sums is weighted_mse's float to the last digit, palette colours at 0 and 255 too."""
    from napari_colorquant.result import _byte_errors, mse_of_sums

    rng = np.random.default_rng(11)
    for k, n in ((2, 500), (16, 40000), (7, 3)):
        values = rng.integers(0, 256, (n, 3)).astype(np.uint8)
        counts = rng.integers(1, 5000, n)
        labels = rng.integers(0, k, n)
        palette = rng.integers(0, 256, (k, 3)).astype(np.uint8)
        palette[0] = (0, 255, 128)
        errors = _byte_errors(values, palette, labels + 1).astype(np.float64)
        expected = float(errors @ counts / (np.sum(counts) * 3))
        weight = counts.astype(np.float64)
        mass = np.bincount(labels, weight, minlength=k)
        sums = np.stack([np.bincount(labels, weight * values[:, f], minlength=k) for f in range(3)], axis=1)
        squares = float(np.sum(weight * (values.astype(np.float64) ** 2).sum(axis=1)))
        assert mse_of_sums(palette, (mass, sums, squares), 3) == expected
    assert mse_of_sums(palette, (mass, sums, None), 3) is None


@pytest.mark.parametrize(("init", "k"), [("kmeans++", 16), ("uniform", 16), ("random", 5), ("kmeans++", 3)])
def test_quantize_mse_from_the_fit_sums_equals_the_pass_over_the_values(init, k, monkeypatch):
    """A photo with many colours (the grid's case): the MSE from the final labels' sums is the one weighted_mse
    measures over every distinct value, to the last digit; the labels and the model do not change."""
    from napari_colorquant import eager, fitting, quantize

    rng = np.random.default_rng(k)
    image = rng.integers(0, 256, (400, 700, 3)).astype(np.uint8)
    image[:200] = np.clip(image[:200] // 3 + 170, 0, 255)  # a bright half: palette colours near 255
    calls = []
    monkeypatch.setattr(eager, "weighted_mse", lambda *args: calls.append(True))
    fast = quantize(image, k, method="kmeans", init=init, max_iter=6, seed=2)
    assert not calls, "the MSE was measured over the values again"
    monkeypatch.undo()
    monkeypatch.setattr(fitting, "_mse_from_sums", lambda *args: None)
    plain = quantize(image, k, method="kmeans", init=init, max_iter=6, seed=2)
    assert fast.mse == plain.mse and fast.psnr == plain.psnr
    np.testing.assert_array_equal(fast.labels, plain.labels)
    np.testing.assert_array_equal(fast.model.means, plain.model.means)

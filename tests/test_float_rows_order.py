"""Distinct float rows: the sort that groups them gives ``np.lexsort``'s order exactly, whether the rows tie
on the last channel (copies of integer images) or not (continuous float data, sorted by the ties only)."""

from unittest import mock

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from napari_colorquant.pixels import _lexsort, _sorted_groups, unique_float_rows

# Few distinct values per channel (ties and repeated rows), signed zeros among them.
LEVELS = st.sampled_from([-1.5, -0.0, 0.0, 0.25, 0.5, 2.0, 1e-30])


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40), elements=LEVELS))
def test_the_order_is_lexsorts_with_many_ties(rows):
    words = list(rows.T)
    np.testing.assert_array_equal(_lexsort(words), np.lexsort(words))


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 4), st.integers(1, 6000), st.integers(0, 2**32 - 1), st.floats(0.0, 0.05))
def test_the_order_is_lexsorts_when_the_last_channel_rarely_ties(channels, n, seed, tied_share):
    rng = np.random.default_rng(seed)
    rows = rng.random((n, channels)).astype(np.float32)
    tied = rng.random(n) < tied_share  # some rows share their last channel with row 0, others are distinct
    rows[tied, -1] = rows[0, -1]
    assume(tied.sum() < n // 20)  # the sort-the-ties way (mostly distinct last channel)
    words = list(rows.T)
    expected, lexsort, sizes = np.lexsort(words), np.lexsort, []
    with mock.patch.object(np, "lexsort", lambda keys: sizes.append(len(keys[0])) or lexsort(keys)):
        order = _lexsort(words)
    assert all(size < n for size in sizes)  # only the tied rows went through a lexsort
    np.testing.assert_array_equal(order, expected)


def test_unique_float_rows_of_continuous_data_against_numpys_unique():
    rows = np.random.default_rng(3).random((50_000, 3)).astype(np.float32)
    rows[::7] = rows[1::7]  # repeated rows among distinct ones
    values, inverse, counts = unique_float_rows(rows)
    expected, expected_counts = np.unique(rows, axis=0, return_counts=True)
    # np.unique(axis=0) orders by the first channel first; ours by the last, as integer keys are packed
    order = np.lexsort(list(expected.T))
    np.testing.assert_array_equal(values, expected[order])
    np.testing.assert_array_equal(counts, expected_counts[order])
    np.testing.assert_array_equal(values[inverse], rows)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 3000),
    st.sampled_from([1, 2, 255, 256, 4095, 65535, 70000]),
    st.integers(0, 2**32 - 1),
    st.sampled_from([np.float32, np.float64]),
)
def test_whole_numbers_are_counted_as_the_sort_counts_them(channels, n, largest, seed, dtype):
    """Small whole numbers (a float copy of an 8- or 16-bit image) go through a histogram of packed keys:
    the same values, order, inverse and counts as the sort of the rows."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, largest + 1, (n, channels)).astype(dtype)
    rows[rng.random(n) < 0.3] = rows[0]  # repeated rows
    values, inverse, counts = unique_float_rows(rows)
    if channels == 1:
        expected, expected_inverse, expected_counts = np.unique(rows[:, 0], return_inverse=True, return_counts=True)
        expected = expected[:, None]
    else:
        expected, expected_inverse, expected_counts = _sorted_groups(rows, list(rows.T))
    assert values.dtype == rows.dtype
    np.testing.assert_array_equal(values, expected)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
    np.testing.assert_array_equal(counts, expected_counts)


def test_a_float_copy_of_an_8_bit_photo_is_counted_without_sorting(monkeypatch):
    from napari_colorquant import pixels

    photo = np.random.default_rng(5).integers(0, 256, (300, 400, 3)).astype(np.uint8)

    def no_sort(*args):
        raise AssertionError("sorted")

    monkeypatch.setattr(pixels, "_sorted_groups", no_sort)
    monkeypatch.setattr(np, "unique", no_sort)
    values, inverse, counts = unique_float_rows(photo.reshape(-1, 3).astype(np.float32))
    np.testing.assert_array_equal(values[inverse], photo.reshape(-1, 3))
    assert counts.sum() == 300 * 400

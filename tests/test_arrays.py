"""numpy → Arrow without pandas (healthscore.arrays) builds the arrays pyarrow.array builds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from healthscore import arrays

floats = st.lists(st.one_of(st.floats(allow_nan=False), st.none()), max_size=70)


@given(floats)
def test_floats_are_pyarrows_with_nan_as_null(values):
    v = np.array([np.nan if x is None else x for x in values], dtype=float)
    assert arrays.floats(v).equals(pa.array(values, pa.float64()))


@given(st.lists(st.integers(-2**40, 2**40), max_size=70))
def test_ints_with_negative_as_null(values):
    v = np.array(values, dtype=np.int64)
    expected = pa.array([None if x < 0 else x for x in values], pa.int64())
    assert arrays.ints(v, v < 0).equals(expected)
    assert arrays.ints(v).equals(pa.array(values, pa.int64()))


@given(st.lists(st.booleans(), max_size=70))
def test_bools(values):
    assert arrays.bools(np.array(values, dtype=bool)).equals(pa.array(values, pa.bool_()))


@given(st.lists(st.one_of(st.text(max_size=8), st.none()), max_size=40),
       st.lists(st.integers(0, 39), max_size=20))
def test_strings_and_take(values, picks):
    got = arrays.strings(np.array(values, dtype=object))
    assert got.equals(pa.array(values, pa.string()))
    picks = [p for p in picks if p < len(values)]
    assert arrays.take(got, np.array(picks, dtype=np.int64)).equals(
        pa.array([values[p] for p in picks], pa.string()))


@given(floats, st.integers(0, 5))
def test_to_floats_and_to_objects_read_back(values, skip):
    array = pa.array(values, pa.float64()).slice(min(skip, len(values)))
    expected = [np.nan if x is None else x for x in values[min(skip, len(values)):]]
    np.testing.assert_array_equal(arrays.to_floats(pa.chunked_array([array, array])),
                                  np.array(expected * 2, dtype=float))
    assert list(arrays.to_objects(array)) == array.to_pylist()

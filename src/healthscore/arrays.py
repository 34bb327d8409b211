"""numpy → Arrow, without pandas.

``pyarrow.array`` imports pandas the first time it converts anything (to ask whether the input
is a pandas object): about 0.4 s, more than scoring a thousand accounts takes. Scoring builds
its Arrow tables from numpy arrays, so it builds them here from the arrays' buffers instead:
the same Arrow arrays, and pandas is never loaded by a command that does not use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def _validity(valid: np.ndarray) -> tuple[pa.Buffer | None, int]:
    nulls = int(len(valid) - np.count_nonzero(valid))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def floats(values: np.ndarray) -> pa.Array:
    """float64, NaN as NULL."""
    v = np.ascontiguousarray(values, dtype=np.float64)
    bitmap, nulls = _validity(~np.isnan(v))
    return pa.Array.from_buffers(pa.float64(), len(v), [bitmap, pa.py_buffer(v)],
                                 null_count=nulls)


def ints(values: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """int64; where ``null`` is True, NULL."""
    v = np.ascontiguousarray(values, dtype=np.int64)
    bitmap, nulls = (None, 0) if null is None else _validity(~np.asarray(null, dtype=bool))
    return pa.Array.from_buffers(pa.int64(), len(v), [bitmap, pa.py_buffer(v)],
                                 null_count=nulls)


def bools(values: np.ndarray) -> pa.Array:
    """bool (no NULL)."""
    v = np.asarray(values, dtype=bool)
    return pa.Array.from_buffers(pa.bool_(), len(v),
                                 [None, pa.py_buffer(np.packbits(v, bitorder="little"))])


def strings(values: Sequence[str | None] | np.ndarray) -> pa.Array:
    """utf8; None as NULL."""
    try:  # ASCII without NULL (ids, names, bands): one join, the lengths are the offsets
        joined = "".join(values)
    except TypeError:
        joined = None
    if joined is not None and joined.isascii():
        offsets = np.zeros(len(values) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, values), np.int64, len(values)), out=offsets[1:])
        if offsets[-1] < 2**31:
            return pa.Array.from_buffers(pa.string(), len(values), [
                None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(joined.encode())])
    encoded = [b"" if s is None else str(s).encode() for s in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    bitmap, nulls = _validity(np.fromiter((s is not None for s in values), bool, len(encoded)))
    if offsets[-1] < 2**31:
        return pa.Array.from_buffers(pa.string(), len(encoded),
                                     [bitmap, pa.py_buffer(offsets.astype(np.int32)), data],
                                     null_count=nulls)
    return pa.Array.from_buffers(pa.large_string(), len(encoded),
                                 [bitmap, pa.py_buffer(offsets), data], null_count=nulls)


def take(array: pa.Array | pa.ChunkedArray, indices: np.ndarray) -> pa.Array:
    """``array`` at ``indices`` (Arrow's take, with the indices built without pandas)."""
    return array.take(ints(indices))


def to_floats(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A float64 column as numpy, NULL as NaN (a copy)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.type != pa.float64():
        return array.to_numpy(zero_copy_only=False).astype(float)
    n, offset = len(array), array.offset
    validity, data = array.buffers()
    out = np.frombuffer(data, dtype=np.float64, count=n, offset=offset * 8).copy()
    if validity is not None and array.null_count:
        valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little",
                              count=n + offset)[offset:].astype(bool)
        out[~valid] = np.nan
    return out


def to_objects(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Any column as a numpy object array of Python values (NULL as None)."""
    out = np.empty(len(column), dtype=object)
    out[:] = column.to_pylist()
    return out

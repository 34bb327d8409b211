"""Vectorised text formats the exports use: ids, money, dates and timestamps as tools write them.

Every function takes numpy arrays and returns a pyarrow string array, built with pyarrow compute
kernels (no per-row Python). A negative day or second means "empty" and becomes a null.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _mask(values: np.ndarray) -> np.ndarray | None:
    neg = np.asarray(values) < 0
    return neg if neg.any() else None


def join(*parts: pa.Array | str) -> pa.Array:
    """Concatenate string arrays and literal strings element-wise."""
    return pc.binary_join_element_wise(*parts, "")


def padded(numbers: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string()),
                        width, "0")


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``ids("ACC-", [42], 6)`` → ``ACC-000042``."""
    return join(prefix, padded(numbers, width))


def lookup(values: Sequence[str], idx: np.ndarray) -> pa.Array:
    """``values[idx]`` as a string array; a negative index gives a null."""
    idx = np.asarray(idx, dtype=np.int64)
    return pa.array(list(values), pa.string()).take(
        pa.array(np.maximum(idx, 0), mask=_mask(idx)))


def iso_seconds(seconds: np.ndarray, suffix: str = "Z") -> pa.Array:
    """Unix seconds → ``2026-06-02T08:15:00Z`` (null where negative)."""
    s = np.asarray(seconds, dtype=np.int64)
    ts = pa.array(s.astype("datetime64[s]"), mask=_mask(s))
    return join(pc.strftime(ts, format="%Y-%m-%dT%H:%M:%S"), suffix)


def iso_local(seconds: np.ndarray, offset_min: np.ndarray) -> pa.Array:
    """Unix seconds shown in a local UTC offset → ``2026-06-02T10:15:00+02:00``."""
    s = np.asarray(seconds, dtype=np.int64)
    off = np.asarray(offset_min, dtype=np.int64)
    local = pa.array((s + off * 60).astype("datetime64[s]"), mask=_mask(s))
    sign = pa.array(np.where(off < 0, "-", "+"))
    hh, mm = padded(np.abs(off) // 60, 2), padded(np.abs(off) % 60, 2)
    return join(pc.strftime(local, format="%Y-%m-%dT%H:%M:%S"), sign, hh, ":", mm)


def strftime_seconds(seconds: np.ndarray, fmt: str) -> pa.Array:
    s = np.asarray(seconds, dtype=np.int64)
    return pc.strftime(pa.array(s.astype("datetime64[s]"), mask=_mask(s)), format=fmt)


def dates(days: np.ndarray, fmt: str = "%Y-%m-%d") -> pa.Array:
    """Epoch days → date text (``%Y-%m-%d`` by default); null where negative."""
    d = np.asarray(days, dtype=np.int64)
    arr = pa.array(d.astype("datetime64[D]"), mask=_mask(d))
    return pc.strftime(arr, format=fmt)


def money(amount: np.ndarray, symbol: str = "$") -> pa.Array:
    """Non-negative amounts → ``$1,234.00`` with thousands separators."""
    cents = np.round(np.asarray(amount, dtype=np.float64) * 100).astype(np.int64)
    units, frac = cents // 100, cents % 100
    top = 0  # index of the highest group of three digits any value has
    while (units >= 1000 ** (top + 1)).any():
        top += 1
    pieces = []
    for i in range(top, -1, -1):  # most significant group first
        group = (units // 1000**i) % 1000
        lower = units >= 1000 ** (i + 1)  # a higher group exists: pad and separate
        leading = pa.array((units >= 1000**i) | (i == 0))
        piece = pc.if_else(pa.array(lower), join(",", padded(group, 3)),
                           pc.cast(pa.array(group), pa.string()))
        pieces.append(pc.if_else(leading, piece, ""))
    return join(symbol, *pieces, ".", padded(frac, 2))

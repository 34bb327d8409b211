"""A backtest's summary as JSON: dates as ISO text, NaN as null, numpy scalars as numbers
(what ``--json``, the stored run and the API hand out)."""

from __future__ import annotations

import math


def jsonable(value):
    """``value`` (the summary's dicts, lists, floats, dates, numpy scalars) as plain JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return value

"""One way to write numbers, money, scores, changes and dates, for every surface.

The CLI, the pages and the explanations in words all format through these, so a score reads
``61.4`` and a change ``−14.0`` (a real minus sign) everywhere. A missing value is an en dash
(``–``), except a measure's raw value, which reads ``no data``.

>>> num(1234567), money(2_500_000), score(61.44), delta(-14), pct(0.25), raw_value(0.6234)
('1,234,567', '2.50M', '61.4', '−14.0', '25%', '0.623')
"""

from __future__ import annotations

import math
from datetime import date, datetime

DASH = "–"


def missing(value) -> bool:
    """None or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def num(value, digits: int = 0) -> str:
    """A number with thousands separators (``digits`` decimals)."""
    return DASH if missing(value) else f"{value:,.{digits}f}"


def count(value) -> str:
    """A count with thousands separators; a float keeps two decimals."""
    if missing(value):
        return DASH
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def money(value) -> str:
    """An amount without currency (the data's own currency), compact above a million."""
    if missing(value):
        return DASH
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:,.2f}M"
    return f"{value:,.0f}"


def score(value) -> str:
    """A 0-100 score with one decimal."""
    return DASH if missing(value) else f"{value:.1f}"


def delta(value) -> str:
    """A change in points with its sign (a real minus sign)."""
    return DASH if missing(value) else f"{value:+.1f}".replace("-", "−")


def pct(value, digits: int = 0) -> str:
    """A share (0-1) as a percentage."""
    return DASH if missing(value) else f"{100 * value:.{digits}f}%"


def raw_value(value) -> str:
    """A measure's raw value: three significant digits, thousands separators from 100."""
    if missing(value):
        return "no data"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def day(value) -> str:
    """A date (or a timestamp's date) as ISO ``YYYY-MM-DD``."""
    if value is None:
        return DASH
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat() if isinstance(value, date) else str(value)


def when(value) -> str:
    """A timestamp to the minute (``YYYY-MM-DD HH:MM``); a date as :func:`day`."""
    if value is None:
        return DASH
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return day(value)

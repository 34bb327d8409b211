"""The one clock: what time it is, in naive UTC, with a seam the tests can set.

Everything that stamps a time (runs, pulses, tokens, ingests) or defaults a date to "today"
asks :func:`now` or :func:`today`; nothing else reads the system clock. Tests freeze it with
:func:`frozen` instead of monkeypatching ``datetime``::

    with clock.frozen(datetime(2026, 7, 1, 9, 30)):
        assert clock.today() == date(2026, 7, 1)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

_lock = threading.Lock()
_fixed: datetime | None = None


def utc(moment: datetime) -> datetime:
    """``moment`` as naive UTC (the store's convention); naive values are taken as UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def now(given: datetime | None = None) -> datetime:
    """``given`` as naive UTC, or the current time (the frozen one under :func:`frozen`)."""
    if given is not None:
        return utc(given)
    fixed = _fixed
    return fixed if fixed is not None else datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    """The current UTC date."""
    return now().date()


@contextmanager
def frozen(at: datetime) -> Iterator[datetime]:
    """Make :func:`now` answer ``at`` (naive UTC) inside the block, in every thread."""
    global _fixed
    with _lock:
        before, _fixed = _fixed, utc(at)
    try:
        yield _fixed
    finally:
        with _lock:
            _fixed = before

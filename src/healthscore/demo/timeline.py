"""The demo's calendar: the 15-month window, epoch-day arithmetic and times of day.

Days are plain ``int64`` counts since 1970-01-01 ("epoch days") so that every date computation
is integer numpy arithmetic over whole arrays of accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

EPOCH = date(1970, 1, 1)
#: An epoch day far beyond any window: "never" for churn dates, deactivations, changes.
NEVER = 10**7
DAY_S = 86_400
#: Months of data the demo produces, ending the day before ``end``.
WINDOW_MONTHS = 15
#: Days of latent health simulated before the window, so renewals early in the window are
#: decided on health the way later ones are (the data itself starts at the window).
BURN_IN_DAYS = 180


def epoch_day(d: date) -> int:
    return (d - EPOCH).days


def to_date(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


def add_months_to_date(d: date, months: int) -> date:
    """``d`` shifted by whole months, the day clamped to the target month's length."""
    m0 = d.year * 12 + d.month - 1 + months
    first = np.datetime64(f"{m0 // 12:04d}-{m0 % 12 + 1:02d}", "M")
    length = int(((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(int))
    return date(m0 // 12, m0 % 12 + 1, min(d.day, length))


def _split(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epoch days → (months since 1970-01, day of month 0-based)."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    dom = (d - month.astype("datetime64[D]")).astype(np.int64)
    return month.astype(np.int64), dom, d


def add_months(days: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Epoch days shifted by whole months (vectorised), clamping to the month's last day."""
    month, dom, _ = _split(days)
    target = (month + np.asarray(months, dtype=np.int64)).astype("datetime64[M]")
    first = target.astype("datetime64[D]").astype(np.int64)
    length = (target + 1).astype("datetime64[D]").astype(np.int64) - first
    return first + np.minimum(dom, length - 1)


def add_years(days: np.ndarray, years: np.ndarray | int) -> np.ndarray:
    return add_months(days, np.asarray(years, dtype=np.int64) * 12)


def next_anniversary(start: np.ndarray, after: np.ndarray | int) -> np.ndarray:
    """First yearly anniversary of ``start`` strictly later than ``after`` (vectorised)."""
    start = np.asarray(start, dtype=np.int64)
    after = np.broadcast_to(np.asarray(after, dtype=np.int64), start.shape)
    year_start = start.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
    year_after = after.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
    k = np.maximum(year_after - year_start, 1)
    ann = add_years(start, k)
    return np.where(ann <= after, add_years(start, k + 1), ann)


@dataclass(frozen=True)
class Calendar:
    """The data window ``[start, end)`` and the simulated span (window plus burn-in)."""

    end: date

    @property
    def start(self) -> date:
        return add_months_to_date(self.end, -WINDOW_MONTHS)

    @property
    def s0(self) -> int:
        """Epoch day of the window's first day."""
        return epoch_day(self.start)

    @property
    def e0(self) -> int:
        """Epoch day of ``end`` (the first day with no data)."""
        return epoch_day(self.end)

    @property
    def days(self) -> int:
        """Days in the window."""
        return self.e0 - self.s0

    @property
    def burn(self) -> int:
        return BURN_IN_DAYS

    @property
    def h0(self) -> int:
        """Epoch day of the first simulated (burn-in) day: column 0 of the health matrix."""
        return self.s0 - self.burn

    @property
    def span(self) -> int:
        """Columns of the health matrix."""
        return self.burn + self.days

    @property
    def end_s(self) -> int:
        """``end`` 00:00 UTC in Unix seconds: every timestamp written is below it."""
        return self.e0 * DAY_S

    def window_days(self) -> np.ndarray:
        return np.arange(self.s0, self.e0, dtype=np.int64)

    def weekday(self) -> np.ndarray:
        """0 = Monday for each window day."""
        return (self.window_days() + 3) % 7

    def snapshot_days(self) -> list[int]:
        """CRM snapshot dates: the last quarter end before the window (so every day of the
        window has an account snapshot at or before it), each quarter end inside the window,
        and a final one on the window's last day."""
        quarter_ends = [
            epoch_day(date(y, m, 1)) - 1
            for y in range(self.start.year - 1, self.end.year + 2)
            for m in (1, 4, 7, 10)
        ]
        before = max(q for q in quarter_ends if q < self.s0)
        inside = [q for q in quarter_ends if self.s0 <= q < self.e0 - 1]
        return [before, *inside, self.e0 - 1]


def business_seconds(rng: np.random.Generator, offset_min: np.ndarray) -> np.ndarray:
    """Seconds into the UTC day for events done in working hours of a local UTC offset.

    85% fall around 13:00 local time (σ 2.5 h), the rest uniformly over the day; the result is
    wrapped into the same UTC day so a day's events never spill into the next one.
    """
    n = len(offset_min)
    local = rng.normal(13 * 3600, 2.5 * 3600, n)
    anytime = rng.random(n) < 0.15
    local = np.where(anytime, rng.random(n) * DAY_S, local)
    return ((local.astype(np.int64) - offset_min.astype(np.int64) * 60) % DAY_S).astype(np.int64)

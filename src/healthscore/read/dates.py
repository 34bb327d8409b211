"""Which snapshot date a read uses: every read takes ``as_of: date | None`` and resolves it here,
once. ``None`` is the scorecard version's latest scored date; a date without a snapshot is a
:class:`NotFound` that names the scored dates nearest to it, so a mistaken date is never shown
as if it were true.

Account attributes are read as they held on the snapshot's date (as the scores saw them):
:data:`ACCOUNTS_AS_OF` with :func:`account_cutoff`.
"""

from __future__ import annotations

import bisect
from datetime import date, timedelta

from healthscore.errors import NotFound
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card

#: The account versions that held at the end of a date; parameters: :func:`account_cutoff`.
ACCOUNTS_AS_OF = """
    SELECT * FROM accounts
    WHERE (_valid_from IS NULL OR _valid_from < ?) AND (_valid_to IS NULL OR _valid_to >= ?)
"""


def account_cutoff(as_of: date) -> list:
    """The parameters of :data:`ACCOUNTS_AS_OF` for ``as_of``."""
    cutoff = as_of + timedelta(days=1)
    return [cutoff, cutoff]


def scored_dates(r: Reader, card: Card) -> list[date]:
    """Every snapshot date of the card's version, oldest first."""
    return r.kept(("dates", card.name, card.version), lambda: [row["as_of"] for row in r.rows(
        "SELECT DISTINCT as_of FROM snapshots WHERE scorecard = ? AND version = ? ORDER BY 1",
        [card.name, card.version])])


def measured_dates(r: Reader, card: Card) -> list[date]:
    """The snapshot dates of the card's version stored with their per-measure rows, oldest
    first (every date ``score`` and ``backfill`` write; a store filled by another tool may
    hold scores alone)."""
    from healthscore.read.measures import values_dates  # scoring code: loaded when asked

    return values_dates(r, card.name, card.version)


def latest(r: Reader, card: Card) -> date | None:
    """The latest snapshot date of the card's version; None before the first score."""
    dates = scored_dates(r, card)
    return dates[-1] if dates else None


def nearest(dates: list[date], day: date, k: int = 2) -> list[date]:
    """The ``k`` scored dates on either side of ``day`` (for hints)."""
    i = bisect.bisect_left(dates, day)
    return dates[max(0, i - k):i + k]


def resolve(r: Reader, card: Card, as_of: date | None, *, param: str = "as_of") -> date | None:
    """``as_of`` when the card has a snapshot on it; the latest date when ``as_of`` is None
    (None before the first score).

    Raises
    ------
    NotFound
        ``as_of`` has no snapshot; the hint lists the scored dates around it.
    """
    dates = scored_dates(r, card)
    if as_of is None:
        return dates[-1] if dates else None
    i = bisect.bisect_left(dates, as_of)
    if i < len(dates) and dates[i] == as_of:
        return as_of
    raise NotFound(f"no {card.name} snapshot on {as_of}", hint=dates_hint(dates, as_of, param),
                   param=param)


def dates_hint(dates: list[date], day: date, param: str = "as_of") -> str:
    """Which dates exist, for a message about ``day`` (given as ``param``)."""
    if not dates:
        return "nothing is scored yet: run healthscore score or backfill"
    near = ", ".join(str(d) for d in nearest(dates, day))
    return (f"{len(dates)} dates are scored, {dates[0]} to {dates[-1]}; nearest: {near} "
            f"(omit {param} for the latest)")

"""The cutoff of a date and what the store held by it: the few facts scoring needs per date
even when every measure's SQL is already compiled (so they import no Ibis).

A score as of a date uses the data that existed by the end of that day (UTC): the cutoff is the
midnight after it. Compiled measure SQL reads it from the DuckDB variable
:data:`CUTOFF_VARIABLE`; a table that held no row by the cutoff makes its measures missing.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from healthscore.schemas import TABLES
from healthscore.store import rollups

#: DuckDB variables holding the cutoff in "variables" mode (see MeasureContext).
CUTOFF_VARIABLE = "hs_cutoff"


def cutoff_of(as_of: date) -> datetime:
    """The first moment not included when scoring ``as_of``: the midnight after it (UTC)."""
    return datetime.combine(as_of + timedelta(days=1), time())


def table_stats(con) -> dict[str, tuple[int, Any]]:
    """Rows and earliest time of every canonical table, on a DuckDB connection (for the usage
    events, their first day from the daily roll-up when the store has it: an event before
    the cutoff of a date is an event on or before that day)."""
    rolled = rollups.present(con, rollups.DAILY)
    stats = {}
    for spec in TABLES.values():
        first = f'min("{spec.time}")' if spec.time else "NULL"
        if spec.name == rollups.SOURCE and rolled:
            first = f"(SELECT min(day) FROM {rollups.DAILY})"
        rows, earliest = con.execute(f'SELECT count(*), {first} FROM "{spec.name}"').fetchall()[0]
        stats[spec.name] = (int(rows), earliest)
    return stats


def held_data(stats: dict[str, tuple[int, Any]], name: str, as_of: date) -> bool:
    """Whether table ``name`` held any row by the end of ``as_of``, by ``stats``
    (:func:`table_stats`)."""
    rows, earliest = stats[name]
    if rows == 0:
        return False
    if earliest is None:
        return True
    if isinstance(earliest, datetime):
        return earliest < cutoff_of(as_of)
    return earliest <= as_of

"""How fresh the data is: the last date each activity table has rows for, the date scoring
defaults to, and whether a date to score lies after the data a scorecard reads has ended.

A score of a date after the exports stopped is a wrong score that looks right: every account
seems inactive and turns red. So ``score`` defaults to the last date with data, and scoring a
date more than :data:`STALE_AFTER_DAYS` after the last activity the scorecard reads stops with
the tables' last dates named (``--allow-stale`` goes on anyway); a table that ended more than
:data:`ENDED_AFTER_DAYS` before the date, while others go on, gets a warning.
"""

from __future__ import annotations

from datetime import date

import duckdb

from healthscore.config.scorecard import Scorecard
from healthscore.errors import InputError
from healthscore.schemas import TABLES
from healthscore.store import rollups

#: The tables whose rows are dated activity: events and dated entities (tickets, invoices).
#: Renewals are left out (their dates lie ahead), and so are pulses (the product's own input).
ACTIVITY = tuple(t.name for t in TABLES.values()
                 if t.kind in ("event", "entity") and t.time
                 and t.name not in ("renewals", "pulses"))

#: Scoring a date more than this many days after the last activity a scorecard reads stops.
STALE_AFTER_DAYS = 3

#: A table a scorecard reads whose last row is more than this many days before the date scored
#: gets a warning (its measures see nothing newer).
ENDED_AFTER_DAYS = 30


def table_ends(con: duckdb.DuckDBPyConnection, tables=ACTIVITY) -> dict[str, date]:
    """The last date (UTC) each of ``tables`` has a row for; tables without rows are left
    out. The usage events' last time is read from their roll-up (one row per account, not
    a hundred million events) when the store has it."""
    rolled = rollups.present(con, rollups.LAST)

    def end(name: str) -> str:
        if name == rollups.SOURCE and rolled:
            return f"CAST(max(last_ts) AS DATE) AS d FROM {rollups.LAST}"
        return f"CAST(max(\"{TABLES[name].time}\") AS DATE) AS d FROM \"{name}\""

    parts = [f"SELECT '{name}' AS t, {end(name)}" for name in tables if name in ACTIVITY]
    if not parts:
        return {}
    rows = con.execute(" UNION ALL ".join(parts)).fetchall()
    return {t: d for t, d in rows if d is not None}


def data_end(con: duckdb.DuckDBPyConnection) -> date | None:
    """The last date the store has activity for (None when it has none)."""
    ends = table_ends(con)
    return max(ends.values()) if ends else None


def scorecard_tables(sc: Scorecard) -> set[str]:
    """The activity tables a scorecard's measures read (over every variant), by the measure
    library (an :class:`~healthscore.engine.evaluate.Evaluator` knows them from its plan)."""
    from healthscore.engine.evaluate import measure_tables

    out: set[str] = set()
    for variant in sc.variant_names():
        for _, mid, cfg in sc.resolve(variant).measures():
            out.update(t for t in measure_tables(mid, cfg) if t in ACTIVITY)
    return out


def freshness(ends_of, scorecards: list[Scorecard], as_of: date, *,
              allow_stale: bool = False, option: str = "--as-of",
              tables: dict[str, set[str]] | None = None) -> list[str]:
    """Check that ``as_of`` is not after the data the scorecards read: raises
    :class:`InputError` when it is more than :data:`STALE_AFTER_DAYS` after the last activity
    of every table they read (unless ``allow_stale``: then that is the first warning); returns
    warnings for single tables that ended more than :data:`ENDED_AFTER_DAYS` before it.
    ``tables``: the tables each scorecard (by name) reads, when known (else found by
    :func:`scorecard_tables`). ``ends_of``: the engine's :func:`table_ends` (a callable of
    table names), or a DuckDB connection to the store."""
    if not callable(ends_of):
        con = ends_of
        ends_of = lambda names: table_ends(con, names)  # noqa: E731
    warnings: list[str] = []
    for sc in scorecards:
        read = tables[sc.name] if tables and sc.name in tables else scorecard_tables(sc)
        ends = ends_of(sorted(t for t in read if t in ACTIVITY))
        if not ends:
            continue
        last = max(ends.values())
        listed = ", ".join(f"{t} {d}" for t, d in sorted(ends.items(), key=lambda x: x[1]))
        if (as_of - last).days > STALE_AFTER_DAYS:
            message = (f"{as_of} is {(as_of - last).days} days after the last data "
                       f"{sc.name} reads ({last}; last rows: {listed}): every account would "
                       "look inactive")
            if not allow_stale:
                raise InputError(option.lstrip("-").replace("-", "_"), message,
                                 hint=f"score the last day with data ({option} {last}), load "
                                      "newer exports first (healthscore ingest), or pass "
                                      "--allow-stale to score it anyway")
            warnings.append(message)
            continue
        for table, end in sorted(ends.items()):
            if (as_of - end).days > ENDED_AFTER_DAYS:
                warnings.append(
                    f"{sc.name}: {table} has no rows after {end}, {(as_of - end).days} days "
                    f"before {as_of}: its measures see nothing newer (is its export still "
                    "running?)")
    return warnings

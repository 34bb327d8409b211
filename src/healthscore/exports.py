"""Stored scores to where BI tools read them: ``healthscore export --to``.

:func:`export_to` writes each scorecard's snapshots of a set of dates (its current version, as
``export --out`` does) to a target of :mod:`healthscore.store.targets` — a PostgreSQL database
or a folder of date-partitioned Parquet files — replacing exactly those dates there, so the
same export run twice leaves the same rows and a date scored again is replaced whole. The
rows are the snapshot's (``export --out``'s columns) with the account's name, segment, plan,
ARR, CSM and renewal date as they were on the date (as the score saw them); with ``measures``
the per-measure rows go to a second table. Dates are read and written a month at a time, so a
year of history never sits in memory at once.

:func:`dates_to_export` says which dates: one (``as_of``; default the latest scored date), a
range, or every scored date.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from healthscore import read
from healthscore.errors import NotFound
from healthscore.read.dates import dates_hint
from healthscore.read.measures import measure_table
from healthscore.store.store import Store
from healthscore.store.targets import Written, open_target
from healthscore.workspace import Workspace

#: Scored dates read and written together (a month of daily snapshots).
BATCH_DATES = 31

#: The rows of ``export --to``: the snapshot with the account as it was on the date (the
#: version that held at the end of it, like :data:`~healthscore.read.dates.ACCOUNTS_AS_OF`).
#: Parameters: scorecard, version, first and last date.
SCORE_ROWS = """
    SELECT s.scorecard, s.version, s.as_of, s.account_id, a.name AS account_name, a.segment,
           a.plan, a.arr, a.csm, a.renewal_date, s.variant, s.score, s.band, s.grade,
           s.coverage, s.run_id, s.computed_at
    FROM snapshots s
    LEFT JOIN accounts a ON a.account_id = s.account_id
        AND (a._valid_from IS NULL OR a._valid_from < s.as_of + 1)
        AND (a._valid_to IS NULL OR a._valid_to >= s.as_of + 1)
    WHERE s.scorecard = ? AND s.version = ? AND s.as_of BETWEEN ? AND ?
    ORDER BY s.as_of, s.account_id
"""


def dates_to_export(r: read.Reader, cards: list[read.Card], *, as_of: date | None = None,
                    start: date | None = None, end: date | None = None,
                    every: bool = False) -> dict[str, list[date]]:
    """The scored dates to export per scorecard name, oldest first: every scored date
    (``every``), those from ``start`` to ``end`` (either may be open), ``as_of``, or — when
    none is given — the latest date any of the scorecards has (like ``export --out``).

    Raises
    ------
    NotFound
        No scorecard has a snapshot on the date(s) asked for; the hint says which exist.
    """
    scored = {c.name: read.scored_dates(r, c) for c in cards}
    everything = sorted({d for ds in scored.values() for d in ds})
    ranged = every or start is not None or end is not None
    if not ranged and as_of is None:
        as_of = everything[-1] if everything else None
    lo, hi = (start or date.min, end or date.max) if ranged else (as_of, as_of)
    chosen = {name: [d for d in ds if lo is not None and lo <= d <= hi]
              for name, ds in scored.items()}
    if not any(chosen.values()):
        if not everything:
            raise NotFound("nothing is scored yet, so there is nothing to export",
                           hint="run: healthscore score (or backfill) first")
        if not ranged:
            raise NotFound(f"no snapshot as of {as_of} to export",
                           hint=dates_hint(everything, as_of, "--as-of"))
        span = (f"from {start} to {end}" if start and end else
                f"on or after {start}" if start else f"on or before {end}")
        raise NotFound(f"no snapshot {span} to export",
                       hint=f"{len(everything)} dates are scored, {everything[0]} to "
                            f"{everything[-1]}")
    return chosen


def _batches(dates: list[date]) -> list[list[date]]:
    return [dates[i:i + BATCH_DATES] for i in range(0, len(dates), BATCH_DATES)]


def score_rows(r: read.Reader, card: read.Card, dates: list[date]) -> pa.Table:
    """The export rows (:data:`SCORE_ROWS`) of consecutive scored ``dates`` of the card."""
    return r.arrow(SCORE_ROWS, [card.name, card.version, dates[0], dates[-1]])


def export_to(workspace: Workspace, to: str, *, scorecards: list[str] | None = None,
              schema: str | None = None, measures: bool = False, as_of: date | None = None,
              start: date | None = None, end: date | None = None, every: bool = False,
              store: Store | None = None) -> tuple[str, list[Written]]:
    """Export the snapshots of the dates :func:`dates_to_export` chooses to the target ``to``
    names (:func:`~healthscore.store.targets.open_target`); the target as it may be shown
    (a password redacted) and what was written per table. ``store``: the workspace's store
    when it is already open (the scoring commands' ``engine.output``).

    >>> export_to(Workspace.open("demo"), "postgresql://bi@db:5432/analytics",
    ...           every=True, measures=True)                        # doctest: +SKIP
    ('postgresql://bi@db:5432/analytics (schema healthscore)',
     [Written(table='healthscore.health_scores', dates=[...], rows=352000), ...])
    """
    target = open_target(to, schema)  # a bad --to fails before the store is opened
    cards = [read.Card.of(sc) for sc in workspace.scorecards(scorecards or None)]
    written: list[Written] = []
    with workspace.store_or(store, read_only=True) as store:
        r = read.StoreReader(store)
        chosen = dates_to_export(r, cards, as_of=as_of, start=start, end=end, every=every)
        with target:
            for card in cards:
                dates = chosen[card.name]
                if not dates:
                    continue
                kinds = ("scores", "measures") if measures else ("scores",)
                for kind in kinds:
                    done = [target.write(kind, card.name, batch, score_rows(r, card, batch)
                                         if kind == "scores" else
                                         measure_table(r, card.name, card.version, batch))
                            for batch in _batches(dates)]
                    counted = [w.changed for w in done]
                    written.append(Written(done[0].table, dates, sum(w.rows for w in done),
                                           None if None in counted else sum(counted)))
    return target.describe(), written

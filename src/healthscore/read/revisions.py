"""Revisions of a scored date: what a snapshot said before late data changed it, and why.

Re-scoring a date whose result changed keeps the earlier snapshot as a revision
(:mod:`healthscore.store.values`). :func:`revisions` lists an account's revisions of a date with
what arrived in between (:func:`late_data`: rows ingested after the earlier computation that
belong to the date or before); :func:`revision_change` explains the latest revision's change
measure by measure, like :func:`healthscore.read.history.why` explains a change over time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from healthscore.errors import NotFound
from healthscore.read.measures import measure_table
from healthscore.read.reader import Reader, query_tables
from healthscore.read.scorecards import Card
from healthscore.schemas import TABLES
from healthscore.scoring.change import explain_change

_HEAD = "as_of, score, band, grade, coverage, variant, computed_at, run_id"


def revisions(r: Reader, card: Card, account_id: str, as_of: date) -> list[dict]:
    """Every revision of the account's snapshot on ``as_of``, oldest first: ``as_of, score,
    band, grade, coverage, variant, computed_at, run_id, current`` and, from the second on,
    ``late`` (:func:`late_data` between it and the one before) and ``words``. Empty when the
    account has no snapshot that day."""
    key = [card.name, card.version, account_id, as_of]
    where = "scorecard = ? AND version = ? AND account_id = ? AND as_of = ?"
    found = r.rows(f"""
        SELECT {_HEAD}, false AS current FROM snapshot_revisions WHERE {where}
        UNION ALL SELECT {_HEAD}, true AS current FROM snapshots WHERE {where}
        ORDER BY computed_at""", key + key)
    for before, after in zip(found, found[1:], strict=False):
        after["late"] = late_data(r, account_id, as_of, before["computed_at"],
                                  after["computed_at"])
        after["words"] = revised_words(after["computed_at"], after["late"])
    return found


def late_data(r: Reader, account_id: str, as_of: date, since: datetime, until: datetime
              ) -> list[dict]:
    """Rows of the account that were ingested after ``since`` and by ``until`` and whose time
    falls on ``as_of`` or before — the data that was late for that date: ``[{"table",
    "rows"}]``, largest first."""
    cutoff = datetime.combine(as_of + timedelta(days=1), time())
    parts, params = [], []
    for t in TABLES.values():
        if not t.has_account or t.time is None:
            continue
        parts.append(f"SELECT '{t.name}' AS \"table\", count(*) AS rows FROM \"{t.name}\" "
                     f"WHERE account_id = ? AND _ingested_at > ? AND _ingested_at <= ? "
                     f"AND \"{t.time}\" < ?")
        params += [account_id, since, until, cutoff]
    return [x for x in r.rows(" UNION ALL ".join(parts) + " ORDER BY rows DESC, 1", params)
            if x["rows"]]


def revised_words(at: datetime, late: list[dict]) -> str:
    """``revised on 2026-07-03: late usage events (140 rows)``."""
    what = ", ".join(f"late {x['table'].replace('_', ' ')} ({x['rows']:,} rows)" for x in late)
    return f"revised on {at:%Y-%m-%d %H:%M} UTC: " + (what or "rescored (the scorecard's "
                                                       "inputs changed)")


def revision_change(r: Reader, card: Card, account_id: str, as_of: date) -> dict:
    """Why the account's snapshot of ``as_of`` changed at its latest revision, split exactly by
    measure: the explanation of :func:`healthscore.read.history.why` between the revision
    before and the current one, with ``revised_at``, ``late`` and ``words``. Raises
    :class:`NotFound` when that snapshot was never revised."""
    from healthscore.read.history import PAIR  # the same side-by-side columns as `why`

    found = revisions(r, card, account_id, as_of)
    if len(found) < 2:
        raise NotFound(f"the {card.name} snapshot of {account_id!r} on {as_of} was "
                       + ("never revised" if found else "not found"),
                       hint="a date is revised when it is scored again after late data "
                            "changed its result (healthscore score --as-of DATE)",
                       param="as_of")
    before, after = found[-2], found[-1]
    old = measure_table(r, card.name, card.version, [as_of], [account_id],
                        known_at=before["computed_at"])
    new = measure_table(r, card.name, card.version, [as_of], [account_id])
    measures = query_tables({"a": old, "b": new},
                            f"SELECT {PAIR} FROM a FULL OUTER JOIN b USING (measure)")
    out = explain_change({"before": before, "after": after, "measures": measures}, card.labels)
    out.update(start=as_of, end=as_of, revised_at=after["computed_at"], late=after["late"],
               words=after["words"], known_before=before["computed_at"])
    return out

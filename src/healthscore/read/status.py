"""Whether an account is scored, churned, or unknown: the words for "no score here".

An account with no snapshot where one is asked for is one of: unknown to the workspace; churned
(it says when, and when it was last scored); not yet scored (new since the last score); or
simply not scored on that date. :func:`not_scored` builds that message for every surface.
"""

from __future__ import annotations

from datetime import date

from healthscore.errors import NotFound
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card


def series_table(r: Reader) -> str:
    """Where one account's scores over time are read: ``snapshot_series`` (sorted by account)
    when it holds every snapshot, else ``snapshots`` (a backfill is rebuilding it)."""
    ready = r.kept(("series_ready",), lambda: r.rows(
        "SELECT value FROM meta WHERE key = 'series_ready'"))
    return "snapshot_series" if ready and ready[0]["value"] == "true" else "snapshots"


def last_scored(r: Reader, card: Card, account_id: str, on_or_before: date | None = None
                ) -> date | None:
    """The account's latest snapshot date (on or before a date); None if never scored."""
    return r.rows(f"SELECT max(as_of) AS d FROM {series_table(r)} WHERE scorecard = ? "
                  "AND version = ? AND account_id = ? AND (?::DATE IS NULL OR as_of <= ?)",
                  [card.name, card.version, account_id, on_or_before, on_or_before])[0]["d"]


def churned_on(r: Reader, account_id: str, attributes: dict | None = None) -> date | None:
    """When the account stopped being a customer: its current ``churned_at`` (from
    ``attributes`` when given), else the date of its earliest renewal with the outcome
    ``churned``; None while it is a customer."""
    if attributes is not None and attributes.get("churned_at") is not None:
        return attributes["churned_at"]
    found = r.rows("""
        SELECT coalesce(
            (SELECT churned_at FROM accounts WHERE account_id = ?
             ORDER BY _valid_to DESC NULLS FIRST LIMIT 1),
            (SELECT min(renewal_date) FROM renewals
             WHERE account_id = ? AND outcome = 'churned')) AS d
    """, [account_id, account_id])
    return found[0]["d"] if found else None


def known(r: Reader, account_id: str) -> bool:
    return bool(r.rows("SELECT 1 AS x FROM accounts WHERE account_id = ? LIMIT 1",
                       [account_id]))


def not_scored(r: Reader, card: Card, account_id: str, day: date | None,
               where: str) -> NotFound:
    """The error for an account without a snapshot ``where`` (e.g. ``"on 2026-06-30"``), saying
    why and what exists: unknown account; churned on …, last scored on …; scored only later
    (its first score); or last scored on an earlier date."""
    if not known(r, account_id):
        return NotFound(f"no account {account_id!r}",
                        hint="use an account_id from the accounts list (healthscore status)")
    last = last_scored(r, card, account_id, day)
    churned = churned_on(r, account_id)
    if churned is not None and (day is None or churned <= day):
        return NotFound(
            f"{account_id} churned on {churned}" + (f", last scored on {last}" if last else
                                                   ", never scored"),
            hint=f"its last score is on {last} (use that date)" if last else
            "an account is scored while it is a customer")
    head = f"no {card.name} snapshot of {account_id!r}" + (f" {where}" if where else "")
    run = f"healthscore score --as-of {day}" if day else "healthscore score --as-of YYYY-MM-DD"
    if last is not None:
        return NotFound(head, hint=f"it was last scored on {last}; score that date first "
                                   f"({run}) or use a scored date")
    first = r.rows(f"SELECT min(as_of) AS d FROM {series_table(r)} WHERE scorecard = ? "
                   "AND version = ? AND account_id = ?",
                   [card.name, card.version, account_id])[0]["d"]
    if first is not None:
        return NotFound(head, hint=f"its first score is on {first}; score that date first "
                                   f"({run}) or use a later date")
    return NotFound(head + ": it has no score yet",
                    hint=f"score a date since it became a customer ({run}, or backfill)")

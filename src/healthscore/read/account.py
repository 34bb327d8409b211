"""One account: its attributes, its snapshot with groups and measures, its recent activity and
the CSMs' manual inputs (the account page, the API's ``/accounts/{id}``, ``healthscore
explain``)."""

from __future__ import annotations

from datetime import date, datetime

from healthscore.errors import InputError, NotFound
from healthscore.read.dates import ACCOUNTS_AS_OF, account_cutoff
from healthscore.read.history import deltas, last_on_or_before
from healthscore.read.measures import heads_sql, measure_table
from healthscore.read.reader import Reader
from healthscore.read.scorecards import Card
from healthscore.read.status import churned_on, not_scored

_ATTRS = ("account_id, name, plan, segment, lifecycle_stage, arr, seats, csm, renewal_date, "
          "contract_start, industry, churned_at")


def attributes(r: Reader, account_id: str, as_of: date | None = None) -> dict | None:
    """An account's attributes: the current version, or with ``as_of`` the version that held
    at the end of that date (the current one when the account did not exist yet); None for an
    unknown account."""
    if as_of is not None:
        found = r.rows(f"SELECT {_ATTRS} FROM ({ACCOUNTS_AS_OF}) WHERE account_id = ? LIMIT 1",
                       account_cutoff(as_of) + [account_id])
        if found:
            return found[0]
    found = r.rows(f"SELECT {_ATTRS} FROM accounts WHERE account_id = ? "
                   "ORDER BY _valid_to DESC NULLS FIRST LIMIT 1", [account_id])
    return found[0] if found else None


def snapshot(r: Reader, card: Card, account_id: str, as_of: date, *,
             known_at: datetime | None = None) -> dict | None:
    """The account's snapshot on ``as_of``: score, band, grade, coverage, variant, its
    attributes on that date, and its groups and measures (raw value, score, weight, points,
    override) in scorecard order, measures labelled; ``revisions``: how many times the date
    was scored with another result (0: never revised). With ``known_at``, the snapshot as the
    store held it at that time (UTC). None when not scored that day (or not by then)."""
    key = [card.name, card.version, as_of, account_id]
    heads, hparams = heads_sql(known_at)
    head = r.rows(f"""
        SELECT s.*, a.name, a.segment, a.plan, a.csm, a.arr, a.renewal_date
        FROM {heads} s LEFT JOIN ({ACCOUNTS_AS_OF}) a USING (account_id)
        WHERE s.scorecard = ? AND s.version = ? AND s.as_of = ? AND s.account_id = ?
    """, hparams + account_cutoff(as_of) + key)
    if not head:
        return None
    out = head[0]
    out["revisions"] = r.rows(
        "SELECT count(*) AS n FROM snapshot_revisions WHERE scorecard = ? AND version = ? "
        "AND as_of = ? AND account_id = ?", key)[0]["n"]
    measures, groups = measure_table(r, card.name, card.version, [as_of], [account_id],
                                     known_at=known_at, groups=True)
    out["groups"] = groups.select(["group", "score", "weight", "points"]).to_pylist()
    for g in out["groups"]:
        g["label"] = card.group_labels.get(g["group"], g["group"])
    out["measures"] = measures.select(["group", "measure", "raw_value", "score", "weight",
                                       "points", "missing", "override_id"]).to_pylist()
    ids = [m["override_id"] for m in out["measures"] if m["override_id"] is not None]
    notes = {o.pop("override_id"): o for o in r.rows(
        "SELECT override_id, author AS override_author, comment AS override_comment, "
        "expires_at AS override_expires FROM overrides WHERE list_contains(?, override_id)",
        [ids])} if ids else {}
    for m in out["measures"]:
        m.update(notes.get(m["override_id"], {"override_author": None,
                                              "override_comment": None,
                                              "override_expires": None}))
    for m in out["measures"]:
        m["label"] = card.labels.get(m["measure"], m["measure"])
    return out


def explain(r: Reader, card: Card, account_id: str, as_of: date, *,
            known_at: datetime | None = None) -> dict:
    """The account's snapshot on exactly ``as_of`` (:func:`snapshot`; as known at
    ``known_at`` when given); raises :class:`NotFound` saying why there is none (unknown,
    churned on …, last scored on …, not scored yet at that time)."""
    found = snapshot(r, card, account_id, as_of, known_at=known_at)
    if found is None and known_at is not None and snapshot(r, card, account_id, as_of):
        first = r.rows("SELECT min(computed_at) AS t FROM (SELECT computed_at FROM snapshots "
                       "WHERE scorecard = ? AND version = ? AND as_of = ? AND account_id = ? "
                       "UNION ALL SELECT computed_at FROM snapshot_revisions WHERE "
                       "scorecard = ? AND version = ? AND as_of = ? AND account_id = ?)",
                       [card.name, card.version, as_of, account_id] * 2)[0]["t"]
        raise NotFound(f"{account_id!r} on {as_of} was not scored yet at {known_at}",
                       hint=f"it was first scored at {first} UTC", param="known_at")
    if found is None:
        raise not_scored(r, card, account_id, as_of, f"on {as_of}")
    return found


def account(r: Reader, card: Card, account_id: str, as_of: date | None = None) -> dict:
    """An account and its latest snapshot on or before ``as_of`` (default: the version's
    latest date), with its 7/30/90-day changes.

    Returns ``{"account_id", "account", "scorecard", "version", "as_of", "snapshot",
    "deltas", "churned_on", "last_scored"}``: ``account`` holds the attributes as they were on
    the snapshot's date when ``as_of`` is given (else the current ones); ``as_of`` is the
    snapshot's date (None, with ``snapshot`` None, when the account has no score by then);
    ``churned_on`` is set once the account has churned (by ``as_of``). Raises
    :class:`NotFound` for an unknown account.
    """
    current = attributes(r, account_id)
    if current is None:
        raise NotFound(f"no account {account_id!r}",
                       hint="use an account_id from the accounts list")
    day = last_on_or_before(r, card, account_id, as_of)
    attrs = attributes(r, account_id, day) if as_of is not None and day is not None else current
    churned = churned_on(r, account_id, current)
    if churned is not None and as_of is not None and churned > as_of:
        churned = None  # not churned yet on the date asked for
    out = {"account_id": account_id, "account": attrs, "scorecard": card.name,
           "version": card.version, "as_of": day, "snapshot": None, "deltas": {},
           "churned_on": churned, "last_scored": day}
    if day is not None:
        out["snapshot"] = snapshot(r, card, account_id, day)
        out["deltas"] = deltas(r, card, account_id, day)
    return out


_ACTIVITY = {
    "tickets": ("SELECT ticket_id, opened_at, closed_at, priority, csat FROM tickets "
                "WHERE account_id = ? ORDER BY opened_at DESC, ticket_id LIMIT ?"),
    "surveys": ("SELECT kind, score, responded_at, comment, user_id FROM surveys "
                "WHERE account_id = ? ORDER BY responded_at DESC LIMIT ?"),
    "touchpoints": ("SELECT kind, occurred_at, author FROM touchpoints "
                    "WHERE account_id = ? ORDER BY occurred_at DESC LIMIT ?"),
    "invoices": ("SELECT invoice_id, amount, currency, issued_at, due_at, paid_at FROM invoices "
                 "WHERE account_id = ? ORDER BY issued_at DESC, invoice_id LIMIT ?"),
}


def activity(r: Reader, account_id: str, *, limit: int = 5) -> dict[str, list[dict]]:
    """The ``limit`` most recent tickets, survey answers (NPS, CSAT), touchpoints and invoices
    of an account, newest first."""
    if not 1 <= limit <= 100:
        raise InputError("limit", f"{limit} is not 1-100")
    return {kind: r.rows(sql, [account_id, limit]) for kind, sql in _ACTIVITY.items()}


def manual_inputs(r: Reader, account_id: str) -> dict[str, list[dict]]:
    """Every pulse and override of an account, newest first."""
    pulses = r.rows(
        'SELECT "value", "at", author, comment, expires_at, _source AS source FROM pulses '
        'WHERE account_id = ? ORDER BY "at" DESC', [account_id])
    overrides = r.rows(
        "SELECT override_id, scorecard, measure, score, author, comment, created_at, "
        "expires_at FROM overrides WHERE account_id = ? ORDER BY created_at DESC",
        [account_id])
    return {"pulses": pulses, "overrides": overrides}

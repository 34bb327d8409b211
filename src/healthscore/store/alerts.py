"""Alerts, the dates each rule was checked, and the outbox — written through the store.

A rule's check of a date is one transaction: the alerts it opens, the outbox rows that will
deliver them, the alerts it closes and the check's own row commit together, so a crash
leaves either all of it or none. Deliveries are recorded one by one after the channel
accepted them (:func:`mark_sent`): a process killed in between leaves the row pending, and the
next run sends it again under the same key.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime

import pandas as pd

from healthscore.errors import NotFound
from healthscore.store.reads import dict_rows
from healthscore.store.store import Store

#: The team's states of an alert (closed is ``closed_on`` being set, whatever the state).
STATES = ("open", "acknowledged", "snoozed")


def instance_id(store: Store) -> str:
    """This store's random id (made once), so keys from two workspaces never collide at a
    receiver they share."""
    row = store.con.execute("SELECT value FROM meta WHERE key = 'instance'").fetchall()
    if row:
        return row[0][0]
    made = uuid.uuid4().hex[:12]
    store.con.execute("INSERT INTO meta VALUES ('instance', ?)", [made])
    return made


def outbox_key(instance: str, alert_id: int | str, channel: str, recipient: str | None) -> str:
    """The idempotency key of one alert to one channel and recipient: the same on every
    attempt, different for any other alert, channel or recipient."""
    target = hashlib.sha256(f"{channel}\x00{recipient or ''}".encode()).hexdigest()[:10]
    return f"hs-{instance}-{alert_id}-{target}"


def last_check(store: Store, rule: str) -> date | None:
    """The latest date ``rule`` was checked on (None before its first)."""
    return store.con.execute("SELECT max(as_of) FROM alert_checks WHERE rule = ?",
                             [rule]).fetchall()[0][0]


def open_alerts(store: Store, rule: str) -> dict[str, tuple[int, date]]:
    """Account id → (alert id, the last date the rule held) of the rule's alerts whose
    episode lasts."""
    return {a: (i, last) for a, i, last in store.con.execute(
        "SELECT account_id, alert_id, last_held_on FROM alerts WHERE rule = ? AND closed_on "
        "IS NULL", [rule]).fetchall()}


def snoozed(store: Store, rule: str, as_of: date) -> dict[str, date]:
    """Account id → the date until which the team snoozed the rule's alerts for it (the
    latest snooze still running on ``as_of``)."""
    return dict(store.con.execute(
        "SELECT account_id, max(snoozed_until) FROM alerts WHERE rule = ? AND state = "
        "'snoozed' AND snoozed_until >= ? GROUP BY account_id", [rule, as_of]).fetchall())


def record_check(store: Store, *, rule: str, as_of: date, holding: int, opened: list[dict],
                 closed: list[int], run_id: int, at: datetime, targets,
                 held: list[int] = ()) -> list[int]:
    """In one transaction: insert the ``opened`` alerts (dicts of the alerts columns without
    ids; an alert whose ``state`` is ``snoozed`` gets no delivery), queue each for its
    ``targets(alert) -> [(channel, recipient)]``, mark the open alerts ``held`` as holding on
    ``as_of``, close the ``closed`` alerts on ``as_of``, and record the check. Returns the
    new alert ids."""
    with store.transaction() as con:
        instance = instance_id(store)
        ids = [i for (i,) in con.execute("SELECT nextval('alert_ids') FROM range(?)",
                                         [len(opened)]).fetchall()]
        if opened:  # one insert for all: a first check may open tens of thousands
            rows = pd.DataFrame({
                "alert_id": ids, "rule": rule,
                "scorecard": [a["scorecard"] for a in opened],
                "account_id": [a["account_id"] for a in opened],
                "opened_on": as_of, "last_held_on": as_of, "closed_on": None,
                "severity": [a["severity"] for a in opened],
                "csm": [a["csm"] for a in opened], "title": [a["title"] for a in opened],
                "text": [a["text"] for a in opened],
                "detail": [json.dumps(a["detail"]) for a in opened],
                "state": [a.get("state", "open") for a in opened],
                "snoozed_until": [a.get("snoozed_until") for a in opened],
                "acted_by": None, "acted_at": None, "comment": None, "run_id": run_id,
                "created_at": at})
            con.register("_new_alerts", rows)
            con.execute("INSERT INTO alerts SELECT alert_id, rule, scorecard, account_id, "
                        "opened_on::DATE, last_held_on::DATE, closed_on::DATE, severity, csm, "
                        "title, text, detail::JSON, state, snoozed_until::DATE, acted_by, "
                        "acted_at::TIMESTAMP, comment, run_id, created_at::TIMESTAMP "
                        "FROM _new_alerts")
            con.unregister("_new_alerts")
            queued = [(outbox_key(instance, i, channel, recipient), i, channel, recipient)
                      for i, alert in zip(ids, opened, strict=True)
                      if alert.get("state", "open") != "snoozed"
                      for channel, recipient in targets(alert)]
            if queued:
                box = pd.DataFrame(queued, columns=["key", "alert_id", "channel", "recipient"])
                con.register("_new_outbox", box)
                con.execute("INSERT INTO alert_outbox SELECT \"key\", alert_id, 'alert', "
                            "channel, recipient, 'pending', 0, NULL, ?::TIMESTAMP, NULL, NULL, "
                            "NULL FROM _new_outbox ON CONFLICT DO NOTHING", [at])
                con.unregister("_new_outbox")
        for column, chosen in (("last_held_on", held), ("closed_on", closed)):
            if len(chosen):  # a join, not a list lookup per row: tens of thousands may hold
                con.register("_chosen", pd.DataFrame({"alert_id": list(chosen)}))
                con.execute(f"UPDATE alerts SET {column} = ? FROM _chosen c "
                            "WHERE alerts.alert_id = c.alert_id", [as_of])
                con.unregister("_chosen")
        con.execute("INSERT INTO alert_checks VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [rule, as_of, holding, len(ids), len(closed), run_id, at])
    return ids


def queue(store: Store, *, kind: str, key: str, channel: str, recipient: str | None,
          payload: dict, at: datetime) -> bool:
    """Queue one delivery that is not an alert (a digest); False when ``key`` is queued
    already (a digest is sent once per CSM and period)."""
    with store.transaction() as con:
        found = con.execute("SELECT 1 FROM alert_outbox WHERE \"key\" = ?", [key]).fetchall()
        if found:
            return False
        con.execute("INSERT INTO alert_outbox VALUES (?, NULL, ?, ?, ?, 'pending', 0, NULL, ?, "
                    "NULL, NULL, ?)", [key, kind, channel, recipient, at, json.dumps(payload)])
    return True


def pending(store: Store) -> list[dict]:
    """The outbox rows still to send, oldest first, with their alert's columns."""
    return dict_rows(store.con.execute(
        "SELECT o.*, a.rule, a.scorecard, a.account_id, a.opened_on, a.severity, a.csm, "
        "a.title, a.text, a.detail FROM alert_outbox o LEFT JOIN alerts a USING (alert_id) "
        "WHERE o.status = 'pending' ORDER BY o.created_at, o.\"key\""))


def mark_sent(store: Store, key: str, at: datetime) -> None:
    with store.transaction() as con:
        con.execute("UPDATE alert_outbox SET status = 'sent', attempts = attempts + 1, "
                    "sent_at = ?, last_attempt_at = ?, last_error = NULL WHERE \"key\" = ?",
                    [at, at, key])


def mark_failed(store: Store, key: str, at: datetime, error: str, *, final: bool) -> None:
    """Record a failed attempt; ``final`` (the channel refused for good) stops retries."""
    with store.transaction() as con:
        con.execute("UPDATE alert_outbox SET attempts = attempts + 1, last_attempt_at = ?, "
                    "last_error = ?, status = ? WHERE \"key\" = ?",
                    [at, error[:2000], "failed" if final else "pending", key])


def retry_failed(store: Store) -> int:
    """Put the deliveries that failed for good back in the queue; how many."""
    with store.transaction() as con:
        n = con.execute("SELECT count(*) FROM alert_outbox WHERE status = 'failed'"
                        ).fetchall()[0][0]
        con.execute("UPDATE alert_outbox SET status = 'pending' WHERE status = 'failed'")
    return n


def act(store: Store, alert_id: int, *, state: str, by: str, comment: str, at: datetime,
        until: date | None = None) -> dict:
    """Acknowledge, snooze (until ``until``) or reopen one alert; the row after."""
    if state not in STATES:
        raise ValueError(f"state {state!r}: one of {', '.join(STATES)}")
    with store.transaction() as con:
        found = con.execute("SELECT alert_id FROM alerts WHERE alert_id = ?",
                            [alert_id]).fetchall()
        if not found:
            raise NotFound(f"no alert {alert_id}", hint="healthscore alerts list shows them")
        con.execute("UPDATE alerts SET state = ?, snoozed_until = ?, acted_by = ?, acted_at = ?, "
                    "comment = ? WHERE alert_id = ?",
                    [state, until if state == "snoozed" else None, by, at, comment, alert_id])
    return dict_rows(store.con.execute("SELECT * FROM alerts WHERE alert_id = ?",
                                       [alert_id]))[0]

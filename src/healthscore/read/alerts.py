"""The alerts as the inbox, the API, the account page and ``healthscore alerts list`` read
them: filtered lists with counts, one alert with its deliveries, the count needing attention.

An alert *needs attention* (``state='open'``) until someone acknowledges or snoozes it; a
snooze ends by itself after its date. Whether its episode still holds is separate:
``closed_on`` is the date the rule stopped holding (None while it holds).
"""

from __future__ import annotations

import json
from datetime import date

from healthscore.errors import InputError, NotFound
from healthscore.read.reader import Reader

#: The states a list can ask for.
STATES = ("open", "acknowledged", "snoozed", "closed", "all")
SEVERITIES = ("info", "warning", "critical")
#: The most alerts one page of a list returns.
MAX_ALERTS = 500


def _state_sql(state: str) -> str:
    return {
        "open": "(a.state = 'open' OR (a.state = 'snoozed' AND a.snoozed_until < $today))",
        "acknowledged": "a.state = 'acknowledged'",
        "snoozed": "(a.state = 'snoozed' AND a.snoozed_until >= $today)",
        "closed": "a.closed_on IS NOT NULL",
        "all": "TRUE",
    }[state]


def _row(x: dict, today: date) -> dict:
    if isinstance(x.get("detail"), str):
        x["detail"] = json.loads(x["detail"])
    if x["state"] == "snoozed" and x["snoozed_until"] is not None and x["snoozed_until"] < today:
        x["state"] = "open"  # the snooze ran out
    x["holding"] = x["closed_on"] is None
    return x


def alerts(r: Reader, *, today: date, state: str = "open", csm: str | None = None,
           severity: str | None = None, rule: str | None = None,
           account_id: str | None = None, limit: int = 100, offset: int = 0) -> dict:
    """Alerts newest first, filtered: ``state`` (open — needing attention —, acknowledged,
    snoozed, closed — the rule no longer holds —, or all), ``csm``, ``severity``, ``rule``,
    ``account_id``. Returns ``alerts`` (one page), ``total`` (matching), ``counts`` (open
    alerts per severity, whatever the filters) and the filters used."""
    if state not in STATES:
        raise InputError("state", f"{state!r}: one of {', '.join(STATES)}")
    if severity is not None and severity not in SEVERITIES:
        raise InputError("severity", f"{severity!r}: one of {', '.join(SEVERITIES)}")
    if not 1 <= limit <= MAX_ALERTS:
        raise InputError("limit", f"{limit}: between 1 and {MAX_ALERTS}")
    if offset < 0:
        raise InputError("offset", f"{offset}: 0 or more")
    where = [_state_sql(state)]
    params: dict = {"today": today}
    for column, value in (("csm", csm), ("severity", severity), ("rule", rule),
                          ("account_id", account_id)):
        if value is not None:
            where.append(f"a.{column} = ${column}")
            params[column] = value
    clause = " AND ".join(where)
    if "$today" not in clause:  # DuckDB refuses a named parameter the query does not use
        del params["today"]
    total = r.rows(f"SELECT count(*) AS n FROM alerts a WHERE {clause}", params)[0]["n"]
    rows = r.rows(f"""
        SELECT a.*, (SELECT count(*) FROM alert_outbox o WHERE o.alert_id = a.alert_id
                     AND o.status = 'sent') AS delivered,
               (SELECT count(*) FROM alert_outbox o WHERE o.alert_id = a.alert_id
                     AND o.status <> 'sent') AS undelivered
        FROM alerts a WHERE {clause}
        ORDER BY a.opened_on DESC, a.alert_id DESC LIMIT {int(limit)} OFFSET {int(offset)}
    """, params)
    return {"alerts": [_row(x, today) for x in rows], "total": total,
            "counts": open_counts(r, today=today), "state": state, "csm": csm,
            "severity": severity, "rule": rule, "account_id": account_id,
            "limit": limit, "offset": offset}


def open_counts(r: Reader, *, today: date) -> dict:
    """Alerts needing attention, per severity and in all."""
    rows = r.rows(f"SELECT severity, count(*) AS n FROM alerts a WHERE {_state_sql('open')} "
                  "GROUP BY severity", {"today": today})
    counts = {s: 0 for s in SEVERITIES}
    counts.update({x["severity"]: x["n"] for x in rows})
    counts["total"] = sum(counts[s] for s in SEVERITIES)
    return counts


def alert(r: Reader, alert_id: int, *, today: date) -> dict:
    """One alert with its deliveries (channel, recipient, status, attempts, last error)."""
    rows = r.rows("SELECT * FROM alerts WHERE alert_id = ?", [alert_id])
    if not rows:
        raise NotFound(f"no alert {alert_id}", hint="healthscore alerts list shows them")
    out = _row(rows[0], today)
    out["deliveries"] = r.rows(
        "SELECT \"key\", channel, recipient, status, attempts, last_error, last_attempt_at, "
        "sent_at FROM alert_outbox WHERE alert_id = ? ORDER BY channel, recipient", [alert_id])
    return out


def csms_with_alerts(r: Reader) -> list[str]:
    """The CSMs that have alerts (for the inbox's filter)."""
    return [x["csm"] for x in r.rows("SELECT DISTINCT csm FROM alerts WHERE csm IS NOT NULL "
                                     "ORDER BY 1")]


def outbox(r: Reader) -> dict:
    """The outbox in counts: pending, sent, failed (for good), and the latest errors."""
    counts = {x["status"]: x["n"] for x in r.rows(
        "SELECT status, count(*) AS n FROM alert_outbox GROUP BY status")}
    errors = r.rows("SELECT \"key\", channel, recipient, attempts, last_error FROM alert_outbox "
                    "WHERE status <> 'sent' AND last_error IS NOT NULL "
                    "ORDER BY last_attempt_at DESC LIMIT 10")
    return {"pending": counts.get("pending", 0), "sent": counts.get("sent", 0),
            "failed": counts.get("failed", 0), "errors": errors}

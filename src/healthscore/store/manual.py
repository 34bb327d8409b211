"""Manual inputs: CSM pulses and measure overrides, written and read through the store.

Both carry an author, a comment, a creation time and an optional expiry; both are point-in-time
(an input made today never changes a score of an earlier date) and both survive every re-run,
re-ingest and re-score.
"""

from __future__ import annotations

from datetime import datetime

from healthscore.errors import NotFound, SchemaError
from healthscore.schemas import TABLES
from healthscore.store.schema import hash_expr
from healthscore.store.store import Store

#: Words a pulse may be given in → its value (the pulses table's contract, one place).
PULSE_WORDS = {k: int(v) for k, v in next(
    c for c in TABLES["pulses"].columns if c.name == "value").aliases.items()}


def pulse_value(raw: str | int) -> int:
    """A pulse as 1 (bad) to 5 (good), from a number or a colour (red, yellow/amber, green).

    >>> pulse_value("Green"), pulse_value("2"), pulse_value(4)
    (5, 2, 4)
    """
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in PULSE_WORDS:
            return PULSE_WORDS[text]
        raw = int(text) if text.isdigit() else 0
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 5:
        raise SchemaError(f"pulse value {raw!r} is not 1-5",
                          hint="use red, yellow, green or 1 (bad) to 5 (good)")
    return raw


def _known_account(store: Store, account_id: str) -> None:
    found = store.con.execute("SELECT count(*) FROM accounts WHERE account_id = ?",
                              [account_id]).fetchall()[0][0]
    if not found:
        raise NotFound(f"unknown account {account_id!r}",
                       hint="use an account_id from the accounts table (healthscore status)")


def add_pulse(store: Store, *, account_id: str, value: int, author: str, comment: str,
              at: datetime, expires_at: datetime | None, kind: str = "pulse",
              detail: dict | None = None) -> int:
    """Record a CSM pulse (1-5) in the ``pulses`` table, as a manual event, recorded as a run
    of ``kind`` (``pulse``, ``api-pulse``, ``web-pulse``); returns the run id."""
    with store.recorded(kind, at) as run:
        run.detail = {**(detail or {}), "account_id": account_id, "value": value,
                      "author": author}
        _add_pulse(store, account_id, value, author, comment, at, expires_at)
        run.rows_loaded, run.rows_rejected = 1, 0
    return run.run_id


def _add_pulse(store: Store, account_id: str, value: int, author: str, comment: str,
               at: datetime, expires_at: datetime | None) -> None:
    _known_account(store, account_id)
    if not 1 <= value <= 5:
        raise SchemaError(f"pulse value {value} is not 1-5 (or red / yellow / green)")
    if expires_at is not None and expires_at <= at:
        raise SchemaError("the pulse would expire before it is given",
                          hint="pass an --expires date after today")
    cols = ", ".join(f'"{c}"' for c in TABLES["pulses"].column_names)
    with store.transaction():
        store.con.execute(
            f"INSERT INTO pulses ({cols}, _hash, _source, _run_id, _ingested_at) "
            f"SELECT *, {hash_expr(TABLES['pulses'])}, 'manual', NULL, ? FROM "
            f"(SELECT ?::VARCHAR AS account_id, ?::BIGINT AS \"value\", ?::TIMESTAMP AS \"at\", "
            f"?::VARCHAR AS author, ?::VARCHAR AS comment, ?::TIMESTAMP AS expires_at)",
            [at, account_id, value, at, author, comment, expires_at])


def add_override(store: Store, *, account_id: str, measure: str, score: float, author: str,
                 comment: str, created_at: datetime, expires_at: datetime | None,
                 scorecard: str | None = None, kind: str = "override",
                 detail: dict | None = None) -> tuple[int, int]:
    """Replace ``measure``'s score (0-100) for an account from now until ``expires_at``,
    recorded as a run of ``kind``; returns (override id, run id)."""
    with store.recorded(kind, created_at) as run:
        run.detail = {**(detail or {}), "account_id": account_id, "measure": measure,
                      "author": author}
        oid = _add_override(store, account_id, measure, score, author, comment, created_at,
                            expires_at, scorecard)
        run.rows_loaded, run.rows_rejected = 1, 0
    return oid, run.run_id


def _add_override(store: Store, account_id: str, measure: str, score: float, author: str,
                  comment: str, created_at: datetime, expires_at: datetime | None,
                  scorecard: str | None) -> int:
    _known_account(store, account_id)
    if not 0 <= score <= 100:
        raise SchemaError(f"override score {score} is not 0-100")
    if not comment.strip() or not author.strip():
        raise SchemaError("an override needs an author and a comment saying why")
    if expires_at is not None and expires_at <= created_at:
        raise SchemaError("the override would expire before it starts",
                          hint="pass an --expires date after today")
    with store.transaction():
        oid = store.con.execute("SELECT nextval('override_ids')").fetchall()[0][0]
        store.con.execute(
            "INSERT INTO overrides VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [oid, account_id, scorecard, measure, score, author, comment, created_at,
             expires_at])
    return int(oid)

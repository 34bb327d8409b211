"""Manual inputs: CSM pulses and measure overrides, written and read through the store.

Both carry an author, a comment, a creation time and an optional expiry; both are point-in-time
(an input made today never changes a score of an earlier date) and both survive every re-run,
re-ingest and re-score.
"""

from __future__ import annotations

from datetime import datetime

from healthscore.errors import SchemaError
from healthscore.schemas import TABLES
from healthscore.store.schema import hash_expr
from healthscore.store.store import Store, dict_rows


def _known_account(store: Store, account_id: str) -> None:
    found = store.con.execute("SELECT count(*) FROM accounts WHERE account_id = ?",
                              [account_id]).fetchall()[0][0]
    if not found:
        raise SchemaError(f"unknown account {account_id!r}",
                          hint="use an account_id from the accounts table (healthscore status)")


def add_pulse(store: Store, *, account_id: str, value: int, author: str, comment: str,
              at: datetime, expires_at: datetime | None) -> None:
    """Record a CSM pulse (1-5) in the ``pulses`` table, as a manual event."""
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
                 scorecard: str | None = None) -> int:
    """Replace ``measure``'s score (0-100) for an account from now until ``expires_at``."""
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


def active_overrides(store_con, cutoff: datetime, scorecard: str) -> list[dict]:
    """Overrides in force at ``cutoff`` for ``scorecard``: the newest per account and measure."""
    return dict_rows(store_con.execute("""
        SELECT account_id, measure, score, override_id FROM overrides
        WHERE created_at < ? AND (expires_at IS NULL OR expires_at >= ?)
          AND (scorecard IS NULL OR scorecard = ?)
        QUALIFY row_number() OVER (PARTITION BY account_id, measure
                                   ORDER BY created_at DESC, override_id DESC) = 1
    """, [cutoff, cutoff, scorecard]))


def manual_inputs(store: Store, account_id: str) -> dict[str, list[dict]]:
    """Every pulse and override of an account, newest first."""
    pulses = dict_rows(store.con.execute(
        'SELECT "value", "at", author, comment, expires_at, _source AS source FROM pulses '
        'WHERE account_id = ? ORDER BY "at" DESC', [account_id]))
    overrides = dict_rows(store.con.execute(
        "SELECT override_id, scorecard, measure, score, author, comment, created_at, "
        "expires_at FROM overrides WHERE account_id = ? ORDER BY created_at DESC",
        [account_id]))
    return {"pulses": pulses, "overrides": overrides}

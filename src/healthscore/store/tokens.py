"""REST API tokens: created once, stored hashed, listed and revoked by a non-secret id.

A token reads ``hs_<id>_<secret>``: ``id`` is 8 hex characters, shown in listings and used to
revoke; ``secret`` is ``secrets.token_urlsafe(32)``. The store keeps only the SHA-256 of the whole
token, so a copy of the store does not hold a usable token; a presented token is checked by its
id and a constant-time comparison of hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from healthscore.errors import SchemaError
from healthscore.store.store import Store

#: What a token may do. ``write`` includes ``read``.
SCOPES = ("read", "write")
IMPLIED = {"write": {"read", "write"}, "read": {"read"}}
_FORMAT = re.compile(r"hs_([0-9a-f]{8})_([A-Za-z0-9_-]{20,})")
#: ``last_used_at`` is refreshed at most this often, so reads do not write on every request.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenInfo:
    """A stored token, without its secret."""

    token_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def allows(self, scope: str) -> bool:
        return any(scope in IMPLIED[s] for s in self.scopes if s in IMPLIED)

    def run_detail(self) -> dict[str, str]:
        """What a run written with this token records of it (``runs.detail``): its id and
        name, the same for the API and the dashboard's pulse form."""
        return {"token_id": self.token_id, "token": self.name}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row) -> TokenInfo:
    return TokenInfo(row[0], row[1], tuple(row[2]), row[3], row[4], row[5])


_COLUMNS = "token_id, name, scopes, created_at, last_used_at, revoked_at"


def create_token(store: Store, *, name: str, scopes: list[str] | tuple[str, ...] = ("write",),
                 now: datetime) -> tuple[str, TokenInfo]:
    """Create a token; return it (the only time it is known) and its stored description."""
    name = name.strip()
    if not name:
        raise SchemaError("a token needs a name (who or what uses it)",
                          hint="pass --name, e.g. --name ingest-bot")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise SchemaError(f"unknown scope(s) {', '.join(map(repr, unknown)) or '(none)'}",
                          hint="use " + " or ".join(SCOPES))
    with store.transaction():
        for _ in range(5):
            token_id = secrets.token_hex(4)
            taken = store.con.execute("SELECT count(*) FROM api_tokens WHERE token_id = ?",
                                      [token_id]).fetchall()[0][0]
            if not taken:
                break
        token = f"hs_{token_id}_{secrets.token_urlsafe(32)}"
        store.con.execute(
            "INSERT INTO api_tokens (token_id, name, scopes, sha256, created_at) "
            "VALUES (?, ?, ?, ?, ?)", [token_id, name, sorted(set(scopes)), _digest(token), now])
    return token, TokenInfo(token_id, name, tuple(sorted(set(scopes))), now, None, None)


def list_tokens(store: Store, *, include_revoked: bool = False) -> list[TokenInfo]:
    """Stored tokens (never their secrets), oldest first."""
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    rows = store.con.execute(f"SELECT {_COLUMNS} FROM api_tokens{where} "
                             "ORDER BY created_at, token_id").fetchall()
    return [_info(r) for r in rows]


def active_tokens(store: Store) -> dict[str, TokenInfo]:
    """The unrevoked tokens by id (never their secrets); none in a store from before tokens
    that is opened read-only (not migrated)."""
    try:
        rows = store.con.execute(f"SELECT {_COLUMNS} FROM api_tokens "
                                 "WHERE revoked_at IS NULL").fetchall()
    except duckdb.CatalogException:
        return {}
    return {r[0]: _info(r) for r in rows}


def revoke_token(store: Store, token_id: str, *, now: datetime) -> TokenInfo:
    """Revoke a token by its id (the 8 hex characters after ``hs_``, or the whole token)."""
    match = _FORMAT.fullmatch(token_id)
    token_id = match.group(1) if match else token_id.removeprefix("hs_")
    with store.transaction():
        rows = store.con.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE token_id = ?",
                                 [token_id]).fetchall()
        if not rows:
            raise SchemaError(f"no token with id {token_id!r}",
                              hint="`healthscore token list` shows the ids")
        if rows[0][5] is None:
            store.con.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?",
                              [now, token_id])
    info = _info(rows[0])
    return TokenInfo(info.token_id, info.name, info.scopes, info.created_at, info.last_used_at,
                     info.revoked_at or now)


def verify_token(store: Store, token: str, *, now: datetime, touch: bool = True
                 ) -> TokenInfo | None:
    """The token's description if ``token`` is a valid, unrevoked token; else None.

    ``touch`` records ``now`` as its last use (at most once a minute; needs a writable store).
    """
    match = _FORMAT.fullmatch(token)
    if not match:
        return None
    try:
        rows = store.con.execute(f"SELECT {_COLUMNS}, sha256 FROM api_tokens "
                                 "WHERE token_id = ?", [match.group(1)]).fetchall()
    except duckdb.CatalogException:
        rows = []  # a store from before tokens (opened read-only, not migrated): none exist
    if not rows:
        # Same work as a hit, so timing does not tell whether an id exists.
        hmac.compare_digest(_digest(token), "0" * 64)
        return None
    row = rows[0]
    if not hmac.compare_digest(_digest(token), row[6]) or row[5] is not None:
        return None
    if touch and (row[4] is None or now - row[4] >= _TOUCH_EVERY):
        with store.transaction():
            store.con.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?",
                              [now, row[0]])
    return _info(row)

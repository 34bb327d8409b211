"""Dashboard sign-in: a session cookie that names an API token, never holds it.

Signing in on ``/signin`` with an API token (``healthscore token create``) sets the cookie
:data:`COOKIE` to ``<token id>.<expiry>.<mac>``: the token's id (not secret: ``healthscore token
list`` shows it), when the session ends (Unix seconds, :data:`LIFETIME` after sign-in) and an
HMAC-SHA256 of both under the workspace's session key. The token's secret is never in the
cookie, so a stolen cookie dies with its expiry and cannot be replayed as an API token.

The key is 32 random bytes in a file beside the store (``<store>.session-key``, created mode
0600 on the first start), so sessions survive a restart; deleting the file signs everyone out at
the next start. When the folder cannot be written the key lives in memory and a restart signs
everyone out.

Every request checks again that the named token is still active (:func:`resolve`): the active
tokens are read once per change of the store file (the server's read cache, keyed on the file's
signature, :mod:`.cache`), so revoking a token — a write to the file — ends its sessions at the
next request, and an unchanged store costs two ``stat`` calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from healthscore.server.access import reading
from healthscore.store.tokens import TokenInfo, active_tokens
from healthscore.workspace import Workspace

log = logging.getLogger("healthscore.server")

COOKIE = "hs_session"
#: How long a sign-in lasts; it is not extended by use (sign in again after it).
LIFETIME = timedelta(hours=12)
_KEY_BYTES = 32
#: Bound into every MAC so a value signed for another purpose never passes as a session.
_PURPOSE = b"healthscore-session-v1\n"


def key_path(workspace: Workspace) -> Path:
    """Where the workspace's session key lives: beside its store."""
    store = workspace.store_path
    return store.with_name(store.name + ".session-key")


def load_key(path: Path) -> bytes:
    """The session key in ``path``, created (mode 0600) when missing; a key for this process
    only, with a warning in the log, when the file cannot be read or written."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("session key %s is unusable (%s): sign-ins last until the server stops; "
                    "delete the file to make a new one", path, exc)
        return secrets.token_bytes(_KEY_BYTES)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(_KEY_BYTES) + "\n")
        try:
            # link, not rename: it never replaces a key another server just wrote, so two
            # servers started together agree on the first one
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return _read_key(path)
    except (OSError, ValueError) as exc:
        log.warning("cannot write the session key %s (%s): sign-ins last until the server "
                    "stops", path, exc)
        return secrets.token_bytes(_KEY_BYTES)


def _read_key(path: Path) -> bytes:
    key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    if len(key) < _KEY_BYTES:
        raise ValueError(f"the key is {len(key)} bytes, not {_KEY_BYTES}")
    return key


def _seconds(moment: datetime) -> int:
    """A naive-UTC time (the clock's convention) as Unix seconds."""
    return int(moment.replace(tzinfo=UTC).timestamp())


class Sessions:
    """Issues and checks session cookie values under one key.

    Examples
    --------
    >>> from datetime import datetime
    >>> s = Sessions(b"k" * 32)
    >>> token = TokenInfo("0db3008f", "maria", ("write",), datetime(2026, 1, 1), None, None)
    >>> value = s.issue(token, now=datetime(2026, 6, 1, 9, 0))
    >>> s.token_id(value, now=datetime(2026, 6, 1, 20, 59))
    '0db3008f'
    >>> s.token_id(value, now=datetime(2026, 6, 1, 21, 0)) is None   # 12 hours later
    True
    """

    def __init__(self, key: bytes, lifetime: timedelta = LIFETIME):
        self._key = key
        self.lifetime = lifetime

    @classmethod
    def for_workspace(cls, workspace: Workspace) -> Sessions:
        return cls(load_key(key_path(workspace)))

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, _PURPOSE + body.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def issue(self, token: TokenInfo, *, now: datetime) -> str:
        """The cookie value of a session of ``token`` starting ``now``."""
        body = f"{token.token_id}.{_seconds(now + self.lifetime)}"
        return f"{body}.{self._mac(body)}"

    def token_id(self, value: str | None, *, now: datetime) -> str | None:
        """The token id a cookie value names, if this server signed it and it has not
        expired; else None."""
        parts = (value or "").split(".")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[0].isascii():
            return None
        token_id, expires, mac = parts
        if not hmac.compare_digest(mac.encode("ascii", "replace"),
                                   self._mac(f"{token_id}.{expires}").encode("ascii")):
            return None
        if int(expires) <= _seconds(now):
            return None
        return token_id


@dataclass(frozen=True)
class Access:
    """Who a page request comes from, and what the workspace asks of it.

    ``session`` is the signed-in token (still active), ``reads_need_token`` is the workspace's
    ``api.read_requires_token``, ``tokens`` counts the active tokens. ``guarded``: the pages'
    writes (the pulse form) need a session of a ``write`` token — when reads need a token or
    any active token exists; a workspace without tokens keeps the local single-user form.
    """

    session: TokenInfo | None
    reads_need_token: bool
    tokens: int

    @property
    def guarded(self) -> bool:
        return self.reads_need_token or self.tokens > 0

    @property
    def can_write(self) -> bool:
        """Whether the pulse form may be used: a write session, or no guard at all."""
        if self.session is not None:
            return self.session.allows("write")
        return not self.guarded


def resolve(workspace: Workspace, sessions: Sessions, cookie: str | None, *,
            now: datetime) -> Access:
    """The :class:`Access` of a request carrying session cookie ``cookie`` (or none)."""
    with reading(workspace) as r:
        # Cached until the store file changes: revoking a token (a write) shows at once.
        tokens = r.kept(("api_tokens", "active"), lambda: active_tokens(r.open()))
    token_id = sessions.token_id(cookie, now=now) if cookie else None
    session = tokens.get(token_id) if token_id else None
    return Access(session, workspace.config.api.read_requires_token, len(tokens))

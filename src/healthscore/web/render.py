"""Templates, formatting filters and the pulse form's protection against cross-site posts.

Templates are Jinja2 with autoescape on for every file, so account names, comments and other
data are always text, never markup. Chart data goes into pages as JSON through ``tojson``
(which escapes ``<``, ``>`` and ``&``), inside ``<script type="application/json">`` blocks that
the browser does not run; the only scripts are our own files under ``/static``, which the
Content-Security-Policy enforces.

Cross-site posts: the first page view sets a random ``hs_form`` cookie (HttpOnly,
SameSite=Strict); every form carries a token, an HMAC under a per-process secret of that cookie
and the form's purpose (``pulse:<account>``). A POST is accepted only with the cookie, a
matching token, and an ``Origin`` (or, lacking it, ``Referer``) of this server, when the browser
sends one. A page on another site can neither read the token nor make the browser send the
cookie. Restarting the server changes the secret: a form left open before the restart asks to be
sent again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from importlib import resources
from urllib.parse import urlencode, urlsplit

import jinja2
from fastapi import Request

from healthscore.formatting import day, delta, money, num, pct, raw_value, score, when

COOKIE = "hs_form"


def _templates_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("healthscore.web", "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update(num=num, money=money, score=score, delta=delta, pct=pct, day=day,
                       when=when, value=raw_value)
    return env


# -- requests ----------------------------------------------------------------------------------


def url_with(request: Request, path: str | None = None, **changes) -> str:
    """The current URL's query with ``changes`` applied (None removes a key)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    params += [(k, str(v)) for k, v in changes.items() if v is not None and v != ""]
    query = urlencode(params)
    return (path or request.url.path) + (f"?{query}" if query else "")


# -- cross-site post protection ----------------------------------------------------------------


class FormGuard:
    """Signs and checks form tokens with a secret made when the server starts."""

    def __init__(self, secret: bytes | None = None):
        self.secret = secret or secrets.token_bytes(32)

    def token(self, cookie: str, purpose: str) -> str:
        mac = hmac.new(self.secret, f"{cookie}\n{purpose}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def cookie_of(self, request: Request) -> tuple[str, bool]:
        """The browser's form cookie, or a new one (and True: set it on the response)."""
        value = request.cookies.get(COOKIE)
        if value and len(value) == 43:
            return value, False
        return secrets.token_urlsafe(32), True

    def check(self, request: Request, token: str | None, purpose: str) -> str | None:
        """None when the post is genuine, else why it is refused."""
        origin = request.headers.get("origin") or request.headers.get("referer")
        if origin and origin != "null":
            host = urlsplit(origin).netloc
            if host != request.headers.get("host"):
                return f"the form was sent from another site ({urlsplit(origin).netloc})"
        elif origin == "null":
            return "the form was sent from an opaque origin"
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return "the form's cookie is missing (cookies must be allowed for this site)"
        if not token or not hmac.compare_digest(token, self.token(cookie, purpose)):
            return "the form has expired or was not made by this server"
        return None


def static_text(name: str) -> str:
    return (resources.files("healthscore.web") / "static" / name).read_text(encoding="utf-8")


ENV = _templates_env()


def secure_cookies(request: Request) -> bool:
    """Whether cookies set on this response are marked ``Secure``: the request came over
    HTTPS, or the workspace says its pages are reached over HTTPS through a TLS proxy
    (``serve.https``; the proxy talks plain HTTP to the server, and the server trusts no
    forwarded headers)."""
    return request.url.scheme == "https" or request.app.state.workspace.config.serve.https

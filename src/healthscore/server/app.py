"""The app: one FastAPI app with the dashboard's pages and the REST API over one workspace,
and the limit on request bodies."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healthscore.workspace import Workspace


class BodyLimit:
    """Refuse (413) a request body over ``limit`` bytes while it is read, with or without a
    Content-Length: FastAPI reads a JSON or form body whole before a route (and its token
    check) runs, so without this any client could make the server buffer any amount."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from healthscore.api.errors import BodyTooLarge

        declared = dict(scope["headers"]).get(b"content-length", b"")
        received = int(declared) if declared.isdigit() else 0
        if received > self.limit:  # said up front: 413 before any route (or token check)
            from starlette.responses import PlainTextResponse

            from healthscore.api.errors import BODY_HINT, HEADLINES, error_response

            reason = BodyTooLarge(self.limit).detail
            response = (error_response(413, HEADLINES.get(413, reason),
                                       [{"reason": reason, "hint": BODY_HINT}])
                        if scope["path"].startswith("/api/") else
                        PlainTextResponse(f"{reason}: {BODY_HINT}", status_code=413))
            await response(scope, receive, send)
            return

        async def limited() -> Message:
            nonlocal received
            if received > self.limit:
                raise BodyTooLarge(self.limit)
            message = await receive()
            if message["type"] == "http.request" and not declared.isdigit():
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)


def host_of(value: str) -> str | None:
    """The host name of a Host header or an Origin's netloc, port aside, lower case
    (``[::1]:8000`` → ``[::1]``); None when there is none."""
    value = value.strip().lower()
    if not value:
        return None
    if value.startswith("["):
        end = value.find("]")
        return value[:end + 1] if end > 0 else None
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _allowed(host: str | None, patterns: list[str]) -> bool:
    if host is None:
        return False
    return any(host == p or (p.startswith("*.") and host.endswith(p[1:])) for p in patterns)


class Hosts:
    """Answer only requests addressed to an allowed host name (DNS rebinding: a page on
    attacker.example whose name now points at 127.0.0.1 sends ``Host: attacker.example``),
    and refuse a write whose browser ``Origin`` is another site. Requests without an Origin
    (curl, API clients) are not refused for it: their writes need a token."""

    WRITES = {"POST", "PUT", "PATCH", "DELETE"}

    def __init__(self, app: ASGIApp, allowed: list[str]):
        self.app = app
        self.allowed = [h.lower() for h in allowed]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _nosniff(send)
        headers = dict(scope["headers"])
        host = host_of(headers.get(b"host", b"").decode("latin-1"))
        if not _allowed(host, self.allowed):
            await _refuse(scope, receive, send, 400, f"host {host or '(none)'!r} is not "
                          "served here", "add it to serve.allowed_hosts in healthscore.yaml "
                          "if this server should answer to that name")
            return
        origin = headers.get(b"origin")
        if scope["method"] in self.WRITES and origin is not None:
            text = origin.decode("latin-1")
            netloc = text.split("://", 1)[1] if "://" in text else ""
            if not _allowed(host_of(netloc), self.allowed):
                await _refuse(scope, receive, send, 403, f"a write from another site ({text}) "
                              "is refused: writes come from this server's own pages or from "
                              "API clients",
                              "add the site's host to serve.allowed_hosts in healthscore.yaml "
                              "if it should write here")
                return
        await self.app(scope, receive, send)


def _nosniff(send: Send) -> Send:
    """``send`` adding ``X-Content-Type-Options: nosniff`` to every response: a browser
    takes a JSON or CSV answer for what it says it is, never for a script or a page."""
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                headers.append((b"x-content-type-options", b"nosniff"))
            message = {**message, "headers": headers}
        await send(message)
    return wrapped


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, reason: str,
                  hint: str) -> None:
    from starlette.responses import JSONResponse, PlainTextResponse

    if scope["path"].startswith("/api/"):
        response = JSONResponse({"ok": False, "errors": [{"reason": reason, "hint": hint}]},
                                status_code=status)
    else:
        response = PlainTextResponse(f"{reason} — {hint}", status_code=status)
    await response(scope, receive, send)


def create_app(workspace_root: Path | str) -> FastAPI:
    """The app serving the workspace in ``workspace_root``: pages at ``/``, API at /api/v1."""
    from healthscore import __version__, web
    from healthscore.api import mount

    workspace = Workspace.open(workspace_root)
    app = FastAPI(title="healthscore", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.workspace = workspace
    from healthscore.api.auth import TokenFirst

    app.add_middleware(TokenFirst, workspace=workspace, router=app.router)  # after the 413
    app.add_middleware(BodyLimit, limit=int(workspace.config.api.max_body_mb * 1024 * 1024))
    app.add_middleware(Hosts, allowed=workspace.config.serve.allowed_hosts)  # runs first
    mount(app)
    web.install(app)
    return app


def serve(workspace: Path | str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the workspace until interrupted (Ctrl-C)."""
    import uvicorn

    app = create_app(workspace)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)

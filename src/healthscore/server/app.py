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


def create_app(workspace_root: Path | str) -> FastAPI:
    """The app serving the workspace in ``workspace_root``: pages at ``/``, API at /api/v1."""
    from healthscore import __version__, web
    from healthscore.api import mount

    workspace = Workspace.open(workspace_root)
    app = FastAPI(title="healthscore", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.workspace = workspace
    app.add_middleware(BodyLimit, limit=int(workspace.config.api.max_body_mb * 1024 * 1024))
    mount(app)
    web.install(app)
    return app


def serve(workspace: Path | str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the workspace until interrupted (Ctrl-C)."""
    import uvicorn

    app = create_app(workspace)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)

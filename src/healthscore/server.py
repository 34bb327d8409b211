"""The server: one FastAPI app with the dashboard's pages and the REST API over one workspace.

``healthscore serve -w DIR`` runs it with uvicorn on 127.0.0.1 (``--host`` to bind elsewhere).
The store is opened per request and closed after it, so ``healthscore run`` (the daily job)
and other commands can write between requests; see docs/dashboard.md.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from healthscore.workspace import Workspace


def create_app(workspace_root: Path | str) -> FastAPI:
    """The app serving the workspace in ``workspace_root``: pages at ``/``, API at /api/v1."""
    from healthscore import __version__, web
    from healthscore.api import mount

    workspace = Workspace.open(workspace_root)
    app = FastAPI(title="healthscore", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.workspace = workspace
    mount(app)
    web.install(app)
    return app


def serve(workspace: Path | str, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the workspace until interrupted (Ctrl-C)."""
    import uvicorn

    app = create_app(workspace)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)

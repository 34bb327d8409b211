"""The REST API (``/api/v1``): read scores, history and explanations; ingest data with a token.

``mount(app)`` adds the routes and the error handlers to a FastAPI app whose
``app.state.workspace`` is the :class:`~healthscore.workspace.Workspace` to serve (the server in
``healthscore.server`` does that). See docs/api.md.
"""

from __future__ import annotations

from fastapi import FastAPI

from healthscore.api import errors
from healthscore.api.routes import router

PREFIX = "/api/v1"


def mount(app: FastAPI) -> None:
    """Add the API router under ``/api/v1`` and the API's error handlers to ``app``."""
    errors.install(app)
    app.include_router(router, prefix=PREFIX)


__all__ = ["PREFIX", "mount"]

"""Reaching the workspace and its store from an API request.

Reads go through the server's cached reader (:func:`healthscore.server.reading`), writes through
:func:`healthscore.server.writing`; both open the store for the request only, so the daily CLI
job can write while the server runs. A store held by another process raises
:class:`~healthscore.errors.StoreBusy`, which the API answers with 503 "data is being updated,
retry".

Usage in a route::

    @router.get("/thing")
    def thing(workspace: Workspace = Depends(get_workspace)):
        with reading(workspace) as r:
            ...
"""

from __future__ import annotations

from fastapi import Request

from healthscore.api.errors import ApiError
from healthscore.server.access import reading, writing
from healthscore.workspace import Workspace

__all__ = ["get_workspace", "open_store", "reading", "writing"]

#: A writable store for one request (the token checks and the write routes use it).
open_store = writing


def get_workspace(request: Request) -> Workspace:
    """The workspace the app serves (``app.state.workspace``)."""
    workspace = getattr(request.app.state, "workspace", None)
    if workspace is None:
        raise ApiError(500, "no workspace", [{"reason": "app.state.workspace is not set"}])
    return workspace

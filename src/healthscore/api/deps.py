"""Reaching the workspace store from a request, shared by the API and the dashboard's pages.

DuckDB lets one process at a time write a file, and within one process a file cannot be open
read-only and read-write at once. The daily CLI job must be able to write while the server runs,
so a request opens the store (~25 ms), uses it and closes it; connections inside this process
are serialised by one lock; a store locked by another process is answered with 503 "data is
being updated, retry".

Usage in a route::

    @router.get("/thing")
    def thing(workspace: Workspace = Depends(get_workspace)):
        with open_store(workspace) as store:
            ...
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request

from healthscore.api.errors import ApiError, StoreBusy
from healthscore.errors import StoreError
from healthscore.store import Store
from healthscore.workspace import Workspace

#: One DuckDB connection to the store at a time in this process (a plain Lock: FastAPI may
#: enter and leave a dependency on different threads).
STORE_LOCK = threading.Lock()

_BUSY_MARKERS = ("Could not set lock", "Conflicting lock", "different configuration")


def get_workspace(request: Request) -> Workspace:
    """The workspace the app serves (``app.state.workspace``)."""
    workspace = getattr(request.app.state, "workspace", None)
    if workspace is None:
        raise ApiError(500, "no workspace", [{"reason": "app.state.workspace is not set"}])
    return workspace


def is_busy(exc: Exception) -> bool:
    """Whether an error opening the store means another process holds it."""
    return any(m in str(exc) for m in _BUSY_MARKERS)


@contextmanager
def store_guard() -> Iterator[None]:
    """Hold the process's store lock and turn 'locked by another process' into 503.

    For library calls that open the store themselves (``healthscore.history.trend``).
    """
    with STORE_LOCK:
        try:
            yield
        except StoreError as exc:
            if is_busy(exc):
                raise StoreBusy() from None
            raise


@contextmanager
def open_store(workspace: Workspace, *, read_only: bool = False) -> Iterator[Store]:
    """The workspace's store for the length of a request; closed after, 503 when busy."""
    with store_guard():
        store = workspace.store(read_only=read_only)
        try:
            yield store
        finally:
            store.close()

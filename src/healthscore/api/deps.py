"""Reaching the workspace store from an API request, through the dashboard's read model.

DuckDB lets one process at a time write a file, and within one process a file cannot be open
read-only and read-write at once. The daily CLI job must be able to write while the server runs,
so a request opens the store, uses it and closes it (:func:`healthscore.portfolio.open_store`:
readers share a lock that a writer takes alone, so the API and the pages never collide), and a
store held by another process is answered with 503 "data is being updated, retry".

Usage in a route::

    @router.get("/thing")
    def thing(workspace: Workspace = Depends(get_workspace)):
        with open_store(workspace, read_only=True) as store:   # writable without it
            ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request

from healthscore import portfolio
from healthscore.api.errors import ApiError, StoreBusy
from healthscore.errors import StoreError
from healthscore.store import Store
from healthscore.workspace import Workspace

_BUSY_MARKERS = ("lock", "different configuration")


def get_workspace(request: Request) -> Workspace:
    """The workspace the app serves (``app.state.workspace``)."""
    workspace = getattr(request.app.state, "workspace", None)
    if workspace is None:
        raise ApiError(500, "no workspace", [{"reason": "app.state.workspace is not set"}])
    return workspace


def is_busy(exc: Exception) -> bool:
    """Whether an error opening the store means another process holds it."""
    return isinstance(exc, portfolio.StoreBusy) or any(
        m in str(exc).lower() for m in _BUSY_MARKERS)


@contextmanager
def busy_as_503() -> Iterator[None]:
    """Turn 'the store is held by another process' into a 503 in the error shape."""
    try:
        yield
    except StoreError as exc:
        if is_busy(exc):
            raise StoreBusy() from None
        raise


@contextmanager
def open_store(workspace: Workspace, *, read_only: bool = False) -> Iterator[Store]:
    """The workspace's store for one request (writable unless ``read_only``); 503 when busy.

    Read-only opens share the process's store lock with each other; a writable one has it
    alone.
    """
    with busy_as_503(), portfolio.open_store(workspace, write=not read_only) as store:
        yield store


@contextmanager
def reading(workspace: Workspace) -> Iterator[None]:
    """Hold the shared read lock around a library call that opens the store read-only itself
    (``healthscore.history.trend``, ``why``)."""
    with open_store(workspace, read_only=True):
        yield

"""Store access per request: reads take a cursor of a read-only connection the server holds
while requests come and closes when they stop or a job waits to write
(:class:`~healthscore.server.cache.HeldStore`); writes open the store for the request only.
So the daily job (``healthscore run``) and other commands can take the file between requests.

In one process DuckDB cannot mix read-only and read-write connections to one file, so readers
share a lock that a writer takes alone. A file held by another process raises
:class:`~healthscore.errors.StoreBusy` (503 "data is being updated" on the pages and the API).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from healthscore.server.cache import CACHE, HELD, CachedReader, signature
from healthscore.store.store import Store
from healthscore.workspace import Workspace


class ReadWriteLock:
    """Many readers or one writer, within this process."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and self._readers == 0)
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


LOCK = ReadWriteLock()

#: Tables whose rows the read cache holds (a write elsewhere keeps it, see ``touches``);
#: ``api_tokens`` because the sessions check the active tokens through it (.sessions),
#: ``alerts`` because every page's header counts the open ones through it (web.alerts).
CACHED_TABLES = frozenset({"snapshots", "snapshot_overrides", "snapshot_revisions", "accounts",
                           "scorecard_versions", "api_tokens", "alerts"})


@contextmanager
def reading(workspace: Workspace) -> Iterator[CachedReader]:
    """A cached reader of the workspace's store for one request (the file opens on the first
    query the cache cannot answer, and closes on exit)."""
    with LOCK.read():
        reader = CachedReader(workspace)
        try:
            yield reader
        finally:
            reader.close()


@contextmanager
def exclusive(workspace: Workspace) -> Iterator[None]:
    """No request of this process reads the store during the block, and the connection held
    for reading is closed: one process cannot hold the file read-only and writable."""
    with LOCK.write():
        HELD.release(workspace)
        yield


@contextmanager
def writing(workspace: Workspace, *, touches: tuple[str, ...] | None = None
            ) -> Iterator[Store]:
    """The workspace's store, writable, for one request, closed on exit.

    ``touches`` names the tables the write changes; when none of them is in
    :data:`CACHED_TABLES` (a pulse), the read cache stays valid after the write.
    """
    with exclusive(workspace):
        store = workspace.store(wait=0)
        keep = touches is not None and not CACHED_TABLES.intersection(touches)
        before = signature(store.path) if keep else None
        ok = False
        try:
            yield store
            ok = True
        finally:
            store.close()
        if keep and ok:
            CACHE.carry(store.path, before, signature(store.path))

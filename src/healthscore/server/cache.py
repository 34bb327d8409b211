"""The server's reader: reads through an in-memory cache that lasts while the store file is
unchanged, on a connection held open between requests.

What the pages read for every request — the accounts list of a date (an Arrow table with each
account's attributes and 7/30/90-day changes), the scored dates, band history, movers, the
scorecard versions — is kept in memory by :class:`CachedReader.kept` and keyed on the store
file's identity, size and times (and its write-ahead log's): any write to the file, by this
process or another, changes the key, and the next request reads the store again. The read
functions (:mod:`healthscore.read`) do not know they are cached: they ask any
:class:`~healthscore.read.Reader` the same way.

Opening a DuckDB file costs 30-60 ms (and a table's first query on a new connection more), so
the server keeps one read-only connection to the store while requests come (:data:`HELD`) and
gives each request a cursor of it. The connection holds the file's shared lock, so no other
process can write while it is open: it is closed once no request has used it for
:data:`HeldStore.LINGER` seconds, and at once when a writer waits for the file (a job leaves a
marker next to the store while it waits, see :func:`healthscore.store.store.writer_waiting`);
while the marker is there, requests the cache cannot answer get 503 and the job goes first.
The lock is a POSIX lock, which belongs to the process: the server must not open the file by
any other means (a copy of it), as closing that would drop the lock under the open connection.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from healthscore.errors import StoreBusy
from healthscore.read.reader import Params, arrow_of, bound
from healthscore.store.reads import dict_rows
from healthscore.store.store import Store, writers_waiting
from healthscore.workspace import Workspace

T = TypeVar("T")


def signature(path: Path) -> tuple:
    """What changes whenever the DuckDB file is written: identity, size and times of the file
    and of its write-ahead log."""
    out: list = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            st = p.stat()
        except FileNotFoundError:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)


class ReadCache:
    """Values read from a store, per store file, valid while its signature holds."""

    MAX_KEYS = 24  # per store; the oldest goes first

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._build = threading.RLock()  # a build may read through kept() too
        self._entries: dict[Path, tuple[tuple, dict]] = {}

    def _get(self, path: Path, sig: tuple, key: tuple) -> tuple[bool, Any]:
        with self._lock:
            entry = self._entries.get(path)
            if entry is not None and entry[0] == sig and key in entry[1]:
                return True, entry[1][key]
        return False, None

    def get(self, reader: CachedReader, key: tuple, build: Callable[[], T]) -> T:
        path = reader.path.resolve()
        found, value = self._get(path, signature(reader.path), key)
        if found:
            return value
        reader.open()  # no other process writes the file while it is open
        sig = signature(reader.path)
        with self._build:
            found, value = self._get(path, sig, key)
            if found:
                return value
            value = build()
            with self._lock:
                entry = self._entries.get(path)
                if entry is None or entry[0] != sig:
                    entry = self._entries[path] = (sig, {})
                entry[1][key] = value
                while len(entry[1]) > self.MAX_KEYS:
                    del entry[1][next(iter(entry[1]))]
        return value

    def carry(self, path: Path, before: tuple | None, after: tuple) -> None:
        """The file went from ``before`` to ``after`` by a write that left the cached tables
        alone: what was cached at ``before`` still holds."""
        with self._lock:
            entry = self._entries.get(path.resolve())
            if entry is not None and entry[0] == before:
                self._entries[path.resolve()] = (after, entry[1])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


CACHE = ReadCache()


class HeldStore:
    """Read-only connections kept open between requests, one per store file, closed when idle
    for :data:`LINGER` seconds or when a writer waits for the file."""

    LINGER = 1.0
    TICK = 0.05

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[Path, list] = {}  # path -> [store, users, last use]
        self._reaper: threading.Thread | None = None
        self._stopping = False
        # A daemon thread still closing a DuckDB connection while the interpreter shuts
        # down aborts the process ("terminate called … exception not rethrown", exit 134):
        # close everything and stop the reaper before that.
        atexit.register(self.close_all)

    def close_all(self) -> None:
        """Close every held connection and stop the reaper (at exit)."""
        with self._lock:
            self._stopping = True
            for path in list(self._held):
                self._close(path)
            reaper = self._reaper
        if reaper is not None and reaper is not threading.current_thread():
            reaper.join(5)

    def cursor(self, workspace: Workspace) -> Store:
        """A store on a cursor of the held connection (opened if none is); raises
        :class:`StoreBusy` while a writer waits for the file (the held connection closes as
        soon as its last request is done) or holds it."""
        path = Path(workspace.store_path).resolve()
        with self._lock:
            entry = self._held.get(path)
            if writers_waiting(path):
                if entry is not None and entry[1] == 0:
                    self._close(path)
                raise StoreBusy(f"{path}: a healthscore job is about to write the store",
                                hint="try again in a moment")
            if entry is None:
                self._stopping = False
                entry = self._held[path] = [workspace.store(read_only=True, wait=0), 0, 0.0]
                self._start()
            cursor = entry[0].sibling()
            entry[1] += 1
            return cursor

    def done(self, workspace: Workspace, store: Store) -> None:
        """The request's cursor is finished with; the last one closes the held connection
        when a writer waits."""
        store.con.close()
        path = Path(workspace.store_path).resolve()
        with self._lock:
            entry = self._held.get(path)
            if entry is not None:
                entry[1] -= 1
                entry[2] = time.monotonic()
                if entry[1] == 0 and writers_waiting(path):
                    self._close(path)

    def release(self, workspace: Workspace) -> None:
        """Close the held connection now (no request may be using it: the server's writes
        call this under the write lock)."""
        with self._lock:
            self._close(Path(workspace.store_path).resolve())

    def _close(self, path: Path) -> None:
        """Close and forget the held connection of ``path`` (call with the lock held, so a
        write that comes next never finds it half closed)."""
        entry = self._held.pop(path, None)
        if entry is not None:
            entry[0].close()

    def _start(self) -> None:
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(target=self._reap, name="hs-held-store",
                                            daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        while True:
            time.sleep(self.TICK)
            with self._lock:
                if self._stopping:
                    self._reaper = None
                    return
                now = time.monotonic()
                for path, entry in list(self._held.items()):
                    if entry[1] == 0 and (now - entry[2] > self.LINGER
                                          or writers_waiting(path)):
                        self._close(path)
                if not self._held:
                    self._reaper = None
                    return


HELD = HeldStore()


class CachedReader:
    """A :class:`~healthscore.read.Reader` over a workspace's store for one request: the file
    is opened read-only on the first query the cache cannot answer (so a request answered from
    memory never opens it), and closed with :meth:`close`. A store held by another process
    raises :class:`~healthscore.errors.StoreBusy` at that first query."""

    def __init__(self, workspace: Workspace, cache: ReadCache = CACHE):
        self.workspace = workspace
        self.path = Path(workspace.store_path)
        self.cache = cache
        self._store: Store | None = None

    @property
    def opened(self) -> bool:
        return self._store is not None

    def open(self) -> Store:
        if self._store is None:
            # a cursor of the held connection; a page answers 503 at once rather than wait
            # for a job to finish
            self._store = HELD.cursor(self.workspace)
        return self._store

    def rows(self, sql: str, params: Params = ()) -> list[dict]:
        return dict_rows(self.open().con.execute(sql, bound(params)))

    def arrow(self, sql: str, params: Params = ()) -> pa.Table:
        return arrow_of(self.open().con, sql, params)

    def kept(self, key: tuple, build: Callable[[], T]) -> T:
        return self.cache.get(self, key, build)

    def close(self) -> None:
        if self._store is not None:
            HELD.done(self.workspace, self._store)
            self._store = None

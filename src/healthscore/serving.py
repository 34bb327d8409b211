"""Store access for the server: each request opens the store and closes it, and a read cache.

Store access: :func:`open_store` opens the workspace's DuckDB file for one request and closes it
right after, so the daily job (``healthscore run``) can take the file between requests. In one
process DuckDB cannot mix read-only and read-write connections to one file, so readers share a
lock that a writer takes alone; a file held by another process raises :class:`StoreBusy`.

Read cache: a read-only :func:`open_store` hands out a :class:`ReadStore`, which opens the file
only when a query needs it. What the pages read for every request — the latest snapshot of a
scorecard with each account's attributes and 7/30/90-day changes, the current account
attributes, the filter values, band history and movers — is kept in memory (Arrow tables,
queried with an in-memory DuckDB) and keyed on the store file's identity, size and modification
time (and its write-ahead log's): any write to the file, by this process or another, changes
the key, and the next request reads the store again. Functions given a plain
:class:`~healthscore.store.Store` read it directly, without the cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from healthscore.errors import StoreError
from healthscore.store.store import Store, dict_rows
from healthscore.workspace import Workspace


class StoreBusy(StoreError):
    """Another process (an ingest, a backfill, the daily job) holds the store for writing."""


# -- store access ------------------------------------------------------------------------------


class _ReadWriteLock:
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


_LOCK = _ReadWriteLock()


def _open(workspace: Workspace, *, write: bool) -> Store:
    try:
        return workspace.store(read_only=not write, wait=0)  # a page answers 503, not waits
    except StoreError as exc:
        if "lock" in str(exc).lower():
            raise StoreBusy("the data is being updated (another healthscore process holds "
                            "the store)", hint="retry in a moment") from None
        raise


class ReadStore:
    """A workspace's store for reading, opened read-only on first use (``.con`` or any
    :class:`~healthscore.store.Store` attribute), so a request answered from the read cache
    never opens the file. Raises :class:`StoreBusy` on that first use when a job holds it."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.path = Path(workspace.store_path)
        self._store: Store | None = None

    @property
    def opened(self) -> bool:
        return self._store is not None

    def open(self) -> Store:
        if self._store is None:
            self._store = _open(self.workspace, write=False)
        return self._store

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.open().con

    def __getattr__(self, name: str) -> Any:
        return getattr(self.open(), name)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


#: Tables whose rows the read cache holds (a write elsewhere keeps it, see ``touches``).
CACHED_TABLES = frozenset({"snapshots", "snapshot_measures", "snapshot_groups", "accounts",
                           "scorecard_versions"})


@contextmanager
def open_store(workspace: Workspace, *, write: bool = False,
               touches: tuple[str, ...] | None = None, lazy: bool = False) -> Iterator[Store]:
    """The workspace's store for one request, closed on exit: a :class:`ReadStore` (which
    reads through the read cache) unless ``write``. With ``lazy`` the file is opened only when
    a query is not answered from the cache, so such a request does not touch it at all (and a
    held store surfaces as :class:`StoreBusy` at that first query instead of here).

    ``touches`` (writes only) names the tables the write changes; when none of them is in
    :data:`CACHED_TABLES` (a pulse), the read cache stays valid after the write.
    Raises :class:`StoreBusy` when another process holds the file (a job is writing to it).
    """
    if not write:
        with _LOCK.read():
            reader = ReadStore(workspace)
            if not lazy:
                reader.open()
            try:
                yield reader  # type: ignore[misc]
            finally:
                reader.close()
        return
    with _LOCK.write():
        store = _open(workspace, write=True)
        keep = touches is not None and not CACHED_TABLES.intersection(touches)
        before = _signature(store.path) if keep else None
        ok = False
        try:
            yield store
            ok = True
        finally:
            store.close()
        if keep and ok:
            _CACHE.carry(store.path, before, _signature(store.path))


# -- read cache --------------------------------------------------------------------------------


def _signature(path: Path) -> tuple:
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


class _ReadCache:
    """Values read from a store, per store file, valid while its signature holds."""

    MAX_KEYS = 24  # per store; the oldest goes first

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._build = threading.Lock()
        self._entries: dict[Path, tuple[tuple, dict]] = {}

    def _get(self, path: Path, sig: tuple, key: tuple) -> tuple[bool, Any]:
        with self._lock:
            entry = self._entries.get(path)
            if entry is not None and entry[0] == sig and key in entry[1]:
                return True, entry[1][key]
        return False, None

    def get(self, store: ReadStore, key: tuple, build: Callable[[Any], Any]) -> Any:
        path = store.path.resolve()
        found, value = self._get(path, _signature(store.path), key)
        if found:
            return value
        con = store.con  # opens the file: no other process writes to it while it is open
        sig = _signature(store.path)
        with self._build:
            found, value = self._get(path, sig, key)
            if found:
                return value
            value = build(con)
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


_CACHE = _ReadCache()
_MEMORY = duckdb.connect(":memory:")


def _cached(store: Store, key: tuple, build: Callable[[Any], Any]) -> Any:
    """``build(con)`` from the read cache for a :class:`ReadStore`, else straight from the
    store."""
    if isinstance(store, ReadStore):
        return _CACHE.get(store, key, build)
    return build(store.con)


def _memory_query(table, sql: str, params: list) -> list[dict]:
    """``sql`` over an Arrow ``table`` (named ``t``) with an in-memory DuckDB."""
    cur = _MEMORY.cursor()
    try:
        cur.register("t", table)
        return dict_rows(cur.execute(sql, params))
    finally:
        cur.close()

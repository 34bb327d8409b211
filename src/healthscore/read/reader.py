"""The reader: the one interface every read is written against.

A read function asks a :class:`Reader` for rows (``rows``, ``arrow``, ``value``) and may ask it to
keep a value it built (``kept``): a :class:`StoreReader` (the CLI, the Python API, tests) reads
the store directly and keeps nothing; the server's reader (:mod:`healthscore.server.cache`)
keeps values in memory until the store file changes. The read functions have one code path
either way: they never know which reader they have.

SQL is parameterised (``?`` with a list, or ``$name`` with a dict: :data:`Params`); nothing
from a request becomes SQL text.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import duckdb
import pyarrow as pa

from healthscore.store.reads import dict_rows
from healthscore.store.store import Store
from healthscore.workspace import Workspace

T = TypeVar("T")

#: A query's parameters: a list for ``?`` placeholders, a dict for ``$name`` ones.
Params = Sequence[Any] | Mapping[str, Any]


def bound(params: Params) -> list | dict:
    """``params`` as DuckDB takes them (a list, or a dict for named parameters)."""
    return dict(params) if isinstance(params, Mapping) else list(params)


class Reader(Protocol):
    """What the read functions need of a store."""

    def rows(self, sql: str, params: Params = ()) -> list[dict]:
        """The rows of a query as dicts."""

    def arrow(self, sql: str, params: Params = ()) -> pa.Table:
        """The result of a query as an Arrow table."""

    def kept(self, key: tuple, build: Callable[[], T]) -> T:
        """``build()``, or the value built earlier for ``key`` while the store is unchanged.
        Callers must not change what they get (it may be shared)."""


class StoreReader:
    """A :class:`Reader` over an open :class:`~healthscore.store.Store`: every call queries
    the store; nothing is kept."""

    def __init__(self, store: Store):
        self.store = store

    def rows(self, sql: str, params: Params = ()) -> list[dict]:
        return dict_rows(self.store.con.execute(sql, bound(params)))

    def arrow(self, sql: str, params: Params = ()) -> pa.Table:
        return arrow_of(self.store.con, sql, params)

    def kept(self, key: tuple, build: Callable[[], T]) -> T:
        return build()


def arrow_of(con: duckdb.DuckDBPyConnection, sql: str, params: Params = ()) -> pa.Table:
    """A query's result as an Arrow table."""
    return con.sql(sql, params=bound(params)).to_arrow_table()


@contextmanager
def open_reader(workspace: Workspace) -> Iterator[StoreReader]:
    """A reader over the workspace's store, opened read-only for the block.

    >>> with open_reader(Workspace.open("demo")) as r:          # doctest: +SKIP
    ...     portfolio(r, card(Workspace.open("demo")))["bands"]
    """
    with workspace.store(read_only=True) as store:
        yield StoreReader(store)


_MEMORY = duckdb.connect(":memory:")
# closed before the interpreter tears down: a DuckDB database destroyed during finalization
# can abort the process (exit 134) instead of exiting cleanly
atexit.register(_MEMORY.close)


def query_table(table: pa.Table, sql: str, params: Params = ()) -> list[dict]:
    """``sql`` over an Arrow ``table`` (named ``t`` in it), run by an in-memory DuckDB."""
    return query_tables({"t": table}, sql, params)


def query_tables(tables: Mapping[str, pa.Table], sql: str, params: Params = (), *,
                 arrow: bool = False) -> list[dict] | pa.Table:
    """``sql`` over Arrow ``tables`` (by their names in it), run by an in-memory DuckDB; an
    Arrow table with ``arrow``."""
    cur = _MEMORY.cursor()
    try:
        for name, table in tables.items():
            cur.register(name, table)
        if arrow:
            return cur.sql(sql, params=bound(params)).to_arrow_table()
        return dict_rows(cur.execute(sql, bound(params)))
    finally:
        cur.close()

"""The one write path to the workspace store.

Every write to a persistent table happens here, inside :meth:`Store.transaction`, so an ingest
that fails half-way leaves the store exactly as it was; the writes of scores are the
:class:`~healthscore.store.history.HistoryWrites` part of the class, its reads (counts, runs,
the quarantine, exports) the :class:`~healthscore.store.reads.StoreReads` part. Readers of
other tables use :meth:`Store.cursor`.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from healthscore import clock
from healthscore.errors import StoreError
from healthscore.schemas import Table
from healthscore.store import rollups
from healthscore.store.disk import is_held, private_files, store_fault
from healthscore.store.history import HistoryWrites
from healthscore.store.reads import StoreReads, _alive, _q, dict_rows
from healthscore.store.schema import (
    COMPACTED_AT,
    HASH_SCHEME,
    MIGRATIONS,
    SCHEMA_VERSION,
    create_all,
    lineage_columns,
)


@dataclass(frozen=True)
class WriteCounts:
    """What a write did: rows new to the store, rows that replaced or closed a stored version,
    and rows that were already stored as they are."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(self.inserted + other.inserted, self.updated + other.updated,
                           self.unchanged + other.unchanged)


#: What DuckDB says when another process (or this one, with other settings) has the file open.


@dataclass
class Run:
    """A run being recorded in ``runs`` (see :meth:`Store.recorded`): set the counts and the
    detail while it works; they are stored when it finishes."""

    run_id: int
    kind: str
    started_at: datetime
    rows_loaded: int | None = None
    rows_rejected: int | None = None
    detail: dict | None = field(default=None)


#: A writer refreshes its marker at least this often while it waits; an older marker is left
#: by a process that was killed while waiting, and is ignored.
MARKER_FRESH = 2.0


def writer_waiting(path: Path) -> Path:
    """This process's marker next to the store while it waits for the file as a writer: a
    process that holds the store open for reading between requests (the dashboard server)
    closes it while a fresh marker is there (:func:`writers_waiting`), and opens it again only
    once none is. One marker per process, so two waiting jobs do not remove each other's."""
    path = path.resolve()
    return path.with_name(f"{path.name}.writer-waiting.{os.getpid()}")


def writers_waiting(path: Path) -> bool:
    """Whether a writer waits for the store now: a marker refreshed in the last
    :data:`MARKER_FRESH` seconds (stale ones, of killed processes, are removed)."""
    path = path.resolve()
    now = time.time()
    for marker in path.parent.glob(f"{path.name}.writer-waiting.*"):
        try:
            if now - marker.stat().st_mtime <= MARKER_FRESH:
                return True
            marker.unlink(missing_ok=True)
        except FileNotFoundError:
            continue
    return False


def _sql_text(value: str) -> str:
    return value.replace("'", "''")


def _key_match(table: Table, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{_q(k)} = {right}.{_q(k)}" for k in table.key)


class Store(HistoryWrites, StoreReads):
    """A workspace's DuckDB file.

    Parameters
    ----------
    path
        The DuckDB file. It is created (with the current schema) if ``create`` is true.
    read_only
        Open without write access (several readers may share the file).
    wait
        Seconds to wait for another process that holds the file (DuckDB allows one writer,
        or several readers, at a time) before giving up.
    """

    def __init__(self, path: Path | str, *, create: bool = False, read_only: bool = False,
                 memory_limit: str | None = None, wait: float = 0.0):
        self.path = Path(path)
        self.read_only = read_only
        if not create and not self.path.exists():
            raise StoreError(f"{self.path}: no store here",
                             hint="run `healthscore init` to create a workspace")
        new = create and not self.path.exists()
        deadline = time.monotonic() + wait
        pause = 0.05
        waiting = None
        try:
            while True:
                try:
                    with private_files():
                        self.con = duckdb.connect(str(self.path), read_only=read_only)
                    break
                except duckdb.Error as exc:
                    # Another process holds the file (the dashboard reading it for a moment,
                    # or another job): wait for it up to `wait` seconds, then say who holds it.
                    if is_held(exc) and time.monotonic() + pause < deadline:
                        if not read_only:
                            # a server holding it open for reading lets go while this is fresh
                            waiting = writer_waiting(self.path)
                            waiting.touch()
                        time.sleep(pause)
                        pause = min(pause * 2, 0.25)
                        continue
                    raise store_fault(self.path, exc, opening=True) from None
        finally:
            if waiting is not None:
                waiting.unlink(missing_ok=True)
        if new:  # customer data: readable by its owner only
            os.chmod(self.path, 0o600)
        self.memory_limit = memory_limit
        self._settings()
        if not read_only:
            try:
                self._migrate()
            except BaseException:
                self.con.close()  # the file is not left held by a store that failed to open
                raise
            self._close_dead_runs()
        elif self._outdated() and os.access(self.path, os.W_OK):
            # a store of an older release, opened to be read (the dashboard, a read command):
            # upgrade it once, as a write would, then read it
            self.con.close()
            with suppress(StoreError):  # held by a writer, or not ours to change: read as is
                Store(self.path, memory_limit=memory_limit, wait=wait).close()
            self.con = duckdb.connect(str(self.path), read_only=True)
            self._settings()
        self._check_version()

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _migrate(self) -> None:
        before = None
        with self.transaction():
            has_meta = self.con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
            ).fetchall()[0][0]
            if not has_meta:
                for stmt in create_all():
                    self.con.execute(stmt)
                self.con.execute("INSERT INTO meta VALUES ('schema_version', ?), "
                                 "('hash_scheme', ?)", [str(SCHEMA_VERSION), str(HASH_SCHEME)])
                return
            version = before = self.schema_version()
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for stmt in MIGRATIONS[target]:
                    if callable(stmt):  # a step that needs more than SQL (store/values.py)
                        stmt(self.con)
                    else:
                        self.con.execute(stmt)
                self.con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                                 [str(target)])
        if before is not None and before < COMPACTED_AT <= SCHEMA_VERSION:
            # the per-measure rows went: give their space back (DuckDB reuses freed blocks
            # but never shrinks the file)
            self.compact()

    def compact(self) -> None:
        """Rewrite the store into a fresh file without its free space, in place. The file
        stays locked by this connection until the new one has replaced it, so no other process
        writes to the old one meanwhile."""
        fresh = self.path.with_name(self.path.name + ".compact")
        fresh.unlink(missing_ok=True)
        wal = self.path.with_name(self.path.name + ".wal")
        self.con.execute("CHECKPOINT")
        name = self.con.execute("SELECT current_database()").fetchall()[0][0]
        try:
            with private_files():
                self.con.execute(f"ATTACH '{_sql_text(str(fresh))}' AS _compact")
                self.con.execute(f'COPY FROM DATABASE "{name}" TO _compact')
                self.con.execute("DETACH _compact")
            self.con.execute("CHECKPOINT")
            if wal.exists() and wal.stat().st_size:
                raise StoreError(f"{self.path}: could not compact (its write-ahead log is not "
                                 "empty)", hint="the store is intact; try again later")
            os.replace(fresh, self.path)
        except BaseException:
            fresh.unlink(missing_ok=True)
            raise
        self.con.close()
        self.con = duckdb.connect(str(self.path))
        self._settings()

    def _settings(self) -> None:
        self.con.execute("SET TimeZone = 'UTC'")
        if self.memory_limit:
            self.con.execute(f"SET memory_limit = '{self.memory_limit}'")

    def _outdated(self) -> bool:
        has_meta = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        ).fetchall()[0][0]
        return bool(has_meta) and self.schema_version() < SCHEMA_VERSION

    def schema_version(self) -> int:
        rows = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        return int(rows[0][0]) if rows else 0

    def _check_version(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: store schema version {version} is newer than this release "
                f"understands ({SCHEMA_VERSION})", hint="upgrade healthscore")

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing: on any exception every write since BEGIN is rolled back. A full
        disk or a read-only file raises a :class:`StoreError` saying so (the store keeps
        what it held before the transaction)."""
        with private_files():
            self.con.execute("BEGIN TRANSACTION")
            try:
                yield self.con
            except BaseException as exc:
                with suppress(duckdb.Error):  # a fault of the disk can end it itself
                    self.con.execute("ROLLBACK")
                fault = store_fault(self.path, exc) if isinstance(exc, duckdb.Error) else None
                if fault is not None:
                    raise fault from exc
                raise
            try:
                self.con.execute("COMMIT")
            except duckdb.Error as exc:
                fault = store_fault(self.path, exc)
                if fault is not None:
                    raise fault from exc
                raise

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A separate cursor for reads."""
        return self.con.cursor()

    def sibling(self) -> Store:
        """The same store through a second connection of this process: its own transactions,
        so another thread can write while this one reads (DuckDB isolates the two)."""
        other = copy.copy(self)
        other.con = self.con.cursor()
        other.con.execute("SET TimeZone = 'UTC'")
        return other

    # -- runs ------------------------------------------------------------------------------

    def start_run(self, kind: str, started_at: datetime) -> int:
        with self.transaction():
            run_id = self.con.execute("SELECT nextval('run_ids')").fetchall()[0][0]
            self.con.execute(
                "INSERT INTO runs (run_id, kind, started_at, status, pid, host) "
                "VALUES (?, ?, ?, 'running', ?, ?)",
                [run_id, kind, started_at, os.getpid(), socket.gethostname()])
        return int(run_id)

    @contextmanager
    def recorded(self, kind: str, now: datetime | None = None) -> Iterator[Run]:
        """Record the work inside the block as a run of ``kind``: ``running`` while it works,
        then ``ok`` with the counts and detail set on the yielded :class:`Run`, or ``failed``
        with the error (which is raised on). Every write that changes what scores see is
        recorded this way."""
        run = Run(0, kind, clock.now(now))
        run.run_id = self.start_run(kind, run.started_at)
        try:
            yield run
        except BaseException as exc:
            # when the disk failed the work, recording it may fail too: the run is then
            # closed as interrupted by the next command
            with suppress(StoreError, duckdb.Error):
                self.fail(run, exc)
            raise
        self.finish(run)

    def finish(self, run: Run) -> None:
        """Record ``run`` (started earlier, perhaps on another connection) as ``ok``."""
        self.finish_run(run.run_id, status="ok", finished_at=clock.now(),
                        rows_loaded=run.rows_loaded, rows_rejected=run.rows_rejected,
                        detail=run.detail)

    def fail(self, run: Run, exc: BaseException) -> None:
        """Record ``run`` as ``failed`` with the error."""
        self.finish_run(run.run_id, status="failed", finished_at=clock.now(),
                        rows_loaded=run.rows_loaded, rows_rejected=run.rows_rejected,
                        detail=run.detail, error=str(exc) or type(exc).__name__)

    def _close_dead_runs(self) -> None:
        """Mark runs left ``running`` by a process that has died as ``interrupted``."""
        rows = self.con.execute(
            "SELECT run_id, pid, host FROM runs WHERE status = 'running'").fetchall()
        dead = [r[0] for r in rows if not _alive(r[1], r[2])]
        if dead:
            with self.transaction():
                self.con.execute(
                    "UPDATE runs SET status = 'interrupted', error = 'the process running it "
                    "stopped before it finished' WHERE list_contains(?, run_id)", [dead])

    def finish_run(self, run_id: int, *, status: str, finished_at: datetime,
                   rows_loaded: int | None = None, rows_rejected: int | None = None,
                   detail: dict | None = None, error: str | None = None) -> None:
        with self.transaction():
            self.con.execute(
                "UPDATE runs SET status = ?, finished_at = ?, rows_loaded = ?, rows_rejected = ?,"
                " detail = ?, error = ? WHERE run_id = ?",
                [status, finished_at, rows_loaded, rows_rejected,
                 json.dumps(detail, default=str) if detail is not None else None, error, run_id])

    # -- file bookkeeping ------------------------------------------------------------------

    def file_states(self, source: str) -> dict[str, tuple[int, int, str, int]]:
        """path → (size, mtime_ns, config_hash, rows_rejected) as of the last ingest."""
        rows = self.con.execute(
            "SELECT path, size, mtime_ns, config_hash, rows_rejected FROM ingested_files "
            "WHERE source = ?", [source]).fetchall()
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def record_files(self, source: str, files: list[tuple[str, int, int, int, int]],
                     config_hash: str, run_id: int) -> None:
        """Remember (path, size, mtime_ns, rows_read, rows_rejected) of files just read."""
        for path, size, mtime_ns, rows_read, rejected in files:
            self.con.execute(
                "INSERT OR REPLACE INTO ingested_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [source, path, size, mtime_ns, config_hash, rows_read, rejected, run_id])

    def cursor_state(self, source: str) -> dict | None:
        """Where a database source's cursor got to at its last ingest (``source_cursors``),
        or None before its first."""
        rows = dict_rows(self.con.execute("SELECT * FROM source_cursors WHERE source = ?",
                                          [source]))
        return rows[0] if rows else None

    def record_cursor(self, state: dict) -> None:
        """Remember where a database source's cursor got to (the columns of
        ``source_cursors``, by name)."""
        names = list(state)
        self.con.execute(
            f"INSERT OR REPLACE INTO source_cursors ({', '.join(names)}) "
            f"VALUES ({', '.join('?' * len(names))})", [state[k] for k in names])

    def forget_cursor(self, source: str) -> None:
        """Drop a database source's cursor: its next ingest reads every row."""
        self.con.execute("DELETE FROM source_cursors WHERE source = ?", [source])

    def replace_quarantine(self, source: str, files: list[str], problems_view: str) -> None:
        """Replace the quarantine rows of ``files`` of ``source`` with those in ``problems_view``
        (columns: table, file, row, column, value, reason, run_id, quarantined_at, key)."""
        if files:
            self.con.execute(
                "DELETE FROM quarantine WHERE source = ? AND list_contains(?, file)",
                [source, files])
        self.con.execute(
            f"INSERT INTO quarantine SELECT run_id, source, \"table\", file, \"row\", \"column\","
            f" value, reason, quarantined_at, \"key\" FROM {problems_view}")

    # -- canonical tables ------------------------------------------------------------------

    def write(self, table: Table, staged: str, *, run_id: int, ingested_at: datetime
              ) -> WriteCounts:
        """Write the valid rows in temp table ``staged`` into ``table`` by its kind's rule.

        ``staged`` holds the canonical columns, ``_hash`` and ``_source`` (state tables also
        ``_known_from``), at most one row per key (per key and ``_known_from`` for state tables).
        """
        writer = {"state": self._merge_state, "entity": self._upsert_entity,
                  "event": self._append_events}[table.kind]
        return writer(table, staged, run_id, ingested_at)

    def _select_list(self, table: Table, *extra: str) -> str:
        return ", ".join([_q(c) for c in table.column_names] + list(extra))

    def _append_events(self, table: Table, staged: str, run_id: int, at: datetime
                       ) -> WriteCounts:
        """Append the staged events not stored yet, ordered by month, account and time.

        One ingest's events are stored month by month, and later ingests, of later events
        mostly, extend the table: DuckDB's min/max per row group then let a date filter skip
        the months outside its dates. Within a month an account's events lie together, which
        keeps the ids in each row group few: stored in plain time order, every row group holds
        nearly every account and user, and reading those columns for all history (an account's
        last activity) took 7× the time.

        An event is stored already when a stored row has its ``_hash``. Only stored rows that
        can have it are read: an event identified by its content has its time in that content,
        so its twin lies in the staged events' time range (the row groups outside it are
        skipped); one identified by its ``event_id`` may be re-sent with another time, so it
        is matched against every stored event with an id.
        """
        if table.time is None:
            raise StoreError(f"event table {table.name} has no time column to order it by")
        t, when = _q(table.name), _q(table.time)
        ident = next((_q(c.name) for c in table.columns if c.identity), None)
        total, lo, hi, undated, with_id = self.con.execute(
            f"SELECT count(*), min({when}), max({when}), count(*) FILTER ({when} IS NULL), "
            f"{f'count(*) FILTER ({ident} IS NOT NULL)' if ident else '0'} FROM {staged}"
        ).fetchall()[0]
        if not total:
            return WriteCounts()
        stored = [f"SELECT _hash FROM {t} WHERE {when} BETWEEN ? AND ?"]
        if undated:
            stored.append(f"SELECT _hash FROM {t} WHERE {when} IS NULL")
        if with_id:
            stored.append(f"SELECT _hash FROM {t} WHERE {ident} IS NOT NULL")
        order = ", ".join([f"date_trunc('month', s.{when})"]
                          + ["s.account_id"] * table.has_account + [f"s.{when}"])
        cols = self._select_list(table, "_hash", "_source")
        self.con.execute(
            f"INSERT INTO {t} ({cols}, _run_id, _ingested_at) "
            f"SELECT {', '.join('s.' + c for c in cols.split(', '))}, ?, ? "
            f"FROM {staged} s ANTI JOIN ({' UNION ALL '.join(stored)}) o ON s._hash = o._hash "
            f"ORDER BY {order}", [run_id, at, lo, hi])
        inserted = self._changes()
        if table.name == rollups.SOURCE and inserted:
            # the daily roll-ups follow in the same transaction (store/rollups.py); a source
            # is written once per run, so its run and source pick out the rows just inserted
            rolled = rollups.merge(
                self.con, f"SELECT * FROM {t} WHERE _run_id = ? AND _ingested_at = ? "
                f"AND _source IN (SELECT DISTINCT _source FROM {staged})", [run_id, at])
            if rolled != inserted:
                raise StoreError(f"rolled up {rolled} usage events of run {run_id}, but "
                                 f"{inserted} were inserted",
                                 hint="a source was written twice in one run; report this")
        return WriteCounts(inserted=inserted, unchanged=total - inserted)

    def _upsert_entity(self, table: Table, staged: str, run_id: int, at: datetime
                       ) -> WriteCounts:
        t = _q(table.name)
        match = _key_match(table, "t", "s")
        total, new, same = self.con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE t._hash IS NULL), "
            f"count(*) FILTER (WHERE t._hash = s._hash) "
            f"FROM {staged} s LEFT JOIN {t} t ON {match}").fetchall()[0]
        self.con.execute(f"DELETE FROM {t} t USING {staged} s WHERE {match} AND t._hash <> s._hash")
        cols = self._select_list(table, "_hash", "_source")
        self.con.execute(
            f"INSERT INTO {t} ({cols}, _run_id, _ingested_at) "
            f"SELECT {', '.join('s.' + c for c in cols.split(', '))}, ?, ? "
            f"FROM {staged} s ANTI JOIN {t} t ON {match}", [run_id, at])
        return WriteCounts(inserted=new, updated=total - new - same, unchanged=same)

    def _merge_state(self, table: Table, staged: str, run_id: int, at: datetime
                     ) -> WriteCounts:
        """Fold the staged versions into each key's validity history.

        Stored and staged versions of the touched keys are ordered by ``_known_from``; a staged
        version replaces a stored one known from the same moment unless both are equal (the
        stored row then stays as it is, with its run); consecutive versions with equal
        content collapse into the earliest; then validity is recomputed: the first version holds
        since always, each later one from its ``_known_from`` until the next. Old versions are
        closed, never overwritten.
        """
        t = _q(table.name)
        keys = ", ".join(_q(k) for k in table.key)
        cols = self._select_list(table, "_hash", "_known_from", "_source")
        staged_cols = ", ".join("s." + c for c in cols.split(", "))
        match = _key_match(table, "t", "s")
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE _old_keys AS SELECT DISTINCT {keys} FROM {t} t "
            f"SEMI JOIN {staged} s ON {match}")
        self.con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _merged AS
            WITH unioned AS (
                -- a staged version equal to the stored one of the same moment is no news:
                -- the stored row stays, with the run that brought it (`ingest --full`)
                SELECT {staged_cols}, ?::BIGINT AS _run_id, ?::TIMESTAMP AS _ingested_at,
                    1 AS _pri
                FROM {staged} s ANTI JOIN {t} t ON {match}
                    AND t._known_from IS NOT DISTINCT FROM s._known_from AND t._hash = s._hash
                UNION ALL
                SELECT {cols}, _run_id, _ingested_at, 0 AS _pri
                FROM {t} t SEMI JOIN {staged} s ON {match}
            ), one_per_moment AS (
                SELECT * FROM unioned
                QUALIFY row_number() OVER (PARTITION BY {keys}, _known_from ORDER BY _pri DESC) = 1
            ), collapsed AS (
                SELECT * FROM one_per_moment
                QUALIFY _hash IS DISTINCT FROM
                    lag(_hash) OVER (PARTITION BY {keys} ORDER BY _known_from)
            )
            SELECT * EXCLUDE (_pri),
                CASE WHEN row_number() OVER w = 1 THEN NULL ELSE _known_from END AS _valid_from,
                lead(_known_from) OVER w AS _valid_to,
                _pri = 1 AS _is_new
            FROM collapsed
            WINDOW w AS (PARTITION BY {keys} ORDER BY _known_from)
        """, [run_id, at])
        new_for_new_keys, new_for_old_keys = self.con.execute(
            f"SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM _old_keys s WHERE {match})),"
            f" count(*) FILTER (WHERE EXISTS (SELECT 1 FROM _old_keys s WHERE {match})) "
            f"FROM _merged t WHERE _is_new").fetchall()[0]
        self.con.execute(f"DELETE FROM {t} t USING (SELECT DISTINCT {keys} FROM {staged}) s "
                         f"WHERE {match}")
        all_cols = [c for c in table.column_names] + [n for n, _ in lineage_columns(table)]
        sel = ", ".join(_q(c) for c in all_cols)
        self.con.execute(f"INSERT INTO {t} ({sel}) SELECT {sel} FROM _merged")
        self.con.execute("DROP TABLE _merged; DROP TABLE _old_keys")
        staged_rows = self.con.execute(f"SELECT count(*) FROM {staged}").fetchall()[0][0]
        return WriteCounts(inserted=new_for_new_keys, updated=new_for_old_keys,
                           unchanged=staged_rows - new_for_new_keys - new_for_old_keys)

    def _changes(self) -> int:
        # DuckDB returns the affected row count as the result of an INSERT/DELETE.
        rows = self.con.fetchall()
        return int(rows[0][0]) if rows else 0

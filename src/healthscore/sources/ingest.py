"""Ingest: every configured source into the store, in one transaction, with a quarantine.

Valid rows load; rows that break the contract go to the ``quarantine`` table with file, row,
column, value and reason; a failure of any kind rolls the whole ingest back, so the store is
either fully updated or exactly as before. Files unchanged since the last ingest (same size,
modification time and source configuration, and no rows rejected then) are skipped.

A file that cannot be read as a whole (empty, no header, not Parquet) is left out with its
reason — in the report, and in the quarantine as one entry with row 0 — and not recorded as
read, so the next ingest tries it again; every other file loads. A file with a header and no
rows is read, loads nothing, and is noted.

A database source (``sources/database.py``) is one such "file" per ingest: a read that fails
is left out the same way (its rows rejected before stay in the quarantine: they are not read
again), and with a cursor only its new rows are read, their rejections added to the earlier
ones (a key read again replaces its own).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from healthscore import clock
from healthscore.errors import QuarantineError
from healthscore.schemas import TABLE_ORDER, TABLES, Table
from healthscore.sources.database import (
    DatabaseRead,
    read_database,
    record_cursor,
    rows_table,
)
from healthscore.sources.files import RawRelation, SourceFile, read_source, resolve_files
from healthscore.sources.parse import ParseContext, check_json_paths, ident, lit, parse_query
from healthscore.store import Store, WriteCounts
from healthscore.store.schema import hash_expr
from healthscore.workspace import Workspace

Progress = Callable[[int, int, str], None]
SAMPLE = 20


@dataclass
class SourceReport:
    """What one source contributed to an ingest."""

    source: str
    table: str
    files_read: int = 0
    #: unchanged since the last ingest, not read again
    files_skipped: int = 0
    #: could not be read as a whole: left out, tried again at the next ingest
    files_failed: int = 0
    rows_read: int = 0
    rows_rejected: int = 0
    #: events already there (the same event_id, or the same content), not loaded again
    duplicates: int = 0
    #: optional values that could not be read, left empty (``on_error: null``)
    values_dropped: int = 0
    written: WriteCounts = field(default_factory=WriteCounts)
    #: the share of rows that may be rejected (the source's ``max_rejected``)
    max_rejected: float = 1.0
    #: the most frequent reason for its rejected rows: (column, reason, rows)
    top_reason: tuple[str | None, str, int] | None = None

    @property
    def too_many_rejected(self) -> bool:
        return bool(self.rows_read) and self.rows_rejected / self.rows_read > self.max_rejected

    @property
    def rows_loaded(self) -> int:
        return self.rows_read - self.rows_rejected - self.duplicates


@dataclass
class IngestReport:
    """The outcome of one ingest: per source counts and a sample of rejected rows."""

    run_id: int
    started_at: datetime
    sources: list[SourceReport] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    reasons: list[tuple[str, str, str, int]] = field(default_factory=list)
    #: a sample of the events not loaded twice: (source, table, file, row, why)
    duplicates: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    #: a sample of the optional values left empty: (source, table, file, row, column, value,
    #: reason)
    dropped_values: list[tuple] = field(default_factory=list)
    #: files left out because they cannot be read as a whole: (source, table, file, reason)
    failed_files: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: files read that hold no rows (a header only, empty JSON lines): (source, table, file,
    #: note)
    notes: list[tuple[str, str, str, str]] = field(default_factory=list)
    finished_at: datetime | None = None

    @property
    def rows_read(self) -> int:
        return sum(s.rows_read for s in self.sources)

    @property
    def rows_loaded(self) -> int:
        return sum(s.rows_loaded for s in self.sources)

    @property
    def rows_rejected(self) -> int:
        return sum(s.rows_rejected for s in self.sources)

    @property
    def rows_duplicate(self) -> int:
        return sum(s.duplicates for s in self.sources)

    @property
    def values_dropped(self) -> int:
        return sum(s.values_dropped for s in self.sources)

    def over_limit(self) -> list[str]:
        """One sentence per source that rejected more than its ``max_rejected`` share."""
        out = []
        for s in self.sources:
            if not s.too_many_rejected:
                continue
            top = ""
            if s.top_reason:
                column, reason, rows = s.top_reason
                top = f"; most often {column + ': ' if column else ''}{reason} ({rows:,} rows)"
            out.append(f"source {s.source!r}: {s.rows_rejected:,} of {s.rows_read:,} rows "
                       f"rejected ({s.rows_rejected / s.rows_read:.0%}), more than its "
                       f"max_rejected of {s.max_rejected:.0%}{top}")
        return out

    @property
    def written(self) -> WriteCounts:
        return sum((s.written for s in self.sources), WriteCounts())

    def by_table(self) -> dict[str, SourceReport]:
        out: dict[str, SourceReport] = {}
        for s in self.sources:
            agg = out.setdefault(s.table, SourceReport(source="*", table=s.table))
            agg.files_read += s.files_read
            agg.files_skipped += s.files_skipped
            agg.files_failed += s.files_failed
            agg.rows_read += s.rows_read
            agg.rows_rejected += s.rows_rejected
            agg.duplicates += s.duplicates
            agg.written = agg.written + s.written
        return out

    def as_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "rows_read": self.rows_read, "rows_loaded": self.rows_loaded,
            "rows_rejected": self.rows_rejected, "rows_duplicate": self.rows_duplicate,
            "files_failed": [{"source": s, "table": t, "file": f, "reason": why}
                             for s, t, f, why in self.failed_files],
            "notes": [{"source": s, "table": t, "file": f, "note": why}
                      for s, t, f, why in self.notes],
            "sources": [{"source": s.source, "table": s.table, "files_read": s.files_read,
                         "files_skipped": s.files_skipped, "files_failed": s.files_failed,
                         "rows_read": s.rows_read,
                         "rows_rejected": s.rows_rejected, "duplicates": s.duplicates,
                         "values_dropped": s.values_dropped,
                         "inserted": s.written.inserted,
                         "updated": s.written.updated, "unchanged": s.written.unchanged}
                        for s in self.sources],
        }


def _config_hash(source) -> str:
    return hashlib.sha256(source.model_dump_json().encode()).hexdigest()[:16]


def _needs_read(f: SourceFile, states: dict, cfg_hash: str) -> bool:
    state = states.get(f.display)
    if state is None:
        return True
    size, mtime_ns, old_hash, rejected = state
    return (size, mtime_ns, old_hash) != (f.size, f.mtime_ns, cfg_hash) or rejected > 0


def ingest(workspace: Workspace, *, now: datetime | None = None, strict: bool = False,
           full: bool = False, progress: Progress | None = None,
           store: Store | None = None) -> IngestReport:
    """Load every configured source of ``workspace`` into its store.

    Parameters
    ----------
    now
        The moment of ingest (UTC; naive or aware). Event times after it are rejected, and it
        opens new versions of changed state rows. Default: the current time.
    strict
        Fail (and write nothing) if any row would be quarantined.
    full
        Re-read every file, not only those changed since the last ingest.
    progress
        Called as ``progress(done, total, what)`` after each source.
    store
        The workspace's store, already open (the daily job shares one); default: opened here.

    Returns
    -------
    IngestReport

    Raises
    ------
    SourceError
        A file is missing, or lacks a required column (nothing is written). A file that
        cannot be read as a whole is not an error: it is listed in ``failed_files``.
    QuarantineError
        ``strict`` and some rows were rejected or a file could not be read (nothing is
        written).
    """
    now = clock.now(now)
    with workspace.store_or(store) as store, store.recorded("ingest", now) as run:
        report = IngestReport(run_id=run.run_id, started_at=now)
        with store.transaction():
            _ingest_all(workspace, store, report, now=now, full=full, progress=progress)
            if strict and (report.rows_rejected or report.failed_files):
                what = (f"{len(report.failed_files)} file(s) could not be read"
                        if report.failed_files else f"{report.rows_rejected} row(s) rejected")
                raise QuarantineError(
                    f"{what}; --strict: nothing was written",
                    report=report,
                    hint="fix the rows listed above, or run without --strict to load the "
                         "valid rows and quarantine the rest")
        report.finished_at = clock.now()
        run.rows_loaded, run.rows_rejected = report.rows_loaded, report.rows_rejected
        run.detail = report.as_dict()
    return report


@dataclass
class _Read:
    """What a source read in this ingest, for writing it: the files read (shown → size,
    modification time), the settings' hash, and for a database source its read."""

    files: dict[str, tuple[int, int]]
    config_hash: str
    database: DatabaseRead | None = None


def _ingest_all(workspace: Workspace, store: Store, report: IngestReport, *, now: datetime,
                full: bool, progress: Progress | None) -> None:
    cfg = workspace.config
    con = store.con
    ctx = ParseContext(timezone=cfg.timezone, decimal=".",
                       now_sql=f"TIMESTAMP {lit(now.isoformat(sep=' '))}")
    total = len(cfg.sources)
    done = 0
    for table_name in TABLE_ORDER:
        table = TABLES[table_name]
        feeding = [(n, s) for n, s in cfg.sources.items() if s.table == table_name]
        parts: list[str] = []  # parse queries, one per source read
        raw_views: list[tuple[str, str]] = []
        read_meta: dict[str, _Read] = {}
        sources: dict[str, SourceReport] = {}
        for order, (name, source) in enumerate(feeding):
            cfg_hash = _config_hash(source)
            sr = SourceReport(source=name, table=table_name, max_rejected=source.max_rejected)
            sources[name] = sr
            report.sources.append(sr)
            view = f"_raw_{len(report.sources)}"
            if source.database is not None:
                got = read_database(con, workspace.root, name, source, view, full=full,
                                    previous=store.cursor_state(name), config_hash=cfg_hash)
                rel, sr.files_read = got.rel, 1
                read = _Read({} if rel.skipped else {got.origin.display: (0, 0)}, cfg_hash,
                             got)
                if not rel.skipped:
                    raw_views += [("VIEW", view), ("TABLE", rows_table(view))]
            else:
                rel, read = _read_files(workspace, store, name, source, sr, view, cfg_hash,
                                        full=full)
                if rel is not None:
                    raw_views.append(("VIEW" if rel.format == "parquet" else "TABLE", view))
            if rel is not None:
                _file_outcomes(store, table, name, rel, sr, report, now=now,
                               keep_rows=source.database is not None)
                if not rel.empty:
                    check_json_paths(con, table, name, source, rel)
                    src_ctx = ParseContext(ctx.timezone, source.decimal, ctx.now_sql)
                    parts.append(parse_query(table, name, source, rel, src_ctx,
                                             source_order=order))
                    read_meta[name] = read
                elif read.files:  # only empty or header-only files: read, nothing to load
                    _settle_quarantine(store, table, name, read,
                                       "(SELECT * FROM quarantine WHERE false)", staged=False)
                    _record_read(store, name, read, {}, report.run_id)
            done += 1
            if progress:
                progress(done, total, f"{name} → {table_name}")
        if parts:
            stage(store, table, parts, now=now,
                  keep=[n for n, s in feeding if s.duplicates == "keep" and n in read_meta])
        for kind, view in raw_views:
            con.execute(f"DROP {kind} {view}")
            if kind == "VIEW":
                con.execute(f"DROP TABLE IF EXISTS _shown_{view}")
        if parts:
            _write_table(store, table, report, sources, read_meta, now=now)
    con.execute("DROP TABLE IF EXISTS _stage")


def _read_files(workspace: Workspace, store: Store, name: str, source, sr: SourceReport,
                view: str, cfg_hash: str, *, full: bool) -> tuple[RawRelation | None, _Read]:
    """Read the files of a source that changed since the last ingest (all with ``full``)."""
    files = resolve_files(workspace.root, name, source)
    states = store.file_states(name)
    to_read = [f for f in files if full or _needs_read(f, states, cfg_hash)]
    sr.files_read, sr.files_skipped = len(to_read), len(files) - len(to_read)
    # Quarantine rows of files that no longer exist are stale.
    store.con.execute("DELETE FROM quarantine WHERE source = ? AND NOT list_contains(?, file)",
                      [name, [f.display for f in files]])
    if not to_read:
        return None, _Read({}, cfg_hash)
    rel = read_source(store.con, name, source, to_read, view)
    failed = {f.display for f, _ in rel.skipped}
    return rel, _Read({f.display: (f.size, f.mtime_ns) for f in to_read
                       if f.display not in failed}, cfg_hash)


def _settle_quarantine(store: Store, table: Table, name: str, read: _Read,
                       problems_view: str, *, staged: bool = True) -> None:
    """Put a source's rejected rows of this read (``problems_view``) in the quarantine, in
    place of those they replace: a file's earlier ones; for a database source, every earlier
    one after a full read, else (an incremental read) the ones of the keys read again (in
    ``_stage``, when ``staged``)."""
    if read.database is None:
        store.replace_quarantine(name, list(read.files), problems_view)
        return
    con = store.con
    # a failed read before is over
    con.execute('DELETE FROM quarantine WHERE source = ? AND "row" = 0', [name])
    if read.database.full:
        con.execute("DELETE FROM quarantine WHERE source = ?", [name])
    elif table.key and staged:
        con.execute(f'DELETE FROM quarantine WHERE source = ? AND "key" IN (SELECT '
                    f"{quarantine_key(table)} FROM _stage WHERE _source = ?)", [name, name])
    store.replace_quarantine(name, [], problems_view)


def _record_read(store: Store, name: str, read: _Read,
                 per_file: dict[tuple[str, str], tuple[int, int]], run_id: int) -> None:
    """Remember what was read (files: size and time; a database: where its cursor got to)."""
    if read.database is not None:
        rows, rejected = per_file.get((name, read.database.origin.display), (0, 0))
        record_cursor(store, name, read.database, rows_read=rows, rows_rejected=rejected,
                      run_id=run_id)
        return
    store.record_files(name, [(file, size, mtime, *per_file.get((name, file), (0, 0)))
                              for file, (size, mtime) in read.files.items()],
                       read.config_hash, run_id)


def _file_outcomes(store: Store, table: Table, name: str, rel, sr: SourceReport,
                   report: IngestReport, *, now: datetime, keep_rows: bool = False) -> None:
    """Report the files of a source read that were left out (and put each in the quarantine
    as one entry with row 0, replacing its earlier entries — with ``keep_rows`` only its
    earlier row 0: a database read rejected rows that are not read again) or that hold no
    rows."""
    sr.files_failed = len(rel.skipped)
    sr.files_read -= len(rel.skipped)
    report.failed_files += [(name, table.name, f.display, why) for f, why in rel.skipped]
    report.notes += [(name, table.name, f.display, why) for f, why in rel.notes]
    if not rel.skipped:
        return
    if keep_rows:
        store.con.execute('DELETE FROM quarantine WHERE source = ? AND "row" = 0', [name])
    rows = ", ".join(
        f"({report.run_id}, {lit(name)}, {lit(table.name)}, {lit(f.display)}, 0, NULL, NULL, "
        f"{lit('file skipped: ' + why)}, TIMESTAMP {lit(now.isoformat(sep=' '))}, NULL)"
        for f, why in rel.skipped)
    store.replace_quarantine(
        name, [] if keep_rows else [f.display for f, _ in rel.skipped],
        f"(SELECT * FROM (VALUES {rows}) AS t(run_id, source, \"table\", file, \"row\", "
        f"\"column\", value, reason, quarantined_at, \"key\"))")


def stage(store: Store, table: Table, parts: list[str], *, now: datetime,
          keep: list[str] | None = None) -> None:
    """Parse every source read into the temp table ``_stage`` (one pass, no intermediate
    copies) and add the problems that span rows. A row is identified by (``_source``,
    ``_file``, ``_row``). Files (here) and the REST API's records (``records.py``) share it.

    Events seen twice are not loaded twice: ``_dropped`` says why (:func:`_drop_duplicates`;
    ``keep`` names the sources whose exact duplicate rows within a file are distinct events).
    Rows with ``_problems`` are rejected (quarantined)."""
    con = store.con
    union = " UNION ALL BY NAME ".join(f"({q})" for q in parts)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS SELECT *, "
                f"{hash_expr(table)} AS _hash FROM ({union})")

    def add_problem(where: str, column: str, value: str, reason: str) -> None:
        con.execute(
            f"UPDATE _stage SET _problems = list_append(coalesce(_problems, []), "
            f"{{'column': {lit(column)}, 'value': CAST({value} AS VARCHAR), 'reason': {reason}}})"
            f" WHERE {where}")

    if table.has_account:  # an account rejected itself is named with its file and line
        add_problem("account_id IS NOT NULL AND account_id NOT IN "
                    "(SELECT DISTINCT account_id FROM accounts)",
                    "account_id", "account_id",
                    "coalesce((SELECT 'account ' || q.key || ' was itself rejected (' || q.file "
                    "|| ':' || q.row || coalesce(' ' || q.column, '') || ': ' || q.reason || "
                    "'): fix that row and ingest again' FROM quarantine q WHERE q.table = "
                    "'accounts' AND q.key = _stage.account_id ORDER BY q.file, q.row LIMIT 1), "
                    "'unknown account_id: not in accounts (load the account first)')")
    con.execute("ALTER TABLE _stage ADD COLUMN _dropped VARCHAR")
    if table.kind == "event":
        _drop_duplicates(con, table, keep or [])
        return
    keys = list(table.key) + (["_known_from"] if table.kind == "state" else [])
    what = (f"'duplicate {', '.join(table.key)} (first at ' || d._first || ')'")
    part_keys = ", ".join(ident(k) if not k.startswith("_") else k for k in keys)
    not_null = " AND ".join(f"{ident(k)} IS NOT NULL" for k in keys if not k.startswith("_"))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _dupes AS
        SELECT _source, _file, _row, first_value(_file || ':' || _row) OVER w AS _first
        FROM _stage WHERE _problems IS NULL {('AND ' + not_null) if not_null else ''}
        WINDOW w AS (PARTITION BY {part_keys} ORDER BY _order, _file, _row)
        QUALIFY row_number() OVER w > 1
    """)
    col = table.key[0]
    con.execute(
        f"UPDATE _stage SET _problems = list_append(coalesce(_problems, []), "
        f"{{'column': {lit(col)}, 'value': CAST(_stage.{ident(col)} AS VARCHAR), "
        f"'reason': {what}}}) FROM _dupes d WHERE _stage._source = d._source "
        f"AND _stage._file = d._file AND _stage._row = d._row")
    con.execute("DROP TABLE _dupes")


def quarantine_key(table: Table) -> str:
    """SQL of a staged row's key as text (an account's id), kept with its quarantine rows."""
    return f"CAST({ident(table.key[0])} AS VARCHAR)" if table.key else "NULL::VARCHAR"


def _drop_duplicates(con, table: Table, keep: list[str]) -> None:
    """Mark the events of ``_stage`` that are already there (``_dropped``): a second row with
    the identity of an earlier one — the same ``event_id`` from the same source, or, without
    one, the same content. Exact duplicate rows within one file of a ``keep`` source are
    distinct events instead: the second, third … get their own identity (the content's plus
    its occurrence), the same on every re-read, so a re-ingest still finds them."""
    key = next((c.name for c in table.columns if c.identity), None)
    no_id = "true" if key is None else f'"{key}" IS NULL'
    if keep:
        con.execute(f"""
            UPDATE _stage SET _hash = CAST(md5_number(CAST(_stage._hash AS VARCHAR) || chr(31)
                                                      || d.k) AS UUID)
            FROM (SELECT _source, _file, _row, row_number() OVER (
                      PARTITION BY _source, _file, _hash ORDER BY _row) AS k
                  FROM _stage WHERE _problems IS NULL AND {no_id}
                    AND list_contains(?, _source)
                  QUALIFY k > 1) d
            WHERE _stage._source = d._source AND _stage._file = d._file
              AND _stage._row = d._row""", [keep])
    if key is None:
        why = "'exact duplicate of ' || d._first"
    else:
        why = (f"CASE WHEN _stage.\"{key}\" IS NULL THEN 'exact duplicate of ' || d._first "
               f"ELSE '{key} ' || _stage.\"{key}\" || ' already at ' || d._first END")
    con.execute(f"""
        UPDATE _stage SET _dropped = {why}
        FROM (SELECT _source, _file, _row, first_value(_file || ':' || _row) OVER w AS _first
              FROM _stage WHERE _problems IS NULL AND _hash IN (
                  SELECT _hash FROM _stage WHERE _problems IS NULL GROUP BY _hash
                  HAVING count(*) > 1)
              WINDOW w AS (PARTITION BY _hash ORDER BY _order, _file, _row)
              QUALIFY row_number() OVER w > 1) d
        WHERE _stage._source = d._source AND _stage._file = d._file AND _stage._row = d._row""")


def _write_table(store: Store, table: Table, report: IngestReport,
                 sources: dict[str, SourceReport], read_meta: dict[str, _Read], *,
                 now: datetime) -> None:
    con = store.con
    cols = ", ".join(ident(c) for c in table.column_names)
    extra = ", _known_from" if table.kind == "state" else ""
    con.execute(f"CREATE OR REPLACE TEMP VIEW _valid AS SELECT {cols}, _hash, _source{extra} "
                f"FROM _stage WHERE _problems IS NULL AND _dropped IS NULL")
    # Per-source counts and per-file stats.
    stats = con.execute(
        "SELECT _source, _file, count(*), count(*) FILTER (WHERE _problems IS NOT NULL), "
        "count(*) FILTER (WHERE _dropped IS NOT NULL) FROM _stage GROUP BY ALL").fetchall()
    for source, _file, n, bad, dropped in stats:
        sources[source].rows_read += n
        sources[source].rows_rejected += bad
        sources[source].duplicates += dropped
    for source, column, reason, rows in con.execute(
            "SELECT _source, p.column, regexp_replace(p.reason, ' \\(first at .*', '') AS r, "
            "count(*) AS n FROM (SELECT _source, unnest(_problems) AS p FROM _stage "
            "WHERE _problems IS NOT NULL) GROUP BY 1, 2, 3 "
            "QUALIFY row_number() OVER (PARTITION BY _source ORDER BY n DESC, r) = 1").fetchall():
        sources[source].top_reason = (column, reason, rows)
    for source, dropped in con.execute(
            "SELECT _source, sum(len(_nulled)) FROM _stage WHERE _nulled IS NOT NULL "
            "AND _problems IS NULL AND _dropped IS NULL GROUP BY 1").fetchall():
        sources[source].values_dropped += int(dropped)
    report.dropped_values += con.execute(
        f"SELECT _source, {lit(table.name)}, _file, _row, p.column, p.value, p.reason FROM "
        f"(SELECT _source, _file, _row, unnest(_nulled) AS p FROM _stage WHERE _nulled IS NOT "
        f"NULL AND _problems IS NULL AND _dropped IS NULL) ORDER BY _source, _file, _row "
        f"LIMIT {SAMPLE}").fetchall()
    report.duplicates += con.execute(
        f"SELECT _source, {lit(table.name)}, _file, _row, _dropped FROM _stage "
        f"WHERE _dropped IS NOT NULL ORDER BY _source, _file, _row LIMIT {SAMPLE}").fetchall()
    for name in read_meta:
        con.execute(f"CREATE OR REPLACE TEMP VIEW _valid_src AS SELECT * FROM _valid "
                    f"WHERE _source = {lit(name)}")
        sources[name].written = store.write(table, "_valid_src", run_id=report.run_id,
                                            ingested_at=now)
        con.execute("DROP VIEW _valid_src")
        con.execute(f"""
            CREATE OR REPLACE TEMP VIEW _problems_src AS
            SELECT {report.run_id} AS run_id, _source AS source, {lit(table.name)} AS "table",
                   _file AS file, _row AS "row", p.column AS "column", p.value AS value,
                   p.reason AS reason, TIMESTAMP {lit(now.isoformat(sep=' '))} AS quarantined_at,
                   "key"
            FROM (SELECT _source, _file, _row, {quarantine_key(table)} AS "key",
                         unnest(_problems) AS p FROM _stage
                  WHERE _problems IS NOT NULL AND _source = {lit(name)})
        """)
        _settle_quarantine(store, table, name, read_meta[name], "_problems_src")
        con.execute("DROP VIEW _problems_src")
    sample = con.execute(
        f"SELECT _source, _file, _row, p.column, p.value, p.reason FROM "
        f"(SELECT _source, _file, _row, unnest(_problems) AS p FROM _stage "
        f"WHERE _problems IS NOT NULL) ORDER BY _source, _file, _row LIMIT {SAMPLE}").fetchall()
    report.problems += [dict(source=s, table=table.name, file=f, row=r, column=c, value=v,
                             reason=why) for s, f, r, c, v, why in sample]
    report.reasons += con.execute(
        f"SELECT {lit(table.name)}, p.column, regexp_replace(p.reason, ' \\(first at .*', ''),"
        f" count(*) FROM (SELECT unnest(_problems) AS p FROM _stage "
        f"WHERE _problems IS NOT NULL) GROUP BY ALL ORDER BY 4 DESC").fetchall()
    per_file = {(source, file): (n, bad) for source, file, n, bad, _ in stats}
    for name, read in read_meta.items():
        _record_read(store, name, read, per_file, report.run_id)
    con.execute("DROP VIEW _valid")

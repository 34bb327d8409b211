"""Sources read in place from a database: a table or query of PostgreSQL, or of any database
SQLAlchemy reads, into the relation a file gives (:class:`~healthscore.sources.files.RawRelation`),
so its rows are mapped, typed and quarantined by the same SQL as files (``parse.py``).

PostgreSQL is read with ADBC: Arrow record batches straight from the server, no row-by-row
Python. Typed columns (timestamptz, integers, dates, booleans, JSON) arrive typed and are used
as they are, like Parquet's; a ``numeric`` arrives as its exact text and is parsed like a CSV
value. Any other URL goes through SQLAlchemy, :data:`BATCH_ROWS` rows at a time, each batch made
an Arrow table (a column whose values have no one type, as SQLite allows, is kept as text).
Either way each batch is appended to a DuckDB temp table as it arrives, so memory follows the
batch, not the table.

For the ingest a read is one "file", shown as its location without user, password or options
(``postgresql://db.acme.com:5432/crm#public.accounts``), so no secret reaches a report, the
quarantine or the runs table; error messages have the password cut out too. Its rows are
numbered in the order read (by the cursor, when there is one). A read that fails — the server
down, a bad URL, a missing table, the drivers not installed — leaves the source out the way a
file that cannot be read is left out: the reason goes to the report and the quarantine (row
0), the rows stored before stay, and the next ingest tries again.

With a ``cursor`` an ingest reads only the rows whose cursor value is at or after the largest
one read before (``WHERE cursor >= ?``, a bound parameter). The rows read before that hold
exactly that value are recognised by a hash of their values and left out, so a row committed
later with the same value is read, and none is read twice. Row numbers continue from the
earlier reads, so a row's number stays its own until the next full read.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb
import numpy as np
import pyarrow as pa

from healthscore.config.models import URL_SCHEME, DatabaseSource, Source
from healthscore.errors import SourceError
from healthscore.sources.files import (
    FileSkipped,
    RawRelation,
    SourceFile,
    column_names_problem,
)
from healthscore.sources.parse import ident, lit

#: Rows per batch read through SQLAlchemy (ADBC sizes its own batches, about 16 MiB each).
BATCH_ROWS = 65_536
#: What installs the database drivers.
INSTALL = "pip install 'healthscore[postgres]'"
#: URL schemes read with ADBC; any other (``postgresql+psycopg://`` too) goes to SQLAlchemy.
ADBC_SCHEMES = ("postgresql", "postgres")
#: URL options whose values are secrets.
_SECRET_OPTIONS = ("password", "pass", "pwd", "sslpassword")
#: How a cursor's value is kept as text, by its kind (:func:`_kind`).
_KIND_TEXT = {"timestamptz": "CAST(epoch_us({}) AS VARCHAR)",
              "timestamp": "CAST(epoch_us({}) AS VARCHAR)",
              "date": "strftime({}, '%Y-%m-%d')", "integer": "CAST({} AS VARCHAR)",
              "text": "{}"}
_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
             "UINTEGER", "UBIGINT")
_BATCH = "_hs_db_batch"
#: The packages of the `postgres` extra.
_OURS = ("adbc_driver_postgresql", "adbc_driver_manager", "sqlalchemy", "psycopg")


@dataclass(frozen=True)
class Location:
    """Where a database source reads from: the URL (never shown) and how it is shown."""

    url: str
    shown: str
    secrets: tuple[str, ...] = ()

    @property
    def adbc(self) -> bool:
        return urlsplit(self.url).scheme.lower() in ADBC_SCHEMES

    def scrub(self, text: str) -> str:
        """``text`` with every secret of the URL replaced by ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def shown_location(url: str, what: str) -> str:
    """The URL without user, password or options, and ``#what`` (the table, or ``query``)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path}#{what}"


def _secrets(url: str) -> tuple[str, ...]:
    parts = urlsplit(url)
    found = {parts.password or ""}
    for option in parts.query.split("&"):
        key, _, value = option.partition("=")
        if unquote(key).lower() in _SECRET_OPTIONS:
            found.add(value)
    found |= {unquote(s) for s in found}  # as written in the URL, and as the driver may say it
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


def locate(db: DatabaseSource) -> Location:
    """The source's location; its URL read from ``url_env`` when it names one.

    Raises
    ------
    FileSkipped
        ``url_env`` names a variable that is not set.
    """
    what = db.table if db.table is not None else "query"
    if db.url_env is not None:
        url = os.environ.get(db.url_env, "").strip()
        if not url:
            raise FileSkipped(f"the environment variable {db.url_env} (url_env) is not set, "
                              f"or empty: set it to the database's URL where healthscore runs")
        if not re.match(URL_SCHEME, url):  # its value is not shown: it may hold a password
            raise FileSkipped(f"the environment variable {db.url_env} (url_env) does not hold "
                              "a database URL (`postgresql://user:password@host:5432/crm`)")
    else:
        url = db.url or ""
    return Location(url, shown_location(url, what), _secrets(url))


def origin_of(source: Source) -> SourceFile:
    """The "file" a database source's read is for the ingest (its shown location)."""
    db = source.database
    assert db is not None
    try:
        shown = locate(db).shown
    except FileSkipped:
        shown = f"${db.url_env}#{db.table if db.table is not None else 'query'}"
    return SourceFile(Path(), shown, 0, 0)


@dataclass
class DatabaseRead:
    """One read of a database source: its rows (``rel``), whether it read every row, and
    where its cursor gets to once the rows are written (:func:`record_cursor`)."""

    rel: RawRelation
    origin: SourceFile
    full: bool = True
    cursor: dict | None = None
    #: the DuckDB type of each column, by name (the cursor's kind is read from it)
    types: dict[str, str] = field(default_factory=dict)


def read_database(con: duckdb.DuckDBPyConnection, root: Path, name: str, source: Source,
                  view: str, *, previous: dict | None, config_hash: str, full: bool,
                  limit: int | None = None) -> DatabaseRead:
    """Read a database source's rows into temp view ``view`` on ``con`` (over the temp table
    :func:`rows_table` names, which holds them).

    ``previous`` is where its cursor got to (``Store.cursor_state``): when it is for the same
    location and settings and ``full`` is false, only the rows from there on are read. A read
    that fails is not an error: it is in ``rel.skipped`` with its reason. ``limit`` reads at
    most that many rows (``healthscore check``'s look at the first rows).

    Raises
    ------
    SourceError
        The cursor column is not among the rows' columns, or of a type that cannot be one.
    """
    db = source.database
    assert db is not None
    origin = origin_of(source)
    got = DatabaseRead(RawRelation(view=view, format="database"), origin)
    got.rel.holder = "the query gives" if db.query is not None else "the table has"
    try:
        loc = locate(db)
    except FileSkipped as exc:
        got.rel.skipped.append((origin, exc.reason))
        return got
    since = None
    if (db.cursor and not full and previous and previous["location"] == loc.shown
            and previous["config_hash"] == config_hash and previous["last_value"] is not None):
        since = previous
    got.full = since is None
    sql = _select(db, loc, since, limit)
    params = [_param(since["value_kind"], since["last_value"])] if since else []
    first = 1 + (since["rows_numbered"] if since else 0)
    rows = rows_table(view)
    try:
        schema = _load(con, root, loc, sql, params, limit, rows, first)
    except FileSkipped as exc:
        con.execute(f"DROP TABLE IF EXISTS {rows}")
        got.rel.skipped.append((origin, loc.scrub(exc.reason)))
        return got
    # the location is the same for every row: kept once, in the view
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {lit(origin.display)} AS _file, "
                f"* FROM {rows}")
    got.types = {n: t for n, t, *_ in con.execute(f"DESCRIBE {rows}").fetchall()
                 if n != "_row"}
    got.rel.columns = dict(got.types)
    column = _cursor_name(db.cursor, got.types, name, got.rel.holder) if db.cursor else None
    if since and column:
        _leave_out_read_rows(con, rows, column, got.types, since, first)
    got.rel.rows = con.execute(f"SELECT count(*) FROM {rows}").fetchall()[0][0]
    if column:
        got.cursor = _cursor_after(con, name, column, rows, got, schema, since, loc,
                                   config_hash)
    elif got.rel.empty:
        got.rel.notes.append((origin, "no rows (the table or query is empty)"))
    return got


def _select(db: DatabaseSource, loc: Location, since: dict | None, limit: int | None) -> str:
    """The SELECT of the source's rows (from the cursor's last value on, with ``since``)."""
    adbc = loc.adbc
    postgres = urlsplit(loc.url).scheme.lower().split("+")[0] in ADBC_SCHEMES
    # a query's line comment must not swallow the closing parenthesis
    body = db.table if db.table is not None else f"(\n{(db.query or '').strip().rstrip(';')}\n)"
    if not adbc:  # SQLAlchemy would take a `:name` in the query for a parameter
        body = body.replace(":", "\\:")
    sql = f"SELECT * FROM {body} AS _hs"
    if db.cursor:
        column = f"_hs.{db.cursor}"
        # text is compared as DuckDB does (by code point) when it works out the last value
        if postgres and since and since["value_kind"] == "text":
            column += ' COLLATE "C"'
        if since:
            sql += f" WHERE {column} >= {'$1' if adbc else ':last'}"
        sql += f" ORDER BY {column}"
    if limit is not None and adbc:
        sql += f" LIMIT {int(limit)}"
    return sql


def _param(kind: str, text: str) -> object:
    """A cursor value kept as text (``_KIND_TEXT``) as the Python value the driver binds."""
    if kind == "timestamptz":
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(text))
    if kind == "timestamp":
        return datetime(1970, 1, 1) + timedelta(microseconds=int(text))
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "integer":
        return int(text)
    return text


def _driver_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of whichever database drivers are installed."""
    found: list[type[BaseException]] = [pa.ArrowException]
    try:
        import adbc_driver_manager

        found.append(adbc_driver_manager.Error)
    except ImportError:
        pass
    try:
        import sqlalchemy.exc

        found.append(sqlalchemy.exc.SQLAlchemyError)
    except ImportError:
        pass
    return tuple(found)


def rows_table(view: str) -> str:
    """The temp table holding the rows of a database source's view."""
    return f"{view}_rows"


def _load(con: duckdb.DuckDBPyConnection, root: Path, loc: Location, sql: str,
          params: list, limit: int | None, rows: str, first: int) -> pa.Schema:
    """Stream the rows of ``sql`` into temp table ``rows``, numbered from ``first``; returns
    the Arrow schema of the first batch. Raises :class:`FileSkipped` when the read fails."""
    batches = (_adbc_batches(loc, sql, params) if loc.adbc else
               _sqlalchemy_batches(loc, root, sql, params, limit))
    schema = None
    n = 0
    try:
        for batch in batches:
            if schema is None:
                schema = batch.schema
                _create(con, rows, batch)
            n += _append(con, rows, batch, first + n, widen=not loc.adbc)
    except _driver_errors() as exc:
        raise FileSkipped(_failure(loc, exc)) from None
    except ImportError as exc:
        if (exc.name or "").split(".")[0] in _OURS:
            raise FileSkipped(f"reading a database needs the optional drivers ({exc.name} is "
                              f"not installed): {INSTALL}") from None
        raise FileSkipped(f"SQLAlchemy's driver for this URL is not installed ({exc}): "
                          f"install the package {exc.name}") from None
    finally:
        batches.close()  # the connection closes now, whatever stopped the read
    assert schema is not None
    return schema


def _failure(loc: Location, exc: BaseException) -> str:
    """A driver's error in a line or two (the server's message and its hint), without the
    SQL, the caret and the links it adds, and without the password."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    kept = [ln for ln in lines if not ln.startswith(
        ("LINE ", "^", "Query was:", "[SQL:", "[parameters:", "(Background"))]
    text = " ".join(" ".join(kept[:2]).split()) or type(exc).__name__
    return loc.scrub(f"the database could not be read: {text} (check the URL, the table or "
                     "query, and that the database is up; the next ingest tries again)")


def _adbc_batches(loc: Location, sql: str, params: list) -> Iterator[pa.RecordBatch]:
    # ADBC's own API, not its DB-API module: that one imports pandas and pyarrow.dataset, half
    # a second at every ingest
    import adbc_driver_manager as adbc
    import adbc_driver_postgresql

    with (adbc_driver_postgresql.connect(loc.url) as db, adbc.AdbcConnection(db) as conn,
          adbc.AdbcStatement(conn) as statement):
        statement.set_sql_query(sql)
        if params:
            statement.bind(pa.record_batch([pa.array(params[:1])], names=["$1"]))
        stream, _ = statement.execute_query()
        reader = pa.RecordBatchReader.from_stream(stream)
        empty = True
        for batch in reader:
            empty = False
            yield batch
        if empty:  # the columns of an empty result, all the same
            yield pa.RecordBatch.from_pylist([], schema=reader.schema)


def _sqlalchemy_batches(loc: Location, root: Path, sql: str, params: list,
                        limit: int | None) -> Iterator[pa.Table]:
    import sqlalchemy as sa

    try:
        url = sa.engine.make_url(loc.url)
        if url.get_backend_name() == "sqlite":
            url = _sqlite_file(root, url)
        engine = sa.create_engine(url)
    except ValueError as exc:  # a port that is not a number, say
        raise FileSkipped(f"not a valid database URL ({exc}): check `url` (or the variable "
                          "`url_env` names)") from None
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(
                sa.text(sql), {"last": params[0]} if params else {})
            names = list(result.keys())
            left = limit
            empty = True
            while left is None or left > 0:
                rows = result.fetchmany(BATCH_ROWS if left is None else min(BATCH_ROWS, left))
                if not rows:
                    break
                empty = False
                left = None if left is None else left - len(rows)
                yield _arrow_table(names, rows)
            if empty:
                yield pa.table({n: pa.array([], pa.string()) for n in names})
    finally:
        engine.dispose()


def _sqlite_file(root: Path, url):
    """A SQLite URL with its file relative to the workspace folder; refuses a file that is
    not there (SQLite would create an empty one)."""
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return url
    path = Path(database) if Path(database).is_absolute() else root / database
    if not path.is_file():
        raise FileSkipped(f"no SQLite file {path}: check the URL (a relative path starts at "
                          "the workspace folder)")
    return url.set(database=str(path))


def _arrow_table(names: list[str], rows: list) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.Table.from_arrays([_arrow_array(list(c)) for c in columns], names=names)


def _arrow_array(values: list) -> pa.Array:
    """A column of Python values as Arrow: typed when they share a type, else as text."""
    if any(isinstance(v, dict | list) for v in values):
        values = [None if v is None else json.dumps(v, default=str) for v in values]
    try:
        array = pa.array(values)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.nulls(len(values), pa.string()) if pa.types.is_null(array.type) else array


def _create(con: duckdb.DuckDBPyConnection, rows: str, batch: pa.RecordBatch | pa.Table) -> None:
    problem = column_names_problem(batch.schema.names, "the table or query",
                                   "rename them in a query (`SELECT a.id AS account_id, …`)")
    if problem:
        raise FileSkipped(problem)
    con.register(_BATCH, batch)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rows} AS SELECT NULL::BIGINT AS _row, * "
                    f"FROM {_BATCH} LIMIT 0")
    finally:
        con.unregister(_BATCH)


def _append(con: duckdb.DuckDBPyConnection, rows: str, batch: pa.RecordBatch | pa.Table,
            first: int, *, widen: bool) -> int:
    """Append ``batch`` to ``rows``, its rows numbered from ``first``. With ``widen`` a column
    whose type differs from the batches before is made text (SQLite's columns have none)."""
    n = batch.num_rows
    if not n:
        return 0
    table = batch.append_column("_row", pa.array(np.arange(first, first + n, dtype=np.int64)))
    con.register(_BATCH, table)
    try:
        columns = [ident(c) for c in batch.schema.names]
        if widen:
            have = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {rows})"
                                    ).fetchall())
            new = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {_BATCH})"
                                   ).fetchall())
            for i, c in enumerate(batch.schema.names):
                if have[c] != new[c]:
                    if have[c] != "VARCHAR":
                        con.execute(f"ALTER TABLE {rows} ALTER {ident(c)} TYPE VARCHAR")
                    columns[i] = f"CAST({ident(c)} AS VARCHAR) AS {ident(c)}"
        con.execute(f"INSERT INTO {rows} BY NAME SELECT _row, {', '.join(columns)} "
                    f"FROM {_BATCH}")
    finally:
        con.unregister(_BATCH)
    return n


def _row_hash(types: dict[str, str]) -> str:
    """SQL of a hash of a row's values as read (which rows at the last cursor value were read)."""
    parts = ", ".join(f"coalesce(CAST({ident(c)} AS VARCHAR), chr(0))" for c in types)
    return f"md5(concat_ws(chr(31), {parts}))"


def _cursor_name(cursor: str, types: dict[str, str], name: str, holder: str) -> str:
    """The rows' column that is the cursor (an unquoted name matches in any case)."""
    if cursor.startswith('"'):
        wanted = cursor[1:-1].replace('""', '"')
        found = [c for c in types if c == wanted]
    else:
        found = [c for c in types if c == cursor] or [c for c in types
                                                       if c.lower() == cursor.lower()]
    if len(found) != 1:
        raise SourceError(
            f"source {name!r}: no column {cursor!r} (the cursor) in its rows; {holder}: "
            f"{', '.join(types) or '(none)'}",
            hint=f"fix sources.{name}.database.cursor in healthscore.yaml")
    return found[0]


def _kind(duck_type: str) -> str | None:
    t = duck_type.upper()
    if t.startswith("TIMESTAMP WITH TIME ZONE"):
        return "timestamptz"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    return {"DATE": "date", "VARCHAR": "text"}.get(t, "integer" if t in _INTEGERS else None)


def _leave_out_read_rows(con: duckdb.DuckDBPyConnection, rows: str, column: str,
                         types: dict[str, str], since: dict, first: int) -> None:
    """Drop the rows read before that hold exactly the last cursor value, and number the rest
    on from ``first``."""
    if not since["last_rows"] or _kind(types[column]) != since["value_kind"]:
        return
    at = _KIND_TEXT[since["value_kind"]].format(ident(column))
    dropped = con.execute(
        f"DELETE FROM {rows} WHERE {at} = ? AND {_row_hash(types)} IN (SELECT unnest(?))",
        [since["last_value"], since["last_rows"]]).fetchall()[0][0]
    if dropped:
        con.execute(f"UPDATE {rows} SET _row = r.n FROM (SELECT _row AS old, {first - 1} + "
                    f"row_number() OVER (ORDER BY _row) AS n FROM {rows}) r "
                    f"WHERE {rows}._row = r.old")


def _cursor_after(con: duckdb.DuckDBPyConnection, name: str, column: str, rows: str,
                  got: DatabaseRead, schema: pa.Schema, since: dict | None, loc: Location,
                  config_hash: str) -> dict | None:
    """Where the cursor gets to with this read: its largest value and which rows hold it
    (with those read before, when the value is the one before). None when no row has one."""
    kind = _kind(got.types[column])
    pg_type = (schema.field(column).metadata or {}).get(b"POSTGRESQL:type", b"").decode()
    if kind is None or pg_type == "numeric":
        raise SourceError(
            f"source {name!r}: its cursor {column!r} is of type "
            f"{pg_type or got.types[column]}; a cursor is a timestamp, date, integer or text "
            "column", hint=f"name another column in sources.{name}.database.cursor, or cast "
            f"this one in a query (`SELECT …, {column}::bigint AS {column}`)")
    c = ident(column)
    last, empty = con.execute(f"SELECT {_KIND_TEXT[kind].format(f'max({c})')}, "
                              f"count(*) FILTER (WHERE {c} IS NULL) FROM {rows}").fetchall()[0]
    if empty and got.full:
        got.rel.notes.append((got.origin, (
            f"{empty:,} row(s) have no {column} value: read now, but a later ingest reads "
            f"only rows whose {column} is at or after the last one read (make the column "
            "NOT NULL, or run `healthscore ingest --full`)")))
    if last is None:
        return None
    at = _KIND_TEXT[kind].format(c)
    held = [h for (h,) in con.execute(f"SELECT {_row_hash(got.types)} FROM {rows} "
                                       f"WHERE {at} = ?", [last]).fetchall()]
    if since and since["last_value"] == last and since["value_kind"] == kind:
        held = sorted(set(held) | set(since["last_rows"]))
    return {"source": name, "location": loc.shown, "config_hash": config_hash,
            "cursor_column": column, "value_kind": kind, "last_value": last,
            "last_rows": held,
            "rows_numbered": (since["rows_numbered"] if since else 0) + got.rel.rows}


def record_cursor(store, name: str, got: DatabaseRead, *, rows_read: int, rows_rejected: int,
                  run_id: int) -> None:
    """Remember where the source's cursor got to, once its rows are written (a full read with
    no rows, or a source without a cursor, forgets it: the next ingest reads every row)."""
    if got.cursor is None:
        if got.full:
            store.forget_cursor(name)
        return
    store.record_cursor({**got.cursor, "rows_read": rows_read, "rows_rejected": rows_rejected,
                         "run_id": run_id})

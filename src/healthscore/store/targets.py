"""Where ``healthscore export --to`` writes: a PostgreSQL database or a folder of date-partitioned
Parquet files, both replacing whole dates so that exporting again is safe.

A target takes Arrow tables, one kind of rows (``scores``, ``measures``) of one scorecard over a
list of dates, and makes the target's rows of exactly those dates equal to the table's:

- :class:`PostgresTarget` — a table per scorecard and kind (``healthscore.health_scores``),
  created when missing (typed columns, a primary key whose first column is ``as_of``; the
  scores also an index on ``account_id``). Rows go through a temporary staging table loaded
  by the ADBC driver (PostgreSQL's binary COPY, no row-by-row Python); then the rows of the
  exported dates that differ from the staged ones (or are gone from the store) are deleted
  and the staged rows the table lacks inserted: equal rows are left alone. The whole export
  is one transaction: a failure leaves every table as it was, and readers see the old rows
  until the commit.
- :class:`FolderTarget` — ``DIR/<kind>/scorecard=<name>/as_of=<date>/part-0.parquet`` (hive
  layout; the partition columns live in the folder names). DuckDB writes the files into a
  hidden staging folder, then each file replaces its date's file with one rename, so a reader
  never sees a half-written date.

:func:`open_target` chooses one from what ``--to`` says; :func:`redact` hides a URL's password
wherever one is shown.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit, urlunsplit

import duckdb
import pyarrow as pa

from healthscore.errors import InputError, OutputError
from healthscore.store.disk import output_fault

#: URL schemes of PostgreSQL (libpq takes both).
POSTGRES_SCHEMES = ("postgresql", "postgres")
#: The schema ``--to postgresql://…`` writes to unless told otherwise.
DEFAULT_SCHEMA = "healthscore"
#: The primary key of each kind of rows (``as_of`` first: it serves the per-date deletes and
#: the BI tools' date filters).
KEYS = {"scores": ("as_of", "account_id"), "measures": ("as_of", "account_id", "measure")}
#: Kinds whose tables also get an index on ``account_id`` (one account's history). Not the
#: measures: ten times the rows, and the index would double the time their export takes.
BY_ACCOUNT = ("scores",)
#: What a target's failure message suggests for the PostgreSQL driver.
INSTALL_HINT = "pip install 'healthscore[postgres]' (the ADBC PostgreSQL driver)"
#: PostgreSQL truncates longer names silently; we refuse them instead.
_MAX_NAME = 63


@dataclass(frozen=True)
class Written:
    """What an export wrote to one table (or folder): its name as a reader of the target
    spells it, the dates replaced, the rows now stored for them and how many of those were
    new or changed (None: not counted, every row was written)."""

    table: str
    dates: list[date]
    rows: int
    changed: int | None = None


# -- the --to argument ---------------------------------------------------------------------------

def resolve(to: str) -> tuple[str, bool]:
    """The target ``to`` names (``env:VAR``: the value of that environment variable) and
    whether it came from the environment."""
    if not to.startswith("env:"):
        return to, False
    var = to[4:]
    value = os.environ.get(var, "").strip()
    if not value:
        raise InputError("--to", f"the environment variable {var or '(none)'} is not set",
                         hint=f"export {var or 'HS_EXPORT_URL'}='postgresql://user:password@"
                              "host:5432/db' first (it keeps the password off the command "
                              "line)")
    return value, True


def scheme(target: str) -> str | None:
    """The URL scheme of ``target`` (``postgresql``), None for a folder path."""
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", target)
    return m.group(1).lower() if m else None


def has_password(url: str) -> bool:
    """Whether a URL carries a password (in its user part or as a ``password=`` option)."""
    return bool(_passwords(url))


def _passwords(url: str) -> list[str]:
    try:
        given = urlsplit(url).password
    except ValueError:
        given = None
    found = [given, unquote(given)] if given else []
    found += [unquote(v) for v in re.findall(r"(?i)(?:^|[?&])password=([^&]*)", url) if v]
    return [p for p in found if p]


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (user, host, port and database kept)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        if ":" in user:
            netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = re.sub(r"(?i)((?:^|&)password=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's message) with every spelling of the URL's password hidden."""
    for secret in sorted(_passwords(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def open_target(to: str, schema: str | None = None) -> PostgresTarget | FolderTarget:
    """The target ``--to`` names: a ``postgresql://`` URL (or ``env:VAR`` holding one) or a
    folder. ``schema`` is the database schema (PostgreSQL only).

    Raises
    ------
    InputError
        An unknown URL scheme, an unset variable, a schema given for a folder.
    """
    target, _ = resolve(to)
    kind = scheme(target)
    if kind in POSTGRES_SCHEMES:
        return PostgresTarget(target, schema or DEFAULT_SCHEMA)
    if kind is not None:
        raise InputError("--to", f"cannot export to a {kind}:// URL",
                         hint="give postgresql://user@host:port/database, or a folder for "
                              "date-partitioned Parquet files")
    if schema is not None:
        raise InputError("--schema", "a schema is for a database target",
                         hint="drop --schema, or give --to postgresql://…")
    return FolderTarget(Path(target))


def _name(name: str, what: str) -> str:
    if len(name.encode()) > _MAX_NAME:
        raise InputError("--schema" if what == "schema" else "--scorecard",
                         f"{what} name {name!r} is longer than PostgreSQL's {_MAX_NAME} bytes")
    return '"' + name.replace('"', '""') + '"'


def _dates_sql(dates: list[date]) -> str:
    # date objects, never text from a user: their ISO form is a safe literal
    return ", ".join(f"DATE '{d.isoformat()}'" for d in dates)


# -- PostgreSQL ----------------------------------------------------------------------------------

#: The PostgreSQL column type of each kind of Arrow type an export's rows use; timestamps (naive
#: UTC in the store) become TIMESTAMPTZ.
_PG_TYPES = ((pa.types.is_string, "TEXT"), (pa.types.is_large_string, "TEXT"),
             (pa.types.is_floating, "DOUBLE PRECISION"), (pa.types.is_integer, "BIGINT"),
             (pa.types.is_boolean, "BOOLEAN"), (pa.types.is_date, "DATE"),
             (pa.types.is_timestamp, "TIMESTAMPTZ"), (pa.types.is_decimal, "NUMERIC"))


def _pg_type(t: pa.DataType) -> str:
    for test, name in _PG_TYPES:
        if test(t):
            return name
    raise TypeError(f"no PostgreSQL type for Arrow {t}")


class PostgresTarget:
    """A PostgreSQL database: a table per scorecard and kind in ``schema``, all written in one
    transaction (see the module). Use as a context manager: the transaction commits when the
    block ends without an error."""

    def __init__(self, url: str, schema: str = DEFAULT_SCHEMA):
        self.url = url
        self.schema = schema
        self.shown = redact(url)
        self._con = None
        self._ready: set[str] = set()  # tables created, checked and locked in this export

    def describe(self) -> str:
        return f"{self.shown} (schema {self.schema})"

    def table_name(self, kind: str, scorecard: str) -> str:
        return f"{scorecard}_{kind}"

    def _fault(self, exc: BaseException, doing: str) -> OutputError:
        text = scrub(str(exc).strip(), self.url)
        text = re.sub(r"^[A-Z_]+: (\[libpq\] )?", "", text)  # ADBC's status prefix
        if doing == "connect":
            return OutputError(
                f"{self.shown}: cannot connect ({text.splitlines()[0] if text else exc})",
                hint="check that the server runs and the URL's host, port, user and database; "
                     "a password goes in the environment (PGPASSWORD, or --to env:VAR "
                     "holding the URL); nothing was written")
        return OutputError(f"{self.shown}: the export failed while {doing}, so nothing was "
                           f"written ({' '.join(text.split())})")

    def __enter__(self) -> PostgresTarget:
        try:
            import adbc_driver_postgresql.dbapi as pg
        except ImportError:
            raise OutputError("exporting to PostgreSQL needs the ADBC PostgreSQL driver, "
                              "which is not installed", hint=INSTALL_HINT) from None
        _name(self.schema, "schema")
        try:
            self._con = pg.connect(self.url)
        except pg.Error as exc:
            raise self._fault(exc, "connect") from None
        self._error = pg.Error
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        con, self._con = self._con, None
        if con is None:
            return
        try:
            if kind is None:
                try:
                    con.commit()
                except self._error as e:
                    raise self._fault(e, "committing") from None
            else:
                con.rollback()
        finally:
            con.close()

    def write(self, kind: str, scorecard: str, dates: list[date], table: pa.Table) -> Written:
        """Make the rows of ``dates`` in the scorecard's table of ``kind`` those of ``table``
        (whose ``as_of`` values are among ``dates``); the table is created when missing."""
        name = self.table_name(kind, scorecard)
        target = f"{_name(self.schema, 'schema')}.{_name(name, 'table')}"
        try:
            with self._con.cursor() as cur:
                if target not in self._ready:
                    self._ensure(cur, target, name, table.schema, KEYS[kind],
                                 kind in BY_ACCOUNT)
                    # one exporter at a time per table (until the commit); readers go on
                    # reading the committed rows
                    cur.execute(f"LOCK TABLE {target} IN SHARE ROW EXCLUSIVE MODE")
                    self._ready.add(target)
                changed = self._merge(cur, target, table, KEYS[kind], dates)
        except self._error as exc:
            raise self._fault(exc, f"writing {self.schema}.{name}") from None
        return Written(f"{self.schema}.{name}", list(dates), table.num_rows, changed)

    def _ensure(self, cur, target: str, name: str, schema: pa.Schema, key: tuple[str, ...],
                by_account: bool) -> None:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {_name(self.schema, 'schema')}")
        columns = ", ".join(f"{_name(f.name, 'column')} {_pg_type(f.type)}"
                            + (" NOT NULL" if f.name in key else "") for f in schema)
        cur.execute(f"CREATE TABLE IF NOT EXISTS {target} ({columns}, "
                    f"PRIMARY KEY ({', '.join(_name(k, 'column') for k in key)}))")
        if by_account:
            cur.execute(f"CREATE INDEX IF NOT EXISTS {_name(name + '_account_id', 'index')} "
                        f"ON {target} (account_id)")
        cur.execute("SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = $1 AND table_name = $2", parameters=(self.schema, name))
        have = {r[0] for r in cur.fetchall()}
        missing = [f.name for f in schema if f.name not in have]
        if missing:
            raise OutputError(
                f"{self.shown}: {self.schema}.{name} exists without the column(s) "
                f"{', '.join(missing)} (made by another tool or an older healthscore?)",
                hint=f"drop it (DROP TABLE {self.schema}.{name}) and export again, or export "
                     "to another --schema")

    def _merge(self, cur, target: str, table: pa.Table, key: tuple[str, ...],
               dates: list[date]) -> int:
        """Stage ``table``; delete the table's rows of ``dates`` that differ from the staged
        ones (or are not staged at all), then insert the staged rows it lacks (all of them,
        without comparing, when it has no row of ``dates``). Rows equal to the staged ones
        are not touched, so exporting again writes nothing: no dead rows, no index churn.
        The rows inserted."""
        stage = "_healthscore_stage"
        cur.execute(f"DROP TABLE IF EXISTS pg_temp.{stage}")
        cur.adbc_ingest(stage, table, mode="create", temporary=True)
        names = [_name(f.name, "column") for f in table.schema]
        # the staged value as the table stores it (naive timestamps are UTC, the store's way)
        staged = {n: f"s.{n} AT TIME ZONE 'UTC'" if pa.types.is_timestamp(f.type)
                  and not f.type.tz else f"s.{n}" for n, f in zip(names, table.schema,
                                                                 strict=True)}
        keys = [_name(k, "column") for k in key]
        rest = [c for c in names if c not in keys]
        same_key = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        lacking = ""
        cur.execute(f"SELECT EXISTS (SELECT FROM {target} WHERE as_of IN "
                    f"({_dates_sql(dates) or 'NULL'}))")
        if cur.fetchone()[0]:  # else the dates are new here: a plain insert
            same_row = (f"({', '.join(f't.{c}' for c in rest)}) IS NOT DISTINCT FROM "
                        f"({', '.join(staged[c] for c in rest)})")
            cur.execute(f"DELETE FROM {target} t WHERE t.as_of IN ({_dates_sql(dates)}) AND "
                        f"NOT EXISTS (SELECT FROM pg_temp.{stage} s WHERE {same_key} AND "
                        f"{same_row})")
            lacking = f" WHERE NOT EXISTS (SELECT FROM {target} t WHERE {same_key})"
        cur.execute(f"INSERT INTO {target} ({', '.join(names)}) "
                    f"SELECT {', '.join(staged.values())} FROM pg_temp.{stage} s{lacking}")
        inserted = max(cur.rowcount, 0)
        cur.execute(f"DROP TABLE pg_temp.{stage}")
        return inserted


# -- a folder of Parquet files -------------------------------------------------------------------

class FolderTarget:
    """A folder of hive-partitioned Parquet files, ``<kind>/scorecard=<name>/as_of=<date>/``
    (see the module). Use as a context manager (it holds an in-memory DuckDB)."""

    def __init__(self, root: Path):
        self.root = root
        self._con: duckdb.DuckDBPyConnection | None = None

    def describe(self) -> str:
        return str(self.root)

    def __enter__(self) -> FolderTarget:
        if self.root.exists() and not self.root.is_dir():
            raise OutputError(f"{self.root}: is a file, not a folder",
                              hint="give a folder (it is created when missing), or --out FILE "
                                   "for one file")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_fault(self.root / "x", exc) from None
        self._con = duckdb.connect()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def write(self, kind: str, scorecard: str, dates: list[date], table: pa.Table) -> Written:
        """Replace the date folders of ``dates`` under ``<kind>/scorecard=<scorecard>/`` with
        ``table``'s rows (a date without rows loses its folder)."""
        base = self.root / kind / f"scorecard={scorecard}"
        staging = self.root / f".staging-{uuid.uuid4().hex}"
        try:
            if table.num_rows:
                self._con.register("_rows", table)
                path = str(staging).replace("'", "''")
                try:
                    self._con.execute(
                        "COPY (SELECT * EXCLUDE (scorecard) FROM _rows) "
                        f"TO '{path}' (FORMAT parquet, PARTITION_BY (as_of), "
                        "FILENAME_PATTERN 'part-{i}')")
                finally:
                    self._con.unregister("_rows")
            base.mkdir(parents=True, exist_ok=True)
            for day in dates:
                _replace(staging / f"as_of={day.isoformat()}",
                         base / f"as_of={day.isoformat()}")
        except duckdb.IOException as exc:
            raise output_fault(staging, OSError(str(exc))) from None
        except OSError as exc:
            raise output_fault(Path(exc.filename or base), exc) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return Written(f"{kind}/scorecard={scorecard}", list(dates), table.num_rows)


def _replace(new: Path, dest: Path) -> None:
    """Make folder ``dest`` hold what ``new`` holds (nothing: ``dest`` goes), each file put in
    place with one rename, so a reader sees the old file or the new one, never part of one."""
    if not new.is_dir():
        shutil.rmtree(dest, ignore_errors=True)
        return
    if not dest.exists():
        new.rename(dest)
        return
    names = set()
    for f in new.iterdir():
        os.replace(f, dest / f.name)
        names.add(f.name)
    for f in dest.iterdir():
        if f.name not in names:
            f.unlink()

"""Pydantic models of ``healthscore.yaml``: the one source of truth for workspace settings.

The models validate the YAML, produce the JSON Schema and the reference in docs/workspace.md.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator, model_validator

from healthscore.config.alerts import AlertsConfig
from healthscore.config.base import _Model
from healthscore.config.channels import _ENV_NAME
from healthscore.config.engine import EngineConfig
from healthscore.schemas import TABLES

FORMATS = ("csv", "parquet", "jsonl")
EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
}
SPECIAL_FORMATS = ("iso", "epoch_s", "epoch_ms", "auto")
Scalar = str | int | float | bool | None


def _check_timezone(tz: str | None) -> str | None:
    if tz is None:
        return tz
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}; use an IANA name such as UTC or "
                         "Europe/Berlin") from None
    return tz


#: The common spellings of date parts (spreadsheets, Java, moment.js) and their strptime codes.
_SPELLED = {"YYYY": "%Y", "yyyy": "%Y", "YY": "%y", "yy": "%y", "MM": "%m", "M": "%m",
            "DD": "%d", "dd": "%d", "D": "%d", "d": "%d", "HH": "%H", "H": "%H", "hh": "%H",
            "mm": "%M", "ss": "%S"}
_SPELLED_RE = re.compile("|".join(sorted(_SPELLED, key=len, reverse=True)))


def strptime_format(value: str) -> str:
    """A date format as strptime wants it: ``MM/DD/YYYY`` becomes ``%m/%d/%Y``; a format
    with ``%`` codes, or a special one (``iso``, ``epoch_ms`` …), is left as it is."""
    if "%" in value or value in SPECIAL_FORMATS:
        return value
    converted = _SPELLED_RE.sub(lambda m: _SPELLED[m.group(0)], value)
    if converted == value or re.search(r"[A-SU-Za-z]", re.sub(r"%[A-Za-z]", "", converted)):
        raise ValueError(f"format {value!r} is neither a strptime format (`%m/%d/%Y`) nor a "
                         "spelling like MM/DD/YYYY, nor iso, epoch_s or epoch_ms")
    return converted


class ColumnMap(_Model):
    """Where a canonical column's values come from in a source."""

    column: str | None = Field(
        None, description="Source column name; for JSON a dotted path into nested objects "
        "(`organization.external_id`).")
    value: Scalar = Field(
        None, description="A constant for every row, when the source has no such column "
        "(e.g. `kind: {value: nps}`).")
    format: str | list[str] | None = Field(
        None, description="For dates and timestamps: a strptime format such as `%m/%d/%Y` (or a "
        "list tried in order), the common spelling of one (`MM/DD/YYYY`, `DD.MM.YYYY HH:mm`: "
        "YYYY YY MM M DD D HH H mm ss, MM the month, mm minutes), or `iso`, `epoch_s`, "
        "`epoch_ms`. Default: ISO 8601 or Unix epoch digits.")
    map: dict[str, Scalar] | None = Field(
        None, description="Source value → canonical value, applied before type parsing "
        "(`{good: 5, bad: 1}`); map a value to an empty string to mean 'no value'. Values not "
        "listed pass through unchanged.")
    default: Scalar = Field(None, description="Value used where the source value is empty.")
    max_length: int | None = Field(
        None, gt=0, description="The most characters a text or JSON value may have; a longer "
        "one quarantines its row (`value is N characters, longer than the limit of M`). "
        "Default: the canonical column's limit in docs/data.md (1,000 for names and ids, "
        "10,000 for comments, 100,000 for JSON).")
    on_error: Literal["null", "reject"] = Field(
        "null", description="An optional column's value that cannot be read (not a number, "
        "not one of the allowed values, out of range): `null` leaves it empty and keeps the "
        "row (counted in the ingest summary); `reject` quarantines the row. Required columns "
        "always reject.")

    @field_validator("format")
    @classmethod
    def _strptime(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list):
            return [strptime_format(v) for v in value]
        return None if value is None else strptime_format(value)

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnMap:
        if self.column is None and self.value is None:
            raise ValueError("give either `column` (a source column) or `value` (a constant)")
        if self.column is not None and self.value is not None:
            raise ValueError("give `column` or `value`, not both")
        return self


class CsvOptions(_Model):
    """How to read CSV files."""

    delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator.")
    quote: str = Field('"', min_length=1, max_length=1, description="Quote character.")
    encoding: str = Field(
        "utf-8", description="Text encoding of the files: utf-8 (default), latin-1, cp1252, "
        "utf-16, or any other Python codec name. A value that is not valid in it quarantines "
        "its row with the column and a hint to set this.")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}; use e.g. utf-8, latin-1, cp1252 or "
                             "utf-16") from None
        return value
    null_values: list[str] = Field(
        default_factory=lambda: ["", "NULL", "null", "N/A", "n/a", "NA", "-"],
        description="Cell texts read as empty.")


#: A table name as SQL writes it: one to three dot-separated parts (database, schema,
#: table), each a plain name (case folded by the database, as in its own console) or a
#: double-quoted one. Nothing else, so a name can never carry SQL of its own.
_SQL_NAME = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")'
_TABLE_NAME = re.compile(rf"^{_SQL_NAME}(?:\.{_SQL_NAME}){{0,2}}$")
_COLUMN_NAME = re.compile(rf"^{_SQL_NAME}$")
#: How a database URL starts: its scheme.
URL_SCHEME = r"^[A-Za-z][A-Za-z0-9+.-]*://"
#: What each of these keys of a database source looks like, and what is said when it does not
#: (never the URL itself: it may hold a password).
_SHAPES = {
    "url": (re.compile(URL_SCHEME), "not a database URL: it starts with "
            "a scheme, as in `postgresql://user@host:5432/crm` or `sqlite:///data/crm.db`"),
    "url_env": (re.compile(_ENV_NAME), "{value!r} is not an environment variable name"),
    "table": (_TABLE_NAME, "{value!r} is not a table name (`accounts`, `public.accounts`, "
              "`\"My Table\"`); to read anything else, write a `query`"),
    "cursor": (_COLUMN_NAME, "{value!r} is not a column name (`updated_at`, `\"Updated At\"`); "
               "name it in a `query` if need be"),
}


class DatabaseSource(_Model):
    """A table or query read in place from a database: PostgreSQL, or any SQLAlchemy reads."""

    url: str | None = Field(
        None, description="The database's URL: `postgresql://user@host:5432/crm` (read "
        "with ADBC, Arrow all the way), or any other URL SQLAlchemy reads "
        "(`sqlite:///data/crm.db`, relative to the workspace folder; "
        "`mysql+pymysql://…`, its driver installed). Give this or `url_env`; a password "
        "written here sits in the file, so prefer `url_env` for one.")
    url_env: str | None = Field(
        None, description="The environment variable holding the URL (`CRM_DB_URL`), read "
        "at each ingest, so no password sits in the file.")
    table: str | None = Field(
        None, description="The table (or view) to read: `accounts`, `public.accounts`, "
        "`\"Mixed Case\"`. Give this or `query`.")
    query: str | None = Field(
        None, description="A SELECT whose rows are the source's rows (joins, filters, "
        "casts). Give this or `table`.")
    cursor: str | None = Field(
        None, description="A column that grows as rows are added or changed (`updated_at`, "
        "an increasing id): each ingest reads only the rows whose value is at or after the "
        "largest one read before (rows read then are not read twice). Without it, every "
        "ingest reads every row. `ingest --full` reads every row anyway.")

    @field_validator("url", "url_env", "table", "cursor")
    @classmethod
    def _shape(cls, value: str | None, info: ValidationInfo) -> str | None:
        pattern, message = _SHAPES[info.field_name]
        if value is not None and not pattern.match(value):
            raise ValueError(message.format(value=value))
        return value

    @model_validator(mode="after")
    def _one_each(self) -> DatabaseSource:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give `url` (the database's URL) or `url_env` (the environment "
                             "variable holding it), one of them")
        if (self.table is None) == (self.query is None):
            raise ValueError("give `table` (a table to read) or `query` (a SELECT), one of "
                             "them")
        return self


class Source(_Model):
    """One source: files of one format, or a database table or query, for one canonical table."""

    table: Literal[tuple(TABLES)] = Field(  # type: ignore[valid-type]
        description="The canonical table this source feeds (see docs/data.md).")
    path: str | list[str] | None = Field(
        None, description="File, glob (`data/events/*.parquet`) or list of them, relative to "
        "the workspace folder. Give this or `database`.")
    database: DatabaseSource | None = Field(
        None, description="Read a table or query of a database in place instead of files "
        "(docs/sources.md#databases). Give this or `path`.")
    format: Literal[FORMATS] | None = Field(  # type: ignore[valid-type]
        None, description="csv, parquet or jsonl; by default from the file extension.")
    csv: CsvOptions = Field(default_factory=CsvOptions, description="CSV reading options.")
    decimal: Literal[".", ","] = Field(
        ".", description="Decimal mark of numbers written as text (`1.234,50` needs `,`).")
    timezone: str | None = Field(
        None, description="Time zone of timestamps without an offset; default: the workspace's.")
    valid_from: ColumnMap | None = Field(
        None, description="State tables only: the column saying from when each row's values "
        "hold (e.g. a CRM snapshot date). Default: the moment of ingest.")
    max_rejected: float = Field(
        0.1, ge=0, le=1, description="The share of a source's rows that may be rejected before "
        "the ingest fails (exit code 1, after loading the accepted rows; `--strict` loads "
        "nothing when any row is rejected). 0.1 = 10 %.")
    duplicates: Literal["drop", "keep"] = Field(
        "drop", description="Event tables: what exact duplicate rows within one file are — "
        "`drop`: the same event sent twice (loaded once, counted in the ingest summary); "
        "`keep`: distinct events that look alike (two equal purchases). Rows with an "
        "`event_id` are told apart by it either way.")
    columns: dict[str, Annotated[ColumnMap | str, Field(union_mode="left_to_right")]] = Field(
        default_factory=dict,
        description="Canonical column → source column name (or a ColumnMap). A canonical column "
        "with no entry is read from a source column of the same name, if there is one.")

    _check_tz = field_validator("timezone")(classmethod(lambda cls, v: _check_timezone(v)))

    @field_validator("columns", mode="before")
    @classmethod
    def _strings_to_maps(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({"column": v} if isinstance(v, str) else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _files_or_database(self) -> Source:
        if self.path is None and self.database is None:
            raise ValueError("[at table] a source reads files (`path`) or a database table or "
                             "query (`database`): give one of them")
        if self.path is not None and self.database is not None:
            raise ValueError("[at database] give `path` (files) or `database` (a table or "
                             "query), not both")
        if self.database is not None and self.format is not None:
            raise ValueError("[at format] `format` is for files; a database source's columns "
                             "come typed from the database")
        return self

    @model_validator(mode="after")
    def _known_columns(self) -> Source:
        table = TABLES[self.table]
        unknown = [c for c in self.columns if c not in table.column_names]
        if unknown:
            raise ValueError(
                f"[at columns.{unknown[0]}] {', '.join(map(repr, unknown))} not a column of "
                f"table {self.table!r}; its columns are: {', '.join(table.column_names)}")
        if self.valid_from is not None and table.kind != "state":
            raise ValueError(f"[at valid_from] `valid_from` only applies to state tables "
                             f"({', '.join(t.name for t in TABLES.values() if t.kind == 'state')})")
        return self

    @property
    def paths(self) -> list[str]:
        """The file patterns (none for a database source)."""
        if self.path is None:
            return []
        return [self.path] if isinstance(self.path, str) else list(self.path)

    def column_map(self, name: str) -> ColumnMap:
        """The mapping of canonical column ``name``: explicit, or the same-named source column."""
        found = self.columns.get(name)
        return found if isinstance(found, ColumnMap) else ColumnMap(column=name)


class ApiConfig(_Model):
    """The REST API served by `healthscore serve` (docs/api.md)."""

    read_requires_token: bool = Field(
        False, description="Require a token (scope `read` or `write`) for reads too: API reads "
        "need `Authorization: Bearer`, and the dashboard's pages ask to sign in with a token "
        "(docs/api.md#signing-in-to-the-pages). By default reads are open and only writes need "
        "a token (`healthscore token create`).")
    max_body_mb: float = Field(
        10.0, gt=0, le=1024, description="Largest request body accepted (MiB); larger posts "
        "are refused with 413 while they are read. Split bigger ingests into batches.")


class ServeConfig(_Model):
    """The dashboard and API server (`healthscore serve`, docs/security.md)."""

    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"], min_length=1,
        description="Host names the server answers to (the request's Host header, port "
        "aside); any other gets 400, so a web page that rebinds its own domain to this "
        "machine cannot read it. Add the name a reverse proxy forwards (`health.acme.com`); "
        "`*.acme.com` matches subdomains. Writes from a browser must also come from one of "
        "them (their Origin).")
    public_url: str | None = Field(
        None, pattern=r"^https?://[^\s]+$", description="The dashboard's address as its "
        "users reach it (`https://health.acme.com`): alert messages link to the account's "
        "page under it. Without it they carry no link.")
    https: bool = Field(
        False, description="The pages are reached over HTTPS through a TLS proxy that talks "
        "plain HTTP to the server: mark the sign-in and form cookies `Secure` anyway, so a "
        "browser never sends them over plain HTTP.")


class WorkspaceConfig(_Model):
    """``healthscore.yaml``: the workspace's name, store and sources."""

    name: str = Field(description="Workspace name, shown in reports.")
    timezone: str = Field("UTC", description="Time zone of timestamps written without an offset.")
    store: str = Field("healthscore.duckdb",
                       description="The DuckDB store file, relative to the workspace folder.")
    memory_limit: str = Field(
        "6GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="Most memory DuckDB may use for the store (e.g. `6GB`, `16GiB`); beyond it "
        "large ingests and backfills spill to a temporary folder next to the store.")
    sources: dict[str, Source] = Field(
        default_factory=dict, description="Named sources; each feeds one canonical table. "
        "Several sources may feed the same table.")
    scorecards: list[str] = Field(
        default_factory=lambda: ["scorecards/*.yaml"],
        description="Scorecard files or globs, relative to the workspace folder "
        "(docs/scorecards.md).")
    api: ApiConfig = Field(default_factory=ApiConfig, description="REST API settings.")
    serve: ServeConfig = Field(default_factory=ServeConfig,
                               description="Server settings: the host names it answers to.")
    alerts: AlertsConfig = Field(default_factory=AlertsConfig,
                                 description="Alert rules, channels and routing "
                                 "(docs/alerts.md).")
    engine: EngineConfig = Field(default_factory=EngineConfig,
                                 description="Where the measures are computed: the store "
                                 "(DuckDB, the default) or Spark (docs/scale.md).")

    _check_tz = field_validator("timezone")(classmethod(lambda cls, v: _check_timezone(v)))

    @model_validator(mode="after")
    def _accounts_source(self) -> WorkspaceConfig:
        if self.sources and not any(s.table == "accounts" for s in self.sources.values()):
            raise ValueError("no source feeds the `accounts` table; every workspace needs one "
                             "(other tables are optional)")
        return self

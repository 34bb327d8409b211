"""JSON records (a REST payload) into a canonical table, through the file ingest's machinery.

A batch of records is staged, parsed and validated by the same SQL as a JSON-lines file
(``sources.parse``), checked for unknown accounts and duplicates the same way, written with
:meth:`Store.write` and recorded as a run; rejected rows go to the ``quarantine`` table under
source ``api`` with the batch's label as their file. Valid rows are kept; event tables are
content-hashed, so posting the same records again adds nothing, and a re-posted batch replaces
its own quarantine rows instead of repeating them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from healthscore.config.models import Source
from healthscore.errors import QuarantineError, SchemaError
from healthscore.schemas import TABLES, Table
from healthscore.sources.files import RawRelation
from healthscore.sources.ingest import quarantine_key, stage
from healthscore.sources.jsonl import register_json_lines
from healthscore.sources.parse import ParseContext, ident, lit, parse_query
from healthscore.store import Store, WriteCounts

#: The ``source`` of rows and quarantine entries written through the API.
API_SOURCE = "api"
#: Most per-row problems returned in a report (all of them are in the quarantine).
MAX_PROBLEMS = 1000


@dataclass
class RecordsReport:
    """What a batch of records did: counts, the rows' problems, and the run that wrote it."""

    run_id: int
    table: str
    label: str
    rows_read: int = 0
    rows_rejected: int = 0
    #: records of an event already in the batch (the same event_id, or the same content)
    duplicates: int = 0
    #: optional values that could not be read, left empty (the records kept): row, column,
    #: value, reason
    dropped: list[dict] = field(default_factory=list)
    written: WriteCounts = field(default_factory=WriteCounts)
    problems: list[dict] = field(default_factory=list)
    problem_count: int = 0
    ignored_fields: list[str] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return self.rows_read - self.rows_rejected - self.duplicates

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "table": self.table, "batch": self.label,
                "rows_read": self.rows_read, "rows_loaded": self.rows_loaded,
                "rows_rejected": self.rows_rejected, "duplicates": self.duplicates,
                "values_dropped": len(self.dropped), "dropped": self.dropped[:MAX_PROBLEMS],
                "inserted": self.written.inserted,
                "updated": self.written.updated, "unchanged": self.written.unchanged,
                "ignored_fields": self.ignored_fields}


def parse_json_array(body: bytes) -> list[str]:
    """Each element of a JSON array (or a single object) as its own JSON text.

    Raises
    ------
    SchemaError
        The body is not JSON, or not an array or object (the message gives line and column).
    """
    try:
        data = json.loads(body)
    except UnicodeDecodeError as exc:
        raise SchemaError(f"the body is not UTF-8 text ({exc.reason} at byte {exc.start})",
                          hint="send UTF-8 encoded JSON") from None
    except json.JSONDecodeError as exc:
        raise SchemaError(f"the body is not valid JSON: {exc.msg} at line {exc.lineno}, "
                          f"column {exc.colno}",
                          hint="send a JSON array of objects, or JSON lines with "
                               "Content-Type: application/x-ndjson") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise SchemaError(f"the body is a JSON {type(data).__name__}, not an array of records",
                          hint="send [{...}, {...}] or one object per line (JSON lines)")
    return [json.dumps(item, ensure_ascii=False) for item in data]


def split_json_lines(body: bytes) -> list[str]:
    """The lines of a JSON-lines body (line numbers are list positions + 1)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"the body is not UTF-8 text ({exc.reason} at byte {exc.start})",
                          hint="send UTF-8 encoded JSON lines") from None
    return text.removeprefix("\ufeff").split("\n")


def batch_label(table: str, texts: list[str]) -> str:
    """A stable name for a batch (its table and a hash of its records), shown as the 'file'
    of its quarantined rows: posting the same batch again replaces them."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\n")
    return f"api:{table}:{h.hexdigest()[:12]}"


def ingest_records(store: Store, table_name: str, texts: list[str], *, now: datetime,
                   timezone: str = "UTC", strict: bool = False, kind: str = "api-ingest",
                   detail: dict | None = None) -> RecordsReport:
    """Validate JSON records for ``table_name`` and write the valid ones, in one transaction.

    Parameters
    ----------
    store
        An open, writable store.
    table_name
        A canonical table (docs/data.md). Fields are read by canonical column name.
    texts
        One JSON text per record (row ``i + 1``); blank texts are skipped, keeping numbering.
    now
        The moment of ingest (naive UTC): later event times are rejected.
    timezone
        Time zone of timestamps without an offset.
    strict
        Write nothing if any row is rejected (raises :class:`QuarantineError`).
    kind, detail
        The ``runs`` row's kind and extra detail (e.g. the token that posted it).

    Returns
    -------
    RecordsReport
    """
    if table_name not in TABLES:
        raise SchemaError(f"no canonical table {table_name!r}",
                          hint="tables: " + ", ".join(TABLES))
    table = TABLES[table_name]
    label = batch_label(table_name, texts)
    with store.recorded(kind, now) as run:
        report = RecordsReport(run_id=run.run_id, table=table_name, label=label)
        run.detail = {**(detail or {}), "table": table_name, "batch": label}
        with store.transaction():
            _load(store, table, texts, label, report, now=now, timezone=timezone)
            if strict and report.rows_rejected:
                raise QuarantineError(
                    f"{report.rows_rejected} row(s) rejected; strict: nothing was written",
                    report=report, hint="fix the rows listed, or post without strict to load "
                                        "the valid rows and quarantine the rest")
        run.rows_loaded, run.rows_rejected = report.rows_loaded, report.rows_rejected
        run.detail = {**(detail or {}), **report.as_dict()}
    return report


def _load(store: Store, table: Table, texts: list[str], label: str, report: RecordsReport, *,
          now: datetime, timezone: str) -> None:
    con = store.con
    n = len(texts)
    lines = pa.table({"_file": pa.array([label] * n, pa.string()),
                      "_row": pa.array(range(1, n + 1), pa.int64()),
                      "_line": pa.array(texts, pa.string())})
    view = "_api_raw"
    found = register_json_lines(con, lines, view)
    report.ignored_fields = sorted(k for k in found if k not in table.column_names)
    # Every canonical column is looked up in every record, so a field missing from all of
    # them is reported per row ("required value is empty"), not as a refused batch.
    rel = RawRelation(view=view, format="jsonl", json=True,
                      columns={**found, **{c: "VARCHAR" for c in table.column_names}})
    source = Source(table=table.name, path=label, format="jsonl")
    ctx = ParseContext(timezone=timezone, decimal=".",
                       now_sql=f"TIMESTAMP {lit(now.isoformat(sep=' '))}")
    try:
        stage(store, table, [parse_query(table, API_SOURCE, source, rel, ctx,
                                          source_order=0)], now=now)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {view}")
    try:
        _write(store, table, label, report, now=now)
    finally:
        con.execute("DROP TABLE IF EXISTS _stage")


def _write(store: Store, table: Table, label: str, report: RecordsReport, *,
           now: datetime) -> None:
    con = store.con
    report.rows_read, report.rows_rejected, report.duplicates = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE _problems IS NOT NULL), "
        "count(*) FILTER (WHERE _dropped IS NOT NULL) FROM _stage").fetchall()[0]
    report.dropped = [
        {"row": r, "column": c, "value": v, "reason": why} for r, c, v, why in con.execute(
            "SELECT _row, p.column, p.value, p.reason FROM (SELECT _row, unnest(_nulled) AS p "
            "FROM _stage WHERE _nulled IS NOT NULL AND _problems IS NULL AND _dropped IS NULL) "
            "ORDER BY _row, p.column").fetchall()]
    cols = ", ".join(ident(c) for c in table.column_names)
    extra = ", _known_from" if table.kind == "state" else ""
    con.execute(f"CREATE OR REPLACE TEMP VIEW _api_valid AS SELECT {cols}, _hash, _source{extra}"
                f" FROM _stage WHERE _problems IS NULL AND _dropped IS NULL")
    try:
        report.written = store.write(table, "_api_valid", run_id=report.run_id,
                                     ingested_at=now)
    finally:
        con.execute("DROP VIEW _api_valid")
    problems = (
        f"SELECT {report.run_id} AS run_id, _source AS source, {lit(table.name)} AS \"table\", "
        f"_file AS file, _row AS \"row\", p.column AS \"column\", p.value AS value, "
        f"replace(p.reason, '; set `format:` in the mapping', '') AS reason, "
        f"TIMESTAMP {lit(now.isoformat(sep=' '))} AS quarantined_at, \"key\" "
        f"FROM (SELECT _source, _file, _row, {quarantine_key(table)} AS \"key\", "
        f"unnest(_problems) AS p FROM _stage WHERE _problems IS NOT NULL)")
    con.execute(f"CREATE OR REPLACE TEMP VIEW _api_problems AS {problems}")
    try:
        store.replace_quarantine(API_SOURCE, [label], "_api_problems")
        report.problem_count = con.execute("SELECT count(*) FROM _api_problems").fetchall()[0][0]
        rows = con.execute(
            "SELECT \"row\", \"column\", value, reason FROM _api_problems "
            f"ORDER BY \"row\", \"column\" LIMIT {MAX_PROBLEMS}").fetchall()
    finally:
        con.execute("DROP VIEW _api_problems")
    report.problems = [{"row": r, "column": c, "value": v, "reason": why}
                       for r, c, v, why in rows]

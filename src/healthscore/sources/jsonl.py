"""JSON-lines files: each non-blank line one JSON object, read in batches with its line number,
typed later by the same SQL as CSV (:mod:`healthscore.sources.parse`). A line that is not UTF-8,
too long, not valid JSON or not an object is kept with the reason, for the quarantine.

Also :func:`register_json_lines`, which the REST API's ingest of records uses for bodies.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator

import duckdb
import pyarrow as pa

from healthscore.sources.files import (
    BATCH_ROWS,
    MAX_RECORD_BYTES,
    VALUE_SHOWN,
    FileSkipped,
    RawRelation,
    SourceFile,
    _junk,
    _JunkMeter,
    shown,
)


def read_json_lines(con: duckdb.DuckDBPyConnection, files: list[SourceFile], view: str,
                    rel: RawRelation) -> None:
    """Load the lines of ``files`` into temp table ``view`` and record in ``rel`` the rows,
    the files left out (with the reason) or without rows, and the keys found."""
    _json_create(con, view)
    for f in files:
        try:
            n = 0
            for batch in _jsonl_batches(f):
                con.register("_hs_batch", batch)
                try:
                    _json_insert(con, view, "_hs_batch")
                finally:
                    con.unregister("_hs_batch")
                n += batch.num_rows
        except FileSkipped as exc:
            con.execute(f"DELETE FROM {view} WHERE _file = ?", [f.display])
            rel.skipped.append((f, exc.reason))
            continue
        rel.rows += n
        if not n:
            rel.notes.append((f, "no rows (the file is empty)" if f.size == 0 else
                              "no rows (blank lines only)"))
    rel.columns = _json_keys(con, view)


def _jsonl_batches(file: SourceFile) -> Iterator[pa.Table]:
    """The non-blank lines of a JSON-lines file with their numbers; a line that is not UTF-8
    or longer than :data:`MAX_RECORD_BYTES` carries its reason in ``_bad``."""
    rows: list[int] = []
    lines: list[str] = []
    bads: list[str | None] = []
    number = 0
    junk = _JunkMeter()
    try:
        with open(file.path, "rb") as fh:
            while True:
                raw = fh.readline(MAX_RECORD_BYTES + 1)
                if not raw:
                    break
                number += 1
                bad = None
                if len(raw) > MAX_RECORD_BYTES and not raw.endswith(b"\n"):
                    total = len(raw)
                    more = raw
                    while more and not more.endswith(b"\n"):
                        more = fh.readline(MAX_RECORD_BYTES)
                        total += len(more)
                    raw = raw[:VALUE_SHOWN * 4]
                    bad = (f"the line is {total:,} bytes long, longer than the limit of "
                           f"{MAX_RECORD_BYTES:,}")
                raw = raw.rstrip(b"\r\n")
                if number == 1:
                    raw = raw.removeprefix(codecs.BOM_UTF8)
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    text = raw.decode("utf-8", "backslashreplace")
                    bad = bad or (f"not valid UTF-8 text (byte 0x{raw[exc.start]:02X} at "
                                  f"character {exc.start + 1}); JSON lines are UTF-8")
                # A line that does not even start like an object counts towards junk.
                if junk.junk(not bad and text.lstrip().startswith("{")):
                    raise FileSkipped(_junk(number, "line", bad or (
                        "a line not starting with {"), "JSON lines hold one JSON object per "
                        "line, in UTF-8"))
                rows.append(number)
                lines.append(shown(text) if bad else text)
                bads.append(bad)
                if len(rows) >= BATCH_ROWS:
                    yield _json_table(file, rows, lines, bads)
                    rows, lines, bads = [], [], []
    except OSError as exc:
        raise FileSkipped(f"cannot be read ({exc})") from None
    if rows:
        yield _json_table(file, rows, lines, bads)


def _json_table(file: SourceFile, rows: list[int], lines: list[str], bads: list[str | None]
                ) -> pa.Table:
    return pa.table({"_file": pa.array([file.display] * len(rows), pa.string()),
                     "_row": pa.array(rows, pa.int64()), "_line": pa.array(lines, pa.string()),
                     "_bad": pa.array(bads, pa.string())})


#: A JSON line's verdict: NULL when it is a JSON object, else why not.
_JSON_WHY = ("CASE WHEN _bad IS NOT NULL THEN _bad WHEN NOT json_valid(_line) THEN "
             "'not valid JSON' WHEN json_type(_line::JSON) <> 'OBJECT' THEN "
             "'not a JSON object (a JSON ' || lower(json_type(_line::JSON)) || ')' END")


def _json_insert(con: duckdb.DuckDBPyConnection, view: str, source: str) -> None:
    con.execute(
        f"INSERT INTO {view} SELECT _file, _row, CASE WHEN why IS NULL THEN _line ELSE "
        f"left(_line, {VALUE_SHOWN}) END, why IS NULL, why FROM (SELECT *, {_JSON_WHY} AS why "
        f"FROM {source} WHERE trim(_line) <> '')")


def _json_create(con: duckdb.DuckDBPyConnection, view: str) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {view} (_file VARCHAR, _row BIGINT, "
                "_line VARCHAR, _json_ok BOOLEAN, _json_why VARCHAR)")


def _json_keys(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    keys = con.execute(
        f"SELECT DISTINCT unnest(json_keys(_line::JSON)) FROM {view} WHERE _json_ok"
    ).fetchall()
    return {k[0]: "VARCHAR" for k in keys}


def register_json_lines(con: duckdb.DuckDBPyConnection, lines: pa.Table, view: str
                        ) -> dict[str, str]:
    """Register ``lines`` (``_file``, ``_row``, ``_line``: one JSON text each) as temp table
    ``view`` with ``_json_ok`` (the line is a JSON object) and ``_json_why`` (why not);
    blank lines are left out.

    Returns the keys found in the objects, each typed VARCHAR (values are read as text).
    """
    if "_bad" not in lines.column_names:
        lines = lines.append_column("_bad", pa.nulls(lines.num_rows, pa.string()))
    _json_create(con, view)
    con.register(f"{view}_arrow", lines)
    try:
        _json_insert(con, view, f"{view}_arrow")
    finally:
        con.unregister(f"{view}_arrow")
    return _json_keys(con, view)

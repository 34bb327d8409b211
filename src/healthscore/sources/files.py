"""Reading source files into DuckDB, streamed: CSV through Arrow, JSON lines by line
(:mod:`healthscore.sources.jsonl`), Parquet natively.

Each reader fills one relation holding the files' rows in file order with two extra columns,
``_file`` (the path as configured) and ``_row`` (1-based record number within the file; for
CSV the header is not counted, for JSON lines it is the line number).

Memory is bounded by the size of a block, not of a file: files are read in blocks of
:data:`MAX_RECORD_BYTES` and appended to a DuckDB temp table batch by batch (DuckDB spills
beyond the workspace's ``memory_limit``). A record longer than that, a value that is not text
in the source's encoding, a record with the wrong number of fields, a line that is not JSON:
each is a problem of its row, kept for the quarantine with its number. A problem of a whole
file (empty, no header, not Parquet) skips that file with a reason (:attr:`RawRelation.skipped`)
and the other files load.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from healthscore.config.models import EXTENSIONS, CsvOptions, Source
from healthscore.errors import SourceError

#: The longest CSV record or JSON line read (bytes; characters for other encodings): a longer
#: one is quarantined with its first characters.
MAX_RECORD_BYTES = 8 << 20
#: Arrow's block size: a CSV with a record longer than this is read line by line instead.
ARROW_BLOCK = 1 << 20
#: The most characters of a rejected value kept in the quarantine (the rest is cut, marked).
VALUE_SHOWN = 1000
#: The most columns a CSV header may have.
MAX_COLUMNS = 2000
#: A file where 9 of 10 records in a stretch of this many are unreadable (wrong field count,
#: not text in its encoding, too long; for JSON lines: not an object) is not the format it
#: claims: it is skipped as a whole instead of filling the quarantine with junk.
JUNK_RUN = 1000
#: Rows per batch appended to DuckDB by the line-by-line readers.
BATCH_ROWS = 16384
#: Column names the readers use themselves.
RESERVED = ("_file", "_row", "_line", "_fields", "_bad_column", "_bad_text", "_long",
            "_json_ok", "_json_why")
_LONG_MARK = "\ufffehs-long-"

# A quoted value may span lines, up to the longest record.
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_BYTES))


class FileSkipped(Exception):
    """A whole file cannot be read: it is left out (and not recorded as read), the others
    load. ``reason`` says why, for the report and the quarantine."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class SourceFile:
    """A file matched by a source, with the fingerprint used to skip unchanged files."""

    path: Path
    display: str  # path relative to the workspace, as shown in reports
    size: int
    mtime_ns: int


@dataclass
class RawRelation:
    """Rows read from some files of one source, registered in DuckDB as ``view``.

    ``columns`` maps each available source column to its DuckDB type; ``json`` means the rows
    are JSON objects in column ``_line`` and columns are reached by (dotted) path.
    ``skipped`` lists the files left out and why; ``notes`` the files read that hold no rows.
    """

    view: str
    format: str
    columns: dict[str, str] = field(default_factory=dict)
    json: bool = False
    malformed: bool = False
    per_file_columns: dict[str, set[str]] = field(default_factory=dict)
    skipped: list[tuple[SourceFile, str]] = field(default_factory=list)
    notes: list[tuple[SourceFile, str]] = field(default_factory=list)
    rows: int = 0
    #: how errors name what holds the columns ("the file(s) have: a, b")
    holder: str = "the file(s) have"

    @property
    def empty(self) -> bool:
        """No file gave a row (all of them skipped, empty or header-only)."""
        return self.rows == 0


def source_format(source: Source, path: Path) -> str:
    if source.format:
        return source.format
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise SourceError(
            f"{path}: cannot tell the file format from the extension {path.suffix!r}",
            hint="add `format: csv`, `parquet` or `jsonl` to the source in healthscore.yaml")
    return fmt


def resolve_files(root: Path, name: str, source: Source) -> list[SourceFile]:
    """The files a source's path(s) and globs match now, sorted by path."""
    found: dict[Path, str] = {}
    for pattern in source.paths:
        full = Path(pattern) if Path(pattern).is_absolute() else root / pattern
        if glob.has_magic(str(full)):
            matches = sorted(Path(p) for p in glob.glob(str(full), recursive=True))
            matches = [m for m in matches if m.is_file()]
        else:
            if not full.is_file():
                raise SourceError(
                    f"source {name!r}: file not found: {full}",
                    hint="check `path` in healthscore.yaml (relative paths start at the "
                         "workspace folder)")
            matches = [full]
        for m in matches:
            try:
                shown = str(m.relative_to(root))
            except ValueError:
                shown = str(m)
            found[m] = shown
    out = []
    for path, shown in sorted(found.items(), key=lambda kv: kv[1]):
        st = path.stat()
        out.append(SourceFile(path, shown, st.st_size, st.st_mtime_ns))
    return out


def shown(text: str, limit: int = VALUE_SHOWN) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def _encoding_hint(source_name: str, encoding: str) -> str:
    return (f"not valid {encoding} text: if the file is in another encoding, set it on the "
            f"source, e.g. `csv: {{encoding: latin-1}}` (or cp1252, utf-16) under "
            f"sources.{source_name}")


def _text_lines(fh: io.TextIOBase, marks: dict[str, tuple[str, int]]) -> Iterator[str]:
    """The lines of ``fh``, none longer than :data:`MAX_RECORD_BYTES`: a longer line is read
    to its end in pieces (and dropped as it goes) and given as a mark, its head and length
    kept in ``marks``."""
    piece = ARROW_BLOCK
    while True:
        line = fh.readline(piece)
        if not line:
            return
        if len(line) < piece or line.endswith(("\n", "\r")):
            yield line
            continue
        parts, total = [line], len(line)
        while line and not line.endswith(("\n", "\r")):
            line = fh.readline(piece)
            total += len(line)
            if total <= MAX_RECORD_BYTES:
                parts.append(line)
            elif parts:
                head, parts = parts[0][:VALUE_SHOWN], []
        if parts:
            yield "".join(parts)
            continue
        key = f"{_LONG_MARK}{len(marks)}\ufffe"
        marks[key] = (head, total)
        yield key + "\n"


def _csv_header(file: SourceFile, opts: CsvOptions, source_name: str) -> list[str]:
    """The column names of a CSV file's first non-blank line."""
    if file.size == 0:
        raise FileSkipped("the file is empty (0 bytes, not even a header row)")
    try:
        with open(file.path, encoding=opts.encoding, errors="surrogateescape",
                  newline="") as fh:
            marks: dict[str, tuple[str, int]] = {}
            first = ""
            for line in _text_lines(fh, marks):
                if line.strip():
                    first = line
                    break
    except (OSError, LookupError) as exc:
        raise FileSkipped(f"cannot be read ({exc})") from None
    if not first:
        raise FileSkipped("the file is empty (blank lines only, no header row)")
    if first.startswith(_LONG_MARK):
        raise FileSkipped(f"the header (line 1) is longer than {MAX_RECORD_BYTES:,} "
                          "characters: not a CSV file with a header row?")
    try:
        first.encode("utf-8")
    except UnicodeEncodeError:
        raise FileSkipped("the header (line 1) is " + _encoding_hint(source_name, opts.encoding)
                          ) from None
    try:
        header = next(csv.reader(io.StringIO(first), delimiter=opts.delimiter,
                                 quotechar=opts.quote))
    except (csv.Error, StopIteration) as exc:
        raise FileSkipped(f"cannot read the header row ({exc})") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    if len(header) > MAX_COLUMNS:
        raise FileSkipped(f"the header has {len(header):,} columns, more than {MAX_COLUMNS:,}: "
                          f"is {opts.delimiter!r} the right delimiter (`csv: {{delimiter: …}}`)?")
    problem = column_names_problem(header, "the header", "rename them in the export")
    if problem:
        raise FileSkipped(problem)
    return [h or f"column{i + 1}" for i, h in enumerate(header)]


def column_names_problem(names: list[str], where: str, fix: str) -> str | None:
    """Why ``names`` cannot be a source's columns — one repeated, or one healthscore uses
    itself — or None when they can; ``where`` has them, ``fix`` says what to do."""
    # DuckDB's column names ignore case: `ID` and `id` are the same column.
    lower = [n.lower() for n in names]
    dupes = sorted({n for n in names if lower.count(n.lower()) > 1})
    if dupes:
        return (f"{where} repeats column(s) {', '.join(map(repr, dupes))}: {fix} so each "
                "column name is unique")
    reserved = [n for n in names if n.lower() in RESERVED]
    if reserved:
        return (f"{where} has column(s) {', '.join(map(repr, reserved))}, names healthscore "
                f"uses itself: {fix}")
    return None


class _Fallback(Exception):
    """Arrow met a record it cannot keep with its number: read the file line by line."""


def _csv_arrow_batches(file: SourceFile, opts: CsvOptions, header: list[str]
                       ) -> Iterator[pa.RecordBatch]:
    """The records of a well-formed CSV file, every column as bytes (so text that is not
    valid in the encoding is found per value, later). Raises :class:`_Fallback` at the first
    record Arrow cannot keep with its number (wrong field count, too long, not decodable)."""
    try:
        reader = pacsv.open_csv(
            file.path,
            read_options=pacsv.ReadOptions(encoding=opts.encoding, column_names=header,
                                           skip_rows=1, block_size=ARROW_BLOCK,
                                           use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=opts.delimiter, quote_char=opts.quote,
                                             newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.binary() for h in header},
                null_values=opts.null_values, strings_can_be_null=True,
                quoted_strings_can_be_null=True))
        yield from reader
    except (pa.ArrowException, UnicodeError, ValueError):
        raise _Fallback from None


def _csv_python_batches(file: SourceFile, opts: CsvOptions, header: list[str]
                        ) -> Iterator[pa.Table]:
    """Every record of a CSV file with its number, read line by line: a record with the
    wrong number of fields, an over-long line or a value not valid in the encoding is kept
    as a problem of its row (``_fields``, ``_long``, ``_bad_column``, ``_bad_text``)."""
    nulls = set(opts.null_values)
    width = len(header)
    marks: dict[str, tuple[str, int]] = {}

    def empty() -> dict[str, list]:
        return {k: [] for k in (*header, "_fields", "_bad_column", "_bad_text", "_long")}

    out = empty()
    n = 0
    junk = _JunkMeter()
    problem = ""
    with open(file.path, encoding=opts.encoding, errors="surrogateescape", newline="") as fh:
        records = csv.reader(_text_lines(fh, marks), delimiter=opts.delimiter,
                             quotechar=opts.quote)
        try:
            next(records, None)  # the header
            for record in records:
                if not record:
                    continue
                n += 1
                fields = bad_col = bad_text = long = None
                long_mark = next((v for v in record if _LONG_MARK in v), None)
                if long_mark is not None:
                    key = long_mark[long_mark.index(_LONG_MARK):]
                    key = key[:key.index("\ufffe", 1) + 1] if "\ufffe" in key[1:] else key
                    head, long = marks.pop(key, ("", MAX_RECORD_BYTES))
                    bad_text = _escape(head)
                elif len(record) != width:
                    fields = len(record)
                    bad_text = shown(_escape(opts.delimiter.join(record)))
                else:
                    for name, value in zip(header, record, strict=True):
                        try:
                            value.encode("utf-8")
                        except UnicodeEncodeError:
                            bad_col, bad_text = name, shown(_escape(value))
                            break
                ok = fields is None and long is None and bad_col is None
                if not ok:
                    problem = (f"expected {width} fields, found {fields}" if fields is not None
                               else f"a line of {long:,} characters" if long is not None else
                               f"not valid {opts.encoding} text in column {bad_col!r}")
                if junk.junk(ok):
                    raise FileSkipped(_junk(n, "record", problem,
                        f"check the delimiter {opts.delimiter!r}, quote {opts.quote!r} and "
                        f"encoding {opts.encoding!r} (`csv:` options of the source)"))
                for i, name in enumerate(header):
                    value = record[i] if ok else None
                    out[name].append(None if value is None or value in nulls else value)
                out["_fields"].append(fields)
                out["_bad_column"].append(bad_col)
                out["_bad_text"].append(bad_text)
                out["_long"].append(long)
                if len(out["_fields"]) >= BATCH_ROWS:
                    yield _python_table(out, header)
                    out = empty()
        except csv.Error as exc:
            raise FileSkipped(f"cannot be read as CSV after record {n:,} ({exc}; an unclosed "
                              f"quote {opts.quote!r}?)") from None
        except (OSError, LookupError) as exc:
            raise FileSkipped(f"cannot be read ({exc})") from None
    if out["_fields"]:
        yield _python_table(out, header)


class _JunkMeter:
    """Counts unreadable records in stretches of :data:`JUNK_RUN`."""

    def __init__(self) -> None:
        self.seen = self.bad = 0

    def junk(self, ok: bool) -> bool:
        """Count one record; True when its stretch is (mostly) junk."""
        self.seen += 1
        self.bad += not ok
        if self.seen < JUNK_RUN:
            return False
        found = self.bad * 10 >= self.seen * 9
        self.seen = self.bad = 0
        return found


def _junk(last: int, what: str, example: str, hint: str) -> str:
    return (f"at least 9 in 10 of the {JUNK_RUN:,} {what}s up to {what} {last:,} are "
            f"unreadable (e.g. {example}): not a file in the format and layout the source "
            f"expects? {hint}; nothing of it was loaded")


def _escape(text: str) -> str:
    """Text with the bytes that were not valid in its encoding shown as ``\\xE9``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _python_table(out: dict[str, list], header: list[str]) -> pa.Table:
    data = {h: pa.array(out[h], pa.string()) for h in header}
    data["_fields"] = pa.array(out["_fields"], pa.int32())
    data["_bad_column"] = pa.array(out["_bad_column"], pa.string())
    data["_bad_text"] = pa.array(out["_bad_text"], pa.string())
    data["_long"] = pa.array(out["_long"], pa.int64())
    return pa.table(data)


def _append(con: duckdb.DuckDBPyConnection, view: str, batch: pa.Table | pa.RecordBatch,
            file: SourceFile, first_row: int, header: list[str], binary: bool) -> int:
    """Append ``batch`` to ``view`` numbered from ``first_row``; bytes columns are decoded
    (a value that is not UTF-8 marks its row). Returns the number of rows."""
    n = batch.num_rows
    if not n:
        return 0
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    table = table.append_column("_row", pa.array(range(first_row, first_row + n), pa.int64()))
    con.register("_hs_batch", table)
    try:
        cols = [ident(h) for h in header]
        if binary:
            decoded = [f"try(decode({c})) AS {c}" for c in cols]
            bad = " ".join(f"WHEN {c} IS NOT NULL AND try(decode({c})) IS NULL THEN {lit(h)}"
                           for c, h in zip(cols, header, strict=True))
            text = " ".join(f"WHEN {c} IS NOT NULL AND try(decode({c})) IS NULL THEN "
                            f"left(CAST({c} AS VARCHAR), {VALUE_SHOWN})"
                            for c in cols)
            extra = (f"CASE {bad} END AS _bad_column, CASE {text} END AS _bad_text"
                     if cols else "NULL AS _bad_column, NULL AS _bad_text")
            select = ", ".join([*decoded, extra])
        else:
            select = ", ".join([*cols, "_fields", "_bad_column", "_bad_text", "_long"])
        con.execute(
            f"INSERT INTO {view} BY NAME SELECT {lit(file.display)} AS _file, "
            f"_row, {select} FROM _hs_batch")
    finally:
        con.unregister("_hs_batch")
    return n


def _load_csv(con: duckdb.DuckDBPyConnection, view: str, file: SourceFile, opts: CsvOptions,
              source_name: str, known: set[str]) -> tuple[list[str], int]:
    """Append a CSV file's records to ``view``; its header and number of records."""
    header = _csv_header(file, opts, source_name)
    for h in header:
        if h.lower() not in known:
            con.execute(f"ALTER TABLE {view} ADD COLUMN {ident(h)} VARCHAR")
            known.add(h.lower())
    n = 0
    try:
        for batch in _csv_arrow_batches(file, opts, header):
            n += _append(con, view, batch, file, n + 1, header, binary=True)
    except _Fallback:
        # Arrow drops a malformed record without its number: read this file again line by
        # line, so every record keeps its number and the bad ones go to the quarantine.
        con.execute(f"DELETE FROM {view} WHERE _file = ?", [file.display])
        n = 0
        for table in _csv_python_batches(file, opts, header):
            n += _append(con, view, table, file, n + 1, header, binary=False)
    return header, n


def read_source(con: duckdb.DuckDBPyConnection, name: str, source: Source,
                files: list[SourceFile], view: str) -> RawRelation:
    """Register the rows of ``files`` as relation ``view`` on ``con``.

    A file that cannot be read as a whole is left out and listed in ``skipped`` with its
    reason; one that holds no rows is listed in ``notes``."""
    formats = {source_format(source, f.path) for f in files}
    if len(formats) > 1:
        raise SourceError(f"source {name!r}: its files mix formats ({', '.join(sorted(formats))})",
                          hint="split them into one source per format")
    fmt = formats.pop() if formats else (source.format or "csv")
    rel = RawRelation(view=view, format=fmt, json=fmt == "jsonl")
    if fmt == "parquet":
        _read_parquet(con, files, view, rel)
    elif fmt == "jsonl":
        from healthscore.sources.jsonl import read_json_lines  # it builds on this module

        read_json_lines(con, files, view, rel)
    else:
        rel.malformed = True
        con.execute(f"CREATE OR REPLACE TEMP TABLE {view} (_file VARCHAR, _row BIGINT, "
                    "_fields INTEGER, _bad_column VARCHAR, _bad_text VARCHAR, _long BIGINT)")
        known: set[str] = set()
        for f in files:
            try:
                header, n = _load_csv(con, view, f, source.csv, name, known)
            except FileSkipped as exc:
                con.execute(f"DELETE FROM {view} WHERE _file = ?", [f.display])
                rel.skipped.append((f, exc.reason))
                continue
            rel.per_file_columns[f.display] = set(header)
            for h in header:
                rel.columns.setdefault(h, "VARCHAR")
            rel.rows += n
            if not n:
                rel.notes.append((f, "no rows (a header only)"))
    return rel


def _read_parquet(con: duckdb.DuckDBPyConnection, files: list[SourceFile], view: str,
                  rel: RawRelation) -> None:
    good: list[SourceFile] = []
    for f in files:
        if f.size == 0:
            rel.skipped.append((f, "the file is empty (0 bytes)"))
            continue
        try:
            desc = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(f.path)]
                               ).fetchall()
            n = con.execute("SELECT count(*) FROM read_parquet(?)", [str(f.path)]
                            ).fetchall()[0][0]
        except duckdb.Error as exc:
            rel.skipped.append((f, f"cannot be read as Parquet ({str(exc).splitlines()[0]})"))
            continue
        good.append(f)
        rel.rows += n
        if not n:
            rel.notes.append((f, "no rows"))
        rel.per_file_columns[f.display] = {d[0] for d in desc}
        for d in desc:
            rel.columns.setdefault(d[0], d[1])
    paths = [str(f.path) for f in good]
    con.execute(f"CREATE OR REPLACE TEMP TABLE _shown_{view} (path VARCHAR, shown VARCHAR)")
    con.executemany(f"INSERT INTO _shown_{view} VALUES (?, ?)",
                    [(str(f.path), f.display) for f in good])
    if paths:
        _parquet_view(con, view, paths)
    else:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS "
                    "SELECT NULL::VARCHAR AS _file, NULL::BIGINT AS _row WHERE false")


def _parquet_view(con: duckdb.DuckDBPyConnection, view: str, paths: list[str]) -> None:
    listing = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT p.* EXCLUDE (_hs_filename, "
        f"file_row_number), s.shown AS _file, p.file_row_number + 1 AS _row "
        f"FROM read_parquet([{listing}], filename='_hs_filename', file_row_number=true, "
        f"union_by_name=true) p JOIN _shown_{view} s ON s.path = p._hs_filename")


def lit(value: object) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'

"""Reading source files into DuckDB, set-based: CSV and JSON lines through Arrow, Parquet natively.

Each reader registers one relation holding the files' rows in file order with two extra
columns, ``_file`` (the path as configured) and ``_row`` (1-based record number within the file;
for CSV the header is not counted, for JSON lines it is the line number).
"""

from __future__ import annotations

import csv
import glob
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from healthscore.config.models import EXTENSIONS, CsvOptions, Source
from healthscore.errors import SourceError


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
    """

    view: str
    format: str
    columns: dict[str, str] = field(default_factory=dict)
    json: bool = False
    malformed: bool = False
    per_file_columns: dict[str, set[str]] = field(default_factory=dict)


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


def _csv_header(path: Path, opts: CsvOptions) -> list[str]:
    try:
        with open(path, encoding=opts.encoding, newline="") as fh:
            first = fh.readline()
            while first and not first.strip():
                first = fh.readline()
    except (OSError, UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"{path}: cannot read ({exc})",
                          hint="check the file and the source's csv.encoding") from None
    if not first:
        return []
    header = next(csv.reader(io.StringIO(first), delimiter=opts.delimiter, quotechar=opts.quote))
    header = [h.strip().lstrip("\ufeff") for h in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise SourceError(f"{path}: the header repeats column(s) {', '.join(map(repr, dupes))}",
                          hint="rename them in the export so each column name is unique")
    return header


def _read_csv(file: SourceFile, opts: CsvOptions) -> pa.Table:
    header = _csv_header(file.path, opts)
    if not header:
        return pa.table({"_file": pa.array([], pa.string()), "_row": pa.array([], pa.int64())})
    invalid: list[str] = []

    def on_invalid(row) -> str:
        invalid.append(row.text)
        return "skip"

    try:
        table = pacsv.read_csv(
            file.path,
            read_options=pacsv.ReadOptions(encoding=opts.encoding, column_names=header,
                                           skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=opts.delimiter, quote_char=opts.quote,
                                             newlines_in_values=True,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                null_values=opts.null_values, strings_can_be_null=True,
                quoted_strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{file.display}: cannot parse as CSV ({exc})",
                          hint="check the delimiter, quoting and encoding "
                               "(`csv:` options of the source)") from None
    if invalid:
        # Arrow skips malformed records without saying where they were; re-read this file
        # with the csv module so every record keeps its number and the bad ones are kept
        # for the quarantine.
        table = _read_csv_with_malformed(file, opts, header)
    n = table.num_rows
    table = table.append_column("_row", pa.array(range(1, n + 1), pa.int64()))
    return table.append_column("_file", pa.array([file.display] * n, pa.string()))


def _read_csv_with_malformed(file: SourceFile, opts: CsvOptions, header: list[str]) -> pa.Table:
    nulls = set(opts.null_values)
    columns: list[list[str | None]] = [[] for _ in header]
    malformed: list[str | None] = []
    texts: list[str | None] = []
    with open(file.path, encoding=opts.encoding, newline="") as fh:
        records = csv.reader(fh, delimiter=opts.delimiter, quotechar=opts.quote)
        next(records, None)
        for record in records:
            if not record:
                continue
            ok = len(record) == len(header)
            malformed.append(None if ok else
                             f"malformed CSV record: expected {len(header)} fields, "
                             f"found {len(record)} (check quoting of values with the delimiter)")
            texts.append(None if ok else opts.delimiter.join(record))
            for i, col in enumerate(columns):
                col.append(record[i] if ok and record[i] not in nulls else None)
    data = {h: pa.array(c, pa.string()) for h, c in zip(header, columns, strict=True)}
    data["_malformed"] = pa.array(malformed, pa.string())
    data["_malformed_text"] = pa.array(texts, pa.string())
    return pa.table(data)


def _read_jsonl(file: SourceFile) -> pa.Table:
    try:
        table = pacsv.read_csv(
            file.path,
            read_options=pacsv.ReadOptions(column_names=["_line"], encoding="utf-8"),
            # JSON text never holds a raw 0x1F, so each line is one field.
            parse_options=pacsv.ParseOptions(delimiter="\x1f", quote_char=False,
                                             escape_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={"_line": pa.string()},
                                                 strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{file.display}: cannot read as JSON lines ({exc})") from None
    n = table.num_rows
    table = table.append_column("_row", pa.array(range(1, n + 1), pa.int64()))
    return table.append_column("_file", pa.array([file.display] * n, pa.string()))


def read_source(con: duckdb.DuckDBPyConnection, name: str, source: Source,
                files: list[SourceFile], view: str) -> RawRelation:
    """Register the rows of ``files`` as relation ``view`` on ``con``."""
    formats = {source_format(source, f.path) for f in files}
    if len(formats) > 1:
        raise SourceError(f"source {name!r}: its files mix formats ({', '.join(sorted(formats))})",
                          hint="split them into one source per format")
    fmt = formats.pop() if formats else (source.format or "csv")
    rel = RawRelation(view=view, format=fmt, json=fmt == "jsonl")
    if fmt == "parquet":
        for f in files:
            try:
                desc = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(f.path)]
                                   ).fetchall()
            except duckdb.Error as exc:
                raise SourceError(f"{f.display}: cannot read as Parquet ({exc})") from None
            rel.per_file_columns[f.display] = {d[0] for d in desc}
            for d in desc:
                rel.columns.setdefault(d[0], d[1])
        paths = [str(f.path) for f in files]
        shown = {str(f.path): f.display for f in files}
        con.execute(f"CREATE OR REPLACE TEMP TABLE _shown_{view} (path VARCHAR, shown VARCHAR)")
        con.executemany(f"INSERT INTO _shown_{view} VALUES (?, ?)", list(shown.items()))
        if paths:
            _parquet_view(con, view, paths)
        else:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS "
                        "SELECT NULL::VARCHAR AS _file, NULL::BIGINT AS _row WHERE false")
        return rel
    tables = []
    for f in files:
        t = _read_jsonl(f) if fmt == "jsonl" else _read_csv(f, source.csv)
        rel.per_file_columns[f.display] = {c for c in t.column_names if not c.startswith("_")}
        rel.malformed = rel.malformed or "_malformed" in t.column_names
        tables.append(t)
    if tables:
        table = pa.concat_tables(tables, promote_options="default")
    else:
        table = pa.table({"_file": pa.array([], pa.string()), "_row": pa.array([], pa.int64())})
    if rel.json:
        rel.columns = register_json_lines(con, table, view)
        return rel
    con.register(f"{view}_arrow", table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {view} AS SELECT * FROM {view}_arrow")
    rel.columns = {c: "VARCHAR" for c in table.column_names if not c.startswith("_")}
    con.unregister(f"{view}_arrow")
    return rel


def register_json_lines(con: duckdb.DuckDBPyConnection, lines: pa.Table, view: str
                        ) -> dict[str, str]:
    """Register ``lines`` (``_file``, ``_row``, ``_line``: one JSON text each) as temp table
    ``view`` with ``_json_ok`` (the line is a JSON object); blank lines are left out.

    Returns the keys found in the objects, each typed VARCHAR (values are read as text).
    """
    con.register(f"{view}_arrow", lines)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {view} AS SELECT _file, _row, _line, "
            f"CASE WHEN json_valid(_line) THEN json_type(_line::JSON) = 'OBJECT' ELSE false END "
            f"AS _json_ok FROM {view}_arrow WHERE trim(_line) <> ''")
    finally:
        con.unregister(f"{view}_arrow")
    keys = con.execute(
        f"SELECT DISTINCT unnest(json_keys(_line::JSON)) FROM {view} WHERE _json_ok"
    ).fetchall()
    return {k[0]: "VARCHAR" for k in keys}


def _parquet_view(con: duckdb.DuckDBPyConnection, view: str, paths: list[str]) -> None:
    listing = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT p.* EXCLUDE (_hs_filename, "
        f"file_row_number), s.shown AS _file, p.file_row_number + 1 AS _row "
        f"FROM read_parquet([{listing}], filename='_hs_filename', file_row_number=true, "
        f"union_by_name=true) p JOIN _shown_{view} s ON s.path = p._hs_filename")


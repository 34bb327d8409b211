"""SQL that turns a source's raw columns into typed canonical columns, with row problems.

Everything is one set-based DuckDB query per source: no Python touches a row. For each canonical
column we build the text as read (after the source's value ``map``), the typed value, and the
conditions under which the row is rejected; a rejected row carries ``_problems``, a list of
``{column, value, reason}``.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthscore.config.models import SPECIAL_FORMATS, ColumnMap, Source
from healthscore.errors import SourceError
from healthscore.schemas import Check, Column, Table
from healthscore.sources.files import MAX_RECORD_BYTES, VALUE_SHOWN, RawRelation

NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL")
# A time of day then an offset: "…08:15:00+02:00", "…08:15Z". A bare date ("2026-06-02") has
# a "-02" at its end too, so an offset only counts after a time.
_OFFSET_RE = r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)$"


def lit(value: object) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class ParseContext:
    timezone: str
    decimal: str
    now_sql: str  # TIMESTAMP literal of the ingest moment (UTC)


def _raw_expr(rel: RawRelation, spec: ColumnMap, canonical: str, source_name: str,
              per_file: bool) -> tuple[str, str] | None:
    """(SQL of the source value, its DuckDB type) or None when the column is absent."""
    if spec.column is None:
        return None
    col = spec.column
    if rel.json:
        parts = col.split(".")
        # With no JSON object in any line there are no keys to check against: every line is
        # rejected as not JSON, by its own reason, not the source for a missing column.
        if rel.columns and parts[0] not in rel.columns and col not in rel.columns:
            return None
        path = _json_path([col] if col in rel.columns else parts)
        return (f"CASE WHEN _json_ok THEN json_extract_string(_line, {lit(path)}) END",
                "VARCHAR")
    if col in rel.columns:
        return ident(col), rel.columns[col]
    parts = col.split(".")
    if len(parts) > 1 and rel.columns.get(parts[0], "").startswith("STRUCT"):
        return ".".join(ident(p) for p in parts), "UNKNOWN"
    return None


def _local_to_utc(expr: str, tz: str) -> str:
    if tz in ("UTC", "Etc/UTC"):
        return expr
    return f"(timezone({lit(tz)}, {expr}) AT TIME ZONE 'UTC')"


def _text_to_timestamp(s: str, formats: list[str], tz: str) -> str:
    """SQL parsing text ``s`` into a UTC TIMESTAMP by ``formats`` (strptime or special)."""
    branches = []
    for fmt in formats:
        if fmt in ("auto", "epoch_s"):
            branches.append(
                f"CASE WHEN regexp_full_match({s}, '\\d{{9,11}}(\\.\\d+)?') "
                f"THEN to_timestamp(CAST({s} AS DOUBLE)) AT TIME ZONE 'UTC' END")
        if fmt in ("auto", "epoch_ms"):
            branches.append(f"CASE WHEN regexp_full_match({s}, '\\d{{12,14}}') "
                            f"THEN epoch_ms(CAST({s} AS BIGINT)) END")
        if fmt in ("auto", "iso"):
            branches.append(
                f"CASE WHEN regexp_matches({s}, {lit(_OFFSET_RE)}) "
                f"THEN try_cast({s} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' "
                f"WHEN regexp_matches({s}, '^\\d{{4}}-\\d{{2}}-\\d{{2}}') "
                f"THEN {_local_to_utc(f'try_cast({s} AS TIMESTAMP)', tz)} END")
        if fmt not in SPECIAL_FORMATS:
            if "%z" in fmt or "%Z" in fmt:
                branches.append(f"try_strptime({s}, {lit(fmt)}) AT TIME ZONE 'UTC'")
            else:
                branches.append(_local_to_utc(f"try_strptime({s}, {lit(fmt)})", tz))
    return branches[0] if len(branches) == 1 else f"coalesce({', '.join(branches)})"


def _text_to_date(s: str, formats: list[str]) -> str:
    branches = []
    for fmt in formats:
        if fmt in ("auto", "iso"):
            branches.append(f"CASE WHEN regexp_matches({s}, '^\\d{{4}}-\\d{{2}}-\\d{{2}}') "
                            f"THEN try_cast({s} AS DATE) END")
        if fmt in ("auto", "epoch_s", "epoch_ms"):
            branches.append(f"CAST({_text_to_timestamp(s, [fmt], 'UTC')} AS DATE)")
        if fmt not in SPECIAL_FORMATS:
            branches.append(f"CAST(try_strptime({s}, {lit(fmt)}) AS DATE)")
    return branches[0] if len(branches) == 1 else f"coalesce({', '.join(branches)})"


def _text_to_number(s: str, decimal: str) -> str:
    """Numbers as exports write them: ``$1,234.00``, ``(12.50)``, ``EUR 1.234,50``."""
    body = f"regexp_replace({s}, '^\\((.*)\\)$', '\\1')"
    body = f"regexp_replace({body}, '^[A-Z]{{3}}\\s*|\\s*[A-Z]{{3}}$|[$€£¥\\s]', '', 'g')"
    if decimal == ".":
        grouped = r"[-+]?\d{1,3}(,\d{3})+(\.\d*)?"
        clean = f"replace({body}, ',', '')"
        sep = ","
    else:
        grouped = r"[-+]?\d{1,3}(\.\d{3})+(,\d*)?"
        clean = f"replace(replace({body}, '.', ''), ',', '.')"
        sep = "."
    sign = f"CASE WHEN regexp_full_match({s}, '^\\(.*\\)$') THEN -1 ELSE 1 END"
    # A thousands separator only counts in groups of three: "1,5" is not 15.
    value = (f"CASE WHEN contains({body}, {lit(sep)}) AND NOT regexp_full_match({body}, "
             f"{lit(grouped)}) THEN NULL ELSE try_cast({clean} AS DOUBLE) * {sign} END")
    return f"(CASE WHEN isfinite({value}) THEN {value} END)"


def _typed(col: Column, text: str, raw: str | None, raw_type: str | None,
           spec: ColumnMap, ctx: ParseContext, tz: str) -> str:
    """SQL of the typed value of ``col``; uses the typed source value when it fits."""
    formats = ([spec.format] if isinstance(spec.format, str) else list(spec.format or [])) or \
        ["auto"]
    native = raw is not None and spec.map is None and raw_type not in (None, "VARCHAR")
    rt = (raw_type or "").upper()
    if col.type in ("number", "integer"):
        if native and (rt in NUMERIC_TYPES or rt.startswith("DECIMAL")):
            number = f"CAST({raw} AS DOUBLE)"
        else:
            number = _text_to_number(text, ctx.decimal)
        if col.type == "integer":
            return f"(CASE WHEN {number} = round({number}) THEN CAST({number} AS BIGINT) END)"
        return number
    if col.type == "timestamp":
        if native and rt.startswith("TIMESTAMP WITH TIME ZONE"):
            return f"({raw} AT TIME ZONE 'UTC')"
        if native and rt.startswith("TIMESTAMP"):
            return _local_to_utc(f"CAST({raw} AS TIMESTAMP)", tz)
        if native and rt == "DATE":
            return _local_to_utc(f"CAST({raw} AS TIMESTAMP)", tz)
        if native and rt in NUMERIC_TYPES and formats[0] == "epoch_ms":
            return f"epoch_ms(CAST({raw} AS BIGINT))"
        if native and rt in NUMERIC_TYPES and formats[0] == "epoch_s":
            return f"(to_timestamp(CAST({raw} AS DOUBLE)) AT TIME ZONE 'UTC')"
        return _text_to_timestamp(text, formats, tz)
    if col.type == "date":
        if native and (rt == "DATE" or rt.startswith("TIMESTAMP")):
            return f"CAST({raw} AS DATE)"
        return _text_to_date(text, formats)
    if col.type == "json":
        if native and rt != "JSON":  # a struct, map or list read from Parquet or JSON
            return f"to_json({raw})"
        return f"(CASE WHEN json_valid({text}) THEN CAST({text} AS JSON) END)"
    if col.type == "boolean":
        if native and rt == "BOOLEAN":
            return raw
        return (f"(CASE WHEN lower({text}) IN ('true','t','yes','y','1') THEN true "
                f"WHEN lower({text}) IN ('false','f','no','n','0') THEN false END)")
    return text


def _original(raw: str | None, spec: ColumnMap) -> str:
    """SQL of the value as text, as the source has it (before maps, aliases and defaults)."""
    if spec.value is not None:
        return lit(spec.value)
    return "NULL::VARCHAR" if raw is None else f"nullif(trim(CAST({raw} AS VARCHAR)), '')"


def _text(col: Column, raw: str | None, spec: ColumnMap) -> str:
    """SQL of the value as text after the source's map, the table's aliases and defaults."""
    text = _original(raw, spec)
    if spec.map:  # keys match whatever their case and surrounding spaces
        keys: dict[str, object] = {}
        for k, v in spec.map.items():
            keys.setdefault(str(k).strip().lower(), v)
        whens = " ".join(
            f"WHEN {lit(k)} THEN "
            + ("NULL" if v is None or str(v) == "" else lit(v))
            for k, v in keys.items())
        text = f"(CASE lower({text}) {whens} ELSE {text} END)"
    if col.allowed or col.aliases:
        low = f"lower({text})"
        if col.aliases:
            whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in col.aliases.items())
            text = f"(CASE {low} {whens} ELSE {low if col.allowed else text} END)"
        else:
            text = low
    if spec.default is not None:
        text = f"coalesce({text}, {lit(spec.default)})"
    return text


def _type_hint(col: Column, spec: ColumnMap) -> str:
    if col.type in ("date", "timestamp"):
        fmt = spec.format or ("ISO 8601 or Unix epoch" if col.type == "timestamp" else
                              "ISO 8601 (YYYY-MM-DD)")
        shown = fmt if isinstance(fmt, str) else " or ".join(fmt)
        return f"not a valid {col.type} (expected {shown}; set `format:` in the mapping)"
    if col.type == "integer":
        return "not a whole number"
    if col.type == "number":
        return "not a number"
    if col.type == "json":
        return "not valid JSON (a JSON object like {\"plan\": \"pro\"})"
    return f"not a valid {col.type}"


def _check_sql(chk: Check) -> str:
    c = f"t.{ident(chk.column)}"
    if chk.kind == "order":
        cond = f"{c} < t.{ident(chk.other)}"
    else:
        parts = []
        if chk.min is not None:
            parts.append(f"{c} < {chk.min}")
        if chk.max is not None:
            parts.append(f"{c} > {chk.max}")
        cond = "(" + " OR ".join(parts) + ")"
    for k, v in chk.when.items():
        cond += f" AND t.{ident(k)} = {lit(v)}"
    return cond


def parse_query(table: Table, source_name: str, source: Source, rel: RawRelation,
                ctx: ParseContext, *, source_order: int) -> str:
    """The SELECT producing typed canonical columns, ``_problems`` and lineage for ``rel``."""
    tz = source.timezone or ctx.timezone
    inner, outer_cols, conditions = ["_file", "_row"], [], []
    soft_of: dict[str, list[tuple[str, str, str, str]]] = {}  # column → its on_error: null
    for col in table.columns:
        spec = source.column_map(col.name)
        found = _raw_expr(rel, spec, col.name, source_name, per_file=True)
        explicit = col.name in source.columns
        if found is None and spec.value is None and (explicit or col.required):
            available = ", ".join(sorted(rel.columns)) or "(none)"
            raise SourceError(
                f"source {source_name!r}: no column {spec.column!r} for canonical column "
                f"{table.name}.{col.name}{' (required)' if col.required else ''}; "
                f"{rel.holder}: {available}",
                hint=f"map it under sources.{source_name}.columns.{col.name} in "
                     "healthscore.yaml")
        raw, raw_type = found if found else (None, None)
        _check_per_file(rel, spec, col, source_name, explicit)
        text = _text(col, raw, spec)
        t_name, v_name = ident(col.name), ident("_t_" + col.name)
        inner.append(f"{text} AS {v_name}")
        inner.append(f"{_typed(col, v_name, raw, raw_type, spec, ctx, tz)} AS {t_name}")
        outer_cols.append(f"t.{t_name}")
        tv, vv = f"t.{t_name}", f"t.{v_name}"
        name = lit(col.name)
        if col.required:
            conditions.append((f"{vv} IS NULL", name, "NULL", "'required value is empty'"))
        # An optional value that cannot be read is left empty, the row kept (`on_error: null`,
        # the default), or rejects its row (`on_error: reject`); a required one always rejects.
        soft = not col.required and spec.on_error == "null"
        bad = soft_of.setdefault(col.name, []) if soft else conditions
        bad.append((f"{vv} IS NOT NULL AND {tv} IS NULL", name, vv, lit(_type_hint(col, spec))))
        if col.allowed:
            # The quarantine shows the value as the file has it (`P9`), not as normalised.
            o_name = ident("_o_" + col.name)
            inner.append(f"{_original(raw, spec)} AS {o_name}")
            allowed = ", ".join(lit(a) for a in col.allowed)
            bad.append((f"{tv} NOT IN ({allowed})", name, f"t.{o_name}",
                        lit("not one of: " + ", ".join(col.allowed)
                            + " (map other values with `map:`)")))
        if col.min is not None:
            bad.append((f"{tv} < {col.min}", name, vv, lit(f"below the minimum {col.min:g}")))
        if col.max is not None:
            bad.append((f"{tv} > {col.max}", name, vv, lit(f"above the maximum {col.max:g}")))
        if col.type in ("string", "json"):
            limit = spec.max_length or col.max_length
            if limit:
                # Too long is never left empty: the row is rejected, whatever on_error says.
                conditions.append((
                    f"length({vv}) > {limit}", name, vv,
                    f"'value is ' || format('{{:,}}', length({vv})) || ' characters, longer "
                    f"than the limit of {limit:,} (set max_length on column {col.name} of "
                    f"source {source_name} to allow it)'"))
        if col.not_future:
            conditions.append((f"CAST({tv} AS TIMESTAMP) > {ctx.now_sql}", name, vv,
                               "'after the time of ingest (a future timestamp)'"))
    for chk in table.checks:
        conditions.append((_check_sql(chk), lit(chk.column), f"t.{ident('_t_' + chk.column)}",
                           lit(chk.reason)))
    if rel.malformed:
        inner += ["_fields", "_bad_column", "_bad_text", "_long"]
        widths = " ".join(f"WHEN {lit(f)} THEN {len(cols)}"
                          for f, cols in rel.per_file_columns.items())
        width = f"CASE t._file {widths} END" if widths else "NULL"
        encoding = source.csv.encoding
        conditions.insert(0, (
            "coalesce(t._fields, t._long) IS NOT NULL OR t._bad_column IS NOT NULL",
            "t._bad_column", "t._bad_text",
            f"CASE WHEN t._long IS NOT NULL THEN 'the record is ' || format('{{:,}}', t._long)"
            f" || ' characters long, longer than the limit of {MAX_RECORD_BYTES:,} (a "
            f"missing line break or an unclosed quote?)' "
            f"WHEN t._fields IS NOT NULL THEN 'malformed CSV record: expected ' || "
            f"{width} || ' fields, found ' || "
            f"t._fields || ' (check quoting of values with the delimiter)' "
            f"ELSE {lit(_encoding_reason(source_name, encoding))} END"))
    if rel.json:
        inner += ["_json_ok", "_json_why"]
        conditions.insert(0, ("NOT t._json_ok", "NULL", "left(t._line, 200)", "t._json_why"))
        inner.append("_line")
    known_from = "NULL::TIMESTAMP"
    if table.kind == "state":
        if source.valid_from is not None:
            vf_col = Column(name="_known_from", type="timestamp", description="valid_from",
                            required=True)
            vf_raw = _raw_expr(rel, source.valid_from, "valid_from", source_name, per_file=True)
            if vf_raw is None and source.valid_from.value is None:
                raise SourceError(
                    f"source {source_name!r}: no column {source.valid_from.column!r} for "
                    f"valid_from; {rel.holder}: {', '.join(sorted(rel.columns))}",
                    hint=f"fix sources.{source_name}.valid_from in healthscore.yaml")
            raw, raw_type = vf_raw or (None, None)
            vtext = _text(vf_col, raw, source.valid_from)
            inner.append(f"{vtext} AS _t__known_from")
            inner.append(f"{_typed(vf_col, '_t__known_from', raw, raw_type, source.valid_from, ctx, tz)}"
                         " AS _known_from")
            conditions.append(("t._known_from IS NULL", "'valid_from'", "t._t__known_from",
                               "'valid_from is empty or not a valid timestamp'"))
            conditions.append((f"t._known_from > {ctx.now_sql}", "'valid_from'",
                               "t._t__known_from", "'valid_from is after the time of ingest'"))
            known_from = "t._known_from"
        else:
            known_from = ctx.now_sql
    # A record that is not a record (malformed CSV, not a JSON object) gets that one reason,
    # not one per column.
    structural = [c[0] for c in conditions[:int(rel.malformed) + int(rel.json)]]
    if structural:
        guard = " OR ".join(structural)
        n = len(structural)
        conditions = conditions[:n] + [(f"NOT ({guard}) AND ({c[0]})", *c[1:])
                                       for c in conditions[n:]]
        soft_of = {k: [(f"NOT ({guard}) AND ({c[0]})", *c[1:]) for c in v]
                   for k, v in soft_of.items()}
    soft = [c for v in soft_of.values() for c in v]
    outer_cols = [f"CASE WHEN {_any(soft_of[c.name])} THEN NULL ELSE t.{ident(c.name)} END "
                  f"AS {ident(c.name)}" if soft_of.get(c.name) else col_sql
                  for c, col_sql in zip(table.columns, outer_cols, strict=True)]
    return (
        f"SELECT {', '.join(outer_cols)}, t._file, t._row, {lit(source_name)} AS _source, "
        f"{source_order} AS _order, {known_from} AS _known_from, "
        f"{_listed(conditions)} AS _problems, {_listed(soft)} AS _nulled "
        f"FROM (SELECT {', '.join(inner)} FROM {rel.view}) t"
    )


def _encoding_reason(source_name: str, encoding: str) -> str:
    return (f"not valid {encoding} text: if the file is in another encoding, set it with "
            f"`csv: {{encoding: latin-1}}` (or cp1252, utf-16, …) on source {source_name}")


def _any(conditions: list[tuple[str, str, str, str]]) -> str:
    return " OR ".join(f"coalesce({c[0]}, false)" for c in conditions) or "false"


def _listed(conditions: list[tuple[str, str, str, str]]) -> str:
    """SQL of the list of ``{column, value, reason}`` of the conditions that hold (NULL when
    none does)."""
    if not conditions:
        return "NULL::STRUCT(\"column\" VARCHAR, value VARCHAR, reason VARCHAR)[]"
    items = ", ".join(
        f"CASE WHEN coalesce({cond}, false) THEN {{'column': {col}, 'value': "
        f"{_cut(f'CAST({val} AS VARCHAR)')}, 'reason': {reason}}} END"
        for cond, col, val, reason in conditions)
    return (f"CASE WHEN {_any(conditions)} THEN list_filter([{items}], "
            "lambda p: p IS NOT NULL) END")


def _cut(value: str) -> str:
    """SQL of a value cut to :data:`VALUE_SHOWN` characters for the quarantine, saying how
    long it was (a 5 MB value is not stored twice)."""
    return (f"CASE WHEN length({value}) > {VALUE_SHOWN} THEN left({value}, {VALUE_SHOWN}) || "
            f"'… (' || format('{{:,}}', length({value})) || ' characters)' ELSE {value} END")


def _check_per_file(rel: RawRelation, spec: ColumnMap, col: Column, source_name: str,
                    explicit: bool) -> None:
    """A mapped (or required) column missing from one file of a multi-file source is an error
    naming that file, not a silent column of NULLs."""
    if rel.json or spec.column is None or not (explicit or col.required):
        return
    top = spec.column if spec.column in rel.columns else spec.column.split(".")[0]
    for shown, cols in rel.per_file_columns.items():
        if top not in cols:
            raise SourceError(
                f"{shown}: no column {top!r} (needed for {col.name} by source "
                f"{source_name!r}); this file has: {', '.join(sorted(cols)) or '(no columns)'}",
                hint="fix the export or the mapping in healthscore.yaml")


def check_json_paths(con, table: Table, source_name: str, source: Source,
                     rel: RawRelation) -> None:
    """A mapped (or required) dotted JSON path that matches nothing in any line stops the
    source, naming the keys found where the path turned away and the nearest of them — not
    thousands of rows quarantined as "required value is empty"."""
    import difflib

    if not rel.json:
        return
    total = con.execute(f"SELECT count(*) FROM {rel.view} WHERE _json_ok").fetchall()[0][0]
    if not total:
        return
    for col in table.columns:
        spec = source.column_map(col.name)
        if spec.column is None or spec.value is not None or spec.column in rel.columns:
            continue
        if not (col.name in source.columns or col.required):
            continue
        parts = spec.column.split(".")
        if len(parts) < 2 or parts[0] not in rel.columns:
            continue  # a missing top-level key is refused by parse_query with the keys found
        found = con.execute(
            f"SELECT count(*) FROM {rel.view} WHERE _json_ok AND "
            f"json_extract(_line, {lit(_json_path(parts))}) IS NOT NULL").fetchall()[0][0]
        if found:
            continue
        # walk down to the deepest part of the path that exists, and list its keys
        depth = 1
        while depth < len(parts) - 1 and con.execute(
                f"SELECT count(*) FROM {rel.view} WHERE _json_ok AND json_extract(_line, "
                f"{lit(_json_path(parts[:depth + 1]))}) IS NOT NULL").fetchall()[0][0]:
            depth += 1
        keys = [k for (k,) in con.execute(
            f"SELECT DISTINCT unnest(json_keys(_line, {lit(_json_path(parts[:depth]))})) AS k "
            f"FROM {rel.view} WHERE _json_ok ORDER BY k LIMIT 200").fetchall()]
        near = difflib.get_close_matches(parts[depth], keys, n=3, cutoff=0.5)
        where = ".".join(parts[:depth])
        raise SourceError(
            f"source {source_name!r}: the JSON path {spec.column!r} (for {table.name}."
            f"{col.name}) matches nothing in {total:,} lines: {where!r} has the keys "
            f"{', '.join(keys) or '(none)'}"
            + (f"; did you mean {', '.join(where + '.' + k for k in near)}?" if near else ""),
            hint=f"fix sources.{source_name}.columns.{col.name} in healthscore.yaml")


def _json_path(parts: list[str]) -> str:
    return "$." + ".".join('"' + p.replace('"', '\\"') + '"' for p in parts)


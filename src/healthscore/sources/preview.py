"""Date formats tried on the first rows of each source, before an ingest (``healthscore
check``): a ``format:`` that reads none of a file's first values is named with a value it
could not read, instead of a whole file rejected at the next ingest."""

from __future__ import annotations

import duckdb

from healthscore import clock
from healthscore.errors import HealthScoreError
from healthscore.schemas import TABLES
from healthscore.sources.files import read_source, resolve_files
from healthscore.sources.parse import ParseContext, _type_hint, lit, parse_query
from healthscore.workspace import Workspace

#: How many of the first rows of a source's first file are tried.
FIRST_ROWS = 200


def format_problems(workspace: Workspace, rows: int = FIRST_ROWS) -> list[str]:
    """One sentence per mapped date or time column whose ``format`` reads none of the first
    ``rows`` values of its source's first file (values that are empty do not count)."""
    cfg = workspace.config
    out: list[str] = []
    for name, source in cfg.sources.items():
        table = TABLES[source.table]
        dated = [c for c in table.columns if c.type in ("date", "timestamp")
                 and source.column_map(c.name).format is not None]
        files = resolve_files(workspace.root, name, source) if dated else []
        if not files:
            continue
        con = duckdb.connect()
        try:
            rel = read_source(con, name, source, files[:1], "_first")
            con.execute(f"CREATE TEMP TABLE _head AS SELECT * FROM _first LIMIT {rows}")
            rel.view = "_head"
            ctx = ParseContext(cfg.timezone, source.decimal,
                               f"TIMESTAMP {lit(clock.now().isoformat(sep=' '))}")
            parsed = f"({parse_query(table, name, source, rel, ctx, source_order=0)})"
            for col in dated:
                spec = source.column_map(col.name)
                failed, read, example = con.execute(f"""
                    SELECT count(bad), count("{col.name}"), any_value(bad)
                    FROM (SELECT "{col.name}", list_extract(list_filter(
                              coalesce(_problems, []) || coalesce(_nulled, []),
                              lambda p: p.column = {lit(col.name)} AND p.reason = ?), 1).value AS bad
                          FROM {parsed})
                """, [_type_hint(col, spec)]).fetchall()[0]
                if failed and not read:
                    shown = spec.format if isinstance(spec.format, str) else \
                        " or ".join(spec.format)
                    out.append(f"source {name!r}: format {shown!r} reads none of the first "
                               f"{failed} {col.name} values of {files[0].display} (e.g. "
                               f"{example!r}): fix sources.{name}.columns.{col.name}.format")
        except (HealthScoreError, duckdb.Error) as exc:  # the ingest will say it in full
            out.append(f"source {name!r}: its first rows could not be tried: "
                       f"{getattr(exc, 'message', str(exc))}")
        finally:
            con.close()
    return out


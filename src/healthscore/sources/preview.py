"""Date formats tried on the first rows of each source, before an ingest (``healthscore
check``): a ``format:`` that reads none of a file's (or a database table's) first values is
named with a value it could not read, instead of a whole file rejected at the next ingest."""

from __future__ import annotations

import duckdb

from healthscore import clock
from healthscore.errors import HealthScoreError
from healthscore.schemas import TABLES
from healthscore.sources.database import read_database
from healthscore.sources.files import RawRelation, read_source, resolve_files
from healthscore.sources.parse import ParseContext, _type_hint, lit, parse_query
from healthscore.workspace import Workspace

#: How many of the first rows of a source's first file (or its table or query) are tried.
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
        if not dated:
            continue
        con = duckdb.connect()
        try:
            found = _first_rows(con, workspace, name, source, rows)
            if found is None:
                continue
            rel, where = found
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
                               f"{failed} {col.name} values of {where} (e.g. "
                               f"{example!r}): fix sources.{name}.columns.{col.name}.format")
        except (HealthScoreError, duckdb.Error) as exc:  # the ingest will say it in full
            out.append(f"source {name!r}: its first rows could not be tried: "
                       f"{getattr(exc, 'message', str(exc))}")
        finally:
            con.close()
    return out



def _first_rows(con: duckdb.DuckDBPyConnection, workspace: Workspace, name: str, source,
                rows: int) -> tuple[RawRelation, str] | None:
    """The first ``rows`` rows of a source (of its first file, or of its table or query) as
    temp table ``_head``, and where they are from; None when there is nothing to read.

    Raises
    ------
    HealthScoreError
        They cannot be read (the reason of a database read that failed, say).
    """
    if source.database is not None:
        got = read_database(con, workspace.root, name, source, "_head", previous=None,
                            config_hash="", full=True, limit=rows)
        if got.rel.skipped:
            raise HealthScoreError(got.rel.skipped[0][1])
        return got.rel, got.origin.display
    files = resolve_files(workspace.root, name, source)
    if not files:
        return None
    rel = read_source(con, name, source, files[:1], "_first")
    con.execute(f"CREATE TEMP TABLE _head AS SELECT * FROM _first LIMIT {rows}")
    rel.view = "_head"
    return rel, files[0].display

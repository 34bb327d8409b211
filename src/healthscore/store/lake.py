"""The store's canonical tables as a folder of Parquet files: the layout the Spark engine reads
(``engine: {kind: spark, tables: DIR}``, docs/scale.md), and a copy a data lake can take.

One file per table, ``DIR/<table>.parquet``, with the columns of docs/data.md and, for state
tables, the versioning columns ``_valid_from`` and ``_valid_to`` (from when, and until when, a
row's values held; NULL: since always, still). Timestamps are UTC, JSON is text.
"""

from __future__ import annotations

from pathlib import Path

from healthscore.schemas import TABLES

#: The columns a state table carries besides its canonical ones (docs/store.md).
STATE_COLUMNS = ("_valid_from", "_valid_to")


def lake_columns(spec) -> list[str]:
    """The columns of table ``spec`` in the lake layout."""
    return list(spec.column_names) + (list(STATE_COLUMNS) if spec.kind == "state" else [])


def write_lake(con, out: Path, tables: list[str] | None = None) -> dict[str, int]:
    """Write ``tables`` (default: every canonical table) of the store on ``con`` to
    ``out/<table>.parquet``, each replaced as a whole (written beside it, then renamed).
    Returns the rows written per table."""
    out.mkdir(parents=True, exist_ok=True)
    have = {r[0]: r[1] for r in con.execute(
        "SELECT table_name, list(column_name) FROM information_schema.columns "
        "WHERE table_schema = 'main' GROUP BY table_name").fetchall()}
    rows = {}
    for name in tables or list(TABLES):
        spec = TABLES[name]
        if name not in have:
            continue
        cols = []
        for c in lake_columns(spec):
            col = spec.column(c) if c in spec.column_names else None
            if c not in have[name]:
                typ = col.duckdb_type if col else "TIMESTAMP"
                cols.append(f'CAST(NULL AS {"VARCHAR" if typ == "JSON" else typ}) AS "{c}"')
            elif col is not None and col.type == "json":
                cols.append(f'CAST("{c}" AS VARCHAR) AS "{c}"')
            else:
                cols.append(f'"{c}"')
        target = out / f"{name}.parquet"
        partial = out / f".{name}.parquet.partial"
        con.execute(f"COPY (SELECT {', '.join(cols)} FROM \"{name}\") TO '{partial}' "
                    "(FORMAT parquet, COMPRESSION zstd)")
        partial.replace(target)
        rows[name] = con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
    return rows

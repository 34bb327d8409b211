"""The reading half of the store: row counts, the table summary, runs, the quarantine,
exports and the helpers they share with the writing half.

A mixin of :class:`healthscore.store.store.Store` (which holds the connection); nothing here
writes to the store.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import duckdb

from healthscore.csvsafe import sql_cell
from healthscore.schemas import TABLES
from healthscore.store.disk import output_fault


def _alive(pid: int | None, host: str | None) -> bool:
    """Whether the process that started a run may still be working (unknown: assume so)."""
    if pid is None or host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dict_rows(cur) -> list[dict]:
    """The rows of an executed query as dicts keyed by column name."""
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'



class StoreReads:
    """Reads of the store's tables and bookkeeping (see the module)."""

    # -- reads -----------------------------------------------------------------------------

    def row_counts(self) -> dict[str, int]:
        """Rows per canonical table (current versions for state tables)."""
        out = {}
        for t in TABLES.values():
            where = " WHERE _valid_to IS NULL" if t.kind == "state" else ""
            out[t.name] = self.con.execute(f"SELECT count(*) FROM {_q(t.name)}{where}"
                                           ).fetchall()[0][0]
        return out

    def table_summary(self) -> list[dict]:
        """Per canonical table: current rows, stored versions, accounts, and time span."""
        out = []
        for t in TABLES.values():
            time_col = t.time
            span = (f", min({_q(time_col)}), max({_q(time_col)})" if time_col
                    else ", NULL, NULL")
            current = "count(*) FILTER (WHERE _valid_to IS NULL)" if t.kind == "state" \
                else "count(*)"
            accounts = "count(DISTINCT account_id)" if "account_id" in t.column_names else "NULL"
            rows, versions, accts, first, last = self.con.execute(
                f"SELECT {current}, count(*), {accounts}{span} FROM {_q(t.name)}").fetchall()[0]
            out.append({"table": t.name, "kind": t.kind, "rows": rows, "versions": versions,
                        "accounts": accts, "time_column": time_col, "first": first,
                        "last": last})
        return out

    def runs(self, limit: int = 5) -> list[dict]:
        """The latest runs, newest first; a run whose process died reads ``interrupted``
        (also on a read-only store, which cannot mark it)."""
        # a store of an older release opened read-only (not migrated) has no pid, host
        who = "pid, host" if self.schema_version() >= 5 else "NULL AS pid, NULL AS host"
        rows = dict_rows(self.con.execute(
            "SELECT run_id, kind, started_at, finished_at, status, rows_loaded, rows_rejected, "
            f"error, {who} FROM runs ORDER BY run_id DESC LIMIT ?", [limit]))
        for r in rows:
            pid, host = r.pop("pid"), r.pop("host")
            if r["status"] == "running" and not _alive(pid, host):
                r["status"] = "interrupted"
                r["error"] = "the process running it stopped before it finished"
        return rows

    def quarantine(self, *, table: str | None = None, source: str | None = None,
                   limit: int | None = None) -> list[dict]:
        """Quarantined rows (newest state of each file), filtered by table and/or source."""
        where, params = [], []
        if table:
            where.append('"table" = ?')
            params.append(table)
        if source:
            where.append("source = ?")
            params.append(source)
        sql = ("SELECT source, \"table\", file, \"row\", \"column\", value, reason, run_id "
               "FROM quarantine" + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY source, file, \"row\", \"column\"")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return dict_rows(self.con.execute(sql, params))

    def export(self, sql: str, params: list, path: str, fmt: str) -> int:
        """Write the rows of a query to a CSV (with a header) or Parquet file; their count.
        CSV text cells that a spreadsheet would run as a formula are neutralised
        (:mod:`healthscore.csvsafe`); Parquet keeps the values as they are."""
        n = self.con.execute(f"SELECT count(*) FROM ({sql})", params).fetchall()[0][0]
        options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER"
        if fmt != "parquet":
            columns = self.con.execute(f"DESCRIBE ({sql})", params).fetchall()
            sql = "SELECT " + ", ".join(
                (sql_cell(_q(name)) if kind == "VARCHAR" else _q(name)) + f" AS {_q(name)}"
                for name, kind, *_ in columns) + f" FROM ({sql})"
        safe = path.replace("'", "''")
        try:
            self.con.execute(f"COPY ({sql}) TO '{safe}' ({options})", params)
        except duckdb.IOException as exc:
            raise output_fault(Path(path), OSError(str(exc))) from None
        return n

    def export_table(self, table, path: str, fmt: str) -> int:
        """Write an Arrow table to ``path`` like :meth:`export` (CSV cells made safe)."""
        self.con.register("_export", table)
        try:
            return self.export("SELECT * FROM _export", [], path, fmt)
        finally:
            self.con.unregister("_export")

    def quarantine_count(self) -> int:
        return self.con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT source, file, \"row\" FROM quarantine)"
        ).fetchall()[0][0]

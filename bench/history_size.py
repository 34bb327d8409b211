"""Bytes of history per account-day: what a store spends on each scored account and date.

    python -m bench.history_size --store DIR/healthscore.duckdb [--scorecard health] [--days 30]

Copies the last ``--days`` scored dates of one scorecard's history, table by table, into fresh
DuckDB files (compressed as DuckDB stores them, nothing else in the file) and divides each
file's size by the account-days copied. Reads a schema-10 store (per-measure and per-group
rows) as well as a compact one (schema 11: values per version, overrides, revisions), so a
store can be measured before and after its migration.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import duckdb

#: Size of an empty DuckDB file (its header blocks): taken off each copy.
_EMPTY = 12288


def measure(store: Path, scorecard: str, days: int) -> dict[str, float]:
    """Table → bytes per account-day over the last ``days`` scored dates of ``scorecard``."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{store}' AS s (READ_ONLY)")
        last = con.execute("SELECT max(as_of) FROM s.snapshots WHERE scorecard = ?",
                           [scorecard]).fetchall()[0][0]
        if last is None:
            raise SystemExit(f"{store}: no {scorecard} snapshots")
        since = f"as_of > DATE '{last}' - {days}"
        n = con.execute(f"SELECT count(*) FROM s.snapshots WHERE scorecard = ? AND {since}",
                        [scorecard]).fetchall()[0][0]
        tables = {t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 's'").fetchall()}
        versions = [v for (v,) in con.execute(
            "SELECT DISTINCT version FROM s.snapshots WHERE scorecard = ?",
            [scorecard]).fetchall()]
        queries = {}
        for t in ("snapshots", "snapshot_series", "snapshot_measures", "snapshot_groups",
                  "snapshot_overrides", "snapshot_revisions"):
            if t in tables:
                queries[t] = (f"SELECT * FROM s.{t} WHERE scorecard = '{scorecard}' "
                              f"AND {since} ORDER BY as_of")
        if versions and any(t.startswith("snapshot_values_") for t in tables):
            from healthscore.store.values import values_table

            parts = [f'SELECT * FROM s."{values_table(scorecard, v)}" WHERE {since}'
                     for v in versions if values_table(scorecard, v) in tables]
            if parts:
                queries["snapshot_values_*"] = " UNION ALL ".join(parts) + " ORDER BY as_of"
        out = {"account-days": float(n)}
        with tempfile.TemporaryDirectory() as tmp:
            for name, sql in queries.items():
                if not con.execute(f"SELECT count(*) FROM ({sql})").fetchall()[0][0]:
                    continue  # no rows, no blocks (an empty file would still take one)
                path = os.path.join(tmp, "t.duckdb")
                con.execute(f"ATTACH '{path}' AS o")
                con.execute(f"CREATE TABLE o.t AS {sql}")
                con.execute("DETACH o")
                out[name] = (os.path.getsize(path) - _EMPTY) / n
                os.remove(path)
        return out
    finally:
        con.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--scorecard", default="health")
    p.add_argument("--days", type=int, default=30)
    a = p.parse_args(argv)
    found = measure(a.store, a.scorecard, a.days)
    n = int(found.pop("account-days"))
    print(f"{a.store}: {a.scorecard}, last {a.days} scored dates, {n:,} account-days")
    for name, size in found.items():
        print(f"  {name:22s} {size:8.1f} bytes per account-day")
    print(f"  {'total':22s} {sum(found.values()):8.1f} bytes per account-day")


if __name__ == "__main__":
    main()

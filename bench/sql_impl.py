"""Run the hand-written SQL (bench/sql/health.sql) on a store, read-only, and write its results.

Imports DuckDB only, so the child process that runs it carries no healthscore, Ibis or pandas.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

SQL = Path(__file__).resolve().parent / "sql" / "health.sql"


def render(as_of: date) -> str:
    """health.sql with the as-of date and the cutoff (the midnight after it) filled in."""
    cutoff = f"{as_of + timedelta(days=1)} 00:00:00"
    return SQL.read_text().replace("{{as_of}}", as_of.isoformat()).replace("{{cutoff}}", cutoff)


def run(store: Path, as_of: date, out: Path) -> dict:
    """Compute the health scores of ``as_of`` and write accounts.parquet and measures.parquet.

    Writing the two result files is part of the work, as storing its snapshot is part of
    healthscore's.
    """
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(store), read_only=True)
    try:
        con.execute(render(as_of))
        con.execute(f"COPY (SELECT account_id, variant, score, band, grade, coverage "
                    f"FROM health_scores ORDER BY account_id) TO '{out / 'accounts.parquet'}'")
        con.execute(f"COPY (SELECT account_id, \"group\", measure, raw_value, score, weight, "
                    f"points, missing FROM health_measures ORDER BY account_id, ord) "
                    f"TO '{out / 'measures.parquet'}'")
        accounts = con.execute("SELECT count(*) FROM health_scores").fetchone()[0]
    finally:
        con.close()
    return {"accounts": accounts}

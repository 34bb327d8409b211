"""A PostgreSQL source's ingest against the same rows from a Parquet file.

``python -m bench.pg_ingest [--rows 1000000] [--accounts 10000] [--new 10000]``

A throw-away PostgreSQL server is started the way the tests start theirs (``PgServer`` of
tests/pg_server.py: Debian's ``postgresql`` package, a temporary data folder, a free port).
A ``usage_events``-shaped table of ``--rows`` rows is generated on the server with
``generate_series`` (an index on its ``updated_at``), and the same rows are written to a
Parquet file (through ADBC, so both hold the same typed values). Two workspaces, their
accounts loaded beforehand (not timed), then each time ``healthscore ingest`` in its own
process (wall time, CPU, peak RSS of that process; the server's own work shows in the wall
time only):

- ``parquet``: the events from the Parquet file;
- ``postgresql``: the events from the table, read with a cursor (``ORDER BY updated_at``);
- ``postgresql, no cursor``: the same table without one (no ORDER BY);
- ``postgresql, incremental``: after ``--new`` rows are added, the next ingest of the cursor
  workspace (it reads only those).

Prints the figures; run by hand, nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: ``usage_events``-shaped rows ``first`` … ``last``, ``step`` µs apart from ``start``.
EVENTS = """
    SELECT g AS id,
           'A' || lpad(((g * 7919) % {accounts})::text, 6, '0') AS account_id,
           'U' || ((g * 104729) % ({accounts} * 20)) AS user_id,
           (ARRAY['login', 'report.created', 'dashboard.viewed', 'export.run'])[1 + g % 4]
               AS event,
           timestamptz '{start}' + (g - {first}) * interval '{step} microseconds' AS ts,
           1 + g % 3 AS quantity,
           timestamptz '{start}' + (g - {first}) * interval '{step} microseconds'
               AS updated_at
    FROM generate_series({first}::bigint, {last}::bigint) AS g
"""
#: The events span 2026-01-01 to 2026-06-01, whatever their number.
SPAN_US = 151 * 86400 * 10**6


def _sql(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        for statement in statements:
            con.execute(statement)


def _workspace(root: Path, name: str, events_source: str, accounts: int) -> Path:
    from healthscore.sources import ingest
    from healthscore.workspace import Workspace

    ws = root / name
    ws.mkdir(parents=True)
    (ws / "accounts.csv").write_text(
        "account_id,name\n" + "".join(f"A{i:06d},Account {i}\n" for i in range(accounts)))
    head = f"name: {name}\nsources:\n  crm: {{table: accounts, path: accounts.csv}}\n"
    (ws / "healthscore.yaml").write_text(head)
    ingest(Workspace.open(ws))  # the accounts, before the timed ingest
    (ws / "healthscore.yaml").write_text(head + textwrap.indent(
        textwrap.dedent(events_source), "  "))
    return ws


def _timed(ws: Path, env: dict, log: Path) -> dict:
    from bench.proc import healthscore_cli, run_measured
    from healthscore.workspace import Workspace

    sample = run_measured([*healthscore_cli(), "ingest", "-w", str(ws)], env=env, log=log)
    with Workspace.open(ws).store(read_only=True) as store:
        detail = json.loads(store.con.execute(
            "SELECT detail FROM runs ORDER BY run_id DESC LIMIT 1").fetchall()[0][0])
    events = next(s for s in detail["sources"] if s["source"] == "product")
    return {"wall_s": sample.wall_s, "cpu_s": sample.cpu_s, "rss_mib": sample.peak_rss_mib,
            "rows_read": events["rows_read"], "inserted": events["inserted"]}


def run(rows: int, accounts: int, new: int) -> dict[str, dict]:
    sys.path.insert(0, str(ROOT / "tests"))
    import pyarrow.parquet as pq
    from adbc_driver_postgresql import dbapi

    from pg_server import PgServer

    tmp = Path(tempfile.mkdtemp(prefix="hs-pg-bench-"))
    server = PgServer().start()
    try:
        url = server.create_database()
        step = SPAN_US // rows
        t = time.perf_counter()
        _sql(url, "CREATE TABLE usage_events AS " + EVENTS.format(
            accounts=accounts, start="2026-01-01 00:00+00", step=step, first=1, last=rows),
             "CREATE INDEX ON usage_events (updated_at)", "ANALYZE usage_events")
        print(f"generated {rows:,} rows on the server in {time.perf_counter() - t:.1f} s",
              flush=True)
        with dbapi.connect(url) as con, con.cursor() as cur:
            cur.execute("SELECT * FROM usage_events ORDER BY id")
            pq.write_table(cur.fetch_arrow_table(), tmp / "usage_events.parquet")
        env = {"HS_BENCH_PG_URL": url}
        columns = "columns: {timestamp: ts}"
        spaces = {
            "parquet": _workspace(tmp, "parquet", f"""
                product:
                  table: usage_events
                  path: {tmp / 'usage_events.parquet'}
                  {columns}
                """, accounts),
            "postgresql": _workspace(tmp, "postgresql", f"""
                product:
                  table: usage_events
                  database: {{url_env: HS_BENCH_PG_URL, table: usage_events, cursor: updated_at}}
                  {columns}
                """, accounts),
            "postgresql, no cursor": _workspace(tmp, "nocursor", f"""
                product:
                  table: usage_events
                  database: {{url_env: HS_BENCH_PG_URL, table: usage_events}}
                  {columns}
                """, accounts),
        }
        out = {}
        for label, ws in spaces.items():
            print(f"timing {label} …", flush=True)
            out[label] = _timed(ws, env, tmp / f"{ws.name}.log")
        _sql(url, "INSERT INTO usage_events " + EVENTS.format(
            accounts=accounts, start="2026-06-01 00:00+00", step=10**6, first=rows + 1,
            last=rows + new))
        print(f"timing postgresql, incremental ({new:,} new rows) …", flush=True)
        out["postgresql, incremental"] = _timed(spaces["postgresql"], env,
                                                tmp / "incremental.log")
        return out
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pg_ingest",
                                description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--accounts", type=int, default=10_000)
    p.add_argument("--new", type=int, default=10_000,
                   help="rows added before the incremental ingest")
    args = p.parse_args(argv)
    figures = run(args.rows, args.accounts, args.new)
    print(f"\nhealthscore ingest of {args.rows:,} usage events ({args.accounts:,} accounts):")
    print(f"{'':28} {'wall s':>8} {'cpu s':>8} {'peak RSS MiB':>13} {'rows read':>11} "
          f"{'inserted':>10}")
    for label, f in figures.items():
        print(f"{label:28} {f['wall_s']:8.2f} {f['cpu_s']:8.2f} {f['rss_mib']:13.0f} "
              f"{f['rows_read']:11,} {f['inserted']:10,}")
    base = figures["parquet"]["wall_s"]
    print(f"\npostgresql / parquet wall time: {figures['postgresql']['wall_s'] / base:.2f}x "
          f"(no cursor: {figures['postgresql, no cursor']['wall_s'] / base:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

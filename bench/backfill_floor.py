"""``python -m bench.backfill_floor [--size M] [--sample 24] [--to 2026-10-31] [--days 365]
[--data-dir DIR]``: what a 365-day backfill costs on this machine whatever does it, beside
healthscore's own backfill (``python -m bench run --backfill-days 365``).

Read-only on the bench store (``bench/data/<size>/healthscore.duckdb``, made by
``python -m bench run --size <size>``); prints, each timed on its own:

1. **The hand-written SQL, date by date**: ``bench/sql/health.sql`` (the one-day hand SQL the
   bench compares healthscore with, its results written to Parquet as in the one-day bench)
   for ``--sample`` dates spread evenly over the year; the year is estimated as 365 × the mean
   (running all 365 takes ~12 minutes at M).
2. **Parts of any backfill, each over the whole year in one statement**, with the roll-ups the
   store keeps (usage_daily, usage_user_days, usage_event_days):
   - each (account, user) and (account, feature) active day with the one before it: the sort
     every exact distinct count over sliding windows (users, features in 30 days) needs;
   - one 30-day sliding sum of the daily quantity for every account and day of the year (the
     simplest usage aggregate), on a dense calendar and over the active days only;
   - writing the year's value rows (one row per account and date, 18 numbers) in one
     statement into a new DuckDB file, with integer and with text account ids.

A backfill of the year cannot cost less than the sum of the parts it needs. See
bench/RESULTS.md, "The 365-day backfill on two cores".
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from bench.sql_impl import run

ROOT = Path(__file__).resolve().parent / "data"


def timed(con, sql: str) -> tuple[float, list]:
    start = time.perf_counter()
    rows = con.execute(sql).fetchall()
    return time.perf_counter() - start, rows


def hand_sql(store: Path, dates: list[date]) -> list[float]:
    """Seconds of health.sql for each date, its results written as the one-day bench writes
    them (accounts and measures to Parquet: a backfill stores what it computes)."""
    out = []
    with tempfile.TemporaryDirectory() as folder:
        for day in dates:
            start = time.perf_counter()
            run(store, day, Path(folder) / day.isoformat())
            out.append(time.perf_counter() - start)
    return out


def parts(store: Path, first: date, last: date) -> list[tuple[str, float, str]]:
    """(what, seconds, result) of the year's parts, each in one statement."""
    con = duckdb.connect(str(store), read_only=True)
    window = f"day BETWEEN DATE '{first - timedelta(days=29)}' AND DATE '{last}'"
    def keyed_days(table: str, key: str) -> str:
        """Each (account, key) active day with the one before it: the sort every exact distinct
        count over sliding windows needs."""
        return f"""SELECT count(*), count(*) FILTER (WHERE prev IS NULL OR day - prev >= 30)
            FROM (SELECT day, lag(day) OVER (PARTITION BY account_id, {key} ORDER BY day) AS prev
                  FROM {table} WHERE {window})"""

    queries = [
        ("each (account, user) active day with the one before it (sort of the year's "
         "user-days)", keyed_days("usage_user_days", "user_id")),
        ("each (account, feature) active day with the one before it",
         keyed_days("usage_event_days", "event")),
        ("one 30-day sliding sum of the daily quantity, every account and day (dense calendar)",
         f"""SELECT count(*), sum(s) FROM (
             SELECT sum(coalesce(d.qty, 0)) OVER (PARTITION BY g.account_id ORDER BY g.day
                    ROWS BETWEEN 29 PRECEDING AND CURRENT ROW) AS s
             FROM (SELECT a.account_id, CAST(r.day AS DATE) AS day
                   FROM (SELECT DISTINCT account_id FROM usage_daily WHERE {window}) a,
                        range(DATE '{first - timedelta(days=29)}', DATE '{last}' + 1,
                              INTERVAL 1 DAY) r(day)) g
             LEFT JOIN usage_daily d ON d.account_id = g.account_id AND d.day = g.day)"""),
        ("the same sum over the active days only (no calendar)",
         f"""SELECT count(*), sum(s) FROM (
             SELECT sum(qty) OVER (PARTITION BY account_id ORDER BY day
                    RANGE BETWEEN INTERVAL 29 DAY PRECEDING AND CURRENT ROW) AS s
             FROM usage_daily WHERE {window})"""),
    ]
    out = []
    try:
        # the accounts scored on the last date (the bench store's one-day snapshot)
        accounts = con.execute("SELECT count(*) FROM snapshots WHERE as_of = "
                               "(SELECT max(as_of) FROM snapshots)").fetchall()[0][0]
        for what, sql in queries:
            seconds, rows = timed(con, sql)
            out.append((what, seconds, f"{rows[0][0]:,} rows"))
    finally:
        con.close()
    days = (last - first).days + 1
    for text_ids in (False, True):
        seconds, size = write_year(accounts, days, text_ids)
        kind = "text" if text_ids else "integer"
        out.append((f"writing {days} dates x {accounts:,} accounts of value rows (18 numbers), "
                    f"{kind} account ids, one statement", seconds,
                    f"{size / (accounts * days):.1f} bytes a row"))
    return out


def write_year(accounts: int, days: int, text_ids: bool) -> tuple[float, int]:
    """Seconds to write the year's value rows (made in memory first) into a new file."""
    values = []
    for j in range(18):
        h = f"hash(a, d, {j})"
        values.append(f"({h} % 50)::DOUBLE" if j % 3 == 0 else
                      f"(({h} % 1000) / 1000.0)::DOUBLE" if j % 3 == 1 else
                      f"CASE WHEN {h} % 10 = 0 THEN NULL ELSE ({h} % 365)::DOUBLE END")
    key = "printf('ACC-%06d', a)" if text_ids else "a::INTEGER"
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "year.duckdb")
        con = duckdb.connect(path)
        try:
            con.execute(f"""CREATE TEMP TABLE g AS
                SELECT DATE '2025-11-01' + d::INTEGER AS as_of, {key} AS account_id,
                       {', '.join(f'{v} AS v{j}' for j, v in enumerate(values))}
                FROM range({days}) t(d), range({accounts}) s(a) ORDER BY as_of, account_id""")
            start = time.perf_counter()
            con.execute("CREATE TABLE year_values AS SELECT * FROM g")
            con.execute("CHECKPOINT")
            seconds = time.perf_counter() - start
        finally:
            con.close()
        return seconds, os.path.getsize(path)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.backfill_floor")
    ap.add_argument("--size", default="M")
    ap.add_argument("--sample", type=int, default=24, help="dates of the hand SQL to run")
    ap.add_argument("--to", type=date.fromisoformat, default=date(2026, 10, 31))
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--data-dir", type=Path, help="the company's folder (default: "
                    "bench/data/<size>)")
    args = ap.parse_args(argv)
    store = (args.data_dir or ROOT / args.size) / "healthscore.duckdb"
    if not store.exists():
        raise SystemExit(f"{store} is missing: run `python -m bench run --size {args.size}` "
                         "first")
    first = args.to - timedelta(days=args.days - 1)
    step = max(1, args.days // max(1, args.sample))
    sample = [first + timedelta(days=k) for k in range(0, args.days, step)][:args.sample]
    print(f"store {store}; the year {first} .. {args.to}")
    seconds = hand_sql(store, sample)
    mean = sum(seconds) / len(seconds)
    print(f"hand-written SQL (health.sql), {len(sample)} dates one by one: mean {mean:.2f} s a "
          f"date (min {min(seconds):.2f}, max {max(seconds):.2f}); {args.days} dates "
          f"≈ {mean * args.days:,.0f} s")
    for what, secs, result in parts(store, first, args.to):
        print(f"{secs:7.2f} s  {what} ({result})")


if __name__ == "__main__":
    main()

"""``python -m bench.write_floor [--accounts 86818] [--dates 8]``: the cost of only *writing*
one date's snapshot, at the size of the M company, into a fresh store.

A daily backfill keeps, for every date, one row per account (score, band …) and, in the compact
history (schema 11), one row per account in the version's values table (each measure's raw
value). This script times :meth:`healthscore.store.Store.write_snapshot` — the writer the
backfill uses — on synthetic tables of that shape (random values, which compress about as badly
as real ones), one date per transaction, and, for comparison, what schema 10 wrote: one long row
per account and measure (raw value, score, weight, points) and per account and group, as one
plain INSERT of several dates. Whatever computes the scores, a backfill of N dates cannot write
faster than N times the figure printed here. See bench/RESULTS.md, "Daily history" and
"Compact history".
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from healthscore.store.schema import MEASURE_ROWS_DDL
from healthscore.store.store import Store
from healthscore.store.values import values_table

#: The demo `health` scorecard's shape: 17 measures in 7 groups, 3 variants.
MEASURES = 17
GROUPS = 7


def tables(n: int, seed: int = 0) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    """Accounts, values (compact), measures and groups (schema 10) tables of one date for ``n``
    accounts."""
    rng = np.random.default_rng(seed)
    ids = pa.array([f"ACC-{i:06d}" for i in range(n)])
    score = rng.random(n) * 100
    accounts = pa.table({
        "account_id": ids,
        "variant": pa.array(["base", "onboarding", "enterprise"]).take(
            pa.array(rng.integers(0, 3, n))),
        "score": score,
        "band": pa.array(["red", "yellow", "green"]).take(pa.array((score // 34).astype(int))),
        "grade": pa.array(["A", "B", "C", "D", "F"]).take(pa.array((score // 21).astype(int))),
        "coverage": rng.random(n),
    })
    m = n * MEASURES
    names = pa.array([f"measure_{j}" for j in range(MEASURES)])
    groups = pa.array([f"group_{j % GROUPS}" for j in range(MEASURES)])
    weight = rng.random(m)
    mscore = rng.random(m) * 100
    measures = pa.table({
        "account_id": ids.take(pa.array(np.repeat(np.arange(n), MEASURES))),
        "group": groups.take(pa.array(np.tile(np.arange(MEASURES), n))),
        "measure": names.take(pa.array(np.tile(np.arange(MEASURES), n))),
        "raw_value": rng.random(m) * 50,
        "score": mscore,
        "weight": weight,
        "points": weight * mscore,
        "missing": pa.array(rng.random(m) < 0.05),
        "override_id": pa.nulls(m, pa.int64()),
    })
    g = n * GROUPS
    gnames = pa.array([f"group_{j}" for j in range(GROUPS)])
    group_table = pa.table({
        "account_id": ids.take(pa.array(np.repeat(np.arange(n), GROUPS))),
        "group": gnames.take(pa.array(np.tile(np.arange(GROUPS), n))),
        "score": rng.random(g) * 100,
        "weight": rng.random(g),
        "points": rng.random(g) * 20,
    })
    values = pa.table({"account_id": ids, **{f"m_{j:010d}": rng.random(n) * 50
                                             for j in range(MEASURES)},
                       "p_0000000000": rng.random(n) * 100})
    return accounts, values, measures, group_table


def _plain_insert(store: Store, accounts: pa.Table, values: pa.Table, first: date,
                  k: int) -> float:
    """Seconds per date to write ``k`` dates of ``accounts`` and ``values`` into the store's
    head and values tables with one INSERT each, in one transaction."""
    n = accounts.num_rows
    days = pa.array(np.repeat(np.arange(k), n).astype("timedelta64[D]")
                    + np.datetime64(first, "D"))
    heads = pa.concat_tables([accounts] * k).append_column("as_of", days)
    vals = pa.concat_tables([values] * k).append_column("as_of", days)
    table = values_table("health", "v1")
    picks = ", ".join(f'"{c}"' for c in values.column_names[1:])
    store.con.register("_heads", heads)
    store.con.register("_vals", vals)
    t = time.perf_counter()
    with store.transaction():
        store.con.execute("INSERT INTO snapshots SELECT 'health', 'v1', as_of, account_id, "
                          "variant, score, band, grade, coverage, 1, TIMESTAMP '2026-01-01' "
                          "FROM _heads")
        store.con.execute(f'INSERT INTO "{table}" SELECT as_of, account_id, '
                          f"TIMESTAMP '2026-01-01', NULL, {picks} FROM _vals")
    each = (time.perf_counter() - t) / k
    store.con.unregister("_heads")
    store.con.unregister("_vals")
    return each


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.write_floor",
                                description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=86_818,
                   help="accounts per date (default: those scored at M)")
    p.add_argument("--dates", type=int, default=8, help="dates written (default 8)")
    args = p.parse_args(argv)
    accounts, values, measures, groups = tables(args.accounts)
    rows = accounts.num_rows + values.num_rows
    print(f"one date: {accounts.num_rows:,} account rows and {values.num_rows:,} value rows "
          f"({values.num_columns - 1} values each); schema 10 wrote {measures.num_rows:,} "
          f"measure rows and {groups.num_rows:,} group rows instead")
    no_overrides = pa.table({"account_id": pa.array([], pa.string()),
                             "measure": pa.array([], pa.string()),
                             "score": pa.array([], pa.float64()),
                             "override_id": pa.array([], pa.int64())})
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "floor.duckdb", create=True)
        first = date(2026, 1, 1)
        per_date = []
        for k in range(args.dates):
            t = time.perf_counter()
            with store.transaction():
                store.write_snapshot(
                    scorecard="health", version="v1", definition="{}", source_file=None,
                    as_of=first + timedelta(days=k), run_id=1, computed_at=datetime(2026, 1, 1),
                    accounts=accounts, values=values, overrides=no_overrides,
                    replace=False)
            per_date.append(time.perf_counter() - t)
        med = statistics.median(per_date)
        print(f"write_snapshot, one date per transaction: median {med:.3f} s per date "
              f"({rows / med / 1e6:.1f}M rows/s); 365 dates ≥ {365 * med:.0f} s")
        # what a backfill does: no account-ordered series per date (rebuilt once at its end);
        # several dates in one transaction, to see whether commits are what costs
        for n in (1, args.dates):
            first += timedelta(days=100)
            t = time.perf_counter()
            with store.transaction():
                for k in range(n):
                    store.write_snapshot(
                        scorecard="health", version="v1", definition="{}", source_file=None,
                        as_of=first + timedelta(days=k), run_id=1,
                        computed_at=datetime(2026, 1, 1), accounts=accounts, values=values,
                        overrides=no_overrides, replace=False, series=False)
            each = (time.perf_counter() - t) / n
            print(f"as a backfill writes (no series), {n} date(s) in one transaction: "
                  f"{each:.3f} s per date; 365 dates ≥ {365 * each:.0f} s")
        # the floor under any writer of this layout: the same two tables, several dates per
        # INSERT of plain SQL (no checks, no revisions), values as counts (small integers, as
        # most measures are) rather than random doubles
        rng = np.random.default_rng(1)
        counts = pa.table({"account_id": values["account_id"],
                           **{c: rng.integers(0, 30, values.num_rows).astype(float)
                              for c in values.column_names[1:]}})
        for k in (1, 8, 32):
            first += timedelta(days=100)
            each = _plain_insert(store, accounts, counts, first, k)
            print(f"plain INSERTs of the same two tables, {k} date(s) per INSERT (counts): "
                  f"{each:.3f} s per date; 365 dates ≥ {365 * each:.0f} s")
        for stmt in MEASURE_ROWS_DDL:
            store.con.execute(stmt)
        store.con.execute("ALTER TABLE snapshot_measures ADD COLUMN override_id BIGINT")
        store.con.register("m", measures)
        union = " UNION ALL ".join(
            f"SELECT 'health', 'v1', DATE '{first + timedelta(days=1000 + k)}', * FROM m"
            for k in range(args.dates))
        t = time.perf_counter()
        with store.transaction():
            store.con.execute(f"INSERT INTO snapshot_measures {union}")
        many = (time.perf_counter() - t) / args.dates
        print(f"schema 10's measure rows alone, {args.dates} dates in one INSERT: {many:.3f} s "
              "per date")
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

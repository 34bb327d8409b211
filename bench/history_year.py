"""``python -m bench.history_year [--accounts 100000] [--days 365] [--out DIR]``: a workspace
with a year of daily snapshots, for timing the pages that read history (``python -m bench.web
--data-dir DIR``).

**Synthetic, for timing only**: no events are scored. Accounts are made by SQL (plans, segments,
CSMs, ARR, renewals), 87% of them active; each active account gets a snapshot on each of the
``--days`` dates (a deterministic score wandering around its own level, bands at 50/65), written
one date per transaction as the daily job writes them; per-measure and per-group rows (the demo
health scorecard's 17 measures) on the dates the account page explains (the last date and 7, 30
and 90 days before); 10 tickets and 40 touchpoints per account, stored in account blocks as an
ingest of a CRM export leaves them. Then the account-ordered series is built, as a backfill
does.

Each account also renews once during the year (``renewals``), and churns there when its own
score level is low (with some noise), so ``healthscore backtest`` has outcomes to test against
(``--renewals`` adds them to a workspace built before they were).

``--measures-every 15`` writes per-measure rows on every 15th date of an existing workspace, so
``healthscore suggest-weights`` and ``predict`` have measure rows on their sample dates.

``--series off`` marks the account-ordered series not ready, so history reads use the
``snapshots`` table (how every release before schema 6 read it); ``--series on`` marks it ready
again. Neither rebuilds anything.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

from bench.company import DATA
from healthscore import read
from healthscore.config.columns import value_columns
from healthscore.store.values import values_ddl, values_table
from healthscore.workspace import Workspace

END = date(2026, 10, 31)
NOW = datetime(2026, 11, 1, 6, 0)


def _accounts_sql(n: int) -> str:
    return f"""
        INSERT INTO accounts (account_id, name, plan, segment, lifecycle_stage, arr, seats, csm,
                              renewal_date, contract_start, industry, churned_at, _hash,
                              _known_from, _valid_from, _valid_to, _source, _run_id,
                              _ingested_at)
        SELECT printf('ACC-%06d', i), 'Account ' || i,
               ['starter', 'business', 'enterprise'][1 + i % 3],
               ['smb', 'mid-market', 'enterprise'][1 + (i // 3) % 3], 'adopted',
               1000 + (i * 7919) % 90000, 5 + i % 200, 'csm-' || (i % 40),
               DATE '2026-11-01' + CAST(i % 365 AS INTEGER), DATE '2024-01-01', 'software',
               NULL, hash(i)::UHUGEINT::UUID, TIMESTAMP '2024-01-01', NULL, NULL, 'bench', 1,
               TIMESTAMP '2026-11-01'
        FROM range(1, {n} + 1) t(i)
    """


#: A score that wanders around the account's own level; d is the day number.
_SCORE = ("greatest(0, least(100, 20 + (hash(i) % 70) + 8 * sin(i + d / 23.0) "
          "+ 4 * sin(d / 5.0 + i % 7)))")


def build(root: Path, accounts: int, days: int) -> None:
    if root.exists():
        shutil.rmtree(root)
    ws = Workspace.init(root, name="history-year")
    scorecards = root / "scorecards"
    scorecards.mkdir(exist_ok=True)
    shutil.copy(str(resources.files("healthscore.demo") / "scorecards" / "health.yaml"),
                scorecards / "health.yaml")
    card = read.card(ws, "health")
    dates = [END - timedelta(days=k) for k in range(days - 1, -1, -1)]
    t0 = time.perf_counter()
    with ws.store() as store:
        con = store.con
        with store.transaction():
            con.execute(_accounts_sql(accounts))
            con.execute(f"""INSERT INTO tickets (ticket_id, account_id, opened_at, closed_at,
                                                 priority, csat, _hash, _source, _run_id,
                                                 _ingested_at)
                SELECT 'T-' || i || '-' || k, printf('ACC-%06d', i),
                       TIMESTAMP '2026-10-01' - INTERVAL (k * 17) DAY,
                       TIMESTAMP '2026-10-02' - INTERVAL (k * 17) DAY, 'normal', 4,
                       hash(i, k)::UHUGEINT::UUID, 'bench', 1, TIMESTAMP '2026-11-01'
                FROM range(1, {accounts} + 1) a(i), range(10) b(k) ORDER BY i""")
            con.execute(f"""INSERT INTO touchpoints (account_id, kind, occurred_at, author,
                                                     _hash, _source, _run_id, _ingested_at)
                SELECT printf('ACC-%06d', i), 'call', TIMESTAMP '2026-10-30' - INTERVAL (k * 9) DAY,
                       'csm', hash(i, k, 1)::UHUGEINT::UUID, 'bench', 1, TIMESTAMP '2026-11-01'
                FROM range(1, {accounts} + 1) a(i), range(40) b(k) ORDER BY i""")
        print(f"accounts, tickets, touchpoints: {time.perf_counter() - t0:.1f} s", flush=True)
        active = f"FROM range(1, {accounts} + 1) t(i) WHERE i % 100 < 87"
        t1 = time.perf_counter()
        explained = {END - timedelta(days=k) for k in (0, 7, 30, 90)}
        for n, day in enumerate(dates):
            d = (day - dates[0]).days
            with store.transaction():
                con.execute(f"""INSERT INTO snapshots
                    SELECT 'health', ?, ?, printf('ACC-%06d', i), 'base', s,
                           CASE WHEN s < 50 THEN 'red' WHEN s < 65 THEN 'yellow' ELSE 'green' END,
                           CASE WHEN s >= 85 THEN 'A' WHEN s >= 70 THEN 'B' WHEN s >= 55 THEN 'C'
                                WHEN s >= 40 THEN 'D' ELSE 'F' END, 0.9, 1, ?
                    FROM (SELECT i, {_SCORE.replace('d /', f'{d} /')} AS s {active})
                    ORDER BY i""", [card.version, day, NOW])
                if day in explained:
                    _values(con, card, day, f"SELECT printf('ACC-%06d', i) AS account_id "
                                            f"{active} ORDER BY i")
            if n % 30 == 29:
                print(f"  {n + 1} dates, {time.perf_counter() - t1:.0f} s", flush=True)
        with store.transaction():
            con.execute("INSERT INTO scorecard_versions VALUES ('health', ?, ?, ?, ?)",
                        [card.version, json.dumps(card.scorecard.model_dump(
                            mode="json", by_alias=True)), str(scorecards / "health.yaml"), NOW])
        print(f"snapshots: {len(dates)} dates in {time.perf_counter() - t1:.1f} s", flush=True)
        t2 = time.perf_counter()
        store.rebuild_series()
        print(f"account-ordered series: {time.perf_counter() - t2:.1f} s", flush=True)
        rows = con.execute("SELECT count(*) FROM snapshots").fetchall()[0][0]
    print(f"{root}: {accounts:,} accounts, {rows:,} snapshot rows, "
          f"{(root / 'healthscore.duckdb').stat().st_size / 2**20:,.0f} MiB")
    add_renewals(root)


def _values(con, card, day, accounts_sql: str) -> None:
    """The measures' stored values of ``day`` (the compact history, store/values.py) for the
    accounts of ``accounts_sql``: a raw value from a hash per value column (synthetic: the
    explanations rebuilt from them do not add up to the synthetic scores)."""
    columns = [c.name for c in value_columns(card.scorecard)]
    table = values_table("health", card.version)
    con.execute(values_ddl(table, columns))
    con.execute(f'DELETE FROM "{table}" WHERE as_of = ?', [day])
    picks = "".join(f", (hash(a.account_id, {j}, a.as_of) % 1000) / 10.0"
                    for j in range(len(columns)))
    con.execute(f"""INSERT INTO "{table}" SELECT a.as_of, a.account_id, ?, NULL{picks}
                    FROM (SELECT account_id, DATE '{day}' AS as_of FROM ({accounts_sql})) a""",
                [NOW])


def add_measures(root: Path, every: int) -> None:
    """Per-measure rows (the demo health scorecard's 17 measures: a measure score scattered
    around the account's score, a raw value from a hash) on every ``every``-th scored date from
    the first, so ``suggest-weights`` and ``predict`` have measure rows on their sample dates
    (synthetic: for timing, not for what the fit finds)."""
    ws = Workspace.open(root)
    card = read.card(ws, "health")
    with ws.store() as store:
        con = store.con
        first, last = con.execute("SELECT min(as_of), max(as_of) FROM snapshots").fetchall()[0]
        days = [first + timedelta(days=k) for k in range(0, (last - first).days + 1, every)]
        t0 = time.perf_counter()
        for day in days:
            with store.transaction():
                _values(con, card, day, "SELECT account_id FROM snapshots WHERE as_of = "
                        f"DATE '{day}' ORDER BY account_id")
        print(f"measure rows on {len(days)} dates (every {every} days from {first}): "
              f"{time.perf_counter() - t0:.1f} s", flush=True)


def add_renewals(root: Path) -> None:
    """One renewal per account during the year, churned when its score level is low."""
    with Workspace.open(root).store() as store, store.transaction():
        store.con.execute("DELETE FROM renewals")
        n = store.con.execute("SELECT count(*) FROM accounts").fetchall()[0][0]
        store.con.execute(f"""INSERT INTO renewals (account_id, renewal_date, outcome, arr_before,
                                                    arr_after, _hash, _source, _run_id,
                                                    _ingested_at)
            SELECT printf('ACC-%06d', i), DATE '2025-11-15' + CAST(i % 340 AS INTEGER),
                   CASE WHEN (hash(i) % 70) + (hash(i, 7) % 40) < 40 THEN 'churned'
                        ELSE 'renewed' END, 1000 + (i * 7919) % 90000, NULL,
                   hash(i, 9)::UHUGEINT::UUID, 'bench', 1, TIMESTAMP '2026-11-01'
            FROM range(1, {n} + 1) t(i)""")
        churned = store.con.execute("SELECT count(*) FROM renewals WHERE outcome = 'churned'"
                                    ).fetchall()[0][0]
    print(f"{root}: {n:,} renewals, {churned:,} churned")


def set_series(root: Path, on: bool) -> None:
    with Workspace.open(root).store() as store, store.transaction():
        store.con.execute("UPDATE meta SET value = ? WHERE key = 'series_ready'",
                          ["true" if on else "false"])
    print(f"{root}: history reads use {'snapshot_series' if on else 'snapshots'}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.history_year",
                                description=__doc__.splitlines()[0])
    p.add_argument("--accounts", type=int, default=100_000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--out", type=Path, default=DATA / "year")
    p.add_argument("--series", choices=("on", "off"), default=None,
                   help="only switch the account-ordered series on or off")
    p.add_argument("--renewals", action="store_true",
                   help="only (re)write the renewals of an existing workspace")
    p.add_argument("--measures-every", type=int, default=None, metavar="DAYS",
                   help="only (re)write per-measure rows on every DAYS-th date of an existing "
                        "workspace (for suggest-weights and predict)")
    args = p.parse_args(argv)
    if args.measures_every:
        add_measures(args.out, args.measures_every)
    elif args.renewals:
        add_renewals(args.out)
    elif args.series:
        set_series(args.out, args.series == "on")
    else:
        build(args.out, args.accounts, args.days)
    return 0


if __name__ == "__main__":
    sys.exit(main())

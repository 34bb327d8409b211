"""``python -m bench.alerts_side --workspace DIR [--as-of DATE] [--replay-days 365]``: alert
rules, measured (issue 16).

1. **A day's rules, three ways, side by side in one run** — which accounts three rules hold
   for on one date (entered red; dropped ≥ 10 points in 7 days; renewal within 90 days and not
   green): (a) healthscore's core (``alerts.rules.holding``), (b) hand-written DuckDB SQL, one
   query per rule, (c) plain pandas over the snapshots and accounts fetched by DuckDB. The
   three must find the same accounts, or the script exits 1.
2. **The commands**, each a subprocess: ``healthscore alerts check --no-deliver`` on the day
   before the date (the first check: an alert for every account a rule holds for, each with
   its reasons), then on the date (the next day: only what is new); and ``healthscore alerts
   replay`` over the ``--replay-days`` before the date (writes nothing).

3. With ``--daily-equals-replay DAYS``: the rules checked day by day over the last DAYS dates
   (as ``healthscore run`` would, in process), then replayed over the same dates: the stored
   alerts and the replay's episodes must be the same (rule, account, opened, cleared), or
   the script exits 1.

It appends those three rules to the workspace's ``healthscore.yaml`` when it has no
``alerts:`` section, and deletes the workspace's alerts first (a bench workspace, not yours).
Run it by hand on a workspace with scores every day (``bench/history_year.py`` builds one),
alone on the machine.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from bench.proc import healthscore_cli, run_measured
from healthscore import read
from healthscore.alerting import rules_of
from healthscore.alerts.rules import LibraryMeasures, holding
from healthscore.read.reader import StoreReader
from healthscore.workspace import Workspace

RULES = """
alerts:
  channels:
    bench-file: {kind: file, path: alerts/bench.jsonl}
  route:
    default: [bench-file]
  rules:
    entered-red:
      when: {band: red}
    sharp-drop:
      when: {drop: {points: 10, days: 7}}
    renewal-risk:
      when: {renewal: {within_days: 90}}
"""


def way_core(ws: Workspace, card, day: date) -> dict[str, set]:
    rules = rules_of(ws)
    with ws.store(read_only=True) as store:
        r = StoreReader(store)
        library = LibraryMeasures(store.con)
        return {name: set(holding(r, library, card, rule, day)["account_id"])
                for name, rule in rules.items()}


def way_sql(path: Path, card, day: date) -> dict[str, set]:
    con = duckdb.connect(str(path), read_only=True)
    key = [card.name, card.version]
    try:
        red = con.execute("SELECT account_id FROM snapshots WHERE scorecard = ? AND version = ? "
                          "AND as_of = ? AND band = 'red' AND score IS NOT NULL",
                          [*key, day]).fetchall()
        drop = con.execute("""
            SELECT b.account_id FROM snapshots b JOIN snapshots a USING (scorecard, version,
                account_id)
            WHERE b.scorecard = ? AND b.version = ? AND b.as_of = ? AND a.as_of = ?
              AND b.score IS NOT NULL AND b.score - a.score <= -10""",
                           [*key, day, day - timedelta(days=7)]).fetchall()
        renew = con.execute("""
            SELECT s.account_id FROM snapshots s JOIN accounts c USING (account_id)
            WHERE s.scorecard = ? AND s.version = ? AND s.as_of = ? AND s.score IS NOT NULL
              AND s.band IN ('red', 'yellow')
              AND (c._valid_from IS NULL OR c._valid_from < ?::DATE + 1)
              AND (c._valid_to IS NULL OR c._valid_to >= ?::DATE + 1)
              AND c.renewal_date BETWEEN ? AND ?::DATE + 90""",
                            [*key, day, day, day, day, day]).fetchall()
    finally:
        con.close()
    return {"entered-red": {a for (a,) in red}, "sharp-drop": {a for (a,) in drop},
            "renewal-risk": {a for (a,) in renew}}


def way_pandas(path: Path, card, day: date) -> dict[str, set]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        snaps = con.execute("SELECT account_id, as_of, score, band FROM snapshots WHERE "
                            "scorecard = ? AND version = ? AND as_of IN (?, ?)",
                            [card.name, card.version, day, day - timedelta(days=7)]).df()
        accounts = con.execute("SELECT account_id, renewal_date, _valid_from, _valid_to FROM "
                               "accounts").df()
    finally:
        con.close()
    snaps["as_of"] = pd.to_datetime(snaps["as_of"]).dt.date
    now = snaps[(snaps["as_of"] == day) & snaps["score"].notna()].set_index("account_id")
    before = snaps[snaps["as_of"] == day - timedelta(days=7)].set_index("account_id")["score"]
    cutoff = pd.Timestamp(day + timedelta(days=1))
    held = accounts[(accounts["_valid_from"].isna() | (accounts["_valid_from"] < cutoff))
                    & (accounts["_valid_to"].isna() | (accounts["_valid_to"] >= cutoff))]
    renewal = pd.to_datetime(held.set_index("account_id")["renewal_date"])
    days = (renewal.reindex(now.index) - pd.Timestamp(day)).dt.days
    return {"entered-red": set(now.index[now["band"] == "red"]),
            "sharp-drop": set(now.index[(now["score"] - before.reindex(now.index)) <= -10]),
            "renewal-risk": set(now.index[(days >= 0) & (days <= 90)
                                          & now["band"].isin(["red", "yellow"])])}


def daily_equals_replay(ws: Workspace, last: date, days: int) -> bool:
    """Check the rules every day of the ``days`` up to ``last``, then replay them: equal?"""
    from healthscore import alerting

    first = last - timedelta(days=days - 1)
    start = time.perf_counter()
    for i in range(days):
        alerting.check_alerts(ws, first + timedelta(days=i), deliver=False)
    daily = time.perf_counter() - start
    with ws.store(read_only=True) as store:
        stored = set(store.con.execute("SELECT rule, account_id, opened_on, closed_on FROM "
                                       "alerts").fetchall())
    start = time.perf_counter()
    replayed = alerting.replay_alerts(ws, first, last)
    took = time.perf_counter() - start
    episodes = {(e.rule, e.account_id, e.opened_on, e.closed_on) for e in replayed.episodes}
    same = episodes == stored
    cleared = sum(1 for *_, closed in stored if closed is not None)
    print(f"  daily checks over {days} days: {daily:6.1f} s, {len(stored):,} alerts "
          f"({cleared:,} cleared); replay {took:6.1f} s: "
          + ("the same episodes" if same else
             f"DIFFERENT ({len(stored - episodes)} only stored, {len(episodes - stored)} only "
             "replayed)"))
    with ws.store() as store:  # the commands below start from no alerts again
        for table in ("alerts", "alert_checks", "alert_outbox"):
            store.con.execute(f"DELETE FROM {table}")
    return same


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--as-of", type=date.fromisoformat, default=None)
    ap.add_argument("--replay-days", type=int, default=365)
    ap.add_argument("--no-commands", action="store_true")
    ap.add_argument("--daily-equals-replay", type=int, default=0, metavar="DAYS")
    args = ap.parse_args(argv)
    config = args.workspace / "healthscore.yaml"
    if "\nalerts:" not in config.read_text(encoding="utf-8"):
        with open(config, "a", encoding="utf-8") as fh:
            fh.write(RULES)
    ws = Workspace.open(args.workspace)
    card = read.card(ws, "health")
    with ws.store() as store:  # a bench workspace: start with no alerts
        for table in ("alerts", "alert_checks", "alert_outbox"):
            store.con.execute(f"DELETE FROM {table}")
    with read.open_reader(ws) as r:
        day = args.as_of or read.latest(r, card)
        accounts = r.rows("SELECT count(*) AS n FROM snapshots WHERE scorecard = ? AND "
                          "version = ? AND as_of = ?", [card.name, card.version, day])[0]["n"]
    print(f"{args.workspace}: {card.name} {card.version}, {accounts:,} accounts scored on {day}")
    found = {}
    for name, fn in (("healthscore core", lambda: way_core(ws, card, day)),
                     ("hand-written DuckDB SQL", lambda: way_sql(ws.store_path, card, day)),
                     ("plain pandas", lambda: way_pandas(ws.store_path, card, day))):
        start = time.perf_counter()
        found[name] = fn()
        took = time.perf_counter() - start
        counts = ", ".join(f"{k} {len(v):,}" for k, v in sorted(found[name].items()))
        print(f"  {name:24} {took:6.2f} s  ({counts})")
    base = found["healthscore core"]
    for name, sets in found.items():
        if sets != base:
            print(f"DISAGREE: {name} differs from healthscore's core")
            return 1
    print("  all three agree: the same accounts for each rule")
    if args.daily_equals_replay and not daily_equals_replay(ws, day, args.daily_equals_replay):
        return 1
    if args.no_commands:
        return 0
    cli = healthscore_cli()
    for label, verb in (
            ("alerts check (first: every holding account)",
             ["alerts", "check", "--as-of", str(day - timedelta(days=1)), "--no-deliver"]),
            ("alerts check (the next day)",
             ["alerts", "check", "--as-of", str(day), "--no-deliver"]),
            (f"alerts replay ({args.replay_days} days)",
             ["alerts", "replay", "--from", str(day - timedelta(days=args.replay_days - 1)),
              "--to", str(day)])):
        sample = run_measured([*cli, *verb, "-w", str(args.workspace)])
        print(f"  healthscore {label:44} wall {sample.wall_s:7.1f} s, peak RSS "
              f"{sample.peak_rss_mib:7.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
